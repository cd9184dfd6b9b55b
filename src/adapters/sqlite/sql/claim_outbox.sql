SELECT seq, key, order_id, effect, attempts FROM outbox
    WHERE done = 0 AND dead = 0
    AND (available_at < ?1 OR (available_at = ?1 AND available_ns <= ?2))
    AND (lease_until IS NULL OR lease_until < ?1 OR (lease_until = ?1 AND lease_ns <= ?2))
    ORDER BY seq
    LIMIT ?3
