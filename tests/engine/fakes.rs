//! The test fakes behave like the providers they stand in for.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use orderflow::order::TrackingKind;
use orderflow::ports::{
    Clock, CloseOutcome, GatewayError, Logistics, LogisticsError, Notifier, NotifyError, Parcel, PaymentGateway,
    PaymentNotification, PaymentRequest, PaymentSession, PaymentStatus, RawMessage, RefundRequest, ShipmentRequest,
    TrackingPush,
};
use orderflow::testing::carrier::{ServiceRate, Zone};
use orderflow::testing::{
    Failing, Failure, FailureSwitch, FakeCarrier, FakeGateway, Fault, FixedClock, MultiCarrier, RecordingNotifier, t0,
};
use orderflow::{
    Address, Audience, Currency, Money, Notification, NotificationKind, OrderId, OrderNumber, PackageId, RefundId,
};

const SECRET: &str = "gateway-secret-0123456789";
const CARRIER_SECRET: &str = "carrier-secret-abcdef";

fn cny(minor: i64) -> Money {
    Money::new(minor, Currency::CNY)
}

fn number(n: u64) -> OrderNumber {
    OrderNumber::from_value(n).unwrap()
}

fn gateway() -> FakeGateway {
    FakeGateway::new("alipay", SECRET)
}

fn paid(n: u64, minor: i64) -> PaymentNotification {
    PaymentNotification::new(number(n), "TXN-1", cny(minor), PaymentStatus::Succeeded)
}

fn refund_request(key: &str, n: u64, minor: i64) -> RefundRequest {
    RefundRequest::new(key, number(n), RefundId(1), cny(minor), "alipay")
}

fn with_header(raw: &RawMessage, name: &str, value: Option<&str>) -> RawMessage {
    let mut headers: Vec<(String, String)> =
        raw.headers.iter().filter(|(k, _)| !k.eq_ignore_ascii_case(name)).cloned().collect();
    if let Some(value) = value {
        headers.push((name.to_owned(), value.to_owned()));
    }
    RawMessage { headers, body: raw.body.clone() }
}

fn address(country: &str, province: &str) -> Address {
    Address {
        recipient: "Li Lei".into(),
        phone: "13800138000".into(),
        country: country.into(),
        province: province.into(),
        city: "Somewhere".into(),
        district: Default::default(),
        street: vec!["1 Road".into()],
        postal_code: Default::default(),
    }
}

fn parcel(weight_grams: u32) -> Parcel {
    Parcel { items: Vec::new(), weight_grams }
}

fn shipment(key: &str, carrier: &str, service: &str) -> ShipmentRequest {
    ShipmentRequest {
        key: key.into(),
        order_number: number(1),
        package: PackageId(1),
        carrier: carrier.into(),
        service: service.into(),
        items: Vec::new(),
        address: address("CN", "Jiangsu"),
    }
}

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(minutes)
}

// ---------------------------------------------------------------------------------------------
// Gateway
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn signed_notification_round_trips() {
    let gw = gateway();
    let notification = paid(7, 27_000);
    let raw = gw.sign(&notification, t0());
    assert!(raw.header("x-timestamp").is_some());
    assert_eq!(raw.header("X-Signature").map(str::len), Some(64));
    assert_eq!(gw.verify_notification(&raw, t0()).await, Ok(notification.clone()));
    // Within the tolerance either way; a redelivery of the same message verifies too.
    assert!(gw.verify_notification(&raw, at(4)).await.is_ok());
    assert!(gw.verify_notification(&raw, at(-4)).await.is_ok());
    assert_eq!(gw.verify_notification(&raw, at(1)).await, Ok(notification));
}

#[tokio::test]
async fn forged_key_is_an_invalid_signature() {
    let gw = gateway();
    let raw = gw.forge(&paid(7, 27_000), t0());
    assert_eq!(gw.verify_notification(&raw, t0()).await, Err(GatewayError::InvalidSignature));
    // Another provider's key does not verify either.
    let other = FakeGateway::new("alipay", "another-secret").sign(&paid(7, 27_000), t0());
    assert_eq!(gw.verify_notification(&other, t0()).await, Err(GatewayError::InvalidSignature));
}

#[tokio::test]
async fn tampered_body_is_an_invalid_signature() {
    let gw = gateway();
    let raw = gw.sign(&paid(7, 27_000), t0());
    let tampered = gw.tamper(&raw);
    assert_ne!(tampered.body, raw.body);
    assert_eq!(tampered.headers, raw.headers);
    assert_eq!(gw.verify_notification(&tampered, t0()).await, Err(GatewayError::InvalidSignature));
    // A wrong-length (but hex) signature is also just invalid.
    let short = with_header(&raw, "X-Signature", Some("abcd"));
    assert_eq!(gw.verify_notification(&short, t0()).await, Err(GatewayError::InvalidSignature));
}

#[tokio::test]
async fn stale_timestamp_is_refused() {
    let gw = gateway();
    let raw = gw.sign(&paid(7, 27_000), t0());
    assert_eq!(gw.verify_notification(&raw, at(6)).await, Err(GatewayError::StaleTimestamp));
    // From the future too.
    assert_eq!(gw.verify_notification(&raw, at(-6)).await, Err(GatewayError::StaleTimestamp));
    // A wider tolerance accepts it.
    let lenient = FakeGateway::new("alipay", SECRET).with_tolerance(TimeDelta::minutes(10));
    assert!(lenient.verify_notification(&raw, at(6)).await.is_ok());
}

#[tokio::test]
async fn malformed_headers_and_body_are_malformed() {
    let gw = gateway();
    let raw = gw.sign(&paid(7, 27_000), t0());
    let cases = [
        with_header(&raw, "X-Timestamp", None),
        with_header(&raw, "X-Signature", None),
        with_header(&raw, "X-Timestamp", Some("yesterday")),
        with_header(&raw, "X-Timestamp", Some("99999999999999999")),
        with_header(&raw, "X-Signature", Some("not-hex!")),
        with_header(&raw, "X-Signature", Some("abc")),
        RawMessage::default(),
    ];
    for case in &cases {
        assert!(matches!(gw.verify_notification(case, t0()).await, Err(GatewayError::Malformed(_))), "{case:?}");
    }
    // A correctly signed body that is not a notification.
    let garbage = gw.sign_body(&b"{\"hello\":1}"[..], t0());
    assert!(matches!(gw.verify_notification(&garbage, t0()).await, Err(GatewayError::Malformed(_))));
}

#[tokio::test]
async fn errors_never_leak_the_secret_signature_or_body() {
    let gw = gateway();
    let raw = gw.sign(&paid(7, 27_000), t0());
    let signature = raw.header("X-Signature").unwrap_or_default().to_owned();
    let body = String::from_utf8(raw.body.clone()).unwrap();
    let mut errors = vec![
        gw.verify_notification(&gw.forge(&paid(7, 27_000), t0()), t0()).await.unwrap_err(),
        gw.verify_notification(&gw.tamper(&raw), t0()).await.unwrap_err(),
        gw.verify_notification(&raw, at(6)).await.unwrap_err(),
        gw.verify_notification(&with_header(&raw, "X-Signature", Some("zz")), t0()).await.unwrap_err(),
        gw.verify_notification(&with_header(&raw, "X-Timestamp", None), t0()).await.unwrap_err(),
    ];
    // A truncated signature.
    errors.push(
        gw.verify_notification(&with_header(&raw, "X-Signature", Some(&signature[..10])), t0()).await.unwrap_err(),
    );
    // A validly signed body with a bad field: the parse error must not echo it.
    let leaky = gw.sign_body(
        format!(
            r#"{{"notification_id":"N1","order_number":"{}","txn_id":"T","amount_minor":"LEAKME-27000","currency":"CNY","status":"succeeded"}}"#,
            number(7)
        ),
        t0(),
    );
    let parse_error = gw.verify_notification(&leaky, t0()).await.unwrap_err();
    assert!(matches!(parse_error, GatewayError::Malformed(_)));
    assert!(!parse_error.to_string().contains("LEAKME"));
    assert!(!format!("{parse_error:?}").contains("LEAKME"));
    errors.push(parse_error);
    for error in &errors {
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains(SECRET), "{text}");
            assert!(!text.contains(&signature), "{text}");
            assert!(!text.contains(&body), "{text}");
            assert!(!text.contains("27000"), "{text}");
        }
    }
    // The gateway's and the message's Debug hide them too.
    for text in [format!("{gw:?}"), format!("{raw:?}")] {
        assert!(!text.contains(SECRET) && !text.contains(&signature) && !text.contains("27000"));
    }
}

#[tokio::test]
async fn notification_body_is_the_documented_json() {
    let gw = gateway();
    let raw = gw.sign(&paid(7, 27_000), t0());
    let body: serde_json::Value = serde_json::from_slice(&raw.body).unwrap();
    assert_eq!(body["order_number"], number(7).as_str());
    assert_eq!(body["txn_id"], "TXN-1");
    assert_eq!(body["amount_minor"], 27_000);
    assert_eq!(body["currency"], "CNY");
    assert_eq!(body["status"], "succeeded");
    assert!(body["notification_id"].is_string());
    assert_eq!(raw.header("X-Timestamp"), Some(t0().timestamp().to_string().as_str()));
    // Each signing is a new notification.
    let again = gw.sign(&paid(7, 27_000), t0());
    assert_ne!(again.body, raw.body);
}

#[tokio::test]
async fn create_payment_returns_a_qr_code_and_is_recorded() {
    let gw = gateway();
    let request = PaymentRequest::new(OrderId::new_v7(), number(7), cny(27_000), "alipay", "tea");
    let session = gw.create_payment(&request).await.unwrap();
    assert!(matches!(&session, PaymentSession::QrCode { payload } if payload.contains("27000")));
    assert_eq!(gw.created_payments(), vec![(number(7), cny(27_000))]);
    assert_eq!(gw.query_payment(&number(7), "alipay").await, Ok(None));

    gw.notify_paid(&number(7), cny(27_000), t0());
    assert_eq!(gw.create_payment(&request).await, Err(GatewayError::Rejected("already paid".into())));
}

#[tokio::test]
async fn notify_paid_and_mark_paid_are_what_query_reports() {
    let gw = gateway();
    assert_eq!(gw.query_payment(&number(1), "alipay").await, Ok(None));

    let raw = gw.notify_paid(&number(1), cny(10_400), t0());
    let verified = gw.verify_notification(&raw, t0()).await.unwrap();
    assert_eq!(verified.status, PaymentStatus::Succeeded);
    assert_eq!(verified.amount, cny(10_400));
    assert_eq!(gw.query_payment(&number(1), "alipay").await, Ok(Some(verified.clone())));

    // Paid, but the notification was lost: only a query finds it.
    let lost = gw.mark_paid(&number(2), cny(5_000));
    assert_ne!(lost.txn_id, verified.txn_id);
    assert_eq!(gw.query_payment(&number(2), "alipay").await, Ok(Some(lost)));
}

#[tokio::test]
async fn close_after_paid_is_rejected_and_close_before_is_fine() {
    let gw = gateway();
    gw.mark_paid(&number(1), cny(100));
    assert_eq!(gw.close_payment(&number(1), "alipay").await, Err(GatewayError::Rejected("already paid".into())));

    // A payment the buyer never opened is unknown to the provider: nothing to close.
    assert_eq!(gw.close_payment(&number(2), "alipay").await, Ok(CloseOutcome::NothingToClose));
    assert_eq!(gw.payment(&number(2)), None);

    let request = PaymentRequest::new(OrderId::new_v7(), number(3), cny(100), "alipay", "order 3");
    gw.create_payment(&request).await.unwrap();
    assert_eq!(gw.close_payment(&number(3), "alipay").await, Ok(CloseOutcome::Closed));
    assert_eq!(gw.payment(&number(3)).map(|p| p.status), Some(PaymentStatus::Closed));
    assert_eq!(gw.query_payment(&number(3), "alipay").await, Ok(None));
}

#[tokio::test]
async fn refunds_are_idempotent_by_key() {
    let gw = gateway();
    gw.mark_paid(&number(1), cny(10_000));

    let first = gw.refund(&refund_request("k1", 1, 3_000)).await.unwrap();
    let again = gw.refund(&refund_request("k1", 1, 3_000)).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(gw.refunded_total(&number(1)), Some(cny(3_000)));
    assert_eq!(gw.refunds().len(), 1);
    assert_eq!(gw.refund_calls(), 2);

    let second = gw.refund(&refund_request("k2", 1, 2_000)).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(gw.refunded_total(&number(1)), Some(cny(5_000)));

    // More than what is left is refused; nothing is recorded.
    assert!(matches!(gw.refund(&refund_request("k3", 1, 6_000)).await, Err(GatewayError::Rejected(_))));
    // Nothing paid, nothing to refund.
    assert!(matches!(gw.refund(&refund_request("k4", 9, 100)).await, Err(GatewayError::Rejected(_))));
    assert_eq!(gw.refunded_total(&number(1)), Some(cny(5_000)));
    assert_eq!(gw.refunded_total(&number(9)), None);
}

#[tokio::test]
async fn timeout_after_success_then_retry_refunds_once() {
    let gw = Arc::new(gateway());
    gw.mark_paid(&number(1), cny(10_000));
    let failing = Failing::new(Arc::clone(&gw));
    failing.switch().inject(Failure::timeouts_after_success(1).of(&["refund"]));

    let request = refund_request("order-1/refund/R1", 1, 4_000);
    let timed_out = failing.refund(&request).await;
    assert_eq!(timed_out, Err(GatewayError::Unavailable("timeout".into())));
    assert!(timed_out.unwrap_err().is_transient());
    // The money went back anyway.
    assert_eq!(gw.refunded_total(&number(1)), Some(cny(4_000)));

    let retried = failing.refund(&request).await.unwrap();
    assert_eq!(gw.refunds().len(), 1);
    assert_eq!(gw.refunds()[0].receipt, retried);
    assert_eq!(gw.refunded_total(&number(1)), Some(cny(4_000)));
    assert_eq!(gw.refund_calls(), 2);
}

#[tokio::test]
async fn fail_next_fails_any_call_without_side_effects() {
    let gw = Arc::new(gateway());
    gw.mark_paid(&number(1), cny(10_000));
    let failing = Failing::new(Arc::clone(&gw));
    failing.switch().inject(Failure::next(2).with(Fault::Unavailable("down".into())));
    assert_eq!(failing.refund(&refund_request("k", 1, 100)).await, Err(GatewayError::Unavailable("down".into())));
    assert_eq!(failing.query_payment(&number(1), "alipay").await, Err(GatewayError::Unavailable("down".into())));
    assert_eq!(gw.refunded_total(&number(1)), None);
    assert!(failing.refund(&refund_request("k", 1, 100)).await.is_ok());
    assert_eq!(gw.refunded_total(&number(1)), Some(cny(100)));
    // Three calls, two failed without reaching the provider.
    assert_eq!((failing.switch().calls(), failing.switch().injected()), (3, 2));
    assert_eq!(gw.refund_calls(), 1);
}

#[tokio::test]
async fn gateway_works_behind_dyn() {
    let gw: Arc<orderflow::ports::DynPaymentGateway<'static>> = orderflow::ports::DynPaymentGateway::new_arc(gateway());
    let fake = gateway();
    let raw = fake.notify_paid(&number(3), cny(1), t0());
    assert!(gw.verify_notification(&raw, t0()).await.is_ok());
    assert_eq!(gw.reply(true).status, 200);
}

// ---------------------------------------------------------------------------------------------
// Carrier
// ---------------------------------------------------------------------------------------------

fn sf() -> FakeCarrier {
    FakeCarrier::new("sf", CARRIER_SECRET)
}

fn cost(quotes: &[orderflow::ports::Quote], service: &str) -> Money {
    quotes.iter().find(|q| q.service == service).map(|q| q.cost).unwrap()
}

#[tokio::test]
async fn quotes_differ_by_zone_and_weight() {
    let carrier = sf();
    let same = carrier.quote(&parcel(800), &address("CN", "Zhejiang")).await.unwrap();
    let near = carrier.quote(&parcel(800), &address("CN", "jiangsu")).await.unwrap();
    let far = carrier.quote(&parcel(800), &address("CN", "Xinjiang")).await.unwrap();
    assert_eq!(carrier.zone(&address("CN", "Zhejiang")), Some(Zone::SameProvince));
    assert_eq!(carrier.zone(&address("CN", "Jiangsu")), Some(Zone::Neighbouring));
    assert_eq!(carrier.zone(&address("CN", "Xinjiang")), Some(Zone::Far));

    assert_eq!(same.len(), 2);
    assert!(same.iter().all(|q| q.carrier == "sf"));
    assert!(cost(&same, "standard").minor < cost(&near, "standard").minor);
    assert!(cost(&near, "standard").minor < cost(&far, "standard").minor);
    // Express costs more and is no slower.
    for quotes in [&same, &near, &far] {
        assert!(cost(quotes, "express").minor > cost(quotes, "standard").minor);
        let days = |s: &str| quotes.iter().find(|q| q.service == s).unwrap().estimated_days;
        assert!(days("express") <= days("standard"));
    }
    assert_eq!(far.iter().find(|q| q.service == "standard").unwrap().estimated_days, 4);

    // Weight: the first kilogram is in the base price, every started kilogram after costs more.
    let one_kg = carrier.quote(&parcel(1_000), &address("CN", "Zhejiang")).await.unwrap();
    let heavy = carrier.quote(&parcel(2_500), &address("CN", "Zhejiang")).await.unwrap();
    assert_eq!(cost(&one_kg, "standard"), cost(&same, "standard"));
    let std = ServiceRate::standard();
    assert_eq!(cost(&heavy, "standard").minor, std.base_minor.same_province + 2 * std.per_kg_minor);

    // Abroad or too heavy: no service.
    assert!(matches!(carrier.quote(&parcel(800), &address("US", "CA")).await, Err(LogisticsError::NoService(_))));
    assert!(matches!(
        carrier.quote(&parcel(31_000), &address("CN", "Zhejiang")).await,
        Err(LogisticsError::NoService(_))
    ));
}

#[tokio::test]
async fn configured_origin_changes_zones() {
    let carrier = FakeCarrier::new("yto", CARRIER_SECRET).with_origin("CN", "Guangdong", ["Guangxi", "Hunan"]);
    assert_eq!(carrier.zone(&address("CN", "Guangdong")), Some(Zone::SameProvince));
    assert_eq!(carrier.zone(&address("CN", "Hunan")), Some(Zone::Neighbouring));
    assert_eq!(carrier.zone(&address("CN", "Zhejiang")), Some(Zone::Far));
}

#[tokio::test]
async fn create_shipment_is_idempotent_by_key() {
    let carrier = Arc::new(sf());
    let a = carrier.create_shipment(&shipment("o1/shipment/P1", "sf", "standard")).await.unwrap();
    let again = carrier.create_shipment(&shipment("o1/shipment/P1", "sf", "standard")).await.unwrap();
    let b = carrier.create_shipment(&shipment("o1/shipment/P2", "sf", "express")).await.unwrap();
    assert_eq!(a, again);
    assert_eq!(a.waybill, "SF00000001");
    assert_eq!(b.waybill, "SF00000002");
    assert_eq!(a.carrier, "sf");
    assert_eq!(carrier.shipments().len(), 2);
    assert_eq!(carrier.shipment_calls(), 3);

    // Unknown service or someone else's shipment: refused.
    assert!(matches!(
        carrier.create_shipment(&shipment("x", "sf", "teleport")).await,
        Err(LogisticsError::Rejected(_))
    ));
    assert!(matches!(
        carrier.create_shipment(&shipment("y", "yto", "standard")).await,
        Err(LogisticsError::Rejected(_))
    ));

    // A failed call does nothing; the retry gets a waybill.
    let failing = Failing::new(Arc::clone(&carrier));
    failing.switch().fail_next(1);
    assert!(matches!(
        failing.create_shipment(&shipment("o2/shipment/P1", "sf", "standard")).await,
        Err(LogisticsError::Unavailable(_))
    ));
    assert_eq!(carrier.shipments().len(), 2);
    let c = failing.create_shipment(&shipment("o2/shipment/P1", "sf", "standard")).await.unwrap();
    assert_eq!(c.waybill, "SF00000003");

    let custom = FakeCarrier::new("zto", CARRIER_SECRET).with_waybill_prefix("ZT");
    let d = custom.create_shipment(&shipment("k", "zto", "standard")).await.unwrap();
    assert_eq!(d.waybill, "ZT00000001");
}

#[tokio::test]
async fn tracking_push_round_trips_and_queries_report_it() {
    let carrier = sf();
    let waybill = carrier.create_shipment(&shipment("k", "sf", "standard")).await.unwrap().waybill;
    assert_eq!(carrier.query_tracking(carrier.name(), &waybill).await, Ok(Vec::new()));

    let raw = carrier.push(&waybill, TrackingKind::PickedUp, at(60), "E1");
    let pushes = carrier.verify_tracking_push(&raw, at(61)).await.unwrap();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].waybill, waybill);
    assert_eq!(pushes[0].carrier, carrier.name(), "a push names its carrier");
    assert_eq!(pushes[0].update.kind, TrackingKind::PickedUp);
    assert_eq!(pushes[0].update.event_id, "E1");
    assert_eq!(pushes[0].update.at, at(60));

    // Several updates in one push, sent out of order.
    let push = |kind, at, event_id| {
        TrackingPush::new(carrier.name(), waybill.clone(), FakeCarrier::update(kind, at, event_id))
    };
    let later = [push(TrackingKind::Delivered, at(300), "E3"), push(TrackingKind::InTransit, at(120), "E2")];
    let raw_many = carrier.push_many(&later, at(301));
    let verified = carrier.verify_tracking_push(&raw_many, at(302)).await.unwrap();
    assert_eq!(verified, later.to_vec());

    // The same update pushed again: the history holds it once.
    carrier.push(&waybill, TrackingKind::PickedUp, at(60), "E1");
    let history = carrier.query_tracking(carrier.name(), &waybill).await.unwrap();
    let kinds: Vec<_> = history.iter().map(|u| u.kind).collect();
    assert_eq!(kinds, [TrackingKind::PickedUp, TrackingKind::InTransit, TrackingKind::Delivered]);

    assert!(matches!(carrier.query_tracking(carrier.name(), "SF99999999").await, Err(LogisticsError::Rejected(_))));
}

#[tokio::test]
async fn forged_tampered_or_malformed_pushes_are_refused() {
    let carrier = sf();
    let forged = carrier.forge_push("SF00000001", TrackingKind::Delivered, t0(), "E9");
    assert_eq!(carrier.verify_tracking_push(&forged, t0()).await, Err(LogisticsError::InvalidSignature));
    // Forging records nothing.
    assert!(carrier.query_tracking(carrier.name(), "SF00000001").await.is_err());

    let raw = carrier.push("SF00000001", TrackingKind::InTransit, t0(), "E1");
    let tampered = carrier.tamper(&raw);
    assert_ne!(tampered.body, raw.body);
    assert_eq!(carrier.verify_tracking_push(&tampered, t0()).await, Err(LogisticsError::InvalidSignature));
    // Another carrier's key.
    let other = FakeCarrier::new("sf", "other-secret");
    assert_eq!(other.verify_tracking_push(&raw, t0()).await, Err(LogisticsError::InvalidSignature));
    for bad in
        [with_header(&raw, "X-Signature", None), with_header(&raw, "X-Timestamp", Some("soon")), RawMessage::default()]
    {
        let err = carrier.verify_tracking_push(&bad, t0()).await.unwrap_err();
        assert!(matches!(err, LogisticsError::Malformed(_)), "{err:?}");
        assert!(!err.to_string().contains(CARRIER_SECRET));
    }
    // By default a push signed more than 5 minutes from now, either way, is refused, like the
    // gateway's notifications; the tolerance can be widened or, for old recordings, turned off.
    assert_eq!(carrier.tolerance(), Some(orderflow::testing::gateway::DEFAULT_TOLERANCE));
    for now in [at(-6), at(6), at(24 * 60), at(-365 * 24 * 60)] {
        assert_eq!(carrier.verify_tracking_push(&raw, now).await, Err(LogisticsError::InvalidSignature), "{now}");
    }
    for now in [at(-5), at(1), at(5)] {
        assert!(carrier.verify_tracking_push(&raw, now).await.is_ok(), "{now}");
    }
    let lenient = FakeCarrier::new("sf", CARRIER_SECRET).with_tolerance(TimeDelta::minutes(15));
    assert!(lenient.verify_tracking_push(&raw, at(10)).await.is_ok());
    let recordings = FakeCarrier::new("sf", CARRIER_SECRET).without_tolerance();
    assert_eq!(recordings.tolerance(), None);
    assert!(recordings.verify_tracking_push(&raw, at(365 * 24 * 60)).await.is_ok());
    assert!(!format!("{carrier:?}").contains(CARRIER_SECRET));
}

#[tokio::test]
async fn multi_carrier_combines_and_dispatches() {
    let sf = Arc::new(sf());
    let yto = Arc::new(
        FakeCarrier::new("yto", "yto-secret").with_rates(vec![ServiceRate::standard()]).with_max_weight_grams(5_000),
    );
    let sf_down = FailureSwitch::new();
    let multi = MultiCarrier::new()
        .with("sf", Arc::new(Failing::with_switch(Arc::clone(&sf), sf_down.clone())))
        .with_fake(Arc::clone(&yto));
    assert_eq!(multi.names(), ["sf", "yto"]);

    let quotes = multi.quote(&parcel(800), &address("CN", "Jiangsu")).await.unwrap();
    assert_eq!(quotes.len(), 3);
    assert_eq!(quotes.iter().filter(|q| q.carrier == "yto").count(), 1);
    // Too heavy for yto: only sf quotes.
    let heavy = multi.quote(&parcel(10_000), &address("CN", "Jiangsu")).await.unwrap();
    assert!(heavy.iter().all(|q| q.carrier == "sf"));
    // One carrier down: the others still quote.
    sf_down.fail_next(1);
    let partial = multi.quote(&parcel(800), &address("CN", "Jiangsu")).await.unwrap();
    assert!(partial.iter().all(|q| q.carrier == "yto"));
    // Nobody serves it.
    assert!(matches!(multi.quote(&parcel(800), &address("US", "CA")).await, Err(LogisticsError::NoService(_))));

    let s = multi.create_shipment(&shipment("k1", "yto", "standard")).await.unwrap();
    assert_eq!(s.carrier, "yto");
    assert!(s.waybill.starts_with("YTO"));
    assert_eq!(yto.shipments().len(), 1);
    assert!(sf.shipments().is_empty());
    assert!(matches!(
        multi.create_shipment(&shipment("k2", "ems", "standard")).await,
        Err(LogisticsError::Rejected(_))
    ));

    // Pushes from either carrier verify through the aggregate; forgeries do not.
    let from_yto = yto.push(&s.waybill, TrackingKind::PickedUp, t0(), "Y1");
    let pushes = multi.verify_tracking_push(&from_yto, t0()).await.unwrap();
    assert_eq!(pushes[0].waybill, s.waybill);
    let from_sf = sf.push("SF00000042", TrackingKind::InTransit, t0(), "S1");
    assert!(multi.verify_tracking_push(&from_sf, t0()).await.is_ok());
    let forged = yto.forge_push(&s.waybill, TrackingKind::Delivered, t0(), "Y2");
    assert_eq!(multi.verify_tracking_push(&forged, t0()).await, Err(LogisticsError::InvalidSignature));
    assert!(matches!(
        multi.verify_tracking_push(&with_header(&from_sf, "X-Timestamp", None), t0()).await,
        Err(LogisticsError::Malformed(_))
    ));

    // Queries find the carrier that knows the waybill.
    assert_eq!(multi.query_tracking("", &s.waybill).await.unwrap().len(), 1);
    assert_eq!(multi.query_tracking("", "SF00000042").await.unwrap().len(), 1);
    assert!(multi.query_tracking("", "NOPE").await.is_err());

    // Any Logistics behind dyn works too.
    let dynamic: Arc<orderflow::ports::DynLogistics<'static>> = orderflow::ports::DynLogistics::new_arc(multi);
    assert_eq!(dynamic.quote(&parcel(800), &address("CN", "Jiangsu")).await.unwrap().len(), 3);
}

// ---------------------------------------------------------------------------------------------
// Notifier and clock
// ---------------------------------------------------------------------------------------------

fn note(kind: NotificationKind) -> Notification {
    Notification { audience: Audience::CustomerService, order_number: number(1), kind }
}

#[tokio::test]
async fn recording_notifier_deduplicates_by_key_and_fails_on_demand() {
    let recorder = Arc::new(RecordingNotifier::new());
    let notifier = Failing::new(Arc::clone(&recorder));
    notifier.send("o1/notify/1/placed", &note(NotificationKind::Delivered)).await.unwrap();
    notifier.send("o1/notify/1/placed", &note(NotificationKind::Delivered)).await.unwrap();
    notifier.send("o1/notify/2/completed", &note(NotificationKind::Completed)).await.unwrap();
    assert_eq!(recorder.sent().len(), 2);
    assert_eq!(recorder.duplicates_dropped(), 1);
    assert_eq!(recorder.kinds(), ["delivered", "completed"]);
    assert_eq!(recorder.sent()[1].0, "o1/notify/2/completed");

    notifier.switch().fail_next(1);
    assert!(matches!(
        notifier.send("o1/notify/3/completed", &note(NotificationKind::Completed)).await,
        Err(NotifyError::Unavailable(_))
    ));
    assert_eq!(recorder.sent().len(), 2);
    // The redelivery after a failure is sent.
    notifier.send("o1/notify/3/completed", &note(NotificationKind::Completed)).await.unwrap();
    assert_eq!(recorder.sent().len(), 3);
    assert_eq!(recorder.notifications().len(), 3);
    // Five sends, the failed one never reached the recorder.
    assert_eq!(notifier.switch().calls(), 5);
    assert_eq!(recorder.calls(), 4);
}

#[test]
fn fixed_clock_advances_and_is_shared() {
    let clock = FixedClock::new(t0());
    let shared = clock.clone();
    assert_eq!(Clock::now(&shared), t0());
    clock.advance(TimeDelta::minutes(90));
    assert_eq!(shared.now(), at(90));
    shared.advance(TimeDelta::minutes(-30));
    assert_eq!(clock.now(), at(60));
    clock.set(at(-5));
    assert_eq!(shared.now(), at(-5));
    assert_eq!(FixedClock::default().now(), t0());

    let as_port: Arc<dyn Clock> = Arc::new(clock.clone());
    clock.advance(TimeDelta::days(1));
    assert_eq!(as_port.now(), at(-5) + TimeDelta::days(1));
}

#[tokio::test]
async fn fixed_clock_drives_the_gateway_tolerance() {
    let clock = FixedClock::new(t0());
    let gw = gateway();
    let raw = gw.notify_paid(&number(1), cny(100), clock.now());
    assert!(gw.verify_notification(&raw, clock.now()).await.is_ok());
    clock.advance(TimeDelta::minutes(6));
    assert_eq!(gw.verify_notification(&raw, clock.now()).await, Err(GatewayError::StaleTimestamp));
}
