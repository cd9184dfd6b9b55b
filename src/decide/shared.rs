//! What every sub-machine's decisions use: the decision being built (`Out`), field errors,
//! fresh sub-ids, and the stock an effect names.

use chrono::{DateTime, Utc};

use crate::actor::Actor;
use crate::decide::Decision;
use crate::effect::{Audience, Effect, Notification, NotificationKind, StockItem};
use crate::error::Error;
use crate::event::{Change, Event};
use crate::order::{DeadlineKind, Order, Package};
use crate::order_number::OrderNumber;
use crate::text::Trim;

/// Collects events and effects of one decision, numbering events after the order's version.
/// Borrows the command's actor: each event gets its own copy, and nothing more is cloned.
pub(crate) struct Out<'a> {
    version: u64,
    pub(crate) actor: &'a Actor,
    pub(crate) now: DateTime<Utc>,
    events: Vec<Event>,
    effects: Vec<Effect>,
}

impl<'a> Out<'a> {
    pub(crate) fn new(version: u64, actor: &'a Actor, now: DateTime<Utc>) -> Out<'a> {
        Out { version, actor, now, events: Vec::new(), effects: Vec::new() }
    }

    /// Adds an effect.
    pub(crate) fn effect(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    pub(crate) fn emit(&mut self, change: Change) {
        let actor = self.actor.clone();
        self.emit_as(actor, change);
    }

    pub(crate) fn emit_as(&mut self, actor: Actor, change: Change) {
        let seq = self.version + self.events.len() as u64 + 1;
        self.events.push(Event { seq, at: self.now, actor, change });
    }

    pub(crate) fn set_deadline(&mut self, kind: DeadlineKind, at: Option<DateTime<Utc>>) {
        self.emit_as(Actor::System, Change::DeadlineSet { kind, at });
        if let Some(at) = at {
            self.effect(Effect::Schedule { kind, at });
        }
    }

    pub(crate) fn notify_to(&mut self, audience: Audience, number: &OrderNumber, kind: NotificationKind) {
        self.effect(Effect::Notify(Notification { audience, order_number: *number, kind }));
    }

    pub(crate) fn notify_buyer(&mut self, order: &Order, kind: NotificationKind) {
        self.notify_to(Audience::Buyer { customer: order.customer.clone() }, &order.number, kind);
    }

    pub(crate) fn finish(self) -> Decision {
        Decision { events: self.events, effects: self.effects }
    }
}

pub(crate) fn invalid(field: &'static str, rule: &str) -> Error {
    Error::InvalidField { field, rule: rule.to_owned() }
}

pub(crate) fn required(field: &'static str, value: &str) -> Result<(), Error> {
    let len = value.trimmed().chars().count();
    if len == 0 {
        Err(invalid(field, "is required"))
    } else if len > 500 {
        Err(invalid(field, "must be at most 500 characters"))
    } else {
        Ok(())
    }
}

pub(crate) fn next_id(existing: impl Iterator<Item = u32>) -> u32 {
    existing.max().unwrap_or(0).saturating_add(1)
}

/// Units per SKU, sorted by SKU, without zeros (lines of the same SKU added up).
pub(crate) fn stock_items<'a>(lines: impl Iterator<Item = (&'a crate::placement::Line, u32)>) -> Vec<StockItem> {
    let mut items: Vec<StockItem> =
        lines.map(|(line, quantity)| StockItem { sku: line.sku.clone(), quantity }).collect();
    items.sort_by(|a, b| a.sku.cmp(&b.sku));
    items.dedup_by(|later, kept| {
        let same = later.sku == kept.sku;
        if same {
            kept.quantity = kept.quantity.saturating_add(later.quantity);
        }
        same
    });
    items.retain(|i| i.quantity > 0);
    items
}

pub(crate) fn stock_of_package(order: &Order, parcel: &Package) -> Vec<StockItem> {
    stock_items(parcel.items.iter().filter_map(|i| order.line(i.line).map(|l| (l, i.quantity))))
}
