INSERT INTO waybills (carrier, waybill, order_id) VALUES (?1, ?2, ?3)
    ON CONFLICT (carrier, waybill) DO NOTHING
