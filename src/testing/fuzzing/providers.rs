//! Fuzz entry points for the real providers' notification parsers, each against the emulated
//! merchant of `testing::emulators` at `testing::t0`: WeChat Pay's notification (headers, signature,
//! AES-256-GCM resource, transaction or refund), Alipay's async notification (form, RSA2 over
//! the sorted parameters, app and seller, trade or refund) and Kuaidi100's push (`MD5(param +
//! salt)`, the history behind it). Each first takes the input as it comes (so the checks
//! themselves are fuzzed), then signs it properly, so the parser behind the signature is
//! reached by every input too. The seed corpora (`fuzz/corpus/<target>/`) are valid signed
//! samples.

use crate::ports::RawMessage;

/// A fuzz input read as a message: header lines (`Name: value`), an empty line, then the body.
/// Without an empty line, the whole input is the body. Never fails.
pub fn message(data: &[u8]) -> RawMessage {
    let split = data.windows(2).position(|pair| pair == b"\n\n");
    let Some(at) = split else { return RawMessage { headers: Vec::new(), body: data.to_vec() } };
    let (head, body) = data.split_at(at);
    let headers = String::from_utf8_lossy(head)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    RawMessage { headers, body: body.get(2..).unwrap_or_default().to_vec() }
}

/// A message written the way [`message`] reads it (a corpus file).
pub fn write_message(raw: &RawMessage) -> Vec<u8> {
    let mut out: Vec<u8> =
        raw.headers.iter().flat_map(|(name, value)| format!("{name}: {value}\n").into_bytes()).collect();
    out.push(b'\n');
    out.extend_from_slice(&raw.body);
    out
}

/// A WeChat Pay notification (as [`message`] reads it): verified against platform A at
/// `t0`, then read as a payment and as a refund; then the body signed by platform A, so
/// decryption and the readers see every input.
#[cfg(feature = "wechatpay")]
pub fn wechatpay_notification(data: &[u8]) {
    use std::sync::OnceLock;

    use chrono::TimeDelta;

    use crate::adapters::wechatpay::notification;
    use crate::adapters::wechatpay::platform_certs::PlatformKeys;
    use crate::adapters::wechatpay::verify;
    use crate::testing::emulators::wechatpay::{PLATFORM_A_CERT, SERIAL_A, config, platforms, signed};
    use crate::testing::t0;

    static STATE: OnceLock<Option<(crate::adapters::wechatpay::WechatPayConfig, PlatformKeys)>> = OnceLock::new();
    let Some((config, keys)) = STATE.get_or_init(|| {
        let keys = PlatformKeys::new();
        keys.insert_certificate_pem(SERIAL_A, PLATFORM_A_CERT).ok()?;
        Some((config(), keys))
    }) else {
        return;
    };
    let raw = message(data);
    if verify::verify(keys, &raw, t0(), TimeDelta::minutes(5)).is_ok() {
        let _ = notification::payment(config, &raw.body).map(|paid| paid.amount.to_string());
        let _ = notification::refund(config, &raw.body);
    }
    let [platform, _] = platforms();
    let resigned = signed(&String::from_utf8_lossy(&raw.body), platform.serial, &platform.key, t0().timestamp());
    if verify::verify(keys, &resigned, t0(), TimeDelta::minutes(5)).is_ok() {
        let _ = notification::payment(config, &resigned.body).map(|paid| paid.amount.to_string());
        let _ = notification::refund(config, &resigned.body);
    }
}

/// An Alipay async notification body (form-urlencoded): verified and read as a payment and
/// as a refund notice; then its parameters signed again with the emulated Alipay key, so the
/// readers behind the signature see every parsable input.
#[cfg(feature = "alipay")]
pub fn alipay_notification(data: &[u8]) {
    use std::sync::OnceLock;

    use crate::adapters::alipay::{notify, sign};
    use crate::adapters::rsa_sha256::RsaPrivateKey;
    use crate::testing::emulators::alipay::{ALIPAY_KEY, config};

    static STATE: OnceLock<Option<(crate::adapters::alipay::AlipayConfig, RsaPrivateKey)>> = OnceLock::new();
    let Some((config, key)) = STATE.get_or_init(|| Some((config(), RsaPrivateKey::from_text(ALIPAY_KEY)?))) else {
        return;
    };
    let read = |body: &[u8]| {
        let _ = notify::is_refund(body);
        let _ = notify::payment(config, body).map(|paid| paid.amount.to_string());
        let _ = notify::refund(config, body);
    };
    read(data);
    let Ok(mut params) = sign::parse_form(data) else { return };
    params.remove("sign");
    let Some(signature) = key.sign(sign::content(&params, sign::NOTIFY_UNSIGNED).as_bytes()) else { return };
    params.insert("sign".into(), signature);
    read(sign::encode_form(&params).as_bytes());
}

/// A Kuaidi100 push body (form-urlencoded `param` and `sign`): verified with the salt; then
/// its `param` (or the whole input) signed with the salt, so the history parser sees every
/// input.
#[cfg(feature = "kuaidi100")]
pub fn kuaidi100_push(data: &[u8]) {
    use crate::adapters::kuaidi100::push::verify_push;
    use crate::adapters::kuaidi100::sign::form_value;
    use crate::testing::emulators::kuaidi100::{SALT, config, signed_push};

    let config = config();
    let _ = verify_push(&config, &RawMessage { headers: Vec::new(), body: data.to_vec() });
    let param = form_value(data, "param").unwrap_or_else(|| String::from_utf8_lossy(data).into_owned());
    if let Ok(pushes) = verify_push(&config, &signed_push(&param, SALT)) {
        let _ = pushes.iter().map(|push| push.waybill.len()).sum::<usize>();
    }
}

#[cfg(test)]
mod tests {
    use super::{message, write_message};
    use crate::ports::RawMessage;

    #[test]
    fn a_written_message_reads_back_and_anything_reads_as_some_message() {
        let raw = RawMessage { headers: vec![("A".into(), "1".into())], body: b"x\n\ny".to_vec() };
        assert_eq!(message(&write_message(&raw)), raw);
        assert_eq!(message(b"no header").body, b"no header");
        assert!(message(b"\n\n").body.is_empty());
    }
}
