ALTER TABLE orders ADD COLUMN hold_reasons TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN ship_by_at INTEGER;
ALTER TABLE orders ADD COLUMN ship_by_ns INTEGER;
ALTER TABLE orders ADD COLUMN payment_anomaly INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN open_cases INTEGER NOT NULL DEFAULT 0;
CREATE INDEX orders_by_time ON orders (placed_at, placed_at_ns, id);
CREATE INDEX orders_by_status_time ON orders (status, placed_at, placed_at_ns, id);
CREATE INDEX orders_with_anomaly ON orders (placed_at, placed_at_ns, id) WHERE payment_anomaly = 1;
CREATE INDEX orders_with_open_cases ON orders (placed_at, placed_at_ns, id) WHERE open_cases = 1;
CREATE INDEX orders_by_ship_by ON orders (ship_by_at, ship_by_ns) WHERE ship_by_at IS NOT NULL;

CREATE TABLE status_counts (
    status TEXT PRIMARY KEY NOT NULL,
    n INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO status_counts (status, n) SELECT status, count(*) FROM orders GROUP BY status;
CREATE TRIGGER orders_counted AFTER INSERT ON orders BEGIN
    INSERT INTO status_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER orders_recounted AFTER UPDATE OF status ON orders WHEN OLD.status IS NOT NEW.status BEGIN
    UPDATE status_counts SET n = n - 1 WHERE status = OLD.status;
    INSERT INTO status_counts (status, n) VALUES (NEW.status, 1)
        ON CONFLICT (status) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER orders_uncounted AFTER DELETE ON orders BEGIN
    UPDATE status_counts SET n = n - 1 WHERE status = OLD.status;
END;

CREATE TABLE feed (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL,
    seq INTEGER NOT NULL
);
INSERT INTO feed (order_id, seq) SELECT order_id, seq FROM events ORDER BY order_id, seq;
CREATE TRIGGER events_fed AFTER INSERT ON events BEGIN
    INSERT INTO feed (order_id, seq) VALUES (NEW.order_id, NEW.seq);
END;
