//! RSA2 signatures over parameters, as Alipay documents them.
//!
//! The signed content is every parameter with a non-empty value except the ones left out,
//! sorted by name (byte order), written `name=value` and joined by `&`, with values as they
//! are (not URL-encoded). Requests leave out only `sign` (so `sign_type` is signed);
//! asynchronous notifications leave out `sign` and `sign_type`. The signature is RSA-SHA256
//! (PKCS#1 v1.5), base64.

use std::collections::BTreeMap;

use super::AlipayError;
use crate::adapters::rsa_sha256::{self, RsaPrivateKey};

/// Parameters by name; a `BTreeMap` keeps them in the byte order the signature needs.
pub type Params = BTreeMap<String, String>;

/// Left out of a request's signed content.
pub const REQUEST_UNSIGNED: &[&str] = &["sign"];
/// Left out of an asynchronous notification's signed content.
pub const NOTIFY_UNSIGNED: &[&str] = &["sign", "sign_type"];

/// The content a signature covers: `params` without `unsigned` names and empty values.
pub fn content(params: &Params, unsigned: &[&str]) -> String {
    params
        .iter()
        .filter(|(name, value)| !value.is_empty() && !unsigned.contains(&name.as_str()))
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Adds `sign`: `key`'s signature of the request's content.
pub fn sign_request(key: &RsaPrivateKey, params: &mut Params) -> Result<(), AlipayError> {
    let signature = key.sign(content(params, REQUEST_UNSIGNED).as_bytes()).ok_or(AlipayError::Signing)?;
    params.insert("sign".into(), signature);
    Ok(())
}

/// Checks a base64 `signature` of `content` with the Alipay public key.
pub fn verify(key: &rsa::PublicKey, content: &[u8], signature: &str) -> Result<(), AlipayError> {
    if rsa_sha256::verify(key, content, signature) { Ok(()) } else { Err(AlipayError::WrongSignature) }
}

/// Checks the `sign` of parameters whose content leaves out `unsigned` (a notification:
/// [`NOTIFY_UNSIGNED`]; a request, as the emulator checks it: [`REQUEST_UNSIGNED`]).
pub fn verify_params(key: &rsa::PublicKey, params: &Params, unsigned: &[&str]) -> Result<(), AlipayError> {
    let signature = params.get("sign").filter(|s| !s.is_empty()).ok_or(AlipayError::MissingSignature)?;
    verify(key, content(params, unsigned).as_bytes(), signature)
}

/// Reads a form-urlencoded body (a notification, a request) into parameters; a name given
/// twice is refused, as it would make the signed content ambiguous.
pub fn parse_form(body: &[u8]) -> Result<Params, AlipayError> {
    let mut params = Params::new();
    for (name, value) in form_urlencoded::parse(body) {
        if params.insert(name.into_owned(), value.into_owned()).is_some() {
            return Err(AlipayError::Malformed("a parameter is given twice".into()));
        }
    }
    Ok(params)
}

/// Writes parameters form-urlencoded (a request body, a page URL's query, an app order string).
pub fn encode_form(params: &Params) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish()
}
