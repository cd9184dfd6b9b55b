//! The sans-IO core: signatures, verification, decryption and the refusals, each with a
//! typed error; through the engine, a refused notification changes nothing.

use std::sync::Arc;

use orderflow::adapters::http::{HttpRequest, HttpResponse, HttpTransport, TransportError};
use orderflow::adapters::wechatpay::decrypt::{decrypt, encrypt};
use orderflow::adapters::wechatpay::sign::{self, Authorization};
use orderflow::adapters::wechatpay::{
    ApiV3Key, MerchantKey, PlatformKeys, WechatPayError, WechatPayGateway, api, notification, verify,
};
use orderflow::engine::EngineError;
use orderflow::ports::{
    Checkout, Clock, GatewayError, PaymentGateway, PaymentRequest, PaymentSession, PaymentStatus, RawMessage,
};
use orderflow::testing::{buyer, sample_form};
use orderflow::{Currency, Money, OrderId, OrderNumber, OrderStatus};
use rsa::pkcs8::DecodePublicKey;
use serde_json::Value;

use super::emulator::{Emulator, platforms, signed};
use super::*;

fn keys() -> PlatformKeys {
    let keys = PlatformKeys::new();
    keys.insert_certificate_pem(SERIAL_A, PLATFORM_A_CERT).unwrap();
    keys
}

fn with_body(raw: &RawMessage, body: String) -> RawMessage {
    RawMessage { headers: raw.headers.clone(), body: body.into_bytes() }
}

#[test]
fn the_request_message_and_authorization_header_follow_the_documented_format() {
    // The documented example: GET /v3/certificates, empty body, so two newlines at the end.
    assert_eq!(
        sign::message(&["GET", "/v3/certificates", "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", ""]),
        "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
    );
    let auth =
        Authorization::sign(&config(), "POST", "/v3/pay/transactions/jsapi", 1554208460, "N1".into(), "{}").unwrap();
    let header = auth.header();
    assert!(header.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900009191\",nonce_str=\"N1\",signature=\""));
    assert!(header.ends_with(&format!("timestamp=\"1554208460\",serial_no=\"{MERCHANT_SERIAL}\"")));
    assert_eq!(Authorization::parse(&header).unwrap(), auth);
    let merchant = rsa::PublicKey::from_public_key_pem(MERCHANT_PUBLIC_KEY).unwrap();
    let message = "POST\n/v3/pay/transactions/jsapi\n1554208460\nN1\n{}\n";
    verify::verify_signature(&merchant, message.as_bytes(), &auth.signature).unwrap();
    assert_eq!(
        verify::verify_signature(&merchant, b"POST\n/v3/pay/transactions/app\n1554208460\nN1\n{}\n", &auth.signature),
        Err(WechatPayError::WrongSignature)
    );
    let nonce = sign::nonce().unwrap();
    assert_eq!(nonce.len(), 32);
    assert_ne!(nonce, sign::nonce().unwrap());
}

#[test]
fn jsapi_and_app_parameters_are_signed_over_the_documented_lines() {
    let config = config();
    let merchant = rsa::PublicKey::from_public_key_pem(MERCHANT_PUBLIC_KEY).unwrap();
    let created = br#"{"prepay_id":"wx201410272009395522657a690389285100"}"#;
    let session = api::session(
        &config,
        &Checkout::Jsapi { openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into() },
        created,
        1414561699,
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".into(),
    )
    .unwrap();
    let PaymentSession::Jsapi(p) = session else { panic!("{session:?}") };
    assert_eq!((p.app_id.as_str(), p.time_stamp.as_str(), p.sign_type.as_str()), (APP_ID, "1414561699", "RSA"));
    assert_eq!(p.package, "prepay_id=wx201410272009395522657a690389285100");
    let message = format!("{APP_ID}\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n{}\n", p.package);
    verify::verify_signature(&merchant, message.as_bytes(), &p.pay_sign).unwrap();
    let json: Value = serde_json::to_value(PaymentSession::Jsapi(p)).unwrap();
    for field in ["appId", "timeStamp", "nonceStr", "package", "signType", "paySign"] {
        assert!(json.get(field).is_some(), "{field} in {json}");
    }

    let PaymentSession::App(app) = api::session(&config, &Checkout::App, created, 1414561699, "N".into()).unwrap()
    else {
        panic!()
    };
    assert_eq!((app.partnerid.as_str(), app.package.as_str()), (MCH_ID, "Sign=WXPay"));
    let message = format!("{APP_ID}\n1414561699\nN\nwx201410272009395522657a690389285100\n");
    verify::verify_signature(&merchant, message.as_bytes(), &app.sign).unwrap();

    let h5 = api::session(
        &config,
        &Checkout::H5 { client_ip: "1.2.3.4".into() },
        br#"{"h5_url":"https://wx.tenpay.com/x"}"#,
        1,
        "N".into(),
    );
    assert_eq!(h5.unwrap(), PaymentSession::Redirect { url: "https://wx.tenpay.com/x".into() });
    let native = api::session(
        &config,
        &Checkout::Native,
        br#"{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}"#,
        1,
        "N".into(),
    );
    assert_eq!(native.unwrap(), PaymentSession::QrCode { payload: "weixin://wxpay/bizpayurl?pr=p4lpSuKzz".into() });
    assert!(matches!(
        api::session(&config, &Checkout::Native, br#"{"prepay_id":"wx1"}"#, 1, "N".into()),
        Err(WechatPayError::Malformed(_))
    ));
}

#[test]
fn create_requests_carry_fen_the_provider_reference_the_checkout_and_the_expiry() {
    let config = config();
    let number = OrderNumber::from_value(123_456_789).unwrap();
    let request = PaymentRequest::new(OrderId::new_v7(), number, Money::new(12_345, Currency::CNY), "wechatpay", "tea")
        .with_checkout(Checkout::H5 { client_ip: "203.0.113.7".into() })
        .with_expiry(Some(orderflow::testing::t0()));
    let call = api::create(&config, &request).unwrap();
    assert_eq!((call.method, call.path.as_str()), ("POST", "/v3/pay/transactions/h5"));
    let body: Value = serde_json::from_str(&call.body).unwrap();
    assert_eq!(body["amount"], serde_json::json!({ "total": 12_345, "currency": "CNY" }));
    assert_eq!(body["out_trade_no"], number.provider_reference());
    assert_eq!(body["scene_info"]["payer_client_ip"], "203.0.113.7");
    assert!(body["time_expire"].as_str().unwrap().ends_with("+08:00"));
    let usd = PaymentRequest::new(OrderId::new_v7(), number, Money::new(1, Currency::USD), "wechatpay", "tea");
    assert!(matches!(api::create(&config, &usd), Err(WechatPayError::Unsupported(_))));
}

#[test]
fn error_codes_map_to_rate_limited_retryable_or_rejected() {
    let gateway = |status: u16, code: &str| {
        GatewayError::from(api::api_error(status, format!(r#"{{"code":"{code}","message":"m"}}"#).as_bytes()))
    };
    assert!(matches!(gateway(403, "FREQUENCY_LIMITED"), GatewayError::RateLimited(_)));
    assert!(matches!(gateway(429, "RATELIMIT_EXCEEDED"), GatewayError::RateLimited(_)));
    assert!(matches!(gateway(500, "SYSTEM_ERROR"), GatewayError::Unavailable(_)));
    assert!(matches!(gateway(502, ""), GatewayError::Unavailable(_)));
    for code in ["ORDERPAID", "ORDER_CLOSED", "PARAM_ERROR", "SIGN_ERROR", "NOT_ENOUGH"] {
        assert!(matches!(gateway(400, code), GatewayError::Rejected(_)), "{code}");
    }
    assert!(api::refund_receipt(br#"{"refund_id":"R1","status":"PROCESSING"}"#).unwrap().pending);
    assert!(!api::refund_receipt(br#"{"refund_id":"R1","status":"SUCCESS"}"#).unwrap().pending);
    assert!(matches!(
        api::refund_receipt(br#"{"refund_id":"R1","status":"ABNORMAL"}"#).map_err(GatewayError::from),
        Err(GatewayError::Rejected(_))
    ));
}

#[test]
fn resources_decrypt_and_a_tampered_ciphertext_or_other_key_is_refused() {
    let key = ApiV3Key::new(API_V3_KEY).unwrap();
    let sealed = encrypt(&key, "0123456789ab", "transaction", b"{\"a\":1}").unwrap();
    assert_eq!(decrypt(&key, &sealed).unwrap(), b"{\"a\":1}");
    let mut tampered = sealed.clone();
    let mut bytes = tampered.ciphertext.into_bytes();
    bytes[2] = if bytes[2] == b'A' { b'B' } else { b'A' };
    tampered.ciphertext = String::from_utf8(bytes).unwrap();
    assert_eq!(decrypt(&key, &tampered), Err(WechatPayError::Decryption));
    let mut other_aad = sealed.clone();
    other_aad.associated_data = "certificate".into();
    assert_eq!(decrypt(&key, &other_aad), Err(WechatPayError::Decryption));
    let other = ApiV3Key::new("ffffffffffffffffffffffffffffffff").unwrap();
    assert_eq!(decrypt(&other, &sealed), Err(WechatPayError::Decryption));
    assert!(ApiV3Key::new("short").is_err());
}

#[test]
fn secrets_never_show_in_debug() {
    let shown = format!("{:?}", config());
    assert!(!shown.contains(API_V3_KEY) && !shown.contains("PRIVATE") && shown.contains("redacted"), "{shown}");
    assert!(!format!("{:?}", MerchantKey::from_pem(MERCHANT_KEY).unwrap()).contains("MII"));
}

/// A valid notification and each way of breaking it, checked without any network.
#[test]
fn notifications_verify_and_each_fault_is_refused_with_its_own_error() {
    let clock = clock();
    let emulator = Emulator::new(clock.clone());
    let config = config();
    let keys = keys();
    let now = clock.now();
    let tolerance = config.tolerance;
    let number = OrderNumber::from_value(42).unwrap();
    let reference = number.provider_reference();
    let request = PaymentRequest::new(OrderId::new_v7(), number, Money::new(999, Currency::CNY), "wechatpay", "x");
    let call = api::create(&config, &request).unwrap();
    emulator.open(&call.path, &call.body);
    emulator.pay(&reference, 900);

    let good = emulator.notification(&reference);
    verify::verify(&keys, &good, now, tolerance).unwrap();
    let paid = notification::payment(&config, &good.body).unwrap();
    assert_eq!(
        (paid.order_number, paid.amount, paid.status),
        (number, Money::new(999, Currency::CNY), PaymentStatus::Succeeded)
    );
    assert_eq!(paid.payer_total, Some(Money::new(900, Currency::CNY)));
    assert_eq!(paid.succeeded_at, Some(now));
    assert_eq!(paid.provider.as_deref(), Some("wechatpay"));
    assert!(paid.txn_id.starts_with("42000"));

    let body = String::from_utf8(good.body.clone()).unwrap();
    let [a, b] = platforms();
    let check = |raw: &RawMessage| verify::verify(&keys, raw, now, tolerance);
    // Signed by another key under A's serial.
    assert_eq!(check(&signed(&body, SERIAL_A, &b.key, now.timestamp())), Err(WechatPayError::WrongSignature));
    // A serial nobody published.
    assert_eq!(
        check(&signed(&body, "FFFF", &a.key, now.timestamp())),
        Err(WechatPayError::UnknownSerial("FFFF".into()))
    );
    // Replayed later than the tolerance, or dated ahead of it.
    assert_eq!(check(&signed(&body, SERIAL_A, &a.key, now.timestamp() - 301)), Err(WechatPayError::StaleTimestamp));
    assert_eq!(check(&signed(&body, SERIAL_A, &a.key, now.timestamp() + 301)), Err(WechatPayError::FutureTimestamp));
    check(&signed(&body, SERIAL_A, &a.key, now.timestamp() - 299)).unwrap();
    // The body changed after signing.
    assert_eq!(
        check(&with_body(&good, body.replace("TRANSACTION", "TRANSACTIOn"))),
        Err(WechatPayError::WrongSignature)
    );
    // A header missing.
    let mut headless = good.clone();
    headless.headers.retain(|(k, _)| k != "Wechatpay-Serial");
    assert_eq!(check(&headless), Err(WechatPayError::MissingHeader("Wechatpay-Serial")));
    // Ciphertext altered (and the envelope signed again, so only decryption can catch it).
    let mut envelope: Value = serde_json::from_str(&body).unwrap();
    let ciphertext = envelope["resource"]["ciphertext"].as_str().unwrap().to_owned();
    let flipped = match ciphertext.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", ciphertext.get(1..).unwrap()),
    };
    envelope["resource"]["ciphertext"] = flipped.into();
    let resigned = signed(&envelope.to_string(), SERIAL_A, &a.key, now.timestamp());
    check(&resigned).unwrap();
    assert_eq!(notification::payment(&config, &resigned.body), Err(WechatPayError::Decryption));
    // Correctly signed and encrypted, but for another app or merchant.
    let other_app = emulator.notification_for("wx0000000000000000", MCH_ID, &reference, |_| {});
    assert_eq!(notification::payment(&config, &other_app.body), Err(WechatPayError::WrongMerchant("app id")));
    let other_mch = emulator.notification_for(APP_ID, "1230000109", &reference, |_| {});
    assert_eq!(notification::payment(&config, &other_mch.body), Err(WechatPayError::WrongMerchant("merchant id")));
    // Each maps to the port's error the engine answers with.
    assert_eq!(GatewayError::from(WechatPayError::WrongSignature), GatewayError::InvalidSignature);
    assert_eq!(GatewayError::from(WechatPayError::FutureTimestamp), GatewayError::StaleTimestamp);
    assert!(matches!(GatewayError::from(WechatPayError::WrongMerchant("app id")), GatewayError::Malformed(_)));
    // The answers WeChat Pay expects.
    assert_eq!(notification::reply(true).status, 204);
    let retry = notification::reply(false);
    assert!(retry.status >= 500 && retry.body.contains(r#""code":"FAIL""#));
}

/// A transport for tests that must not reach any network.
struct NoNetwork;

impl HttpTransport for NoNetwork {
    async fn send(&self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
        Err(TransportError("no network in this test".into()))
    }
}

/// Through the engine: a refused notification changes nothing; wrong amount is an anomaly,
/// never a payment; an unknown order is `NotFound`.
#[tokio::test]
async fn through_the_engine_refused_notifications_change_nothing() {
    let clock = clock();
    let emulator = Emulator::new(clock.clone());
    let gateway = Arc::new(WechatPayGateway::new(config(), NoNetwork).with_clock(clock.clone()));
    gateway.platform_keys().insert_certificate_pem(SERIAL_A, PLATFORM_A_CERT).unwrap();
    let engine = engine(gateway.clone(), clock.clone());
    let placed = engine.place(&buyer("ada"), &sample_form("ada"), None).await.unwrap();
    let order = placed.order;
    let reference = order.number().provider_reference();
    let request = PaymentRequest::new(order.id(), order.number(), order.totals().total, "wechatpay", "x");
    let call = api::create(&config(), &request).unwrap();
    emulator.open(&call.path, &call.body);
    emulator.pay(&reference, order.totals().total.minor);
    let good = emulator.notification(&reference);
    let body = String::from_utf8(good.body.clone()).unwrap();
    let [a, b] = platforms();
    let now = clock.now().timestamp();

    let refusals: Vec<(RawMessage, GatewayError)> = vec![
        (signed(&body, SERIAL_A, &b.key, now), GatewayError::InvalidSignature),
        (signed(&body, SERIAL_A, &a.key, now - 600), GatewayError::StaleTimestamp),
        (signed(&body, SERIAL_A, &a.key, now + 600), GatewayError::StaleTimestamp),
        (with_body(&good, body.replace("encrypt-resource", "encrypt-resourcE")), GatewayError::InvalidSignature),
    ];
    for (raw, expected) in refusals {
        let refused = engine.handle_payment_notification(&raw).await.unwrap_err();
        assert!(matches!(&refused, EngineError::Payment(e) if *e == expected), "{refused:?}");
        assert_eq!(engine.order(order.id()).await.unwrap(), order);
    }
    // Unknown serial: one refresh is tried (no network here), and nothing changes.
    let unknown = engine.handle_payment_notification(&signed(&body, "FFFF", &a.key, now)).await.unwrap_err();
    assert!(matches!(unknown, EngineError::Payment(GatewayError::Unavailable(_))), "{unknown:?}");
    let throttled = engine.handle_payment_notification(&signed(&body, "FFFF", &a.key, now)).await.unwrap_err();
    assert!(matches!(throttled, EngineError::Payment(GatewayError::InvalidSignature)), "{throttled:?}");
    for wrong in [
        emulator.notification_for("wx0000000000000000", MCH_ID, &reference, |_| {}),
        emulator.notification_for(APP_ID, "1230000109", &reference, |_| {}),
    ] {
        let refused = engine.handle_payment_notification(&wrong).await.unwrap_err();
        assert!(matches!(refused, EngineError::Payment(GatewayError::Malformed(_))), "{refused:?}");
    }
    assert_eq!(engine.order(order.id()).await.unwrap(), order);

    // An order nobody placed.
    let stranger = emulator.notification_for(APP_ID, MCH_ID, &reference, |t| {
        t["out_trade_no"] = OrderNumber::from_value(7).unwrap().provider_reference().into();
    });
    assert!(matches!(engine.handle_payment_notification(&stranger).await, Err(EngineError::NotFound)));
    assert_eq!(engine.order(order.id()).await.unwrap(), order);

    // Right signature, wrong amount: recorded for staff as an anomaly, never a payment.
    let short = emulator.notification_for(APP_ID, MCH_ID, &reference, |t| {
        t["amount"]["total"] = (order.totals().total.minor - 1).into();
        t["transaction_id"] = "4200000000000000000000000001".into();
    });
    engine.handle_payment_notification(&short).await.unwrap();
    let after = engine.order(order.id()).await.unwrap();
    assert_eq!(after.status(), OrderStatus::AwaitingPayment);
    assert_eq!(after.payment().anomalies.len(), 1);

    // And the genuine one pays the order, answered 204.
    let reply = engine.handle_payment_notification(&good).await.unwrap();
    assert_eq!(reply.status, 204);
    assert_ne!(engine.order(order.id()).await.unwrap().status(), OrderStatus::AwaitingPayment);
    assert!(gateway.query_payment(&order.number(), "wechatpay").await.is_err(), "no network: the query cannot be made");
}
