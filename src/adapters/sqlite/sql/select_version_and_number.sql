SELECT version, number FROM orders WHERE id = ?1
