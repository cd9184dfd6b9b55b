//! Two readings of one event history: the buyer's timeline (what a buyer cares about, in
//! their words) and the staff view (everything, with who did it and why).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::{Change, Event};
use crate::ids::{CaseId, PackageId, RefundId};
use crate::order::{HoldReason, RefundStatus};

/// One line of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// Event sequence number.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (staff view only; the buyer's timeline leaves it out).
    pub actor: Option<String>,
    /// What happened, in a few words.
    pub title: String,
    /// Details.
    pub detail: String,
}

impl fmt::Display for TimelineEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  {}", self.at.format("%Y-%m-%d %H:%M"), self.title)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        if let Some(actor) = &self.actor {
            write!(f, "  [{actor}]")?;
        }
        Ok(())
    }
}

fn reasons(reasons: &[HoldReason]) -> String {
    reasons.iter().map(HoldReason::describe).collect::<Vec<_>>().join(", ")
}

/// Reads the history once, remembering carriers per package for later entries.
fn render(events: &[Event], staff: bool) -> Vec<TimelineEntry> {
    let mut carriers: BTreeMap<PackageId, String> = BTreeMap::new();
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        let entry = |title: &str, detail: String| TimelineEntry {
            seq: event.seq,
            at: event.at,
            actor: staff.then(|| event.actor.to_string()),
            title: title.to_owned(),
            detail,
        };
        let item = match &event.change {
            Change::OrderPlaced { number, draft, ship_by, pay_by, .. } => {
                let mut detail = format!(
                    "order {number}, total {}, estimated to ship by {}",
                    draft.totals.total,
                    ship_by.format("%Y-%m-%d %H:%M")
                );
                if let Some(pay_by) = pay_by {
                    detail.push_str(&format!(", please pay by {}", pay_by.format("%Y-%m-%d %H:%M")));
                }
                Some(entry("Order placed", detail))
            }
            Change::ReviewApproved { note } => Some(entry(
                if staff { "Review approved" } else { "Order confirmed" },
                if staff { note.clone() } else { String::new() },
            )),
            Change::ReviewHeld { reasons: why, note } => {
                if staff {
                    Some(entry(
                        "Put on hold",
                        format!(
                            "{}{}",
                            reasons(why),
                            if note.is_empty() { String::new() } else { format!(" ({note})") }
                        ),
                    ))
                } else if why.iter().any(HoldReason::needs_buyer) {
                    Some(entry("We need to talk to you", "our service team will contact you about your order".into()))
                } else {
                    None
                }
            }
            Change::HoldResolved { contact_note } => staff.then(|| entry("Hold resolved", contact_note.clone())),
            Change::ReviewRejected { reason } => {
                Some(entry(if staff { "Review rejected" } else { "Order declined" }, reason.clone()))
            }
            Change::PaymentCaptured { txn_id, amount, .. } => Some(entry(
                "Payment received",
                if staff { format!("{amount} (transaction {txn_id})") } else { amount.to_string() },
            )),
            Change::PaymentAnomalyRecorded { txn_id, amount, reason } => {
                staff.then(|| entry("Payment anomaly", format!("{amount} (transaction {txn_id}): {reason}")))
            }
            Change::RefundRequested { refund } => {
                let done = matches!(refund.status, RefundStatus::Completed { .. });
                let title = if done { "Refunded" } else { "Refund requested" };
                // Why a payment could not be applied is for staff; the buyer learns it goes back.
                let reason = match &refund.unapplied_txn {
                    Some(_) if !staff => "a payment that did not match the order is being returned",
                    _ => refund.reason.as_str(),
                };
                Some(entry(title, format!("{} ({reason})", refund.amount)))
            }
            Change::RefundCompleted { refund, reference } => Some(entry(
                "Refund completed",
                if staff {
                    format!("{refund}, reference {reference}")
                } else {
                    "the money is on its way back to you".into()
                },
            )),
            Change::RefundFailed { refund, reason } => {
                staff.then(|| entry("Refund failed", format!("{refund}: {reason}")))
            }
            Change::PickListIssued { items } => Some(entry(
                if staff { "Pick list issued" } else { "Being prepared" },
                if staff {
                    items
                        .iter()
                        .map(|i| format!("{}× {} {}", i.quantity, i.sku, i.product_name))
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    "the warehouse is picking your goods".into()
                },
            )),
            Change::PackagePacked { package, items } => staff.then(|| {
                entry(
                    "Packed",
                    format!(
                        "{package}: {}",
                        items.iter().map(|i| format!("{}× {}", i.quantity, i.line)).collect::<Vec<_>>().join(", ")
                    ),
                )
            }),
            Change::ShipmentBooked { package, carrier, service, reason } => {
                carriers.insert(*package, carrier.to_string());
                staff.then(|| entry("Carrier chosen", format!("{package}: {carrier} {service} ({reason})")))
            }
            Change::PackageShipped { package, waybill } => {
                let carrier = carriers.get(package).cloned().unwrap_or_default();
                Some(entry("Shipped", format!("parcel {package} with {carrier}, waybill {waybill}")))
            }
            Change::TrackingRecorded { package, update } => {
                let mut detail = format!("{package}: {}", update.kind.describe());
                if !update.location.is_empty() {
                    detail.push_str(&format!(" at {}", update.location));
                }
                if !update.description.is_empty() {
                    detail.push_str(&format!(" ({})", update.description));
                }
                Some(TimelineEntry { at: update.at, ..entry("Tracking update", detail) })
            }
            Change::CodCollected { amount } => Some(entry("Paid at the door", amount.to_string())),
            Change::ReceiptConfirmed { automatic } => Some(entry(
                "Receipt confirmed",
                if *automatic { "confirmed automatically".into() } else { String::new() },
            )),
            Change::OrderCancelled { reason } => Some(entry("Order cancelled", reason.clone())),
            Change::AfterSalesWindowClosed => staff.then(|| entry("After-sales window closed", String::new())),
            Change::FollowUpDue => {
                staff.then(|| entry("Follow-up due", "customer service should visit the buyer".into()))
            }
            Change::FollowUpRecorded { score, notes } => Some(entry(
                if staff { "Follow-up recorded" } else { "Thank you for your feedback" },
                if staff { format!("satisfaction {score}/5 {notes}") } else { format!("you rated us {score}/5") },
            )),
            Change::CaseOpened { case } => {
                let units: Vec<String> =
                    case.request.lines.iter().map(|l| format!("{}× {}", l.quantity, l.line)).collect();
                let mut detail = format!("case {}: {} ({})", case.id, case.request.kind, case.request.reason_code);
                if !units.is_empty() {
                    detail.push_str(&format!(" for {}", units.join(", ")));
                }
                if staff && !case.request.text.is_empty() {
                    detail.push_str(&format!(": {}", case.request.text));
                }
                Some(entry("After-sales request", detail))
            }
            Change::CaseApproved { case } => Some(entry("Request accepted", format!("case {case}"))),
            Change::CaseRejected { case, reason } => Some(entry("Request declined", format!("case {case}: {reason}"))),
            Change::CaseWithdrawn { case } => Some(entry("Request withdrawn", format!("case {case}"))),
            Change::ReturnParcelRecorded { case, waybill } => {
                Some(entry("Return parcel sent", format!("case {case}, waybill {waybill}")))
            }
            Change::ReturnTrackingRecorded { case, update } => Some(TimelineEntry {
                at: update.at,
                ..entry("Return parcel tracking", format!("case {case}: {}", update.kind.describe()))
            }),
            Change::ReturnReceived { case } => Some(entry("Return received", format!("case {case}"))),
            Change::ReturnInspected { case, passed, note } => Some(entry(
                if *passed { "Return inspected: accepted" } else { "Return inspected: not accepted" },
                format!("case {case}{}", if note.is_empty() { String::new() } else { format!(": {note}") }),
            )),
            Change::ReplacementPacked { case, package, .. } => {
                staff.then(|| entry("Replacement packed", format!("case {case}, parcel {package}")))
            }
            Change::RepairReturned { case, waybill } => {
                Some(entry("Repaired goods sent back", format!("case {case}, waybill {waybill}")))
            }
            Change::CaseAssigned { case, assignee } => Some(entry(
                "Being handled",
                if staff { format!("case {case} assigned to {assignee}") } else { format!("case {case}") },
            )),
            Change::CaseResolved { case, resolution } => Some(entry("Resolved", format!("case {case}: {resolution}"))),
            Change::CaseClosed { case } => Some(entry("Case closed", format!("case {case}"))),
            Change::CaseEscalated { case } => staff.then(|| entry("Escalated", format!("case {case}: SLA missed"))),
            Change::CaseFollowUpDue { case } => staff.then(|| entry("Follow-up due", format!("case {case}"))),
            Change::CaseFollowUpRecorded { case, score, notes } => Some(entry(
                if staff { "Follow-up recorded" } else { "Thank you for your feedback" },
                if staff {
                    format!("case {case}: satisfaction {score}/5 {notes}")
                } else {
                    format!("you rated us {score}/5")
                },
            )),
            Change::DeadlineSet { kind, at } => staff.then(|| {
                entry(
                    "Deadline set",
                    match at {
                        Some(at) => format!("{kind} at {}", at.format("%Y-%m-%d %H:%M")),
                        None => format!("{kind} cleared"),
                    },
                )
            }),
        };
        out.extend(item);
    }
    // In the order things happened: a tracking entry carries the carrier's time, and scans are
    // pushed late and out of order. Stable, so entries of equal time keep the history's order.
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
