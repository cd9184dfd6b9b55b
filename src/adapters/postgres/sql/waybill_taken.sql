SELECT t.c, t.w FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(c, w, n)
    JOIN {s}.waybills AS x ON x.carrier = t.c AND x.waybill = t.w
    WHERE x.order_id <> $3 ORDER BY t.n LIMIT 1
