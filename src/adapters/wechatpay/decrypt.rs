//! AES-256-GCM with the APIv3 key: how WeChat Pay encrypts a notification's `resource` and
//! each downloaded platform certificate (`AEAD_AES_256_GCM`; base64 ciphertext with the
//! 16-byte tag at its end, a 12-character nonce, and associated data).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::WechatPayError;
use super::config::ApiV3Key;

/// The only algorithm API v3 uses.
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";

/// An encrypted resource as WeChat Pay sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedResource {
    /// `AEAD_AES_256_GCM`.
    pub algorithm: String,
    /// Base64 of the ciphertext and tag.
    pub ciphertext: String,
    /// The 12-byte nonce, as text.
    pub nonce: String,
    /// Authenticated, not encrypted (`transaction`, `certificate`, or empty).
    #[serde(default)]
    pub associated_data: String,
    /// What the plaintext is (`transaction`, `refund`); absent on certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_type: Option<String>,
}

fn cipher(key: &ApiV3Key) -> Aes256Gcm {
    Aes256Gcm::new(&key.0.into())
}

fn nonce(text: &str) -> Result<Nonce<aes_gcm::aead::consts::U12>, WechatPayError> {
    <[u8; 12]>::try_from(text.as_bytes())
        .map(Nonce::from)
        .map_err(|_| WechatPayError::Malformed("resource nonce is not 12 bytes".into()))
}

/// The plaintext of `resource`; [`WechatPayError::Decryption`] when it was altered or
/// encrypted with another key.
pub fn decrypt(key: &ApiV3Key, resource: &EncryptedResource) -> Result<Vec<u8>, WechatPayError> {
    if resource.algorithm != ALGORITHM {
        return Err(WechatPayError::Malformed(format!("unsupported algorithm {}", resource.algorithm)));
    }
    let ciphertext = STANDARD
        .decode(&resource.ciphertext)
        .map_err(|_| WechatPayError::Malformed("ciphertext is not base64".into()))?;
    let payload = Payload { msg: &ciphertext, aad: resource.associated_data.as_bytes() };
    cipher(key).decrypt(&nonce(&resource.nonce)?, payload).map_err(|_| WechatPayError::Decryption)
}

/// Encrypts `plaintext` the way WeChat Pay does, for emulators and tests. `nonce_text` must
/// be 12 bytes and never reused with the same key.
pub fn encrypt(
    key: &ApiV3Key,
    nonce_text: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<EncryptedResource, WechatPayError> {
    let payload = Payload { msg: plaintext, aad: associated_data.as_bytes() };
    let sealed = cipher(key).encrypt(&nonce(nonce_text)?, payload).map_err(|_| WechatPayError::Decryption)?;
    Ok(EncryptedResource {
        algorithm: ALGORITHM.into(),
        ciphertext: STANDARD.encode(sealed),
        nonce: nonce_text.into(),
        associated_data: associated_data.into(),
        original_type: None,
    })
}
