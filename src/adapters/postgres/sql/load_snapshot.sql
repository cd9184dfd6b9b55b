SELECT CASE WHEN version = $2 THEN NULL ELSE snapshot END, snapshot_version FROM {s}.orders WHERE id = $1
