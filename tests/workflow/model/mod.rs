//! Model-based tests of the pure core (`Workflow::decide` + `evolve`) with proptest-state-machine.
//!
//! Random sequences of commands — valid and invalid, from every kind of actor, including a
//! buyer who does not own the order and staff without the needed role — run against one order
//! placed from `sample_form("alice")` (online) or `sample_cod_form("alice")` (cash on
//! delivery), with auto-approval, manual review or an automatic hold at placement. The clock
//! moves by minutes to weeks so deadlines fall due, carrier events arrive out of order and
//! twice, payment notifications repeat.
//!
//! The reference model ([`Model`]) is small and written from the specification: who may do
//! what, which statuses allow which command, the money rules (capture, refund, cash on
//! delivery), packing and shipping per line, deadlines. It predicts the outcome of every
//! command (refused for lack of permission, refused, already applied, accepted) and the state
//! afterwards. Its predictions are checked in their own test; the seven properties of the
//! workflow each have their own test too, so a bug in one area does not hide the others.
//!
//! After-sales cases run in the same sequences once goods are delivered: every case kind (with
//! a warranty on one SKU), opened by the owner, another buyer or customer service for units
//! around what was received; approval, rejection, withdrawal, return parcels and their
//! tracking, inspections, case refunds (online, and cash on delivery with or without a manual
//! reference), replacement parcels with right and wrong scans, repairs, complaints, case
//! follow-ups and case deadlines. The model predicts them too, and an eighth property checks
//! the case bounds: units held never exceed units received, terminal cases stay, case refunds
//! stay within each line's payable minus other refunds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use chrono::{DateTime, TimeDelta, Utc};
use orderflow::command::CommandKind;
use orderflow::order::{
    CaseKind, CaseLine, CaseRequest, CaseState, DeadlineKind, HoldAbove, HoldReason, LineRefund, PackageItem,
    PackageState, RefundMethod, RefundStatus, ReviewState, ScannedItem, TrackingKind, TrackingUpdate,
};
use orderflow::placement::Variant;
use orderflow::testing::{
    Scenario, buyer, carrier, customer_service, provider, reviewer, sample_cod_form, sample_form, staff, t0, warehouse,
};
use orderflow::transitions::leads_to;
use orderflow::{
    Action, Actor, ActorKind, CaseId, Change, Command, Ctx, Currency, Error, Event, LineId, Money, NewOrder, Order,
    OrderId, OrderNumber, OrderStatus, PackageId, RefundId, Role, StaffId, Workflow, WorkflowConfig, evolve,
};
use proptest::prelude::*;
use proptest::strategy::Union;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};

// ---------------------------------------------------------------------------------------------
// Time, money and the placed order's fixed data
// ---------------------------------------------------------------------------------------------

pub(super) const MINUTE: i64 = 1;
pub(super) const HOUR: i64 = 60 * MINUTE;
pub(super) const DAY: i64 = 24 * HOUR;

/// Default deadlines of `WorkflowConfig`, in minutes (restated: the model does not read them).
pub(super) const PAY_WITHIN: i64 = 30 * MINUTE;
pub(super) const AUTO_CONFIRM_AFTER_SHIPPING: i64 = 20 * DAY;
pub(super) const AUTO_CONFIRM_AFTER_DELIVERY: i64 = 10 * DAY;
pub(super) const AFTER_SALES_WINDOW: i64 = 7 * DAY;
pub(super) const FOLLOW_UP_AFTER: i64 = 3 * DAY;

/// Limit of the automatic-hold review rule: below the sample total of 270.00 CNY.
pub(super) const HOLD_ABOVE: i64 = 10_000;

pub(super) fn instant(minutes: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(minutes)
}

pub(super) fn minutes_of(at: DateTime<Utc>) -> i64 {
    (at - t0()).num_minutes()
}

pub(super) fn cny(minor: i64) -> Money {
    Money::new(minor, Currency::CNY)
}

/// How the order is reviewed at placement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Start {
    /// Default workflow: approved automatically.
    AutoApproved,
    /// `auto_approve = false`: a reviewer must decide.
    ManualReview,
    /// A `HoldAbove` rule holds the order (high value).
    HeldAtPlacement,
}

/// The SKU with a warranty (the others have none), and its period from delivery.
pub(super) const WARRANTY_SKU: &str = "MUG-CLAY";
pub(super) const WARRANTY: i64 = 30 * DAY;
/// Default answer SLA of a case (`case_answer_within`), restated.
pub(super) const CASE_ANSWER_WITHIN: i64 = 48 * HOUR;

/// The model's workflow: a warranty SKU, payments in parts, and unapplied payments held for
/// staff (the model keeps every capture and anomaly; the default exact-payment rule and the
/// automatic return of unapplied money have their own tests in `core_stages.rs`).
pub(super) fn config_with_warranty() -> WorkflowConfig {
    WorkflowConfig {
        warranties: BTreeMap::from([(WARRANTY_SKU.to_owned(), TimeDelta::minutes(WARRANTY))]),
        partial_captures: true,
        unapplied_payments: orderflow::UnappliedPayments::HoldForStaff,
        ..WorkflowConfig::default()
    }
}

pub(super) fn workflow_for(start: Start) -> Workflow {
    match start {
        Start::AutoApproved => Workflow::new(config_with_warranty()),
        Start::ManualReview => Workflow::new(WorkflowConfig { auto_approve: false, ..config_with_warranty() }),
        Start::HeldAtPlacement => {
            Workflow::new(config_with_warranty()).with_review_rule(HoldAbove { limit: cny(HOLD_ABOVE) })
        }
    }
}

/// Places alice's sample order at `t0`; returns the workflow and the placement events.
pub(super) fn place(start: Start, cod: bool) -> (Workflow, Vec<Event>) {
    let workflow = workflow_for(start);
    let form = if cod { sample_cod_form("alice") } else { sample_form("alice") };
    let new = NewOrder { id: OrderId::new_v7(), number: OrderNumber::from_value(1).expect("a valid number") };
    let decision = workflow.place(&buyer("alice"), &form, new, &Ctx::at(t0())).expect("the sample form is valid");
    (workflow, decision.events)
}

/// One line of the sample order, as placed.
#[derive(Debug)]
pub(super) struct CatLine {
    pub(super) id: u32,
    pub(super) sku: String,
    pub(super) name: String,
    pub(super) variant: Variant,
    pub(super) quantity: u32,
    pub(super) payable: i64,
}

/// The fixed data of the sample order (the same for both payment methods).
pub(super) struct Catalogue {
    pub(super) lines: Vec<CatLine>,
    pub(super) total: i64,
    pub(super) shipping_fee: i64,
}

impl Catalogue {
    pub(super) fn line(&self, id: u32) -> Option<&CatLine> {
        self.lines.iter().find(|l| l.id == id)
    }
}

pub(super) static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    let (_, events) = place(Start::AutoApproved, false);
    let order = Order::from_events(&events).expect("placement replays");
    Catalogue {
        lines: order
            .lines()
            .iter()
            .map(|l| CatLine {
                id: l.id.0,
                sku: l.sku.as_str().to_owned(),
                name: l.product_name.to_string(),
                variant: l.variant.clone(),
                quantity: l.quantity,
                payable: l.payable.minor,
            })
            .collect(),
        total: order.totals().total.minor,
        shipping_fee: order.totals().shipping_fee.minor,
    }
});

pub(super) fn cat() -> &'static Catalogue {
    &CATALOGUE
}

mod properties;
mod reference;
mod strategies;

use reference::*;
use strategies::*;
