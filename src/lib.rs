//! # orderflow
//!
//! An embeddable order-workflow library for online shops: order placed → review → payment
//! (or cash on delivery) → pick & pack → ship with a waybill → tracking → receipt confirmed →
//! after-sales.
//!
//! The core is pure: [`Workflow::place`] and [`Workflow::decide`] turn a command into
//! [`Event`]s and [`Effect`]s without touching a clock, an id generator or the network, and
//! [`evolve`] applies an event. An [`Order`] is exactly the fold of its events.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use orderflow::*;
//!
//! let workflow = Workflow::default();
//! let alice = CustomerId::new("alice").unwrap();
//! let form = PlaceOrderForm {
//!     customer: "alice".into(),
//!     lines: vec![LineForm {
//!         sku: "TEA-01".into(),
//!         product_name: "Oolong tea 250g".into(),
//!         variant: Default::default(),
//!         quantity: 2,
//!         unit_price: Money::new(4_800, Currency::CNY),
//!     }],
//!     shipping_address: AddressForm {
//!         recipient: "Li Lei".into(),
//!         phone: "13800138000".into(),
//!         country: "CN".into(),
//!         province: "Zhejiang".into(),
//!         city: "Hangzhou".into(),
//!         district: "Xihu".into(),
//!         street: vec!["1 Longjing Road".into()],
//!         postal_code: "310000".into(),
//!     },
//!     payment: PaymentMethod::Online { provider: "alipay".into() },
//!     shipping_fee: Money::new(800, Currency::CNY),
//!     discount: Money::zero(Currency::CNY),
//!     buyer_note: String::new(),
//! };
//! let ctx = Ctx::at(Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap());
//! let new = NewOrder { id: OrderId::new_v7(), number: OrderNumber::from_value(1).unwrap() };
//!
//! let placed = workflow.place(&Actor::buyer(alice), &form, new, &ctx).unwrap();
//! let mut order = Order::from_events(&placed.events).unwrap();
//! assert_eq!(order.status(), OrderStatus::AwaitingPayment);
//! assert_eq!(order.totals().total, Money::new(10_400, Currency::CNY));
//!
//! // The provider's verified notification:
//! let pay = Command::new(
//!     Actor::PaymentProvider { provider: "alipay".into() },
//!     Action::CapturePayment { txn_id: "T-1".into(), amount: order.totals().total },
//! );
//! for event in workflow.decide(&order, &pay, &ctx).unwrap().events {
//!     evolve(&mut order, &event);
//! }
//! assert_eq!(order.status(), OrderStatus::ReadyToShip);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod actor;
pub mod adapters;
pub mod address;
pub mod carrier_choice;
pub mod command;
pub mod config;
pub mod decide;
pub mod effect;
pub mod engine;
pub mod error;
pub mod event;
pub mod ids;
pub mod locale;
pub mod money;
pub mod order;
pub mod order_number;
pub mod placement;
pub mod ports;
pub mod stored;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub mod timeline;
pub mod transitions;
pub mod validation;

pub use actor::{Actor, ActorKind, Role};
pub use adapters::memory::{MemoryInventory, MemoryStore};
pub use address::Address;
pub use carrier_choice::ChoiceReason;
pub use command::{Action, Command, CommandKind};
pub use config::{UnappliedPayments, WorkflowConfig};
pub use decide::{Ctx, Decision, NewOrder, ReplayError, Workflow, evolve};
pub use effect::{Audience, CaseUpdateState, Effect, Notification, NotificationKind, StockItem};
pub use error::Error;
pub use event::{Change, Event};
pub use ids::{CaseId, CustomerId, LineId, OrderId, PackageId, RefundId, Sku, StaffId};
pub use locale::{Catalogue, Locale, Localizer};
pub use money::{Currency, DecimalError, Money, MoneyError};
pub use order::{AnomalyReason, CancelReason, Order, OrderStatus, RefundFailure, RefundReason};
pub use order_number::OrderNumber;
pub use placement::{AddressForm, LineForm, OrderDraft, PaymentMethod, PlaceOrderForm};
pub use timeline::{TimelineEntry, buyer_timeline, staff_view};
