SELECT id, snapshot, snapshot_version FROM {s}.orders WHERE id > $1 ORDER BY id LIMIT $2
