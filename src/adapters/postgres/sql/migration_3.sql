ALTER TABLE {s}.waybills RENAME TO waybills_v2;
ALTER TABLE {s}.waybills_v2 RENAME CONSTRAINT waybills_pkey TO waybills_v2_pkey;
ALTER INDEX {s}.waybills_order RENAME TO waybills_v2_order;
CREATE TABLE {s}.waybills (
    carrier  text NOT NULL,
    waybill  text NOT NULL,
    order_id uuid NOT NULL,
    CONSTRAINT waybills_pkey PRIMARY KEY (carrier, waybill)
);
CREATE INDEX waybills_order ON {s}.waybills (order_id);
