//! Adapters chosen at runtime: every port behind `Arc<dyn Dyn*>` drives the engine.

use std::sync::Arc;

use orderflow::engine::{Adapters, Engine};
use orderflow::order::TrackingKind;
use orderflow::ports::{Clock, DynInventory, DynLogistics, DynNotifier, DynOrderStore, DynPaymentGateway, OrderStore};
use orderflow::testing::{
    FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, pack_remaining, sample_form, t0, warehouse,
};
use orderflow::{Action, Command, MemoryInventory, MemoryStore, OrderStatus, PackageId, Sku, Workflow};

#[tokio::test]
async fn the_engine_runs_on_boxed_adapters_chosen_at_runtime() {
    let gateway = Arc::new(FakeGateway::new("alipay", b"secret"));
    let notifier = Arc::new(RecordingNotifier::new());
    let inventory = Arc::new(MemoryInventory::new());
    for sku in ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"] {
        inventory.set_stock(&Sku::new(sku).unwrap(), 5);
    }
    let store: Arc<dyn DynOrderStore> = Arc::new(MemoryStore::new());
    let payments: Arc<dyn DynPaymentGateway> = gateway.clone();
    let carrier = Arc::new(FakeCarrier::new("SF", b"carrier"));
    let logistics: Arc<dyn DynLogistics> = carrier.clone();
    let stock: Arc<dyn DynInventory> = inventory.clone();
    let messages: Arc<dyn DynNotifier> = notifier.clone();
    let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(t0()));
    let engine = Engine::new(
        Workflow::default(),
        Adapters { store, payments, logistics, inventory: stock, notifier: messages, clock },
    );

    // Boxed ports stay `Send` futures: the engine runs inside a spawned task, as a web server's
    // handlers and background workers do.
    let engine = Arc::new(engine);
    let placing = tokio::spawn({
        let engine = engine.clone();
        async move { engine.place(&buyer("ann"), &sample_form("ann"), None).await }
    });
    let placed = placing.await.unwrap().unwrap();
    let raw = gateway.notify_paid(&placed.order.number, placed.order.totals.total, t0());
    engine.handle_payment_notification(&raw).await.unwrap();
    engine.drain_outbox().await.unwrap();
    assert_eq!(engine.order(placed.order.id).await.unwrap().status(), OrderStatus::ReadyToShip);
    assert_eq!(inventory.stock(&Sku::new("TEA-OOLONG").unwrap()), (5, 2));
    assert_eq!(notifier.kinds(), vec!["placed", "paid"]);

    // Shipped and tracked: the waybill is found through the boxed store, by carrier.
    let id = placed.order.id;
    engine.execute(id, Command::new(warehouse(), Action::IssuePickList)).await.unwrap();
    let pack = pack_remaining(&engine.order(id).await.unwrap());
    engine.execute(id, Command::new(warehouse(), pack)).await.unwrap();
    engine.ship(&warehouse(), id, PackageId(1)).await.unwrap();
    engine.drain_outbox().await.unwrap();
    let order = engine.order(id).await.unwrap();
    let waybill = order.fulfillment.packages[0].waybill.clone().unwrap();
    assert_eq!(engine.adapters().store.find_by_waybill("SF", &waybill).await.unwrap(), Some(id));
    let raw = carrier.push(&waybill, TrackingKind::Delivered, t0(), "D1");
    assert_eq!(engine.handle_tracking_push(&raw).await.unwrap(), 1);
    assert_eq!(engine.order(id).await.unwrap().status(), OrderStatus::Delivered);
}
