SELECT 1 FROM {s}.orders WHERE number = $1
