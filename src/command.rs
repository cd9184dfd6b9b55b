//! Commands: what an actor asks the workflow to do to an existing order.
//!
//! Placement is not a command on an order (there is no order yet); it is
//! [`crate::Workflow::place`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::ids::{CaseId, PackageId, RefundId, StaffId};
use crate::money::Money;
use crate::order::{
    AnomalyReason, CaseRequest, DeadlineKind, HoldReason, LineRefund, PackageItem, RefundFailure, ScannedItem,
    TrackingUpdate,
};

/// A command: who asks, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Who asks. Checked against the permission table before anything else.
    pub actor: Actor,
    /// What they ask.
    pub action: Action,
}

impl Command {
    /// A command by `actor`.
    pub fn new(actor: Actor, action: Action) -> Command {
        Command { actor, action }
    }
}

/// What can be done to an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Reviewer: the order may be fulfilled.
    Approve {
        /// Optional remark.
        #[serde(default)]
        note: String,
    },
    /// Reviewer or customer service: hold the order for the given reasons.
    Hold {
        /// At least one reason.
        reasons: Vec<HoldReason>,
        /// Remark for colleagues.
        #[serde(default)]
        note: String,
    },
    /// Reviewer or customer service: the hold was sorted out with the buyer.
    ResolveHold {
        /// How the buyer was contacted and what was agreed (required).
        contact_note: String,
    },
    /// Reviewer: the order will not be fulfilled. Refunds what was paid, releases stock.
    Reject {
        /// Why (required; the buyer is told).
        reason: String,
    },
    /// Buyer, customer service or system: a payment session is being opened with `provider`
    /// (the one chosen at placement, or another the buyer switched to at the payment page).
    /// Recorded before the provider is asked to create it, so every session that may take
    /// money is known to the order: a capture closes the others, cancellation closes them all
    /// and reconciliation asks each. Opening a provider's session again records nothing.
    OpenPaymentSession {
        /// The provider whose session is opened.
        provider: String,
    },
    /// Payment provider (verified) or system (after querying the gateway): money captured.
    CapturePayment {
        /// Provider transaction id: the deduplication key.
        txn_id: String,
        /// Amount captured.
        amount: Money,
    },
    /// Payment provider or system: a verified payment that cannot be applied.
    RecordPaymentAnomaly {
        /// Provider transaction id.
        txn_id: String,
        /// Amount reported.
        amount: Money,
        /// Why it cannot be applied.
        reason: AnomalyReason,
    },
    /// Customer service: refund money, split per line and shipping.
    RequestRefund {
        /// Per-line amounts.
        lines: Vec<LineRefund>,
        /// Part of the shipping fee.
        shipping: Money,
        /// Why (required).
        reason: String,
        /// For cash-on-delivery orders: the reference of the manual transfer. Online orders
        /// leave it empty and are refunded through the gateway.
        #[serde(default)]
        manual_reference: Option<String>,
    },
    /// System or payment provider: the gateway confirmed a refund.
    CompleteRefund {
        /// Which refund.
        refund: RefundId,
        /// The provider's reference.
        reference: String,
    },
    /// System or payment provider: the gateway refused a refund.
    FailRefund {
        /// Which refund.
        refund: RefundId,
        /// Why.
        reason: RefundFailure,
    },
    /// Customer service: send back a payment that was received but never applied (a payment
    /// anomaly held for staff, see [`crate::UnappliedPayments::HoldForStaff`]), through the
    /// provider that reported it.
    RefundUnappliedPayment {
        /// The provider transaction of the unapplied payment.
        txn_id: String,
    },
    /// Warehouse: start picking; issues the pick list of everything not yet packed.
    IssuePickList,
    /// Warehouse: pack a parcel, verified against what was scanned.
    Pack {
        /// What the parcel should hold (lines and quantities).
        items: Vec<PackageItem>,
        /// What the packer scanned.
        scanned: Vec<ScannedItem>,
    },
    /// Warehouse: hand a packed parcel to the chosen carrier. The shipment is created with the
    /// carrier afterwards (an effect); its waybill comes back as [`Action::RecordWaybill`].
    BookShipment {
        /// The parcel.
        package: PackageId,
        /// Carrier chosen.
        carrier: String,
        /// Service level chosen.
        service: String,
        /// Why this carrier (from the carrier selector, or the host's own words:
        /// [`crate::carrier_choice::ChoiceReason::stated`]).
        reason: crate::carrier_choice::ChoiceReason,
    },
    /// System, carrier or warehouse: the carrier accepted the parcel under this waybill.
    RecordWaybill {
        /// The parcel.
        package: PackageId,
        /// Waybill (tracking) number.
        waybill: String,
    },
    /// System: the tracking service says a shipped parcel's waybill belongs to another carrier
    /// (a verified push's carrier correction); later polls and subscriptions ask that carrier.
    CorrectCarrier {
        /// Waybill of the shipped parcel.
        waybill: String,
        /// The carrier it really belongs to.
        carrier: String,
    },
    /// Carrier (verified) or system: a tracking update for a waybill of this order.
    RecordTracking {
        /// Waybill.
        waybill: String,
        /// The update.
        update: TrackingUpdate,
    },
    /// Carrier: cash collected at the door (cash-on-delivery orders).
    RecordCodCollected {
        /// Amount collected.
        amount: Money,
    },
    /// Buyer: the goods arrived. Ends the main flow.
    ConfirmReceipt,
    /// Buyer or customer service: cancel before anything ships.
    Cancel {
        /// Why (required).
        reason: String,
    },
    /// System: a stored deadline is due.
    FireDeadline {
        /// Which one.
        kind: DeadlineKind,
    },
    /// Buyer (own order) or customer service: open an after-sales case.
    OpenCase {
        /// What is asked.
        request: CaseRequest,
    },
    /// Customer service: accept a requested case (return kinds then wait for the parcel).
    ApproveCase {
        /// Which case.
        case: CaseId,
    },
    /// Customer service: turn a case down (when requested, or after a failed inspection).
    RejectCase {
        /// Which case.
        case: CaseId,
        /// Why (required; the buyer is told).
        reason: String,
    },
    /// Buyer: take a case back while it is only requested.
    WithdrawCase {
        /// Which case.
        case: CaseId,
    },
    /// Buyer or customer service: the return parcel's waybill.
    RecordReturnParcel {
        /// Which case.
        case: CaseId,
        /// Waybill of the parcel the buyer sent.
        waybill: String,
    },
    /// Warehouse: the return parcel arrived.
    ReceiveReturn {
        /// Which case.
        case: CaseId,
    },
    /// Warehouse: the returned goods were inspected. Passing goods go back into stock.
    InspectReturn {
        /// Which case.
        case: CaseId,
        /// True when they pass.
        passed: bool,
        /// What was found (required when failing).
        #[serde(default)]
        note: String,
    },
    /// Customer service: pay the case's refund (amounts computed from what was paid per line).
    RefundCase {
        /// Which case.
        case: CaseId,
        /// Cash-on-delivery orders: the reference of the manual transfer.
        #[serde(default)]
        manual_reference: Option<String>,
    },
    /// Warehouse: pack the replacement of an exchange, verified against what was scanned; it
    /// then ships like any parcel (book, waybill, tracking).
    PackReplacement {
        /// Which case.
        case: CaseId,
        /// What the packer scanned.
        scanned: Vec<ScannedItem>,
    },
    /// Warehouse: the repaired goods were sent back under this waybill.
    RecordRepairReturned {
        /// Which case.
        case: CaseId,
        /// Waybill.
        waybill: String,
    },
    /// Customer service: take a complaint in hand.
    AssignCase {
        /// Which case.
        case: CaseId,
        /// Who handles it.
        assignee: StaffId,
    },
    /// Customer service: a complaint is resolved; a follow-up visit is scheduled, after which
    /// it closes.
    ResolveCase {
        /// Which case.
        case: CaseId,
        /// How (required).
        resolution: String,
    },
    /// Customer service: close a finished case; a follow-up visit is scheduled.
    CloseCase {
        /// Which case.
        case: CaseId,
    },
    /// Customer service: the outcome of the follow-up visit about a case.
    RecordCaseFollowUp {
        /// Which case.
        case: CaseId,
        /// Satisfaction 1–5.
        score: u8,
        /// Notes.
        #[serde(default)]
        notes: String,
    },
    /// Customer service: the outcome of a follow-up visit.
    RecordFollowUp {
        /// Satisfaction 1–5.
        score: u8,
        /// What the buyer said.
        #[serde(default)]
        notes: String,
    },
}

/// The kind of a command without its data: the key of the transition and permission tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum CommandKind {
    Place,
    Approve,
    Hold,
    ResolveHold,
    Reject,
    OpenPaymentSession,
    CapturePayment,
    RecordPaymentAnomaly,
    RequestRefund,
    CompleteRefund,
    FailRefund,
    RefundUnappliedPayment,
    IssuePickList,
    Pack,
    BookShipment,
    RecordWaybill,
    CorrectCarrier,
    RecordTracking,
    RecordCodCollected,
    ConfirmReceipt,
    Cancel,
    CancelUnpaid,
    AutoConfirm,
    CloseAfterSales,
    FollowUpDue,
    RecordFollowUp,
    OpenCase,
    ApproveCase,
    RejectCase,
    WithdrawCase,
    RecordReturnParcel,
    ReceiveReturn,
    InspectReturn,
    RefundCase,
    PackReplacement,
    RecordRepairReturned,
    AssignCase,
    ResolveCase,
    CloseCase,
    EscalateCase,
    CaseFollowUpDue,
    RecordCaseFollowUp,
}

impl CommandKind {
    /// snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            CommandKind::Place => "place",
            CommandKind::Approve => "approve",
            CommandKind::Hold => "hold",
            CommandKind::ResolveHold => "resolve_hold",
            CommandKind::Reject => "reject",
            CommandKind::OpenPaymentSession => "open_payment_session",
            CommandKind::CapturePayment => "capture_payment",
            CommandKind::RecordPaymentAnomaly => "record_payment_anomaly",
            CommandKind::RequestRefund => "request_refund",
            CommandKind::CompleteRefund => "complete_refund",
            CommandKind::FailRefund => "fail_refund",
            CommandKind::RefundUnappliedPayment => "refund_unapplied_payment",
            CommandKind::IssuePickList => "issue_pick_list",
            CommandKind::Pack => "pack",
            CommandKind::BookShipment => "book_shipment",
            CommandKind::RecordWaybill => "record_waybill",
            CommandKind::CorrectCarrier => "correct_carrier",
            CommandKind::RecordTracking => "record_tracking",
            CommandKind::RecordCodCollected => "record_cod_collected",
            CommandKind::ConfirmReceipt => "confirm_receipt",
            CommandKind::Cancel => "cancel",
            CommandKind::CancelUnpaid => "cancel_unpaid",
            CommandKind::AutoConfirm => "auto_confirm",
            CommandKind::CloseAfterSales => "close_after_sales",
            CommandKind::FollowUpDue => "follow_up_due",
            CommandKind::RecordFollowUp => "record_follow_up",
            CommandKind::OpenCase => "open_case",
            CommandKind::ApproveCase => "approve_case",
            CommandKind::RejectCase => "reject_case",
            CommandKind::WithdrawCase => "withdraw_case",
            CommandKind::RecordReturnParcel => "record_return_parcel",
            CommandKind::ReceiveReturn => "receive_return",
            CommandKind::InspectReturn => "inspect_return",
            CommandKind::RefundCase => "refund_case",
            CommandKind::PackReplacement => "pack_replacement",
            CommandKind::RecordRepairReturned => "record_repair_returned",
            CommandKind::AssignCase => "assign_case",
            CommandKind::ResolveCase => "resolve_case",
            CommandKind::CloseCase => "close_case",
            CommandKind::EscalateCase => "escalate_case",
            CommandKind::CaseFollowUpDue => "case_follow_up_due",
            CommandKind::RecordCaseFollowUp => "record_case_follow_up",
        }
    }
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Action {
    /// The kind of this action.
    pub fn kind(&self) -> CommandKind {
        match self {
            Action::Approve { .. } => CommandKind::Approve,
            Action::Hold { .. } => CommandKind::Hold,
            Action::ResolveHold { .. } => CommandKind::ResolveHold,
            Action::Reject { .. } => CommandKind::Reject,
            Action::OpenPaymentSession { .. } => CommandKind::OpenPaymentSession,
            Action::CapturePayment { .. } => CommandKind::CapturePayment,
            Action::RecordPaymentAnomaly { .. } => CommandKind::RecordPaymentAnomaly,
            Action::RequestRefund { .. } => CommandKind::RequestRefund,
            Action::CompleteRefund { .. } => CommandKind::CompleteRefund,
            Action::FailRefund { .. } => CommandKind::FailRefund,
            Action::RefundUnappliedPayment { .. } => CommandKind::RefundUnappliedPayment,
            Action::IssuePickList => CommandKind::IssuePickList,
            Action::Pack { .. } => CommandKind::Pack,
            Action::BookShipment { .. } => CommandKind::BookShipment,
            Action::RecordWaybill { .. } => CommandKind::RecordWaybill,
            Action::CorrectCarrier { .. } => CommandKind::CorrectCarrier,
            Action::RecordTracking { .. } => CommandKind::RecordTracking,
            Action::RecordCodCollected { .. } => CommandKind::RecordCodCollected,
            Action::ConfirmReceipt => CommandKind::ConfirmReceipt,
            Action::Cancel { .. } => CommandKind::Cancel,
            Action::FireDeadline { kind } => match kind {
                DeadlineKind::PayBy => CommandKind::CancelUnpaid,
                DeadlineKind::AutoConfirm => CommandKind::AutoConfirm,
                DeadlineKind::AfterSalesWindow => CommandKind::CloseAfterSales,
                DeadlineKind::FollowUp => CommandKind::FollowUpDue,
                DeadlineKind::CaseSla(_) => CommandKind::EscalateCase,
                DeadlineKind::CaseFollowUp(_) => CommandKind::CaseFollowUpDue,
                // Polling records tracking: allowed where tracking is.
                DeadlineKind::TrackingPoll => CommandKind::RecordTracking,
            },
            Action::RecordFollowUp { .. } => CommandKind::RecordFollowUp,
            Action::OpenCase { .. } => CommandKind::OpenCase,
            Action::ApproveCase { .. } => CommandKind::ApproveCase,
            Action::RejectCase { .. } => CommandKind::RejectCase,
            Action::WithdrawCase { .. } => CommandKind::WithdrawCase,
            Action::RecordReturnParcel { .. } => CommandKind::RecordReturnParcel,
            Action::ReceiveReturn { .. } => CommandKind::ReceiveReturn,
            Action::InspectReturn { .. } => CommandKind::InspectReturn,
            Action::RefundCase { .. } => CommandKind::RefundCase,
            Action::PackReplacement { .. } => CommandKind::PackReplacement,
            Action::RecordRepairReturned { .. } => CommandKind::RecordRepairReturned,
            Action::AssignCase { .. } => CommandKind::AssignCase,
            Action::ResolveCase { .. } => CommandKind::ResolveCase,
            Action::CloseCase { .. } => CommandKind::CloseCase,
            Action::RecordCaseFollowUp { .. } => CommandKind::RecordCaseFollowUp,
        }
    }
}
