//! The engine: load → authorize → decide → reserve stock → append events and outbox rows
//! atomically → retry on conflict. Plus the webhooks ([`Engine::handle_payment_notification`],
//! [`Engine::handle_tracking_push`], [`Engine::handle_refund_notification`]), timers
//! ([`Engine::run_due`]), reconciliation with the payment providers
//! ([`Engine::reconcile_payments`]) and effect delivery ([`Engine::dispatch_outbox`]).
//!
//! Every command takes one path (`Engine::run`): load, decide, reserve stock if the decision
//! asks, commit with compare-and-set, and on a conflict load and decide again. The engine holds
//! no order state of its own, so any number of engines may share one store; a store that keeps
//! copies does so inside its `load` (see [`OrderRepository`]).

mod callbacks;
mod idempotency;
pub mod metrics;
mod outbox;
mod settlement;
mod timers;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tracing::Instrument;

pub use idempotency::{MAX_IDEMPOTENCY_KEY_BYTES, RequestKey};
pub use outbox::DispatchReport;
pub use settlement::ReconcileReport;
pub use timers::DueReport;

use crate::actor::Actor;
use crate::carrier_choice::{CarrierSelector, Cheapest};
use crate::command::{Action, Command};
use crate::decide::{Ctx, Decision, NewOrder, Workflow, evolve};
use crate::effect::{Effect, StockItem};
use crate::error::Error;
use crate::event::Event;
use crate::ids::{OrderId, PackageId, Sku};
use crate::order::{Order, PackageState};
use crate::order_number::{OrderNumberGenerator, TimeOrderedNumbers};
use crate::placement::PlaceOrderForm;
use crate::ports::{
    Clock, Commit, GatewayError, Inventory, InventoryError, Logistics, LogisticsError, Notifier, OrderFilter,
    OrderPage, OrderRepository, OrderStore, OutboxEntry, Parcel, PaymentGateway, PaymentRequest, PaymentSession, Quote,
    StoreError,
};
use crate::text::Trim;
use crate::timeline::{TimelineEntry, buyer_timeline, staff_view};

/// Why the engine could not carry out a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The workflow refused the command (bad input, wrong actor, wrong state). Nothing changed;
    /// do not retry as is.
    #[error(transparent)]
    Rejected(#[from] Error),
    /// No such order (or not visible to this buyer).
    #[error("order not found")]
    NotFound,
    /// The order kept changing under us; nothing was written. Retry the request.
    #[error("the order changed concurrently {attempts} times; nothing was written, retry")]
    Conflict {
        /// Attempts made.
        attempts: u32,
    },
    /// Stock could not be reserved; nothing was stored.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// The payment gateway refused or failed (bad signature, stale timestamp, down).
    #[error(transparent)]
    Payment(#[from] GatewayError),
    /// The carrier refused or failed.
    #[error(transparent)]
    Logistics(#[from] LogisticsError),
    /// The notifier failed; the outbox retries later.
    #[error(transparent)]
    Notifier(#[from] crate::ports::NotifyError),
    /// A tracking push named a waybill no order has.
    #[error("no order has waybill {0:?}")]
    UnknownWaybill(String),
    /// The waybill being recorded (a parcel's, or a return parcel's) is already another
    /// order's under the same carrier. Nothing was changed: the waybill stays with the order
    /// that has it. Check the number with the carrier (or the buyer); a carrier that hands out
    /// numbers again (say, a test carrier whose counter restarted) needs fixing there.
    #[error(
        "waybill {waybill:?} of carrier {carrier:?} is already recorded on another order; nothing was changed: check the waybill number with the carrier"
    )]
    WaybillTaken {
        /// The carrier ([`crate::order::UNKNOWN_CARRIER`] for a return parcel's waybill).
        carrier: String,
        /// The waybill.
        waybill: String,
    },
    /// No carrier quote was acceptable to the selector.
    #[error("no carrier can take this parcel")]
    NoCarrier,
    /// This actor already used the idempotency key for a different request; nothing was done.
    /// Send a new key for a new request (a retry must repeat the first request exactly).
    #[error("this idempotency key was already used for a different request; use a new key")]
    IdempotencyKeyReused,
    /// The store failed; retry later.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => EngineError::NotFound,
            StoreError::WaybillTaken { carrier, waybill } => EngineError::WaybillTaken { carrier, waybill },
            other => EngineError::Store(other),
        }
    }
}

impl EngineError {
    /// A stable, machine-readable code (snake_case, unique across the crate's errors): the
    /// core's [`Error::code`] for [`EngineError::Rejected`], the port error's code for a port
    /// failure, and the engine's own otherwise. The codes are listed in `docs/ERRORS.md`.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Rejected(e) => e.code(),
            EngineError::NotFound => "order_not_found",
            EngineError::Conflict { .. } => "conflict",
            EngineError::Inventory(e) => e.code(),
            EngineError::Payment(e) => e.code(),
            EngineError::Logistics(e) => e.code(),
            EngineError::Notifier(e) => e.code(),
            EngineError::UnknownWaybill(_) => "no_order_for_waybill",
            EngineError::WaybillTaken { .. } => "waybill_taken",
            EngineError::NoCarrier => "no_carrier",
            EngineError::IdempotencyKeyReused => "idempotency_key_reused",
            EngineError::Store(e) => e.code(),
        }
    }

    /// True when the same request may succeed later (conflicts, outages).
    pub fn is_retryable(&self) -> bool {
        match self {
            EngineError::Conflict { .. } => true,
            EngineError::Store(e) => matches!(e, StoreError::Unavailable(_) | StoreError::Conflict { .. }),
            EngineError::Payment(e) => e.is_transient(),
            EngineError::Logistics(e) => matches!(e, LogisticsError::Unavailable(_)),
            EngineError::Inventory(e) => matches!(e, InventoryError::Unavailable(_)),
            EngineError::Notifier(_) => true,
            EngineError::Rejected(_)
            | EngineError::NotFound
            | EngineError::UnknownWaybill(_)
            | EngineError::WaybillTaken { .. }
            | EngineError::NoCarrier
            | EngineError::IdempotencyKeyReused => false,
        }
    }
}

/// The result of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The order after the command.
    pub order: Order,
    /// The events the command added (empty when it was already applied).
    pub events: Vec<Event>,
    /// True when the command had been applied before (a duplicate): nothing changed.
    pub already_applied: bool,
}

impl Outcome {
    /// The answer to a command that changed nothing (a duplicate, or nothing left to do).
    fn unchanged(order: Order) -> Outcome {
        Outcome { order, events: Vec::new(), already_applied: true }
    }
}

/// The adapters an engine runs on, as one bundle with associated types, so neither the engine
/// nor the host's code carries six type parameters around.
pub trait Ports: Send + Sync {
    /// Storage.
    type Store: OrderStore;
    /// Payment gateway.
    type Payments: PaymentGateway;
    /// Carriers.
    type Logistics: Logistics;
    /// Stock.
    type Inventory: Inventory;
    /// Messages.
    type Notifier: Notifier;
    /// Time.
    type Clock: Clock;
    /// Storage.
    fn store(&self) -> &Self::Store;
    /// Payment gateway.
    fn payments(&self) -> &Self::Payments;
    /// Carriers.
    fn logistics(&self) -> &Self::Logistics;
    /// Stock.
    fn inventory(&self) -> &Self::Inventory;
    /// Messages.
    fn notifier(&self) -> &Self::Notifier;
    /// Time.
    fn clock(&self) -> &Self::Clock;
}

/// The ready-made bundle: one field per port.
#[derive(Debug, Clone)]
pub struct Adapters<S, P, L, I, N, C> {
    /// Storage.
    pub store: S,
    /// Payment gateway.
    pub payments: P,
    /// Carriers.
    pub logistics: L,
    /// Stock.
    pub inventory: I,
    /// Messages.
    pub notifier: N,
    /// Time.
    pub clock: C,
}

impl<S, P, L, I, N, C> Ports for Adapters<S, P, L, I, N, C>
where
    S: OrderStore,
    P: PaymentGateway,
    L: Logistics,
    I: Inventory,
    N: Notifier,
    C: Clock,
{
    type Store = S;
    type Payments = P;
    type Logistics = L;
    type Inventory = I;
    type Notifier = N;
    type Clock = C;
    fn store(&self) -> &S {
        &self.store
    }
    fn payments(&self) -> &P {
        &self.payments
    }
    fn logistics(&self) -> &L {
        &self.logistics
    }
    fn inventory(&self) -> &I {
        &self.inventory
    }
    fn notifier(&self) -> &N {
        &self.notifier
    }
    fn clock(&self) -> &C {
        &self.clock
    }
}

/// Tuning knobs of the engine.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// How often a command is retried after a version conflict before giving up.
    pub conflict_retries: u32,
    /// How long a claimed outbox item is reserved for this engine.
    pub outbox_lease: TimeDelta,
    /// Outbox items claimed per round.
    pub outbox_batch: usize,
    /// Delivery attempts before an outbox item is given up (dead letter).
    pub max_delivery_attempts: u32,
    /// Delivery attempts before a refund is given up: more than other effects, since a dead
    /// refund keeps a buyer's money (the policy: [`Engine::dispatch_outbox`]).
    pub max_refund_attempts: u32,
    /// First retry delay; doubles per attempt up to `backoff_max`.
    pub backoff_base: TimeDelta,
    /// Longest retry delay: how often an outage is polled once the delay stops doubling.
    pub backoff_max: TimeDelta,
    /// Due deadlines asked for per round of [`Engine::run_due`] (it runs as many rounds as it
    /// takes; at least 1).
    pub due_batch: usize,
    /// How long after placement an unpaid order is asked about at its provider by
    /// [`Engine::reconcile_payments`] (its notification may have been lost).
    pub reconcile_payments_after: TimeDelta,
    /// How long a refund the provider answered as pending waits for its notification before
    /// [`Engine::reconcile_payments`] asks the provider.
    pub reconcile_refunds_after: TimeDelta,
    /// How far back (by placement) [`Engine::reconcile_payments`] looks for pending refunds:
    /// every order placed since is read (see the cost in its docs).
    pub refund_reconcile_window: TimeDelta,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            conflict_retries: 8,
            outbox_lease: TimeDelta::seconds(30),
            outbox_batch: 100,
            max_delivery_attempts: 12,
            max_refund_attempts: 36,
            backoff_base: TimeDelta::seconds(1),
            backoff_max: TimeDelta::hours(1),
            due_batch: 100,
            reconcile_payments_after: TimeDelta::minutes(5),
            reconcile_refunds_after: TimeDelta::minutes(30),
            refund_reconcile_window: TimeDelta::days(30),
        }
    }
}

type Weigher = Arc<dyn Fn(&Sku) -> u32 + Send + Sync>;
type Describer = Arc<dyn Fn(&Order) -> String + Send + Sync>;

/// The workflow engine over a bundle of adapters.
///
/// ```
/// use orderflow::engine::{Adapters, Engine};
/// use orderflow::ports::SystemClock;
/// use orderflow::testing::{FakeGateway, FakeCarrier, RecordingNotifier, buyer, sample_form};
/// use orderflow::{MemoryInventory, MemoryStore, OrderStatus, Sku, Workflow};
///
/// # tokio_test_block_on(async {
/// let inventory = MemoryInventory::default();
/// for sku in ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"] {
///     inventory.set_stock(&Sku::new(sku).unwrap(), 100);
/// }
/// let engine = Engine::new(Workflow::default(), Adapters {
///     store: MemoryStore::default(),
///     payments: FakeGateway::new("alipay", "provider-secret"),
///     logistics: FakeCarrier::new("SF", "carrier-secret"),
///     inventory,
///     notifier: RecordingNotifier::default(),
///     clock: SystemClock,
/// });
/// let placed = engine.place(&buyer("alice"), &sample_form("alice"), None).await.unwrap();
/// assert_eq!(placed.order.status(), OrderStatus::AwaitingPayment);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
pub struct Engine<A: Ports> {
    adapters: A,
    workflow: Workflow,
    numbers: Box<dyn OrderNumberGenerator>,
    selector: Box<dyn CarrierSelector>,
    weigher: Weigher,
    describe_payment: Describer,
    settings: EngineSettings,
}

impl<A: Ports> std::fmt::Debug for Engine<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("workflow", &self.workflow)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<A: Ports> Engine<A> {
    /// An engine with the default number generator, the cheapest-carrier policy, 500 g per unit
    /// as parcel weight and default settings.
    pub fn new(workflow: Workflow, adapters: A) -> Engine<A> {
        Engine {
            adapters,
            workflow,
            numbers: Box::new(TimeOrderedNumbers::default()),
            selector: Box::new(Cheapest),
            weigher: Arc::new(|_| 500),
            describe_payment: Arc::new(|order| order.number.provider_reference()),
            settings: EngineSettings::default(),
        }
    }

    /// Uses another order-number generator (e.g. one with a node id per instance).
    pub fn with_numbers(mut self, numbers: impl OrderNumberGenerator + 'static) -> Self {
        self.numbers = Box::new(numbers);
        self
    }

    /// Uses another carrier-selection policy.
    pub fn with_carrier_selector(mut self, selector: impl CarrierSelector + 'static) -> Self {
        self.selector = Box::new(selector);
        self
    }

    /// Sets what the payment provider shows the buyer for an order (WeChat Pay `description`,
    /// Alipay `subject`), e.g. the shop's name and the first product, in the buyer's language.
    /// By default it is the order's [provider reference](crate::OrderNumber::provider_reference),
    /// which every provider accepts. Keep it within the providers' limits (127 bytes for WeChat
    /// Pay, 256 characters for Alipay, no `/ = &`).
    pub fn with_payment_description(mut self, describe: impl Fn(&Order) -> String + Send + Sync + 'static) -> Self {
        self.describe_payment = Arc::new(describe);
        self
    }

    /// Tells the engine how heavy one unit of a SKU is, in grams (for carrier quotes).
    pub fn with_weights(mut self, weigh: impl Fn(&Sku) -> u32 + Send + Sync + 'static) -> Self {
        self.weigher = Arc::new(weigh);
        self
    }

    /// Replaces the settings.
    pub fn with_settings(mut self, settings: EngineSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The adapters (e.g. to reach the store for listings).
    pub fn adapters(&self) -> &A {
        &self.adapters
    }

    /// The workflow rules.
    pub fn workflow(&self) -> &Workflow {
        &self.workflow
    }

    fn now(&self) -> DateTime<Utc> {
        self.adapters.clock().now()
    }

    /// The store's order repository.
    fn orders(&self) -> &<A::Store as OrderStore>::Orders {
        self.adapters.store().orders()
    }

    /// The store's deadlines and outbox.
    fn queue(&self) -> &<A::Store as OrderStore>::Queue {
        self.adapters.store().queue()
    }

    /// Stage 1: places an order. Validates, reserves stock (all lines or none), stores the order
    /// with its first events and outbox rows. With an idempotency key, a repeated request
    /// returns the order the first one created. If storing fails, the reservation is released.
    pub async fn place(
        &self,
        actor: &Actor,
        form: &PlaceOrderForm,
        idempotency_key: Option<&str>,
    ) -> Result<Outcome, EngineError> {
        let span = tracing::info_span!("orderflow.place", actor = %actor.kind(), order_id = tracing::field::Empty, order_number = tracing::field::Empty);
        let placed = async {
            let key = idempotency_key.map(|k| RequestKey::new("place", actor, k, form)).transpose()?;
            if let Some(key) = &key
                && let Some(id) = key.seen(self.orders()).await?
            {
                return self.unchanged(id).await;
            }
            let dedupe = key.as_ref().map(RequestKey::rows).unwrap_or_default();
            let now = self.now();
            let id = OrderId::new_v7();
            tracing::Span::current().record("order_id", tracing::field::display(id));
            // Reserved once, before the first try; a retry with another number keeps it.
            let mut reserved = None;
            let mut attempts = 0;
            loop {
                attempts += 1;
                let number = self.numbers.next_number(now);
                let decision = self.workflow.place(actor, form, NewOrder { id, number }, &Ctx::at(now))?;
                if reserved.is_none() {
                    reserved = Some(self.reserve(id, 1, &decision).await?);
                }
                let Decision { events, effects } = decision;
                let order = Order::from_events(&events).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let outbox = outbox_entries(&order, &events, effects);
                let commit = Commit {
                    order: &order,
                    expected_version: 0,
                    events: &events,
                    outbox: &outbox,
                    dedupe_keys: dedupe,
                };
                match self.orders().create(commit).await {
                    Ok(()) => {
                        tracing::Span::current().record("order_number", tracing::field::display(&number));
                        tracing::info!(status = %order.status(), "order placed");
                        return Ok(Outcome { order, events, already_applied: false });
                    }
                    Err(StoreError::DuplicateOrderNumber(_)) if attempts < self.settings.conflict_retries => {
                        metrics::record_retry("place", metrics::RetryCause::OrderNumber);
                    }
                    Err(e) => {
                        // The order does not exist, so neither may its reservation.
                        self.compensate(reserved.take().unwrap_or_default()).await;
                        if let (StoreError::DuplicateKey(_), Some(key)) = (&e, &key) {
                            // The same request, committed meanwhile by a concurrent retry.
                            if let Some(existing) = key.seen(self.orders()).await? {
                                return self.unchanged(existing).await;
                            }
                        }
                        return Err(e.into());
                    }
                }
            }
        }
        .instrument(span)
        .await;
        metrics::record_command(crate::command::CommandKind::Place, &placed);
        placed
    }

    async fn unchanged(&self, id: OrderId) -> Result<Outcome, EngineError> {
        Ok(Outcome::unchanged(self.order(id).await?))
    }

    /// Runs a command on an order: load, decide, append with compare-and-set; on a version
    /// conflict it reloads and decides again (a bounded number of times).
    pub async fn execute(&self, id: OrderId, command: Command) -> Result<Outcome, EngineError> {
        self.run(id, command, None, None).await
    }

    /// [`Engine::execute`] with an idempotency key: a repeated request with the same key is
    /// answered as already applied, without deciding again.
    ///
    /// The key belongs to the command's actor and this order: another actor's equal key is a
    /// different key. The same actor sending the same key with a different action is refused
    /// with [`EngineError::IdempotencyKeyReused`]; a key that is empty, longer than
    /// [`MAX_IDEMPOTENCY_KEY_BYTES`] or holds control characters is refused as invalid input.
    pub async fn execute_idempotent(&self, id: OrderId, command: Command, key: &str) -> Result<Outcome, EngineError> {
        let key = RequestKey::new(&format!("cmd/{id}"), &command.actor, key, &command.action)?;
        self.run(id, command, Some(key), None).await
    }

    /// The one path of every command: load → decide → reserve → commit → on a conflict, again.
    /// `actor_of` names the actor from the loaded order when the caller cannot (a payment is
    /// recorded under the order's provider), so no caller loads the order before.
    ///
    /// A store may answer the command's load from a copy it keeps
    /// ([`OrderRepository::load_for_command`]): a stale one is refused by the commit's
    /// compare-and-set, and an answer that is not a commit (a refusal, nothing to do) is given
    /// only once a second load found the same version, so it never rests on a copy alone.
    async fn run(
        &self,
        id: OrderId,
        mut command: Command,
        key: Option<RequestKey>,
        actor_of: Option<fn(&Order) -> Actor>,
    ) -> Result<Outcome, EngineError> {
        let kind = command.action.kind();
        let span = tracing::info_span!("orderflow.command", order_id = %id, order_number = tracing::field::Empty, command = %kind, actor = %command.actor.kind());
        let answered = async {
            // A repeated keyed request is usually caught without a look-up of its own: the key
            // is written with the commit, so the store refuses it there (`DuplicateKey`); only a
            // refusal, or a decision that reserves stock before committing, looks the key up.
            let dedupe = key.as_ref().map(RequestKey::rows).unwrap_or_default();
            // The version a refusal or an empty decision was last reached on, if any.
            let mut unconfirmed = None;
            let mut attempts = 0;
            loop {
                // Boxed for `commit` (see there); it also keeps this future small.
                let order = Box::new(self.orders().load_for_command(id).await?.ok_or(EngineError::NotFound)?);
                tracing::Span::current().record("order_number", tracing::field::display(&order.number));
                if let Some(actor_of) = actor_of {
                    command.actor = actor_of(&order);
                }
                let confirmed = unconfirmed == Some(order.version);
                let decision = match self.workflow.decide(&order, &command, &Ctx::at(self.now())) {
                    Ok(decision) if !decision.is_empty() => decision,
                    _ if !confirmed => {
                        unconfirmed = Some(order.version);
                        continue;
                    }
                    Ok(_) => return Ok(Outcome::unchanged(*order)),
                    Err(_) if self.applied_before(key.as_ref()).await? => return Ok(Outcome::unchanged(*order)),
                    Err(e) => {
                        tracing::info!(error = %e, "command refused");
                        return Err(e.into());
                    }
                };
                if decision.effects.iter().any(Effect::before_commit) && self.applied_before(key.as_ref()).await? {
                    // Reserving again and then undoing would release the first request's stock.
                    return Ok(Outcome::unchanged(*order));
                }
                attempts += 1;
                let reserved = self.reserve(order.id, 0, &decision).await?;
                let committed = self.commit(order, decision, dedupe).await;
                if committed.is_err() {
                    self.compensate(reserved).await;
                }
                match committed {
                    Ok(outcome) => return Ok(outcome),
                    Err(StoreError::Conflict { .. }) if attempts <= self.settings.conflict_retries => {
                        tracing::debug!(attempts, "version conflict, retrying");
                        metrics::record_retry(kind.as_str(), metrics::RetryCause::Conflict);
                    }
                    Err(StoreError::Conflict { .. }) => return Err(EngineError::Conflict { attempts }),
                    Err(StoreError::DuplicateKey(_)) => return self.repeated(id, key.as_ref()).await,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        .instrument(span)
        .await;
        metrics::record_command(kind, &answered);
        answered
    }

    /// True when this keyed request (if keyed) was committed before; the key's reuse for
    /// another request is an error.
    async fn applied_before(&self, key: Option<&RequestKey>) -> Result<bool, EngineError> {
        match key {
            Some(key) => Ok(key.seen(self.orders()).await?.is_some()),
            None => Ok(false),
        }
    }

    /// The answer to a commit refused for a dedupe key that was already recorded: the order as
    /// it is (the work was done before), unless the actor reused the request's key for another
    /// request.
    async fn repeated(&self, id: OrderId, key: Option<&RequestKey>) -> Result<Outcome, EngineError> {
        self.applied_before(key).await?;
        self.unchanged(id).await
    }

    /// Runs the decision's before-commit effects (stock reservations), for placement (at
    /// sequence one) and later commands alike. Keys are stable, so a retried decision does not
    /// reserve twice; what was reserved is given back with [`Engine::compensate`] when the
    /// decision is not stored.
    async fn reserve(
        &self,
        id: OrderId,
        seq: u64,
        decision: &Decision,
    ) -> Result<Vec<(String, Vec<StockItem>)>, EngineError> {
        let mut reserved = Vec::new();
        for effect in decision.effects.iter().filter(|e| e.before_commit()) {
            if let Effect::ReserveStock { items, .. } = effect {
                let key = effect.key(&id.to_string(), seq, 0);
                if let Err(e) = self.adapters.inventory().reserve(&key, items).await {
                    self.compensate(reserved).await;
                    return Err(e.into());
                }
                reserved.push((format!("{key}/undo"), items.clone()));
            }
        }
        Ok(reserved)
    }

    /// Gives back reservations whose decision was not stored.
    async fn compensate(&self, reserved: Vec<(String, Vec<StockItem>)>) {
        for (key, items) in reserved {
            if let Err(e) = self.adapters.inventory().release(&key, &items).await {
                tracing::error!(error = %e, key = %key, "could not release a reservation whose decision was not stored");
            }
        }
    }

    /// Applies the decision to the loaded order (which it takes: on failure the caller loads
    /// a fresh one anyway) and appends it, with the effects as outbox rows.
    ///
    /// The order comes boxed: an `async fn` keeps its arguments in its future, so an order
    /// passed by value would make this future and every future awaiting it an order larger.
    async fn commit(&self, mut next: Box<Order>, decision: Decision, dedupe: &[String]) -> Result<Outcome, StoreError> {
        let expected_version = next.version;
        let Decision { events, effects } = decision;
        for event in &events {
            evolve(&mut next, event);
        }
        let outbox = outbox_entries(&next, &events, effects);
        let commit = Commit { order: &next, expected_version, events: &events, outbox: &outbox, dedupe_keys: dedupe };
        self.orders().append(commit).await?;
        tracing::info!(status = %next.status(), events = events.len(), "command applied");
        Ok(Outcome { order: *next, events, already_applied: false })
    }

    /// The order with this id.
    pub async fn order(&self, id: OrderId) -> Result<Order, EngineError> {
        self.orders().load(id).await?.ok_or(EngineError::NotFound)
    }

    /// The order as `actor` may see it: a buyer sees only their own orders; anyone else's is
    /// reported as not found, so order ids cannot be probed.
    pub async fn order_for(&self, actor: &Actor, id: OrderId) -> Result<Order, EngineError> {
        let order = self.order(id).await?;
        match actor {
            Actor::Buyer { customer } if *customer != order.customer => Err(EngineError::NotFound),
            _ => Ok(order),
        }
    }

    /// The order's full event history.
    pub async fn events(&self, id: OrderId) -> Result<Vec<Event>, EngineError> {
        Ok(self.orders().events(id).await?)
    }

    /// The buyer-facing timeline of an order.
    pub async fn buyer_timeline(&self, id: OrderId) -> Result<Vec<TimelineEntry>, EngineError> {
        Ok(buyer_timeline(&self.events(id).await?))
    }

    /// The staff view of an order's history.
    pub async fn staff_view(&self, id: OrderId) -> Result<Vec<TimelineEntry>, EngineError> {
        Ok(staff_view(&self.events(id).await?))
    }

    /// Orders matching `filter`, a page at a time.
    pub async fn list(
        &self,
        filter: &OrderFilter,
        after: Option<OrderId>,
        limit: usize,
    ) -> Result<OrderPage, EngineError> {
        Ok(self.orders().list(filter, after, limit).await?)
    }

    /// Stage 3, buyer side: starts the online payment of the outstanding amount and returns
    /// what the buyer needs (a redirect or QR payload).
    pub async fn start_payment(&self, actor: &Actor, id: OrderId) -> Result<PaymentSession, EngineError> {
        self.start_payment_in(actor, id, crate::ports::Checkout::default()).await
    }

    /// [`Engine::start_payment`] in the buyer's `checkout` (e.g. WeChat JSAPI with the payer's
    /// openid); the provider is told to stop accepting it at the order's pay-by deadline.
    pub async fn start_payment_in(
        &self,
        actor: &Actor,
        id: OrderId,
        checkout: crate::ports::Checkout,
    ) -> Result<PaymentSession, EngineError> {
        self.start_payment_through(actor, id, None, checkout).await
    }

    /// [`Engine::start_payment_in`] through `provider` instead of the one chosen at placement
    /// (`None`: the chosen one): the buyer switched provider at the payment page. The gateway
    /// must know it (a [`PaymentRouter`](crate::adapters::router::PaymentRouter) with both).
    ///
    /// The session is recorded on the order first ([`Action::OpenPaymentSession`], as `actor`:
    /// the buyer who owns the order, customer service or the system), then created at the
    /// provider, so a crash between the two leaves a recorded session the provider never
    /// created (closing or querying it finds nothing), never a session the order does not
    /// know. Opening the same provider again records nothing and asks the provider again.
    /// Whichever provider's notification comes first pays the order: it is recorded as the
    /// provider that paid (refunds and queries go to it) and every other session is closed;
    /// money from a second provider is an anomaly sent back through that provider.
    /// Cancellation closes every session, and [`Engine::reconcile_payments`] and the unpaid
    /// deadline ask each provider.
    ///
    /// Errors: [`EngineError::Rejected`] when the order takes no payment session (cash on
    /// delivery, paid, cancelled; nothing is recorded), [`EngineError::Payment`] when the
    /// provider refuses or cannot be reached (the session stays recorded: try again).
    pub async fn start_payment_through(
        &self,
        actor: &Actor,
        id: OrderId,
        provider: Option<&str>,
        checkout: crate::ports::Checkout,
    ) -> Result<PaymentSession, EngineError> {
        let order = self.order_for(actor, id).await?;
        // The provider asked for, else the order's (none for cash on delivery: refused below).
        let provider = provider.map(Trim::trimmed).filter(|p| !p.is_empty()).or(order.payment.provider()).unwrap_or("");
        let open = Action::OpenPaymentSession { provider: provider.to_owned() };
        let order = self.execute(id, Command::new(actor.clone(), open)).await?.order;
        let outstanding = order.payment.outstanding().map_err(Error::from)?;
        let request = PaymentRequest::new(
            order.id,
            order.number,
            outstanding,
            provider.to_owned(),
            (self.describe_payment)(&order),
        )
        .with_checkout(checkout)
        .with_expiry(order.deadlines.get(crate::order::DeadlineKind::PayBy));
        Ok(self.adapters.payments().create_payment(&request).await?)
    }

    /// Carrier quotes for a packed parcel.
    pub async fn quotes(&self, id: OrderId, package: PackageId) -> Result<(Order, Parcel, Vec<Quote>), EngineError> {
        let order = self.order(id).await?;
        let parcel = order.fulfilment.package(package).ok_or(Error::UnknownPackage(package))?;
        let items = crate::decide::stock_of_package(&order, parcel);
        let weight_grams = items
            .iter()
            .map(|i| (self.weigher)(&i.sku).saturating_mul(i.quantity))
            .fold(0u32, |a, b| a.saturating_add(b));
        let parcel = Parcel { items, weight_grams };
        let quotes = self.adapters.logistics().quote(&parcel, &order.shipping_address).await?;
        Ok((order, parcel, quotes))
    }

    /// Stage 5: chooses a carrier for a packed parcel with the selection policy and books it;
    /// the reason for the choice is recorded in the event. The shipment itself is created with
    /// the carrier from the outbox, and its waybill recorded when the carrier answers.
    pub async fn ship(&self, actor: &Actor, id: OrderId, package: PackageId) -> Result<Outcome, EngineError> {
        let (order, parcel, quotes) = self.quotes(id, package).await?;
        if order.fulfilment.package(package).is_some_and(|p| p.state != PackageState::Packed) {
            // Let the core explain (already booked, ...).
            let action =
                Action::BookShipment { package, carrier: "-".into(), service: String::new(), reason: String::new() };
            return self.execute(id, Command::new(actor.clone(), action)).await;
        }
        let choice = self.selector.select(&quotes, &parcel, &order.shipping_address).ok_or(EngineError::NoCarrier)?;
        let action = Action::BookShipment {
            package,
            carrier: choice.quote.carrier,
            service: choice.quote.service,
            reason: choice.reason,
        };
        self.execute(id, Command::new(actor.clone(), action)).await
    }
}

/// Outbox rows for a decision's `effects` (moved, not copied): every effect except stock
/// reservation (done before commit) and deadline notes (deadlines live on the order and are
/// fired by `run_due`).
fn outbox_entries(order: &Order, events: &[Event], effects: Vec<Effect>) -> Vec<OutboxEntry> {
    let seq = events.first().map(|e| e.seq).unwrap_or(order.version);
    // The id's text as `Display` writes it (lower-case hyphenated), without the formatter.
    let mut text = uuid::Uuid::encode_buffer();
    let id = order.id.as_uuid().hyphenated().encode_lower(&mut text);
    // Sized up front: collecting through a filter reserves more rows than a commit has.
    let mut rows = Vec::with_capacity(effects.len());
    for (i, effect) in effects.into_iter().enumerate() {
        if !effect.before_commit() && !matches!(effect, Effect::Schedule { .. }) {
            rows.push(OutboxEntry { key: effect.key(id, seq, i), effect });
        }
    }
    rows
}
