//! [`Kuaidi100`]: the [`Logistics`] port for tracking through Kuaidi100.

use chrono::{DateTime, Utc};

use super::{Kuaidi100Config, api, push};
use crate::adapters::http::HttpTransport;
use crate::address::Address;
use crate::order::TrackingUpdate;
use crate::ports::{
    Logistics, LogisticsError, Parcel, Quote, RawMessage, Shipment, ShipmentRequest, TrackingPush, WebhookReply,
};

/// Tracking through Kuaidi100 over the host's [`HttpTransport`]. It books nothing: pair it with
/// the carrier's booking adapter ([`WithTracking`](crate::adapters::WithTracking)).
#[derive(Debug)]
pub struct Kuaidi100<T> {
    config: Kuaidi100Config,
    transport: T,
}

impl<T: HttpTransport> Kuaidi100<T> {
    /// The adapter for `config`'s account, calling the API through `transport`.
    pub fn new(config: Kuaidi100Config, transport: T) -> Kuaidi100<T> {
        Kuaidi100 { config, transport }
    }

    /// The configuration.
    pub fn config(&self) -> &Kuaidi100Config {
        &self.config
    }

    /// The transport (in tests, the emulator behind it).
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The answer to send Kuaidi100 for a push: `handled` when it was recorded (or was a
    /// duplicate), otherwise Kuaidi100 sends it again.
    pub fn reply(&self, handled: bool) -> WebhookReply {
        push::reply(handled)
    }

    async fn call(
        &self,
        request: crate::adapters::http::HttpRequest,
    ) -> Result<crate::adapters::http::HttpResponse, LogisticsError> {
        self.transport.send(request).await.map_err(|e| LogisticsError::Unavailable(e.to_string()))
    }
}

impl<T: HttpTransport> Logistics for Kuaidi100<T> {
    async fn quote(&self, _parcel: &Parcel, _to: &Address) -> Result<Vec<Quote>, LogisticsError> {
        Err(LogisticsError::NotSupported("Kuaidi100 tracks parcels; it does not quote"))
    }

    async fn create_shipment(&self, _request: &ShipmentRequest) -> Result<Shipment, LogisticsError> {
        Err(LogisticsError::NotSupported("Kuaidi100 tracks parcels; it does not book shipments"))
    }

    /// Checks `sign = MD5(param + salt)` and reads the whole history the push carries.
    async fn verify_tracking_push(
        &self,
        raw: &RawMessage,
        _now: DateTime<Utc>,
    ) -> Result<Vec<TrackingPush>, LogisticsError> {
        push::verify_push(&self.config, raw)
    }

    async fn query_tracking(&self, carrier: &str, waybill: &str) -> Result<Vec<TrackingUpdate>, LogisticsError> {
        let response = self.call(api::query_request(&self.config, carrier, waybill)).await?;
        api::query_outcome(&self.config, &response)
    }

    async fn subscribe_tracking(&self, carrier: &str, waybill: &str) -> Result<(), LogisticsError> {
        let response = self.call(api::subscribe_request(&self.config, carrier, waybill)).await?;
        api::subscribe_outcome(&response)
    }
}
