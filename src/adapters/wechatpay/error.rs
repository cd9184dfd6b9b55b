//! What can go wrong talking to WeChat Pay, and how the engine sees it.

use crate::ports::GatewayError;

/// Why a WeChat Pay operation failed. Never carries a key, a signature or a decrypted body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WechatPayError {
    /// A configured key or certificate cannot be read.
    #[error("WeChat Pay key is invalid: {0}")]
    InvalidKey(String),
    /// Signing with the merchant key failed.
    #[error("WeChat Pay request could not be signed")]
    Signing,
    /// A `Wechatpay-*` signature header is missing.
    #[error("WeChat Pay signature header {0} is missing")]
    MissingHeader(&'static str),
    /// The signature does not verify: forged or altered.
    #[error("WeChat Pay signature does not verify")]
    WrongSignature,
    /// No platform key has this serial (also after one refresh of the certificates).
    #[error("WeChat Pay platform certificate serial {0} is unknown")]
    UnknownSerial(String),
    /// The signed timestamp is older than the tolerance: a replay.
    #[error("WeChat Pay signature timestamp is too old")]
    StaleTimestamp,
    /// The signed timestamp is later than the tolerance.
    #[error("WeChat Pay signature timestamp is in the future")]
    FutureTimestamp,
    /// The encrypted resource does not decrypt with the APIv3 key (altered, or another key).
    #[error("WeChat Pay resource does not decrypt")]
    Decryption,
    /// The message is for another merchant or app.
    #[error("WeChat Pay message is for another {0}")]
    WrongMerchant(&'static str),
    /// The message cannot be parsed.
    #[error("WeChat Pay message is malformed: {0}")]
    Malformed(String),
    /// The request cannot be expressed for WeChat Pay (e.g. a currency other than CNY).
    #[error("WeChat Pay does not support this request: {0}")]
    Unsupported(String),
    /// The API answered with an error code.
    #[error("WeChat Pay answered {status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// WeChat's error code (`PARAM_ERROR`, `ORDER_NOT_EXIST`, ...).
        code: String,
        /// WeChat's message.
        message: String,
    },
    /// The API could not be reached.
    #[error("WeChat Pay could not be reached: {0}")]
    Transport(String),
}

/// Codes that mean "too many calls, later": `FREQUENCY_LIMITED` (e.g. one refund per order
/// per minute) and the rate limiter's own codes.
const RATE_LIMIT_CODES: &[&str] = &["FREQUENCY_LIMITED", "RATE_LIMIT", "RATELIMIT_EXCEEDED"];
/// Codes that mean "our side failed, retry with the same request".
const RETRYABLE_CODES: &[&str] = &["SYSTEM_ERROR", "BANK_ERROR", "SYSTEMERROR"];

impl From<WechatPayError> for GatewayError {
    fn from(error: WechatPayError) -> GatewayError {
        match error {
            WechatPayError::WrongSignature | WechatPayError::UnknownSerial(_) | WechatPayError::Decryption => {
                GatewayError::InvalidSignature
            }
            WechatPayError::StaleTimestamp | WechatPayError::FutureTimestamp => GatewayError::StaleTimestamp,
            WechatPayError::MissingHeader(_) | WechatPayError::WrongMerchant(_) | WechatPayError::Malformed(_) => {
                GatewayError::Malformed(error.to_string())
            }
            WechatPayError::Api { status, ref code, .. } => {
                if status == 429 || RATE_LIMIT_CODES.contains(&code.as_str()) {
                    GatewayError::RateLimited(error.to_string())
                } else if status >= 500 || RETRYABLE_CODES.contains(&code.as_str()) {
                    GatewayError::Unavailable(error.to_string())
                } else {
                    GatewayError::Rejected(error.to_string())
                }
            }
            WechatPayError::Transport(_) => GatewayError::Unavailable(error.to_string()),
            WechatPayError::InvalidKey(_) | WechatPayError::Signing | WechatPayError::Unsupported(_) => {
                GatewayError::Rejected(error.to_string())
            }
        }
    }
}
