//! Adapter failures at each call leave the order consistent; retries converge; nothing is
//! half-applied.

use crate::common;

use chrono::TimeDelta;
use common::{Shop, sku};
use orderflow::engine::{DispatchReport, EngineError, EngineSettings};
use orderflow::order::RefundStatus;
use orderflow::ports::{GatewayError, InventoryError, StoreError};
use orderflow::testing::{COMMITS, Failure, Fault, buyer, customer_service, pack_remaining, sample_form};
use orderflow::{Action, OrderStatus};

#[tokio::test]
async fn out_of_stock_refuses_the_order_and_stores_nothing() {
    let shop = Shop::new();
    shop.inventory.set_stock(&sku("MUG-CLAY"), 0);
    let err = shop.engine.place(&buyer("ann"), &sample_form("ann"), None).await.unwrap_err();
    assert!(
        matches!(err, EngineError::Inventory(InventoryError::OutOfStock { ref sku, requested: 1, available: 0 }) if sku.as_str() == "MUG-CLAY")
    );
    assert_eq!(shop.store.order_count(), 0);
    assert_eq!(shop.inventory.stock(&sku("TEA-OOLONG")), (100, 0), "all or nothing: no partial reservation");
}

#[tokio::test]
async fn a_store_failure_at_placement_releases_the_reservation() {
    let shop = Shop::new();
    shop.faults.store.inject(Failure::next(1).of(COMMITS));
    let err = shop.engine.place(&buyer("ann"), &sample_form("ann"), None).await.unwrap_err();
    assert!(matches!(err, EngineError::Store(StoreError::Unavailable(_))));
    assert!(err.is_retryable());
    assert_eq!(shop.store.order_count(), 0);
    assert_eq!(shop.inventory.stock(&sku("TEA-OOLONG")), (100, 0));
    // The retry goes through.
    shop.engine.place(&buyer("ann"), &sample_form("ann"), None).await.unwrap();
    assert_eq!(shop.inventory.stock(&sku("TEA-OOLONG")), (100, 2));
}

#[tokio::test]
async fn a_store_failure_mid_append_changes_nothing() {
    let shop = Shop::new();
    let id = shop.place("bea").await.order.id();
    let before = shop.engine.events(id).await.unwrap();
    let pending = shop.store.outbox_pending();
    shop.faults.store.inject(Failure::next(1).of(COMMITS));
    let err = shop
        .engine
        .execute(id, orderflow::Command::new(buyer("bea"), Action::Cancel { reason: "oops".into() }))
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(shop.engine.events(id).await.unwrap(), before);
    assert_eq!(shop.store.outbox_pending(), pending);
    assert_eq!(shop.engine.order(id).await.unwrap().status(), OrderStatus::AwaitingPayment);
}

#[tokio::test]
async fn inventory_down_at_placement_is_a_retryable_error() {
    let shop = Shop::new();
    shop.faults.inventory.fail_next(1);
    let err = shop.engine.place(&buyer("cy"), &sample_form("cy"), None).await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(shop.store.order_count(), 0);
}

#[tokio::test]
async fn a_failing_notifier_never_blocks_a_transition_and_is_retried() {
    let shop = Shop::new();
    shop.faults.notifier.fail_next(3);
    let id = shop.paid_order("dee").await;
    assert_eq!(shop.engine.order(id).await.unwrap().status(), OrderStatus::ReadyToShip);
    let first = shop.engine.dispatch_outbox().await.unwrap();
    assert!(first.retrying > 0);
    for _ in 0..6 {
        shop.clock.advance(TimeDelta::minutes(5));
        shop.engine.dispatch_outbox().await.unwrap();
    }
    assert_eq!(shop.store.outbox_pending(), 0);
    let kinds = shop.notifier.kinds();
    assert_eq!(kinds.iter().filter(|k| **k == "placed").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "paid").count(), 1);
}

#[tokio::test]
async fn a_refund_that_times_out_after_succeeding_is_retried_with_the_same_key_and_paid_once() {
    let shop = Shop::new();
    let id = shop.paid_order("eve").await;
    let order = shop.engine.order(id).await.unwrap();
    shop.engine.drain_outbox().await.unwrap();
    shop.faults.gateway.inject(Failure::timeouts_after_success(1).of(&["refund"]));
    shop.run(id, customer_service(), Action::Cancel { reason: "duplicate order".into() }).await;
    let first = shop.engine.dispatch_outbox().await.unwrap();
    assert_eq!(first.retrying, 1);
    shop.clock.advance(TimeDelta::minutes(1));
    shop.engine.drain_outbox().await.unwrap();
    assert_eq!(shop.gateway.refunded_total(&order.number()), Some(order.totals().total));
    assert_eq!(shop.gateway.refunds().len(), 1);
    let after = shop.engine.order(id).await.unwrap();
    assert!(matches!(
        after.payment().refunds.first().map(|r| &r.status),
        Some(orderflow::order::RefundStatus::Completed { .. })
    ));
}

#[tokio::test]
async fn gateway_down_during_refund_converges_once_it_is_back() {
    let shop = Shop::new();
    let id = shop.paid_order("fox").await;
    shop.engine.drain_outbox().await.unwrap();
    shop.faults.gateway.inject(Failure::next(2).with(Fault::Unavailable("maintenance".into())));
    shop.run(id, buyer("fox"), Action::Cancel { reason: "too slow".into() }).await;
    for _ in 0..5 {
        shop.engine.dispatch_outbox().await.unwrap();
        shop.clock.advance(TimeDelta::minutes(1));
    }
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(shop.gateway.refunded_total(&order.number()), Some(order.totals().total));
    assert_eq!(shop.store.outbox_pending(), 0);
}

#[tokio::test]
async fn a_refund_given_up_after_repeated_timeouts_is_requeued_after_the_outage_and_paid_once() {
    let shop = Shop::new();
    let id = shop.paid_order("hal").await;
    let order = shop.engine.order(id).await.unwrap();
    shop.engine.drain_outbox().await.unwrap();
    // The refund is made at the first call, then every answer times out, for longer than the
    // outbox keeps trying.
    shop.faults.gateway.inject(Failure::timeouts_after_success(1_000).of(&["refund"]));
    shop.run(id, customer_service(), Action::Cancel { reason: "duplicate order".into() }).await;
    let mut died_at = None;
    for _ in 0..100 {
        let round = shop.engine.dispatch_outbox().await.unwrap();
        if round.dead > 0 {
            died_at = Some(shop.clock.now());
            break;
        }
        shop.clock.advance(TimeDelta::hours(1));
    }
    let dead = shop.engine.dead_letters(None, 10).await.unwrap().letters;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let letter = &dead[0];
    assert!(matches!(letter.effect, orderflow::Effect::Refund { amount, .. } if amount == order.totals().total));
    assert_eq!(letter.order_id, id);
    assert_eq!(letter.attempts, EngineSettings::default().max_refund_attempts);
    assert_eq!(letter.last_error, "payment provider unavailable: timeout");
    assert_eq!(letter.died_at, died_at);
    assert_eq!(shop.gateway.refunds().len(), 1, "made once, at the first call");
    let refund_status = |o: &orderflow::Order| o.payment().refunds.first().map(|r| r.status.clone());
    assert_eq!(refund_status(&shop.engine.order(id).await.unwrap()), Some(RefundStatus::Pending));

    // Nothing picks a dead letter up by itself, not even once the gateway is back.
    shop.faults.gateway.heal();
    shop.clock.advance(TimeDelta::days(7));
    assert_eq!(shop.engine.drain_outbox().await.unwrap(), DispatchReport::default());

    // The operator requeues it: delivered under the same key, so the gateway answers with the
    // receipt of the refund it made and does not pay again.
    assert!(!shop.engine.requeue_dead_letter("no-such-key").await.unwrap());
    assert!(shop.engine.requeue_dead_letter(&letter.key).await.unwrap());
    assert!(!shop.engine.requeue_dead_letter(&letter.key).await.unwrap(), "a second requeue finds nothing");
    let report = shop.engine.drain_outbox().await.unwrap();
    assert!(report.delivered >= 1 && report.retrying == 0 && report.dead == 0, "{report:?}");
    assert!(matches!(refund_status(&shop.engine.order(id).await.unwrap()), Some(RefundStatus::Completed { .. })));
    assert_eq!(shop.gateway.refunds().len(), 1);
    assert_eq!(shop.gateway.refunded_total(&order.number()), Some(order.totals().total));
    assert!(shop.engine.dead_letters(None, 10).await.unwrap().letters.is_empty());
    assert_eq!(shop.store.outbox_pending(), 0);
}

#[tokio::test]
async fn carrier_down_at_shipment_creation_retries_to_one_waybill() {
    let shop = Shop::new();
    let id = shop.paid_order("gil").await;
    shop.run(id, orderflow::testing::warehouse(), Action::IssuePickList).await;
    let order = shop.engine.order(id).await.unwrap();
    let pack = pack_remaining(&order);
    shop.run(id, orderflow::testing::warehouse(), pack).await;
    shop.engine.ship(&orderflow::testing::warehouse(), id, orderflow::PackageId(1)).await.unwrap();
    // The carrier is down when the shipment is created from the outbox; a later round succeeds.
    shop.faults.carrier.fail_next(1);
    shop.engine.drain_outbox().await.unwrap();
    assert_eq!(shop.engine.order(id).await.unwrap().status(), OrderStatus::InFulfilment);
    shop.clock.advance(TimeDelta::minutes(1));
    shop.engine.drain_outbox().await.unwrap();
    assert_eq!(shop.engine.order(id).await.unwrap().status(), OrderStatus::Shipped);
    assert_eq!(shop.carrier.shipments().len(), 1);
}

#[tokio::test]
async fn a_refund_refused_for_the_providers_rate_limit_is_retried_not_failed() {
    let shop = Shop::new();
    let id = shop.paid_order("gil").await;
    let order = shop.engine.order(id).await.unwrap();
    shop.engine.drain_outbox().await.unwrap();
    // WeChat Pay takes one refund per order per minute and answers FREQUENCY_LIMITED.
    shop.faults.gateway.inject(Failure::next(1).with(Fault::RateLimited("FREQUENCY_LIMITED".into())));
    shop.run(id, customer_service(), Action::Cancel { reason: "duplicate order".into() }).await;
    let first = shop.engine.dispatch_outbox().await.unwrap();
    assert_eq!(first.retrying, 1, "{first:?}");
    let pending = shop.engine.order(id).await.unwrap();
    assert!(matches!(pending.payment().refunds.first().map(|r| &r.status), Some(RefundStatus::Pending)));
    shop.clock.advance(TimeDelta::minutes(1));
    shop.engine.drain_outbox().await.unwrap();
    assert_eq!(shop.gateway.refunded_total(&order.number()), Some(order.totals().total));
    let after = shop.engine.order(id).await.unwrap();
    assert!(matches!(after.payment().refunds.first().map(|r| &r.status), Some(RefundStatus::Completed { .. })));
    assert!(EngineError::Payment(GatewayError::RateLimited(String::new())).is_retryable());
}
