WITH o AS (
    INSERT INTO {s}.orders (id, number, customer, status, placed_at, next_deadline_at, next_deadline_kind, version,
        snapshot, snapshot_version, hold_reasons, ship_by, payment_anomaly, open_cases)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {snapshot_version}, $10, $11, $12, $13)
    RETURNING id
)
