INSERT INTO {s}.waybills (carrier, waybill, order_id)
    SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[])
    ON CONFLICT (carrier, waybill) DO NOTHING
