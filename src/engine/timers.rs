//! Timers: firing due deadlines (unpaid cancellation, auto-confirmation, after-sales window,
//! follow-ups). Firing is idempotent: a fired deadline is cleared by the event it causes, and an
//! engine that loses the race to another finds nothing left to do.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use tracing::Instrument;

use super::settlement::refused_outright;
use super::{Engine, EngineError, Ports, metrics};
use crate::actor::Actor;
use crate::command::{Action, Command};
use crate::error::Error;
use crate::ids::OrderId;
use crate::order::{DeadlineKind, Order};
use crate::ports::{
    CloseOutcome, DueDeadline, GatewayError, Logistics, LogisticsError, PaymentGateway, PaymentNotification,
    PaymentStatus, WorkQueue,
};

/// What [`Engine::run_due`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DueReport {
    /// Deadlines that changed an order.
    pub fired: usize,
    /// Unpaid orders found paid at the provider (recorded instead of cancelled).
    pub found_paid: usize,
    /// Deadlines that could not be handled now (they stay due and are retried next time).
    pub failed: usize,
}

impl<A: Ports> Engine<A> {
    /// Fires every deadline due at `now`, in one call.
    ///
    /// Stores index only each order's earliest deadline, so firing one can make the order's
    /// next deadline due as well (a completed order's follow-up and after-sales window, a
    /// case's answer SLA). This call therefore asks the store for due deadlines again after
    /// each round that fired something, `due_batch` new ones at a time, and stops when a round
    /// fires nothing and the store has no further due deadline to show. When it returns `Ok`,
    /// every deadline at or before `now` has been fired, except:
    /// - deadlines whose firing failed (the store or the gateway down, a refusal): each is
    ///   counted once in [`DueReport::failed`], not tried again in this call, and stays due,
    ///   so the next call retries it; the same order's later deadlines wait behind it, since
    ///   the store lists only an order's earliest;
    /// - deadlines the engine's clock says are not due yet (firing is decided at the clock's
    ///   time: pass the clock's `now`);
    /// - deadlines that other instances add or move while the call runs.
    ///
    /// Every listed deadline is tried at most once per call, so deadlines that keep failing
    /// cannot make it loop; apart from that the number of rounds has no cap (every round
    /// but the last fires at least one deadline or reaches a deadline not tried yet).
    ///
    /// Before cancelling an unpaid order it asks each provider with a payment session: a
    /// payment that did succeed is recorded (under the provider that took it), not cancelled;
    /// otherwise every session is closed at its provider first, so none can succeed after the
    /// cancellation.
    ///
    /// Before firing a tracking poll (`WorkflowConfig::poll_tracking_after`) it asks the
    /// carrier about the order's parcels in flight and records what is new.
    ///
    /// # Errors
    /// [`EngineError::Store`] when the store cannot list the due deadlines; what was fired
    /// before stays fired.
    pub async fn run_due(&self, now: DateTime<Utc>) -> Result<DueReport, EngineError> {
        let span = tracing::info_span!("orderflow.run_due", %now, fired = tracing::field::Empty, failed = tracing::field::Empty);
        let report = self.fire_all_due(now).instrument(span.clone()).await;
        if let Ok(report) = &report {
            span.record("fired", report.fired).record("failed", report.failed);
        }
        report
    }

    async fn fire_all_due(&self, now: DateTime<Utc>) -> Result<DueReport, EngineError> {
        let mut report = DueReport::default();
        // Every deadline tried in this call, whatever came of it: one that failed or had
        // nothing to do is still listed as due, and must not be tried again or fill a batch.
        let mut tried: HashSet<(OrderId, DeadlineKind, DateTime<Utc>)> = HashSet::new();
        loop {
            // Room for the deadlines tried already, which the store may list again.
            let limit = self.settings.due_batch.max(1).saturating_add(tried.len());
            let due = self.queue().due_deadlines(now, limit).await?;
            let listed_all = due.len() < limit;
            let fresh: Vec<DueDeadline> =
                due.into_iter().filter(|d| tried.insert((d.order_id, d.kind, d.due_at))).collect();
            if fresh.is_empty() {
                break;
            }
            let before = report.fired + report.found_paid;
            for deadline in fresh {
                let fired = self.fire(deadline).await;
                if matches!(fired, Ok(FireOutcome::Fired | FireOutcome::FoundPaid)) {
                    metrics::record_deadline_lag(deadline.kind, deadline.due_at, self.now());
                }
                match fired {
                    Ok(FireOutcome::Fired) => report.fired += 1,
                    Ok(FireOutcome::FoundPaid) => report.found_paid += 1,
                    Ok(FireOutcome::Nothing) => {}
                    Err(e) => {
                        tracing::warn!(order_id = %deadline.order_id, kind = %deadline.kind, error = %e, "deadline not handled; retried on the next call");
                        report.failed += 1;
                    }
                }
            }
            // Nothing changed and nothing is left unseen: done. (Something fired: the orders
            // concerned may have their next deadline due too, so look again.)
            if report.fired + report.found_paid == before && listed_all {
                break;
            }
        }
        Ok(report)
    }

    async fn fire(&self, deadline: DueDeadline) -> Result<FireOutcome, EngineError> {
        if deadline.kind == DeadlineKind::TrackingPoll {
            self.poll_tracking(deadline.order_id).await?;
        }
        if deadline.kind == DeadlineKind::PayBy
            && let Some(outcome) = self.settle_before_cancel(deadline.order_id).await?
        {
            return Ok(outcome);
        }
        let command = Command::new(Actor::System, Action::FireDeadline { kind: deadline.kind });
        match self.execute(deadline.order_id, command).await {
            Ok(outcome) if outcome.already_applied => Ok(FireOutcome::Nothing),
            Ok(_) => Ok(FireOutcome::Fired),
            // Someone else fired it first, or it moved: nothing to do.
            Err(EngineError::Rejected(Error::NotDue { .. })) => Ok(FireOutcome::Nothing),
            Err(e) => Err(e),
        }
    }

    /// The polling fallback for lost tracking pushes: asks the carrier for the history of each
    /// parcel of order `id` still in flight and records what is new (the core drops what it
    /// has). The deadline's own firing follows: a new event has moved it on already, otherwise
    /// it is set again for later.
    ///
    /// A carrier that cannot be reached is an error (the deadline stays due and is tried on
    /// the next call); a waybill the carrier refuses is logged and the others are still asked.
    async fn poll_tracking(&self, id: OrderId) -> Result<(), EngineError> {
        let order = self.order(id).await?;
        let logistics = self.adapters.logistics();
        let mut unavailable = None;
        for parcel in crate::decide::polled_packages(&order) {
            let (Some(carrier), Some(waybill)) = (parcel.carrier.as_deref(), parcel.waybill.as_deref()) else {
                continue;
            };
            let history = match logistics.query_tracking(carrier, waybill).await {
                Ok(history) => history,
                Err(e @ LogisticsError::Unavailable(_)) => {
                    unavailable.get_or_insert(e);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(order_id = %id, waybill, error = %e, "tracking poll refused; asked again later");
                    continue;
                }
            };
            for update in history {
                self.record_tracking_on(id, carrier, waybill.to_owned(), update).await?;
            }
        }
        unavailable.map_or(Ok(()), |e| Err(e.into()))
    }

    /// Asks the providers before an unpaid order is cancelled: each provider with a payment
    /// session ([`Engine::find_payment`]), then closes each session. `Some` when the order
    /// turned out to be paid (and the capture was recorded, under the provider that took it),
    /// `None` when cancelling may go ahead.
    async fn settle_before_cancel(&self, id: OrderId) -> Result<Option<FireOutcome>, EngineError> {
        let order = self.order(id).await?;
        if let Some((provider, paid)) = self.find_payment(&order).await? {
            self.apply_payment(id, &paid, Actor::PaymentProvider { provider: provider.into() }).await?;
            return Ok(self.order(id).await?.payment.gate_open().then_some(FireOutcome::FoundPaid));
        }
        for provider in order.payment.session_providers() {
            if let Some(paid) = self.close_session(&order, provider).await? {
                self.apply_payment(id, &paid, Actor::PaymentProvider { provider: provider.into() }).await?;
                return Ok(Some(FireOutcome::FoundPaid));
            }
        }
        Ok(None)
    }

    /// Closes `provider`'s payment session for `order` so it cannot be paid any more: `None`
    /// once closed (or never opened there), `Some` with the payment when the provider would
    /// not close it because it was paid in the meantime.
    async fn close_session(&self, order: &Order, provider: &str) -> Result<Option<PaymentNotification>, EngineError> {
        let payments = self.adapters.payments();
        match payments.close_payment(&order.number, provider).await {
            // Closed, or never opened at the provider: either way it cannot be paid any more.
            Ok(CloseOutcome::Closed | CloseOutcome::NothingToClose) => Ok(None),
            Err(GatewayError::Rejected(reason)) => {
                // The provider will not close it: most likely paid in the meantime. Look again.
                match payments.query_payment(&order.number, provider).await {
                    Ok(Some(paid)) if paid.status == PaymentStatus::Succeeded => Ok(Some(paid)),
                    Err(e) if !refused_outright(order, provider, &e) => Err(e.into()),
                    _ if order.payment.chosen_provider() != Some(provider) => {
                        tracing::warn!(order_id = %order.id, provider, reason, "provider refused to close a session it does not report paid; left to expire");
                        Ok(None)
                    }
                    _ => Err(GatewayError::Rejected(reason).into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}

enum FireOutcome {
    Fired,
    FoundPaid,
    Nothing,
}
