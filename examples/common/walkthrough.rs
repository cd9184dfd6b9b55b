//! The demonstration shared by `quickstart` (memory store) and `sqlite_shop` (SQLite file): one
//! online-paid order through all eight stages on the engine, paying through the real Alipay
//! adapter and tracking through the real Kuaidi100 adapter, each talking to its provider's
//! emulator in process (`orderflow::testing::emulators`: the providers' documented formats and
//! RSA2 / MD5 signatures, nothing leaves the machine). Prints each step, the buyer's timeline
//! (in the shop's Chinese and in English, times in Shanghai time), the staff view and the
//! notifications in words. Only the store differs between the two examples.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use orderflow::engine::{Adapters, Engine};
use orderflow::locale::{Locale, Localizer, Tz};
use orderflow::order::TrackingKind;
use orderflow::ports::{OrderRepository, PaymentSession, WorkQueue};
use orderflow::testing::emulators::{EmulatedAlipay, EmulatedKuaidi100, alipay, kuaidi100};
use orderflow::testing::{
    CarrierReport, FakeCarrier, FixedClock, RecordingNotifier, TestPayments, TestTracking, buyer, customer_service,
    pack_remaining, reviewer, sample_form, warehouse,
};
use orderflow::{Action, Command, MemoryInventory, PackageId, Sku, Workflow, WorkflowConfig};

/// The examples' error type.
pub type Error = Box<dyn std::error::Error>;

/// The demonstration's adapters around store `S`.
type DemoAdapters<S> =
    Adapters<S, Arc<EmulatedAlipay>, Arc<EmulatedKuaidi100>, MemoryInventory, Arc<RecordingNotifier>, Arc<FixedClock>>;

/// A shop on store `S` with Alipay and Kuaidi100 (emulated), parcels booked with the fake
/// carrier SF, in-memory stock and a steppable clock (so the demonstration can jump over days).
pub struct DemoShop<S: OrderRepository + WorkQueue> {
    engine: Engine<DemoAdapters<S>>,
    alipay: Arc<EmulatedAlipay>,
    kuaidi100: Arc<EmulatedKuaidi100>,
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
        let alipay = Arc::new(alipay::gateway(Arc::new(alipay::Emulator::new(clock.clone()))));
        // Waybills numbered from the start time, so runs on the same file never reuse one.
        let prefix = format!("SF{}", start.format("%y%m%d%H%M%S%3f"));
        let booking = Arc::new(FakeCarrier::new("SF", b"carrier-secret").with_waybill_prefix(prefix));
        let kuaidi100 = Arc::new(kuaidi100::tracking(booking, Arc::new(kuaidi100::Emulator::default())));
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
                payments: alipay.clone(),
                logistics: kuaidi100.clone(),
                inventory,
                notifier: notifier.clone(),
                clock: clock.clone(),
            },
        );
        Ok(DemoShop { engine, alipay, kuaidi100, notifier, clock, localizer })
    }

    /// One order through the eight stages, printed step by step. `checkout_key` is the
    /// idempotency key of the buyer's checkout request, if the shop sends one.
    pub async fn walk_through(&self, checkout_key: Option<&str>) -> Result<(), Error> {
        let DemoShop { engine, alipay, kuaidi100, notifier, clock, localizer } = self;

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

        // 3. Payment: Alipay opens a QR-code trade (a signed alipay.trade.precreate call), the
        //    buyer pays it, and Alipay's RSA2-signed notification arrives (twice).
        if let PaymentSession::QrCode { payload } = engine.start_payment(&alice, id).await? {
            println!("3. buyer scans {payload}");
        }
        clock.advance(TimeDelta::minutes(4));
        let notification =
            alipay.buyer_pays(&number, placed.order.totals().total, clock.now()).ok_or("Alipay has no trade to pay")?;
        let reply = engine.handle_payment_notification(&notification).await?;
        let again = engine.handle_payment_notification(&notification).await?;
        println!(
            "   Alipay told {} {:?}; duplicate told {:?}: {}",
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

        // 5. Ship: the cheapest quote wins, the shipment is created from the outbox and the
        //    waybill subscribed at Kuaidi100.
        engine.ship(&warehouse(), id, PackageId(1)).await?;
        engine.drain_outbox().await?;
        let order = engine.order(id).await?;
        let parcel = order.fulfilment().package(PackageId(1)).ok_or("no parcel")?;
        let waybill = parcel.waybill.clone().ok_or("no waybill")?;
        let subscribed = kuaidi100.tracking().transport().emulator().subscriptions();
        println!(
            "5. shipped with {} ({}), waybill {waybill}, tracked by Kuaidi100 as {:?}",
            parcel.carrier.clone().unwrap_or_default(),
            parcel.selection_reason.as_ref().map(|why| self.localizer.carrier_choice(why)).unwrap_or_default(),
            subscribed.get(waybill.as_str()).map(|s| s.company.as_str()).unwrap_or("(not subscribed)")
        );

        // 6. Kuaidi100's MD5-signed pushes, each with the parcel's whole history (the second
        //    one arrives twice); only what is new is applied.
        let mut applied = Vec::new();
        for (hours, kind, words) in [
            (5, TrackingKind::PickedUp, "顺丰速运 已收取快件"),
            (26, TrackingKind::InTransit, "快件到达 【杭州转运中心】"),
            (44, TrackingKind::Delivered, "快件已签收"),
        ] {
            clock.advance(TimeDelta::hours(hours));
            let report = CarrierReport { waybill: &waybill, kind, at: clock.now(), words };
            let push = kuaidi100.carrier_reports(report, clock.now()).ok_or("no push")?;
            applied.push(engine.handle_tracking_push(&push).await?);
            if kind == TrackingKind::InTransit {
                applied.push(engine.handle_tracking_push(&push).await?);
            }
        }
        println!("6. tracking: {} (updates applied per push: {applied:?})", engine.order(id).await?.status());

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
