//! Alipay open platform (feature `alipay`): the payment gateway for Alipay's desktop page,
//! mobile-browser (wap), app, QR-code (precreate) and mini-program (`alipay.trade.create`,
//! `JSAPI_PAY`, answered with the `trade_no` for `my.tradePay`) checkouts, in RSA2 public-key
//! mode. A mini-program's payer is its Alipay user id (`2088…`, sent as `buyer_id`) or its
//! OpenID (`buyer_open_id`).
//!
//! # Configuration
//!
//! From the Alipay open platform the host needs ([`AlipayConfig::new`]): the app id, the
//! merchant's partner id (`seller_id`, the 2088... PID), the app's RSA2 private key, the
//! Alipay public key (PEM, or the bare base64 the console shows), and the HTTPS `notify_url`
//! Alipay posts notifications to; optionally the `return_url` the buyer's browser comes back
//! to and the gateway ([`PRODUCTION_GATEWAY`] by default, [`SANDBOX_GATEWAY`] for tests). The
//! host chooses the HTTP client by implementing
//! [`HttpTransport`](crate::adapters::http::HttpTransport) (or uses `ReqwestTransport`,
//! feature `provider-http`), and passes it to [`AlipayGateway::new`].
//!
//! # Rules enforced
//!
//! - Every request is signed RSA2 over the sorted, non-empty parameters without `sign`
//!   ([`sign`]), with the common parameters Alipay requires and `timestamp` in Beijing time.
//! - Every answer is verified over the exact text of its `*_response` value; success and
//!   business-failure answers without a signature are refused.
//! - Notifications are verified over the sorted parameters without `sign` and `sign_type`,
//!   and must name our `app_id` and `seller_id` ([`notify`]). `trade_status` maps
//!   `WAIT_BUYER_PAY` to pending, `TRADE_SUCCESS`/`TRADE_FINISHED` to succeeded and
//!   `TRADE_CLOSED` to closed; `gmt_payment` (Beijing time) is the time of success. A refund
//!   notification (`out_biz_no`, `refund_fee`, `gmt_refund`) is read only by
//!   `verify_refund_notification`. They are answered with the plain text `success`.
//! - Refund amounts: a refund notification's `refund_fee` is the trade's refunded total so
//!   far, not the refund's own amount, so `verify_refund_notification` confirms each one with
//!   `alipay.trade.fastpay.refund.query` (by `out_request_no`) and takes `refund_amount` from
//!   it; until the query shows `refund_status=REFUND_SUCCESS` the notification is answered
//!   as not handled (Alipay sends it again). `query_refund` is the same query: no
//!   `refund_status` (not received, or failed) or `ACQ.TRADE_NOT_EXIST` is no refund there.
//! - Amounts are CNY yuan with two decimals (`"88.88"`), from 0.01 to 100,000,000.00,
//!   converted exactly to and from fen ([`Money::parse_decimal`](crate::Money::parse_decimal));
//!   more decimals, signs or junk are refused. `out_trade_no` is the order's provider
//!   reference and `out_request_no` its refund reference (letters and digits), so a retried
//!   refund is the same refund. The subject is the host's description without `/ = &`.
//! - Codes: `10000` succeeds; `ACQ.TRADE_NOT_EXIST` is no payment (query) or
//!   [`CloseOutcome::NothingToClose`](crate::ports::CloseOutcome::NothingToClose) (close);
//!   rate limits (`isp.rate-limit`, `*FREQUENCY*`) are [`GatewayError::RateLimited`];
//!   `20000` and `ACQ.SYSTEM_ERROR` are [`GatewayError::Unavailable`] (retried); everything
//!   else (`40002`, `ACQ.TRADE_HAS_SUCCESS`, `ACQ.TRADE_STATUS_ERROR`,
//!   `ACQ.REASON_TRADE_REFUND_FEE_ERR`, ...) is [`GatewayError::Rejected`]. A refund answered
//!   `fund_change=N` is a pending [`RefundReceipt`](crate::ports::RefundReceipt).
//!
//! The private key never appears in `Debug` output or errors.
//!
//! [`GatewayError::RateLimited`]: crate::ports::GatewayError::RateLimited
//! [`GatewayError::Unavailable`]: crate::ports::GatewayError::Unavailable
//! [`GatewayError::Rejected`]: crate::ports::GatewayError::Rejected

pub mod api;
pub mod config;
mod error;
mod gateway;
pub mod notify;
pub mod sign;

pub use config::{AlipayConfig, PRODUCTION_GATEWAY, SANDBOX_GATEWAY};
pub use error::AlipayError;
pub use gateway::AlipayGateway;
