//! Timers: firing due deadlines (unpaid cancellation, auto-confirmation, after-sales window,
//! follow-ups). Firing is idempotent: a fired deadline is cleared by the event it causes, and an
//! engine that loses the race to another finds nothing left to do.

use chrono::{DateTime, Utc};

use super::{Engine, EngineError, Ports};
use crate::actor::Actor;
use crate::command::{Action, Command};
use crate::error::Error;
use crate::ids::OrderId;
use crate::order::DeadlineKind;
use crate::ports::{CloseOutcome, DueDeadline, GatewayError, OrderStore, PaymentGateway, PaymentStatus};

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
    /// Fires every deadline due at `now`. Before cancelling an unpaid order it asks the gateway:
    /// a payment that did succeed is recorded, not cancelled; otherwise the payment is closed at
    /// the provider first, so it cannot succeed after the cancellation.
    pub async fn run_due(&self, now: DateTime<Utc>) -> Result<DueReport, EngineError> {
        let mut report = DueReport::default();
        // A few rounds: firing one deadline can make the order's next one due as well.
        for _ in 0..8 {
            let due = self.adapters.store().due_deadlines(now, self.settings.due_batch).await?;
            let before = report.fired + report.found_paid;
            let round = due.len();
            for deadline in due {
                match self.fire(deadline).await {
                    Ok(FireOutcome::Fired) => report.fired += 1,
                    Ok(FireOutcome::FoundPaid) => report.found_paid += 1,
                    Ok(FireOutcome::Nothing) => {}
                    Err(e) => {
                        tracing::warn!(order_id = %deadline.order_id, kind = %deadline.kind, error = %e, "deadline not handled");
                        report.failed += 1;
                    }
                }
            }
            if round < self.settings.due_batch || report.fired + report.found_paid == before {
                break;
            }
        }
        Ok(report)
    }

    async fn fire(&self, deadline: DueDeadline) -> Result<FireOutcome, EngineError> {
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

    /// Asks the provider before an unpaid order is cancelled. `Some` when the order turned out
    /// to be paid (and the capture was recorded), `None` when cancelling may go ahead.
    async fn settle_before_cancel(&self, id: OrderId) -> Result<Option<FireOutcome>, EngineError> {
        let order = self.order(id).await?;
        let Some(provider) = order.payment.provider().map(str::to_owned) else { return Ok(None) };
        let payments = self.adapters.payments();
        let actor = Actor::PaymentProvider { provider: provider.into() };
        if let Some(paid) = payments.query_payment(&order.number).await?
            && paid.status == PaymentStatus::Succeeded
        {
            self.apply_payment(id, &paid, actor).await?;
            return Ok(self.order(id).await?.payment.gate_open().then_some(FireOutcome::FoundPaid));
        }
        match payments.close_payment(&order.number).await {
            // Closed, or never opened at the provider: either way it cannot be paid any more.
            Ok(CloseOutcome::Closed | CloseOutcome::NothingToClose) => Ok(None),
            Err(GatewayError::Rejected(reason)) => {
                // The provider will not close it: most likely paid in the meantime. Look again.
                match payments.query_payment(&order.number).await? {
                    Some(paid) if paid.status == PaymentStatus::Succeeded => {
                        self.apply_payment(id, &paid, actor).await?;
                        Ok(Some(FireOutcome::FoundPaid))
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
