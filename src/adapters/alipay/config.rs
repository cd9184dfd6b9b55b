//! The app's configuration: ids, keys, the gateway and where Alipay calls back.

use std::fmt;

use super::AlipayError;
use crate::adapters::rsa_sha256::{self, RsaPrivateKey};

/// Alipay's production gateway (one URL for every API method).
pub const PRODUCTION_GATEWAY: &str = "https://openapi.alipay.com/gateway.do";
/// Alipay's sandbox gateway.
pub const SANDBOX_GATEWAY: &str = "https://openapi-sandbox.dl.alipaydev.com/gateway.do";

/// Everything the adapter needs from the Alipay open platform. `Debug` shows ids and URLs,
/// never the private key.
#[derive(Clone)]
pub struct AlipayConfig {
    /// The app id (`app_id`) payments are made under.
    pub app_id: String,
    /// The merchant's partner id (`seller_id`, the 2088... PID): notifications for another
    /// seller are refused.
    pub seller_id: String,
    /// The app's RSA2 private key, which signs every request.
    pub app_key: RsaPrivateKey,
    /// The Alipay public key ("public key mode"), which signs answers and notifications.
    pub alipay_public_key: rsa::PublicKey,
    /// The gateway: [`PRODUCTION_GATEWAY`], [`SANDBOX_GATEWAY`] or an emulator's.
    pub gateway_url: String,
    /// Where Alipay sends asynchronous notifications (`notify_url`).
    pub notify_url: String,
    /// Where the buyer's browser returns after a page or wap payment (`return_url`).
    pub return_url: Option<String>,
}

impl AlipayConfig {
    /// A configuration for the production gateway. Keys are read as PEM or as the bare
    /// base64 Alipay's key tool and console show.
    pub fn new(
        app_id: impl Into<String>,
        seller_id: impl Into<String>,
        app_private_key: &str,
        alipay_public_key: &str,
        notify_url: impl Into<String>,
    ) -> Result<AlipayConfig, AlipayError> {
        let app_key = RsaPrivateKey::from_text(app_private_key)
            .ok_or_else(|| AlipayError::InvalidKey("app private key is not an RSA key".into()))?;
        let alipay_public_key = rsa_sha256::public_key_from_text(alipay_public_key)
            .ok_or_else(|| AlipayError::InvalidKey("Alipay public key is not an RSA public key".into()))?;
        Ok(AlipayConfig {
            app_id: app_id.into(),
            seller_id: seller_id.into(),
            app_key,
            alipay_public_key,
            gateway_url: PRODUCTION_GATEWAY.into(),
            notify_url: notify_url.into(),
            return_url: None,
        })
    }

    /// The same configuration against another gateway (the sandbox, an emulator).
    pub fn with_gateway_url(mut self, gateway_url: impl Into<String>) -> AlipayConfig {
        self.gateway_url = gateway_url.into();
        self
    }

    /// The same configuration sending the buyer's browser back to `return_url`.
    pub fn with_return_url(mut self, return_url: impl Into<String>) -> AlipayConfig {
        self.return_url = Some(return_url.into());
        self
    }
}

impl fmt::Debug for AlipayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlipayConfig")
            .field("app_id", &self.app_id)
            .field("seller_id", &self.seller_id)
            .field("app_key", &self.app_key)
            .field("gateway_url", &self.gateway_url)
            .field("notify_url", &self.notify_url)
            .field("return_url", &self.return_url)
            .finish_non_exhaustive()
    }
}
