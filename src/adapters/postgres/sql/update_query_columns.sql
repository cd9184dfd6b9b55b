UPDATE {s}.orders SET hold_reasons = $2, ship_by = $3, payment_anomaly = $4, open_cases = $5
    WHERE id = $1 AND (hold_reasons IS DISTINCT FROM $2 OR ship_by IS DISTINCT FROM $3
        OR payment_anomaly IS DISTINCT FROM $4 OR open_cases IS DISTINCT FROM $5)
