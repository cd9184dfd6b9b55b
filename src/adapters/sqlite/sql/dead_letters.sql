SELECT seq, key, order_id, effect, attempts, COALESCE(last_error, ''), failed_at, failed_ns FROM outbox
    WHERE dead = 1 AND seq > ?1
    ORDER BY seq
    LIMIT ?2
