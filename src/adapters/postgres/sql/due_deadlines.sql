SELECT id, next_deadline_at, next_deadline_kind FROM {s}.orders
    WHERE next_deadline_at IS NOT NULL AND next_deadline_at <= $1
    ORDER BY next_deadline_at, id LIMIT $2
