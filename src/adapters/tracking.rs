//! [`WithTracking`]: one [`Logistics`] that books through one adapter and tracks through
//! another, for a tracking-only service (Kuaidi100) beside the carrier that books.

use chrono::{DateTime, Utc};

use crate::address::Address;
use crate::order::TrackingUpdate;
use crate::ports::{Logistics, LogisticsError, Parcel, Quote, RawMessage, Shipment, ShipmentRequest, TrackingPush};

/// Quotes and shipments go to `booking`; pushes, queries and subscriptions to `tracking`.
#[derive(Debug, Clone)]
pub struct WithTracking<B, T> {
    booking: B,
    tracking: T,
}

impl<B: Logistics, T: Logistics> WithTracking<B, T> {
    /// Books through `booking`, tracks through `tracking`.
    pub fn new(booking: B, tracking: T) -> WithTracking<B, T> {
        WithTracking { booking, tracking }
    }

    /// The tracking adapter (e.g. for its push reply).
    pub fn tracking(&self) -> &T {
        &self.tracking
    }
}

impl<B: Logistics, T: Logistics> Logistics for WithTracking<B, T> {
    async fn quote(&self, parcel: &Parcel, to: &Address) -> Result<Vec<Quote>, LogisticsError> {
        self.booking.quote(parcel, to).await
    }

    async fn create_shipment(&self, request: &ShipmentRequest) -> Result<Shipment, LogisticsError> {
        self.booking.create_shipment(request).await
    }

    async fn verify_tracking_push(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> Result<Vec<TrackingPush>, LogisticsError> {
        self.tracking.verify_tracking_push(raw, now).await
    }

    async fn query_tracking(&self, carrier: &str, waybill: &str) -> Result<Vec<TrackingUpdate>, LogisticsError> {
        self.tracking.query_tracking(carrier, waybill).await
    }

    async fn subscribe_tracking(&self, carrier: &str, waybill: &str) -> Result<(), LogisticsError> {
        self.tracking.subscribe_tracking(carrier, waybill).await
    }
}
