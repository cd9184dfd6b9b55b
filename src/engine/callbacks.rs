//! Webhooks: verified payment notifications and carrier tracking pushes, applied exactly once.

use tracing::Instrument;

use super::{Engine, EngineError, Ports};
use crate::actor::Actor;
use crate::command::{Action, Command};
use crate::error::Error;
use crate::ids::OrderId;
use crate::order::{Order, UNKNOWN_CARRIER};
use crate::ports::{
    Clock, Logistics, OrderRepository, PaymentGateway, PaymentNotification, PaymentStatus, RawMessage, TrackingPush,
    WebhookReply,
};

impl<A: Ports> Engine<A> {
    /// Stage 3: a payment provider's asynchronous notification. Verifies it (through the
    /// gateway adapter: signature, timestamp), finds the order, and records the capture exactly
    /// once, under the provider that verified it: a buyer who switched provider at the payment
    /// page (placed with WeChat Pay, paid with Alipay through a
    /// [`PaymentRouter`](crate::adapters::router::PaymentRouter)) is recorded as paid through
    /// Alipay, refunded there, and every other payment session (the chosen provider's
    /// included) is closed. A duplicate is answered as success so the provider stops retrying. A verified
    /// payment that does not match the order (amount, currency, state) is recorded as a payment
    /// anomaly for staff and never marks the order paid; a payment for a cancelled order is
    /// recorded and refunded.
    ///
    /// Errors: [`EngineError::Payment`] for forged, stale or malformed messages (answer 401/400),
    /// [`EngineError::NotFound`] for an unknown order.
    pub async fn handle_payment_notification(&self, raw: &RawMessage) -> Result<WebhookReply, EngineError> {
        let span = tracing::info_span!("orderflow.webhook", hook = "payment_notification");
        self.payment_notification(raw).instrument(span).await
    }

    async fn payment_notification(&self, raw: &RawMessage) -> Result<WebhookReply, EngineError> {
        let payments = self.adapters.payments();
        let notification = payments.verify_notification(raw, self.adapters.clock().now()).await.inspect_err(|e| {
            tracing::warn!(error = %e, "payment notification refused");
        })?;
        let id = self.orders().find_by_number(&notification.order_number).await?.ok_or(EngineError::NotFound)?;
        if notification.status == PaymentStatus::Succeeded {
            // Recorded under the provider that verified it, which may not be the order's: the
            // buyer can switch provider at the payment page. A gateway that does not say is
            // taken to be the order's own provider, named from the order the command loads.
            match notification.provider.as_deref() {
                Some(provider) => {
                    let actor = Actor::PaymentProvider { provider: provider.into() };
                    self.record_payment(id, capture(&notification, actor), &notification, None).await?;
                }
                None => {
                    let capture = capture(&notification, Actor::PaymentProvider { provider: "unknown".into() });
                    self.record_payment(id, capture, &notification, Some(provider_of)).await?;
                }
            }
        }
        Ok(payments.reply_to(raw, true))
    }

    /// Records a verified successful payment: a capture, or an anomaly when it cannot be applied.
    pub(super) async fn apply_payment(
        &self,
        id: OrderId,
        payment: &PaymentNotification,
        actor: Actor,
    ) -> Result<(), EngineError> {
        self.record_payment(id, capture(payment, actor), payment, None).await
    }

    /// [`Engine::apply_payment`], with the actor named from the loaded order when `actor_of`
    /// is given.
    async fn record_payment(
        &self,
        id: OrderId,
        capture: Command,
        payment: &PaymentNotification,
        actor_of: Option<fn(&Order) -> Actor>,
    ) -> Result<(), EngineError> {
        let actor = capture.actor.clone();
        match self.run(id, capture, None, actor_of).await {
            Ok(_) => Ok(()),
            Err(EngineError::Rejected(
                refusal
                @ (Error::PaymentMismatch { .. } | Error::IllegalTransition { .. } | Error::InvalidField { .. }),
            )) => {
                tracing::warn!(error = %refusal, "verified payment cannot be applied; recorded as an anomaly");
                let anomaly = Action::RecordPaymentAnomaly {
                    txn_id: payment.txn_id.clone(),
                    amount: payment.amount,
                    reason: crate::order::AnomalyReason::from_refusal(&refusal),
                };
                self.run(id, Command::new(actor, anomaly), None, actor_of).await.map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Stage 6: a carrier's tracking push. Verifies it through the logistics adapter, finds
    /// each waybill's order and records the update once (duplicates are ignored, late ones
    /// are placed in time order). Returns how many updates were new.
    ///
    /// Waybill numbers are unique per carrier only: an update is for the order that has its
    /// waybill under the push's carrier, or under the carrier the push corrects it to, or else
    /// (a buyer's return parcel, whose carrier the order does not know) under
    /// [`UNKNOWN_CARRIER`].
    ///
    /// A push whose tracking service corrects the carrier of a shipped parcel
    /// ([`TrackingPush::corrected_carrier`]) records the correction on the order once
    /// ([`Action::CorrectCarrier`], by the system) before its update: later polls and
    /// subscriptions ask the corrected carrier.
    ///
    /// Every update of a batch is tried, whatever happens to the others. A waybill no order
    /// has is logged and skipped, unless no waybill of the push is known
    /// ([`EngineError::UnknownWaybill`], answer 404). Any other failure is returned after the
    /// rest were recorded, so the carrier sends the push again and the recorded updates are
    /// recognised as duplicates.
    pub async fn handle_tracking_push(&self, raw: &RawMessage) -> Result<usize, EngineError> {
        let span = tracing::info_span!("orderflow.webhook", hook = "tracking_push");
        self.tracking_push(raw).instrument(span).await
    }

    async fn tracking_push(&self, raw: &RawMessage) -> Result<usize, EngineError> {
        let pushes =
            self.adapters.logistics().verify_tracking_push(raw, self.adapters.clock().now()).await.inspect_err(
                |e| {
                    tracing::warn!(error = %e, "tracking push refused");
                },
            )?;
        // One waybill's trouble does not hold back the others of a batch.
        let (mut applied, mut known) = (0, 0);
        let (mut unknown, mut failed) = (None, None);
        for push in pushes {
            match self.apply_tracking(push).await {
                Ok(new) => {
                    known += 1;
                    applied += usize::from(new);
                }
                Err(EngineError::UnknownWaybill(waybill)) => {
                    tracing::warn!(waybill = %waybill, "tracking push for a waybill no order has");
                    unknown.get_or_insert(waybill);
                }
                Err(e) => {
                    known += 1;
                    failed.get_or_insert(e);
                }
            }
        }
        match (failed, unknown) {
            // Asked again, the applied updates are recognised as duplicates.
            (Some(e), _) => Err(e),
            (None, Some(waybill)) if known == 0 => Err(EngineError::UnknownWaybill(waybill)),
            _ => Ok(applied),
        }
    }

    /// Records one verified tracking update on the order whose waybill it is; `true` when it
    /// was new.
    async fn apply_tracking(&self, push: TrackingPush) -> Result<bool, EngineError> {
        let waybill = push.waybill.trim().to_owned();
        let carrier = push.carrier.trim();
        let corrected = push.corrected_carrier.as_deref().map(str::trim).filter(|c| !c.is_empty() && *c != carrier);
        let store = self.orders();
        // A parcel's waybill is indexed under its carrier: the booked one, or the corrected one
        // once a correction is recorded (the tracking service keeps pushing under the old code).
        let mut parcel = None;
        for candidate in std::iter::once(carrier).chain(corrected).filter(|c| *c != UNKNOWN_CARRIER) {
            if let Some(id) = store.find_by_waybill(candidate, &waybill).await? {
                parcel = Some(id);
                break;
            }
        }
        let id = match parcel {
            Some(id) => {
                if let Some(corrected) = corrected {
                    self.correct_carrier(id, &waybill, carrier, corrected).await?;
                }
                id
            }
            // A return parcel's waybill, whose carrier the order does not know.
            None => store
                .find_by_waybill(UNKNOWN_CARRIER, &waybill)
                .await?
                .ok_or_else(|| EngineError::UnknownWaybill(waybill.clone()))?,
        };
        self.record_tracking_on(id, carrier, waybill, push.update).await
    }

    /// Records that the tracking service says `waybill` (found under `carrier`) belongs to
    /// `corrected`; a correction already recorded changes nothing. One the order refuses is
    /// logged and does not hold back the tracking update.
    async fn correct_carrier(
        &self,
        id: OrderId,
        waybill: &str,
        carrier: &str,
        corrected: &str,
    ) -> Result<(), EngineError> {
        let action = Action::CorrectCarrier { waybill: waybill.to_owned(), carrier: corrected.to_owned() };
        match self.execute(id, Command::new(Actor::System, action)).await {
            Ok(outcome) => {
                if !outcome.already_applied {
                    tracing::info!(waybill, carrier, corrected, "the tracking service corrected the parcel's carrier");
                }
                Ok(())
            }
            // Refused by the order, or the corrected carrier's waybill is another order's.
            Err(refusal @ (EngineError::Rejected(_) | EngineError::WaybillTaken { .. })) => {
                tracing::warn!(waybill, carrier, corrected, error = %refusal, "carrier correction not recorded");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Records `update` of `carrier`'s `waybill` on order `id`, as the carrier; `true` when it
    /// was new.
    pub(super) async fn record_tracking_on(
        &self,
        id: OrderId,
        carrier: &str,
        waybill: String,
        update: crate::order::TrackingUpdate,
    ) -> Result<bool, EngineError> {
        let carrier = if carrier.is_empty() { "unknown".into() } else { carrier.into() };
        let action = Action::RecordTracking { waybill, update };
        let outcome = self.execute(id, Command::new(Actor::Carrier { carrier }, action)).await?;
        Ok(!outcome.already_applied)
    }
}

/// The capture a verified payment asks for, by `actor`.
fn capture(payment: &PaymentNotification, actor: Actor) -> Command {
    Command::new(actor, Action::CapturePayment { txn_id: payment.txn_id.clone(), amount: payment.amount })
}

/// The payment provider an order is paid through, as the actor of its payment records.
pub(super) fn provider_of(order: &Order) -> Actor {
    Actor::PaymentProvider { provider: order.payment.provider().unwrap_or("unknown").into() }
}
