//! Order review: is the stock there, is the address right, is anything suspicious?
//!
//! `Pending → Approved`, or `Pending → OnHold(reasons) → HoldResolved(contact note) →
//! Approved | Rejected`. A hold blocks fulfilment only; payment can still arrive.
//!
//! This file holds the whole machine: its states first, then the commands that change them
//! (`decide`) and how its events apply (`evolve`).

use serde::{Deserialize, Serialize};

use crate::command::CommandKind;
use crate::decide::cancellation::{order_cancelled, wind_down};
use crate::decide::shared::{Out, invalid, required};
use crate::effect::NotificationKind;
use crate::error::Error;
use crate::event::{Change, Event};
use crate::money::Money;
use crate::order::{CancelReason, Order};
use crate::placement::OrderDraft;
use crate::text::Trim;

/// Why an order is held for a person to look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum HoldReason {
    /// Not enough stock for some line.
    InsufficientStock,
    /// The shipping address looks wrong or incomplete.
    AddressProblem,
    /// The order looks fraudulent.
    SuspectedFraud,
    /// Someone must talk to the buyer before the order can go on.
    NeedsBuyerContact,
    /// The order's value is above the threshold for automatic approval.
    HighValue,
    /// Anything else, in words.
    Custom {
        /// What is wrong.
        text: String,
    },
}

impl HoldReason {
    /// True when resolving this hold means contacting the buyer (the buyer is told).
    pub fn needs_buyer(&self) -> bool {
        matches!(self, HoldReason::NeedsBuyerContact | HoldReason::AddressProblem)
    }

    /// A short description for timelines.
    pub fn describe(&self) -> String {
        match self {
            HoldReason::InsufficientStock => "insufficient stock".into(),
            HoldReason::AddressProblem => "address problem".into(),
            HoldReason::SuspectedFraud => "suspected fraud".into(),
            HoldReason::NeedsBuyerContact => "needs buyer contact".into(),
            HoldReason::HighValue => "high value: needs a person".into(),
            HoldReason::Custom { text } => text.clone(),
        }
    }
}

/// The review sub-machine's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReviewState {
    /// Nobody has decided yet.
    Pending,
    /// Held for one or more reasons.
    OnHold {
        /// Why.
        reasons: Vec<HoldReason>,
    },
    /// The hold was sorted out (e.g. the buyer was called); a reviewer decides next.
    HoldResolved {
        /// How the buyer was contacted and what was agreed.
        contact_note: String,
    },
    /// Approved: the review gate of fulfilment is open.
    Approved,
    /// Rejected: the order will not be fulfilled.
    Rejected {
        /// Why.
        reason: String,
    },
}

impl ReviewState {
    /// True once approved.
    pub fn is_approved(&self) -> bool {
        matches!(self, ReviewState::Approved)
    }

    /// True when a reviewer can approve or reject now.
    pub fn awaits_decision(&self) -> bool {
        matches!(self, ReviewState::Pending | ReviewState::HoldResolved { .. })
    }

    /// True while held.
    pub fn is_on_hold(&self) -> bool {
        matches!(self, ReviewState::OnHold { .. })
    }

    /// True once rejected (final).
    pub fn is_rejected(&self) -> bool {
        matches!(self, ReviewState::Rejected { .. })
    }
}

/// What an automatic review rule thinks of a new order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Fine as far as this rule goes.
    Approve,
    /// A person must look at it.
    Hold(HoldReason),
    /// No opinion.
    Abstain,
}

/// An automatic review rule run at placement. Any `Hold` puts the order on hold with all
/// reasons; otherwise the order is approved when the configuration auto-approves or a rule
/// said `Approve`.
pub trait ReviewRule: Send + Sync {
    /// Judges a freshly validated order.
    fn review(&self, draft: &OrderDraft) -> Verdict;
}

impl<F> ReviewRule for F
where
    F: Fn(&OrderDraft) -> Verdict + Send + Sync,
{
    fn review(&self, draft: &OrderDraft) -> Verdict {
        self(draft)
    }
}

/// Orders whose total is above `limit` always go to a person.
#[derive(Debug, Clone, Copy)]
pub struct HoldAbove {
    /// The highest total approved without a person (same currency as the order; orders in
    /// other currencies are held too, to be safe).
    pub limit: Money,
}

impl ReviewRule for HoldAbove {
    fn review(&self, draft: &OrderDraft) -> Verdict {
        let total = draft.totals.total;
        if total.currency != self.limit.currency || total.minor > self.limit.minor {
            Verdict::Hold(HoldReason::HighValue)
        } else {
            Verdict::Abstain
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Transitions: the commands of this machine (decide) and how its events apply (evolve).
//
// Review: a new order is approved, held (for reasons, some of which need the buyer) until the
// hold is resolved, or rejected, which ends the order.
// ---------------------------------------------------------------------------------------------

// Deciding.

pub(crate) fn approve(order: &Order, out: &mut Out<'_>, note: &str) -> Result<(), Error> {
    if !order.review.awaits_decision() {
        return Err(Error::IllegalTransition { command: CommandKind::Approve, status: order.status() });
    }
    out.emit(Change::ReviewApproved { note: note.trimmed().to_owned() });
    Ok(())
}

pub(crate) fn hold(order: &Order, out: &mut Out<'_>, reasons: &[HoldReason], note: &str) -> Result<(), Error> {
    if reasons.is_empty() {
        return Err(invalid("reasons", "give at least one reason to hold the order"));
    }
    if reasons.iter().any(HoldReason::needs_buyer) {
        out.notify_buyer(order, NotificationKind::NeedsBuyerContact { reasons: reasons.to_vec() });
    }
    out.emit(Change::ReviewHeld { reasons: reasons.to_vec(), note: note.trimmed().to_owned() });
    Ok(())
}

pub(crate) fn resolve_hold(out: &mut Out<'_>, contact_note: &str) -> Result<(), Error> {
    required("contact_note", contact_note)?;
    out.emit(Change::HoldResolved { contact_note: contact_note.trimmed().to_owned() });
    Ok(())
}

pub(crate) fn reject(order: &Order, out: &mut Out<'_>, reason: &str) -> Result<(), Error> {
    required("reason", reason)?;
    out.emit(Change::ReviewRejected { reason: reason.trimmed().to_owned() });
    wind_down(order, out, CancelReason::stated(reason.trimmed()))
}

// Applying its events (`evolve`).

pub(crate) fn review_approved(order: &mut Order) {
    order.review = ReviewState::Approved;
}

/// Holding a held order adds the new reasons to the ones it already has.
pub(crate) fn review_held(order: &mut Order, reasons: &[HoldReason]) {
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

pub(crate) fn hold_resolved(order: &mut Order, contact_note: &str) {
    order.review = ReviewState::HoldResolved { contact_note: contact_note.to_owned() };
}

/// A rejected order is also a cancelled one.
pub(crate) fn review_rejected(order: &mut Order, event: &Event, reason: &str) {
    order.review = ReviewState::Rejected { reason: reason.to_owned() };
    order_cancelled(order, event, &CancelReason::stated(reason));
}
