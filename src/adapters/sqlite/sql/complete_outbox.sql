UPDATE outbox SET done = 1, lease_until = NULL, lease_ns = NULL WHERE key = ?1
