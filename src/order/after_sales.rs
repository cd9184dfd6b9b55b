//! After-sales cases: refund only, return and refund, exchange, warranty repair, complaint.
//! Each case is its own small state machine linked to the order:
//!
//! ```text
//! refund only:        requested → approved → refunded → closed
//! return and refund:  requested → awaiting return → received → inspected(pass) → refunded → closed
//! exchange:           requested → awaiting return → received → inspected(pass) → replacement shipped → closed
//! warranty repair:    requested → awaiting return → received → inspected(pass) → repaired and returned → closed
//! complaint:          requested (open) → in progress (assignee) → resolved → closed after a follow-up
//! any requested case: → rejected (reason) | withdrawn (by the buyer)
//! a failed inspection: → closed (goods go back to the buyer, nothing refunded)
//! ```
//!
//! This file holds the whole machine: its states first, then the commands that change them
//! (`decide`) and how its events apply (`evolve`).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::command::CommandKind;
use crate::config::ShippingRefund;
use crate::decide::shared::{Out, invalid, next_id, required, stock_items};
use crate::decide::{Workflow, after};
use crate::effect::{Audience, CaseUpdateState, Effect, NotificationKind};
use crate::error::Error;
use crate::event::Change;
use crate::ids::{CaseId, LineId, PackageId, RefundId, StaffId};
use crate::money::Money;
use crate::order::fulfilment::compare_scan;
use crate::order::payment::{refund_requested, request_refund};
use crate::order::{DeadlineKind, LineRefund, Order, PackageItem, Refund, RefundReason, ScannedItem, TrackingUpdate};
use crate::text::Trim;

/// What the buyer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseKind {
    /// Money back, goods not returned (e.g. a missing or spoiled item).
    RefundOnly,
    /// Goods returned, money back.
    ReturnAndRefund,
    /// Goods returned, the same goods sent again.
    Exchange,
    /// Goods sent in for repair under warranty and sent back.
    WarrantyRepair,
    /// A complaint or suggestion: no goods, no money by itself.
    Complaint,
}

impl CaseKind {
    /// True when the buyer sends goods back.
    pub fn returns_goods(&self) -> bool {
        match self {
            CaseKind::ReturnAndRefund | CaseKind::Exchange | CaseKind::WarrantyRepair => true,
            CaseKind::RefundOnly | CaseKind::Complaint => false,
        }
    }

    /// True for the kinds limited by the return window after completion.
    pub fn uses_return_window(&self) -> bool {
        match self {
            CaseKind::RefundOnly | CaseKind::ReturnAndRefund | CaseKind::Exchange => true,
            CaseKind::WarrantyRepair | CaseKind::Complaint => false,
        }
    }

    /// snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CaseKind::RefundOnly => "refund_only",
            CaseKind::ReturnAndRefund => "return_and_refund",
            CaseKind::Exchange => "exchange",
            CaseKind::WarrantyRepair => "warranty_repair",
            CaseKind::Complaint => "complaint",
        }
    }
}

impl fmt::Display for CaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Units of one order line in a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseLine {
    /// The order line.
    pub line: LineId,
    /// Units.
    pub quantity: u32,
}

/// Where a case stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CaseState {
    /// Waiting for customer service (the SLA clock runs).
    Requested,
    /// Refund only: approved, refund next.
    Approved,
    /// Approved; waiting for the buyer's return parcel.
    AwaitingReturn,
    /// The return parcel arrived at the warehouse.
    Received,
    /// The returned goods were inspected.
    Inspected {
        /// True when they pass (back to stock; refund, replacement or repair goes ahead).
        passed: bool,
        /// What the inspector found.
        note: String,
    },
    /// The refund was requested.
    Refunded,
    /// The replacement parcel shipped.
    ReplacementShipped,
    /// The repaired goods were sent back.
    RepairedAndReturned,
    /// Complaint: someone is on it.
    InProgress {
        /// Who.
        assignee: StaffId,
    },
    /// Complaint: resolved; closes once the follow-up visit is recorded.
    Resolved {
        /// How.
        resolution: String,
    },
    /// Turned down.
    Rejected {
        /// Why.
        reason: String,
    },
    /// The buyer took it back while it was only requested.
    Withdrawn,
    /// Done.
    Closed,
}

impl CaseState {
    /// True when nothing more happens to the case (follow-ups aside).
    pub fn is_terminal(&self) -> bool {
        match self {
            CaseState::Rejected { .. } | CaseState::Withdrawn | CaseState::Closed => true,
            CaseState::Requested
            | CaseState::Approved
            | CaseState::AwaitingReturn
            | CaseState::Received
            | CaseState::Inspected { .. }
            | CaseState::Refunded
            | CaseState::ReplacementShipped
            | CaseState::RepairedAndReturned
            | CaseState::InProgress { .. }
            | CaseState::Resolved { .. } => false,
        }
    }

    /// True when the case was turned down or taken back: its units are free again.
    pub fn released_units(&self) -> bool {
        matches!(self, CaseState::Rejected { .. } | CaseState::Withdrawn)
    }

    /// snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            CaseState::Requested => "requested",
            CaseState::Approved => "approved",
            CaseState::AwaitingReturn => "awaiting_return",
            CaseState::Received => "received",
            CaseState::Inspected { passed: true, .. } => "inspection_passed",
            CaseState::Inspected { passed: false, .. } => "inspection_failed",
            CaseState::Refunded => "refunded",
            CaseState::ReplacementShipped => "replacement_shipped",
            CaseState::RepairedAndReturned => "repaired_and_returned",
            CaseState::InProgress { .. } => "in_progress",
            CaseState::Resolved { .. } => "resolved",
            CaseState::Rejected { .. } => "rejected",
            CaseState::Withdrawn => "withdrawn",
            CaseState::Closed => "closed",
        }
    }
}

/// What the buyer (or customer service for them) submits to open a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRequest {
    /// What is asked for.
    pub kind: CaseKind,
    /// Lines and units concerned (empty for a complaint about the order as a whole).
    #[serde(default)]
    pub lines: Vec<CaseLine>,
    /// Machine-readable reason (e.g. `damaged`, `wrong_item`, `no_reason`, `late_delivery`).
    pub reason_code: String,
    /// The buyer's words.
    #[serde(default)]
    pub text: String,
    /// Photo ids or URLs.
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// One after-sales case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// Number within the order.
    pub id: CaseId,
    /// What was asked.
    pub request: CaseRequest,
    /// Where it stands.
    pub state: CaseState,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// True once the answer SLA passed while it was still requested.
    pub escalated: bool,
    /// Waybill of the buyer's return parcel.
    pub return_waybill: Option<String>,
    /// Tracking of the return parcel, in time order.
    pub return_tracking: Vec<TrackingUpdate>,
    /// The refund paid for this case.
    pub refund: Option<RefundId>,
    /// The replacement parcel (exchange).
    pub replacement: Option<PackageId>,
    /// Waybill of the repaired goods going back (warranty repair).
    pub repair_waybill: Option<String>,
    /// Satisfaction score of the follow-up visit after the case.
    pub follow_up_score: Option<u8>,
}

impl Case {
    /// A freshly opened case.
    pub fn open(id: CaseId, request: CaseRequest, at: DateTime<Utc>) -> Case {
        Case {
            id,
            request,
            state: CaseState::Requested,
            opened_at: at,
            escalated: false,
            return_waybill: None,
            return_tracking: Vec::new(),
            refund: None,
            replacement: None,
            repair_waybill: None,
            follow_up_score: None,
        }
    }

    /// Units of `line` this case holds.
    pub fn quantity_of(&self, line: LineId) -> u32 {
        self.request.lines.iter().filter(|l| l.line == line).map(|l| l.quantity).sum()
    }

    /// True when this case's units count against what can still be claimed: every return,
    /// exchange and refund-only case that was not rejected or withdrawn, and warranty repairs
    /// while they are open.
    pub fn holds_units(&self) -> bool {
        match self.request.kind {
            CaseKind::Complaint => false,
            CaseKind::WarrantyRepair => !self.state.is_terminal(),
            CaseKind::RefundOnly | CaseKind::ReturnAndRefund | CaseKind::Exchange => !self.state.released_units(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Transitions: the commands of this machine (decide) and how its events apply (evolve).
//
// After-sales: one case sub-machine per request (refund, return, exchange, warranty repair,
// complaint), linked to the order.
//
// Money and quantities are bounded by the order: a case can claim at most the units delivered
// minus those held by other cases, and its refund per line at most what was paid for the line
// minus earlier refunds (the same bound every refund of the order obeys).
// ---------------------------------------------------------------------------------------------

const MAX_CASE_TEXT: usize = 2_000;
const MAX_EVIDENCE: usize = 10;

// Deciding.

pub(crate) fn approve_case(order: &Order, out: &mut Out<'_>, case: CaseId) -> Result<(), Error> {
    let c = expect(order, case, CommandKind::ApproveCase, |c| {
        c.state == CaseState::Requested && c.request.kind != CaseKind::Complaint
    })?;
    out.emit(Change::CaseApproved { case });
    let next = if c.request.kind.returns_goods() { CaseUpdateState::AwaitingReturn } else { CaseUpdateState::Approved };
    tell_buyer(order, out, case, next, String::new());
    Ok(())
}

pub(crate) fn reject_case(order: &Order, out: &mut Out<'_>, case: CaseId, reason: &str) -> Result<(), Error> {
    required("reason", reason)?;
    expect(order, case, CommandKind::RejectCase, |c| {
        matches!(c.state, CaseState::Requested | CaseState::Inspected { passed: false, .. })
    })?;
    out.emit(Change::CaseRejected { case, reason: reason.trimmed().to_owned() });
    tell_buyer(order, out, case, CaseUpdateState::Rejected, reason.trimmed().to_owned());
    Ok(())
}

pub(crate) fn withdraw_case(order: &Order, out: &mut Out<'_>, case: CaseId) -> Result<(), Error> {
    expect(order, case, CommandKind::WithdrawCase, |c| c.state == CaseState::Requested)?;
    out.emit(Change::CaseWithdrawn { case });
    Ok(())
}

pub(crate) fn record_return_parcel(order: &Order, out: &mut Out<'_>, case: CaseId, waybill: &str) -> Result<(), Error> {
    required("waybill", waybill)?;
    expect(order, case, CommandKind::RecordReturnParcel, |c| c.state == CaseState::AwaitingReturn)?;
    if order.waybills().any(|w| w == waybill.trimmed()) {
        return Err(invalid("waybill", "this waybill is already used by this order"));
    }
    out.emit(Change::ReturnParcelRecorded { case, waybill: waybill.trimmed().to_owned() });
    Ok(())
}

pub(crate) fn receive_return(order: &Order, out: &mut Out<'_>, case: CaseId) -> Result<(), Error> {
    expect(order, case, CommandKind::ReceiveReturn, |c| c.state == CaseState::AwaitingReturn)?;
    out.emit(Change::ReturnReceived { case });
    tell_buyer(order, out, case, CaseUpdateState::Received, String::new());
    Ok(())
}

pub(crate) fn inspect_return(
    order: &Order,
    out: &mut Out<'_>,
    case: CaseId,
    passed: bool,
    note: &str,
) -> Result<(), Error> {
    let c = expect(order, case, CommandKind::InspectReturn, |c| c.state == CaseState::Received)?;
    if !passed {
        required("note", note)?;
    }
    out.emit(Change::ReturnInspected { case, passed, note: note.trimmed().to_owned() });
    if passed {
        let items = stock_items(case_units(order, c));
        out.effect(Effect::ReturnToStock { case, items });
    }
    let state = if passed { CaseUpdateState::InspectionPassed } else { CaseUpdateState::InspectionFailed };
    tell_buyer(order, out, case, state, note.trimmed().to_owned());
    Ok(())
}

pub(crate) fn pack_replacement(
    order: &Order,
    out: &mut Out<'_>,
    case: CaseId,
    scanned: &[ScannedItem],
) -> Result<(), Error> {
    let c = expect(order, case, CommandKind::PackReplacement, |c| {
        c.request.kind == CaseKind::Exchange
            && c.replacement.is_none()
            && matches!(c.state, CaseState::Inspected { passed: true, .. })
    })?;
    let mut expected: BTreeMap<LineId, u32> = BTreeMap::new();
    for part in &c.request.lines {
        let sum = expected.entry(part.line).or_insert(0);
        *sum = sum.saturating_add(part.quantity);
    }
    let items = compare_scan(order, expected, scanned, Vec::new())?;
    let package = PackageId(next_id(order.fulfilment.packages.iter().map(|p| p.id.0)));
    let stock = stock_items(items.iter().filter_map(|i| order.line(i.line).map(|l| (l, i.quantity))));
    out.emit(Change::ReplacementPacked { case, package, items });
    out.effect(Effect::ReserveStock { items: stock, case: Some(case) });
    Ok(())
}

pub(crate) fn record_repair_returned(
    order: &Order,
    out: &mut Out<'_>,
    case: CaseId,
    waybill: &str,
) -> Result<(), Error> {
    required("waybill", waybill)?;
    expect(order, case, CommandKind::RecordRepairReturned, |c| {
        c.request.kind == CaseKind::WarrantyRepair && matches!(c.state, CaseState::Inspected { passed: true, .. })
    })?;
    out.emit(Change::RepairReturned { case, waybill: waybill.trimmed().to_owned() });
    tell_buyer(order, out, case, CaseUpdateState::RepairedAndReturned, waybill.trimmed().to_owned());
    Ok(())
}

pub(crate) fn assign_case(order: &Order, out: &mut Out<'_>, case: CaseId, assignee: &StaffId) -> Result<(), Error> {
    expect(order, case, CommandKind::AssignCase, |c| {
        c.request.kind == CaseKind::Complaint && matches!(c.state, CaseState::Requested | CaseState::InProgress { .. })
    })?;
    out.emit(Change::CaseAssigned { case, assignee: assignee.clone() });
    tell_buyer(order, out, case, CaseUpdateState::InProgress, String::new());
    Ok(())
}

pub(crate) fn record_case_follow_up(
    order: &Order,
    out: &mut Out<'_>,
    case: CaseId,
    score: u8,
    notes: &str,
) -> Result<(), Error> {
    if !(1..=5).contains(&score) {
        return Err(invalid("score", "satisfaction score must be between 1 and 5"));
    }
    let c = expect(order, case, CommandKind::RecordCaseFollowUp, |c| {
        c.follow_up_score.is_none() && matches!(c.state, CaseState::Closed | CaseState::Resolved { .. })
    })?;
    out.emit(Change::CaseFollowUpRecorded { case, score, notes: notes.trimmed().to_owned() });
    if matches!(c.state, CaseState::Resolved { .. }) {
        // A complaint closes after its follow-up.
        out.emit(Change::CaseClosed { case });
    }
    Ok(())
}

/// The case's answer deadline fired: a request still unanswered is escalated to customer
/// service; otherwise the deadline is cleared.
pub(crate) fn escalate_case(order: &Order, out: &mut Out<'_>, case: CaseId) {
    let still_waiting = order.case(case).is_some_and(|c| c.state == CaseState::Requested);
    if still_waiting {
        out.emit_as(Actor::System, Change::CaseEscalated { case });
        out.notify_to(Audience::CustomerService, &order.number, NotificationKind::CaseEscalated { case });
    } else {
        out.set_deadline(DeadlineKind::CaseSla(case), None);
    }
}

/// The case's follow-up deadline fired: customer service is asked to contact the buyer.
pub(crate) fn fire_case_follow_up(order: &Order, out: &mut Out<'_>, case: CaseId) {
    out.emit_as(Actor::System, Change::CaseFollowUpDue { case });
    out.notify_to(
        Audience::CustomerService,
        &order.number,
        NotificationKind::FollowUpDue { customer: order.customer.clone() },
    );
}

impl Workflow {
    pub(crate) fn open_case(&self, order: &Order, out: &mut Out<'_>, request: &CaseRequest) -> Result<(), Error> {
        required("reason_code", &request.reason_code)?;
        if request.text.chars().count() > MAX_CASE_TEXT {
            return Err(invalid("text", "must be at most 2000 characters"));
        }
        if request.evidence.len() > MAX_EVIDENCE || request.evidence.iter().any(|e| e.chars().count() > 500) {
            return Err(invalid("evidence", "at most 10 references of at most 500 characters each"));
        }
        let kind = request.kind;
        let mut lines: BTreeMap<LineId, u32> = BTreeMap::new();
        for part in &request.lines {
            order.line(part.line).ok_or(Error::UnknownLine(part.line))?;
            if part.quantity == 0 {
                return Err(invalid("lines", "each line needs at least one unit"));
            }
            let sum = lines.entry(part.line).or_insert(0);
            *sum = sum.saturating_add(part.quantity);
        }
        if kind != CaseKind::Complaint {
            if lines.is_empty() {
                return Err(invalid("lines", "name the lines and units concerned"));
            }
            for (id, requested) in &lines {
                self.check_window(order, kind, *id, out.now)?;
                let claimable = claimable_units(order, *id);
                if *requested > claimable {
                    return Err(Error::TooManyUnits { line: *id, requested: *requested, claimable });
                }
            }
        }
        let id = CaseId(next_id(order.cases.iter().map(|c| c.id.0)));
        let normalized = CaseRequest {
            kind,
            lines: lines.into_iter().map(|(line, quantity)| CaseLine { line, quantity }).collect(),
            reason_code: request.reason_code.trimmed().to_owned(),
            text: request.text.trimmed().to_owned(),
            evidence: request.evidence.iter().map(|e| e.trimmed().to_owned()).collect(),
        };
        out.emit(Change::CaseOpened { case: Box::new(Case::open(id, normalized, out.now)) });
        out.set_deadline(DeadlineKind::CaseSla(id), Some(after(out.now, self.config.case_answer_within)));
        tell_buyer(order, out, id, CaseUpdateState::Requested, String::new());
        Ok(())
    }

    /// Is `line` still inside the window that applies to `kind` at `now`?
    fn check_window(&self, order: &Order, kind: CaseKind, line: LineId, now: DateTime<Utc>) -> Result<(), Error> {
        let sku = order.line(line).map(|l| l.sku.as_str().to_owned()).unwrap_or_default();
        let delivered_at = order.fulfilment.order_packages().filter_map(|p| p.delivered_at).max();
        let received = order.completion.as_ref().map(|c| c.at).or(delivered_at);
        let Some(received) = received else {
            return Err(Error::OutsideWindow { kind, why: "the goods have not been delivered yet".into() });
        };
        let outside = |until: DateTime<Utc>, what: &str| Error::OutsideWindow {
            kind,
            why: format!("the {what} for {sku} ended at {}", until.format("%Y-%m-%d %H:%M")),
        };
        if kind.uses_return_window() {
            // Before the buyer confirms receipt the return is always possible; after, the window runs.
            if let Some(completed) = &order.completion {
                let window = self.config.return_windows.get(&sku).copied().unwrap_or(self.config.after_sales_window);
                let until = after(completed.at, window);
                if now > until {
                    return Err(outside(until, "return window"));
                }
            }
        } else if kind == CaseKind::WarrantyRepair {
            let Some(period) = self.config.warranties.get(&sku).copied() else {
                return Err(Error::OutsideWindow { kind, why: format!("{sku} has no warranty") });
            };
            let extension = order
                .lines
                .iter()
                .filter_map(|l| self.config.extended_warranties.get(l.sku.as_str()))
                .fold(chrono::TimeDelta::zero(), |a, b| a.checked_add(b).unwrap_or(a));
            let until = after(after(received, period), extension);
            if now > until {
                return Err(outside(until, "warranty"));
            }
        }
        Ok(())
    }

    pub(crate) fn refund_case(
        &self,
        order: &Order,
        out: &mut Out<'_>,
        case: CaseId,
        manual_reference: Option<&str>,
    ) -> Result<(), Error> {
        let c = expect(order, case, CommandKind::RefundCase, |c| match c.request.kind {
            CaseKind::RefundOnly => c.state == CaseState::Approved,
            CaseKind::ReturnAndRefund => matches!(c.state, CaseState::Inspected { passed: true, .. }),
            CaseKind::Exchange | CaseKind::WarrantyRepair | CaseKind::Complaint => false,
        })?;
        let (lines, shipping) = self.case_refund(order, c)?;
        let reason = RefundReason::AfterSales { case, reason_code: c.request.reason_code.clone() };
        request_refund(order, out, &lines, shipping, reason, manual_reference)?;
        Ok(())
    }

    /// The refund a case pays: for each case line, its share of what was paid for the line
    /// (`payable × units / ordered`), capped by what is still refundable for the line; shipping
    /// by the configured rule.
    fn case_refund(&self, order: &Order, case: &Case) -> Result<(Vec<LineRefund>, Money), Error> {
        let mut parts = Vec::new();
        let mut fully_refunded = BTreeMap::new();
        for part in &case.request.lines {
            let Some(line) = order.line(part.line) else { continue };
            let share = i128::from(line.payable.minor) * i128::from(part.quantity) / i128::from(line.quantity.max(1));
            let share =
                Money::new(i64::try_from(share).map_err(|_| crate::money::MoneyError::Overflow)?, order.currency);
            let open = line.payable.checked_sub(order.payment.refunded_for_line(line.id)?)?;
            let amount = share.min(open)?.max_zero();
            fully_refunded.insert(line.id, amount == open);
            if amount.is_positive() {
                parts.push(LineRefund { line: line.id, amount });
            }
        }
        let shipping_left = order.totals.shipping_fee.checked_sub(order.payment.refunded_shipping()?)?.max_zero();
        let everything = order.lines.iter().all(|l| {
            fully_refunded
                .get(&l.id)
                .copied()
                .unwrap_or_else(|| order.payment.refunded_for_line(l.id).map(|r| r == l.payable).unwrap_or(false))
        });
        let shipping = match self.config.shipping_refund {
            ShippingRefund::Never => Money::zero(order.currency),
            ShippingRefund::Always => shipping_left,
            ShippingRefund::WhenEverythingIsRefunded if everything => shipping_left,
            ShippingRefund::WhenEverythingIsRefunded => Money::zero(order.currency),
        };
        Ok((parts, shipping))
    }

    pub(crate) fn resolve_case(
        &self,
        order: &Order,
        out: &mut Out<'_>,
        case: CaseId,
        resolution: &str,
    ) -> Result<(), Error> {
        required("resolution", resolution)?;
        expect(order, case, CommandKind::ResolveCase, |c| matches!(c.state, CaseState::InProgress { .. }))?;
        out.emit(Change::CaseResolved { case, resolution: resolution.trimmed().to_owned() });
        out.set_deadline(DeadlineKind::CaseFollowUp(case), Some(after(out.now, self.config.follow_up_after)));
        tell_buyer(order, out, case, CaseUpdateState::Resolved, resolution.trimmed().to_owned());
        Ok(())
    }

    pub(crate) fn close_case(&self, order: &Order, out: &mut Out<'_>, case: CaseId) -> Result<(), Error> {
        expect(order, case, CommandKind::CloseCase, |c| {
            matches!(
                c.state,
                CaseState::Refunded
                    | CaseState::ReplacementShipped
                    | CaseState::RepairedAndReturned
                    | CaseState::Inspected { passed: false, .. }
            )
        })?;
        out.emit(Change::CaseClosed { case });
        out.set_deadline(DeadlineKind::CaseFollowUp(case), Some(after(out.now, self.config.follow_up_after)));
        tell_buyer(order, out, case, CaseUpdateState::Closed, String::new());
        Ok(())
    }
}

/// Units of a line that can still go into a case: delivered (or, once completed, shipped)
/// minus the units held by other cases.
pub(crate) fn claimable_units(order: &Order, line: LineId) -> u32 {
    let received = if order.completion.is_some() {
        order.fulfilment.shipped_quantity(line)
    } else {
        order.fulfilment.delivered_quantity(line)
    };
    let held: u32 = order.cases.iter().filter(|c| c.holds_units()).map(|c| c.quantity_of(line)).sum();
    received.saturating_sub(held)
}

fn case_units<'a>(order: &'a Order, case: &'a Case) -> impl Iterator<Item = (&'a crate::placement::Line, u32)> + 'a {
    case.request.lines.iter().filter_map(|part| order.line(part.line).map(|l| (l, part.quantity)))
}

/// The case, if it exists and `allowed` says its state permits `command`.
fn expect(order: &Order, case: CaseId, command: CommandKind, allowed: impl Fn(&Case) -> bool) -> Result<&Case, Error> {
    let c = order.case(case).ok_or(Error::UnknownCase(case))?;
    if allowed(c) { Ok(c) } else { Err(Error::CaseState { case, state: c.state.name(), command }) }
}

fn tell_buyer(order: &Order, out: &mut Out<'_>, case: CaseId, state: CaseUpdateState, detail: String) {
    out.notify_buyer(order, NotificationKind::CaseUpdate { case, state, detail });
}

/// A tracking update for the buyer's return parcel of a case.
pub(crate) fn return_tracking(
    order: &Order,
    out: &mut Out<'_>,
    waybill: &str,
    update: &TrackingUpdate,
) -> Result<(), Error> {
    let case = order
        .cases
        .iter()
        .find(|c| c.return_waybill.as_deref() == Some(waybill.trimmed()))
        .ok_or_else(|| Error::UnknownWaybill(waybill.into()))?;
    out.emit(Change::ReturnTrackingRecorded { case: case.id, update: update.clone() });
    Ok(())
}

// Applying its events (`evolve`).

pub(crate) fn case_opened(order: &mut Order, case: &Case) {
    order.cases.push(case.clone());
}

pub(crate) fn case_approved(order: &mut Order, id: CaseId) {
    answer(order, id, |case| {
        case.state = if case.request.kind.returns_goods() { CaseState::AwaitingReturn } else { CaseState::Approved };
    });
}

pub(crate) fn case_rejected(order: &mut Order, id: CaseId, reason: &str) {
    answer(order, id, |case| case.state = CaseState::Rejected { reason: reason.to_owned() });
}

pub(crate) fn case_withdrawn(order: &mut Order, id: CaseId) {
    answer(order, id, |case| case.state = CaseState::Withdrawn);
}

pub(crate) fn return_parcel_recorded(order: &mut Order, id: CaseId, waybill: &str) {
    answer(order, id, |case| case.return_waybill = Some(waybill.to_owned()));
}

pub(crate) fn return_tracking_recorded(order: &mut Order, id: CaseId, update: &TrackingUpdate) {
    answer(order, id, |case| {
        if !case.return_tracking.iter().any(|t| t.same_event(update)) {
            let i = case.return_tracking.partition_point(|t| t.at <= update.at);
            case.return_tracking.insert(i, update.clone());
        }
    });
}

pub(crate) fn return_received(order: &mut Order, id: CaseId) {
    answer(order, id, |case| case.state = CaseState::Received);
}

pub(crate) fn return_inspected(order: &mut Order, id: CaseId, passed: bool, note: &str) {
    answer(order, id, |case| case.state = CaseState::Inspected { passed, note: note.to_owned() });
}

/// The replacement parcel joins the order's packages (marked as the case's), even before its
/// case is found.
pub(crate) fn replacement_packed(
    order: &mut Order,
    id: CaseId,
    package: PackageId,
    items: &[PackageItem],
    at: DateTime<Utc>,
) {
    let mut parcel = crate::order::Package::packed(package, items.to_vec(), at);
    parcel.case = Some(id);
    order.fulfilment.packages.push(parcel);
    answer(order, id, |case| case.replacement = Some(package));
}

pub(crate) fn repair_returned(order: &mut Order, id: CaseId, waybill: &str) {
    answer(order, id, |case| {
        case.state = CaseState::RepairedAndReturned;
        case.repair_waybill = Some(waybill.to_owned());
    });
}

pub(crate) fn case_assigned(order: &mut Order, id: CaseId, assignee: &StaffId) {
    answer(order, id, |case| case.state = CaseState::InProgress { assignee: assignee.clone() });
}

pub(crate) fn case_resolved(order: &mut Order, id: CaseId, resolution: &str) {
    answer(order, id, |case| case.state = CaseState::Resolved { resolution: resolution.to_owned() });
}

pub(crate) fn case_closed(order: &mut Order, id: CaseId) {
    answer(order, id, |case| case.state = CaseState::Closed);
}

pub(crate) fn case_escalated(order: &mut Order, id: CaseId) {
    answer(order, id, |case| case.escalated = true);
}

/// A fired follow-up is cleared (it is not an answer: the SLA clock is not touched).
pub(crate) fn case_follow_up_due(order: &mut Order, id: CaseId) {
    if order.case(id).is_some() {
        order.deadlines.set(DeadlineKind::CaseFollowUp(id), None);
    }
}

pub(crate) fn case_follow_up_recorded(order: &mut Order, id: CaseId, score: u8) {
    answer(order, id, |case| case.follow_up_score = Some(score));
    case_follow_up_due(order, id);
}

/// A case's refund is a case event and a money event: the case is refunded, and the refund goes
/// to the ledger like any other (neither, for a case the order does not have).
pub(crate) fn case_refund_requested(order: &mut Order, id: CaseId, refund: &Refund) {
    let Some(case) = order.cases.iter_mut().find(|c| c.id == id) else { return };
    case.state = CaseState::Refunded;
    case.refund = Some(refund.id);
    refund_requested(order, refund);
}

/// Applies an answer to case `id` (an event for a case the order does not have changes
/// nothing). Any answer stops the case's SLA clock.
fn answer(order: &mut Order, id: CaseId, apply: impl FnOnce(&mut Case)) {
    let Some(case) = order.cases.iter_mut().find(|c| c.id == id) else { return };
    apply(case);
    order.deadlines.set(DeadlineKind::CaseSla(id), None);
}
