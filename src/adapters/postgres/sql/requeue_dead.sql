UPDATE {s}.outbox SET dead = false, attempts = 0, available_at = $2, lease_until = NULL
    WHERE key = $1 AND dead
