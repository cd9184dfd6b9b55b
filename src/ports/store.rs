//! The order store port: orders (snapshot + version), their events, the outbox and the
//! deduplication keys, written together.
//!
//! The contract every implementation keeps (and the conformance suite in
//! `orderflow::testing::conformance` checks, feature `testing`):
//! - [`OrderStore::append`] writes the events, the new snapshot, the outbox entries and the
//!   dedupe keys in one transaction, only if the stored version still equals
//!   `expected_version`; otherwise it changes nothing and returns [`StoreError::Conflict`].
//! - Order numbers are unique ([`StoreError::DuplicateOrderNumber`]); so are dedupe keys
//!   ([`StoreError::DuplicateKey`], and the whole commit is refused).
//! - Waybills are indexed by `(carrier, waybill)` from [`Order::carrier_waybills`] and found
//!   with [`OrderStore::find_by_waybill`]. A pair belongs to one order: a commit whose order
//!   lists a pair another order has is refused whole with [`StoreError::WaybillTaken`]. The
//!   same number under two carriers is two parcels and may belong to two orders.
//! - Outbox items are claimed with a lease: a claimed item is not handed out again until the
//!   lease ends or it is failed; completed items are never handed out again.
//! - An item failed without a retry time is a dead letter: never claimed, listed by
//!   [`OrderStore::dead_letters`], and back to pending (attempts reset) only through
//!   [`OrderStore::requeue_dead`].

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::BoxFuture;
use crate::effect::Effect;
use crate::event::Event;
use crate::ids::{CustomerId, OrderId};
use crate::money::Money;
use crate::order::{DeadlineKind, Order, OrderStatus};
use crate::order_number::OrderNumber;

/// An effect to deliver after commit, with its deduplication key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Unique key (see [`Effect::key`]); an entry whose key exists is not added twice.
    pub key: String,
    /// What to do.
    pub effect: Effect,
}

/// A claimed outbox item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Unique key.
    pub key: String,
    /// The order it belongs to.
    pub order_id: OrderId,
    /// What to do.
    pub effect: Effect,
    /// Delivery attempts so far, including this one.
    pub attempts: u32,
}

/// An outbox item given up after its last failed attempt, kept for an operator to inspect and
/// requeue once the cause is fixed (see [`OrderStore::requeue_dead`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Unique key (the receiving side deduplicates on it, so a requeued item is not done twice).
    pub key: String,
    /// The order it belongs to.
    pub order_id: OrderId,
    /// What was to be done.
    pub effect: Effect,
    /// Delivery attempts made.
    pub attempts: u32,
    /// The error of the last attempt.
    pub last_error: String,
    /// When the last attempt failed. `None` only for items a store recorded before it kept this
    /// time (rows written by an older schema).
    pub died_at: Option<DateTime<Utc>>,
}

/// One atomic write: new events of one order with its new snapshot, outbox entries and
/// dedupe keys.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    /// The order after the events (its `version` is the last event's `seq`).
    pub order: &'a Order,
    /// The version the decision was based on (0 for a new order).
    pub expected_version: u64,
    /// The new events.
    pub events: &'a [Event],
    /// Effects to deliver after commit.
    pub outbox: &'a [OutboxEntry],
    /// Keys that must not have been seen before (idempotency keys, provider ids).
    pub dedupe_keys: &'a [String],
}

impl Commit<'_> {
    /// Checks that the events continue the order's history (sequence numbers one after
    /// another from `expected_version + 1`) and end at the snapshot's version: a caller's bug
    /// otherwise, refused by every store as [`StoreError::Corrupt`] before anything is written.
    pub fn check_sequence(&self) -> Result<(), StoreError> {
        let id = self.order.id;
        let mut expected = self.expected_version;
        for event in self.events {
            expected = expected.saturating_add(1);
            if event.seq != expected {
                return Err(StoreError::Corrupt(format!(
                    "order {id}: event out of sequence: expected seq {expected}, found {}",
                    event.seq
                )));
            }
        }
        if self.order.version != expected {
            return Err(StoreError::Corrupt(format!(
                "order {id}: snapshot version {} does not match the last event's seq {expected}",
                self.order.version
            )));
        }
        Ok(())
    }
}

/// A deadline that is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueDeadline {
    /// Which order.
    pub order_id: OrderId,
    /// Which deadline.
    pub kind: DeadlineKind,
    /// When it fell due.
    pub due_at: DateTime<Utc>,
}

/// What to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only this status.
    pub status: Option<OrderStatus>,
    /// Only this buyer's orders.
    pub customer: Option<CustomerId>,
    /// Placed at or after.
    pub placed_from: Option<DateTime<Utc>>,
    /// Placed before.
    pub placed_before: Option<DateTime<Utc>>,
}

impl OrderFilter {
    /// True when `summary` passes the filter.
    pub fn matches(&self, summary: &OrderSummary) -> bool {
        self.status.is_none_or(|s| s == summary.status)
            && self.customer.as_ref().is_none_or(|c| *c == summary.customer)
            && self.placed_from.is_none_or(|t| summary.placed_at >= t)
            && self.placed_before.is_none_or(|t| summary.placed_at < t)
    }
}

/// A line of an order listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSummary {
    /// Id.
    pub id: OrderId,
    /// Number.
    pub number: OrderNumber,
    /// Buyer.
    pub customer: CustomerId,
    /// Summary status.
    pub status: OrderStatus,
    /// Placed at.
    pub placed_at: DateTime<Utc>,
    /// Total.
    pub total: Money,
}

impl OrderSummary {
    /// The summary of an order.
    pub fn of(order: &Order) -> OrderSummary {
        OrderSummary {
            id: order.id,
            number: order.number,
            customer: order.customer.clone(),
            status: order.status(),
            placed_at: order.placed_at,
            total: order.totals.total,
        }
    }
}

/// One page of a listing, in order-id order (ids are time-ordered UUID v7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    /// The orders.
    pub items: Vec<OrderSummary>,
    /// Pass this as `after` to get the next page; `None` on the last page.
    pub next: Option<OrderId>,
}

/// Why the store refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The order changed since it was loaded; nothing was written. Reload and retry.
    #[error("version conflict: expected version {expected}, stored version is {actual}")]
    Conflict {
        /// Version the writer expected.
        expected: u64,
        /// Version in the store.
        actual: u64,
    },
    /// Another order already has this number; nothing was written. Use a new number.
    #[error("order number {0} is already taken")]
    DuplicateOrderNumber(OrderNumber),
    /// A dedupe key was already recorded: the work was done before; nothing was written.
    #[error("already processed (dedupe key {0})")]
    DuplicateKey(String),
    /// Another order already has this carrier's waybill (waybill numbers are unique per
    /// carrier): nothing was written. The waybill stays with the order that recorded it first.
    #[error("waybill {waybill:?} of carrier {carrier:?} is already recorded on another order; nothing was written")]
    WaybillTaken {
        /// The carrier ([`crate::order::UNKNOWN_CARRIER`] for a return parcel's waybill).
        carrier: String,
        /// The waybill.
        waybill: String,
    },
    /// No order with this id.
    #[error("order {0} not found")]
    NotFound(OrderId),
    /// Stored data cannot be read back; needs a person.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The backend failed (I/O, connection, timeout); retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// A stable, machine-readable code (snake_case, unique across the crate's errors), listed
    /// in `docs/ERRORS.md`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Conflict { .. } => "store_conflict",
            StoreError::DuplicateOrderNumber(_) => "store_duplicate_order_number",
            StoreError::DuplicateKey(_) => "store_duplicate_key",
            StoreError::WaybillTaken { .. } => "store_waybill_taken",
            StoreError::NotFound(_) => "store_not_found",
            StoreError::Corrupt(_) => "store_corrupt",
            StoreError::Unavailable(_) => "store_unavailable",
        }
    }
}

/// Durable storage for orders.
pub trait OrderStore: Send + Sync {
    /// Stores a new order (expected version 0). Fails on a taken number or dedupe key.
    fn create(&self, commit: Commit<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Appends to an existing order with compare-and-set on its version.
    fn append(&self, commit: Commit<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The current snapshot (its `version` included).
    fn load(&self, id: OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;
    /// The order's full history, in sequence.
    fn events(&self, id: OrderId) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send;
    /// The order with this number.
    fn find_by_number(&self, number: &OrderNumber) -> impl Future<Output = Result<Option<OrderId>, StoreError>> + Send;
    /// The order that has this waybill of this carrier (see [`Order::carrier_waybills`]; a
    /// return parcel's waybill is found under [`crate::order::UNKNOWN_CARRIER`]). Waybill
    /// numbers are unique per carrier only: the same number under another carrier is another
    /// parcel, possibly of another order.
    fn find_by_waybill(
        &self,
        carrier: &str,
        waybill: &str,
    ) -> impl Future<Output = Result<Option<OrderId>, StoreError>> + Send;
    /// The order that recorded this dedupe key.
    fn find_by_key(&self, key: &str) -> impl Future<Output = Result<Option<OrderId>, StoreError>> + Send;
    /// Orders matching `filter`, after the id `after`, at most `limit`.
    fn list(
        &self,
        filter: &OrderFilter,
        after: Option<OrderId>,
        limit: usize,
    ) -> impl Future<Output = Result<OrderPage, StoreError>> + Send;
    /// Orders whose earliest deadline is at or before `now`, earliest first.
    fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueDeadline>, StoreError>> + Send;
    /// Claims up to `limit` deliverable outbox items for `lease`.
    fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, StoreError>> + Send;
    /// Marks an item delivered.
    fn complete_outbox(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records that the attempt made at `now` failed with `error`, and gives the item back for
    /// another try at `retry_at`, or gives up on it (`None`: dead letter). Unknown, completed
    /// and dead items are left as they are.
    fn fail_outbox(
        &self,
        key: &str,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Up to `limit` dead letters, oldest entry first (in the order they were added).
    fn dead_letters(&self, limit: usize) -> impl Future<Output = Result<Vec<DeadLetter>, StoreError>> + Send;
    /// Moves the dead letter `key` back to pending, due at `now`, with its attempts reset, so it
    /// is delivered again under the same key. False (and nothing changed) when no dead item has
    /// this key: unknown, pending, completed, or already requeued.
    fn requeue_dead(&self, key: &str, now: DateTime<Utc>) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// A copy of the order that this handle keeps in memory (say, of its last write), without
    /// asking the backend; `None` (the default) for stores that keep none. It may be stale,
    /// since another instance may have written since: the engine only decides a first,
    /// optimistic try on it, which the compare-and-set of the commit refuses if it was stale,
    /// and anything but a commit is decided again on a fresh [`OrderStore::load`].
    fn recent_copy(&self, id: OrderId) -> Option<Order> {
        let _ = id;
        None
    }
}

/// Object-safe twin of [`OrderStore`].
#[allow(missing_docs)]
pub trait DynOrderStore: Send + Sync {
    fn create_dyn<'a>(&'a self, commit: Commit<'a>) -> BoxFuture<'a, Result<(), StoreError>>;
    fn append_dyn<'a>(&'a self, commit: Commit<'a>) -> BoxFuture<'a, Result<(), StoreError>>;
    fn load_dyn(&self, id: OrderId) -> BoxFuture<'_, Result<Option<Order>, StoreError>>;
    fn events_dyn(&self, id: OrderId) -> BoxFuture<'_, Result<Vec<Event>, StoreError>>;
    fn find_by_number_dyn<'a>(&'a self, number: &'a OrderNumber) -> BoxFuture<'a, Result<Option<OrderId>, StoreError>>;
    fn find_by_waybill_dyn<'a>(
        &'a self,
        carrier: &'a str,
        waybill: &'a str,
    ) -> BoxFuture<'a, Result<Option<OrderId>, StoreError>>;
    fn find_by_key_dyn<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<OrderId>, StoreError>>;
    fn list_dyn<'a>(
        &'a self,
        filter: &'a OrderFilter,
        after: Option<OrderId>,
        limit: usize,
    ) -> BoxFuture<'a, Result<OrderPage, StoreError>>;
    fn due_deadlines_dyn(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<DueDeadline>, StoreError>>;
    fn claim_outbox_dyn(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<OutboxItem>, StoreError>>;
    fn complete_outbox_dyn<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    fn fail_outbox_dyn<'a>(
        &'a self,
        key: &'a str,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn dead_letters_dyn(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>>;
    fn requeue_dead_dyn<'a>(&'a self, key: &'a str, now: DateTime<Utc>) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn recent_copy_dyn(&self, id: OrderId) -> Option<Order>;
}

impl<T: OrderStore> DynOrderStore for T {
    fn create_dyn<'a>(&'a self, commit: Commit<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.create(commit))
    }
    fn append_dyn<'a>(&'a self, commit: Commit<'a>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.append(commit))
    }
    fn load_dyn(&self, id: OrderId) -> BoxFuture<'_, Result<Option<Order>, StoreError>> {
        Box::pin(self.load(id))
    }
    fn events_dyn(&self, id: OrderId) -> BoxFuture<'_, Result<Vec<Event>, StoreError>> {
        Box::pin(self.events(id))
    }
    fn find_by_number_dyn<'a>(&'a self, number: &'a OrderNumber) -> BoxFuture<'a, Result<Option<OrderId>, StoreError>> {
        Box::pin(self.find_by_number(number))
    }
    fn find_by_waybill_dyn<'a>(
        &'a self,
        carrier: &'a str,
        waybill: &'a str,
    ) -> BoxFuture<'a, Result<Option<OrderId>, StoreError>> {
        Box::pin(self.find_by_waybill(carrier, waybill))
    }
    fn find_by_key_dyn<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<OrderId>, StoreError>> {
        Box::pin(self.find_by_key(key))
    }
    fn list_dyn<'a>(
        &'a self,
        filter: &'a OrderFilter,
        after: Option<OrderId>,
        limit: usize,
    ) -> BoxFuture<'a, Result<OrderPage, StoreError>> {
        Box::pin(self.list(filter, after, limit))
    }
    fn due_deadlines_dyn(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<DueDeadline>, StoreError>> {
        Box::pin(self.due_deadlines(now, limit))
    }
    fn claim_outbox_dyn(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<OutboxItem>, StoreError>> {
        Box::pin(self.claim_outbox(now, lease, limit))
    }
    fn complete_outbox_dyn<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.complete_outbox(key))
    }
    fn fail_outbox_dyn<'a>(
        &'a self,
        key: &'a str,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.fail_outbox(key, now, retry_at, error))
    }
    fn dead_letters_dyn(&self, limit: usize) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>> {
        Box::pin(self.dead_letters(limit))
    }
    fn requeue_dead_dyn<'a>(&'a self, key: &'a str, now: DateTime<Utc>) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.requeue_dead(key, now))
    }
    fn recent_copy_dyn(&self, id: OrderId) -> Option<Order> {
        self.recent_copy(id)
    }
}

impl<'d> OrderStore for dyn DynOrderStore + 'd {
    async fn create(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        self.create_dyn(commit).await
    }
    async fn append(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        self.append_dyn(commit).await
    }
    async fn load(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.load_dyn(id).await
    }
    async fn events(&self, id: OrderId) -> Result<Vec<Event>, StoreError> {
        self.events_dyn(id).await
    }
    async fn find_by_number(&self, number: &OrderNumber) -> Result<Option<OrderId>, StoreError> {
        self.find_by_number_dyn(number).await
    }
    async fn find_by_waybill(&self, carrier: &str, waybill: &str) -> Result<Option<OrderId>, StoreError> {
        self.find_by_waybill_dyn(carrier, waybill).await
    }
    async fn find_by_key(&self, key: &str) -> Result<Option<OrderId>, StoreError> {
        self.find_by_key_dyn(key).await
    }
    async fn list(&self, filter: &OrderFilter, after: Option<OrderId>, limit: usize) -> Result<OrderPage, StoreError> {
        self.list_dyn(filter, after, limit).await
    }
    async fn due_deadlines(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<DueDeadline>, StoreError> {
        self.due_deadlines_dyn(now, limit).await
    }
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.claim_outbox_dyn(now, lease, limit).await
    }
    async fn complete_outbox(&self, key: &str) -> Result<(), StoreError> {
        self.complete_outbox_dyn(key).await
    }
    async fn fail_outbox(
        &self,
        key: &str,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.fail_outbox_dyn(key, now, retry_at, error).await
    }
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.dead_letters_dyn(limit).await
    }
    async fn requeue_dead(&self, key: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.requeue_dead_dyn(key, now).await
    }
    fn recent_copy(&self, id: OrderId) -> Option<Order> {
        self.recent_copy_dyn(id)
    }
}

impl<T: OrderStore + ?Sized> OrderStore for Arc<T> {
    fn create(&self, commit: Commit<'_>) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).create(commit)
    }
    fn append(&self, commit: Commit<'_>) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).append(commit)
    }
    fn load(&self, id: OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send {
        (**self).load(id)
    }
    fn events(&self, id: OrderId) -> impl Future<Output = Result<Vec<Event>, StoreError>> + Send {
        (**self).events(id)
    }
    fn find_by_number(&self, number: &OrderNumber) -> impl Future<Output = Result<Option<OrderId>, StoreError>> + Send {
        (**self).find_by_number(number)
    }
    fn find_by_waybill(
        &self,
        carrier: &str,
        waybill: &str,
    ) -> impl Future<Output = Result<Option<OrderId>, StoreError>> + Send {
        (**self).find_by_waybill(carrier, waybill)
    }
    fn find_by_key(&self, key: &str) -> impl Future<Output = Result<Option<OrderId>, StoreError>> + Send {
        (**self).find_by_key(key)
    }
    fn list(
        &self,
        filter: &OrderFilter,
        after: Option<OrderId>,
        limit: usize,
    ) -> impl Future<Output = Result<OrderPage, StoreError>> + Send {
        (**self).list(filter, after, limit)
    }
    fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueDeadline>, StoreError>> + Send {
        (**self).due_deadlines(now, limit)
    }
    fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, StoreError>> + Send {
        (**self).claim_outbox(now, lease, limit)
    }
    fn complete_outbox(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).complete_outbox(key)
    }
    fn fail_outbox(
        &self,
        key: &str,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).fail_outbox(key, now, retry_at, error)
    }
    fn dead_letters(&self, limit: usize) -> impl Future<Output = Result<Vec<DeadLetter>, StoreError>> + Send {
        (**self).dead_letters(limit)
    }
    fn requeue_dead(&self, key: &str, now: DateTime<Utc>) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).requeue_dead(key, now)
    }
    fn recent_copy(&self, id: OrderId) -> Option<Order> {
        (**self).recent_copy(id)
    }
}
