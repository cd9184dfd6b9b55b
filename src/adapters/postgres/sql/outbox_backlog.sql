SELECT
    count(*),
    count(*) FILTER (WHERE (available_at IS NULL OR available_at <= $1)
        AND (lease_until IS NULL OR lease_until <= $1)),
    (SELECT count(*) FROM {s}.outbox WHERE dead),
    min(written_at)
FROM {s}.outbox WHERE NOT done AND NOT dead
