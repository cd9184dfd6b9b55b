COPY {s}.dedupe_keys (key, order_id) FROM STDIN (FORMAT binary)
