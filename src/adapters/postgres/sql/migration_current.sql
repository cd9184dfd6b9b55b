SELECT COALESCE(max(version), 0) FROM {s}.schema_version
