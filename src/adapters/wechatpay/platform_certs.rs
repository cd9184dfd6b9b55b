//! WeChat Pay's platform keys, by serial, and their refresh from `GET /v3/certificates`.
//!
//! WeChat Pay rotates its platform certificates: for a while both the old and the new one sign,
//! and `Wechatpay-Serial` says which. The set keeps every key it has seen (a rotation adds
//! one); the gateway downloads the certificates again when a message names a serial it does
//! not know. Each downloaded certificate is AES-256-GCM encrypted with the APIv3 key, so only
//! WeChat Pay (who knows the key) can have produced it. Hosts on WeChat's "platform public
//! key" mode add the key with its id via [`PlatformKeys::insert_public_key_pem`].

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};

use rsa::pkcs8::DecodePublicKey;
use serde::Deserialize;
use x509_cert::der::{DecodePem, Encode};

use super::WechatPayError;
use super::config::ApiV3Key;
use super::decrypt::{EncryptedResource, decrypt};

/// The platform keys known so far, by serial. Shared by concurrent calls.
#[derive(Debug, Default)]
pub struct PlatformKeys {
    keys: RwLock<BTreeMap<String, rsa::PublicKey>>,
}

impl PlatformKeys {
    /// No keys: the first message makes the gateway download them.
    pub fn new() -> PlatformKeys {
        PlatformKeys::default()
    }

    /// The key with `serial`.
    pub fn get(&self, serial: &str) -> Option<rsa::PublicKey> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).get(serial).cloned()
    }

    /// The serials known, in order.
    pub fn serials(&self) -> Vec<String> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect()
    }

    /// Adds (or replaces) the key of `serial`.
    pub fn insert(&self, serial: impl Into<String>, key: rsa::PublicKey) {
        self.keys.write().unwrap_or_else(PoisonError::into_inner).insert(serial.into(), key);
    }

    /// Adds a platform public key (`BEGIN PUBLIC KEY`) under its id (`PUB_KEY_ID_...`).
    pub fn insert_public_key_pem(&self, serial: impl Into<String>, pem: &str) -> Result<(), WechatPayError> {
        let key = rsa::PublicKey::from_public_key_pem(pem)
            .map_err(|_| WechatPayError::InvalidKey("platform public key is not an RSA PEM key".into()))?;
        self.insert(serial, key);
        Ok(())
    }

    /// Adds the key of a platform certificate (`BEGIN CERTIFICATE`) under `serial`.
    pub fn insert_certificate_pem(&self, serial: impl Into<String>, pem: &str) -> Result<(), WechatPayError> {
        self.insert(serial, public_key_of_certificate(pem)?);
        Ok(())
    }
}

/// The RSA key in an X.509 certificate (PEM).
pub fn public_key_of_certificate(pem: &str) -> Result<rsa::PublicKey, WechatPayError> {
    let invalid = || WechatPayError::InvalidKey("platform certificate is not an RSA X.509 certificate".into());
    let certificate = x509_cert::Certificate::from_pem(pem).map_err(|_| invalid())?;
    let spki = certificate.tbs_certificate().subject_public_key_info().to_der().map_err(|_| invalid())?;
    rsa::PublicKey::from_public_key_der(&spki).map_err(|_| invalid())
}

#[derive(Deserialize)]
struct CertificateList {
    data: Vec<CertificateEntry>,
}

#[derive(Deserialize)]
struct CertificateEntry {
    serial_no: String,
    encrypt_certificate: EncryptedResource,
}

/// The keys in a `GET /v3/certificates` answer, by serial, each decrypted with the APIv3 key.
/// Fails whole when any entry does not decrypt: an answer we cannot fully trust adds nothing.
pub fn decode_certificates(key: &ApiV3Key, body: &[u8]) -> Result<Vec<(String, rsa::PublicKey)>, WechatPayError> {
    let list: CertificateList = serde_json::from_slice(body)
        .map_err(|_| WechatPayError::Malformed("certificate list is not the documented JSON".into()))?;
    list.data
        .into_iter()
        .map(|entry| {
            let pem = decrypt(key, &entry.encrypt_certificate)?;
            let pem =
                std::str::from_utf8(&pem).map_err(|_| WechatPayError::Malformed("certificate is not text".into()))?;
            Ok((entry.serial_no, public_key_of_certificate(pem)?))
        })
        .collect()
}
