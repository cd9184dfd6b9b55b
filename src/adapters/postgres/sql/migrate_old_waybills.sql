SELECT waybill, order_id FROM {s}.waybills_v2
