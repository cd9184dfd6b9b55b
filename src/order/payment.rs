//! The payment ledger: what was captured, refunded and flagged, online or cash on delivery.
//!
//! Invariants kept by `decide` (and checked by the model-based tests): captures never exceed
//! the order total; refunds (pending or completed) never exceed what was captured, per order
//! and per line; every amount is in the order's currency.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CaseId, LineId, RefundId};
use crate::money::{Money, MoneyError};
use crate::placement::PaymentMethod;

/// One capture reported by the payment provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    /// The provider's transaction id: the deduplication key.
    pub txn_id: String,
    /// Amount captured.
    pub amount: Money,
    /// When it was recorded.
    pub at: DateTime<Utc>,
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
    pub reason: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// The provider that reported it (empty when recorded by the system), to send it back.
    pub provider: String,
}

/// The part of a refund that pays back one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineRefund {
    /// The line.
    pub line: LineId,
    /// Amount refunded for it.
    pub amount: Money,
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
        reason: String,
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
    pub reason: String,
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

    /// The provider name for online payments.
    pub fn provider(&self) -> Option<&str> {
        match &self.method {
            PaymentMethod::Online { provider } => Some(provider),
            PaymentMethod::CashOnDelivery => None,
        }
    }
}
