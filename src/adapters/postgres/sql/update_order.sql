WITH o AS (
    UPDATE {s}.orders SET customer = $3, status = $4, placed_at = $5, next_deadline_at = $6, next_deadline_kind = $7,
        version = $8, snapshot = $9, snapshot_version = {snapshot_version}, hold_reasons = $10, ship_by = $11,
        payment_anomaly = $12, open_cases = $13
    WHERE id = $1 AND number = $2 AND version = $14
    RETURNING id
)
