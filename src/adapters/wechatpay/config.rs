//! The merchant's configuration: ids, keys and where WeChat Pay calls back.

use std::fmt;

use super::WechatPayError;
use crate::adapters::rsa_sha256::RsaPrivateKey;
use chrono::TimeDelta;

/// WeChat Pay's production API.
pub const PRODUCTION_BASE_URL: &str = "https://api.mch.weixin.qq.com";

/// How far a signed timestamp may be from now (WeChat's documented ±5 minutes).
pub const DEFAULT_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// The merchant's API private key (`apiclient_key.pem`), which signs every request.
#[derive(Clone)]
pub struct MerchantKey(pub(crate) RsaPrivateKey);

impl MerchantKey {
    /// Reads a PEM key: PKCS#8 (`BEGIN PRIVATE KEY`, as the merchant platform issues it) or
    /// PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<MerchantKey, WechatPayError> {
        RsaPrivateKey::from_text(pem)
            .map(MerchantKey)
            .ok_or_else(|| WechatPayError::InvalidKey("merchant private key is not an RSA PEM key".into()))
    }
}

impl fmt::Debug for MerchantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MerchantKey(<redacted>)")
    }
}

/// The APIv3 key: 32 characters set in the merchant platform, which decrypts notification
/// resources and downloaded certificates (AES-256-GCM).
#[derive(Clone)]
pub struct ApiV3Key(pub(crate) [u8; 32]);

impl ApiV3Key {
    /// The key as set in the merchant platform: exactly 32 bytes.
    pub fn new(key: &str) -> Result<ApiV3Key, WechatPayError> {
        <[u8; 32]>::try_from(key.as_bytes())
            .map(ApiV3Key)
            .map_err(|_| WechatPayError::InvalidKey("APIv3 key must be 32 bytes".into()))
    }
}

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key(<redacted>)")
    }
}

/// Everything the adapter needs from the merchant platform. `Debug` shows ids, never keys.
#[derive(Debug, Clone)]
pub struct WechatPayConfig {
    /// Merchant id (`mchid`).
    pub mch_id: String,
    /// The app id payments are made under (official account, mini-program or mobile app).
    pub app_id: String,
    /// Serial number of the merchant's API certificate (`serial_no` in requests).
    pub merchant_serial: String,
    /// Signs requests.
    pub merchant_key: MerchantKey,
    /// Decrypts notifications and certificates.
    pub api_v3_key: ApiV3Key,
    /// Where WeChat Pay sends payment notifications (HTTPS, no query string).
    pub notify_url: String,
    /// Where WeChat Pay sends refund notifications; `None`: as set in the merchant platform.
    pub refund_notify_url: Option<String>,
    /// The API's base URL: [`PRODUCTION_BASE_URL`], or an emulator's in tests.
    pub base_url: String,
    /// How far a signed timestamp may be from now.
    pub tolerance: TimeDelta,
}

impl WechatPayConfig {
    /// A configuration for the production API with the documented tolerance.
    pub fn new(
        mch_id: impl Into<String>,
        app_id: impl Into<String>,
        merchant_serial: impl Into<String>,
        merchant_key: MerchantKey,
        api_v3_key: ApiV3Key,
        notify_url: impl Into<String>,
    ) -> WechatPayConfig {
        WechatPayConfig {
            mch_id: mch_id.into(),
            app_id: app_id.into(),
            merchant_serial: merchant_serial.into(),
            merchant_key,
            api_v3_key,
            notify_url: notify_url.into(),
            refund_notify_url: None,
            base_url: PRODUCTION_BASE_URL.into(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// The same configuration against another base URL (an emulator, a proxy).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> WechatPayConfig {
        self.base_url = base_url.into();
        self
    }
}
