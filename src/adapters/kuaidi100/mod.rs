//! Kuaidi100 (feature `kuaidi100`): tracking for every Chinese carrier through one service,
//! by push (subscription) with a query for polling.
//!
//! # Configuration
//!
//! From the Kuaidi100 enterprise account the host needs: the customer id and the
//! authorization key, a salt of its choosing (it signs the pushes), and the HTTPS URL
//! Kuaidi100 pushes to ([`Kuaidi100Config`]). Carrier names the shop uses that are not
//! Kuaidi100's codes are mapped with [`Kuaidi100Config::with_carrier_code`] (`"SF"` →
//! `"shunfeng"`). The host chooses the HTTP client by implementing
//! [`HttpTransport`](crate::adapters::http::HttpTransport) (or uses `ReqwestTransport`, feature
//! `provider-http`), and answers each push with [`Kuaidi100::reply`].
//!
//! Kuaidi100 books no shipments: [`Kuaidi100`] answers `quote` and `create_shipment` with
//! [`LogisticsError::NotSupported`](crate::ports::LogisticsError::NotSupported). A shop pairs it
//! with its carrier's booking adapter: `WithTracking::new(booking, kuaidi100)` books through the
//! first and tracks through the second.
//!
//! # Rules enforced
//!
//! - A push (`param=<json>&sign=<sign>`, form-encoded) is read only when `sign` is
//!   `MD5(param + salt)` in hex, compared in constant time ([`push::verify_push`]); a missing
//!   or wrong sign is `InvalidSignature`, an unreadable `param` is `Malformed`.
//! - A push repeats the waybill's whole history (`lastResult.data`): every entry becomes an
//!   update whose event id is derived from its time and text, so the same entry has the same
//!   id in every push and the core records it once.
//! - States and sub-states (`resultv2=4`) map to normalized kinds ([`state::STATES`]); an
//!   undocumented sub-state is read as its main state.
//! - A carrier code Kuaidi100 corrected (`autoCheck=1`, `comNew`) is carried on
//!   [`TrackingPush::corrected_carrier`](crate::ports::TrackingPush::corrected_carrier), which
//!   the engine records on the parcel (later polls and subscriptions use it).
//! - Subscribing (`POST /poll`) again is harmless (answer 501, "already subscribed", is
//!   success), so the engine's at-least-once delivery of `SubscribeTracking` is safe.
//!   Querying (`POST /poll/query.do`) is signed `MD5(param + key + customer)`; "no result yet"
//!   (500) is an empty history.
//! - Answer codes: 500/501/502 and HTTP 5xx are `Unavailable` (retried); every other error
//!   code (400, 408, 503, 600, 601, 700...) is `Rejected`.
//! - Times are Beijing time (UTC+8).
//!
//! The key and salt never appear in `Debug` output or errors.

pub mod api;
pub mod config;
pub mod push;
pub mod sign;
pub mod state;
mod tracker;

pub use config::{Kuaidi100Config, Secret};
pub use tracker::Kuaidi100;
