//! Bad input at the ports: forged, replayed, mismatched and unknown callbacks.

use crate::common;

use std::sync::Arc;

use chrono::TimeDelta;
use common::Shop;
use orderflow::engine::{Adapters, Engine, EngineError, EngineSettings, Ports};
use orderflow::order::{RefundStatus, TrackingKind};
use orderflow::ports::{GatewayError, LogisticsError, OrderRepository, PaymentNotification, PaymentStatus};
use orderflow::testing::{
    Failing, FakeCarrier, FakeGateway, FixedClock, MultiCarrier, RecordingNotifier, buyer, carrier, pack_remaining,
    sample_form, t0, warehouse,
};
use orderflow::{
    Action, Command, Currency, MemoryInventory, MemoryStore, Money, OrderId, OrderNumber, OrderStatus, PackageId,
    Workflow,
};

fn notification(number: &OrderNumber, txn: &str, amount: Money) -> PaymentNotification {
    PaymentNotification::new(*number, txn, amount, PaymentStatus::Succeeded)
}

#[tokio::test]
async fn a_forged_notification_is_refused_and_changes_nothing() {
    let shop = Shop::new();
    let placed = shop.place("ada").await;
    let n = notification(&placed.order.number(), "T1", placed.order.totals().total);
    let forged = shop.gateway.forge(&n, shop.clock.now());
    let err = shop.engine.handle_payment_notification(&forged).await.unwrap_err();
    assert!(matches!(err, EngineError::Payment(GatewayError::InvalidSignature)));
    let tampered = shop.gateway.tamper(&shop.gateway.sign(&n, shop.clock.now()));
    assert!(matches!(
        shop.engine.handle_payment_notification(&tampered).await,
        Err(EngineError::Payment(GatewayError::InvalidSignature))
    ));
    assert_eq!(shop.engine.order(placed.order.id()).await.unwrap(), placed.order);
}

#[tokio::test]
async fn a_notification_replayed_outside_the_tolerance_is_refused() {
    let shop = Shop::new();
    let placed = shop.place("bo").await;
    let raw =
        shop.gateway.sign(&notification(&placed.order.number(), "T1", placed.order.totals().total), shop.clock.now());
    shop.clock.advance(TimeDelta::minutes(6));
    let err = shop.engine.handle_payment_notification(&raw).await.unwrap_err();
    assert!(matches!(err, EngineError::Payment(GatewayError::StaleTimestamp)));
    assert_eq!(shop.engine.order(placed.order.id()).await.unwrap().status(), OrderStatus::AwaitingPayment);
}

#[tokio::test]
async fn right_signature_wrong_amount_or_currency_is_an_anomaly_not_a_payment() {
    let shop = Shop::new();
    let placed = shop.place("cat").await;
    let total = placed.order.totals().total;
    let short = Money::new(total.minor - 1, total.currency);
    let usd = Money::new(total.minor, Currency::USD);
    let too_much = Money::new(total.minor + 100, total.currency);
    for (txn, amount) in [("T-short", short), ("T-usd", usd), ("T-much", too_much)] {
        let raw = shop.gateway.sign(&notification(&placed.order.number(), txn, amount), shop.clock.now());
        let reply = shop.engine.handle_payment_notification(&raw).await.unwrap();
        assert_eq!(reply.status, 200, "the provider is answered so it stops retrying");
    }
    let order = shop.engine.order(placed.order.id()).await.unwrap();
    // A wallet payment settles the order exactly: short, USD and too much are all anomalies.
    assert_eq!(order.payment().captures.len(), 0);
    assert_eq!(order.payment().anomalies.len(), 3);
    // Each says why in kind and figures, not in an English sentence.
    let reasons: Vec<_> = order.payment().anomalies.iter().map(|a| a.reason.clone()).collect();
    let mismatch = |received| orderflow::AnomalyReason::AmountMismatch { expected: total, received };
    assert_eq!(reasons, [mismatch(short), mismatch(usd), mismatch(too_much)]);
    assert_eq!(order.status(), OrderStatus::AwaitingPayment);
    // Replaying an anomaly does not record it twice.
    let raw = shop.gateway.sign(&notification(&placed.order.number(), "T-usd", usd), shop.clock.now());
    shop.engine.handle_payment_notification(&raw).await.unwrap();
    assert_eq!(shop.engine.order(placed.order.id()).await.unwrap().payment().anomalies.len(), 3);
}

#[tokio::test]
async fn an_underpayment_is_sent_back_and_the_correct_payment_then_pays_the_order() {
    let shop = Shop::new();
    let placed = shop.place("cat").await;
    let number = placed.order.number();
    let total = placed.order.totals().total;
    shop.engine.start_payment(&orderflow::testing::buyer("cat"), placed.order.id()).await.unwrap();
    let short = Money::new(total.minor - 1, total.currency);
    let raw = shop.gateway.notify_paid(&number, short, shop.clock.now());
    assert_eq!(shop.engine.handle_payment_notification(&raw).await.unwrap().status, 200);
    shop.engine.drain_outbox().await.unwrap();
    // The money that was not applied went back through the provider, exactly once.
    assert_eq!(shop.gateway.refunded_total(&number), Some(short));
    let order = shop.engine.order(placed.order.id()).await.unwrap();
    assert_eq!(order.payment().anomalies.len(), 1);
    assert!(matches!(order.payment().refunds.first().map(|r| &r.status), Some(RefundStatus::Completed { .. })));
    assert_eq!(order.status(), OrderStatus::AwaitingPayment);
    // The buyer pays again, the right amount: paid, nothing stuck.
    let raw = shop.gateway.notify_paid(&number, total, shop.clock.now());
    shop.engine.handle_payment_notification(&raw).await.unwrap();
    shop.engine.drain_outbox().await.unwrap();
    let order = shop.engine.order(placed.order.id()).await.unwrap();
    assert_eq!(order.status(), OrderStatus::ReadyToShip);
    assert_eq!(order.payment().received().unwrap(), total);
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
    let id = shop.place("eli").await.order.id();
    assert!(matches!(
        shop.engine.order_for(&orderflow::testing::buyer("mallory"), id).await,
        Err(EngineError::NotFound)
    ));
    assert!(shop.engine.order_for(&orderflow::testing::buyer("eli"), id).await.is_ok());
}

/// The adapters of [`TwoCarriers`].
type TwoCarriersPorts = Adapters<
    Arc<MemoryStore>,
    Arc<FakeGateway>,
    MultiCarrier,
    Arc<MemoryInventory>,
    Arc<RecordingNotifier>,
    Arc<FixedClock>,
>;

/// A shop whose logistics is fake carriers SF, YT and ZTO, all numbering their waybills
/// `WB00000001`, `WB00000002`, ...: the same numbers, different parcels.
struct TwoCarriers {
    engine: Engine<TwoCarriersPorts>,
    gateway: Arc<FakeGateway>,
    sf: Arc<FakeCarrier>,
    yt: Arc<FakeCarrier>,
    /// A third carrier, with no parcel of these orders.
    zto: Arc<FakeCarrier>,
    clock: Arc<FixedClock>,
}

impl TwoCarriers {
    fn new() -> TwoCarriers {
        let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
        let sf = Arc::new(FakeCarrier::new("SF", b"sf-secret").with_waybill_prefix("WB"));
        let yt = Arc::new(FakeCarrier::new("YT", b"yt-secret").with_waybill_prefix("WB"));
        let zto = Arc::new(FakeCarrier::new("ZTO", b"zto-secret").with_waybill_prefix("WB"));
        let inventory = crate::common::stocked_inventory();
        let clock = Arc::new(FixedClock::new(t0()));
        let adapters = Adapters {
            store: Arc::new(MemoryStore::new()),
            payments: gateway.clone(),
            logistics: MultiCarrier::new().with_fake(sf.clone()).with_fake(yt.clone()).with_fake(zto.clone()),
            inventory,
            notifier: Arc::new(RecordingNotifier::new()),
            clock: clock.clone(),
        };
        TwoCarriers { engine: Engine::new(Workflow::default(), adapters), gateway, sf, yt, zto, clock }
    }

    /// A paid order, packed and booked with `carrier`, its shipment created: its waybill.
    async fn shipped_with(&self, customer: &str, carrier: &str) -> (OrderId, String) {
        shipped_with(&self.engine, &self.gateway, self.clock.now(), customer, carrier).await
    }
}

/// A paid order (paid through `gateway` at `now`) of `customer`, packed and booked with
/// `carrier`, its shipment created: its id and waybill.
pub(crate) async fn shipped_with<P: Ports>(
    engine: &Engine<P>,
    gateway: &FakeGateway,
    now: chrono::DateTime<chrono::Utc>,
    customer: &str,
    carrier: &str,
) -> (OrderId, String) {
    let id = engine.place(&buyer(customer), &sample_form(customer), None).await.unwrap().order.id();
    let order = engine.order(id).await.unwrap();
    let raw = gateway.notify_paid(&order.number(), order.totals().total, now);
    engine.handle_payment_notification(&raw).await.unwrap();
    engine.execute(id, Command::new(warehouse(), Action::IssuePickList)).await.unwrap();
    let pack = pack_remaining(&engine.order(id).await.unwrap());
    engine.execute(id, Command::new(warehouse(), pack)).await.unwrap();
    let package = PackageId(1);
    let book = Action::BookShipment {
        package,
        carrier: carrier.into(),
        service: "standard".into(),
        reason: orderflow::ChoiceReason::stated("test"),
    };
    engine.execute(id, Command::new(warehouse(), book)).await.unwrap();
    engine.drain_outbox().await.unwrap();
    let order = engine.order(id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Shipped, "shipped with {carrier}");
    (id, order.fulfilment().package(package).unwrap().waybill.clone().unwrap().into())
}

#[tokio::test]
async fn a_tracking_push_reaches_the_order_of_its_carriers_waybill() {
    let shop = TwoCarriers::new();
    let (with_sf, sf_waybill) = shop.shipped_with("ann", "SF").await;
    let (with_yt, yt_waybill) = shop.shipped_with("bob", "YT").await;
    assert_eq!(sf_waybill, yt_waybill, "test setup: both carriers gave the same number");
    let store = &shop.engine.adapters().store;
    assert_eq!(store.find_by_waybill("SF", &sf_waybill).await.unwrap(), Some(with_sf));
    assert_eq!(store.find_by_waybill("YT", &yt_waybill).await.unwrap(), Some(with_yt));

    // YT delivers its parcel: bob's order, not ann's, though ann's SF parcel has the number.
    let raw = shop.yt.push(&yt_waybill, TrackingKind::Delivered, shop.clock.now(), "YT-D1");
    assert_eq!(shop.engine.handle_tracking_push(&raw).await.unwrap(), 1);
    assert_eq!(shop.engine.order(with_yt).await.unwrap().status(), OrderStatus::Delivered);
    assert_eq!(shop.engine.order(with_sf).await.unwrap().status(), OrderStatus::Shipped);
    // SF's push for the same number is ann's.
    let raw = shop.sf.push(&sf_waybill, TrackingKind::InTransit, shop.clock.now(), "SF-T1");
    assert_eq!(shop.engine.handle_tracking_push(&raw).await.unwrap(), 1);
    let ann = shop.engine.order(with_sf).await.unwrap();
    assert_eq!(ann.fulfilment().packages[0].tracking.len(), 1);
    let bob = shop.engine.order(with_yt).await.unwrap();
    assert_eq!(bob.fulfilment().packages[0].tracking.len(), 1, "bob's parcel got only YT's update");
    // A third carrier's push for the number is nobody's.
    let raw = shop.zto.push(&sf_waybill, TrackingKind::InTransit, shop.clock.now(), "ZTO-T1");
    assert!(
        matches!(shop.engine.handle_tracking_push(&raw).await, Err(EngineError::UnknownWaybill(w)) if w == sf_waybill)
    );
}

#[tokio::test]
async fn recording_a_waybill_another_order_has_is_refused_and_changes_nothing() {
    let shop = Shop::new();
    let first = shop.paid_order("cal").await;
    let waybill = shop.ship_all(first).await;
    let second = shop.paid_order("dee").await;
    shop.run(second, warehouse(), Action::IssuePickList).await;
    let pack = pack_remaining(&shop.engine.order(second).await.unwrap());
    shop.run(second, warehouse(), pack).await;
    let package = PackageId(1);
    let book = Action::BookShipment {
        package,
        carrier: "SF".into(),
        service: "standard".into(),
        reason: orderflow::ChoiceReason::stated("test"),
    };
    shop.run(second, warehouse(), book).await;
    let before = (shop.engine.order(second).await.unwrap(), shop.engine.events(second).await.unwrap());
    let first_before = shop.engine.order(first).await.unwrap();

    let taken = Command::new(carrier("SF"), Action::RecordWaybill { package, waybill: waybill.clone() });
    let err = shop.engine.execute(second, taken).await.unwrap_err();
    assert_eq!(err, EngineError::WaybillTaken { carrier: "SF".into(), waybill: waybill.clone() });
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("already recorded on another order"), "{err}");
    assert_eq!((shop.engine.order(second).await.unwrap(), shop.engine.events(second).await.unwrap()), before);
    assert_eq!(shop.engine.order(first).await.unwrap(), first_before);
    assert_eq!(shop.store.find_by_waybill("SF", &waybill).await.unwrap(), Some(first));
    // Tracking still reaches the first order.
    shop.deliver(&waybill).await;
    assert_eq!(shop.engine.order(first).await.unwrap().status(), OrderStatus::Delivered);
    assert_eq!(shop.engine.order(second).await.unwrap().status(), before.0.status());
}

#[tokio::test]
async fn a_carrier_that_hands_out_a_waybill_again_leaves_the_shipment_a_dead_letter() {
    let shop = Shop::new();
    let first = shop.paid_order("eve").await;
    let waybill = shop.ship_all(first).await;
    // The carrier restarts its counter (as the HTTP example's demo carrier does on a restart).
    let forgetful = Arc::new(FakeCarrier::new("SF", b"carrier-secret"));
    let adapters = Adapters { logistics: Failing::new(forgetful), ..shop.engine.adapters().clone() };
    let settings = EngineSettings { max_delivery_attempts: 1, ..EngineSettings::default() };
    let engine = Engine::new(Workflow::default(), adapters).with_settings(settings);
    let second = shop.paid_order("fin").await;
    engine.execute(second, Command::new(warehouse(), Action::IssuePickList)).await.unwrap();
    let pack = pack_remaining(&engine.order(second).await.unwrap());
    engine.execute(second, Command::new(warehouse(), pack)).await.unwrap();
    engine.ship(&warehouse(), second, PackageId(1)).await.unwrap();
    let report = engine.drain_outbox().await.unwrap();
    assert_eq!(report.dead, 1, "{report:?}");
    let dead = engine.dead_letters(None, 10).await.unwrap().letters;
    assert_eq!(dead.len(), 1);
    assert!(dead[0].last_error.contains(&format!("waybill {waybill:?} of carrier \"SF\"")), "{}", dead[0].last_error);
    assert_eq!(shop.engine.order(second).await.unwrap().status(), OrderStatus::InFulfilment);
    assert_eq!(shop.store.find_by_waybill("SF", &waybill).await.unwrap(), Some(first));
}

#[tokio::test]
async fn one_unknown_waybill_in_a_batch_does_not_hold_back_the_others() {
    let shop = Shop::new();
    let id = shop.paid_order("cy").await;
    let waybill = shop.ship_all(id).await;
    let push = |waybill: &str, event: &str| {
        let update = FakeCarrier::update(TrackingKind::InTransit, shop.clock.now(), event);
        orderflow::ports::TrackingPush::new(shop.carrier.name(), waybill, update)
    };
    let raw = shop.carrier.push_many(&[push("SF-NOBODY-1", "E1"), push(&waybill, "E2")], shop.clock.now());
    assert_eq!(shop.engine.handle_tracking_push(&raw).await.unwrap(), 1, "the known waybill is recorded");
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.fulfilment().packages[0].tracking.len(), 1);
    // The same push again: nothing new, and still no error for the unknown one.
    assert_eq!(shop.engine.handle_tracking_push(&raw).await.unwrap(), 0);
    // A push of unknown waybills only is refused as before.
    let raw = shop.carrier.push_many(&[push("SF-NOBODY-1", "E3")], shop.clock.now());
    assert!(matches!(shop.engine.handle_tracking_push(&raw).await, Err(EngineError::UnknownWaybill(_))));
}

#[tokio::test]
async fn lost_tracking_pushes_are_recovered_by_the_poll_and_an_unreachable_carrier_is_asked_again() {
    use orderflow::order::DeadlineKind;
    let quiet = TimeDelta::hours(12);
    let config = orderflow::WorkflowConfig { poll_tracking_after: Some(quiet), ..Default::default() };
    let shop = Shop::with_workflow(Workflow::new(config), 100);
    let id = shop.paid_order("poll").await;
    let waybill = shop.ship_all(id).await;
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.deadlines().get(DeadlineKind::TrackingPoll), Some(shop.clock.now() + quiet));

    // The carrier has an update, but its push never arrives.
    shop.carrier.push(&waybill, TrackingKind::InTransit, shop.clock.now() + TimeDelta::hours(1), "P1");
    shop.clock.advance(quiet);
    shop.faults.carrier.fail_next(1);
    let report = shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert_eq!(report.failed, 1, "an unreachable carrier leaves the poll due");
    assert!(shop.engine.order(id).await.unwrap().fulfilment().packages[0].tracking.is_empty());

    shop.engine.run_due(shop.clock.now()).await.unwrap();
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.fulfilment().packages[0].tracking.len(), 1);
    assert_eq!(order.deadlines().get(DeadlineKind::TrackingPoll), Some(shop.clock.now() + quiet));

    // Delivered: nothing in flight, no more polls.
    shop.clock.advance(TimeDelta::hours(1));
    shop.deliver(&waybill).await;
    assert_eq!(shop.engine.order(id).await.unwrap().deadlines().get(DeadlineKind::TrackingPoll), None);
}
