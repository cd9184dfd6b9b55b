//! The memory store's staff query indexes and its event feed.
//!
//! Each query walks one index in the query's order from its cursor and stops once a page and
//! one more order are found, so its cost follows the page, not the store: orders with a
//! payment anomaly, with an open case, by status (one lane per status, merged), the orders still
//! to ship by ship-by time (only those due before the query's time are read), or every order.

use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::event::Event;
use crate::ids::OrderId;
use crate::order::OrderStatus;
use crate::ports::{
    FeedCursor, FeedEvent, FeedPage, OrderQuery, OrderSummary, QueryColumns, QueryPage, SortOrder, StatusCounts,
};

/// The lowest and highest order ids, for range bounds.
const MIN_ID: OrderId = OrderId::from_uuid(Uuid::nil());
const MAX_ID: OrderId = OrderId::from_uuid(Uuid::max());

/// Orders by placement time (then id).
type ByTime = BTreeSet<(DateTime<Utc>, OrderId)>;

/// The indexes staff queries walk, and the counts per status.
#[derive(Default)]
pub(super) struct QueryIndex {
    /// Every order.
    by_time: ByTime,
    /// Every order, by status.
    by_status: BTreeSet<(OrderStatus, DateTime<Utc>, OrderId)>,
    /// Orders with a payment anomaly.
    anomalies: ByTime,
    /// Orders with an open after-sales case.
    open_cases: ByTime,
    /// Orders still to ship, by ship-by time.
    ship_by: ByTime,
    counts: StatusCounts,
}

impl QueryIndex {
    /// Moves an order's entries from what it was (`None` when new) to what it is, touching
    /// only the indexes whose key or membership changed: most commits change the status
    /// alone, and few the placement time (never, from the engine).
    pub(super) fn update(&mut self, old: Option<(&OrderSummary, &QueryColumns)>, new: (&OrderSummary, &QueryColumns)) {
        let Some(old) = old.filter(|(was, _)| (was.id, was.placed_at) == (new.0.id, new.0.placed_at)) else {
            if let Some(old) = old {
                self.apply(old, false);
            }
            self.apply(new, true);
            return;
        };
        let ((was, was_columns), (now, columns)) = (old, new);
        let at = (now.placed_at, now.id);
        set_member(&mut self.anomalies, at, columns.payment_anomaly, was_columns.payment_anomaly);
        set_member(&mut self.open_cases, at, columns.open_cases, was_columns.open_cases);
        if was_columns.ship_by != columns.ship_by {
            if let Some(ship_by) = was_columns.ship_by {
                self.ship_by.remove(&(ship_by, now.id));
            }
            if let Some(ship_by) = columns.ship_by {
                self.ship_by.insert((ship_by, now.id));
            }
        }
        if was.status != now.status {
            self.count(was, false);
            self.count(now, true);
        }
    }

    /// Adds (or removes) an order's entries.
    fn apply(&mut self, (summary, columns): (&OrderSummary, &QueryColumns), add: bool) {
        let at = (summary.placed_at, summary.id);
        // Each set the order belongs in: a member after adding, or before removing.
        let (anomaly, open_cases) = (columns.payment_anomaly, columns.open_cases);
        set_member(&mut self.by_time, at, add, !add);
        set_member(&mut self.anomalies, at, add && anomaly, !add && anomaly);
        set_member(&mut self.open_cases, at, add && open_cases, !add && open_cases);
        if let Some(ship_by) = columns.ship_by {
            set_member(&mut self.ship_by, (ship_by, summary.id), add, !add);
        }
        self.count(summary, add);
    }

    /// Adds (or removes) an order's entry in its status lane and its status's count.
    fn count(&mut self, summary: &OrderSummary, add: bool) {
        let status = (summary.status, summary.placed_at, summary.id);
        let count = self.counts.entry(summary.status).or_default();
        if add {
            self.by_status.insert(status);
            *count = count.saturating_add(1);
        } else {
            self.by_status.remove(&status);
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.counts.remove(&summary.status);
            }
        }
    }

    /// How many orders are in each status.
    pub(super) fn counts(&self) -> StatusCounts {
        self.counts.clone()
    }

    /// One page of `query`; `get` finds an order's summary and query columns.
    pub(super) fn query<'a>(
        &self,
        query: &OrderQuery,
        get: impl Fn(OrderId) -> Option<(&'a OrderSummary, &'a QueryColumns)>,
    ) -> QueryPage {
        let fetch = query.fetch();
        let take = |ids: &mut dyn Iterator<Item = OrderId>| -> Vec<OrderSummary> {
            ids.filter_map(&get)
                .filter(|(s, c)| query.matches(s, c) && query.is_after_cursor(s.placed_at, s.id))
                .take(fetch)
                .map(|(s, _)| s.clone())
                .collect()
        };
        let lanes = query.lanes();
        if lanes.is_empty() || query.limit == 0 {
            return query.page(Vec::new());
        }
        let read = if query.payment_anomalies {
            vec![take(&mut walk(&self.anomalies, query))]
        } else if query.open_cases {
            vec![take(&mut walk(&self.open_cases, query))]
        } else if let Some(before) = query.ship_by_before {
            // Only orders due before `before`; then in the query's order.
            let due = self.ship_by.range(..(before, MIN_ID)).map(|&(_, id)| id);
            let mut found: Vec<OrderSummary> = due
                .filter_map(&get)
                .filter(|(s, c)| query.matches(s, c) && query.is_after_cursor(s.placed_at, s.id))
                .map(|(s, _)| s.clone())
                .collect();
            found.sort_by_key(|s| (s.placed_at, s.id));
            if query.order == SortOrder::NewestFirst {
                found.reverse();
            }
            found.truncate(fetch);
            vec![found]
        } else {
            lanes
                .into_iter()
                .map(|lane| match lane {
                    Some(status) => take(&mut walk_status(&self.by_status, status, query)),
                    None => take(&mut walk(&self.by_time, query)),
                })
                .collect()
        };
        query.page(read)
    }
}

/// Puts `key` in `set` when it becomes a member (`member` and not `was`), takes it out when
/// it stops being one, and leaves the set alone otherwise.
fn set_member(set: &mut ByTime, key: (DateTime<Utc>, OrderId), member: bool, was: bool) {
    match (was, member) {
        (false, true) => {
            set.insert(key);
        }
        (true, false) => {
            set.remove(&key);
        }
        _ => {}
    }
}

/// The ids of `set` after the query's cursor, in its order.
fn walk<'s>(set: &'s ByTime, query: &OrderQuery) -> Box<dyn Iterator<Item = OrderId> + 's> {
    let cursor = query.after.map(|c| (c.placed_at(), c.id()));
    match (query.order, cursor) {
        (SortOrder::OldestFirst, None) => Box::new(set.iter().map(|k| k.1)),
        (SortOrder::OldestFirst, Some(c)) => Box::new(set.range((Bound::Excluded(c), Bound::Unbounded)).map(|k| k.1)),
        (SortOrder::NewestFirst, None) => Box::new(set.iter().rev().map(|k| k.1)),
        (SortOrder::NewestFirst, Some(c)) => {
            Box::new(set.range((Bound::Unbounded, Bound::Excluded(c))).rev().map(|k| k.1))
        }
    }
}

/// The ids of orders in `status` after the query's cursor, in its order.
fn walk_status<'s>(
    set: &'s BTreeSet<(OrderStatus, DateTime<Utc>, OrderId)>,
    status: OrderStatus,
    query: &OrderQuery,
) -> Box<dyn Iterator<Item = OrderId> + 's> {
    let first = Bound::Included((status, DateTime::<Utc>::MIN_UTC, MIN_ID));
    let last = Bound::Included((status, DateTime::<Utc>::MAX_UTC, MAX_ID));
    let cursor = query.after.map(|c| Bound::Excluded((status, c.placed_at(), c.id())));
    let ids = |range: std::collections::btree_set::Range<'s, _>| range.map(|k: &(OrderStatus, _, OrderId)| k.2);
    match query.order {
        SortOrder::OldestFirst => Box::new(ids(set.range((cursor.unwrap_or(first), last)))),
        SortOrder::NewestFirst => Box::new(ids(set.range((first, cursor.unwrap_or(last)))).rev()),
    }
}

/// The event feed of a single-writer store: every event's `(order, seq)` in commit order, its
/// position its index plus one (the epoch stays 0).
#[derive(Default)]
pub(super) struct Feed {
    entries: Vec<(OrderId, u64)>,
}

impl Feed {
    /// Records a commit's events.
    pub(super) fn push(&mut self, id: OrderId, events: &[Event]) {
        self.entries.extend(events.iter().map(|e| (id, e.seq)));
    }

    /// At most `limit` events after `after`; `events` reads an order's history.
    pub(super) fn after<E>(
        &self,
        after: FeedCursor,
        limit: usize,
        mut events: impl FnMut(OrderId) -> Result<Vec<Event>, E>,
    ) -> Result<FeedPage, E> {
        let start = usize::try_from(after.position()).unwrap_or(usize::MAX);
        let mut histories: HashMap<OrderId, Vec<Event>> = HashMap::new();
        let mut page = Vec::new();
        for (index, &(id, seq)) in self.entries.iter().enumerate().skip(start).take(limit) {
            let history = match histories.get(&id) {
                Some(history) => history,
                None => histories.entry(id).or_insert(events(id)?),
            };
            if let Some(event) = history.iter().find(|e| e.seq == seq) {
                let position = u64::try_from(index).unwrap_or(u64::MAX).saturating_add(1);
                page.push(FeedEvent { order_id: id, event: event.clone(), cursor: FeedCursor::new(0, position) });
            }
        }
        let next = page.last().map_or(after, |e| e.cursor);
        Ok(FeedPage { events: page, next })
    }
}
