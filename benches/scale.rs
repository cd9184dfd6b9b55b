//! The reads a shop runs all day, at growing store sizes: listing 50 orders of one status
//! (the first page, and a deep page a third of the way in, by keyset), fetching due deadlines,
//! the staff queries (a page of each work list, counts per status) and a page of the event feed,
//! on `MemoryStore`, `SqliteStore` and `PgStore`. Each should take about as long at a million
//! orders as at ten thousand: every one reads an index range the size of its page.
//!
//! Sizes come from `ORDERFLOW_SCALE_ORDERS` (comma-separated, e.g. `10000,1000000`); without it
//! `cargo bench` uses 10,000 and 1,000,000, and `cargo test --benches` 1,000 and 5,000. The
//! stores come from `ORDERFLOW_SCALE_STORES` (comma-separated of `memory`, `sqlite`,
//! `postgres`; all three by default); PostgreSQL only with `DATABASE_URL` set (else it says so
//! and is left out), in a schema of its own (`bench_scale_<size>_<pid>`, dropped at the end),
//! vacuumed and analysed once filled, as a store in service would be.
//!
//! The stores are filled through the store API with prebuilt commits (SQLite and memory: one
//! `create` per order; PostgreSQL: `PgStore::create_many`, 10,000 orders a call, the same rows
//! streamed with `COPY`): order `i` is placed at
//! `t0 + i` minutes (one line, so a million orders fit in memory) and decided by the pure core
//! to one of these statuses, by `i % 10`: 0–1 awaiting payment (pay-by deadline), 2 ready to
//! ship, 3 in fulfilment, 4 shipped (auto-confirm deadline), 5 cancelled, 6–9 completed
//! (after-sales deadlines). Besides, one unpaid order in twenty is on hold for its address, one
//! in fifty has a payment anomaly, and one completed order in fifty has an open complaint, so
//! every staff query finds a share of the orders that grows with the store. Each order is one
//! `create` with all its events.
//!
//! Deadlines are read at two moments: `early` (two hours after the first order: the pay-by of
//! the first unpaid orders, about 18, is due whatever the size, and every other deadline lies
//! ahead) and `late` (at the last order: every unpaid order and most others are due; the call
//! returns the first 100).
//!
//! Filling a million orders takes minutes: `ORDERFLOW_SCALE_ORDERS=10000,1000000 bash
//! scripts/with-postgres.sh cargo bench --all-features --bench scale` (add
//! `ORDERFLOW_SCALE_STORES=postgres` for PostgreSQL alone: the memory store of a million orders
//! holds about 8 GiB).

mod common;

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use common::TempDb;
use criterion::{BenchmarkId, Criterion};
use orderflow::adapters::postgres::{PgOptions, PgStore};
use orderflow::adapters::sqlite::SqliteStore;
use orderflow::decide::after;
use orderflow::order::{CaseKind, CaseRequest, HoldReason, HoldReasonKind, TrackingKind};
use orderflow::ports::{
    Commit, FeedCursor, OrderFilter, OrderQuery, OrderRepository, OrderSummary, QueryCursor, WorkQueue,
};
use orderflow::testing::{FakeCarrier, buyer, carrier, pack_remaining, provider, reviewer, sample_form, t0, warehouse};
use orderflow::{
    Action, Command, Ctx, Event, MemoryStore, NewOrder, Order, OrderId, OrderNumber, OrderStatus, PackageId, Workflow,
    evolve,
};

/// Orders per page.
const PAGE: usize = 50;

/// Due deadlines fetched per call.
const DUE: usize = 100;

fn sizes() -> Vec<u64> {
    let parsed = std::env::var("ORDERFLOW_SCALE_ORDERS").ok().map(|list| {
        list.split(',')
            .map(|n| n.trim().replace('_', "").parse().unwrap_or_else(|e| panic!("ORDERFLOW_SCALE_ORDERS: {n:?}: {e}")))
            .collect::<Vec<u64>>()
    });
    match parsed {
        Some(sizes) => sizes,
        None if common::full_run() => vec![10_000, 1_000_000],
        None => vec![1_000, 5_000],
    }
}

fn placed_at(i: u64) -> DateTime<Utc> {
    after(t0(), TimeDelta::minutes(i64::try_from(i).unwrap_or(i64::MAX)))
}

/// Order `i` as one commit's worth: the order and all its events.
fn order(wf: &Workflow, i: u64) -> (Order, Vec<Event>) {
    let customer = format!("c{}", i % 5_000);
    let mut form = sample_form(&customer);
    form.lines.truncate(1);
    let at = placed_at(i);
    let number = OrderNumber::from_value(i + 1).unwrap_or_else(|e| panic!("{e}"));
    let new = NewOrder { id: OrderId::new_v7(), number };
    let decision = wf.place(&buyer(&customer), &form, new, &Ctx::at(at)).unwrap_or_else(|e| panic!("{e}"));
    let mut events = decision.events;
    let mut order = Order::from_events(&events).unwrap_or_else(|e| panic!("{e}"));

    let package = PackageId(1);
    let waybill = format!("W{i:010}");
    let minutes = |m: i64| after(at, TimeDelta::minutes(m));
    let mut steps: Vec<(DateTime<Utc>, Command)> = Vec::new();
    let pay = Action::CapturePayment { txn_id: format!("T{i}"), amount: order.totals().total };
    match i % 10 {
        0 | 1 => {
            if i % 20 == 1 {
                let hold = Action::Hold { reasons: vec![HoldReason::AddressProblem], note: String::new() };
                steps.push((minutes(1), Command::new(reviewer(), hold)));
            }
            if i.is_multiple_of(50) {
                let amount = order.totals().total;
                let odd = Action::RecordPaymentAnomaly {
                    txn_id: format!("A{i}"),
                    amount,
                    reason: orderflow::AnomalyReason::stated("currency"),
                };
                steps.push((minutes(2), Command::new(provider(), odd)));
            }
        }
        5 => steps
            .push((minutes(5), Command::new(buyer(&customer), Action::Cancel { reason: "changed my mind".into() }))),
        status => {
            steps.push((minutes(3), Command::new(provider(), pay)));
            if status >= 3 {
                steps.push((minutes(60), Command::new(warehouse(), Action::IssuePickList)));
            }
            if status == 4 || status >= 6 {
                let book = Action::BookShipment {
                    package,
                    carrier: "SF".into(),
                    service: "standard".into(),
                    reason: orderflow::ChoiceReason::stated("cheapest"),
                };
                steps.push((minutes(90), Command::new(warehouse(), pack_remaining(&order))));
                steps.push((minutes(100), Command::new(warehouse(), book)));
                let record = Action::RecordWaybill { package, waybill: waybill.clone() };
                steps.push((minutes(110), Command::new(carrier("SF"), record)));
            }
            if status >= 6 {
                let update = FakeCarrier::update(TrackingKind::Delivered, minutes(2_000), "D");
                let track = Action::RecordTracking { waybill, update };
                steps.push((minutes(2_001), Command::new(carrier("SF"), track)));
                steps.push((minutes(3_000), Command::new(buyer(&customer), Action::ConfirmReceipt)));
                if i % 50 == 6 {
                    let request = CaseRequest {
                        kind: CaseKind::Complaint,
                        lines: Vec::new(),
                        reason_code: "late".into(),
                        text: "the parcel came late".into(),
                        evidence: Vec::new(),
                    };
                    steps.push((minutes(3_100), Command::new(buyer(&customer), Action::OpenCase { request })));
                }
            }
        }
    }
    for (at, command) in steps {
        let decision = wf.decide(&order, &command, &Ctx::at(at)).unwrap_or_else(|e| panic!("order {i}: {e}"));
        for event in decision.events {
            evolve(&mut order, &event);
            events.push(event);
        }
    }
    (order, events)
}

/// Where deep pages start: the first ready-to-ship order a third of the way in, and the feed a
/// third of the way in (just before the first event of `feed_order`).
#[derive(Clone, Copy)]
struct Deep {
    id: OrderId,
    cursor: QueryCursor,
    feed: FeedCursor,
    feed_order: OrderId,
}

/// Orders per `PgStore::create_many` call.
const PG_BATCH: usize = 10_000;

/// The stores of one size, each `None` when the run leaves it out.
struct Stores {
    memory: Option<MemoryStore>,
    sqlite: Option<SqliteStore>,
    postgres: Option<Postgres>,
}

/// Which stores the run measures: `ORDERFLOW_SCALE_STORES`, or all three.
fn stores_wanted() -> Vec<String> {
    const KNOWN: [&str; 3] = ["memory", "sqlite", "postgres"];
    let Ok(list) = std::env::var("ORDERFLOW_SCALE_STORES") else { return KNOWN.map(String::from).to_vec() };
    let wanted: Vec<String> = list.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    for name in &wanted {
        assert!(KNOWN.contains(&name.as_str()), "ORDERFLOW_SCALE_STORES: unknown store {name:?} (known: {KNOWN:?})");
    }
    wanted
}

/// A `PgStore` in a schema of its own, and the bench's own connection for what a store does
/// not do: vacuuming, reading where the feed stands, dropping the schema.
struct Postgres {
    store: PgStore,
    admin: tokio_postgres::Client,
    schema: String,
}

impl Postgres {
    /// The store for `n` orders, or `None` (said why) without `DATABASE_URL`.
    fn connect(rt: &tokio::runtime::Runtime, n: u64) -> Option<Postgres> {
        let url = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                eprintln!(
                    "scale: PostgreSQL left out, DATABASE_URL is not set. Run it with a server:\n  \
                     bash scripts/with-postgres.sh cargo bench --all-features --bench scale"
                );
                return None;
            }
        };
        let schema = format!("bench_scale_{n}_{}", std::process::id());
        let connected = rt.block_on(async {
            let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await?;
            let store = PgStore::connect(PgOptions::new(url).schema(&schema)).await?;
            Ok::<_, Box<dyn std::error::Error>>(Postgres { store, admin, schema })
        });
        Some(connected.unwrap_or_else(|e| panic!("PostgreSQL: {e}")))
    }

    /// Vacuums and analyses the filled tables, as autovacuum does to a store in service.
    fn settle(&self, rt: &tokio::runtime::Runtime) {
        let started = Instant::now();
        let sql = format!("VACUUM (ANALYZE) {0}.orders, {0}.events", self.schema);
        rt.block_on(self.admin.batch_execute(&sql)).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("vacuumed and analysed {} in {:.1} s", self.schema, started.elapsed().as_secs_f64());
    }

    /// The feed cursor just before the first event of `order`: the transaction that wrote it
    /// and the position before its own.
    fn feed_before(&self, rt: &tokio::runtime::Runtime, order: OrderId) -> FeedCursor {
        let sql = format!("SELECT xact_id::text, position FROM {}.events WHERE order_id = $1 AND seq = 1", self.schema);
        let row = rt.block_on(self.admin.query_one(&sql, &[&order.as_uuid()])).unwrap_or_else(|e| panic!("{e}"));
        let xact: String = row.get(0);
        let position: i64 = row.get(1);
        let epoch = xact.parse().unwrap_or_else(|e| panic!("transaction id {xact:?}: {e}"));
        FeedCursor::new(epoch, u64::try_from(position - 1).unwrap_or_else(|e| panic!("position {position}: {e}")))
    }

    fn drop_schema(self, rt: &tokio::runtime::Runtime) {
        drop(self.store);
        let sql = format!("DROP SCHEMA {} CASCADE", self.schema);
        rt.block_on(self.admin.batch_execute(&sql)).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Order and events as one `create`'s commit.
fn commit_of<'a>(order: &'a Order, events: &'a [Event]) -> Commit<'a> {
    Commit { order, expected_version: 0, events, outbox: &[], dedupe_keys: &[] }
}

/// Fills `stores` with `n` orders; returns where deep pages start.
fn fill(rt: &tokio::runtime::Runtime, n: u64, stores: &Stores) -> Deep {
    let wf = Workflow::default();
    let mut deep = None;
    let mut events_written = 0u64;
    let mut feed = None;
    let mut batch: Vec<(Order, Vec<Event>)> = Vec::new();
    let pg_batch = |batch: &mut Vec<(Order, Vec<Event>)>| {
        if let Some(pg) = &stores.postgres {
            let commits: Vec<Commit<'_>> = batch.iter().map(|(order, events)| commit_of(order, events)).collect();
            rt.block_on(pg.store.create_many(&commits)).unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
        }
        batch.clear();
    };
    let started = Instant::now();
    for i in 0..n {
        let (order, events) = order(&wf, i);
        if i >= n / 3 && deep.is_none() && order.status() == OrderStatus::ReadyToShip {
            deep = Some((order.id(), QueryCursor::of(&OrderSummary::of(&order))));
        }
        if i >= n / 3 && feed.is_none() {
            feed = Some((FeedCursor::new(0, events_written), order.id()));
        }
        events_written += events.len() as u64;
        let commit = commit_of(&order, &events);
        rt.block_on(async {
            if let Some(memory) = &stores.memory {
                memory.create(commit).await?;
            }
            match &stores.sqlite {
                Some(sqlite) => sqlite.create(commit).await,
                None => Ok(()),
            }
        })
        .unwrap_or_else(|e| panic!("order {i}: {e}"));
        if stores.postgres.is_some() {
            batch.push((order, events));
            if batch.len() == PG_BATCH {
                pg_batch(&mut batch);
            }
        }
        if common::full_run() && (i + 1) % 100_000 == 0 {
            eprintln!("filled {} of {n} orders in {:.0} s", i + 1, started.elapsed().as_secs_f64());
        }
    }
    pg_batch(&mut batch);
    let mib = |sqlite: &SqliteStore, suffix: &str| {
        let mut name = sqlite.path().map(|p| p.as_os_str().to_owned()).unwrap_or_default();
        name.push(suffix);
        std::fs::metadata(name).map_or(0.0, |m| m.len() as f64 / 1_048_576.0)
    };
    eprintln!("filled {n} orders in {:.1} s", started.elapsed().as_secs_f64());
    if let Some(sqlite) = &stores.sqlite {
        eprintln!("SQLite file {:.0} MiB (+ WAL {:.0} MiB)", mib(sqlite, ""), mib(sqlite, "-wal"));
    }
    let (id, cursor) = deep.unwrap_or_else(|| panic!("no ready-to-ship order after the first third"));
    let (feed, feed_order) = feed.unwrap_or_else(|| panic!("no orders"));
    Deep { id, cursor, feed, feed_order }
}

/// Benchmarks the reads on one store of `n` orders.
fn reads<S: OrderRepository + WorkQueue>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    store: &S,
    n: u64,
    deep: &Deep,
) {
    let id = deep.id;
    let ready = OrderFilter { status: Some(OrderStatus::ReadyToShip), ..OrderFilter::default() };
    let early = after(t0(), TimeDelta::hours(2));
    let late = placed_at(n);

    // Outside the timing: the reads return what they should.
    let page = rt.block_on(store.list(&ready, None, PAGE)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.items.len(), PAGE);
    assert!(page.items.iter().all(|s| s.status == OrderStatus::ReadyToShip));
    let page = rt.block_on(store.list(&ready, Some(id), PAGE)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.items.len(), PAGE);
    assert!(page.items.iter().all(|s| s.id > id && s.status == OrderStatus::ReadyToShip));
    let due = rt.block_on(store.due_deadlines(early, DUE)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!due.is_empty() && due.len() < DUE && due.iter().all(|d| d.due_at <= early), "{} due", due.len());
    let due = rt.block_on(store.due_deadlines(late, DUE)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(due.len(), DUE);

    let mut group = c.benchmark_group(format!("scale/{name}"));
    group.bench_with_input(BenchmarkId::new("list_ready_to_ship_first_50", n), &n, |b, _| {
        b.iter(|| black_box(rt.block_on(store.list(&ready, None, PAGE))))
    });
    group.bench_with_input(BenchmarkId::new("list_ready_to_ship_50_deep", n), &n, |b, _| {
        b.iter(|| black_box(rt.block_on(store.list(&ready, Some(id), PAGE))))
    });
    group.bench_with_input(BenchmarkId::new("due_deadlines_early", n), &n, |b, _| {
        b.iter(|| black_box(rt.block_on(store.due_deadlines(early, DUE))))
    });
    group.bench_with_input(BenchmarkId::new("due_deadlines_late_first_100", n), &n, |b, _| {
        b.iter(|| black_box(rt.block_on(store.due_deadlines(late, DUE))))
    });
    group.finish();
    staff_queries(c, rt, name, store, n, deep);
}

/// The staff queries and the event feed on one store of `n` orders.
fn staff_queries<S: OrderRepository>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    store: &S,
    n: u64,
    deep: &Deep,
) {
    let ship_within = orderflow::WorkflowConfig::default().ship_within;
    let queries = [
        ("ready_to_pick_first_50", OrderQuery::ready_to_pick()),
        ("ready_to_pick_50_deep", OrderQuery::ready_to_pick().after(Some(deep.cursor))),
        (
            "two_statuses_newest_50",
            OrderQuery::statuses([OrderStatus::AwaitingPayment, OrderStatus::InFulfilment]).newest_first(),
        ),
        ("on_hold_address_50", OrderQuery::on_hold(Some(HoldReasonKind::AddressProblem))),
        // Due before the ship-by of the orders of the first two hours: the same few at any size.
        ("ship_by_due_early", OrderQuery::ship_by_due(after(t0() + ship_within, TimeDelta::hours(2)))),
        ("payment_anomalies_newest_50", OrderQuery::payment_anomalies().newest_first()),
        ("open_after_sales_50", OrderQuery::open_after_sales()),
    ];
    // Outside the timing: each finds what it should.
    for (label, query) in &queries {
        let page = rt.block_on(store.query(query)).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert!((1..=PAGE).contains(&page.items.len()), "{label}: {} orders", page.items.len());
        assert!(page.items.iter().all(|s| query.statuses.is_empty() || query.statuses.contains(&s.status)));
    }
    let counts = rt.block_on(store.count_by_status()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(counts.values().sum::<u64>(), n);
    let feed = rt.block_on(store.events_after(deep.feed, DUE)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(feed.events.len(), DUE);

    let mut group = c.benchmark_group(format!("scale/{name}/queries"));
    for (label, query) in &queries {
        group.bench_with_input(BenchmarkId::new(*label, n), &n, |b, _| {
            b.iter(|| black_box(rt.block_on(store.query(query))))
        });
    }
    group.bench_with_input(BenchmarkId::new("count_by_status", n), &n, |b, _| {
        b.iter(|| black_box(rt.block_on(store.count_by_status())))
    });
    group.bench_with_input(BenchmarkId::new("feed_100_a_third_in", n), &n, |b, _| {
        b.iter(|| black_box(rt.block_on(store.events_after(deep.feed, DUE))))
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let wanted = stores_wanted();
    let wants = |name: &str| wanted.iter().any(|w| w == name);
    for n in sizes() {
        let db = TempDb::new(&format!("scale-{n}"));
        let mut stores = Stores {
            memory: wants("memory").then(MemoryStore::new),
            sqlite: wants("sqlite").then(|| SqliteStore::open(db.path()).unwrap_or_else(|e| panic!("{e}"))),
            postgres: if wants("postgres") { Postgres::connect(&rt, n) } else { None },
        };
        let deep = fill(&rt, n, &stores);
        if let Some(memory) = stores.memory.take() {
            reads(&mut c, &rt, "memory", &memory, n, &deep);
        }
        if let Some(sqlite) = stores.sqlite.take() {
            reads(&mut c, &rt, "sqlite", &sqlite, n, &deep);
        }
        if let Some(pg) = stores.postgres.take() {
            pg.settle(&rt);
            let deep = Deep { feed: pg.feed_before(&rt, deep.feed_order), ..deep };
            reads(&mut c, &rt, "postgres", &pg.store, n, &deep);
            pg.drop_schema(&rt);
        }
    }
    c.final_summary();
}
