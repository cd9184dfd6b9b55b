//! One instance of the shop: its own engine on `PgStore`, driving whole lifecycles with a few
//! concurrent workers, dispatching the outbox after each step and running deadlines and the
//! outbox on a timer, as an app instance would. It writes what it did to the file its plan
//! names.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use orderflow::adapters::postgres::{PgOptions, PgStore};
use orderflow::engine::{Adapters, Engine, EngineError};
use orderflow::order::TrackingKind;
use orderflow::order_number::TimeOrderedNumbers;
use orderflow::ports::SystemClock;
use orderflow::testing::shop::SKUS;
use orderflow::testing::{FakeCarrier, FakeGateway, buyer, pack_remaining, reviewer, sample_form, warehouse};
use orderflow::{Action, Command, MemoryInventory, OrderId, OrderStatus, Sku, Workflow, WorkflowConfig};
use serde::{Deserialize, Serialize};

use super::BoxError;
use super::common::cpu_time::process_cpu_seconds;
use super::recorded::{DEADLINES, DeliveryLog, Recorded};

/// What the parent tells a child to do (as JSON in [`PLAN_VAR`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildPlan {
    pub url: String,
    pub schema: String,
    /// The child's node for order numbers (1..=15), distinct per child.
    pub node: u8,
    /// Concurrent lifecycles in this process.
    pub workers: usize,
    /// Start no lifecycle after this long from the start...
    pub drive_ms: u64,
    /// ...nor after this many (per worker).
    pub lifecycles_per_worker: u64,
    /// When to start (Unix milliseconds), the same for every child of a run.
    pub start_at_ms: i64,
    /// The pay-by deadline of every order: the orders left unpaid are cancelled by `run_due`.
    pub pay_within_ms: i64,
    /// One order left unpaid after every this many lifecycles of a worker.
    pub unpaid_every: u64,
    /// How often the timer runs `run_due` and `drain_outbox`.
    pub tick_ms: u64,
    /// Where to write the results.
    pub out: std::path::PathBuf,
}

/// The environment variable holding a child's plan.
pub const PLAN_VAR: &str = "ORDERFLOW_MULTI_PROCESS_CHILD";

type ChildEngine = Engine<
    Adapters<
        Arc<PgStore>,
        Recorded<Arc<FakeGateway>>,
        Recorded<Arc<FakeCarrier>>,
        Recorded<Arc<MemoryInventory>>,
        Arc<DeliveryLog>,
        SystemClock,
    >,
>;

struct Child {
    plan: ChildPlan,
    engine: ChildEngine,
    gateway: Arc<FakeGateway>,
    carrier: Arc<FakeCarrier>,
    /// Reads of an order that found no waybill yet (each followed by a short wait).
    waybill_reads: AtomicU64,
}

/// What a child reports besides its deliveries.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ChildSummary {
    pub lifecycles: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// From the start to the last worker's end, in microseconds.
    pub drive_us: u64,
    /// This process's CPU time (user + system) over the drive, in seconds.
    pub cpu_s: f64,
    pub waybill_reads: u64,
    /// The orders this child left unpaid.
    pub unpaid_ids: Vec<OrderId>,
    /// Deadlines this child's timer fired.
    pub fired: u64,
}

fn engine(plan: &ChildPlan, store: PgStore, log: &Arc<DeliveryLog>) -> Result<Child, BoxError> {
    let inventory = Arc::new(MemoryInventory::new());
    for sku in SKUS {
        inventory.set_stock(&Sku::new(sku)?, u32::MAX);
    }
    let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
    // Waybills unique across the processes: each carrier counts on its own.
    let carrier = Arc::new(FakeCarrier::new("SF", b"carrier-secret").with_waybill_prefix(format!("SF{}-", plan.node)));
    let config = WorkflowConfig {
        auto_approve: false,
        pay_within: TimeDelta::milliseconds(plan.pay_within_ms),
        ..WorkflowConfig::default()
    };
    let engine = Engine::new(
        Workflow::new(config),
        Adapters {
            store: Arc::new(store),
            payments: Recorded { inner: gateway.clone(), log: log.clone() },
            logistics: Recorded { inner: carrier.clone(), log: log.clone() },
            inventory: Recorded { inner: inventory, log: log.clone() },
            notifier: log.clone(),
            clock: SystemClock,
        },
    )
    .with_numbers(TimeOrderedNumbers::with_node(plan.node)?);
    Ok(Child { plan: plan.clone(), engine, gateway, carrier, waybill_reads: AtomicU64::new(0) })
}

fn err(step: &str) -> impl FnOnce(EngineError) -> String + '_ {
    move |e| format!("{step}: {e}")
}

impl Child {
    /// Delivers a batch of due outbox items, as a shop does after a command.
    async fn dispatch(&self) -> Result<(), String> {
        self.engine.dispatch_outbox().await.map_err(err("dispatch_outbox"))?;
        Ok(())
    }

    /// One whole lifecycle: place, review, pay (payment session, the provider's signed
    /// notification), pick, pack, ship, the waybill, the carrier's Delivered push, receipt.
    async fn lifecycle(&self, worker: usize, n: u64) -> Result<(), String> {
        let customer = if n.is_multiple_of(2) { "alice" } else { "bob" };
        let buyer = buyer(customer);
        let key = format!("mp-{}-{worker}-{n}", self.plan.node);
        let e = &self.engine;
        let id = e.place(&buyer, &sample_form(customer), Some(&key)).await.map_err(err("place"))?.order.id();
        self.dispatch().await?;
        e.execute(id, Command::new(reviewer(), Action::Approve { note: String::new() }))
            .await
            .map_err(err("approve"))?;
        self.dispatch().await?;
        e.start_payment(&buyer, id).await.map_err(err("start_payment"))?;
        let order = e.order(id).await.map_err(err("read"))?;
        let owed = order.payment().outstanding().map_err(|e| format!("outstanding: {e}"))?;
        let paid = self.gateway.notify_paid(&order.number(), owed, Utc::now());
        e.handle_payment_notification(&paid).await.map_err(err("payment notification"))?;
        self.dispatch().await?;
        e.execute(id, Command::new(warehouse(), Action::IssuePickList)).await.map_err(err("pick list"))?;
        let order = e.order(id).await.map_err(err("read"))?;
        let packed = e.execute(id, Command::new(warehouse(), pack_remaining(&order))).await.map_err(err("pack"))?;
        let package = packed.order.fulfilment().packages.last().map(|p| p.id).ok_or("packed no package")?;
        self.dispatch().await?;
        e.ship(&warehouse(), id, package).await.map_err(err("ship"))?;
        // The booking may be in another instance's hands: deliver, then read, until it is done.
        let start = Instant::now();
        let waybill = loop {
            self.dispatch().await?;
            let order = e.order(id).await.map_err(err("read"))?;
            if let Some(waybill) = order.fulfilment().package(package).and_then(|p| p.waybill.clone()) {
                break waybill;
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(format!("no waybill for order {id} after 60 s"));
            }
            self.waybill_reads.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let push = self.carrier.push(&waybill, TrackingKind::Delivered, Utc::now(), &format!("D-{waybill}"));
        e.handle_tracking_push(&push).await.map_err(err("tracking push"))?;
        self.dispatch().await?;
        let done = e.execute(id, Command::new(buyer, Action::ConfirmReceipt)).await.map_err(err("confirm"))?;
        self.dispatch().await?;
        if done.order.status() != OrderStatus::Completed {
            return Err(format!("order {id} ended {:?}", done.order.status()));
        }
        Ok(())
    }

    /// An order placed and approved but never paid: its pay-by deadline cancels it.
    async fn unpaid(&self, worker: usize, n: u64) -> Result<OrderId, String> {
        let buyer = buyer("carol");
        let key = format!("mp-unpaid-{}-{worker}-{n}", self.plan.node);
        let e = &self.engine;
        let id = e.place(&buyer, &sample_form("carol"), Some(&key)).await.map_err(err("place unpaid"))?.order.id();
        e.execute(id, Command::new(reviewer(), Action::Approve { note: String::new() }))
            .await
            .map_err(err("approve"))?;
        self.dispatch().await?;
        Ok(id)
    }

    /// The timer: deadlines, then the outbox, every tick until `stop`.
    async fn timer(&self, stop: &AtomicBool, fired: &AtomicU64) {
        while !stop.load(Ordering::Relaxed) {
            if let Ok(report) = DEADLINES.scope((), self.engine.run_due(Utc::now())).await {
                fired.fetch_add(report.fired as u64, Ordering::Relaxed);
            }
            // A failed drain is retried on the next tick.
            let _ = self.engine.drain_outbox().await;
            tokio::time::sleep(Duration::from_millis(self.plan.tick_ms)).await;
        }
    }
}

/// The child's whole run; its results go to `plan.out`.
pub fn run(plan: ChildPlan) -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let log = Arc::new(DeliveryLog::default());
    let store =
        rt.block_on(PgStore::connect(PgOptions::new(&plan.url).schema(&plan.schema).pool_size(plan.workers + 2)))?;
    let child = Arc::new(engine(&plan, store, &log)?);
    let wait = plan.start_at_ms - Utc::now().timestamp_millis();
    if wait > 0 {
        std::thread::sleep(Duration::from_millis(u64::try_from(wait)?));
    }
    let summary = rt.block_on(drive(child.clone()))?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&plan.out)?);
    writeln!(out, "{}", serde_json::to_string(&summary)?)?;
    for (identity, at) in log.take() {
        writeln!(out, "{at} {identity}")?;
    }
    out.flush()?;
    Ok(())
}

async fn drive(child: Arc<Child>) -> Result<ChildSummary, BoxError> {
    let plan = child.plan.clone();
    let (stop, fired) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let cpu0 = process_cpu_seconds("self").unwrap_or(0.0);
    let start = Instant::now();
    let timer = {
        let (child, stop, fired) = (child.clone(), stop.clone(), fired.clone());
        tokio::spawn(async move { child.timer(&stop, &fired).await })
    };
    let mut workers = Vec::new();
    for worker in 0..plan.workers {
        let child = child.clone();
        let drive = Duration::from_millis(plan.drive_ms);
        workers.push(tokio::spawn(async move {
            let mut summary = ChildSummary::default();
            for n in 0..child.plan.lifecycles_per_worker {
                if start.elapsed() >= drive {
                    break;
                }
                match child.lifecycle(worker, n).await {
                    Ok(()) => summary.lifecycles += 1,
                    Err(e) => {
                        summary.errors += 1;
                        summary.first_error.get_or_insert(e);
                    }
                }
                if (n + 1).is_multiple_of(child.plan.unpaid_every) {
                    match child.unpaid(worker, n).await {
                        Ok(id) => summary.unpaid_ids.push(id),
                        Err(e) => {
                            summary.errors += 1;
                            summary.first_error.get_or_insert(e);
                        }
                    }
                }
            }
            summary
        }));
    }
    let mut summary = ChildSummary::default();
    for worker in workers {
        let part = worker.await?;
        summary.lifecycles += part.lifecycles;
        summary.errors += part.errors;
        summary.unpaid_ids.extend(part.unpaid_ids);
        if summary.first_error.is_none() {
            summary.first_error = part.first_error;
        }
    }
    summary.drive_us = u64::try_from(start.elapsed().as_micros())?;
    summary.cpu_s = process_cpu_seconds("self").unwrap_or(0.0) - cpu0;
    // The timer goes on until this child's unpaid orders are cancelled (their deadline is
    // run by whichever instance gets there first) and nothing is left in the outbox.
    let give_up = Instant::now() + Duration::from_millis(u64::try_from(plan.pay_within_ms)? + 30_000);
    loop {
        let mut left = 0;
        for id in &summary.unpaid_ids {
            if child.engine.order(*id).await?.status() != OrderStatus::Cancelled {
                left += 1;
            }
        }
        let backlog = child.engine.outbox_backlog().await?;
        if (left == 0 && backlog.pending == 0) || Instant::now() > give_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(plan.tick_ms)).await;
    }
    stop.store(true, Ordering::Relaxed);
    timer.await?;
    summary.fired = fired.load(Ordering::Relaxed);
    summary.waybill_reads = child.waybill_reads.load(Ordering::Relaxed);
    Ok(summary)
}
