//! Cancellation: by the buyer or customer service, or by the pay-by deadline; rejection ends an
//! order the same way. Unshipped stock is released and the money received goes back.

use super::payment::{allocate_refund, void_uncollected_cod};
use super::shared::{Out, next_id, required, stock_items};
use crate::effect::{Effect, NotificationKind};
use crate::error::Error;
use crate::event::{Change, Event};
use crate::ids::RefundId;
use crate::order::{CancelReason, Order, Refund, RefundMethod, RefundReason, RefundStatus};
use crate::text::Trim;

// Deciding.

pub(crate) fn cancel(order: &Order, out: &mut Out<'_>, reason: &str) -> Result<(), Error> {
    required("reason", reason)?;
    let reason = CancelReason::stated(reason.trimmed());
    out.emit(Change::OrderCancelled { reason: reason.clone() });
    wind_down(order, out, reason)
}

/// The pay-by deadline fired on an unpaid order.
pub(crate) fn cancel_unpaid(order: &Order, out: &mut Out<'_>) -> Result<(), Error> {
    out.emit(Change::OrderCancelled { reason: CancelReason::NotPaidInTime });
    wind_down(order, out, CancelReason::NotPaidInTime)
}

/// Cancellation and rejection: release stock, close every payment session or refund the
/// payment, tell the buyer.
pub(crate) fn wind_down(order: &Order, out: &mut Out<'_>, reason: CancelReason) -> Result<(), Error> {
    let unshipped = order.lines.iter().map(|l| (l, l.quantity.saturating_sub(order.fulfilment.shipped_quantity(l.id))));
    out.effect(Effect::ReleaseStock { items: stock_items(unshipped) });
    if let Some(provider) = order.payment.provider() {
        if order.payment.outstanding()?.is_positive() {
            // Every session the buyer opened, whichever provider: none may take money now.
            for session in order.payment.session_providers() {
                out.effect(Effect::ClosePayment { provider: session.to_owned() });
            }
        }
        let refundable = order.payment.refundable()?;
        if refundable.is_positive() {
            let (lines, shipping) = allocate_refund(order, refundable)?;
            let id = RefundId(next_id(order.payment.refunds.iter().map(|r| r.id.0)));
            out.emit(Change::RefundRequested {
                refund: Box::new(Refund {
                    id,
                    amount: refundable,
                    lines,
                    shipping,
                    reason: RefundReason::OrderCancelled { reason: reason.clone() },
                    method: RefundMethod::Gateway,
                    status: RefundStatus::Pending,
                    requested_at: out.now,
                    case: None,
                    unapplied_txn: None,
                }),
            });
            out.effect(Effect::Refund { refund: id, amount: refundable, provider: provider.to_owned() });
        }
    }
    out.notify_buyer(order, NotificationKind::Cancelled { reason });
    Ok(())
}

// Applying its events (`evolve`).

/// The order ends: who ended it and why, cash on delivery no longer owed, and no deadline left
/// but the ship-by estimate. Also what a rejection does.
pub(crate) fn order_cancelled(order: &mut Order, event: &Event, reason: &CancelReason) {
    order.cancellation =
        Some(crate::order::Cancellation { at: event.at, by: event.actor.kind(), reason: reason.clone() });
    void_uncollected_cod(order);
    order.deadlines = crate::order::Deadlines { ship_by: order.deadlines.ship_by, ..Default::default() };
}
