//! WeChat Pay API v3 (feature `wechatpay`): the payment gateway for WeChat's JSAPI and
//! mini-program, App, H5 and Native checkouts.
//!
//! # Configuration
//!
//! From the merchant platform the host needs: the merchant id, the app id payments are made
//! under, the serial of the merchant API certificate and its private key
//! (`apiclient_key.pem`), the APIv3 key (32 characters) and the HTTPS URL WeChat Pay calls
//! back ([`WechatPayConfig`]). Platform keys need no configuration: they are downloaded from
//! `GET /v3/certificates` on first use and again when a message names a new serial (a
//! rotation); a host in WeChat's "platform public key" mode adds its key with
//! [`PlatformKeys::insert_public_key_pem`]. The host chooses the HTTP client by implementing
//! [`HttpTransport`](crate::adapters::http::HttpTransport) (or uses `ReqwestTransport`, feature
//! `provider-http`), and passes it to [`WechatPayGateway::new`].
//!
//! # Rules enforced
//!
//! - Every request is signed (`Authorization: WECHATPAY2-SHA256-RSA2048 ...`, [`sign`]).
//! - Every answer and notification is verified before it is read ([`verify`]): the signature
//!   with the platform key its `Wechatpay-Serial` names, the timestamp within ±5 minutes. An
//!   unknown serial causes at most one certificate download a minute.
//! - Notification resources and certificates are decrypted with AES-256-GCM under the APIv3
//!   key ([`decrypt`]); an altered ciphertext is refused. A notification for another merchant
//!   id or app id is refused.
//! - Amounts are integer fen; only CNY is accepted. `out_trade_no` is the order's provider
//!   reference and `out_refund_no` its refund reference (letters and digits, which WeChat
//!   accepts), so a retried refund is the same refund.
//! - Error codes: `FREQUENCY_LIMITED` (and 429) are [`GatewayError::RateLimited`],
//!   `SYSTEM_ERROR` and 5xx are [`GatewayError::Unavailable`] (retried), everything else
//!   (`ORDERPAID`, `ORDER_CLOSED`, `PARAM_ERROR`, `SIGN_ERROR`, ...) is
//!   [`GatewayError::Rejected`]; closing an order WeChat does not have (`ORDER_NOT_EXIST`) is
//!   [`CloseOutcome::NothingToClose`](crate::ports::CloseOutcome::NothingToClose). A refund
//!   answered `PROCESSING` is a pending [`RefundReceipt`](crate::ports::RefundReceipt).
//! - Refund outcomes: `REFUND.SUCCESS`, `REFUND.ABNORMAL` and `REFUND.CLOSED` notifications
//!   (same envelope, signature and encryption as payments) are read by
//!   `verify_refund_notification`, and `GET /v3/refund/domestic/refunds/{out_refund_no}` by
//!   `query_refund` (`RESOURCE_NOT_EXISTS`: no such refund); the merchant id must be ours and
//!   `out_refund_no` one of our refund references of the `out_trade_no` it names.
//! - Notifications are answered 204 when handled, and 500 with `{"code":"FAIL",...}` to be
//!   sent again.
//!
//! Secrets (private key, APIv3 key) never appear in `Debug` output or errors.
//!
//! [`GatewayError::RateLimited`]: crate::ports::GatewayError::RateLimited
//! [`GatewayError::Unavailable`]: crate::ports::GatewayError::Unavailable
//! [`GatewayError::Rejected`]: crate::ports::GatewayError::Rejected

pub mod api;
pub mod config;
pub mod decrypt;
mod error;
mod gateway;
pub mod notification;
pub mod platform_certs;
pub mod sign;
pub mod verify;

pub use config::{ApiV3Key, MerchantKey, WechatPayConfig};
pub use error::WechatPayError;
pub use gateway::WechatPayGateway;
pub use platform_certs::PlatformKeys;
