//! The sans-IO core: the signed content, notification and answer verification, amounts, and
//! the refusals, each with a typed error; through the engine, a refused notification changes
//! nothing.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use orderflow::adapters::alipay::sign::{self, Params};
use orderflow::adapters::alipay::{AlipayError, AlipayGateway, api, notify};
use orderflow::adapters::http::{HttpRequest, HttpResponse, HttpTransport, TransportError};
use orderflow::adapters::rsa_sha256::{self, RsaPrivateKey};
use orderflow::engine::EngineError;
use orderflow::ports::{
    Checkout, GatewayError, PaymentGateway, PaymentRequest, PaymentSession, PaymentStatus, RawMessage, RefundStatus,
};
use orderflow::testing::{buyer, sample_form};
use orderflow::{Currency, DecimalError, Money, OrderId, OrderNumber, OrderStatus, RefundId};

use super::emulator::Emulator;
use super::*;

/// A transport that must not be used: the sans-IO paths make no call.
struct NoNetwork;

impl HttpTransport for NoNetwork {
    async fn send(&self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
        Err(TransportError("no network in this test".into()))
    }
}

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

pub(super) fn number() -> OrderNumber {
    OrderNumber::from_value(123_456_789).unwrap()
}

/// An emulator holding a paid trade for [`number`].
pub(super) fn paid_trade(total: i64, buyer_pay: i64) -> Emulator {
    let emulator = Emulator::new(crate::shop::clock());
    let request = PaymentRequest::new(OrderId::new_v7(), number(), Money::new(total, Currency::CNY), "alipay", "Shop");
    let params = api::signed_params(&config(), &api::create(&request).unwrap(), orderflow::testing::t0()).unwrap();
    assert_eq!(emulator.open(&sign::encode_form(&params))["code"], "10000");
    emulator.pay(&number().provider_reference(), buyer_pay);
    emulator
}

fn tampered(raw: &RawMessage, name: &str, value: &str) -> RawMessage {
    let mut params = sign::parse_form(&raw.body).unwrap();
    params.insert(name.into(), value.into());
    RawMessage { headers: raw.headers.clone(), body: sign::encode_form(&params).into_bytes() }
}

#[test]
fn the_signed_content_is_sorted_non_empty_and_leaves_out_sign_and_for_notifications_sign_type() {
    let p = params(&[
        ("sign", "XYZ"),
        ("total_amount", "2.00"),
        ("sign_type", "RSA2"),
        ("body", ""),
        ("app_id", "2015102700040153"),
        ("notify_time", "2016-07-19 14:10:49"),
        ("subject", "大乐透2.1"),
    ]);
    assert_eq!(
        sign::content(&p, sign::REQUEST_UNSIGNED),
        "app_id=2015102700040153&notify_time=2016-07-19 14:10:49&sign_type=RSA2&subject=大乐透2.1&total_amount=2.00"
    );
    assert_eq!(
        sign::content(&p, sign::NOTIFY_UNSIGNED),
        "app_id=2015102700040153&notify_time=2016-07-19 14:10:49&subject=大乐透2.1&total_amount=2.00"
    );
    // A request is signed with sign_type in the content; the app's public key verifies it.
    let call = api::query(&number());
    let signed = api::signed_params(&config(), &call, Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()).unwrap();
    assert_eq!(signed["timestamp"], "2026-01-02 11:04:05", "Beijing time");
    assert_eq!(signed["method"], "alipay.trade.query");
    assert_eq!(signed["biz_content"], format!(r#"{{"out_trade_no":"{}"}}"#, number().provider_reference()));
    let app = rsa_sha256::public_key_from_text(APP_PUBLIC_KEY).unwrap();
    sign::verify_params(&app, &signed, sign::REQUEST_UNSIGNED).unwrap();
    assert_eq!(sign::verify_params(&app, &signed, sign::NOTIFY_UNSIGNED), Err(AlipayError::WrongSignature));
    // A name given twice is refused (the signed content would be ambiguous).
    assert!(matches!(sign::parse_form(b"a=1&a=2"), Err(AlipayError::Malformed(_))));
    // Keys load from PEM and from the bare base64 the console shows; Debug hides them.
    let bare: String = APP_KEY.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(RsaPrivateKey::from_text(&bare).is_some());
    assert!(matches!(
        AlipayConfig::new(APP_ID, SELLER_ID, "not a key", ALIPAY_PUBLIC_KEY, NOTIFY_URL),
        Err(AlipayError::InvalidKey(_))
    ));
    let debug = format!("{:?}", config());
    assert!(debug.contains(APP_ID) && debug.contains("<redacted>") && !debug.contains(&bare[..40]));
}

#[test]
fn amounts_are_yuan_with_two_decimals_converted_exactly() {
    let cny = |minor| Money::new(minor, Currency::CNY);
    assert_eq!(api::yuan(cny(1)).unwrap(), "0.01");
    assert_eq!(api::yuan(cny(8888)).unwrap(), "88.88");
    assert_eq!(api::yuan(cny(10_000_000_000)).unwrap(), "100000000.00");
    for refused in [cny(0), cny(-1), cny(10_000_000_001), Money::new(100, Currency::USD)] {
        assert!(matches!(api::yuan(refused), Err(AlipayError::Unsupported(_))), "{refused:?}");
    }
    assert_eq!(api::parse_yuan("0.01", "total_amount"), Ok(cny(1)));
    assert_eq!(api::parse_yuan("100000000.00", "total_amount"), Ok(cny(10_000_000_000)));
    // Alipay writes at most two decimals, and may write fewer.
    assert_eq!(api::parse_yuan("1.5", "total_amount"), Ok(cny(150)));
    assert_eq!(
        api::parse_yuan("1.005", "total_amount"),
        Err(AlipayError::Amount { field: "total_amount", error: DecimalError::TooManyDecimals(2) })
    );
    for junk in ["-1.00", "+1.00", "1,00", "¥1.00", "", "0x10", "1.00 "] {
        assert!(matches!(api::parse_yuan(junk, "total_amount"), Err(AlipayError::Amount { .. })), "{junk:?}");
    }
    assert!(matches!(
        api::parse_yuan("99999999999999999999.00", "total_amount"),
        Err(AlipayError::Amount { error: DecimalError::Overflow, .. })
    ));
}

#[test]
fn a_valid_notification_is_accepted_and_each_refusal_has_a_typed_error() {
    let emulator = paid_trade(8888, 8800);
    let reference = number().provider_reference();
    let raw = emulator.notification(&reference);
    let paid = notify::payment(&config(), &raw.body).unwrap();
    assert_eq!((paid.order_number, paid.status), (number(), PaymentStatus::Succeeded));
    assert_eq!(paid.amount, Money::new(8888, Currency::CNY));
    assert_eq!(paid.payer_total, Some(Money::new(8800, Currency::CNY)));
    assert_eq!(paid.succeeded_at, Some(orderflow::testing::t0()), "gmt_payment is Beijing time");
    assert_eq!(paid.provider.as_deref(), Some("alipay"));
    assert_eq!(paid.txn_id, emulator.trade(&reference).unwrap().trade_no);

    // sign_type is not in the signed content: changing it does not break the signature.
    assert!(notify::payment(&config(), &tampered(&raw, "sign_type", "RSA2 ").body).is_ok());
    // Each refusal, with its typed error.
    let wrong_key = RsaPrivateKey::from_text(APP_KEY).unwrap();
    let mut forged = emulator.notification_params(&reference);
    let content = sign::content(&forged, sign::NOTIFY_UNSIGNED);
    forged.insert("sign".into(), wrong_key.sign(content.as_bytes()).unwrap());
    let forged = RawMessage { headers: vec![], body: sign::encode_form(&forged).into_bytes() };
    assert_eq!(notify::payment(&config(), &forged.body), Err(AlipayError::WrongSignature));
    assert_eq!(
        notify::payment(&config(), &tampered(&raw, "total_amount", "0.01").body),
        Err(AlipayError::WrongSignature)
    );
    assert_eq!(notify::payment(&config(), &tampered(&raw, "sign", "").body), Err(AlipayError::MissingSignature));
    let resigned = |name: &str, value: &str| {
        let mut p = emulator.notification_params(&reference);
        p.insert(name.into(), value.into());
        notify::payment(&config(), &emulator.signed(p).body)
    };
    assert_eq!(resigned("app_id", "2021000000000000"), Err(AlipayError::WrongMerchant("app id")));
    assert_eq!(resigned("seller_id", "2088000000000000"), Err(AlipayError::WrongMerchant("seller id")));
    assert!(matches!(resigned("total_amount", "88.888"), Err(AlipayError::Amount { field: "total_amount", .. })));
    assert!(matches!(resigned("total_amount", "-88.88"), Err(AlipayError::Amount { .. })));
    assert!(matches!(resigned("out_trade_no", "2026-0001"), Err(AlipayError::Malformed(_))));
    assert!(matches!(resigned("trade_status", "TRADE_WHATEVER"), Err(AlipayError::Malformed(_))));
    assert!(matches!(resigned("gmt_payment", "2026/01/01"), Err(AlipayError::Malformed(_))));
    // The status mapping.
    for (status, expected) in [
        ("WAIT_BUYER_PAY", PaymentStatus::Pending),
        ("TRADE_SUCCESS", PaymentStatus::Succeeded),
        ("TRADE_FINISHED", PaymentStatus::Succeeded),
        ("TRADE_CLOSED", PaymentStatus::Closed),
    ] {
        assert_eq!(resigned("trade_status", status).unwrap().status, expected);
    }
    // The errors the engine sees.
    assert_eq!(GatewayError::from(AlipayError::WrongSignature), GatewayError::InvalidSignature);
    assert!(matches!(GatewayError::from(AlipayError::WrongMerchant("app id")), GatewayError::Malformed(_)));
    assert_eq!(notify::reply(true).body, "success");
    assert_ne!(notify::reply(false).body, "success");
}

#[test]
fn a_refund_notification_is_read_only_by_the_refund_entry_point() {
    let emulator = paid_trade(8888, 8888);
    let reference = number().provider_reference();
    let refund = api::refund(&orderflow::ports::RefundRequest::new(
        "k",
        number(),
        RefundId(1),
        Money::new(1000, Currency::CNY),
        "alipay",
    ))
    .unwrap();
    let params = api::signed_params(&config(), &refund, orderflow::testing::t0()).unwrap();
    assert_eq!(emulator.open(&sign::encode_form(&params))["fund_change"], "Y");
    let out_request_no = orderflow::ports::refund_reference(&number(), RefundId(1));
    let raw = emulator.signed(emulator.refund_params(&out_request_no));
    assert!(notify::is_refund(&raw.body));
    assert!(!notify::is_refund(&emulator.notification(&reference).body));
    let refunded = notify::refund(&config(), &raw.body).unwrap();
    assert_eq!((refunded.order_number, refunded.refund), (number(), RefundId(1)));
    assert_eq!(
        (refunded.refunded_total, refunded.refunded_at),
        (Money::new(1000, Currency::CNY), orderflow::testing::t0())
    );
    assert!(matches!(notify::payment(&config(), &raw.body), Err(AlipayError::Malformed(_))));
    // A refund reference for another order, or none, is refused.
    let mut other = emulator.refund_params(&out_request_no);
    let stranger = orderflow::ports::refund_reference(&OrderNumber::from_value(7).unwrap(), RefundId(1));
    other.insert("out_biz_no".into(), stranger);
    assert!(matches!(notify::refund(&config(), &emulator.signed(other).body), Err(AlipayError::Malformed(_))));
    let tampered = tampered(&raw, "refund_fee", "88.88");
    assert_eq!(notify::refund(&config(), &tampered.body), Err(AlipayError::WrongSignature));
}

#[test]
fn answers_are_verified_over_the_exact_response_text() {
    let emulator = Emulator::new(crate::shop::clock());
    let answer = serde_json::json!({ "code": "10000", "msg": "Success", "qr_code": "https://qr.alipay.com/x" });
    let body = emulator.envelope("alipay.trade.precreate", &answer);
    let read: api::Precreated = api::read_answer(&config(), api::PRECREATE, body.as_bytes()).unwrap();
    assert_eq!(read.qr_code, "https://qr.alipay.com/x");
    // The same content with other spacing is other text: it no longer verifies.
    let spaced = body.replacen(r#""msg":"Success""#, r#""msg": "Success""#, 1);
    assert!(matches!(
        api::read_answer::<api::Precreated>(&config(), api::PRECREATE, spaced.as_bytes()),
        Err(AlipayError::WrongSignature)
    ));
    // A success or business failure without a signature is refused; other codes are errors.
    let unsigned =
        r#"{"alipay_trade_close_response":{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST"}}"#;
    assert_eq!(
        api::read_answer::<serde_json::Value>(&config(), api::CLOSE, unsigned.as_bytes()),
        Err(AlipayError::MissingSignature)
    );
    let unavailable =
        r#"{"error_response":{"code":"20000","msg":"Service Currently Unavailable","sub_code":"isp.unknow-error"}}"#;
    let error = api::read_answer::<serde_json::Value>(&config(), api::CLOSE, unavailable.as_bytes()).unwrap_err();
    assert!(matches!(GatewayError::from(error), GatewayError::Unavailable(_)));
    // The code mapping.
    let api_error = |code: &str, sub_code: &str| {
        GatewayError::from(AlipayError::Api { code: code.into(), sub_code: sub_code.into(), sub_msg: String::new() })
    };
    assert!(matches!(api_error("40004", "ACQ.SYSTEM_ERROR"), GatewayError::Unavailable(_)));
    assert!(matches!(api_error("40004", "aop.ACQ.SYSTEM_ERROR"), GatewayError::Unavailable(_)));
    assert!(matches!(api_error("20000", "isp.rate-limit"), GatewayError::RateLimited(_)));
    assert!(matches!(api_error("40004", "ACQ.TRADE_REFUND_FREQUENCY_LIMITED"), GatewayError::RateLimited(_)));
    assert!(matches!(api_error("40004", "ACQ.REASON_TRADE_REFUND_FEE_ERR"), GatewayError::Rejected(_)));
    assert!(matches!(api_error("40002", "isv.invalid-parameter"), GatewayError::Rejected(_)));
    assert!(matches!(GatewayError::from(AlipayError::Http(502)), GatewayError::Unavailable(_)));
}

#[tokio::test]
async fn page_wap_and_app_checkouts_are_signed_for_the_buyer_without_a_call() {
    let clock = crate::shop::clock();
    let gateway = AlipayGateway::new(config(), NoNetwork).with_clock(clock.clone());
    let emulator = Emulator::new(clock);
    let request = |n: u64, checkout| {
        PaymentRequest::new(
            OrderId::new_v7(),
            OrderNumber::from_value(n).unwrap(),
            Money::new(8888, Currency::CNY),
            "alipay",
            "Order 01/02 & more=",
        )
        .with_checkout(checkout)
    };
    let page = gateway.create_payment(&request(1, Checkout::Page)).await.unwrap();
    let PaymentSession::Redirect { url } = page else { panic!("{page:?}") };
    assert!(url.starts_with(&format!("{}?", orderflow::adapters::alipay::PRODUCTION_GATEWAY)), "{url}");
    let query = sign::parse_form(url.split_once('?').unwrap().1.as_bytes()).unwrap();
    assert_eq!(query["method"], "alipay.trade.page.pay");
    assert_eq!(query["return_url"], RETURN_URL);
    let biz: serde_json::Value = serde_json::from_str(&query["biz_content"]).unwrap();
    assert_eq!(biz["product_code"], "FAST_INSTANT_TRADE_PAY");
    assert_eq!(biz["total_amount"], "88.88");
    assert_eq!(biz["subject"], "Order 0102  more", "characters Alipay refuses in a subject are left out");
    assert_eq!(emulator.open(&url)["code"], "10000", "the emulator accepts the signed page URL");

    let wap = gateway.create_payment(&request(2, Checkout::H5 { client_ip: "203.0.113.9".into() })).await.unwrap();
    let PaymentSession::Redirect { url } = wap else { panic!("{wap:?}") };
    assert!(url.contains("method=alipay.trade.wap.pay"));
    assert_eq!(emulator.open(&url)["code"], "10000");

    let app = gateway.create_payment(&request(3, Checkout::App)).await.unwrap();
    let PaymentSession::AppOrder { order_string } = app else { panic!("{app:?}") };
    assert!(order_string.contains("method=alipay.trade.app.pay") && !order_string.contains("return_url"));
    assert_eq!(emulator.open(&order_string)["code"], "10000");

    // WeChat's JSAPI is not an Alipay checkout; the QR code needs the gateway.
    let jsapi = gateway.create_payment(&request(4, Checkout::Jsapi { openid: "o".into() })).await;
    assert!(matches!(jsapi, Err(GatewayError::Rejected(_))));
    let qr = gateway.create_payment(&request(5, Checkout::Native)).await;
    assert!(matches!(qr, Err(GatewayError::Unavailable(_))));
}

#[tokio::test]
async fn a_refused_notification_changes_nothing_and_an_unknown_order_is_not_found() {
    let clock = crate::shop::clock();
    let gateway = Arc::new(AlipayGateway::new(config(), NoNetwork).with_clock(clock.clone()));
    let engine = crate::shop::engine(gateway, clock.clone());
    let placed = engine.place(&buyer("ada"), &sample_form("ada"), None).await.unwrap();
    let (id, number, total) = (placed.order.id(), placed.order.number(), placed.order.totals().total);
    let emulator = Emulator::new(clock);
    let params = api::signed_params(
        &config(),
        &api::create(&PaymentRequest::new(id, number, total, "alipay", "Shop").with_checkout(Checkout::Page)).unwrap(),
        orderflow::testing::t0(),
    )
    .unwrap();
    emulator.open(&sign::encode_form(&params));
    emulator.pay(&number.provider_reference(), total.minor);
    let raw = emulator.notification(&number.provider_reference());
    let before = engine.order(id).await.unwrap();
    for refused in [
        tampered(&raw, "total_amount", "0.01"),
        tampered(&raw, "app_id", "2021000000000000"),
        RawMessage { headers: vec![], body: b"not a form at all %%".to_vec() },
    ] {
        let error = engine.handle_payment_notification(&refused).await.unwrap_err();
        assert!(matches!(error, EngineError::Payment(_)), "{error:?}");
    }
    assert_eq!(engine.order(id).await.unwrap(), before);
    assert_eq!(before.status(), OrderStatus::AwaitingPayment);

    // Verified, but for an order the shop does not have.
    let unknown = OrderNumber::from_value(42).unwrap();
    let open = api::create(&PaymentRequest::new(id, unknown, total, "alipay", "Shop")).unwrap();
    emulator.open(&sign::encode_form(&api::signed_params(&config(), &open, orderflow::testing::t0()).unwrap()));
    emulator.pay(&unknown.provider_reference(), total.minor);
    let stranger = emulator.notification(&unknown.provider_reference());
    assert!(matches!(engine.handle_payment_notification(&stranger).await, Err(EngineError::NotFound)));
    assert_eq!(engine.order(id).await.unwrap(), before);

    // The genuine one is accepted and answered `success`.
    assert_eq!(engine.handle_payment_notification(&raw).await.unwrap().body, "success");
    assert_eq!(engine.order(id).await.unwrap().payment().received().unwrap(), total);
}

/// The refund query's answer, read for one refund: its own amount when done, nothing when
/// Alipay has no such refund done, and a refusal when it names another refund or order.
#[test]
fn a_refund_query_answer_gives_the_refund_its_own_amount() {
    let done = |fields: serde_json::Value| -> api::RefundQueried { serde_json::from_value(fields).unwrap() };
    let reference = orderflow::ports::refund_reference(&number(), RefundId(2));
    let answer = done(serde_json::json!({
        "out_trade_no": number().provider_reference(),
        "out_request_no": reference,
        "total_amount": "88.88",
        "refund_amount": "12.30",
        "refund_status": "REFUND_SUCCESS",
        "gmt_refund_pay": "2026-12-01 16:30:00",
    }));
    let outcome = api::refund_outcome(&number(), RefundId(2), &answer).unwrap().unwrap();
    assert_eq!((outcome.refund, outcome.amount), (RefundId(2), Money::new(1230, Currency::CNY)));
    assert_eq!((outcome.status, outcome.provider.as_deref()), (RefundStatus::Succeeded, Some("alipay")));
    assert_eq!(outcome.succeeded_at, Some(Utc.with_ymd_and_hms(2026, 12, 1, 8, 30, 0).unwrap()));

    // Code 10000 with no refund_status: not received, or failed. Nothing to record.
    let nothing = done(serde_json::json!({ "out_trade_no": number().provider_reference() }));
    assert_eq!(api::refund_outcome(&number(), RefundId(2), &nothing), Ok(None));
    // A status this adapter does not know is not taken as done.
    let mut odd = done(serde_json::json!({ "refund_amount": "1.00", "refund_status": "REFUND_PROCESSING" }));
    assert_eq!(api::refund_outcome(&number(), RefundId(2), &odd).unwrap().unwrap().status, RefundStatus::Pending);
    odd.refund_amount = Some("1.001".into());
    assert!(matches!(api::refund_outcome(&number(), RefundId(2), &odd), Err(AlipayError::Amount { .. })));
    odd.refund_amount = None;
    assert!(matches!(api::refund_outcome(&number(), RefundId(2), &odd), Err(AlipayError::Malformed(_))));
    // Another refund's or order's answer is refused.
    assert!(matches!(api::refund_outcome(&number(), RefundId(1), &answer), Err(AlipayError::Malformed(_))));
    let other = OrderNumber::from_value(7).unwrap();
    assert!(matches!(api::refund_outcome(&other, RefundId(2), &answer), Err(AlipayError::Malformed(_))));

    let call = api::refund_query(&number(), RefundId(2));
    assert_eq!(call.method, "alipay.trade.fastpay.refund.query");
    assert_eq!(call.biz_content["out_request_no"], reference.as_str());
    assert_eq!(call.biz_content["query_options"], serde_json::json!(["gmt_refund_pay"]));
}
