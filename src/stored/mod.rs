//! The stored form of events and snapshots: what the durable stores write, with a schema
//! version, and how older versions are read.
//!
//! The domain types ([`Event`](crate::Event), [`Order`](crate::Order)) have plain serde derives
//! and know nothing of storage. A store writes them through this codec, which records the
//! schema version next to the JSON ([`StoredEvent`], [`StoredSnapshot`]), and reads them back
//! through it: JSON of an older version goes through the upcasters of [`upcast`] (v1 → v2 → …)
//! before it is deserialised, so old rows never need defaults on domain fields.
//!
//! Versions:
//!
//! * 1: what builds before the codec wrote: the event carried its own `v: 1`, and fields added
//!   later (`Refund::unapplied_txn`, `Anomaly::provider`, `PaymentLedger::cod_void`, …) may be
//!   missing.
//! * 2: no `v`, every field present; why an order was cancelled is a plain string
//!   (`"not paid in time"` when the pay-by deadline did it).
//! * 3: a capture (`payment_captured`, `Capture`) names the provider that reported it, as a
//!   buyer may pay through another provider than the one chosen.
//! * 4: the cancellation's reason is typed (`{"kind": "not_paid_in_time"}` or
//!   `{"kind": "stated", "text": …}`), so no English sentence is stored for it.
//! * 5: a payment anomaly's reason (`payment_anomaly_recorded`, `Anomaly`) is typed too
//!   (`{"kind": "amount_mismatch", "expected": …, "received": …}`, `{"kind": "stated",
//!   "text": …}`, …).
//! * 6: a refund's reason (`refund_requested`, `Refund`) is typed too
//!   (`{"kind": "order_cancelled", "reason": {"kind": "not_paid_in_time"}}`,
//!   `{"kind": "after_sales", "case": 1, "reason_code": "damaged"}`, `{"kind": "stated",
//!   "text": …}`, …), and so is why one failed (`refund_failed`, `RefundStatus::Failed`:
//!   `{"kind": "provider_failed"}` or `{"kind": "stated", "text": …}`).
//! * 7: the current form: why a carrier was chosen (`shipment_booked`, `Package`'s
//!   `selection_reason`) is typed too (`{"kind": "cheapest", "quotes": 3, "cost": …,
//!   "days": 2}`, `{"kind": "rule", "because": …, …}`, `{"kind": "no_rule_matched",
//!   "fallback": …}`, `{"kind": "stated", "text": …}`, …).
//!
//! Snapshots follow the same steps with their own numbers: 6 added the payment sessions
//! opened, 7 types the refunds' reasons and failures, 8 (current) the carrier choices.
//!
//! An outbox entry's effect has no version: [`decode_effect`] reads what older builds wrote.
//!
//! [`IndexColumns`] are the columns every store indexes an order by, computed in one place.
//!
//! To change the stored form: raise [`EVENT_VERSION`] (or [`SNAPSHOT_VERSION`]) and add one
//! step to [`upcast`], keyed on the version it upgrades from.

mod effect;
mod event;
mod index;
pub(crate) mod json;
mod snapshot;
pub mod upcast;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ports::store::StoreError;

pub use effect::decode_effect;
pub use event::StoredEvent;
pub use index::IndexColumns;
pub use snapshot::StoredSnapshot;

/// The schema version of the events this build writes.
pub const EVENT_VERSION: u16 = 7;

/// The schema version of the snapshots this build writes.
pub const SNAPSHOT_VERSION: u16 = 8;

/// A stored payload as a store read it: JSON text (SQLite) or a parsed value (PostgreSQL
/// `jsonb` read as a [`Value`]).
#[derive(Debug)]
pub enum Payload<'a> {
    /// JSON text.
    Text(&'a str),
    /// Parsed JSON.
    Json(Value),
}

impl<'a> From<&'a str> for Payload<'a> {
    fn from(text: &'a str) -> Payload<'a> {
        Payload::Text(text)
    }
}

impl From<Value> for Payload<'_> {
    fn from(value: Value) -> Self {
        Payload::Json(value)
    }
}

/// Reads a payload written with schema version `version`: the current version is deserialised
/// as it is; an older one is parsed, upgraded one step at a time by `steps`, then deserialised.
/// `what` names the row in errors (order and sequence number).
fn decode<T: DeserializeOwned>(
    payload: Payload<'_>,
    version: u16,
    current: u16,
    steps: upcast::Steps,
    what: &dyn std::fmt::Display,
) -> Result<T, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("cannot decode {what}: {e}"));
    if version == current {
        return match payload {
            Payload::Text(text) => serde_json::from_str(text).map_err(|e| corrupt(&e)),
            Payload::Json(value) => serde_json::from_value(value).map_err(|e| corrupt(&e)),
        };
    }
    if version == 0 || version > current {
        return Err(corrupt(&format_args!("schema version {version} is not one this build reads (1 to {current})")));
    }
    let mut value = match payload {
        Payload::Text(text) => serde_json::from_str(text).map_err(|e| corrupt(&e))?,
        Payload::Json(value) => value,
    };
    upcast::run(steps, version, current, &mut value).map_err(|e| corrupt(&e))?;
    serde_json::from_value(value).map_err(|e| corrupt(&e))
}

/// Writes a domain value as stored JSON text.
fn encode<T: serde::Serialize + ?Sized>(value: &T, what: &dyn std::fmt::Display) -> Result<String, StoreError> {
    json::to_string(value).map_err(|e| StoreError::Corrupt(format!("cannot encode {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::{EVENT_VERSION, SNAPSHOT_VERSION, StoredEvent, StoredSnapshot};
    use crate::event::Event;
    use crate::ids::OrderId;
    use crate::order::Order;
    use crate::ports::store::StoreError;

    /// The history of one order exactly as the build before the codec wrote it (version 1):
    /// placed, approved, paid, picking, cancelled by the buyer, refund requested.
    pub(crate) const V1_EVENTS: &str = include_str!("fixtures/v1_events.jsonl");
    /// That order's snapshot as the same build wrote it.
    pub(crate) const V1_SNAPSHOT: &str = include_str!("fixtures/v1_snapshot.json");

    fn id() -> OrderId {
        let snapshot: Value = serde_json::from_str(V1_SNAPSHOT).unwrap();
        serde_json::from_value(snapshot["id"].clone()).unwrap()
    }

    fn v1_events() -> Vec<Event> {
        V1_EVENTS.lines().enumerate().map(|(i, line)| StoredEvent::decode(line, 1, id(), i + 1).unwrap()).collect()
    }

    #[test]
    fn version_1_rows_read_and_fold_to_their_snapshot() {
        let events = v1_events();
        assert_eq!(events.len(), 6);
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
        let snapshot = StoredSnapshot::decode(V1_SNAPSHOT, 1, id()).unwrap();
        assert_eq!(Order::from_events(&events).unwrap(), snapshot);
    }

    /// Older version 1 rows lack the fields added later: the upcaster fills their defaults.
    #[test]
    fn version_1_rows_without_the_newer_fields_read() {
        let mut refund_event: Value = serde_json::from_str(V1_EVENTS.lines().last().unwrap()).unwrap();
        let refund = refund_event["change"]["refund"].as_object_mut().unwrap();
        refund.remove("unapplied_txn").unwrap();
        refund.remove("case").unwrap();
        let event = StoredEvent::decode(refund_event, 1, id(), 6).unwrap();
        assert_eq!(event, v1_events()[5]);

        let mut snapshot: Value = serde_json::from_str(V1_SNAPSHOT).unwrap();
        let payment = snapshot["payment"].as_object_mut().unwrap();
        payment.remove("cod_void").unwrap();
        payment["refunds"][0].as_object_mut().unwrap().remove("unapplied_txn").unwrap();
        payment["anomalies"] = serde_json::json!([{"txn_id": "T9", "amount": {"minor": 1, "currency": "CNY"}, "reason": "late", "at": "2026-11-30T09:01:00Z"}]);
        snapshot.as_object_mut().unwrap().remove("cases").unwrap();
        let order = StoredSnapshot::decode(snapshot, 1, id()).unwrap();
        assert!(!order.payment.cod_void && order.cases.is_empty());
        assert_eq!(order.payment.anomalies[0].provider, "");
        assert_eq!(order.payment.refunds[0].unapplied_txn, None);
    }

    /// Version 2 captures name no provider: they read as made through the chosen one.
    #[test]
    fn version_2_captures_read_as_the_chosen_provider() {
        let mut captured: Value = serde_json::from_str(V1_EVENTS.lines().nth(2).unwrap()).unwrap();
        assert_eq!(captured["change"]["type"], "payment_captured");
        captured.as_object_mut().unwrap().remove("v");
        let v2 = captured.to_string();
        let mut v3 = captured.clone();
        super::upcast::event_v2_to_v3(&mut v3).unwrap();
        assert_eq!(v3["change"]["provider"], Value::Null, "the step writes the field out");
        let event = StoredEvent::decode(v2.as_str(), 2, id(), 3).unwrap();
        match &event.change {
            crate::event::Change::PaymentCaptured { txn_id, provider, .. } => {
                assert_eq!((txn_id.as_str(), provider), ("T1", &None));
            }
            other => panic!("expected a capture, got {other:?}"),
        }
        assert_eq!(event, v1_events()[2]);

        let mut snapshot: Value = serde_json::from_str(V1_SNAPSHOT).unwrap();
        super::upcast::snapshot_v1_to_v2(&mut snapshot).unwrap();
        assert!(snapshot["payment"]["captures"][0].get("provider").is_none());
        let v2 = snapshot.to_string();
        let order = StoredSnapshot::decode(v2.as_str(), 2, id()).unwrap();
        assert_eq!(order.payment.captures[0].provider, None);
        assert_eq!(order.payment.paid_through(), Some(("alipay", "T1")));
        assert_eq!(order, StoredSnapshot::decode(V1_SNAPSHOT, 1, id()).unwrap());
    }

    #[test]
    fn the_current_version_round_trips_without_v() {
        for event in v1_events() {
            let stored = StoredEvent::encode(&event);
            assert_eq!((stored.event_type, stored.schema_version), (event.change.name(), EVENT_VERSION));
            let json = stored.to_json().unwrap();
            assert!(!json.contains("\"v\":"));
            assert_eq!(StoredEvent::decode(json.as_str(), EVENT_VERSION, id(), event.seq).unwrap(), event);
        }
        let order = StoredSnapshot::decode(V1_SNAPSHOT, 1, id()).unwrap();
        let json = StoredSnapshot::encode(&order).to_json().unwrap();
        assert_eq!(StoredSnapshot::decode(json.as_str(), SNAPSHOT_VERSION, id()).unwrap(), order);
    }

    /// Version 5 snapshots list no payment sessions: they read with none (as replaying their
    /// events leaves them), and the chosen provider is still the one closed and queried.
    #[test]
    fn version_5_snapshots_read_with_no_payment_sessions() {
        let mut order = StoredSnapshot::decode(V1_SNAPSHOT, 1, id()).unwrap();
        order.payment.sessions = vec!["wechatpay".into()];
        let mut v5: Value = serde_json::from_str(&StoredSnapshot::encode(&order).to_json().unwrap()).unwrap();
        assert_eq!(v5["payment"]["sessions"], serde_json::json!(["wechatpay"]));
        v5["payment"].as_object_mut().unwrap().remove("sessions");
        assert!(StoredSnapshot::decode(v5.clone(), SNAPSHOT_VERSION, id()).is_err(), "the current version needs it");
        let read = StoredSnapshot::decode(v5, 5, id()).unwrap();
        assert!(read.payment.sessions.is_empty());
        assert_eq!(read.payment.session_providers().collect::<Vec<_>>(), vec!["alipay"]);
        assert_eq!(read, StoredSnapshot::decode(V1_SNAPSHOT, 1, id()).unwrap());
    }

    /// Version 2 wrote a cancellation's reason as a string: the deadline's own words become
    /// the typed kind, anyone else's words stay theirs, in the event and the snapshot.
    #[test]
    fn version_2_cancellation_reasons_read_as_typed_reasons() {
        use crate::order::CancelReason;
        let event = |reason: &str| {
            serde_json::json!({
                "seq": 3, "at": "2026-11-30T09:30:00Z", "actor": {"kind": "system"},
                "change": {"type": "order_cancelled", "reason": reason},
            })
        };
        let unpaid = StoredEvent::decode(event("not paid in time"), 2, id(), 3).unwrap();
        assert_eq!(unpaid.change, crate::Change::OrderCancelled { reason: CancelReason::NotPaidInTime });
        let stated = StoredEvent::decode(event("ordered twice"), 2, id(), 3).unwrap();
        assert_eq!(stated.change, crate::Change::OrderCancelled { reason: CancelReason::stated("ordered twice") });

        // The v1 fixture's order was cancelled by its buyer; read as version 2 (what the v1
        // step leaves), its snapshot's reason is the buyer's words.
        let mut v2: Value = serde_json::from_str(V1_SNAPSHOT).unwrap();
        super::upcast::snapshot_v1_to_v2(&mut v2).unwrap();
        let words = v2["cancellation"]["reason"].as_str().unwrap().to_owned();
        let order = StoredSnapshot::decode(v2.clone(), 2, id()).unwrap();
        assert_eq!(order.cancellation().map(|c| c.reason.clone()), Some(CancelReason::stated(words)));
        v2["cancellation"]["reason"] = "not paid in time".into();
        let order = StoredSnapshot::decode(v2, 2, id()).unwrap();
        assert_eq!(order.cancellation().map(|c| c.reason.clone()), Some(CancelReason::NotPaidInTime));
    }

    /// Version 4 wrote a payment anomaly's reason as English text: the library's sentences
    /// become their kinds (with their figures), anyone else's words stay theirs, in the event
    /// and the snapshot.
    #[test]
    fn version_4_anomaly_reasons_read_as_typed_reasons() {
        use crate::money::{Currency, Money};
        use crate::order::{AnomalyReason, OrderStatus};
        let cny = |minor| Money::new(minor, Currency::CNY);
        let written = [
            (
                "payment does not match the order: expected 270.00 CNY, received 1.00 CNY",
                AnomalyReason::AmountMismatch { expected: cny(27_000), received: cny(100) },
            ),
            ("amount: a captured amount must be above zero", AnomalyReason::AmountNotPositive),
            (
                "cannot capture_payment an order that is ready_to_ship",
                AnomalyReason::NotPayable { status: OrderStatus::ReadyToShip },
            ),
            ("payment arrived after the order was cancelled", AnomalyReason::ArrivedAfterCancellation),
            ("currency mismatch", AnomalyReason::stated("currency mismatch")),
            // Near misses stay as they were written.
            (
                "payment does not match the order: expected lots, received 1.00 CNY",
                AnomalyReason::stated("payment does not match the order: expected lots, received 1.00 CNY"),
            ),
            (
                "cannot capture_payment an order that is lost",
                AnomalyReason::stated("cannot capture_payment an order that is lost"),
            ),
        ];
        let mut v4: Value = serde_json::from_str(V1_SNAPSHOT).unwrap();
        for step in
            [super::upcast::snapshot_v1_to_v2, super::upcast::snapshot_v2_to_v3, super::upcast::snapshot_v3_to_v4]
        {
            step(&mut v4).unwrap();
        }
        let mut anomalies = Vec::new();
        for (text, reason) in &written {
            let event = serde_json::json!({
                "seq": 4, "at": "2026-11-30T09:31:00Z", "actor": {"kind": "system"},
                "change": {"type": "payment_anomaly_recorded", "txn_id": "T9", "amount": cny(100), "reason": text},
            });
            let read = StoredEvent::decode(event, 4, id(), 4).unwrap();
            let expected =
                crate::Change::PaymentAnomalyRecorded { txn_id: "T9".into(), amount: cny(100), reason: reason.clone() };
            assert_eq!(read.change, expected, "{text}");
            anomalies.push(serde_json::json!({
                "txn_id": "T9", "amount": cny(100), "reason": text, "at": "2026-11-30T09:31:00Z", "provider": "",
            }));
        }
        v4["payment"]["anomalies"] = Value::Array(anomalies);
        let order = StoredSnapshot::decode(v4, 4, id()).unwrap();
        let reasons: Vec<_> = order.payment.anomalies.iter().map(|a| a.reason.clone()).collect();
        assert_eq!(reasons, written.map(|(_, reason)| reason));
    }

    /// Events of version 5 and snapshots of version 6 wrote a refund's reason as text: the
    /// library's sentences and codes become their kinds (read with the refund's case and
    /// unapplied payment), anyone else's words stay theirs, in the event and the snapshot.
    #[test]
    fn version_5_refund_reasons_read_as_typed_reasons() {
        use crate::ids::CaseId;
        use crate::order::{CancelReason, RefundReason};
        let late = "payment arrived after the order was cancelled";
        // (text, case, unapplied payment, what it reads as)
        let written = [
            ("not_paid_in_time", None, None, RefundReason::OrderCancelled { reason: CancelReason::NotPaidInTime }),
            ("not paid in time", None, None, RefundReason::OrderCancelled { reason: CancelReason::NotPaidInTime }),
            (late, None, None, RefundReason::PaidAfterCancellation),
            ("payment not applied to the order", None, Some("T9"), RefundReason::UnappliedPayment),
            ("payment not applied to the order: wrong amount", None, Some("T9"), RefundReason::UnappliedPayment),
            (
                "after-sales case C2 (damaged)",
                Some(2),
                None,
                RefundReason::AfterSales { case: CaseId(2), reason_code: "damaged".into() },
            ),
            ("goodwill", None, None, RefundReason::stated("goodwill")),
            // Near misses stay as they were written: another case's words, or no payment held.
            ("after-sales case C3 (damaged)", Some(2), None, RefundReason::stated("after-sales case C3 (damaged)")),
            ("payment not applied to the order", None, None, RefundReason::stated("payment not applied to the order")),
        ];
        let mut v6: Value = serde_json::from_str(
            &StoredSnapshot::encode(&StoredSnapshot::decode(V1_SNAPSHOT, 1, id()).unwrap()).to_json().unwrap(),
        )
        .unwrap();
        let template = v6["payment"]["refunds"][0].clone();
        let mut refunds = Vec::new();
        for (text, case, unapplied, reason) in &written {
            let mut refund = template.clone();
            refund["reason"] = Value::from(*text);
            refund["case"] = serde_json::json!(case);
            refund["unapplied_txn"] = serde_json::json!(unapplied);
            let event = serde_json::json!({
                "seq": 6, "at": "2026-11-30T09:31:00Z", "actor": {"kind": "system"},
                "change": {"type": "refund_requested", "refund": refund},
            });
            assert!(StoredEvent::decode(event.clone(), EVENT_VERSION, id(), 6).is_err(), "text is not current");
            match StoredEvent::decode(event, 5, id(), 6).unwrap().change {
                crate::Change::RefundRequested { refund } => assert_eq!(&refund.reason, reason, "{text}"),
                other => panic!("expected a refund, got {other:?}"),
            }
            refunds.push(refund);
        }
        v6["payment"]["refunds"] = Value::Array(refunds);
        let order = StoredSnapshot::decode(v6, 6, id()).unwrap();
        let reasons: Vec<_> = order.payment.refunds.iter().map(|r| r.reason.clone()).collect();
        assert_eq!(reasons, written.map(|(.., reason)| reason));
    }

    /// Events of version 5 and snapshots of version 6 wrote why a refund failed as text: the
    /// engine's sentence for a failure the provider reported becomes that kind, the
    /// provider's own words stay theirs, in the event and in the snapshot's refund status.
    #[test]
    fn version_5_refund_failures_read_as_typed_reasons() {
        use crate::order::{RefundFailure, RefundStatus};
        let reported = "the provider could not send the money back; refund it another way";
        let written =
            [(reported, RefundFailure::ProviderFailed), ("card closed", RefundFailure::stated("card closed"))];
        let mut v6: Value = serde_json::from_str(
            &StoredSnapshot::encode(&StoredSnapshot::decode(V1_SNAPSHOT, 1, id()).unwrap()).to_json().unwrap(),
        )
        .unwrap();
        let template = v6["payment"]["refunds"][0].clone();
        let mut refunds = Vec::new();
        for (text, failure) in &written {
            let event = serde_json::json!({
                "seq": 7, "at": "2026-11-30T09:31:00Z", "actor": {"kind": "system"},
                "change": {"type": "refund_failed", "refund": 1, "reason": text},
            });
            let read = StoredEvent::decode(event, 5, id(), 7).unwrap();
            let expected = crate::Change::RefundFailed { refund: crate::ids::RefundId(1), reason: failure.clone() };
            assert_eq!(read.change, expected, "{text}");
            let mut refund = template.clone();
            refund["status"] = serde_json::json!({"state": "failed", "reason": text});
            refunds.push(refund);
        }
        // A refund that did not fail keeps its status as it was.
        refunds.push(template);
        v6["payment"]["refunds"] = Value::Array(refunds);
        let order = StoredSnapshot::decode(v6, 6, id()).unwrap();
        let statuses: Vec<_> = order.payment.refunds.iter().map(|r| r.status.clone()).collect();
        let mut expected: Vec<_> = written.map(|(_, reason)| RefundStatus::Failed { reason }).to_vec();
        expected.push(StoredSnapshot::decode(V1_SNAPSHOT, 1, id()).unwrap().payment.refunds[0].status.clone());
        assert_eq!(statuses, expected);
    }

    /// Events of version 6 and snapshots of version 7 wrote why a carrier was chosen as
    /// English text: the selectors' sentences become their kinds with their figures, anyone
    /// else's words stay theirs, in the event and in the snapshot's parcels.
    #[test]
    fn version_6_carrier_choices_read_as_typed_reasons() {
        use crate::carrier_choice::ChoiceReason;
        use crate::ids::PackageId;
        use crate::money::{Currency, Money};
        use crate::order::Package;
        let cny = |minor| Money::new(minor, Currency::CNY);
        let cheapest = ChoiceReason::Cheapest { quotes: 3, cost: cny(1_200), days: 2 };
        let sf_cheapest = "cheapest of 3 quote(s): SF standard at 12.00 CNY in 2 day(s)";
        let written = [
            (sf_cheapest.to_owned(), cheapest.clone()),
            (
                "fastest of 2 quote(s): SF Express next day at 23.00 CNY in 1 day(s)".to_owned(),
                ChoiceReason::Fastest { quotes: 2, cost: cny(2_300), days: 1 },
            ),
            (
                "rule: contract (capital only) (SF standard at 15.00 CNY in 2 day(s))".to_owned(),
                ChoiceReason::Rule { because: "contract (capital only)".into(), cost: cny(1_500), days: 2 },
            ),
            (format!("no rule matched; {sf_cheapest}"), ChoiceReason::NoRuleMatched { fallback: Box::new(cheapest) }),
            (
                "no rule matched; closest hub".to_owned(),
                ChoiceReason::NoRuleMatched { fallback: Box::new(ChoiceReason::stated("closest hub")) },
            ),
            ("closest hub, 12.00 CNY".to_owned(), ChoiceReason::stated("closest hub, 12.00 CNY")),
            // Near misses stay as they were written.
            ("cheapest of 2 quotes".to_owned(), ChoiceReason::stated("cheapest of 2 quotes")),
            (
                "slowest of 3 quote(s): SF standard at 12.00 CNY in 2 day(s)".to_owned(),
                ChoiceReason::stated("slowest of 3 quote(s): SF standard at 12.00 CNY in 2 day(s)"),
            ),
            (
                "cheapest of 3 quote(s): SF standard at lots in 2 day(s)".to_owned(),
                ChoiceReason::stated("cheapest of 3 quote(s): SF standard at lots in 2 day(s)"),
            ),
            ("rule: contract".to_owned(), ChoiceReason::stated("rule: contract")),
        ];
        let order = StoredSnapshot::decode(V1_SNAPSHOT, 1, id()).unwrap();
        let mut v7: Value = serde_json::from_str(&StoredSnapshot::encode(&order).to_json().unwrap()).unwrap();
        let mut packages = Vec::new();
        for (i, (text, reason)) in written.iter().enumerate() {
            let package = PackageId(u32::try_from(i).unwrap() + 1);
            let event = serde_json::json!({
                "seq": 7, "at": "2026-11-30T09:31:00Z", "actor": {"kind": "system"},
                "change": {"type": "shipment_booked", "package": package, "carrier": "SF", "service": "standard",
                           "reason": text},
            });
            assert!(StoredEvent::decode(event.clone(), EVENT_VERSION, id(), 7).is_err(), "text is not current");
            let read = StoredEvent::decode(event, 6, id(), 7).unwrap();
            let expected = crate::Change::ShipmentBooked {
                package,
                carrier: "SF".into(),
                service: "standard".into(),
                reason: reason.clone(),
            };
            assert_eq!(read.change, expected, "{text}");
            let json = StoredEvent::encode(&read).to_json().unwrap();
            assert_eq!(StoredEvent::decode(json.as_str(), EVENT_VERSION, id(), 7).unwrap(), read, "round trip");
            let mut parcel = serde_json::to_value(Package::packed(package, Vec::new(), read.at)).unwrap();
            parcel["selection_reason"] = Value::from(text.as_str());
            packages.push(parcel);
        }
        // A parcel not yet booked has no reason, and keeps none.
        packages.push(serde_json::to_value(Package::packed(PackageId(99), Vec::new(), order.placed_at)).unwrap());
        v7["fulfilment"]["packages"] = Value::Array(packages);
        let read = StoredSnapshot::decode(v7, 7, id()).unwrap();
        let reasons: Vec<_> = read.fulfilment.packages.iter().map(|p| p.selection_reason.clone()).collect();
        let mut expected: Vec<_> = written.map(|(_, reason)| Some(reason)).to_vec();
        expected.push(None);
        assert_eq!(reasons, expected);
    }

    /// A row that cannot be read names the order and the event.
    #[test]
    fn unreadable_rows_are_corrupt_and_named() {
        let first = V1_EVENTS.lines().next().unwrap();
        for (payload, version) in [("{", 1), (first, 9), (first, 0), ("[]", 1)] {
            match StoredEvent::decode(payload, version, id(), 7) {
                Err(StoreError::Corrupt(message)) => {
                    assert!(message.contains(&format!("event 7 of order {}", id())), "{message}")
                }
                other => panic!("expected Corrupt, got {other:?}"),
            }
        }
    }
}
