SELECT status, sum(n)::bigint FROM (
    SELECT status, n FROM {s}.status_counts
    UNION ALL SELECT status, n FROM {s}.status_count_changes
) AS c GROUP BY status HAVING sum(n) > 0
