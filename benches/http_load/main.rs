//! The HTTP path under load: the `http_shop` example's server (its router and limits, built in
//! process from `examples/http_shop/server.rs` as `tests/http` does, served on a loopback port)
//! against two baseline axum servers answering the same routes with the same JSON without
//! orderflow, one keeping nothing and one writing the shop's rows to SQLite with hand-written
//! SQL, driven by whole buyer lifecycles at 8, 32 and 128 concurrent buyers.
//!
//! A lifecycle is eight requests, the ones `tests/http` drives an order with: the buyer places
//! the sample order (with an idempotency key) and opens the payment session, the provider's
//! signed notification comes to `/webhooks/payment`, the warehouse reads the pick list, packs
//! what it lists and ships the parcel, the carrier's signed `Delivered` push comes to
//! `/webhooks/tracking`, and the buyer confirms receipt. Every answer must have the status the
//! tests expect; any other answer, a transport error or a missing field is an error, and the
//! bench fails if there is one.
//!
//! The baselines parse each request body as JSON and answer with the body the shop gave for
//! the same step in a recorded lifecycle (its order id, number and waybill replaced by the
//! baseline order's own), serialized per request: the same routes, request and answer sizes,
//! without the engine, the signature checks or the shop's connection limits. The first
//! (`baseline`) keeps nothing. The second (`hand+SQLite`, see `hand_sqlite.rs`) is what a team
//! writing its own order code would do: it writes the rows the shop's store wrote for the
//! same step (recorded from the shop's database after each request of the recorded
//! lifecycle), with its order's values in them, to a SQLite file of the same schema and
//! pragmas in one transaction per request, reads the order where a step writes nothing, and
//! finds a webhook's order by number or waybill.
//!
//! Each run has a fixed number of lifecycles (and a time cap); the three servers' runs
//! alternate, the first rotating each round. Reported per side: requests per second, p50 / p99 latency, errors, and CPU per
//! request: the whole process's (`/proc/self/stat`, client included) and the server runtime's
//! threads' (`/proc/self/task/*/stat`), with the load average. The shop runs on SQLite, and on
//! PostgreSQL when `DATABASE_URL` is set (`bash scripts/with-postgres.sh ...`).
//!
//! `cargo bench --all-features --bench http_load`; `cargo test --benches` runs a few
//! lifecycles at two concurrency levels.

#[path = "../../examples/http_shop/providers.rs"]
mod providers;
#[path = "../../examples/http_shop/server.rs"]
mod server;

#[path = "../common/mod.rs"]
mod common;
mod hand_sqlite;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use orderflow::adapters::sqlite::SqliteStore;
use orderflow::order::TrackingKind;
use orderflow::ports::{DynOrderStore, RawMessage, SystemClock};
use orderflow::testing::{FakeCarrier, FakeGateway, sample_form};
use orderflow::{Money, OrderNumber};
use serde_json::{Value, json};
use server::{AppState, Running, ShopOptions};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The name of the server runtime's threads, whose CPU time is the server's.
const SERVER_THREADS: &str = "load-server";

/// Requests in one lifecycle.
const REQUESTS_PER_LIFECYCLE: usize = 8;

/// How a run is sized: buyers at once, lifecycles per run, rounds (each three runs: the
/// baseline, hand+SQLite and the shop, the first rotating each round) and the time cap of one
/// run.
struct Plan {
    concurrency: &'static [usize],
    lifecycles: usize,
    rounds: usize,
    cap: Duration,
}

impl Plan {
    fn new() -> Plan {
        if common::full_run() {
            Plan { concurrency: &[8, 32, 128], lifecycles: 384, rounds: 3, cap: Duration::from_secs(60) }
        } else {
            Plan { concurrency: &[8, 32], lifecycles: 32, rounds: 1, cap: Duration::from_secs(60) }
        }
    }
}

/// The steps of a lifecycle, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Step {
    Place,
    Payment,
    PaidWebhook,
    PickList,
    Pack,
    Ship,
    TrackingWebhook,
    Confirm,
}

/// What a lifecycle signs its webhooks with: the provider and carrier the shop verifies with.
#[derive(Clone)]
struct Signers {
    gateway: Arc<FakeGateway>,
    carrier: Arc<FakeCarrier>,
}

/// One loaded server: its base URL and the signers its webhooks need.
struct Target {
    url: String,
    signers: Signers,
}

/// A buyer's view of one lifecycle's answers, recorded once for the baseline's templates.
type Recording = Vec<(Step, StatusCode, String)>;

/// What the recorded lifecycle notes: the answers and, after each request, the rows the
/// shop's store wrote.
struct Recorder {
    answers: Recording,
    rows: hand_sqlite::RowRecorder,
}

/// Every request of the run shares this client and counter.
struct Load {
    http: reqwest::Client,
    next_key: AtomicU64,
}

impl Load {
    /// Sends `req`, checks the status, times it; the answer's text.
    async fn send(
        &self,
        step: Step,
        expected: StatusCode,
        req: reqwest::RequestBuilder,
        latencies: &mut Vec<u32>,
        record: &mut Option<&mut Recorder>,
    ) -> Result<String, String> {
        let start = Instant::now();
        let res = req.send().await.map_err(|e| format!("{step:?}: {e}"))?;
        let status = res.status();
        let text = res.text().await.map_err(|e| format!("{step:?}: {e}"))?;
        latencies.push(u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX));
        if status != expected {
            return Err(format!("{step:?}: {status} {text}"));
        }
        if let Some(record) = record {
            record.answers.push((step, status, text.clone()));
            record.rows.after(step, &text).map_err(|e| format!("{step:?}: recording the rows: {e}"))?;
        }
        Ok(text)
    }

    /// One whole lifecycle against `target` as buyer `n % 2` (alice or bob).
    async fn lifecycle(
        &self,
        target: &Target,
        n: usize,
        latencies: &mut Vec<u32>,
        mut record: Option<&mut Recorder>,
    ) -> Result<(), String> {
        let (token, customer) = if n.is_multiple_of(2) { ("alice-token", "alice") } else { ("bob-token", "bob") };
        let url = |path: &str| format!("{}{path}", target.url);
        let json_of = |text: &str| serde_json::from_str::<Value>(text).map_err(|e| format!("not JSON: {e}: {text}"));
        let field = |v: &Value, what: &str| format!("missing {what} in {v}");

        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let form = serde_json::to_vec(&sample_form(customer)).map_err(|e| e.to_string())?;
        let place = self
            .http
            .post(url("/orders"))
            .bearer_auth(token)
            .header("Idempotency-Key", format!("load-{}-{key}", std::process::id()))
            .header("Content-Type", "application/json")
            .body(form);
        let placed = json_of(&self.send(Step::Place, StatusCode::CREATED, place, latencies, &mut record).await?)?;
        let order = &placed["order"];
        let id = order["id"].as_str().ok_or_else(|| field(&placed, "order.id"))?.to_owned();
        let number: OrderNumber = serde_json::from_value(order["number"].clone()).map_err(|e| e.to_string())?;
        let total: Money = serde_json::from_value(order["totals"]["total"].clone()).map_err(|e| e.to_string())?;

        let payment = self.http.post(url(&format!("/orders/{id}/payment"))).bearer_auth(token).json(&json!({}));
        self.send(Step::Payment, StatusCode::OK, payment, latencies, &mut record).await?;
        let paid = target.signers.gateway.notify_paid(&number, total, Utc::now());
        self.send(
            Step::PaidWebhook,
            StatusCode::OK,
            self.webhook(&url("/webhooks/payment"), &paid),
            latencies,
            &mut record,
        )
        .await?;

        let pick = self.http.get(url(&format!("/orders/{id}/pick-list"))).bearer_auth("warehouse-token");
        let picked = json_of(&self.send(Step::PickList, StatusCode::OK, pick, latencies, &mut record).await?)?;
        let scanned: Vec<Value> = picked["pick_list"]
            .as_array()
            .ok_or_else(|| field(&picked, "pick_list"))?
            .iter()
            .map(|p| json!({"sku": p["sku"], "product_name": p["product_name"], "variant": p["variant"], "quantity": p["quantity"]}))
            .collect();
        let pack = self
            .http
            .post(url(&format!("/orders/{id}/packages")))
            .bearer_auth("warehouse-token")
            .json(&json!({ "scanned": scanned }));
        let packed = json_of(&self.send(Step::Pack, StatusCode::CREATED, pack, latencies, &mut record).await?)?;
        let package = packed["package"].as_u64().ok_or_else(|| field(&packed, "package"))?;
        let ship = self
            .http
            .post(url(&format!("/orders/{id}/packages/{package}/ship")))
            .bearer_auth("warehouse-token")
            .json(&json!({}));
        let shipped = json_of(&self.send(Step::Ship, StatusCode::OK, ship, latencies, &mut record).await?)?;
        // The ship answer carries its own parcel's waybill, whoever delivered the booking.
        let waybill = shipped["package"]["waybill"].as_str().ok_or_else(|| field(&shipped, "package.waybill"))?;

        let push = target.signers.carrier.push(waybill, TrackingKind::Delivered, Utc::now(), &format!("E-{key}"));
        let push = self.webhook(&url("/webhooks/tracking"), &push);
        self.send(Step::TrackingWebhook, StatusCode::OK, push, latencies, &mut record).await?;
        let confirm = self.http.post(url(&format!("/orders/{id}/confirm"))).bearer_auth(token).json(&json!({}));
        let confirmed = json_of(&self.send(Step::Confirm, StatusCode::OK, confirm, latencies, &mut record).await?)?;
        if confirmed["order"]["status"] != "completed" {
            return Err(format!("not completed: {confirmed}"));
        }
        Ok(())
    }

    fn webhook(&self, url: &str, raw: &RawMessage) -> reqwest::RequestBuilder {
        let mut req = self.http.post(url);
        for (name, value) in &raw.headers {
            req = req.header(name, value);
        }
        req.body(raw.body.clone())
    }
}

/// What one run measured.
struct Run {
    lifecycles: usize,
    requests: usize,
    errors: usize,
    first_error: Option<String>,
    wall: Duration,
    latencies: Vec<u32>,
    process_cpu: f64,
    server_cpu: f64,
}

/// `lifecycles` lifecycles by `buyers` concurrent buyers against `target`; no lifecycle starts
/// after `cap`.
async fn run(load: &Arc<Load>, target: &Arc<Target>, buyers: usize, lifecycles: usize, cap: Duration) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let (process0, server0) = (process_cpu_seconds(), server_cpu_seconds());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..buyers {
        let (load, target, next) = (load.clone(), target.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors, mut first_error, mut done) = (Vec::new(), 0, None, 0);
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= lifecycles || start.elapsed() > cap {
                    break;
                }
                match load.lifecycle(&target, n, &mut latencies, None).await {
                    Ok(()) => done += 1,
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            (latencies, errors, first_error, done)
        }));
    }
    let mut result = Run {
        lifecycles: 0,
        requests: 0,
        errors: 0,
        first_error: None,
        wall: Duration::ZERO,
        latencies: Vec::new(),
        process_cpu: 0.0,
        server_cpu: 0.0,
    };
    for task in tasks {
        match task.await {
            Ok((latencies, errors, first_error, done)) => {
                result.lifecycles += done;
                result.latencies.extend(latencies);
                result.errors += errors;
                if result.first_error.is_none() {
                    result.first_error = first_error;
                }
            }
            Err(e) => {
                result.errors += 1;
                result.first_error.get_or_insert(e.to_string());
            }
        }
    }
    result.wall = start.elapsed();
    result.process_cpu = process_cpu_seconds() - process0;
    result.server_cpu = server_cpu_seconds() - server0;
    result.requests = result.latencies.len();
    result
}

/// The runs of one side at one concurrency level.
#[derive(Default)]
struct Side {
    lifecycles: usize,
    requests: usize,
    errors: usize,
    first_error: Option<String>,
    wall: f64,
    latencies: Vec<u32>,
    process_cpu: f64,
    server_cpu: f64,
}

impl Side {
    fn add(&mut self, run: Run) {
        self.lifecycles += run.lifecycles;
        self.requests += run.requests;
        self.errors += run.errors;
        if self.first_error.is_none() {
            self.first_error = run.first_error;
        }
        self.wall += run.wall.as_secs_f64();
        self.latencies.extend(run.latencies);
        self.process_cpu += run.process_cpu;
        self.server_cpu += run.server_cpu;
    }

    fn per_request_us(&self, seconds: f64) -> f64 {
        seconds * 1e6 / self.requests.max(1) as f64
    }

    fn percentile_ms(&mut self, p: f64) -> f64 {
        self.latencies.sort_unstable();
        let last = self.latencies.len().saturating_sub(1);
        let at = ((last as f64) * p).round() as usize;
        self.latencies.get(at).map_or(f64::NAN, |us| f64::from(*us) / 1e3)
    }

    fn line(&mut self, name: &str) -> String {
        format!(
            "{name:>11}: {:>5.0} lifecycles/s {:>7.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}  CPU/request: process {:>6.1} µs, server threads {:>6.1} µs  ({} lifecycles, {} requests)",
            self.lifecycles as f64 / self.wall.max(1e-9),
            self.requests as f64 / self.wall.max(1e-9),
            self.percentile_ms(0.50),
            self.percentile_ms(0.99),
            self.errors,
            self.per_request_us(self.process_cpu),
            self.per_request_us(self.server_cpu),
            self.lifecycles,
            self.requests,
        )
    }
}

/// User and system CPU time of this process so far, in seconds (`/proc/self/stat`).
fn process_cpu_seconds() -> f64 {
    common::cpu_time::process_cpu_seconds("self").unwrap_or(0.0)
}

/// CPU time the server runtime's threads have run so far, in seconds
/// (`/proc/self/task/*/schedstat`, nanoseconds: finer than `stat`'s ticks).
fn server_cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    let mut ns = 0u64;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == SERVER_THREADS {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            ns += stat.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    ns as f64 / 1e9
}

fn load_average() -> String {
    common::cpu_time::load_average(" / ").unwrap_or_else(|| "unknown".to_owned())
}

/// The shop with the limits raised for 128 buyers on one loopback address (the default
/// allows 64 connections from one client), the worker ticking as in the example.
fn shop_options() -> ShopOptions {
    ShopOptions {
        tick: Duration::from_millis(500),
        max_connections_per_client: 1024,
        max_in_flight: 1024,
        ..ShopOptions::default()
    }
}

fn shop_state(store: DynOrderStore) -> AppState {
    AppState::demo_on(shop_options(), store, Arc::new(SystemClock))
}

/// One order's own values, put where the recorded order's were (in answers and rows).
#[derive(Debug, Clone)]
pub struct Fresh {
    pub id: String,
    pub number: String,
    pub waybill: String,
}

impl Fresh {
    /// `text` with the values of `self` (the recorded order's) replaced by `other`'s.
    pub fn replace_in(&self, text: &str, other: &Fresh) -> String {
        text.replace(&self.id, &other.id).replace(&self.number, &other.number).replace(&self.waybill, &other.waybill)
    }
}

/// Order numbers of the baselines' orders start here (far from the shop's).
const BASELINE_NUMBERS: u64 = 1 << 40;

/// The baselines' answers: per step, the shop's status and body, with the recorded order's
/// values.
#[derive(Clone)]
struct Templates {
    recorded: Fresh,
    steps: Arc<Vec<(Step, StatusCode, String)>>,
    next_serial: Arc<AtomicU64>,
}

impl Templates {
    fn from(recording: Recording) -> Result<Templates, BoxError> {
        let answer = |step: Step| -> Result<Value, BoxError> {
            let (_, _, text) = recording.iter().find(|(s, _, _)| *s == step).ok_or("step not recorded")?;
            Ok(serde_json::from_str(text)?)
        };
        let (placed, shipped) = (answer(Step::Place)?, answer(Step::Ship)?);
        let recorded = Fresh {
            id: placed["order"]["id"].as_str().ok_or("no order id recorded")?.to_owned(),
            number: placed["order"]["number"].as_str().ok_or("no order number recorded")?.to_owned(),
            waybill: shipped["package"]["waybill"].as_str().ok_or("no waybill recorded")?.to_owned(),
        };
        Ok(Templates { recorded, steps: Arc::new(recording), next_serial: Arc::new(AtomicU64::new(1)) })
    }

    /// The values of baseline order `serial`, each the length of the recorded one.
    fn fresh(&self, serial: u64) -> Fresh {
        let hex = format!("{serial:032x}");
        let id = format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]);
        let number = OrderNumber::from_value(BASELINE_NUMBERS + serial).map(|n| n.to_string()).unwrap_or_default();
        let width = self.recorded.waybill.len().saturating_sub(2);
        Fresh { id, number, waybill: format!("BW{serial:0width$}") }
    }

    /// The serial of a baseline order's id (0 for anything else).
    fn serial_of(id: &str) -> u64 {
        u128::from_str_radix(&id.replace('-', ""), 16).ok().and_then(|v| u64::try_from(v).ok()).unwrap_or(0)
    }

    /// The recorded answer of `step` with `fresh`'s values, parsed and serialized again
    /// (JSON answers) as a handler building it would.
    fn answer(&self, step: Step, fresh: &Fresh) -> Response {
        let Some((_, status, text)) = self.steps.iter().find(|(s, _, _)| *s == step) else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        match serde_json::from_str::<Value>(&self.recorded.replace_in(text, fresh)) {
            Ok(body) => (*status, Json(body)).into_response(),
            Err(_) => (*status, text.clone()).into_response(),
        }
    }
}

/// Parses a request body as JSON (as the shop's handlers do), refusing what is not.
fn parse(body: &[u8]) -> Result<Value, StatusCode> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|_| StatusCode::BAD_REQUEST)
}

/// A baseline server's state: the answers and, for the second baseline, its database.
struct Baseline {
    templates: Templates,
    store: Option<hand_sqlite::HandSqlite>,
}

/// Which order a request is about.
enum About<'a> {
    /// A new one (placement).
    New,
    /// The one in the path.
    Path(Option<&'a String>),
    /// The one the webhook's body names.
    Body,
}

impl Baseline {
    /// Parses the body, finds the order, writes the step's rows (second baseline) and answers.
    fn handle(&self, step: Step, about: About<'_>, body: &[u8]) -> Response {
        let parsed = match parse(body) {
            Ok(parsed) => parsed,
            Err(refused) => return refused.into_response(),
        };
        let serial = match (about, &self.store) {
            (About::New, _) => self.templates.next_serial.fetch_add(1, Ordering::Relaxed),
            (About::Path(Some(id)), _) => Templates::serial_of(id),
            (About::Path(None), _) => return StatusCode::NOT_FOUND.into_response(),
            (About::Body, None) => 0,
            (About::Body, Some(store)) => match store.find(step, &parsed) {
                Ok(Some(id)) => Templates::serial_of(&id),
                Ok(None) => return StatusCode::NOT_FOUND.into_response(),
                Err(_) => return StatusCode::BAD_REQUEST.into_response(),
            },
        };
        let fresh = self.templates.fresh(serial);
        if let Some(store) = &self.store
            && store.write(step, &fresh, serial).is_err()
        {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        self.templates.answer(step, &fresh)
    }
}

/// A baseline server: the shop's routes for the lifecycle, answering the recorded bodies.
fn baseline_app(baseline: Baseline) -> Router {
    type Shared = State<Arc<Baseline>>;
    async fn place(State(b): Shared, body: axum::body::Bytes) -> Response {
        b.handle(Step::Place, About::New, &body)
    }
    fn on_order(
        step: Step,
    ) -> impl Fn(Shared, Path<Vec<String>>, axum::body::Bytes) -> std::future::Ready<Response> + Clone + Send + Sync + 'static
    {
        move |State(b): Shared, Path(params): Path<Vec<String>>, body: axum::body::Bytes| {
            std::future::ready(b.handle(step, About::Path(params.first()), &body))
        }
    }
    fn webhook(
        step: Step,
    ) -> impl Fn(Shared, axum::body::Bytes) -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
        move |State(b): Shared, body: axum::body::Bytes| std::future::ready(b.handle(step, About::Body, &body))
    }
    Router::new()
        .route("/orders", post(place))
        .route("/orders/{id}/payment", post(on_order(Step::Payment)))
        .route("/orders/{id}/pick-list", get(on_order(Step::PickList)))
        .route("/orders/{id}/packages", post(on_order(Step::Pack)))
        .route("/orders/{id}/packages/{package}/ship", post(on_order(Step::Ship)))
        .route("/orders/{id}/confirm", post(on_order(Step::Confirm)))
        .route("/webhooks/payment", post(webhook(Step::PaidWebhook)))
        .route("/webhooks/tracking", post(webhook(Step::TrackingWebhook)))
        .with_state(Arc::new(baseline))
}

/// Serves a baseline on a loopback port of the server runtime; the sender stops it.
fn serve_baseline(
    server_rt: &tokio::runtime::Runtime,
    baseline: Baseline,
) -> Result<(Arc<Target>, tokio::sync::oneshot::Sender<()>), BoxError> {
    let signers = Signers {
        gateway: Arc::new(FakeGateway::new("alipay", b"provider-secret")),
        carrier: Arc::new(FakeCarrier::new("SF", b"carrier-secret")),
    };
    server_rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, baseline_app(baseline))
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok::<_, BoxError>((Arc::new(Target { url, signers }), stop))
    })
}

/// What every comparison shares: the plan, the server runtime (all servers), the client's
/// runtime and load, and the two baseline servers.
struct Bench {
    plan: Plan,
    server_rt: tokio::runtime::Runtime,
    client: tokio::runtime::Runtime,
    load: Arc<Load>,
    baseline: Arc<Target>,
    hand_sqlite: Arc<Target>,
}

/// Alternates the baselines' and the shop's runs at each concurrency level and prints all
/// three sides, with the shop's CPU per request against each baseline's.
fn compare(bench: &Bench, label: &str, shop: &Arc<Target>) -> Result<(), BoxError> {
    let Bench { plan, client, load, baseline, hand_sqlite, .. } = bench;
    let targets = [("baseline", baseline), ("hand+SQLite", hand_sqlite), ("shop", shop)];
    for &buyers in plan.concurrency {
        let load_before = load_average();
        let mut sides: [Side; 3] = Default::default();
        for round in 0..plan.rounds {
            // Rotate which side goes first, so that none always follows another.
            for k in 0..targets.len() {
                let i = (round + k) % targets.len();
                sides[i].add(client.block_on(run(load, targets[i].1, buyers, plan.lifecycles, plan.cap)));
            }
        }
        println!(
            "http_load {label}, {buyers} buyers, {} rounds of {} lifecycles, load {load_before} -> {}",
            plan.rounds,
            plan.lifecycles,
            load_average()
        );
        for (side, (name, _)) in sides.iter_mut().zip(targets) {
            println!("  {}", side.line(name));
        }
        let per = |cpu: f64, n: usize| cpu / n.max(1) as f64;
        let [base, hand, ours] = &sides;
        for (name, other) in [("baseline", base), ("hand+SQLite", hand)] {
            println!(
                "  shop / {name} CPU per request: process {:.2}x, server threads {:.2}x; per lifecycle: server threads {:.2}x",
                per(ours.process_cpu, ours.requests) / per(other.process_cpu, other.requests),
                per(ours.server_cpu, ours.requests) / per(other.server_cpu, other.requests),
                per(ours.server_cpu, ours.lifecycles) / per(other.server_cpu, other.lifecycles),
            );
        }
        for (side, (name, _)) in sides.iter().zip(targets) {
            if side.errors > 0 {
                return Err(format!(
                    "{label}, {buyers} buyers: {name} had {} errors, the first: {}",
                    side.errors,
                    side.first_error.as_deref().unwrap_or("?")
                )
                .into());
            }
            let expected = plan.rounds * plan.lifecycles;
            if side.lifecycles != expected {
                return Err(format!(
                    "{label}, {buyers} buyers: {name} finished {} lifecycles of {expected} within the cap of {:?}",
                    side.lifecycles, plan.cap
                )
                .into());
            }
            if side.requests != expected * REQUESTS_PER_LIFECYCLE {
                return Err(format!("{label}, {buyers} buyers: {name} answered {} requests", side.requests).into());
            }
        }
    }
    Ok(())
}

/// Serves `state` on a loopback port of the server runtime.
fn serve_shop(server_rt: &tokio::runtime::Runtime, state: &AppState) -> Result<(Running, Arc<Target>), BoxError> {
    let running = server_rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        server::spawn(listener, state.clone())
    })?;
    let signers = Signers { gateway: state.gateway.clone(), carrier: state.carrier.clone() };
    let target = Arc::new(Target { url: running.url(), signers });
    Ok((running, target))
}

/// The same comparison with the shop on PostgreSQL, in a schema of its own dropped after.
#[cfg(feature = "postgres")]
fn postgres(bench: &Bench) -> Result<(), BoxError> {
    let server_rt = &bench.server_rt;
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let schema = format!("bench_http_{}", std::process::id());
            let store = server_rt.block_on(orderflow::adapters::postgres::PgStore::connect(
                orderflow::adapters::postgres::PgOptions::new(&url).schema(&schema).pool_size(16),
            ))?;
            let pg = shop_state(DynOrderStore::new(store));
            let (pg_running, pg_target) = serve_shop(server_rt, &pg)?;
            let result = compare(bench, "PostgreSQL", &pg_target);
            server_rt.block_on(pg_running.shutdown())?;
            server_rt.block_on(async {
                let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                admin.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await?;
                Ok::<_, BoxError>(())
            })?;
            result?;
        }
        _ => println!("http_load: PostgreSQL skipped, DATABASE_URL is not set (bash scripts/with-postgres.sh ...)"),
    }
    Ok(())
}

#[cfg(not(feature = "postgres"))]
fn postgres(_: &Bench) -> Result<(), BoxError> {
    println!("http_load: PostgreSQL skipped, built without the postgres feature");
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let plan = Plan::new();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(SERVER_THREADS)
        // Blocking threads that exit would take their CPU time out of the server's sum.
        .thread_keep_alive(Duration::from_secs(3600))
        .enable_all()
        .build()?;
    let client = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let load = Arc::new(Load {
        http: reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?,
        next_key: AtomicU64::new(0),
    });

    // SQLite: the example's store, in a fresh file.
    let db = common::TempDb::new("http-load");
    let sqlite = shop_state(DynOrderStore::new(SqliteStore::open(db.path())?));
    let (sqlite_running, sqlite_target) = serve_shop(&server_rt, &sqlite)?;

    // One lifecycle recorded against the shop gives the baselines their answers and rows.
    let mut recorder = Recorder { answers: Recording::new(), rows: hand_sqlite::RowRecorder::open(db.path())? };
    client.block_on(load.lifecycle(&sqlite_target, 0, &mut Vec::new(), Some(&mut recorder)))?;
    let templates = Templates::from(recorder.answers)?;
    let hand_db = common::TempDb::new("http-load-hand");
    let store = hand_sqlite::HandSqlite::open(hand_db.path(), recorder.rows.steps, templates.recorded.clone())?;
    let (baseline, baseline_stop) = serve_baseline(&server_rt, Baseline { templates: templates.clone(), store: None })?;
    let (hand_sqlite, hand_stop) = serve_baseline(&server_rt, Baseline { templates, store: Some(store) })?;
    let bench = Bench { plan, server_rt, client, load, baseline, hand_sqlite };

    let result = compare(&bench, "SQLite", &sqlite_target);
    bench.server_rt.block_on(sqlite_running.shutdown())?;
    result?;
    // The second baseline wrote what the shop wrote, order for order.
    let (shop_rows, hand_rows) =
        (hand_sqlite::rows_per_order(db.path())?, hand_sqlite::rows_per_order(hand_db.path())?);
    println!("http_load: rows per order, shop {shop_rows:?}; hand+SQLite {hand_rows:?}");
    for ((table, shop), (_, hand)) in shop_rows.iter().zip(&hand_rows) {
        if (shop - hand).abs() > shop.abs() * 0.05 {
            return Err(format!("hand+SQLite wrote {hand:.2} {table} per order, the shop {shop:.2}").into());
        }
    }

    let pg = postgres(&bench);
    let _ = baseline_stop.send(());
    let _ = hand_stop.send(());
    pg
}
