INSERT INTO outbox (key, order_id, effect, available_at, available_ns, written_at, written_ns)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
    ON CONFLICT (key) DO NOTHING
