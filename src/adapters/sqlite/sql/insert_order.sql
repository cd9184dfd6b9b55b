INSERT INTO orders (id, number, customer, status, placed_at, placed_at_ns, next_deadline_at,
    next_deadline_ns, next_deadline_kind, version, snapshot, snapshot_version)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
