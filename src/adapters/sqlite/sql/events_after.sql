SELECT f.position, f.order_id, f.seq, e.body, e.schema_version
    FROM feed AS f JOIN events AS e ON e.order_id = f.order_id AND e.seq = f.seq
    WHERE f.position > ?1 ORDER BY f.position LIMIT ?2
