//! In-memory adapters: [`MemoryStore`] (an [`OrderStore`](crate::ports::OrderStore)) and [`MemoryInventory`] (an
//! [`Inventory`]).
//!
//! Both are complete implementations of their port's contract, safe to share between threads
//! (wrap them in an [`std::sync::Arc`]), and lose everything when dropped. Each keeps its state
//! behind one [`Mutex`]; every method takes the lock once, does its work without awaiting and
//! releases it, so a commit is atomic and no lock is ever held across an `.await`.
//!
//! The store's indexes, outbox and commit checks are here, shared by its two ways of keeping
//! orders ([`RecordKeeping`]): [`Plain`] (`plain.rs`, the default) and, with the feature
//! `packed-memory`, `Packed` (`packed/`: MessagePack, LZ4, fingerprints, hot and cold orders).
//! Neither replays events: a record holds the snapshot each commit hands over.
//!
//! To test how a host copes with a backend that is down, wrap either in
//! `testing::Failing` (feature `testing`).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};

mod inventory;
mod keeping;
#[cfg(feature = "packed-memory")]
mod packed;
mod plain;
mod queries;

pub use inventory::MemoryInventory;
#[cfg(feature = "packed-memory")]
pub use packed::{HOT_ORDERS, Packed};
pub use plain::Plain;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use crate::effect::Effect;
use crate::event::Event;
use crate::ids::{CustomerId, OrderId};
use crate::order::{DeadlineKind, Order, OrderStatus};
use crate::order_number::OrderNumber;
use crate::ports::{
    Commit, DeadLetter, DeadLetterCursor, DeadLetterPage, DueDeadline, FeedCursor, FeedPage, OrderFilter, OrderPage,
    OrderQuery, OrderRepository, OutboxBacklog, OutboxItem, QueryPage, StatusCounts, StoreError, WorkQueue,
};
use crate::stored::IndexColumns;
use keeping::{Keep, Orders, Record};
use queries::{Feed, QueryIndex};

/// Locks `mutex`, going on with the data if another thread panicked while holding it (every
/// change is validated before anything is written, so the data is never half-updated).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The lowest possible order id, for range scans.
const MIN_ID: OrderId = OrderId::from_uuid(Uuid::nil());

// ---------------------------------------------------------------------------------------------
// MemoryStore
// ---------------------------------------------------------------------------------------------

/// How a [`MemoryStore`] keeps each order's snapshot and history: [`Plain`] values (the
/// default), or `Packed` encodings (feature `packed-memory`). Sealed: the store's indexes and
/// outbox are the same for both, and only this crate's kinds exist.
pub trait RecordKeeping: Keep {}

impl RecordKeeping for Plain {}

#[cfg(feature = "packed-memory")]
impl RecordKeeping for Packed {}

/// An [`OrderStore`](crate::ports::OrderStore) kept in memory.
///
/// It keeps the same contract as the durable stores (the store conformance suite in
/// `orderflow::testing::conformance` runs against it): compare-and-set appends, unique order
/// numbers, dedupe keys and `(carrier, waybill)` pairs, all-or-nothing commits, a leased
/// outbox. Lookups use indexes: by number, by carrier and waybill, by dedupe key, by status,
/// by customer and by earliest deadline, so listing with a status or customer filter and
/// finding due deadlines do not scan every order.
///
/// It is a plain store of events and snapshots: each order keeps the snapshot its last commit
/// handed over and its events, and no event is ever replayed. `K` says how they are kept:
/// [`Plain`] (from [`MemoryStore::new`]) keeps them as values; `Packed` (feature
/// `packed-memory`, from `MemoryStore::packed` or `MemoryStore::with_hot_orders`) keeps them
/// encoded and packed, to hold many orders in little memory.
///
/// Outbox entries are available as soon as they are committed. Delivered outbox entries are
/// dropped (their keys are remembered).
///
/// ```
/// use orderflow::MemoryStore;
///
/// let store = MemoryStore::new();
/// assert_eq!(store.order_count(), 0);
/// assert_eq!(store.outbox_pending(), 0);
/// ```
pub struct MemoryStore<K: RecordKeeping = Plain> {
    inner: Mutex<StoreInner<K>>,
}

impl<K: RecordKeeping> fmt::Debug for MemoryStore<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = lock(&self.inner);
        f.debug_struct("MemoryStore")
            .field("orders", &inner.orders.len())
            .field("outbox_pending", &inner.outbox_open.len())
            .finish_non_exhaustive()
    }
}

/// A map keyed by dedupe keys, as `K` remembers them.
type KeyMap<K, V> = HashMap<<K as Keep>::Key, V, <K as Keep>::KeyHasher>;

/// A map keyed by outbox keys, as `K` remembers them.
type OutboxKeyMap<K, V> = HashMap<<K as Keep>::Key, V, <K as Keep>::OutboxHasher>;

struct StoreInner<K: Keep> {
    /// Every order, by id (ids are time-ordered, so this is also the listing order).
    orders: Orders<K::Kept>,
    by_number: HashMap<OrderNumber, OrderId>,
    /// Waybills by carrier, then by number (numbers are unique per carrier only): carriers are
    /// few, and a lookup needs no key of its own.
    by_waybill: WaybillIndex,
    /// Dedupe keys (idempotency keys, provider ids).
    dedupe: KeyMap<K, OrderId>,
    by_status: BTreeSet<(OrderStatus, OrderId)>,
    by_customer: BTreeSet<(CustomerId, OrderId)>,
    /// Each order's earliest deadline.
    deadlines: BTreeSet<(DateTime<Utc>, OrderId, DeadlineKind)>,
    /// Outbox rows not delivered yet (pending, leased or dead), in insertion order. A delivered
    /// row is dropped: only its key stays, in `delivered`, so that an entry with the same key
    /// is still never added again. Keeping every row ever committed took about ten rows of a
    /// few hundred bytes each per order, most of what the store held.
    /// Boxed: a row is over 300 bytes, and a B-tree shifts the values of a node on every
    /// insert and remove (rows are removed from the front as they are delivered).
    outbox: BTreeMap<u64, Box<OutboxRow>>,
    /// The rows of `outbox` by their key.
    outbox_keys: OutboxKeyMap<K, u64>,
    /// The keys of delivered rows.
    delivered: HashSet<K::Key, K::OutboxHasher>,
    /// Rows neither done nor dead.
    outbox_open: BTreeSet<u64>,
    /// Dead rows.
    outbox_dead: BTreeSet<u64>,
    next_outbox: u64,
    /// What staff queries walk, and the counts per status.
    queries: QueryIndex,
    /// Every event in commit order.
    feed: Feed,
    /// How records hold snapshots and histories.
    keeping: K,
}

impl<K: Keep> StoreInner<K> {
    fn new(keeping: K) -> StoreInner<K> {
        StoreInner {
            orders: Orders::new(),
            by_number: HashMap::new(),
            by_waybill: WaybillIndex::new(),
            dedupe: KeyMap::<K, OrderId>::default(),
            by_status: BTreeSet::new(),
            by_customer: BTreeSet::new(),
            deadlines: BTreeSet::new(),
            outbox: BTreeMap::new(),
            outbox_keys: OutboxKeyMap::<K, u64>::default(),
            delivered: HashSet::default(),
            outbox_open: BTreeSet::new(),
            outbox_dead: BTreeSet::new(),
            next_outbox: 0,
            queries: QueryIndex::default(),
            feed: Feed::default(),
            keeping,
        }
    }
}

struct OutboxRow {
    key: String,
    order_id: OrderId,
    effect: Effect,
    available_at: DateTime<Utc>,
    lease_until: Option<DateTime<Utc>>,
    attempts: u32,
    /// Completed while dead: it stays a dead letter, as in the durable stores, but marked done
    /// (live rows that are completed are dropped instead).
    done: bool,
    dead: bool,
    last_error: Option<String>,
    /// When the last attempt failed.
    failed_at: Option<DateTime<Utc>>,
    /// When the commit that wrote it was decided ([`Commit::written_at`]).
    written_at: Option<DateTime<Utc>>,
}

impl MemoryStore {
    /// An empty store that keeps orders as values ([`Plain`]).
    pub fn new() -> MemoryStore {
        MemoryStore::with_keeping(Plain)
    }
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore::new()
    }
}

#[cfg(feature = "packed-memory")]
impl MemoryStore<Packed> {
    /// An empty store that keeps orders packed, with the snapshots of the [`HOT_ORDERS`] most
    /// recently used ones decoded.
    pub fn packed() -> MemoryStore<Packed> {
        MemoryStore::with_keeping(Packed::default())
    }

    /// An empty packed store that keeps the snapshots of at most `n` orders decoded (the most
    /// recently used ones; once `n` are, an order whose main flow ends goes cold first): more
    /// is faster for hosts with many orders in flight at once, less holds less memory. `0`
    /// decodes the snapshot on every load.
    pub fn with_hot_orders(n: usize) -> MemoryStore<Packed> {
        MemoryStore::with_keeping(Packed::with_hot_orders(n))
    }
}

impl<K: RecordKeeping> MemoryStore<K> {
    /// An empty store keeping orders as `keeping` says.
    fn with_keeping(keeping: K) -> MemoryStore<K> {
        MemoryStore { inner: Mutex::new(StoreInner::new(keeping)) }
    }

    /// Number of orders stored.
    pub fn order_count(&self) -> usize {
        lock(&self.inner).orders.len()
    }

    /// Number of outbox entries still to deliver (neither completed nor dead), leased or not.
    pub fn outbox_pending(&self) -> usize {
        lock(&self.inner).outbox_open.len()
    }

    /// The dead letters: `(key, last error)` of every outbox entry given up on, in insertion
    /// order.
    pub fn outbox_dead(&self) -> Vec<(String, String)> {
        lock(&self.inner).dead_letters(None, usize::MAX).letters.into_iter().map(|d| (d.key, d.last_error)).collect()
    }
}

impl<K: Keep> StoreInner<K> {
    fn create(&mut self, commit: Commit<'_>) -> Result<(), StoreError> {
        let id = commit.order.id;
        if let Some(existing) = self.orders.get(&id) {
            return Err(StoreError::Conflict { expected: commit.expected_version, actual: existing.version });
        }
        if commit.expected_version != 0 {
            return Err(StoreError::Corrupt(format!(
                "a new order is created with expected version 0, not {}",
                commit.expected_version
            )));
        }
        if commit.events.is_empty() {
            return Err(StoreError::Corrupt("a new order needs at least its order_placed event".into()));
        }
        if self.by_number.contains_key(&commit.order.number) {
            return Err(StoreError::DuplicateOrderNumber(commit.order.number));
        }
        self.check_and_write(commit)
    }

    fn append(&mut self, commit: Commit<'_>) -> Result<(), StoreError> {
        let id = commit.order.id;
        let Some(stored) = self.orders.get(&id) else {
            return Err(StoreError::NotFound(id));
        };
        if stored.version != commit.expected_version {
            return Err(StoreError::Conflict { expected: commit.expected_version, actual: stored.version });
        }
        if stored.summary.number != commit.order.number {
            return Err(StoreError::Corrupt(format!(
                "order {id} cannot change its number from {} to {}",
                stored.summary.number, commit.order.number
            )));
        }
        self.check_and_write(commit)
    }

    /// The checks every commit passes (unique dedupe keys and waybills, events in sequence, a
    /// form the keeping can hold), then the write; nothing is written when one fails.
    fn check_and_write(&mut self, commit: Commit<'_>) -> Result<(), StoreError> {
        self.check_dedupe_keys(&commit)?;
        self.check_waybills(&commit)?;
        commit.check_sequence()?;
        self.keeping.prepare(commit.events)?;
        self.write(commit);
        Ok(())
    }

    /// The order that has this carrier's waybill.
    fn waybill_owner(&self, carrier: &str, waybill: &str) -> Option<OrderId> {
        self.by_waybill.get(carrier).and_then(|numbers| numbers.get(waybill)).copied()
    }

    /// Refuses a commit whose order lists a waybill another order has under the same carrier.
    fn check_waybills(&self, commit: &Commit<'_>) -> Result<(), StoreError> {
        let id = commit.order.id;
        for (carrier, waybill) in commit.order.carrier_waybills() {
            if self.waybill_owner(carrier, waybill).is_some_and(|owner| owner != id) {
                return Err(StoreError::WaybillTaken { carrier: carrier.to_owned(), waybill: waybill.to_owned() });
            }
        }
        Ok(())
    }

    fn check_dedupe_keys(&self, commit: &Commit<'_>) -> Result<(), StoreError> {
        let mut seen: HashSet<&str> = HashSet::with_capacity(commit.dedupe_keys.len());
        for key in commit.dedupe_keys {
            if self.dedupe.contains_key(&*self.keeping.probe(key)) || !seen.insert(key.as_str()) {
                return Err(StoreError::DuplicateKey(key.clone()));
            }
        }
        Ok(())
    }

    /// Writes a validated and prepared commit: events, snapshot, indexes, outbox and dedupe
    /// keys.
    ///
    /// A stored order's record is changed where it stands in the B-tree, and an index is
    /// touched only when its key changes: most commits change the status, some the deadline,
    /// few the waybills or the customer.
    fn write(&mut self, commit: Commit<'_>) {
        let order = commit.order;
        let id = order.id;
        let index = IndexColumns::of(order);
        let status = index.summary.status;
        let deadline = index.deadline;

        match self.orders.get_mut(&id) {
            Some(record) => {
                self.queries.update(Some((&record.summary, &record.query)), (&index.summary, &index.query));
                if record.summary.status != status {
                    self.by_status.remove(&(record.summary.status, id));
                    self.by_status.insert((status, id));
                }
                if record.deadline != deadline {
                    if let Some((at, kind)) = record.deadline {
                        self.deadlines.remove(&(at, id, kind));
                    }
                    if let Some((at, kind)) = deadline {
                        self.deadlines.insert((at, id, kind));
                    }
                }
                if !record.waybills.iter().map(|(c, w)| (c.as_str(), w.as_str())).eq(index.waybills.iter().copied()) {
                    unindex_waybills(&mut self.by_waybill, id, &record.waybills);
                    record.waybills = index.owned_waybills();
                    index_waybills(&mut self.by_waybill, id, &record.waybills);
                }
                if record.summary.customer != order.customer {
                    self.by_customer.remove(&(record.summary.customer.clone(), id));
                    self.by_customer.insert((order.customer.clone(), id));
                }
                let finishing = status.is_terminal() && !record.summary.status.is_terminal();
                self.keeping.keep_next(id, &mut record.kept, order, commit.events, finishing);
                record.summary = index.summary;
                record.query = index.query;
                record.version = order.version;
                record.deadline = deadline;
            }
            None => {
                self.queries.update(None, (&index.summary, &index.query));
                self.by_number.insert(order.number, id);
                self.by_customer.insert((order.customer.clone(), id));
                self.by_status.insert((status, id));
                if let Some((at, kind)) = deadline {
                    self.deadlines.insert((at, id, kind));
                }
                let waybills = index.owned_waybills();
                index_waybills(&mut self.by_waybill, id, &waybills);
                let kept = self.keeping.keep_new(id, order, commit.events, status.is_terminal());
                let record = Record {
                    kept,
                    summary: index.summary,
                    query: index.query,
                    version: order.version,
                    deadline,
                    waybills,
                };
                self.orders.insert(id, Box::new(record));
            }
        }
        self.keeping.settle(&mut self.orders);
        self.feed.push(id, commit.events);

        for key in commit.dedupe_keys {
            self.dedupe.insert(self.keeping.key(key), id);
        }
        for entry in commit.outbox {
            let key = self.keeping.key(&entry.key);
            if self.delivered.contains::<K::Key>(&key) {
                continue;
            }
            let Entry::Vacant(slot) = self.outbox_keys.entry(key) else {
                continue;
            };
            let seq = self.next_outbox;
            self.next_outbox = self.next_outbox.wrapping_add(1);
            slot.insert(seq);
            self.outbox_open.insert(seq);
            self.outbox.insert(
                seq,
                Box::new(OutboxRow {
                    key: entry.key.clone(),
                    order_id: id,
                    effect: entry.effect.clone(),
                    available_at: DateTime::<Utc>::MIN_UTC,
                    lease_until: None,
                    attempts: 0,
                    done: false,
                    dead: false,
                    last_error: None,
                    failed_at: None,
                    written_at: commit.written_at(),
                }),
            );
        }
    }

    fn list(&self, filter: &OrderFilter, after: Option<OrderId>, limit: usize) -> OrderPage {
        let candidates: Box<dyn Iterator<Item = &Record<K::Kept>> + '_> = if let Some(status) = filter.status {
            let from = match after {
                Some(after) => Bound::Excluded((status, after)),
                None => Bound::Included((status, MIN_ID)),
            };
            Box::new(
                self.by_status
                    .range((from, Bound::Unbounded))
                    .take_while(move |(s, _)| *s == status)
                    .filter_map(|(_, id)| self.orders.get(id).map(|r| &**r)),
            )
        } else if let Some(customer) = &filter.customer {
            let from = match after {
                Some(after) => Bound::Excluded((customer.clone(), after)),
                None => Bound::Included((customer.clone(), MIN_ID)),
            };
            Box::new(
                self.by_customer
                    .range((from, Bound::Unbounded))
                    .take_while(move |(c, _)| c == customer)
                    .filter_map(|(_, id)| self.orders.get(id).map(|r| &**r)),
            )
        } else {
            let from = after.map_or(Bound::Unbounded, Bound::Excluded);
            Box::new(self.orders.range((from, Bound::Unbounded)).map(|(_, record)| &**record))
        };

        let mut items = Vec::with_capacity(limit.min(64));
        let mut more = false;
        for record in candidates {
            let summary = &record.summary;
            if filter.placed_from.is_some_and(|t| summary.placed_at < t)
                || filter.placed_before.is_some_and(|t| summary.placed_at >= t)
                || filter.status.is_some_and(|s| s != summary.status)
                || filter.customer.as_ref().is_some_and(|c| *c != summary.customer)
                || !filter.matches(summary)
            {
                continue;
            }
            if items.len() >= limit {
                more = true;
                break;
            }
            items.push(summary.clone());
        }
        let next = if more { items.last().map(|s| s.id) } else { None };
        OrderPage { items, next }
    }

    /// A copy of the order's snapshot.
    fn load(&mut self, id: OrderId) -> Result<Option<Order>, StoreError> {
        let Some(record) = self.orders.get_mut(&id) else {
            return Ok(None);
        };
        let order = self.keeping.load(id, &mut record.kept)?;
        self.keeping.settle(&mut self.orders);
        Ok(Some(order))
    }

    fn due_deadlines(&self, now: DateTime<Utc>, limit: usize) -> Vec<DueDeadline> {
        self.deadlines
            .iter()
            .take_while(|(at, _, _)| *at <= now)
            .take(limit)
            .map(|(at, order_id, kind)| DueDeadline { order_id: *order_id, kind: *kind, due_at: *at })
            .collect()
    }

    fn claim_outbox(&mut self, now: DateTime<Utc>, lease: TimeDelta, limit: usize) -> Vec<OutboxItem> {
        let lease_until = now.checked_add_signed(lease).unwrap_or(DateTime::<Utc>::MAX_UTC);
        // Sized once: rows are a few hundred bytes, and growing the vector copies them.
        let mut claimed = Vec::with_capacity(limit.min(self.outbox_open.len()));
        for seq in &self.outbox_open {
            if claimed.len() >= limit {
                break;
            }
            let Some(row) = self.outbox.get_mut(seq) else {
                continue;
            };
            if row.available_at > now || row.lease_until.is_some_and(|until| until > now) {
                continue;
            }
            row.lease_until = Some(lease_until);
            row.attempts = row.attempts.saturating_add(1);
            claimed.push(OutboxItem {
                key: row.key.clone(),
                order_id: row.order_id,
                effect: row.effect.clone(),
                attempts: row.attempts,
            });
        }
        claimed
    }

    /// The sequence number of the undelivered row with this key.
    fn outbox_seq(&self, key: &str) -> Option<u64> {
        self.outbox_keys.get(&*self.keeping.probe(key)).copied()
    }

    fn complete_outbox(&mut self, key: &str) {
        // Taken out of the map at once: a delivered row's key moves to `delivered` as it is.
        let Some((key, seq)) = self.outbox_keys.remove_entry(&*self.keeping.probe(key)) else {
            return;
        };
        self.outbox_open.remove(&seq);
        match self.outbox.get_mut(&seq) {
            Some(row) if row.dead => {
                row.done = true;
                row.lease_until = None;
                // Still a dead letter: it keeps its key.
                self.outbox_keys.insert(key, seq);
            }
            _ => {
                self.outbox.remove(&seq);
                self.delivered.insert(key);
            }
        }
    }

    fn fail_outbox(&mut self, key: &str, now: DateTime<Utc>, retry_at: Option<DateTime<Utc>>, error: &str) {
        let Some(seq) = self.outbox_seq(key) else {
            return;
        };
        let Some(row) = self.outbox.get_mut(&seq) else {
            return;
        };
        if row.done || row.dead {
            return;
        }
        row.lease_until = None;
        row.last_error = Some(error.to_owned());
        row.failed_at = Some(now);
        match retry_at {
            Some(at) => row.available_at = at,
            None => {
                row.dead = true;
                self.outbox_open.remove(&seq);
                self.outbox_dead.insert(seq);
            }
        }
    }

    fn dead_letters(&self, after: Option<DeadLetterCursor>, limit: usize) -> DeadLetterPage {
        let from = after.map_or(Bound::Unbounded, |cursor| Bound::Excluded(cursor.position()));
        let mut page = DeadLetterPage::default();
        let mut last = None;
        for seq in self.outbox_dead.range((from, Bound::Unbounded)) {
            let Some(row) = self.outbox.get(seq) else {
                continue;
            };
            if page.letters.len() >= limit {
                page.next = last.map(DeadLetterCursor::after_position);
                break;
            }
            last = Some(*seq);
            page.letters.push(DeadLetter {
                key: row.key.clone(),
                order_id: row.order_id,
                effect: row.effect.clone(),
                attempts: row.attempts,
                last_error: row.last_error.clone().unwrap_or_default(),
                died_at: row.failed_at,
            });
        }
        page
    }

    fn backlog(&self, now: DateTime<Utc>) -> OutboxBacklog {
        let pending = self.outbox_open.iter().filter_map(|seq| self.outbox.get(seq));
        let (mut count, mut ready, mut oldest) = (0u64, 0u64, None::<DateTime<Utc>>);
        for row in pending {
            count += 1;
            if row.available_at <= now && row.lease_until.is_none_or(|until| until <= now) {
                ready += 1;
            }
            oldest = match (oldest, row.written_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        OutboxBacklog { pending: count, ready, dead: self.outbox_dead.len() as u64, oldest_pending_at: oldest }
    }

    fn requeue_dead(&mut self, key: &str, now: DateTime<Utc>) -> bool {
        let Some(seq) = self.outbox_seq(key) else {
            return false;
        };
        let Some(row) = self.outbox.get_mut(&seq).filter(|row| row.dead) else {
            return false;
        };
        row.dead = false;
        row.attempts = 0;
        row.available_at = now;
        row.lease_until = None;
        self.outbox_dead.remove(&seq);
        self.outbox_open.insert(seq);
        true
    }
}

/// Orders by carrier, then by waybill.
type WaybillIndex = HashMap<String, HashMap<String, OrderId>>;

/// Indexes `waybills` for `id` (checked free beforehand by `check_waybills`).
fn index_waybills(index: &mut WaybillIndex, id: OrderId, waybills: &[(String, String)]) {
    for (carrier, waybill) in waybills {
        let numbers = match index.get_mut(carrier.as_str()) {
            Some(numbers) => numbers,
            None => index.entry(carrier.clone()).or_default(),
        };
        numbers.insert(waybill.clone(), id);
    }
}

/// Drops `id`'s entries for `waybills` (entries of other orders stay).
fn unindex_waybills(index: &mut WaybillIndex, id: OrderId, waybills: &[(String, String)]) {
    for (carrier, waybill) in waybills {
        if let Some(numbers) = index.get_mut(carrier.as_str()) {
            if numbers.get(waybill.as_str()) == Some(&id) {
                numbers.remove(waybill.as_str());
            }
            if numbers.is_empty() {
                index.remove(carrier.as_str());
            }
        }
    }
}

impl<K: RecordKeeping> OrderRepository for MemoryStore<K> {
    async fn create(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        lock(&self.inner).create(commit)
    }

    async fn append(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        lock(&self.inner).append(commit)
    }

    async fn load(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        lock(&self.inner).load(id)
    }

    async fn events(&self, id: OrderId) -> Result<Vec<Event>, StoreError> {
        let inner = lock(&self.inner);
        inner.orders.get(&id).map_or(Ok(Vec::new()), |r| inner.keeping.events(&r.kept))
    }

    async fn find_by_number(&self, number: &OrderNumber) -> Result<Option<OrderId>, StoreError> {
        Ok(lock(&self.inner).by_number.get(number).copied())
    }

    async fn find_by_waybill(&self, carrier: &str, waybill: &str) -> Result<Option<OrderId>, StoreError> {
        Ok(lock(&self.inner).waybill_owner(carrier, waybill))
    }

    async fn find_by_key(&self, key: &str) -> Result<Option<OrderId>, StoreError> {
        let inner = lock(&self.inner);
        Ok(inner.dedupe.get(&*inner.keeping.probe(key)).copied())
    }

    async fn list(&self, filter: &OrderFilter, after: Option<OrderId>, limit: usize) -> Result<OrderPage, StoreError> {
        Ok(lock(&self.inner).list(filter, after, limit))
    }

    async fn query(&self, query: &OrderQuery) -> Result<QueryPage, StoreError> {
        let inner = lock(&self.inner);
        Ok(inner.queries.query(query, |id| inner.orders.get(&id).map(|r| (&r.summary, &r.query))))
    }

    async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
        Ok(lock(&self.inner).queries.counts())
    }

    async fn events_after(&self, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError> {
        let inner = lock(&self.inner);
        inner
            .feed
            .after(after, limit, |id| inner.orders.get(&id).map_or(Ok(Vec::new()), |r| inner.keeping.events(&r.kept)))
    }
}

impl<K: RecordKeeping> WorkQueue for MemoryStore<K> {
    async fn due_deadlines(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<DueDeadline>, StoreError> {
        Ok(lock(&self.inner).due_deadlines(now, limit))
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        Ok(lock(&self.inner).claim_outbox(now, lease, limit))
    }

    async fn complete_outbox(&self, key: &str) -> Result<(), StoreError> {
        lock(&self.inner).complete_outbox(key);
        Ok(())
    }

    async fn fail_outbox(
        &self,
        key: &str,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> Result<(), StoreError> {
        lock(&self.inner).fail_outbox(key, now, retry_at, error);
        Ok(())
    }

    async fn dead_letters(&self, after: Option<DeadLetterCursor>, limit: usize) -> Result<DeadLetterPage, StoreError> {
        Ok(lock(&self.inner).dead_letters(after, limit))
    }

    async fn backlog(&self, now: DateTime<Utc>) -> Result<OutboxBacklog, StoreError> {
        Ok(lock(&self.inner).backlog(now))
    }

    async fn requeue_dead(&self, key: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(lock(&self.inner).requeue_dead(key, now))
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::ports::OutboxEntry;
    use crate::testing::conformance::{self, sample_order};
    use crate::testing::t0;
    #[cfg(feature = "packed-memory")]
    use crate::{Action, Actor, Command, Ctx, Workflow};

    #[tokio::test]
    async fn conformance_plain() {
        conformance::run_all(MemoryStore::new).await;
    }

    /// The whole contract holds when packed, with every order going cold after each call (its
    /// snapshot decoded from its packed form every time), when only one order stays hot and
    /// with the default.
    #[cfg(feature = "packed-memory")]
    #[tokio::test]
    async fn conformance_with_cold_orders() {
        conformance::run_all(MemoryStore::packed).await;
        conformance::run_all(|| MemoryStore::with_hot_orders(0)).await;
        conformance::run_all(|| MemoryStore::with_hot_orders(1)).await;
    }

    /// A dead letter completed late (a delivery that succeeded after all) stays listed, keeps
    /// its key (a commit with the same key adds nothing), and completing it again changes
    /// nothing; a live row completed is dropped and its key remembered as delivered.
    #[tokio::test]
    async fn a_completed_dead_letter_keeps_its_key() {
        let store = MemoryStore::new();
        let (order, events) = sample_order("alice", 1, t0());
        let notice = |n: u32| OutboxEntry {
            key: format!("{}/test/{n}", order.id),
            effect: Effect::ReleaseStock { items: Vec::new() },
        };
        let outbox = [notice(1), notice(2)];
        let commit = Commit { order: &order, expected_version: 0, events: &events, outbox: &outbox, dedupe_keys: &[] };
        store.create(commit).await.unwrap_or_else(|e| panic!("create: {e}"));
        let claimed = store.claim_outbox(t0(), TimeDelta::seconds(30), 10).await.unwrap_or_default();
        assert_eq!(claimed.len(), 2);
        let (dead, live) = (&outbox[0].key, &outbox[1].key);
        store.fail_outbox(dead, t0(), None, "refused").await.unwrap_or_else(|e| panic!("fail: {e}"));
        for _ in 0..2 {
            store.complete_outbox(dead).await.unwrap_or_else(|e| panic!("complete: {e}"));
        }
        store.complete_outbox(live).await.unwrap_or_else(|e| panic!("complete: {e}"));
        assert_eq!(store.outbox_dead(), vec![(dead.clone(), "refused".to_owned())]);
        assert_eq!(store.outbox_pending(), 0);

        // Both keys are known: committing them again adds no row.
        let (mut next, new_events) = sample_order("alice", 1, t0() + TimeDelta::seconds(1));
        next.id = order.id;
        let new_events: Vec<Event> = new_events
            .into_iter()
            .enumerate()
            .map(|(i, mut e)| {
                e.seq = order.version + 1 + i as u64;
                e
            })
            .collect();
        next.version = order.version + new_events.len() as u64;
        let commit = Commit {
            order: &next,
            expected_version: order.version,
            events: &new_events,
            outbox: &outbox,
            dedupe_keys: &[],
        };
        store.append(commit).await.unwrap_or_else(|e| panic!("append: {e}"));
        assert_eq!(store.outbox_pending(), 0, "no row added under a known key");
        assert_eq!(store.outbox_dead().len(), 1);
    }

    /// Stores a snapshot that is not the fold of its events (the contract lets a caller store
    /// what it likes) and one that is; both load back as given, with their events.
    async fn snapshots_are_stored_as_given<K: RecordKeeping>(store: &MemoryStore<K>) -> (Order, Order) {
        let (mut odd, odd_events) = sample_order("alice", 1, t0());
        odd.placed_at += TimeDelta::seconds(1);
        let (plain, plain_events) = sample_order("bob", 2, t0());
        for (order, events) in [(&odd, &odd_events), (&plain, &plain_events)] {
            let commit = Commit { order, expected_version: 0, events, outbox: &[], dedupe_keys: &[] };
            store.create(commit).await.unwrap_or_else(|e| panic!("create: {e}"));
        }
        for (order, events) in [(&odd, &odd_events), (&plain, &plain_events)] {
            assert_eq!(store.load(order.id).await.ok().flatten().as_ref(), Some(order));
            assert_eq!(store.events(order.id).await.ok().as_ref(), Some(events));
        }
        (odd, plain)
    }

    #[tokio::test]
    async fn a_snapshot_that_is_not_the_fold_is_kept_as_given() {
        snapshots_are_stored_as_given(&MemoryStore::new()).await;
    }

    /// A packed store keeps a snapshot that is not the fold as given through the order going
    /// cold: cold snapshots are packed, never rebuilt from events.
    #[cfg(feature = "packed-memory")]
    #[tokio::test]
    async fn a_snapshot_that_is_not_the_fold_is_kept_when_cold() {
        let store = MemoryStore::with_hot_orders(0);
        let (odd, plain) = snapshots_are_stored_as_given(&store).await;
        assert_eq!(decoded(&store, odd.id), Some(false), "the odd snapshot is packed when cold");
        assert_eq!(decoded(&store, plain.id), Some(false), "the folded snapshot is packed when cold");
        assert_eq!(store.load(odd.id).await.ok().flatten().as_ref(), Some(&odd));
    }

    /// Whether the store holds `id`'s snapshot decoded.
    #[cfg(feature = "packed-memory")]
    fn decoded(store: &MemoryStore<Packed>, id: OrderId) -> Option<bool> {
        lock(&store.inner).orders.get(&id).map(|r| r.kept.is_decoded())
    }

    /// Places a sample order for `customer`.
    #[cfg(feature = "packed-memory")]
    async fn place(store: &MemoryStore<Packed>, customer: &str, number: u64) -> Order {
        let (placed, events) = sample_order(customer, number, t0());
        let commit = Commit { order: &placed, expected_version: 0, events: &events, outbox: &[], dedupe_keys: &[] };
        store.create(commit).await.unwrap_or_else(|e| panic!("create: {e}"));
        placed
    }

    /// The buyer cancels `placed` (a terminal status); returns the cancelled order.
    #[cfg(feature = "packed-memory")]
    async fn cancel(store: &MemoryStore<Packed>, placed: &Order) -> Order {
        let command = Command::new(
            Actor::Buyer { customer: placed.customer.clone() },
            Action::Cancel { reason: "changed my mind".into() },
        );
        let decision = Workflow::default()
            .decide(placed, &command, &Ctx::at(t0()))
            .unwrap_or_else(|e| panic!("cancel refused: {e}"));
        let mut cancelled = placed.clone();
        for event in &decision.events {
            crate::decide::evolve(&mut cancelled, event);
        }
        assert_eq!(cancelled.status(), OrderStatus::Cancelled);
        let commit = Commit {
            order: &cancelled,
            expected_version: placed.version,
            events: &decision.events,
            outbox: &[],
            dedupe_keys: &[],
        };
        store.append(commit).await.unwrap_or_else(|e| panic!("append: {e}"));
        cancelled
    }

    /// Once the decoded snapshots are at their limit, the commit that ends an order's main
    /// flow sends it cold (packed while in cache, ahead of orders in flight); below the limit
    /// it stays decoded. Either way it loads back equal, and a load decodes it again.
    #[cfg(feature = "packed-memory")]
    #[tokio::test]
    async fn a_finished_order_goes_cold_first_when_room_is_short() {
        let full = MemoryStore::with_hot_orders(1);
        let alice = place(&full, "alice", 1).await;
        assert_eq!(decoded(&full, alice.id), Some(true));
        let alice = cancel(&full, &alice).await;
        assert_eq!(decoded(&full, alice.id), Some(false), "cold with the cancelling commit");
        // The clock entry it left behind is dropped to make room, not the newer order.
        let bob = place(&full, "bob", 2).await;
        assert_eq!((decoded(&full, alice.id), decoded(&full, bob.id)), (Some(false), Some(true)));
        assert_eq!(full.load(alice.id).await.ok().flatten().as_ref(), Some(&alice));
        assert_eq!(decoded(&full, alice.id), Some(true), "a load decodes it again");
        assert_eq!(full.events(alice.id).await.map(|events| events.len()).ok(), Some(alice.version as usize));

        let roomy = MemoryStore::with_hot_orders(8);
        let carol = place(&roomy, "carol", 3).await;
        let carol = cancel(&roomy, &carol).await;
        assert_eq!(decoded(&roomy, carol.id), Some(true), "room left: stays decoded");
        assert_eq!(roomy.load(carol.id).await.ok().flatten().as_ref(), Some(&carol));
    }
}
