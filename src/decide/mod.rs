//! The pure heart: `decide` turns (order, command, context) into events and effects, and
//! `evolve` applies one event. Neither reads a clock, makes an id or does I/O.
//!
//! One file per sub-machine, as in [`crate::order`]: each holds that machine's commands and
//! its part of `evolve`, so its transitions read in one place. Functions that decide are
//! named after the command (`approve`), those that apply an event after the event
//! (`review_approved`). This file holds what every command goes through (permission, text
//! bounds, idempotency, domain prechecks, the transition table) and the two exhaustive
//! matches that hand each command and each event to the machine that owns it: a new command
//! or event does not compile until it has an owner.

pub(crate) mod cancellation;
pub(crate) mod completion;
mod placement;
pub(crate) mod shared;
mod texts;

pub(crate) use crate::order::fulfilment::polled_packages;
use crate::order::{after_sales, deadlines, fulfilment, payment, review};

pub(crate) use shared::stock_of_package;
pub use texts::{MAX_ID_CHARS, MAX_ITEMS, MAX_TEXT_CHARS};

use chrono::{DateTime, TimeDelta, Utc};

use crate::actor::Actor;
use crate::command::{Action, Command, CommandKind};
use crate::config::WorkflowConfig;
use crate::effect::Effect;
use crate::error::Error;
use crate::event::{Change, Event};
use crate::ids::OrderId;
use crate::order::{DeadlineKind, Order, RefundStatus, ReviewRule};
use crate::order_number::OrderNumber;
use crate::text::Trim;
use crate::transitions;
use crate::validation::Validator;
use shared::Out;

/// What the outside world supplies to a decision: the time. (Fresh ids for a new order come
/// in [`NewOrder`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ctx {
    /// Now, from the host's clock.
    pub now: DateTime<Utc>,
}

impl Ctx {
    /// A context at `now`.
    pub fn at(now: DateTime<Utc>) -> Ctx {
        Ctx { now }
    }
}

/// The fresh identity of an order about to be placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// Internal id (UUID v7).
    pub id: OrderId,
    /// The number told to the buyer.
    pub number: OrderNumber,
}

/// The outcome of a command: events to append and effects to run.
///
/// An empty decision means the command was already applied (a duplicate callback, a redelivered
/// waybill): nothing to store, and the caller should answer success.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// New events, with consecutive `seq` numbers after the order's version.
    pub events: Vec<Event>,
    /// Effects to run (reservation before commit; the rest from the outbox).
    pub effects: Vec<Effect>,
}

impl Decision {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.effects.is_empty()
    }
}

/// The workflow's rules: configuration, placement validation and automatic review.
/// See the crate documentation for a runnable example.
pub struct Workflow {
    pub(crate) config: WorkflowConfig,
    pub(crate) validator: Validator,
    pub(crate) review_rules: Vec<Box<dyn ReviewRule>>,
}

impl Default for Workflow {
    fn default() -> Self {
        Workflow::new(WorkflowConfig::default())
    }
}

impl std::fmt::Debug for Workflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflow")
            .field("config", &self.config)
            .field("review_rules", &self.review_rules.len())
            .finish_non_exhaustive()
    }
}

impl Workflow {
    /// A workflow with `config`, the built-in validation rules and no review rules.
    pub fn new(config: WorkflowConfig) -> Workflow {
        let validator = Validator::new(config.limits.clone());
        Workflow { config, validator, review_rules: Vec::new() }
    }

    /// Replaces the placement validator (e.g. one with host rules added).
    pub fn with_validator(mut self, validator: Validator) -> Workflow {
        self.validator = validator;
        self
    }

    /// Adds an automatic review rule, run at placement.
    pub fn with_review_rule(mut self, rule: impl ReviewRule + 'static) -> Workflow {
        self.review_rules.push(Box::new(rule));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &WorkflowConfig {
        &self.config
    }

    /// Decides what `command` does to `order`: permission, idempotency, the transition table,
    /// then the sub-machine's own rules. A refusal changes nothing.
    pub fn decide(&self, order: &Order, command: &Command, ctx: &Ctx) -> Result<Decision, Error> {
        let kind = command.action.kind();
        authorize(order, &command.actor, kind)?;
        texts::check(&command.action)?;
        if already_applied(order, &command.action) {
            return Ok(Decision::default());
        }
        precheck(order, &command.action, ctx.now)?;
        let status = order.status();
        let mut out = Out::new(order.version, &command.actor, ctx.now);
        if !transitions::allows(kind, status) {
            if let Action::FireDeadline { kind: deadline } = &command.action {
                deadlines::lapse(&mut out, *deadline);
                return Ok(out.finish());
            }
            return Err(Error::IllegalTransition { command: kind, status });
        }
        match &command.action {
            Action::Approve { note } => review::approve(order, &mut out, note)?,
            Action::Hold { reasons, note } => review::hold(order, &mut out, reasons, note)?,
            Action::ResolveHold { contact_note } => review::resolve_hold(&mut out, contact_note)?,
            Action::Reject { reason } => review::reject(order, &mut out, reason)?,
            Action::OpenPaymentSession { provider } => payment::open_payment_session(order, &mut out, provider)?,
            Action::CapturePayment { txn_id, amount } => self.capture(order, &mut out, txn_id, *amount)?,
            Action::RecordPaymentAnomaly { txn_id, amount, reason } => {
                self.record_payment_anomaly(order, &mut out, txn_id, *amount, reason)?
            }
            Action::RefundUnappliedPayment { txn_id } => payment::refund_unapplied_payment(order, &mut out, txn_id)?,
            Action::RequestRefund { lines, shipping, reason, manual_reference } => {
                payment::request_staff_refund(order, &mut out, lines, *shipping, reason, manual_reference.as_deref())?;
            }
            Action::CompleteRefund { refund, reference } => {
                payment::complete_refund(order, &mut out, *refund, reference)?
            }
            Action::FailRefund { refund, reason } => payment::fail_refund(order, &mut out, *refund, reason)?,
            Action::RecordCodCollected { amount } => payment::record_cod_collected(order, &mut out, *amount)?,
            Action::IssuePickList => fulfilment::issue_pick_list(order, &mut out)?,
            Action::Pack { items, scanned } => fulfilment::pack(order, &mut out, items, scanned)?,
            Action::BookShipment { package, carrier, service, reason } => {
                fulfilment::book_shipment(order, &mut out, status, *package, carrier, service, reason)?
            }
            Action::RecordWaybill { package, waybill } => self.record_waybill(order, &mut out, *package, waybill)?,
            Action::CorrectCarrier { waybill, carrier } => {
                fulfilment::correct_carrier(order, &mut out, waybill, carrier)?
            }
            Action::RecordTracking { waybill, update } => self.record_tracking(order, &mut out, waybill, update)?,
            Action::ConfirmReceipt => self.complete(order, &mut out, false),
            Action::RecordFollowUp { score, notes } => completion::record_follow_up(&mut out, *score, notes)?,
            Action::Cancel { reason } => cancellation::cancel(order, &mut out, reason)?,
            // A due deadline is decided by the machine it belongs to.
            Action::FireDeadline { kind: DeadlineKind::PayBy } => cancellation::cancel_unpaid(order, &mut out)?,
            Action::FireDeadline { kind: DeadlineKind::AutoConfirm } => self.complete(order, &mut out, true),
            Action::FireDeadline { kind: DeadlineKind::AfterSalesWindow } => completion::close_after_sales(&mut out),
            Action::FireDeadline { kind: DeadlineKind::FollowUp } => completion::fire_follow_up(order, &mut out),
            Action::FireDeadline { kind: DeadlineKind::CaseSla(case) } => {
                after_sales::escalate_case(order, &mut out, *case)
            }
            Action::FireDeadline { kind: DeadlineKind::CaseFollowUp(case) } => {
                after_sales::fire_case_follow_up(order, &mut out, *case)
            }
            Action::FireDeadline { kind: DeadlineKind::TrackingPoll } => self.tracking_polled(order, &mut out),
            Action::OpenCase { request } => self.open_case(order, &mut out, request)?,
            Action::ApproveCase { case } => after_sales::approve_case(order, &mut out, *case)?,
            Action::RejectCase { case, reason } => after_sales::reject_case(order, &mut out, *case, reason)?,
            Action::WithdrawCase { case } => after_sales::withdraw_case(order, &mut out, *case)?,
            Action::RecordReturnParcel { case, waybill } => {
                after_sales::record_return_parcel(order, &mut out, *case, waybill)?
            }
            Action::ReceiveReturn { case } => after_sales::receive_return(order, &mut out, *case)?,
            Action::InspectReturn { case, passed, note } => {
                after_sales::inspect_return(order, &mut out, *case, *passed, note)?
            }
            Action::RefundCase { case, manual_reference } => {
                self.refund_case(order, &mut out, *case, manual_reference.as_deref())?
            }
            Action::PackReplacement { case, scanned } => {
                after_sales::pack_replacement(order, &mut out, *case, scanned)?
            }
            Action::RecordRepairReturned { case, waybill } => {
                after_sales::record_repair_returned(order, &mut out, *case, waybill)?
            }
            Action::AssignCase { case, assignee } => after_sales::assign_case(order, &mut out, *case, assignee)?,
            Action::ResolveCase { case, resolution } => self.resolve_case(order, &mut out, *case, resolution)?,
            Action::CloseCase { case } => self.close_case(order, &mut out, *case)?,
            Action::RecordCaseFollowUp { case, score, notes } => {
                after_sales::record_case_follow_up(order, &mut out, *case, *score, notes)?
            }
        }
        Ok(out.finish())
    }
}

/// Applies one event to an order. Total and infallible: an event that does not fit (which
/// `decide` never produces) is ignored rather than panicking.
pub fn evolve(order: &mut Order, event: &Event) {
    order.version = event.seq.max(order.version);
    let now = event.at;
    match &event.change {
        // The order is made from it (`Order::from_placed`); a second one changes nothing.
        Change::OrderPlaced { .. } => {}
        Change::ReviewApproved { .. } => review::review_approved(order),
        Change::ReviewHeld { reasons, .. } => review::review_held(order, reasons),
        Change::HoldResolved { contact_note } => review::hold_resolved(order, contact_note),
        Change::ReviewRejected { reason } => review::review_rejected(order, event, reason),
        Change::PaymentSessionOpened { provider } => payment::payment_session_opened(order, provider),
        Change::PaymentCaptured { txn_id, amount, provider } => {
            payment::payment_captured(order, txn_id, *amount, provider.as_deref(), now)
        }
        Change::PaymentAnomalyRecorded { txn_id, amount, reason } => {
            payment::payment_anomaly_recorded(order, &event.actor, txn_id, *amount, reason, now)
        }
        Change::RefundRequested { refund } => match refund.case {
            None => payment::refund_requested(order, refund),
            Some(case) => after_sales::case_refund_requested(order, case, refund),
        },
        Change::RefundCompleted { refund, reference } => payment::refund_completed(order, *refund, reference),
        Change::RefundFailed { refund, reason } => payment::refund_failed(order, *refund, reason),
        Change::CodCollected { amount } => payment::cod_collected(order, *amount),
        Change::PickListIssued { items } => fulfilment::pick_list_issued(order, items, now),
        Change::PackagePacked { package, items } => fulfilment::package_packed(order, *package, items, now),
        Change::ShipmentBooked { package, carrier, service, reason } => {
            fulfilment::shipment_booked(order, *package, carrier, service, reason)
        }
        Change::PackageShipped { package, waybill } => fulfilment::package_shipped(order, *package, waybill, now),
        Change::CarrierCorrected { package, carrier } => fulfilment::carrier_corrected(order, *package, carrier),
        Change::TrackingRecorded { package, update } => fulfilment::tracking_recorded(order, *package, update),
        Change::ReceiptConfirmed { automatic } => completion::receipt_confirmed(order, *automatic, now),
        Change::AfterSalesWindowClosed => completion::after_sales_window_closed(order),
        Change::FollowUpDue => completion::follow_up_due(order, now),
        Change::FollowUpRecorded { score, notes } => completion::follow_up_recorded(order, *score, notes, now),
        Change::OrderCancelled { reason } => cancellation::order_cancelled(order, event, reason),
        Change::DeadlineSet { kind, at } => deadlines::deadline_set(order, *kind, *at),
        Change::CaseOpened { case } => after_sales::case_opened(order, case),
        Change::CaseApproved { case } => after_sales::case_approved(order, *case),
        Change::CaseRejected { case, reason } => after_sales::case_rejected(order, *case, reason),
        Change::CaseWithdrawn { case } => after_sales::case_withdrawn(order, *case),
        Change::ReturnParcelRecorded { case, waybill } => after_sales::return_parcel_recorded(order, *case, waybill),
        Change::ReturnTrackingRecorded { case, update } => after_sales::return_tracking_recorded(order, *case, update),
        Change::ReturnReceived { case } => after_sales::return_received(order, *case),
        Change::ReturnInspected { case, passed, note } => after_sales::return_inspected(order, *case, *passed, note),
        Change::ReplacementPacked { case, package, items } => {
            after_sales::replacement_packed(order, *case, *package, items, now)
        }
        Change::RepairReturned { case, waybill } => after_sales::repair_returned(order, *case, waybill),
        Change::CaseAssigned { case, assignee } => after_sales::case_assigned(order, *case, assignee),
        Change::CaseResolved { case, resolution } => after_sales::case_resolved(order, *case, resolution),
        Change::CaseClosed { case } => after_sales::case_closed(order, *case),
        Change::CaseEscalated { case } => after_sales::case_escalated(order, *case),
        Change::CaseFollowUpDue { case } => after_sales::case_follow_up_due(order, *case),
        Change::CaseFollowUpRecorded { case, score, .. } => after_sales::case_follow_up_recorded(order, *case, *score),
    }
}

fn forbidden(actor: &Actor, command: CommandKind) -> Error {
    Error::Forbidden { actor: actor.kind(), command, allowed: transitions::permission(command).describe() }
}

fn authorize(order: &Order, actor: &Actor, kind: CommandKind) -> Result<(), Error> {
    let allowed = transitions::permission(kind);
    if allowed.permits(actor, &order.customer) {
        return Ok(());
    }
    match actor {
        Actor::Buyer { .. } if allowed.owner => Err(Error::NotYourOrder),
        _ => Err(forbidden(actor, kind)),
    }
}

/// True when this command's effect is already part of the order (idempotent replays of
/// callbacks and redelivered outbox work).
fn already_applied(order: &Order, action: &Action) -> bool {
    match action {
        Action::CapturePayment { txn_id, .. } | Action::RecordPaymentAnomaly { txn_id, .. } => {
            order.payment.knows_txn(txn_id)
        }
        Action::RecordWaybill { package, waybill } => {
            order.fulfilment.package(*package).is_some_and(|p| p.waybill.as_deref() == Some(waybill.trimmed()))
        }
        Action::CorrectCarrier { waybill, carrier } => order
            .fulfilment
            .package_by_waybill(waybill.trimmed())
            .is_some_and(|p| p.carrier.as_deref() == Some(carrier.trimmed())),
        Action::RecordTracking { waybill, update } => {
            order.fulfilment.package_by_waybill(waybill.trimmed()).is_some_and(|p| p.knows(update))
                || order.cases.iter().any(|c| {
                    c.return_waybill.as_deref() == Some(waybill.trimmed())
                        && c.return_tracking.iter().any(|t| t.same_event(update))
                })
        }
        Action::RecordReturnParcel { case, waybill } => {
            order.case(*case).is_some_and(|c| c.return_waybill.as_deref() == Some(waybill.trimmed()))
        }
        Action::CompleteRefund { refund, .. } => {
            order.payment.refunds.iter().any(|r| r.id == *refund && matches!(r.status, RefundStatus::Completed { .. }))
        }
        Action::FailRefund { refund, .. } => {
            order.payment.refunds.iter().any(|r| r.id == *refund && matches!(r.status, RefundStatus::Failed { .. }))
        }
        Action::RecordCodCollected { amount } => order.payment.cod_collected == Some(*amount),
        _ => false,
    }
}

/// Domain checks that give a more useful error than "illegal transition".
fn precheck(order: &Order, action: &Action, now: DateTime<Utc>) -> Result<(), Error> {
    match action {
        Action::IssuePickList | Action::Pack { .. } | Action::BookShipment { .. }
            if order.cancellation.is_none() && !order.ready_to_fulfil() =>
        {
            Err(Error::NotReadyToFulfil { approved: order.review.is_approved(), paid: order.payment.gate_open() })
        }
        Action::Cancel { .. } if order.cancellation.is_none() && order.fulfilment.any_booked() => {
            Err(Error::AlreadyShipped)
        }
        Action::ConfirmReceipt
            if order.cancellation.is_none() && order.completion.is_none() && !order.all_lines_shipped() =>
        {
            Err(Error::NotShippedYet)
        }
        Action::FireDeadline { kind } => match order.deadlines.get(*kind) {
            Some(at) if at <= now => Ok(()),
            due => Err(Error::NotDue { kind: *kind, due }),
        },
        _ => Ok(()),
    }
}

/// How long after `at` the `delta` ends; a helper for deadline arithmetic that cannot panic.
pub fn after(at: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    at.checked_add_signed(delta).unwrap_or(at)
}

/// Why a history of events could not be turned back into an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// There were no events.
    #[error("an order's history cannot be empty")]
    Empty,
    /// The first event was not `order_placed`.
    #[error("an order's history must start with order_placed, found {0}")]
    NotPlacedFirst(&'static str),
    /// A gap or repetition in the sequence numbers.
    #[error("event out of sequence: expected seq {expected}, found {found}")]
    OutOfSequence {
        /// The next sequence number expected.
        expected: u64,
        /// What was found.
        found: u64,
    },
}

impl Order {
    /// Rebuilds an order from its full history: the first event must be `order_placed`, and
    /// sequence numbers must run 1, 2, 3, ... without gaps.
    pub fn from_events(events: &[Event]) -> Result<Order, ReplayError> {
        let (first, rest) = events.split_first().ok_or(ReplayError::Empty)?;
        let mut order = Order::from_placed(first)?;
        for event in rest {
            let expected = order.version + 1;
            if event.seq != expected {
                return Err(ReplayError::OutOfSequence { expected, found: event.seq });
            }
            evolve(&mut order, event);
        }
        Ok(order)
    }
}
