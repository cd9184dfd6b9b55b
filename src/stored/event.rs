//! The stored form of one event.

use std::fmt;

use super::{EVENT_VERSION, Payload, upcast};
use crate::event::Event;
use crate::ids::OrderId;
use crate::ports::store::StoreError;

/// An event as a store writes it: its type (the change's tag, for queries and operators), the
/// schema version of its payload, and the payload (the event, serialised by the store: JSON
/// text or `jsonb`).
#[derive(Debug, Clone, Copy)]
pub struct StoredEvent<'a> {
    /// The change's tag, e.g. `order_placed`.
    pub event_type: &'static str,
    /// The schema version the payload is written in: always [`EVENT_VERSION`] when encoding.
    pub schema_version: u16,
    /// The event.
    pub payload: &'a Event,
}

impl<'a> StoredEvent<'a> {
    /// The stored form of `event`, in the current schema version.
    pub fn encode(event: &'a Event) -> StoredEvent<'a> {
        StoredEvent { event_type: event.change.name(), schema_version: EVENT_VERSION, payload: event }
    }

    /// The payload as JSON text.
    pub fn to_json(&self) -> Result<String, StoreError> {
        super::encode(self.payload, &format_args!("event {}", self.payload.seq))
    }

    /// Reads the event `seq` of order `order` written with `schema_version`, upgrading it first
    /// when it is older than [`EVENT_VERSION`].
    pub fn decode<'p>(
        payload: impl Into<Payload<'p>>,
        schema_version: u16,
        order: OrderId,
        seq: impl fmt::Display,
    ) -> Result<Event, StoreError> {
        super::decode(
            payload.into(),
            schema_version,
            EVENT_VERSION,
            upcast::EVENT_STEPS,
            &format_args!("event {seq} of order {order}"),
        )
    }
}
