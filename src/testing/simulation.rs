//! Deterministic simulation: a seeded driver runs many orders through the engine with faults
//! injected at every adapter, and checks the invariants after every order.
//!
//! [`simulate`] runs on the providers' real formats: payments through the Alipay adapter and
//! tracking through the Kuaidi100 adapter, each over its in-process emulator (an
//! [`EmulatedShop`](crate::testing::shop::EmulatedShop)), so every notification, push, query,
//! close and refund is signed, sent and verified as with the real providers.
//! [`simulate_on`] runs the same driver on any [`Shop`] (e.g. the scripted fakes).
//!
//! Faults: payment notifications dropped (the timer's gateway query must find the payment),
//! duplicated and delivered late (the buyer pays the payment opened before cancelling: the
//! money must go back); tracking pushes
//! out of order and twice; the gateway, carrier, notifier and store failing (calls that fail,
//! and refunds that time out after having been made); the engine crashing (dropped and rebuilt
//! on the same adapters) between steps; clock jumps that make deadlines fire.
//!
//! At the end of each batch the providers come back and, as an operator would after an outage,
//! the driver requeues every dead letter ([`Engine::requeue_dead_letter`](crate::engine::Engine::requeue_dead_letter))
//! before checking that every committed effect was delivered.
//!
//! The same seed replays the same run: randomness comes only from the seed, and the clock is a
//! [`FixedClock`](crate::testing::FixedClock) moved by the driver.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::TimeDelta;

use crate::Workflow;
use crate::actor::Actor;
use crate::command::{Action, Command};
use crate::engine::{Engine, EngineSettings};
use crate::ids::{LineId, OrderId, PackageId};
use crate::money::Money;
use crate::order::{CaseKind, CaseLine, CaseRequest, Order, OrderStatus, TrackingKind};
use crate::ports::RawMessage;
use crate::testing::shop::{SKUS, Shop, sku};
use crate::testing::{
    COMMITS, CarrierReport, Failure, Fault, TestPayments, TestTracking, buyer, customer_service, pack_remaining,
    sample_cod_form, sample_form,
};

/// The invariants checked, by name.
pub const INVARIANTS: [&str; 7] = [
    "money: refunds <= received per order and per line; captures <= total",
    "cancelled orders keep no money",
    "stock: reserved = units of live orders not yet shipped; on hand = stocked - shipped",
    "terminal orders never move",
    "every payment the gateway confirmed is recorded exactly once",
    "every committed effect is delivered (outbox empty, nothing dead)",
    "replaying the events reproduces the stored order",
];

/// What to simulate.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    /// The seed: the same seed gives the same run.
    pub seed: u64,
    /// How many orders.
    pub orders: usize,
    /// Orders per shop (a fresh store, stock and providers per batch bound the memory of long
    /// runs).
    pub batch: usize,
    /// Inject faults (off: the happy paths alone, for throughput).
    pub faults: bool,
    /// The engine's [`EngineSettings::max_refund_attempts`]: lower it to see refunds given up
    /// during the outages and requeued by the operator.
    pub max_refund_attempts: u32,
}

impl Default for SimConfig {
    fn default() -> Self {
        let max_refund_attempts = EngineSettings::default().max_refund_attempts;
        SimConfig { seed: 1, orders: 100, batch: 1_000, faults: true, max_refund_attempts }
    }
}

/// What a simulation found.
#[derive(Debug, Clone, Default)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// Orders run.
    pub orders: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Checks made per invariant.
    pub checks: BTreeMap<&'static str, usize>,
    /// Every violation found, with the seed, order and invariant.
    pub violations: Vec<String>,
    /// Faults injected, by kind.
    pub faults: BTreeMap<&'static str, usize>,
    /// Dead letters the simulated operator requeued after the providers came back.
    pub requeued: usize,
    /// Pending refunds the shop's reconciliation found settled at the provider.
    pub refunds_reconciled: usize,
    /// Payments the provider confirmed (each checked to be recorded exactly once).
    pub payments_confirmed: usize,
}

impl SimReport {
    /// Orders per second.
    pub fn orders_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 { self.orders as f64 / secs } else { 0.0 }
    }
}

/// A small, seedable pseudo-random generator (SplitMix64): deterministic and dependency-free.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

const STOCK: u32 = 1_000_000;

struct Driver<G: TestPayments + 'static, L: TestTracking + 'static> {
    shop: Shop<G, L>,
    settings: EngineSettings,
    rng: Rng,
    faults: bool,
    report: SimReport,
    terminal: BTreeMap<OrderId, OrderStatus>,
}

/// Runs a simulation on the providers' real formats (Alipay and Kuaidi100, emulated) and
/// returns what it found. Never panics on a violation: it reports it.
#[cfg(all(feature = "alipay", feature = "kuaidi100"))]
pub async fn simulate(config: SimConfig) -> SimReport {
    simulate_on(config, crate::testing::shop::EmulatedShop::emulated).await
}

/// Runs a simulation on the shops `new_shop` builds (one per batch, from the workflow and the
/// stock of every SKU) and returns what it found. Never panics on a violation: it reports it.
///
/// ```
/// use orderflow::testing::shop::Shop;
/// use orderflow::testing::simulation::{SimConfig, simulate_on};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// // The scripted fakes, a new shop per batch.
/// let report = simulate_on(SimConfig { orders: 5, ..SimConfig::default() }, Shop::with_workflow).await;
/// assert!(report.violations.is_empty(), "{:?}", report.violations);
/// # });
/// ```
pub async fn simulate_on<G: TestPayments + 'static, L: TestTracking + 'static>(
    config: SimConfig,
    new_shop: impl Fn(Workflow, u32) -> Shop<G, L>,
) -> SimReport {
    let started = Instant::now();
    let mut report = SimReport { seed: config.seed, ..SimReport::default() };
    let mut rng = Rng::new(config.seed);
    let mut done = 0;
    while done < config.orders {
        let batch = config.batch.max(1).min(config.orders - done);
        let shop = new_shop(Workflow::default(), STOCK);
        let settings = EngineSettings { max_refund_attempts: config.max_refund_attempts, ..EngineSettings::default() };
        let mut driver = Driver {
            shop,
            settings,
            rng: rng.clone(),
            faults: config.faults,
            report: std::mem::take(&mut report),
            terminal: BTreeMap::new(),
        };
        driver.restart();
        let mut ids = Vec::with_capacity(batch);
        for n in 0..batch {
            let customer = format!("c{}", done + n);
            if let Some(id) = driver.order(&customer).await {
                ids.push(id);
            }
            driver.reconcile(false).await;
        }
        driver.settle().await;
        driver.check_batch(&ids).await;
        rng = driver.rng.clone();
        report = driver.report;
        done += batch;
    }
    report.orders = done;
    report.elapsed = started.elapsed();
    report
}

impl<G: TestPayments + 'static, L: TestTracking + 'static> Driver<G, L> {
    fn fault(&mut self, kind: &'static str, percent: u64) -> bool {
        if self.faults && self.rng.chance(percent) {
            *self.report.faults.entry(kind).or_default() += 1;
            true
        } else {
            false
        }
    }

    /// A fresh engine on the same adapters, as after a crash.
    fn restart(&mut self) {
        let adapters = self.shop.engine.adapters().clone();
        self.shop.engine = Engine::new(Workflow::default(), adapters).with_settings(self.settings.clone());
    }

    fn violation(&mut self, invariant: &str, id: Option<OrderId>, detail: String) {
        let order = id.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
        self.report.violations.push(format!("seed {}: order {order}: {invariant}: {detail}", self.report.seed));
    }

    fn check(&mut self, invariant: &'static str) {
        *self.report.checks.entry(invariant).or_default() += 1;
    }

    /// Injects adapter faults before a step, and sometimes crashes the engine.
    fn before_step(&mut self) {
        if self.fault("engine crash and restart", 5) {
            self.restart();
        }
        if self.fault("notifier failure", 10) {
            self.shop.faults.notifier.fail_next(1);
        }
        if self.fault("gateway outage", 5) {
            self.shop.faults.gateway.inject(Failure::next(1).with(Fault::Unavailable("simulated outage".into())));
        }
        if self.fault("refund timeout after success", 3) {
            self.shop.faults.gateway.inject(Failure::timeouts_after_success(1).of(&["refund"]));
        }
        if self.fault("carrier outage", 5) {
            self.shop.faults.carrier.fail_next(1);
        }
    }

    /// The next commit fails; at most one is pending, as a store outage is one failed write.
    fn fail_next_commit(&self) {
        self.shop.faults.store.heal();
        self.shop.faults.store.inject(Failure::next(1).of(COMMITS));
    }

    /// Runs a command, retrying what a real caller would retry (store outages, conflicts).
    async fn run(&mut self, id: OrderId, actor: Actor, action: Action) -> bool {
        self.before_step();
        if self.fault("store write failure", 5) {
            self.fail_next_commit();
        }
        for _ in 0..3 {
            match self.shop.engine.execute(id, Command::new(actor.clone(), action.clone())).await {
                Ok(_) => return true,
                Err(e) if e.is_retryable() => continue,
                Err(_) => return false,
            }
        }
        false
    }

    /// Delivers the outbox and fires deadlines until nothing is left, moving the clock over
    /// retry backoffs (bounded).
    async fn settle(&mut self) {
        for _ in 0..40 {
            let _ = self.shop.engine.run_due(self.shop.clock.now()).await;
            let _ = self.shop.engine.drain_outbox().await;
            if self.shop.store.outbox_pending() == 0 {
                return;
            }
            self.shop.clock.advance(TimeDelta::minutes(10));
        }
    }

    /// The buyer opens the payment at the provider, as the checkout page does (retrying what
    /// a buyer would retry); false when it could not be opened.
    async fn start_payment(&mut self, id: OrderId, customer: &str) -> bool {
        self.before_step();
        for _ in 0..3 {
            if self.shop.engine.start_payment(&buyer(customer), id).await.is_ok() {
                return true;
            }
        }
        false
    }

    /// The buyer pays `amount` at the provider: the notification it sends, if the payment was
    /// open there.
    fn buyer_pays(&self, order_number: &crate::OrderNumber, amount: Money) -> Option<RawMessage> {
        self.shop.gateway.buyer_pays(order_number, amount, self.shop.clock.now())
    }

    async fn pay(&mut self, id: OrderId, customer: &str) {
        if !self.start_payment(id, customer).await {
            return;
        }
        let Ok(order) = self.shop.engine.order(id).await else { return };
        let Ok(amount) = order.payment.outstanding() else { return };
        self.before_step();
        let Some(raw) = self.buyer_pays(&order.number, amount) else { return };
        if self.fault("payment notification dropped", 5) {
            // The buyer paid, nobody told us: the pay-by timer must ask the gateway.
            self.shop.clock.advance(TimeDelta::minutes(31));
            self.settle().await;
            return;
        }
        let copies = if self.fault("payment notification duplicated", 10) { 2 } else { 1 };
        for _ in 0..copies {
            // Like a provider, retry while the answer is not success.
            for _ in 0..3 {
                match self.shop.engine.handle_payment_notification(&raw).await {
                    Err(e) if e.is_retryable() => continue,
                    _ => break,
                }
            }
        }
    }

    async fn order(&mut self, customer: &str) -> Option<OrderId> {
        let cod = self.rng.chance(15);
        let form = if cod { sample_cod_form(customer) } else { sample_form(customer) };
        self.before_step();
        let placed = loop {
            if self.fault("store write failure at placement", 3) {
                self.fail_next_commit();
            }
            match self.shop.engine.place(&buyer(customer), &form, Some(customer)).await {
                Ok(placed) => break placed,
                Err(e) if e.is_retryable() => continue,
                Err(e) => {
                    self.violation("placement", None, format!("valid order refused: {e}"));
                    return None;
                }
            }
        };
        let id = placed.order.id;
        let number = placed.order.number;
        let total = placed.order.totals.total;
        let roll = self.rng.next_u64() % 100;
        if !cod {
            if roll < 8 {
                // Opened but never paid: cancelled (and closed at the provider) by the timer.
                self.start_payment(id, customer).await;
                self.shop.clock.advance(TimeDelta::minutes(31));
                self.settle().await;
                self.observe(id).await;
                return Some(id);
            }
            if roll < 14 {
                // Cancelled by the buyer, who then pays the payment opened before (the provider
                // has not closed it yet): the late payment must be refunded.
                self.start_payment(id, customer).await;
                self.run(id, buyer(customer), Action::Cancel { reason: "changed my mind".into() }).await;
                if let Some(raw) = self.buyer_pays(&number, total) {
                    let _ = self.shop.engine.handle_payment_notification(&raw).await;
                }
                self.settle().await;
                self.observe(id).await;
                return Some(id);
            }
            self.pay(id, customer).await;
        }
        self.settle().await;
        if self.rng.chance(5) {
            self.run(id, customer_service(), Action::Cancel { reason: "out of season".into() }).await;
            self.settle().await;
            self.observe(id).await;
            return Some(id);
        }
        self.fulfil(id, customer, cod).await;
        self.observe(id).await;
        Some(id)
    }

    async fn fulfil(&mut self, id: OrderId, customer: &str, cod: bool) {
        let Some(waybill) = self.ship(id).await else { return };
        // Tracking pushes, shuffled and sometimes twice.
        let now = self.shop.clock.now();
        let mut pushes = vec![
            (TrackingKind::PickedUp, now + TimeDelta::hours(2), "E1"),
            (TrackingKind::InTransit, now + TimeDelta::hours(20), "E2"),
            (TrackingKind::Delivered, now + TimeDelta::hours(40), "E3"),
        ];
        if self.fault("tracking pushes reordered", 30) {
            pushes.reverse();
        }
        for (kind, at, event) in pushes {
            // Each update carries its own time, but the push is sent now. Nothing is pushed for
            // a waybill the tracking service was never subscribed to (the subscription failed
            // for good): the order waits for the tracking poll.
            let report = CarrierReport { waybill: &waybill, kind, at, words: event };
            let Some(raw) = self.shop.carrier.carrier_reports(report, now) else { continue };
            let copies = if self.fault("tracking push duplicated", 10) { 2 } else { 1 };
            for _ in 0..copies {
                let _ = self.shop.engine.handle_tracking_push(&raw).await;
            }
        }
        self.shop.clock.advance(TimeDelta::hours(41));
        if cod && let Ok(order) = self.shop.engine.order(id).await {
            let collect = Action::RecordCodCollected { amount: order.totals.total };
            self.run(id, Actor::Carrier { carrier: "SF".into() }, collect).await;
        }
        if self.rng.chance(60) {
            self.run(id, buyer(customer), Action::ConfirmReceipt).await;
        } else {
            self.shop.clock.advance(TimeDelta::days(11));
        }
        self.settle().await;
        if self.rng.chance(20) {
            let request = CaseRequest {
                kind: CaseKind::RefundOnly,
                lines: vec![CaseLine { line: LineId(3), quantity: 1 }],
                reason_code: "damaged".into(),
                text: String::new(),
                evidence: Vec::new(),
            };
            if self.run(id, buyer(customer), Action::OpenCase { request }).await {
                let case = self.shop.engine.order(id).await.ok().and_then(|o| o.cases.last().map(|c| c.id));
                if let Some(case) = case {
                    self.run(id, customer_service(), Action::ApproveCase { case }).await;
                    let reference = cod.then(|| format!("BANK-{case}"));
                    self.run(id, customer_service(), Action::RefundCase { case, manual_reference: reference }).await;
                }
            }
        }
        self.settle().await;
    }

    /// Pick, pack everything, book with the selector (retrying carrier outages), create the
    /// shipment from the outbox; the waybill once the carrier answered.
    async fn ship(&mut self, id: OrderId) -> Option<String> {
        let warehouse = crate::testing::warehouse();
        self.run(id, warehouse.clone(), Action::IssuePickList).await;
        let order = self.shop.engine.order(id).await.ok()?;
        let pack = pack_remaining(&order);
        self.run(id, warehouse.clone(), pack).await;
        self.before_step();
        for _ in 0..3 {
            if self.shop.engine.ship(&warehouse, id, PackageId(1)).await.is_ok() {
                break;
            }
        }
        self.settle().await;
        let order = self.shop.engine.order(id).await.ok()?;
        order.fulfilment.package(PackageId(1)).and_then(|p| p.waybill.as_deref().map(str::to_owned))
    }

    /// Records terminal statuses and checks they never change.
    async fn observe(&mut self, id: OrderId) {
        let Ok(order) = self.shop.engine.order(id).await else { return };
        self.terminal_check(&order);
    }

    fn terminal_check(&mut self, order: &Order) {
        let status = order.status();
        self.check(INVARIANTS[3]);
        match self.terminal.get(&order.id).copied() {
            Some(before) if before != status => {
                self.violation(INVARIANTS[3], Some(order.id), format!("{before} became {status}"))
            }
            Some(_) => {}
            None if status.is_terminal() => {
                self.terminal.insert(order.id, status);
            }
            None => {}
        }
    }

    async fn check_batch(&mut self, ids: &[OrderId]) {
        // Faults off while the last effects drain, as a provider eventually comes back.
        self.faults = false;
        self.shop.faults.gateway.heal();
        self.shop.faults.carrier.heal();
        self.shop.faults.notifier.heal();
        // Time goes on: every pending pay-by deadline of the batch passes, and the shop's
        // reconciliation runs once more.
        self.shop.clock.advance(TimeDelta::hours(1));
        self.settle().await;
        self.reconcile(true).await;
        self.settle().await;
        // The operator sends out again what was given up during the outages.
        self.requeue_dead_letters().await;
        self.settle().await;
        self.check(INVARIANTS[5]);
        let pending = self.shop.store.outbox_pending();
        let dead = self.shop.engine.dead_letters(None, 100).await.unwrap_or_default().letters;
        if pending > 0 || !dead.is_empty() {
            let dead: Vec<(&str, &str)> = dead.iter().map(|d| (d.key.as_str(), d.last_error.as_str())).collect();
            self.violation(INVARIANTS[5], None, format!("{pending} pending, {} dead: {dead:?}", dead.len()));
        }
        let mut reserved: BTreeMap<String, u64> = BTreeMap::new();
        let mut shipped: BTreeMap<String, u64> = BTreeMap::new();
        for id in ids {
            let Ok(order) = self.shop.engine.order(*id).await else {
                self.violation("load", Some(*id), "order missing".into());
                continue;
            };
            self.terminal_check(&order);
            self.check_money(&order);
            self.check_payments(&order).await;
            self.check_replay(&order).await;
            let live = order.cancellation.is_none();
            for line in order.lines.iter() {
                let out = u64::from(order.fulfilment.shipped_quantity(line.id));
                *shipped.entry(line.sku.to_string()).or_default() += out;
                if live {
                    *reserved.entry(line.sku.to_string()).or_default() +=
                        u64::from(line.quantity) - out.min(u64::from(line.quantity));
                }
            }
        }
        for s in SKUS {
            self.check(INVARIANTS[2]);
            let (on_hand, held) = self.shop.inventory.stock(&sku(s));
            let expect_reserved = reserved.get(s).copied().unwrap_or(0);
            let expect_on_hand = u64::from(STOCK) - shipped.get(s).copied().unwrap_or(0);
            if u64::from(held) != expect_reserved || u64::from(on_hand) != expect_on_hand {
                self.violation(
                    INVARIANTS[2],
                    None,
                    format!("{s}: on hand {on_hand} (expected {expect_on_hand}), reserved {held} (expected {expect_reserved})"),
                );
            }
        }
    }

    /// The shop's periodic reconciliation: asks the provider about unpaid orders and about
    /// refunds still pending (a real provider answers a refund retried after a timeout as
    /// accepted, not as done). `after_outage`: the providers are back, so nothing may fail.
    async fn reconcile(&mut self, after_outage: bool) {
        match self.shop.engine.reconcile_payments(self.shop.clock.now(), 100).await {
            Ok(reconciled) if reconciled.failed == 0 || !after_outage => {
                self.report.refunds_reconciled += reconciled.refunds_settled;
            }
            Ok(reconciled) => self.violation("reconciliation", None, format!("{reconciled:?}")),
            Err(e) if after_outage => self.violation("reconciliation", None, format!("cannot reconcile: {e}")),
            Err(_) => {}
        }
    }

    async fn requeue_dead_letters(&mut self) {
        let dead = match self.shop.engine.dead_letters(None, usize::MAX).await {
            Ok(page) => page.letters,
            Err(e) => return self.violation(INVARIANTS[5], None, format!("cannot list dead letters: {e}")),
        };
        for letter in dead {
            match self.shop.engine.requeue_dead_letter(&letter.key).await {
                Ok(true) => self.report.requeued += 1,
                Ok(false) => self.violation(INVARIANTS[5], None, format!("dead letter {} not requeued", letter.key)),
                Err(e) => self.violation(INVARIANTS[5], None, format!("requeue {}: {e}", letter.key)),
            }
        }
    }

    fn check_money(&mut self, order: &Order) {
        self.check(INVARIANTS[0]);
        let ledger = &order.payment;
        let (Ok(received), Ok(refunded)) = (ledger.received(), ledger.refunded()) else {
            self.violation(INVARIANTS[0], Some(order.id), "ledger arithmetic failed".into());
            return;
        };
        if refunded.minor > received.minor {
            self.violation(INVARIANTS[0], Some(order.id), format!("refunded {refunded} > received {received}"));
        }
        for line in order.lines.iter() {
            if ledger.refunded_for_line(line.id).map(|r| r.minor > line.payable.minor).unwrap_or(true) {
                self.violation(INVARIANTS[0], Some(order.id), format!("line {} refunded above what was paid", line.id));
            }
        }
        let captured: i64 = ledger.captures.iter().map(|c| c.amount.minor).sum();
        if order.cancellation.is_none() && captured > order.totals.total.minor {
            self.violation(INVARIANTS[0], Some(order.id), format!("captured {captured} above the total"));
        }
        if order.cancellation.is_some() {
            self.check(INVARIANTS[1]);
            let completed: i64 = ledger
                .refunds
                .iter()
                .filter(|r| matches!(r.status, crate::order::RefundStatus::Completed { .. }))
                .map(|r| r.amount.minor)
                .sum();
            if completed != received.minor {
                let refunds: Vec<_> = ledger.refunds.iter().map(|r| (r.amount.minor, &r.status)).collect();
                let detail = format!("received {received}, refunded {completed}: {refunds:?}");
                self.violation(INVARIANTS[1], Some(order.id), detail);
            }
        }
    }

    async fn check_payments(&mut self, order: &Order) {
        self.check(INVARIANTS[4]);
        for txn in self.shop.gateway.confirmed_transactions(&order.number) {
            self.report.payments_confirmed += 1;
            let seen = order.payment.captures.iter().filter(|c| c.txn_id == txn).count()
                + order.payment.anomalies.iter().filter(|a| a.txn_id == txn).count();
            if seen != 1 {
                let history = self.shop.engine.events(order.id).await.unwrap_or_default();
                let names: Vec<&str> = history.iter().map(|e| e.change.name()).collect();
                let detail = format!(
                    "transaction {txn} recorded {seen} times; status {}; history {names:?}; deadlines {:?}; now {}; due {:?}",
                    order.status(),
                    order.deadlines,
                    self.shop.clock.now(),
                    self.shop.engine.run_due(self.shop.clock.now()).await
                );
                self.violation(INVARIANTS[4], Some(order.id), detail);
            }
        }
    }

    async fn check_replay(&mut self, order: &Order) {
        self.check(INVARIANTS[6]);
        let replayed = match self.shop.engine.events(order.id).await {
            Ok(events) => Order::from_events(&events).ok(),
            Err(_) => None,
        };
        if replayed.as_ref() != Some(order) {
            self.violation(INVARIANTS[6], Some(order.id), "the fold of the events differs from the snapshot".into());
        }
    }
}
