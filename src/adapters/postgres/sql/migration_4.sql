ALTER TABLE {s}.events ADD COLUMN IF NOT EXISTS event_type text NOT NULL DEFAULT '';
ALTER TABLE {s}.events ADD COLUMN IF NOT EXISTS schema_version smallint NOT NULL DEFAULT 1;
ALTER TABLE {s}.orders ADD COLUMN IF NOT EXISTS snapshot_version smallint NOT NULL DEFAULT 1;
UPDATE {s}.events SET event_type = coalesce(body->'change'->>'type', '') WHERE event_type = '';
