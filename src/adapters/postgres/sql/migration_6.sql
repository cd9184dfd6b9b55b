ALTER TABLE {s}.outbox ADD COLUMN IF NOT EXISTS written_at timestamptz;
