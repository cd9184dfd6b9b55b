//! Bad input at the ports: forged, replayed, mismatched and unknown callbacks.

mod common;

use chrono::TimeDelta;
use common::Shop;
use orderflow::engine::EngineError;
use orderflow::order::{RefundStatus, TrackingKind};
use orderflow::ports::{GatewayError, LogisticsError, PaymentNotification, PaymentStatus};
use orderflow::{Currency, Money, OrderNumber, OrderStatus};

fn notification(number: &OrderNumber, txn: &str, amount: Money) -> PaymentNotification {
    PaymentNotification { order_number: *number, txn_id: txn.into(), amount, status: PaymentStatus::Succeeded }
}

#[tokio::test]
async fn a_forged_notification_is_refused_and_changes_nothing() {
    let shop = Shop::new();
    let placed = shop.place("ada").await;
    let n = notification(&placed.order.number, "T1", placed.order.totals.total);
    let forged = shop.gateway.forge(&n, shop.clock.now());
    let err = shop.engine.handle_payment_notification(&forged).await.unwrap_err();
    assert!(matches!(err, EngineError::Payment(GatewayError::InvalidSignature)));
    let tampered = shop.gateway.tamper(&shop.gateway.sign(&n, shop.clock.now()));
    assert!(matches!(
        shop.engine.handle_payment_notification(&tampered).await,
        Err(EngineError::Payment(GatewayError::InvalidSignature))
    ));
    assert_eq!(shop.engine.order(placed.order.id).await.unwrap(), placed.order);
}

#[tokio::test]
async fn a_notification_replayed_outside_the_tolerance_is_refused() {
    let shop = Shop::new();
    let placed = shop.place("bo").await;
    let raw = shop.gateway.sign(&notification(&placed.order.number, "T1", placed.order.totals.total), shop.clock.now());
    shop.clock.advance(TimeDelta::minutes(6));
    let err = shop.engine.handle_payment_notification(&raw).await.unwrap_err();
    assert!(matches!(err, EngineError::Payment(GatewayError::StaleTimestamp)));
    assert_eq!(shop.engine.order(placed.order.id).await.unwrap().status(), OrderStatus::AwaitingPayment);
}

#[tokio::test]
async fn right_signature_wrong_amount_or_currency_is_an_anomaly_not_a_payment() {
    let shop = Shop::new();
    let placed = shop.place("cat").await;
    let total = placed.order.totals.total;
    let short = Money::new(total.minor - 1, total.currency);
    let usd = Money::new(total.minor, Currency::USD);
    let too_much = Money::new(total.minor + 100, total.currency);
    for (txn, amount) in [("T-short", short), ("T-usd", usd), ("T-much", too_much)] {
        let raw = shop.gateway.sign(&notification(&placed.order.number, txn, amount), shop.clock.now());
        let reply = shop.engine.handle_payment_notification(&raw).await.unwrap();
        assert_eq!(reply.status, 200, "the provider is answered so it stops retrying");
    }
    let order = shop.engine.order(placed.order.id).await.unwrap();
    // A wallet payment settles the order exactly: short, USD and too much are all anomalies.
    assert_eq!(order.payment.captures.len(), 0);
    assert_eq!(order.payment.anomalies.len(), 3);
    assert_eq!(order.status(), OrderStatus::AwaitingPayment);
    // Replaying an anomaly does not record it twice.
    let raw = shop.gateway.sign(&notification(&placed.order.number, "T-usd", usd), shop.clock.now());
    shop.engine.handle_payment_notification(&raw).await.unwrap();
    assert_eq!(shop.engine.order(placed.order.id).await.unwrap().payment.anomalies.len(), 3);
}

#[tokio::test]
async fn an_underpayment_is_sent_back_and_the_correct_payment_then_pays_the_order() {
    let shop = Shop::new();
    let placed = shop.place("cat").await;
    let number = placed.order.number;
    let total = placed.order.totals.total;
    shop.engine.start_payment(&orderflow::testing::buyer("cat"), placed.order.id).await.unwrap();
    let short = Money::new(total.minor - 1, total.currency);
    let raw = shop.gateway.notify_paid(&number, short, shop.clock.now());
    assert_eq!(shop.engine.handle_payment_notification(&raw).await.unwrap().status, 200);
    shop.engine.drain_outbox().await.unwrap();
    // The money that was not applied went back through the provider, exactly once.
    assert_eq!(shop.gateway.refunded_total(&number), Some(short));
    let order = shop.engine.order(placed.order.id).await.unwrap();
    assert_eq!(order.payment.anomalies.len(), 1);
    assert!(matches!(order.payment.refunds.first().map(|r| &r.status), Some(RefundStatus::Completed { .. })));
    assert_eq!(order.status(), OrderStatus::AwaitingPayment);
    // The buyer pays again, the right amount: paid, nothing stuck.
    let raw = shop.gateway.notify_paid(&number, total, shop.clock.now());
    shop.engine.handle_payment_notification(&raw).await.unwrap();
    shop.engine.drain_outbox().await.unwrap();
    let order = shop.engine.order(placed.order.id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::ReadyToShip);
    assert_eq!(order.payment.received().unwrap(), total);
    assert_eq!(shop.gateway.refunded_total(&number), Some(short), "the full payment is kept");
}

#[tokio::test]
async fn a_notification_for_an_unknown_order_is_not_found() {
    let shop = Shop::new();
    let raw = shop.gateway.sign(
        &notification(&OrderNumber::from_value(987_654).unwrap(), "T1", Money::new(100, Currency::CNY)),
        shop.clock.now(),
    );
    assert!(matches!(shop.engine.handle_payment_notification(&raw).await, Err(EngineError::NotFound)));
}

#[tokio::test]
async fn a_tracking_push_for_an_unknown_waybill_or_forged_is_refused() {
    let shop = Shop::new();
    let raw = shop.carrier.push("SF99999999", TrackingKind::InTransit, shop.clock.now(), "E1");
    assert!(
        matches!(shop.engine.handle_tracking_push(&raw).await, Err(EngineError::UnknownWaybill(w)) if w == "SF99999999")
    );
    let id = shop.paid_order("dot").await;
    let waybill = shop.ship_all(id).await;
    let forged = shop.carrier.tamper(&shop.carrier.push(&waybill, TrackingKind::Delivered, shop.clock.now(), "E9"));
    assert!(matches!(
        shop.engine.handle_tracking_push(&forged).await,
        Err(EngineError::Logistics(LogisticsError::InvalidSignature))
    ));
    assert_eq!(shop.engine.order(id).await.unwrap().status(), OrderStatus::Shipped);
}

#[tokio::test]
async fn another_buyers_order_is_not_found() {
    let shop = Shop::new();
    let id = shop.place("eli").await.order.id;
    assert!(matches!(
        shop.engine.order_for(&orderflow::testing::buyer("mallory"), id).await,
        Err(EngineError::NotFound)
    ));
    assert!(shop.engine.order_for(&orderflow::testing::buyer("eli"), id).await.is_ok());
}
