SELECT snapshot, snapshot_version, id FROM orders WHERE 1 = 1
