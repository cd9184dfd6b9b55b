SELECT COUNT(*) FROM outbox WHERE done = 0 AND dead = 0
