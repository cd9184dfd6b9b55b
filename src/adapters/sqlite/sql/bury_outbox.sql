UPDATE outbox SET lease_until = NULL, lease_ns = NULL, last_error = ?2, dead = 1, failed_at = ?3,
    failed_ns = ?4
    WHERE key = ?1 AND done = 0 AND dead = 0
