//! [`Plain`]: records hold their snapshot and events as values, and keys as text.

use std::borrow::Cow;
use std::hash::RandomState;

use super::keeping::Keep;
use crate::event::Event;
use crate::ids::OrderId;
use crate::order::Order;
use crate::ports::StoreError;

/// The default way a [`MemoryStore`](super::MemoryStore) keeps orders: each order's latest
/// snapshot and its events as values, outbox and dedupe keys as their text. Loads and reads
/// are copies; nothing is encoded or rebuilt.
#[derive(Debug, Default, Clone, Copy)]
pub struct Plain;

/// One order as [`Plain`] keeps it.
pub struct PlainRecord {
    order: Order,
    events: Vec<Event>,
}

impl Keep for Plain {
    type Key = String;
    type Probe = str;
    type KeyHasher = RandomState;
    type OutboxHasher = foldhash::fast::RandomState;
    type Kept = PlainRecord;

    fn probe<'k>(&self, key: &'k str) -> Cow<'k, str> {
        Cow::Borrowed(key)
    }

    fn prepare(&mut self, _events: &[Event]) -> Result<(), StoreError> {
        Ok(())
    }

    fn keep_new(&mut self, _id: OrderId, order: &Order, events: &[Event], _finishing: bool) -> PlainRecord {
        PlainRecord { order: order.clone(), events: events.to_vec() }
    }

    fn keep_next(&mut self, _id: OrderId, kept: &mut PlainRecord, order: &Order, events: &[Event], _finishing: bool) {
        kept.order.clone_from(order);
        kept.events.extend_from_slice(events);
    }

    fn load(&mut self, _id: OrderId, kept: &mut PlainRecord) -> Result<Order, StoreError> {
        Ok(kept.order.clone())
    }

    fn events(&self, kept: &PlainRecord) -> Result<Vec<Event>, StoreError> {
        Ok(kept.events.clone())
    }
}
