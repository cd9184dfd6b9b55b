//! The payment ledger: what was captured, refunded and flagged, online or cash on delivery.
//!
//! Invariants kept by `decide` (and checked by the model-based tests): captures never exceed
//! the order total; refunds (pending or completed) never exceed what was captured, per order
//! and per line; every amount is in the order's currency.
//!
//! This file holds the whole machine: its states first, then the commands that change them
//! (`decide`) and how its events apply (`evolve`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::config::UnappliedPayments;
use crate::decide::Workflow;
use crate::decide::shared::{Out, invalid, next_id, required};
use crate::effect::{Audience, Effect, NotificationKind};
use crate::error::Error;
use crate::event::Change;
use crate::ids::{CaseId, LineId, RefundId};
use crate::money::{Money, MoneyError};
use crate::order::{CancelReason, Order, OrderStatus};
use crate::placement::PaymentMethod;
use crate::text::Trim;

/// One capture reported by the payment provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    /// The provider's transaction id: the deduplication key.
    pub txn_id: String,
    /// Amount captured.
    pub amount: Money,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// The provider that reported it, which may differ from the one chosen at placement
    /// ([`PaymentMethod::Online`]) when the buyer switched at the payment page. `None`: recorded
    /// by the system or staff, through the chosen provider.
    pub provider: Option<String>,
}

/// A payment that could not be applied (wrong amount, currency or state). The money is not
/// counted as paid; staff must look at it (and usually refund it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    /// The provider's transaction id.
    pub txn_id: String,
    /// The amount the provider reported.
    pub amount: Money,
    /// Why it was not applied.
    pub reason: AnomalyReason,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// The provider that reported it (empty when recorded by the system), to send it back.
    pub provider: String,
}

/// Why a payment could not be applied: a kind with what it needs to be put into words, so no
/// sentence of one language is stored (each catalogue of [`crate::locale`] words it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnomalyReason {
    /// The amount or currency is not what the order expects.
    AmountMismatch {
        /// What the order expected (its outstanding amount).
        expected: Money,
        /// What arrived.
        received: Money,
    },
    /// The amount reported was not above zero.
    AmountNotPositive,
    /// The order's status takes no payment (already paid, or cancelled).
    NotPayable {
        /// The order's status when the payment arrived.
        status: OrderStatus,
    },
    /// The payment arrived after the order was cancelled (it is sent back).
    ArrivedAfterCancellation,
    /// The workflow refused to capture it for another reason, named by its error code
    /// ([`Error::code`]).
    Refused {
        /// The refusal's code.
        code: String,
    },
    /// In the words of the person or host that recorded it.
    Stated {
        /// Their words.
        text: String,
    },
}

impl AnomalyReason {
    /// The reason a person or host gave.
    pub fn stated(text: impl Into<String>) -> AnomalyReason {
        AnomalyReason::Stated { text: text.into() }
    }

    /// Why the workflow refused to capture a verified payment, as the anomaly recorded for it.
    /// Refusals no capture is expected to produce are recorded by their error code.
    pub fn from_refusal(refusal: &Error) -> AnomalyReason {
        match refusal {
            Error::PaymentMismatch { expected, received } => {
                AnomalyReason::AmountMismatch { expected: *expected, received: *received }
            }
            Error::IllegalTransition { status, .. } => AnomalyReason::NotPayable { status: *status },
            Error::InvalidField { field: "amount", .. } => AnomalyReason::AmountNotPositive,
            other => AnomalyReason::Refused { code: other.code().to_owned() },
        }
    }
}

/// The part of a refund that pays back one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRefund {
    /// The line.
    pub line: LineId,
    /// Amount refunded for it.
    pub amount: Money,
}

/// Why a refund is made: a kind with what it needs to be put into words, so no sentence of
/// one language is stored (each catalogue of [`crate::locale`] words it, and the engine sends
/// the shop's words to the payment provider). The refunds the workflow makes itself name their
/// kind; a refund staff ask for keeps their words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RefundReason {
    /// The order was cancelled or rejected: the money received goes back.
    OrderCancelled {
        /// Why the order ended.
        reason: CancelReason,
    },
    /// A payment arrived after the order was cancelled: it goes back.
    PaidAfterCancellation,
    /// A payment that could not be applied (wrong amount, a second payment, a status that takes
    /// none) goes back; the [`Anomaly`] the refund names by `unapplied_txn` says why.
    UnappliedPayment,
    /// An after-sales case is paid.
    AfterSales {
        /// The case.
        case: CaseId,
        /// The buyer's reason code for it (e.g. `damaged`), as the case holds it.
        reason_code: String,
    },
    /// In the words of whoever asked for it (staff), or text an older build stored that is
    /// none of the kinds above.
    Stated {
        /// Their words.
        text: String,
    },
}

impl RefundReason {
    /// The reason a person gave.
    pub fn stated(text: impl Into<String>) -> RefundReason {
        RefundReason::Stated { text: text.into() }
    }
}

/// Why a refund failed: a kind the library names, or the provider's words (put into words by
/// each catalogue of [`crate::locale`], like [`RefundReason`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RefundFailure {
    /// The provider reported afterwards that the money could not go back (its refund
    /// notification or a query said the refund failed): it must be refunded another way.
    ProviderFailed,
    /// In the words of whoever reported it: the provider's refusal of the request, a host's.
    Stated {
        /// Their words.
        text: String,
    },
}

impl RefundFailure {
    /// The reason the provider or a host gave.
    pub fn stated(text: impl Into<String>) -> RefundFailure {
        RefundFailure::Stated { text: text.into() }
    }
}

/// How a refund reaches the buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum RefundMethod {
    /// Back through the payment gateway (online payments).
    Gateway,
    /// Recorded by staff, e.g. a bank transfer for a cash-on-delivery order.
    Manual {
        /// The transfer reference.
        reference: String,
    },
}

/// Where a refund stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RefundStatus {
    /// Requested; the gateway call is pending (it counts against what can be refunded).
    Pending,
    /// The money went back.
    Completed {
        /// The provider's (or bank's) reference.
        reference: String,
    },
    /// The provider refused; the amount can be refunded again.
    Failed {
        /// Why.
        reason: RefundFailure,
    },
}

/// One refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// Number within the order.
    pub id: RefundId,
    /// Total amount (`sum(lines) + shipping`, or an unallocated amount for a stray payment).
    pub amount: Money,
    /// Per-line split.
    pub lines: Vec<LineRefund>,
    /// Part of the shipping fee refunded.
    pub shipping: Money,
    /// Why.
    pub reason: RefundReason,
    /// How.
    pub method: RefundMethod,
    /// Where it stands.
    pub status: RefundStatus,
    /// When it was requested.
    pub requested_at: DateTime<Utc>,
    /// The after-sales case it pays, if any.
    pub case: Option<CaseId>,
    /// The provider transaction of a payment that was never applied (a payment [`Anomaly`])
    /// this refund sends back. Such money was never counted as received, so neither is its
    /// refund.
    pub unapplied_txn: Option<String>,
}

impl Refund {
    /// True when the refund counts against the money received: it pays back received money
    /// and did not fail (pending and completed refunds both count).
    pub fn counts(&self) -> bool {
        self.unapplied_txn.is_none() && self.is_live()
    }

    /// True unless the refund failed.
    pub fn is_live(&self) -> bool {
        !matches!(self.status, RefundStatus::Failed { .. })
    }
}

/// The payment sub-machine's summary state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// Online, nothing captured yet.
    Unpaid,
    /// Online, some but not all captured.
    PartiallyPaid,
    /// Online, fully captured.
    Paid,
    /// Cash on delivery, not collected yet.
    CodDue,
    /// Cash on delivery, collected at the door.
    CodCollected,
    /// Cash on delivery, and nothing is owed any more: the order was cancelled, or every
    /// parcel came back (refused at the door), before the cash was collected.
    CodVoid,
    /// Some of what was received went back.
    PartiallyRefunded,
    /// Everything received went back.
    Refunded,
}

impl PaymentState {
    /// True when the payment gate of fulfilment is open (paid online, or cash on delivery).
    pub fn opens_fulfilment(&self) -> bool {
        match self {
            PaymentState::Paid | PaymentState::CodDue | PaymentState::CodCollected => true,
            PaymentState::Unpaid
            | PaymentState::CodVoid
            | PaymentState::PartiallyPaid
            | PaymentState::PartiallyRefunded
            | PaymentState::Refunded => false,
        }
    }
}

/// Everything money-related of one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentLedger {
    /// How the buyer pays.
    pub method: PaymentMethod,
    /// What the buyer owes.
    pub total: Money,
    /// Captures, in the order they were recorded.
    pub captures: Vec<Capture>,
    /// Cash collected at the door (cash on delivery only).
    pub cod_collected: Option<Money>,
    /// Refunds, in the order they were requested.
    pub refunds: Vec<Refund>,
    /// Payments that could not be applied.
    pub anomalies: Vec<Anomaly>,
    /// Cash on delivery only: nothing is owed any more, as the order was cancelled or every
    /// parcel came back before the cash was collected.
    pub cod_void: bool,
    /// The providers a payment session was opened with ([`crate::Action::OpenPaymentSession`]),
    /// each once, in the order they were first opened: the buyer may switch provider at the
    /// payment page, and each of them may take money until its session is closed.
    pub sessions: Vec<String>,
}

impl PaymentLedger {
    /// A fresh ledger.
    pub fn new(method: PaymentMethod, total: Money) -> PaymentLedger {
        PaymentLedger {
            method,
            total,
            captures: Vec::new(),
            cod_collected: None,
            refunds: Vec::new(),
            anomalies: Vec::new(),
            cod_void: false,
            sessions: Vec::new(),
        }
    }

    /// Money received: online captures plus cash collected.
    pub fn received(&self) -> Result<Money, MoneyError> {
        let captured = Money::checked_sum(self.total.currency, self.captures.iter().map(|c| c.amount))?;
        match self.cod_collected {
            Some(cash) => captured.checked_add(cash),
            None => Ok(captured),
        }
    }

    /// Refunds that count (pending or completed).
    pub fn refunded(&self) -> Result<Money, MoneyError> {
        Money::checked_sum(self.total.currency, self.refunds.iter().filter(|r| r.counts()).map(|r| r.amount))
    }

    /// What can still be refunded: received minus refunded.
    pub fn refundable(&self) -> Result<Money, MoneyError> {
        self.received()?.checked_sub(self.refunded()?)
    }

    /// Refunds that count, for one line.
    pub fn refunded_for_line(&self, line: LineId) -> Result<Money, MoneyError> {
        Money::checked_sum(
            self.total.currency,
            self.refunds
                .iter()
                .filter(|r| r.counts())
                .flat_map(|r| r.lines.iter())
                .filter(|l| l.line == line)
                .map(|l| l.amount),
        )
    }

    /// Refunded part of the shipping fee.
    pub fn refunded_shipping(&self) -> Result<Money, MoneyError> {
        Money::checked_sum(self.total.currency, self.refunds.iter().filter(|r| r.counts()).map(|r| r.shipping))
    }

    /// Online: what is still to be captured.
    pub fn outstanding(&self) -> Result<Money, MoneyError> {
        let captured = Money::checked_sum(self.total.currency, self.captures.iter().map(|c| c.amount))?;
        self.total.checked_sub(captured)
    }

    /// True when a capture with this provider transaction id was already recorded (or
    /// flagged as an anomaly): a duplicate notification.
    pub fn knows_txn(&self, txn_id: &str) -> bool {
        self.captures.iter().any(|c| c.txn_id == txn_id) || self.anomalies.iter().any(|a| a.txn_id == txn_id)
    }

    /// The summary state.
    pub fn state(&self) -> PaymentState {
        let received = self.received().map(|m| m.minor).unwrap_or(0);
        let refunded = self.refunded().map(|m| m.minor).unwrap_or(0);
        if refunded > 0 {
            return if refunded >= received { PaymentState::Refunded } else { PaymentState::PartiallyRefunded };
        }
        match self.method {
            PaymentMethod::CashOnDelivery if self.cod_collected.is_some() => PaymentState::CodCollected,
            PaymentMethod::CashOnDelivery if self.cod_void => PaymentState::CodVoid,
            PaymentMethod::CashOnDelivery => PaymentState::CodDue,
            PaymentMethod::Online { .. } if received == 0 => PaymentState::Unpaid,
            PaymentMethod::Online { .. } if received < self.total.minor => PaymentState::PartiallyPaid,
            PaymentMethod::Online { .. } => PaymentState::Paid,
        }
    }

    /// True when the payment gate is open: fully paid online, or cash on delivery (refunds
    /// after payment do not close it again: the goods were paid for).
    pub fn gate_open(&self) -> bool {
        match self.method {
            PaymentMethod::CashOnDelivery => true,
            PaymentMethod::Online { .. } => self.outstanding().map(|o| o.minor <= 0).unwrap_or(false),
        }
    }

    /// Payments received but never applied (anomalies) that are not being sent back: money
    /// held for staff to refund ([`crate::Action::RefundUnappliedPayment`]).
    pub fn unapplied(&self) -> impl Iterator<Item = &Anomaly> {
        self.anomalies.iter().filter(|a| a.amount.is_positive() && !self.returning(&a.txn_id))
    }

    /// True when a refund (pending or completed) sends back the unapplied payment `txn_id`.
    pub fn returning(&self, txn_id: &str) -> bool {
        self.refunds.iter().any(|r| r.is_live() && r.unapplied_txn.as_deref() == Some(txn_id))
    }

    /// The provider the order's money goes through (online payments): the one that took the
    /// latest capture, else the one chosen at placement. Refunds go to it, so a buyer who
    /// switched provider at the payment page is refunded where they paid (queries about an
    /// unpaid order go to every [session provider](PaymentLedger::session_providers)).
    pub fn provider(&self) -> Option<&str> {
        let chosen = self.chosen_provider()?;
        Some(self.captures.iter().rev().find_map(|c| c.provider.as_deref()).unwrap_or(chosen))
    }

    /// The provider `refund` goes back through: the one that reported the unapplied payment
    /// it returns, else [`PaymentLedger::provider`].
    pub fn refund_provider(&self, refund: &Refund) -> Option<&str> {
        let reporter = refund.unapplied_txn.as_deref().and_then(|txn| {
            self.anomalies.iter().find(|a| a.txn_id == txn).map(|a| a.provider.as_str()).filter(|p| !p.is_empty())
        });
        reporter.or_else(|| self.provider())
    }

    /// The provider chosen at placement (online payments), whose payment session the engine
    /// opens unless the buyer picks another.
    pub fn chosen_provider(&self) -> Option<&str> {
        match &self.method {
            PaymentMethod::Online { provider } => Some(provider),
            PaymentMethod::CashOnDelivery => None,
        }
    }

    /// Every provider that may hold a payment session for the order (online payments): the
    /// one chosen at placement first (its session may have been opened before sessions were
    /// recorded), then each other provider a session was opened with. Closing, querying and
    /// reconciling go to each of them.
    pub fn session_providers(&self) -> impl Iterator<Item = &str> {
        let chosen = self.chosen_provider();
        chosen.into_iter().chain(
            self.sessions.iter().map(String::as_str).filter(move |provider| chosen.is_some_and(|c| c != *provider)),
        )
    }

    /// True when a payment session was recorded as opened with `provider`.
    pub fn has_session(&self, provider: &str) -> bool {
        self.sessions.iter().any(|opened| opened == provider)
    }

    /// The provider and transaction that paid: the latest capture's (`None` before any).
    pub fn paid_through(&self) -> Option<(&str, &str)> {
        let capture = self.captures.last()?;
        let provider = capture.provider.as_deref().or(self.chosen_provider())?;
        Some((provider, capture.txn_id.as_str()))
    }
}

// ---------------------------------------------------------------------------------------------
// Transitions: the commands of this machine (decide) and how its events apply (evolve).
//
// The payment ledger: captures (one exact payment unless partial captures are allowed), money
// that cannot be applied (anomalies, sent back), refunds, and cash collected on delivery.
// ---------------------------------------------------------------------------------------------

// Deciding.

impl Workflow {
    pub(crate) fn capture(&self, order: &Order, out: &mut Out<'_>, txn_id: &str, amount: Money) -> Result<(), Error> {
        required("txn_id", txn_id)?;
        if !amount.is_positive() {
            return Err(invalid("amount", "a captured amount must be above zero"));
        }
        let outstanding = order.payment.outstanding()?;
        if order.payment.method.is_cod() || amount.currency != order.currency {
            return Err(Error::PaymentMismatch { expected: outstanding, received: amount });
        }
        // The provider that reported it (the buyer may have switched away from the chosen one).
        let reporter = match reported_by(out.actor) {
            "" => None,
            provider => Some(provider.to_owned()),
        };
        if order.cancellation.is_some() {
            // Money for an order that no longer exists: keep it on record and send it back,
            // through the provider it came through.
            out.emit(Change::PaymentCaptured { txn_id: txn_id.to_owned(), amount, provider: reporter.clone() });
            let provider = return_provider(reporter.as_deref().unwrap_or_default(), order).unwrap_or_default();
            send_back(order, out, amount, provider, None);
            out.notify_to(
                Audience::CustomerService,
                &order.number,
                NotificationKind::PaymentAnomaly {
                    txn_id: txn_id.to_owned(),
                    reason: AnomalyReason::ArrivedAfterCancellation,
                },
            );
            return Ok(());
        }
        // One payment settles the order unless partial captures are allowed; never more.
        if amount.minor > outstanding.minor || (!self.config.partial_captures && amount != outstanding) {
            return Err(Error::PaymentMismatch { expected: outstanding, received: amount });
        }
        // Paid through one provider: no other session may take money too (the chosen
        // provider's included, when the buyer switched away from it).
        let payer = reporter.as_deref().or(order.payment.chosen_provider());
        for provider in order.payment.session_providers().filter(|provider| Some(*provider) != payer) {
            out.effect(Effect::ClosePayment { provider: provider.to_owned() });
        }
        out.emit(Change::PaymentCaptured { txn_id: txn_id.to_owned(), amount, provider: reporter });
        if amount == outstanding {
            out.notify_buyer(order, NotificationKind::Paid { amount: order.totals.total });
        }
        Ok(())
    }

    pub(crate) fn record_payment_anomaly(
        &self,
        order: &Order,
        out: &mut Out<'_>,
        txn_id: &str,
        amount: Money,
        reason: &AnomalyReason,
    ) -> Result<(), Error> {
        required("txn_id", txn_id)?;
        out.emit(Change::PaymentAnomalyRecorded { txn_id: txn_id.to_owned(), amount, reason: reason.clone() });
        out.notify_to(
            Audience::CustomerService,
            &order.number,
            NotificationKind::PaymentAnomaly { txn_id: txn_id.to_owned(), reason: reason.clone() },
        );
        // Money that was not applied is never kept: it goes back unless staff hold it.
        let provider = return_provider(reported_by(out.actor), order);
        if let (UnappliedPayments::Refund, Some(provider)) = (self.config.unapplied_payments, provider)
            && amount.is_positive()
        {
            send_back(order, out, amount, provider, Some(txn_id.to_owned()));
        }
        Ok(())
    }
}

/// Records that a payment session is being opened with `provider` (the engine asks the
/// provider to create it once this is stored). Only an online order that still owes money
/// and is not over takes one; a provider already recorded records nothing.
pub(crate) fn open_payment_session(order: &Order, out: &mut Out<'_>, provider: &str) -> Result<(), Error> {
    let status = order.status();
    if order.payment.chosen_provider().is_none() || !order.payment.outstanding()?.is_positive() {
        // Cash on delivery, or nothing left to pay: no session can take money.
        return Err(Error::IllegalTransition { command: crate::command::CommandKind::OpenPaymentSession, status });
    }
    required("provider", provider)?;
    let provider = provider.trimmed();
    if provider.chars().any(char::is_control) {
        return Err(invalid("provider", "must not contain control characters"));
    }
    if !order.payment.has_session(provider) {
        out.emit(Change::PaymentSessionOpened { provider: provider.to_owned() });
    }
    Ok(())
}

pub(crate) fn refund_unapplied_payment(order: &Order, out: &mut Out<'_>, txn_id: &str) -> Result<(), Error> {
    required("txn_id", txn_id)?;
    let Some(anomaly) = order.payment.unapplied().find(|a| a.txn_id == txn_id.trimmed()) else {
        return Err(invalid("txn_id", "no payment with this transaction id is held unapplied"));
    };
    let Some(provider) = return_provider(&anomaly.provider, order) else {
        return Err(invalid("provider", "no provider is known to send this payment back through"));
    };
    send_back(order, out, anomaly.amount, provider, Some(anomaly.txn_id.clone()));
    Ok(())
}

/// A refund asked for by staff, in their words (`reason`).
pub(crate) fn request_staff_refund(
    order: &Order,
    out: &mut Out<'_>,
    lines: &[LineRefund],
    shipping: Money,
    reason: &str,
    manual_reference: Option<&str>,
) -> Result<RefundId, Error> {
    required("reason", reason)?;
    request_refund(order, out, lines, shipping, RefundReason::stated(reason.trimmed()), manual_reference)
}

/// A refund asked for by staff or for an after-sales case (the case a
/// [`RefundReason::AfterSales`] names), bounded per line,
/// for shipping and in total by what is still refundable. Cash on delivery is refunded by a
/// transfer staff already made (`manual_reference`), online payments through the gateway.
pub(crate) fn request_refund(
    order: &Order,
    out: &mut Out<'_>,
    lines: &[LineRefund],
    shipping: Money,
    reason: RefundReason,
    manual_reference: Option<&str>,
) -> Result<RefundId, Error> {
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
    let case = match &reason {
        RefundReason::AfterSales { case, .. } => Some(*case),
        _ => None,
    };
    out.emit(Change::RefundRequested {
        refund: Box::new(Refund {
            id,
            amount: total,
            lines: parts,
            shipping,
            reason,
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

pub(crate) fn complete_refund(
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

pub(crate) fn fail_refund(
    order: &Order,
    out: &mut Out<'_>,
    refund: RefundId,
    reason: &RefundFailure,
) -> Result<(), Error> {
    let found = find_refund(order, refund)?;
    if matches!(found.status, RefundStatus::Completed { .. }) {
        return Err(invalid("refund", "this refund already completed"));
    }
    out.emit(Change::RefundFailed { refund, reason: reason.clone() });
    Ok(())
}

pub(crate) fn record_cod_collected(order: &Order, out: &mut Out<'_>, amount: Money) -> Result<(), Error> {
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
/// applied (`Some`: its transaction id), which `unapplied_txn` alone tells apart for the
/// refund's reason. Decided by the system, whoever reported the money.
fn send_back(
    order: &Order,
    out: &mut Out<'_>,
    amount: Money,
    provider: String,
    unapplied_txn: Option<String>,
) -> RefundId {
    let id = RefundId(next_id(order.payment.refunds.iter().map(|r| r.id.0)));
    let reason = match unapplied_txn {
        Some(_) => RefundReason::UnappliedPayment,
        None => RefundReason::PaidAfterCancellation,
    };
    out.emit_as(
        Actor::System,
        Change::RefundRequested {
            refund: Box::new(Refund {
                id,
                amount,
                lines: Vec::new(),
                shipping: Money::zero(amount.currency),
                reason,
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
pub(crate) fn allocate_refund(order: &Order, amount: Money) -> Result<(Vec<LineRefund>, Money), Error> {
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

pub(crate) fn payment_captured(
    order: &mut Order,
    txn_id: &str,
    amount: Money,
    provider: Option<&str>,
    now: DateTime<Utc>,
) {
    let provider = provider.map(str::to_owned);
    let capture = crate::order::Capture { txn_id: txn_id.to_owned(), amount, at: now, provider };
    order.payment.captures.push(capture);
    if order.payment.gate_open() {
        order.deadlines.pay_by = None;
    }
}

pub(crate) fn payment_session_opened(order: &mut Order, provider: &str) {
    if !order.payment.has_session(provider) {
        order.payment.sessions.push(provider.to_owned());
    }
}

pub(crate) fn payment_anomaly_recorded(
    order: &mut Order,
    actor: &Actor,
    txn_id: &str,
    amount: Money,
    reason: &AnomalyReason,
    now: DateTime<Utc>,
) {
    order.payment.anomalies.push(crate::order::Anomaly {
        txn_id: txn_id.to_owned(),
        amount,
        reason: reason.clone(),
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

pub(crate) fn refund_requested(order: &mut Order, refund: &Refund) {
    order.payment.refunds.push(refund.clone());
}

pub(crate) fn refund_completed(order: &mut Order, refund: RefundId, reference: &str) {
    if let Some(r) = order.payment.refunds.iter_mut().find(|r| r.id == refund) {
        r.status = RefundStatus::Completed { reference: reference.to_owned() };
    }
}

pub(crate) fn refund_failed(order: &mut Order, refund: RefundId, reason: &RefundFailure) {
    if let Some(r) = order.payment.refunds.iter_mut().find(|r| r.id == refund) {
        r.status = RefundStatus::Failed { reason: reason.clone() };
    }
}

pub(crate) fn cod_collected(order: &mut Order, amount: Money) {
    order.payment.cod_collected = Some(amount);
}

/// Cash on delivery that was not collected is no longer owed once the order ends without
/// delivery (cancelled, rejected, or every parcel back at the sender).
pub(crate) fn void_uncollected_cod(order: &mut Order) {
    if order.payment.method.is_cod() && order.payment.cod_collected.is_none() {
        order.payment.cod_void = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    #[test]
    fn a_refusal_becomes_a_typed_anomaly_reason_never_english() {
        let cny = |minor| Money::new(minor, Currency::CNY);
        let mismatch = Error::PaymentMismatch { expected: cny(27_000), received: cny(100) };
        assert_eq!(
            AnomalyReason::from_refusal(&mismatch),
            AnomalyReason::AmountMismatch { expected: cny(27_000), received: cny(100) }
        );
        assert_eq!(
            AnomalyReason::from_refusal(&Error::NotYourOrder),
            AnomalyReason::Refused { code: "not_your_order".into() }
        );
    }
}
