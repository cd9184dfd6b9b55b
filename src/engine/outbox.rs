//! Effect delivery from the outbox: at least once, with the effect's key for deduplication at
//! the receiving side. A failing notifier or gateway never blocks an order transition: the
//! transition is already committed when its effects are delivered.
//!
//! # Retries and dead letters
//!
//! A failed delivery is retried after `backoff_base` doubled per attempt made, never more than
//! `backoff_max` (and never negative), so a long outage is polled once per `backoff_max`, not in
//! a tight loop. After `max_delivery_attempts` attempts (12: about 34 minutes from the first
//! attempt with the default 1 s base and 1 h cap) the item is given up: it becomes a dead
//! letter, logged at error level. Refunds get `max_refund_attempts` (36: about a day), because
//! a dead refund leaves a buyer's money with the shop; retrying one is safe, the gateway
//! deduplicates refunds by the item's key. An effect the receiving side refuses for good (a
//! refund the gateway rejects) is not retried at all: it is recorded on the order instead.
//!
//! Dead letters stay in the store until someone acts: [`Engine::dead_letters`] lists them with
//! their last error, and [`Engine::requeue_dead_letter`] sends one out again (same key,
//! attempts reset) once the cause is fixed, for example after a provider's outage.

use chrono::{DateTime, TimeDelta, Utc};

use tracing::Instrument;

use super::metrics::{self, Delivery};
use super::{Engine, EngineError, EngineSettings, Ports};
use crate::actor::Actor;
use crate::command::{Action, Command};
use crate::decide::after;
use crate::effect::Effect;
use crate::order::RefundFailure;
use crate::ports::{
    Clock, CloseOutcome, DeadLetterCursor, DeadLetterPage, GatewayError, Inventory, Logistics, Notifier, OutboxBacklog,
    OutboxItem, PaymentGateway, PaymentStatus, RefundRequest, ShipmentRequest, WorkQueue,
};

/// What [`Engine::dispatch_outbox`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchReport {
    /// Items delivered.
    pub delivered: usize,
    /// Items that failed and will be retried.
    pub retrying: usize,
    /// Items given up after too many attempts.
    pub dead: usize,
}

impl<A: Ports> Engine<A> {
    /// Delivers one batch of due outbox items. Call it on an interval (and after commands, if
    /// you want effects at once); several engines may call it at the same time.
    ///
    /// A failed item is retried after `backoff_base` doubled per attempt, at most `backoff_max`;
    /// after `max_delivery_attempts` (refunds: `max_refund_attempts`, about a day with the
    /// defaults) it becomes a dead letter: see [`Engine::dead_letters`].
    pub async fn dispatch_outbox(&self) -> Result<DispatchReport, EngineError> {
        let span = tracing::info_span!("orderflow.dispatch_outbox", claimed = tracing::field::Empty);
        self.dispatch_batch().instrument(span).await
    }

    async fn dispatch_batch(&self) -> Result<DispatchReport, EngineError> {
        let now = self.adapters.clock().now();
        let store = self.queue();
        let items = store.claim_outbox(now, self.settings.outbox_lease, self.settings.outbox_batch).await?;
        tracing::Span::current().record("claimed", items.len());
        let mut report = DispatchReport::default();
        for item in items {
            match self.deliver(&item).await {
                Ok(()) => {
                    store.complete_outbox(&item.key).await?;
                    metrics::record_delivery(&item.effect, Delivery::Delivered);
                    report.delivered += 1;
                }
                Err(e) => {
                    let retry_at = retry_at(&self.settings, &item, now);
                    store.fail_outbox(&item.key, now, retry_at, &e.to_string()).await?;
                    if retry_at.is_some() {
                        tracing::warn!(key = %item.key, attempts = item.attempts, error = %e, "effect delivery failed, will retry");
                        metrics::record_delivery(&item.effect, Delivery::Retrying);
                        report.retrying += 1;
                    } else {
                        tracing::error!(key = %item.key, attempts = item.attempts, error = %e, "effect given up (dead letter): requeue it once the cause is fixed");
                        metrics::record_delivery(&item.effect, Delivery::Dead);
                        report.dead += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    /// Delivers outbox items until none is due (bounded), for tests, examples and shutdown.
    pub async fn drain_outbox(&self) -> Result<DispatchReport, EngineError> {
        let mut total = DispatchReport::default();
        for _ in 0..64 {
            let round = self.dispatch_outbox().await?;
            total.delivered += round.delivered;
            total.retrying += round.retrying;
            total.dead += round.dead;
            if round.delivered + round.retrying + round.dead == 0 {
                break;
            }
        }
        Ok(total)
    }

    /// A page of up to `limit` dead letters after `after` (from the first when `None`), oldest
    /// entry first: effects given up after their last attempt failed. Each one is an effect
    /// that never happened (a refund not paid, a message not sent); watch them (counted by
    /// [`Engine::outbox_backlog`]) and requeue what can go out again.
    pub async fn dead_letters(
        &self,
        after: Option<DeadLetterCursor>,
        limit: usize,
    ) -> Result<DeadLetterPage, EngineError> {
        Ok(self.queue().dead_letters(after, limit).await?)
    }

    /// The outbox's backlog now (pending, ready and dead entries, the oldest pending entry's
    /// time), also recorded as gauges (see [`crate::engine::metrics`]).
    pub async fn outbox_backlog(&self) -> Result<OutboxBacklog, EngineError> {
        let now = self.adapters.clock().now();
        let backlog = self.queue().backlog(now).await?;
        metrics::record_backlog(&backlog, now);
        Ok(backlog)
    }

    /// Sends the dead letter `key` out again: it becomes due now with its attempts reset, and
    /// is delivered by the next [`Engine::dispatch_outbox`] under the same key, so a receiver
    /// that already did the work (a refund that was paid but answered with a timeout) does
    /// not do it twice. False when there is no dead letter with this key (unknown, still
    /// pending, delivered, or already requeued): calling it twice is harmless.
    pub async fn requeue_dead_letter(&self, key: &str) -> Result<bool, EngineError> {
        let requeued = self.queue().requeue_dead(key, self.adapters.clock().now()).await?;
        if requeued {
            tracing::info!(key, "dead letter requeued");
        }
        Ok(requeued)
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<(), EngineError> {
        let key = item.key.as_str();
        match &item.effect {
            Effect::Notify(notification) => Ok(self.adapters.notifier().send(key, notification).await?),
            Effect::ReleaseStock { items } => Ok(self.adapters.inventory().release(key, items).await?),
            Effect::CommitStock { items, .. } => Ok(self.adapters.inventory().commit(key, items).await?),
            Effect::Restock { items, .. } | Effect::ReturnToStock { items, .. } => {
                Ok(self.adapters.inventory().restock(key, items).await?)
            }
            Effect::ClosePayment { provider } => {
                let order = self.order(item.order_id).await?;
                let payments = self.adapters.payments();
                match payments.close_payment(&order.number, provider).await {
                    Ok(CloseOutcome::Closed | CloseOutcome::NothingToClose) => Ok(()),
                    Err(GatewayError::Rejected(_)) => match payments.query_payment(&order.number, provider).await {
                        // Paid after all: record it; the core refunds money for a cancelled order.
                        Ok(Some(paid)) if paid.status == PaymentStatus::Succeeded => {
                            let actor = Actor::PaymentProvider { provider: provider.as_str().into() };
                            // Boxed, as in `follow_up`.
                            Box::pin(self.apply_payment(item.order_id, &paid, actor)).await?;
                            Ok(())
                        }
                        Ok(_) => Ok(()),
                        // Refused outright both times (e.g. a provider no gateway serves): a
                        // configuration mistake no retry can mend, so the close is done with.
                        Err(GatewayError::Rejected(refusal)) => {
                            tracing::warn!(order_id = %item.order_id, %provider, %refusal, "payment close refused; not retried");
                            Ok(())
                        }
                        Err(e) => Err(e.into()),
                    },
                    Err(e) => Err(e.into()),
                }
            }
            Effect::Refund { refund, amount, provider } => {
                let order = self.order(item.order_id).await?;
                let mut request = RefundRequest::new(key, order.number, *refund, *amount, provider.clone());
                // Why, in the shop's language: the provider may show it to the buyer.
                request.reason = order
                    .payment
                    .refunds
                    .iter()
                    .find(|r| r.id == *refund)
                    .map(|r| self.localizer.refund_reason(&r.reason))
                    .unwrap_or_default();
                request.paid_total = order.payment.received().ok();
                let action = match self.adapters.payments().refund(&request).await {
                    Ok(receipt) if receipt.pending => {
                        // Accepted; it stays pending on the order until its notification
                        // (`handle_refund_notification`) or a query (`reconcile_payments`).
                        tracing::info!(key, "refund accepted by the provider, outcome pending");
                        return Ok(());
                    }
                    Ok(receipt) => Action::CompleteRefund { refund: *refund, reference: receipt.reference },
                    Err(GatewayError::Rejected(reason)) => {
                        Action::FailRefund { refund: *refund, reason: RefundFailure::Stated { text: reason } }
                    }
                    // Timed out or down: retried later with the same key, so never paid twice.
                    Err(e) => return Err(e.into()),
                };
                self.follow_up(item, action).await
            }
            Effect::CreateShipment { package, carrier, service, address, .. } => {
                let order = self.order(item.order_id).await?;
                let parcel = order.fulfilment.package(*package).ok_or(crate::error::Error::UnknownPackage(*package))?;
                let request = ShipmentRequest {
                    key: key.to_owned(),
                    order_number: order.number,
                    package: *package,
                    carrier: carrier.clone(),
                    service: service.clone(),
                    items: crate::decide::stock_of_package(&order, parcel),
                    address: address.clone(),
                };
                let shipment = self.adapters.logistics().create_shipment(&request).await?;
                self.follow_up(item, Action::RecordWaybill { package: *package, waybill: shipment.waybill }).await
            }
            Effect::SubscribeTracking { carrier, waybill, .. } => {
                Ok(self.adapters.logistics().subscribe_tracking(carrier, waybill).await?)
            }
            // Reservations run before commit and deadlines live on the order: nothing to deliver.
            Effect::ReserveStock { .. } | Effect::Schedule { .. } => Ok(()),
        }
    }

    /// Records what an external call answered as a system command on the order.
    async fn follow_up(&self, item: &OutboxItem, action: Action) -> Result<(), EngineError> {
        // Boxed: a command's future is kilobytes, and inline it would make every delivery's
        // future (and so every notification's) that large, copied each time one is started.
        match Box::pin(self.execute(item.order_id, Command::new(Actor::System, action))).await {
            Ok(_) => Ok(()),
            // The order already moved on (e.g. recorded by a concurrent delivery): done.
            Err(EngineError::Rejected(refusal)) => {
                tracing::info!(key = %item.key, error = %refusal, "effect result not applied: order moved on");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// When to try `item` again after its attempt at `now` failed, or `None` to give it up.
fn retry_at(settings: &EngineSettings, item: &OutboxItem, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let limit = match item.effect {
        Effect::Refund { .. } => settings.max_refund_attempts,
        _ => settings.max_delivery_attempts,
    };
    (item.attempts < limit).then(|| after(now, backoff(settings, item.attempts)))
}

/// The pause after `attempts` failed attempts: `backoff_base` doubled per attempt after the
/// first, at most `backoff_max`, never negative (whatever the settings say).
fn backoff(settings: &EngineSettings, attempts: u32) -> TimeDelta {
    let max = settings.backoff_max.max(TimeDelta::zero());
    let base = settings.backoff_base.max(TimeDelta::zero()).min(max);
    // 2^30 still fits the i32 factor; past that the cap has long been reached anyway.
    let factor = 1i32 << attempts.saturating_sub(1).min(30);
    base.checked_mul(factor).map_or(max, |delay| delay.min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(base: TimeDelta, max: TimeDelta) -> EngineSettings {
        EngineSettings { backoff_base: base, backoff_max: max, ..EngineSettings::default() }
    }

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let s = settings(TimeDelta::seconds(1), TimeDelta::hours(1));
        let delays: Vec<i64> = (1..=14).map(|n| backoff(&s, n).num_seconds()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600]);
        assert_eq!(backoff(&s, 0), TimeDelta::seconds(1));
        assert_eq!(backoff(&s, u32::MAX), TimeDelta::hours(1));
    }

    #[test]
    fn backoff_stays_within_zero_and_the_cap_for_odd_settings() {
        let huge = settings(TimeDelta::MAX, TimeDelta::MAX);
        assert_eq!(backoff(&huge, 40), TimeDelta::MAX);
        let negative = settings(TimeDelta::seconds(-5), TimeDelta::hours(1));
        assert_eq!(backoff(&negative, 3), TimeDelta::zero());
        let inverted = settings(TimeDelta::hours(2), TimeDelta::minutes(1));
        assert_eq!(backoff(&inverted, 1), TimeDelta::minutes(1));
        let no_cap = settings(TimeDelta::seconds(1), TimeDelta::seconds(-1));
        assert_eq!(backoff(&no_cap, 5), TimeDelta::zero());
    }

    #[test]
    fn refunds_are_retried_longer_than_other_effects() {
        let s = EngineSettings::default();
        let now = DateTime::UNIX_EPOCH;
        let item = |effect: Effect, attempts: u32| OutboxItem {
            key: "k".into(),
            order_id: crate::ids::OrderId::new_v7(),
            effect,
            attempts,
        };
        let notify = || Effect::ClosePayment { provider: "alipay".into() };
        let refund = || Effect::Refund {
            refund: crate::ids::RefundId(1),
            amount: crate::money::Money::new(100, crate::money::Currency::CNY),
            provider: "alipay".into(),
        };
        assert_eq!(retry_at(&s, &item(notify(), 1), now), Some(after(now, TimeDelta::seconds(1))));
        assert_eq!(retry_at(&s, &item(notify(), s.max_delivery_attempts), now), None);
        assert_eq!(
            retry_at(&s, &item(refund(), s.max_delivery_attempts), now),
            Some(after(now, TimeDelta::seconds(2048)))
        );
        assert_eq!(retry_at(&s, &item(refund(), s.max_refund_attempts), now), None);
    }
}
