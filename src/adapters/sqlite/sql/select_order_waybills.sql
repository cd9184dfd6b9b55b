SELECT carrier, waybill FROM waybills WHERE order_id = ?1
