//! The SQLite store's staff queries, counts per status and event feed (schema version 5).
//!
//! Each query reads one index, named (`INDEXED BY`) so the plan never becomes a scan: orders
//! with a payment anomaly or an open case (partial indexes), orders still to ship by ship-by
//! time (only those due are read, then sorted), one range of `(status, placed_at, id)` per
//! status (merged in [`OrderQuery::page`]), or every order by `(placed_at, id)`. Counts per
//! status are kept by triggers in `status_counts`; the feed is the `feed` table, numbered by
//! a trigger on every event insert (SQLite has one writer, so that order is the commit order).

use rusqlite::{Connection, Transaction, params};

use super::{Fail, corrupt, parse_id, split, sql_limit, to_u64};
use crate::ids::OrderId;
use crate::order::OrderStatus;
use crate::ports::{
    FeedCursor, FeedEvent, FeedPage, OrderQuery, OrderSummary, QueryColumns, QueryPage, SortOrder, StatusCounts,
};
use crate::stored::{StoredEvent, StoredSnapshot};

/// The query columns as the `orders` row holds them: hold reasons (` a b `, so `instr` finds
/// ` a `), ship-by time, anomaly and open-case flags.
pub(super) struct QueryRow {
    hold_reasons: String,
    ship_by: Option<(i64, i64)>,
    payment_anomaly: bool,
    open_cases: bool,
}

impl QueryRow {
    pub(super) fn of(columns: &QueryColumns) -> QueryRow {
        let hold_reasons = if columns.hold_reasons.is_empty() {
            String::new()
        } else {
            columns.hold_reasons.iter().fold(String::from(" "), |text, r| text + r.as_str() + " ")
        };
        QueryRow {
            hold_reasons,
            ship_by: columns.ship_by.map(split),
            payment_anomaly: columns.payment_anomaly,
            open_cases: columns.open_cases,
        }
    }

    /// Writes them to order `id`'s row (left alone when unchanged).
    pub(super) fn write(&self, tx: &Transaction<'_>, id: &str) -> Result<(), Fail> {
        tx.prepare_cached(include_str!("sql/update_query_columns.sql"))?.execute(params![
            id,
            self.hold_reasons,
            self.ship_by.map(|t| t.0),
            self.ship_by.map(|t| t.1),
            self.payment_anomaly,
            self.open_cases,
        ])?;
        Ok(())
    }
}

/// Fills the query columns of every stored order from its snapshot (schema migration to
/// version 5). An order whose snapshot cannot be read keeps the defaults (logged).
pub(super) fn fill_query_columns(tx: &Transaction<'_>) -> Result<(), Fail> {
    let mut stmt = tx.prepare(include_str!("sql/migrate_all_snapshots.sql"))?;
    let rows =
        stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, u16>(2)?)))?;
    for row in rows {
        let (id, snapshot, version) = row?;
        match StoredSnapshot::decode(snapshot.as_str(), version, &id) {
            Ok(order) => QueryRow::of(&QueryColumns::of(&order)).write(tx, &id)?,
            Err(e) => {
                tracing::warn!(order_id = %id, error = %e, "sqlite store: migrating query columns: snapshot unreadable");
            }
        }
    }
    Ok(())
}

/// One page of `query`.
pub(super) fn query(conn: &Connection, query: &OrderQuery) -> Result<QueryPage, Fail> {
    if query.limit == 0 {
        return Ok(query.page(Vec::new()));
    }
    let lanes = query.lanes().into_iter().map(|status| lane(conn, query, status)).collect::<Result<Vec<_>, Fail>>()?;
    Ok(query.page(lanes))
}

/// The orders of one lane (one status, or any), at most [`OrderQuery::fetch`].
fn lane(conn: &Connection, query: &OrderQuery, status: Option<OrderStatus>) -> Result<Vec<OrderSummary>, Fail> {
    let index = if query.payment_anomalies {
        "orders_with_anomaly"
    } else if query.open_cases {
        "orders_with_open_cases"
    } else if query.ship_by_before.is_some() {
        "orders_by_ship_by"
    } else if status.is_some() {
        "orders_by_status_time"
    } else {
        "orders_by_time"
    };
    let mut sql = include_str!("sql/query_orders.sql").trim_end().replace("{index}", index);
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut arg = |sql: &mut String, clause: &str, values: Vec<rusqlite::types::Value>| {
        // Each `?` becomes the number of the value it stands for.
        let mut values = values.into_iter();
        for (i, part) in clause.split('?').enumerate() {
            if i > 0 {
                args.extend(values.next());
                sql.push_str(&format!("?{}", args.len()));
            }
            sql.push_str(part);
        }
    };
    if let Some(status) = status {
        arg(&mut sql, " AND status = ?", vec![status.as_str().to_owned().into()]);
    }
    if query.payment_anomalies {
        sql.push_str(" AND payment_anomaly = 1");
    }
    if query.open_cases {
        sql.push_str(" AND open_cases = 1");
    }
    if let Some(reason) = query.hold_reason {
        arg(&mut sql, " AND instr(hold_reasons, ?) > 0", vec![format!(" {} ", reason.as_str()).into()]);
    }
    if let Some(before) = query.ship_by_before {
        let (us, ns) = split(before);
        arg(&mut sql, " AND ship_by_at IS NOT NULL AND (ship_by_at, ship_by_ns) < (?, ?)", vec![us.into(), ns.into()]);
    }
    let (compare, direction) = match query.order {
        SortOrder::OldestFirst => (">", "ASC"),
        SortOrder::NewestFirst => ("<", "DESC"),
    };
    if let Some(cursor) = query.after {
        let (us, ns) = split(cursor.placed_at());
        let clause = format!(" AND (placed_at, placed_at_ns, id) {compare} (?, ?, ?)");
        arg(&mut sql, &clause, vec![us.into(), ns.into(), cursor.id().to_string().into()]);
    }
    let limit = sql_limit(query.fetch());
    let order = format!(" ORDER BY placed_at {direction}, placed_at_ns {direction}, id {direction} LIMIT ?");
    arg(&mut sql, &order, vec![limit.into()]);

    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, u16>(1)?, row.get::<_, String>(2)?))
    })?;
    let mut found = Vec::new();
    for row in rows {
        let (snapshot, schema_version, id) = row?;
        found.push(OrderSummary::of(&StoredSnapshot::decode(snapshot.as_str(), schema_version, id)?));
    }
    Ok(found)
}

/// How many orders are in each status.
pub(super) fn count_by_status(conn: &Connection) -> Result<StatusCounts, Fail> {
    let mut stmt = conn.prepare_cached(include_str!("sql/count_by_status.sql"))?;
    let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))?;
    let mut counts = StatusCounts::new();
    for row in rows {
        let (status, n) = row?;
        let status = OrderStatus::parse(&status).ok_or_else(|| corrupt(format!("unknown status {status:?}")))?;
        counts.insert(status, to_u64("order count", n)?);
    }
    Ok(counts)
}

/// At most `limit` events after `after`, in commit order.
pub(super) fn events_after(conn: &Connection, after: FeedCursor, limit: usize) -> Result<FeedPage, Fail> {
    let from = i64::try_from(after.position()).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(include_str!("sql/events_after.sql"))?;
    let rows = stmt.query_map(params![from, sql_limit(limit)], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, u16>(4)?,
        ))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (position, id, seq, body, schema_version) = row?;
        let order_id: OrderId = parse_id(&id)?;
        let event = StoredEvent::decode(body.as_str(), schema_version, order_id, seq)?;
        let cursor = FeedCursor::new(0, to_u64("feed position", position)?);
        events.push(FeedEvent { order_id, event, cursor });
    }
    let next = events.last().map_or(after, |e| e.cursor);
    Ok(FeedPage { events, next })
}
