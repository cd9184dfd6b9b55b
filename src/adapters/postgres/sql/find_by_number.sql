SELECT id FROM {s}.orders WHERE number = $1
