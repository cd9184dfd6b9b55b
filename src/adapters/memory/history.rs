//! An order's history kept encoded, as MessagePack, instead of as a vector of [`Event`]s.
//!
//! A stored order's fifteen or so events took about 6 KiB as values (160 bytes inline each,
//! plus the heap of their drafts, lines, strings and ids) and are read back only for timelines
//! and audits, never by the engine's commands. Encoded they take under a quarter of that
//! (1.4 KiB; timestamps are integers in MessagePack, see `crate::timestamp`). Each commit
//! encodes only its own new events (into a reused buffer, then appended); a history's spare
//! capacity is given back when its order goes cold. The price is time: encoding a
//! lifecycle's fifteen events cost about 74k instructions when chrono still formatted every
//! timestamp as text (two thirds of it), about 5 % of `engine_lifecycle`.
//!
//! MessagePack rather than a smaller binary format (postcard, bincode): the event types use
//! internally tagged enums (`#[serde(tag = ...)]`), which only self-describing formats can
//! read back; `rmp_serde`'s default writes structs as arrays, without field names. Reads
//! decode the whole history and return exactly the events written (the conformance suite
//! checks it).

use crate::event::Event;
use crate::ports::store::StoreError;

/// The encoded events of one order, back to back.
#[derive(Default)]
pub(super) struct History {
    bytes: Vec<u8>,
}

impl History {
    /// Encodes `events` into `buf` (cleared first), ready for [`History::push`]. Done before
    /// anything is written, so a commit that cannot be encoded changes nothing.
    pub(super) fn encode(events: &[Event], buf: &mut Vec<u8>) -> Result<(), StoreError> {
        buf.clear();
        for event in events {
            rmp_serde::encode::write(buf, event)
                .map_err(|e| StoreError::Corrupt(format!("event {} cannot be encoded: {e}", event.seq)))?;
        }
        Ok(())
    }

    /// Appends events encoded by [`History::encode`]. The buffer grows by doubling, as a
    /// vector does: growing it exactly reallocated and copied the whole history on every commit.
    pub(super) fn push(&mut self, encoded: &[u8]) {
        self.bytes.extend_from_slice(encoded);
    }

    /// Gives back the spare capacity, when the order goes cold: only the few hot orders,
    /// which are still changing, carry any.
    pub(super) fn shrink(&mut self) {
        self.bytes.shrink_to_fit();
    }

    /// Every event, in order.
    pub(super) fn decode(&self) -> Result<Vec<Event>, StoreError> {
        let mut rest: &[u8] = &self.bytes;
        let mut events = Vec::new();
        while !rest.is_empty() {
            let event: Event = rmp_serde::from_read(&mut rest).map_err(|e| {
                StoreError::Corrupt(format!("stored event {} cannot be decoded: {e}", events.len() + 1))
            })?;
            events.push(event);
        }
        Ok(events)
    }
}
