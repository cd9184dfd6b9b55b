DROP INDEX waybills_by_order;
ALTER TABLE waybills RENAME TO waybills_v2;
CREATE TABLE waybills (
    carrier TEXT NOT NULL,
    waybill TEXT NOT NULL,
    order_id TEXT NOT NULL,
    PRIMARY KEY (carrier, waybill)
) WITHOUT ROWID;
CREATE INDEX waybills_by_order ON waybills (order_id);
