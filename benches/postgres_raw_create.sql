-- postgres_vs_raw, raw side: the head of a placement's statement, followed by
-- benches/postgres_raw_rows.sql (which takes $1..$8): the order row with its index columns,
-- the same columns as PgStore writes. `{s}` is the schema.
-- $9 status, $10 next_deadline_at, $11 next_deadline_kind, $12 version, $13 snapshot,
-- $14 hold_reasons, $15 ship_by, $16 payment_anomaly, $17 open_cases, $18 id, $19 number,
-- $20 customer, $21 placed_at.
WITH o AS (
    INSERT INTO {s}.orders (id, number, customer, status, placed_at, next_deadline_at, next_deadline_kind, version,
        snapshot, snapshot_version, hold_reasons, ship_by, payment_anomaly, open_cases)
    VALUES ($18, $19, $20, $9, $21, $10, $11, $12, $13, {snapshot_version}, $14, $15, $16, $17)
    RETURNING id
)
