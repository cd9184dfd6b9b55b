//! Every stage of order processing (README, "What the workflow covers") through the engine, on the memory store with faithful fakes.

use crate::common;

use chrono::TimeDelta;
use common::{Shop, sku};
use orderflow::engine::EngineError;
use orderflow::order::{CaseKind, CaseRequest, RefundStatus, TrackingKind};
use orderflow::ports::PaymentStatus;
use orderflow::testing::{Failure, Fault, buyer, carrier, customer_service, reviewer, sample_cod_form, sample_form};
use orderflow::{
    Action, Change, Command, Error, NotificationKind, OrderId, OrderStatus, StaffId, Workflow, WorkflowConfig,
};

#[tokio::test]
async fn an_online_order_goes_through_all_eight_stages() {
    let shop = Shop::with_workflow(Workflow::new(WorkflowConfig { auto_approve: false, ..Default::default() }), 10);
    // 1. placed: stock reserved, buyer told the number and the estimated ship time.
    let placed = shop.place("alice").await;
    let id = placed.order.id();
    assert_eq!(placed.order.status(), OrderStatus::AwaitingPayment);
    assert_eq!(shop.inventory.stock(&sku("TEA-OOLONG")), (10, 2));
    shop.engine.drain_outbox().await.unwrap();
    let first = shop.notifier.notifications().into_iter().next().unwrap();
    assert_eq!(first.order_number, placed.order.number());
    assert!(matches!(first.kind, NotificationKind::Placed { estimated_ship_by, .. }
        if estimated_ship_by == shop.clock.now() + TimeDelta::hours(48)));
    // 2. review by a person.
    shop.run(id, reviewer(), Action::Approve { note: "ok".into() }).await;
    // 3. paid through the signed notification.
    shop.pay(id).await;
    assert_eq!(shop.engine.order(id).await.unwrap().status(), OrderStatus::ReadyToShip);
    // 4 + 5. picked, packed, carrier chosen, shipment created, waybill recorded; stock committed.
    let waybill = shop.ship_all(id).await;
    assert!(waybill.starts_with("SF"));
    assert_eq!(shop.engine.order(id).await.unwrap().status(), OrderStatus::Shipped);
    assert_eq!(shop.inventory.stock(&sku("TEA-OOLONG")), (8, 0));
    // 6. tracking.
    shop.clock.advance(TimeDelta::hours(30));
    let raw = shop.carrier.push(&waybill, TrackingKind::InTransit, shop.clock.now(), "E1");
    assert_eq!(shop.engine.handle_tracking_push(&raw).await.unwrap(), 1);
    shop.deliver(&waybill).await;
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Delivered);
    assert_eq!(order.deadlines().auto_confirm_at, Some(shop.clock.now() + TimeDelta::days(10)));
    // 7. confirmed by the buyer.
    shop.run(id, buyer("alice"), Action::ConfirmReceipt).await;
    // 8. follow-up falls due and is recorded.
    shop.clock.advance(TimeDelta::days(3));
    let due = shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert_eq!(due.fired, 1);
    shop.run(id, customer_service(), Action::RecordFollowUp { score: 4, notes: "fine".into() }).await;
    shop.engine.drain_outbox().await.unwrap();

    let kinds = shop.notifier.kinds();
    for expected in ["placed", "paid", "shipped", "tracking_update", "delivered", "completed", "follow_up_due"] {
        assert!(kinds.contains(&expected), "{expected} not sent: {kinds:?}");
    }
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Completed);
    assert_eq!(order.follow_ups().first().and_then(|f| f.score), Some(4));
    assert_eq!(orderflow::Order::from_events(&shop.engine.events(id).await.unwrap()).unwrap(), order);
    let timeline = shop.engine.buyer_timeline(id).await.unwrap();
    assert!(timeline.iter().any(|e| e.detail.contains(&waybill)));
}

#[tokio::test]
async fn cash_on_delivery_collects_at_the_door() {
    let shop = Shop::new();
    let placed = shop.place_form("bob", sample_cod_form("bob")).await;
    let id = placed.order.id();
    assert_eq!(placed.order.status(), OrderStatus::ReadyToShip);
    assert_eq!(placed.order.deadlines().pay_by, None);
    let waybill = shop.ship_all(id).await;
    shop.deliver(&waybill).await;
    let total = placed.order.totals().total;
    shop.run(id, carrier("SF"), Action::RecordCodCollected { amount: total }).await;
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.payment().cod_collected, Some(total));
    assert_eq!(order.payment().received().unwrap(), total);
}

#[tokio::test]
async fn unpaid_orders_are_cancelled_after_the_deadline_and_release_stock() {
    let shop = Shop::new();
    let id = shop.place("carol").await.order.id();
    shop.engine.start_payment(&buyer("carol"), id).await.unwrap();
    shop.clock.advance(TimeDelta::minutes(29));
    assert_eq!(shop.engine.run_due(shop.clock.now()).await.unwrap().fired, 0);
    shop.clock.advance(TimeDelta::minutes(2));
    assert_eq!(shop.engine.run_due(shop.clock.now()).await.unwrap().fired, 1);
    shop.engine.drain_outbox().await.unwrap();
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Cancelled);
    assert_eq!(shop.inventory.stock(&sku("MUG-CLAY")), (100, 0));
    assert_eq!(shop.gateway.payment(&order.number()).map(|p| p.status), Some(PaymentStatus::Closed));
    // Firing again finds nothing.
    assert_eq!(shop.engine.run_due(shop.clock.now()).await.unwrap().fired, 0);
}

#[tokio::test]
async fn a_paid_order_whose_notification_was_lost_is_recorded_not_cancelled() {
    let shop = Shop::new();
    let placed = shop.place("dave").await;
    shop.gateway.mark_paid(&placed.order.number(), placed.order.totals().total);
    shop.clock.advance(TimeDelta::minutes(31));
    let report = shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert_eq!(report.found_paid, 1);
    let order = shop.engine.order(placed.order.id()).await.unwrap();
    assert_eq!(order.status(), OrderStatus::ReadyToShip);
    assert_eq!(order.payment().captures.len(), 1);
}

#[tokio::test]
async fn delivered_orders_are_confirmed_automatically_after_ten_days() {
    let shop = Shop::new();
    let id = shop.paid_order("erin").await;
    let waybill = shop.ship_all(id).await;
    shop.deliver(&waybill).await;
    shop.clock.advance(TimeDelta::days(10) - TimeDelta::minutes(1));
    shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert_eq!(shop.engine.order(id).await.unwrap().status(), OrderStatus::Delivered);
    shop.clock.advance(TimeDelta::minutes(2));
    shop.engine.run_due(shop.clock.now()).await.unwrap();
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Completed);
    assert!(order.completion().as_ref().is_some_and(|c| c.automatic));
}

#[tokio::test]
async fn a_payment_for_a_cancelled_order_is_recorded_and_refunded() {
    let shop = Shop::new();
    let placed = shop.place("fay").await;
    let id = placed.order.id();
    shop.run(id, buyer("fay"), Action::Cancel { reason: "changed my mind".into() }).await;
    let raw = shop.gateway.notify_paid(&placed.order.number(), placed.order.totals().total, shop.clock.now());
    let reply = shop.engine.handle_payment_notification(&raw).await.unwrap();
    assert_eq!(reply.status, 200);
    shop.engine.drain_outbox().await.unwrap();
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Cancelled);
    assert_eq!(order.payment().captures.len(), 1);
    assert!(matches!(order.payment().refunds.first().map(|r| &r.status), Some(RefundStatus::Completed { .. })));
    assert_eq!(shop.gateway.refunded_total(&placed.order.number()), Some(placed.order.totals().total));
}

#[tokio::test]
async fn cancelling_a_paid_order_refunds_it_through_the_gateway() {
    let shop = Shop::new();
    let id = shop.paid_order("gus").await;
    let number = shop.engine.order(id).await.unwrap().number();
    shop.run(id, customer_service(), Action::Cancel { reason: "out of season".into() }).await;
    shop.engine.drain_outbox().await.unwrap();
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(shop.gateway.refunded_total(&number), Some(order.totals().total));
    assert!(shop.engine.events(id).await.unwrap().iter().any(|e| matches!(e.change, Change::RefundCompleted { .. })));
    assert_eq!(shop.inventory.stock(&sku("CUP-SET")), (100, 0));
}

#[tokio::test]
async fn placement_with_the_same_idempotency_key_returns_the_first_order() {
    let shop = Shop::new();
    let form = sample_form("hal");
    let first = shop.engine.place(&buyer("hal"), &form, Some("req-1")).await.unwrap();
    let second = shop.engine.place(&buyer("hal"), &form, Some("req-1")).await.unwrap();
    assert!(second.already_applied);
    assert_eq!(first.order.id(), second.order.id());
    assert_eq!(shop.store.order_count(), 1);
    assert_eq!(shop.inventory.stock(&sku("TEA-OOLONG")), (100, 2));
}

/// The events an order has of one kind.
async fn count_events(shop: &Shop, id: OrderId, kind: &str) -> usize {
    shop.engine.events(id).await.unwrap().iter().filter(|e| e.change.name() == kind).count()
}

#[tokio::test]
async fn a_repeated_keyed_command_that_would_be_refused_now_answers_as_applied() {
    let shop =
        Shop::with_workflow(Workflow::new(WorkflowConfig { auto_approve: false, ..WorkflowConfig::default() }), 100);
    let id = shop.place("ada").await.order.id();
    let approve = || Command::new(reviewer(), Action::Approve { note: "checked".into() });
    let first = shop.engine.execute_idempotent(id, approve(), "req-1").await.unwrap();
    assert!(!first.already_applied);
    let again = shop.engine.execute_idempotent(id, approve(), "req-1").await.unwrap();
    assert!(again.already_applied, "the retry of a request that went through is not an error");
    assert!(again.events.is_empty());
    assert_eq!(again.order.version(), first.order.version());
    // The same command under another key is a new request, refused in the order's new state.
    let other = shop.engine.execute_idempotent(id, approve(), "req-2").await;
    assert!(matches!(other, Err(EngineError::Rejected(Error::IllegalTransition { .. }))), "{other:?}");
}

/// Bob's paid order with a complaint case open.
async fn complaint_case(shop: &Shop) -> (OrderId, orderflow::CaseId) {
    let id = shop.paid_order("bob").await;
    let complaint = Action::OpenCase {
        request: CaseRequest {
            kind: CaseKind::Complaint,
            lines: Vec::new(),
            reason_code: "late".into(),
            text: "the courier was rude".into(),
            evidence: Vec::new(),
        },
    };
    let case = shop.run(id, buyer("bob"), complaint).await.order.cases().last().map(|c| c.id).unwrap();
    (id, case)
}

#[tokio::test]
async fn a_repeated_keyed_command_that_could_apply_again_is_stored_once() {
    let shop = Shop::new();
    let (id, case) = complaint_case(&shop).await;
    let assign =
        || Command::new(customer_service(), Action::AssignCase { case, assignee: StaffId::new("chen").unwrap() });
    assert!(!shop.engine.execute_idempotent(id, assign(), "assign-1").await.unwrap().already_applied);
    // Assigning again is allowed, so only the key tells the retry from a new request.
    let retry = shop.engine.execute_idempotent(id, assign(), "assign-1").await.unwrap();
    assert!(retry.already_applied);
    assert_eq!(count_events(&shop, id, "case_assigned").await, 1);
    assert!(!shop.engine.execute_idempotent(id, assign(), "assign-2").await.unwrap().already_applied);
    assert_eq!(count_events(&shop, id, "case_assigned").await, 2);
}

#[tokio::test]
async fn an_idempotency_key_belongs_to_its_buyer_and_never_returns_another_buyers_order() {
    let shop = Shop::new();
    let alice = shop.engine.place(&buyer("alice"), &sample_form("alice"), Some("checkout-1")).await.unwrap();
    // Bob sends the same key (the README's own example): he gets his own new order.
    let bob = shop.engine.place(&buyer("bob"), &sample_form("bob"), Some("checkout-1")).await.unwrap();
    assert!(!bob.already_applied, "another buyer's key is a different key");
    assert_ne!(bob.order.id(), alice.order.id());
    assert_eq!(bob.order.customer().as_str(), "bob");
    // Customer service placing for alice with that key is another actor too.
    let by_staff = shop.engine.place(&customer_service(), &sample_form("alice"), Some("checkout-1")).await.unwrap();
    assert!(!by_staff.already_applied);
    assert_eq!(shop.store.order_count(), 3);
    // Alice's own retry still finds her order.
    let again = shop.engine.place(&buyer("alice"), &sample_form("alice"), Some("checkout-1")).await.unwrap();
    assert!(again.already_applied);
    assert_eq!(again.order.id(), alice.order.id());
}

#[tokio::test]
async fn an_idempotency_key_reused_for_a_different_form_is_refused_and_changes_nothing() {
    let shop = Shop::new();
    let first = shop.engine.place(&buyer("alice"), &sample_form("alice"), Some("k-1")).await.unwrap();
    let mut other = sample_form("alice");
    other.buyer_note = "leave it at the door".into();
    let reused = shop.engine.place(&buyer("alice"), &other, Some("k-1")).await;
    assert_eq!(reused.unwrap_err(), EngineError::IdempotencyKeyReused);
    assert_eq!(shop.store.order_count(), 1);
    assert_eq!(shop.inventory.stock(&sku("TEA-OOLONG")), (100, 2), "nothing more reserved");
    assert_eq!(shop.engine.order(first.order.id()).await.unwrap().version(), first.order.version());
}

#[tokio::test]
async fn idempotency_keys_are_bounded_and_must_not_be_blank() {
    let shop = Shop::new();
    let form = sample_form("alice");
    let longest = "k".repeat(orderflow::engine::MAX_IDEMPOTENCY_KEY_BYTES);
    let id = shop.engine.place(&buyer("alice"), &form, Some(&longest)).await.unwrap().order.id();
    for bad in [String::new(), format!("{longest}k"), "tab\tkey".into()] {
        let refused = shop.engine.place(&buyer("alice"), &form, Some(&bad)).await;
        assert!(
            matches!(refused, Err(EngineError::Rejected(Error::InvalidField { field: "idempotency_key", .. }))),
            "{bad:?}: {refused:?}"
        );
    }
    assert_eq!(shop.store.order_count(), 1);
    let cancel = || Command::new(buyer("alice"), Action::Cancel { reason: "no".into() });
    let refused = shop.engine.execute_idempotent(id, cancel(), &"x".repeat(256)).await;
    assert!(matches!(refused, Err(EngineError::Rejected(Error::InvalidField { field: "idempotency_key", .. }))));
    assert_eq!(shop.engine.order(id).await.unwrap().status(), OrderStatus::AwaitingPayment);
}

#[tokio::test]
async fn command_keys_are_scoped_to_the_actor_and_bound_to_the_action() {
    let shop = Shop::new();
    let (id, case) = complaint_case(&shop).await;
    let assign = |staff: &str, to: &str| {
        Command::new(
            orderflow::testing::staff(staff, &[orderflow::Role::CustomerService]),
            Action::AssignCase { case, assignee: StaffId::new(to).unwrap() },
        )
    };
    assert!(!shop.engine.execute_idempotent(id, assign("li", "chen"), "k").await.unwrap().already_applied);
    // Another staff member's equal key is their own key: the command is applied.
    assert!(!shop.engine.execute_idempotent(id, assign("wu", "chen"), "k").await.unwrap().already_applied);
    assert_eq!(count_events(&shop, id, "case_assigned").await, 2);
    // The same staff member and key with another action is refused, and nothing is stored.
    let reused = shop.engine.execute_idempotent(id, assign("li", "zhao"), "k").await;
    assert_eq!(reused.unwrap_err(), EngineError::IdempotencyKeyReused);
    assert_eq!(count_events(&shop, id, "case_assigned").await, 2);
}

#[tokio::test]
async fn an_unpaid_order_whose_payment_was_never_opened_is_cancelled_and_its_stock_released() {
    let shop = Shop::new();
    let placed = shop.place("carol").await;
    // The buyer never opened the payment page: the provider has no such payment, and says so
    // when asked to close it (WeChat Pay ORDER_NOT_EXIST, Alipay ACQ.TRADE_NOT_EXIST).
    assert_eq!(shop.gateway.payment(&placed.order.number()), None);
    shop.clock.advance(TimeDelta::minutes(31));
    let report = shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert_eq!((report.fired, report.failed), (1, 0));
    shop.engine.drain_outbox().await.unwrap();
    assert_eq!(shop.engine.order(placed.order.id()).await.unwrap().status(), OrderStatus::Cancelled);
    assert_eq!(shop.inventory.stock(&sku("MUG-CLAY")), (100, 0));
    assert_eq!(shop.engine.run_due(shop.clock.now()).await.unwrap(), Default::default(), "nothing left to fire");
}

/// A delivered order, confirmed received by its buyer: its follow-up and after-sales window
/// are pending.
async fn completed_order(shop: &Shop, customer: &str) -> OrderId {
    let id = shop.paid_order(customer).await;
    let waybill = shop.ship_all(id).await;
    shop.deliver(&waybill).await;
    shop.run(id, buyer(customer), Action::ConfirmReceipt).await;
    id
}

#[tokio::test]
async fn one_run_due_call_fires_a_completed_orders_follow_up_and_after_sales_window() {
    let shop = Shop::new();
    let id = completed_order(&shop, "ivy").await;
    shop.clock.advance(TimeDelta::days(7) + TimeDelta::minutes(1));
    let report = shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert_eq!((report.fired, report.found_paid, report.failed), (2, 0, 0), "{report:?}");
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.deadlines().next(), None);
    assert_eq!(count_events(&shop, id, "follow_up_due").await, 1);
    assert_eq!(count_events(&shop, id, "after_sales_window_closed").await, 1);
    assert_eq!(shop.engine.run_due(shop.clock.now()).await.unwrap().fired, 0);
}

#[tokio::test]
async fn a_deadline_that_fails_is_tried_once_per_call_and_retried_on_the_next() {
    let shop = Shop::new();
    let unpaid = shop.place("jon").await.order.id();
    let completed = completed_order(&shop, "kim").await;
    shop.clock.advance(TimeDelta::days(7) + TimeDelta::minutes(1));
    // The gateway is down for good: the unpaid order cannot be checked before cancelling.
    shop.faults.gateway.inject(Failure::next(1_000).with(Fault::Unavailable("down".into())));
    let calls = shop.faults.gateway.calls();
    let report = shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert_eq!((report.fired, report.found_paid, report.failed), (2, 0, 1), "{report:?}");
    assert_eq!(shop.faults.gateway.calls() - calls, 1, "the failing deadline is tried once in a call");
    assert_eq!(shop.engine.order(completed).await.unwrap().deadlines().next(), None);
    assert_eq!(shop.engine.order(unpaid).await.unwrap().status(), OrderStatus::AwaitingPayment);
    // The next call tries it again; once the gateway is back, it fires.
    let report = shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert_eq!((report.fired, report.failed), (0, 1), "{report:?}");
    shop.faults.gateway.heal();
    let report = shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert_eq!((report.fired, report.failed), (1, 0), "{report:?}");
    assert_eq!(shop.engine.order(unpaid).await.unwrap().status(), OrderStatus::Cancelled);
}

#[tokio::test]
async fn the_payment_description_is_provider_safe_by_default_and_the_hosts_to_choose() {
    let shop = Shop::new();
    let placed = shop.place("ann").await.order;
    shop.engine.start_payment(&buyer("ann"), placed.id()).await.unwrap();
    let record = shop.gateway.payment(&placed.number()).unwrap();
    assert_eq!(record.description, placed.number().provider_reference());

    let mut shop = Shop::new();
    let adapters = shop.engine.adapters().clone();
    shop.engine = orderflow::engine::Engine::new(Workflow::default(), adapters)
        .with_payment_description(|order| format!("茶叶小铺 {}", order.lines()[0].product_name));
    let placed = shop.place("ann").await.order;
    shop.engine.start_payment(&buyer("ann"), placed.id()).await.unwrap();
    assert_eq!(shop.gateway.payment(&placed.number()).unwrap().description, "茶叶小铺 Oolong tea 250g");
}
