SELECT id, next_deadline_at, next_deadline_ns, next_deadline_kind FROM orders
    WHERE next_deadline_at IS NOT NULL
    AND (next_deadline_at < ?1 OR (next_deadline_at = ?1 AND next_deadline_ns <= ?2))
    ORDER BY next_deadline_at, next_deadline_ns, id
    LIMIT ?3
