SELECT snapshot, snapshot_version, id FROM orders INDEXED BY {index} WHERE 1 = 1
