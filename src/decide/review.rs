//! Review: a new order is approved, held (for reasons, some of which need the buyer) until the
//! hold is resolved, or rejected, which ends the order.

use super::cancellation::{order_cancelled, wind_down};
use super::shared::{Out, invalid, required};
use crate::command::CommandKind;
use crate::effect::NotificationKind;
use crate::error::Error;
use crate::event::{Change, Event};
use crate::order::{HoldReason, Order, ReviewState};
use crate::text::Trim;

// Deciding.

pub(super) fn approve(order: &Order, out: &mut Out<'_>, note: &str) -> Result<(), Error> {
    if !order.review.awaits_decision() {
        return Err(Error::IllegalTransition { command: CommandKind::Approve, status: order.status() });
    }
    out.emit(Change::ReviewApproved { note: note.trimmed().to_owned() });
    Ok(())
}

pub(super) fn hold(order: &Order, out: &mut Out<'_>, reasons: &[HoldReason], note: &str) -> Result<(), Error> {
    if reasons.is_empty() {
        return Err(invalid("reasons", "give at least one reason to hold the order"));
    }
    if reasons.iter().any(HoldReason::needs_buyer) {
        out.notify_buyer(order, NotificationKind::NeedsBuyerContact { reasons: reasons.to_vec() });
    }
    out.emit(Change::ReviewHeld { reasons: reasons.to_vec(), note: note.trimmed().to_owned() });
    Ok(())
}

pub(super) fn resolve_hold(out: &mut Out<'_>, contact_note: &str) -> Result<(), Error> {
    required("contact_note", contact_note)?;
    out.emit(Change::HoldResolved { contact_note: contact_note.trimmed().to_owned() });
    Ok(())
}

pub(super) fn reject(order: &Order, out: &mut Out<'_>, reason: &str) -> Result<(), Error> {
    required("reason", reason)?;
    out.emit(Change::ReviewRejected { reason: reason.trimmed().to_owned() });
    wind_down(order, out, reason.trimmed())
}

// Applying its events (`evolve`).

pub(super) fn review_approved(order: &mut Order) {
    order.review = ReviewState::Approved;
}

/// Holding a held order adds the new reasons to the ones it already has.
pub(super) fn review_held(order: &mut Order, reasons: &[HoldReason]) {
    let mut all = match &order.review {
        ReviewState::OnHold { reasons } => reasons.clone(),
        _ => Vec::new(),
    };
    for r in reasons {
        if !all.contains(r) {
            all.push(r.clone());
        }
    }
    order.review = ReviewState::OnHold { reasons: all };
}

pub(super) fn hold_resolved(order: &mut Order, contact_note: &str) {
    order.review = ReviewState::HoldResolved { contact_note: contact_note.to_owned() };
}

/// A rejected order is also a cancelled one.
pub(super) fn review_rejected(order: &mut Order, event: &Event, reason: &str) {
    order.review = ReviewState::Rejected { reason: reason.to_owned() };
    order_cancelled(order, event, reason);
}
