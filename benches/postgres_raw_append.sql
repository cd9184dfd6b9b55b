-- postgres_vs_raw, raw side: a later transition in one statement (one round trip, its own
-- transaction): the order row and its index columns updated with the version compare-and-set,
-- then its events, outbox rows, dedupe keys and waybills, written only when the
-- compare-and-set matched (it returns 0 rows otherwise); the same rows and columns as PgStore
-- writes. `{s}` is the schema.
-- $1 id, $2 status, $3 next_deadline_at, $4 next_deadline_kind, $5 version, $6 snapshot,
-- $7 hold_reasons, $8 ship_by, $9 payment_anomaly, $10 open_cases, $11 expected version,
-- $12 event seqs, $13 event bodies, $14 event types, $15 outbox keys, $16 effects,
-- $17 outbox written_at, $18 dedupe keys, $19 waybills (carrier SF).
WITH o AS (
    UPDATE {s}.orders SET status = $2, next_deadline_at = $3, next_deadline_kind = $4, version = $5, snapshot = $6,
        hold_reasons = $7, ship_by = $8, payment_anomaly = $9, open_cases = $10
    WHERE id = $1 AND version = $11
    RETURNING id
), new_events AS (
    INSERT INTO {s}.events (order_id, seq, body, event_type, schema_version)
    SELECT o.id, t.seq, t.body, t.type, {event_version}
    FROM o, unnest($12::bigint[], $13::jsonb[], $14::text[]) AS t(seq, body, type)
    ORDER BY t.seq
), new_outbox AS (
    INSERT INTO {s}.outbox (key, order_id, effect, written_at)
    SELECT t.k, o.id, t.e, $17::timestamptz FROM o, unnest($15::text[], $16::jsonb[]) WITH ORDINALITY AS t(k, e, n)
    ORDER BY t.n
), new_keys AS (
    INSERT INTO {s}.dedupe_keys (key, order_id) SELECT t.k, o.id FROM o, unnest($18::text[]) AS t(k)
), new_waybills AS (
    INSERT INTO {s}.waybills (carrier, waybill, order_id) SELECT 'SF', t.w, o.id FROM o, unnest($19::text[]) AS t(w)
)
SELECT count(*) FROM o
