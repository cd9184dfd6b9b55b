SELECT xact_id::text, position, order_id, seq, body, schema_version FROM {s}.events
    WHERE (xact_id, position) > ($1::text::xid8, $2)
        AND xact_id < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY xact_id, position LIMIT $3
