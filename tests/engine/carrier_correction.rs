//! A tracking service's correction of a parcel's carrier (Kuaidi100's `comNew`): recorded on
//! the order once, indexed, and asked by later polls and subscriptions.

use std::sync::{Arc, Mutex};

use crate::engine_callbacks::shipped_with;
use chrono::{DateTime, TimeDelta, Utc};
use orderflow::Address;
use orderflow::engine::{Adapters, Engine};
use orderflow::order::{DeadlineKind, TrackingKind, TrackingUpdate};
use orderflow::ports::{
    Logistics, LogisticsError, OrderRepository, Parcel, Quote, RawMessage, Shipment, ShipmentRequest, TrackingPush,
};
use orderflow::testing::{FakeCarrier, FakeGateway, FixedClock, MultiCarrier, RecordingNotifier, t0};
use orderflow::{MemoryInventory, MemoryStore, OrderId, Workflow, WorkflowConfig, buyer_timeline, staff_view};

/// An aggregator in front of the carriers: once told, it says every waybill it verifies a
/// push for really belongs to `correction`, and it remembers what it was asked.
struct Aggregator {
    carriers: MultiCarrier,
    correction: Mutex<Option<String>>,
    queried: Mutex<Vec<(String, String)>>,
    subscribed: Mutex<Vec<(String, String)>>,
}

impl Aggregator {
    fn asked(list: &Mutex<Vec<(String, String)>>) -> Vec<(String, String)> {
        list.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Logistics for Aggregator {
    async fn quote(&self, parcel: &Parcel, to: &Address) -> Result<Vec<Quote>, LogisticsError> {
        self.carriers.quote(parcel, to).await
    }

    async fn create_shipment(&self, request: &ShipmentRequest) -> Result<Shipment, LogisticsError> {
        self.carriers.create_shipment(request).await
    }

    async fn verify_tracking_push(
        &self,
        raw: &RawMessage,
        now: DateTime<Utc>,
    ) -> Result<Vec<TrackingPush>, LogisticsError> {
        let correction = self.correction.lock().unwrap().clone();
        let mut pushes = self.carriers.verify_tracking_push(raw, now).await?;
        for push in &mut pushes {
            push.corrected_carrier = correction.clone();
        }
        Ok(pushes)
    }

    async fn query_tracking(&self, carrier: &str, waybill: &str) -> Result<Vec<TrackingUpdate>, LogisticsError> {
        self.queried.lock().unwrap().push((carrier.into(), waybill.into()));
        self.carriers.query_tracking(carrier, waybill).await
    }

    async fn subscribe_tracking(&self, carrier: &str, waybill: &str) -> Result<(), LogisticsError> {
        self.subscribed.lock().unwrap().push((carrier.into(), waybill.into()));
        self.carriers.subscribe_tracking(carrier, waybill).await
    }
}

type Ports = Adapters<
    Arc<MemoryStore>,
    Arc<FakeGateway>,
    Arc<Aggregator>,
    Arc<MemoryInventory>,
    Arc<RecordingNotifier>,
    Arc<FixedClock>,
>;

const QUIET: TimeDelta = TimeDelta::hours(12);

struct Shop {
    engine: Engine<Ports>,
    gateway: Arc<FakeGateway>,
    sf: Arc<FakeCarrier>,
    zto: Arc<FakeCarrier>,
    aggregator: Arc<Aggregator>,
    store: Arc<MemoryStore>,
    clock: Arc<FixedClock>,
}

impl Shop {
    fn new() -> Shop {
        let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
        let sf = Arc::new(FakeCarrier::new("SF", b"sf-secret").with_waybill_prefix("WB"));
        let zto = Arc::new(FakeCarrier::new("ZTO", b"zto-secret").with_waybill_prefix("WB"));
        let aggregator = Arc::new(Aggregator {
            carriers: MultiCarrier::new().with_fake(sf.clone()).with_fake(zto.clone()),
            correction: Mutex::new(None),
            queried: Mutex::new(Vec::new()),
            subscribed: Mutex::new(Vec::new()),
        });
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(FixedClock::new(t0()));
        let adapters = Adapters {
            store: store.clone(),
            payments: gateway.clone(),
            logistics: aggregator.clone(),
            inventory: crate::common::stocked_inventory(),
            notifier: Arc::new(RecordingNotifier::new()),
            clock: clock.clone(),
        };
        let workflow = Workflow::new(WorkflowConfig { poll_tracking_after: Some(QUIET), ..Default::default() });
        Shop { engine: Engine::new(workflow, adapters), gateway, sf, zto, aggregator, store, clock }
    }

    /// A paid order shipped with SF: its id and waybill.
    async fn shipped_with_sf(&self) -> (OrderId, String) {
        shipped_with(&self.engine, &self.gateway, self.clock.now(), "kai", "SF").await
    }

    async fn corrections(&self, id: OrderId) -> usize {
        let events = self.engine.events(id).await.unwrap();
        events.iter().filter(|e| e.change.name() == "carrier_corrected").count()
    }
}

#[tokio::test]
async fn a_pushed_carrier_correction_is_recorded_once_and_later_polls_ask_the_corrected_carrier() {
    let shop = Shop::new();
    let (id, waybill) = shop.shipped_with_sf().await;
    assert_eq!(Aggregator::asked(&shop.aggregator.subscribed), vec![("SF".to_owned(), waybill.clone())]);

    // The aggregator finds the waybill is ZTO's, and says so in its push.
    *shop.aggregator.correction.lock().unwrap() = Some("ZTO".into());
    let raw = shop.sf.push(&waybill, TrackingKind::InTransit, shop.clock.now(), "T1");
    assert_eq!(shop.engine.handle_tracking_push(&raw).await.unwrap(), 1);
    let order = shop.engine.order(id).await.unwrap();
    assert_eq!(order.fulfilment().packages[0].carrier.as_deref(), Some("ZTO"));
    assert_eq!(order.fulfilment().packages[0].tracking.len(), 1);
    assert_eq!(shop.corrections(id).await, 1);
    // The stores index the parcel under its corrected carrier.
    assert_eq!(shop.store.find_by_waybill("ZTO", &waybill).await.unwrap(), Some(id));
    assert_eq!(shop.store.find_by_waybill("SF", &waybill).await.unwrap(), None);
    // The waybill is subscribed again, under the corrected carrier.
    shop.engine.drain_outbox().await.unwrap();
    assert_eq!(
        Aggregator::asked(&shop.aggregator.subscribed),
        vec![("SF".to_owned(), waybill.clone()), ("ZTO".to_owned(), waybill.clone())]
    );

    // The same push again changes nothing; a new one under the old code still reaches the
    // order, and the correction is not recorded twice.
    let events = shop.engine.events(id).await.unwrap();
    assert_eq!(shop.engine.handle_tracking_push(&raw).await.unwrap(), 0);
    assert_eq!(shop.engine.events(id).await.unwrap(), events);
    shop.clock.advance(TimeDelta::hours(1));
    let raw = shop.sf.push(&waybill, TrackingKind::InTransit, shop.clock.now(), "T2");
    assert_eq!(shop.engine.handle_tracking_push(&raw).await.unwrap(), 1);
    assert_eq!(shop.corrections(id).await, 1);

    // Staff see the correction; the buyer does not.
    let events = shop.engine.events(id).await.unwrap();
    assert_eq!(staff_view(&events).iter().filter(|e| e.message.kind() == "carrier_corrected").count(), 1);
    assert!(buyer_timeline(&events).iter().all(|e| e.message.kind() != "carrier_corrected"));

    // Only ZTO knows the next update, and its push is lost: the poll asks ZTO and finds it.
    shop.clock.advance(TimeDelta::hours(1));
    shop.zto.push(&waybill, TrackingKind::OutForDelivery, shop.clock.now(), "Z1");
    let due = shop.engine.order(id).await.unwrap().deadlines().get(DeadlineKind::TrackingPoll).unwrap();
    shop.clock.set(due);
    shop.engine.run_due(shop.clock.now()).await.unwrap();
    assert_eq!(Aggregator::asked(&shop.aggregator.queried), vec![("ZTO".to_owned(), waybill.clone())]);
    let order = shop.engine.order(id).await.unwrap();
    assert!(order.fulfilment().packages[0].tracking.iter().any(|t| t.kind == TrackingKind::OutForDelivery));
}

#[tokio::test]
async fn a_correction_naming_the_booked_carrier_records_nothing() {
    let shop = Shop::new();
    let (id, waybill) = shop.shipped_with_sf().await;
    *shop.aggregator.correction.lock().unwrap() = Some("SF".into());
    let raw = shop.sf.push(&waybill, TrackingKind::InTransit, shop.clock.now(), "T1");
    assert_eq!(shop.engine.handle_tracking_push(&raw).await.unwrap(), 1);
    assert_eq!(shop.corrections(id).await, 0);
    assert_eq!(shop.engine.order(id).await.unwrap().fulfilment().packages[0].carrier.as_deref(), Some("SF"));
}
