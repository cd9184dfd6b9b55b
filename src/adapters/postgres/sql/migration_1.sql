CREATE TABLE IF NOT EXISTS {s}.orders (
    id                 uuid        PRIMARY KEY,
    number             text        NOT NULL,
    customer           text        NOT NULL,
    status             text        NOT NULL,
    placed_at          timestamptz NOT NULL,
    next_deadline_at   timestamptz,
    next_deadline_kind jsonb,
    version            bigint      NOT NULL,
    snapshot           jsonb       NOT NULL,
    CONSTRAINT orders_number_unique UNIQUE (number)
);
CREATE INDEX IF NOT EXISTS orders_customer_id ON {s}.orders (customer, id);
CREATE INDEX IF NOT EXISTS orders_status_id ON {s}.orders (status, id);
CREATE INDEX IF NOT EXISTS orders_next_deadline ON {s}.orders (next_deadline_at, id)
    WHERE next_deadline_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS {s}.events (
    order_id uuid   NOT NULL REFERENCES {s}.orders (id),
    seq      bigint NOT NULL,
    body     jsonb  NOT NULL,
    PRIMARY KEY (order_id, seq)
);

CREATE TABLE IF NOT EXISTS {s}.outbox (
    key          text        PRIMARY KEY,
    seq          bigserial   NOT NULL,
    order_id     uuid        NOT NULL,
    effect       jsonb       NOT NULL,
    available_at timestamptz,
    lease_until  timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    done         boolean     NOT NULL DEFAULT false,
    dead         boolean     NOT NULL DEFAULT false,
    last_error   text
);
CREATE INDEX IF NOT EXISTS outbox_open ON {s}.outbox (seq) WHERE NOT done AND NOT dead;

CREATE TABLE IF NOT EXISTS {s}.dedupe_keys (
    key      text PRIMARY KEY,
    order_id uuid NOT NULL
);

CREATE TABLE IF NOT EXISTS {s}.waybills (
    waybill  text PRIMARY KEY,
    order_id uuid NOT NULL
);
CREATE INDEX IF NOT EXISTS waybills_order ON {s}.waybills (order_id);
