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

const MINUTE: i64 = 1;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Default deadlines of `WorkflowConfig`, in minutes (restated: the model does not read them).
const PAY_WITHIN: i64 = 30 * MINUTE;
const AUTO_CONFIRM_AFTER_SHIPPING: i64 = 20 * DAY;
const AUTO_CONFIRM_AFTER_DELIVERY: i64 = 10 * DAY;
const AFTER_SALES_WINDOW: i64 = 7 * DAY;
const FOLLOW_UP_AFTER: i64 = 3 * DAY;

/// Limit of the automatic-hold review rule: below the sample total of 270.00 CNY.
const HOLD_ABOVE: i64 = 10_000;

fn instant(minutes: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(minutes)
}

fn minutes_of(at: DateTime<Utc>) -> i64 {
    (at - t0()).num_minutes()
}

fn cny(minor: i64) -> Money {
    Money::new(minor, Currency::CNY)
}

/// How the order is reviewed at placement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// Default workflow: approved automatically.
    AutoApproved,
    /// `auto_approve = false`: a reviewer must decide.
    ManualReview,
    /// A `HoldAbove` rule holds the order (high value).
    HeldAtPlacement,
}

/// The SKU with a warranty (the others have none), and its period from delivery.
const WARRANTY_SKU: &str = "MUG-CLAY";
const WARRANTY: i64 = 30 * DAY;
/// Default answer SLA of a case (`case_answer_within`), restated.
const CASE_ANSWER_WITHIN: i64 = 48 * HOUR;

/// The model's workflow: a warranty SKU, payments in parts, and unapplied payments held for
/// staff (the model keeps every capture and anomaly; the default exact-payment rule and the
/// automatic return of unapplied money have their own tests in `core_stages.rs`).
fn config_with_warranty() -> WorkflowConfig {
    WorkflowConfig {
        warranties: BTreeMap::from([(WARRANTY_SKU.to_owned(), TimeDelta::minutes(WARRANTY))]),
        partial_captures: true,
        unapplied_payments: orderflow::UnappliedPayments::HoldForStaff,
        ..WorkflowConfig::default()
    }
}

fn workflow_for(start: Start) -> Workflow {
    match start {
        Start::AutoApproved => Workflow::new(config_with_warranty()),
        Start::ManualReview => Workflow::new(WorkflowConfig { auto_approve: false, ..config_with_warranty() }),
        Start::HeldAtPlacement => {
            Workflow::new(config_with_warranty()).with_review_rule(HoldAbove { limit: cny(HOLD_ABOVE) })
        }
    }
}

/// Places alice's sample order at `t0`; returns the workflow and the placement events.
fn place(start: Start, cod: bool) -> (Workflow, Vec<Event>) {
    let workflow = workflow_for(start);
    let form = if cod { sample_cod_form("alice") } else { sample_form("alice") };
    let new = NewOrder { id: OrderId::new_v7(), number: OrderNumber::from_value(1).expect("a valid number") };
    let decision = workflow.place(&buyer("alice"), &form, new, &Ctx::at(t0())).expect("the sample form is valid");
    (workflow, decision.events)
}

/// One line of the sample order, as placed.
#[derive(Debug)]
struct CatLine {
    id: u32,
    sku: String,
    name: String,
    variant: Variant,
    quantity: u32,
    payable: i64,
}

/// The fixed data of the sample order (the same for both payment methods).
struct Catalogue {
    lines: Vec<CatLine>,
    total: i64,
    shipping_fee: i64,
}

impl Catalogue {
    fn line(&self, id: u32) -> Option<&CatLine> {
        self.lines.iter().find(|l| l.id == id)
    }
}

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    let (_, events) = place(Start::AutoApproved, false);
    let order = Order::from_events(&events).expect("placement replays");
    Catalogue {
        lines: order
            .lines
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
        total: order.totals.total.minor,
        shipping_fee: order.totals.shipping_fee.minor,
    }
});

fn cat() -> &'static Catalogue {
    &CATALOGUE
}

// ---------------------------------------------------------------------------------------------
// Actors and the permission table, restated
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    /// alice, who placed the order.
    Owner,
    /// Another buyer.
    Mallory,
    Reviewer,
    Warehouse,
    CustomerService,
    Admin,
    /// Staff without any role.
    NoRoles,
    Provider,
    Carrier,
    System,
}

const EVERYONE: [Who; 10] = [
    Who::Owner,
    Who::Mallory,
    Who::Reviewer,
    Who::Warehouse,
    Who::CustomerService,
    Who::Admin,
    Who::NoRoles,
    Who::Provider,
    Who::Carrier,
    Who::System,
];

impl Who {
    fn actor(self) -> Actor {
        match self {
            Who::Owner => buyer("alice"),
            Who::Mallory => buyer("mallory"),
            Who::Reviewer => reviewer(),
            Who::Warehouse => warehouse(),
            Who::CustomerService => customer_service(),
            Who::Admin => staff("ada", &[Role::Admin]),
            Who::NoRoles => staff("nobody", &[]),
            Who::Provider => provider(),
            Who::Carrier => carrier("sf-express"),
            Who::System => Actor::System,
        }
    }

    fn kind(self) -> ActorKind {
        match self {
            Who::Owner | Who::Mallory => ActorKind::Buyer,
            Who::Reviewer | Who::Warehouse | Who::CustomerService | Who::Admin | Who::NoRoles => ActorKind::Staff,
            Who::Provider => ActorKind::PaymentProvider,
            Who::Carrier => ActorKind::Carrier,
            Who::System => ActorKind::System,
        }
    }

    /// The permission table, written out per command from the specification.
    fn may(self, kind: CommandKind) -> bool {
        use Who::*;
        match kind {
            CommandKind::Place => matches!(self, Owner | CustomerService | Admin),
            CommandKind::Approve => matches!(self, Reviewer | Admin | System),
            CommandKind::Hold => matches!(self, Reviewer | CustomerService | Admin | System),
            CommandKind::ResolveHold => matches!(self, Reviewer | CustomerService | Admin),
            CommandKind::Reject => matches!(self, Reviewer | Admin),
            CommandKind::CapturePayment
            | CommandKind::RecordPaymentAnomaly
            | CommandKind::CompleteRefund
            | CommandKind::FailRefund => matches!(self, Provider | System),
            CommandKind::RequestRefund | CommandKind::RecordFollowUp | CommandKind::RefundUnappliedPayment => {
                matches!(self, CustomerService | Admin)
            }
            CommandKind::IssuePickList | CommandKind::Pack | CommandKind::BookShipment => {
                matches!(self, Warehouse | Admin)
            }
            CommandKind::RecordWaybill => matches!(self, Warehouse | Admin | System | Carrier),
            CommandKind::RecordTracking => matches!(self, System | Carrier),
            CommandKind::RecordCodCollected => matches!(self, Carrier),
            CommandKind::ConfirmReceipt => matches!(self, Owner | Admin),
            CommandKind::Cancel => matches!(self, Owner | CustomerService | Admin),
            CommandKind::CancelUnpaid
            | CommandKind::AutoConfirm
            | CommandKind::CloseAfterSales
            | CommandKind::FollowUpDue
            | CommandKind::EscalateCase
            | CommandKind::CaseFollowUpDue => matches!(self, System),
            CommandKind::OpenCase | CommandKind::RecordReturnParcel => matches!(self, Owner | CustomerService | Admin),
            CommandKind::WithdrawCase => self == Owner,
            CommandKind::ApproveCase
            | CommandKind::RejectCase
            | CommandKind::RefundCase
            | CommandKind::AssignCase
            | CommandKind::ResolveCase
            | CommandKind::CloseCase
            | CommandKind::RecordCaseFollowUp => matches!(self, CustomerService | Admin),
            CommandKind::ReceiveReturn
            | CommandKind::InspectReturn
            | CommandKind::PackReplacement
            | CommandKind::RecordRepairReturned => matches!(self, Warehouse | Admin),
        }
    }
}

/// Commands the owning buyer may issue: another buyer is told "not your order".
fn owner_may(kind: CommandKind) -> bool {
    matches!(
        kind,
        CommandKind::ConfirmReceipt
            | CommandKind::Cancel
            | CommandKind::Place
            | CommandKind::OpenCase
            | CommandKind::WithdrawCase
            | CommandKind::RecordReturnParcel
    )
}

/// The transition table's "from" lists, restated.
fn allows(kind: CommandKind, status: OrderStatus) -> bool {
    use OrderStatus::*;
    match kind {
        CommandKind::Place => false,
        CommandKind::Approve => matches!(status, AwaitingPayment | UnderReview),
        CommandKind::Hold => matches!(status, AwaitingPayment | UnderReview | OnHold | ReadyToShip),
        CommandKind::ResolveHold => status == OnHold,
        CommandKind::Reject => matches!(status, AwaitingPayment | UnderReview | OnHold),
        CommandKind::CapturePayment => matches!(status, AwaitingPayment | OnHold | Cancelled | Rejected),
        CommandKind::RecordPaymentAnomaly
        | CommandKind::RequestRefund
        | CommandKind::CompleteRefund
        | CommandKind::FailRefund
        | CommandKind::RefundUnappliedPayment => true,
        CommandKind::IssuePickList => matches!(status, ReadyToShip | InFulfilment | PartiallyShipped),
        CommandKind::Pack => matches!(status, InFulfilment | PartiallyShipped),
        // Also from delivered/completed: the replacement parcel of an exchange.
        CommandKind::BookShipment | CommandKind::RecordWaybill => {
            matches!(status, InFulfilment | PartiallyShipped | Delivered | Completed)
        }
        CommandKind::PackReplacement => matches!(status, Delivered | Completed),
        // Each case is its own sub-machine, whatever the order's status.
        CommandKind::OpenCase
        | CommandKind::ApproveCase
        | CommandKind::RejectCase
        | CommandKind::WithdrawCase
        | CommandKind::RecordReturnParcel
        | CommandKind::ReceiveReturn
        | CommandKind::InspectReturn
        | CommandKind::RefundCase
        | CommandKind::RecordRepairReturned
        | CommandKind::AssignCase
        | CommandKind::ResolveCase
        | CommandKind::CloseCase
        | CommandKind::EscalateCase
        | CommandKind::CaseFollowUpDue
        | CommandKind::RecordCaseFollowUp => true,
        CommandKind::RecordTracking => {
            matches!(status, Shipped | PartiallyShipped | Delivered | Completed | ReturnedToSender)
        }
        CommandKind::RecordCodCollected => matches!(status, PartiallyShipped | Shipped | Delivered | Completed),
        CommandKind::ConfirmReceipt | CommandKind::AutoConfirm => matches!(status, Shipped | Delivered),
        CommandKind::Cancel => matches!(status, AwaitingPayment | UnderReview | OnHold | ReadyToShip | InFulfilment),
        CommandKind::CancelUnpaid => matches!(status, AwaitingPayment | OnHold),
        CommandKind::CloseAfterSales | CommandKind::FollowUpDue | CommandKind::RecordFollowUp => status == Completed,
    }
}

/// A required text field: 1 to 500 characters after trimming.
fn required(text: &str) -> bool {
    (1..=500).contains(&text.trim().chars().count())
}

// ---------------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Review {
    Pending,
    OnHold,
    Resolved,
    Approved,
    Rejected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RefundState {
    Pending,
    Completed,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MRefund {
    id: u32,
    amount: i64,
    lines: Vec<(u32, i64)>,
    shipping: i64,
    manual: bool,
    state: RefundState,
    /// The after-sales case it pays.
    case: Option<u32>,
}

impl MRefund {
    fn counts(&self) -> bool {
        self.state != RefundState::Failed
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MTrack {
    at: i64,
    kind: TrackingKind,
    event: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct MPackage {
    id: u32,
    items: Vec<(u32, u32)>,
    state: PackageState,
    waybill: Option<String>,
    tracking: Vec<MTrack>,
    delivered_at: Option<i64>,
    /// The exchange case of a replacement parcel (not the order's goods).
    case: Option<u32>,
}

/// An after-sales case as the model sees it; `state` is the library's own enum (plain data).
#[derive(Clone, Debug, PartialEq, Eq)]
struct MCase {
    id: u32,
    kind: CaseKind,
    /// Units per line, merged, in line order.
    lines: Vec<(u32, u32)>,
    state: CaseState,
    escalated: bool,
    return_waybill: Option<String>,
    return_tracking: Vec<MTrack>,
    refund: Option<u32>,
    replacement: Option<u32>,
    repair_waybill: Option<String>,
    follow_up_score: Option<u8>,
}

impl MCase {
    fn quantity_of(&self, line: u32) -> u32 {
        self.lines.iter().filter(|(l, _)| *l == line).map(|(_, q)| q).sum()
    }

    /// Units it holds: not once rejected or withdrawn; a warranty repair only while open; a
    /// complaint never.
    fn holds_units(&self) -> bool {
        match self.kind {
            CaseKind::Complaint => false,
            CaseKind::WarrantyRepair => !case_terminal(&self.state),
            CaseKind::RefundOnly | CaseKind::ReturnAndRefund | CaseKind::Exchange => {
                !matches!(self.state, CaseState::Rejected { .. } | CaseState::Withdrawn)
            }
        }
    }

    fn knows_return(&self, update: &TrackingUpdate) -> bool {
        let at = minutes_of(update.at);
        self.return_tracking.iter().any(|t| same_scan(t, update, at))
    }
}

fn case_terminal(state: &CaseState) -> bool {
    matches!(state, CaseState::Rejected { .. } | CaseState::Withdrawn | CaseState::Closed)
}

fn same_scan(t: &MTrack, update: &TrackingUpdate, at: i64) -> bool {
    if !t.event.is_empty() || !update.event_id.is_empty() {
        t.event == update.event_id
    } else {
        t.kind == update.kind && t.at == at
    }
}

impl MPackage {
    fn quantity_of(&self, line: u32) -> u32 {
        self.items.iter().filter(|(l, _)| *l == line).map(|(_, q)| q).sum()
    }

    fn knows(&self, update: &TrackingUpdate) -> bool {
        let at = minutes_of(update.at);
        self.tracking.iter().any(|t| same_scan(t, update, at))
    }
}

fn left_the_shop(state: PackageState) -> bool {
    !matches!(state, PackageState::Packed | PackageState::Booked)
}

fn final_state(state: PackageState) -> bool {
    matches!(state, PackageState::Delivered | PackageState::ReturnedToSender)
}

/// A package's state from its tracking in carrier-time order: a final state is kept.
fn fold_tracking(tracking: &[MTrack]) -> (PackageState, Option<i64>) {
    let mut state = PackageState::Shipped;
    let mut delivered_at = None;
    for t in tracking {
        if !final_state(state) {
            state = match t.kind {
                TrackingKind::PickedUp | TrackingKind::InTransit => PackageState::InTransit,
                TrackingKind::OutForDelivery => PackageState::OutForDelivery,
                TrackingKind::Delivered => PackageState::Delivered,
                TrackingKind::Exception => PackageState::Exception,
                TrackingKind::RefusedAtDoor => PackageState::RefusedAtDoor,
                TrackingKind::ReturnedToSender => PackageState::ReturnedToSender,
            };
        }
        if state == PackageState::Delivered && delivered_at.is_none() {
            delivered_at = Some(t.at);
        }
    }
    (state, delivered_at)
}

const PAY_BY: usize = 0;
const AUTO_CONFIRM: usize = 1;
const AFTER_SALES: usize = 2;
const FOLLOW_UP: usize = 3;
const DEADLINE_KINDS: [DeadlineKind; 4] =
    [DeadlineKind::PayBy, DeadlineKind::AutoConfirm, DeadlineKind::AfterSalesWindow, DeadlineKind::FollowUp];

/// The slot of an order deadline; case deadlines (SLA, follow-up) are kept per case instead.
fn slot(kind: DeadlineKind) -> Option<usize> {
    match kind {
        DeadlineKind::PayBy => Some(PAY_BY),
        DeadlineKind::AutoConfirm => Some(AUTO_CONFIRM),
        DeadlineKind::AfterSalesWindow => Some(AFTER_SALES),
        DeadlineKind::FollowUp => Some(FOLLOW_UP),
        DeadlineKind::CaseSla(_) | DeadlineKind::CaseFollowUp(_) => None,
    }
}

/// Known library bug, mirrored so the other properties keep running: the delivery of an
/// exchange's replacement parcel (not the order's goods) restarts the order's auto-confirm
/// clock. Set to `false` to assert the specified behaviour; the deterministic regression
/// `a_delivered_replacement_parcel_does_not_restart_auto_confirm` asserts it.
const LIBRARY_BUG_REPLACEMENT_RESTARTS_AUTO_CONFIRM: bool = false;

/// Known library bug, mirrored likewise: before receipt is confirmed, a delivered replacement
/// parcel counts as delivered units of the order (`Fulfillment::delivered_quantity` reads every
/// parcel), so cases can claim more units than the order's parcels delivered. Set to `false`
/// to assert the specified bound; `a_delivered_replacement_parcel_adds_no_claimable_units`
/// asserts it.
const LIBRARY_BUG_REPLACEMENT_COUNTS_AS_DELIVERED: bool = false;

/// What the model expects of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    /// Refused with `Error::Forbidden`.
    Forbidden,
    /// Refused with `Error::NotYourOrder`.
    NotYourOrder,
    /// Refused for another reason.
    Refused,
    /// Already applied: an empty decision.
    Noop,
    /// Accepted with at least one event.
    Accepted,
}

/// The reference model: the order as the specification sees it. Amounts are CNY minor units,
/// times are minutes after `t0`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Model {
    cod: bool,
    start: Start,
    now: i64,
    review: Review,
    cancelled: bool,
    completed: bool,
    completed_at: Option<i64>,
    captures: Vec<(String, i64)>,
    anomalies: Vec<String>,
    cod_collected: Option<i64>,
    refunds: Vec<MRefund>,
    picking_started: bool,
    packages: Vec<MPackage>,
    /// Pay-by, auto-confirm, after-sales window, follow-up.
    deadlines: [Option<i64>; 4],
    /// Deadlines of after-sales cases (SLA, follow-up), by kind.
    case_deadlines: BTreeMap<DeadlineKind, i64>,
    follow_ups: Vec<Option<u8>>,
    cases: Vec<MCase>,
}

impl Model {
    fn initial(cod: bool, start: Start) -> Model {
        Model {
            cod,
            start,
            now: 0,
            review: match start {
                Start::AutoApproved => Review::Approved,
                Start::ManualReview => Review::Pending,
                Start::HeldAtPlacement => Review::OnHold,
            },
            cancelled: false,
            completed: false,
            completed_at: None,
            captures: Vec::new(),
            anomalies: Vec::new(),
            cod_collected: None,
            refunds: Vec::new(),
            picking_started: false,
            packages: Vec::new(),
            deadlines: [(!cod).then_some(PAY_WITHIN), None, None, None],
            case_deadlines: BTreeMap::new(),
            follow_ups: Vec::new(),
            cases: Vec::new(),
        }
    }

    /// The model as read off a real order (fields the order does not hold come from `like`).
    fn observe(order: &Order, like: &Model) -> Model {
        Model {
            cod: order.payment.method.is_cod(),
            start: like.start,
            now: like.now,
            review: match &order.review {
                ReviewState::Pending => Review::Pending,
                ReviewState::OnHold { .. } => Review::OnHold,
                ReviewState::HoldResolved { .. } => Review::Resolved,
                ReviewState::Approved => Review::Approved,
                ReviewState::Rejected { .. } => Review::Rejected,
            },
            cancelled: order.cancellation.is_some(),
            completed: order.completion.is_some(),
            completed_at: order.completion.as_ref().map(|c| minutes_of(c.at)),
            captures: order.payment.captures.iter().map(|c| (c.txn_id.clone(), c.amount.minor)).collect(),
            anomalies: order.payment.anomalies.iter().map(|a| a.txn_id.clone()).collect(),
            cod_collected: order.payment.cod_collected.map(|m| m.minor),
            refunds: order
                .payment
                .refunds
                .iter()
                .map(|r| MRefund {
                    id: r.id.0,
                    amount: r.amount.minor,
                    lines: r.lines.iter().map(|l| (l.line.0, l.amount.minor)).collect(),
                    shipping: r.shipping.minor,
                    manual: matches!(r.method, RefundMethod::Manual { .. }),
                    state: match r.status {
                        RefundStatus::Pending => RefundState::Pending,
                        RefundStatus::Completed { .. } => RefundState::Completed,
                        RefundStatus::Failed { .. } => RefundState::Failed,
                    },
                    case: r.case.map(|c| c.0),
                })
                .collect(),
            picking_started: order.fulfillment.picking_started.is_some(),
            packages: order
                .fulfillment
                .packages
                .iter()
                .map(|p| MPackage {
                    id: p.id.0,
                    items: p.items.iter().map(|i| (i.line.0, i.quantity)).collect(),
                    state: p.state,
                    waybill: p.waybill.as_deref().map(str::to_owned),
                    tracking: p
                        .tracking
                        .iter()
                        .map(|t| MTrack { at: minutes_of(t.at), kind: t.kind, event: t.event_id.to_string() })
                        .collect(),
                    delivered_at: p.delivered_at.map(minutes_of),
                    case: p.case.map(|c| c.0),
                })
                .collect(),
            deadlines: DEADLINE_KINDS.map(|k| order.deadlines.get(k).map(minutes_of)),
            case_deadlines: order.deadlines.cases.iter().map(|(k, at)| (*k, minutes_of(*at))).collect(),
            follow_ups: order.follow_ups.iter().map(|f| f.score).collect(),
            cases: order
                .cases
                .iter()
                .map(|c| MCase {
                    id: c.id.0,
                    kind: c.request.kind,
                    lines: c.request.lines.iter().map(|l| (l.line.0, l.quantity)).collect(),
                    state: c.state.clone(),
                    escalated: c.escalated,
                    return_waybill: c.return_waybill.clone(),
                    return_tracking: c
                        .return_tracking
                        .iter()
                        .map(|t| MTrack { at: minutes_of(t.at), kind: t.kind, event: t.event_id.to_string() })
                        .collect(),
                    refund: c.refund.map(|r| r.0),
                    replacement: c.replacement.map(|p| p.0),
                    repair_waybill: c.repair_waybill.clone(),
                    follow_up_score: c.follow_up_score,
                })
                .collect(),
        }
    }

    fn captured(&self) -> i64 {
        self.captures.iter().map(|(_, a)| a).sum()
    }

    fn received(&self) -> i64 {
        self.captured() + self.cod_collected.unwrap_or(0)
    }

    fn refunded(&self) -> i64 {
        self.refunds.iter().filter(|r| r.counts()).map(|r| r.amount).sum()
    }

    fn refunded_line(&self, line: u32) -> i64 {
        self.refunds
            .iter()
            .filter(|r| r.counts())
            .flat_map(|r| &r.lines)
            .filter(|(l, _)| *l == line)
            .map(|(_, a)| a)
            .sum()
    }

    fn refunded_shipping(&self) -> i64 {
        self.refunds.iter().filter(|r| r.counts()).map(|r| r.shipping).sum()
    }

    fn outstanding(&self) -> i64 {
        cat().total - self.captured()
    }

    fn gate_open(&self) -> bool {
        self.cod || self.outstanding() <= 0
    }

    fn ready(&self) -> bool {
        self.review == Review::Approved && self.gate_open() && !self.cancelled
    }

    /// The order's own parcels: replacement parcels of exchanges are not the order's goods.
    fn order_packages(&self) -> impl Iterator<Item = &MPackage> {
        self.packages.iter().filter(|p| p.case.is_none())
    }

    fn packed(&self, line: u32) -> u32 {
        self.order_packages().map(|p| p.quantity_of(line)).sum()
    }

    fn shipped(&self, line: u32) -> u32 {
        self.order_packages().filter(|p| left_the_shop(p.state)).map(|p| p.quantity_of(line)).sum()
    }

    fn delivered(&self, line: u32) -> u32 {
        self.packages
            .iter()
            .filter(|p| p.case.is_none() || LIBRARY_BUG_REPLACEMENT_COUNTS_AS_DELIVERED)
            .filter(|p| p.state == PackageState::Delivered)
            .map(|p| p.quantity_of(line))
            .sum()
    }

    /// Units of `line` the buyer has received: delivered, or shipped once receipt is confirmed.
    fn received_units(&self, line: u32) -> u32 {
        if self.completed { self.shipped(line) } else { self.delivered(line) }
    }

    fn held_by_cases(&self, line: u32) -> u32 {
        self.cases.iter().filter(|c| c.holds_units()).map(|c| c.quantity_of(line)).sum()
    }

    fn any_received(&self) -> bool {
        cat().lines.iter().any(|l| self.received_units(l.id) > 0)
    }

    fn claimable(&self, line: u32) -> u32 {
        self.received_units(line).saturating_sub(self.held_by_cases(line))
    }

    fn case(&self, id: u32) -> Option<&MCase> {
        self.cases.iter().find(|c| c.id == id)
    }

    fn case_mut(&mut self, id: u32) -> Option<&mut MCase> {
        self.cases.iter_mut().find(|c| c.id == id)
    }

    /// Whether a case of `kind` may claim units of `line` now: the goods arrived, and the
    /// return window (7 days after receipt is confirmed) or the SKU's warranty (from delivery
    /// or confirmation) still runs.
    fn within_window(&self, kind: CaseKind, line: u32) -> bool {
        let delivered_at = self.order_packages().filter_map(|p| p.delivered_at).max();
        let Some(received) = self.completed_at.or(delivered_at) else {
            return false;
        };
        let sku = cat().line(line).map_or("", |l| l.sku.as_str());
        match kind {
            CaseKind::RefundOnly | CaseKind::ReturnAndRefund | CaseKind::Exchange => {
                self.completed_at.is_none_or(|at| self.now <= at + AFTER_SALES_WINDOW)
            }
            CaseKind::WarrantyRepair => sku == WARRANTY_SKU && self.now <= received + WARRANTY,
            CaseKind::Complaint => true,
        }
    }

    /// A case's refund: each line's share of its payable for the case's units, at most what
    /// is left of the line; the shipping fee's remainder when the whole order is then refunded.
    fn case_refund(&self, case: &MCase) -> (Vec<LineRefund>, Money) {
        let mut parts = Vec::new();
        let mut fully = BTreeMap::new();
        for (id, units) in &case.lines {
            let Some(line) = cat().line(*id) else { continue };
            let share = line.payable * i64::from(*units) / i64::from(line.quantity.max(1));
            let open = line.payable - self.refunded_line(*id);
            let amount = share.min(open).max(0);
            fully.insert(*id, amount == open);
            if amount > 0 {
                parts.push(LineRefund { line: LineId(*id), amount: cny(amount) });
            }
        }
        let everything =
            cat().lines.iter().all(|l| fully.get(&l.id).copied().unwrap_or(self.refunded_line(l.id) == l.payable));
        let shipping = if everything { (cat().shipping_fee - self.refunded_shipping()).max(0) } else { 0 };
        (parts, cny(shipping))
    }

    fn waybill_in_use(&self, waybill: &str) -> bool {
        self.packages.iter().any(|p| p.waybill.as_deref() == Some(waybill))
            || self.cases.iter().any(|c| c.return_waybill.as_deref() == Some(waybill))
    }

    fn remaining(&self, line: u32) -> u32 {
        cat().line(line).map_or(0, |l| l.quantity.saturating_sub(self.packed(line)))
    }

    fn all_shipped(&self) -> bool {
        cat().lines.iter().all(|l| self.shipped(l.id) >= l.quantity)
    }

    fn any_shipped(&self) -> bool {
        self.order_packages().any(|p| left_the_shop(p.state))
    }

    fn any_booked(&self) -> bool {
        self.order_packages().any(|p| p.state != PackageState::Packed)
    }

    fn package(&self, id: u32) -> Option<&MPackage> {
        self.packages.iter().find(|p| p.id == id)
    }

    fn package_by_waybill(&self, waybill: &str) -> Option<&MPackage> {
        self.packages.iter().find(|p| p.waybill.as_deref() == Some(waybill))
    }

    fn refund(&self, id: u32) -> Option<&MRefund> {
        self.refunds.iter().find(|r| r.id == id)
    }

    fn knows_txn(&self, txn: &str) -> bool {
        self.captures.iter().any(|(t, _)| t == txn) || self.anomalies.iter().any(|t| t == txn)
    }

    fn due(&self) -> Vec<DeadlineKind> {
        DEADLINE_KINDS
            .into_iter()
            .chain(self.case_deadlines.keys().copied())
            .filter(|k| self.deadline(*k).is_some_and(|at| at <= self.now))
            .collect()
    }

    fn deadline(&self, kind: DeadlineKind) -> Option<i64> {
        match slot(kind) {
            Some(i) => self.deadlines[i],
            None => self.case_deadlines.get(&kind).copied(),
        }
    }

    fn set_deadline(&mut self, kind: DeadlineKind, at: Option<i64>) {
        match (slot(kind), at) {
            (Some(i), _) => self.deadlines[i] = at,
            (None, Some(at)) => {
                self.case_deadlines.insert(kind, at);
            }
            (None, None) => {
                self.case_deadlines.remove(&kind);
            }
        }
    }

    /// The summary status, from the specification of each status.
    fn status(&self) -> OrderStatus {
        if self.cancelled {
            return if self.review == Review::Rejected { OrderStatus::Rejected } else { OrderStatus::Cancelled };
        }
        if self.completed {
            return OrderStatus::Completed;
        }
        if self.all_shipped() {
            if self.order_packages().all(|p| p.state == PackageState::ReturnedToSender) {
                return OrderStatus::ReturnedToSender;
            }
            if self.order_packages().filter(|p| left_the_shop(p.state)).all(|p| p.state == PackageState::Delivered) {
                return OrderStatus::Delivered;
            }
            return OrderStatus::Shipped;
        }
        if self.any_shipped() {
            return OrderStatus::PartiallyShipped;
        }
        if self.review == Review::OnHold {
            return OrderStatus::OnHold;
        }
        if !self.gate_open() {
            return OrderStatus::AwaitingPayment;
        }
        if self.review != Review::Approved {
            return OrderStatus::UnderReview;
        }
        if self.picking_started { OrderStatus::InFulfilment } else { OrderStatus::ReadyToShip }
    }

    fn already_applied(&self, action: &Action) -> bool {
        match action {
            Action::CapturePayment { txn_id, .. } | Action::RecordPaymentAnomaly { txn_id, .. } => {
                self.knows_txn(txn_id)
            }
            Action::RecordWaybill { package, waybill } => {
                self.package(package.0).is_some_and(|p| p.waybill.as_deref() == Some(waybill.trim()))
            }
            Action::RecordTracking { waybill, update } => {
                self.package_by_waybill(waybill.trim()).is_some_and(|p| p.knows(update))
                    || self
                        .cases
                        .iter()
                        .any(|c| c.return_waybill.as_deref() == Some(waybill.trim()) && c.knows_return(update))
            }
            Action::RecordReturnParcel { case, waybill } => {
                self.case(case.0).is_some_and(|c| c.return_waybill.as_deref() == Some(waybill.trim()))
            }
            Action::CompleteRefund { refund, .. } => {
                self.refund(refund.0).is_some_and(|r| r.state == RefundState::Completed)
            }
            Action::FailRefund { refund, .. } => self.refund(refund.0).is_some_and(|r| r.state == RefundState::Failed),
            Action::RecordCodCollected { amount } => {
                amount.currency == Currency::CNY && self.cod_collected == Some(amount.minor)
            }
            _ => false,
        }
    }

    /// Per-line refund amounts merged by line, or `None` when a part is unknown, negative or
    /// in another currency.
    fn merged_refund_lines(lines: &[LineRefund]) -> Option<BTreeMap<u32, i64>> {
        let mut merged = BTreeMap::new();
        for part in lines {
            cat().line(part.line.0)?;
            if part.amount.minor < 0 || part.amount.currency != Currency::CNY {
                return None;
            }
            *merged.entry(part.line.0).or_insert(0) += part.amount.minor;
        }
        Some(merged)
    }

    fn refund_ok(&self, lines: &[LineRefund], shipping: Money, reason: &str, manual: Option<&str>) -> bool {
        if !required(reason) {
            return false;
        }
        let method_ok = match (self.cod, manual.map(str::trim)) {
            (true, Some(reference)) => !reference.is_empty(),
            (true, None) | (false, Some(_)) => false,
            (false, None) => true,
        };
        let Some(merged) = Model::merged_refund_lines(lines) else {
            return false;
        };
        if !method_ok || shipping.currency != Currency::CNY || shipping.minor < 0 {
            return false;
        }
        let lines_ok = merged
            .iter()
            .all(|(id, amount)| *amount <= cat().line(*id).map_or(0, |l| l.payable) - self.refunded_line(*id));
        let total = shipping.minor + merged.values().sum::<i64>();
        lines_ok
            && shipping.minor <= cat().shipping_fee - self.refunded_shipping()
            && total > 0
            && total <= self.received() - self.refunded()
    }

    /// The parcel as verified against the scans, or `None` when they do not match.
    fn verified_parcel(&self, items: &[PackageItem], scanned: &[ScannedItem]) -> Option<Vec<(u32, u32)>> {
        let mut expected: BTreeMap<u32, u32> = BTreeMap::new();
        for item in items {
            cat().line(item.line.0)?;
            let sum = expected.entry(item.line.0).or_insert(0);
            *sum = sum.saturating_add(item.quantity);
        }
        if expected.iter().any(|(id, want)| *want > self.remaining(*id)) {
            return None;
        }
        Model::scans_match(expected, scanned)
    }

    /// The items when the scans match `expected` units per line exactly, else `None`.
    fn scans_match(mut expected: BTreeMap<u32, u32>, scanned: &[ScannedItem]) -> Option<Vec<(u32, u32)>> {
        expected.retain(|_, q| *q > 0);
        if expected.is_empty() {
            return None;
        }
        let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
        for scan in scanned {
            let line = cat()
                .lines
                .iter()
                .filter(|l| expected.contains_key(&l.id) && l.sku == scan.sku.trim())
                .find(|l| l.variant == scan.variant)?;
            if line.name != scan.product_name.trim() {
                return None;
            }
            let sum = seen.entry(line.id).or_insert(0);
            *sum = sum.saturating_add(scan.quantity);
        }
        let fits = expected.iter().all(|(id, want)| seen.get(id).copied().unwrap_or(0) == *want);
        fits.then(|| expected.into_iter().collect())
    }

    /// What happens to `action` by `who` now.
    fn verdict(&self, who: Who, action: &Action) -> Verdict {
        let kind = action.kind();
        if !who.may(kind) {
            return if who == Who::Mallory && owner_may(kind) { Verdict::NotYourOrder } else { Verdict::Forbidden };
        }
        if self.already_applied(action) {
            return Verdict::Noop;
        }
        let accepted = match action {
            // A due deadline is either acted on or, when the order has moved on, lapses.
            Action::FireDeadline { kind } => self.deadline(*kind).is_some_and(|at| at <= self.now),
            _ if !allows(kind, self.status()) => false,
            Action::Approve { .. } => matches!(self.review, Review::Pending | Review::Resolved),
            Action::Hold { reasons, .. } => !reasons.is_empty(),
            Action::ResolveHold { contact_note } => required(contact_note),
            Action::Reject { reason } | Action::Cancel { reason } => {
                required(reason) && !(kind == CommandKind::Cancel && self.any_booked())
            }
            Action::CapturePayment { txn_id, amount } => {
                required(txn_id)
                    && amount.minor > 0
                    && amount.currency == Currency::CNY
                    && !self.cod
                    && (self.cancelled || amount.minor <= self.outstanding())
            }
            Action::RecordPaymentAnomaly { txn_id, .. } => required(txn_id),
            // Not generated: the model holds unapplied payments and keeps no record of their
            // refunds (tested on its own in core_stages.rs).
            Action::RefundUnappliedPayment { .. } => false,
            Action::RequestRefund { lines, shipping, reason, manual_reference } => {
                self.refund_ok(lines, *shipping, reason, manual_reference.as_deref())
            }
            Action::CompleteRefund { refund, .. } => {
                self.refund(refund.0).is_some_and(|r| r.state != RefundState::Failed)
            }
            Action::FailRefund { refund, .. } => {
                self.refund(refund.0).is_some_and(|r| r.state != RefundState::Completed)
            }
            Action::IssuePickList => self.ready() && cat().lines.iter().any(|l| self.remaining(l.id) > 0),
            Action::Pack { items, scanned } => self.ready() && self.verified_parcel(items, scanned).is_some(),
            Action::BookShipment { package, carrier, .. } => {
                self.ready()
                    && required(carrier)
                    && self.package(package.0).is_some_and(|p| p.state == PackageState::Packed && self.may_ship(p))
            }
            Action::RecordWaybill { package, waybill } => {
                required(waybill)
                    && self.package(package.0).is_some_and(|p| p.state == PackageState::Booked && self.may_ship(p))
                    && self.package_by_waybill(waybill.trim()).is_none()
            }
            Action::RecordTracking { waybill, .. } => {
                self.package_by_waybill(waybill.trim()).is_some()
                    || self.cases.iter().any(|c| c.return_waybill.as_deref() == Some(waybill.trim()))
            }
            Action::RecordCodCollected { amount } => self.cod && *amount == cny(cat().total),
            Action::ConfirmReceipt => self.all_shipped(),
            Action::RecordFollowUp { score, .. } => (1..=5).contains(score),
            Action::OpenCase { request } => self.open_ok(request),
            Action::ApproveCase { case } => {
                self.case_in(*case, |c| c.state == CaseState::Requested && c.kind != CaseKind::Complaint)
            }
            Action::RejectCase { case, reason } => {
                required(reason)
                    && self.case_in(*case, |c| {
                        matches!(c.state, CaseState::Requested | CaseState::Inspected { passed: false, .. })
                    })
            }
            Action::WithdrawCase { case } => self.case_in(*case, |c| c.state == CaseState::Requested),
            Action::RecordReturnParcel { case, waybill } => {
                required(waybill)
                    && self.case_in(*case, |c| c.state == CaseState::AwaitingReturn)
                    && !self.waybill_in_use(waybill.trim())
            }
            Action::ReceiveReturn { case } => self.case_in(*case, |c| c.state == CaseState::AwaitingReturn),
            Action::InspectReturn { case, passed, note } => {
                (*passed || required(note)) && self.case_in(*case, |c| c.state == CaseState::Received)
            }
            Action::RefundCase { case, manual_reference } => self.case(case.0).is_some_and(|c| {
                let ready = match c.kind {
                    CaseKind::RefundOnly => c.state == CaseState::Approved,
                    CaseKind::ReturnAndRefund => matches!(c.state, CaseState::Inspected { passed: true, .. }),
                    CaseKind::Exchange | CaseKind::WarrantyRepair | CaseKind::Complaint => false,
                };
                let (lines, shipping) = self.case_refund(c);
                ready && self.refund_ok(&lines, shipping, "after-sales case", manual_reference.as_deref())
            }),
            Action::PackReplacement { case, scanned } => self.case(case.0).is_some_and(|c| {
                c.kind == CaseKind::Exchange
                    && c.replacement.is_none()
                    && matches!(c.state, CaseState::Inspected { passed: true, .. })
                    && Model::scans_match(c.lines.iter().copied().collect(), scanned).is_some()
            }),
            Action::RecordRepairReturned { case, waybill } => {
                required(waybill)
                    && self.case_in(*case, |c| {
                        c.kind == CaseKind::WarrantyRepair
                            && matches!(c.state, CaseState::Inspected { passed: true, .. })
                    })
            }
            Action::AssignCase { case, .. } => self.case_in(*case, |c| {
                c.kind == CaseKind::Complaint && matches!(c.state, CaseState::Requested | CaseState::InProgress { .. })
            }),
            Action::ResolveCase { case, resolution } => {
                required(resolution) && self.case_in(*case, |c| matches!(c.state, CaseState::InProgress { .. }))
            }
            Action::CloseCase { case } => self.case_in(*case, |c| {
                matches!(
                    c.state,
                    CaseState::Refunded
                        | CaseState::ReplacementShipped
                        | CaseState::RepairedAndReturned
                        | CaseState::Inspected { passed: false, .. }
                )
            }),
            Action::RecordCaseFollowUp { case, score, .. } => {
                (1..=5).contains(score)
                    && self.case_in(*case, |c| {
                        c.follow_up_score.is_none() && matches!(c.state, CaseState::Closed | CaseState::Resolved { .. })
                    })
            }
        };
        if accepted { Verdict::Accepted } else { Verdict::Refused }
    }

    fn case_in(&self, case: CaseId, allowed: impl Fn(&MCase) -> bool) -> bool {
        self.case(case.0).is_some_and(allowed)
    }

    /// An order parcel ships only until the order is delivered; a replacement parcel after.
    fn may_ship(&self, parcel: &MPackage) -> bool {
        parcel.case.is_some() || !matches!(self.status(), OrderStatus::Delivered | OrderStatus::Completed)
    }

    /// A new case: a reason code, bounded text and evidence, known lines with units; unless a
    /// complaint, at least one line, each within its window and its claimable units.
    fn open_ok(&self, request: &CaseRequest) -> bool {
        let text_ok = required(&request.reason_code)
            && request.text.chars().count() <= 2_000
            && request.evidence.len() <= 10
            && request.evidence.iter().all(|e| e.chars().count() <= 500);
        let Some(lines) = Model::case_lines(&request.lines) else {
            return false;
        };
        text_ok
            && (request.kind == CaseKind::Complaint
                || (!lines.is_empty()
                    && lines
                        .iter()
                        .all(|(id, units)| self.within_window(request.kind, *id) && *units <= self.claimable(*id))))
    }

    /// Units per line merged, or `None` for an unknown line or zero units.
    fn case_lines(lines: &[CaseLine]) -> Option<BTreeMap<u32, u32>> {
        let mut merged = BTreeMap::new();
        for part in lines {
            cat().line(part.line.0)?;
            if part.quantity == 0 {
                return None;
            }
            let sum = merged.entry(part.line.0).or_insert(0u32);
            *sum = sum.saturating_add(part.quantity);
        }
        Some(merged)
    }

    /// A case command answers the buyer: the answer SLA stops.
    fn answered(&mut self, case: u32) {
        self.case_deadlines.remove(&DeadlineKind::CaseSla(CaseId(case)));
    }

    fn next_refund_id(&self) -> u32 {
        self.refunds.iter().map(|r| r.id).max().unwrap_or(0) + 1
    }

    /// Cancellation or rejection: deadlines go, and an online order's money goes back,
    /// allocated to lines first, then shipping; any excess stays unallocated.
    fn wind_down(&mut self) {
        let refundable = self.received() - self.refunded();
        self.cancelled = true;
        self.deadlines = [None; 4];
        self.case_deadlines.clear();
        if self.cod || refundable <= 0 {
            return;
        }
        let mut left = refundable;
        let mut lines = Vec::new();
        for line in &cat().lines {
            let take = (line.payable - self.refunded_line(line.id)).min(left);
            if take > 0 {
                lines.push((line.id, take));
                left -= take;
            }
        }
        let shipping = (cat().shipping_fee - self.refunded_shipping()).min(left).max(0);
        let id = self.next_refund_id();
        self.refunds.push(MRefund {
            id,
            amount: refundable,
            lines,
            shipping,
            manual: false,
            state: RefundState::Pending,
            case: None,
        });
    }

    fn complete(&mut self) {
        self.completed = true;
        self.completed_at = Some(self.now);
        self.deadlines[AUTO_CONFIRM] = None;
        self.deadlines[AFTER_SALES] = Some(self.now + AFTER_SALES_WINDOW);
        self.deadlines[FOLLOW_UP] = Some(self.now + FOLLOW_UP_AFTER);
    }

    /// Applies an accepted command.
    fn apply(&mut self, action: &Action) {
        let status = self.status();
        match action {
            Action::Approve { .. } => self.review = Review::Approved,
            Action::Hold { .. } => self.review = Review::OnHold,
            Action::ResolveHold { .. } => self.review = Review::Resolved,
            Action::Reject { .. } => {
                self.review = Review::Rejected;
                self.wind_down();
            }
            Action::CapturePayment { txn_id, amount } => {
                self.captures.push((txn_id.clone(), amount.minor));
                if self.cancelled {
                    let id = self.next_refund_id();
                    self.refunds.push(MRefund {
                        id,
                        amount: amount.minor,
                        lines: Vec::new(),
                        shipping: 0,
                        manual: false,
                        state: RefundState::Pending,
                        case: None,
                    });
                } else if self.gate_open() {
                    self.deadlines[PAY_BY] = None;
                }
            }
            Action::RecordPaymentAnomaly { txn_id, .. } => self.anomalies.push(txn_id.clone()),
            Action::RefundUnappliedPayment { .. } => {}
            Action::RequestRefund { lines, shipping, .. } => {
                let merged = Model::merged_refund_lines(lines).unwrap_or_default();
                let id = self.next_refund_id();
                self.refunds.push(MRefund {
                    id,
                    amount: shipping.minor + merged.values().sum::<i64>(),
                    lines: merged.into_iter().collect(),
                    shipping: shipping.minor,
                    manual: self.cod,
                    state: if self.cod { RefundState::Completed } else { RefundState::Pending },
                    case: None,
                });
            }
            Action::CompleteRefund { refund, .. } | Action::FailRefund { refund, .. } => {
                let state = if matches!(action, Action::CompleteRefund { .. }) {
                    RefundState::Completed
                } else {
                    RefundState::Failed
                };
                if let Some(r) = self.refunds.iter_mut().find(|r| r.id == refund.0) {
                    r.state = state;
                }
            }
            Action::IssuePickList => self.picking_started = true,
            Action::Pack { items, scanned } => {
                let items = self.verified_parcel(items, scanned).unwrap_or_default();
                let id = self.packages.iter().map(|p| p.id).max().unwrap_or(0) + 1;
                self.packages.push(MPackage {
                    id,
                    items,
                    state: PackageState::Packed,
                    waybill: None,
                    tracking: Vec::new(),
                    delivered_at: None,
                    case: None,
                });
            }
            Action::BookShipment { package, .. } => {
                if let Some(p) = self.packages.iter_mut().find(|p| p.id == package.0) {
                    p.state = PackageState::Booked;
                }
            }
            Action::RecordWaybill { package, waybill } => {
                let last_to_ship = self.package(package.0).is_some_and(|parcel| {
                    parcel.case.is_none()
                        && cat().lines.iter().all(|l| self.shipped(l.id) + parcel.quantity_of(l.id) >= l.quantity)
                });
                let mut replacement_for = None;
                if let Some(p) = self.packages.iter_mut().find(|p| p.id == package.0) {
                    p.state = PackageState::Shipped;
                    p.waybill = Some(waybill.trim().to_owned());
                    replacement_for = p.case;
                }
                // The replacement of an exchange has shipped.
                if let Some(c) = replacement_for.and_then(|c| self.case_mut(c)) {
                    c.state = CaseState::ReplacementShipped;
                }
                if last_to_ship {
                    self.deadlines[AUTO_CONFIRM] = Some(self.now + AUTO_CONFIRM_AFTER_SHIPPING);
                }
            }
            Action::RecordTracking { waybill, update } => self.track(waybill.trim(), update),
            Action::RecordCodCollected { amount } => self.cod_collected = Some(amount.minor),
            Action::ConfirmReceipt => self.complete(),
            Action::Cancel { .. } => self.wind_down(),
            Action::FireDeadline { kind } => {
                if !allows(action.kind(), status) {
                    self.set_deadline(*kind, None);
                    return;
                }
                match kind {
                    DeadlineKind::PayBy => self.wind_down(),
                    DeadlineKind::AutoConfirm => self.complete(),
                    DeadlineKind::AfterSalesWindow => self.deadlines[AFTER_SALES] = None,
                    DeadlineKind::FollowUp => {
                        self.deadlines[FOLLOW_UP] = None;
                        self.follow_ups.push(None);
                    }
                    DeadlineKind::CaseSla(case) => {
                        self.case_deadlines.remove(kind);
                        if let Some(c) = self.case_mut(case.0).filter(|c| c.state == CaseState::Requested) {
                            c.escalated = true;
                        }
                    }
                    DeadlineKind::CaseFollowUp(_) => {
                        self.case_deadlines.remove(kind);
                    }
                }
            }
            Action::RecordFollowUp { score, .. } => match self.follow_ups.iter_mut().rev().find(|f| f.is_none()) {
                Some(open) => *open = Some(*score),
                None => self.follow_ups.push(Some(*score)),
            },
            Action::OpenCase { request } => {
                let id = self.cases.iter().map(|c| c.id).max().unwrap_or(0) + 1;
                let lines = Model::case_lines(&request.lines).unwrap_or_default();
                self.cases.push(MCase {
                    id,
                    kind: request.kind,
                    lines: lines.into_iter().collect(),
                    state: CaseState::Requested,
                    escalated: false,
                    return_waybill: None,
                    return_tracking: Vec::new(),
                    refund: None,
                    replacement: None,
                    repair_waybill: None,
                    follow_up_score: None,
                });
                self.case_deadlines.insert(DeadlineKind::CaseSla(CaseId(id)), self.now + CASE_ANSWER_WITHIN);
            }
            Action::RefundCase { case, .. } => {
                let Some(c) = self.case(case.0) else { return };
                let (lines, shipping) = self.case_refund(c);
                let id = self.next_refund_id();
                self.refunds.push(MRefund {
                    id,
                    amount: shipping.minor + lines.iter().map(|l| l.amount.minor).sum::<i64>(),
                    lines: lines.iter().map(|l| (l.line.0, l.amount.minor)).collect(),
                    shipping: shipping.minor,
                    manual: self.cod,
                    state: if self.cod { RefundState::Completed } else { RefundState::Pending },
                    case: Some(case.0),
                });
                if let Some(c) = self.case_mut(case.0) {
                    c.state = CaseState::Refunded;
                    c.refund = Some(id);
                }
            }
            Action::PackReplacement { case, .. } => {
                let package = self.packages.iter().map(|p| p.id).max().unwrap_or(0) + 1;
                let Some(c) = self.case_mut(case.0) else { return };
                c.replacement = Some(package);
                let items = c.lines.clone();
                self.packages.push(MPackage {
                    id: package,
                    items,
                    state: PackageState::Packed,
                    waybill: None,
                    tracking: Vec::new(),
                    delivered_at: None,
                    case: Some(case.0),
                });
                self.answered(case.0);
            }
            Action::ApproveCase { case }
            | Action::RejectCase { case, .. }
            | Action::WithdrawCase { case }
            | Action::RecordReturnParcel { case, .. }
            | Action::ReceiveReturn { case }
            | Action::InspectReturn { case, .. }
            | Action::RecordRepairReturned { case, .. }
            | Action::AssignCase { case, .. }
            | Action::ResolveCase { case, .. }
            | Action::CloseCase { case }
            | Action::RecordCaseFollowUp { case, .. } => {
                self.answered(case.0);
                let now = self.now;
                let follow_up = DeadlineKind::CaseFollowUp(*case);
                let mut follow_up_at = None;
                let Some(c) = self.case_mut(case.0) else { return };
                match action {
                    Action::ApproveCase { .. } => {
                        c.state = if matches!(c.kind, CaseKind::RefundOnly | CaseKind::Complaint) {
                            CaseState::Approved
                        } else {
                            CaseState::AwaitingReturn
                        };
                    }
                    Action::RejectCase { reason, .. } => c.state = CaseState::Rejected { reason: reason.trim().into() },
                    Action::WithdrawCase { .. } => c.state = CaseState::Withdrawn,
                    Action::RecordReturnParcel { waybill, .. } => c.return_waybill = Some(waybill.trim().into()),
                    Action::ReceiveReturn { .. } => c.state = CaseState::Received,
                    Action::InspectReturn { passed, note, .. } => {
                        c.state = CaseState::Inspected { passed: *passed, note: note.trim().into() };
                    }
                    Action::RecordRepairReturned { waybill, .. } => {
                        c.state = CaseState::RepairedAndReturned;
                        c.repair_waybill = Some(waybill.trim().into());
                    }
                    Action::AssignCase { assignee, .. } => {
                        c.state = CaseState::InProgress { assignee: assignee.clone() }
                    }
                    Action::ResolveCase { resolution, .. } => {
                        c.state = CaseState::Resolved { resolution: resolution.trim().into() };
                        follow_up_at = Some(Some(now + FOLLOW_UP_AFTER));
                    }
                    Action::CloseCase { .. } => {
                        c.state = CaseState::Closed;
                        follow_up_at = Some(Some(now + FOLLOW_UP_AFTER));
                    }
                    Action::RecordCaseFollowUp { score, .. } => {
                        c.follow_up_score = Some(*score);
                        // A complaint closes after its follow-up.
                        if matches!(c.state, CaseState::Resolved { .. }) {
                            c.state = CaseState::Closed;
                        }
                        follow_up_at = Some(None);
                    }
                    _ => {}
                }
                if let Some(at) = follow_up_at {
                    self.set_deadline(follow_up, at);
                }
            }
        }
    }

    /// A tracking update: kept in carrier-time order (a late update goes before later ones);
    /// a parcel already delivered or returned keeps that state (a late, older scan only joins
    /// its history); delivery of the last parcel starts the auto-confirm clock, a parcel
    /// refused at the door or returned stops it.
    fn track(&mut self, waybill: &str, update: &TrackingUpdate) {
        let Some(index) = self.packages.iter().position(|p| p.waybill.as_deref() == Some(waybill)) else {
            // The buyer's return parcel of a case: its scans are kept in carrier-time order.
            let at = minutes_of(update.at);
            let Some(c) = self.cases.iter_mut().find(|c| c.return_waybill.as_deref() == Some(waybill)) else {
                return;
            };
            let position = c.return_tracking.partition_point(|t| t.at <= at);
            c.return_tracking.insert(position, MTrack { at, kind: update.kind, event: update.event_id.to_string() });
            let id = c.id;
            self.answered(id);
            return;
        };
        let before = self.packages[index].state;
        let mut parcel = self.packages[index].clone();
        let at = minutes_of(update.at);
        let position = parcel.tracking.partition_point(|t| t.at <= at);
        parcel.tracking.insert(position, MTrack { at, kind: update.kind, event: update.event_id.to_string() });
        let (state, delivered_at) =
            if final_state(before) { (before, parcel.delivered_at) } else { fold_tracking(&parcel.tracking) };
        parcel.state = state;
        parcel.delivered_at = delivered_at;
        // A replacement parcel is not the order's goods: the order's deadlines stay (but see
        // `LIBRARY_BUG_REPLACEMENT_RESTARTS_AUTO_CONFIRM`).
        let counts = parcel.case.is_none() || LIBRARY_BUG_REPLACEMENT_RESTARTS_AUTO_CONFIRM;
        if !self.completed && !self.cancelled && counts {
            let id = parcel.id;
            let others_delivered = self
                .order_packages()
                .filter(|p| p.id != id && left_the_shop(p.state))
                .all(|p| p.state == PackageState::Delivered);
            let all_shipped = self.all_shipped();
            if state == PackageState::Delivered && before != PackageState::Delivered && others_delivered && all_shipped
            {
                let base = delivered_at.unwrap_or(self.now).max(self.now);
                self.deadlines[AUTO_CONFIRM] = Some(base + AUTO_CONFIRM_AFTER_DELIVERY);
            }
            let refused = |s: PackageState| matches!(s, PackageState::RefusedAtDoor | PackageState::ReturnedToSender);
            if refused(state) && !refused(before) && parcel.case.is_none() {
                self.deadlines[AUTO_CONFIRM] = None;
            }
        }
        self.packages[index] = parcel;
    }
}

// ---------------------------------------------------------------------------------------------
// Generating steps from the reference state
// ---------------------------------------------------------------------------------------------

const TXNS: [&str; 4] = ["T1", "T2", "T3", "T4"];
const WAYBILLS: [&str; 3] = ["SF100", "SF200", "SF300"];
const EVENT_IDS: [&str; 6] = ["ev1", "ev2", "ev3", "ev4", "ev5", ""];

#[derive(Clone, Debug)]
enum Step {
    /// The clock moves on.
    Advance { minutes: i64 },
    /// Someone issues a command.
    Do { who: Who, action: Action },
}

fn by(default: Who) -> BoxedStrategy<Who> {
    prop_oneof![6 => Just(default), 1 => proptest::sample::select(EVERYONE.to_vec())].boxed()
}

fn step(who: BoxedStrategy<Who>, action: impl Strategy<Value = Action> + 'static) -> BoxedStrategy<Step> {
    (who, action).prop_map(|(who, action)| Step::Do { who, action }).boxed()
}

fn just(who: Who, action: Action) -> BoxedStrategy<Step> {
    Just(Step::Do { who, action }).boxed()
}

fn text(valid: &'static str) -> BoxedStrategy<String> {
    prop_oneof![10 => Just(valid.to_owned()), 1 => Just(String::new()), 1 => Just("   ".to_owned())].boxed()
}

fn advance() -> BoxedStrategy<Step> {
    prop_oneof![
        3 => 1..60i64,
        3 => HOUR..2 * DAY,
        2 => DAY..25 * DAY,
    ]
    .prop_map(|minutes| Step::Advance { minutes })
    .boxed()
}

fn pick_one<T: Clone + std::fmt::Debug + 'static>(options: Vec<T>) -> BoxedStrategy<T> {
    proptest::sample::select(options).boxed()
}

fn scan_of(line: &CatLine, quantity: u32) -> ScannedItem {
    ScannedItem { sku: line.sku.clone(), product_name: line.name.clone(), variant: line.variant.clone(), quantity }
}

fn item(line: u32, quantity: u32) -> PackageItem {
    PackageItem { line: LineId(line), quantity }
}

/// Everything left to pack, with the right scans.
fn pack_everything(s: &Model) -> (Vec<PackageItem>, Vec<ScannedItem>) {
    let mut items = Vec::new();
    let mut scans = Vec::new();
    for line in &cat().lines {
        let left = s.remaining(line.id);
        if left > 0 {
            items.push(item(line.id, left));
            scans.push(scan_of(line, left));
        }
    }
    (items, scans)
}

fn fresh_txn(s: &Model) -> String {
    TXNS.iter()
        .find(|t| !s.knows_txn(t))
        .map_or_else(|| format!("T{}", 10 + s.captures.len() + s.anomalies.len()), |t| (*t).to_owned())
}

fn fresh_waybill(s: &Model, package: u32) -> String {
    WAYBILLS
        .iter()
        .find(|w| s.package_by_waybill(w).is_none())
        .map_or_else(|| format!("SF9{package}"), |w| (*w).to_owned())
}

fn update(kind: TrackingKind, at: i64, event_id: String) -> TrackingUpdate {
    TrackingUpdate {
        kind,
        at: instant(at),
        event_id: event_id.into(),
        location: "Hangzhou hub".into(),
        description: kind.describe().into(),
    }
}

/// The next step of a sensible run, so sequences reach shipping, delivery and completion.
fn happy(s: &Model) -> BoxedStrategy<Step> {
    let status = s.status();
    if status.is_terminal() {
        if let Some(kind) = s.due().first() {
            return just(Who::System, Action::FireDeadline { kind: *kind });
        }
        if s.follow_ups.iter().any(Option::is_none) {
            return just(Who::CustomerService, Action::RecordFollowUp { score: 4, notes: "happy".into() });
        }
        return (DAY..4 * DAY).prop_map(|minutes| Step::Advance { minutes }).boxed();
    }
    match s.review {
        Review::Pending | Review::Resolved => return just(Who::Reviewer, Action::Approve { note: "ok".into() }),
        Review::OnHold => {
            return just(Who::CustomerService, Action::ResolveHold { contact_note: "called the buyer".into() });
        }
        Review::Approved | Review::Rejected => {}
    }
    if !s.gate_open() {
        let amount = cny(s.outstanding());
        let pay = just(Who::Provider, Action::CapturePayment { txn_id: fresh_txn(s), amount });
        // Sometimes the buyer does not pay in time.
        if s.due().contains(&DeadlineKind::PayBy) {
            return prop_oneof![3 => pay, 1 => just(Who::System, Action::FireDeadline { kind: DeadlineKind::PayBy })]
                .boxed();
        }
        return prop_oneof![6 => pay, 1 => (31..120i64).prop_map(|minutes| Step::Advance { minutes })].boxed();
    }
    if !s.picking_started {
        return just(Who::Warehouse, Action::IssuePickList);
    }
    if let Some(p) = s.packages.iter().find(|p| p.state == PackageState::Packed) {
        let action = Action::BookShipment {
            package: PackageId(p.id),
            carrier: "sf-express".into(),
            service: "standard".into(),
            reason: "cheapest".into(),
        };
        return just(Who::Warehouse, action);
    }
    if let Some(p) = s.packages.iter().find(|p| p.state == PackageState::Booked) {
        return just(Who::Carrier, Action::RecordWaybill { package: PackageId(p.id), waybill: fresh_waybill(s, p.id) });
    }
    if cat().lines.iter().any(|l| s.remaining(l.id) > 0) {
        let (items, scanned) = pack_everything(s);
        let everything = just(Who::Warehouse, Action::Pack { items: items.clone(), scanned: scanned.clone() });
        let first = items[0];
        let line = cat().line(first.line.0).map(|l| scan_of(l, 1));
        let one = just(
            Who::Warehouse,
            Action::Pack { items: vec![item(first.line.0, 1)], scanned: line.into_iter().collect() },
        );
        return prop_oneof![3 => everything, 1 => one].boxed();
    }
    if s.cod && s.cod_collected.is_none() && s.any_shipped() {
        return just(Who::Carrier, Action::RecordCodCollected { amount: cny(cat().total) });
    }
    if let Some(p) = s.packages.iter().find(|p| left_the_shop(p.state) && !final_state(p.state)) {
        let waybill = p.waybill.clone().unwrap_or_default();
        let id = p.id;
        let now = s.now;
        let count = p.tracking.len();
        return (
            prop_oneof![6 => Just(TrackingKind::Delivered), 2 => Just(TrackingKind::InTransit),
                1 => Just(TrackingKind::RefusedAtDoor), 1 => Just(TrackingKind::ReturnedToSender)],
            0..120i64,
        )
            .prop_map(move |(kind, ago)| Step::Do {
                who: Who::Carrier,
                action: Action::RecordTracking {
                    waybill: waybill.clone(),
                    update: update(kind, now - ago, format!("p{id}-{count}")),
                },
            })
            .boxed();
    }
    if matches!(status, OrderStatus::Shipped | OrderStatus::Delivered) {
        if s.due().contains(&DeadlineKind::AutoConfirm) {
            return just(Who::System, Action::FireDeadline { kind: DeadlineKind::AutoConfirm });
        }
        return prop_oneof![
            3 => Just(Step::Do { who: Who::Owner, action: Action::ConfirmReceipt }),
            1 => Just(Step::Advance { minutes: 21 * DAY }),
        ]
        .boxed();
    }
    advance()
}

fn review_step() -> BoxedStrategy<Step> {
    let reasons = pick_one(vec![
        vec![HoldReason::NeedsBuyerContact],
        vec![HoldReason::AddressProblem, HoldReason::SuspectedFraud],
        vec![HoldReason::InsufficientStock],
        vec![HoldReason::Custom { text: "odd note".into() }],
        vec![],
    ]);
    prop_oneof![
        3 => step(by(Who::Reviewer), text("looks fine").prop_map(|note| Action::Approve { note })),
        2 => step(by(Who::CustomerService), (reasons, text("check")).prop_map(|(reasons, note)| Action::Hold { reasons, note })),
        2 => step(by(Who::CustomerService), text("called the buyer").prop_map(|contact_note| Action::ResolveHold { contact_note })),
        1 => step(by(Who::Reviewer), text("fraud").prop_map(|reason| Action::Reject { reason })),
    ]
    .boxed()
}

fn capture_step(s: &Model) -> BoxedStrategy<Step> {
    let outstanding = s.outstanding();
    let total = cat().total;
    let amount = pick_one(vec![
        cny(outstanding),
        cny(outstanding),
        cny(outstanding / 2),
        cny(outstanding + 1),
        cny(0),
        cny(total),
        Money::new(outstanding, Currency::USD),
    ]);
    let txn = pick_one(TXNS.iter().map(|t| (*t).to_owned()).collect());
    prop_oneof![
        4 => step(by(Who::Provider), (txn.clone(), amount.clone()).prop_map(|(txn_id, amount)| Action::CapturePayment { txn_id, amount })),
        1 => step(by(Who::System), (txn, amount).prop_map(|(txn_id, amount)| Action::RecordPaymentAnomaly {
            txn_id, amount, reason: "currency mismatch".into(),
        })),
    ]
    .boxed()
}

fn refund_step(s: &Model) -> BoxedStrategy<Step> {
    let parts: Vec<BoxedStrategy<Option<LineRefund>>> = cat()
        .lines
        .iter()
        .map(|l| {
            let open = l.payable - s.refunded_line(l.id);
            let line = LineId(l.id);
            let part = move |amount: Money| Some(LineRefund { line, amount });
            prop_oneof![
                4 => Just(None),
                3 => Just(part(cny(open))),
                2 => Just(part(cny(open / 2))),
                1 => Just(part(cny(open + 1))),
                1 => Just(part(cny(l.payable))),
                1 => Just(part(cny(1))),
                1 => Just(part(Money::new(100, Currency::USD))),
            ]
            .boxed()
        })
        .collect();
    let fee_open = cat().shipping_fee - s.refunded_shipping();
    let shipping = pick_one(vec![cny(0), cny(0), cny(fee_open), cny(fee_open + 1), cny(cat().shipping_fee / 2)]);
    let manual = if s.cod {
        prop_oneof![4 => Just(Some("BANK-1".to_owned())), 1 => Just(None), 1 => Just(Some("  ".to_owned()))].boxed()
    } else {
        prop_oneof![5 => Just(None), 1 => Just(Some("BANK-1".to_owned()))].boxed()
    };
    let unknown_line = prop_oneof![9 => Just(None), 1 => Just(Some(LineRefund { line: LineId(9), amount: cny(1) }))];
    step(
        by(Who::CustomerService),
        (parts, unknown_line, shipping, text("damaged"), manual).prop_map(
            |(parts, unknown, shipping, reason, manual_reference)| Action::RequestRefund {
                lines: parts.into_iter().chain([unknown]).flatten().collect(),
                shipping,
                reason,
                manual_reference,
            },
        ),
    )
}

fn refund_outcome_step(s: &Model) -> BoxedStrategy<Step> {
    let mut ids: Vec<u32> = vec![1, 2, 3];
    for _ in 0..3 {
        ids.extend(s.refunds.iter().map(|r| r.id));
    }
    let id = pick_one(ids).prop_map(RefundId);
    prop_oneof![
        2 => step(by(Who::Provider), id.clone().prop_map(|refund| Action::CompleteRefund { refund, reference: "RF-1".into() })),
        1 => step(by(Who::System), id.prop_map(|refund| Action::FailRefund { refund, reason: "card closed".into() })),
    ]
    .boxed()
}

fn pack_step(s: &Model) -> BoxedStrategy<Step> {
    let (items, scanned) = pack_everything(s);
    let mut options: Vec<(Vec<PackageItem>, Vec<ScannedItem>)> = Vec::new();
    if !items.is_empty() {
        options.push((items.clone(), scanned.clone()));
        options.push((items.clone(), scanned.clone()));
        // A wrong variant on the first scan.
        let mut wrong_variant = scanned.clone();
        wrong_variant[0].variant =
            Variant::from([("colour".to_owned(), "blue".to_owned()), ("grade".to_owned(), "basic".to_owned())]);
        options.push((items.clone(), wrong_variant));
        // One unit too many scanned, and one too few.
        let mut too_many = scanned.clone();
        too_many[0].quantity += 1;
        options.push((items.clone(), too_many));
        let mut too_few = scanned.clone();
        too_few[0].quantity -= 1;
        options.push((items.clone(), too_few));
        // The wrong product name on the label.
        let mut wrong_name = scanned.clone();
        wrong_name[0].product_name = "Green tea 250g".into();
        options.push((items, wrong_name));
    }
    // Split shipments: part of one line (possibly more than is left), scanned correctly.
    for line in &cat().lines {
        for quantity in [1, line.quantity] {
            options.push((vec![item(line.id, quantity)], vec![scan_of(line, quantity)]));
        }
    }
    // Nothing at all.
    options.push((Vec::new(), Vec::new()));
    step(by(Who::Warehouse), pick_one(options).prop_map(|(items, scanned)| Action::Pack { items, scanned }))
}

fn package_ids(s: &Model) -> Vec<u32> {
    let mut ids: Vec<u32> = vec![1, 2, 3];
    ids.extend(s.packages.iter().map(|p| p.id));
    ids
}

fn shipping_step(s: &Model) -> BoxedStrategy<Step> {
    let mut booked: Vec<u32> = s.packages.iter().filter(|p| p.state == PackageState::Booked).map(|p| p.id).collect();
    booked.extend(package_ids(s));
    let booked = pick_one(booked);
    let mut packed: Vec<u32> = s.packages.iter().filter(|p| p.state == PackageState::Packed).map(|p| p.id).collect();
    packed.extend(package_ids(s));
    let packed = pick_one(packed);
    let waybill = pick_one(WAYBILLS.iter().map(|w| (*w).to_owned()).chain([" SF100 ".to_owned()]).collect());
    let carrier = pick_one(vec!["sf-express".to_owned(), "sf-express".to_owned(), " ".to_owned()]);
    prop_oneof![
        2 => step(by(Who::Warehouse), Just(Action::IssuePickList)),
        3 => step(by(Who::Warehouse), (packed, carrier).prop_map(|(p, carrier)| Action::BookShipment {
            package: PackageId(p), carrier, service: "express".into(), reason: "fastest".into(),
        })),
        3 => step(by(Who::Carrier), (booked, waybill).prop_map(|(p, waybill)| Action::RecordWaybill {
            package: PackageId(p), waybill,
        })),
    ]
    .boxed()
}

fn tracking_step(s: &Model) -> BoxedStrategy<Step> {
    let mut waybills: Vec<String> = s.packages.iter().filter_map(|p| p.waybill.clone()).collect();
    waybills.extend(waybills.clone());
    waybills.extend(WAYBILLS.iter().map(|w| (*w).to_owned()));
    waybills.extend(s.cases.iter().filter_map(|c| c.return_waybill.clone()));
    let kind = prop_oneof![
        3 => Just(TrackingKind::Delivered),
        2 => Just(TrackingKind::ReturnedToSender),
        2 => Just(TrackingKind::RefusedAtDoor),
        2 => Just(TrackingKind::InTransit),
        1 => Just(TrackingKind::PickedUp),
        1 => Just(TrackingKind::OutForDelivery),
        1 => Just(TrackingKind::Exception),
    ];
    let now = s.now;
    let event = pick_one(EVENT_IDS.iter().map(|e| (*e).to_owned()).collect());
    step(
        by(Who::Carrier),
        (pick_one(waybills), kind, -3 * DAY..DAY, event).prop_map(move |(waybill, kind, jitter, event_id)| {
            Action::RecordTracking { waybill, update: update(kind, now + jitter, event_id) }
        }),
    )
}

fn ending_step(s: &Model) -> BoxedStrategy<Step> {
    let total = cat().total;
    let mut kinds: Vec<DeadlineKind> = DEADLINE_KINDS.to_vec();
    kinds.extend([DeadlineKind::CaseSla(CaseId(1)), DeadlineKind::CaseFollowUp(CaseId(1))]);
    kinds.extend(s.due());
    kinds.extend(s.due());
    prop_oneof![
        2 => step(by(Who::Carrier), pick_one(vec![cny(total), cny(total), cny(total - 1)]).prop_map(|amount| Action::RecordCodCollected { amount })),
        2 => step(by(Who::Owner), Just(Action::ConfirmReceipt)),
        2 => step(pick_one(vec![Who::Owner, Who::CustomerService, Who::Mallory, Who::Warehouse]),
            text("changed my mind").prop_map(|reason| Action::Cancel { reason })),
        3 => step(by(Who::System), pick_one(kinds).prop_map(|kind| Action::FireDeadline { kind })),
        1 => step(by(Who::CustomerService), (0..=6u8).prop_map(|score| Action::RecordFollowUp { score, notes: "visited".into() })),
    ]
    .boxed()
}

const CASE_KINDS: [CaseKind; 5] = [
    CaseKind::RefundOnly,
    CaseKind::ReturnAndRefund,
    CaseKind::Exchange,
    CaseKind::WarrantyRepair,
    CaseKind::Complaint,
];
const RETURN_WAYBILLS: [&str; 3] = ["RT100", "RT200", "SF100"];

fn request(kind: CaseKind, lines: Vec<(u32, u32)>, reason_code: String) -> CaseRequest {
    CaseRequest {
        kind,
        lines: lines.into_iter().map(|(line, quantity)| CaseLine { line: LineId(line), quantity }).collect(),
        reason_code,
        text: "it arrived broken".into(),
        evidence: vec!["photo-1.jpg".into()],
    }
}

/// Lines and units around what the buyer received and what cases already hold.
fn case_units(s: &Model) -> BoxedStrategy<Vec<(u32, u32)>> {
    let mut options: Vec<Vec<(u32, u32)>> = Vec::new();
    for line in &cat().lines {
        let claimable = s.claimable(line.id);
        let received = s.received_units(line.id);
        for units in [1, claimable, claimable, claimable + 1, received, line.quantity] {
            if units > 0 {
                options.push(vec![(line.id, units)]);
            }
        }
    }
    let all: Vec<(u32, u32)> =
        cat().lines.iter().map(|l| (l.id, s.claimable(l.id))).filter(|(_, units)| *units > 0).collect();
    if !all.is_empty() {
        options.push(all.clone());
        options.push(all);
    }
    options.push(Vec::new());
    options.push(vec![(9, 1)]);
    options.push(vec![(cat().lines[0].id, 0)]);
    // The same line twice: merged.
    options.push(vec![(cat().lines[0].id, 1), (cat().lines[0].id, 1)]);
    pick_one(options)
}

fn case_ids(s: &Model) -> BoxedStrategy<CaseId> {
    let mut ids: Vec<u32> = vec![1, 2, 3];
    for _ in 0..3 {
        ids.extend(s.cases.iter().filter(|c| !case_terminal(&c.state)).map(|c| c.id));
    }
    pick_one(ids).prop_map(CaseId).boxed()
}

fn replacement_scans(s: &Model, case: u32) -> Vec<Vec<ScannedItem>> {
    let lines = s.case(case).map(|c| c.lines.clone()).unwrap_or_default();
    let right: Vec<ScannedItem> =
        lines.iter().filter_map(|(id, units)| cat().line(*id).map(|l| scan_of(l, *units))).collect();
    let mut options = vec![right.clone(), right.clone(), Vec::new()];
    if let Some(first) = right.first() {
        let mut too_many = right.clone();
        too_many[0].quantity += 1;
        options.push(too_many);
        let mut wrong = right.clone();
        wrong[0].variant = Variant::from([("colour".to_owned(), "blue".to_owned())]);
        options.push(wrong);
        let mut other = right.clone();
        other[0] = ScannedItem { sku: "NOT-OURS".into(), ..first.clone() };
        options.push(other);
    }
    options
}

/// After-sales commands of every kind, by the usual actors and sometimes by anyone.
fn case_step(s: &Model) -> BoxedStrategy<Step> {
    let ids = case_ids(s);
    let kind = pick_one(CASE_KINDS.to_vec());
    let who = pick_one(vec![Who::Owner, Who::Owner, Who::Owner, Who::CustomerService, Who::Mallory, Who::Warehouse]);
    let open = (who, kind, case_units(s), text("damaged")).prop_map(|(who, kind, lines, reason)| Step::Do {
        who,
        action: Action::OpenCase { request: request(kind, lines, reason) },
    });
    let mut scans: Vec<(u32, Vec<ScannedItem>)> = Vec::new();
    for c in &s.cases {
        for scanned in replacement_scans(s, c.id) {
            scans.push((c.id, scanned));
        }
    }
    scans.push((1, Vec::new()));
    let manual = pick_one(vec![None, None, Some("BANK-2".to_owned()), Some(" ".to_owned())]);
    let waybill = pick_one(RETURN_WAYBILLS.iter().map(|w| (*w).to_owned()).chain([" RT100 ".to_owned()]).collect());
    prop_oneof![
        4 => open,
        3 => step(by(Who::CustomerService), ids.clone().prop_map(|case| Action::ApproveCase { case })),
        1 => step(by(Who::CustomerService), (ids.clone(), text("not covered")).prop_map(|(case, reason)| Action::RejectCase { case, reason })),
        1 => step(by(Who::Owner), ids.clone().prop_map(|case| Action::WithdrawCase { case })),
        2 => step(by(Who::Owner), (ids.clone(), waybill.clone()).prop_map(|(case, waybill)| Action::RecordReturnParcel { case, waybill })),
        2 => step(by(Who::Warehouse), ids.clone().prop_map(|case| Action::ReceiveReturn { case })),
        2 => step(by(Who::Warehouse), (ids.clone(), any::<bool>(), text("scratched")).prop_map(|(case, passed, note)| Action::InspectReturn { case, passed, note })),
        2 => step(by(Who::CustomerService), (ids.clone(), manual).prop_map(|(case, manual_reference)| Action::RefundCase { case, manual_reference })),
        2 => step(by(Who::Warehouse), pick_one(scans).prop_map(|(case, scanned)| Action::PackReplacement { case: CaseId(case), scanned })),
        1 => step(by(Who::Warehouse), (ids.clone(), waybill).prop_map(|(case, waybill)| Action::RecordRepairReturned { case, waybill })),
        1 => step(by(Who::CustomerService), ids.clone().prop_map(|case| Action::AssignCase { case, assignee: StaffId::new("carol").expect("valid id") })),
        1 => step(by(Who::CustomerService), (ids.clone(), text("apologised")).prop_map(|(case, resolution)| Action::ResolveCase { case, resolution })),
        2 => step(by(Who::CustomerService), ids.clone().prop_map(|case| Action::CloseCase { case })),
        1 => step(by(Who::CustomerService), (ids, 0..=6u8).prop_map(|(case, score)| Action::RecordCaseFollowUp { case, score, notes: "fine".into() })),
    ]
    .boxed()
}

/// The next step of the first open case, so cases run to their end; or a new case.
fn case_happy(s: &Model) -> BoxedStrategy<Step> {
    let due: Vec<DeadlineKind> = s.due().into_iter().filter(|k| slot(*k).is_none()).collect();
    if let Some(kind) = due.first() {
        return just(Who::System, Action::FireDeadline { kind: *kind });
    }
    if let Some(p) = s.packages.iter().find(|p| p.case.is_some() && p.state == PackageState::Packed) {
        let action = Action::BookShipment {
            package: PackageId(p.id),
            carrier: "sf-express".into(),
            service: "standard".into(),
            reason: "replacement".into(),
        };
        return just(Who::Warehouse, action);
    }
    if let Some(p) = s.packages.iter().find(|p| p.case.is_some() && p.state == PackageState::Booked) {
        return just(Who::Carrier, Action::RecordWaybill { package: PackageId(p.id), waybill: fresh_waybill(s, p.id) });
    }
    let open = s.cases.iter().find(|c| !case_terminal(&c.state) || c.follow_up_score.is_none());
    let Some(c) = open else {
        return case_step(s);
    };
    let case = CaseId(c.id);
    let cs = Who::CustomerService;
    let action = match (&c.state, c.kind) {
        (CaseState::Requested, CaseKind::Complaint) => {
            Action::AssignCase { case, assignee: StaffId::new("carol").expect("valid id") }
        }
        (CaseState::Requested, _) => {
            return prop_oneof![
                6 => just(cs, Action::ApproveCase { case }),
                1 => just(cs, Action::RejectCase { case, reason: "outside policy".into() }),
                1 => just(Who::Owner, Action::WithdrawCase { case }),
                1 => Just(Step::Advance { minutes: 2 * DAY }),
            ]
            .boxed();
        }
        (CaseState::AwaitingReturn, _) if c.return_waybill.is_none() => {
            let waybill = RETURN_WAYBILLS.iter().find(|w| !s.waybill_in_use(w)).copied().unwrap_or("RT900");
            return just(Who::Owner, Action::RecordReturnParcel { case, waybill: waybill.into() });
        }
        (CaseState::AwaitingReturn, _) => {
            let waybill = c.return_waybill.clone().unwrap_or_default();
            let now = s.now;
            return prop_oneof![
                3 => just(Who::Warehouse, Action::ReceiveReturn { case }),
                1 => just(Who::Carrier, Action::RecordTracking {
                    waybill,
                    update: update(TrackingKind::InTransit, now, format!("rt{}", c.id)),
                }),
            ]
            .boxed();
        }
        (CaseState::Received, _) => {
            return prop_oneof![
                4 => just(Who::Warehouse, Action::InspectReturn { case, passed: true, note: String::new() }),
                1 => just(Who::Warehouse, Action::InspectReturn { case, passed: false, note: "used".into() }),
            ]
            .boxed();
        }
        (CaseState::Approved, _) | (CaseState::Inspected { passed: true, .. }, CaseKind::ReturnAndRefund) => {
            let manual_reference = s.cod.then(|| "BANK-7".to_owned());
            Action::RefundCase { case, manual_reference }
        }
        (CaseState::Inspected { passed: true, .. }, CaseKind::Exchange) => {
            let mut options = replacement_scans(s, c.id);
            options.truncate(3);
            return step(
                Just(Who::Warehouse).boxed(),
                pick_one(options).prop_map(move |scanned| Action::PackReplacement { case, scanned }),
            );
        }
        (CaseState::Inspected { passed: true, .. }, _) => {
            Action::RecordRepairReturned { case, waybill: "SF777".into() }
        }
        (CaseState::InProgress { .. }, _) => Action::ResolveCase { case, resolution: "apologised".into() },
        (CaseState::Closed | CaseState::Resolved { .. }, _) => {
            Action::RecordCaseFollowUp { case, score: 5, notes: "happy".into() }
        }
        (CaseState::Rejected { .. } | CaseState::Withdrawn, _) => return case_step(s),
        _ => Action::CloseCase { case },
    };
    just(if matches!(action, Action::RecordRepairReturned { .. }) { Who::Warehouse } else { cs }, action)
}

/// The reference state machine: the model, and the steps it makes likely.
struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        let start = prop_oneof![
            2 => Just(Start::AutoApproved),
            1 => Just(Start::ManualReview),
            1 => Just(Start::HeldAtPlacement),
        ];
        (any::<bool>(), start).prop_map(|(cod, start)| Model::initial(cod, start)).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Step> {
        Union::new_weighted(vec![
            // Towards delivery a little faster, so after-sales cases get their share of steps.
            (if state.cases.is_empty() && !state.any_received() { 22 } else { 14 }, happy(state)),
            (5, advance()),
            (
                if matches!(
                    state.status(),
                    OrderStatus::AwaitingPayment | OrderStatus::UnderReview | OrderStatus::OnHold
                ) {
                    5
                } else {
                    1
                },
                review_step(),
            ),
            (if state.gate_open() && !state.cancelled { 1 } else { 5 }, capture_step(state)),
            (4, refund_step(state)),
            (
                if state.refunds.iter().any(|r| r.state == RefundState::Pending) { 5 } else { 1 },
                refund_outcome_step(state),
            ),
            (4, pack_step(state)),
            (4, shipping_step(state)),
            (5, tracking_step(state)),
            (4, ending_step(state)),
            (if state.cases.is_empty() && !state.any_received() { 1 } else { 12 }, case_step(state)),
            (if state.any_received() || !state.cases.is_empty() { 45 } else { 1 }, case_happy(state)),
        ])
        .boxed()
    }

    fn apply(mut state: Model, step: &Step) -> Model {
        match step {
            Step::Advance { minutes } => state.now += minutes,
            Step::Do { who, action } => {
                if state.verdict(*who, action) == Verdict::Accepted {
                    state.apply(action);
                }
            }
        }
        state
    }
}

// ---------------------------------------------------------------------------------------------
// The system under test and the properties
// ---------------------------------------------------------------------------------------------

/// 1. Money conservation.
const MONEY: u32 = 1;
/// 2. Nothing ships unless approved and (paid or cash on delivery).
const SHIP_GATES: u32 = 1 << 1;
/// 3. No unit packed or shipped twice.
const QUANTITIES: u32 = 1 << 2;
/// 4. Terminal statuses never change.
const TERMINAL: u32 = 1 << 3;
/// 5. Replaying the history gives the live order.
const REPLAY: u32 = 1 << 4;
/// 6. Refusals change nothing; acceptances follow the transition table.
const REFUSALS: u32 = 1 << 5;
/// 7. Authorization errors.
const AUTH: u32 = 1 << 6;
/// The model's predictions of outcomes and states.
const MODEL: u32 = 1 << 7;
/// After-sales: cases hold at most the units received, terminal cases stay, case refunds
/// stay within each line's payable minus other refunds.
const CASES: u32 = 1 << 8;

/// The real workflow and order, with the full history.
struct Sut {
    workflow: Workflow,
    order: Order,
    history: Vec<Event>,
    now: DateTime<Utc>,
    /// The model, kept in step with the order (checked against it in the model test).
    model: Model,
    /// The first terminal status reached.
    terminal: Option<OrderStatus>,
    /// Packages whose shipping was seen and checked against the two gates.
    shipped_checked: BTreeSet<u32>,
    /// Cases seen in a terminal state, with that state.
    closed_cases: BTreeMap<u32, CaseState>,
}

/// The state machine test; `CHECKS` selects the properties asserted.
struct Machine<const CHECKS: u32>;

impl<const CHECKS: u32> Machine<CHECKS> {
    fn checks(property: u32) -> bool {
        CHECKS & property != 0
    }
}

fn describe(who: Who, action: &Action) -> String {
    format!("{who:?} {action:?}")
}

impl Sut {
    fn run<const CHECKS: u32>(&mut self, who: Who, action: Action) {
        let kind = action.kind();
        let before = self.order.clone();
        let status_before = before.status();
        let history_before = self.history.len();
        let expected = self.model.verdict(who, &action);
        let what = describe(who, &action);
        let result = self.workflow.decide(&self.order, &Command::new(who.actor(), action.clone()), &Ctx::at(self.now));

        if Machine::<CHECKS>::checks(AUTH) {
            check_authorization(who, kind, &result, &what);
        }
        if Machine::<CHECKS>::checks(MODEL) {
            let outcome = match &result {
                Err(Error::Forbidden { .. }) => Verdict::Forbidden,
                Err(Error::NotYourOrder) => Verdict::NotYourOrder,
                Err(_) => Verdict::Refused,
                Ok(d) if d.is_empty() => Verdict::Noop,
                Ok(_) => Verdict::Accepted,
            };
            assert_eq!(
                outcome, expected,
                "{what} in status {status_before}: the model expected {expected:?}, the workflow answered {result:?}"
            );
        }

        match result {
            Err(error) => {
                if Machine::<CHECKS>::checks(REFUSALS) {
                    assert_eq!(self.order, before, "refused command {what} ({error}) changed the order");
                    assert_eq!(self.history.len(), history_before, "refused command {what} appended events");
                }
            }
            Ok(decision) => {
                if decision.events.is_empty() {
                    assert!(decision.effects.is_empty(), "{what}: effects without events: {:?}", decision.effects);
                }
                let mut working = self.order.clone();
                for event in &decision.events {
                    if let Change::RefundRequested { refund } = &event.change
                        && refund.case.is_some()
                        && Machine::<CHECKS>::checks(CASES)
                    {
                        check_case_refund(&working, refund, &what);
                    }
                    if let Change::PackageShipped { package, .. } = &event.change {
                        if Machine::<CHECKS>::checks(SHIP_GATES) {
                            check_ship_gates(&working, &self.history, *package, &what);
                        }
                        self.shipped_checked.insert(package.0);
                    }
                    evolve(&mut working, event);
                    self.history.push(event.clone());
                }
                self.order = working;
                let status_after = self.order.status();
                if Machine::<CHECKS>::checks(REFUSALS) {
                    if decision.events.is_empty() {
                        assert_eq!(self.order, before, "already-applied command {what} changed the order");
                    }
                    assert!(
                        leads_to(kind, status_before, status_after),
                        "{what} moved the order from {status_before} to {status_after}, which the transition \
                         table does not allow for {kind}"
                    );
                }
            }
        }

        if Machine::<CHECKS>::checks(CASES) {
            for case in &self.order.cases {
                if let Some(closed) = self.closed_cases.get(&case.id.0) {
                    assert_eq!(&case.state, closed, "{what} changed case {} out of its terminal state", case.id);
                }
                if case.state.is_terminal() {
                    self.closed_cases.entry(case.id.0).or_insert_with(|| case.state.clone());
                }
            }
        }
        let status_after = self.order.status();
        if Machine::<CHECKS>::checks(TERMINAL)
            && let Some(terminal) = self.terminal
        {
            assert_eq!(status_after, terminal, "{what} changed the terminal status {terminal} to {status_after}");
        }
        if self.terminal.is_none() && status_after.is_terminal() {
            self.terminal = Some(status_after);
        }

        let observed = Model::observe(&self.order, &self.model);
        if Machine::<CHECKS>::checks(MODEL) {
            let mut predicted = self.model.clone();
            if expected == Verdict::Accepted {
                predicted.apply(&action);
            }
            assert_model_matches(&predicted, &observed, &what);
            assert_eq!(predicted.status(), status_after, "{what}: the model's status differs from the order's");
        }
        self.model = observed;
    }
}

fn check_authorization(who: Who, kind: CommandKind, result: &Result<orderflow::Decision, Error>, what: &str) {
    let permitted = who.may(kind);
    match result {
        Err(Error::NotYourOrder) => {
            assert!(!permitted, "{what}: NotYourOrder for an actor the permission table allows");
            assert_eq!(who, Who::Mallory, "{what}: NotYourOrder for someone other than another buyer");
        }
        Err(Error::Forbidden { actor, command, .. }) => {
            assert!(!permitted, "{what}: Forbidden for an actor the permission table allows");
            assert_eq!(*actor, who.kind(), "{what}: Forbidden names the wrong actor");
            assert_eq!(*command, kind, "{what}: Forbidden names the wrong command");
            assert!(
                !(who == Who::Mallory && owner_may(kind)),
                "{what}: another buyer must be told NotYourOrder, not Forbidden"
            );
        }
        _ if !permitted => {
            panic!("{what}: an actor outside the permission rule got {result:?} instead of Forbidden/NotYourOrder")
        }
        _ => {}
    }
}

/// Before a package ships: the review approved it (and the history says so) and the money
/// is in (fully captured) or the order is cash on delivery.
fn check_ship_gates(order: &Order, history: &[Event], package: PackageId, what: &str) {
    let replacement = order.fulfillment.packages.iter().find(|p| p.id == package).and_then(|p| p.case);
    if let Some(case) = replacement {
        let status = order.status();
        assert!(
            matches!(status, OrderStatus::Delivered | OrderStatus::Completed),
            "{what}: replacement parcel {package} shipped while the order is {status}"
        );
        let c = order.case(case).expect("the replacement's case exists");
        assert!(
            c.request.kind == CaseKind::Exchange && matches!(c.state, CaseState::Inspected { passed: true, .. }),
            "{what}: replacement parcel {package} shipped for case {case} in state {}",
            c.state.name()
        );
    }
    let approved_in_history = history.iter().any(|e| matches!(e.change, Change::ReviewApproved { .. }));
    assert!(approved_in_history, "{what}: package {package} shipped without a review_approved event before it");
    assert!(order.review.is_approved(), "{what}: package {package} shipped while the review is {:?}", order.review);
    assert!(order.cancellation.is_none(), "{what}: package {package} shipped on a cancelled order");
    let captured: i64 = order.payment.captures.iter().map(|c| c.amount.minor).sum();
    assert!(
        order.payment.method.is_cod() || captured >= order.totals.total.minor,
        "{what}: package {package} shipped with {captured} of {} captured",
        order.totals.total.minor
    );
}

/// A case refund pays each line at most its payable minus the refunds that count already.
fn check_case_refund(order: &Order, refund: &orderflow::order::Refund, what: &str) {
    for part in &refund.lines {
        let line = order.line(part.line).expect("a case refunds the order's lines");
        let others = order.payment.refunded_for_line(part.line).expect("money adds up");
        assert!(
            part.amount.minor <= line.payable.minor - others.minor,
            "{what}: case refund {} pays line {} {}, more than its payable {} minus other refunds {}",
            refund.id,
            part.line,
            part.amount.minor,
            line.payable.minor,
            others.minor
        );
    }
}

/// Units held by cases (not rejected or withdrawn; warranty repairs while open) never exceed
/// the units delivered by the order's own parcels (shipped once receipt is confirmed).
fn check_cases(sut: &Sut) {
    let order = &sut.order;
    for line in order.lines.iter() {
        let received: u32 = if order.completion.is_some() {
            order.fulfillment.shipped_quantity(line.id)
        } else {
            order
                .fulfillment
                .packages
                .iter()
                .filter(|p| p.case.is_none() || LIBRARY_BUG_REPLACEMENT_COUNTS_AS_DELIVERED)
                .filter(|p| p.state == PackageState::Delivered)
                .map(|p| p.quantity_of(line.id))
                .sum()
        };
        let held: u32 = order.cases.iter().filter(|c| c.holds_units()).map(|c| c.quantity_of(line.id)).sum();
        assert!(held <= received, "line {}: cases hold {held} unit(s), only {received} received", line.id);
    }
    for p in order.fulfillment.packages.iter().filter(|p| p.case.is_some()) {
        let case = p.case.and_then(|c| order.case(c)).expect("a replacement parcel belongs to a case");
        assert_eq!(
            case.request.kind,
            CaseKind::Exchange,
            "replacement parcel {} for a {} case",
            p.id,
            case.request.kind
        );
        for item in &p.items {
            assert_eq!(item.quantity, case.quantity_of(item.line), "replacement parcel {} differs from its case", p.id);
        }
    }
}

fn assert_model_matches(predicted: &Model, observed: &Model, what: &str) {
    macro_rules! same {
        ($($field:ident),*) => {
            $(assert_eq!(
                predicted.$field, observed.$field,
                "after {}: the model's {} (left) differs from the order's (right)", what, stringify!($field)
            );)*
        };
    }
    same!(
        cod,
        review,
        cancelled,
        completed,
        captures,
        anomalies,
        cod_collected,
        refunds,
        picking_started,
        packages,
        deadlines,
        case_deadlines,
        follow_ups,
        completed_at,
        cases
    );
}

fn check_money(sut: &Sut) {
    let order = &sut.order;
    let payment = &order.payment;
    let currency = order.currency;
    let all_amounts = payment
        .captures
        .iter()
        .map(|c| c.amount)
        .chain(payment.cod_collected)
        .chain(payment.refunds.iter().flat_map(|r| r.lines.iter().map(|l| l.amount).chain([r.amount, r.shipping])));
    for amount in all_amounts {
        assert_eq!(amount.currency, currency, "an amount in the ledger is not in the order's currency");
        assert!(amount.minor >= 0, "a negative amount in the ledger: {amount:?}");
    }
    let captured: i64 = payment.captures.iter().map(|c| c.amount.minor).sum();
    let received = captured + payment.cod_collected.map_or(0, |m| m.minor);
    let counting: Vec<_> = payment.refunds.iter().filter(|r| r.counts()).collect();
    let refunded: i64 = counting.iter().map(|r| r.amount.minor).sum();
    assert!(refunded <= received, "refunds that count ({refunded}) exceed money received ({received})");
    for line in order.lines.iter() {
        let for_line: i64 =
            counting.iter().flat_map(|r| &r.lines).filter(|l| l.line == line.id).map(|l| l.amount.minor).sum();
        assert!(
            for_line <= line.payable.minor,
            "line {} refunded {for_line}, more than its payable {}",
            line.id,
            line.payable.minor
        );
    }
    let shipping: i64 = counting.iter().map(|r| r.shipping.minor).sum();
    assert!(
        shipping <= order.totals.shipping_fee.minor,
        "shipping refunded {shipping}, more than the fee {}",
        order.totals.shipping_fee.minor
    );
    for r in &payment.refunds {
        let parts: i64 = r.lines.iter().map(|l| l.amount.minor).sum::<i64>() + r.shipping.minor;
        assert!(parts <= r.amount.minor, "refund {} allocates {parts}, more than its amount {}", r.id, r.amount.minor);
    }
    // Captures while the order is live stay within the total; each capture on a cancelled or
    // rejected order is refunded in full at once.
    let mut cancelled = false;
    let mut live_captures = 0;
    for (i, event) in sut.history.iter().enumerate() {
        match &event.change {
            Change::OrderCancelled { .. } | Change::ReviewRejected { .. } => cancelled = true,
            Change::PaymentCaptured { amount, txn_id } if cancelled => {
                let refunded_at_once = sut.history.get(i + 1).is_some_and(
                    |next| matches!(&next.change, Change::RefundRequested { refund } if refund.amount == *amount),
                );
                assert!(refunded_at_once, "capture {txn_id} of {amount:?} on a cancelled order is not refunded");
            }
            Change::PaymentCaptured { amount, .. } => live_captures += amount.minor,
            _ => {}
        }
    }
    assert!(
        live_captures <= order.totals.total.minor,
        "captured {live_captures} on a live order, more than its total {}",
        order.totals.total.minor
    );
}

fn check_quantities(sut: &Sut) {
    let order = &sut.order;
    let mut packed_in_history: BTreeMap<LineId, u32> = BTreeMap::new();
    for event in &sut.history {
        if let Change::PackagePacked { items, .. } = &event.change {
            for i in items {
                *packed_in_history.entry(i.line).or_insert(0) += i.quantity;
            }
        }
    }
    for line in order.lines.iter() {
        let packed = order.fulfillment.packed_quantity(line.id);
        let shipped = order.fulfillment.shipped_quantity(line.id);
        let in_history = packed_in_history.get(&line.id).copied().unwrap_or(0);
        assert!(packed <= line.quantity, "line {} packed {packed} of {} units", line.id, line.quantity);
        assert!(in_history <= line.quantity, "line {} packed {in_history} of {} units", line.id, line.quantity);
        assert!(shipped <= packed, "line {} shipped {shipped} but packed {packed}", line.id);
    }
    let ids: BTreeSet<_> = order.fulfillment.packages.iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), order.fulfillment.packages.len(), "two packages share an id");
    for p in &order.fulfillment.packages {
        assert!(p.items.iter().all(|i| i.quantity > 0), "package {} holds an empty item", p.id);
    }
}

fn check_shipped_packages_were_checked(sut: &Sut) {
    for p in &sut.order.fulfillment.packages {
        if p.state.has_shipped() {
            assert!(sut.shipped_checked.contains(&p.id.0), "package {} is {:?} but never shipped", p.id, p.state);
        }
    }
}

fn check_replay(sut: &Sut) {
    for (i, event) in sut.history.iter().enumerate() {
        assert_eq!(event.seq, i as u64 + 1, "event seqs must run 1..=n");
    }
    assert_eq!(sut.order.version, sut.history.len() as u64, "the order's version is not its event count");
    let replayed = Order::from_events(&sut.history).expect("the history replays");
    assert_eq!(replayed, sut.order, "replaying the history does not give the live order");
}

impl<const CHECKS: u32> StateMachineTest for Machine<CHECKS> {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(model: &Model) -> Sut {
        let (workflow, history) = place(model.start, model.cod);
        let order = Order::from_events(&history).expect("placement replays");
        let observed = Model::observe(&order, model);
        if Self::checks(MODEL) {
            assert_model_matches(model, &observed, "placement");
            assert_eq!(model.status(), order.status(), "the model's status after placement differs");
        }
        Sut {
            workflow,
            order,
            history,
            now: t0(),
            model: observed,
            terminal: None,
            shipped_checked: BTreeSet::new(),
            closed_cases: BTreeMap::new(),
        }
    }

    fn apply(mut sut: Sut, _reference: &Model, step: Step) -> Sut {
        match step {
            Step::Advance { minutes } => {
                sut.now += TimeDelta::minutes(minutes);
                sut.model.now += minutes;
            }
            Step::Do { who, action } => sut.run::<CHECKS>(who, action),
        }
        sut
    }

    fn check_invariants(sut: &Sut, _reference: &Model) {
        if Self::checks(MONEY) {
            check_money(sut);
        }
        if Self::checks(SHIP_GATES) {
            check_shipped_packages_were_checked(sut);
        }
        if Self::checks(QUANTITIES) {
            check_quantities(sut);
        }
        if Self::checks(REPLAY) {
            check_replay(sut);
        }
        if Self::checks(CASES) {
            check_cases(sut);
        }
    }
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_shrink_iters: 1_024,
        // Only tests/model.rs is ours: no regression files next to it.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const CASES_PER_PROPERTY: u32 = 1_500;

prop_state_machine! {
    #![proptest_config(config(CASES_PER_PROPERTY))]

    /// Refunds that count never exceed what was received (per order, per line, shipping);
    /// live captures never exceed the total; a capture on a cancelled order is refunded.
    #[test]
    fn money_is_conserved_after_every_step(sequential 1..=60 => Machine<MONEY>);

    /// A package ships only when the review approved the order and it is paid (or COD).
    #[test]
    fn nothing_ships_unless_approved_and_paid_or_cod(sequential 1..=60 => Machine<SHIP_GATES>);

    /// Packed (and shipped) units never exceed the ordered units of a line.
    #[test]
    fn no_unit_is_packed_or_shipped_twice(sequential 1..=60 => Machine<QUANTITIES>);

    /// Once completed, cancelled, rejected or returned to sender, the status stays.
    #[test]
    fn terminal_statuses_never_change(sequential 1..=60 => Machine<TERMINAL>);

    /// `Order::from_events(history)` equals the live order; seqs run 1..=n.
    #[test]
    fn replaying_the_event_log_reproduces_the_live_order(sequential 1..=60 => Machine<REPLAY>);

    /// A refused (or already applied) command leaves the order as it was; an accepted one
    /// moves it only along the transition table.
    #[test]
    fn refusals_change_nothing_and_acceptances_follow_the_transition_table(sequential 1..=60 => Machine<REFUSALS>);

    /// Anyone outside a command's permission rule is refused with Forbidden, another buyer
    /// with NotYourOrder.
    #[test]
    fn unauthorized_actors_are_refused_with_forbidden_or_not_your_order(sequential 1..=60 => Machine<AUTH>);

    /// The reference model predicts every outcome (forbidden, refused, already applied,
    /// accepted) and the order's state afterwards.
    #[test]
    fn the_reference_model_predicts_every_outcome_and_state(sequential 1..=60 => Machine<MODEL>);

    /// After-sales: units held by cases never exceed the units received per line; a case in a
    /// terminal state stays; a case refund pays a line at most its payable minus other refunds.
    #[test]
    fn cases_hold_at_most_what_was_received_and_terminal_cases_stay(sequential 1..=60 => Machine<CASES>);
}

// ---------------------------------------------------------------------------------------------
// The restated tables, and deterministic regressions
// ---------------------------------------------------------------------------------------------

fn every_command() -> Vec<CommandKind> {
    orderflow::transitions::PERMISSIONS.iter().map(|(kind, _)| *kind).collect()
}

#[test]
fn the_models_permission_table_matches_the_librarys() {
    let alice = orderflow::CustomerId::new("alice").expect("valid id");
    for kind in every_command() {
        for who in EVERYONE {
            let library = orderflow::transitions::permission(kind).permits(&who.actor(), &alice);
            assert_eq!(who.may(kind), library, "{who:?} {kind}");
        }
    }
}

#[test]
fn the_models_transition_table_matches_the_librarys() {
    for kind in every_command() {
        for status in OrderStatus::ALL {
            assert_eq!(allows(kind, status), orderflow::transitions::allows(kind, status), "{kind} from {status}");
        }
    }
}

/// Alice's online order, paid, packed in one parcel and shipped under waybill SF100 at `t0`.
fn shipped_in_one_parcel() -> Scenario {
    let mut s = Scenario::placed(sample_form("alice"));
    let total = s.order().totals.total;
    s.when(provider(), Action::CapturePayment { txn_id: "T1".into(), amount: total }).expect("paid");
    s.when(warehouse(), Action::IssuePickList).expect("picking");
    let (items, scanned) = pack_everything(&Model::initial(false, Start::AutoApproved));
    s.when(warehouse(), Action::Pack { items, scanned }).expect("packed");
    let book = Action::BookShipment {
        package: PackageId(1),
        carrier: "sf-express".into(),
        service: "standard".into(),
        reason: "cheapest".into(),
    };
    s.when(warehouse(), book).expect("booked");
    s.when(carrier("sf-express"), Action::RecordWaybill { package: PackageId(1), waybill: "SF100".into() })
        .expect("shipped");
    assert_eq!(s.order().status(), OrderStatus::Shipped);
    s
}

/// A carrier scan of SF100 that happened `at` minutes after `t0`.
fn scan(s: &mut Scenario, kind: TrackingKind, at: i64, event_id: &str) -> Result<orderflow::Decision, Error> {
    let update = update(kind, at, event_id.into());
    s.when(carrier("sf-express"), Action::RecordTracking { waybill: "SF100".into(), update })
}

fn restocks(s: &Scenario) -> usize {
    s.effects().iter().filter(|e| matches!(e, orderflow::Effect::Restock { .. })).count()
}

/// Found by `terminal_statuses_never_change`: the parcel came back (terminal
/// `returned_to_sender`), then the carrier's earlier "delivered" scan arrives late. Tracking is
/// re-sorted by carrier time, the fold meets "delivered" first, and the order becomes
/// `delivered` again — and, being delivered, gets an auto-confirm deadline, so the system
/// would later complete an order whose goods are back in the shop.
#[test]
fn a_late_delivered_scan_does_not_reopen_an_order_returned_to_sender() {
    let mut s = shipped_in_one_parcel();
    s.advance(TimeDelta::days(3));
    scan(&mut s, TrackingKind::ReturnedToSender, 2 * DAY, "ev-back").expect("recorded");
    assert_eq!(s.order().status(), OrderStatus::ReturnedToSender);
    assert_eq!(s.order().deadlines.auto_confirm_at, None);

    let late = scan(&mut s, TrackingKind::Delivered, DAY, "ev-delivered");
    let order = s.order();
    assert_eq!(order.status(), OrderStatus::ReturnedToSender, "terminal status changed by {late:?}");
    assert_eq!(order.fulfillment.packages[0].state, PackageState::ReturnedToSender);
    assert_eq!(order.deadlines.auto_confirm_at, None, "a returned order must not be confirmed for the buyer");
}

/// Found by `refusals_change_nothing_and_acceptances_follow_the_transition_table`: the parcel
/// was delivered (a final package state), then an older "returned to sender" scan arrives
/// late. The order moves `delivered → returned_to_sender`, which the transition table does not
/// allow for `record_tracking`, and the workflow asks to restock goods the buyer has.
#[test]
fn a_late_returned_scan_does_not_undo_a_delivery() {
    let mut s = shipped_in_one_parcel();
    s.advance(TimeDelta::days(3));
    scan(&mut s, TrackingKind::Delivered, 2 * DAY, "ev-delivered").expect("recorded");
    assert_eq!(s.order().status(), OrderStatus::Delivered);
    let restocked_before = restocks(&s);

    let late = scan(&mut s, TrackingKind::ReturnedToSender, DAY, "ev-back");
    let order = s.order();
    assert!(
        leads_to(CommandKind::RecordTracking, OrderStatus::Delivered, order.status()),
        "record_tracking moved the order from delivered to {} ({late:?})",
        order.status()
    );
    assert_eq!(order.fulfillment.packages[0].state, PackageState::Delivered, "a delivered parcel changed");
    assert_eq!(restocks(&s), restocked_before, "restocking goods the buyer received");
}

#[test]
fn a_payment_arriving_after_cancellation_is_refunded_in_full() {
    let mut s = Scenario::placed(sample_form("alice"));
    let total = s.order().totals.total;
    s.when(buyer("alice"), Action::Cancel { reason: "changed my mind".into() }).expect("cancelled");
    let late = s.when(provider(), Action::CapturePayment { txn_id: "T1".into(), amount: total }).expect("recorded");
    assert!(matches!(
        &late.events[1].change,
        Change::RefundRequested { refund } if refund.amount == total && refund.status == RefundStatus::Pending
    ));
    assert_eq!(s.order().status(), OrderStatus::Cancelled);
    assert_eq!(s.order().payment.refundable().expect("money adds up"), cny(0));
    // The same notification again is a no-op, even though it would not fit any more.
    let again = s.when(provider(), Action::CapturePayment { txn_id: "T1".into(), amount: total });
    assert_eq!(again, Ok(orderflow::Decision::default()));
}

#[test]
fn another_buyer_is_told_not_your_order_and_nothing_changes() {
    let mut s = shipped_in_one_parcel();
    let before = s.order().clone();
    let events = s.history().len();
    for action in [Action::ConfirmReceipt, Action::Cancel { reason: "mine now".into() }] {
        assert_eq!(s.when(buyer("mallory"), action), Err(Error::NotYourOrder));
    }
    // Commands no buyer may issue: the refusal names the actor kind, not the order's owner.
    let approve = s.when(buyer("mallory"), Action::Approve { note: String::new() });
    assert!(matches!(approve, Err(Error::Forbidden { actor: ActorKind::Buyer, command: CommandKind::Approve, .. })));
    assert_eq!(s.order(), &before);
    assert_eq!(s.history().len(), events);
}

#[test]
fn split_shipments_never_pack_a_unit_twice() {
    let mut s = Scenario::placed(sample_cod_form("alice"));
    s.when(warehouse(), Action::IssuePickList).expect("cash on delivery opens the payment gate");
    let tea = &cat().lines[0];
    let one = || Action::Pack { items: vec![item(tea.id, 1)], scanned: vec![scan_of(tea, 1)] };
    s.when(warehouse(), one()).expect("first unit");
    s.when(warehouse(), one()).expect("second unit");
    let third = s.when(warehouse(), one());
    assert!(matches!(third, Err(Error::PackMismatch { .. })), "{third:?}");
    assert_eq!(s.order().fulfillment.packed_quantity(LineId(tea.id)), tea.quantity);
}

/// Alice's order, delivered (scan at `t0` + 1 day, recorded at `t0` + 2 days), with tea unit 1
/// exchanged: the replacement parcel (package 2, waybill SF200) is packed, booked and shipped.
fn with_a_shipped_replacement() -> (Scenario, CaseId) {
    let mut s = shipped_in_one_parcel();
    s.advance(TimeDelta::days(2));
    scan(&mut s, TrackingKind::Delivered, DAY, "ev-delivered").expect("delivered");
    assert_eq!(s.order().status(), OrderStatus::Delivered);
    let tea = &cat().lines[0];
    let open = Action::OpenCase { request: request(CaseKind::Exchange, vec![(tea.id, 1)], "wrong_size".into()) };
    s.when(buyer("alice"), open).expect("opened");
    let case = s.order().cases[0].id;
    s.when(customer_service(), Action::ApproveCase { case }).expect("approved");
    s.when(buyer("alice"), Action::RecordReturnParcel { case, waybill: "RT100".into() }).expect("sent back");
    s.when(warehouse(), Action::ReceiveReturn { case }).expect("received");
    s.when(warehouse(), Action::InspectReturn { case, passed: true, note: String::new() }).expect("inspected");
    s.when(warehouse(), Action::PackReplacement { case, scanned: vec![scan_of(tea, 1)] }).expect("packed");
    let book = Action::BookShipment {
        package: PackageId(2),
        carrier: "sf-express".into(),
        service: "standard".into(),
        reason: "replacement".into(),
    };
    s.when(warehouse(), book).expect("booked");
    s.when(carrier("sf-express"), Action::RecordWaybill { package: PackageId(2), waybill: "SF200".into() })
        .expect("shipped");
    (s, case)
}

fn deliver_replacement(s: &mut Scenario) {
    s.advance(TimeDelta::days(3));
    let update = update(TrackingKind::Delivered, minutes_of(s.now), "ev-replacement".into());
    s.when(carrier("sf-express"), Action::RecordTracking { waybill: "SF200".into(), update })
        .expect("replacement delivered");
}

/// Found by `the_reference_model_predicts_every_outcome_and_state` (mirrored there behind
/// `LIBRARY_BUG_REPLACEMENT_RESTARTS_AUTO_CONFIRM`): the replacement parcel is not the order's
/// goods, yet its delivery restarts the order's auto-confirm clock (10 days from the
/// replacement's delivery instead of the order's).
#[test]
fn a_delivered_replacement_parcel_does_not_restart_auto_confirm() {
    let (mut s, _) = with_a_shipped_replacement();
    let auto_confirm = s.order().deadlines.auto_confirm_at;
    assert!(auto_confirm.is_some());
    deliver_replacement(&mut s);
    assert_eq!(s.order().status(), OrderStatus::Delivered);
    assert_eq!(s.order().deadlines.auto_confirm_at, auto_confirm, "the replacement moved the order's auto-confirm");
}

/// The replacement parcel must not add claimable units: alice received 2 tea units, one is
/// held by the exchange, so at most one more can be claimed. The library counts the delivered
/// replacement as a third unit and accepts a refund-only case for both: 3 units held, 2
/// delivered.
#[test]
fn a_delivered_replacement_parcel_adds_no_claimable_units() {
    let (mut s, _) = with_a_shipped_replacement();
    deliver_replacement(&mut s);
    let tea = &cat().lines[0];
    let claim =
        |units| Action::OpenCase { request: request(CaseKind::RefundOnly, vec![(tea.id, units)], "late".into()) };
    let two = s.when(buyer("alice"), claim(tea.quantity));
    assert!(matches!(two, Err(Error::TooManyUnits { .. })), "{two:?}");
}
