//! The gateway's methods as plain values: each call is built into signed [`Params`] and its
//! answer read back and verified, with no I/O, so they are tested without a network.
//!
//! Every call carries the common parameters (`app_id`, `method`, `format=JSON`,
//! `charset=utf-8`, `sign_type=RSA2`, `timestamp` in Beijing time, `version=1.0`,
//! `notify_url`) and its own fields as `biz_content` JSON. Amounts are yuan with two decimals
//! (`"88.88"`), converted exactly from and to fen. Orders are named by
//! [`OrderNumber::provider_reference`] (`out_trade_no`) and refunds by
//! [`refund_reference`] (`out_request_no`): letters and digits only, which Alipay accepts.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::AlipayError;
use super::config::AlipayConfig;
use super::sign::{self, Params};
use crate::ids::RefundId;
use crate::money::{Currency, Money};
use crate::order_number::OrderNumber;
use crate::ports::{
    Checkout, PaymentNotification, PaymentRequest, PaymentSession, PaymentStatus, RefundNotification, RefundReceipt,
    RefundRequest, RefundStatus, refund_reference,
};

/// The provider name the adapter reports in notifications.
pub const PROVIDER: &str = "alipay";

/// Alipay's limit on `subject`, in characters.
const SUBJECT_MAX: usize = 256;
/// The largest amount one trade may have: 100,000,000.00 yuan.
const AMOUNT_MAX_FEN: i64 = 10_000_000_000;
/// How Alipay writes times (Beijing time, no zone), e.g. `2016-07-19 14:10:47`.
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// One call to the gateway: the API method and its `biz_content`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// E.g. `alipay.trade.precreate`.
    pub method: &'static str,
    /// The call's own fields.
    pub biz_content: Value,
}

/// Beijing (Asia/Shanghai, UTC+8 with no daylight saving since 1991) time as Alipay writes it.
pub fn beijing(at: DateTime<Utc>) -> String {
    at.with_timezone(&shanghai()).format(TIME_FORMAT).to_string()
}

/// Reads a Beijing time as Alipay writes it (`gmt_payment`; `gmt_refund` may add
/// milliseconds).
pub fn parse_beijing(text: &str, field: &str) -> Result<DateTime<Utc>, AlipayError> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .map_err(|_| AlipayError::Malformed(format!("{field} is not yyyy-MM-dd HH:mm:ss")))?;
    naive
        .and_local_timezone(shanghai())
        .single()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| AlipayError::Malformed(format!("{field} is not a Beijing time")))
}

fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix())
}

/// An amount as Alipay takes it: CNY, from 0.01 to 100,000,000.00 yuan, two decimals.
pub fn yuan(amount: Money) -> Result<String, AlipayError> {
    if amount.currency != Currency::CNY {
        return Err(AlipayError::Unsupported(format!("currency {}", amount.currency.as_str())));
    }
    if !(1..=AMOUNT_MAX_FEN).contains(&amount.minor) {
        return Err(AlipayError::Unsupported("an amount outside 0.01 to 100000000.00 yuan".into()));
    }
    Ok(amount.to_decimal_string())
}

/// An amount Alipay sent (`total_amount`, `refund_fee`, ...) in fen; more than two decimals,
/// a sign or anything but digits is refused.
pub fn parse_yuan(text: &str, field: &'static str) -> Result<Money, AlipayError> {
    Money::parse_decimal(text, Currency::CNY).map_err(|error| AlipayError::Amount { field, error })
}

/// The common parameters of `call` at `now`, with `sign`.
pub fn signed_params(config: &AlipayConfig, call: &Call, now: DateTime<Utc>) -> Result<Params, AlipayError> {
    let mut params = Params::new();
    for (name, value) in [
        ("app_id", config.app_id.as_str()),
        ("method", call.method),
        ("format", "JSON"),
        ("charset", "utf-8"),
        ("sign_type", "RSA2"),
        ("version", "1.0"),
        ("notify_url", config.notify_url.as_str()),
    ] {
        params.insert(name.into(), value.into());
    }
    params.insert("timestamp".into(), beijing(now));
    params.insert("biz_content".into(), call.biz_content.to_string());
    if let Some(url) = config.return_url.as_ref().filter(|_| is_browser_page(call.method)) {
        params.insert("return_url".into(), url.clone());
    }
    sign::sign_request(&config.app_key, &mut params)?;
    Ok(params)
}

fn is_browser_page(method: &str) -> bool {
    method == PAGE_PAY || method == WAP_PAY
}

/// `alipay.trade.page.pay`: the desktop payment page.
pub const PAGE_PAY: &str = "alipay.trade.page.pay";
/// `alipay.trade.wap.pay`: the mobile-browser payment page.
pub const WAP_PAY: &str = "alipay.trade.wap.pay";
/// `alipay.trade.app.pay`: the order string for the app SDK.
pub const APP_PAY: &str = "alipay.trade.app.pay";
/// `alipay.trade.create`: a trade the buyer pays in a mini-program (`my.tradePay`).
pub const TRADE_CREATE: &str = "alipay.trade.create";
/// `alipay.trade.precreate`: a QR code the buyer scans.
pub const PRECREATE: &str = "alipay.trade.precreate";
/// `alipay.trade.query`.
pub const QUERY: &str = "alipay.trade.query";
/// `alipay.trade.close`.
pub const CLOSE: &str = "alipay.trade.close";
/// `alipay.trade.refund`.
pub const REFUND: &str = "alipay.trade.refund";
/// `alipay.trade.fastpay.refund.query`.
pub const REFUND_QUERY: &str = "alipay.trade.fastpay.refund.query";
/// The `refund_status` of a refund that went through.
const REFUND_SUCCESS: &str = "REFUND_SUCCESS";

/// The subject the buyer sees: the host's description without the characters Alipay refuses
/// in it (`/`, `=`, `&`), at most 256 characters, the order reference when nothing is left.
pub fn subject(request: &PaymentRequest) -> String {
    let cleaned: String =
        request.description.chars().filter(|c| !matches!(c, '/' | '=' | '&')).take(SUBJECT_MAX).collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() { request.provider_reference() } else { trimmed.to_owned() }
}

/// The longest payer id Alipay takes (`buyer_open_id`).
const PAYER_MAX: usize = 128;

/// The `biz_content` field naming the mini-program's payer: `buyer_id` for an Alipay user id
/// (`2088` and 12 digits), `buyer_open_id` for an OpenID (letters and digits, up to 128).
pub fn payer_field(payer: &str) -> Result<&'static str, AlipayError> {
    let is_user_id = payer.len() == 16 && payer.starts_with("2088") && payer.bytes().all(|b| b.is_ascii_digit());
    if is_user_id {
        return Ok("buyer_id");
    }
    if payer.is_empty() || payer.len() > PAYER_MAX || !payer.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AlipayError::Unsupported(
            "a mini-program payer that is neither an Alipay user id (2088 and 12 digits) nor an OpenID".into(),
        ));
    }
    Ok("buyer_open_id")
}

/// The call that opens the payment in the request's checkout: page (desktop), wap (`H5`),
/// app, precreate (`Native`, a QR code), or create (`MiniProgram`, with the payer).
pub fn create(request: &PaymentRequest) -> Result<Call, AlipayError> {
    let (method, product_code) = match &request.checkout {
        Checkout::Page => (PAGE_PAY, Some("FAST_INSTANT_TRADE_PAY")),
        Checkout::H5 { .. } => (WAP_PAY, Some("QUICK_WAP_WAY")),
        Checkout::App => (APP_PAY, Some("QUICK_MSECURITY_PAY")),
        Checkout::Native => (PRECREATE, None),
        Checkout::MiniProgram { .. } => (TRADE_CREATE, Some("JSAPI_PAY")),
        other => return Err(AlipayError::Unsupported(format!("checkout {other:?}"))),
    };
    let mut biz = json!({
        "out_trade_no": request.provider_reference(),
        "total_amount": yuan(request.amount)?,
        "subject": subject(request),
    });
    if let Some(fields) = biz.as_object_mut() {
        if let Some(code) = product_code {
            fields.insert("product_code".into(), code.into());
        }
        if let Some(expires_at) = request.expires_at {
            fields.insert("time_expire".into(), beijing(expires_at).into());
        }
        if let Checkout::MiniProgram { payer } = &request.checkout {
            fields.insert(payer_field(payer)?.into(), payer.as_str().into());
        }
    }
    Ok(Call { method, biz_content: biz })
}

/// What the buyer needs for a checkout answered without calling the gateway: the page and
/// wap payments are the gateway URL with the signed parameters (the buyer's browser opens
/// it), the app payment is the signed parameters as the app SDK's order string.
pub fn local_session(config: &AlipayConfig, params: &Params) -> Option<PaymentSession> {
    let order_string = sign::encode_form(params);
    match params.get("method").map(String::as_str) {
        Some(PAGE_PAY | WAP_PAY) => {
            let separator = if config.gateway_url.contains('?') { '&' } else { '?' };
            Some(PaymentSession::Redirect { url: format!("{}{separator}{order_string}", config.gateway_url) })
        }
        Some(APP_PAY) => Some(PaymentSession::AppOrder { order_string }),
        _ => None,
    }
}

/// A call naming only the order.
fn by_order(method: &'static str, order: &OrderNumber) -> Call {
    Call { method, biz_content: json!({ "out_trade_no": order.provider_reference() }) }
}

/// `alipay.trade.query`.
pub fn query(order: &OrderNumber) -> Call {
    by_order(QUERY, order)
}

/// `alipay.trade.close`.
pub fn close(order: &OrderNumber) -> Call {
    by_order(CLOSE, order)
}

/// `alipay.trade.refund`: `out_request_no` is the refund's provider reference, so a retried
/// call is the same refund.
pub fn refund(request: &RefundRequest) -> Result<Call, AlipayError> {
    let mut biz = json!({
        "out_trade_no": request.order_number.provider_reference(),
        "refund_amount": yuan(request.amount)?,
        "out_request_no": request.provider_reference(),
    });
    if let (false, Some(fields)) = (request.reason.is_empty(), biz.as_object_mut()) {
        fields.insert("refund_reason".into(), request.reason.chars().take(SUBJECT_MAX).collect::<String>().into());
    }
    Ok(Call { method: REFUND, biz_content: biz })
}

/// `alipay.trade.fastpay.refund.query` for refund `refund` of the order: by `out_trade_no` and
/// the refund's `out_request_no`, asking for the time the money went back (`query_options`
/// `gmt_refund_pay`).
pub fn refund_query(order: &OrderNumber, refund: RefundId) -> Call {
    Call {
        method: REFUND_QUERY,
        biz_content: json!({
            "out_trade_no": order.provider_reference(),
            "out_request_no": refund_reference(order, refund),
            "query_options": ["gmt_refund_pay"],
        }),
    }
}

/// The answer to `alipay.trade.fastpay.refund.query`. Code `10000` only says the query
/// worked: the refund went through when `refund_status` is `REFUND_SUCCESS`; without it
/// Alipay has not received the refund or it failed.
#[derive(Debug, Default, Deserialize)]
pub struct RefundQueried {
    /// The order's provider reference.
    #[serde(default)]
    pub out_trade_no: Option<String>,
    /// The refund's `out_request_no`.
    #[serde(default)]
    pub out_request_no: Option<String>,
    /// This refund's amount, yuan (not the trade's refunded total).
    #[serde(default)]
    pub refund_amount: Option<String>,
    /// `REFUND_SUCCESS`, or missing.
    #[serde(default)]
    pub refund_status: Option<String>,
    /// When the money went back, Beijing time (asked for with `query_options`).
    #[serde(default)]
    pub gmt_refund_pay: Option<String>,
}

/// What a refund query answer says of refund `refund` of `order`: `None` when Alipay has no
/// such refund done (`refund_status` missing: not received, or failed), a pending outcome for
/// a status this adapter does not know, and the refund with its own amount when it went
/// through. An answer naming another order or refund is refused.
pub fn refund_outcome(
    order: &OrderNumber,
    refund: RefundId,
    answer: &RefundQueried,
) -> Result<Option<RefundNotification>, AlipayError> {
    let present = |field: &Option<String>| field.as_deref().filter(|v| !v.is_empty()).map(str::to_owned);
    let reference = refund_reference(order, refund);
    if present(&answer.out_request_no).is_some_and(|no| no != reference) {
        return Err(AlipayError::Malformed("refund query answered for another out_request_no".into()));
    }
    if present(&answer.out_trade_no).is_some_and(|no| no != order.provider_reference()) {
        return Err(AlipayError::Malformed("refund query answered for another out_trade_no".into()));
    }
    let Some(status) = present(&answer.refund_status) else { return Ok(None) };
    let status = if status == REFUND_SUCCESS { RefundStatus::Succeeded } else { RefundStatus::Pending };
    let amount = present(&answer.refund_amount)
        .ok_or_else(|| AlipayError::Malformed("refund query answer has no refund_amount".into()))?;
    let mut outcome = RefundNotification::new(*order, refund, reference, parse_yuan(&amount, "refund_amount")?, status);
    outcome.succeeded_at = present(&answer.gmt_refund_pay)
        .filter(|_| status == RefundStatus::Succeeded)
        .map(|at| parse_beijing(&at, "gmt_refund_pay"))
        .transpose()?;
    outcome.provider = Some(PROVIDER.into());
    Ok(Some(outcome))
}

/// The fields every answer has.
#[derive(Deserialize)]
struct Status {
    code: String,
    #[serde(default)]
    sub_code: String,
    #[serde(default)]
    sub_msg: String,
}

/// Reads the answer to `method` and verifies it: `{"<method with _>_response": {...},
/// "sign": "..."}`, signed over the exact text of the `_response` value. Answers with code
/// `10000` (success) or `40004` (a business failure such as `ACQ.TRADE_NOT_EXIST`) state
/// facts about a trade and must be signed; other codes are errors either way. Returns the
/// verified `_response` value, or the error its code stands for.
pub fn read_answer<T: for<'a> Deserialize<'a>>(
    config: &AlipayConfig,
    method: &str,
    body: &[u8],
) -> Result<T, AlipayError> {
    let envelope: HashMap<String, Box<RawValue>> = parse(body.trim_ascii(), "answer")?;
    let node = format!("{}_response", method.replace('.', "_"));
    let raw = envelope
        .get(&node)
        .or_else(|| envelope.get("error_response"))
        .ok_or_else(|| AlipayError::Malformed(format!("answer has no {node}")))?;
    let status: Status = parse(raw.get().as_bytes(), "answer")?;
    let signature: Option<String> = match envelope.get("sign") {
        Some(sign) => Some(parse(sign.get().as_bytes(), "answer sign")?),
        None => None,
    };
    match signature {
        Some(signature) => sign::verify(&config.alipay_public_key, raw.get().as_bytes(), &signature)?,
        None if status.code == "10000" || status.code == "40004" => return Err(AlipayError::MissingSignature),
        None => {}
    }
    if status.code != "10000" {
        return Err(AlipayError::Api { code: status.code, sub_code: status.sub_code, sub_msg: status.sub_msg });
    }
    parse(raw.get().as_bytes(), "answer")
}

/// The answer to `alipay.trade.create`.
#[derive(Debug, Deserialize)]
pub struct TradeCreated {
    /// The order's provider reference.
    pub out_trade_no: String,
    /// Alipay's trade number, for `my.tradePay`.
    pub trade_no: String,
}

/// The answer to `alipay.trade.precreate`.
#[derive(Debug, Deserialize)]
pub struct Precreated {
    /// The QR code's content.
    pub qr_code: String,
}

/// A trade as `alipay.trade.query` answers it.
#[derive(Debug, Clone, Deserialize)]
pub struct Trade {
    /// The order's provider reference.
    pub out_trade_no: String,
    /// Alipay's trade number.
    pub trade_no: String,
    /// `WAIT_BUYER_PAY`, `TRADE_SUCCESS`, `TRADE_FINISHED`, `TRADE_CLOSED`.
    pub trade_status: String,
    /// The order amount, yuan.
    pub total_amount: String,
    /// What the buyer paid, yuan (less when an Alipay coupon paid part).
    #[serde(default)]
    pub buyer_pay_amount: Option<String>,
    /// When the buyer paid, Beijing time.
    #[serde(default)]
    pub send_pay_date: Option<String>,
}

/// The status a `trade_status` stands for.
pub fn trade_status(text: &str) -> Result<PaymentStatus, AlipayError> {
    match text {
        "WAIT_BUYER_PAY" => Ok(PaymentStatus::Pending),
        "TRADE_SUCCESS" | "TRADE_FINISHED" => Ok(PaymentStatus::Succeeded),
        "TRADE_CLOSED" => Ok(PaymentStatus::Closed),
        other => Err(AlipayError::Malformed(format!("unknown trade_status {other}"))),
    }
}

/// The facts of a payment as Alipay reports them, in a query answer or a notification.
#[derive(Debug, Clone, Copy)]
pub struct Payment<'a> {
    /// `out_trade_no`.
    pub out_trade_no: &'a str,
    /// `trade_no`.
    pub trade_no: &'a str,
    /// `trade_status`.
    pub trade_status: &'a str,
    /// `total_amount`.
    pub total_amount: &'a str,
    /// `buyer_pay_amount`.
    pub buyer_pay_amount: Option<&'a str>,
    /// `gmt_payment` (notification) or `send_pay_date` (query).
    pub paid_at: Option<&'a str>,
}

impl Payment<'_> {
    /// The notification these facts make.
    pub fn notification(&self) -> Result<PaymentNotification, AlipayError> {
        let order_number = order_of(self.out_trade_no)?;
        let status = trade_status(self.trade_status)?;
        let mut notification = PaymentNotification::new(
            order_number,
            self.trade_no,
            parse_yuan(self.total_amount, "total_amount")?,
            status,
        );
        notification.payer_total =
            self.buyer_pay_amount.filter(|t| !t.is_empty()).map(|t| parse_yuan(t, "buyer_pay_amount")).transpose()?;
        notification.succeeded_at =
            self.paid_at.filter(|t| !t.is_empty()).map(|t| parse_beijing(t, "payment time")).transpose()?;
        notification.provider = Some(PROVIDER.into());
        Ok(notification)
    }
}

impl Trade {
    /// The payment this trade reports.
    pub fn notification(&self) -> Result<PaymentNotification, AlipayError> {
        Payment {
            out_trade_no: &self.out_trade_no,
            trade_no: &self.trade_no,
            trade_status: &self.trade_status,
            total_amount: &self.total_amount,
            buyer_pay_amount: self.buyer_pay_amount.as_deref(),
            paid_at: self.send_pay_date.as_deref(),
        }
        .notification()
    }
}

/// The order an `out_trade_no` names.
pub fn order_of(out_trade_no: &str) -> Result<OrderNumber, AlipayError> {
    OrderNumber::from_provider_reference(out_trade_no)
        .map_err(|_| AlipayError::Malformed("out_trade_no is not an order reference".into()))
}

/// The answer to `alipay.trade.refund`.
#[derive(Debug, Deserialize)]
pub struct Refunded {
    /// `Y` when this call moved money; `N` when it did not (already refunded by an earlier
    /// call with the same `out_request_no`, or still being processed).
    #[serde(default)]
    pub fund_change: String,
}

/// The receipt for a refund answer: done when money moved (`fund_change=Y`), otherwise
/// pending, as Alipay documents that `N` must be confirmed later (the refund notification).
pub fn refund_receipt(request: &RefundRequest, answer: &Refunded) -> RefundReceipt {
    if answer.fund_change == "Y" {
        RefundReceipt::new(request.provider_reference())
    } else {
        RefundReceipt::pending(request.provider_reference())
    }
}

/// Reads JSON, naming only `what` on failure (bodies hold payment data).
pub(crate) fn parse<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, AlipayError> {
    serde_json::from_slice(body).map_err(|_| AlipayError::Malformed(format!("{what} is not the documented JSON")))
}
