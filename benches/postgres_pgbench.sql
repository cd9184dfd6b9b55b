-- postgres_vs_raw's transition for pgbench: each run of this script is one transition of an
-- order's lifecycle in one statement, as the raw side writes it (benches/postgres_raw_*.sql):
-- step 0 places a new order, steps 1–9 update it with the version compare-and-set; each adds
-- the step's events, outbox rows, dedupe keys and (step 5) waybill. The rows come from
-- `bench_steps`, filled by the bench from one recorded lifecycle (so pgbench's statement also
-- reads one row by primary key, which the raw side passes as parameters instead), and both
-- heads are in the statement, one of them writing nothing.
--
-- Run by `cargo bench --bench postgres_vs_raw` (with a server) in a schema of its own, as
--   PGOPTIONS='-c search_path=SCHEMA' pgbench -n -M prepared -D step=9 -D id=<any uuid> \
--       -f benches/postgres_pgbench.sql -c N -j N -T S
-- Each client keeps its variables between runs: `step` counts 0..9 and `id` is its order.
\set step (:step + 1) % 10
WITH p AS (
    SELECT * FROM bench_steps WHERE step = :step
), placed AS (
    INSERT INTO orders (id, number, customer, status, placed_at, next_deadline_at, next_deadline_kind, version,
        snapshot, snapshot_version, hold_reasons, ship_by, payment_anomaly, open_cases)
    SELECT u.id, 'PGB' || u.id::text, p.customer, p.status, p.placed_at, p.deadline_at, p.deadline_kind, p.version,
        p.snapshot, p.snapshot_version, p.hold_reasons, p.ship_by, p.payment_anomaly, p.open_cases
    FROM p, (SELECT gen_random_uuid() AS id) AS u
    WHERE p.step = 0
    RETURNING id
), moved AS (
    UPDATE orders AS x SET status = p.status, next_deadline_at = p.deadline_at, next_deadline_kind = p.deadline_kind,
        version = p.version, snapshot = p.snapshot, hold_reasons = p.hold_reasons, ship_by = p.ship_by,
        payment_anomaly = p.payment_anomaly, open_cases = p.open_cases
    FROM p WHERE p.step > 0 AND x.id = :id::uuid AND x.version = p.expected
    RETURNING x.id
), o AS (
    SELECT id FROM placed UNION ALL SELECT id FROM moved
), new_events AS (
    INSERT INTO events (order_id, seq, body, event_type, schema_version)
    SELECT o.id, t.seq, t.body, t.type, p.schema_version
    FROM o, p, unnest(p.seqs, p.bodies, p.types) AS t(seq, body, type)
    ORDER BY t.seq
), new_outbox AS (
    INSERT INTO outbox (key, order_id, effect, written_at)
    SELECT replace(t.k, '{id}', o.id::text), o.id, t.e, p.written_at
    FROM o, p, unnest(p.outbox_keys, p.effects) WITH ORDINALITY AS t(k, e, n)
    ORDER BY t.n
), new_keys AS (
    INSERT INTO dedupe_keys (key, order_id)
    SELECT replace(t.k, '{id}', o.id::text), o.id FROM o, p, unnest(p.dedupe_keys) AS t(k)
), new_waybills AS (
    INSERT INTO waybills (carrier, waybill, order_id) SELECT 'SF', 'PGBSF' || o.id::text, o.id FROM o, p WHERE p.waybill
)
SELECT id FROM o \gset
