//! Ports: the traits a host implements to connect orderflow to its world.
//!
//! Every method returns `impl Future<Output = Result<..>> + Send`, so implementors simply write
//! `async fn`, and the library needs no async runtime. Each port has a `Dyn*` twin with boxed
//! futures and a blanket implementation, for hosts that choose adapters at runtime:
//! `Arc<dyn DynOrderStore>` is itself an [`OrderStore`] (and likewise for every port).

pub mod clock;
pub mod inventory;
pub mod logistics;
pub mod notifier;
pub mod payment;
pub mod store;

use std::future::Future;
use std::pin::Pin;

pub use clock::{Clock, SystemClock};
pub use inventory::{DynInventory, Inventory, InventoryError};
pub use logistics::{DynLogistics, Logistics, LogisticsError, Parcel, Quote, Shipment, ShipmentRequest, TrackingPush};
pub use notifier::{DynNotifier, Notifier, NotifyError};
pub use payment::{
    AppParameters, Checkout, CloseOutcome, DynPaymentGateway, GatewayError, JsapiParameters, PaymentGateway,
    PaymentNotification, PaymentRequest, PaymentSession, PaymentStatus, RawMessage, RefundReceipt, RefundRequest,
    WebhookReply, parse_refund_reference, refund_reference,
};
pub use store::{
    Commit, DeadLetter, DueDeadline, DynOrderStore, OrderFilter, OrderPage, OrderStore, OrderSummary, OutboxEntry,
    OutboxItem, StoreError,
};

/// A boxed, sendable future: what the `Dyn*` twins return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
