SELECT order_id FROM waybills WHERE carrier = ?1 AND waybill = ?2
