//! Checking WeChat Pay's signature on API answers and notifications.
//!
//! WeChat Pay signs `TIMESTAMP\nNONCE\nBODY\n` with its platform key (RSA-SHA256, PKCS#1
//! v1.5) and sends `Wechatpay-Timestamp`, `Wechatpay-Nonce`, `Wechatpay-Signature` and
//! `Wechatpay-Serial` (which platform key signed). A message is accepted only when its
//! timestamp is within the tolerance of now (a replay is refused) and its signature verifies
//! with the platform key of that serial.

use chrono::{DateTime, TimeDelta, Utc};

use super::WechatPayError;
use super::platform_certs::PlatformKeys;
use crate::adapters::rsa_sha256;
use crate::ports::RawMessage;

/// Header: seconds since the epoch of the signature.
pub const TIMESTAMP: &str = "Wechatpay-Timestamp";
/// Header: the signature's random string.
pub const NONCE: &str = "Wechatpay-Nonce";
/// Header: base64 signature.
pub const SIGNATURE: &str = "Wechatpay-Signature";
/// Header: serial of the platform certificate (or public key id) that signed.
pub const SERIAL: &str = "Wechatpay-Serial";

/// The signature headers of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureHeaders<'a> {
    /// `Wechatpay-Timestamp`.
    pub timestamp: &'a str,
    /// `Wechatpay-Nonce`.
    pub nonce: &'a str,
    /// `Wechatpay-Signature`.
    pub signature: &'a str,
    /// `Wechatpay-Serial`.
    pub serial: &'a str,
}

impl<'a> SignatureHeaders<'a> {
    /// Reads them from `raw`.
    pub fn of(raw: &'a RawMessage) -> Result<SignatureHeaders<'a>, WechatPayError> {
        let get = |name: &'static str| raw.header(name).ok_or(WechatPayError::MissingHeader(name));
        Ok(SignatureHeaders {
            timestamp: get(TIMESTAMP)?,
            nonce: get(NONCE)?,
            signature: get(SIGNATURE)?,
            serial: get(SERIAL)?,
        })
    }

    /// The message the signature covers.
    pub fn message(&self, body: &[u8]) -> Vec<u8> {
        [self.timestamp.as_bytes(), b"\n", self.nonce.as_bytes(), b"\n", body, b"\n"].concat()
    }
}

/// Refuses a timestamp further than `tolerance` from `now`, either way.
pub fn check_timestamp(timestamp: &str, now: DateTime<Utc>, tolerance: TimeDelta) -> Result<(), WechatPayError> {
    let seconds: i64 = timestamp.parse().map_err(|_| WechatPayError::Malformed("timestamp is not a number".into()))?;
    let age = now.timestamp().saturating_sub(seconds);
    if age > tolerance.num_seconds() {
        Err(WechatPayError::StaleTimestamp)
    } else if age < -tolerance.num_seconds() {
        Err(WechatPayError::FutureTimestamp)
    } else {
        Ok(())
    }
}

/// Checks a base64 RSA-SHA256 `signature` of `message` with `key`.
pub fn verify_signature(key: &rsa::PublicKey, message: &[u8], signature: &str) -> Result<(), WechatPayError> {
    if rsa_sha256::verify(key, message, signature) { Ok(()) } else { Err(WechatPayError::WrongSignature) }
}

/// Verifies a signed message from WeChat Pay: headers present, timestamp within `tolerance`,
/// a platform key with the message's serial, and a signature that verifies with it.
pub fn verify(
    keys: &PlatformKeys,
    raw: &RawMessage,
    now: DateTime<Utc>,
    tolerance: TimeDelta,
) -> Result<(), WechatPayError> {
    let headers = SignatureHeaders::of(raw)?;
    check_timestamp(headers.timestamp, now, tolerance)?;
    let key = keys.get(headers.serial).ok_or_else(|| WechatPayError::UnknownSerial(headers.serial.to_owned()))?;
    verify_signature(&key, &headers.message(&raw.body), headers.signature)
}
