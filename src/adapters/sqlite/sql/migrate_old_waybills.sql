SELECT waybill, order_id FROM waybills_v2
