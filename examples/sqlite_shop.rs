//! The quickstart on a SQLite database file: one online-paid order through all eight stages,
//! stored durably by `SqliteStore` (the payment provider and carrier are the signed fakes,
//! stock is in memory). Run it twice: the second run first lists the orders the earlier runs
//! left in the file.
//!
//! `cargo run --example sqlite_shop --features sqlite [-- path/to/shop.sqlite]`
//! (default file: `orderflow-shop.sqlite` in the current folder)

use std::sync::Arc;

use chrono::TimeDelta;
use orderflow::adapters::sqlite::SqliteStore;
use orderflow::engine::{Adapters, Engine};
use orderflow::order::{PackageItem, ScannedItem, TrackingKind};
use orderflow::ports::PaymentSession;
use orderflow::ports::{OrderFilter, OrderStore};
use orderflow::testing::{
    FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, customer_service, reviewer, sample_form, t0,
    warehouse,
};
use orderflow::{Action, Command, MemoryInventory, PackageId, Sku, Workflow, WorkflowConfig};

type Error = Box<dyn std::error::Error>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "orderflow-shop.sqlite".to_owned());
    let store = Arc::new(SqliteStore::open(&path)?);
    println!("Database: {path}");
    let mut after = None;
    let mut earlier = 0;
    loop {
        let page = store.list(&OrderFilter::default(), after, 50).await?;
        for summary in &page.items {
            if earlier == 0 {
                println!("Orders from earlier runs:");
            }
            earlier += 1;
            println!(
                "  {}  {:<18} {}  placed {}",
                summary.number,
                summary.status.as_str(),
                summary.total,
                summary.placed_at.format("%Y-%m-%d %H:%M")
            );
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if earlier == 0 {
        println!("No orders yet: this is the first run.");
    }
    println!();

    // The shop's adapters. A steppable clock (starting now) lets the demo jump over days.
    let clock = Arc::new(FixedClock::new(chrono::Utc::now().max(t0())));
    let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
    let carrier = Arc::new(FakeCarrier::new("SF Express", b"carrier-secret"));
    let notifier = Arc::new(RecordingNotifier::new());
    let inventory = MemoryInventory::new();
    for sku in ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"] {
        inventory.set_stock(&Sku::new(sku)?, 20);
    }
    // Every order is reviewed by a person in this shop.
    let workflow = Workflow::new(WorkflowConfig { auto_approve: false, ..WorkflowConfig::default() });
    let engine = Engine::new(
        workflow,
        Adapters {
            store: store.clone(),
            payments: gateway.clone(),
            logistics: carrier.clone(),
            inventory,
            notifier: notifier.clone(),
            clock: clock.clone(),
        },
    );

    // 1. Order placed: unique number, estimated ship time, message to the buyer.
    let alice = buyer("alice");
    let placed = engine.place(&alice, &sample_form("alice"), None).await?;
    let id = placed.order.id;
    let number = placed.order.number;
    println!("1. placed order {number}: {} ({})", placed.order.totals.total, placed.order.status());

    // 2. Review: stock and address checked by a reviewer.
    let approve = Action::Approve { note: "stock and address checked".into() };
    engine.execute(id, Command::new(reviewer(), approve)).await?;
    println!("2. reviewed: {}", engine.order(id).await?.status());

    // 3. Payment: the buyer pays; the provider's signed notification arrives (twice).
    if let PaymentSession::QrCode { payload } = engine.start_payment(&alice, id).await? {
        println!("3. buyer scans {payload}");
    }
    clock.advance(TimeDelta::minutes(4));
    let notification = gateway.notify_paid(&number, placed.order.totals.total, clock.now());
    let reply = engine.handle_payment_notification(&notification).await?;
    let again = engine.handle_payment_notification(&notification).await?;
    println!(
        "   provider told {} {:?}; duplicate told {:?}: {}",
        reply.status,
        reply.body,
        again.body,
        engine.order(id).await?.status()
    );

    // 4. Pick and pack, checked item by item against the order.
    engine.execute(id, Command::new(warehouse(), Action::IssuePickList)).await?;
    let order = engine.order(id).await?;
    let items = order.lines.iter().map(|l| PackageItem { line: l.id, quantity: l.quantity }).collect();
    let scanned = order
        .lines
        .iter()
        .map(|l| ScannedItem {
            sku: l.sku.to_string(),
            product_name: l.product_name.to_string(),
            variant: l.variant.clone(),
            quantity: l.quantity,
        })
        .collect();
    engine.execute(id, Command::new(warehouse(), Action::Pack { items, scanned })).await?;
    println!("4. packed: {}", engine.order(id).await?.status());

    // 5. Ship: the cheapest quote wins, the shipment is created from the outbox.
    engine.ship(&warehouse(), id, PackageId(1)).await?;
    engine.drain_outbox().await?;
    let order = engine.order(id).await?;
    let parcel = order.fulfillment.package(PackageId(1)).ok_or("no parcel")?;
    let waybill = parcel.waybill.clone().ok_or("no waybill")?;
    println!(
        "5. shipped with {} ({}), waybill {waybill}",
        parcel.carrier.clone().unwrap_or_default(),
        parcel.selection_reason.clone().unwrap_or_default()
    );

    // 6. Tracking pushes from the carrier (the second one arrives twice).
    for (hours, kind, event) in
        [(5, TrackingKind::PickedUp, "E1"), (26, TrackingKind::InTransit, "E2"), (44, TrackingKind::Delivered, "E3")]
    {
        clock.advance(TimeDelta::hours(hours));
        let push = carrier.push(&waybill, kind, clock.now(), event);
        engine.handle_tracking_push(&push).await?;
        if kind == TrackingKind::InTransit {
            engine.handle_tracking_push(&push).await?;
        }
    }
    println!("6. tracking: {}", engine.order(id).await?.status());

    // 7. The buyer confirms receipt.
    clock.advance(TimeDelta::days(1));
    engine.execute(id, Command::new(alice.clone(), Action::ConfirmReceipt)).await?;
    println!("7. receipt confirmed: {}", engine.order(id).await?.status());

    // 8. After-sales: three days later the follow-up visit falls due for customer service.
    clock.advance(TimeDelta::days(3));
    let due = engine.run_due(clock.now()).await?;
    let feedback = Action::RecordFollowUp { score: 5, notes: "tea arrived fresh".into() };
    engine.execute(id, Command::new(customer_service(), feedback)).await?;
    engine.drain_outbox().await?;
    println!("8. follow-up: {} deadline(s) fired, visit recorded", due.fired);

    println!("\nThe buyer's timeline of order {number}:");
    for entry in engine.buyer_timeline(id).await? {
        println!("  {entry}");
    }
    println!("\nThe staff view:");
    for entry in engine.staff_view(id).await? {
        println!("  {entry}");
    }
    println!("\nNotifications sent (each once):");
    for (key, n) in notifier.sent() {
        println!("  {:<22} {key}", n.kind.name());
    }
    let order = engine.order(id).await?;
    match order.next_deadline() {
        Some((at, kind)) => println!("\nNext: {kind} at {}", at.format("%Y-%m-%d %H:%M")),
        None => println!("\nNothing left to do."),
    }
    println!("\n{} order(s) stored in {path}; run again to see them listed.", store.order_count()?);
    Ok(())
}
