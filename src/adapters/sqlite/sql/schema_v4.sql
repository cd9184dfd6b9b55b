ALTER TABLE events ADD COLUMN event_type TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN schema_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE orders ADD COLUMN snapshot_version INTEGER NOT NULL DEFAULT 1;
UPDATE events SET event_type = coalesce(json_extract(body, '$.change.type'), '');
