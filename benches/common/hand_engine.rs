//! The baseline of `engine_lifecycle`'s engine figures (issue 22): a minimal in-process engine
//! written by hand over the same pure core (`Workflow::place`, `Workflow::decide`, `evolve`)
//! and the same adapters (fake gateway and carrier, memory inventory, recording notifier,
//! fixed clock), doing for each command the work the engine does and nothing more: load a copy
//! of the order, decide, reserve stock before the commit, apply the events, check the version
//! and append the events, the snapshot and the outbox rows, then deliver the rows.
//!
//! What it leaves out is what a general engine must have and this lifecycle never uses:
//! indexes (number, customer, status, deadlines, waybills, staff queries, the event feed),
//! idempotency keys, leases on outbox rows (a row is taken off the queue and put back if its
//! delivery fails), stored forms, retries after a failed commit, tracing and metrics. What it
//! keeps is what the engine cannot skip either: the lock is not held while a port is called,
//! so a command decides on a copy and its commit checks the version it decided on; the order
//! is handed back to the caller and a copy kept; effects go out only after their commit, under
//! the engine's keys.
// Only `engine_lifecycle` uses it.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use orderflow::carrier_choice::{CarrierSelector, Cheapest};
use orderflow::order::DeadlineKind;
use orderflow::order_number::{OrderNumberGenerator, TimeOrderedNumbers};
use orderflow::ports::{
    Clock, Inventory, Logistics, Notifier, OutboxEntry, Parcel, PaymentGateway, PaymentRequest, PaymentSession,
    ShipmentRequest,
};
use orderflow::testing::{FakeCarrier, FakeGateway, FixedClock, RecordingNotifier};
use orderflow::{
    Action, Actor, Command, Ctx, Decision, Effect, Event, MemoryInventory, NewOrder, Order, OrderId, PackageId,
    PlaceOrderForm, Sku, StockItem, Workflow, evolve,
};

type BoxError = Box<dyn std::error::Error>;

/// One order as stored: its events and its snapshot.
struct Stored {
    order: Order,
    events: Vec<Event>,
}

/// An outbox row waiting for delivery.
struct Pending {
    order: OrderId,
    entry: OutboxEntry,
    attempts: u32,
}

/// Everything behind the one lock, as in `MemoryStore`.
#[derive(Default)]
struct State {
    orders: HashMap<OrderId, Stored>,
    outbox: VecDeque<Pending>,
}

/// The hand-written engine.
pub struct HandEngine {
    workflow: Workflow,
    numbers: TimeOrderedNumbers,
    state: Mutex<State>,
    pub gateway: Arc<FakeGateway>,
    pub carrier: Arc<FakeCarrier>,
    pub inventory: Arc<MemoryInventory>,
    pub notifier: Arc<RecordingNotifier>,
    pub clock: Arc<FixedClock>,
}

impl HandEngine {
    /// An empty shop over these adapters, deciding with `workflow`.
    pub fn new(
        workflow: Workflow,
        gateway: Arc<FakeGateway>,
        carrier: Arc<FakeCarrier>,
        inventory: Arc<MemoryInventory>,
        notifier: Arc<RecordingNotifier>,
        clock: Arc<FixedClock>,
    ) -> HandEngine {
        HandEngine {
            workflow,
            numbers: TimeOrderedNumbers::default(),
            state: Mutex::new(State::default()),
            gateway,
            carrier,
            inventory,
            notifier,
            clock,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the order, to decide on without holding the lock.
    pub fn order(&self, id: OrderId) -> Result<Order, BoxError> {
        self.state().orders.get(&id).map(|s| s.order.clone()).ok_or_else(|| format!("no order {id}").into())
    }

    /// The stored history of an order (for the bench's checks).
    pub fn events(&self, id: OrderId) -> Vec<Event> {
        self.state().orders.get(&id).map(|s| s.events.clone()).unwrap_or_default()
    }

    /// Rows still in the outbox.
    pub fn outbox_len(&self) -> usize {
        self.state().outbox.len()
    }

    /// Places an order: decide, reserve its stock, store it with its outbox rows.
    pub async fn place(&self, actor: &Actor, form: &PlaceOrderForm) -> Result<Order, BoxError> {
        let now = self.clock.now();
        let id = OrderId::new_v7();
        let number = self.numbers.next_number(now);
        let Decision { events, effects } = self.workflow.place(actor, form, NewOrder { id, number }, &Ctx::at(now))?;
        self.reserve(id, 1, &effects).await?;
        let order = Order::from_events(&events)?;
        let outbox = outbox_rows(&order, &events, effects);
        let mut state = self.state();
        if state.orders.contains_key(&id) {
            return Err(format!("order {id} exists").into());
        }
        state.outbox.extend(outbox.into_iter().map(|entry| Pending { order: id, entry, attempts: 0 }));
        state.orders.insert(id, Stored { order: order.clone(), events });
        Ok(order)
    }

    /// Runs a command: load a copy, decide, reserve, apply, append with a version check.
    pub async fn execute(&self, id: OrderId, command: Command) -> Result<Order, BoxError> {
        let mut order = self.order(id)?;
        let decision = self.workflow.decide(&order, &command, &Ctx::at(self.clock.now()))?;
        if decision.is_empty() {
            return Ok(order);
        }
        let Decision { events, effects } = decision;
        self.reserve(id, 0, &effects).await?;
        let expected = order.version();
        for event in &events {
            evolve(&mut order, event);
        }
        let outbox = outbox_rows(&order, &events, effects);
        let mut state = self.state();
        let stored = state.orders.get_mut(&id).ok_or_else(|| format!("no order {id}"))?;
        if stored.order.version() != expected {
            return Err(format!("order {id} moved on from version {expected}").into());
        }
        stored.events.extend(events);
        stored.order = order.clone();
        state.outbox.extend(outbox.into_iter().map(|entry| Pending { order: id, entry, attempts: 0 }));
        Ok(order)
    }

    /// Reserves the stock a decision asks for before its commit, under the engine's keys.
    async fn reserve(&self, id: OrderId, seq: u64, effects: &[Effect]) -> Result<(), BoxError> {
        for effect in effects {
            if let Effect::ReserveStock { items, .. } = effect {
                self.inventory.reserve(&effect.key(&id.to_string(), seq, 0), items).await?;
            }
        }
        Ok(())
    }

    /// Starts the online payment of what the buyer still owes.
    pub async fn start_payment(&self, actor: &Actor, id: OrderId) -> Result<PaymentSession, BoxError> {
        let order = self.order(id)?;
        if matches!(actor, Actor::Buyer { customer } if customer != order.customer()) {
            return Err(format!("no order {id}").into());
        }
        let provider = order.payment().provider().ok_or("not paid online")?.to_owned();
        // The session is recorded on the order before the provider creates it, as the engine does.
        let open = Action::OpenPaymentSession { provider: provider.clone() };
        let order = self.execute(id, Command::new(actor.clone(), open)).await?;
        let outstanding = order.payment().outstanding()?;
        let request =
            PaymentRequest::new(id, order.number(), outstanding, provider, order.number().provider_reference())
                .with_expiry(order.deadlines().get(DeadlineKind::PayBy));
        Ok(self.gateway.create_payment(&request).await?)
    }

    /// Books a packed parcel with the cheapest quote.
    pub async fn ship(&self, actor: &Actor, id: OrderId, package: PackageId) -> Result<Order, BoxError> {
        let order = self.order(id)?;
        let items = stock_of_package(&order, package)?;
        let weight_grams = items.iter().map(|i| 500u32.saturating_mul(i.quantity)).fold(0, u32::saturating_add);
        let parcel = Parcel { items, weight_grams };
        let quotes = self.carrier.quote(&parcel, order.shipping_address()).await?;
        let choice = Cheapest.select(&quotes, &parcel, order.shipping_address()).ok_or("no carrier")?;
        let action = Action::BookShipment {
            package,
            carrier: choice.quote.carrier,
            service: choice.quote.service,
            reason: choice.reason,
        };
        self.execute(id, Command::new(actor.clone(), action)).await
    }

    /// Delivers the outbox rows until none is left; a failed one goes back to the end.
    pub async fn drain_outbox(&self) -> Result<usize, BoxError> {
        let mut delivered = 0;
        loop {
            let Some(mut item) = self.state().outbox.pop_front() else { return Ok(delivered) };
            match self.deliver(&item).await {
                Ok(()) => delivered += 1,
                Err(e) if item.attempts >= 12 => return Err(e),
                Err(_) => {
                    item.attempts += 1;
                    self.state().outbox.push_back(item);
                }
            }
        }
    }

    async fn deliver(&self, item: &Pending) -> Result<(), BoxError> {
        let key = item.entry.key.as_str();
        match &item.entry.effect {
            Effect::Notify(notification) => Ok(self.notifier.send(key, notification).await?),
            Effect::ReleaseStock { items } => Ok(self.inventory.release(key, items).await?),
            Effect::CommitStock { items, .. } => Ok(self.inventory.commit(key, items).await?),
            Effect::Restock { items, .. } | Effect::ReturnToStock { items, .. } => {
                Ok(self.inventory.restock(key, items).await?)
            }
            Effect::CreateShipment { package, carrier, service, address, .. } => {
                let order = self.order(item.order)?;
                let request = ShipmentRequest {
                    key: key.to_owned(),
                    order_number: order.number(),
                    package: *package,
                    carrier: carrier.clone(),
                    service: service.clone(),
                    items: stock_of_package(&order, *package)?,
                    address: address.clone(),
                };
                let shipment = self.carrier.create_shipment(&request).await?;
                let record = Action::RecordWaybill { package: *package, waybill: shipment.waybill };
                Box::pin(self.execute(item.order, Command::new(Actor::System, record))).await?;
                Ok(())
            }
            Effect::SubscribeTracking { carrier, waybill, .. } => {
                Ok(self.carrier.subscribe_tracking(carrier, waybill).await?)
            }
            Effect::ReserveStock { .. } | Effect::Schedule { .. } => Ok(()),
            Effect::ClosePayment { .. } | Effect::Refund { .. } => Err("not in this lifecycle".into()),
        }
    }
}

/// The outbox rows of a decision, keyed as the engine keys them: every effect but stock
/// reservations (done before the commit) and deadline notes (deadlines live on the order).
fn outbox_rows(order: &Order, events: &[Event], effects: Vec<Effect>) -> Vec<OutboxEntry> {
    let seq = events.first().map_or(order.version(), |e| e.seq);
    let id = order.id().to_string();
    let mut rows = Vec::with_capacity(effects.len());
    for (i, effect) in effects.into_iter().enumerate() {
        if !effect.before_commit() && !matches!(effect, Effect::Schedule { .. }) {
            rows.push(OutboxEntry { key: effect.key(&id, seq, i), effect });
        }
    }
    rows
}

/// What a parcel holds: units per SKU, in SKU order, as the engine tells the carrier.
fn stock_of_package(order: &Order, package: PackageId) -> Result<Vec<StockItem>, BoxError> {
    let parcel = order.fulfilment().package(package).ok_or("no such package")?;
    let mut units: BTreeMap<&Sku, u32> = BTreeMap::new();
    for item in parcel.items.iter().filter(|item| item.quantity > 0) {
        let line = order.line(item.line).ok_or("no such line")?;
        let count = units.entry(&line.sku).or_default();
        *count = count.saturating_add(item.quantity);
    }
    Ok(units.into_iter().map(|(sku, quantity)| StockItem { sku: sku.clone(), quantity }).collect())
}
