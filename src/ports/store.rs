//! The store port: one backend holding the [`OrderRepository`] (orders, events) and the
//! [`WorkQueue`] (deadlines, outbox) together, because a commit writes an order's events and
//! its outbox rows in one transaction. Here are the types both halves share, and
//! [`OrderStore`], the pair as one port of the engine.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::queue::{DynWorkQueue, WorkQueue};
use super::repository::{DynOrderRepository, OrderRepository};
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
/// requeue once the cause is fixed (see [`WorkQueue::requeue_dead`]).
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
    /// When the commit was decided: the time of its last event (`None` without events). Stores
    /// record it as the time its outbox entries were written ([`crate::ports::OutboxBacklog`]).
    pub fn written_at(&self) -> Option<DateTime<Utc>> {
        self.events.last().map(|event| event.at)
    }

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

/// A store: its order repository and its work queue, from one backend (a commit writes an
/// order's events and its outbox rows together). Every type that is both is one; engine parts
/// that need only one half (the outbox dispatcher, the timers) ask for that half.
pub trait OrderStore: Send + Sync {
    /// The orders and their histories.
    type Orders: OrderRepository + ?Sized;
    /// The deadlines and the outbox.
    type Queue: WorkQueue + ?Sized;
    /// The orders and their histories.
    fn orders(&self) -> &Self::Orders;
    /// The deadlines and the outbox.
    fn queue(&self) -> &Self::Queue;
}

impl<T: OrderRepository + WorkQueue> OrderStore for T {
    type Orders = T;
    type Queue = T;
    fn orders(&self) -> &T {
        self
    }
    fn queue(&self) -> &T {
        self
    }
}

/// A store chosen at runtime (`DynOrderStore::new(store)`): both halves of one backend behind
/// dynamic dispatch. Cheap to clone (two reference counts).
#[derive(Clone)]
pub struct DynOrderStore {
    orders: Arc<DynOrderRepository<'static>>,
    queue: Arc<DynWorkQueue<'static>>,
}

impl DynOrderStore {
    /// Both halves of `store`, behind dynamic dispatch.
    pub fn new<S: OrderRepository + WorkQueue + 'static>(store: S) -> DynOrderStore {
        DynOrderStore::from_arc(Arc::new(store))
    }

    /// Both halves of a shared `store` (the caller may keep its own handle).
    pub fn from_arc<S: OrderRepository + WorkQueue + 'static>(store: Arc<S>) -> DynOrderStore {
        DynOrderStore { orders: DynOrderRepository::new_arc(Arc::clone(&store)), queue: DynWorkQueue::new_arc(store) }
    }
}

impl std::fmt::Debug for DynOrderStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynOrderStore").finish_non_exhaustive()
    }
}

impl OrderStore for DynOrderStore {
    type Orders = DynOrderRepository<'static>;
    type Queue = DynWorkQueue<'static>;
    fn orders(&self) -> &Self::Orders {
        &self.orders
    }
    fn queue(&self) -> &Self::Queue {
        &self.queue
    }
}
