//! Two readings of one event history: the buyer's timeline (what a buyer cares about) and the
//! staff view (everything, with who did it and why).
//!
//! An entry says what happened as a [`TimelineMessage`]: a kind with typed parameters, never a
//! sentence. Words come from a [`crate::locale::Catalogue`] when the entry is shown
//! ([`crate::locale::Localizer::entry`]); `title` and `detail` hold the English rendering in
//! UTC, for logs and for hosts that need nothing else.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::carrier_choice::ChoiceReason;
use crate::event::{Change, Event};
use crate::ids::{CaseId, LineId, PackageId, RefundId, Sku, StaffId};
use crate::locale::{English, Localizer};
use crate::money::Money;
use crate::order::{
    AnomalyReason, CancelReason, CaseKind, DeadlineKind, HoldReason, RefundFailure, RefundReason, RefundStatus,
    TrackingKind,
};
use crate::order_number::OrderNumber;
use crate::text::Text;

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// Event sequence number.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (staff view only; the buyer's timeline leaves it out).
    pub actor: Option<String>,
    /// What happened: its kind and typed parameters, for any catalogue to put into words.
    pub message: TimelineMessage,
    /// What happened, in a few English words (the [`English`] catalogue's title).
    pub title: String,
    /// Details in English, times in UTC (the [`English`] catalogue's text).
    pub detail: String,
}

impl fmt::Display for TimelineEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Localizer::new(English).entry(self))
    }
}

/// Units of one order line (in a parcel or a case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineUnits {
    /// Units.
    pub quantity: u32,
    /// The order line.
    pub line: LineId,
}

/// Units of one product to pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PickedUnits {
    /// Units.
    pub quantity: u32,
    /// SKU.
    pub sku: Sku,
    /// Product name.
    pub product_name: Text,
}

/// What a timeline entry says: one kind per thing that can happen, with what it needs to be
/// put into words. Buyer and staff readings of one event are separate kinds where they say
/// different things (`OrderConfirmed` for the buyer, `ReviewApproved` for staff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "message", rename_all = "snake_case")]
pub enum TimelineMessage {
    /// The order was placed.
    OrderPlaced {
        /// Its number.
        number: OrderNumber,
        /// Total due.
        total: Money,
        /// Estimated ship time.
        ship_by: DateTime<Utc>,
        /// Pay by then (online payment only).
        pay_by: Option<DateTime<Utc>>,
    },
    /// The buyer's reading of an approval.
    OrderConfirmed,
    /// Review approved (staff).
    ReviewApproved {
        /// The reviewer's remark.
        note: String,
    },
    /// Put on hold (staff).
    PutOnHold {
        /// Why.
        reasons: Vec<HoldReason>,
        /// The remark.
        note: String,
    },
    /// The buyer's reading of a hold that needs them.
    NeedsBuyerContact,
    /// Hold resolved (staff).
    HoldResolved {
        /// How the buyer was contacted.
        note: String,
    },
    /// Review rejected (staff).
    ReviewRejected {
        /// Why.
        reason: String,
    },
    /// The buyer's reading of a rejection.
    OrderDeclined {
        /// Why.
        reason: String,
    },
    /// A payment session was opened with a provider (staff): the buyer may pay through it.
    PaymentSessionOpened {
        /// The provider.
        provider: String,
    },
    /// Money captured.
    PaymentReceived {
        /// Amount.
        amount: Money,
        /// The provider's transaction (staff only).
        txn_id: Option<String>,
    },
    /// A payment that could not be applied (staff).
    PaymentAnomaly {
        /// The provider's transaction.
        txn_id: String,
        /// Amount.
        amount: Money,
        /// Why it was not applied.
        reason: AnomalyReason,
    },
    /// A refund was requested (or made at once).
    RefundRequested {
        /// Amount.
        amount: Money,
        /// True when it completed at once (manual refunds).
        completed: bool,
        /// Why.
        reason: RefundReason,
    },
    /// A refund went through.
    RefundCompleted {
        /// Which.
        refund: RefundId,
        /// The provider's reference (staff only).
        reference: Option<String>,
    },
    /// A refund was refused by the provider (staff).
    RefundFailed {
        /// Which.
        refund: RefundId,
        /// Why.
        reason: RefundFailure,
    },
    /// Pick list issued (staff).
    PickListIssued {
        /// What to pick.
        items: Vec<PickedUnits>,
    },
    /// The buyer's reading of a pick list.
    BeingPrepared,
    /// A parcel was packed (staff).
    Packed {
        /// Which parcel.
        package: PackageId,
        /// What it holds.
        items: Vec<LineUnits>,
    },
    /// A carrier was chosen (staff).
    CarrierChosen {
        /// Which parcel.
        package: PackageId,
        /// Carrier.
        carrier: Text,
        /// Service level.
        service: Text,
        /// Why this carrier.
        reason: ChoiceReason,
    },
    /// The tracking service corrected a shipped parcel's carrier (staff).
    CarrierCorrected {
        /// Which parcel.
        package: PackageId,
        /// The carrier the waybill really belongs to.
        carrier: Text,
    },
    /// A parcel left with its carrier.
    Shipped {
        /// Which parcel.
        package: PackageId,
        /// Carrier (empty when unknown).
        carrier: String,
        /// Waybill.
        waybill: Text,
    },
    /// A tracking update of a parcel.
    TrackingUpdate {
        /// Which parcel.
        package: PackageId,
        /// Normalized kind.
        tracking: TrackingKind,
        /// Where (may be empty).
        location: Text,
        /// The carrier's words (may be empty).
        description: Text,
    },
    /// Cash collected at the door.
    CodCollected {
        /// Amount.
        amount: Money,
    },
    /// Receipt confirmed.
    ReceiptConfirmed {
        /// By the system after the deadline.
        automatic: bool,
    },
    /// The order was cancelled.
    OrderCancelled {
        /// Why.
        reason: CancelReason,
    },
    /// The after-sales window closed (staff).
    AfterSalesWindowClosed,
    /// A follow-up visit fell due (staff).
    FollowUpDue,
    /// A follow-up was recorded (staff).
    FollowUpRecorded {
        /// Satisfaction 1–5.
        score: u8,
        /// What the buyer said.
        notes: String,
    },
    /// The buyer's reading of a recorded follow-up (of the order or of a case).
    FeedbackThanks {
        /// Their score 1–5.
        score: u8,
    },
    /// An after-sales request was opened.
    CaseOpened {
        /// Which case.
        case: CaseId,
        /// What is asked for.
        kind: CaseKind,
        /// Machine-readable reason (`damaged`, `wrong_item`, ...).
        reason_code: String,
        /// Units concerned.
        units: Vec<LineUnits>,
        /// The buyer's words (staff only).
        text: Option<String>,
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
    ReturnParcelSent {
        /// Which case.
        case: CaseId,
        /// Waybill.
        waybill: String,
    },
    /// A tracking update of a return parcel.
    ReturnTracking {
        /// Which case.
        case: CaseId,
        /// Normalized kind.
        tracking: TrackingKind,
    },
    /// The return parcel arrived.
    ReturnReceived {
        /// Which case.
        case: CaseId,
    },
    /// Returned goods were inspected.
    ReturnInspected {
        /// Which case.
        case: CaseId,
        /// Accepted?
        passed: bool,
        /// Findings (may be empty).
        note: String,
    },
    /// A replacement parcel was packed (staff).
    ReplacementPacked {
        /// Which case.
        case: CaseId,
        /// The new parcel.
        package: PackageId,
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
        /// Who (staff only).
        assignee: Option<StaffId>,
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
    /// A case missed its answer time (staff).
    CaseEscalated {
        /// Which.
        case: CaseId,
    },
    /// A case's follow-up visit fell due (staff).
    CaseFollowUpDue {
        /// Which.
        case: CaseId,
    },
    /// A case's follow-up was recorded (staff).
    CaseFollowUpRecorded {
        /// Which case.
        case: CaseId,
        /// Satisfaction 1–5.
        score: u8,
        /// What the buyer said.
        notes: String,
    },
    /// A deadline was set or cleared (staff).
    DeadlineSet {
        /// Which.
        kind: DeadlineKind,
        /// When; `None` when cleared.
        at: Option<DateTime<Utc>>,
    },
}

impl TimelineMessage {
    /// Every kind's name, in declaration order: what a catalogue must put into words.
    pub const KINDS: &'static [&'static str] = &[
        "order_placed",
        "order_confirmed",
        "review_approved",
        "put_on_hold",
        "needs_buyer_contact",
        "hold_resolved",
        "review_rejected",
        "order_declined",
        "payment_session_opened",
        "payment_received",
        "payment_anomaly",
        "refund_requested",
        "refund_completed",
        "refund_failed",
        "pick_list_issued",
        "being_prepared",
        "packed",
        "carrier_chosen",
        "carrier_corrected",
        "shipped",
        "tracking_update",
        "cod_collected",
        "receipt_confirmed",
        "order_cancelled",
        "after_sales_window_closed",
        "follow_up_due",
        "follow_up_recorded",
        "feedback_thanks",
        "case_opened",
        "case_approved",
        "case_rejected",
        "case_withdrawn",
        "return_parcel_sent",
        "return_tracking",
        "return_received",
        "return_inspected",
        "replacement_packed",
        "repair_returned",
        "case_assigned",
        "case_resolved",
        "case_closed",
        "case_escalated",
        "case_follow_up_due",
        "case_follow_up_recorded",
        "deadline_set",
    ];

    /// The kind's snake_case name (one of [`TimelineMessage::KINDS`]).
    pub fn kind(&self) -> &'static str {
        use TimelineMessage as M;
        match self {
            M::OrderPlaced { .. } => "order_placed",
            M::OrderConfirmed => "order_confirmed",
            M::ReviewApproved { .. } => "review_approved",
            M::PutOnHold { .. } => "put_on_hold",
            M::NeedsBuyerContact => "needs_buyer_contact",
            M::HoldResolved { .. } => "hold_resolved",
            M::ReviewRejected { .. } => "review_rejected",
            M::OrderDeclined { .. } => "order_declined",
            M::PaymentSessionOpened { .. } => "payment_session_opened",
            M::PaymentReceived { .. } => "payment_received",
            M::PaymentAnomaly { .. } => "payment_anomaly",
            M::RefundRequested { .. } => "refund_requested",
            M::RefundCompleted { .. } => "refund_completed",
            M::RefundFailed { .. } => "refund_failed",
            M::PickListIssued { .. } => "pick_list_issued",
            M::BeingPrepared => "being_prepared",
            M::Packed { .. } => "packed",
            M::CarrierChosen { .. } => "carrier_chosen",
            M::CarrierCorrected { .. } => "carrier_corrected",
            M::Shipped { .. } => "shipped",
            M::TrackingUpdate { .. } => "tracking_update",
            M::CodCollected { .. } => "cod_collected",
            M::ReceiptConfirmed { .. } => "receipt_confirmed",
            M::OrderCancelled { .. } => "order_cancelled",
            M::AfterSalesWindowClosed => "after_sales_window_closed",
            M::FollowUpDue => "follow_up_due",
            M::FollowUpRecorded { .. } => "follow_up_recorded",
            M::FeedbackThanks { .. } => "feedback_thanks",
            M::CaseOpened { .. } => "case_opened",
            M::CaseApproved { .. } => "case_approved",
            M::CaseRejected { .. } => "case_rejected",
            M::CaseWithdrawn { .. } => "case_withdrawn",
            M::ReturnParcelSent { .. } => "return_parcel_sent",
            M::ReturnTracking { .. } => "return_tracking",
            M::ReturnReceived { .. } => "return_received",
            M::ReturnInspected { .. } => "return_inspected",
            M::ReplacementPacked { .. } => "replacement_packed",
            M::RepairReturned { .. } => "repair_returned",
            M::CaseAssigned { .. } => "case_assigned",
            M::CaseResolved { .. } => "case_resolved",
            M::CaseClosed { .. } => "case_closed",
            M::CaseEscalated { .. } => "case_escalated",
            M::CaseFollowUpDue { .. } => "case_follow_up_due",
            M::CaseFollowUpRecorded { .. } => "case_follow_up_recorded",
            M::DeadlineSet { .. } => "deadline_set",
        }
    }
}

fn units(items: impl IntoIterator<Item = (u32, LineId)>) -> Vec<LineUnits> {
    items.into_iter().map(|(quantity, line)| LineUnits { quantity, line }).collect()
}

/// What one event says to the buyer (`staff == false`) or to staff; `None` when it says
/// nothing to them. `carriers` remembers each parcel's carrier for its shipping entry.
fn message(change: &Change, staff: bool, carriers: &mut BTreeMap<PackageId, String>) -> Option<TimelineMessage> {
    use TimelineMessage as M;
    let staff_only = |m: M| staff.then_some(m);
    let said = |text: &String| staff.then(|| text.clone());
    Some(match change {
        Change::OrderPlaced { number, draft, ship_by, pay_by, .. } => {
            M::OrderPlaced { number: *number, total: draft.totals.total, ship_by: *ship_by, pay_by: *pay_by }
        }
        Change::ReviewApproved { note } if staff => M::ReviewApproved { note: note.clone() },
        Change::ReviewApproved { .. } => M::OrderConfirmed,
        Change::ReviewHeld { reasons, note } if staff => M::PutOnHold { reasons: reasons.clone(), note: note.clone() },
        Change::ReviewHeld { reasons, .. } => {
            return reasons.iter().any(HoldReason::needs_buyer).then_some(M::NeedsBuyerContact);
        }
        Change::HoldResolved { contact_note } => return staff_only(M::HoldResolved { note: contact_note.clone() }),
        Change::ReviewRejected { reason } if staff => M::ReviewRejected { reason: reason.clone() },
        Change::ReviewRejected { reason } => M::OrderDeclined { reason: reason.clone() },
        Change::PaymentSessionOpened { provider } => {
            return staff_only(M::PaymentSessionOpened { provider: provider.clone() });
        }
        Change::PaymentCaptured { txn_id, amount, .. } => M::PaymentReceived { amount: *amount, txn_id: said(txn_id) },
        Change::PaymentAnomalyRecorded { txn_id, amount, reason } => {
            return staff_only(M::PaymentAnomaly { txn_id: txn_id.clone(), amount: *amount, reason: reason.clone() });
        }
        Change::RefundRequested { refund } => {
            let completed = matches!(refund.status, RefundStatus::Completed { .. });
            M::RefundRequested { amount: refund.amount, completed, reason: refund.reason.clone() }
        }
        Change::RefundCompleted { refund, reference } => {
            M::RefundCompleted { refund: *refund, reference: said(reference) }
        }
        Change::RefundFailed { refund, reason } => {
            return staff_only(M::RefundFailed { refund: *refund, reason: reason.clone() });
        }
        Change::PickListIssued { items } if staff => M::PickListIssued {
            items: items
                .iter()
                .map(|i| PickedUnits { quantity: i.quantity, sku: i.sku.clone(), product_name: i.product_name.clone() })
                .collect(),
        },
        Change::PickListIssued { .. } => M::BeingPrepared,
        Change::PackagePacked { package, items } => {
            return staff_only(M::Packed {
                package: *package,
                items: units(items.iter().map(|i| (i.quantity, i.line))),
            });
        }
        Change::ShipmentBooked { package, carrier, service, reason } => {
            carriers.insert(*package, carrier.to_string());
            return staff_only(M::CarrierChosen {
                package: *package,
                carrier: carrier.clone(),
                service: service.clone(),
                reason: reason.clone(),
            });
        }
        Change::PackageShipped { package, waybill } => M::Shipped {
            package: *package,
            carrier: carriers.get(package).cloned().unwrap_or_default(),
            waybill: waybill.clone(),
        },
        Change::CarrierCorrected { package, carrier } => {
            carriers.insert(*package, carrier.to_string());
            return staff_only(M::CarrierCorrected { package: *package, carrier: carrier.clone() });
        }
        Change::TrackingRecorded { package, update } => M::TrackingUpdate {
            package: *package,
            tracking: update.kind,
            location: update.location.clone(),
            description: update.description.clone(),
        },
        Change::CodCollected { amount } => M::CodCollected { amount: *amount },
        Change::ReceiptConfirmed { automatic } => M::ReceiptConfirmed { automatic: *automatic },
        Change::OrderCancelled { reason } => M::OrderCancelled { reason: reason.clone() },
        Change::AfterSalesWindowClosed => return staff_only(M::AfterSalesWindowClosed),
        Change::FollowUpDue => return staff_only(M::FollowUpDue),
        Change::FollowUpRecorded { score, notes } if staff => {
            M::FollowUpRecorded { score: *score, notes: notes.clone() }
        }
        Change::FollowUpRecorded { score, .. } | Change::CaseFollowUpRecorded { score, .. } if !staff => {
            M::FeedbackThanks { score: *score }
        }
        Change::CaseOpened { case } => M::CaseOpened {
            case: case.id,
            kind: case.request.kind,
            reason_code: case.request.reason_code.clone(),
            units: units(case.request.lines.iter().map(|l| (l.quantity, l.line))),
            text: (staff && !case.request.text.is_empty()).then(|| case.request.text.clone()),
        },
        Change::CaseApproved { case } => M::CaseApproved { case: *case },
        Change::CaseRejected { case, reason } => M::CaseRejected { case: *case, reason: reason.clone() },
        Change::CaseWithdrawn { case } => M::CaseWithdrawn { case: *case },
        Change::ReturnParcelRecorded { case, waybill } => M::ReturnParcelSent { case: *case, waybill: waybill.clone() },
        Change::ReturnTrackingRecorded { case, update } => M::ReturnTracking { case: *case, tracking: update.kind },
        Change::ReturnReceived { case } => M::ReturnReceived { case: *case },
        Change::ReturnInspected { case, passed, note } => {
            M::ReturnInspected { case: *case, passed: *passed, note: note.clone() }
        }
        Change::ReplacementPacked { case, package, .. } => {
            return staff_only(M::ReplacementPacked { case: *case, package: *package });
        }
        Change::RepairReturned { case, waybill } => M::RepairReturned { case: *case, waybill: waybill.clone() },
        Change::CaseAssigned { case, assignee } => {
            M::CaseAssigned { case: *case, assignee: staff.then(|| assignee.clone()) }
        }
        Change::CaseResolved { case, resolution } => M::CaseResolved { case: *case, resolution: resolution.clone() },
        Change::CaseClosed { case } => M::CaseClosed { case: *case },
        Change::CaseEscalated { case } => return staff_only(M::CaseEscalated { case: *case }),
        Change::CaseFollowUpDue { case } => return staff_only(M::CaseFollowUpDue { case: *case }),
        Change::CaseFollowUpRecorded { case, score, notes } => {
            M::CaseFollowUpRecorded { case: *case, score: *score, notes: notes.clone() }
        }
        Change::FollowUpRecorded { score, .. } => M::FeedbackThanks { score: *score },
        Change::DeadlineSet { kind, at } => return staff_only(M::DeadlineSet { kind: *kind, at: *at }),
    })
}

/// Reads the history once, remembering carriers per package for later entries.
fn render(events: &[Event], staff: bool) -> Vec<TimelineEntry> {
    let english = Localizer::new(English);
    let mut carriers: BTreeMap<PackageId, String> = BTreeMap::new();
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        let Some(message) = message(&event.change, staff, &mut carriers) else { continue };
        // A tracking entry carries the carrier's time.
        let at = match &event.change {
            Change::TrackingRecorded { update, .. } | Change::ReturnTrackingRecorded { update, .. } => update.at,
            _ => event.at,
        };
        let words = english.timeline(&message);
        out.push(TimelineEntry {
            seq: event.seq,
            at,
            actor: staff.then(|| event.actor.to_string()),
            message,
            title: words.title,
            detail: words.body,
        });
    }
    // In the order things happened: scans are pushed late and out of order. Stable, so entries
    // of equal time keep the history's order.
    out.sort_by_key(|entry| entry.at);
    out
}

/// The timeline of one after-sales case (its own events, its refund and its replacement
/// parcel), for the buyer or for staff.
pub fn case_timeline(events: &[Event], case: CaseId, staff: bool) -> Vec<TimelineEntry> {
    let mut parcels: Vec<PackageId> = Vec::new();
    let mut refunds: Vec<RefundId> = Vec::new();
    let mine: Vec<Event> = events
        .iter()
        .filter(|e| {
            match &e.change {
                Change::ReplacementPacked { case: c, package, .. } if *c == case => parcels.push(*package),
                Change::RefundRequested { refund } if refund.case == Some(case) => refunds.push(refund.id),
                _ => {}
            }
            e.change.case() == Some(case)
                || match &e.change {
                    Change::RefundCompleted { refund, .. } | Change::RefundFailed { refund, .. } => {
                        refunds.contains(refund)
                    }
                    Change::ShipmentBooked { package, .. }
                    | Change::PackageShipped { package, .. }
                    | Change::CarrierCorrected { package, .. }
                    | Change::TrackingRecorded { package, .. } => parcels.contains(package),
                    _ => false,
                }
        })
        .cloned()
        .collect();
    render(&mine, staff)
}

/// The buyer-facing timeline: placement with number and estimated ship time, payment,
/// shipping with carrier and waybill, tracking, delivery, completion, cancellations and
/// refunds. Internal steps (pick lists, anomalies, staff names) are left out.
pub fn buyer_timeline(events: &[Event]) -> Vec<TimelineEntry> {
    render(events, false)
}

/// The staff view: every event, with the actor and the reason.
pub fn staff_view(events: &[Event]) -> Vec<TimelineEntry> {
    render(events, true)
}
