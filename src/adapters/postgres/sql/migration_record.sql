INSERT INTO {s}.schema_version (version) VALUES ($1)
