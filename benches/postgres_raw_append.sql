-- postgres_vs_raw, raw side: the head of a later transition's statement, followed by
-- benches/postgres_raw_rows.sql (which takes $1..$8): the order row and its index columns
-- updated with the version compare-and-set (no row when it does not match, and then the rest
-- writes nothing). `{s}` is the schema.
-- $9 status, $10 next_deadline_at, $11 next_deadline_kind, $12 version, $13 snapshot,
-- $14 hold_reasons, $15 ship_by, $16 payment_anomaly, $17 open_cases, $18 id,
-- $19 expected version.
WITH o AS (
    UPDATE {s}.orders SET status = $9, next_deadline_at = $10, next_deadline_kind = $11, version = $12,
        snapshot = $13, hold_reasons = $14, ship_by = $15, payment_anomaly = $16, open_cases = $17
    WHERE id = $18 AND version = $19
    RETURNING id
)
