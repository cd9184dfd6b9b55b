UPDATE outbox SET lease_until = ?2, lease_ns = ?3, attempts = ?4 WHERE seq = ?1
