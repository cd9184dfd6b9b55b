//! How a [`MemoryStore`](super::MemoryStore) holds each order's snapshot and history: the one
//! thing its two kinds differ in. The indexes, the outbox and the checks of a commit are
//! shared (in `mod.rs`); a [`Keep`] says what a record holds, what keys the store remembers
//! outbox and dedupe keys by, and what it does after each change (the packed kind sends
//! orders cold there).
//!
//! Private: [`super::RecordKeeping`] is the public, sealed name of this trait.

use std::borrow::{Borrow, Cow};
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash};

use chrono::{DateTime, Utc};

use crate::event::Event;
use crate::ids::OrderId;
use crate::order::{DeadlineKind, Order};
use crate::ports::{OrderSummary, QueryColumns, StoreError};

/// Every stored order, by id (ids are time-ordered, so this is also the listing order).
/// Boxed: a B-tree node holds eleven values and is often not full.
pub type Orders<R> = BTreeMap<OrderId, Box<Record<R>>>;

/// One stored order: how its snapshot and history are kept, and the index keys it holds now.
pub struct Record<R> {
    /// The snapshot and history, as the store's [`Keep`] holds them.
    pub(super) kept: R,
    /// What listings show and filter on, so they never read the snapshot.
    pub(super) summary: OrderSummary,
    /// What staff queries filter on besides the summary.
    pub(super) query: QueryColumns,
    pub(super) version: u64,
    pub(super) deadline: Option<(DateTime<Utc>, DeadlineKind)>,
    /// `(carrier, waybill)`, as [`Order::carrier_waybills`] lists them.
    pub(super) waybills: Vec<(String, String)>,
}

/// How records hold an order's snapshot (the one each commit hands over, stored as given:
/// no store replays events) and its history.
pub trait Keep: Default + Send + 'static {
    /// What the store remembers an outbox or dedupe key by.
    type Key: Hash + Eq + Send + Borrow<Self::Probe>;
    /// What a key is looked up by: hashes and compares as the [`Keep::Key`] it borrows as, so
    /// a look-up need not build a key of its own (text is looked up as `str`, not a new
    /// `String`).
    type Probe: Hash + Eq + ToOwned<Owned = Self::Key> + ?Sized;
    /// How maps of dedupe keys hash them: callers choose those keys (idempotency keys,
    /// provider ids), so the hasher must resist keys chosen to collide.
    type KeyHasher: BuildHasher + Default + Send;
    /// How the outbox's maps of keys hash them. The engine makes those keys, each starting
    /// with its order's id (random bits nobody outside chooses), so a fast hasher with only
    /// minimal resistance to chosen collisions will do: they are hashed twice per row at its
    /// commit and twice at its completion, and again each time a map grows.
    type OutboxHasher: BuildHasher + Default + Send;
    /// One order's snapshot and history.
    type Kept: Send;

    /// The key `key` is remembered by: its probe, owned.
    fn key(&self, key: &str) -> Self::Key {
        self.probe(key).into_owned()
    }

    /// What to look `key` up by in a map of [`Keep::Key`]s.
    fn probe<'k>(&self, key: &'k str) -> Cow<'k, Self::Probe>;

    /// Readies a commit's new events before anything is written, so a commit whose events
    /// cannot be kept changes nothing.
    fn prepare(&mut self, events: &[Event]) -> Result<(), StoreError>;

    /// Keeps a new order (`events` were passed to [`Keep::prepare`] just before).
    /// `finishing`: this commit ends the order's main flow (a terminal status).
    fn keep_new(&mut self, id: OrderId, order: &Order, events: &[Event], finishing: bool) -> Self::Kept;

    /// Replaces a stored order's snapshot with `order` and appends `events` (prepared).
    fn keep_next(&mut self, id: OrderId, kept: &mut Self::Kept, order: &Order, events: &[Event], finishing: bool);

    /// A copy of the stored snapshot.
    fn load(&mut self, id: OrderId, kept: &mut Self::Kept) -> Result<Order, StoreError>;

    /// Every stored event, in order.
    fn events(&self, kept: &Self::Kept) -> Result<Vec<Event>, StoreError>;

    /// Runs after each write and load, with every order: where a kind that keeps only some
    /// snapshots decoded makes room.
    fn settle(&mut self, orders: &mut Orders<Self::Kept>) {
        let _ = orders;
    }
}
