//! Staff queries: the back office's work lists (orders by statuses, awaiting review, on hold by
//! reason, ready to pick, ship-by due, payment anomalies, open after-sales cases) as one
//! [`OrderQuery`], answered by every store ([`OrderRepository::query`]) a page at a time, newest
//! or oldest first, with counts per status ([`OrderRepository::count_by_status`]).
//!
//! Pages are keyset-paged on `(placed_at, id)`: the [`QueryCursor`] a page hands back names the
//! last order shown, and the next page starts strictly after it. Orders placed meanwhile do not
//! shift later pages, so no order is skipped or shown twice while a member of staff pages
//! through a list.
//!
//! [`OrderRepository::query`]: super::OrderRepository::query
//! [`OrderRepository::count_by_status`]: super::OrderRepository::count_by_status

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::store::OrderSummary;
use crate::ids::OrderId;
use crate::order::{HoldReasonKind, Order, OrderStatus};

/// Orders per page when a query names none.
pub const DEFAULT_PAGE: usize = 50;

/// How many orders a store holds in each status (statuses with none are left out).
pub type StatusCounts = BTreeMap<OrderStatus, u64>;

/// Which end of the placement times a listing starts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SortOrder {
    /// Oldest placed first (work queues: the longest waiting first).
    #[default]
    OldestFirst,
    /// Newest placed first (browsing what just came in).
    NewestFirst,
}

/// One staff query: which orders (every condition set must hold), in which order, how many, and
/// from where. Built from one of the named work lists and refined:
///
/// ```
/// use orderflow::order::{HoldReasonKind, OrderStatus};
/// use orderflow::ports::{OrderQuery, SortOrder};
///
/// let held_for_address = OrderQuery::on_hold(Some(HoldReasonKind::AddressProblem)).newest_first().limit(20);
/// assert_eq!(held_for_address.statuses, vec![OrderStatus::OnHold]);
/// assert_eq!(held_for_address.order, SortOrder::NewestFirst);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQuery {
    /// Only orders in one of these statuses; empty means any status.
    pub statuses: Vec<OrderStatus>,
    /// Only orders on hold for (at least) this kind of reason.
    pub hold_reason: Option<HoldReasonKind>,
    /// Only orders still to ship (not everything has left, neither cancelled nor rejected) whose
    /// estimated ship time, told to the buyer at placement, is before this time.
    pub ship_by_before: Option<DateTime<Utc>>,
    /// Only orders with a payment anomaly recorded (money received that could not be applied).
    pub payment_anomalies: bool,
    /// Only orders with an after-sales case still open.
    pub open_cases: bool,
    /// Oldest or newest first, by placement time (then id).
    pub order: SortOrder,
    /// Orders per page.
    pub limit: usize,
    /// Start after this order (the `next` of the previous page); `None` for the first page.
    pub after: Option<QueryCursor>,
}

impl Default for OrderQuery {
    fn default() -> OrderQuery {
        OrderQuery {
            statuses: Vec::new(),
            hold_reason: None,
            ship_by_before: None,
            payment_anomalies: false,
            open_cases: false,
            order: SortOrder::OldestFirst,
            limit: DEFAULT_PAGE,
            after: None,
        }
    }
}

impl OrderQuery {
    /// Every order.
    pub fn all() -> OrderQuery {
        OrderQuery::default()
    }

    /// Orders in any of `statuses`.
    pub fn statuses(statuses: impl IntoIterator<Item = OrderStatus>) -> OrderQuery {
        OrderQuery { statuses: statuses.into_iter().collect(), ..OrderQuery::default() }
    }

    /// Paid (or cash on delivery) orders waiting for a reviewer.
    pub fn awaiting_review() -> OrderQuery {
        OrderQuery::statuses([OrderStatus::UnderReview])
    }

    /// Orders on hold, for `reason` if given.
    pub fn on_hold(reason: Option<HoldReasonKind>) -> OrderQuery {
        OrderQuery { hold_reason: reason, ..OrderQuery::statuses([OrderStatus::OnHold]) }
    }

    /// Orders whose two gates are open and whose pick list is not issued yet: the warehouse's
    /// next work.
    pub fn ready_to_pick() -> OrderQuery {
        OrderQuery::statuses([OrderStatus::ReadyToShip])
    }

    /// Orders still to ship whose estimated ship time is before `before` (late, or about to be).
    pub fn ship_by_due(before: DateTime<Utc>) -> OrderQuery {
        OrderQuery { ship_by_before: Some(before), ..OrderQuery::default() }
    }

    /// Orders with a payment anomaly recorded.
    pub fn payment_anomalies() -> OrderQuery {
        OrderQuery { payment_anomalies: true, ..OrderQuery::default() }
    }

    /// Orders with an after-sales case still open.
    pub fn open_after_sales() -> OrderQuery {
        OrderQuery { open_cases: true, ..OrderQuery::default() }
    }

    /// Newest placed first.
    pub fn newest_first(mut self) -> OrderQuery {
        self.order = SortOrder::NewestFirst;
        self
    }

    /// At most `limit` orders per page.
    pub fn limit(mut self, limit: usize) -> OrderQuery {
        self.limit = limit;
        self
    }

    /// The page after `cursor` (a previous page's `next`).
    pub fn after(mut self, cursor: Option<QueryCursor>) -> OrderQuery {
        self.after = cursor;
        self
    }

    /// The statuses a store reads, one index range each, merged by [`OrderQuery::page`]:
    /// `[None]` for any status, the named statuses otherwise (sorted, once each). A hold reason
    /// narrows them to [`OrderStatus::OnHold`] (only held orders have hold reasons), so a
    /// query whose statuses exclude it has no lanes and no results.
    pub fn lanes(&self) -> Vec<Option<OrderStatus>> {
        let mut statuses = self.statuses.clone();
        statuses.sort();
        statuses.dedup();
        if self.hold_reason.is_some() {
            if statuses.is_empty() || statuses.contains(&OrderStatus::OnHold) {
                return vec![Some(OrderStatus::OnHold)];
            }
            return Vec::new();
        }
        if statuses.is_empty() { vec![None] } else { statuses.into_iter().map(Some).collect() }
    }

    /// How many rows a store reads per lane: one more than a page, to know whether another
    /// page follows.
    pub fn fetch(&self) -> usize {
        self.limit.saturating_add(1)
    }

    /// True when an order of `summary` with query columns `columns` is a result of this query
    /// (the cursor aside).
    pub fn matches(&self, summary: &OrderSummary, columns: &QueryColumns) -> bool {
        (self.statuses.is_empty() || self.statuses.contains(&summary.status))
            && self.hold_reason.is_none_or(|reason| columns.hold_reasons.contains(&reason))
            && self.ship_by_before.is_none_or(|before| columns.ship_by.is_some_and(|at| at < before))
            && (!self.payment_anomalies || columns.payment_anomaly)
            && (!self.open_cases || columns.open_cases)
    }

    /// True when an order placed at `placed_at` with id `id` comes after the cursor, in this
    /// query's order (always, on the first page).
    pub fn is_after_cursor(&self, placed_at: DateTime<Utc>, id: OrderId) -> bool {
        self.after.is_none_or(|cursor| match self.order {
            SortOrder::OldestFirst => (placed_at, id) > (cursor.placed_at, cursor.id),
            SortOrder::NewestFirst => (placed_at, id) < (cursor.placed_at, cursor.id),
        })
    }

    /// The page from what a store read for each lane (each in this query's order, at most
    /// [`OrderQuery::fetch`] rows, after the cursor): merged, cut to the limit, with the cursor
    /// of the next page when more rows were read than fit.
    pub fn page(&self, lanes: Vec<Vec<OrderSummary>>) -> QueryPage {
        let mut items: Vec<OrderSummary> = lanes.into_iter().flatten().collect();
        items.sort_by(|a, b| {
            let order = (a.placed_at, a.id).cmp(&(b.placed_at, b.id));
            if self.order == SortOrder::NewestFirst { order.reverse() } else { order }
        });
        items.dedup_by_key(|s| s.id);
        let more = items.len() > self.limit;
        items.truncate(self.limit);
        let next = if more { items.last().map(QueryCursor::of) } else { None };
        QueryPage { items, next }
    }
}

/// The columns staff queries filter on besides the listing summary, computed from the snapshot
/// in one place (part of [`crate::stored::IndexColumns`]), so every store answers alike.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryColumns {
    /// The kinds of the hold's reasons while the order is on hold (sorted, once each); empty
    /// otherwise.
    pub hold_reasons: Vec<HoldReasonKind>,
    /// The estimated ship time while the order is still to ship; `None` otherwise.
    pub ship_by: Option<DateTime<Utc>>,
    /// A payment anomaly was recorded.
    pub payment_anomaly: bool,
    /// An after-sales case is open.
    pub open_cases: bool,
}

impl QueryColumns {
    /// The query columns of `order`.
    pub fn of(order: &Order) -> QueryColumns {
        let status = order.status();
        let mut hold_reasons: Vec<HoldReasonKind> = match order.review() {
            crate::order::ReviewState::OnHold { reasons } if status == OrderStatus::OnHold => {
                reasons.iter().map(|r| r.kind()).collect()
            }
            _ => Vec::new(),
        };
        hold_reasons.sort();
        hold_reasons.dedup();
        // Not everything has left, and the order is not over.
        let still_to_ship = !status.is_terminal() && !matches!(status, OrderStatus::Shipped | OrderStatus::Delivered);
        QueryColumns {
            hold_reasons,
            ship_by: order.deadlines().ship_by.filter(|_| still_to_ship),
            payment_anomaly: !order.payment().anomalies.is_empty(),
            open_cases: order.cases().iter().any(|c| !c.state.is_terminal()),
        }
    }
}

/// One page of a staff query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPage {
    /// The orders, in the query's order.
    pub items: Vec<OrderSummary>,
    /// Set the query's `after` to this for the next page; `None` on the last page.
    pub next: Option<QueryCursor>,
}

/// Where a page of a staff query ended: opaque, to hand back as the next query's `after`. Its
/// text form ([`fmt::Display`], [`FromStr`]) travels through URLs and forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueryCursor {
    placed_at: DateTime<Utc>,
    id: OrderId,
}

impl QueryCursor {
    /// The cursor just past `summary`'s order.
    pub fn of(summary: &OrderSummary) -> QueryCursor {
        QueryCursor { placed_at: summary.placed_at, id: summary.id }
    }

    /// The placement time of the last order of the page (for stores).
    pub fn placed_at(&self) -> DateTime<Utc> {
        self.placed_at
    }

    /// The id of the last order of the page (for stores).
    pub fn id(&self) -> OrderId {
        self.id
    }
}

impl fmt::Display for QueryCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.placed_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true), self.id)
    }
}

/// A cursor's text that no store handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor {text:?} is not valid: {rule}")]
pub struct CursorError {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub rule: &'static str,
}

impl CursorError {
    /// A stable, machine-readable code (snake_case, unique across the crate's errors), listed
    /// in `docs/ERRORS.md`, so a host can answer a client's bad cursor (a 400) the way it
    /// answers every other refusal. The same for a [`QueryCursor`] and a
    /// [`FeedCursor`](super::FeedCursor): the client sent back text no store handed out.
    pub fn code(&self) -> &'static str {
        "invalid_cursor"
    }
}

impl FromStr for QueryCursor {
    type Err = CursorError;

    fn from_str(text: &str) -> Result<QueryCursor, CursorError> {
        let bad = |rule| CursorError { text: text.chars().take(100).collect(), rule };
        let (at, id) = text.split_once('_').ok_or_else(|| bad("expected <placed at>_<order id>"))?;
        let placed_at = DateTime::parse_from_rfc3339(at).map_err(|_| bad("the placement time is not RFC 3339"))?;
        let id = id.parse().map_err(|_| bad("the order id is not a UUID"))?;
        Ok(QueryCursor { placed_at: placed_at.with_timezone(&Utc), id })
    }
}
