//! Why the workflow refused a command. A refused command changes nothing.
//!
//! Each variant says what happened and, in its message, what the caller should do next.

use chrono::{DateTime, Utc};

use crate::actor::ActorKind;
use crate::command::CommandKind;
use crate::ids::{CaseId, LineId, PackageId, RefundId};
use crate::money::{Money, MoneyError};
use crate::order::{CaseKind, DeadlineKind, OrderStatus, PackProblem, PackageState};
use crate::validation::Violations;

/// A refusal from the pure core.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The placement form has problems; every one is listed. Fix the input and resubmit.
    #[error("the order form has problems: {0}")]
    Invalid(#[from] Violations),
    /// One field of a command breaks a rule. Fix the input and retry.
    #[error("{field}: {rule}")]
    InvalidField {
        /// Which field.
        field: &'static str,
        /// The rule it breaks.
        rule: String,
    },
    /// This kind of actor (or staff without the role) may not do this. Use an allowed actor.
    #[error("a {actor} may not {command}; allowed: {allowed}")]
    Forbidden {
        /// Who tried.
        actor: ActorKind,
        /// What.
        command: CommandKind,
        /// Who may.
        allowed: String,
    },
    /// A buyer acted on an order that is not theirs. Hosts should answer "not found".
    #[error("this order belongs to another buyer")]
    NotYourOrder,
    /// The order's status does not allow this command now.
    #[error("cannot {command} an order that is {status}")]
    IllegalTransition {
        /// What was tried.
        command: CommandKind,
        /// The order's status.
        status: OrderStatus,
    },
    /// Fulfilment needs both gates: approved AND (paid OR cash on delivery). Wait for them.
    #[error("not ready to fulfil: review approved = {approved}, paid or cash on delivery = {paid}")]
    NotReadyToFulfil {
        /// Review gate.
        approved: bool,
        /// Payment gate.
        paid: bool,
    },
    /// What was scanned is not what the package should hold. Fix the parcel and scan again.
    #[error("packing refused: {} difference(s) between the parcel and the order: {problems:?}", problems.len())]
    PackMismatch {
        /// Every difference found.
        problems: Vec<PackProblem>,
    },
    /// A payment in a different currency, or for a different amount, than this order expects.
    /// It was not applied; the engine records it as a payment anomaly for staff.
    #[error("payment does not match the order: expected {expected}, received {received}")]
    PaymentMismatch {
        /// What the order expects (its outstanding amount).
        expected: Money,
        /// What arrived.
        received: Money,
    },
    /// A refund above what can be refunded (overall, for a line, or for shipping).
    #[error("refund of {requested} for {scope} exceeds the refundable {refundable}")]
    RefundExceedsRefundable {
        /// `order`, `shipping` or a line id.
        scope: String,
        /// Requested.
        requested: Money,
        /// Still refundable.
        refundable: Money,
    },
    /// Something already left the warehouse: cancellation is over; open an after-sales case
    /// (return or refund) instead.
    #[error("the order has shipped and can no longer be cancelled; open an after-sales case instead")]
    AlreadyShipped,
    /// Receipt can only be confirmed once every line has shipped.
    #[error("nothing to confirm yet: the order has not shipped completely")]
    NotShippedYet,
    /// No such line on this order.
    #[error("order has no line {0}")]
    UnknownLine(LineId),
    /// No such package on this order.
    #[error("order has no package {0}")]
    UnknownPackage(PackageId),
    /// No package of this order carries this waybill.
    #[error("no package of this order has waybill {0:?}")]
    UnknownWaybill(String),
    /// No such refund on this order.
    #[error("order has no refund {0}")]
    UnknownRefund(RefundId),
    /// The package is not in a state that allows this step.
    #[error("package {package} is {state:?}; cannot {command} it")]
    PackageState {
        /// Which package.
        package: PackageId,
        /// Its state.
        state: PackageState,
        /// What was tried.
        command: CommandKind,
    },
    /// The deadline is not set or not due yet; nothing to do (firing again is harmless).
    #[error("the {kind} deadline is not due (due at {due:?})")]
    NotDue {
        /// Which deadline.
        kind: DeadlineKind,
        /// When it is due, if set.
        due: Option<DateTime<Utc>>,
    },
    /// No such after-sales case on this order.
    #[error("order has no case {0}")]
    UnknownCase(CaseId),
    /// The case is not in a state that allows this step.
    #[error("case {case} is {state}; cannot {command} it")]
    CaseState {
        /// Which case.
        case: CaseId,
        /// Its state.
        state: &'static str,
        /// What was tried.
        command: CommandKind,
    },
    /// The request is outside the window that applies (return window, warranty period), or
    /// the goods were not delivered yet.
    #[error("{kind} is not possible now: {why}")]
    OutsideWindow {
        /// What was asked.
        kind: CaseKind,
        /// Why not (the window and when it closed).
        why: String,
    },
    /// More units than were delivered minus those in other cases.
    #[error("line {line}: {requested} unit(s) asked, only {claimable} can still be returned or claimed")]
    TooManyUnits {
        /// The line.
        line: LineId,
        /// Units asked.
        requested: u32,
        /// Units still claimable.
        claimable: u32,
    },
    /// Amount arithmetic failed (mixed currencies or overflow).
    #[error(transparent)]
    Money(#[from] MoneyError),
}

impl Error {
    /// A stable, machine-readable code for this refusal (snake_case, unique across the crate's
    /// errors), for hosts to map and clients to branch on; the message is for people. The
    /// codes are listed in `docs/ERRORS.md`. A code never changes once published.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "invalid_form",
            Error::InvalidField { .. } => "invalid_field",
            Error::Forbidden { .. } => "forbidden",
            Error::NotYourOrder => "not_your_order",
            Error::IllegalTransition { .. } => "illegal_transition",
            Error::NotReadyToFulfil { .. } => "not_ready_to_fulfil",
            Error::PackMismatch { .. } => "pack_mismatch",
            Error::PaymentMismatch { .. } => "payment_mismatch",
            Error::RefundExceedsRefundable { .. } => "refund_exceeds_refundable",
            Error::AlreadyShipped => "already_shipped",
            Error::NotShippedYet => "not_shipped_yet",
            Error::UnknownLine(_) => "unknown_line",
            Error::UnknownPackage(_) => "unknown_package",
            Error::UnknownWaybill(_) => "unknown_waybill",
            Error::UnknownRefund(_) => "unknown_refund",
            Error::PackageState { .. } => "package_state",
            Error::NotDue { .. } => "not_due",
            Error::UnknownCase(_) => "unknown_case",
            Error::CaseState { .. } => "case_state",
            Error::OutsideWindow { .. } => "outside_window",
            Error::TooManyUnits { .. } => "too_many_units",
            Error::Money(e) => match e {
                MoneyError::CurrencyMismatch { .. } => "money_currency_mismatch",
                MoneyError::Overflow => "money_overflow",
                MoneyError::InvalidCurrency(_) => "money_invalid_currency",
            },
        }
    }
}
