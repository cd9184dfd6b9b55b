//! Races with real threads: one wins, the others get a clear answer, nothing is corrupted.

use crate::common;

use std::sync::Arc;

use chrono::TimeDelta;
use common::{Shop, sku};
use orderflow::engine::EngineError;
use orderflow::ports::InventoryError;
use orderflow::testing::{buyer, customer_service, reviewer, sample_form};
use orderflow::{Action, Change, Command, OrderStatus, Workflow, WorkflowConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_buyers_for_the_last_unit_one_gets_it() {
    let shop = Arc::new(Shop::new());
    shop.inventory.set_stock(&sku("MUG-CLAY"), 1);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let shop = shop.clone();
        tasks.push(tokio::spawn(async move {
            let customer = format!("buyer{i}");
            shop.engine.place(&buyer(&customer), &sample_form(&customer), None).await
        }));
    }
    let mut won = 0;
    let mut out_of_stock = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => won += 1,
            Err(EngineError::Inventory(InventoryError::OutOfStock { .. })) => out_of_stock += 1,
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!((won, out_of_stock), (1, 49));
    assert_eq!(shop.store.order_count(), 1);
    assert_eq!(shop.inventory.stock(&sku("MUG-CLAY")), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_payment_notification_ten_times_at_once_captures_once() {
    let shop = Arc::new(Shop::new());
    let placed = shop.place("ivy").await;
    let raw = Arc::new(shop.gateway.notify_paid(&placed.order.number(), placed.order.totals().total, shop.clock.now()));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (shop, raw) = (shop.clone(), raw.clone());
        tasks.push(tokio::spawn(async move { shop.engine.handle_payment_notification(&raw).await }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().status, 200);
    }
    let order = shop.engine.order(placed.order.id()).await.unwrap();
    assert_eq!(order.payment().captures.len(), 1);
    assert_eq!(order.status(), OrderStatus::ReadyToShip);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staff_approval_racing_the_buyers_cancellation_has_one_winner() {
    for round in 0..20 {
        let manual = Workflow::new(WorkflowConfig { auto_approve: false, ..Default::default() });
        let shop = Arc::new(Shop::with_workflow(manual, 100));
        let customer = format!("jo{round}");
        let id = shop.place(&customer).await.order.id();
        let s1 = shop.clone();
        let approve = tokio::spawn(async move {
            s1.engine.execute(id, Command::new(reviewer(), Action::Reject { reason: "address".into() })).await
        });
        let s2 = shop.clone();
        let c = customer.clone();
        let cancel = tokio::spawn(async move {
            s2.engine.execute(id, Command::new(buyer(&c), Action::Cancel { reason: "changed mind".into() })).await
        });
        let results = [approve.await.unwrap(), cancel.await.unwrap()];
        let wins = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "exactly one of reject and cancel wins");
        for r in &results {
            if let Err(e) = r {
                assert!(matches!(e, EngineError::Rejected(_) | EngineError::Conflict { .. }), "unclear refusal {e}");
            }
        }
        let events = shop.engine.events(id).await.unwrap();
        let endings = events
            .iter()
            .filter(|e| matches!(e.change, Change::OrderCancelled { .. } | Change::ReviewRejected { .. }))
            .count();
        assert_eq!(endings, 1);
        assert_eq!(orderflow::Order::from_events(&events).unwrap(), shop.engine.order(id).await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_payment_racing_the_unpaid_cancellation_is_never_kept_on_a_cancelled_order() {
    for round in 0..20 {
        let shop = Arc::new(Shop::new());
        let placed = shop.place(&format!("kim{round}")).await;
        shop.clock.advance(TimeDelta::minutes(31));
        let s1 = shop.clone();
        let timer = tokio::spawn(async move { s1.engine.run_due(s1.clock.now()).await });
        let s2 = shop.clone();
        let (number, total) = (placed.order.number(), placed.order.totals().total);
        // The buyer pays at the provider at the same moment the timer fires.
        let webhook = tokio::spawn(async move {
            let raw = s2.gateway.notify_paid(&number, total, s2.clock.now());
            s2.engine.handle_payment_notification(&raw).await
        });
        let _ = timer.await.unwrap();
        let _ = webhook.await.unwrap();
        shop.engine.drain_outbox().await.unwrap();
        let order = shop.engine.order(placed.order.id()).await.unwrap();
        let captured = order.payment().received().unwrap();
        if order.status() == OrderStatus::Cancelled {
            assert_eq!(order.payment().refunded().unwrap(), captured, "cancelled orders keep no money");
        } else {
            assert_eq!(order.status(), OrderStatus::ReadyToShip);
            assert_eq!(captured, order.totals().total);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn manual_and_automatic_receipt_confirmation_at_the_same_moment_confirm_once() {
    for round in 0..10 {
        let shop = Arc::new(Shop::new());
        let customer = format!("lu{round}");
        let id = shop.paid_order(&customer).await;
        let waybill = shop.ship_all(id).await;
        shop.deliver(&waybill).await;
        shop.clock.advance(TimeDelta::days(11));
        let s1 = shop.clone();
        let timer = tokio::spawn(async move { s1.engine.run_due(s1.clock.now()).await });
        let s2 = shop.clone();
        let manual =
            tokio::spawn(
                async move { s2.engine.execute(id, Command::new(buyer(&customer), Action::ConfirmReceipt)).await },
            );
        let _ = timer.await.unwrap();
        let _ = manual.await.unwrap();
        let events = shop.engine.events(id).await.unwrap();
        assert_eq!(events.iter().filter(|e| matches!(e.change, Change::ReceiptConfirmed { .. })).count(), 1);
        assert_eq!(shop.engine.order(id).await.unwrap().status(), OrderStatus::Completed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refund_requests_never_exceed_what_was_captured() {
    let shop = Arc::new(Shop::new());
    let id = shop.paid_order("max").await;
    let order = shop.engine.order(id).await.unwrap();
    let line = order.lines().first().unwrap().clone();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let shop = shop.clone();
        let refund = Action::RequestRefund {
            lines: vec![orderflow::order::LineRefund { line: line.id, amount: line.payable }],
            shipping: orderflow::Money::zero(line.payable.currency),
            reason: "damaged".into(),
            manual_reference: None,
        };
        tasks
            .push(tokio::spawn(async move { shop.engine.execute(id, Command::new(customer_service(), refund)).await }));
    }
    let ok = futures_count(tasks).await;
    assert_eq!(ok, 1);
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.payment().refunded_for_line(line.id).unwrap(), line.payable);
}

async fn futures_count(tasks: Vec<tokio::task::JoinHandle<Result<orderflow::engine::Outcome, EngineError>>>) -> usize {
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    ok
}
