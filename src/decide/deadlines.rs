//! Deadlines: the order's timers (pay-by, auto-confirm, after-sales window, follow-up) and each
//! case's (answer SLA, follow-up). What a due deadline does is decided by the sub-machine it
//! belongs to; here is what is common to all of them: lapsing, and being set or cleared.

use chrono::{DateTime, Utc};

use super::shared::Out;
use crate::order::{DeadlineKind, Order};

/// The timer fired but the order has moved on (the transition table refuses the deadline's
/// command now): the deadline lapses, recorded, instead of failing at every run.
pub(super) fn lapse(out: &mut Out<'_>, kind: DeadlineKind) {
    out.set_deadline(kind, None);
}

// Applying its events (`evolve`).

/// A case's deadline belongs to its case: for a case the order does not have, nothing is set.
pub(super) fn deadline_set(order: &mut Order, kind: DeadlineKind, at: Option<DateTime<Utc>>) {
    if let DeadlineKind::CaseSla(case) | DeadlineKind::CaseFollowUp(case) = kind
        && order.case(case).is_none()
    {
        return;
    }
    order.deadlines.set(kind, at);
}
