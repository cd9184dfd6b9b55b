ALTER TABLE {s}.orders ADD COLUMN IF NOT EXISTS hold_reasons text[] NOT NULL DEFAULT '{}';
ALTER TABLE {s}.orders ADD COLUMN IF NOT EXISTS ship_by timestamptz;
ALTER TABLE {s}.orders ADD COLUMN IF NOT EXISTS payment_anomaly boolean NOT NULL DEFAULT false;
ALTER TABLE {s}.orders ADD COLUMN IF NOT EXISTS open_cases boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS orders_by_time ON {s}.orders (placed_at, id);
CREATE INDEX IF NOT EXISTS orders_by_status_time ON {s}.orders (status, placed_at, id);
CREATE INDEX IF NOT EXISTS orders_with_anomaly ON {s}.orders (placed_at, id) WHERE payment_anomaly;
CREATE INDEX IF NOT EXISTS orders_with_open_cases ON {s}.orders (placed_at, id) WHERE open_cases;
CREATE INDEX IF NOT EXISTS orders_by_ship_by ON {s}.orders (ship_by) WHERE ship_by IS NOT NULL;

CREATE TABLE IF NOT EXISTS {s}.status_counts (
    status text   PRIMARY KEY,
    n      bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.status_count_changes (
    status text   NOT NULL,
    n      bigint NOT NULL
);
-- Run again by the upgrade tests over a schema that has it: every step may find its work done.
DROP TRIGGER IF EXISTS orders_counted ON {s}.orders;
DROP TRIGGER IF EXISTS orders_recounted ON {s}.orders;
DELETE FROM {s}.status_count_changes;
DELETE FROM {s}.status_counts;
INSERT INTO {s}.status_counts (status, n) SELECT status, count(*) FROM {s}.orders GROUP BY status;
CREATE OR REPLACE FUNCTION {s}.count_status_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO {s}.status_count_changes (status, n) VALUES (OLD.status, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO {s}.status_count_changes (status, n) VALUES (NEW.status, 1);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER orders_counted AFTER INSERT OR DELETE ON {s}.orders
    FOR EACH ROW EXECUTE FUNCTION {s}.count_status_change();
CREATE TRIGGER orders_recounted AFTER UPDATE OF status ON {s}.orders
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION {s}.count_status_change();

CREATE SEQUENCE IF NOT EXISTS {s}.event_positions;
ALTER TABLE {s}.events ADD COLUMN IF NOT EXISTS xact_id xid8, ADD COLUMN IF NOT EXISTS position bigint;
-- Events written before: transaction 0, numbered order by order after any numbered already.
UPDATE {s}.events AS e SET xact_id = '0', position = n.n
    FROM (
        SELECT order_id, seq,
            (SELECT coalesce(max(position), 0) FROM {s}.events) + row_number() OVER (ORDER BY order_id, seq) AS n
        FROM {s}.events WHERE position IS NULL
    ) AS n
    WHERE e.order_id = n.order_id AND e.seq = n.seq;
SELECT setval('{s}.event_positions', (SELECT coalesce(max(position), 0) FROM {s}.events) + 1, false);
ALTER TABLE {s}.events
    ALTER COLUMN xact_id SET DEFAULT pg_current_xact_id(),
    ALTER COLUMN xact_id SET NOT NULL,
    ALTER COLUMN position SET DEFAULT nextval('{s}.event_positions'),
    ALTER COLUMN position SET NOT NULL;
CREATE INDEX IF NOT EXISTS events_feed ON {s}.events (xact_id, position);
