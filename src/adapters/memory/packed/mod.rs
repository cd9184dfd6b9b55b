//! [`Packed`] (feature `packed-memory`): records hold their history as MessagePack, LZ4-packed
//! when the order goes cold, and only the most recently used orders keep their snapshot
//! decoded; the others keep it packed the same way. Outbox and dedupe keys are remembered by
//! 128-bit fingerprints.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;

mod fingerprint;
mod history;

use fingerprint::{Fingerprint, Fingerprinter, Hashing};
use history::History;

use super::keeping::{Keep, Orders};
use crate::event::Event;
use crate::ids::OrderId;
use crate::order::Order;
use crate::ports::StoreError;

/// How many orders keep their snapshot decoded, by default (see
/// [`MemoryStore::with_hot_orders`](super::MemoryStore::with_hot_orders)).
pub const HOT_ORDERS: usize = 1024;

/// A compact way for a [`MemoryStore`](super::MemoryStore) to keep orders, for hosts that hold
/// many of them (feature `packed-memory`).
///
/// A stored order keeps its history encoded (MessagePack), and only the orders used most
/// recently (up to [`HOT_ORDERS`] by default) keep their snapshot as a value; the others keep
/// it encoded too and decode it when loaded, so loading an order in flight stays a copy. When
/// that many are decoded, an order whose main flow ends (completed, cancelled, rejected,
/// returned to sender) goes cold with that commit, ahead of the orders still in flight. A cold
/// order's history and snapshot are packed with LZ4 and a dictionary of the words histories
/// repeat. Outbox and dedupe keys are remembered by 16-byte fingerprints, not their text.
pub struct Packed {
    fingerprints: Fingerprinter,
    /// The commit's events, encoded before anything is written (reused between commits).
    encoded: Vec<u8>,
    /// The orders whose snapshot is decoded, oldest first: a clock, where a record used since
    /// the hand last passed (`touched`) gets a second chance. An order that went cold when its
    /// main flow ended keeps its entry until the hand reaches it (and may be decoded again
    /// meanwhile), so the count here is never below the number of decoded snapshots it limits.
    hot: VecDeque<OrderId>,
    /// How many orders keep their snapshot decoded.
    hot_limit: usize,
    /// LZ4's output buffer when a record is packed (reused between orders).
    packing: Vec<u8>,
}

impl Packed {
    /// Keeps the snapshots of at most `n` orders decoded.
    pub(super) fn with_hot_orders(n: usize) -> Packed {
        Packed { hot_limit: n, ..Packed::default() }
    }
}

impl Default for Packed {
    fn default() -> Packed {
        Packed {
            fingerprints: Fingerprinter::default(),
            encoded: Vec::new(),
            hot: VecDeque::new(),
            hot_limit: HOT_ORDERS,
            packing: Vec::new(),
        }
    }
}

impl fmt::Debug for Packed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packed").field("hot", &self.hot.len()).field("hot_limit", &self.hot_limit).finish()
    }
}

/// One order as [`Packed`] keeps it.
pub struct PackedRecord {
    snapshot: Snapshot,
    /// Loaded or changed since the clock hand last passed.
    touched: bool,
    /// Has its entry in the clock (`Packed::hot`): one at most, kept by an order that went
    /// cold when its main flow ended, until the hand reaches it.
    queued: bool,
    events: History,
}

/// A stored snapshot: decoded while its order is hot, packed when cold (a cold order holds
/// a few hundred bytes instead of the 4 KiB or so of a decoded `Order`).
enum Snapshot {
    Decoded(Box<Order>),
    /// MessagePack, LZ4-packed with the history dictionary, and its unpacked length.
    Cold(Box<[u8]>, u32),
}

impl Snapshot {
    /// `order`, packed; `None` if it cannot be (then it stays decoded).
    fn pack(order: &Order, scratch: &mut Vec<u8>) -> Option<Snapshot> {
        let plain = rmp_serde::to_vec(order).ok()?;
        let unpacked = u32::try_from(plain.len()).ok()?;
        let len = history::compress(&plain, scratch)?;
        Some(Snapshot::Cold(scratch.get(..len)?.into(), unpacked))
    }

    /// The snapshot as a value.
    fn decode(packed: &[u8], unpacked: u32) -> Result<Order, StoreError> {
        let plain = history::decompress(packed, unpacked, "snapshot")?;
        rmp_serde::from_slice(&plain)
            .map_err(|e| StoreError::Corrupt(format!("stored snapshot cannot be decoded: {e}")))
    }
}

impl PackedRecord {
    /// Whether the snapshot is decoded.
    #[cfg(test)]
    pub(super) fn is_decoded(&self) -> bool {
        matches!(self.snapshot, Snapshot::Decoded(_))
    }

    /// Gives the order (`id`, whose snapshot was just decoded) its entry in the clock, unless
    /// it still has one.
    fn enqueue(&mut self, hot: &mut VecDeque<OrderId>, id: OrderId) {
        if !self.queued {
            self.queued = true;
            hot.push_back(id);
        }
    }

    /// Packs the snapshot and the history. Called when the clock hand evicts the order and,
    /// while the decoded snapshots are at their limit, by the commit that ends the order's
    /// main flow (a terminal status). Such an order is seldom read again, and packing it then,
    /// while its history and snapshot are still in the CPU's cache, costs a fraction of
    /// evicting an order a thousand orders later, when both have to come back from memory.
    fn go_cold(&mut self, packing: &mut Vec<u8>) {
        if let Snapshot::Decoded(order) = &self.snapshot
            && let Some(cold) = Snapshot::pack(order, packing)
        {
            self.snapshot = cold;
        }
        self.events.pack(packing);
    }
}

impl Keep for Packed {
    type Key = Fingerprint;
    type Probe = Fingerprint;
    type KeyHasher = Hashing;
    type OutboxHasher = Hashing;
    type Kept = PackedRecord;

    fn probe<'k>(&self, key: &'k str) -> Cow<'k, Fingerprint> {
        Cow::Owned(self.fingerprints.of(key))
    }

    fn prepare(&mut self, events: &[Event]) -> Result<(), StoreError> {
        History::encode(events, &mut self.encoded)
    }

    fn keep_new(&mut self, id: OrderId, order: &Order, _events: &[Event], finishing: bool) -> PackedRecord {
        let mut events = History::default();
        events.push(&self.encoded);
        let mut record = PackedRecord {
            snapshot: Snapshot::Decoded(Box::new(order.clone())),
            touched: false,
            queued: false,
            events,
        };
        if finishing && self.hot.len() >= self.hot_limit {
            record.go_cold(&mut self.packing);
        } else {
            record.enqueue(&mut self.hot, id);
        }
        record
    }

    fn keep_next(&mut self, id: OrderId, kept: &mut PackedRecord, order: &Order, _events: &[Event], finishing: bool) {
        kept.touched = true;
        kept.events.push(&self.encoded);
        match &mut kept.snapshot {
            Snapshot::Decoded(stored) => Order::clone_from(stored, order),
            Snapshot::Cold(..) => kept.snapshot = Snapshot::Decoded(Box::new(order.clone())),
        }
        // Room is short: an order whose main flow ends with this commit goes cold now, ahead
        // of the orders still in flight.
        if finishing && self.hot.len() >= self.hot_limit {
            kept.go_cold(&mut self.packing);
        } else {
            kept.enqueue(&mut self.hot, id);
        }
    }

    fn load(&mut self, id: OrderId, kept: &mut PackedRecord) -> Result<Order, StoreError> {
        kept.touched = true;
        let order = match &kept.snapshot {
            Snapshot::Decoded(order) => return Ok(Order::clone(order)),
            Snapshot::Cold(packed, unpacked) => Snapshot::decode(packed, *unpacked)?,
        };
        let copy = order.clone();
        kept.snapshot = Snapshot::Decoded(Box::new(order));
        kept.enqueue(&mut self.hot, id);
        Ok(copy)
    }

    fn events(&self, kept: &PackedRecord) -> Result<Vec<Event>, StoreError> {
        kept.events.decode()
    }

    /// Packs the least recently used orders beyond the limit.
    fn settle(&mut self, orders: &mut Orders<PackedRecord>) {
        while self.hot.len() > self.hot_limit {
            let Some(id) = self.hot.pop_front() else {
                break;
            };
            let Some(record) = orders.get_mut(&id).map(|r| &mut r.kept) else {
                continue;
            };
            if matches!(record.snapshot, Snapshot::Cold(..)) {
                // Went cold when its main flow ended.
                record.queued = false;
            } else if record.touched {
                record.touched = false;
                self.hot.push_back(id);
            } else {
                record.queued = false;
                record.go_cold(&mut self.packing);
            }
        }
    }
}
