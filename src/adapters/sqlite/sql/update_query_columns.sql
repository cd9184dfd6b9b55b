UPDATE orders SET hold_reasons = ?2, ship_by_at = ?3, ship_by_ns = ?4, payment_anomaly = ?5, open_cases = ?6
    WHERE id = ?1 AND (hold_reasons IS NOT ?2 OR ship_by_at IS NOT ?3 OR ship_by_ns IS NOT ?4
        OR payment_anomaly IS NOT ?5 OR open_cases IS NOT ?6)
