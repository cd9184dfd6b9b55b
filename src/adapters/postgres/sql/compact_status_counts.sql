WITH moved AS (
    DELETE FROM {s}.status_count_changes RETURNING status, n
), summed AS (
    SELECT status, sum(n)::bigint AS n FROM moved GROUP BY status
)
INSERT INTO {s}.status_counts (status, n) SELECT status, n FROM summed
    ON CONFLICT (status) DO UPDATE SET n = {s}.status_counts.n + excluded.n
