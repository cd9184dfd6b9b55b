//! Deadlines stored on the order: the store indexes the earliest one, and the engine's
//! `run_due` fires it as a [`crate::command::Action::FireDeadline`] command.
//!
//! A fired deadline is cleared by the event it causes, so firing twice is harmless: the second
//! attempt finds nothing due.
//!
//! This file holds the whole machine: its states first, then the commands that change them
//! (`decide`) and how its events apply (`evolve`).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decide::shared::Out;
use crate::ids::CaseId;
use crate::order::Order;

/// Which deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineKind {
    /// An unpaid online order is cancelled.
    PayBy,
    /// A shipped or delivered order is confirmed for the buyer.
    AutoConfirm,
    /// The after-sales window closes.
    AfterSalesWindow,
    /// Customer service should visit the buyer.
    FollowUp,
    /// Customer service has not answered an after-sales request in time: escalate.
    CaseSla(CaseId),
    /// Customer service should visit the buyer about a case.
    CaseFollowUp(CaseId),
    /// A parcel in flight has had no tracking event for `WorkflowConfig::poll_tracking_after`:
    /// ask the carrier (set only when that option is on).
    TrackingPoll,
}

impl fmt::Display for DeadlineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeadlineKind::PayBy => "pay-by",
            DeadlineKind::AutoConfirm => "auto-confirm",
            DeadlineKind::AfterSalesWindow => "after-sales window",
            DeadlineKind::FollowUp => "follow-up",
            DeadlineKind::TrackingPoll => "tracking poll",
            DeadlineKind::CaseSla(case) => return write!(f, "answer SLA of case {case}"),
            DeadlineKind::CaseFollowUp(case) => return write!(f, "follow-up of case {case}"),
        })
    }
}

/// The order's deadlines. `None` means not set (or already fired).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// Online orders only: cancel if not paid by then.
    pub pay_by: Option<DateTime<Utc>>,
    /// Estimated ship time told to the buyer at placement (informational, never fired).
    pub ship_by: Option<DateTime<Utc>>,
    /// Confirm receipt for the buyer at this time.
    pub auto_confirm_at: Option<DateTime<Utc>>,
    /// After-sales requests (other than complaints and warranty) close at this time.
    pub after_sales_until: Option<DateTime<Utc>>,
    /// A follow-up visit is due at this time.
    pub follow_up_at: Option<DateTime<Utc>>,
    /// Deadlines of after-sales cases (SLA, follow-up).
    pub cases: Vec<(DeadlineKind, DateTime<Utc>)>,
    /// Ask the carrier about the parcels in flight at this time (moved by every tracking
    /// event; the upcaster gives snapshots from before it existed none).
    pub tracking_poll_at: Option<DateTime<Utc>>,
}

impl Deadlines {
    /// When `kind` is due, if it is set.
    pub fn get(&self, kind: DeadlineKind) -> Option<DateTime<Utc>> {
        match kind {
            DeadlineKind::PayBy => self.pay_by,
            DeadlineKind::AutoConfirm => self.auto_confirm_at,
            DeadlineKind::AfterSalesWindow => self.after_sales_until,
            DeadlineKind::FollowUp => self.follow_up_at,
            DeadlineKind::TrackingPoll => self.tracking_poll_at,
            DeadlineKind::CaseSla(_) | DeadlineKind::CaseFollowUp(_) => {
                self.cases.iter().find(|(k, _)| *k == kind).map(|(_, at)| *at)
            }
        }
    }

    /// Sets or clears `kind`.
    pub fn set(&mut self, kind: DeadlineKind, at: Option<DateTime<Utc>>) {
        match kind {
            DeadlineKind::PayBy => self.pay_by = at,
            DeadlineKind::AutoConfirm => self.auto_confirm_at = at,
            DeadlineKind::AfterSalesWindow => self.after_sales_until = at,
            DeadlineKind::FollowUp => self.follow_up_at = at,
            DeadlineKind::TrackingPoll => self.tracking_poll_at = at,
            DeadlineKind::CaseSla(_) | DeadlineKind::CaseFollowUp(_) => {
                self.cases.retain(|(k, _)| *k != kind);
                if let Some(at) = at {
                    self.cases.push((kind, at));
                }
            }
        }
    }

    /// Every pending deadline, in no particular order.
    pub fn all(&self) -> impl Iterator<Item = (DateTime<Utc>, DeadlineKind)> + '_ {
        [
            (self.pay_by, DeadlineKind::PayBy),
            (self.auto_confirm_at, DeadlineKind::AutoConfirm),
            (self.after_sales_until, DeadlineKind::AfterSalesWindow),
            (self.follow_up_at, DeadlineKind::FollowUp),
            (self.tracking_poll_at, DeadlineKind::TrackingPoll),
        ]
        .into_iter()
        .filter_map(|(at, kind)| at.map(|at| (at, kind)))
        .chain(self.cases.iter().map(|(kind, at)| (*at, *kind)))
    }

    /// The earliest pending deadline: what the store indexes.
    pub fn next(&self) -> Option<(DateTime<Utc>, DeadlineKind)> {
        self.all().min()
    }

    /// Every deadline due at `now`, earliest first.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<DeadlineKind> {
        let mut due: Vec<(DateTime<Utc>, DeadlineKind)> = self.all().filter(|(at, _)| *at <= now).collect();
        due.sort();
        due.into_iter().map(|(_, k)| k).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Transitions: the commands of this machine (decide) and how its events apply (evolve).
//
// Deadlines: the order's timers (pay-by, auto-confirm, after-sales window, follow-up) and each
// case's (answer SLA, follow-up). What a due deadline does is decided by the sub-machine it
// belongs to; here is what is common to all of them: lapsing, and being set or cleared.
// ---------------------------------------------------------------------------------------------

/// The timer fired but the order has moved on (the transition table refuses the deadline's
/// command now): the deadline lapses, recorded, instead of failing at every run.
pub(crate) fn lapse(out: &mut Out<'_>, kind: DeadlineKind) {
    out.set_deadline(kind, None);
}

// Applying its events (`evolve`).

/// A case's deadline belongs to its case: for a case the order does not have, nothing is set.
pub(crate) fn deadline_set(order: &mut Order, kind: DeadlineKind, at: Option<DateTime<Utc>>) {
    if let DeadlineKind::CaseSla(case) | DeadlineKind::CaseFollowUp(case) = kind
        && order.case(case).is_none()
    {
        return;
    }
    order.deadlines.set(kind, at);
}
