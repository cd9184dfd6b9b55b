//! Adapters that ship with the library.
//!
//! [`memory`] holds in-process implementations of the store and inventory ports: complete,
//! thread-safe and keeping the same contract as the durable stores, for tests, examples,
//! prototypes and single-process hosts that do not need durability.
//!
//! `sqlite` (feature `sqlite`, or `sqlite-bundled` to compile SQLite in) holds
//! `SqliteStore`, a durable store on one SQLite file. `postgres` (feature `postgres`) holds
//! `PgStore`, a store several app instances share.
//!
//! [`http`] holds the transport port the payment providers' adapters call their APIs through;
//! `wechatpay` (feature `wechatpay`) holds `WechatPayGateway`, the WeChat Pay API v3 gateway;
//! `alipay` (feature `alipay`) holds `AlipayGateway`, the Alipay open-platform (RSA2) gateway.
//! Both sign with `rsa_sha256`.
//! [`router`] holds [`router::PaymentRouter`], one gateway over several providers.
//! `kuaidi100` (feature `kuaidi100`) holds `Kuaidi100`, tracking through Kuaidi100, which
//! [`WithTracking`] pairs with the adapter that books shipments.

pub mod memory;

#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(feature = "postgres")]
pub mod postgres;

pub mod http;

pub mod router;
#[cfg(any(feature = "wechatpay", feature = "alipay"))]
pub mod rsa_sha256;

#[cfg(feature = "wechatpay")]
pub mod wechatpay;

#[cfg(feature = "alipay")]
pub mod alipay;
#[cfg(feature = "kuaidi100")]
pub mod kuaidi100;

mod tracking;
pub use tracking::WithTracking;
