COPY {s}.events (order_id, seq, body, event_type, schema_version) FROM STDIN (FORMAT binary)
