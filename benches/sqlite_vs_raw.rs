//! The engine on `SqliteStore` next to raw rusqlite doing the same work, one order lifecycle
//! per iteration.
//!
//! The lifecycle is ten transitions, each one commit: place (auto-approved, with an idempotency
//! key) → capture → pick list → pack → book shipment → waybill → three tracking updates (the
//! third is `Delivered`) → confirm receipt. A whole lifecycle rather than one transition,
//! because transitions write different rows (placement inserts the order and a dedupe key, the
//! waybill updates the waybill index, outbox rows vary from none to several) and the snapshot
//! grows along the way; the lifecycle is the realistic mix. Throughput is reported per
//! transition (ten per lifecycle).
//!
//! - `engine_on_sqlite_store`: `Engine::place` and `Engine::execute` on `SqliteStore`
//!   (`MemoryInventory` for the reservation at placement; the outbox is written, not
//!   dispatched).
//! - `raw_rusqlite`: what a host would write by hand around the same pure core: per transition
//!   it reads the snapshot, decides and evolves with the same `Workflow`, serialises with
//!   serde_json and writes the same rows in one `BEGIN IMMEDIATE` transaction with cached
//!   statements: the order row (insert, or update with compare-and-set on the version), the
//!   events, the outbox rows (the engine's keys), the dedupe key, new waybills.
//! - `raw_rusqlite_writes_only`: only the transactions of `raw_rusqlite`, every row serialised
//!   beforehand outside the timing: the floor SQLite itself sets.
//!
//! Same schema (the raw file is created by `SqliteStore::open`), same pragmas (WAL,
//! `synchronous=NORMAL`, 5 s busy timeout), real files in the temp folder. Under `cargo bench`
//! a paired check follows: the three run in alternating blocks and the medians of the block
//! times are compared, which a load that changes over time distorts less than criterion's
//! one-after-the-other runs.
//!
//! `cargo bench --all-features --bench sqlite_vs_raw`

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use common::TempDb;
use common::cpu_time::Blocks;
use criterion::{Criterion, Throughput, criterion_group};
use orderflow::adapters::sqlite::SqliteStore;
use orderflow::decide::after;
use orderflow::engine::{Adapters, Engine, RequestKey};
use orderflow::order::TrackingKind;
use orderflow::ports::OrderRepository;
use orderflow::testing::{
    FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, carrier, pack_remaining, provider, sample_form, t0,
    warehouse,
};
use orderflow::{
    Action, Actor, Command, Ctx, Decision, Effect, MemoryInventory, NewOrder, Order, OrderId, OrderNumber, OrderStatus,
    PackageId, PlaceOrderForm, Sku, Workflow, evolve,
};
use rusqlite::{Connection, TransactionBehavior, params};

/// Commits per lifecycle.
const TRANSITIONS: u64 = 10;

/// The commands after placement for the `n`-th order (its payment and waybill are its own).
fn steps(placed: &Order, n: u64) -> Vec<(DateTime<Utc>, Command)> {
    let at = |minutes: i64| after(t0(), TimeDelta::minutes(minutes));
    let package = PackageId(1);
    let waybill = format!("SF{n:012}");
    let total = placed.totals().total;
    let mut steps = vec![
        (at(3), Command::new(provider(), Action::CapturePayment { txn_id: format!("ALI-{n}"), amount: total })),
        (at(60), Command::new(warehouse(), Action::IssuePickList)),
        (at(90), Command::new(warehouse(), pack_remaining(placed))),
        (
            at(100),
            Command::new(
                warehouse(),
                Action::BookShipment {
                    package,
                    carrier: "SF".into(),
                    service: "standard".into(),
                    reason: orderflow::ChoiceReason::stated("cheapest of 2 quotes"),
                },
            ),
        ),
        (at(110), Command::new(carrier("SF"), Action::RecordWaybill { package, waybill: waybill.clone() })),
    ];
    for (hours, kind) in [(4, TrackingKind::PickedUp), (20, TrackingKind::InTransit), (40, TrackingKind::Delivered)] {
        let update = FakeCarrier::update(kind, at(hours * 60), &format!("E{hours}"));
        let action = Action::RecordTracking { waybill: waybill.clone(), update };
        steps.push((at(hours * 60 + 1), Command::new(carrier("SF"), action)));
    }
    steps.push((at(4 * 24 * 60), Command::new(buyer("alice"), Action::ConfirmReceipt)));
    steps
}

fn idempotency_key(n: u64) -> String {
    format!("bench-{n}")
}

// ---------------------------------------------------------------------------------------------
// The engine on SqliteStore
// ---------------------------------------------------------------------------------------------

type SqliteEngine =
    Engine<Adapters<SqliteStore, FakeGateway, FakeCarrier, MemoryInventory, RecordingNotifier, Arc<FixedClock>>>;

struct EngineSide {
    engine: SqliteEngine,
    clock: Arc<FixedClock>,
    buyer: Actor,
    form: PlaceOrderForm,
    n: u64,
    _db: TempDb,
}

impl EngineSide {
    fn new() -> EngineSide {
        let db = TempDb::new("vs-raw-engine");
        let store = SqliteStore::open(db.path()).unwrap_or_else(|e| panic!("{e}"));
        let inventory = MemoryInventory::new();
        for sku in ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"] {
            inventory.set_stock(&Sku::new(sku).unwrap_or_else(|e| panic!("{e}")), u32::MAX);
        }
        let clock = Arc::new(FixedClock::new(t0()));
        let adapters = Adapters {
            store,
            payments: FakeGateway::new("alipay", b"provider-secret"),
            logistics: FakeCarrier::new("SF", b"carrier-secret"),
            inventory,
            notifier: RecordingNotifier::new(),
            clock: clock.clone(),
        };
        let engine = Engine::new(Workflow::default(), adapters);
        EngineSide { engine, clock, buyer: buyer("alice"), form: sample_form("alice"), n: 0, _db: db }
    }

    async fn lifecycle(&mut self) -> OrderStatus {
        self.n += 1;
        self.clock.set(t0());
        let key = idempotency_key(self.n);
        let placed = self.engine.place(&self.buyer, &self.form, Some(&key)).await.unwrap_or_else(|e| panic!("{e}"));
        let id = placed.order.id();
        let mut status = placed.order.status();
        for (at, command) in steps(&placed.order, self.n) {
            self.clock.set(at);
            status = self.engine.execute(id, command).await.unwrap_or_else(|e| panic!("{e}")).order.status();
        }
        status
    }
}

// ---------------------------------------------------------------------------------------------
// Raw rusqlite
// ---------------------------------------------------------------------------------------------

/// A timestamp as the store keeps it: (microseconds since the epoch, nanoseconds below).
fn split(t: DateTime<Utc>) -> (i64, i64) {
    (t.timestamp_micros(), i64::from(t.timestamp_subsec_nanos() % 1_000))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| panic!("{e}"))
}

fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or_else(|e| panic!("{e}"))
}

/// Everything one transition writes, serialised.
struct Rows {
    id: String,
    number: String,
    customer: String,
    status: &'static str,
    placed_at: (i64, i64),
    deadline: Option<(i64, i64)>,
    deadline_kind: Option<String>,
    expected: i64,
    version: i64,
    snapshot: String,
    events: Vec<(i64, String)>,
    outbox: Vec<(String, String)>,
    dedupe: Vec<String>,
    /// `(carrier, waybill)`.
    new_waybills: Vec<(String, String)>,
}

impl Rows {
    /// The rows of `decision`, taken on version `expected`, that led to `order`.
    fn of(
        order: &Order,
        expected: u64,
        decision: &Decision,
        dedupe: Vec<String>,
        new_waybills: Vec<(String, String)>,
    ) -> Rows {
        let id = order.id().to_string();
        let first_seq = decision.events.first().map_or(order.version(), |e| e.seq);
        let mut outbox = Vec::new();
        for (i, effect) in decision.effects.iter().enumerate() {
            // The engine's rule: the reservation ran before commit, deadlines live on the order.
            if !effect.before_commit() && !matches!(effect, Effect::Schedule { .. }) {
                outbox.push((effect.key(&id, first_seq, i), json(effect)));
            }
        }
        let deadline = order.next_deadline();
        Rows {
            number: order.number().to_string(),
            customer: order.customer().as_str().to_owned(),
            status: order.status().as_str(),
            placed_at: split(order.placed_at()),
            deadline: deadline.map(|(at, _)| split(at)),
            deadline_kind: deadline.map(|(_, kind)| json(&kind)),
            expected: int(expected),
            version: int(order.version()),
            snapshot: json(order),
            events: decision.events.iter().map(|e| (int(e.seq), json(e))).collect(),
            outbox,
            dedupe,
            new_waybills,
            id,
        }
    }
}

/// One transition: every row in one `BEGIN IMMEDIATE` transaction, compare-and-set on the
/// version for an existing order.
fn write(conn: &mut Connection, rows: &Rows) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (deadline_at, deadline_ns) = (rows.deadline.map(|d| d.0), rows.deadline.map(|d| d.1));
    if rows.expected == 0 {
        tx.prepare_cached(
            "INSERT INTO orders (id, number, customer, status, placed_at, placed_at_ns, next_deadline_at,
                 next_deadline_ns, next_deadline_kind, version, snapshot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            rows.id,
            rows.number,
            rows.customer,
            rows.status,
            rows.placed_at.0,
            rows.placed_at.1,
            deadline_at,
            deadline_ns,
            rows.deadline_kind,
            rows.version,
            rows.snapshot
        ])?;
    } else {
        let updated = tx
            .prepare_cached(
                "UPDATE orders SET status = ?3, next_deadline_at = ?4, next_deadline_ns = ?5, next_deadline_kind = ?6,
                     version = ?7, snapshot = ?8
                 WHERE id = ?1 AND version = ?2",
            )?
            .execute(params![
                rows.id,
                rows.expected,
                rows.status,
                deadline_at,
                deadline_ns,
                rows.deadline_kind,
                rows.version,
                rows.snapshot
            ])?;
        assert_eq!(updated, 1, "no concurrent writer in this benchmark");
    }
    {
        let mut insert = tx.prepare_cached("INSERT INTO events (order_id, seq, body) VALUES (?1, ?2, ?3)")?;
        for (seq, body) in &rows.events {
            insert.execute(params![rows.id, seq, body])?;
        }
    }
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO outbox (key, order_id, effect, available_at, available_ns) VALUES (?1, ?2, ?3, ?4, 0)
             ON CONFLICT (key) DO NOTHING",
        )?;
        let min_at = DateTime::<Utc>::MIN_UTC.timestamp_micros();
        for (key, effect) in &rows.outbox {
            insert.execute(params![key, rows.id, effect, min_at])?;
        }
    }
    for key in &rows.dedupe {
        tx.prepare_cached("INSERT INTO dedupe_keys (key, order_id) VALUES (?1, ?2)")?.execute(params![key, rows.id])?;
    }
    for (carrier, waybill) in &rows.new_waybills {
        tx.prepare_cached("INSERT INTO waybills (carrier, waybill, order_id) VALUES (?1, ?2, ?3)")?
            .execute(params![carrier, waybill, rows.id])?;
    }
    tx.commit()
}

struct Raw {
    conn: Connection,
    workflow: Workflow,
    buyer: Actor,
    form: PlaceOrderForm,
    n: u64,
    _db: TempDb,
}

impl Raw {
    fn new(tag: &str) -> Raw {
        let db = TempDb::new(tag);
        // The store creates the schema; the raw connection then sets the store's pragmas.
        drop(SqliteStore::open(db.path()).unwrap_or_else(|e| panic!("{e}")));
        let conn = Connection::open(db.path()).unwrap_or_else(|e| panic!("{e}"));
        conn.busy_timeout(Duration::from_secs(5)).unwrap_or_else(|e| panic!("{e}"));
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode, "wal");
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap_or_else(|e| panic!("{e}"));
        Raw { conn, workflow: Workflow::default(), buyer: buyer("alice"), form: sample_form("alice"), n: 0, _db: db }
    }

    /// Placement decided on the core, the order built from its events.
    /// The dedupe keys the engine writes for the placement's idempotency key.
    fn place_keys(&self) -> Vec<String> {
        let key = RequestKey::new("place", &self.buyer, &idempotency_key(self.n), &self.form);
        key.unwrap_or_else(|e| panic!("{e}")).rows().to_vec()
    }

    fn place(&mut self) -> (Order, Decision) {
        self.n += 1;
        let number = OrderNumber::from_value(self.n).unwrap_or_else(|e| panic!("{e}"));
        let new = NewOrder { id: OrderId::new_v7(), number };
        let decision =
            self.workflow.place(&self.buyer, &self.form, new, &Ctx::at(t0())).unwrap_or_else(|e| panic!("{e}"));
        let order = Order::from_events(&decision.events).unwrap_or_else(|e| panic!("{e}"));
        (order, decision)
    }

    /// Decides `command` on `order` and evolves it in place; returns the rows to write.
    fn transition(&self, order: &mut Order, at: DateTime<Utc>, command: &Command) -> Rows {
        let decision = self.workflow.decide(order, command, &Ctx::at(at)).unwrap_or_else(|e| panic!("{e}"));
        let expected = order.version();
        let before = order.carrier_waybills().count();
        for event in &decision.events {
            evolve(order, event);
        }
        let new_waybills = order
            .carrier_waybills()
            .skip(before)
            .map(|(carrier, waybill)| (carrier.to_owned(), waybill.to_owned()))
            .collect();
        Rows::of(order, expected, &decision, Vec::new(), new_waybills)
    }

    fn load(&self, id: &str) -> Order {
        let snapshot: String = self
            .conn
            .prepare_cached("SELECT snapshot FROM orders WHERE id = ?1")
            .and_then(|mut stmt| stmt.query_row(params![id], |row| row.get(0)))
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_str(&snapshot).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The lifecycle as a host would write it: load, decide, write, per transition.
    fn lifecycle(&mut self) -> OrderStatus {
        let (placed, decision) = self.place();
        let rows = Rows::of(&placed, 0, &decision, self.place_keys(), Vec::new());
        write(&mut self.conn, &rows).unwrap_or_else(|e| panic!("{e}"));
        let mut status = placed.status();
        for (at, command) in steps(&placed, self.n) {
            let mut order = self.load(&rows.id);
            let rows = self.transition(&mut order, at, &command);
            write(&mut self.conn, &rows).unwrap_or_else(|e| panic!("{e}"));
            status = order.status();
        }
        status
    }

    /// The rows of one lifecycle, decided in memory (for the writes-only variant).
    fn lifecycle_rows(&mut self) -> Vec<Rows> {
        let (mut order, decision) = self.place();
        let mut all = vec![Rows::of(&order, 0, &decision, self.place_keys(), Vec::new())];
        for (at, command) in steps(&order.clone(), self.n) {
            all.push(self.transition(&mut order, at, &command));
        }
        all
    }

    fn write_all(&mut self, lifecycle: &[Rows]) {
        for rows in lifecycle {
            write(&mut self.conn, rows).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// Lifecycles whose rows are prepared at once for the writes-only variant (bounds the memory
/// held outside the timing).
const PREPARED: u64 = 200;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"))
}

fn sqlite_vs_raw(c: &mut Criterion) {
    let rt = runtime();
    let mut engine = EngineSide::new();
    let mut raw = Raw::new("vs-raw-raw");
    let mut writes_only = Raw::new("vs-raw-writes");

    // Outside the timing: both complete the order and store the same rows.
    assert_eq!(rt.block_on(engine.lifecycle()), OrderStatus::Completed);
    assert_eq!(raw.lifecycle(), OrderStatus::Completed);
    assert_same_rows(&rt, &engine, &raw);

    let mut group = c.benchmark_group("sqlite_vs_raw");
    group.throughput(Throughput::Elements(TRANSITIONS));
    group.bench_function("engine_on_sqlite_store", |b| b.iter(|| black_box(rt.block_on(engine.lifecycle()))));
    group.bench_function("raw_rusqlite", |b| b.iter(|| black_box(raw.lifecycle())));
    group.bench_function("raw_rusqlite_writes_only", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(PREPARED);
                let prepared: Vec<Vec<Rows>> = (0..n).map(|_| writes_only.lifecycle_rows()).collect();
                let start = Instant::now();
                for lifecycle in &prepared {
                    writes_only.write_all(lifecycle);
                }
                elapsed += start.elapsed();
                left -= n;
            }
            elapsed
        })
    });
    group.finish();
}

/// After one lifecycle each, the engine's file and the raw file hold the same rows: the same
/// count in every table and the same final order (but for its id and number).
fn assert_same_rows(rt: &tokio::runtime::Runtime, engine: &EngineSide, raw: &Raw) {
    let engine_conn = Connection::open(engine._db.path()).unwrap_or_else(|e| panic!("{e}"));
    let query = |conn: &Connection, sql: &str| -> String {
        conn.query_row(sql, [], |row| row.get::<_, String>(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    for sql in [
        "SELECT COUNT(*) || ' ' || SUM(version) || ' ' || group_concat(status) FROM orders",
        "SELECT COUNT(*) || ' ' || SUM(seq) FROM events",
        "SELECT COUNT(*) || ' ' || SUM(length(effect)) FROM outbox",
        "SELECT COUNT(*) || ' ' || group_concat(key) FROM dedupe_keys",
        "SELECT COUNT(*) || ' ' || group_concat(carrier || ':' || waybill) FROM waybills",
    ] {
        assert_eq!(query(&engine_conn, sql), query(&raw.conn, sql), "{sql}");
    }
    let id: String = query(&raw.conn, "SELECT id FROM orders");
    let raw_order = raw.load(&id);
    let engine_id: OrderId = query(&engine_conn, "SELECT id FROM orders").parse().unwrap_or_else(|e| panic!("{e}"));
    let engine_order = rt.block_on(engine.engine.adapters().store.load(engine_id)).unwrap_or_else(|e| panic!("{e}"));
    // The two orders differ only in their id and number (each side made its own).
    let without_ids = |order: &Order| {
        let mut json = serde_json::to_value(order).unwrap_or_else(|e| panic!("{e}"));
        if let Some(fields) = json.as_object_mut() {
            fields.remove("id");
            fields.remove("number");
        }
        json
    };
    assert_eq!(Some(without_ids(&raw_order)), engine_order.as_ref().map(without_ids));
}

/// Block size of the paired check.
const BLOCK: usize = 20;

/// Under `cargo bench` only: the three variants in alternating blocks of [`BLOCK`] lifecycles
/// for about `seconds`; prints the median wall time and the CPU time per lifecycle of each, and
/// the ratios.
fn paired_check(seconds: f64) {
    let rt = runtime();
    let mut engine = EngineSide::new();
    let mut raw = Raw::new("vs-raw-paired-raw");
    let mut writes_only = Raw::new("vs-raw-paired-writes");
    let (mut e, mut r, mut w) = (Blocks::new(BLOCK), Blocks::new(BLOCK), Blocks::new(BLOCK));
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds {
        e.time(|| {
            for _ in 0..BLOCK {
                black_box(rt.block_on(engine.lifecycle()));
            }
        });
        r.time(|| {
            for _ in 0..BLOCK {
                black_box(raw.lifecycle());
            }
        });
        let prepared: Vec<Vec<Rows>> = (0..BLOCK).map(|_| writes_only.lifecycle_rows()).collect();
        w.time(|| {
            for lifecycle in &prepared {
                writes_only.write_all(lifecycle);
            }
        });
    }
    let blocks = e.count();
    let ((e_wall, e_cpu), (r_wall, r_cpu), (w_wall, w_cpu)) = (e.per_run(), r.per_run(), w.per_run());
    println!("paired check, {blocks} rounds of {BLOCK} lifecycles each (µs per lifecycle):");
    println!("  engine on SqliteStore: wall median {e_wall:.1}, cpu {e_cpu:.1}");
    println!("  raw rusqlite:          wall median {r_wall:.1}, cpu {r_cpu:.1}");
    println!("  raw, writes only:      wall median {w_wall:.1}, cpu {w_cpu:.1}");
    println!(
        "  engine throughput / raw: wall {:.3}, cpu {:.3}; engine / writes only: wall {:.3}, cpu {:.3}",
        r_wall / e_wall,
        r_cpu / e_cpu,
        w_wall / e_wall,
        w_cpu / e_cpu
    );
}

criterion_group!(benches, sqlite_vs_raw);

fn main() {
    benches();
    if common::cpu_time::cross_checks_wanted() {
        paired_check(30.0);
    }
    Criterion::default().configure_from_args().final_summary();
}
