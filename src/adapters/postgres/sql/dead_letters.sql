SELECT seq, key, order_id, effect, attempts, COALESCE(last_error, ''), failed_at FROM {s}.outbox
    WHERE dead AND seq > $1 ORDER BY seq LIMIT $2
