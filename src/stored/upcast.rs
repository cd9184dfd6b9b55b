//! Upcasters: one function per step, keyed on the schema version it upgrades from.
//!
//! A step takes the JSON of version `n` and leaves the JSON of version `n + 1`. Reading a row
//! of version `n` runs the steps `n`, `n + 1`, … up to the current version, in that order,
//! then deserialises. To add a version: raise the version in `crate::stored`, write the step
//! from the version before (e.g. `snapshot_v5_to_v6`) and add it to the list below.

use serde_json::{Map, Value};

use crate::carrier_choice::ChoiceReason;
use crate::ids::CaseId;
use crate::money::{Currency, Money};
use crate::order::{AnomalyReason, CancelReason, OrderStatus, RefundFailure, RefundReason};

/// One upgrade step: the JSON of the version it is keyed on becomes the next version's, or the
/// reason it cannot.
pub type Step = fn(&mut Value) -> Result<(), String>;

/// The steps of one stored kind, each with the version it upgrades from.
pub type Steps = &'static [(u16, Step)];

/// The event steps.
pub const EVENT_STEPS: Steps = &[
    (1, event_v1_to_v2),
    (2, event_v2_to_v3),
    (3, event_v3_to_v4),
    (4, event_v4_to_v5),
    (5, event_v5_to_v6),
    (6, event_v6_to_v7),
];

/// The snapshot steps.
pub const SNAPSHOT_STEPS: Steps = &[
    (1, snapshot_v1_to_v2),
    (2, snapshot_v2_to_v3),
    (3, snapshot_v3_to_v4),
    (4, snapshot_v4_to_v5),
    (5, snapshot_v5_to_v6),
    (6, snapshot_v6_to_v7),
    (7, snapshot_v7_to_v8),
];

/// Runs the steps from `from` up to `to`, in version order; a missing step is an error.
pub fn run(steps: Steps, from: u16, to: u16, value: &mut Value) -> Result<(), String> {
    for version in from..to {
        let step = steps
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, step)| step)
            .ok_or_else(|| format!("no upcaster from schema version {version}"))?;
        step(value).map_err(|e| format!("upgrading from schema version {version}: {e}"))?;
    }
    Ok(())
}

/// Version 1 → 2 of an event: the event's own `v` goes (the version is the stored form's), and
/// a refund gets the fields added after it was first written.
pub fn event_v1_to_v2(event: &mut Value) -> Result<(), String> {
    let event = object(event, "the event")?;
    event.remove("v");
    if let Some(refund) = event.get_mut("change").and_then(|c| c.get_mut("refund")).and_then(Value::as_object_mut) {
        refund_v1_to_v2(refund);
    }
    Ok(())
}

/// Version 1 → 2 of a snapshot: the fields added to the order after it was first written get
/// their defaults.
pub fn snapshot_v1_to_v2(order: &mut Value) -> Result<(), String> {
    let order = object(order, "the snapshot")?;
    fill(order, "cases", Value::Array(Vec::new()));
    if let Some(payment) = order.get_mut("payment").and_then(Value::as_object_mut) {
        fill(payment, "cod_void", Value::Bool(false));
        for refund in objects(payment, "refunds") {
            refund_v1_to_v2(refund);
        }
        for anomaly in objects(payment, "anomalies") {
            fill(anomaly, "provider", Value::String(String::new()));
        }
    }
    // One spelling in the public API: version 1 wrote the British and American spellings both.
    if let Some(fulfilment) = order.remove("fulfillment") {
        order.insert("fulfilment".to_owned(), fulfilment);
    }
    if let Some(fulfilment) = order.get_mut("fulfilment").and_then(Value::as_object_mut) {
        for package in objects(fulfilment, "packages") {
            fill(package, "case", Value::Null);
        }
    }
    if let Some(deadlines) = order.get_mut("deadlines").and_then(Value::as_object_mut) {
        fill(deadlines, "cases", Value::Array(Vec::new()));
        fill(deadlines, "tracking_poll_at", Value::Null);
    }
    Ok(())
}

/// Version 2 → 3 of an event: a capture names the provider that reported it. Version 2
/// accepted payments through the order's chosen provider only, so an old capture was made
/// through it: `null`, which reads as the chosen provider.
pub fn event_v2_to_v3(event: &mut Value) -> Result<(), String> {
    let event = object(event, "the event")?;
    if let Some(change) = event.get_mut("change").and_then(Value::as_object_mut)
        && change.get("type").and_then(Value::as_str) == Some("payment_captured")
    {
        fill(change, "provider", Value::Null);
    }
    Ok(())
}

/// Version 3 → 4 of an event: an `order_cancelled` event's reason, a string, becomes a typed
/// reason (see [`cancel_reason_v3_to_v4`]).
pub fn event_v3_to_v4(event: &mut Value) -> Result<(), String> {
    if let Some(reason) = reason_of(event, "order_cancelled")? {
        cancel_reason_v3_to_v4(reason);
    }
    Ok(())
}

/// Version 2 → 3 of a snapshot: each capture names the provider that reported it (`null`: the
/// chosen provider, the only one version 2 accepted).
pub fn snapshot_v2_to_v3(order: &mut Value) -> Result<(), String> {
    for capture in section_objects(order, "payment", "captures")? {
        fill(capture, "provider", Value::Null);
    }
    Ok(())
}

/// Version 3 → 4 of a snapshot: the cancellation's reason becomes a typed reason.
pub fn snapshot_v3_to_v4(order: &mut Value) -> Result<(), String> {
    let order = object(order, "the snapshot")?;
    if let Some(reason) = order.get_mut("cancellation").and_then(Value::as_object_mut).and_then(|c| c.get_mut("reason"))
    {
        cancel_reason_v3_to_v4(reason);
    }
    Ok(())
}

/// A version 3 reason (a string) as version 4 writes it: `"not paid in time"`, the pay-by
/// deadline's words, is that kind; any other string is the words of the person who cancelled.
fn cancel_reason_v3_to_v4(reason: &mut Value) {
    typed_from_written(reason, cancel_reason_from_text);
}

/// Version 4 → 5 of an event: a `payment_anomaly_recorded` event's reason, English text,
/// becomes a typed reason (see [`anomaly_reason_v4_to_v5`]).
pub fn event_v4_to_v5(event: &mut Value) -> Result<(), String> {
    if let Some(reason) = reason_of(event, "payment_anomaly_recorded")? {
        anomaly_reason_v4_to_v5(reason);
    }
    Ok(())
}

/// The `reason` of an event's change when the change is of type `change_type`.
fn reason_of<'a>(event: &'a mut Value, change_type: &str) -> Result<Option<&'a mut Value>, String> {
    field_of(event, change_type, "reason")
}

/// The field `field` of an event's change when the change is of type `change_type`.
fn field_of<'a>(event: &'a mut Value, change_type: &str, field: &str) -> Result<Option<&'a mut Value>, String> {
    let event = object(event, "the event")?;
    Ok(event
        .get_mut("change")
        .and_then(Value::as_object_mut)
        .filter(|change| change.get("type").and_then(Value::as_str) == Some(change_type))
        .and_then(|change| change.get_mut(field)))
}

/// Version 4 → 5 of a snapshot: each payment anomaly's reason becomes a typed reason.
pub fn snapshot_v4_to_v5(order: &mut Value) -> Result<(), String> {
    for reason in section_objects(order, "payment", "anomalies")?.filter_map(|anomaly| anomaly.get_mut("reason")) {
        anomaly_reason_v4_to_v5(reason);
    }
    Ok(())
}

/// Version 5 → 6 of a snapshot: the payment ledger lists the providers a payment session was
/// opened with. Version 5 recorded none (only the chosen provider's session was known, and it
/// is always closed and queried), so the list starts empty, as replaying the order's events
/// leaves it.
pub fn snapshot_v5_to_v6(order: &mut Value) -> Result<(), String> {
    let order = object(order, "the snapshot")?;
    if let Some(payment) = order.get_mut("payment").and_then(Value::as_object_mut) {
        fill(payment, "sessions", Value::Array(Vec::new()));
    }
    Ok(())
}

/// Version 5 → 6 of an event: a `refund_requested` event's refund's reason, English text (or
/// a code), becomes a typed reason (see [`refund_v5_to_v6`]), and so does a `refund_failed`
/// event's reason (see [`refund_failure_v5_to_v6`]).
pub fn event_v5_to_v6(event: &mut Value) -> Result<(), String> {
    if let Some(reason) = reason_of(event, "refund_failed")? {
        refund_failure_v5_to_v6(reason);
    } else if let Some(refund) = field_of(event, "refund_requested", "refund")?.and_then(Value::as_object_mut) {
        refund_v5_to_v6(refund);
    }
    Ok(())
}

/// Version 6 → 7 of a snapshot: each refund's reason, and a failed refund's, becomes typed.
pub fn snapshot_v6_to_v7(order: &mut Value) -> Result<(), String> {
    for refund in section_objects(order, "payment", "refunds")? {
        refund_v5_to_v6(refund);
    }
    Ok(())
}

/// Version 6 → 7 of an event: a `shipment_booked` event's reason, English text, becomes a
/// typed reason (see [`choice_reason_from_text`]).
pub fn event_v6_to_v7(event: &mut Value) -> Result<(), String> {
    if let Some(reason) = reason_of(event, "shipment_booked")? {
        typed_from_written(reason, choice_reason_from_text);
    }
    Ok(())
}

/// Version 7 → 8 of a snapshot: each parcel's carrier choice reason becomes typed.
pub fn snapshot_v7_to_v8(order: &mut Value) -> Result<(), String> {
    let packages = section_objects(order, "fulfilment", "packages")?;
    for reason in packages.filter_map(|package| package.get_mut("selection_reason")) {
        typed_from_written(reason, choice_reason_from_text);
    }
    Ok(())
}

/// A carrier choice reason written as English text (event version 6, snapshot version 7):
/// the selectors' sentences (`cheapest of 3 quote(s): SF standard at 12.00 CNY in 2 day(s)`,
/// `fastest of …`, `rule: <the rule's words> (<quote>)`, `no rule matched; <the fallback's>`)
/// become their kinds with their figures; anything else stays as stated words.
fn choice_reason_from_text(text: String) -> ChoiceReason {
    written_choice(&text).unwrap_or(ChoiceReason::Stated { text })
}

/// The kind a selector's sentence names, or `None` when `text` is not one.
fn written_choice(text: &str) -> Option<ChoiceReason> {
    if let Some(rest) = text.strip_prefix("no rule matched; ") {
        let fallback = choice_reason_from_text(rest.to_owned());
        return Some(ChoiceReason::NoRuleMatched { fallback: Box::new(fallback) });
    }
    if let Some(rest) = text.strip_prefix("rule: ") {
        let (because, quote) = rest.strip_suffix(')')?.rsplit_once(" (")?;
        let (cost, days) = written_quote(quote)?;
        return Some(ChoiceReason::Rule { because: because.to_owned(), cost, days });
    }
    let (policy, rest) = text.split_once(" of ")?;
    let (quotes, quote) = rest.split_once(" quote(s): ")?;
    let quotes = quotes.parse().ok()?;
    let (cost, days) = written_quote(quote)?;
    match policy {
        "cheapest" => Some(ChoiceReason::Cheapest { quotes, cost, days }),
        "fastest" => Some(ChoiceReason::Fastest { quotes, cost, days }),
        _ => None,
    }
}

/// A quote as the selectors described it (`SF standard at 12.00 CNY in 2 day(s)`): its price
/// and days (the carrier and service are the booking's own fields).
fn written_quote(text: &str) -> Option<(Money, u32)> {
    let (_, terms) = text.rsplit_once(" at ")?;
    let (cost, days) = terms.strip_suffix(" day(s)")?.split_once(" in ")?;
    Some((written_money(cost)?, days.parse().ok()?))
}

/// A refund as written before its reasons were typed (event version 5, snapshot version 6):
/// why it was made (see [`refund_reason_from_text`]) and, when it failed, why it failed (see
/// [`refund_failure_v5_to_v6`]).
fn refund_v5_to_v6(refund: &mut Map<String, Value>) {
    refund_reason_v5_to_v6(refund);
    if let Some(status) = refund.get_mut("status").and_then(Value::as_object_mut)
        && status.get("state").and_then(Value::as_str) == Some("failed")
        && let Some(reason) = status.get_mut("reason")
    {
        refund_failure_v5_to_v6(reason);
    }
}

/// What the engine recorded, before failures were typed, when a provider reported a refund
/// failed.
const PROVIDER_FAILED: &str = "the provider could not send the money back; refund it another way";

/// A refund failure written as text: the engine's sentence is that kind, anything else the
/// provider's (or a host's) words.
fn refund_failure_v5_to_v6(reason: &mut Value) {
    typed_from_written(reason, |text| {
        if text == PROVIDER_FAILED { RefundFailure::ProviderFailed } else { RefundFailure::Stated { text } }
    });
}

/// A refund's reason as written before it was typed (event version 5, snapshot version 6),
/// as it is written now: the sentences and codes the library wrote become their kinds, read
/// with the refund's own `case` and `unapplied_txn`; any other text is the words of whoever
/// asked for the refund (or cancelled the order), kept as they were.
fn refund_reason_v5_to_v6(refund: &mut Map<String, Value>) {
    let case = refund.get("case").cloned().and_then(|case| serde_json::from_value::<CaseId>(case).ok());
    let unapplied = refund.get("unapplied_txn").is_some_and(|txn| !txn.is_null());
    if let Some(reason) = refund.get_mut("reason") {
        typed_from_written(reason, |text| refund_reason_from_text(text, case, unapplied));
    }
}

/// What the pay-by deadline's cancellation refunds said before reasons were typed: the
/// cancellation's words (version 3 and older) or its kind's code (versions 4 and 5).
const NOT_PAID_IN_TIME_CODE: &str = "not_paid_in_time";

/// What a payment arriving for a cancelled order was recorded with before reasons were
/// typed: its refund's reason and its anomaly's.
const ARRIVED_AFTER_CANCELLATION: &str = "payment arrived after the order was cancelled";

/// A refund reason written as text: the library's sentences become their kinds, anything
/// else stays as stated words. `case` and `unapplied` are what the refund itself records.
fn refund_reason_from_text(text: String, case: Option<CaseId>, unapplied: bool) -> RefundReason {
    let after_sales = case.and_then(|case| {
        let code = text.strip_prefix(&format!("after-sales case {case} ("))?.strip_suffix(')')?;
        Some(RefundReason::AfterSales { case, reason_code: code.to_owned() })
    });
    if let Some(reason) = after_sales {
        reason
    } else if unapplied && text.starts_with("payment not applied to the order") {
        // Older builds added the anomaly's own words after a colon; the anomaly keeps them.
        RefundReason::UnappliedPayment
    } else if text == ARRIVED_AFTER_CANCELLATION {
        RefundReason::PaidAfterCancellation
    } else if text == NOT_PAID_IN_TIME || text == NOT_PAID_IN_TIME_CODE {
        RefundReason::OrderCancelled { reason: CancelReason::NotPaidInTime }
    } else {
        RefundReason::Stated { text }
    }
}

/// A version 4 anomaly reason (English text) as version 5 writes it: the sentences the
/// library wrote (a mismatched amount, a status that takes no payment, …) become their kinds
/// with their figures; any other text is the words of whoever recorded it.
fn anomaly_reason_v4_to_v5(reason: &mut Value) {
    typed_from_written(reason, anomaly_reason_from_text);
}

/// What the pay-by deadline's cancellations said before reasons were typed.
const NOT_PAID_IN_TIME: &str = "not paid in time";

/// A cancellation reason written as text (version 3 and older): the pay-by deadline's words
/// are that kind; any other words are the person's who cancelled.
fn cancel_reason_from_text(text: String) -> CancelReason {
    if text == NOT_PAID_IN_TIME { CancelReason::NotPaidInTime } else { CancelReason::Stated { text } }
}

/// An anomaly reason written as English text (version 4 and older): the sentences the library
/// wrote become their kinds, anything else stays as stated words.
fn anomaly_reason_from_text(text: String) -> AnomalyReason {
    let typed = if text == ARRIVED_AFTER_CANCELLATION {
        Some(AnomalyReason::ArrivedAfterCancellation)
    } else if text == "amount: a captured amount must be above zero" {
        Some(AnomalyReason::AmountNotPositive)
    } else if let Some(rest) = text.strip_prefix("payment does not match the order: expected ") {
        rest.split_once(", received ").and_then(|(expected, received)| {
            Some(AnomalyReason::AmountMismatch {
                expected: written_money(expected)?,
                received: written_money(received)?,
            })
        })
    } else if let Some(rest) = text.strip_prefix("cannot capture_payment an order that is ") {
        OrderStatus::parse(rest).map(|status| AnomalyReason::NotPayable { status })
    } else {
        None
    };
    typed.unwrap_or(AnomalyReason::Stated { text })
}

/// Money as `Money`'s `Display` wrote it (`270.00 CNY`).
fn written_money(text: &str) -> Option<Money> {
    let (amount, code) = text.split_once(' ')?;
    Money::parse_decimal(amount, Currency::parse(code).ok()?).ok()
}

/// An outbox entry's effect as an older build wrote it, as this build writes it: the reason of
/// a cancellation or payment anomaly notification written as text becomes its typed reason.
/// Outbox rows carry no version (an entry lives minutes), so this is tried only when an
/// effect does not read as it is.
pub fn effect_with_text_reasons(effect: &mut Value) {
    let Some(kind) = effect.get_mut("kind").and_then(Value::as_object_mut) else { return };
    let read: fn(&mut Value) = match kind.get("kind").and_then(Value::as_str) {
        Some("cancelled") => cancel_reason_v3_to_v4,
        Some("payment_anomaly") => anomaly_reason_v4_to_v5,
        _ => return,
    };
    if let Some(reason) = kind.get_mut("reason") {
        read(reason);
    }
}

/// Replaces a reason written as a string with the typed reason `read` makes of it; a reason
/// that is not a string is left as it is.
fn typed_from_written<T: serde::Serialize>(reason: &mut Value, read: impl FnOnce(String) -> T) {
    if let Value::String(text) = reason {
        *reason = match serde_json::to_value(read(std::mem::take(text))) {
            Ok(typed) => typed,
            // Serialising a plain enum of strings and amounts cannot fail; should it, the row
            // stays as it was and reading it reports the mismatch.
            Err(_) => return,
        };
    }
}

/// A version 1 refund: no case, no unapplied payment, unless it says so.
fn refund_v1_to_v2(refund: &mut Map<String, Value>) {
    fill(refund, "case", Value::Null);
    fill(refund, "unapplied_txn", Value::Null);
}

/// `value` as an object, or why not.
fn object<'a>(value: &'a mut Value, what: &str) -> Result<&'a mut Map<String, Value>, String> {
    value.as_object_mut().ok_or_else(|| format!("{what} is not a JSON object"))
}

/// The objects of the array `key` of a snapshot's `section` (its payment ledger, its
/// fulfilment; none when either is missing).
fn section_objects<'a>(
    order: &'a mut Value,
    section: &str,
    key: &str,
) -> Result<impl Iterator<Item = &'a mut Map<String, Value>>, String> {
    let order = object(order, "the snapshot")?;
    let parent = order.get_mut(section).and_then(Value::as_object_mut);
    Ok(parent.into_iter().flat_map(move |parent| objects(parent, key)))
}

/// The objects of the array `key` of `parent` (none when it is missing).
fn objects<'a>(parent: &'a mut Map<String, Value>, key: &str) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    parent.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten().filter_map(Value::as_object_mut)
}

/// Sets `key` to `default` when it is missing.
fn fill(object: &mut Map<String, Value>, key: &str, default: Value) {
    object.entry(key).or_insert(default);
}
