//! Ports: the traits a host implements to connect orderflow to its world.
//!
//! Every method returns `impl Future<Output = Result<..>> + Send`, so implementors simply write
//! `async fn`, and the library needs no async runtime. For hosts that choose adapters at
//! runtime, the `dynosaur` crate generates each port's `Dyn*` type (boxed futures, no
//! hand-written forwarding): `Box<DynPaymentGateway<'static>>` (`DynPaymentGateway::new_box`)
//! and `Arc<DynPaymentGateway<'static>>` (`DynPaymentGateway::new_arc`) are ports like any
//! other, and likewise for every port; [`DynOrderStore`] holds both halves of a store.

pub mod clock;
pub mod feed;
pub mod inventory;
pub mod logistics;
pub mod notifier;
pub mod operations;
pub mod payment;
pub mod queries;
pub mod queue;
pub mod repository;
pub mod store;

pub use clock::{Clock, SystemClock};
pub use feed::{FeedCursor, FeedEvent, FeedPage};
pub use inventory::{DynInventory, Inventory, InventoryError};
pub use logistics::{DynLogistics, Logistics, LogisticsError, Parcel, Quote, Shipment, ShipmentRequest, TrackingPush};
pub use notifier::{DynNotifier, Notifier, NotifyError};
pub use operations::{DeadLetterCursor, DeadLetterPage, OutboxBacklog};
pub use payment::{
    AppParameters, Checkout, CloseOutcome, DynPaymentGateway, GatewayError, JsapiParameters, PROVIDER_HEADER,
    PaymentGateway, PaymentNotification, PaymentRequest, PaymentSession, PaymentStatus, RawMessage, RefundNotification,
    RefundReceipt, RefundRequest, RefundStatus, WebhookReply, parse_refund_reference, refund_reference,
};
pub use queries::{CursorError, OrderQuery, QueryColumns, QueryCursor, QueryPage, SortOrder, StatusCounts};
pub use queue::{DynWorkQueue, WorkQueue};
pub use repository::{DynOrderRepository, OrderRepository};
pub use store::{
    Commit, DeadLetter, DueDeadline, DynOrderStore, OrderFilter, OrderPage, OrderStore, OrderSummary, OutboxEntry,
    OutboxItem, StoreError,
};
