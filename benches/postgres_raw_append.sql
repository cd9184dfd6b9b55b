-- postgres_vs_raw, raw side: a later transition in one statement (one round trip, its own
-- transaction): the order row updated with the version compare-and-set, then its events,
-- outbox rows, dedupe keys and waybills, written only when the compare-and-set matched (it
-- returns 0 rows otherwise). `{s}` is the schema.
-- $1 id, $2 status, $3 next_deadline_at, $4 next_deadline_kind, $5 version, $6 snapshot,
-- $7 expected version, $8 event seqs, $9 event bodies, $10 event types, $11 outbox keys,
-- $12 effects, $13 dedupe keys, $14 waybills (carrier SF).
WITH o AS (
    UPDATE {s}.orders SET status = $2, next_deadline_at = $3, next_deadline_kind = $4, version = $5, snapshot = $6
    WHERE id = $1 AND version = $7
    RETURNING id
), new_events AS (
    INSERT INTO {s}.events (order_id, seq, body, event_type)
    SELECT o.id, t.seq, t.body, t.type FROM o, unnest($8::bigint[], $9::jsonb[], $10::text[]) AS t(seq, body, type)
), new_outbox AS (
    INSERT INTO {s}.outbox (key, order_id, effect)
    SELECT t.k, o.id, t.e FROM o, unnest($11::text[], $12::jsonb[]) AS t(k, e)
), new_keys AS (
    INSERT INTO {s}.dedupe_keys (key, order_id) SELECT t.k, o.id FROM o, unnest($13::text[]) AS t(k)
), new_waybills AS (
    INSERT INTO {s}.waybills (carrier, waybill, order_id) SELECT 'SF', t.w, o.id FROM o, unnest($14::text[]) AS t(w)
)
SELECT count(*) FROM o
