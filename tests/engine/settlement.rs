//! Pending refunds settled by their notification or by reconciliation, lost payment
//! notifications recovered before the unpaid deadline, and the router over several providers.

use crate::common;

use std::sync::Arc;

use chrono::TimeDelta;
use common::Shop;
use orderflow::adapters::router::PaymentRouter;
use orderflow::engine::{EngineError, ReconcileReport};
use orderflow::order::RefundStatus as Recorded;
use orderflow::ports::{Clock, GatewayError, PaymentGateway, PaymentRequest, PaymentStatus, RawMessage, RefundStatus};
use orderflow::testing::{FakeGateway, buyer, t0};
use orderflow::{Action, Currency, Money, OrderId, OrderNumber, OrderStatus, RefundId};

/// A paid order cancelled by its buyer, whose refund the provider answered as pending.
async fn pending_refund(shop: &Shop, customer: &str) -> (OrderId, OrderNumber) {
    let id = shop.paid_order(customer).await;
    shop.engine.drain_outbox().await.unwrap();
    shop.gateway.answer_refunds_pending(true);
    shop.run(id, buyer(customer), Action::Cancel { reason: "changed my mind".into() }).await;
    shop.engine.drain_outbox().await.unwrap();
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.payment().refunds.len(), 1);
    assert_eq!(order.payment().refunds[0].status, Recorded::Pending, "accepted, not yet done");
    (id, order.number())
}

async fn refund_status(shop: &Shop, id: OrderId) -> Recorded {
    shop.engine.order(id).await.unwrap().payment().refunds[0].status.clone()
}

#[tokio::test]
async fn a_pending_refund_is_completed_once_by_its_notification() {
    let shop = Shop::new();
    let (id, number) = pending_refund(&shop, "amy").await;
    let raw = shop.gateway.notify_refund(&number, RefundId(1), RefundStatus::Succeeded, shop.clock.now()).unwrap();
    let reply = shop.engine.handle_refund_notification(&raw).await.unwrap();
    assert_eq!(reply.status, 200);
    assert!(
        matches!(refund_status(&shop, id).await, Recorded::Completed { reference } if reference.starts_with("alipay-RF"))
    );
    let events = shop.engine.events(id).await.unwrap().len();
    // The provider sends it again: handled, nothing new.
    assert_eq!(shop.engine.handle_refund_notification(&raw).await.unwrap().status, 200);
    assert_eq!(shop.engine.events(id).await.unwrap().len(), events);
}

#[tokio::test]
async fn a_failed_refund_is_recorded_failed_and_a_late_contrary_outcome_changes_nothing() {
    let shop = Shop::new();
    let (id, number) = pending_refund(&shop, "bob").await;
    let now = shop.clock.now();
    let failed = shop.gateway.notify_refund(&number, RefundId(1), RefundStatus::Failed, now).unwrap();
    shop.engine.handle_refund_notification(&failed).await.unwrap();
    let reported = Recorded::Failed { reason: orderflow::RefundFailure::ProviderFailed };
    assert_eq!(refund_status(&shop, id).await, reported, "the provider's failure, typed");
    let events = shop.engine.events(id).await.unwrap().len();
    let contrary = shop.gateway.notify_refund(&number, RefundId(1), RefundStatus::Succeeded, now).unwrap();
    assert_eq!(shop.engine.handle_refund_notification(&contrary).await.unwrap().status, 200);
    assert_eq!(shop.engine.events(id).await.unwrap().len(), events);
}

#[tokio::test]
async fn forged_stale_or_foreign_refund_notifications_are_refused_and_change_nothing() {
    let shop = Shop::new();
    let (id, number) = pending_refund(&shop, "cat").await;
    let raw = shop.gateway.notify_refund(&number, RefundId(1), RefundStatus::Succeeded, shop.clock.now()).unwrap();
    let events = shop.engine.events(id).await.unwrap().len();
    let other = FakeGateway::new("alipay", "not-the-secret");
    let forged = RawMessage { headers: raw.headers.clone(), body: raw.body.clone() };
    let mut tampered = forged.clone();
    tampered.body.push(b' ');
    assert!(matches!(
        shop.engine.handle_refund_notification(&tampered).await,
        Err(EngineError::Payment(GatewayError::InvalidSignature))
    ));
    let signed_elsewhere = other.sign_body(raw.body.clone(), shop.clock.now());
    assert!(matches!(
        shop.engine.handle_refund_notification(&signed_elsewhere).await,
        Err(EngineError::Payment(GatewayError::InvalidSignature))
    ));
    shop.clock.advance(TimeDelta::hours(1));
    assert!(matches!(
        shop.engine.handle_refund_notification(&raw).await,
        Err(EngineError::Payment(GatewayError::StaleTimestamp))
    ));
    // A payment notification is not a refund notification.
    let payment = shop.gateway.notify_paid(&number, Money::new(1, Currency::CNY), shop.clock.now());
    assert!(matches!(
        shop.engine.handle_refund_notification(&payment).await,
        Err(EngineError::Payment(GatewayError::Malformed(_)))
    ));
    assert_eq!(shop.engine.events(id).await.unwrap().len(), events);
    assert_eq!(refund_status(&shop, id).await, Recorded::Pending);
}

#[tokio::test]
async fn a_refund_notification_for_an_unknown_refund_or_amount_is_refused() {
    let shop = Shop::new();
    let (id, number) = pending_refund(&shop, "dan").await;
    let now = shop.clock.now();
    let body = |refund: u32, amount: i64| {
        let number = serde_json::to_string(&number).unwrap();
        format!(
            r#"{{"notification_id":"x","order_number":{number},"refund":{refund},"refund_id":"R","amount_minor":{amount},"currency":"CNY","status":"succeeded"}}"#
        )
    };
    let total = shop.engine.order(id).await.unwrap().totals().total.minor;
    let unknown = shop.gateway.sign_body(body(9, total), now);
    assert!(matches!(
        shop.engine.handle_refund_notification(&unknown).await,
        Err(EngineError::Rejected(orderflow::Error::UnknownRefund(RefundId(9))))
    ));
    let wrong_amount = shop.gateway.sign_body(body(1, total - 1), now);
    assert!(matches!(
        shop.engine.handle_refund_notification(&wrong_amount).await,
        Err(EngineError::Rejected(orderflow::Error::PaymentMismatch { .. }))
    ));
    assert_eq!(refund_status(&shop, id).await, Recorded::Pending);
}

#[tokio::test]
async fn reconciliation_settles_a_refund_whose_notification_was_lost() {
    let shop = Shop::new();
    let (id, number) = pending_refund(&shop, "eli").await;
    shop.gateway.settle_refund(&number, RefundId(1), RefundStatus::Succeeded).unwrap();
    // Not pending long enough yet: not asked.
    let early = shop.engine.reconcile_payments(shop.clock.now(), 10).await.unwrap();
    assert_eq!(early.refunds_checked, 0);
    shop.clock.advance(TimeDelta::hours(1));
    let report = shop.engine.reconcile_payments(shop.clock.now(), 1).await.unwrap();
    assert_eq!((report.refunds_checked, report.refunds_settled, report.failed), (1, 1, 0));
    assert!(matches!(refund_status(&shop, id).await, Recorded::Completed { .. }));
    let again = shop.engine.reconcile_payments(shop.clock.now(), 10).await.unwrap();
    assert_eq!(again.refunds_checked, 0, "settled refunds are not asked about again");
}

#[tokio::test]
async fn reconciliation_recovers_a_lost_payment_notification_before_the_unpaid_deadline() {
    let shop = Shop::new();
    let placed = shop.place("fay").await.order;
    let other = shop.place("gus").await.order;
    let lost = shop.gateway.mark_paid(&placed.number(), placed.totals().total);
    // Too recent to ask about.
    let early = shop.engine.reconcile_payments(shop.clock.now(), 10).await.unwrap();
    assert_eq!(early, ReconcileReport::default());
    shop.clock.advance(TimeDelta::minutes(6));
    let report = shop.engine.reconcile_payments(shop.clock.now(), 1).await.unwrap();
    assert_eq!((report.payments_checked, report.found_paid, report.failed), (2, 1, 0));
    let order = shop.engine.order(placed.id()).await.unwrap();
    assert!(order.payment().gate_open());
    assert_ne!(order.status(), OrderStatus::AwaitingPayment);
    assert_eq!(order.payment().captures.len(), 1);
    assert_eq!(shop.engine.order(other.id()).await.unwrap().status(), OrderStatus::AwaitingPayment);
    // The notification arrives late after all: a duplicate, answered as handled.
    let events = shop.engine.events(placed.id()).await.unwrap().len();
    let late = shop.gateway.sign(&lost, shop.clock.now());
    shop.engine.handle_payment_notification(&late).await.unwrap();
    assert_eq!(shop.engine.events(placed.id()).await.unwrap().len(), events);
    let again = shop.engine.reconcile_payments(shop.clock.now(), 10).await.unwrap();
    assert_eq!((again.payments_checked, again.found_paid), (1, 0));
}

#[tokio::test]
async fn reconciliation_counts_an_unreachable_provider_and_goes_on() {
    let shop = Shop::new();
    let first = shop.place("hal").await.order;
    let second = shop.place("ivy").await.order;
    shop.gateway.mark_paid(&second.number(), second.totals().total);
    shop.clock.advance(TimeDelta::minutes(10));
    shop.faults.gateway.inject(orderflow::testing::Failure::next(1).of(&["query_payment"]));
    let report = shop.engine.reconcile_payments(shop.clock.now(), 10).await.unwrap();
    assert_eq!((report.payments_checked, report.found_paid, report.failed), (2, 1, 1));
    assert_eq!(shop.engine.order(first.id()).await.unwrap().status(), OrderStatus::AwaitingPayment);
}

/// The session is recorded before the provider is asked: a provider that cannot be reached
/// leaves it recorded (closing or querying it later finds nothing), never a session created
/// that the order does not know; asking again records nothing more.
#[tokio::test]
async fn a_payment_session_is_recorded_before_the_provider_creates_it() {
    let shop = Shop::new();
    let placed = shop.place("kim").await.order;
    shop.faults.gateway.inject(orderflow::testing::Failure::next(1).of(&["create_payment"]));
    let down = shop.engine.start_payment(&buyer("kim"), placed.id()).await;
    assert!(matches!(down, Err(EngineError::Payment(GatewayError::Unavailable(_)))), "{down:?}");
    assert!(shop.gateway.payment(&placed.number()).is_none(), "not created");
    let order = shop.engine.order(placed.id()).await.unwrap();
    assert_eq!(order.payment().sessions, ["alipay"]);
    let events = shop.engine.events(placed.id()).await.unwrap().len();
    shop.engine.start_payment(&buyer("kim"), placed.id()).await.unwrap();
    assert_eq!(shop.gateway.created_payments(), vec![(placed.number(), placed.totals().total)]);
    assert_eq!(shop.engine.events(placed.id()).await.unwrap().len(), events);
}

fn cny(minor: i64) -> Money {
    Money::new(minor, Currency::CNY)
}

#[tokio::test]
async fn the_router_sends_each_call_to_the_named_provider() {
    let wechat = Arc::new(FakeGateway::new("wechatpay", "w-secret"));
    let alipay = Arc::new(FakeGateway::new("alipay", "a-secret"));
    let router = PaymentRouter::new().with("wechatpay", wechat.clone()).with("alipay", alipay.clone());
    assert_eq!(router.providers().collect::<Vec<_>>(), ["wechatpay", "alipay"]);
    let number = OrderNumber::from_value(42).unwrap();
    let request = PaymentRequest::new(OrderId::new_v7(), number, cny(500), "alipay", "tea");
    router.create_payment(&request).await.unwrap();
    assert_eq!(alipay.created_payments(), vec![(number, cny(500))]);
    assert!(wechat.created_payments().is_empty());
    let unknown = PaymentRequest::new(OrderId::new_v7(), number, cny(500), "paypal", "tea");
    assert!(matches!(router.create_payment(&unknown).await, Err(GatewayError::Rejected(_))));

    alipay.mark_paid(&number, cny(500));
    assert!(router.query_payment(&number, "alipay").await.unwrap().is_some());
    assert_eq!(router.query_payment(&number, "wechatpay").await, Ok(None));

    // Webhooks: routed by the host, verified by the chosen provider.
    let raw = alipay.notify_paid(&number, cny(500), t0());
    let paid = router.verify_notification(&raw.clone().routed_to("alipay"), t0()).await.unwrap();
    assert_eq!((paid.status, paid.provider.as_deref()), (PaymentStatus::Succeeded, Some("alipay")));
    assert!(matches!(router.verify_notification(&raw, t0()).await, Err(GatewayError::Malformed(_))));
    assert!(matches!(
        router.verify_notification(&raw.clone().routed_to("wechatpay"), t0()).await,
        Err(GatewayError::InvalidSignature)
    ));
    assert!(matches!(
        router.verify_notification(&raw.clone().routed_to("paypal"), t0()).await,
        Err(GatewayError::Malformed(_))
    ));
    // A sender's own routing mark is replaced by the host's.
    let mut spoofed = raw.clone();
    spoofed.headers.push((orderflow::ports::PROVIDER_HEADER.to_uppercase(), "alipay".into()));
    let rerouted = spoofed.routed_to("wechatpay");
    assert_eq!(rerouted.header(orderflow::ports::PROVIDER_HEADER), Some("wechatpay"));
    assert!(matches!(router.verify_notification(&rerouted, t0()).await, Err(GatewayError::InvalidSignature)));
}
