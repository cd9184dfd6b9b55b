SELECT id, snapshot FROM {s}.orders
    WHERE id > $1 AND (id IN (SELECT order_id FROM {s}.waybills_v2) OR snapshot::text LIKE '%waybill": "%')
    ORDER BY id LIMIT $2
