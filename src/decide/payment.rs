//! The payment ledger: captures (one exact payment unless partial captures are allowed), money
//! that cannot be applied (anomalies, sent back), refunds, and cash collected on delivery.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::shared::{Out, invalid, next_id, required};
use crate::actor::Actor;
use crate::config::UnappliedPayments;
use crate::decide::Workflow;
use crate::effect::{Audience, Effect, NotificationKind};
use crate::error::Error;
use crate::event::Change;
use crate::ids::{CaseId, LineId, RefundId};
use crate::money::Money;
use crate::order::{LineRefund, Order, Refund, RefundMethod, RefundStatus};
use crate::placement::PaymentMethod;
use crate::text::Trim;

// Deciding.

impl Workflow {
    pub(super) fn capture(&self, order: &Order, out: &mut Out<'_>, txn_id: &str, amount: Money) -> Result<(), Error> {
        required("txn_id", txn_id)?;
        if !amount.is_positive() {
            return Err(invalid("amount", "a captured amount must be above zero"));
        }
        let outstanding = order.payment.outstanding()?;
        if order.payment.method.is_cod() || amount.currency != order.currency {
            return Err(Error::PaymentMismatch { expected: outstanding, received: amount });
        }
        if order.cancellation.is_some() {
            // Money for an order that no longer exists: keep it on record and send it back.
            out.emit(Change::PaymentCaptured { txn_id: txn_id.to_owned(), amount });
            let reason = "payment arrived after the order was cancelled";
            let provider = order.payment.provider().unwrap_or_default().to_owned();
            send_back(order, out, amount, reason, provider, None);
            out.notify_to(
                Audience::CustomerService,
                &order.number,
                NotificationKind::PaymentAnomaly { txn_id: txn_id.to_owned(), reason: reason.into() },
            );
            return Ok(());
        }
        // One payment settles the order unless partial captures are allowed; never more.
        if amount.minor > outstanding.minor || (!self.config.partial_captures && amount != outstanding) {
            return Err(Error::PaymentMismatch { expected: outstanding, received: amount });
        }
        out.emit(Change::PaymentCaptured { txn_id: txn_id.to_owned(), amount });
        if amount == outstanding {
            out.notify_buyer(order, NotificationKind::Paid { amount: order.totals.total });
        }
        Ok(())
    }

    pub(super) fn record_payment_anomaly(
        &self,
        order: &Order,
        out: &mut Out<'_>,
        txn_id: &str,
        amount: Money,
        reason: &str,
    ) -> Result<(), Error> {
        required("txn_id", txn_id)?;
        out.emit(Change::PaymentAnomalyRecorded { txn_id: txn_id.to_owned(), amount, reason: reason.to_owned() });
        out.notify_to(
            Audience::CustomerService,
            &order.number,
            NotificationKind::PaymentAnomaly { txn_id: txn_id.to_owned(), reason: reason.to_owned() },
        );
        // Money that was not applied is never kept: it goes back unless staff hold it.
        let provider = return_provider(reported_by(out.actor), order);
        if let (UnappliedPayments::Refund, Some(provider)) = (self.config.unapplied_payments, provider)
            && amount.is_positive()
        {
            let why = format!("payment not applied to the order: {reason}");
            send_back(order, out, amount, &why, provider, Some(txn_id.to_owned()));
        }
        Ok(())
    }
}

pub(super) fn refund_unapplied_payment(order: &Order, out: &mut Out<'_>, txn_id: &str) -> Result<(), Error> {
    required("txn_id", txn_id)?;
    let Some(anomaly) = order.payment.unapplied().find(|a| a.txn_id == txn_id.trimmed()) else {
        return Err(invalid("txn_id", "no payment with this transaction id is held unapplied"));
    };
    let Some(provider) = return_provider(&anomaly.provider, order) else {
        return Err(invalid("provider", "no provider is known to send this payment back through"));
    };
    let why = format!("payment not applied to the order: {}", anomaly.reason);
    send_back(order, out, anomaly.amount, &why, provider, Some(anomaly.txn_id.clone()));
    Ok(())
}

/// A refund asked for by staff (`case` `None`) or for an after-sales case, bounded per line,
/// for shipping and in total by what is still refundable. Cash on delivery is refunded by a
/// transfer staff already made (`manual_reference`), online payments through the gateway.
pub(super) fn request_refund(
    order: &Order,
    out: &mut Out<'_>,
    lines: &[LineRefund],
    shipping: Money,
    reason: &str,
    manual_reference: Option<&str>,
    case: Option<CaseId>,
) -> Result<RefundId, Error> {
    required("reason", reason)?;
    let method = match (&order.payment.method, manual_reference.map(str::trim)) {
        (PaymentMethod::CashOnDelivery, Some(reference)) if !reference.is_empty() => {
            RefundMethod::Manual { reference: reference.to_owned() }
        }
        (PaymentMethod::CashOnDelivery, _) => {
            return Err(invalid("manual_reference", "cash-on-delivery refunds need the reference of the transfer"));
        }
        (PaymentMethod::Online { .. }, None) => RefundMethod::Gateway,
        (PaymentMethod::Online { .. }, Some(_)) => {
            return Err(invalid("manual_reference", "online payments are refunded through the gateway"));
        }
    };
    let mut merged: BTreeMap<LineId, Money> = BTreeMap::new();
    for part in lines {
        let line = order.line(part.line).ok_or(Error::UnknownLine(part.line))?;
        if part.amount.is_negative() {
            return Err(invalid("lines", "refund amounts must not be negative"));
        }
        let sum = merged.entry(line.id).or_insert(Money::zero(order.currency));
        *sum = sum.checked_add(part.amount)?;
    }
    if shipping.is_negative() {
        return Err(invalid("shipping", "refund amounts must not be negative"));
    }
    let mut total = shipping.checked_add(Money::zero(order.currency))?;
    for (id, amount) in &merged {
        let line = order.line(*id).ok_or(Error::UnknownLine(*id))?;
        let refundable = line.payable.checked_sub(order.payment.refunded_for_line(*id)?)?;
        if amount.minor > refundable.minor {
            return Err(Error::RefundExceedsRefundable { scope: format!("line {id}"), requested: *amount, refundable });
        }
        total = total.checked_add(*amount)?;
    }
    let shipping_left = order.totals.shipping_fee.checked_sub(order.payment.refunded_shipping()?)?;
    if shipping.minor > shipping_left.minor {
        return Err(Error::RefundExceedsRefundable {
            scope: "shipping".into(),
            requested: shipping,
            refundable: shipping_left,
        });
    }
    if !total.is_positive() {
        return Err(invalid("lines", "a refund must be above zero"));
    }
    let refundable = order.payment.refundable()?;
    if total.minor > refundable.minor {
        return Err(Error::RefundExceedsRefundable { scope: "order".into(), requested: total, refundable });
    }
    let id = RefundId(next_id(order.payment.refunds.iter().map(|r| r.id.0)));
    let manual = matches!(method, RefundMethod::Manual { .. });
    let status = match &method {
        RefundMethod::Manual { reference } => RefundStatus::Completed { reference: reference.clone() },
        RefundMethod::Gateway => RefundStatus::Pending,
    };
    let parts = merged.into_iter().map(|(line, amount)| LineRefund { line, amount }).collect();
    out.emit(Change::RefundRequested {
        refund: Box::new(Refund {
            id,
            amount: total,
            lines: parts,
            shipping,
            reason: reason.trimmed().to_owned(),
            method,
            status,
            requested_at: out.now,
            case,
            unapplied_txn: None,
        }),
    });
    if manual {
        out.notify_buyer(order, NotificationKind::Refunded { amount: total });
    } else {
        let provider = order.payment.provider().unwrap_or_default().to_owned();
        out.effect(Effect::Refund { refund: id, amount: total, provider });
    }
    Ok(id)
}

pub(super) fn complete_refund(
    order: &Order,
    out: &mut Out<'_>,
    refund: RefundId,
    reference: &str,
) -> Result<(), Error> {
    let found = find_refund(order, refund)?;
    if matches!(found.status, RefundStatus::Failed { .. }) {
        return Err(invalid("refund", "this refund already failed; request a new one"));
    }
    out.emit(Change::RefundCompleted { refund, reference: reference.to_owned() });
    out.notify_buyer(order, NotificationKind::Refunded { amount: found.amount });
    Ok(())
}

pub(super) fn fail_refund(order: &Order, out: &mut Out<'_>, refund: RefundId, reason: &str) -> Result<(), Error> {
    let found = find_refund(order, refund)?;
    if matches!(found.status, RefundStatus::Completed { .. }) {
        return Err(invalid("refund", "this refund already completed"));
    }
    out.emit(Change::RefundFailed { refund, reason: reason.to_owned() });
    Ok(())
}

pub(super) fn record_cod_collected(order: &Order, out: &mut Out<'_>, amount: Money) -> Result<(), Error> {
    if !order.payment.method.is_cod() {
        return Err(Error::PaymentMismatch { expected: Money::zero(order.currency), received: amount });
    }
    if amount != order.totals.total {
        return Err(Error::PaymentMismatch { expected: order.totals.total, received: amount });
    }
    out.emit(Change::CodCollected { amount });
    out.notify_buyer(order, NotificationKind::Paid { amount });
    Ok(())
}

/// Sends `amount` back through the gateway as a refund not allocated to lines: a payment for
/// a cancelled order (`unapplied_txn` `None`: it was captured) or a payment that was never
/// applied (`Some`: its transaction id). Decided by the system, whoever reported the money.
fn send_back(
    order: &Order,
    out: &mut Out<'_>,
    amount: Money,
    reason: &str,
    provider: String,
    unapplied_txn: Option<String>,
) -> RefundId {
    let id = RefundId(next_id(order.payment.refunds.iter().map(|r| r.id.0)));
    out.emit_as(
        Actor::System,
        Change::RefundRequested {
            refund: Box::new(Refund {
                id,
                amount,
                lines: Vec::new(),
                shipping: Money::zero(amount.currency),
                reason: reason.into(),
                method: RefundMethod::Gateway,
                status: RefundStatus::Pending,
                requested_at: out.now,
                case: None,
                unapplied_txn,
            }),
        },
    );
    out.effect(Effect::Refund { refund: id, amount, provider });
    id
}

/// Splits a refund of `amount` over what is still refundable per line, then shipping; whatever
/// is left (money received beyond the order total) stays unallocated.
pub(super) fn allocate_refund(order: &Order, amount: Money) -> Result<(Vec<LineRefund>, Money), Error> {
    let mut left = amount;
    let mut lines = Vec::new();
    for line in order.lines.iter() {
        let open = line.payable.checked_sub(order.payment.refunded_for_line(line.id)?)?;
        let take = open.min(left)?;
        if take.is_positive() {
            lines.push(LineRefund { line: line.id, amount: take });
            left = left.checked_sub(take)?;
        }
    }
    let open_shipping = order.totals.shipping_fee.checked_sub(order.payment.refunded_shipping()?)?;
    let shipping = open_shipping.min(left)?.max_zero();
    Ok((lines, shipping))
}

fn find_refund(order: &Order, id: RefundId) -> Result<&Refund, Error> {
    order.payment.refunds.iter().find(|r| r.id == id).ok_or(Error::UnknownRefund(id))
}

// Applying its events (`evolve`).

pub(super) fn payment_captured(order: &mut Order, txn_id: &str, amount: Money, now: DateTime<Utc>) {
    let capture = crate::order::Capture { txn_id: txn_id.to_owned(), amount, at: now };
    order.payment.captures.push(capture);
    if order.payment.gate_open() {
        order.deadlines.pay_by = None;
    }
}

pub(super) fn payment_anomaly_recorded(
    order: &mut Order,
    actor: &Actor,
    txn_id: &str,
    amount: Money,
    reason: &str,
    now: DateTime<Utc>,
) {
    order.payment.anomalies.push(crate::order::Anomaly {
        txn_id: txn_id.to_owned(),
        amount,
        reason: reason.to_owned(),
        at: now,
        provider: reported_by(actor).to_owned(),
    });
}

/// The provider that reported a payment (empty when the system or staff recorded it).
fn reported_by(actor: &Actor) -> &str {
    match actor {
        Actor::PaymentProvider { provider } => provider,
        _ => "",
    }
}

/// Through whom unapplied money goes back: the provider that reported it, else the order's.
fn return_provider(reported_by: &str, order: &Order) -> Option<String> {
    match reported_by {
        "" => order.payment.provider().map(str::to_owned),
        provider => Some(provider.to_owned()),
    }
}

pub(super) fn refund_requested(order: &mut Order, refund: &Refund) {
    order.payment.refunds.push(refund.clone());
}

pub(super) fn refund_completed(order: &mut Order, refund: RefundId, reference: &str) {
    if let Some(r) = order.payment.refunds.iter_mut().find(|r| r.id == refund) {
        r.status = RefundStatus::Completed { reference: reference.to_owned() };
    }
}

pub(super) fn refund_failed(order: &mut Order, refund: RefundId, reason: &str) {
    if let Some(r) = order.payment.refunds.iter_mut().find(|r| r.id == refund) {
        r.status = RefundStatus::Failed { reason: reason.to_owned() };
    }
}

pub(super) fn cod_collected(order: &mut Order, amount: Money) {
    order.payment.cod_collected = Some(amount);
}

/// Cash on delivery that was not collected is no longer owed once the order ends without
/// delivery (cancelled, rejected, or every parcel back at the sender).
pub(super) fn void_uncollected_cod(order: &mut Order) {
    if order.payment.method.is_cod() && order.payment.cod_collected.is_none() {
        order.payment.cod_void = true;
    }
}
