COPY {s}.orders (id, number, customer, status, placed_at, next_deadline_at, next_deadline_kind, version, snapshot,
    hold_reasons, ship_by, payment_anomaly, open_cases, snapshot_version) FROM STDIN (FORMAT binary)
