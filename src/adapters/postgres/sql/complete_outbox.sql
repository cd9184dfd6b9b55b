UPDATE {s}.outbox SET done = true, lease_until = NULL WHERE key = $1 AND NOT done
