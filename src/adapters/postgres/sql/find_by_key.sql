SELECT order_id FROM {s}.dedupe_keys WHERE key = $1
