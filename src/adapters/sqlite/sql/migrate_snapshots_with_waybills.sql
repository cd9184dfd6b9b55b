SELECT id, snapshot FROM orders
    WHERE id IN (SELECT order_id FROM waybills_v2) OR snapshot LIKE '%waybill":"%'
