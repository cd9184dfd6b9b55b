CREATE TABLE orders (
    id TEXT PRIMARY KEY NOT NULL,
    number TEXT NOT NULL UNIQUE,
    customer TEXT NOT NULL,
    status TEXT NOT NULL,
    placed_at INTEGER NOT NULL,
    placed_at_ns INTEGER NOT NULL,
    next_deadline_at INTEGER,
    next_deadline_ns INTEGER,
    next_deadline_kind TEXT,
    version INTEGER NOT NULL,
    snapshot TEXT NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer, id);
CREATE INDEX orders_by_status ON orders (status, id);
CREATE INDEX orders_by_deadline ON orders (next_deadline_at, next_deadline_ns, id)
    WHERE next_deadline_at IS NOT NULL;

CREATE TABLE events (
    order_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (order_id, seq)
) WITHOUT ROWID;

CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    effect TEXT NOT NULL,
    available_at INTEGER NOT NULL,
    available_ns INTEGER NOT NULL,
    lease_until INTEGER,
    lease_ns INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    dead INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX outbox_open ON outbox (seq) WHERE done = 0 AND dead = 0;

CREATE TABLE dedupe_keys (
    key TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE waybills (
    waybill TEXT PRIMARY KEY NOT NULL,
    order_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX waybills_by_order ON waybills (order_id);
