//! Tracking through the engine against the loopback emulator, over `ReqwestTransport`: a
//! recorded waybill is subscribed from the outbox, full-history pushes are recorded once, a
//! parcel with no push is polled, and the documented answer codes.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use orderflow::adapters::WithTracking;
use orderflow::adapters::http::ReqwestTransport;
use orderflow::adapters::kuaidi100::Kuaidi100;
use orderflow::engine::{Adapters, Engine, EngineError};
use orderflow::order::{DeadlineKind, TrackingKind};
use orderflow::ports::{Logistics, LogisticsError, ShipmentRequest};
use orderflow::testing::shop::{SKUS, sku};
use orderflow::testing::{
    FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, pack_remaining, sample_form, t0, warehouse,
};
use orderflow::{Action, Command, MemoryInventory, MemoryStore, OrderId, OrderStatus, Workflow, WorkflowConfig};

use super::emulator::Emulator;
use super::{beijing, config};
use crate::loopback::Serve;

type Tracker = Kuaidi100<ReqwestTransport>;
type KdEngine = Engine<
    Adapters<
        Arc<MemoryStore>,
        Arc<FakeGateway>,
        WithTracking<Arc<FakeCarrier>, Arc<Tracker>>,
        Arc<MemoryInventory>,
        Arc<RecordingNotifier>,
        Arc<FixedClock>,
    >,
>;

struct World {
    engine: KdEngine,
    tracker: Arc<Tracker>,
    gateway: Arc<FakeGateway>,
    emulator: Arc<Emulator>,
    clock: Arc<FixedClock>,
}

async fn world(config_of_workflow: WorkflowConfig) -> World {
    let clock = Arc::new(FixedClock::new(t0()));
    let emulator = Arc::new(Emulator::default());
    let base_url = emulator.serve().await;
    let transport = ReqwestTransport::new(Duration::from_secs(10)).unwrap();
    let tracker = Arc::new(Kuaidi100::new(config().with_base_url(base_url), transport));
    let inventory = Arc::new(MemoryInventory::new());
    for s in SKUS {
        inventory.set_stock(&sku(s), 100);
    }
    let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
    let adapters = Adapters {
        store: Arc::new(MemoryStore::new()),
        payments: gateway.clone(),
        // SF books the parcel; Kuaidi100 tracks it.
        logistics: WithTracking::new(Arc::new(FakeCarrier::new("SF", b"carrier-secret")), tracker.clone()),
        inventory,
        notifier: Arc::new(RecordingNotifier::new()),
        clock: clock.clone(),
    };
    World { engine: Engine::new(Workflow::new(config_of_workflow), adapters), tracker, gateway, emulator, clock }
}

impl World {
    /// Placed, paid, packed and booked with SF; the outbox drained: the waybill is recorded
    /// and its subscription delivered. Returns the order and its waybill.
    async fn shipped(&self) -> (OrderId, String) {
        let id = self.engine.place(&buyer("kd"), &sample_form("kd"), None).await.unwrap().order.id();
        let order = self.engine.order(id).await.unwrap();
        let raw = self.gateway.notify_paid(&order.number(), order.payment().outstanding().unwrap(), self.clock.now());
        self.engine.handle_payment_notification(&raw).await.unwrap();
        self.engine.execute(id, Command::new(warehouse(), Action::IssuePickList)).await.unwrap();
        let order = self.engine.order(id).await.unwrap();
        let packed = self.engine.execute(id, Command::new(warehouse(), pack_remaining(&order))).await.unwrap();
        let package = packed.order.fulfilment().packages.last().unwrap().id;
        self.engine.ship(&warehouse(), id, package).await.unwrap();
        self.engine.drain_outbox().await.unwrap();
        let order = self.engine.order(id).await.unwrap();
        let waybill = order.fulfilment().package(package).unwrap().waybill.clone().unwrap();
        (id, waybill.to_string())
    }

    fn at(&self, minutes: i64) -> String {
        beijing(self.clock.now() + TimeDelta::minutes(minutes))
    }

    async fn tracking(&self, id: OrderId) -> Vec<TrackingKind> {
        let order = self.engine.order(id).await.unwrap();
        order.fulfilment().packages[0].tracking.iter().map(|t| t.kind).collect()
    }
}

#[tokio::test]
async fn a_recorded_waybill_is_subscribed_and_its_pushes_are_recorded_once() {
    let w = world(WorkflowConfig::default()).await;
    let (id, waybill) = w.shipped().await;

    // Subscribed from the outbox, with the shop's callback and salt, SF as "shunfeng".
    let subscription = w.emulator.subscriptions().remove(&waybill).expect("subscribed");
    assert_eq!(subscription.company, "shunfeng");
    assert_eq!(subscription.callback_url, super::CALLBACK_URL);
    assert_eq!(subscription.salt, super::SALT);
    assert_eq!(subscription.resultv2, "4");

    w.emulator.track(&waybill, "103", "已揽收", &w.at(10), "顺丰速运 已收取快件");
    w.emulator.track(&waybill, "1002", "干线", &w.at(120), "快件在【广州中转场】完成分拣");
    assert_eq!(w.engine.handle_tracking_push(&w.emulator.push(&waybill)).await.unwrap(), 2);
    assert_eq!(w.tracking(id).await, [TrackingKind::PickedUp, TrackingKind::InTransit]);

    // The same full history again: nothing new, nothing stored.
    let version = w.engine.order(id).await.unwrap().version();
    assert_eq!(w.engine.handle_tracking_push(&w.emulator.push(&waybill)).await.unwrap(), 0);
    assert_eq!(w.engine.order(id).await.unwrap().version(), version);
    assert_eq!(w.tracker.reply(true).body, r#"{"result":true,"returnCode":"200","message":"成功"}"#);

    // A forged push changes nothing.
    let forged = super::emulator::signed_push(r#"{"lastResult":{"nu":"x","data":[]}}"#, "not-the-salt");
    assert!(matches!(
        w.engine.handle_tracking_push(&forged).await,
        Err(EngineError::Logistics(LogisticsError::InvalidSignature))
    ));
    assert_eq!(w.engine.order(id).await.unwrap().version(), version);

    // A carrier correction is carried, the waybill still found under its recorded carrier.
    w.emulator.track(&waybill, "501", "投柜或驿站", &w.at(300), "快件已存放至【丰巢柜】");
    w.emulator.track(&waybill, "304", "投柜或站签收", &w.at(400), "已从丰巢柜取出签收");
    let corrected = w.emulator.push_with(&waybill, |p| {
        p["autoCheck"] = "1".into();
        p["comNew"] = "shunfengkuaiyun".into();
    });
    assert_eq!(w.engine.handle_tracking_push(&corrected).await.unwrap(), 2);
    let order = w.engine.order(id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Delivered);
    assert_eq!(order.fulfilment().packages[0].tracking.len(), 4);
}

#[tokio::test]
async fn a_parcel_with_no_push_is_polled_after_the_configured_time() {
    let quiet = TimeDelta::hours(6);
    let w = world(WorkflowConfig { poll_tracking_after: Some(quiet), ..WorkflowConfig::default() }).await;
    let (id, waybill) = w.shipped().await;
    let shipped_at = w.clock.now();
    let order = w.engine.order(id).await.unwrap();
    assert_eq!(order.deadlines().get(DeadlineKind::TrackingPoll), Some(shipped_at + quiet));

    // Pushes are lost; the history is at Kuaidi100 only.
    w.emulator.track(&waybill, "1", "揽收", &w.at(30), "顺丰速运 已收取快件");
    w.emulator.track(&waybill, "0", "在途", &w.at(90), "快件在途中");
    w.clock.advance(quiet - TimeDelta::minutes(1));
    w.engine.run_due(w.clock.now()).await.unwrap();
    assert!(w.tracking(id).await.is_empty(), "not polled before its time");

    w.clock.advance(TimeDelta::minutes(2));
    w.engine.run_due(w.clock.now()).await.unwrap();
    assert!(w.emulator.calls().iter().any(|c| c == "/poll/query.do"));
    assert_eq!(w.tracking(id).await, [TrackingKind::PickedUp, TrackingKind::InTransit]);
    // Polled again later while the parcel is in flight.
    let order = w.engine.order(id).await.unwrap();
    assert_eq!(order.deadlines().get(DeadlineKind::TrackingPoll), Some(w.clock.now() + quiet));

    // A push moves the poll on; delivery ends it.
    w.clock.advance(TimeDelta::hours(1));
    w.emulator.track(&waybill, "3", "签收", &w.at(0), "已签收");
    assert_eq!(w.engine.handle_tracking_push(&w.emulator.push(&waybill)).await.unwrap(), 1);
    let order = w.engine.order(id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Delivered);
    assert_eq!(order.deadlines().get(DeadlineKind::TrackingPoll), None);
}

#[tokio::test]
async fn answer_codes_are_success_retryable_or_rejected() {
    let w = world(WorkflowConfig::default()).await;
    let kd = &w.tracker;

    assert_eq!(kd.subscribe_tracking("SF", "SF100").await, Ok(()));
    // Subscribing again is answered 501, "already subscribed": success.
    assert_eq!(kd.subscribe_tracking("SF", "SF100").await, Ok(()));
    for (code, retryable) in [("500", true), ("502", true), ("600", false), ("601", false), ("700", false)] {
        w.emulator.fail_next(code);
        match kd.subscribe_tracking("SF", "SF101").await {
            Err(LogisticsError::Unavailable(_)) if retryable => {}
            Err(LogisticsError::Rejected(_)) if !retryable => {}
            other => panic!("{code}: {other:?}"),
        }
    }

    // No history yet is an empty one; a history comes back oldest first.
    assert_eq!(kd.query_tracking("SF", "SF100").await, Ok(Vec::new()));
    w.emulator.track("SF100", "103", "已揽收", &w.at(0), "已收取快件");
    w.emulator.track("SF100", "5", "派件", &w.at(60), "派送中");
    let history = kd.query_tracking("SF", "SF100").await.unwrap();
    assert_eq!(
        history.iter().map(|u| u.kind).collect::<Vec<_>>(),
        [TrackingKind::PickedUp, TrackingKind::OutForDelivery]
    );
    for (code, retryable) in [("501", true), ("502", true), ("503", false), ("601", false), ("408", false)] {
        w.emulator.fail_next(code);
        match kd.query_tracking("SF", "SF100").await {
            Err(LogisticsError::Unavailable(_)) if retryable => {}
            Err(LogisticsError::Rejected(_)) if !retryable => {}
            other => panic!("{code}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn kuaidi100_books_nothing_and_with_tracking_books_through_the_carrier() {
    let w = world(WorkflowConfig::default()).await;
    let (id, _) = w.shipped().await;
    let order = w.engine.order(id).await.unwrap();
    let request = ShipmentRequest {
        key: "k".into(),
        order_number: order.number(),
        package: order.fulfilment().packages[0].id,
        carrier: "SF".into(),
        service: "standard".into(),
        items: Vec::new(),
        address: order.shipping_address().clone(),
    };
    let refused = w.tracker.create_shipment(&request).await;
    assert!(matches!(refused, Err(LogisticsError::NotSupported(_))));
    assert_eq!(refused.unwrap_err().code(), "carrier_not_supported");
    let parcel = orderflow::ports::Parcel { items: Vec::new(), weight_grams: 500 };
    assert!(matches!(w.tracker.quote(&parcel, order.shipping_address()).await, Err(LogisticsError::NotSupported(_))));
    // The shop's engine booked with SF through the pair (the waybill above came from it).
    assert!(order.fulfilment().packages[0].waybill.is_some());
}
