SELECT id FROM orders WHERE number = ?1
