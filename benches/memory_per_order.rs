//! Memory per order in the `MemoryStore`, plain and (feature `packed-memory`) packed: runs N
//! full lifecycles through the engine (three
//! lines, full event history, outbox rows), then estimates bytes per order two ways:
//!
//! * the growth of the process's resident set (`/proc/self/statm`), as the issue asks;
//! * the growth of live heap bytes, counted by a wrapping global allocator, which can also
//!   separate the store from the fakes (the fakes keep their own records of every payment,
//!   shipment and notification): after the run everything but the store is dropped.
//!
//! N is 100,000 under `cargo bench`, 1,000 in test mode (`cargo test --benches`). Each kind of
//! store runs in turn in this process, so the later run's RSS growth can be low where it reuses
//! pages the earlier run freed; `ORDERFLOW_STORE=plain` or `packed` runs only one.
//!
//! `cargo bench --all-features --bench memory_per_order`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use chrono::TimeDelta;
use orderflow::adapters::memory::RecordKeeping;
use orderflow::engine::{Adapters, Engine};
use orderflow::order::{PackageItem, ScannedItem, TrackingKind};
use orderflow::testing::{FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, sample_form, t0, warehouse};
use orderflow::{
    Action, Actor, Command, MemoryInventory, MemoryStore, OrderId, OrderStatus, PackageId, PlaceOrderForm, Sku,
    Workflow,
};

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Resident set size in bytes, from `/proc/self/statm` (0 where it cannot be read).
fn rss_bytes() -> isize {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<isize>().ok()))
        .unwrap_or(0);
    pages * 4096
}

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

type BoxError = Box<dyn std::error::Error>;

struct Shop<K: RecordKeeping> {
    engine: ShopEngine<K>,
    store: Arc<MemoryStore<K>>,
    gateway: Arc<FakeGateway>,
    carrier: Arc<FakeCarrier>,
    clock: Arc<FixedClock>,
    buyer: Actor,
    warehouse: Actor,
    form: PlaceOrderForm,
}

impl<K: RecordKeeping> Shop<K> {
    fn new(store: MemoryStore<K>) -> Shop<K> {
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
            Workflow::default(),
            Adapters {
                store: store.clone(),
                payments: gateway.clone(),
                logistics: carrier.clone(),
                inventory,
                notifier,
                clock: clock.clone(),
            },
        );
        Shop {
            engine,
            store,
            gateway,
            carrier,
            clock,
            buyer: buyer("alice"),
            warehouse: warehouse(),
            form: sample_form("alice"),
        }
    }

    /// The same lifecycle as `benches/engine_lifecycle.rs`.
    async fn lifecycle(&self) -> Result<(OrderId, OrderStatus), BoxError> {
        let engine = &self.engine;
        self.clock.set(t0());
        let placed = engine.place(&self.buyer, &self.form, None).await?;
        let id = placed.order.id();
        let number = placed.order.number();
        let total = placed.order.totals().total;
        engine.start_payment(&self.buyer, id).await?;
        self.clock.advance(TimeDelta::minutes(3));
        let notification = self.gateway.notify_paid(&number, total, self.clock.now());
        engine.handle_payment_notification(&notification).await?;
        engine.execute(id, Command::new(self.warehouse.clone(), Action::IssuePickList)).await?;
        let lines = &placed.order.lines();
        let items = lines.iter().map(|l| PackageItem { line: l.id, quantity: l.quantity }).collect();
        let scanned = lines
            .iter()
            .map(|l| ScannedItem {
                sku: l.sku.to_string(),
                product_name: l.product_name.to_string(),
                variant: l.variant.clone(),
                quantity: l.quantity,
            })
            .collect();
        engine.execute(id, Command::new(self.warehouse.clone(), Action::Pack { items, scanned })).await?;
        let package = PackageId(1);
        engine.ship(&self.warehouse, id, package).await?;
        engine.drain_outbox().await?;
        let shipped = engine.order(id).await?;
        let waybill = shipped.fulfilment().package(package).and_then(|p| p.waybill.clone()).ok_or("no waybill")?;
        for (hours, kind, event) in [
            (5, TrackingKind::PickedUp, "E1"),
            (26, TrackingKind::InTransit, "E2"),
            (44, TrackingKind::Delivered, "E3"),
        ] {
            self.clock.advance(TimeDelta::hours(hours));
            let push = self.carrier.push(&waybill, kind, self.clock.now(), event);
            engine.handle_tracking_push(&push).await?;
        }
        self.clock.advance(TimeDelta::days(1));
        let done = engine.execute(id, Command::new(self.buyer.clone(), Action::ConfirmReceipt)).await?;
        engine.drain_outbox().await?;
        Ok((id, done.order.status()))
    }
}

fn kib(bytes: f64) -> String {
    format!("{:.2} KiB", bytes / 1024.0)
}

fn main() -> Result<(), BoxError> {
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = if full { 100_000 } else { 1_000 };
    let only = std::env::var("ORDERFLOW_STORE").ok();
    let wanted = |kind: &str| only.as_deref().is_none_or(|only| only == kind);
    if wanted("plain") {
        measure("plain", MemoryStore::new(), n)?;
    }
    #[cfg(feature = "packed-memory")]
    if wanted("packed") {
        measure("packed", MemoryStore::packed(), n)?;
    }
    Ok(())
}

/// Runs `n` lifecycles on `store` and prints what they hold.
fn measure<K: RecordKeeping>(kind: &str, store: MemoryStore<K>, n: usize) -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;

    rt.block_on(async {
        let shop = Shop::new(store);
        // Warm up the runtime, tracing's callsites and the allocator's arenas.
        let (first, status) = shop.lifecycle().await?;
        assert_eq!(status, OrderStatus::Completed);
        let events = shop.engine.events(first).await?;
        let json = serde_json::to_vec(&events)?.len();
        let order_json = serde_json::to_vec(&shop.engine.order(first).await?)?.len();
        // As the packed store keeps it: each event as MessagePack, back to back.
        #[cfg(feature = "packed-memory")]
        let packed = {
            let mut packed = Vec::new();
            for event in &events {
                rmp_serde::encode::write(&mut packed, event)?;
            }
            packed.len()
        };
        // Where the bytes go: deep copies of one order's history and snapshot, measured as the
        // heap they take (text ids are shared with the store's copy, so they count as nothing).
        let heap = live_bytes();
        let history = shop.engine.events(first).await?;
        let history_bytes = live_bytes() - heap;
        let heap = live_bytes();
        let snapshot = shop.engine.order(first).await?;
        let snapshot_bytes = live_bytes() - heap;
        drop((history, snapshot));

        let (rss0, heap0) = (rss_bytes(), live_bytes());
        for _ in 0..n {
            let (_, status) = shop.lifecycle().await?;
            assert_eq!(status, OrderStatus::Completed);
        }
        let (rss1, heap1) = (rss_bytes(), live_bytes());
        assert_eq!(shop.store.order_count(), n + 1);
        let pending = shop.store.outbox_pending();
        let dead = shop.store.outbox_dead();

        // Keep only the store: drop the engine and the fakes.
        let store = shop.store.clone();
        drop(shop);
        let heap2 = live_bytes();
        drop(store);
        let heap3 = live_bytes();

        let per = |bytes: isize| bytes as f64 / n as f64;
        println!("memory_per_order, {kind} store: {n} orders, 3 lines each, {} events each, full history", events.len());
        println!("  RSS growth / order (store + fakes + inventory keys): {}", kib(per(rss1 - rss0)));
        println!("  live heap growth / order (store + fakes + inventory keys): {}", kib(per(heap1 - heap0)));
        // The store also holds the warm-up order.
        let store_per = (heap2 - heap3) as f64 / (n + 1) as f64;
        println!("  live heap / order held by the MemoryStore alone: {}", kib(store_per));
        println!("  outbox rows still open after the run: {pending}, dead letters: {}", dead.len());
        if let Some((key, error)) = dead.first() {
            println!("  first dead letter: {key}: {error}");
        }
        println!("  for reference, one order's history as JSON: {json} bytes; the order itself as JSON: {order_json} bytes");
        #[cfg(feature = "packed-memory")]
        println!(
            "  one order's history as MessagePack (as the packed store writes it; packed with LZ4 once the order goes cold): {packed} bytes"
        );
        println!(
            "  one order as values (as the plain store keeps it): history {} (in a vector of exactly {} events of {} bytes), \
             snapshot {} ({} bytes inline)",
            kib(history_bytes as f64),
            events.len(),
            std::mem::size_of::<orderflow::Event>(),
            kib(snapshot_bytes as f64),
            std::mem::size_of::<orderflow::Order>(),
        );
        Ok::<(), BoxError>(())
    })
}
