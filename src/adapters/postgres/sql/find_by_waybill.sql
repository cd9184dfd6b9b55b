SELECT order_id FROM {s}.waybills WHERE carrier = $1 AND waybill = $2
