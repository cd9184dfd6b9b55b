SELECT key, order_id, effect, attempts, COALESCE(last_error, ''), failed_at FROM {s}.outbox
    WHERE dead ORDER BY seq LIMIT $1
