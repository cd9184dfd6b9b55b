//! Payment notifications (`TRANSACTION.SUCCESS`), refund notifications (`REFUND.SUCCESS`,
//! `REFUND.ABNORMAL`, `REFUND.CLOSED`) and the answer WeChat Pay expects.
//!
//! A notification is a signed JSON envelope whose `resource` is the transaction, encrypted
//! with the APIv3 key. It is accepted only after [`verify`](super::verify::verify) and when
//! it decrypts and is for this merchant and app. WeChat Pay retries a notification until it
//! is answered 200 or 204; a failure answer is a 4xx/5xx with `{"code":"FAIL","message":...}`.

use serde::Deserialize;

use super::WechatPayError;
use super::api::{RefundResource, Transaction, parse};
use super::config::WechatPayConfig;
use super::decrypt::{EncryptedResource, decrypt};
use crate::ports::{PaymentNotification, RefundNotification, WebhookReply};

/// The event of a successful payment.
pub const TRANSACTION_SUCCESS: &str = "TRANSACTION.SUCCESS";

/// The notification envelope.
#[derive(Debug, Clone, Deserialize)]
pub struct Envelope {
    /// Notification id.
    pub id: String,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`, ...
    pub event_type: String,
    /// The encrypted payload.
    pub resource: EncryptedResource,
}

/// The payment a verified notification body reports: decrypted, for this merchant and app,
/// and a successful payment.
pub fn payment(config: &WechatPayConfig, body: &[u8]) -> Result<PaymentNotification, WechatPayError> {
    let envelope: Envelope = parse(body, "notification")?;
    if envelope.event_type != TRANSACTION_SUCCESS {
        return Err(WechatPayError::Malformed(format!("event {} is not a payment", envelope.event_type)));
    }
    let plaintext = decrypt(&config.api_v3_key, &envelope.resource)?;
    let transaction: Transaction = parse(&plaintext, "transaction")?;
    transaction
        .into_notification(config)?
        .ok_or_else(|| WechatPayError::Malformed("payment notification without a transaction".into()))
}

/// The events of a refund's outcome: done, failed (the buyer's account cannot take it:
/// refund another way), closed.
pub const REFUND_EVENTS: [&str; 3] = ["REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"];

/// The refund outcome a verified notification body reports: decrypted, for this merchant,
/// and one of our refund references.
pub fn refund(config: &WechatPayConfig, body: &[u8]) -> Result<RefundNotification, WechatPayError> {
    let envelope: Envelope = parse(body, "notification")?;
    if !REFUND_EVENTS.contains(&envelope.event_type.as_str()) {
        return Err(WechatPayError::Malformed(format!("event {} is not a refund outcome", envelope.event_type)));
    }
    let plaintext = decrypt(&config.api_v3_key, &envelope.resource)?;
    let resource: RefundResource = parse(&plaintext, "refund")?;
    resource.into_notification(config)
}

/// The answer to a notification: 204 when handled (also a duplicate), else 500 with
/// `{"code":"FAIL"}` so WeChat Pay sends it again.
pub fn reply(handled: bool) -> WebhookReply {
    if handled {
        WebhookReply { status: 204, body: String::new() }
    } else {
        WebhookReply { status: 500, body: r#"{"code":"FAIL","message":"not handled, please retry"}"#.into() }
    }
}
