//! The engine on `PgStore` against raw SQL (tokio-postgres directly) writing the same rows, at
//! 1, 2, 4, 8 and 16 concurrent workers. One criterion group, `postgres_vs_raw`, with `engine/N` and
//! `raw/N` side by side; one iteration is one transition per worker, so the throughput criterion
//! reports is transitions per second.
//!
//! A transition is one step of an order's lifecycle: place (auto-approved, with an idempotency
//! key) → capture → pick list → pack → book shipment → waybill → three tracking updates (the
//! third is `Delivered`) → confirm receipt; each worker runs lifecycles back to back.
//! - `engine`: `Engine::place` / `Engine::execute_idempotent` on one shared `PgStore` (pool of
//!   16): every transition is the engine's own work (idempotency check, load, decide, append
//!   with the snapshot's compare-and-set, its events, outbox rows and the dedupe key).
//! - `raw`: one connection per worker and two statements prepared once, writing each
//!   transition in one statement (one round trip, its own transaction: data-modifying CTEs,
//!   `benches/postgres_raw_create.sql` or `benches/postgres_raw_append.sql` for the order row,
//!   then `benches/postgres_raw_rows.sql`) with exactly the
//!   rows the engine's store wrote for the same step (recorded once from an engine on
//!   `MemoryStore`): the order row (inserted, or updated with the version compare-and-set), the
//!   events, the outbox rows, the dedupe keys and, at the waybill step, the waybill. It reads
//!   nothing and decides nothing: the best raw SQL can do for these rows.
//!
//! Under `cargo bench`, after criterion: a paired check (engine and raw batches alternated,
//! 15 rounds per worker count) and, beside each worker count, `pgbench` running the same
//! transition (`benches/postgres_pgbench.sql`) on the same server, with the load average. On a
//! server with `pg_stat_statements` loaded (`ORDERFLOW_PG_DURABLE=1`), the statements' share of
//! the server's time and the WAL flushes are printed after the paired check.
//!
//! The reported figures are taken with durability on (the server's defaults: `fsync`,
//! `synchronous_commit`, `full_page_writes` on):
//! `ORDERFLOW_PG_DURABLE=1 bash scripts/with-postgres.sh cargo bench --all-features --bench postgres_vs_raw`.
//!
//! Both write to tables created by `PgStore::connect`, each in a schema of its own
//! (`bench_engine_<pid>`, `bench_raw_<pid>`, dropped at the end).
//!
//! `bash scripts/with-postgres.sh cargo bench --all-features --bench postgres_vs_raw`
//! Without `DATABASE_URL` it prints why and does nothing (so `cargo test --benches` passes).

#[path = "common/cpu_time.rs"]
mod cpu_time;
#[path = "common/postgres.rs"]
mod pg;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{BenchmarkId, Criterion, Throughput};
use orderflow::adapters::postgres::{PgOptions, PgStore};
use orderflow::engine::{Adapters, Engine, Ports, RequestKey};
use orderflow::order::{PackageItem, ScannedItem, TrackingKind, TrackingUpdate};
use orderflow::ports::{OrderRepository, QueryColumns, SystemClock, WorkQueue};
use orderflow::stored::{EVENT_VERSION, SNAPSHOT_VERSION};
use orderflow::testing::{
    FakeCarrier, FakeGateway, RecordingNotifier, buyer, carrier, provider, sample_form, warehouse,
};
use orderflow::{
    Action, Actor, Command, MemoryInventory, MemoryStore, Money, Order, OrderId, PackageId, PlaceOrderForm, Sku,
    Workflow,
};
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

/// The worker counts compared.
const WORKERS: [usize; 5] = [1, 2, 4, 8, 16];

/// The most workers of any run.
const MAX_WORKERS: usize = 16;

/// Transitions in one lifecycle: the placement and nine commands.
const STEPS: usize = 10;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

type BenchEngine<S> =
    Engine<Adapters<S, Arc<FakeGateway>, Arc<FakeCarrier>, Arc<MemoryInventory>, Arc<RecordingNotifier>, SystemClock>>;

/// The engine side's engine, shared by its workers.
type PgEngine = Arc<BenchEngine<Arc<PgStore>>>;

/// The raw side's connections, one per worker.
type RawClients = [Arc<tokio::sync::Mutex<RawClient>>];

fn engine<S: OrderRepository + WorkQueue>(store: S) -> BenchEngine<S> {
    let inventory = Arc::new(MemoryInventory::new());
    for sku in ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"] {
        inventory.set_stock(&Sku::new(sku).unwrap_or_else(|e| panic!("{e}")), u32::MAX);
    }
    Engine::new(
        Workflow::default(), // auto-approve
        Adapters {
            store,
            payments: Arc::new(FakeGateway::new("alipay", b"provider-secret")),
            logistics: Arc::new(FakeCarrier::new("SF", b"carrier-secret")),
            inventory,
            notifier: Arc::new(RecordingNotifier::new()),
            clock: SystemClock,
        },
    )
}

/// What every order of the run shares: the form, and what the commands refer to (line ids,
/// total), learned from one placement.
struct Script {
    buyer: Actor,
    form: PlaceOrderForm,
    total: Money,
    items: Vec<PackageItem>,
    scanned: Vec<ScannedItem>,
}

impl Script {
    fn new(placed: &Order) -> Script {
        Script {
            buyer: buyer("alice"),
            form: sample_form("alice"),
            total: placed.totals().total,
            items: placed.lines().iter().map(|l| PackageItem { line: l.id, quantity: l.quantity }).collect(),
            scanned: placed
                .lines()
                .iter()
                .map(|l| ScannedItem {
                    sku: l.sku.to_string(),
                    product_name: l.product_name.to_string(),
                    variant: l.variant.clone(),
                    quantity: l.quantity,
                })
                .collect(),
        }
    }

    /// Command `step` (1..STEPS) of order number `serial`, and its idempotency key. Waybills
    /// and payment ids are unique per order, as they are in a shop.
    fn command(&self, step: usize, serial: u64) -> (Command, &'static str) {
        let package = PackageId(1);
        let waybill = format!("SF{serial:012}");
        let tracking = |kind: TrackingKind, event: &str| {
            let update = TrackingUpdate {
                kind,
                at: Utc::now() - TimeDelta::seconds(1),
                event_id: event.into(),
                location: "Hangzhou".into(),
                description: kind.describe().into(),
            };
            Command::new(carrier("SF"), Action::RecordTracking { waybill: waybill.clone(), update })
        };
        match step {
            1 => (
                Command::new(
                    provider(),
                    Action::CapturePayment { txn_id: format!("ALI-{serial}"), amount: self.total },
                ),
                "capture",
            ),
            2 => (Command::new(warehouse(), Action::IssuePickList), "pick"),
            3 => (
                Command::new(warehouse(), Action::Pack { items: self.items.clone(), scanned: self.scanned.clone() }),
                "pack",
            ),
            4 => (
                Command::new(
                    warehouse(),
                    Action::BookShipment {
                        package,
                        carrier: "SF".into(),
                        service: "standard".into(),
                        reason: orderflow::ChoiceReason::stated("cheapest of 2 quotes"),
                    },
                ),
                "book",
            ),
            5 => (Command::new(carrier("SF"), Action::RecordWaybill { package, waybill: waybill.clone() }), "waybill"),
            6 => (tracking(TrackingKind::PickedUp, "E1"), "track-1"),
            7 => (tracking(TrackingKind::InTransit, "E2"), "track-2"),
            8 => (tracking(TrackingKind::Delivered, "E3"), "track-3"),
            _ => (Command::new(self.buyer.clone(), Action::ConfirmReceipt), "confirm"),
        }
    }

    /// The dedupe keys the engine writes for transition `step`, with `{id}` where the raw
    /// side puts the order's id (the raw side's placement key is the id, as its orders have no
    /// client key).
    fn dedupe_keys(&self, step: usize, serial: u64) -> Result<Vec<String>, BoxError> {
        let key = if step == 0 {
            RequestKey::new("place", &self.buyer, "{id}", &self.form)?
        } else {
            let (command, key) = self.command(step, serial);
            RequestKey::new("cmd/{id}", &command.actor, key, &command.action)?
        };
        Ok(key.rows().to_vec())
    }

    /// Runs transition `step` of the order `id` (number `serial`) on `engine`; returns the
    /// order's id (new at step 0).
    async fn run<S: OrderRepository + WorkQueue>(
        &self,
        engine: &BenchEngine<S>,
        step: usize,
        id: OrderId,
        serial: u64,
    ) -> Result<Order, BoxError> {
        let outcome = if step == 0 {
            engine.place(&self.buyer, &self.form, Some(&format!("bench-{serial}"))).await?
        } else {
            let (command, key) = self.command(step, serial);
            engine.execute_idempotent(id, command, key).await?
        };
        if outcome.already_applied {
            return Err(format!("step {step} of order {serial} was already applied").into());
        }
        Ok(outcome.order)
    }
}

/// The rows one transition wrote, as the raw side replays them.
struct RecordedCommit {
    expected: i64,
    version: i64,
    customer: String,
    status: String,
    placed_at: DateTime<Utc>,
    deadline_at: Option<DateTime<Utc>>,
    deadline_kind: Option<Value>,
    snapshot: Value,
    /// The index columns of staff queries, as `PgStore` writes them.
    hold_reasons: Vec<String>,
    ship_by: Option<DateTime<Utc>>,
    payment_anomaly: bool,
    open_cases: bool,
    seqs: Vec<i64>,
    bodies: Vec<Value>,
    /// The events' types, as the stores write them beside each body.
    types: Vec<String>,
    /// Outbox keys with the order id replaced by `{id}`.
    outbox_keys: Vec<String>,
    effects: Vec<Value>,
    /// When the outbox rows were written (the last event's time, as `Commit::written_at`).
    written_at: Option<DateTime<Utc>>,
    /// Dedupe keys with the order id (or the placement key) replaced by `{id}`.
    dedupe_keys: Vec<String>,
    /// True when this transition recorded the waybill.
    waybill: bool,
}

fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs one lifecycle on an engine over `MemoryStore` and records what each transition wrote.
async fn record(script: &Script) -> Result<Vec<RecordedCommit>, BoxError> {
    let engine = engine(Arc::new(MemoryStore::new()));
    let store = engine.adapters().store().clone();
    let serial = 0;
    let mut id = OrderId::new_v7();
    let mut version = 0;
    let mut waybills = 0;
    let mut recorded = Vec::with_capacity(STEPS);
    for step in 0..STEPS {
        let order = script.run(&engine, step, id, serial).await?;
        id = order.id();
        let events = store.events(id).await?;
        let new: Vec<_> = events.iter().filter(|e| e.seq > version).collect();
        let claimed = store.claim_outbox(Utc::now() + TimeDelta::days(365), TimeDelta::seconds(1), 1000).await?;
        for item in &claimed {
            store.complete_outbox(&item.key).await?;
        }
        let id_text = id.to_string();
        let deadline = order.next_deadline();
        let query = QueryColumns::of(&order);
        recorded.push(RecordedCommit {
            expected: i64::try_from(version)?,
            version: i64::try_from(order.version())?,
            customer: order.customer().as_str().to_owned(),
            status: json(&order.status()).as_str().unwrap_or_default().to_owned(),
            placed_at: order.placed_at(),
            deadline_at: deadline.map(|(at, _)| at),
            deadline_kind: deadline.map(|(_, kind)| json(&kind)),
            snapshot: json(&order),
            hold_reasons: query.hold_reasons.iter().map(|r| r.as_str().to_owned()).collect(),
            ship_by: query.ship_by,
            payment_anomaly: query.payment_anomaly,
            open_cases: query.open_cases,
            seqs: new.iter().map(|e| i64::try_from(e.seq)).collect::<Result<_, _>>()?,
            bodies: new.iter().map(json).collect(),
            types: new.iter().map(|e| e.change.name().to_owned()).collect(),
            outbox_keys: claimed.iter().map(|item| item.key.replace(&id_text, "{id}")).collect(),
            effects: claimed.iter().map(|item| json(&item.effect)).collect(),
            written_at: new.last().map(|e| e.at),
            dedupe_keys: script.dedupe_keys(step, serial)?,
            waybill: order.waybills().count() > waybills,
        });
        version = order.version();
        waybills = order.waybills().count();
    }
    Ok(recorded)
}

/// Where one worker is in its lifecycle.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    step: usize,
    id: Uuid,
    serial: u64,
}

/// Shared by all workers of one side: the next order number and each worker's place.
struct Progress {
    serial: AtomicU64,
    cursors: Vec<Mutex<Cursor>>,
}

impl Progress {
    fn new() -> Progress {
        let start = Cursor { step: 0, id: Uuid::nil(), serial: 0 };
        Progress { serial: AtomicU64::new(1), cursors: (0..MAX_WORKERS).map(|_| Mutex::new(start)).collect() }
    }

    /// The cursor of `worker`, moving to a new order when its lifecycle is done.
    fn take(&self, worker: usize) -> Cursor {
        let cursor = *self.cursors[worker].lock().unwrap_or_else(|e| e.into_inner());
        if cursor.step == 0 || cursor.step == STEPS {
            return Cursor { step: 0, id: Uuid::nil(), serial: self.serial.fetch_add(1, Ordering::Relaxed) };
        }
        cursor
    }

    fn put(&self, worker: usize, cursor: Cursor) {
        *self.cursors[worker].lock().unwrap_or_else(|e| e.into_inner()) = cursor;
    }
}

/// The raw side: its two statements, prepared on one connection.
struct RawClient {
    client: Client,
    create: Statement,
    append: Statement,
}

/// The raw side's statements: a head writing the order row, then the other rows; `{s}` is
/// the schema.
const RAW_CREATE: &str = include_str!("postgres_raw_create.sql");
const RAW_APPEND: &str = include_str!("postgres_raw_append.sql");
const RAW_ROWS: &str = include_str!("postgres_raw_rows.sql");

/// The raw statement with this head for `schema`, its comments left out.
fn raw_sql(head: &str, schema: &str) -> String {
    let lines = head.lines().chain(RAW_ROWS.lines()).filter(|line| !line.starts_with("--"));
    lines
        .collect::<Vec<_>>()
        .join("\n")
        .replace("{s}", &format!("\"{schema}\""))
        .replace("{snapshot_version}", &SNAPSHOT_VERSION.to_string())
        .replace("{event_version}", &EVENT_VERSION.to_string())
}

impl RawClient {
    async fn connect(url: &str, schema: &str) -> Result<RawClient, BoxError> {
        let client = pg::connect(url).await?;
        let create = client.prepare(&raw_sql(RAW_CREATE, schema)).await?;
        let append = client.prepare(&raw_sql(RAW_APPEND, schema)).await?;
        Ok(RawClient { client, create, append })
    }

    /// Transition `cursor.step`: the recorded rows, for this order, in one statement.
    async fn transition(&mut self, commit: &RecordedCommit, cursor: &Cursor) -> Result<Uuid, BoxError> {
        let id = if cursor.step == 0 { Uuid::now_v7() } else { cursor.id };
        let id_text = id.to_string();
        let outbox_keys: Vec<String> = commit.outbox_keys.iter().map(|k| k.replace("{id}", &id_text)).collect();
        let dedupe_keys: Vec<String> = commit.dedupe_keys.iter().map(|k| k.replace("{id}", &id_text)).collect();
        let waybills: Vec<String> =
            if commit.waybill { vec![format!("RAWSF{:012}", cursor.serial)] } else { Vec::new() };
        let number = format!("RAW{:012}", cursor.serial);
        // $1..$8: the rows after the order's (`postgres_raw_rows.sql`); $9..$18 the order row's
        // columns both heads write; then the head's own.
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &commit.seqs,
            &commit.bodies,
            &commit.types,
            &outbox_keys,
            &commit.effects,
            &commit.written_at,
            &dedupe_keys,
            &waybills,
            &commit.status,
            &commit.deadline_at,
            &commit.deadline_kind,
            &commit.version,
            &commit.snapshot,
            &commit.hold_reasons,
            &commit.ship_by,
            &commit.payment_anomaly,
            &commit.open_cases,
            &id,
        ];
        let statement = if cursor.step == 0 {
            params.extend::<[&(dyn ToSql + Sync); 3]>([&number, &commit.customer, &commit.placed_at]);
            &self.create
        } else {
            params.push(&commit.expected);
            &self.append
        };
        if self.client.query_one(statement, &params).await?.get::<_, i64>(0) != 1 {
            return Err(format!("raw: order {id} is not at version {}", commit.expected).into());
        }
        Ok(id)
    }
}

/// `iters` transitions on each of `workers` engine tasks at once; the wall time they took.
async fn run_engine(
    engine: &PgEngine,
    script: &Arc<Script>,
    progress: &Arc<Progress>,
    workers: usize,
    iters: u64,
) -> Duration {
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let (engine, script, progress) = (engine.clone(), script.clone(), progress.clone());
            tokio::spawn(async move {
                let mut cursor = progress.take(worker);
                for _ in 0..iters {
                    let id = OrderId::from_uuid(cursor.id);
                    let order = script.run(&engine, cursor.step, id, cursor.serial).await;
                    let order = order.unwrap_or_else(|e| panic!("engine transition failed: {e}"));
                    cursor.id = order.id().as_uuid();
                    cursor.step += 1;
                    progress.put(worker, cursor);
                    cursor = progress.take(worker);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap_or_else(|e| panic!("{e}"));
    }
    start.elapsed()
}

/// `iters` transitions on each of `workers` raw clients at once; the wall time they took.
async fn run_raw(
    clients: &RawClients,
    commits: &Arc<Vec<RecordedCommit>>,
    progress: &Arc<Progress>,
    workers: usize,
    iters: u64,
) -> Duration {
    let start = Instant::now();
    let tasks: Vec<_> = clients[..workers]
        .iter()
        .enumerate()
        .map(|(worker, client)| {
            let (client, commits, progress) = (client.clone(), commits.clone(), progress.clone());
            tokio::spawn(async move {
                let mut client = client.lock().await;
                let mut cursor = progress.take(worker);
                for _ in 0..iters {
                    let commit = &commits[cursor.step];
                    let id = client.transition(commit, &cursor).await;
                    cursor.id = id.unwrap_or_else(|e| panic!("raw transition failed: {e}"));
                    cursor.step += 1;
                    progress.put(worker, cursor);
                    cursor = progress.take(worker);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap_or_else(|e| panic!("{e}"));
    }
    start.elapsed()
}

/// Rows per table written in one schema, and the bytes of their JSON columns, to check both
/// sides wrote the same.
async fn row_counts(client: &Client, schema: &str) -> Result<(Vec<(String, i64)>, i64), BoxError> {
    let mut counts = Vec::new();
    for table in ["orders", "events", "outbox", "dedupe_keys", "waybills"] {
        let row = client.query_one(&format!("SELECT count(*) FROM \"{schema}\".{table}"), &[]).await?;
        counts.push((table.to_owned(), row.get(0)));
    }
    let bytes = client
        .query_one(
            &format!(
                "SELECT (SELECT sum(octet_length(snapshot::text)) FROM \"{schema}\".orders)
                      + (SELECT sum(octet_length(body::text)) FROM \"{schema}\".events)
                      + (SELECT sum(octet_length(effect::text)) FROM \"{schema}\".outbox)"
            ),
            &[],
        )
        .await?;
    Ok((counts, bytes.get::<_, Option<i64>>(0).unwrap_or(0)))
}

/// CPU seconds (user + system) used so far by this process, or by the server processes
/// `pids` (when the server runs on this machine; 0 for a process that cannot be read).
fn cpu_seconds(pids: &[i32]) -> f64 {
    let read = |pid: &str| cpu_time::process_cpu_seconds(pid).unwrap_or(0.0);
    if pids.is_empty() { read("self") } else { pids.iter().map(|pid| read(&pid.to_string())).sum() }
}

/// The server processes serving each side: the raw clients' backends, and every other
/// backend of the database (the store's pool) but `admin`'s.
async fn backends(admin: &Client, clients: &RawClients) -> Result<[Vec<i32>; 2], BoxError> {
    let mut raw = Vec::new();
    for client in clients {
        raw.push(client.lock().await.client.query_one("SELECT pg_backend_pid()", &[]).await?.get::<_, i32>(0));
    }
    let rows = admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
             AND backend_type = 'client backend'",
            &[],
        )
        .await?;
    let engine = rows.iter().map(|r| r.get::<_, i32>(0)).filter(|pid| !raw.contains(pid)).collect();
    Ok([engine, raw])
}

/// Engine and raw batches alternated, so both see the same load from the rest of the
/// machine: per worker count, the median throughput of each, the median ratio of the pairs,
/// and the CPU time per transition of this process and of the server processes.
fn interleaved(
    rt: &tokio::runtime::Runtime,
    admin: &Client,
    sides: (&PgEngine, &Arc<Script>, &Arc<Progress>),
    raw: (&RawClients, &Arc<Vec<RecordedCommit>>, &Arc<Progress>),
    durable: bool,
) -> Result<(), BoxError> {
    // With every commit flushed (about 5 ms each on this VM), one worker does about 100
    // transitions a second and more workers share flushes: batches grow with the workers.
    let rounds = if durable { 11 } else { 15 };
    let per_batch = |workers: usize| if durable { 60 * workers as u64 } else { 600 };
    let (engine, script, engine_progress) = sides;
    let (clients, commits, raw_progress) = raw;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    eprintln!(
        "interleaved: {rounds} rounds per side and worker count, of {} transitions (1 worker) to {}",
        per_batch(1),
        per_batch(MAX_WORKERS)
    );
    eprintln!(
        "workers | engine /s | raw /s | ratio (median of pairs) | CPU µs/transition engine: client + server | raw: client + server | load average"
    );
    for workers in WORKERS {
        let iters = per_batch(workers) / workers as u64;
        let transitions = (iters * workers as u64 * rounds as u64) as f64;
        let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        let mut ratios = Vec::new();
        let mut cpu = [[0.0; 2]; 2];
        for round in 0..rounds {
            let mut pair = [0.0; 2];
            for k in 0..2 {
                let side = (round + k) % 2; // who goes first alternates
                let pids = rt.block_on(backends(admin, clients))?;
                let (client0, server0) = (cpu_seconds(&[]), cpu_seconds(&pids[side]));
                let took = if side == 0 {
                    rt.block_on(run_engine(engine, script, engine_progress, workers, iters))
                } else {
                    rt.block_on(run_raw(clients, commits, raw_progress, workers, iters))
                };
                cpu[side][0] += cpu_seconds(&[]) - client0;
                cpu[side][1] += cpu_seconds(&pids[side]) - server0;
                pair[side] = (iters * workers as u64) as f64 / took.as_secs_f64();
                rates[side].push(pair[side]);
            }
            ratios.push(pair[0] / pair[1]);
        }
        let us = |seconds: f64| seconds * 1e6 / transitions;
        eprintln!(
            "{workers} | {:.0} | {:.0} | {:.2} | {:.0} + {:.0} | {:.0} + {:.0} | {}",
            median(&mut rates[0]),
            median(&mut rates[1]),
            median(&mut ratios),
            us(cpu[0][0]),
            us(cpu[0][1]),
            us(cpu[1][0]),
            us(cpu[1][1]),
            load_average(),
        );
    }
    Ok(())
}

/// The load average of the machine (`/proc/loadavg`: 1, 5 and 15 minutes), printed beside
/// every figure: the machine is shared.
fn load_average() -> String {
    cpu_time::load_average(" ").unwrap_or_default()
}

/// Where the server's time went since [`pg::reset_server_stats`]: the statements with the most
/// planning and execution time (a commit's flush is not in it), how often each was planned,
/// and the WAL's writes and flushes.
async fn print_server_stats(admin: &Client) -> Result<(), BoxError> {
    let rows = admin
        .query(
            "SELECT calls, total_exec_time, mean_exec_time, wal_bytes::float8 / greatest(calls, 1),
                 regexp_replace(left(query, 400), '\\s+', ' ', 'g'), plans, mean_plan_time
             FROM pg_stat_statements WHERE calls > 100 ORDER BY total_exec_time + total_plan_time DESC LIMIT 6",
            &[],
        )
        .await?;
    eprintln!(
        "pg_stat_statements (paired check): calls | total ms | mean µs | WAL bytes per call | plans | mean planning µs | statement"
    );
    for row in rows {
        let query: String = row.get(4);
        let head: String = query.chars().take(110).collect();
        eprintln!(
            "  {} | {:.0} | {:.1} | {:.0} | {} | {:.1} | {head}",
            row.get::<_, i64>(0),
            row.get::<_, f64>(1),
            row.get::<_, f64>(2) * 1e3,
            row.get::<_, f64>(3),
            row.get::<_, i64>(5),
            row.get::<_, f64>(6) * 1e3,
        );
    }
    let wal = admin
        .query_one(
            "SELECT wal_records, wal_bytes::float8, wal_write, wal_sync, wal_write_time, wal_sync_time FROM pg_stat_wal",
            &[],
        )
        .await?;
    let (syncs, sync_ms) = (wal.get::<_, i64>(3), wal.get::<_, f64>(5));
    eprintln!(
        "pg_stat_wal (paired check): {} records, {:.1} MB, {} writes ({:.0} ms), {syncs} flushes ({sync_ms:.0} ms, {:.2} ms each)",
        wal.get::<_, i64>(0),
        wal.get::<_, f64>(1) / 1e6,
        wal.get::<_, i64>(2),
        wal.get::<_, f64>(4),
        sync_ms / syncs.max(1) as f64,
    );
    Ok(())
}

/// A schema for pgbench: `PgStore`'s tables and `bench_steps`, the recorded rows of each
/// transition that `benches/postgres_pgbench.sql` writes.
async fn create_pgbench_schema(
    url: &str,
    admin: &Client,
    schema: &str,
    commits: &[RecordedCommit],
) -> Result<(), BoxError> {
    drop(PgStore::connect(PgOptions::new(url).schema(schema).pool_size(1)).await?);
    admin
        .batch_execute(&format!(
            "CREATE TABLE \"{schema}\".bench_steps (
                 step int PRIMARY KEY, expected bigint, version bigint, customer text, status text,
                 placed_at timestamptz, deadline_at timestamptz, deadline_kind jsonb, snapshot jsonb, seqs bigint[],
                 bodies jsonb[], types text[], outbox_keys text[], effects jsonb[], dedupe_keys text[], waybill boolean,
                 hold_reasons text[], ship_by timestamptz, payment_anomaly boolean, open_cases boolean,
                 written_at timestamptz, snapshot_version smallint, schema_version smallint)"
        ))
        .await?;
    let insert = admin
        .prepare(&format!(
            "INSERT INTO \"{schema}\".bench_steps VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                 $15, $16, $17, $18, $19, $20, $21, $22, $23)"
        ))
        .await?;
    for (step, c) in commits.iter().enumerate() {
        let step = i32::try_from(step)?;
        admin
            .execute(
                &insert,
                &[
                    &step,
                    &c.expected,
                    &c.version,
                    &c.customer,
                    &c.status,
                    &c.placed_at,
                    &c.deadline_at,
                    &c.deadline_kind,
                    &c.snapshot,
                    &c.seqs,
                    &c.bodies,
                    &c.types,
                    &c.outbox_keys,
                    &c.effects,
                    &c.dedupe_keys,
                    &c.waybill,
                    &c.hold_reasons,
                    &c.ship_by,
                    &c.payment_anomaly,
                    &c.open_cases,
                    &c.written_at,
                    &i16::try_from(SNAPSHOT_VERSION)?,
                    &i16::try_from(EVENT_VERSION)?,
                ],
            )
            .await?;
    }
    Ok(())
}

/// The pgbench binary: `PGBENCH`, else `PG_BIN/pgbench` (`scripts/with-postgres.sh` exports
/// `PG_BIN`), else `pgbench` on the `PATH`.
fn pgbench_binary() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("PGBENCH") {
        return path.into();
    }
    match std::env::var_os("PG_BIN") {
        Some(dir) => std::path::Path::new(&dir).join("pgbench"),
        None => "pgbench".into(),
    }
}

/// pgbench running `benches/postgres_pgbench.sql` (one transition per run) with `workers`
/// clients for `seconds` in `schema`: its transitions per second.
fn pgbench(url: &str, schema: &str, workers: usize, seconds: u32) -> Result<f64, BoxError> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/postgres_pgbench.sql");
    let output = std::process::Command::new(pgbench_binary())
        .args(["-n", "-M", "prepared", "-D", "step=9", "-D", "id=00000000-0000-0000-0000-000000000000"])
        .args(["-f", script])
        .args(["-c", &workers.to_string(), "-j", &workers.min(2).to_string(), "-T", &seconds.to_string(), url])
        .env("PGOPTIONS", format!("-c search_path={schema}"))
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("pgbench failed: {}{stdout}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let tps = stdout.lines().find_map(|line| line.strip_prefix("tps = ")?.split_whitespace().next()?.parse().ok());
    tps.ok_or_else(|| format!("no tps in pgbench's output: {stdout}").into())
}

/// pgbench beside the paired check, at each worker count, with the load average.
fn pgbench_runs(url: &str, schema: &str) {
    eprintln!("pgbench, the same transition in one statement (benches/postgres_pgbench.sql), 8 s per worker count:");
    eprintln!("workers | transitions /s | load average");
    for workers in WORKERS {
        match pgbench(url, schema, workers, 8) {
            Ok(tps) => eprintln!("{workers} | {tps:.0} | {}", load_average()),
            Err(e) => {
                eprintln!("pgbench: SKIPPED ({e})");
                return;
            }
        }
    }
}

/// Which side a profiling run drives.
enum ProfileSide {
    Engine,
    Raw,
}

/// `ORDERFLOW_PROFILE=engine:N` (or `raw:N`): after the setup (the recorded lifecycle and one
/// checked lifecycle per side), runs N more lifecycles on that side with one worker and nothing
/// else, for `valgrind --tool=callgrind`. The client's instructions per transition are the
/// difference between two runs with different N, divided by ten times the difference in N.
fn profile_spec() -> Result<Option<(ProfileSide, u64)>, BoxError> {
    let Ok(spec) = std::env::var("ORDERFLOW_PROFILE") else { return Ok(None) };
    let usage = || format!("ORDERFLOW_PROFILE={spec:?}: expected engine:N or raw:N");
    let (side, n) = spec.split_once(':').ok_or_else(usage)?;
    let side = match side {
        "engine" => ProfileSide::Engine,
        "raw" => ProfileSide::Raw,
        _ => return Err(usage().into()),
    };
    Ok(Some((side, n.parse().map_err(|_| usage())?)))
}

fn main() -> Result<(), BoxError> {
    let Some(url) = pg::database_url("postgres_vs_raw") else { return Ok(()) };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let pid = std::process::id();
    let (engine_schema, raw_schema) = (format!("bench_engine_{pid}"), format!("bench_raw_{pid}"));
    let pgbench_schema = format!("bench_pgbench_{pid}");
    let admin = rt.block_on(pg::connect(&url))?;
    let result = bench(&rt, &url, &admin, [&engine_schema, &raw_schema, &pgbench_schema]);
    rt.block_on(async {
        for schema in [&engine_schema, &raw_schema, &pgbench_schema] {
            admin.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await?;
        }
        Ok::<_, BoxError>(())
    })?;
    result
}

fn bench(rt: &tokio::runtime::Runtime, url: &str, admin: &Client, schemas: [&str; 3]) -> Result<(), BoxError> {
    let [engine_schema, raw_schema, pgbench_schema] = schemas;
    // What the commands refer to, then the rows each transition writes.
    let placed = rt.block_on(engine(MemoryStore::new()).place(&buyer("alice"), &sample_form("alice"), None))?;
    let script = Arc::new(Script::new(&placed.order));
    let commits = Arc::new(rt.block_on(record(&script))?);

    let store = rt.block_on(PgStore::connect(PgOptions::new(url).schema(engine_schema).pool_size(MAX_WORKERS)))?;
    let engine = Arc::new(engine(Arc::new(store)));
    // `PgStore::connect` creates the tables the raw side writes to.
    drop(rt.block_on(PgStore::connect(PgOptions::new(url).schema(raw_schema).pool_size(1)))?);
    let clients = rt.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..MAX_WORKERS {
            clients.push(Arc::new(tokio::sync::Mutex::new(RawClient::connect(url, raw_schema).await?)));
        }
        Ok::<_, BoxError>(clients)
    })?;

    // Both sides write the same rows: one whole lifecycle each, counted.
    let (engine_progress, raw_progress) = (Arc::new(Progress::new()), Arc::new(Progress::new()));
    rt.block_on(run_engine(&engine, &script, &engine_progress, 1, STEPS as u64));
    rt.block_on(run_raw(&clients, &commits, &raw_progress, 1, STEPS as u64));
    let (engine_rows, engine_bytes) = rt.block_on(row_counts(admin, engine_schema))?;
    let (raw_rows, raw_bytes) = rt.block_on(row_counts(admin, raw_schema))?;
    let similar = (engine_bytes as f64 / raw_bytes.max(1) as f64 - 1.0).abs() < 0.1;
    if engine_rows != raw_rows || !similar {
        return Err(format!(
            "the two sides wrote different rows: engine {engine_rows:?} ({engine_bytes} bytes of JSON), \
             raw {raw_rows:?} ({raw_bytes} bytes)"
        )
        .into());
    }
    eprintln!(
        "postgres_vs_raw: one lifecycle writes {engine_rows:?} on both sides, JSON {engine_bytes} / {raw_bytes} bytes"
    );

    if let Some((side, lifecycles)) = profile_spec()? {
        // One worker, nothing else: for `valgrind --tool=callgrind` (see `profile_spec`).
        let transitions = lifecycles * STEPS as u64;
        match side {
            ProfileSide::Engine => rt.block_on(run_engine(&engine, &script, &engine_progress, 1, transitions)),
            ProfileSide::Raw => rt.block_on(run_raw(&clients, &commits, &raw_progress, 1, transitions)),
        };
        return Ok(());
    }

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("postgres_vs_raw");
    for workers in WORKERS {
        group.throughput(Throughput::Elements(workers as u64));
        group.bench_with_input(BenchmarkId::new("engine", workers), &workers, |b, &workers| {
            b.iter_custom(|iters| rt.block_on(run_engine(&engine, &script, &engine_progress, workers, iters)))
        });
        group.bench_with_input(BenchmarkId::new("raw", workers), &workers, |b, &workers| {
            b.iter_custom(|iters| rt.block_on(run_raw(&clients, &commits, &raw_progress, workers, iters)))
        });
    }
    group.finish();
    c.final_summary();
    // Only under `cargo bench`, not when each benchmark runs once as a test.
    if std::env::args().any(|arg| arg == "--bench") && std::env::var_os("POSTGRES_VS_RAW_NO_INTERLEAVED").is_none() {
        let (fsync, synchronous) = rt.block_on(pg::durability(admin))?;
        eprintln!("server: fsync={fsync}, synchronous_commit={synchronous}");
        let durable = fsync == "on" && synchronous != "off";
        let stats = rt.block_on(pg::reset_server_stats(admin))?;
        let (engine_side, raw_side) = ((&engine, &script, &engine_progress), (&clients[..], &commits, &raw_progress));
        interleaved(rt, admin, engine_side, raw_side, durable)?;
        if stats {
            rt.block_on(print_server_stats(admin))?;
        }
        rt.block_on(create_pgbench_schema(url, admin, pgbench_schema, &commits))?;
        pgbench_runs(url, pgbench_schema);
    }
    Ok(())
}
