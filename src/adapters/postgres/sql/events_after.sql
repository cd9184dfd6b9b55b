SELECT e.xact_id::text, e.position, e.order_id, e.seq, e.body, e.schema_version FROM {s}.events AS e
    WHERE (e.xact_id, e.position) > ($1::text::xid8, $2)
        AND e.xact_id < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY e.xact_id, e.position LIMIT $3
