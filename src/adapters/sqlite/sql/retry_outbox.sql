UPDATE outbox SET lease_until = NULL, lease_ns = NULL, last_error = ?2, available_at = ?3,
    available_ns = ?4, failed_at = ?5, failed_ns = ?6
    WHERE key = ?1 AND done = 0 AND dead = 0
