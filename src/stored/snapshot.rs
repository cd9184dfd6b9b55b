//! The stored form of an order's snapshot.

use std::fmt;

use super::{Payload, SNAPSHOT_VERSION, upcast};
use crate::order::Order;
use crate::ports::store::StoreError;

/// A snapshot as a store writes it: the schema version of its payload and the order
/// (serialised by the store: JSON text or `jsonb`).
#[derive(Debug, Clone, Copy)]
pub struct StoredSnapshot<'a> {
    /// The schema version the payload is written in: always [`SNAPSHOT_VERSION`] when
    /// encoding.
    pub schema_version: u16,
    /// The order.
    pub payload: &'a Order,
}

impl<'a> StoredSnapshot<'a> {
    /// The stored form of `order`, in the current schema version.
    pub fn encode(order: &'a Order) -> StoredSnapshot<'a> {
        StoredSnapshot { schema_version: SNAPSHOT_VERSION, payload: order }
    }

    /// The payload as JSON text.
    pub fn to_json(&self) -> Result<String, StoreError> {
        super::encode(self.payload, &format_args!("the snapshot of order {}", self.payload.id))
    }

    /// Reads the snapshot of `order` written with `schema_version`, upgrading it first when it
    /// is older than [`SNAPSHOT_VERSION`].
    pub fn decode<'p>(
        payload: impl Into<Payload<'p>>,
        schema_version: u16,
        order: impl fmt::Display,
    ) -> Result<Order, StoreError> {
        super::decode(
            payload.into(),
            schema_version,
            SNAPSHOT_VERSION,
            upcast::SNAPSHOT_STEPS,
            &format_args!("the snapshot of order {order}"),
        )
    }
}
