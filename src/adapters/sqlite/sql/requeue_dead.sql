UPDATE outbox SET dead = 0, attempts = 0, available_at = ?2, available_ns = ?3, lease_until = NULL,
    lease_ns = NULL
    WHERE key = ?1 AND dead = 1
