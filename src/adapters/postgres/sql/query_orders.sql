SELECT id, number, customer, status, snapshot->'placed_at', snapshot->'totals'->'total' FROM {s}.orders WHERE true
