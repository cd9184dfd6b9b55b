//! Asynchronous notifications (`notify_type=trade_status_sync`) and the answer Alipay expects.
//!
//! A notification is a form-urlencoded POST to the `notify_url`. It is accepted only when its
//! RSA2 signature verifies with the Alipay public key over the parameters without `sign` and
//! `sign_type`, and its `app_id` and `seller_id` are ours. A refund sends one too, carrying
//! `out_biz_no` (the refund's `out_request_no`), `refund_fee` (the trade's refunded total)
//! and `gmt_refund`: [`is_refund`] tells the two apart, and [`refund`] reads it. Alipay sends a notification again (eight times over
//! about a day) until it is answered with the plain text `success`.

use chrono::{DateTime, Utc};

use super::AlipayError;
use super::api::{self, Payment};
use super::config::AlipayConfig;
use super::sign::{self, Params};
use crate::ids::RefundId;
use crate::money::Money;
use crate::order_number::OrderNumber;
use crate::ports::{PaymentNotification, RefundNotification, WebhookReply, parse_refund_reference};

/// The notification's parameters, verified: signed by Alipay, for our app and seller.
pub fn verified(config: &AlipayConfig, body: &[u8]) -> Result<Params, AlipayError> {
    let params = sign::parse_form(body)?;
    sign::verify_params(&config.alipay_public_key, &params, sign::NOTIFY_UNSIGNED)?;
    if params.get("app_id") != Some(&config.app_id) {
        return Err(AlipayError::WrongMerchant("app id"));
    }
    if params.get("seller_id") != Some(&config.seller_id) {
        return Err(AlipayError::WrongMerchant("seller id"));
    }
    Ok(params)
}

/// True when a notification body reports a refund (it names the refund: `out_biz_no` and
/// `gmt_refund`), so the host passes it to the refund entry point. Reads only; the entry
/// points verify.
pub fn is_refund(body: &[u8]) -> bool {
    sign::parse_form(body).is_ok_and(|params| refund_fields(&params))
}

fn refund_fields(params: &Params) -> bool {
    ["out_biz_no", "gmt_refund"].iter().all(|name| params.get(*name).is_some_and(|v| !v.is_empty()))
}

fn field<'a>(params: &'a Params, name: &str) -> Result<&'a str, AlipayError> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AlipayError::Malformed(format!("notification has no {name}")))
}

/// The payment a notification reports (status from `trade_status`, amount from
/// `total_amount`, payer total from `buyer_pay_amount`, time from `gmt_payment`). A refund
/// notification is refused here: it belongs to [`refund`].
pub fn payment(config: &AlipayConfig, body: &[u8]) -> Result<PaymentNotification, AlipayError> {
    let params = verified(config, body)?;
    if refund_fields(&params) {
        return Err(AlipayError::Malformed("a refund notification is not a payment".into()));
    }
    Payment {
        out_trade_no: field(&params, "out_trade_no")?,
        trade_no: field(&params, "trade_no")?,
        trade_status: field(&params, "trade_status")?,
        total_amount: field(&params, "total_amount")?,
        buyer_pay_amount: params.get("buyer_pay_amount").map(String::as_str),
        paid_at: params.get("gmt_payment").map(String::as_str),
    }
    .notification()
}

/// What a refund notification tells, verified. Alipay's `refund_fee` is the total refunded
/// on the trade so far, not this refund's amount (they differ from an order's second refund
/// on), so the notice carries it as [`RefundNotice::refunded_total`] and the gateway takes
/// the refund's own amount from `alipay.trade.fastpay.refund.query`
/// ([`api::refund_query`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundNotice {
    /// The order (`out_trade_no`).
    pub order_number: OrderNumber,
    /// Which refund of the order (`out_biz_no`, the refund's `out_request_no`).
    pub refund: RefundId,
    /// `out_biz_no` as sent.
    pub out_biz_no: String,
    /// `refund_fee`: everything refunded on the trade so far, this refund included.
    pub refunded_total: Money,
    /// `gmt_refund`: when the money went back.
    pub refunded_at: DateTime<Utc>,
}

/// The refund a refund notification reports: the order from `out_trade_no`, the refund from
/// `out_biz_no` (which must name the same order), the trade's refunded total from
/// `refund_fee` and the time from `gmt_refund`.
pub fn refund(config: &AlipayConfig, body: &[u8]) -> Result<RefundNotice, AlipayError> {
    let params = verified(config, body)?;
    let order = api::order_of(field(&params, "out_trade_no")?)?;
    let out_biz_no = field(&params, "out_biz_no")?;
    let (refund_order, refund) = parse_refund_reference(out_biz_no)
        .ok_or_else(|| AlipayError::Malformed("out_biz_no is not a refund reference".into()))?;
    if refund_order != order {
        return Err(AlipayError::Malformed("out_biz_no names another order".into()));
    }
    Ok(RefundNotice {
        order_number: order,
        refund,
        out_biz_no: out_biz_no.to_owned(),
        refunded_total: api::parse_yuan(field(&params, "refund_fee")?, "refund_fee")?,
        refunded_at: api::parse_beijing(field(&params, "gmt_refund")?, "gmt_refund")?,
    })
}

/// The refund notification `notice` makes once the refund query confirmed it (`queried`, for
/// the same refund): the refund's own amount and status from the query, which may not exceed
/// what the notice says the trade has refunded; the time from the notice when the query does
/// not give it.
pub fn confirmed(notice: &RefundNotice, queried: RefundNotification) -> Result<RefundNotification, AlipayError> {
    if (queried.order_number, queried.refund) != (notice.order_number, notice.refund) {
        return Err(AlipayError::Malformed("the refund query answered for another refund".into()));
    }
    if queried.amount.minor > notice.refunded_total.minor {
        return Err(AlipayError::Malformed("refund_amount exceeds the trade's refund_fee".into()));
    }
    let mut confirmed = queried;
    confirmed.succeeded_at.get_or_insert(notice.refunded_at);
    Ok(confirmed)
}

/// The answer to a notification: `success` (plain text) when handled, also for a duplicate;
/// anything else makes Alipay send it again.
pub fn reply(handled: bool) -> WebhookReply {
    if handled {
        WebhookReply { status: 200, body: "success".into() }
    } else {
        WebhookReply { status: 500, body: "fail".into() }
    }
}
