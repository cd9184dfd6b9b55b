-- postgres_vs_raw, raw side: a placement in one statement (one round trip, its own
-- transaction): the order row with its index columns, its events, outbox rows and dedupe keys,
-- the same rows and columns as PgStore writes. `{s}` is the schema.
-- $1 id, $2 number, $3 customer, $4 status, $5 placed_at, $6 next_deadline_at,
-- $7 next_deadline_kind, $8 version, $9 snapshot, $10 hold_reasons, $11 ship_by,
-- $12 payment_anomaly, $13 open_cases, $14 event seqs, $15 event bodies, $16 event types,
-- $17 outbox keys, $18 effects, $19 outbox written_at, $20 dedupe keys, $21 waybills (carrier SF).
WITH o AS (
    INSERT INTO {s}.orders (id, number, customer, status, placed_at, next_deadline_at, next_deadline_kind, version,
        snapshot, snapshot_version, hold_reasons, ship_by, payment_anomaly, open_cases)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, {snapshot_version}, $10, $11, $12, $13)
    RETURNING id
), new_events AS (
    INSERT INTO {s}.events (order_id, seq, body, event_type, schema_version)
    SELECT o.id, t.seq, t.body, t.type, {event_version}
    FROM o, unnest($14::bigint[], $15::jsonb[], $16::text[]) AS t(seq, body, type)
    ORDER BY t.seq
), new_outbox AS (
    INSERT INTO {s}.outbox (key, order_id, effect, written_at)
    SELECT t.k, o.id, t.e, $19::timestamptz FROM o, unnest($17::text[], $18::jsonb[]) WITH ORDINALITY AS t(k, e, n)
    ORDER BY t.n
), new_keys AS (
    INSERT INTO {s}.dedupe_keys (key, order_id) SELECT t.k, o.id FROM o, unnest($20::text[]) AS t(k)
), new_waybills AS (
    INSERT INTO {s}.waybills (carrier, waybill, order_id) SELECT 'SF', t.w, o.id FROM o, unnest($21::text[]) AS t(w)
)
SELECT count(*) FROM o
