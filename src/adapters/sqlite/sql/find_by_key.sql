SELECT order_id FROM dedupe_keys WHERE key = ?1
