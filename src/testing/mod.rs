//! Test kit (feature `testing`): sample forms and a given/when/then harness for the pure core,
//! exported so hosts can test their own rules and integrations with it.

pub mod conformance;
#[cfg(any(feature = "wechatpay", feature = "alipay", feature = "kuaidi100"))]
pub mod emulators;
pub mod errors;
pub mod fuzzing;

pub mod carrier;
pub mod clock;
pub mod failing;
pub mod gateway;
pub mod notifier;
pub mod providers;
pub mod shop;
pub mod simulation;

pub use carrier::{FakeCarrier, MultiCarrier};
pub use clock::FixedClock;
pub use failing::{COMMITS, Failing, Failure, FailureSwitch, Fault, FromFault};
pub use gateway::FakeGateway;
pub use notifier::RecordingNotifier;
pub use providers::{CarrierReport, TestPayments, TestTracking};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::actor::{Actor, Role};
use crate::command::{Action, Command};
use crate::decide::{Ctx, Decision, NewOrder, Workflow, evolve};
use crate::effect::Effect;
use crate::error::Error;
use crate::event::Event;
use crate::ids::{CustomerId, OrderId, StaffId};
use crate::money::{Currency, Money};
use crate::order::{Order, PackageItem, ScannedItem};
use crate::order_number::{OrderNumberGenerator, TimeOrderedNumbers};
use crate::placement::{AddressForm, Line, LineForm, PaymentMethod, PlaceOrderForm, Variant};

/// A fixed instant used by the examples and tests: 2026-11-30 09:00 UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).single().unwrap_or_default()
}

fn variant(pairs: &[(&str, &str)]) -> Variant {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// A valid three-line order in CNY, paid online with `alipay`, for `customer`.
/// Total: 2×49.00 + 1×129.00 + 3×15.00 + 8.00 shipping − 10.00 discount = 270.00 CNY.
pub fn sample_form(customer: &str) -> PlaceOrderForm {
    let cny = |minor| Money::new(minor, Currency::CNY);
    PlaceOrderForm {
        customer: customer.to_owned(),
        lines: vec![
            LineForm {
                sku: "TEA-OOLONG".into(),
                product_name: "Oolong tea 250g".into(),
                variant: variant(&[("grade", "premium")]),
                quantity: 2,
                unit_price: cny(4_900),
            },
            LineForm {
                sku: "MUG-CLAY".into(),
                product_name: "Clay tea mug".into(),
                variant: variant(&[("colour", "red"), ("size", "L")]),
                quantity: 1,
                unit_price: cny(12_900),
            },
            LineForm {
                sku: "CUP-SET".into(),
                product_name: "Tasting cup".into(),
                variant: Variant::new(),
                quantity: 3,
                unit_price: cny(1_500),
            },
        ],
        shipping_address: AddressForm {
            recipient: "Li Lei".into(),
            phone: "13800138000".into(),
            country: "CN".into(),
            province: "Zhejiang".into(),
            city: "Hangzhou".into(),
            district: "Xihu".into(),
            street: vec!["1 Longjing Road".into()],
            postal_code: "310000".into(),
        },
        payment: PaymentMethod::Online { provider: "alipay".into() },
        shipping_fee: cny(800),
        discount: cny(1_000),
        buyer_note: "please ring twice".into(),
    }
}

/// [`sample_form`] paid cash on delivery.
pub fn sample_cod_form(customer: &str) -> PlaceOrderForm {
    PlaceOrderForm { payment: PaymentMethod::CashOnDelivery, ..sample_form(customer) }
}

/// A staff member with `roles`, for tests.
///
/// # Panics
/// When `id` is not a valid [`StaffId`]: a test that meant a staff member never silently acts
/// as someone else.
pub fn staff(id: &str, roles: &[Role]) -> Actor {
    match StaffId::new(id) {
        Ok(id) => Actor::staff(id, roles.iter().copied()),
        Err(e) => panic!("testing::staff({id:?}): not a staff id: {e}"),
    }
}

/// A reviewer.
pub fn reviewer() -> Actor {
    staff("rita", &[Role::Reviewer])
}

/// A warehouse worker.
pub fn warehouse() -> Actor {
    staff("wang", &[Role::Warehouse])
}

/// A customer-service agent.
pub fn customer_service() -> Actor {
    staff("chen", &[Role::CustomerService])
}

/// The buyer `customer`.
///
/// # Panics
/// When `customer` is not a valid [`CustomerId`]: a test that meant a buyer never silently
/// acts as the system.
pub fn buyer(customer: &str) -> Actor {
    match CustomerId::new(customer) {
        Ok(id) => Actor::buyer(id),
        Err(e) => panic!("testing::buyer({customer:?}): not a customer id: {e}"),
    }
}

/// The `Pack` of every unit of `order` not packed yet, with the scans that match it: the usual
/// pack of a single-parcel order, for tests and demonstrations.
pub fn pack_remaining(order: &Order) -> Action {
    let remaining: Vec<(&Line, u32)> =
        order.lines.iter().map(|l| (l, order.remaining_to_pack(l))).filter(|(_, q)| *q > 0).collect();
    Action::Pack {
        items: remaining.iter().map(|(l, quantity)| PackageItem { line: l.id, quantity: *quantity }).collect(),
        scanned: remaining.iter().map(|(l, quantity)| ScannedItem::of(l, *quantity)).collect(),
    }
}

/// A copy of `order` with its stored form edited by `edit`: for store tests that need a
/// snapshot no history produces (a store trusts the snapshot a commit hands it). An order's
/// fields cannot be written from outside the crate, so the edit goes through the JSON a store
/// would hold. Panics when the edited JSON is no order (the calling test's bug).
pub fn edited(order: &Order, edit: impl FnOnce(&mut serde_json::Value)) -> Order {
    let mut json = serde_json::to_value(order).unwrap_or_else(|e| panic!("an order serialises: {e}"));
    edit(&mut json);
    serde_json::from_value(json).unwrap_or_else(|e| panic!("the edited JSON is no order: {e}"))
}

/// The payment provider `alipay`.
pub fn provider() -> Actor {
    Actor::PaymentProvider { provider: "alipay".into() }
}

/// A carrier.
pub fn carrier(name: &str) -> Actor {
    Actor::Carrier { carrier: name.into() }
}

/// Given/when/then over the pure core: keeps an order, its history and a steppable clock.
///
/// ```
/// use orderflow::testing::*;
/// use orderflow::{Action, OrderStatus};
///
/// let mut s = Scenario::placed(sample_form("alice"));
/// let total = s.order().totals().total;
/// s.when(provider(), Action::CapturePayment { txn_id: "T1".into(), amount: total }).unwrap();
/// assert_eq!(s.order().status(), OrderStatus::ReadyToShip);
/// assert_eq!(s.history().len(), 3); // placed, auto-approved, paid
/// ```
#[derive(Debug)]
pub struct Scenario {
    /// The rules in force.
    pub workflow: Workflow,
    /// The clock.
    pub now: DateTime<Utc>,
    numbers: TimeOrderedNumbers,
    order: Option<Order>,
    history: Vec<Event>,
    effects: Vec<Effect>,
}

impl Scenario {
    /// A scenario with `workflow` at [`t0`] and no order yet.
    pub fn new(workflow: Workflow) -> Scenario {
        Scenario {
            workflow,
            now: t0(),
            numbers: TimeOrderedNumbers::new(),
            order: None,
            history: Vec::new(),
            effects: Vec::new(),
        }
    }

    /// Places `form` (as its own buyer) with the default workflow.
    ///
    /// # Panics
    /// When the form is invalid: this is a test helper.
    pub fn placed(form: PlaceOrderForm) -> Scenario {
        let mut s = Scenario::new(Workflow::default());
        let actor = buyer(&form.customer);
        if let Err(e) = s.place(&actor, &form) {
            panic!("sample form refused: {e}");
        }
        s
    }

    /// Places an order (given).
    pub fn place(&mut self, actor: &Actor, form: &PlaceOrderForm) -> Result<Decision, Error> {
        let new = NewOrder { id: OrderId::new_v7(), number: self.numbers.next_number(self.now) };
        let decision = self.workflow.place(actor, form, new, &Ctx::at(self.now))?;
        self.apply(&decision);
        Ok(decision)
    }

    /// Runs a command (when); on success its events are applied (then).
    pub fn when(&mut self, actor: Actor, action: Action) -> Result<Decision, Error> {
        let Some(order) = &self.order else {
            return Err(Error::InvalidField { field: "order", rule: "place an order first".into() });
        };
        let decision = self.workflow.decide(order, &Command::new(actor, action), &Ctx::at(self.now))?;
        self.apply(&decision);
        Ok(decision)
    }

    fn apply(&mut self, decision: &Decision) {
        for event in &decision.events {
            match &mut self.order {
                Some(order) => evolve(order, event),
                None => self.order = Order::from_placed(event).ok(),
            }
            self.history.push(event.clone());
        }
        self.effects.extend(decision.effects.iter().cloned());
    }

    /// Moves the clock.
    pub fn advance(&mut self, by: TimeDelta) {
        self.now = crate::decide::after(self.now, by);
    }

    /// The order.
    ///
    /// # Panics
    /// Before an order was placed.
    pub fn order(&self) -> &Order {
        match &self.order {
            Some(order) => order,
            None => panic!("no order placed yet"),
        }
    }

    /// Every event so far.
    pub fn history(&self) -> &[Event] {
        &self.history
    }

    /// Every effect so far.
    pub fn effects(&self) -> &[Effect] {
        &self.effects
    }
}
