SELECT status, n FROM status_counts WHERE n > 0
