DELETE FROM waybills WHERE carrier = ?1 AND waybill = ?2 AND order_id = ?3
