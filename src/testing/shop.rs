//! A whole test shop: the engine on the memory store with the fakes, every adapter kept as an
//! `Arc` so tests and examples can script it and look inside, and each behind a [`Failing`]
//! wrapper whose switch is in [`Shop::faults`]. Its helpers panic when a step fails: they are
//! for tests and demonstrations.

use std::sync::Arc;

use crate::engine::{Adapters, Engine, Outcome};
use crate::order::TrackingKind;
use crate::testing::{
    Failing, FailureSwitch, FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, pack_remaining,
    sample_form, t0, warehouse,
};
use crate::{Action, Actor, Command, MemoryInventory, MemoryStore, OrderId, PackageId, PlaceOrderForm, Sku, Workflow};

/// The engine type of a [`Shop`].
pub type ShopEngine = Engine<
    Adapters<
        Failing<Arc<MemoryStore>>,
        Failing<Arc<FakeGateway>>,
        Failing<Arc<FakeCarrier>>,
        Failing<Arc<MemoryInventory>>,
        Failing<Arc<RecordingNotifier>>,
        Arc<FixedClock>,
    >,
>;

/// The engine with every adapter at hand.
#[derive(Debug)]
pub struct Shop {
    /// The engine.
    pub engine: ShopEngine,
    /// The store.
    pub store: Arc<MemoryStore>,
    /// The gateway.
    pub gateway: Arc<FakeGateway>,
    /// The carrier.
    pub carrier: Arc<FakeCarrier>,
    /// The inventory.
    pub inventory: Arc<MemoryInventory>,
    /// The notifier.
    pub notifier: Arc<RecordingNotifier>,
    /// The clock.
    pub clock: Arc<FixedClock>,
    /// The switches that make the adapters fail.
    pub faults: Faults,
}

/// One [`FailureSwitch`] per adapter of a [`Shop`].
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The store's.
    pub store: FailureSwitch,
    /// The gateway's.
    pub gateway: FailureSwitch,
    /// The carrier's.
    pub carrier: FailureSwitch,
    /// The inventory's.
    pub inventory: FailureSwitch,
    /// The notifier's.
    pub notifier: FailureSwitch,
}

/// The SKUs of [`sample_form`], stocked by [`Shop::new`].
pub const SKUS: [&str; 3] = ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"];

/// A SKU from a literal.
pub fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

impl Shop {
    /// Default workflow, 100 units of every sample SKU.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Shop {
        Shop::with_workflow(Workflow::default(), 100)
    }

    /// A shop with `workflow` and `stock` units of every sample SKU.
    pub fn with_workflow(workflow: Workflow, stock: u32) -> Shop {
        let store = Arc::new(MemoryStore::new());
        let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
        let carrier = Arc::new(FakeCarrier::new("SF", b"carrier-secret"));
        let inventory = Arc::new(MemoryInventory::new());
        for s in SKUS {
            inventory.set_stock(&sku(s), stock);
        }
        let notifier = Arc::new(RecordingNotifier::new());
        let clock = Arc::new(FixedClock::new(t0()));
        let faults = Faults::default();
        let adapters = Adapters {
            store: Failing::with_switch(store.clone(), faults.store.clone()),
            payments: Failing::with_switch(gateway.clone(), faults.gateway.clone()),
            logistics: Failing::with_switch(carrier.clone(), faults.carrier.clone()),
            inventory: Failing::with_switch(inventory.clone(), faults.inventory.clone()),
            notifier: Failing::with_switch(notifier.clone(), faults.notifier.clone()),
            clock: clock.clone(),
        };
        Shop { engine: Engine::new(workflow, adapters), store, gateway, carrier, inventory, notifier, clock, faults }
    }

    /// Simulates a crash: the engine is dropped and a new one is built on the same adapters
    /// (the store, the provider, the carrier... survive; nothing in the engine does).
    pub fn restart(&mut self, workflow: Workflow) {
        let adapters = self.engine.adapters().clone();
        self.engine = Engine::new(workflow, adapters);
    }

    /// Places [`sample_form`] for `customer`.
    pub async fn place(&self, customer: &str) -> Outcome {
        self.place_form(customer, sample_form(customer)).await
    }

    /// Places `form` as its buyer.
    pub async fn place_form(&self, customer: &str, form: PlaceOrderForm) -> Outcome {
        self.engine.place(&buyer(customer), &form, None).await.unwrap()
    }

    /// The provider's signed notification for the outstanding amount, handled.
    pub async fn pay(&self, id: OrderId) {
        let order = self.engine.order(id).await.unwrap();
        let raw = self.gateway.notify_paid(&order.number, order.payment.outstanding().unwrap(), self.clock.now());
        self.engine.handle_payment_notification(&raw).await.unwrap();
    }

    /// Runs a command; panics when refused.
    pub async fn run(&self, id: OrderId, actor: Actor, action: Action) -> Outcome {
        self.engine.execute(id, Command::new(actor, action)).await.unwrap()
    }

    /// Pick list, pack everything in one parcel, book it with the selector, create the shipment.
    pub async fn ship_all(&self, id: OrderId) -> String {
        self.run(id, warehouse(), Action::IssuePickList).await;
        let order = self.engine.order(id).await.unwrap();
        let pack = pack_remaining(&order);
        let packed = self.run(id, warehouse(), pack).await;
        let package = packed.order.fulfilment.packages.last().unwrap().id;
        self.engine.ship(&warehouse(), id, package).await.unwrap();
        self.engine.drain_outbox().await.unwrap();
        self.waybill(id, package).await
    }

    /// The waybill of a shipped parcel.
    pub async fn waybill(&self, id: OrderId, package: PackageId) -> String {
        let order = self.engine.order(id).await.unwrap();
        order.fulfilment.package(package).unwrap().waybill.clone().unwrap().into()
    }

    /// The carrier's signed Delivered push for `waybill`, handled.
    pub async fn deliver(&self, waybill: &str) {
        let raw = self.carrier.push(waybill, TrackingKind::Delivered, self.clock.now(), &format!("D-{waybill}"));
        self.engine.handle_tracking_push(&raw).await.unwrap();
    }

    /// Placed, paid and (auto-)approved.
    pub async fn paid_order(&self, customer: &str) -> OrderId {
        let id = self.place(customer).await.order.id;
        self.pay(id).await;
        id
    }
}
