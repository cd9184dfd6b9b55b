//! Effect delivery from the outbox: at least once, with the effect's key for deduplication at
//! the receiving side, retried with exponential backoff, and given up (dead letter) after
//! `max_delivery_attempts`. A failing notifier or gateway never blocks an order transition:
//! the transition is already committed when its effects are delivered.

use super::{Engine, EngineError, Ports};
use crate::actor::Actor;
use crate::command::{Action, Command};
use crate::effect::Effect;
use crate::ports::{
    Clock, GatewayError, Inventory, Logistics, Notifier, OrderStore, OutboxItem, PaymentGateway, PaymentStatus,
    RefundRequest, ShipmentRequest,
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
    pub async fn dispatch_outbox(&self) -> Result<DispatchReport, EngineError> {
        let now = self.adapters.clock().now();
        let store = self.adapters.store();
        let items = store.claim_outbox(now, self.settings.outbox_lease, self.settings.outbox_batch).await?;
        let mut report = DispatchReport::default();
        for item in items {
            match self.deliver(&item).await {
                Ok(()) => {
                    store.complete_outbox(&item.key).await?;
                    report.delivered += 1;
                }
                Err(e) => {
                    let give_up = item.attempts >= self.settings.max_delivery_attempts;
                    let retry_at = (!give_up).then(|| self.retry_at(now, item.attempts));
                    tracing::warn!(key = %item.key, attempts = item.attempts, error = %e, give_up, "effect delivery failed");
                    store.fail_outbox(&item.key, retry_at, &e.to_string()).await?;
                    if give_up {
                        report.dead += 1;
                    } else {
                        report.retrying += 1;
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
                match payments.close_payment(&order.number).await {
                    Ok(()) => Ok(()),
                    Err(GatewayError::Rejected(_)) => {
                        // Paid after all: record it; the core refunds money for a cancelled order.
                        if let Some(paid) = payments.query_payment(&order.number).await? {
                            if paid.status == PaymentStatus::Succeeded {
                                let actor = Actor::PaymentProvider { provider: provider.clone() };
                                self.apply_payment(item.order_id, &paid, actor).await?;
                            }
                        }
                        Ok(())
                    }
                    Err(e) => Err(e.into()),
                }
            }
            Effect::Refund { refund, amount, provider } => {
                let order = self.order(item.order_id).await?;
                let request = RefundRequest {
                    key: key.to_owned(),
                    order_number: order.number,
                    refund: *refund,
                    amount: *amount,
                    provider: provider.clone(),
                };
                let action = match self.adapters.payments().refund(&request).await {
                    Ok(receipt) => Action::CompleteRefund { refund: *refund, reference: receipt.reference },
                    Err(GatewayError::Rejected(reason)) => Action::FailRefund { refund: *refund, reason },
                    // Timed out or down: retried later with the same key, so never paid twice.
                    Err(e) => return Err(e.into()),
                };
                self.follow_up(item, action).await
            }
            Effect::CreateShipment { package, carrier, service, address, .. } => {
                let order = self.order(item.order_id).await?;
                let parcel =
                    order.fulfillment.package(*package).ok_or(crate::error::Error::UnknownPackage(*package))?;
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
            // Reservations run before commit and deadlines live on the order: nothing to deliver.
            Effect::ReserveStock { .. } | Effect::Schedule { .. } => Ok(()),
        }
    }

    /// Records what an external call answered as a system command on the order.
    async fn follow_up(&self, item: &OutboxItem, action: Action) -> Result<(), EngineError> {
        match self.execute(item.order_id, Command::new(Actor::System, action)).await {
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
