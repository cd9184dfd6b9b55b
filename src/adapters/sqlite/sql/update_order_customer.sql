UPDATE orders SET customer = ?2, placed_at = ?3, placed_at_ns = ?4
    WHERE id = ?1 AND (customer IS NOT ?2 OR placed_at IS NOT ?3 OR placed_at_ns IS NOT ?4)
