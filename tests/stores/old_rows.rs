//! Orders as builds before a reason was typed wrote them (English text where a typed reason is
//! stored now), for the upgrade tests of the durable stores: a refund's reason (events of
//! stored version 5, snapshots of version 6) and why a carrier was chosen (events of version
//! 6, snapshots of version 7).
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use orderflow::carrier_choice::{CarrierSelector, Cheapest};
use orderflow::ports::{Parcel, Quote};
use orderflow::stored::{StoredEvent, StoredSnapshot};
use orderflow::testing::{Scenario, buyer, pack_remaining, provider, sample_form, warehouse};
use orderflow::{Action, ChoiceReason, Currency, Event, Money, Order, PackageId, RefundReason};
use serde_json::Value;

/// What those builds wrote as the reason of a refund sending back a late payment.
const LATE_PAYMENT: &str = "payment arrived after the order was cancelled";

/// What those builds wrote when the cheapest of two quotes was chosen.
const CHEAPEST: &str = "cheapest of 2 quote(s): SF standard at 12.00 CNY in 2 day(s)";

/// An order as the current build holds it, and the JSON of each of its events and of its
/// snapshot in an older form.
pub struct OldRows {
    /// The order.
    pub order: Order,
    /// Its events.
    pub events: Vec<Event>,
    /// Each event as the older build wrote it.
    pub old_events: Vec<Value>,
    /// The events' stored version in the older build.
    pub event_version: u16,
    /// The snapshot as the older build wrote it.
    pub old_snapshot: Value,
    /// The snapshot's stored version in the older build.
    pub snapshot_version: u16,
    /// Text only the older form holds (to check it is what the store holds).
    pub old_text: &'static str,
}

/// The scenario's order and its history.
fn order_and_events(s: &Scenario) -> (Order, Vec<Event>) {
    (s.order().clone(), s.history().to_vec())
}

/// `events` as stored JSON, each one rewritten by `old` into the older form.
fn old_events(events: &[Event], old: impl Fn(&mut Value)) -> Vec<Value> {
    let json = |event| serde_json::from_str::<Value>(&StoredEvent::encode(event).to_json().unwrap()).unwrap();
    events
        .iter()
        .map(|event| {
            let mut value = json(event);
            old(&mut value);
            value
        })
        .collect()
}

/// `order`'s snapshot as stored JSON.
fn snapshot(order: &Order) -> Value {
    serde_json::from_str(&StoredSnapshot::encode(order).to_json().unwrap()).unwrap()
}

/// An order its buyer cancelled unpaid, whose payment arrived afterwards and is being sent
/// back, with the refund's reason as versions 5 (events) and 6 (snapshots) wrote it.
pub fn late_payment() -> OldRows {
    let mut s = Scenario::placed(sample_form("late"));
    s.when(buyer("late"), Action::Cancel { reason: "changed my mind".into() }).unwrap();
    let total = s.order().totals().total;
    s.when(provider(), Action::CapturePayment { txn_id: "T-late".into(), amount: total }).unwrap();
    let (order, events) = order_and_events(&s);
    assert_eq!(order.payment().refunds[0].reason, RefundReason::PaidAfterCancellation, "test setup");
    let old_events = old_events(&events, |json| {
        if json["change"]["type"] == "refund_requested" {
            json["change"]["refund"]["reason"] = LATE_PAYMENT.into();
        }
    });
    let mut old_snapshot = snapshot(&order);
    old_snapshot["payment"]["refunds"][0]["reason"] = LATE_PAYMENT.into();
    OldRows { order, events, old_events, event_version: 5, old_snapshot, snapshot_version: 6, old_text: LATE_PAYMENT }
}

/// A paid order whose parcel was booked with the cheapest of two quotes, with the choice's
/// reason as versions 6 (events) and 7 (snapshots) wrote it.
pub fn booked_cheapest() -> OldRows {
    let mut s = Scenario::placed(sample_form("booked"));
    let total = s.order().totals().total;
    s.when(provider(), Action::CapturePayment { txn_id: "T-book".into(), amount: total }).unwrap();
    s.when(warehouse(), Action::IssuePickList).unwrap();
    s.when(warehouse(), pack_remaining(s.order())).unwrap();
    let quote = |carrier: &str, minor, estimated_days| Quote {
        carrier: carrier.into(),
        service: "standard".into(),
        cost: Money::new(minor, Currency::CNY),
        estimated_days,
    };
    let quotes = [quote("SF", 1_200, 2), quote("YTO", 1_500, 3)];
    let parcel = Parcel { items: Vec::new(), weight_grams: 500 };
    let choice = Cheapest.select(&quotes, &parcel, s.order().shipping_address()).unwrap();
    let book = Action::BookShipment {
        package: PackageId(1),
        carrier: "SF".into(),
        service: "standard".into(),
        reason: choice.reason,
    };
    s.when(warehouse(), book).unwrap();
    let (order, events) = order_and_events(&s);
    let package = order.fulfilment().package(PackageId(1)).unwrap();
    let expected = ChoiceReason::Cheapest { quotes: 2, cost: Money::new(1_200, Currency::CNY), days: 2 };
    assert_eq!(package.selection_reason, Some(expected), "test setup");
    let old_events = old_events(&events, |json| {
        if json["change"]["type"] == "shipment_booked" {
            json["change"]["reason"] = CHEAPEST.into();
        }
    });
    let mut old_snapshot = snapshot(&order);
    old_snapshot["fulfilment"]["packages"][0]["selection_reason"] = CHEAPEST.into();
    OldRows { order, events, old_events, event_version: 6, old_snapshot, snapshot_version: 7, old_text: CHEAPEST }
}
