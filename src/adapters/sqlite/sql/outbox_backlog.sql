SELECT
    COUNT(*) FILTER (WHERE done = 0 AND dead = 0),
    COUNT(*) FILTER (WHERE done = 0 AND dead = 0
        AND (available_at < ?1 OR (available_at = ?1 AND available_ns <= ?2))
        AND (lease_until IS NULL OR lease_until < ?1 OR (lease_until = ?1 AND lease_ns <= ?2))),
    COUNT(*) FILTER (WHERE dead = 1),
    (SELECT written_at FROM outbox WHERE done = 0 AND dead = 0 AND written_at IS NOT NULL
        ORDER BY written_at, written_ns LIMIT 1),
    (SELECT written_ns FROM outbox WHERE done = 0 AND dead = 0 AND written_at IS NOT NULL
        ORDER BY written_at, written_ns LIMIT 1)
FROM outbox WHERE (done = 0 AND dead = 0) OR dead = 1
