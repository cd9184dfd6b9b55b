SELECT pg_advisory_xact_lock(hashtext('orderflow migrations ' || $1::text))
