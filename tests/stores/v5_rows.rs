//! A refund's reason as the builds before it was typed wrote it (events of stored version 5,
//! snapshots of version 6: English text), for the upgrade tests of the durable stores.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use orderflow::stored::{StoredEvent, StoredSnapshot};
use orderflow::testing::{buyer, conformance, provider, t0};
use orderflow::{Action, Command, Ctx, Event, Order, RefundReason, Workflow, evolve};
use serde_json::Value;

/// What those builds wrote as the reason of a refund sending back a late payment.
const LATE_PAYMENT: &str = "payment arrived after the order was cancelled";

/// An order its buyer cancelled unpaid, whose payment arrived afterwards and is being sent
/// back, as the current build holds it; and the JSON of each of its events (`.1`) and of its
/// snapshot (`.2`) in the old form.
pub struct LatePayment {
    /// The order.
    pub order: Order,
    /// Its events.
    pub events: Vec<Event>,
    /// Each event as version 5 wrote it.
    pub old_events: Vec<Value>,
    /// The snapshot as version 6 wrote it.
    pub old_snapshot: Value,
}

/// See [`LatePayment`]; `number` is the order number's value.
pub fn late_payment(number: u64) -> LatePayment {
    let (mut order, mut events) = conformance::sample_order("late", number, t0());
    let cancel = Command::new(buyer("late"), Action::Cancel { reason: "changed my mind".into() });
    let pay =
        Command::new(provider(), Action::CapturePayment { txn_id: "T-late".into(), amount: order.totals().total });
    for command in [cancel, pay] {
        let decision = Workflow::default().decide(&order, &command, &Ctx::at(t0())).unwrap();
        for event in &decision.events {
            evolve(&mut order, event);
        }
        events.extend(decision.events);
    }
    assert_eq!(order.payment().refunds[0].reason, RefundReason::PaidAfterCancellation, "test setup");
    let old_events = events
        .iter()
        .map(|event| {
            let mut json: Value = serde_json::from_str(&StoredEvent::encode(event).to_json().unwrap()).unwrap();
            if json["change"]["type"] == "refund_requested" {
                json["change"]["refund"]["reason"] = LATE_PAYMENT.into();
            }
            json
        })
        .collect();
    let mut old_snapshot: Value = serde_json::from_str(&StoredSnapshot::encode(&order).to_json().unwrap()).unwrap();
    old_snapshot["payment"]["refunds"][0]["reason"] = LATE_PAYMENT.into();
    LatePayment { order, events, old_events, old_snapshot }
}
