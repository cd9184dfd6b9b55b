//! What the PostgreSQL server was doing during a run: its backends' wait events sampled, the
//! CPU time of its processes and of the machine, and (with `pg_stat_statements` loaded, as
//! `ORDERFLOW_PG_DURABLE=1` does) the statements' time and the WAL's flushes.

use std::collections::{BTreeMap, HashMap};

use tokio_postgres::Client;

use super::BoxError;
use super::common::cpu_time::process_cpu_seconds;

/// Samples of the server's client backends (of this database, the parent's own left out).
#[derive(Default)]
pub struct Samples {
    /// Backend states and wait events, counted over every sample.
    states: BTreeMap<String, u64>,
    backends: u64,
    samples: u64,
    /// CPU seconds of each server process: when first seen, when last seen.
    cpu: HashMap<i32, (f64, f64)>,
    machine_start: Option<(u64, u64)>,
    machine_end: Option<(u64, u64)>,
}

/// Busy and total jiffies of the machine (`/proc/stat`'s first line).
fn machine_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let total: u64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4)?;
    Some((total - idle, total))
}

impl Samples {
    /// Starts the count: the server processes' CPU so far and the machine's.
    pub async fn start(admin: &Client) -> Result<Samples, BoxError> {
        let mut samples = Samples { machine_start: machine_jiffies(), ..Samples::default() };
        for row in admin.query("SELECT pid FROM pg_stat_activity", &[]).await? {
            let pid: i32 = row.get(0);
            if let Some(cpu) = process_cpu_seconds(&pid.to_string()) {
                samples.cpu.insert(pid, (cpu, cpu));
            }
        }
        Ok(samples)
    }

    /// One sample: what each client backend is doing, and every server process's CPU time
    /// (a backend first seen now started during the run: counted from zero).
    pub async fn sample(&mut self, admin: &Client) -> Result<(), BoxError> {
        let rows = admin
            .query(
                "SELECT pid, backend_type, datname = current_database(), state, wait_event_type, wait_event
                 FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
                &[],
            )
            .await?;
        self.samples += 1;
        for row in rows {
            let pid: i32 = row.get(0);
            if let Some(cpu) = process_cpu_seconds(&pid.to_string()) {
                self.cpu.entry(pid).or_insert((0.0, cpu)).1 = cpu;
            }
            let backend: Option<String> = row.get(1);
            let ours: Option<bool> = row.get(2);
            if backend.as_deref() != Some("client backend") || ours != Some(true) {
                continue;
            }
            let state: Option<String> = row.get(3);
            let (kind, event): (Option<String>, Option<String>) = (row.get(4), row.get(5));
            let name = match (state.as_deref(), kind, event) {
                (Some("active"), Some(kind), Some(event)) => format!("active, waiting: {kind}/{event}"),
                (Some("active"), _, _) => "active, on CPU".to_owned(),
                (Some("idle"), _, _) => "idle (waiting for the client)".to_owned(),
                (Some(other), _, _) => other.to_owned(),
                (None, _, _) => "unknown".to_owned(),
            };
            *self.states.entry(name).or_default() += 1;
            self.backends += 1;
        }
        Ok(())
    }

    /// Ends the count (the machine's CPU).
    pub fn end(&mut self) {
        self.machine_end = machine_jiffies();
    }

    /// CPU seconds the server's processes used between the start and the last sample.
    pub fn server_cpu(&self) -> f64 {
        self.cpu.values().map(|(first, last)| last - first).sum()
    }

    /// Share of the machine's CPU time that was busy (all processes, other helpers' too).
    pub fn machine_busy(&self) -> f64 {
        match (self.machine_start, self.machine_end) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => (b1 - b0) as f64 / (t1 - t0) as f64,
            _ => f64::NAN,
        }
    }

    /// Backends active (a statement running or waiting) per sample, on average.
    pub fn active_per_sample(&self) -> f64 {
        let active: u64 = self.states.iter().filter(|(k, _)| k.starts_with("active")).map(|(_, n)| n).sum();
        active as f64 / self.samples.max(1) as f64
    }

    /// The states and wait events, most frequent first, with their share of backend samples.
    pub fn top(&self, n: usize) -> Vec<(String, f64)> {
        let mut states: Vec<_> = self.states.iter().collect();
        states.sort_by(|a, b| b.1.cmp(a.1));
        let total = self.backends.max(1) as f64;
        states.into_iter().take(n).map(|(k, v)| (k.clone(), *v as f64 / total)).collect()
    }
}

/// The WAL since the reset: flushes and their mean time, records and bytes.
pub async fn wal(admin: &Client) -> Result<String, BoxError> {
    let wal = admin
        .query_one(
            "SELECT wal_records, wal_bytes::float8, wal_sync, wal_sync_time, wal_buffers_full FROM pg_stat_wal",
            &[],
        )
        .await?;
    let (syncs, sync_ms) = (wal.get::<_, i64>(2), wal.get::<_, f64>(3));
    Ok(format!(
        "{} records, {:.1} MB, {syncs} flushes ({:.2} ms each, {:.0} ms in all), WAL buffers full {}",
        wal.get::<_, i64>(0),
        wal.get::<_, f64>(1) / 1e6,
        sync_ms / syncs.max(1) as f64,
        sync_ms,
        wal.get::<_, i64>(4),
    ))
}

/// The statements with the most time since the reset: calls, total and mean time, WAL bytes
/// per call, the statement's start.
pub async fn statements(admin: &Client) -> Result<Vec<String>, BoxError> {
    let rows = admin
        .query(
            "SELECT calls, total_exec_time, mean_exec_time, wal_bytes::float8 / greatest(calls, 1),
                 regexp_replace(left(query, 200), '\\s+', ' ', 'g')
             FROM pg_stat_statements WHERE calls > 10 ORDER BY total_exec_time DESC LIMIT 6",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let query: String = row.get(4);
            format!(
                "{} calls, {:.0} ms, {:.0} µs each, {:.0} WAL bytes each: {}",
                row.get::<_, i64>(0),
                row.get::<_, f64>(1),
                row.get::<_, f64>(2) * 1e3,
                row.get::<_, f64>(3),
                query.chars().take(90).collect::<String>()
            )
        })
        .collect())
}
