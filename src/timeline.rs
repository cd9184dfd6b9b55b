//! Two readings of one event history: the buyer's timeline (what a buyer cares about, in
//! their words) and the staff view (everything, with who did it and why).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::event::{Change, Event};
use crate::ids::PackageId;
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
            Change::PaymentCaptured { txn_id, amount } => Some(entry(
                "Payment received",
                if staff { format!("{amount} (transaction {txn_id})") } else { amount.to_string() },
            )),
            Change::PaymentAnomalyRecorded { txn_id, amount, reason } => {
                staff.then(|| entry("Payment anomaly", format!("{amount} (transaction {txn_id}): {reason}")))
            }
            Change::RefundRequested { refund } => {
                let done = matches!(refund.status, RefundStatus::Completed { .. });
                let title = if done { "Refunded" } else { "Refund requested" };
                Some(entry(title, format!("{} ({})", refund.amount, refund.reason)))
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
                carriers.insert(*package, carrier.clone());
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
    out
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
