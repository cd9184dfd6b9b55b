ALTER TABLE {s}.outbox ADD COLUMN IF NOT EXISTS failed_at timestamptz;
CREATE INDEX IF NOT EXISTS outbox_dead ON {s}.outbox (seq) WHERE dead;
