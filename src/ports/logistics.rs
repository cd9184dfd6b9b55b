//! The logistics port: one carrier, or an aggregator of several (quotes, shipments, tracking).
//! Which carrier to choose among the quotes is a policy, in [`crate::carrier_choice`].

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::payment::RawMessage;
use crate::address::Address;
use crate::effect::StockItem;
use crate::ids::PackageId;
use crate::money::Money;
use crate::order::TrackingUpdate;
use crate::order_number::OrderNumber;

/// What a carrier needs to quote a parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parcel {
    /// Contents.
    pub items: Vec<StockItem>,
    /// Weight in grams (the host knows its products' weights; 0 if unknown).
    pub weight_grams: u32,
}

/// A carrier's offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Carrier.
    pub carrier: String,
    /// Service level (e.g. `standard`, `express`).
    pub service: String,
    /// Price.
    pub cost: Money,
    /// Estimated days to deliver.
    pub estimated_days: u32,
}

/// A shipment to create with a carrier. `key` makes the call idempotent: the same key
/// returns the same waybill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentRequest {
    /// Idempotency key.
    pub key: String,
    /// Order number (printed on the label).
    pub order_number: OrderNumber,
    /// Which parcel of the order.
    pub package: PackageId,
    /// Carrier.
    pub carrier: String,
    /// Service level.
    pub service: String,
    /// Contents.
    pub items: Vec<StockItem>,
    /// Destination.
    pub address: Address,
}

/// A created shipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    /// Carrier.
    pub carrier: String,
    /// Waybill (tracking) number.
    pub waybill: String,
}

/// One verified tracking update for a waybill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingPush {
    /// The carrier whose waybill it is, named as in its quotes and shipments (the carrier that
    /// sent the push, or the one an aggregator says it relays). Waybill numbers are unique per
    /// carrier only, so the engine finds the order by carrier and waybill.
    pub carrier: String,
    /// Waybill.
    pub waybill: String,
    /// The update.
    pub update: TrackingUpdate,
    /// The carrier the tracking service found the waybill really belongs to, when it differs
    /// from `carrier` (an aggregator such as Kuaidi100 corrects a wrong carrier code). The
    /// order is found under `carrier` or under this carrier; the engine records the
    /// correction on the parcel ([`Action::CorrectCarrier`](crate::Action::CorrectCarrier)), so
    /// later polls and subscriptions ask this carrier.
    #[serde(default)]
    pub corrected_carrier: Option<String>,
}

impl TrackingPush {
    /// A push for `waybill` of `carrier`, with no carrier correction.
    pub fn new(carrier: impl Into<String>, waybill: impl Into<String>, update: TrackingUpdate) -> TrackingPush {
        TrackingPush { carrier: carrier.into(), waybill: waybill.into(), update, corrected_carrier: None }
    }
}

/// Why a logistics call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogisticsError {
    /// The push's signature does not verify. Answer 401.
    #[error("tracking push signature is invalid")]
    InvalidSignature,
    /// The push could not be parsed. Answer 400.
    #[error("tracking push is malformed: {0}")]
    Malformed(String),
    /// No carrier serves this destination or parcel.
    #[error("no carrier can take this parcel: {0}")]
    NoService(String),
    /// The carrier refused the request; do not retry as is.
    #[error("carrier refused: {0}")]
    Rejected(String),
    /// The carrier could not be reached; retry later with the same key.
    #[error("carrier unavailable: {0}")]
    Unavailable(String),
    /// This adapter does not offer the call (a tracking-only service asked to book a
    /// shipment): pair it with one that does (`adapters::WithTracking`).
    #[error("not supported by this logistics adapter: {0}")]
    NotSupported(&'static str),
}

impl LogisticsError {
    /// A stable, machine-readable code (snake_case, unique across the crate's errors), listed
    /// in `docs/ERRORS.md`.
    pub fn code(&self) -> &'static str {
        match self {
            LogisticsError::InvalidSignature => "carrier_invalid_signature",
            LogisticsError::Malformed(_) => "carrier_malformed",
            LogisticsError::NoService(_) => "carrier_no_service",
            LogisticsError::Rejected(_) => "carrier_rejected",
            LogisticsError::Unavailable(_) => "carrier_unavailable",
            LogisticsError::NotSupported(_) => "carrier_not_supported",
        }
    }
}

/// Carriers.
#[dynosaur::dynosaur(pub DynLogistics = dyn(box) Logistics)]
pub trait Logistics: Send + Sync {
    /// Offers for sending `parcel` to `to` (one per carrier and service).
    fn quote(&self, parcel: &Parcel, to: &Address) -> impl Future<Output = Result<Vec<Quote>, LogisticsError>> + Send;
    /// Creates the shipment; idempotent by `request.key`.
    fn create_shipment(
        &self,
        request: &ShipmentRequest,
    ) -> impl Future<Output = Result<Shipment, LogisticsError>> + Send;
    /// Verifies and parses a carrier's tracking push; each update names its carrier.
    fn verify_tracking_push(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<TrackingPush>, LogisticsError>> + Send;
    /// Fetches the tracking history of `carrier`'s `waybill` (the carrier as named in its
    /// quotes and shipments: waybills are unique per carrier only, and a tracking aggregator
    /// needs the carrier to ask).
    fn query_tracking(
        &self,
        carrier: &str,
        waybill: &str,
    ) -> impl Future<Output = Result<Vec<TrackingUpdate>, LogisticsError>> + Send;
    /// Asks for pushes about `carrier`'s `waybill` (a tracking aggregator must be told which
    /// waybills to watch; a waybill entered by hand is known to no one else). The engine calls
    /// it from the outbox after a waybill is recorded, so it may be called more than once:
    /// subscribing again must succeed. Carriers that push on their own need nothing: the
    /// default does nothing.
    fn subscribe_tracking(
        &self,
        carrier: &str,
        waybill: &str,
    ) -> impl Future<Output = Result<(), LogisticsError>> + Send {
        let _ = (carrier, waybill);
        std::future::ready(Ok(()))
    }
}

impl<T: Logistics + ?Sized> Logistics for Arc<T> {
    fn quote(&self, parcel: &Parcel, to: &Address) -> impl Future<Output = Result<Vec<Quote>, LogisticsError>> + Send {
        (**self).quote(parcel, to)
    }
    fn create_shipment(
        &self,
        request: &ShipmentRequest,
    ) -> impl Future<Output = Result<Shipment, LogisticsError>> + Send {
        (**self).create_shipment(request)
    }
    fn verify_tracking_push(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<TrackingPush>, LogisticsError>> + Send {
        (**self).verify_tracking_push(raw, now)
    }
    fn query_tracking(
        &self,
        carrier: &str,
        waybill: &str,
    ) -> impl Future<Output = Result<Vec<TrackingUpdate>, LogisticsError>> + Send {
        (**self).query_tracking(carrier, waybill)
    }
    fn subscribe_tracking(
        &self,
        carrier: &str,
        waybill: &str,
    ) -> impl Future<Output = Result<(), LogisticsError>> + Send {
        (**self).subscribe_tracking(carrier, waybill)
    }
}
