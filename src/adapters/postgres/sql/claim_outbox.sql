UPDATE {s}.outbox SET lease_until = $2, attempts = attempts + 1
    WHERE key IN (
    SELECT key FROM {s}.outbox
    WHERE NOT done AND NOT dead
    AND (available_at IS NULL OR available_at <= $1)
    AND (lease_until IS NULL OR lease_until <= $1)
    ORDER BY seq
    LIMIT $3
    FOR UPDATE SKIP LOCKED
    )
    RETURNING seq, key, order_id, effect, attempts
