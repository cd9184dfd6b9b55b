SELECT seq, body, schema_version FROM events WHERE order_id = ?1 ORDER BY seq
