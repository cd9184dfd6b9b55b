//! The demonstration shared by `quickstart` (memory store) and `sqlite_shop` (SQLite file): one
//! online-paid order through all eight stages on the engine, with the faithful fakes of a
//! payment provider and a carrier (signed callbacks), printing each step, the buyer's timeline
//! (in the shop's Chinese and in English, times in Shanghai time), the staff view and the
//! notifications in words. Only the store differs between the two examples.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use orderflow::engine::{Adapters, Engine};
use orderflow::locale::{Locale, Localizer, Tz};
use orderflow::order::TrackingKind;
use orderflow::ports::{OrderRepository, PaymentSession, WorkQueue};
use orderflow::testing::{
    FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, customer_service, pack_remaining, reviewer,
    sample_form, warehouse,
};
use orderflow::{Action, Command, MemoryInventory, PackageId, Sku, Workflow, WorkflowConfig};

/// The examples' error type.
pub type Error = Box<dyn std::error::Error>;

/// The demonstration's adapters around store `S`.
type DemoAdapters<S> =
    Adapters<S, Arc<FakeGateway>, Arc<FakeCarrier>, MemoryInventory, Arc<RecordingNotifier>, Arc<FixedClock>>;

/// A shop on store `S` with the signed fakes, in-memory stock and a steppable clock (so the
/// demonstration can jump over days).
pub struct DemoShop<S: OrderRepository + WorkQueue> {
    engine: Engine<DemoAdapters<S>>,
    gateway: Arc<FakeGateway>,
    carrier: Arc<FakeCarrier>,
    notifier: Arc<RecordingNotifier>,
    clock: Arc<FixedClock>,
    /// The shop's language and time zone.
    localizer: Localizer,
}

impl<S: OrderRepository + WorkQueue> DemoShop<S> {
    /// A shop whose clock starts at `start`, with 20 of each sample SKU in stock. Every order
    /// is reviewed by a person in this shop, which is in Shanghai and speaks Chinese.
    pub fn new(store: S, start: DateTime<Utc>) -> Result<DemoShop<S>, Error> {
        let clock = Arc::new(FixedClock::new(start));
        let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
        let carrier = Arc::new(FakeCarrier::new("SF Express", b"carrier-secret"));
        let notifier = Arc::new(RecordingNotifier::new());
        let inventory = MemoryInventory::new();
        for sku in ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"] {
            inventory.set_stock(&Sku::new(sku)?, 20);
        }
        let config = WorkflowConfig {
            auto_approve: false,
            time_zone: Tz::Asia__Shanghai,
            locale: Locale::ZhCn,
            ..WorkflowConfig::default()
        };
        let localizer = Localizer::for_shop(&config);
        let workflow = Workflow::new(config);
        let engine = Engine::new(
            workflow,
            Adapters {
                store,
                payments: gateway.clone(),
                logistics: carrier.clone(),
                inventory,
                notifier: notifier.clone(),
                clock: clock.clone(),
            },
        );
        Ok(DemoShop { engine, gateway, carrier, notifier, clock, localizer })
    }

    /// One order through the eight stages, printed step by step. `checkout_key` is the
    /// idempotency key of the buyer's checkout request, if the shop sends one.
    pub async fn walk_through(&self, checkout_key: Option<&str>) -> Result<(), Error> {
        let DemoShop { engine, gateway, carrier, notifier, clock, localizer } = self;

        // 1. Order placed: unique number, estimated ship time, message to the buyer.
        let alice = buyer("alice");
        let placed = engine.place(&alice, &sample_form("alice"), checkout_key).await?;
        let id = placed.order.id();
        let number = placed.order.number();
        println!("1. placed order {number}: {} ({})", placed.order.totals().total, placed.order.status());

        // 2. Review: stock and address checked by a reviewer.
        let approve = Action::Approve { note: "stock and address checked".into() };
        engine.execute(id, Command::new(reviewer(), approve)).await?;
        println!("2. reviewed: {}", engine.order(id).await?.status());

        // 3. Payment: the buyer pays; the provider's signed notification arrives (twice).
        if let PaymentSession::QrCode { payload } = engine.start_payment(&alice, id).await? {
            println!("3. buyer scans {payload}");
        }
        clock.advance(TimeDelta::minutes(4));
        let notification = gateway.notify_paid(&number, placed.order.totals().total, clock.now());
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
        let pack = pack_remaining(&engine.order(id).await?);
        engine.execute(id, Command::new(warehouse(), pack)).await?;
        println!("4. packed: {}", engine.order(id).await?.status());

        // 5. Ship: the cheapest quote wins, the shipment is created from the outbox.
        engine.ship(&warehouse(), id, PackageId(1)).await?;
        engine.drain_outbox().await?;
        let order = engine.order(id).await?;
        let parcel = order.fulfilment().package(PackageId(1)).ok_or("no parcel")?;
        let waybill = parcel.waybill.clone().ok_or("no waybill")?;
        println!(
            "5. shipped with {} ({}), waybill {waybill}",
            parcel.carrier.clone().unwrap_or_default(),
            parcel.selection_reason.as_ref().map(|why| self.localizer.carrier_choice(why)).unwrap_or_default()
        );

        // 6. Tracking pushes from the carrier (the second one arrives twice).
        for (hours, kind, event) in [
            (5, TrackingKind::PickedUp, "E1"),
            (26, TrackingKind::InTransit, "E2"),
            (44, TrackingKind::Delivered, "E3"),
        ] {
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

        let timeline = engine.buyer_timeline(id).await?;
        println!("\nThe buyer's timeline of order {number} (the shop's language, Shanghai time):");
        for entry in &timeline {
            println!("  {}", localizer.entry(entry));
        }
        // A buyer who chose English: the same entries, the same time zone, other words.
        let english = localizer.with_catalogue(Locale::En.catalogue());
        println!("\nThe same timeline for a buyer who reads English:");
        for entry in &timeline {
            println!("  {}", english.entry(entry));
        }
        println!("\nThe staff view:");
        for entry in engine.staff_view(id).await? {
            println!("  {entry}");
        }
        println!("\nNotifications sent (each once), as the buyer reads them:");
        for (key, n) in notifier.sent() {
            let words = localizer.notification(&n);
            println!("  {:<22} {key}\n    {}: {}", n.kind.name(), words.title, words.body);
        }
        match engine.order(id).await?.next_deadline() {
            Some((at, kind)) => println!("\nNext: {kind} at {}", at.format("%Y-%m-%d %H:%M")),
            None => println!("\nNothing left to do."),
        }
        Ok(())
    }
}
