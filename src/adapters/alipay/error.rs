//! What can go wrong talking to Alipay, and how the engine sees it.

use crate::money::DecimalError;
use crate::ports::GatewayError;

/// Why an Alipay operation failed. Never carries a key, a signature or a message body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlipayError {
    /// A configured key cannot be read.
    #[error("Alipay key is invalid: {0}")]
    InvalidKey(String),
    /// Signing with the app key failed.
    #[error("Alipay request could not be signed")]
    Signing,
    /// An answer or notification that must be signed carries no `sign`.
    #[error("Alipay message is not signed")]
    MissingSignature,
    /// The signature does not verify with the Alipay public key: forged or altered.
    #[error("Alipay signature does not verify")]
    WrongSignature,
    /// The message is for another app (`app_id`) or seller (`seller_id`).
    #[error("Alipay message is for another {0}")]
    WrongMerchant(&'static str),
    /// An amount is not yuan with at most two decimals.
    #[error("Alipay amount {field} is invalid: {error}")]
    Amount {
        /// Which field.
        field: &'static str,
        /// Why.
        error: DecimalError,
    },
    /// The message cannot be parsed.
    #[error("Alipay message is malformed: {0}")]
    Malformed(String),
    /// The request cannot be expressed for Alipay (a currency other than CNY, an amount out
    /// of range).
    #[error("Alipay does not support this request: {0}")]
    Unsupported(String),
    /// The gateway answered with a code other than `10000`.
    #[error("Alipay answered {code} {sub_code}: {sub_msg}")]
    Api {
        /// `20000` service unavailable, `40002` invalid parameter, `40004` business failure, ...
        code: String,
        /// The business code (`ACQ.TRADE_NOT_EXIST`, ...); empty when there is none.
        sub_code: String,
        /// Alipay's explanation.
        sub_msg: String,
    },
    /// The gateway answered with an HTTP status other than 200.
    #[error("Alipay gateway answered HTTP {0}")]
    Http(u16),
    /// The gateway could not be reached.
    #[error("Alipay could not be reached: {0}")]
    Transport(String),
}

impl AlipayError {
    /// The business code without the `aop.` prefix some answers add, when this is an API error.
    pub fn sub_code(&self) -> Option<&str> {
        match self {
            AlipayError::Api { sub_code, .. } => Some(sub_code.strip_prefix("aop.").unwrap_or(sub_code)),
            _ => None,
        }
    }
}

/// Business codes that mean "our side failed, retry the same request".
const RETRYABLE_CODES: &[&str] = &["ACQ.SYSTEM_ERROR", "isp.unknow-error", "isp.unknown-error"];

/// True for Alipay's rate-limit codes (`isp.rate-limit`, `ACQ.TRADE_REFUND_FREQUENCY_LIMITED`,
/// ...), which name the limit in various spellings.
fn is_rate_limit(sub_code: &str) -> bool {
    let code = sub_code.to_ascii_lowercase();
    code.contains("rate-limit") || code.contains("rate_limit") || code.contains("frequency")
}

impl From<AlipayError> for GatewayError {
    fn from(error: AlipayError) -> GatewayError {
        let message = error.to_string();
        match &error {
            AlipayError::MissingSignature | AlipayError::WrongSignature => GatewayError::InvalidSignature,
            AlipayError::WrongMerchant(_) | AlipayError::Amount { .. } | AlipayError::Malformed(_) => {
                GatewayError::Malformed(message)
            }
            AlipayError::Api { code, .. } => {
                let sub_code = error.sub_code().unwrap_or_default();
                if is_rate_limit(sub_code) {
                    GatewayError::RateLimited(message)
                } else if code == "20000" || RETRYABLE_CODES.contains(&sub_code) {
                    GatewayError::Unavailable(message)
                } else {
                    GatewayError::Rejected(message)
                }
            }
            AlipayError::Http(status) if *status == 429 => GatewayError::RateLimited(message),
            AlipayError::Http(status) if *status >= 500 => GatewayError::Unavailable(message),
            AlipayError::Transport(_) => GatewayError::Unavailable(message),
            AlipayError::Http(_) | AlipayError::InvalidKey(_) | AlipayError::Signing | AlipayError::Unsupported(_) => {
                GatewayError::Rejected(message)
            }
        }
    }
}
