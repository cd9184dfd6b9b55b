//! Signing with the merchant key: the `Authorization` header of every API call and the
//! parameters the buyer's WeChat client checks (`wx.requestPayment`, the app SDK).
//!
//! Every signature is RSA-SHA256 with PKCS#1 v1.5 padding over lines each ended by `\n`,
//! base64-encoded. A request signs `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`, where URL is the
//! path with its query and BODY is empty for a `GET`.

use super::WechatPayError;
use super::config::{MerchantKey, WechatPayConfig};
use crate::ports::{AppParameters, JsapiParameters};

/// The authentication scheme of API v3.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// The lines `parts`, each followed by `\n`: the message every WeChat Pay signature covers.
pub fn message(parts: &[&str]) -> String {
    parts.iter().flat_map(|part| [*part, "\n"]).collect()
}

/// Signs `message` with `key`: base64 of RSA-SHA256 (PKCS#1 v1.5).
pub fn sign(key: &MerchantKey, message: &str) -> Result<String, WechatPayError> {
    key.0.sign(message.as_bytes()).ok_or(WechatPayError::Signing)
}

/// A fresh random nonce: 32 upper-case hexadecimal characters.
pub fn nonce() -> Result<String, WechatPayError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| WechatPayError::Signing)?;
    Ok(bytes.iter().map(|b| format!("{b:02X}")).collect())
}

/// The parts of an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Merchant id.
    pub mchid: String,
    /// Random string.
    pub nonce_str: String,
    /// Seconds since the epoch.
    pub timestamp: String,
    /// Serial of the merchant certificate whose key signed.
    pub serial_no: String,
    /// Base64 signature.
    pub signature: String,
}

impl Authorization {
    /// Signs a request: `url` is the path and query (e.g. `/v3/pay/transactions/native`).
    pub fn sign(
        config: &WechatPayConfig,
        method: &str,
        url: &str,
        timestamp: i64,
        nonce_str: String,
        body: &str,
    ) -> Result<Authorization, WechatPayError> {
        let timestamp = timestamp.to_string();
        let signature = sign(&config.merchant_key, &message(&[method, url, &timestamp, &nonce_str, body]))?;
        Ok(Authorization {
            mchid: config.mch_id.clone(),
            nonce_str,
            timestamp,
            serial_no: config.merchant_serial.clone(),
            signature,
        })
    }

    /// The header value.
    pub fn header(&self) -> String {
        format!(
            "{SCHEME} mchid=\"{}\",nonce_str=\"{}\",signature=\"{}\",timestamp=\"{}\",serial_no=\"{}\"",
            self.mchid, self.nonce_str, self.signature, self.timestamp, self.serial_no
        )
    }

    /// Reads a header value (what WeChat's side does; used by emulators and tests).
    pub fn parse(header: &str) -> Result<Authorization, WechatPayError> {
        let malformed = || WechatPayError::Malformed("Authorization header".into());
        let fields = header.strip_prefix(SCHEME).and_then(|rest| rest.strip_prefix(' ')).ok_or_else(malformed)?;
        let mut found = Authorization {
            mchid: String::new(),
            nonce_str: String::new(),
            timestamp: String::new(),
            serial_no: String::new(),
            signature: String::new(),
        };
        for field in fields.split(',') {
            let (name, value) = field.trim().split_once('=').ok_or_else(malformed)?;
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or_else(malformed)?.to_owned();
            match name {
                "mchid" => found.mchid = value,
                "nonce_str" => found.nonce_str = value,
                "timestamp" => found.timestamp = value,
                "serial_no" => found.serial_no = value,
                "signature" => found.signature = value,
                _ => return Err(malformed()),
            }
        }
        Ok(found)
    }
}

/// A prepay id handed to the buyer's WeChat client, with the time and nonce its signature
/// covers. Both clients check RSA-SHA256 over `appid\ntimestamp\nnonce\n<last>\n`.
#[derive(Debug, Clone)]
pub struct Prepay<'a> {
    /// The merchant's configuration (app id, key).
    pub config: &'a WechatPayConfig,
    /// The prepay id from the create call.
    pub prepay_id: &'a str,
    /// Seconds since the epoch.
    pub timestamp: i64,
    /// Random string.
    pub nonce_str: String,
}

impl Prepay<'_> {
    fn sign_with(&self, last: &str) -> Result<String, WechatPayError> {
        let timestamp = self.timestamp.to_string();
        sign(&self.config.merchant_key, &message(&[&self.config.app_id, &timestamp, &self.nonce_str, last]))
    }

    /// The parameters for `wx.requestPayment` (JSAPI, mini-program); the last signed line is
    /// `prepay_id=...`.
    pub fn jsapi(self) -> Result<JsapiParameters, WechatPayError> {
        let package = format!("prepay_id={}", self.prepay_id);
        let pay_sign = self.sign_with(&package)?;
        Ok(JsapiParameters {
            app_id: self.config.app_id.clone(),
            time_stamp: self.timestamp.to_string(),
            nonce_str: self.nonce_str,
            package,
            sign_type: "RSA".into(),
            pay_sign,
        })
    }

    /// The parameters for the app SDK; the last signed line is the prepay id.
    pub fn app(self) -> Result<AppParameters, WechatPayError> {
        let sign = self.sign_with(self.prepay_id)?;
        Ok(AppParameters {
            appid: self.config.app_id.clone(),
            partnerid: self.config.mch_id.clone(),
            prepayid: self.prepay_id.to_owned(),
            package: "Sign=WXPay".into(),
            noncestr: self.nonce_str,
            timestamp: self.timestamp.to_string(),
            sign,
        })
    }
}
