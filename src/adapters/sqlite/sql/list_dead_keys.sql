SELECT key, COALESCE(last_error, '') FROM outbox WHERE dead = 1 ORDER BY seq
