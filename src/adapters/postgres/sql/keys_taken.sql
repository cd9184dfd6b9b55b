SELECT key FROM {s}.dedupe_keys WHERE key = ANY($1::text[])
