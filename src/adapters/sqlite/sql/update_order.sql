UPDATE orders SET status = ?3, next_deadline_at = ?4, next_deadline_ns = ?5, next_deadline_kind = ?6,
    version = ?7, snapshot = ?8, snapshot_version = ?10
    WHERE id = ?1 AND version = ?2 AND number = ?9
