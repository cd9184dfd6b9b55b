//! Placement: a validated form becomes a new order's first events (placement, then the
//! automatic review), and its `order_placed` event becomes the order.

use super::forbidden;
use super::shared::{Out, stock_items};
use crate::actor::Actor;
use crate::command::CommandKind;
use crate::decide::{Ctx, Decision, NewOrder, ReplayError, Workflow, after};
use crate::effect::{Audience, Effect, NotificationKind};
use crate::error::Error;
use crate::event::{Change, Event};
use crate::order::{DeadlineKind, HoldReason, Order, Verdict};
use crate::placement::PlaceOrderForm;
use crate::text::Trim;
use crate::transitions;

impl Workflow {
    /// Stage 1: validate a placement form and decide the new order's first events (placement
    /// and automatic review) and effects (stock reservation, the buyer's message with the
    /// order number and estimated ship time, the pay-by deadline).
    pub fn place(&self, actor: &Actor, form: &PlaceOrderForm, new: NewOrder, ctx: &Ctx) -> Result<Decision, Error> {
        let allowed = transitions::permission(CommandKind::Place);
        match actor {
            Actor::Buyer { customer } if customer.as_str() != form.customer.trimmed() => {
                return Err(Error::NotYourOrder);
            }
            Actor::Buyer { .. } => {}
            Actor::Staff { .. } if allowed.roles.iter().any(|r| actor.has_role(*r)) => {}
            _ => return Err(forbidden(actor, CommandKind::Place)),
        }
        let draft = self.validator.validate(form)?;
        let now = ctx.now;
        let pay_by = (!draft.payment.is_cod()).then(|| after(now, self.config.pay_within));
        let ship_by = after(now, self.config.ship_within);
        let customer = draft.customer.clone();
        let number = new.number;
        let total = draft.totals.total;
        let stock = stock_items(draft.lines.iter().map(|l| (l, l.quantity)));

        let mut holds: Vec<HoldReason> = Vec::new();
        let mut approvals = 0usize;
        for rule in &self.review_rules {
            match rule.review(&draft) {
                Verdict::Hold(reason) if !holds.contains(&reason) => holds.push(reason),
                Verdict::Hold(_) | Verdict::Abstain => {}
                Verdict::Approve => approvals += 1,
            }
        }

        let mut out = Out::new(0, actor, now);
        out.emit(Change::OrderPlaced { id: new.id, number: new.number, draft: Box::new(draft), pay_by, ship_by });
        out.effect(Effect::ReserveStock { items: stock, case: None });
        out.notify_to(
            Audience::Buyer { customer: customer.clone() },
            &number,
            NotificationKind::Placed { estimated_ship_by: ship_by, total },
        );
        if let Some(at) = pay_by {
            out.effect(Effect::Schedule { kind: DeadlineKind::PayBy, at });
        }
        // Decided by the system (the events' actor says so): no remark of a person to record.
        if !holds.is_empty() {
            if holds.iter().any(HoldReason::needs_buyer) {
                out.notify_to(
                    Audience::Buyer { customer },
                    &number,
                    NotificationKind::NeedsBuyerContact { reasons: holds.clone() },
                );
            }
            out.emit_as(Actor::System, Change::ReviewHeld { reasons: holds, note: String::new() });
        } else if self.config.auto_approve || approvals > 0 {
            out.emit_as(Actor::System, Change::ReviewApproved { note: String::new() });
        }
        Ok(out.finish())
    }
}

impl Order {
    /// The order as it is right after its `order_placed` event.
    pub fn from_placed(event: &Event) -> Result<Order, ReplayError> {
        let Change::OrderPlaced { id, number, draft, pay_by, ship_by } = &event.change else {
            return Err(ReplayError::NotPlacedFirst(event.change.name()));
        };
        if event.seq != 1 {
            return Err(ReplayError::OutOfSequence { expected: 1, found: event.seq });
        }
        let draft = draft.as_ref().clone();
        Ok(Order {
            id: *id,
            number: *number,
            customer: draft.customer,
            placed_at: event.at,
            currency: draft.currency,
            lines: draft.lines,
            shipping_address: draft.shipping_address,
            totals: draft.totals,
            buyer_note: draft.buyer_note,
            review: crate::order::ReviewState::Pending,
            payment: crate::order::PaymentLedger::new(draft.payment, draft.totals.total),
            fulfilment: Default::default(),
            completion: None,
            cancellation: None,
            deadlines: crate::order::Deadlines { pay_by: *pay_by, ship_by: Some(*ship_by), ..Default::default() },
            follow_ups: Vec::new(),
            cases: Vec::new(),
            version: 1,
        })
    }
}
