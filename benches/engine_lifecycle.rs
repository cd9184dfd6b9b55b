//! One online-paid order's full lifecycle through the engine on the in-memory adapters with
//! the signed fakes: place (auto-approved) → start payment → signed payment webhook → pick list
//! → pack → ship (carrier chosen from quotes) → outbox (shipment created, waybill recorded,
//! notifications sent) → three signed tracking pushes (the third is `Delivered`) → confirm
//! receipt → outbox drained.
//!
//! Four functions: that lifecycle on the default (plain) store (`memory_store_with_fakes`), on
//! the packed store (`memory_store_packed`, feature `packed-memory`: what packing costs), with
//! the payment and tracking sent as the provider's and the carrier's commands instead of signed
//! webhooks (`memory_store_commands_only`: the engine without the fakes' signing and their
//! adapters' checks), and that commands-only lifecycle through a minimal hand-written engine
//! over the same core and adapters (`hand_written_commands_only`, `common/hand_engine.rs`): the
//! baseline of issue 22's target, the engine on `MemoryStore` at most 1.5× it. Under
//! `cargo bench` a paired check then runs the engine (commands only, and signed) and the
//! hand-written engine in alternating blocks and prints their ratios.
//!
//! Runs on a tokio current-thread runtime, so it uses one core. Orders pile up in the store as
//! they would in a shop; every [`CHUNK`] lifecycles the shop is rebuilt (outside the timing) so
//! a long measurement does not keep growing the heap.
//!
//! `cargo bench --all-features --bench engine_lifecycle`

#[path = "common/cpu_time.rs"]
mod cpu_time;
#[path = "common/hand_engine.rs"]
mod hand_engine;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpu_time::Blocks;
use hand_engine::HandEngine;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, Throughput, criterion_group};
use orderflow::adapters::memory::{Plain, RecordKeeping};
use orderflow::engine::{Adapters, Engine};
use orderflow::order::{TrackingKind, TrackingUpdate};
use orderflow::testing::{
    FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, carrier, pack_remaining, provider, sample_form, t0,
    warehouse,
};
use orderflow::{
    Action, Actor, Command, MemoryInventory, MemoryStore, Order, OrderId, OrderStatus, PackageId, PlaceOrderForm, Sku,
    Workflow,
};

type ShopEngine<K> = Engine<
    Adapters<
        Arc<MemoryStore<K>>,
        Arc<FakeGateway>,
        Arc<FakeCarrier>,
        Arc<MemoryInventory>,
        Arc<RecordingNotifier>,
        Arc<FixedClock>,
    >,
>;

/// Lifecycles run on one shop before it is rebuilt.
const CHUNK: u64 = 20_000;

type BoxError = Box<dyn std::error::Error>;

struct Shop<K: RecordKeeping = Plain> {
    engine: ShopEngine<K>,
    gateway: Arc<FakeGateway>,
    carrier: Arc<FakeCarrier>,
    clock: Arc<FixedClock>,
    buyer: Actor,
    warehouse: Actor,
    form: PlaceOrderForm,
}

impl Shop {
    fn new() -> Shop {
        Shop::with_store(MemoryStore::new())
    }
}

impl<K: RecordKeeping> Shop<K> {
    fn with_store(store: MemoryStore<K>) -> Shop<K> {
        let store = Arc::new(store);
        let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
        let carrier = Arc::new(FakeCarrier::new("SF", b"carrier-secret"));
        let inventory = Arc::new(MemoryInventory::new());
        for sku in ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"] {
            inventory.set_stock(&Sku::new(sku).expect("valid SKU"), 1_000_000_000);
        }
        let notifier = Arc::new(RecordingNotifier::new());
        let clock = Arc::new(FixedClock::new(t0()));
        let engine = Engine::new(
            Workflow::default(), // auto-approve
            Adapters {
                store,
                payments: gateway.clone(),
                logistics: carrier.clone(),
                inventory,
                notifier,
                clock: clock.clone(),
            },
        );
        Shop {
            engine,
            gateway,
            carrier,
            clock,
            buyer: buyer("alice"),
            warehouse: warehouse(),
            form: sample_form("alice"),
        }
    }

    /// One full lifecycle; returns the finished order.
    async fn lifecycle(&self) -> Result<Order, BoxError> {
        self.lifecycle_with(Callbacks::Signed).await
    }

    /// One full lifecycle, the payment and the tracking arriving as `callbacks` says; returns
    /// the finished order.
    async fn lifecycle_with(&self, callbacks: Callbacks) -> Result<Order, BoxError> {
        let engine = &self.engine;
        self.clock.set(t0());

        // 1–2. Placed and approved by the automatic review.
        let placed = engine.place(&self.buyer, &self.form, None).await?;
        let id = placed.order.id();
        let number = placed.order.number();
        let total = placed.order.totals().total;

        // 3. The buyer starts paying; the provider's signed notification arrives (or its
        //    capture, as a command).
        black_box(engine.start_payment(&self.buyer, id).await?);
        self.clock.advance(TimeDelta::minutes(3));
        match callbacks {
            Callbacks::Signed => {
                let notification = self.gateway.notify_paid(&number, total, self.clock.now());
                engine.handle_payment_notification(&notification).await?;
            }
            Callbacks::Commands => {
                let capture = Action::CapturePayment { txn_id: format!("TXN-{number}"), amount: total };
                engine.execute(id, Command::new(provider(), capture)).await?;
            }
        }

        // 4. Pick and pack everything in one parcel.
        engine.execute(id, Command::new(self.warehouse.clone(), Action::IssuePickList)).await?;
        engine.execute(id, Command::new(self.warehouse.clone(), pack_remaining(&placed.order))).await?;

        // 5. Ship: quotes, selection, booking; the outbox creates the shipment and records the
        //    waybill (and sends the notifications so far).
        let package = PackageId(1);
        engine.ship(&self.warehouse, id, package).await?;
        engine.drain_outbox().await?;
        let shipped = engine.order(id).await?;
        let waybill = shipped.fulfilment().package(package).and_then(|p| p.waybill.clone()).ok_or("no waybill")?;

        // 6. Three tracking updates: signed pushes (or the carrier's commands).
        for (hours, kind, event) in TRACKING {
            self.clock.advance(TimeDelta::hours(hours));
            match callbacks {
                Callbacks::Signed => {
                    let push = self.carrier.push(&waybill, kind, self.clock.now(), event);
                    engine.handle_tracking_push(&push).await?;
                }
                Callbacks::Commands => {
                    engine.execute(id, tracking_command(&waybill, kind, self.clock.now(), event)).await?;
                }
            }
        }

        // 7. The buyer confirms receipt; the remaining notifications go out.
        self.clock.advance(TimeDelta::days(1));
        let done = engine.execute(id, Command::new(self.buyer.clone(), Action::ConfirmReceipt)).await?;
        engine.drain_outbox().await?;
        Ok(done.order)
    }
}

/// The lifecycle's tracking updates: hours after the previous step, kind, carrier's event id.
const TRACKING: [(i64, TrackingKind, &str); 3] =
    [(5, TrackingKind::PickedUp, "E1"), (26, TrackingKind::InTransit, "E2"), (44, TrackingKind::Delivered, "E3")];

/// The carrier's command recording a tracking update on `waybill`.
fn tracking_command(waybill: &str, kind: TrackingKind, at: DateTime<Utc>, event: &str) -> Command {
    let update = TrackingUpdate {
        kind,
        at,
        event_id: event.into(),
        location: "Hangzhou".into(),
        description: kind.describe().into(),
    };
    Command::new(carrier("SF"), Action::RecordTracking { waybill: waybill.to_owned(), update })
}

/// How the payment and the tracking updates reach the engine.
#[derive(Clone, Copy)]
enum Callbacks {
    /// As the fakes' signed webhooks: signed by the fake, checked and read by its adapter.
    Signed,
    /// As commands from the provider and the carrier: what a host that checks its webhooks
    /// itself sends, and the engine's own share of the lifecycle.
    Commands,
}

/// The commands-only lifecycle through the hand-written engine, on the same adapters.
struct HandShop {
    engine: HandEngine,
    buyer: Actor,
    warehouse: Actor,
    form: PlaceOrderForm,
}

impl HandShop {
    fn new() -> HandShop {
        let inventory = Arc::new(MemoryInventory::new());
        for sku in ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"] {
            inventory.set_stock(&Sku::new(sku).expect("valid SKU"), 1_000_000_000);
        }
        let engine = HandEngine::new(
            Workflow::default(), // auto-approve
            Arc::new(FakeGateway::new("alipay", b"provider-secret")),
            Arc::new(FakeCarrier::new("SF", b"carrier-secret")),
            inventory,
            Arc::new(RecordingNotifier::new()),
            Arc::new(FixedClock::new(t0())),
        );
        HandShop { engine, buyer: buyer("alice"), warehouse: warehouse(), form: sample_form("alice") }
    }

    /// [`Shop::lifecycle_with`] with [`Callbacks::Commands`], step for step.
    async fn lifecycle(&self) -> Result<Order, BoxError> {
        let engine = &self.engine;
        let clock = &engine.clock;
        clock.set(t0());

        let placed = engine.place(&self.buyer, &self.form).await?;
        let id = placed.id();
        let number = placed.number();
        let total = placed.totals().total;

        black_box(engine.start_payment(&self.buyer, id).await?);
        clock.advance(TimeDelta::minutes(3));
        let capture = Action::CapturePayment { txn_id: format!("TXN-{number}"), amount: total };
        engine.execute(id, Command::new(provider(), capture)).await?;

        engine.execute(id, Command::new(self.warehouse.clone(), Action::IssuePickList)).await?;
        engine.execute(id, Command::new(self.warehouse.clone(), pack_remaining(&placed))).await?;

        let package = PackageId(1);
        engine.ship(&self.warehouse, id, package).await?;
        engine.drain_outbox().await?;
        let shipped = engine.order(id)?;
        let waybill = shipped.fulfilment().package(package).and_then(|p| p.waybill.clone()).ok_or("no waybill")?;

        for (hours, kind, event) in TRACKING {
            clock.advance(TimeDelta::hours(hours));
            engine.execute(id, tracking_command(&waybill, kind, clock.now(), event)).await?;
        }

        clock.advance(TimeDelta::days(1));
        let done = engine.execute(id, Command::new(self.buyer.clone(), Action::ConfirmReceipt)).await?;
        engine.drain_outbox().await?;
        Ok(done)
    }
}

/// Outside the timing: the hand-written engine's lifecycle ends where the engine's does, with
/// the same events, the same notifications under the same keys, and an empty outbox.
fn check_same_work(rt: &tokio::runtime::Runtime) {
    let shop = Shop::new();
    let hand = HandShop::new();
    let order = rt.block_on(shop.lifecycle_with(Callbacks::Commands)).unwrap_or_else(|e| panic!("engine: {e}"));
    let theirs = rt.block_on(hand.lifecycle()).unwrap_or_else(|e| panic!("hand-written engine: {e}"));
    assert_eq!(theirs.status(), OrderStatus::Completed);
    assert_eq!(theirs.version(), order.version(), "as many events");
    let events = rt.block_on(shop.engine.events(order.id())).unwrap_or_else(|e| panic!("{e}"));
    let changes = |events: &[orderflow::Event]| events.iter().map(|e| e.change.name()).collect::<Vec<_>>();
    assert_eq!(changes(&hand.engine.events(theirs.id())), changes(&events), "the same events");
    let keys = |sent: Vec<(String, orderflow::Notification)>, id: OrderId| {
        sent.into_iter().map(|(key, n)| (key.replace(&id.to_string(), "{id}"), n.kind.name())).collect::<Vec<_>>()
    };
    let notifier = &shop.engine.adapters().notifier;
    assert_eq!(
        keys(hand.engine.notifier.sent(), theirs.id()),
        keys(notifier.sent(), order.id()),
        "the same notifications"
    );
    assert_eq!(hand.engine.outbox_len(), 0, "every outbox row delivered");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

fn engine_lifecycle(c: &mut Criterion) {
    let rt = runtime();

    // Sanity, outside the timing: both kinds of lifecycle pay, deliver and complete their
    // orders, one after the other in one shop.
    let shop = Shop::new();
    for callbacks in [Callbacks::Signed, Callbacks::Commands, Callbacks::Signed] {
        let order = rt.block_on(shop.lifecycle_with(callbacks)).unwrap_or_else(|e| panic!("lifecycle failed: {e}"));
        assert_eq!(order.status(), OrderStatus::Completed);
        assert_eq!(order.payment().received().ok(), Some(order.totals().total), "paid in full");
        let tracking = order.fulfilment().package(PackageId(1)).map(|p| p.tracking.len());
        assert_eq!(tracking, Some(3), "three tracking updates recorded");
    }

    let mut group = c.benchmark_group("engine_lifecycle");
    group.throughput(Throughput::Elements(1));
    group.bench_function("memory_store_with_fakes", |b| {
        b.iter_custom(|iters| rt.block_on(timed_lifecycles(iters, engine_shops(MemoryStore::new, Callbacks::Signed))))
    });
    // The same on the packed store (histories encoded, cold orders packed): what packing
    // costs per lifecycle.
    #[cfg(feature = "packed-memory")]
    group.bench_function("memory_store_packed", |b| {
        b.iter_custom(|iters| {
            rt.block_on(timed_lifecycles(iters, engine_shops(MemoryStore::packed, Callbacks::Signed)))
        })
    });
    // The same with the payment and the tracking as commands instead of signed webhooks:
    // without the fakes' signing and their adapters' checks.
    group.bench_function("memory_store_commands_only", |b| {
        b.iter_custom(|iters| rt.block_on(timed_lifecycles(iters, engine_shops(MemoryStore::new, Callbacks::Commands))))
    });
    // The baseline of the commands-only lifecycle: a minimal hand-written engine.
    check_same_work(&rt);
    group.bench_function("hand_written_commands_only", |b| {
        b.iter_custom(|iters| rt.block_on(timed_lifecycles(iters, HandShop::new)))
    });
    group.finish();
}

/// A shop the timed loops run lifecycles in.
trait Lifecycles {
    /// One lifecycle; the finished order.
    fn run(&self) -> impl Future<Output = Result<Order, BoxError>>;
}

/// The engine's shop, its payment and tracking arriving as `callbacks` says.
struct EngineShop<K: RecordKeeping> {
    shop: Shop<K>,
    callbacks: Callbacks,
}

impl<K: RecordKeeping> Lifecycles for EngineShop<K> {
    fn run(&self) -> impl Future<Output = Result<Order, BoxError>> {
        self.shop.lifecycle_with(self.callbacks)
    }
}

impl Lifecycles for HandShop {
    fn run(&self) -> impl Future<Output = Result<Order, BoxError>> {
        self.lifecycle()
    }
}

/// The engine's shop on a new `store` every time, for [`timed_lifecycles`].
fn engine_shops<K: RecordKeeping>(
    store: impl Fn() -> MemoryStore<K>,
    callbacks: Callbacks,
) -> impl Fn() -> EngineShop<K> {
    move || EngineShop { shop: Shop::with_store(store()), callbacks }
}

/// Times `iters` lifecycles, on a new shop (from `new_shop`) every [`CHUNK`] of them; building
/// and dropping the shops is outside the timing.
async fn timed_lifecycles<L: Lifecycles>(iters: u64, new_shop: impl Fn() -> L) -> Duration {
    let mut elapsed = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let shop = new_shop();
        let n = left.min(CHUNK);
        let start = Instant::now();
        for _ in 0..n {
            match shop.run().await {
                Ok(order) => {
                    black_box(order);
                }
                Err(e) => panic!("lifecycle failed: {e}"),
            }
        }
        elapsed += start.elapsed();
        left -= n;
        drop(shop); // outside the timing
    }
    elapsed
}

/// Lifecycles per block of the paired engine / hand-written check.
const HAND_BLOCK: usize = 100;

/// Under `cargo bench` only: the engine on `MemoryStore` (commands only, then with the signed
/// fakes) and the hand-written engine, in alternating blocks of [`HAND_BLOCK`] lifecycles for
/// about `seconds`, so the machine's swings fall on all three alike; prints the medians, CPU
/// times and the ratios to the hand-written engine (issue 22's target: commands only ≤ 1.5×).
fn paired_hand_check(seconds: f64) {
    let rt = runtime();
    let (mut engine, mut hand) = (Shop::new(), HandShop::new());
    let mut in_shop = 0u64;
    let mut blocks = [Blocks::new(HAND_BLOCK), Blocks::new(HAND_BLOCK), Blocks::new(HAND_BLOCK)];
    let run = |n: usize, f: &dyn Fn() -> Result<Order, BoxError>| {
        for _ in 0..n {
            if let Err(e) = f() {
                panic!("lifecycle failed: {e}");
            }
        }
    };
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds {
        if in_shop >= CHUNK {
            (engine, hand) = (Shop::new(), HandShop::new());
            in_shop = 0;
        }
        blocks[0].time(|| run(HAND_BLOCK, &|| rt.block_on(engine.lifecycle_with(Callbacks::Commands))));
        blocks[1].time(|| run(HAND_BLOCK, &|| rt.block_on(hand.lifecycle())));
        blocks[2].time(|| run(HAND_BLOCK, &|| rt.block_on(engine.lifecycle_with(Callbacks::Signed))));
        in_shop += 2 * HAND_BLOCK as u64;
    }
    let rounds = blocks[0].count();
    let [(engine_wall, engine_cpu), (hand_wall, hand_cpu), (signed_wall, signed_cpu)] =
        blocks.each_mut().map(|b| b.per_run());
    println!("paired engine / hand-written check, {rounds} rounds of {HAND_BLOCK} lifecycles each (µs per lifecycle):");
    println!("  engine on MemoryStore, commands only:  wall median {engine_wall:.1}, cpu {engine_cpu:.1}");
    println!("  hand-written engine, commands only:    wall median {hand_wall:.1}, cpu {hand_cpu:.1}");
    println!("  engine on MemoryStore, signed fakes:   wall median {signed_wall:.1}, cpu {signed_cpu:.1}");
    println!(
        "  engine / hand-written: wall {:.3}, cpu {:.3} (target ≤ 1.5); signed / hand-written: wall {:.3}, cpu {:.3}",
        engine_wall / hand_wall,
        engine_cpu / hand_cpu,
        signed_wall / hand_wall,
        signed_cpu / hand_cpu
    );
    if let Some(load) = cpu_time::load_average(" ") {
        println!("  load average after the check: {load}");
    }
}

/// Under `cargo bench` only (not in test mode): CPU time per lifecycle, printed once.
fn cpu_check() {
    let rt = runtime();
    let mut shop = Shop::new();
    let mut in_shop = 0u64;
    let measured = cpu_time::cpu_time_per_run(5.0, || {
        if in_shop == CHUNK {
            shop = Shop::new();
            in_shop = 0;
        }
        in_shop += 1;
        if let Err(e) = rt.block_on(shop.lifecycle()) {
            panic!("lifecycle failed: {e}");
        }
    });
    if let Some((runs, us)) = measured {
        println!(
            "cpu time per lifecycle: {us:.2} µs ({runs} runs, shop rebuilt every {CHUNK}), {:.0} lifecycles per CPU-second",
            1e6 / us
        );
    }
}

/// Lifecycles per block of the paired check.
#[cfg(feature = "packed-memory")]
const BLOCK: usize = 200;

/// Under `cargo bench` only, with `packed-memory`: the plain store and the packed one, in
/// alternating blocks of [`BLOCK`] lifecycles for about `seconds`. The difference is what
/// packing (histories encoded, and per lifecycle in the steady state an order sent cold) costs
/// this bench.
#[cfg(feature = "packed-memory")]
fn paired_check(seconds: f64) {
    let rt = runtime();
    let (mut plain, mut packed) = (Shop::new(), Shop::with_store(MemoryStore::packed()));
    let mut in_shop = 0u64;
    let mut blocks = [Blocks::new(BLOCK), Blocks::new(BLOCK)];
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds {
        if in_shop >= CHUNK {
            (plain, packed) = (Shop::new(), Shop::with_store(MemoryStore::packed()));
            in_shop = 0;
        }
        blocks[0].time(|| run_block(&rt, &plain));
        blocks[1].time(|| run_block(&rt, &packed));
        in_shop += BLOCK as u64;
    }
    let rounds = blocks[0].count();
    let [(plain_wall, plain_cpu), (packed_wall, packed_cpu)] = blocks.each_mut().map(|b| b.per_run());
    println!("paired check, {rounds} rounds of {BLOCK} lifecycles each (µs per lifecycle):");
    println!("  plain MemoryStore:                wall median {plain_wall:.1}, cpu {plain_cpu:.1}");
    println!("  packed MemoryStore (1,024 hot):   wall median {packed_wall:.1}, cpu {packed_cpu:.1}");
    println!("  packed / plain: wall {:.3}, cpu {:.3}", packed_wall / plain_wall, packed_cpu / plain_cpu);
}

/// Runs [`BLOCK`] lifecycles in `shop`.
#[cfg(feature = "packed-memory")]
fn run_block<K: RecordKeeping>(rt: &tokio::runtime::Runtime, shop: &Shop<K>) {
    for _ in 0..BLOCK {
        if let Err(e) = rt.block_on(shop.lifecycle()) {
            panic!("lifecycle failed: {e}");
        }
    }
}

criterion_group!(benches, engine_lifecycle);

/// Snapshots the profiling shop keeps decoded: few, so that after [`PROFILE_WARM_UP`]
/// lifecycles every counted one makes room for itself, as each does in the timed shop of
/// 20,000 orders (1,024 decoded).
const PROFILE_HOT: usize = 16;

/// Lifecycles run before the counted ones, in every profiling run.
const PROFILE_WARM_UP: u64 = 2 * PROFILE_HOT as u64;

/// `ORDERFLOW_PROFILE=N`: runs [`PROFILE_WARM_UP`] + N lifecycles in one shop and nothing
/// else, for `valgrind --tool=callgrind`; instruction counts per lifecycle are the difference
/// between two runs with different N, divided by the difference in N. The counted lifecycles
/// are in the steady state of the timed bench: each one's placement sends an older order cold
/// (its history packed, its snapshot dropped).
///
/// `ORDERFLOW_PROFILE=commands:N` runs the commands-only lifecycle instead, on the plain
/// store, and `ORDERFLOW_PROFILE=hand:N` the hand-written engine's: their counts are the paired
/// check's ratio without the machine's load.
fn profile() -> bool {
    let Ok(spec) = std::env::var("ORDERFLOW_PROFILE") else {
        return false;
    };
    let (kind, n) = spec.split_once(':').unwrap_or(("signed", &spec));
    let n: u64 = n.parse().expect("ORDERFLOW_PROFILE=[commands:|hand:]N with a number N");
    let rt = runtime();
    if kind == "hand" {
        let shop = HandShop::new();
        for _ in 0..PROFILE_WARM_UP + n {
            if let Err(e) = rt.block_on(shop.lifecycle()) {
                panic!("lifecycle failed: {e}");
            }
        }
        return true;
    }
    if kind == "commands" {
        // On the plain store, the target's.
        let shop = Shop::new();
        for _ in 0..PROFILE_WARM_UP + n {
            if let Err(e) = rt.block_on(shop.lifecycle_with(Callbacks::Commands)) {
                panic!("lifecycle failed: {e}");
            }
        }
        return true;
    }
    #[cfg(feature = "packed-memory")]
    let shop = Shop::with_store(MemoryStore::with_hot_orders(PROFILE_HOT));
    #[cfg(not(feature = "packed-memory"))]
    let shop = Shop::new();
    for _ in 0..PROFILE_WARM_UP + n {
        if let Err(e) = rt.block_on(shop.lifecycle()) {
            panic!("lifecycle failed: {e}");
        }
    }
    true
}

fn main() {
    if profile() {
        return;
    }
    benches();
    if cpu_time::cross_checks_wanted() {
        cpu_check();
        paired_hand_check(30.0);
        #[cfg(feature = "packed-memory")]
        paired_check(20.0);
    }
    Criterion::default().configure_from_args().final_summary();
}
