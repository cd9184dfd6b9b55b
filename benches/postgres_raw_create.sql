-- postgres_vs_raw, raw side: a placement in one statement (one round trip, its own
-- transaction): the order row, its events, outbox rows and dedupe keys. `{s}` is the schema.
-- $1 id, $2 number, $3 customer, $4 status, $5 placed_at, $6 next_deadline_at,
-- $7 next_deadline_kind, $8 version, $9 snapshot, $10 event seqs, $11 event bodies,
-- $12 event types, $13 outbox keys, $14 effects, $15 dedupe keys, $16 waybills (carrier SF).
WITH o AS (
    INSERT INTO {s}.orders (id, number, customer, status, placed_at, next_deadline_at, next_deadline_kind, version,
        snapshot)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    RETURNING id
), new_events AS (
    INSERT INTO {s}.events (order_id, seq, body, event_type)
    SELECT o.id, t.seq, t.body, t.type FROM o, unnest($10::bigint[], $11::jsonb[], $12::text[]) AS t(seq, body, type)
), new_outbox AS (
    INSERT INTO {s}.outbox (key, order_id, effect)
    SELECT t.k, o.id, t.e FROM o, unnest($13::text[], $14::jsonb[]) AS t(k, e)
), new_keys AS (
    INSERT INTO {s}.dedupe_keys (key, order_id) SELECT t.k, o.id FROM o, unnest($15::text[]) AS t(k)
), new_waybills AS (
    INSERT INTO {s}.waybills (carrier, waybill, order_id) SELECT 'SF', t.w, o.id FROM o, unnest($16::text[]) AS t(w)
)
SELECT count(*) FROM o
