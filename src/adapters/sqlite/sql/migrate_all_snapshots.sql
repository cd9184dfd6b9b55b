SELECT id, snapshot, snapshot_version FROM orders
