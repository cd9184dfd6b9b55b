//! RSA-SHA256 signatures with PKCS#1 v1.5 padding, base64-encoded: the scheme WeChat Pay
//! (`WECHATPAY2-SHA256-RSA2048`) and Alipay (`RSA2`) both sign with, and the key formats their
//! consoles hand out.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::sha2::Sha256;

/// A private key that signs. `Debug` never shows it.
#[derive(Clone)]
pub struct RsaPrivateKey(rsa::PrivateKey);

impl RsaPrivateKey {
    /// Reads a key as PEM, PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`), or
    /// as the bare base64 of either (what Alipay's key tool prints); `None` for anything else.
    pub fn from_text(text: &str) -> Option<RsaPrivateKey> {
        let text = text.trim();
        let key = if text.starts_with("-----") {
            rsa::PrivateKey::from_pkcs8_pem(text).or_else(|_| rsa::PrivateKey::from_pkcs1_pem(text)).ok()?
        } else {
            let der = bare_base64(text)?;
            rsa::PrivateKey::from_pkcs8_der(&der).or_else(|_| rsa::PrivateKey::from_pkcs1_der(&der)).ok()?
        };
        Some(RsaPrivateKey(key))
    }

    /// Base64 of the RSA-SHA256 signature of `message`; `None` if signing fails.
    pub fn sign(&self, message: &[u8]) -> Option<String> {
        self.0.pkcs1v15_sign::<Sha256>(message).ok().map(|signature| STANDARD.encode(signature))
    }
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RsaPrivateKey(<redacted>)")
    }
}

/// Reads a public key as PEM (`BEGIN PUBLIC KEY`) or as its bare base64 (what Alipay's console
/// shows as the "Alipay public key"); `None` for anything else.
pub fn public_key_from_text(text: &str) -> Option<rsa::PublicKey> {
    let text = text.trim();
    if text.starts_with("-----") {
        rsa::PublicKey::from_public_key_pem(text).ok()
    } else {
        rsa::PublicKey::from_public_key_der(&bare_base64(text)?).ok()
    }
}

/// True when `signature` (base64) is `key`'s RSA-SHA256 signature of `message`.
pub fn verify(key: &rsa::PublicKey, message: &[u8], signature: &str) -> bool {
    STANDARD.decode(signature).is_ok_and(|signature| key.pkcs1v15_verify::<Sha256>(message, &signature).is_ok())
}

/// Base64 that may be wrapped over several lines.
fn bare_base64(text: &str) -> Option<Vec<u8>> {
    let joined: String = text.split_whitespace().collect();
    STANDARD.decode(joined).ok()
}
