SELECT version, number FROM {s}.orders WHERE id = $1
