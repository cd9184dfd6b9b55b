//! The PostgreSQL store's staff queries, counts per status and event feed (migration 5).
//!
//! Queries read one range of `(status, placed_at, id)` per status (merged in
//! [`OrderQuery::page`]) or a partial index (payment anomalies, open cases, still to ship by
//! ship-by time) or `(placed_at, id)`; each reads at most a page and one more row.
//!
//! Counts per status: a trigger appends each change of an order's status to
//! `status_count_changes` (inserts only, so concurrent commits never wait for each other); a
//! count first folds the changes into `status_counts` under an advisory lock, then sums both.
//!
//! The feed: every event row records the id of the transaction that wrote it
//! (`pg_current_xact_id()`) and a position from a sequence. Transactions commit in another order
//! than they take ids and positions, so the feed hands out only rows of transactions older
//! than every transaction still running (`xact_id < pg_snapshot_xmin(pg_current_snapshot())`),
//! ordered by `(xact_id, position)`: no transaction that is still running, or will start, can
//! write a row that sorts before one handed out, so a reader following the cursor skips nothing.
//! A long transaction delays the feed until it ends. The statement orders by the table's
//! columns (`e.xact_id`): a bare `xact_id` would name the selected `xact_id::text` and sort
//! transaction ids as text (`10` before `9`), and read the whole table to do it.
//!
//! A ship-by query is planned for its time on every call (a statement of its own, not a
//! cached one): how many orders are due decides between reading the ship-by index and sorting
//! (few due) and walking `(placed_at, id)` (most due), and the generic plan a cached statement
//! settles on cannot know it (at a million orders it walked the whole table for the 48 due).

use serde_json::Value;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{PgStore, db, from_json, status_text, to_u64};
use crate::ids::{CustomerId, OrderId};
use crate::money::Money;
use crate::order::OrderStatus;
use crate::ports::{
    FeedCursor, FeedEvent, FeedPage, OrderQuery, OrderSummary, QueryColumns, QueryPage, SortOrder, StatusCounts,
    StoreError,
};
use crate::stored::{StoredEvent, StoredSnapshot};

/// A listing row (`id, number, customer, status, placed_at, total`, the last two from the
/// snapshot, exact) as a summary.
pub(super) fn summary(row: &Row) -> Result<OrderSummary, StoreError> {
    let id = OrderId::from_uuid(row.try_get(0).map_err(db)?);
    let what = format!("the listing row of order {id}");
    let number: &str = row.try_get(1).map_err(db)?;
    let customer: &str = row.try_get(2).map_err(db)?;
    let status: String = row.try_get(3).map_err(db)?;
    Ok(OrderSummary {
        id,
        number: number.parse().map_err(|_| StoreError::Corrupt(format!("{what}: bad order number")))?,
        customer: CustomerId::new(customer).map_err(|_| StoreError::Corrupt(format!("{what}: bad customer id")))?,
        status: from_json::<OrderStatus>(Value::String(status), &what)?,
        placed_at: from_json(row.try_get(4).map_err(db)?, &what)?,
        total: from_json::<Money>(row.try_get(5).map_err(db)?, &what)?,
    })
}

/// One page of `query`.
pub(super) async fn query(store: &PgStore, query: &OrderQuery) -> Result<QueryPage, StoreError> {
    if query.limit == 0 {
        return Ok(query.page(Vec::new()));
    }
    let client = store.client().await?;
    let mut lanes = Vec::new();
    for status in query.lanes() {
        let status = status.map(status_text).transpose()?;
        let reason = query.hold_reason.map(|r| r.as_str());
        let cursor = query.after.map(|c| (c.placed_at(), c.id().as_uuid()));
        let fetch = i64::try_from(query.fetch()).unwrap_or(i64::MAX);
        let mut sql = store.sql(include_str!("sql/query_orders.sql").trim_end());
        let mut params_len = 0usize;
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        // `$?` in `clause` stands for the next parameter.
        let mut condition = |sql: &mut String, clause: &str| {
            let mut clause = clause.to_owned();
            while clause.contains("$?") {
                params_len += 1;
                clause = clause.replacen("$?", &format!("${params_len}"), 1);
            }
            sql.push_str(&clause);
        };
        if let Some(status) = &status {
            params.push(status);
            condition(&mut sql, " AND status = $?");
        }
        if query.payment_anomalies {
            condition(&mut sql, " AND payment_anomaly");
        }
        if query.open_cases {
            condition(&mut sql, " AND open_cases");
        }
        if let Some(reason) = &reason {
            params.push(reason);
            condition(&mut sql, " AND $? = ANY (hold_reasons)");
        }
        if let Some(before) = &query.ship_by_before {
            params.push(before);
            condition(&mut sql, " AND ship_by IS NOT NULL AND ship_by < $?");
        }
        let (compare, direction) = match query.order {
            SortOrder::OldestFirst => (">", "ASC"),
            SortOrder::NewestFirst => ("<", "DESC"),
        };
        if let Some((at, id)) = &cursor {
            params.push(at);
            params.push(id);
            condition(&mut sql, &format!(" AND (placed_at, id) {compare} ($?, $?)"));
        }
        params.push(&fetch);
        condition(&mut sql, &format!(" ORDER BY placed_at {direction}, id {direction} LIMIT $?"));
        let rows = if query.ship_by_before.is_some() {
            client.query(sql.as_str(), &params).await
        } else {
            client.query(&client.prepare_cached(&sql).await.map_err(db)?, &params).await
        }
        .map_err(db)?;
        lanes.push(rows.iter().map(summary).collect::<Result<Vec<_>, _>>()?);
    }
    Ok(query.page(lanes))
}

/// How many orders are in each status: folds the recorded changes into the totals (one
/// counter at a time, under an advisory lock), then sums the totals and any change recorded
/// since.
pub(super) async fn count_by_status(store: &PgStore) -> Result<StatusCounts, StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.map_err(db)?;
    tx.execute(include_str!("sql/count_lock.sql"), &[&store.schema]).await.map_err(db)?;
    tx.execute(&store.sql(include_str!("sql/compact_status_counts.sql")), &[]).await.map_err(db)?;
    let rows = tx.query(&store.sql(include_str!("sql/count_by_status.sql")), &[]).await.map_err(db)?;
    tx.commit().await.map_err(db)?;
    let mut counts = StatusCounts::new();
    for row in rows {
        let status: String = row.try_get(0).map_err(db)?;
        let n: i64 = row.try_get(1).map_err(db)?;
        let status = OrderStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("status counts: unknown status {status:?}")))?;
        counts.insert(status, to_u64(n)?);
    }
    Ok(counts)
}

/// At most `limit` events after `after`, of transactions older than every one still running.
pub(super) async fn events_after(store: &PgStore, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError> {
    let epoch = after.epoch().to_string();
    let position = i64::try_from(after.position()).unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let client = store.client().await?;
    let sql = store.sql(include_str!("sql/events_after.sql"));
    let rows = client
        .query(&client.prepare_cached(&sql).await.map_err(db)?, &[&epoch, &position, &limit])
        .await
        .map_err(db)?;
    drop(client);
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let xact: String = row.try_get(0).map_err(db)?;
        let position: i64 = row.try_get(1).map_err(db)?;
        let order_id = OrderId::from_uuid(row.try_get::<_, Uuid>(2).map_err(db)?);
        let seq: i64 = row.try_get(3).map_err(db)?;
        let body: Value = row.try_get(4).map_err(db)?;
        let schema_version: i16 = row.try_get(5).map_err(db)?;
        let event = StoredEvent::decode(body, u16::try_from(schema_version).unwrap_or(0), order_id, seq)?;
        let epoch =
            xact.parse::<u64>().map_err(|_| StoreError::Corrupt(format!("feed: bad transaction id {xact:?}")))?;
        events.push(FeedEvent { order_id, event, cursor: FeedCursor::new(epoch, to_u64(position)?) });
    }
    let next = events.last().map_or(after, |e| e.cursor);
    Ok(FeedPage { events, next })
}

/// Fills the query columns of every stored order from its snapshot (migration 5), a page of
/// orders at a time. An order whose snapshot cannot be read keeps the defaults (logged).
pub(super) async fn fill_query_columns(
    store: &PgStore,
    tx: &tokio_postgres::Transaction<'_>,
) -> Result<(), StoreError> {
    const PAGE: i64 = 500;
    let page = store.sql(include_str!("sql/migrate_all_snapshots.sql"));
    let update = store.sql(include_str!("sql/update_query_columns.sql"));
    let mut after = Uuid::nil();
    loop {
        let rows = tx.query(&page, &[&after, &PAGE]).await.map_err(db)?;
        let Some(last) = rows.last() else { break };
        after = last.try_get(0).map_err(db)?;
        for row in &rows {
            let id: Uuid = row.try_get(0).map_err(db)?;
            let version: i16 = row.try_get(2).map_err(db)?;
            let order = row
                .try_get::<_, Value>(1)
                .map_err(db)
                .and_then(|json| StoredSnapshot::decode(json, u16::try_from(version).unwrap_or(0), id));
            let Ok(order) = order else {
                tracing::warn!(order_id = %id, "postgres store: migrating query columns: snapshot unreadable");
                continue;
            };
            let columns = QueryColumns::of(&order);
            let reasons: Vec<&str> = columns.hold_reasons.iter().map(|r| r.as_str()).collect();
            let params: [&(dyn ToSql + Sync); 5] =
                [&id, &reasons, &columns.ship_by, &columns.payment_anomaly, &columns.open_cases];
            tx.execute(&update, &params).await.map_err(db)?;
        }
        if i64::try_from(rows.len()).unwrap_or(i64::MAX) < PAGE {
            break;
        }
    }
    Ok(())
}
