//! Several instances of the shop on one PostgreSQL database: 1, 2 and 4 OS processes, each with
//! its own engine on `PgStore`, driving whole lifecycles and competing for the same outbox and
//! deadlines. Reported per run: lifecycles per second in all, the speedup over one process,
//! the outbox lag (commit to delivery, p50 / p99), and what the server was doing (its
//! backends' wait events sampled every 100 ms, the CPU time of the server and of the
//! instances, the machine's busy share, the WAL's flushes and, with `pg_stat_statements`,
//! the statements' time). After each run every effect committed to the outbox is checked to
//! have been delivered exactly once: lost and duplicated deliveries are counted, printed and
//! must both be zero.
//!
//! The bench runs its own binary again as the child processes (the plan in the environment
//! variable `ORDERFLOW_MULTI_PROCESS_CHILD`). A child builds an engine on `PgStore` (its own
//! pool), the fake gateway and carrier (the carrier's waybills prefixed per process), a memory
//! inventory and a notifier that records each delivery; order numbers carry the child's node.
//! Its workers each run lifecycles back to back: place (as the buyer, with an idempotency
//! key) → approve (review is manual) → payment session → the provider's signed notification
//! → pick list → pack → ship (`Engine::ship`) → the waybill (delivering the outbox, then
//! reading the order, until the booking is done by whichever instance claimed it) → the
//! carrier's signed `Delivered` push → receipt confirmed; `dispatch_outbox` after each step,
//! as a shop answering requests does. After every few lifecycles a worker also places an
//! order it never pays: its pay-by deadline is short, and `run_due` cancels it in whichever
//! instance gets there first. Each child's timer runs `run_due` and `drain_outbox` every
//! tick. When the drive time is over, the children keep their timers going until their
//! unpaid orders are cancelled and the outbox is empty, then write their deliveries (each
//! with the time it was made) and counts to a file.
//!
//! Delivered effects are recorded by the ports that receive them: the notifier, inventory
//! (release, commit, restock), the carrier (create shipment by key; tracking subscription by
//! carrier and waybill) and the gateway (close payment by order number and provider; refunds
//! by key). The parent reads every outbox row after the run and matches each to its
//! deliveries: lost = a row delivered nowhere (or still pending), duplicated = a row
//! delivered more than once. The lag of a row is its first delivery's time minus the
//! outbox's `written_at` (the time of the command that wrote it).
//!
//! Lifecycles per second count the lifecycles finished in the drive time over the time from
//! the start to the last worker's end. Runs alternate the order of process counts between
//! rounds (1, 2, 4 then 4, 2, 1), each in a fresh schema (`bench_mp_<pid>_<n>`, dropped
//! after).
//!
//! `ORDERFLOW_PG_DURABLE=1 bash scripts/with-postgres.sh cargo bench --all-features --bench multi_process`
//! (durable server: the reported figures). Without `DATABASE_URL` it prints why and does
//! nothing; `cargo test --benches` runs 1 and 2 processes of a few lifecycles each. Sizes:
//! `ORDERFLOW_MP_PROCESSES` (e.g. `1,2,4`), `ORDERFLOW_MP_WORKERS` (per process, 4),
//! `ORDERFLOW_MP_SECONDS` (drive time, 20), `ORDERFLOW_MP_ROUNDS` (2).

mod child;
#[path = "../common/mod.rs"]
mod common;
#[path = "../common/postgres.rs"]
mod pg;
mod recorded;
mod server;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use orderflow::adapters::postgres::{PgOptions, PgStore};
use orderflow::{Effect, OrderNumber};
use tokio_postgres::Client;

use child::{ChildPlan, ChildSummary, PLAN_VAR};
use server::Samples;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How the runs are sized.
struct Settings {
    processes: Vec<usize>,
    workers: usize,
    drive: Duration,
    lifecycles_per_worker: u64,
    rounds: usize,
    pay_within_ms: i64,
    unpaid_every: u64,
    tick_ms: u64,
}

fn env_number<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

impl Settings {
    fn new() -> Settings {
        let full = common::full_run();
        let processes = std::env::var("ORDERFLOW_MP_PROCESSES")
            .ok()
            .map(|list| list.split(',').filter_map(|n| n.trim().parse().ok()).collect::<Vec<usize>>())
            .filter(|list| !list.is_empty());
        if full {
            Settings {
                processes: processes.unwrap_or_else(|| vec![1, 2, 4]),
                workers: env_number("ORDERFLOW_MP_WORKERS").unwrap_or(4),
                drive: Duration::from_secs(env_number("ORDERFLOW_MP_SECONDS").unwrap_or(20)),
                lifecycles_per_worker: u64::MAX,
                rounds: env_number("ORDERFLOW_MP_ROUNDS").unwrap_or(2),
                pay_within_ms: 4_000,
                unpaid_every: 4,
                tick_ms: 100,
            }
        } else {
            Settings {
                processes: processes.unwrap_or_else(|| vec![1, 2]),
                workers: 2,
                drive: Duration::from_secs(60),
                lifecycles_per_worker: 2,
                rounds: 1,
                // Room for a slow CI machine to pay the paid orders before their deadline.
                pay_within_ms: 3_000,
                unpaid_every: 2,
                tick_ms: 50,
            }
        }
    }
}

/// What one run measured.
struct RunResult {
    processes: usize,
    lifecycles: u64,
    rate: f64,
    lost: usize,
    duplicated: usize,
}

fn load_average() -> String {
    common::cpu_time::load_average(" / ").unwrap_or_default()
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    let last = sorted.len().saturating_sub(1);
    sorted.get(((last as f64) * p).round() as usize).map_or(f64::NAN, |us| *us as f64 / 1e3)
}

fn main() -> Result<(), BoxError> {
    if let Ok(plan) = std::env::var(PLAN_VAR) {
        return child::run(serde_json::from_str(&plan)?);
    }
    let Some(url) = pg::database_url("multi_process") else { return Ok(()) };
    let settings = Settings::new();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let admin = rt.block_on(pg::connect(&url))?;
    let (fsync, synchronous) = rt.block_on(pg::durability(&admin))?;
    eprintln!(
        "multi_process: server fsync={fsync}, synchronous_commit={synchronous}; {} workers per process, drive {:?}, {} round(s), started {} (load {})",
        settings.workers,
        settings.drive,
        settings.rounds,
        Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
        load_average()
    );
    let mut results = Vec::new();
    for round in 0..settings.rounds {
        let mut order = settings.processes.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        for processes in order {
            let schema = format!("bench_mp_{}_{}", std::process::id(), results.len());
            let result = rt.block_on(run(&url, &admin, &settings, &schema, processes));
            rt.block_on(admin.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")))?;
            results.push(result?);
        }
    }
    eprintln!("multi_process: lifecycles per second, each run against one process in the same round:");
    for (round, runs) in results.chunks(settings.processes.len()).enumerate() {
        let one = runs.iter().find(|r| r.processes == 1).map(|r| r.rate);
        for r in runs {
            let speedup = one.map_or(String::from("-"), |one| format!("{:.2}x", r.rate / one));
            eprintln!(
                "  round {}: {} process(es): {:.1} lifecycles/s ({} lifecycles), {speedup} one process; lost {}, duplicated {}",
                round + 1,
                r.processes,
                r.rate,
                r.lifecycles,
                r.lost,
                r.duplicated
            );
        }
    }
    let (lost, duplicated): (usize, usize) =
        results.iter().map(|r| (r.lost, r.duplicated)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    if lost + duplicated > 0 {
        return Err(format!("effects lost: {lost}, duplicated: {duplicated}").into());
    }
    Ok(())
}

/// One run of `processes` children in `schema`.
async fn run(
    url: &str,
    admin: &Client,
    settings: &Settings,
    schema: &str,
    processes: usize,
) -> Result<RunResult, BoxError> {
    // The tables, created once before the children connect.
    drop(PgStore::connect(PgOptions::new(url).schema(schema).pool_size(1)).await?);
    let statements = pg::reset_server_stats(admin).await?;
    let dir = std::env::temp_dir();
    let start_at = Utc::now() + chrono::TimeDelta::seconds(2);
    let load_before = load_average();
    let mut children = Vec::new();
    for index in 0..processes {
        let plan = ChildPlan {
            url: url.to_owned(),
            schema: schema.to_owned(),
            node: u8::try_from(index + 1)?,
            workers: settings.workers,
            drive_ms: u64::try_from(settings.drive.as_millis())?,
            lifecycles_per_worker: settings.lifecycles_per_worker,
            start_at_ms: start_at.timestamp_millis(),
            pay_within_ms: settings.pay_within_ms,
            unpaid_every: settings.unpaid_every,
            tick_ms: settings.tick_ms,
            out: dir.join(format!("{schema}_{index}.txt")),
        };
        let child = std::process::Command::new(std::env::current_exe()?)
            .env(PLAN_VAR, serde_json::to_string(&plan)?)
            .stdout(std::process::Stdio::null())
            .spawn()?;
        children.push((child, plan.out));
    }
    // Sample the server over the drive time.
    tokio::time::sleep((start_at - Utc::now()).to_std().unwrap_or_default()).await;
    let mut samples = Samples::start(admin).await?;
    let drive_end = tokio::time::Instant::now() + settings.drive;
    let mut running = true;
    while running && tokio::time::Instant::now() < drive_end {
        tokio::time::sleep(Duration::from_millis(100)).await;
        samples.sample(admin).await?;
        running = children.iter_mut().any(|(child, _)| matches!(child.try_wait(), Ok(None)));
    }
    samples.end();
    let load_after = load_average();
    let mut summaries = Vec::new();
    let mut deliveries: HashMap<String, Vec<i64>> = HashMap::new();
    for (mut child, out) in children {
        let status = tokio::task::spawn_blocking(move || child.wait()).await??;
        if !status.success() {
            return Err(format!("a child process failed: {status}").into());
        }
        let text = std::fs::read_to_string(&out)?;
        let _ = std::fs::remove_file(&out);
        let mut lines = text.lines();
        summaries.push(serde_json::from_str::<ChildSummary>(lines.next().ok_or("empty child output")?)?);
        for line in lines {
            let (at, identity) = line.split_once(' ').ok_or("bad delivery line")?;
            deliveries.entry(identity.to_owned()).or_default().push(at.parse()?);
        }
    }
    let check = check_outbox(admin, schema, &deliveries).await?;
    let lifecycles: u64 = summaries.iter().map(|s| s.lifecycles).sum();
    let unpaid = summaries.iter().map(|s| s.unpaid_ids.len() as u64).sum::<u64>();
    let errors: u64 = summaries.iter().map(|s| s.errors).sum();
    let drive_s = summaries.iter().map(|s| s.drive_us).max().unwrap_or(0) as f64 / 1e6;
    let rate = lifecycles as f64 / drive_s.max(1e-9);
    let client_cpu: f64 = summaries.iter().map(|s| s.cpu_s).sum();
    let statuses = status_counts(admin, schema).await?;

    eprintln!(
        "\n{processes} process(es) x {} workers: {lifecycles} lifecycles in {drive_s:.1} s = {rate:.1} lifecycles/s; {unpaid} unpaid orders; errors {errors}{}; load {load_before} -> {load_after}",
        settings.workers,
        summaries.iter().find_map(|s| s.first_error.as_deref()).map(|e| format!(" (first: {e})")).unwrap_or_default(),
    );
    eprintln!(
        "  orders by status: {statuses}; deadlines fired by the timers {}; waybill reads {}",
        summaries.iter().map(|s| s.fired).sum::<u64>(),
        summaries.iter().map(|s| s.waybill_reads).sum::<u64>()
    );
    eprintln!(
        "  outbox: {} rows, delivered once {}, lost {}, duplicated {} (extra deliveries {}), deliveries matching no row {}{}; lag p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        check.rows,
        check.once,
        check.lost,
        check.duplicated,
        check.extra,
        check.unmatched,
        check.example.as_deref().map(|e| format!(" (e.g. {e})")).unwrap_or_default(),
        percentile(&check.lags, 0.5),
        percentile(&check.lags, 0.99),
        percentile(&check.lags, 1.0),
    );
    eprintln!(
        "  CPU over the drive: instances {client_cpu:.1} s ({:.0} ms per lifecycle), PostgreSQL {:.1} s ({:.0} ms per lifecycle); machine busy {:.0}% of 2 cores (other helpers' work included)",
        client_cpu * 1e3 / lifecycles.max(1) as f64,
        samples.server_cpu(),
        samples.server_cpu() * 1e3 / lifecycles.max(1) as f64,
        samples.machine_busy() * 100.0,
    );
    eprintln!("  server backends, sampled every 100 ms ({:.1} active per sample):", samples.active_per_sample());
    for (state, share) in samples.top(8) {
        eprintln!("    {:5.1}%  {state}", share * 100.0);
    }
    eprintln!("  WAL: {}", server::wal(admin).await?);
    if statements {
        eprintln!("  pg_stat_statements, by total time:");
        for line in server::statements(admin).await? {
            eprintln!("    {line}");
        }
    }
    if errors > 0 {
        return Err(format!("{errors} lifecycles failed").into());
    }
    // Every lifecycle completed, every unpaid order cancelled, each by one deadline firing.
    let row = admin
        .query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'cancelled')
                 FROM \"{schema}\".orders"
            ),
            &[],
        )
        .await?;
    let (completed, cancelled): (i64, i64) = (row.get(0), row.get(1));
    let fired: u64 = summaries.iter().map(|s| s.fired).sum();
    if u64::try_from(completed)? != lifecycles || u64::try_from(cancelled)? != unpaid || fired != unpaid {
        return Err(format!(
            "{completed} orders completed of {lifecycles} lifecycles, {cancelled} cancelled and {fired} deadlines fired for {unpaid} unpaid orders"
        )
        .into());
    }
    Ok(RunResult { processes, lifecycles, rate, lost: check.lost, duplicated: check.duplicated })
}

/// The outbox against the deliveries.
struct Check {
    rows: usize,
    once: usize,
    lost: usize,
    duplicated: usize,
    extra: usize,
    unmatched: usize,
    example: Option<String>,
    /// Commit to first delivery, in microseconds, sorted.
    lags: Vec<i64>,
}

async fn check_outbox(admin: &Client, schema: &str, deliveries: &HashMap<String, Vec<i64>>) -> Result<Check, BoxError> {
    let rows = admin
        .query(
            &format!(
                "SELECT o.key, o.effect, o.written_at, o.done, r.number
                 FROM \"{schema}\".outbox o JOIN \"{schema}\".orders r ON r.id = o.order_id"
            ),
            &[],
        )
        .await?;
    let mut check =
        Check { rows: 0, once: 0, lost: 0, duplicated: 0, extra: 0, unmatched: 0, example: None, lags: Vec::new() };
    let mut matched = std::collections::HashSet::new();
    for row in rows {
        let key: String = row.get(0);
        let effect: Effect = serde_json::from_value(row.get(1))?;
        let written_at: Option<DateTime<Utc>> = row.get(2);
        let done: bool = row.get(3);
        let number: OrderNumber = row.get::<_, String>(4).parse()?;
        let Some(identity) = recorded::identity(&key, &effect, &number) else { continue };
        check.rows += 1;
        let times = deliveries.get(&identity).map(Vec::as_slice).unwrap_or_default();
        match times.len() {
            0 => {
                check.lost += 1;
                check.example.get_or_insert(format!("lost {identity}, done = {done}"));
            }
            1 => check.once += 1,
            n => {
                check.duplicated += 1;
                check.extra += n - 1;
                check.example.get_or_insert(format!("{identity} delivered {n} times"));
            }
        }
        if !done && !times.is_empty() {
            check.lost += 1;
            check.example.get_or_insert(format!("{identity} delivered but not marked done"));
        }
        if let (Some(first), Some(written)) = (times.iter().min(), written_at) {
            check.lags.push(first - written.timestamp_micros());
        }
        matched.insert(identity);
    }
    check.unmatched = deliveries.keys().filter(|k| !matched.contains(*k)).count();
    check.lags.sort_unstable();
    Ok(check)
}

/// Orders per status, as `status n, ...`.
async fn status_counts(admin: &Client, schema: &str) -> Result<String, BoxError> {
    let rows = admin
        .query(&format!("SELECT status, count(*) FROM \"{schema}\".orders GROUP BY status ORDER BY status"), &[])
        .await?;
    Ok(rows.iter().map(|r| format!("{} {}", r.get::<_, String>(0), r.get::<_, i64>(1))).collect::<Vec<_>>().join(", "))
}
