//! Events: the facts an order is made of. They are the audit trail (who, when, why) and the
//! source of both timelines; an order is exactly the fold of its events ([`crate::evolve`]).
//!
//! Plain serde: how events are stored (and their schema version) is the stores' business, see
//! `crate::stored`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::carrier_choice::ChoiceReason;
use crate::ids::{CaseId, OrderId, PackageId, RefundId, StaffId};
use crate::money::Money;
use crate::order::{
    AnomalyReason, CancelReason, Case, DeadlineKind, HoldReason, PackageItem, PickItem, Refund, RefundFailure,
    TrackingUpdate,
};
use crate::order_number::OrderNumber;
use crate::placement::OrderDraft;
use crate::text::Text;

/// One recorded fact about an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the order's history, from 1; equals the order's version after applying it.
    pub seq: u64,
    /// When it was decided.
    pub at: DateTime<Utc>,
    /// Who caused it.
    pub actor: Actor,
    /// What happened.
    pub change: Change,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// The order was placed (stage 1).
    OrderPlaced {
        /// Internal id.
        id: OrderId,
        /// Number told to the buyer.
        number: OrderNumber,
        /// The validated form.
        draft: Box<OrderDraft>,
        /// Online only: pay by then or the order is cancelled.
        pay_by: Option<DateTime<Utc>>,
        /// Estimated ship time told to the buyer.
        ship_by: DateTime<Utc>,
    },
    /// Review passed (stage 2).
    ReviewApproved {
        /// Remark.
        note: String,
    },
    /// Held for a person.
    ReviewHeld {
        /// Why.
        reasons: Vec<HoldReason>,
        /// Remark.
        note: String,
    },
    /// The hold was sorted out.
    HoldResolved {
        /// How the buyer was contacted.
        contact_note: String,
    },
    /// Review rejected the order (it is over; money and stock go back).
    ReviewRejected {
        /// Why.
        reason: String,
    },
    /// A payment session was opened with a provider (stage 3): until the order is paid or
    /// ends, that provider may take money for it.
    PaymentSessionOpened {
        /// The provider (the one chosen at placement, or another the buyer switched to).
        provider: String,
    },
    /// Money captured (stage 3).
    PaymentCaptured {
        /// Provider transaction id.
        txn_id: String,
        /// Amount.
        amount: Money,
        /// The provider that reported it, which may differ from the one chosen at placement
        /// (the buyer can switch at the payment page); refunds go back through it. `None` when
        /// the system or staff recorded it (the chosen provider).
        provider: Option<String>,
    },
    /// A verified payment that could not be applied.
    PaymentAnomalyRecorded {
        /// Provider transaction id.
        txn_id: String,
        /// Amount reported.
        amount: Money,
        /// Why it was not applied.
        reason: AnomalyReason,
    },
    /// A refund was requested (pending until the gateway answers; manual ones complete at once).
    RefundRequested {
        /// The refund (boxed: it is the largest payload, and every event would be as large).
        refund: Box<Refund>,
    },
    /// The refund went through.
    RefundCompleted {
        /// Which.
        refund: RefundId,
        /// Provider's reference.
        reference: String,
    },
    /// The refund was refused by the provider.
    RefundFailed {
        /// Which.
        refund: RefundId,
        /// Why.
        reason: RefundFailure,
    },
    /// Picking started (stage 4).
    PickListIssued {
        /// What to pick.
        items: Vec<PickItem>,
    },
    /// A verified parcel was packed.
    PackagePacked {
        /// Which.
        package: PackageId,
        /// What it holds.
        items: Vec<PackageItem>,
    },
    /// A carrier was chosen for a parcel (stage 5).
    ShipmentBooked {
        /// Which parcel.
        package: PackageId,
        /// Carrier.
        carrier: Text,
        /// Service level.
        service: Text,
        /// Why this carrier.
        reason: ChoiceReason,
    },
    /// The carrier took the parcel under a waybill.
    PackageShipped {
        /// Which parcel.
        package: PackageId,
        /// Waybill number.
        waybill: Text,
    },
    /// The tracking service found a shipped parcel's waybill belongs to another carrier than
    /// the one booked; tracking polls and subscriptions ask this carrier from now on.
    CarrierCorrected {
        /// Which parcel.
        package: PackageId,
        /// The carrier the waybill really belongs to.
        carrier: Text,
    },
    /// A tracking update (stage 6).
    TrackingRecorded {
        /// Which parcel.
        package: PackageId,
        /// The update.
        update: TrackingUpdate,
    },
    /// Cash collected at the door.
    CodCollected {
        /// Amount.
        amount: Money,
    },
    /// Receipt confirmed (stage 7): the main flow is over.
    ReceiptConfirmed {
        /// True when confirmed by the system after the deadline.
        automatic: bool,
    },
    /// Cancelled before shipping.
    OrderCancelled {
        /// Why: a kind the system names, or the canceller's words (a plain string before
        /// stored version 3).
        reason: CancelReason,
    },
    /// The after-sales window closed.
    AfterSalesWindowClosed,
    /// A follow-up visit fell due (stage 8).
    FollowUpDue,
    /// A deadline was set or cleared (auto-confirm after shipping or delivery, after-sales
    /// window and follow-up after completion).
    DeadlineSet {
        /// Which.
        kind: DeadlineKind,
        /// When it falls due; `None` clears it.
        at: Option<DateTime<Utc>>,
    },
    /// An after-sales case was opened.
    CaseOpened {
        /// The case as opened.
        case: Box<Case>,
    },
    /// A case was accepted.
    CaseApproved {
        /// Which.
        case: CaseId,
    },
    /// A case was turned down.
    CaseRejected {
        /// Which.
        case: CaseId,
        /// Why.
        reason: String,
    },
    /// The buyer withdrew a case.
    CaseWithdrawn {
        /// Which.
        case: CaseId,
    },
    /// The buyer's return parcel is on its way.
    ReturnParcelRecorded {
        /// Which case.
        case: CaseId,
        /// Waybill.
        waybill: String,
    },
    /// A tracking update of a return parcel.
    ReturnTrackingRecorded {
        /// Which case.
        case: CaseId,
        /// The update.
        update: TrackingUpdate,
    },
    /// The return parcel arrived.
    ReturnReceived {
        /// Which case.
        case: CaseId,
    },
    /// The returned goods were inspected.
    ReturnInspected {
        /// Which case.
        case: CaseId,
        /// Passed?
        passed: bool,
        /// Findings.
        note: String,
    },
    /// A replacement parcel was packed for an exchange.
    ReplacementPacked {
        /// Which case.
        case: CaseId,
        /// The new parcel.
        package: PackageId,
        /// What it holds.
        items: Vec<PackageItem>,
    },
    /// Repaired goods were sent back.
    RepairReturned {
        /// Which case.
        case: CaseId,
        /// Waybill.
        waybill: String,
    },
    /// A complaint was taken in hand.
    CaseAssigned {
        /// Which case.
        case: CaseId,
        /// Who.
        assignee: StaffId,
    },
    /// A complaint was resolved.
    CaseResolved {
        /// Which case.
        case: CaseId,
        /// How.
        resolution: String,
    },
    /// A case was closed.
    CaseClosed {
        /// Which.
        case: CaseId,
    },
    /// A requested case was not answered within the SLA.
    CaseEscalated {
        /// Which.
        case: CaseId,
    },
    /// The follow-up visit about a case fell due.
    CaseFollowUpDue {
        /// Which.
        case: CaseId,
    },
    /// The outcome of the follow-up visit about a case.
    CaseFollowUpRecorded {
        /// Which.
        case: CaseId,
        /// Satisfaction 1–5.
        score: u8,
        /// Notes.
        notes: String,
    },
    /// The outcome of a follow-up visit.
    FollowUpRecorded {
        /// Satisfaction 1–5.
        score: u8,
        /// Notes.
        notes: String,
    },
}

/// `Change::name` and `Change::NAMES` from one list, so the two cannot disagree.
macro_rules! change_names {
    ($($variant:ident => $name:literal,)*) => {
        impl Change {
            /// Every change's snake_case name (its serde tag).
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// The snake_case name of this change (its serde tag; one of [`Change::NAMES`]).
            pub fn name(&self) -> &'static str {
                match self {
                    $(Change::$variant { .. } => $name,)*
                }
            }
        }
    };
}

change_names! {
    OrderPlaced => "order_placed",
    ReviewApproved => "review_approved",
    ReviewHeld => "review_held",
    HoldResolved => "hold_resolved",
    ReviewRejected => "review_rejected",
    PaymentSessionOpened => "payment_session_opened",
    PaymentCaptured => "payment_captured",
    PaymentAnomalyRecorded => "payment_anomaly_recorded",
    RefundRequested => "refund_requested",
    RefundCompleted => "refund_completed",
    RefundFailed => "refund_failed",
    PickListIssued => "pick_list_issued",
    PackagePacked => "package_packed",
    ShipmentBooked => "shipment_booked",
    PackageShipped => "package_shipped",
    CarrierCorrected => "carrier_corrected",
    TrackingRecorded => "tracking_recorded",
    CodCollected => "cod_collected",
    ReceiptConfirmed => "receipt_confirmed",
    OrderCancelled => "order_cancelled",
    AfterSalesWindowClosed => "after_sales_window_closed",
    FollowUpDue => "follow_up_due",
    FollowUpRecorded => "follow_up_recorded",
    DeadlineSet => "deadline_set",
    CaseOpened => "case_opened",
    CaseApproved => "case_approved",
    CaseRejected => "case_rejected",
    CaseWithdrawn => "case_withdrawn",
    ReturnParcelRecorded => "return_parcel_recorded",
    ReturnTrackingRecorded => "return_tracking_recorded",
    ReturnReceived => "return_received",
    ReturnInspected => "return_inspected",
    ReplacementPacked => "replacement_packed",
    RepairReturned => "repair_returned",
    CaseAssigned => "case_assigned",
    CaseResolved => "case_resolved",
    CaseClosed => "case_closed",
    CaseEscalated => "case_escalated",
    CaseFollowUpDue => "case_follow_up_due",
    CaseFollowUpRecorded => "case_follow_up_recorded",
}

impl Change {
    /// The after-sales case this change is about, if any.
    pub fn case(&self) -> Option<CaseId> {
        match self {
            Change::CaseOpened { case } => Some(case.id),
            Change::CaseApproved { case }
            | Change::CaseRejected { case, .. }
            | Change::CaseWithdrawn { case }
            | Change::ReturnParcelRecorded { case, .. }
            | Change::ReturnTrackingRecorded { case, .. }
            | Change::ReturnReceived { case }
            | Change::ReturnInspected { case, .. }
            | Change::ReplacementPacked { case, .. }
            | Change::RepairReturned { case, .. }
            | Change::CaseAssigned { case, .. }
            | Change::CaseResolved { case, .. }
            | Change::CaseClosed { case }
            | Change::CaseEscalated { case }
            | Change::CaseFollowUpDue { case }
            | Change::CaseFollowUpRecorded { case, .. } => Some(*case),
            Change::RefundRequested { refund } => refund.case,
            Change::DeadlineSet { kind: DeadlineKind::CaseSla(case) | DeadlineKind::CaseFollowUp(case), .. } => {
                Some(*case)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Change;

    #[test]
    fn the_names_are_the_serde_tags_of_every_change() {
        // serde names every variant it expects when it meets an unknown one.
        let error = serde_json::from_str::<Change>(r#"{"type":"?"}"#).err().map(|e| e.to_string());
        let message = error.unwrap_or_default();
        let mut tags: Vec<&str> = message.split('`').skip(3).step_by(2).collect();
        let mut names = Change::NAMES.to_vec();
        tags.sort_unstable();
        names.sort_unstable();
        assert!(tags.len() > 30, "variants read from {message:?}");
        assert_eq!(tags, names);
    }
}
