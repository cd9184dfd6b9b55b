ALTER TABLE outbox ADD COLUMN failed_at INTEGER;
ALTER TABLE outbox ADD COLUMN failed_ns INTEGER;
CREATE INDEX outbox_dead ON outbox (seq) WHERE dead = 1;
