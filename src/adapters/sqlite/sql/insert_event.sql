INSERT INTO events (order_id, seq, event_type, schema_version, body) VALUES (?1, ?2, ?3, ?4, ?5)
