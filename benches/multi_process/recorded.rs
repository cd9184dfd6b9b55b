//! What a child process delivered, as the receiving side saw it: every port call an outbox
//! effect makes is recorded with the time it was made, under an identity the parent can
//! compute from the outbox row (the effect's key where the port is given one).

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use orderflow::order::TrackingUpdate;
use orderflow::ports::{
    CloseOutcome, GatewayError, Inventory, InventoryError, Logistics, LogisticsError, Notifier, NotifyError, Parcel,
    PaymentGateway, PaymentNotification, PaymentRequest, PaymentSession, Quote, RawMessage, RefundNotification,
    RefundReceipt, RefundRequest, Shipment, ShipmentRequest, TrackingPush, WebhookReply,
};
use orderflow::{Address, Effect, Notification, OrderNumber, RefundId, StockItem};

/// The identity of a tracking subscription, which the port is given without a key.
pub fn subscribe_identity(carrier: &str, waybill: &str) -> String {
    format!("subscribe/{carrier}/{waybill}")
}

/// The identity of a payment close, which the port is given without a key.
pub fn close_identity(number: &OrderNumber, provider: &str) -> String {
    format!("close/{number}/{provider}")
}

/// The identity under which the delivery of the outbox row `key` holding `effect` (of the
/// order numbered `number`) is recorded; `None` for an effect no port is called for.
pub fn identity(key: &str, effect: &Effect, number: &OrderNumber) -> Option<String> {
    match effect {
        Effect::SubscribeTracking { carrier, waybill, .. } => Some(subscribe_identity(carrier, waybill)),
        Effect::ClosePayment { provider } => Some(close_identity(number, provider)),
        Effect::ReserveStock { .. } | Effect::Schedule { .. } => None,
        _ => Some(key.to_owned()),
    }
}

tokio::task_local! {
    /// Set while the timer runs `run_due`: the payment closes made then are the deadline's
    /// own (before it cancels an unpaid order), not outbox deliveries.
    pub static DEADLINES: ();
}

/// Every delivery one process made: identity and Unix time in microseconds.
#[derive(Debug, Default)]
pub struct DeliveryLog {
    entries: Mutex<Vec<(String, i64)>>,
}

impl DeliveryLog {
    fn record(&self, identity: String) {
        let at = Utc::now().timestamp_micros();
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).push((identity, at));
    }

    /// The deliveries so far.
    pub fn take(&self) -> Vec<(String, i64)> {
        std::mem::take(&mut *self.entries.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The notifier of a child: it records and sends nothing else.
impl Notifier for DeliveryLog {
    async fn send(&self, key: &str, _notification: &Notification) -> Result<(), NotifyError> {
        self.record(key.to_owned());
        Ok(())
    }
}

/// A port whose effect deliveries are recorded in a [`DeliveryLog`] once they succeed.
pub struct Recorded<P> {
    pub inner: P,
    pub log: std::sync::Arc<DeliveryLog>,
}

impl<P> Recorded<P> {
    fn note<T, E>(&self, identity: impl FnOnce() -> String, answer: Result<T, E>) -> Result<T, E> {
        if answer.is_ok() {
            self.log.record(identity());
        }
        answer
    }
}

impl<P: Inventory> Inventory for Recorded<P> {
    /// Before the commit, not from the outbox: not recorded.
    async fn reserve(&self, key: &str, items: &[StockItem]) -> Result<(), InventoryError> {
        self.inner.reserve(key, items).await
    }
    async fn release(&self, key: &str, items: &[StockItem]) -> Result<(), InventoryError> {
        self.note(|| key.to_owned(), self.inner.release(key, items).await)
    }
    async fn commit(&self, key: &str, items: &[StockItem]) -> Result<(), InventoryError> {
        self.note(|| key.to_owned(), self.inner.commit(key, items).await)
    }
    async fn restock(&self, key: &str, items: &[StockItem]) -> Result<(), InventoryError> {
        self.note(|| key.to_owned(), self.inner.restock(key, items).await)
    }
}

impl<P: Logistics> Logistics for Recorded<P> {
    async fn quote(&self, parcel: &Parcel, to: &Address) -> Result<Vec<Quote>, LogisticsError> {
        self.inner.quote(parcel, to).await
    }
    async fn create_shipment(&self, request: &ShipmentRequest) -> Result<Shipment, LogisticsError> {
        self.note(|| request.key.clone(), self.inner.create_shipment(request).await)
    }
    async fn verify_tracking_push(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> Result<Vec<TrackingPush>, LogisticsError> {
        self.inner.verify_tracking_push(raw, now).await
    }
    async fn query_tracking(&self, carrier: &str, waybill: &str) -> Result<Vec<TrackingUpdate>, LogisticsError> {
        self.inner.query_tracking(carrier, waybill).await
    }
    async fn subscribe_tracking(&self, carrier: &str, waybill: &str) -> Result<(), LogisticsError> {
        self.note(|| subscribe_identity(carrier, waybill), self.inner.subscribe_tracking(carrier, waybill).await)
    }
}

impl<P: PaymentGateway> PaymentGateway for Recorded<P> {
    async fn create_payment(&self, request: &PaymentRequest) -> Result<PaymentSession, GatewayError> {
        self.inner.create_payment(request).await
    }
    async fn verify_notification(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> Result<PaymentNotification, GatewayError> {
        self.inner.verify_notification(raw, now).await
    }
    async fn query_payment(
        &self,
        order_number: &OrderNumber,
        provider: &str,
    ) -> Result<Option<PaymentNotification>, GatewayError> {
        self.inner.query_payment(order_number, provider).await
    }
    /// Recorded when the outbox delivers it, not when `run_due` closes the session first.
    async fn close_payment(&self, order_number: &OrderNumber, provider: &str) -> Result<CloseOutcome, GatewayError> {
        let answer = self.inner.close_payment(order_number, provider).await;
        if DEADLINES.try_with(|()| ()).is_ok() {
            return answer;
        }
        self.note(|| close_identity(order_number, provider), answer)
    }
    async fn refund(&self, request: &RefundRequest) -> Result<RefundReceipt, GatewayError> {
        self.note(|| request.key.clone(), self.inner.refund(request).await)
    }
    async fn verify_refund_notification(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> Result<RefundNotification, GatewayError> {
        self.inner.verify_refund_notification(raw, now).await
    }
    async fn query_refund(
        &self,
        order_number: &OrderNumber,
        refund: RefundId,
        provider: &str,
    ) -> Result<Option<RefundNotification>, GatewayError> {
        self.inner.query_refund(order_number, refund, provider).await
    }
    fn reply(&self, handled: bool) -> WebhookReply {
        self.inner.reply(handled)
    }
    fn reply_to(&self, raw: &RawMessage, handled: bool) -> WebhookReply {
        self.inner.reply_to(raw, handled)
    }
}
