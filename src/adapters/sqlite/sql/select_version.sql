SELECT version FROM orders WHERE id = ?1
