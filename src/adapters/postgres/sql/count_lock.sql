SELECT pg_advisory_xact_lock(hashtext('orderflow status counts ' || $1::text))
