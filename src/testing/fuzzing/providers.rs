//! Fuzz entry points for the real providers' notification parsers, each against the emulated
//! merchant of `testing::emulators` at `testing::t0`: WeChat Pay's notification (headers, signature,
//! AES-256-GCM resource, transaction or refund), Alipay's async notification (form, RSA2 over
//! the sorted parameters, app and seller, trade or refund) and Kuaidi100's push (`MD5(param +
//! salt)`, the history behind it). Each first takes the input as it comes (so the checks
//! themselves are fuzzed), then signs it properly, so the parser behind the signature is
//! reached by every input too. The seed corpora (`fuzz/corpus/<target>/`) are valid signed
//! samples.
//!
//! `engine_alipay_notification` and `engine_kuaidi100_push` go one step further: each input,
//! as it comes and signed, is handed to the engine of an emulated shop (the real Alipay and
//! Kuaidi100 adapters over their emulators, an order awaiting payment or shipped), so the
//! engine's handling of real-format notifications and pushes is fuzzed too.

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

/// An Alipay notification through the engine: a shop on the emulated Alipay and Kuaidi100
/// ([`EmulatedShop`](crate::testing::shop::EmulatedShop)) with one order awaiting payment,
/// its trade open at `t0`, handles the input as it comes, then the input's parameters signed
/// by Alipay, so the engine's handling behind the signature (the order found by its
/// reference, amounts and currency checked, the answer Alipay gets) sees every parsable input.
/// A new shop per input: one input never changes what the next one meets.
#[cfg(all(feature = "alipay", feature = "kuaidi100"))]
pub fn engine_alipay_notification(data: &[u8]) {
    use crate::adapters::alipay::sign;
    use crate::testing::fuzzing::block_on;

    let Some((shop, _)) = block_on(shop_awaiting_payment()) else { return };
    let raw = message(data);
    let _ = block_on(shop.engine.handle_payment_notification(&raw));
    let Ok(mut params) = sign::parse_form(&raw.body) else { return };
    params.remove("sign");
    let signed = shop.alipay().signed(params);
    let _ = block_on(shop.engine.handle_payment_notification(&signed));
    let _ = block_on(shop.engine.handle_refund_notification(&signed));
}

/// A Kuaidi100 push through the engine: a shop on the emulated Alipay and Kuaidi100 with one
/// paid order shipped at `t0` (its waybill subscribed) handles the input as it comes, then the
/// input's `param` (or the whole input) signed with the subscription's salt, so the engine's
/// handling of the tracking history (the parcel found by carrier and waybill, kinds, times,
/// duplicates) sees every input.
#[cfg(all(feature = "alipay", feature = "kuaidi100"))]
pub fn engine_kuaidi100_push(data: &[u8]) {
    use crate::adapters::kuaidi100::sign::form_value;
    use crate::testing::emulators::kuaidi100::{SALT, signed_push};
    use crate::testing::fuzzing::block_on;

    let Some(shop) = block_on(shop_shipped()) else { return };
    let raw = message(data);
    let _ = block_on(shop.engine.handle_tracking_push(&raw));
    let param = form_value(&raw.body, "param").unwrap_or_else(|| String::from_utf8_lossy(&raw.body).into_owned());
    let _ = block_on(shop.engine.handle_tracking_push(&signed_push(&param, SALT)));
}

/// An emulated shop at `t0` with the sample order placed and its Alipay trade opened.
#[cfg(all(feature = "alipay", feature = "kuaidi100"))]
async fn shop_awaiting_payment() -> Option<(crate::testing::shop::EmulatedShop, crate::OrderId)> {
    let shop = crate::testing::shop::EmulatedShop::emulated(crate::Workflow::default(), 10);
    let id = shop.place("alice").await.order.id;
    shop.engine.start_payment(&crate::testing::buyer("alice"), id).await.ok()?;
    Some((shop, id))
}

/// [`shop_awaiting_payment`], paid, packed and shipped with SF (the waybill subscribed at
/// Kuaidi100).
#[cfg(all(feature = "alipay", feature = "kuaidi100"))]
async fn shop_shipped() -> Option<crate::testing::shop::EmulatedShop> {
    let (shop, id) = shop_awaiting_payment().await?;
    shop.pay(id).await;
    shop.ship_all(id).await;
    Some(shop)
}

#[cfg(test)]
mod tests {
    use super::{message, write_message};
    use crate::ports::RawMessage;

    /// The engine targets' seeds are what the providers send the shops those targets build:
    /// the payment is recorded, the push applied (so the seeds reach past every check).
    #[cfg(all(feature = "alipay", feature = "kuaidi100"))]
    #[test]
    fn the_engine_targets_seeds_are_accepted_by_their_shops() {
        use crate::testing::fuzzing::block_on;
        let seed = |path: &str| {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
            message(&std::fs::read(root.join(path)).unwrap())
        };
        let (shop, id) = block_on(super::shop_awaiting_payment()).unwrap();
        let paid = seed("engine_alipay_notification/paid.txt");
        assert_eq!(block_on(shop.engine.handle_payment_notification(&paid)).unwrap().body, "success");
        assert_eq!(block_on(shop.engine.order(id)).unwrap().payment.captures.len(), 1);
        let shop = block_on(super::shop_shipped()).unwrap();
        let delivered = seed("engine_kuaidi100_push/delivered.txt");
        assert_eq!(block_on(shop.engine.handle_tracking_push(&delivered)).unwrap(), 1);
    }

    #[test]
    fn a_written_message_reads_back_and_anything_reads_as_some_message() {
        let raw = RawMessage { headers: vec![("A".into(), "1".into())], body: b"x\n\ny".to_vec() };
        assert_eq!(message(&write_message(&raw)), raw);
        assert_eq!(message(b"no header").body, b"no header");
        assert!(message(b"\n\n").body.is_empty());
    }
}
