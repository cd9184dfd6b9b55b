//! The API v3 calls the gateway makes, as plain values: each call is built into an
//! [`ApiRequest`] and its answer read back, with no I/O, so they are tested without a network.
//!
//! Amounts are integer fen (`Money` minor units of CNY, the only currency of domestic WeChat
//! Pay). Orders are named by [`OrderNumber::provider_reference`] (`out_trade_no`) and refunds by
//! [`refund_reference`](crate::ports::refund_reference) (`out_refund_no`), both letters and
//! digits only, which WeChat's alphabets accept.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::WechatPayError;
use super::config::WechatPayConfig;
use super::sign;
use crate::ids::RefundId;
use crate::money::{Currency, Money};
use crate::order_number::OrderNumber;
use crate::ports::{
    Checkout, PaymentNotification, PaymentRequest, PaymentSession, PaymentStatus, RefundNotification, RefundReceipt,
    RefundRequest, RefundStatus, parse_refund_reference, refund_reference,
};

/// The provider name the adapter reports in notifications.
pub const PROVIDER: &str = "wechatpay";

/// WeChat Pay's limit on `description`, in characters.
const DESCRIPTION_MAX: usize = 127;

/// One API call: method, path with query (what is signed) and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// Path and query, e.g. `/v3/pay/transactions/jsapi`.
    pub path: String,
    /// JSON body; empty for `GET`.
    pub body: String,
}

impl ApiRequest {
    fn get(path: String) -> ApiRequest {
        ApiRequest { method: "GET", path, body: String::new() }
    }

    fn post(path: String, body: &Value) -> ApiRequest {
        ApiRequest { method: "POST", path, body: body.to_string() }
    }
}

/// Beijing time, as WeChat Pay writes every time (`2018-06-08T10:34:56+08:00`).
fn beijing(at: DateTime<Utc>) -> String {
    match FixedOffset::east_opt(8 * 3600) {
        Some(offset) => at.with_timezone(&offset).to_rfc3339_opts(SecondsFormat::Secs, false),
        None => at.to_rfc3339_opts(SecondsFormat::Secs, false),
    }
}

fn fen(amount: Money) -> Result<i64, WechatPayError> {
    if amount.currency != Currency::CNY {
        return Err(WechatPayError::Unsupported(format!("currency {}", amount.currency.as_str())));
    }
    if !amount.is_positive() {
        return Err(WechatPayError::Unsupported("a zero or negative amount".into()));
    }
    Ok(amount.minor)
}

/// `POST /v3/pay/transactions/{jsapi|app|h5|native}`: opens the payment in the request's
/// checkout.
pub fn create(config: &WechatPayConfig, request: &PaymentRequest) -> Result<ApiRequest, WechatPayError> {
    let mut body = json!({
        "appid": config.app_id,
        "mchid": config.mch_id,
        "description": request.description.chars().take(DESCRIPTION_MAX).collect::<String>(),
        "out_trade_no": request.provider_reference(),
        "notify_url": config.notify_url,
        "amount": { "total": fen(request.amount)?, "currency": "CNY" },
    });
    if let (Some(expires_at), Some(fields)) = (request.expires_at, body.as_object_mut()) {
        fields.insert("time_expire".into(), beijing(expires_at).into());
    }
    let kind = match &request.checkout {
        Checkout::Native | Checkout::Page => "native",
        Checkout::App => "app",
        // A WeChat mini-program pays through JSAPI, by the payer's openid.
        Checkout::Jsapi { openid } | Checkout::MiniProgram { payer: openid } => {
            if let Some(fields) = body.as_object_mut() {
                fields.insert("payer".into(), json!({ "openid": openid }));
            }
            "jsapi"
        }
        Checkout::H5 { client_ip } => {
            if let Some(fields) = body.as_object_mut() {
                fields
                    .insert("scene_info".into(), json!({ "payer_client_ip": client_ip, "h5_info": { "type": "Wap" } }));
            }
            "h5"
        }
    };
    Ok(ApiRequest::post(format!("/v3/pay/transactions/{kind}"), &body))
}

#[derive(Deserialize)]
struct Created {
    prepay_id: Option<String>,
    h5_url: Option<String>,
    code_url: Option<String>,
}

/// What the buyer needs, from the answer to [`create`]: signed parameters (JSAPI, App), the
/// H5 page or the Native QR payload. `timestamp` and `nonce_str` go into the signed
/// parameters.
pub fn session(
    config: &WechatPayConfig,
    checkout: &Checkout,
    body: &[u8],
    timestamp: i64,
    nonce_str: String,
) -> Result<PaymentSession, WechatPayError> {
    let created: Created = parse(body, "create answer")?;
    let missing = |field: &str| WechatPayError::Malformed(format!("create answer has no {field}"));
    Ok(match checkout {
        Checkout::Jsapi { .. } | Checkout::MiniProgram { .. } => {
            let prepay_id = created.prepay_id.ok_or_else(|| missing("prepay_id"))?;
            PaymentSession::Jsapi(sign::Prepay { config, prepay_id: &prepay_id, timestamp, nonce_str }.jsapi()?)
        }
        Checkout::App => {
            let prepay_id = created.prepay_id.ok_or_else(|| missing("prepay_id"))?;
            PaymentSession::App(sign::Prepay { config, prepay_id: &prepay_id, timestamp, nonce_str }.app()?)
        }
        Checkout::H5 { .. } => PaymentSession::Redirect { url: created.h5_url.ok_or_else(|| missing("h5_url"))? },
        Checkout::Native | Checkout::Page => {
            PaymentSession::QrCode { payload: created.code_url.ok_or_else(|| missing("code_url"))? }
        }
    })
}

/// `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=...`.
pub fn query(config: &WechatPayConfig, order: &OrderNumber) -> ApiRequest {
    ApiRequest::get(format!("/v3/pay/transactions/out-trade-no/{}?mchid={}", order.provider_reference(), config.mch_id))
}

/// `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close` (answered 204).
pub fn close(config: &WechatPayConfig, order: &OrderNumber) -> ApiRequest {
    ApiRequest::post(
        format!("/v3/pay/transactions/out-trade-no/{}/close", order.provider_reference()),
        &json!({ "mchid": config.mch_id }),
    )
}

/// `POST /v3/refund/domestic/refunds`: `out_refund_no` is the refund's provider reference, so
/// a retried call is the same refund.
pub fn refund(config: &WechatPayConfig, request: &RefundRequest) -> Result<ApiRequest, WechatPayError> {
    let refund = fen(request.amount)?;
    let total = match request.paid_total {
        Some(total) => fen(total)?,
        None => refund,
    };
    let mut body = json!({
        "out_trade_no": request.order_number.provider_reference(),
        "out_refund_no": request.provider_reference(),
        "amount": { "refund": refund, "total": total, "currency": "CNY" },
    });
    if let Some(fields) = body.as_object_mut() {
        if !request.reason.is_empty() {
            fields.insert("reason".into(), request.reason.chars().take(80).collect::<String>().into());
        }
        if let Some(url) = &config.refund_notify_url {
            fields.insert("notify_url".into(), url.as_str().into());
        }
    }
    Ok(ApiRequest::post("/v3/refund/domestic/refunds".into(), &body))
}

#[derive(Deserialize)]
struct RefundAnswer {
    refund_id: String,
    status: String,
}

/// The receipt in a refund answer: `SUCCESS` done, `PROCESSING` pending (the result comes
/// later), `CLOSED` or `ABNORMAL` refused.
pub fn refund_receipt(body: &[u8]) -> Result<RefundReceipt, WechatPayError> {
    let answer: RefundAnswer = parse(body, "refund answer")?;
    match answer.status.as_str() {
        "SUCCESS" => Ok(RefundReceipt::new(answer.refund_id)),
        "PROCESSING" => Ok(RefundReceipt::pending(answer.refund_id)),
        other => Err(WechatPayError::Api { status: 200, code: other.into(), message: "refund not made".into() }),
    }
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}`: where refund `refund` of the order
/// stands.
pub fn refund_query(order: &OrderNumber, refund: RefundId) -> ApiRequest {
    ApiRequest::get(format!("/v3/refund/domestic/refunds/{}", refund_reference(order, refund)))
}

/// A refund as queried (`status`) or notified (the decrypted `resource` of `REFUND.SUCCESS`,
/// `REFUND.ABNORMAL`, `REFUND.CLOSED`: `refund_status`, and the merchant id).
#[derive(Debug, Clone, Deserialize)]
pub struct RefundResource {
    /// Merchant id (notifications only).
    #[serde(default)]
    pub mchid: Option<String>,
    /// The order's provider reference.
    pub out_trade_no: String,
    /// The refund's provider reference.
    pub out_refund_no: String,
    /// WeChat's refund id.
    pub refund_id: String,
    /// `SUCCESS`, `CLOSED`, `PROCESSING`, `ABNORMAL`.
    #[serde(alias = "status")]
    pub refund_status: String,
    /// When the money went back.
    #[serde(default)]
    pub success_time: Option<String>,
    /// Amounts, in fen.
    pub amount: RefundAmount,
}

/// The amounts of a [`RefundResource`], in fen.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundAmount {
    /// The order amount.
    pub total: i64,
    /// The refund amount.
    pub refund: i64,
    /// What the payer paid.
    #[serde(default)]
    pub payer_total: Option<i64>,
    /// What goes back to the payer (less than `refund` when a coupon paid part).
    #[serde(default)]
    pub payer_refund: Option<i64>,
}

impl RefundResource {
    /// The refund outcome it reports, after checking it is for this merchant (when it says)
    /// and names one of our refunds of the order it names.
    pub fn into_notification(self, config: &WechatPayConfig) -> Result<RefundNotification, WechatPayError> {
        if self.mchid.as_ref().is_some_and(|mchid| *mchid != config.mch_id) {
            return Err(WechatPayError::WrongMerchant("merchant id"));
        }
        let (order_number, refund) = parse_refund_reference(&self.out_refund_no)
            .ok_or_else(|| WechatPayError::Malformed("out_refund_no is not a refund reference".into()))?;
        if order_number.provider_reference() != self.out_trade_no {
            return Err(WechatPayError::Malformed("out_refund_no is not a refund of out_trade_no".into()));
        }
        let status = match self.refund_status.as_str() {
            "SUCCESS" => RefundStatus::Succeeded,
            "PROCESSING" => RefundStatus::Pending,
            "CLOSED" | "ABNORMAL" => RefundStatus::Failed,
            other => return Err(WechatPayError::Malformed(format!("unknown refund_status {other}"))),
        };
        let mut notification = RefundNotification::new(
            order_number,
            refund,
            self.refund_id,
            Money::new(self.amount.refund, Currency::CNY),
            status,
        );
        notification.succeeded_at = success_time(self.success_time)?;
        notification.provider = Some(PROVIDER.into());
        Ok(notification)
    }
}

/// A provider time (`success_time`), read as RFC 3339.
fn success_time(text: Option<String>) -> Result<Option<DateTime<Utc>>, WechatPayError> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| WechatPayError::Malformed("success_time is not RFC 3339".into()))
    })
    .transpose()
}

/// A transaction as queried or notified (the decrypted `resource` of `TRANSACTION.SUCCESS`).
#[derive(Debug, Clone, Deserialize)]
pub struct Transaction {
    /// App id.
    pub appid: String,
    /// Merchant id.
    pub mchid: String,
    /// The order's provider reference.
    pub out_trade_no: String,
    /// WeChat's transaction id (absent before payment).
    #[serde(default)]
    pub transaction_id: Option<String>,
    /// `SUCCESS`, `REFUND`, `NOTPAY`, `CLOSED`, `REVOKED`, `USERPAYING`, `PAYERROR`.
    pub trade_state: String,
    /// When it was paid.
    #[serde(default)]
    pub success_time: Option<String>,
    /// Amounts.
    #[serde(default)]
    pub amount: Option<TransactionAmount>,
}

/// The amounts of a [`Transaction`], in fen.
#[derive(Debug, Clone, Deserialize)]
pub struct TransactionAmount {
    /// The order amount.
    pub total: i64,
    /// What the payer paid (less when a WeChat coupon paid part).
    #[serde(default)]
    pub payer_total: Option<i64>,
    /// `CNY`.
    #[serde(default)]
    pub currency: Option<String>,
}

impl Transaction {
    /// The payment it reports, after checking it is for this merchant and app. `None` while
    /// nothing was paid (no transaction id yet).
    pub fn into_notification(self, config: &WechatPayConfig) -> Result<Option<PaymentNotification>, WechatPayError> {
        if self.mchid != config.mch_id {
            return Err(WechatPayError::WrongMerchant("merchant id"));
        }
        if self.appid != config.app_id {
            return Err(WechatPayError::WrongMerchant("app id"));
        }
        let order_number = OrderNumber::from_provider_reference(&self.out_trade_no)
            .map_err(|_| WechatPayError::Malformed("out_trade_no is not an order reference".into()))?;
        let status = match self.trade_state.as_str() {
            "SUCCESS" | "REFUND" => PaymentStatus::Succeeded,
            "NOTPAY" | "USERPAYING" => PaymentStatus::Pending,
            "CLOSED" | "REVOKED" => PaymentStatus::Closed,
            "PAYERROR" => PaymentStatus::Failed,
            other => return Err(WechatPayError::Malformed(format!("unknown trade_state {other}"))),
        };
        let (Some(txn_id), Some(amount)) = (self.transaction_id, self.amount) else { return Ok(None) };
        let currency = Currency::parse(amount.currency.as_deref().unwrap_or("CNY"))
            .map_err(|_| WechatPayError::Malformed("unknown currency".into()))?;
        let succeeded_at = success_time(self.success_time)?;
        let mut notification =
            PaymentNotification::new(order_number, txn_id, Money::new(amount.total, currency), status);
        notification.succeeded_at = succeeded_at;
        notification.payer_total = amount.payer_total.map(|fen| Money::new(fen, currency));
        notification.provider = Some(PROVIDER.into());
        Ok(Some(notification))
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    #[serde(default)]
    message: String,
}

/// The error an answer with a non-2xx `status` stands for.
pub fn api_error(status: u16, body: &[u8]) -> WechatPayError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(error) => WechatPayError::Api { status, code: error.code, message: error.message },
        Err(_) => WechatPayError::Api { status, code: String::new(), message: "no error body".into() },
    }
}

/// Reads a JSON body, naming only `what` on failure (bodies hold payment data).
pub(crate) fn parse<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, WechatPayError> {
    serde_json::from_slice(body).map_err(|_| WechatPayError::Malformed(format!("{what} is not the documented JSON")))
}
