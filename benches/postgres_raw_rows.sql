-- postgres_vs_raw, raw side: the rest of a transition's one statement (one round trip, its
-- own transaction), after the head that writes the order row as `o`
-- (benches/postgres_raw_create.sql or benches/postgres_raw_append.sql): the events, the
-- outbox rows (in order), the dedupe keys and the waybills, the same rows and columns as
-- PgStore writes. Returns how many order rows were written, 0 or 1. `{s}` is the schema.
-- $1 event seqs, $2 event bodies, $3 event types, $4 outbox keys, $5 effects,
-- $6 outbox written_at, $7 dedupe keys, $8 waybills (carrier SF).
, new_events AS (
    INSERT INTO {s}.events (order_id, seq, body, event_type, schema_version)
    SELECT o.id, t.seq, t.body, t.type, {event_version}
    FROM o, unnest($1::bigint[], $2::jsonb[], $3::text[]) AS t(seq, body, type)
    ORDER BY t.seq
), new_outbox AS (
    INSERT INTO {s}.outbox (key, order_id, effect, written_at)
    SELECT t.k, o.id, t.e, $6::timestamptz FROM o, unnest($4::text[], $5::jsonb[]) WITH ORDINALITY AS t(k, e, n)
    ORDER BY t.n
), new_keys AS (
    INSERT INTO {s}.dedupe_keys (key, order_id) SELECT t.k, o.id FROM o, unnest($7::text[]) AS t(k)
), new_waybills AS (
    INSERT INTO {s}.waybills (carrier, waybill, order_id) SELECT 'SF', t.w, o.id FROM o, unnest($8::text[]) AS t(w)
)
SELECT count(*) FROM o
