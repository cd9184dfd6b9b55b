//! Refund outcomes and payment reconciliation: what a provider settles after it answered
//! (a refund answered as pending) or whose notification never arrived (a lost payment
//! notification), recorded through the same command path as a notification.
//!
//! # Finding the candidates
//!
//! [`Engine::reconcile_payments`] lists unpaid orders with the store's paged listing filtered
//! by status ([`OrderStatus::AwaitingPayment`]) and placement time, so it reads only orders
//! awaiting payment. Pending refunds have no index of their own: orders placed within
//! [`EngineSettings::refund_reconcile_window`](super::EngineSettings::refund_reconcile_window)
//! are listed and loaded to look at their refunds. That reads every recent order once per
//! call; a shop with many orders a day should call it rarely (say hourly) or keep the window
//! short, until a deadline kind for pending refunds replaces the scan.
//!
//! An unpaid order is asked about at every provider with a payment session (the buyer may
//! have switched provider at the payment page and paid there), the chosen one first.

use chrono::{DateTime, Utc};
use tracing::Instrument;

use super::callbacks::provider_of;
use super::{Engine, EngineError, Ports};
use crate::actor::Actor;
use crate::command::{Action, Command};
use crate::decide::after;
use crate::error::Error;
use crate::ids::OrderId;
use crate::order::{Order, OrderStatus, RefundFailure, RefundMethod};
use crate::ports::{
    Clock, GatewayError, OrderFilter, OrderRepository, PaymentGateway, PaymentNotification, PaymentStatus, RawMessage,
    RefundNotification, RefundStatus, WebhookReply,
};

/// What [`Engine::reconcile_payments`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconcileReport {
    /// Unpaid orders asked about at their provider.
    pub payments_checked: usize,
    /// Of those, found paid (the capture, or an anomaly, was recorded).
    pub found_paid: usize,
    /// Pending refunds asked about at their provider.
    pub refunds_checked: usize,
    /// Of those, found completed or failed (and recorded so).
    pub refunds_settled: usize,
    /// Orders that could not be checked now (provider or store down); the next call tries
    /// them again.
    pub failed: usize,
}

impl ReconcileReport {
    /// Counts an order whose check failed (logged; the next call tries it again).
    fn note(&mut self, id: OrderId, checked: Result<(), EngineError>) {
        if let Err(e) = checked {
            tracing::warn!(order_id = %id, error = %e, "order not reconciled; tried again next time");
            self.failed += 1;
        }
    }
}

impl<A: Ports> Engine<A> {
    /// A payment provider's refund notification (WeChat Pay `REFUND.SUCCESS` /
    /// `REFUND.ABNORMAL` / `REFUND.CLOSED`): the outcome of a refund the provider answered as
    /// pending. Verifies it through the gateway, finds the order, and completes or fails the
    /// refund exactly once; a duplicate is answered as handled, as is an outcome contrary to
    /// one recorded before (logged: resending it cannot change anything).
    ///
    /// Errors: [`EngineError::Payment`] for forged, stale or malformed messages (nothing is
    /// changed), [`EngineError::NotFound`] for an unknown order, [`EngineError::Rejected`]
    /// with [`Error::UnknownRefund`] for a refund the order does not have, or
    /// [`Error::PaymentMismatch`] when the provider reports another amount than the refund's
    /// (nothing recorded: staff must look).
    pub async fn handle_refund_notification(&self, raw: &RawMessage) -> Result<WebhookReply, EngineError> {
        let span = tracing::info_span!("orderflow.webhook", hook = "refund_notification");
        self.refund_notification(raw).instrument(span).await
    }

    async fn refund_notification(&self, raw: &RawMessage) -> Result<WebhookReply, EngineError> {
        let payments = self.adapters.payments();
        let notification =
            payments.verify_refund_notification(raw, self.adapters.clock().now()).await.inspect_err(|e| {
                tracing::warn!(error = %e, "refund notification refused");
            })?;
        let id = self.orders().find_by_number(&notification.order_number).await?.ok_or(EngineError::NotFound)?;
        self.settle_refund(id, &notification).await?;
        Ok(payments.reply_to(raw, true))
    }

    /// Records a verified refund outcome; `true` when it changed the order.
    async fn settle_refund(&self, id: OrderId, outcome: &RefundNotification) -> Result<bool, EngineError> {
        let action = match outcome.status {
            RefundStatus::Succeeded => {
                Action::CompleteRefund { refund: outcome.refund, reference: outcome.provider_refund_id.clone() }
            }
            RefundStatus::Failed => {
                Action::FailRefund { refund: outcome.refund, reason: RefundFailure::ProviderFailed }
            }
            // Still processing: nothing to record yet.
            _ => return Ok(false),
        };
        let order = self.order(id).await?;
        let refund = order
            .payment
            .refunds
            .iter()
            .find(|r| r.id == outcome.refund)
            .ok_or(Error::UnknownRefund(outcome.refund))?;
        if refund.amount != outcome.amount {
            tracing::error!(refund = %outcome.refund.0, "provider reports another refund amount; not recorded");
            return Err(Error::PaymentMismatch { expected: refund.amount, received: outcome.amount }.into());
        }
        // Under the provider that verified it; one that does not say is the order's.
        let (actor, actor_of) = match outcome.provider.as_deref() {
            Some(provider) => (Actor::PaymentProvider { provider: provider.into() }, None),
            None => (
                Actor::PaymentProvider { provider: "unknown".into() },
                Some(provider_of as fn(&crate::order::Order) -> Actor),
            ),
        };
        match self.run(id, Command::new(actor, action), None, actor_of).await {
            Ok(done) => Ok(!done.already_applied),
            Err(EngineError::Rejected(refusal @ Error::InvalidField { .. })) => {
                // Completed after it failed, or the reverse: the first outcome stands.
                tracing::warn!(error = %refusal, "refund outcome contrary to the one recorded; ignored");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Asks the providers about what they may have settled without our hearing of it, and
    /// records what they say through the same command path as their notifications:
    /// - orders awaiting payment (at each provider with a payment session, the first payment
    ///   found recorded under the provider that took it) placed before `now` minus
    ///   [`reconcile_payments_after`](super::EngineSettings::reconcile_payments_after) (a
    ///   notification lost or late), well before their pay-by deadline;
    /// - gateway refunds still pending
    ///   [`reconcile_refunds_after`](super::EngineSettings::reconcile_refunds_after) after they
    ///   were requested, on orders placed within
    ///   [`refund_reconcile_window`](super::EngineSettings::refund_reconcile_window).
    ///
    /// Call it on an interval (every few minutes). `limit` is the page size of the store
    /// listings; every page is read (see the module doc for the cost). One order's failure
    /// (provider or store down) is counted in [`ReconcileReport::failed`] and does not stop the
    /// others.
    ///
    /// # Errors
    /// [`EngineError::Store`] when the store cannot list the orders; what was recorded before
    /// stays recorded.
    pub async fn reconcile_payments(&self, now: DateTime<Utc>, limit: usize) -> Result<ReconcileReport, EngineError> {
        let mut report = ReconcileReport::default();
        let unpaid = OrderFilter {
            status: Some(OrderStatus::AwaitingPayment),
            placed_before: Some(after(now, -self.settings.reconcile_payments_after)),
            ..OrderFilter::default()
        };
        for id in self.listed(&unpaid, limit).await? {
            let checked = self.reconcile_payment(id, &mut report).await;
            report.note(id, checked);
        }
        let recent = OrderFilter {
            placed_from: Some(after(now, -self.settings.refund_reconcile_window)),
            ..OrderFilter::default()
        };
        let refunds_before = after(now, -self.settings.reconcile_refunds_after);
        for id in self.listed(&recent, limit).await? {
            let checked = self.reconcile_refunds(id, refunds_before, &mut report).await;
            report.note(id, checked);
        }
        Ok(report)
    }

    /// The ids of every order `filter` lists, read a page of `limit` at a time.
    async fn listed(&self, filter: &OrderFilter, limit: usize) -> Result<Vec<OrderId>, EngineError> {
        let (mut ids, mut next) = (Vec::new(), None);
        loop {
            let page = self.orders().list(filter, next, limit.max(1)).await?;
            ids.extend(page.items.iter().map(|summary| summary.id));
            match page.next {
                Some(cursor) => next = Some(cursor),
                None => return Ok(ids),
            }
        }
    }

    /// Asks each provider with a payment session for an unpaid order whether it was paid, and
    /// records the first payment found, under the provider that took it.
    async fn reconcile_payment(&self, id: OrderId, report: &mut ReconcileReport) -> Result<(), EngineError> {
        let order = self.order(id).await?;
        if order.payment.chosen_provider().is_none() || order.cancellation.is_some() || order.payment.gate_open() {
            return Ok(());
        }
        report.payments_checked += 1;
        if let Some((provider, paid)) = self.find_payment(&order).await? {
            let actor = Actor::PaymentProvider { provider: provider.into() };
            // Boxed: a command's future is large (see `follow_up`).
            Box::pin(self.apply_payment(order.id, &paid, actor)).await?;
            tracing::info!(order_id = %order.id, "payment found by reconciliation (its notification was lost)");
            report.found_paid += 1;
        }
        Ok(())
    }

    /// The first provider with a payment session for `order` that reports a successful
    /// payment, and that payment: each is asked in turn, the chosen provider first
    /// ([`PaymentLedger::session_providers`](crate::order::PaymentLedger::session_providers)),
    /// since the buyer may have paid through any session they opened.
    ///
    /// A provider that cannot answer does not keep the others from being asked; its error is
    /// returned when none of them reports a payment, so the caller tries again later. A
    /// provider other than the chosen one that refuses the question outright
    /// ([`GatewayError::Rejected`], e.g. one the gateway does not have: its session was
    /// recorded, then refused when it was created) is logged and taken as unpaid, so it cannot
    /// hold the order up.
    pub(super) async fn find_payment(
        &self,
        order: &Order,
    ) -> Result<Option<(String, PaymentNotification)>, EngineError> {
        let mut failed = None;
        for provider in order.payment.session_providers() {
            match self.adapters.payments().query_payment(&order.number, provider).await {
                Ok(Some(paid)) if paid.status == PaymentStatus::Succeeded => {
                    return Ok(Some((provider.to_owned(), paid)));
                }
                Ok(_) => {}
                Err(e) if refused_outright(order, provider, &e) => {
                    tracing::warn!(order_id = %order.id, provider, error = %e, "provider refused to say whether the order was paid there; taken as unpaid");
                }
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        failed.map_or(Ok(None), |e| Err(e.into()))
    }

    /// Asks the provider about the order's gateway refunds pending since before `before`, and
    /// records each outcome found.
    async fn reconcile_refunds(
        &self,
        id: OrderId,
        before: DateTime<Utc>,
        report: &mut ReconcileReport,
    ) -> Result<(), EngineError> {
        let order = self.order(id).await?;
        let pending = order.payment.refunds.iter().filter(|r| {
            r.method == RefundMethod::Gateway
                && r.status == crate::order::RefundStatus::Pending
                && r.requested_at <= before
        });
        for refund in pending {
            let Some(provider) = order.payment.refund_provider(refund) else { return Ok(()) };
            report.refunds_checked += 1;
            let found = self.adapters.payments().query_refund(&order.number, refund.id, provider).await?;
            if let Some(outcome) = found
                && Box::pin(self.settle_refund(order.id, &outcome)).await?
            {
                report.refunds_settled += 1;
            }
        }
        Ok(())
    }
}

/// True when `provider` refused a call about `order` for good and is not the order's chosen
/// provider: a session the gateway never had (see [`Engine::find_payment`]), which must not
/// keep the order from being reconciled or cancelled.
pub(super) fn refused_outright(order: &Order, provider: &str, error: &GatewayError) -> bool {
    matches!(error, GatewayError::Rejected(_)) && order.payment.chosen_provider() != Some(provider)
}
