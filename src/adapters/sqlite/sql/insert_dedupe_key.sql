INSERT INTO dedupe_keys (key, order_id) VALUES (?1, ?2)
