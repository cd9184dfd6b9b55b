//! The payment gateway port (WeChat Pay, Alipay, Stripe, ...).
//!
//! Verification of a notification is the adapter's job (signature, timestamp tolerance); the
//! engine accepts nothing that did not come through [`PaymentGateway::verify_notification`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{OrderId, RefundId};
use crate::money::Money;
use crate::order_number::{OrderNumber, PROVIDER_REFERENCE_LEN};

/// Raw bytes of a callback as they came over the wire, with their headers.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RawMessage {
    /// Request headers (names compared case-insensitively by adapters).
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Vec<u8>,
}

impl RawMessage {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The header naming the provider a webhook came from, set by the host from the webhook's
/// URL with [`RawMessage::routed_to`] and read by
/// [`PaymentRouter`](crate::adapters::router::PaymentRouter).
pub const PROVIDER_HEADER: &str = "x-orderflow-provider";

impl RawMessage {
    /// The same message marked as coming from `provider` (any such mark it had is replaced, so
    /// a sender cannot choose it): how the host tells a
    /// [`PaymentRouter`](crate::adapters::router::PaymentRouter) which provider's webhook URL
    /// was called. The chosen provider still verifies the signature.
    #[must_use]
    pub fn routed_to(mut self, provider: &str) -> RawMessage {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(PROVIDER_HEADER));
        self.headers.push((PROVIDER_HEADER.to_owned(), provider.to_owned()));
        self
    }
}

impl fmt::Debug for RawMessage {
    /// Never prints the body or header values: they may carry signatures and payment data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawMessage")
            .field("headers", &self.headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// What the engine asks the gateway to charge. Build it with [`PaymentRequest::new`]: fields
/// are added as providers need them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PaymentRequest {
    /// Order id.
    pub order_id: OrderId,
    /// Order number (what providers show the buyer and send back in notifications).
    pub order_number: OrderNumber,
    /// Amount to charge: the outstanding amount.
    pub amount: Money,
    /// Provider chosen by the buyer.
    pub provider: String,
    /// Shown to the buyer by the provider; the host chooses it
    /// ([`crate::engine::Engine::with_payment_description`]).
    pub description: String,
    /// Which checkout the buyer pays in (WeChat JSAPI, app, H5, QR code, ...).
    pub checkout: Checkout,
    /// When the provider should stop accepting the payment (WeChat Pay `time_expire`); `None`:
    /// the provider's default.
    pub expires_at: Option<DateTime<Utc>>,
}

impl PaymentRequest {
    /// A request for the provider's default checkout ([`Checkout::Native`]) and no expiry.
    pub fn new(
        order_id: OrderId,
        order_number: OrderNumber,
        amount: Money,
        provider: impl Into<String>,
        description: impl Into<String>,
    ) -> PaymentRequest {
        PaymentRequest {
            order_id,
            order_number,
            amount,
            provider: provider.into(),
            description: description.into(),
            checkout: Checkout::default(),
            expires_at: None,
        }
    }

    /// The same request in `checkout`.
    pub fn with_checkout(mut self, checkout: Checkout) -> PaymentRequest {
        self.checkout = checkout;
        self
    }

    /// The same request, payable until `expires_at`.
    pub fn with_expiry(mut self, expires_at: Option<DateTime<Utc>>) -> PaymentRequest {
        self.expires_at = expires_at;
        self
    }

    /// The order's reference at the provider (`out_trade_no`): see
    /// [`OrderNumber::provider_reference`].
    pub fn provider_reference(&self) -> String {
        self.order_number.provider_reference()
    }
}

/// Where the buyer pays, which decides what the provider is asked to open and what
/// [`PaymentSession`] comes back. More kinds come with more providers (Alipay page, wap, app).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Checkout {
    /// A QR code the buyer scans (WeChat Pay Native): the default, as it works from any page.
    #[default]
    Native,
    /// Inside WeChat (official-account page or mini-program, WeChat Pay JSAPI): the buyer's
    /// `openid` under the merchant's app id. Answered by [`PaymentSession::Jsapi`].
    Jsapi {
        /// The payer's openid.
        openid: String,
    },
    /// In the shop's own mobile app (WeChat Pay App). Answered by [`PaymentSession::App`].
    App,
    /// A mobile browser outside WeChat (WeChat Pay H5). Answered by
    /// [`PaymentSession::Redirect`].
    H5 {
        /// The buyer's IP address, which the provider requires and checks.
        client_ip: String,
    },
    /// A desktop browser sent to the provider's payment page (Alipay `alipay.trade.page.pay`).
    /// Answered by [`PaymentSession::Redirect`].
    Page,
    /// Inside the provider's mini-program, by the payer's id there. Alipay
    /// (`alipay.trade.create`, `JSAPI_PAY`): the user id (`2088` and 12 digits, sent as
    /// `buyer_id`) or the OpenID (`buyer_open_id`), answered by [`PaymentSession::TradeNo`]
    /// for `my.tradePay`. WeChat Pay: the openid, as [`Checkout::Jsapi`].
    MiniProgram {
        /// The payer's id at the provider.
        payer: String,
    },
}

/// The signed parameters of WeChat's `wx.requestPayment` (JSAPI and mini-program), named as
/// the page passes them on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JsapiParameters {
    /// The app id the openid belongs to.
    pub app_id: String,
    /// Seconds since the epoch, as text.
    pub time_stamp: String,
    /// Random string.
    pub nonce_str: String,
    /// `prepay_id=...`.
    pub package: String,
    /// `RSA`.
    pub sign_type: String,
    /// The merchant's signature over the four values above.
    pub pay_sign: String,
}

/// The signed parameters of WeChat's app SDK (`PayReq`), named as the SDK takes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppParameters {
    /// App id.
    pub appid: String,
    /// Merchant id.
    pub partnerid: String,
    /// The prepay id.
    pub prepayid: String,
    /// `Sign=WXPay`.
    pub package: String,
    /// Random string.
    pub noncestr: String,
    /// Seconds since the epoch, as text.
    pub timestamp: String,
    /// The merchant's signature.
    pub sign: String,
}

/// What the buyer needs to pay. More kinds come with more checkouts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PaymentSession {
    /// Send the buyer to this page.
    Redirect {
        /// URL.
        url: String,
    },
    /// Show this QR payload.
    QrCode {
        /// Payload.
        payload: String,
    },
    /// Call `wx.requestPayment` with these (WeChat JSAPI and mini-program).
    Jsapi(JsapiParameters),
    /// Hand these to the provider's app SDK.
    App(AppParameters),
    /// Hand this signed order string to the provider's app SDK (Alipay's `orderStr`).
    AppOrder {
        /// The order string.
        order_string: String,
    },
    /// Pass this provider trade number to the mini-program's payment call (Alipay
    /// `my.tradePay({ tradeNO })`, from `alipay.trade.create`).
    TradeNo {
        /// The provider's trade number.
        trade_no: String,
    },
}

/// A payment's status at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Money captured.
    Succeeded,
    /// Waiting for the buyer.
    Pending,
    /// The buyer's payment failed.
    Failed,
    /// Closed: can no longer be paid.
    Closed,
}

/// A verified, parsed payment notification (or query result). Build it with
/// [`PaymentNotification::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PaymentNotification {
    /// The order number the provider was given.
    pub order_number: OrderNumber,
    /// The provider's transaction id: the deduplication key.
    pub txn_id: String,
    /// Amount (and currency) the provider reports.
    pub amount: Money,
    /// Status.
    pub status: PaymentStatus,
    /// When the provider says the payment succeeded (not when we heard of it), for
    /// reconciliation; `None` when the provider does not say.
    #[serde(default)]
    pub succeeded_at: Option<DateTime<Utc>>,
    /// What the payer paid, when the provider reports it apart from the order amount (WeChat
    /// Pay `payer_total`: lower when a provider coupon paid part).
    #[serde(default)]
    pub payer_total: Option<Money>,
    /// Which provider sent it (e.g. `wechatpay`); `None` when the gateway does not say.
    #[serde(default)]
    pub provider: Option<String>,
}

impl PaymentNotification {
    /// A notification with no provider time, payer total or provider name.
    pub fn new(order_number: OrderNumber, txn_id: impl Into<String>, amount: Money, status: PaymentStatus) -> Self {
        PaymentNotification {
            order_number,
            txn_id: txn_id.into(),
            amount,
            status,
            succeeded_at: None,
            payer_total: None,
            provider: None,
        }
    }
}

/// A refund to make. `key` is the idempotency key: a retried call with the same key must
/// never refund twice. Build it with [`RefundRequest::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefundRequest {
    /// Idempotency key.
    pub key: String,
    /// Order number.
    pub order_number: OrderNumber,
    /// Which refund of the order.
    pub refund: RefundId,
    /// Amount.
    pub amount: Money,
    /// Provider.
    pub provider: String,
    /// Why (shown to the buyer by some providers); may be empty. The engine sends the
    /// refund's [`crate::RefundReason`] in the shop's language
    /// ([`crate::locale::Localizer::refund_reason`]).
    pub reason: String,
    /// What the buyer paid for the order, which WeChat Pay wants with every refund; `None`:
    /// the refund amount.
    pub paid_total: Option<Money>,
}

impl RefundRequest {
    /// A refund with no reason and no paid total.
    pub fn new(
        key: impl Into<String>,
        order_number: OrderNumber,
        refund: RefundId,
        amount: Money,
        provider: impl Into<String>,
    ) -> RefundRequest {
        RefundRequest {
            key: key.into(),
            order_number,
            refund,
            amount,
            provider: provider.into(),
            reason: String::new(),
            paid_total: None,
        }
    }

    /// The refund's reference at the provider (WeChat Pay `out_refund_no`, Alipay
    /// `out_request_no`): see [`refund_reference`].
    pub fn provider_reference(&self) -> String {
        refund_reference(&self.order_number, self.refund)
    }
}

/// A refund's reference at a payment provider: the order's
/// [provider reference](OrderNumber::provider_reference), `R`, and the refund's number within
/// the order, e.g. `014D2PF2DBR2`. Letters and digits only, at most 21 characters, so both
/// WeChat Pay (`out_refund_no`: 1 to 64 of letters, digits, `_-|*@`) and Alipay
/// (`out_request_no`: up to 64) accept it; the same refund always gets the same reference, so
/// a retried call cannot refund twice. [`parse_refund_reference`] reads it back.
pub fn refund_reference(order: &OrderNumber, refund: RefundId) -> String {
    format!("{}R{}", order.provider_reference(), refund.0)
}

/// The order and refund a [`refund_reference`] names (as a provider's refund notification
/// sends it back); `None` for anything else.
pub fn parse_refund_reference(reference: &str) -> Option<(OrderNumber, RefundId)> {
    // The order part is fixed-length (and may itself hold an `R`).
    let number = OrderNumber::from_provider_reference(reference.get(..PROVIDER_REFERENCE_LEN)?).ok()?;
    let digits = reference.get(PROVIDER_REFERENCE_LEN..)?.strip_prefix('R')?;
    let refund = digits.parse::<u32>().ok()?;
    // Canonical digits only (no sign, no leading zero), so one refund has one reference.
    (refund.to_string() == digits).then_some((number, RefundId(refund)))
}

/// The provider's confirmation of a refund. Build it with [`RefundReceipt::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefundReceipt {
    /// Provider's refund reference.
    pub reference: String,
    /// Whether the money has gone back or the provider is still processing it (WeChat Pay
    /// `PROCESSING`: the refund is accepted and its result comes later).
    pub pending: bool,
}

impl RefundReceipt {
    /// A completed refund.
    pub fn new(reference: impl Into<String>) -> RefundReceipt {
        RefundReceipt { reference: reference.into(), pending: false }
    }

    /// An accepted refund whose result comes later.
    pub fn pending(reference: impl Into<String>) -> RefundReceipt {
        RefundReceipt { reference: reference.into(), pending: true }
    }
}

/// A refund's outcome at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RefundStatus {
    /// The money went back to the buyer (WeChat Pay `REFUND.SUCCESS`).
    Succeeded,
    /// Accepted, still being processed (WeChat Pay `PROCESSING`).
    Pending,
    /// The provider could not send the money back (WeChat Pay `REFUND.ABNORMAL` or `CLOSED`):
    /// customer service must refund another way.
    Failed,
}

/// A verified, parsed refund notification (or refund query result). Build it with
/// [`RefundNotification::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RefundNotification {
    /// The order number the provider was given.
    pub order_number: OrderNumber,
    /// Which refund of the order (read back from the refund reference, see
    /// [`super::parse_refund_reference`]).
    pub refund: RefundId,
    /// The provider's refund id.
    pub provider_refund_id: String,
    /// The amount refunded.
    pub amount: Money,
    /// Outcome.
    pub status: RefundStatus,
    /// When the provider says the money went back; `None` when it does not say.
    #[serde(default)]
    pub succeeded_at: Option<DateTime<Utc>>,
    /// Which provider sent it (e.g. `wechatpay`); `None` when the gateway does not say.
    #[serde(default)]
    pub provider: Option<String>,
}

impl RefundNotification {
    /// A notification with no provider time or provider name.
    pub fn new(
        order_number: OrderNumber,
        refund: RefundId,
        provider_refund_id: impl Into<String>,
        amount: Money,
        status: RefundStatus,
    ) -> Self {
        RefundNotification {
            order_number,
            refund,
            provider_refund_id: provider_refund_id.into(),
            amount,
            status,
            succeeded_at: None,
            provider: None,
        }
    }
}

/// What closing an unpaid payment found at the provider (see
/// [`PaymentGateway::close_payment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseOutcome {
    /// The provider closed the payment: it can no longer be paid.
    Closed,
    /// The provider has no such payment (it was never opened): there is nothing to close, and
    /// nothing can be paid.
    NothingToClose,
}

/// What to answer the provider's webhook call so that it stops (or keeps) retrying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookReply {
    /// HTTP status.
    pub status: u16,
    /// Body the provider expects.
    pub body: String,
}

/// Why a gateway call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The signature does not verify: the message is forged or corrupted. Answer 401.
    #[error("payment notification signature is invalid")]
    InvalidSignature,
    /// The signed timestamp is outside the tolerance: a replay. Answer 401.
    #[error("payment notification timestamp is outside the tolerance")]
    StaleTimestamp,
    /// The message could not be parsed. Answer 400.
    #[error("payment notification is malformed: {0}")]
    Malformed(String),
    /// The provider refused the request (e.g. refund above the paid amount). Do not retry.
    #[error("payment provider refused: {0}")]
    Rejected(String),
    /// The provider could not be reached or timed out; retry later with the same key.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused for now because of its rate limits (WeChat Pay's
    /// `FREQUENCY_LIMITED`, e.g. one refund per order per minute); retry later with the same
    /// key. Not a failure of the request itself.
    #[error("payment provider rate limit: {0}")]
    RateLimited(String),
}

impl GatewayError {
    /// A stable, machine-readable code (snake_case, unique across the crate's errors), listed
    /// in `docs/ERRORS.md`.
    pub fn code(&self) -> &'static str {
        match self {
            GatewayError::InvalidSignature => "payment_invalid_signature",
            GatewayError::StaleTimestamp => "payment_stale_timestamp",
            GatewayError::Malformed(_) => "payment_malformed",
            GatewayError::Rejected(_) => "payment_rejected",
            GatewayError::Unavailable(_) => "payment_unavailable",
            GatewayError::RateLimited(_) => "payment_rate_limited",
        }
    }

    /// True when retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, GatewayError::Unavailable(_) | GatewayError::RateLimited(_))
    }
}

/// A payment provider.
#[dynosaur::dynosaur(pub DynPaymentGateway = dyn(box) PaymentGateway)]
pub trait PaymentGateway: Send + Sync {
    /// Starts a payment; returns what the buyer needs.
    fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> impl Future<Output = Result<PaymentSession, GatewayError>> + Send;
    /// Verifies and parses a raw notification. Must reject bad signatures and stale timestamps.
    fn verify_notification(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<PaymentNotification, GatewayError>> + Send;
    /// What `provider` knows about the order's payment (`None`: never paid or unknown). The
    /// provider is the one the payment was opened with ([`PaymentRequest::provider`]), so a
    /// gateway for several providers ([`crate::adapters::router::PaymentRouter`]) asks the
    /// right one; a gateway for one provider may ignore it.
    fn query_payment(
        &self,
        order_number: &OrderNumber,
        provider: &str,
    ) -> impl Future<Output = Result<Option<PaymentNotification>, GatewayError>> + Send;
    /// Closes the unpaid payment so it can no longer be paid.
    ///
    /// Answer [`CloseOutcome::NothingToClose`] when the provider has no payment for the order
    /// (the buyer never opened the payment page: WeChat Pay's `ORDER_NOT_EXIST`, Alipay's
    /// `ACQ.TRADE_NOT_EXIST`): nothing can be paid, so the engine goes on as if it was closed.
    /// Answer [`GatewayError::Rejected`] only when the provider will not close it (most often
    /// because it was paid meanwhile: the engine then queries it and records the payment).
    /// `provider` as for [`PaymentGateway::query_payment`].
    fn close_payment(
        &self,
        order_number: &OrderNumber,
        provider: &str,
    ) -> impl Future<Output = Result<CloseOutcome, GatewayError>> + Send;
    /// Refunds, idempotently by `request.key`.
    fn refund(&self, request: &RefundRequest) -> impl Future<Output = Result<RefundReceipt, GatewayError>> + Send;
    /// Verifies and parses a raw refund notification (WeChat Pay `REFUND.SUCCESS` /
    /// `REFUND.ABNORMAL`, Alipay's refund notify): the outcome of a refund answered as pending.
    /// The default refuses: a gateway whose refunds are always answered at once sends none.
    fn verify_refund_notification(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<RefundNotification, GatewayError>> + Send {
        let _ = (raw, now);
        std::future::ready(Err(GatewayError::Rejected("this gateway sends no refund notifications".into())))
    }
    /// What `provider` knows about refund `refund` of the order (`None`: unknown there), for a
    /// refund answered as pending whose notification may have been lost
    /// ([`crate::engine::Engine::reconcile_payments`]). The default knows nothing: a gateway
    /// whose refunds are always answered at once has none pending.
    fn query_refund(
        &self,
        order_number: &OrderNumber,
        refund: RefundId,
        provider: &str,
    ) -> impl Future<Output = Result<Option<RefundNotification>, GatewayError>> + Send {
        let _ = (order_number, refund, provider);
        std::future::ready(Ok(None))
    }
    /// The answer to a webhook that was handled (`true`, also for duplicates) or must be
    /// retried by the provider (`false`).
    fn reply(&self, handled: bool) -> WebhookReply {
        if handled {
            WebhookReply { status: 200, body: "success".into() }
        } else {
            WebhookReply { status: 500, body: "retry".into() }
        }
    }
    /// [`PaymentGateway::reply`] for the webhook `raw`: a gateway for several providers answers
    /// in the format of the provider `raw` came from.
    fn reply_to(&self, raw: &RawMessage, handled: bool) -> WebhookReply {
        let _ = raw;
        self.reply(handled)
    }
}

impl<T: PaymentGateway + ?Sized> PaymentGateway for Arc<T> {
    fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> impl Future<Output = Result<PaymentSession, GatewayError>> + Send {
        (**self).create_payment(request)
    }
    fn verify_notification(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<PaymentNotification, GatewayError>> + Send {
        (**self).verify_notification(raw, now)
    }
    fn query_payment(
        &self,
        order_number: &OrderNumber,
        provider: &str,
    ) -> impl Future<Output = Result<Option<PaymentNotification>, GatewayError>> + Send {
        (**self).query_payment(order_number, provider)
    }
    fn close_payment(
        &self,
        order_number: &OrderNumber,
        provider: &str,
    ) -> impl Future<Output = Result<CloseOutcome, GatewayError>> + Send {
        (**self).close_payment(order_number, provider)
    }
    fn refund(&self, request: &RefundRequest) -> impl Future<Output = Result<RefundReceipt, GatewayError>> + Send {
        (**self).refund(request)
    }
    fn verify_refund_notification(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<RefundNotification, GatewayError>> + Send {
        (**self).verify_refund_notification(raw, now)
    }
    fn query_refund(
        &self,
        order_number: &OrderNumber,
        refund: RefundId,
        provider: &str,
    ) -> impl Future<Output = Result<Option<RefundNotification>, GatewayError>> + Send {
        (**self).query_refund(order_number, refund, provider)
    }
    fn reply(&self, handled: bool) -> WebhookReply {
        (**self).reply(handled)
    }
    fn reply_to(&self, raw: &RawMessage, handled: bool) -> WebhookReply {
        (**self).reply_to(raw, handled)
    }
}
