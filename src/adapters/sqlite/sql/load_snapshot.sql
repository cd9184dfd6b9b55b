SELECT snapshot, version, snapshot_version FROM orders WHERE id = ?1
