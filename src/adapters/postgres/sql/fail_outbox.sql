UPDATE {s}.outbox
    SET lease_until = NULL, last_error = $2, failed_at = $4,
    available_at = COALESCE($3::timestamptz, available_at), dead = ($3::timestamptz IS NULL)
    WHERE key = $1 AND NOT done AND NOT dead
