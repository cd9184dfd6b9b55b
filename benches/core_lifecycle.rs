//! One online-paid order's full lifecycle through the pure core, next to a hand-written
//! minimal baseline doing the same checks with plain enums and `match`.
//!
//! Lifecycle: place (auto-approved) → capture → pick list → pack → book shipment → waybill →
//! three tracking events (the third is `Delivered`) → confirm receipt.
//!
//! `cargo bench --all-features --bench core_lifecycle`

#[path = "common/cpu_time.rs"]
mod cpu_time;

use std::hint::black_box;

use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, criterion_group};
use orderflow::order::{PackageItem, ScannedItem, TrackingKind, TrackingUpdate};
use orderflow::order_number::OrderNumber;
use orderflow::testing::{buyer, carrier, provider, sample_form, t0, warehouse};
use orderflow::{
    Action, Actor, Command, Ctx, Event, NewOrder, Order, OrderId, OrderStatus, PackageId, PlaceOrderForm, Workflow,
    evolve,
};

// -----------------------------------------------------------------------------------------
// (a) The pure core
// -----------------------------------------------------------------------------------------

/// Everything the lifecycle needs, built once outside the timed loop.
struct CoreLifecycle {
    workflow: Workflow,
    buyer: Actor,
    form: PlaceOrderForm,
    new: NewOrder,
    placed_at: Ctx,
    steps: Vec<(Command, Ctx)>,
}

impl CoreLifecycle {
    fn new() -> CoreLifecycle {
        let workflow = Workflow::default(); // auto-approve
        let form = sample_form("alice");
        let buyer = buyer("alice");
        let number = OrderNumber::from_value(1_234_567).expect("a valid order number");
        let new = NewOrder { id: OrderId::new_v7(), number };
        let placed_at = Ctx::at(t0());

        // Place once to learn the lines and total the commands refer to.
        let placed = workflow.place(&buyer, &form, new.clone(), &placed_at).expect("sample form accepted");
        let order = Order::from_placed(&placed.events[0]).expect("first event is order_placed");
        let total = order.totals().total;
        let items = order.lines().iter().map(|l| PackageItem { line: l.id, quantity: l.quantity }).collect();
        let scanned = order
            .lines()
            .iter()
            .map(|l| ScannedItem {
                sku: l.sku.to_string(),
                product_name: l.product_name.to_string(),
                variant: l.variant.clone(),
                quantity: l.quantity,
            })
            .collect();

        let at = |minutes: i64| Ctx::at(t0() + TimeDelta::minutes(minutes));
        let package = PackageId(1);
        let waybill = "SF00000001".to_string();
        let mut steps = vec![
            (Command::new(provider(), Action::CapturePayment { txn_id: "ALI-0001".into(), amount: total }), at(3)),
            (Command::new(warehouse(), Action::IssuePickList), at(60)),
            (Command::new(warehouse(), Action::Pack { items, scanned }), at(90)),
            (
                Command::new(
                    warehouse(),
                    Action::BookShipment {
                        package,
                        carrier: "SF".into(),
                        service: "standard".into(),
                        reason: orderflow::ChoiceReason::stated("cheapest of 2 quotes"),
                    },
                ),
                at(100),
            ),
            (Command::new(carrier("SF"), Action::RecordWaybill { package, waybill: waybill.clone() }), at(110)),
        ];
        for (hours, kind) in [(4, TrackingKind::PickedUp), (20, TrackingKind::InTransit), (40, TrackingKind::Delivered)]
        {
            let update = TrackingUpdate {
                kind,
                at: t0() + TimeDelta::hours(hours),
                event_id: format!("E{hours}").into(),
                location: "Hangzhou".into(),
                description: kind.describe().into(),
            };
            let action = Action::RecordTracking { waybill: waybill.clone(), update };
            steps.push((Command::new(carrier("SF"), action), at(hours * 60 + 1)));
        }
        steps.push((Command::new(buyer.clone(), Action::ConfirmReceipt), at(4 * 24 * 60)));
        CoreLifecycle { workflow, buyer, form, new, placed_at, steps }
    }

    /// Placement alone (validation, first events, the order built from them): the share of
    /// the lifecycle spent before the first command.
    fn place_only(&self) -> Order {
        let placed = match self.workflow.place(&self.buyer, &self.form, self.new.clone(), &self.placed_at) {
            Ok(decision) => decision,
            Err(e) => panic!("placement refused: {e}"),
        };
        let mut order = Order::from_placed(&placed.events[0]).expect("order_placed first");
        for event in &placed.events[1..] {
            evolve(&mut order, event);
        }
        order
    }

    /// The whole lifecycle: returns the final order and its full history.
    fn run(&self) -> (Order, Vec<Event>) {
        let placed = match self.workflow.place(&self.buyer, &self.form, self.new.clone(), &self.placed_at) {
            Ok(decision) => decision,
            Err(e) => panic!("placement refused: {e}"),
        };
        let mut history: Vec<Event> = Vec::with_capacity(24);
        let mut events = placed.events.into_iter();
        let first = events.next().expect("order_placed");
        let mut order = Order::from_placed(&first).expect("order_placed first");
        history.push(first);
        for event in events {
            evolve(&mut order, &event);
            history.push(event);
        }
        for (command, ctx) in &self.steps {
            let decision = match self.workflow.decide(&order, command, ctx) {
                Ok(decision) => decision,
                Err(e) => panic!("{:?} refused: {e}", command.action.kind()),
            };
            for event in decision.events {
                evolve(&mut order, &event);
                history.push(event);
            }
            black_box(&decision.effects);
        }
        (order, history)
    }
}

// -----------------------------------------------------------------------------------------
// (b) A hand-written minimal baseline: plain enums and `match`, the same checks
// -----------------------------------------------------------------------------------------

mod baseline {
    use chrono::{DateTime, TimeDelta, Utc};

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Role {
        Warehouse,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Actor {
        Buyer(String),
        Staff { id: String, roles: Vec<Role> },
        System,
        Provider(String),
        Carrier(String),
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Status {
        AwaitingPayment,
        ReadyToShip,
        Picking,
        Packed,
        Booked,
        Shipped,
        InTransit,
        Delivered,
        Completed,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub enum Tracking {
        PickedUp,
        InTransit,
        Delivered,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LineForm {
        pub sku: String,
        pub name: String,
        pub variant: Vec<(String, String)>,
        pub quantity: u32,
        pub unit_price: i64,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Form {
        pub customer: String,
        pub lines: Vec<LineForm>,
        pub address: [String; 8],
        pub provider: String,
        pub shipping_fee: i64,
        pub discount: i64,
        pub note: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Line {
        pub id: u32,
        pub sku: String,
        pub name: String,
        pub variant: Vec<(String, String)>,
        pub quantity: u32,
        pub unit_price: i64,
        pub payable: i64,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Draft {
        pub customer: String,
        pub lines: Vec<Line>,
        pub address: [String; 8],
        pub provider: String,
        pub total: i64,
        pub note: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Update {
        pub kind: Tracking,
        pub at: DateTime<Utc>,
        pub event_id: String,
        pub location: String,
        pub description: String,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Scan {
        pub sku: String,
        pub name: String,
        pub variant: Vec<(String, String)>,
        pub quantity: u32,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Cmd {
        Capture { txn_id: String, amount: i64 },
        PickList,
        Pack { items: Vec<(u32, u32)>, scanned: Vec<Scan> },
        Book { package: u32, carrier: String, service: String, reason: String },
        Waybill { package: u32, waybill: String },
        Track { waybill: String, update: Update },
        Confirm,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Change {
        Placed { id: u128, number: u64, draft: Box<Draft>, pay_by: DateTime<Utc>, ship_by: DateTime<Utc> },
        Approved { note: String },
        Captured { txn_id: String, amount: i64 },
        PickList { items: Vec<PickItem> },
        Packed { package: u32, items: Vec<(u32, u32)> },
        Booked { package: u32, carrier: String, service: String, reason: String },
        Shipped { package: u32, waybill: String },
        Tracked { package: u32, update: Update },
        Deadline { kind: u8, at: Option<DateTime<Utc>> },
        Confirmed,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PickItem {
        pub line: u32,
        pub sku: String,
        pub name: String,
        pub variant: Vec<(String, String)>,
        pub quantity: u32,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Event {
        pub seq: u64,
        pub at: DateTime<Utc>,
        pub actor: Actor,
        pub change: Change,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Effect {
        Reserve(Vec<(String, u32)>),
        Notify { customer: String, number: u64, what: u8 },
        Schedule { kind: u8, at: DateTime<Utc> },
        CreateShipment { package: u32, carrier: String, items: Vec<(u32, u32)>, address: Box<[String; 8]> },
        CommitStock(Vec<(String, u32)>),
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Order {
        pub number: u64,
        pub customer: String,
        pub lines: Vec<Line>,
        pub address: [String; 8],
        pub total: i64,
        pub paid: i64,
        pub txns: Vec<String>,
        pub status: Status,
        pub packed: Vec<(u32, u32)>,
        pub carrier: Option<String>,
        pub waybill: Option<String>,
        pub tracking: Vec<Update>,
        pub version: u64,
    }

    #[derive(Debug)]
    pub struct Refused(pub &'static str);

    /// Collects the events and effects of one step.
    pub struct Out<'a> {
        pub events: &'a mut Vec<Event>,
        pub effects: &'a mut Vec<Effect>,
        pub now: DateTime<Utc>,
    }

    impl Out<'_> {
        fn emit(&mut self, actor: &Actor, change: Change) {
            let seq = self.events.last().map_or(1, |e| e.seq + 1);
            self.events.push(Event { seq, at: self.now, actor: actor.clone(), change });
        }
    }

    fn stock(lines: &[Line], items: impl Iterator<Item = (u32, u32)>) -> Vec<(String, u32)> {
        let mut out: Vec<(String, u32)> = Vec::with_capacity(lines.len());
        for (line, quantity) in items {
            if let Some(l) = lines.iter().find(|l| l.id == line) {
                out.push((l.sku.clone(), quantity));
            }
        }
        out.sort_unstable();
        out
    }

    pub fn place(actor: &Actor, form: &Form, id: u128, number: u64, out: &mut Out<'_>) -> Result<Order, Refused> {
        match actor {
            Actor::Buyer(c) if c == form.customer.trim() => {}
            _ => return Err(Refused("forbidden")),
        }
        if form.lines.is_empty() || form.lines.len() > 100 {
            return Err(Refused("lines"));
        }
        if form.address.iter().take(5).any(|f| f.trim().is_empty()) {
            return Err(Refused("address"));
        }
        let mut subtotal: i64 = 0;
        let mut lines = Vec::with_capacity(form.lines.len());
        for (i, l) in form.lines.iter().enumerate() {
            if l.sku.trim().is_empty() || l.name.trim().is_empty() || !(1..=999).contains(&l.quantity) {
                return Err(Refused("line"));
            }
            if l.unit_price < 0 {
                return Err(Refused("price"));
            }
            let total = l.unit_price.checked_mul(i64::from(l.quantity)).ok_or(Refused("overflow"))?;
            subtotal = subtotal.checked_add(total).ok_or(Refused("overflow"))?;
            lines.push(Line {
                id: i as u32 + 1,
                sku: l.sku.trim().to_owned(),
                name: l.name.trim().to_owned(),
                variant: l.variant.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
                payable: total,
            });
        }
        if form.discount < 0 || form.discount > subtotal || form.shipping_fee < 0 {
            return Err(Refused("discount"));
        }
        // Spread the discount in proportion (largest remainder left to the first line).
        let mut left = form.discount;
        for l in &mut lines {
            let share = i64::try_from(i128::from(form.discount) * i128::from(l.payable) / i128::from(subtotal.max(1)))
                .map_err(|_| Refused("overflow"))?;
            l.payable -= share;
            left -= share;
        }
        if let Some(first) = lines.first_mut() {
            first.payable -= left;
        }
        let total = subtotal - form.discount + form.shipping_fee;
        let draft = Draft {
            customer: form.customer.trim().to_owned(),
            lines: lines.clone(),
            address: form.address.clone(),
            provider: form.provider.clone(),
            total,
            note: form.note.trim().to_owned(),
        };
        let pay_by = out.now + TimeDelta::minutes(30);
        let ship_by = out.now + TimeDelta::hours(48);
        out.emit(actor, Change::Placed { id, number, draft: Box::new(draft), pay_by, ship_by });
        out.effects.push(Effect::Reserve(stock(&lines, lines.iter().map(|l| (l.id, l.quantity)))));
        out.effects.push(Effect::Notify { customer: form.customer.clone(), number, what: 0 });
        out.effects.push(Effect::Schedule { kind: 0, at: pay_by });
        out.emit(&Actor::System, Change::Approved { note: "automatic review".into() });
        Ok(Order {
            number,
            customer: form.customer.trim().to_owned(),
            lines,
            address: form.address.clone(),
            total,
            paid: 0,
            txns: Vec::new(),
            status: Status::AwaitingPayment,
            packed: Vec::new(),
            carrier: None,
            waybill: None,
            tracking: Vec::new(),
            version: 2,
        })
    }

    fn is_warehouse(actor: &Actor) -> bool {
        matches!(actor, Actor::Staff { roles, .. } if roles.contains(&Role::Warehouse))
    }

    fn notify(order: &Order, out: &mut Out<'_>, what: u8) {
        out.effects.push(Effect::Notify { customer: order.customer.clone(), number: order.number, what });
    }

    pub fn decide(order: &mut Order, actor: &Actor, cmd: &Cmd, out: &mut Out<'_>) -> Result<(), Refused> {
        match (cmd, order.status) {
            (Cmd::Capture { txn_id, amount }, Status::AwaitingPayment) => {
                if !matches!(actor, Actor::Provider(p) if p == "alipay") {
                    return Err(Refused("forbidden"));
                }
                if order.txns.iter().any(|t| t == txn_id) {
                    return Ok(());
                }
                if txn_id.trim().is_empty() || *amount != order.total - order.paid {
                    return Err(Refused("amount"));
                }
                out.emit(actor, Change::Captured { txn_id: txn_id.clone(), amount: *amount });
                notify(order, out, 1);
                order.paid += amount;
                order.txns.push(txn_id.clone());
                order.status = Status::ReadyToShip;
            }
            (Cmd::PickList, Status::ReadyToShip) => {
                if !is_warehouse(actor) {
                    return Err(Refused("forbidden"));
                }
                let items = order.lines.iter().map(|l| PickItem {
                    line: l.id,
                    sku: l.sku.clone(),
                    name: l.name.clone(),
                    variant: l.variant.clone(),
                    quantity: l.quantity,
                });
                out.emit(actor, Change::PickList { items: items.collect() });
                order.status = Status::Picking;
            }
            (Cmd::Pack { items, scanned }, Status::Picking) => {
                if !is_warehouse(actor) {
                    return Err(Refused("forbidden"));
                }
                for line in order.lines.iter() {
                    let want: u32 = items.iter().filter(|(id, _)| *id == line.id).map(|(_, q)| q).sum();
                    let got: u32 = scanned
                        .iter()
                        .filter(|s| s.sku == line.sku && s.variant == line.variant && s.name == line.name)
                        .map(|s| s.quantity)
                        .sum();
                    if want != line.quantity || got != want {
                        return Err(Refused("pack mismatch"));
                    }
                }
                if items.iter().any(|(id, _)| !order.lines.iter().any(|l| l.id == *id)) {
                    return Err(Refused("unknown line"));
                }
                out.emit(actor, Change::Packed { package: 1, items: items.clone() });
                order.packed.clone_from(items);
                order.status = Status::Packed;
            }
            (Cmd::Book { package, carrier, service, reason }, Status::Packed) => {
                if !is_warehouse(actor) {
                    return Err(Refused("forbidden"));
                }
                if *package != 1 || carrier.trim().is_empty() {
                    return Err(Refused("package"));
                }
                out.emit(
                    actor,
                    Change::Booked {
                        package: *package,
                        carrier: carrier.clone(),
                        service: service.clone(),
                        reason: reason.clone(),
                    },
                );
                out.effects.push(Effect::CreateShipment {
                    package: *package,
                    carrier: carrier.clone(),
                    items: order.packed.clone(),
                    address: Box::new(order.address.clone()),
                });
                order.carrier = Some(carrier.clone());
                order.status = Status::Booked;
            }
            (Cmd::Waybill { package, waybill }, Status::Booked) => {
                if !matches!(actor, Actor::Carrier(c) if Some(c) == order.carrier.as_ref()) {
                    return Err(Refused("forbidden"));
                }
                if *package != 1 || waybill.trim().is_empty() {
                    return Err(Refused("waybill"));
                }
                out.emit(actor, Change::Shipped { package: *package, waybill: waybill.clone() });
                out.effects.push(Effect::CommitStock(stock(&order.lines, order.packed.iter().copied())));
                notify(order, out, 2);
                let at = out.now + TimeDelta::days(20);
                out.emit(&Actor::System, Change::Deadline { kind: 1, at: Some(at) });
                out.effects.push(Effect::Schedule { kind: 1, at });
                order.waybill = Some(waybill.clone());
                order.status = Status::Shipped;
            }
            (Cmd::Track { waybill, update }, Status::Shipped | Status::InTransit) => {
                if !matches!(actor, Actor::Carrier(c) if Some(c) == order.carrier.as_ref()) {
                    return Err(Refused("forbidden"));
                }
                if order.waybill.as_deref() != Some(waybill.as_str()) {
                    return Err(Refused("unknown waybill"));
                }
                if order.tracking.iter().any(|t| t.event_id == update.event_id) {
                    return Ok(());
                }
                // Keep updates in carrier-time order; the latest one decides the state.
                let pos = order.tracking.partition_point(|t| t.at <= update.at);
                let is_latest = pos == order.tracking.len();
                out.emit(actor, Change::Tracked { package: 1, update: update.clone() });
                order.tracking.insert(pos, update.clone());
                if is_latest {
                    notify(order, out, 3);
                }
                let latest = order.tracking.last().map(|t| t.kind);
                if latest == Some(Tracking::Delivered) {
                    notify(order, out, 4);
                    let at = update.at.max(out.now) + TimeDelta::days(10);
                    out.emit(&Actor::System, Change::Deadline { kind: 1, at: Some(at) });
                    out.effects.push(Effect::Schedule { kind: 1, at });
                    order.status = Status::Delivered;
                } else {
                    order.status = Status::InTransit;
                }
            }
            (Cmd::Confirm, Status::Shipped | Status::InTransit | Status::Delivered) => {
                if !matches!(actor, Actor::Buyer(c) if *c == order.customer) {
                    return Err(Refused("forbidden"));
                }
                out.emit(actor, Change::Confirmed);
                notify(order, out, 5);
                for (kind, days) in [(2, 7), (3, 3)] {
                    let at = out.now + TimeDelta::days(days);
                    out.emit(&Actor::System, Change::Deadline { kind, at: Some(at) });
                    out.effects.push(Effect::Schedule { kind, at });
                }
                order.status = Status::Completed;
            }
            _ => return Err(Refused("illegal transition")),
        }
        order.version = out.events.last().map_or(order.version, |e| e.seq);
        Ok(())
    }
}

struct BaselineLifecycle {
    buyer: baseline::Actor,
    form: baseline::Form,
    placed_at: DateTime<Utc>,
    steps: Vec<(baseline::Actor, baseline::Cmd, DateTime<Utc>)>,
}

impl BaselineLifecycle {
    /// The same order and commands as [`CoreLifecycle`], in the baseline's types.
    fn new() -> BaselineLifecycle {
        use baseline::{Actor, Cmd, Form, LineForm, Role, Scan, Tracking, Update};
        let sample = sample_form("alice");
        let a = &sample.shipping_address;
        let form = Form {
            customer: sample.customer.clone(),
            lines: sample
                .lines
                .iter()
                .map(|l| LineForm {
                    sku: l.sku.clone(),
                    name: l.product_name.clone(),
                    variant: l.variant.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
                    quantity: u32::try_from(l.quantity).expect("positive quantity"),
                    unit_price: l.unit_price.minor,
                })
                .collect(),
            address: [
                a.recipient.clone(),
                a.phone.clone(),
                a.country.clone(),
                a.province.clone(),
                a.city.clone(),
                a.district.clone(),
                a.street.join("\n"),
                a.postal_code.clone(),
            ],
            provider: "alipay".into(),
            shipping_fee: sample.shipping_fee.minor,
            discount: sample.discount.minor,
            note: sample.buyer_note.clone(),
        };
        let at = |minutes: i64| t0() + TimeDelta::minutes(minutes);
        let staff = Actor::Staff { id: "wang".into(), roles: vec![Role::Warehouse] };
        let sf = Actor::Carrier("SF".into());
        let items: Vec<(u32, u32)> = form.lines.iter().zip(1..).map(|(l, id)| (id, l.quantity)).collect();
        let scanned = form
            .lines
            .iter()
            .map(|l| Scan {
                sku: l.sku.clone(),
                name: l.name.clone(),
                variant: l.variant.clone(),
                quantity: l.quantity,
            })
            .collect();
        let waybill = "SF00000001".to_string();
        let mut steps = vec![
            (Actor::Provider("alipay".into()), Cmd::Capture { txn_id: "ALI-0001".into(), amount: 27_000 }, at(3)),
            (staff.clone(), Cmd::PickList, at(60)),
            (staff.clone(), Cmd::Pack { items, scanned }, at(90)),
            (
                staff,
                Cmd::Book {
                    package: 1,
                    carrier: "SF".into(),
                    service: "standard".into(),
                    reason: "cheapest of 2 quotes".into(),
                },
                at(100),
            ),
            (sf.clone(), Cmd::Waybill { package: 1, waybill: waybill.clone() }, at(110)),
        ];
        for (hours, kind, text) in [
            (4, Tracking::PickedUp, "picked up by the carrier"),
            (20, Tracking::InTransit, "in transit"),
            (40, Tracking::Delivered, "delivered"),
        ] {
            let update = Update {
                kind,
                at: t0() + TimeDelta::hours(hours),
                event_id: format!("E{hours}"),
                location: "Hangzhou".into(),
                description: text.into(),
            };
            steps.push((sf.clone(), Cmd::Track { waybill: waybill.clone(), update }, at(hours * 60 + 1)));
        }
        steps.push((Actor::Buyer("alice".into()), Cmd::Confirm, at(4 * 24 * 60)));
        BaselineLifecycle { buyer: Actor::Buyer("alice".into()), form, placed_at: t0(), steps }
    }

    fn run(&self) -> (baseline::Order, Vec<baseline::Event>, Vec<baseline::Effect>) {
        let mut events = Vec::with_capacity(24);
        let mut effects = Vec::with_capacity(24);
        let mut out = baseline::Out { events: &mut events, effects: &mut effects, now: self.placed_at };
        let mut order = match baseline::place(&self.buyer, &self.form, 42, 1_234_567, &mut out) {
            Ok(order) => order,
            Err(e) => panic!("baseline placement refused: {}", e.0),
        };
        for (actor, cmd, now) in &self.steps {
            out.now = *now;
            if let Err(e) = baseline::decide(&mut order, actor, cmd, &mut out) {
                panic!("baseline {cmd:?} refused: {}", e.0);
            }
        }
        (order, events, effects)
    }
}

fn lifecycle(c: &mut Criterion) {
    let core = CoreLifecycle::new();
    let base = BaselineLifecycle::new();

    // Sanity, outside the timed loop: both run to completion and record the same facts.
    let (order, history) = core.run();
    assert_eq!(order.status(), OrderStatus::Completed);
    let (base_order, base_events, _) = base.run();
    assert_eq!(base_order.status, baseline::Status::Completed);
    assert_eq!(base_order.total, order.totals().total.minor);
    assert_eq!(base_events.len(), history.len(), "the baseline records as many events as the core");

    let mut group = c.benchmark_group("core_lifecycle");
    group.bench_function("orderflow_core", |b| b.iter(|| black_box(core.run())));
    group.bench_function("hand_written_baseline", |b| b.iter(|| black_box(base.run())));
    group.finish();
}

/// Under `cargo bench` only (not in test mode): CPU time per lifecycle, printed once.
fn cpu_check() {
    let core = CoreLifecycle::new();
    let base = BaselineLifecycle::new();
    let a = cpu_time::cpu_time_per_run(3.0, || {
        black_box(core.run());
    });
    let b = cpu_time::cpu_time_per_run(3.0, || {
        black_box(base.run());
    });
    let p = cpu_time::cpu_time_per_run(2.0, || {
        black_box(core.place_only());
    });
    if let (Some((n_core, core_us)), Some((n_base, base_us))) = (a, b) {
        println!(
            "cpu time per lifecycle: orderflow_core {core_us:.2} µs ({n_core} runs), hand_written_baseline \
             {base_us:.2} µs ({n_base} runs), ratio {:.2}",
            core_us / base_us
        );
    }
    if let Some((n, us)) = p {
        println!("cpu time of placement alone (orderflow_core): {us:.2} µs ({n} runs)");
    }
}

criterion_group!(benches, lifecycle);

/// `ORDERFLOW_PROFILE=core:N` (or `baseline:N`, `place:N`): runs that many lifecycles and
/// nothing else, for `valgrind --tool=callgrind`; instruction counts per lifecycle are the
/// difference between two runs with different N, divided by the difference in N.
fn profile() -> bool {
    let Ok(spec) = std::env::var("ORDERFLOW_PROFILE") else {
        return false;
    };
    let (what, n) = spec.split_once(':').unwrap_or((spec.as_str(), "1000"));
    let n: u64 = n.parse().expect("ORDERFLOW_PROFILE=what:N with a number N");
    let core = CoreLifecycle::new();
    let base = BaselineLifecycle::new();
    for _ in 0..n {
        match what {
            "core" => drop(black_box(core.run())),
            "baseline" => drop(black_box(base.run())),
            "place" => drop(black_box(core.place_only())),
            other => panic!("ORDERFLOW_PROFILE: unknown {other:?} (core, baseline, place)"),
        }
    }
    true
}

fn main() {
    if profile() {
        return;
    }
    benches();
    if cpu_time::cross_checks_wanted() {
        cpu_check();
    }
    Criterion::default().configure_from_args().final_summary();
}
