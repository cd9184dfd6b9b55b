//! Completion: receipt confirmed by the buyer or automatically, which opens the after-sales
//! window and schedules the satisfaction follow-up; then the window's end and the follow-up.

use chrono::{DateTime, Utc};

use super::shared::{Out, invalid};
use crate::decide::{Workflow, after};
use crate::effect::{Audience, NotificationKind};
use crate::error::Error;
use crate::event::Change;
use crate::order::{DeadlineKind, Order};
use crate::text::Trim;

// Deciding.

impl Workflow {
    /// Receipt confirmed: by the buyer (`automatic` false) or by the auto-confirm deadline.
    pub(crate) fn complete(&self, order: &Order, out: &mut Out<'_>, automatic: bool) {
        out.emit(Change::ReceiptConfirmed { automatic });
        out.notify_buyer(order, NotificationKind::Completed);
        out.set_deadline(DeadlineKind::AfterSalesWindow, Some(after(out.now, self.config.after_sales_window)));
        out.set_deadline(DeadlineKind::FollowUp, Some(after(out.now, self.config.follow_up_after)));
    }
}

/// The after-sales window deadline fired.
pub(crate) fn close_after_sales(out: &mut Out<'_>) {
    out.emit(Change::AfterSalesWindowClosed);
}

/// The follow-up deadline fired: customer service is asked to contact the buyer.
pub(crate) fn fire_follow_up(order: &Order, out: &mut Out<'_>) {
    out.emit(Change::FollowUpDue);
    out.notify_to(
        Audience::CustomerService,
        &order.number,
        NotificationKind::FollowUpDue { customer: order.customer.clone() },
    );
}

pub(crate) fn record_follow_up(out: &mut Out<'_>, score: u8, notes: &str) -> Result<(), Error> {
    if !(1..=5).contains(&score) {
        return Err(invalid("score", "satisfaction score must be between 1 and 5"));
    }
    out.emit(Change::FollowUpRecorded { score, notes: notes.trimmed().to_owned() });
    Ok(())
}

// Applying its events (`evolve`).

pub(crate) fn receipt_confirmed(order: &mut Order, automatic: bool, now: DateTime<Utc>) {
    order.completion = Some(crate::order::Completion { at: now, automatic });
    order.deadlines.auto_confirm_at = None;
}

pub(crate) fn after_sales_window_closed(order: &mut Order) {
    order.deadlines.after_sales_until = None;
}

pub(crate) fn follow_up_due(order: &mut Order, now: DateTime<Utc>) {
    order.deadlines.follow_up_at = None;
    order.follow_ups.push(crate::order::FollowUp { due_at: now, score: None, notes: String::new() });
}

/// A recorded follow-up answers the latest one still open (or stands alone if none is).
pub(crate) fn follow_up_recorded(order: &mut Order, score: u8, notes: &str, now: DateTime<Utc>) {
    match order.follow_ups.iter_mut().rev().find(|f| f.score.is_none()) {
        Some(f) => {
            f.score = Some(score);
            f.notes = notes.to_owned();
        }
        None => {
            order.follow_ups.push(crate::order::FollowUp { due_at: now, score: Some(score), notes: notes.to_owned() })
        }
    }
}
