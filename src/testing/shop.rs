//! A whole test shop: the engine on the memory store with a payment gateway `G` and logistics
//! `L` (the scripted fakes by default; [`EmulatedShop`] runs the real Alipay and Kuaidi100
//! adapters over their emulators), every adapter kept as an `Arc` so tests and examples can
//! script it and look inside, and each behind a [`Failing`] wrapper whose switch is in
//! [`Shop::faults`]. Its helpers panic when a step fails: they are for tests and
//! demonstrations.

use std::sync::Arc;

use crate::engine::{Adapters, Engine, Outcome};
use crate::order::TrackingKind;
use crate::ports::{Logistics, PaymentGateway};
use crate::testing::{
    CarrierReport, Failing, FailureSwitch, FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, TestPayments,
    TestTracking, buyer, pack_remaining, sample_form, t0, warehouse,
};
use crate::{Action, Actor, Command, MemoryInventory, MemoryStore, OrderId, PackageId, PlaceOrderForm, Sku, Workflow};

/// The engine type of a [`Shop`] paying through `G` and shipping through `L`.
pub type ShopEngine<G = FakeGateway, L = FakeCarrier> = Engine<
    Adapters<
        Failing<Arc<MemoryStore>>,
        Failing<Arc<G>>,
        Failing<Arc<L>>,
        Failing<Arc<MemoryInventory>>,
        Failing<Arc<RecordingNotifier>>,
        Arc<FixedClock>,
    >,
>;

/// A [`Shop`] on the providers' real formats: the Alipay adapter and the Kuaidi100 adapter
/// (parcels booked with the fake carrier `SF`), each over its in-process emulator.
#[cfg(all(feature = "alipay", feature = "kuaidi100"))]
pub type EmulatedShop = Shop<crate::testing::emulators::EmulatedAlipay, crate::testing::emulators::EmulatedKuaidi100>;

/// The engine with every adapter at hand.
#[derive(Debug)]
pub struct Shop<G: PaymentGateway + 'static = FakeGateway, L: Logistics + 'static = FakeCarrier> {
    /// The engine.
    pub engine: ShopEngine<G, L>,
    /// The store.
    pub store: Arc<MemoryStore>,
    /// The gateway.
    pub gateway: Arc<G>,
    /// The carrier (or the carrier and the tracking service).
    pub carrier: Arc<L>,
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

    /// A shop with `workflow` and `stock` units of every sample SKU, on the fakes.
    pub fn with_workflow(workflow: Workflow, stock: u32) -> Shop {
        let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
        let carrier = Arc::new(FakeCarrier::new("SF", b"carrier-secret"));
        Shop::with_providers(workflow, stock, Arc::new(FixedClock::new(t0())), gateway, carrier)
    }
}

#[cfg(all(feature = "alipay", feature = "kuaidi100"))]
impl EmulatedShop {
    /// A shop with `workflow` and `stock` units of every sample SKU, paying through Alipay's
    /// emulator and tracking through Kuaidi100's, on the shop's clock.
    pub fn emulated(workflow: Workflow, stock: u32) -> EmulatedShop {
        use crate::testing::emulators::{alipay, kuaidi100};
        let clock = Arc::new(FixedClock::new(t0()));
        let gateway = alipay::gateway(Arc::new(alipay::Emulator::new(clock.clone())));
        let booking = Arc::new(FakeCarrier::new("SF", b"carrier-secret"));
        let carrier = kuaidi100::tracking(booking, Arc::new(kuaidi100::Emulator::default()));
        Shop::with_providers(workflow, stock, clock, Arc::new(gateway), Arc::new(carrier))
    }

    /// The Alipay emulator (its trades and refunds).
    pub fn alipay(&self) -> &crate::testing::emulators::alipay::Emulator {
        self.gateway.transport().emulator()
    }

    /// The Kuaidi100 emulator (its subscriptions and calls).
    pub fn kuaidi100(&self) -> &crate::testing::emulators::kuaidi100::Emulator {
        self.carrier.tracking().transport().emulator()
    }
}

impl<G: TestPayments + 'static, L: TestTracking + 'static> Shop<G, L> {
    /// A shop with `workflow`, `stock` units of every sample SKU, `gateway` and `carrier`, on
    /// `clock`.
    pub fn with_providers(
        workflow: Workflow,
        stock: u32,
        clock: Arc<FixedClock>,
        gateway: Arc<G>,
        carrier: Arc<L>,
    ) -> Shop<G, L> {
        let store = Arc::new(MemoryStore::new());
        let inventory = Arc::new(MemoryInventory::new());
        for s in SKUS {
            inventory.set_stock(&sku(s), stock);
        }
        let notifier = Arc::new(RecordingNotifier::new());
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

    /// The buyer pays the outstanding amount (starting the payment first when the provider
    /// has none to pay); the provider's signed notification, handled.
    pub async fn pay(&self, id: OrderId) {
        let order = self.engine.order(id).await.unwrap();
        let amount = order.payment.outstanding().unwrap();
        let raw = match self.gateway.buyer_pays(&order.number, amount, self.clock.now()) {
            Some(raw) => raw,
            None => {
                self.engine.start_payment(&Actor::buyer(order.customer().clone()), id).await.unwrap();
                self.gateway.buyer_pays(&order.number, amount, self.clock.now()).unwrap()
            }
        };
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
        let now = self.clock.now();
        let report = CarrierReport { waybill, kind: TrackingKind::Delivered, at: now, words: "delivered" };
        let raw = self.carrier.carrier_reports(report, now).unwrap();
        self.engine.handle_tracking_push(&raw).await.unwrap();
    }

    /// Placed, paid and (auto-)approved.
    pub async fn paid_order(&self, customer: &str) -> OrderId {
        let id = self.place(customer).await.order.id;
        self.pay(id).await;
        id
    }
}

#[cfg(all(test, feature = "alipay", feature = "kuaidi100"))]
mod tests {
    use super::{CarrierReport, EmulatedShop, TestTracking};
    use crate::order::TrackingKind;
    use crate::testing::{buyer, t0};
    use crate::{Action, OrderStatus, Workflow};

    /// The shop's helpers run the whole story on the real formats: the payment opened at the
    /// Alipay emulator and paid there, the waybill subscribed at Kuaidi100 and pushed to.
    #[tokio::test]
    async fn an_emulated_shop_pays_ships_and_delivers_through_the_emulators() {
        let shop = EmulatedShop::emulated(Workflow::default(), 10);
        let id = shop.paid_order("alice").await;
        let order = shop.engine.order(id).await.unwrap();
        let trade = shop.alipay().trade(&order.number.provider_reference()).unwrap();
        assert_eq!((trade.status, trade.total), ("TRADE_SUCCESS", order.totals.total.minor));
        assert_eq!(order.payment.captures.first().map(|c| c.txn_id.as_str()), Some(trade.trade_no.as_str()));

        let report = CarrierReport { waybill: "SF-UNKNOWN", kind: TrackingKind::PickedUp, at: t0(), words: "x" };
        let not_shipped = shop.carrier.carrier_reports(report, t0());
        assert!(not_shipped.is_none(), "Kuaidi100 pushes only subscribed waybills");
        let waybill = shop.ship_all(id).await;
        assert_eq!(shop.kuaidi100().subscriptions().get(&waybill).map(|s| s.company.as_str()), Some("shunfeng"));
        shop.deliver(&waybill).await;
        shop.run(id, buyer("alice"), Action::ConfirmReceipt).await;
        assert_eq!(shop.engine.order(id).await.unwrap().status(), OrderStatus::Completed);
    }
}
