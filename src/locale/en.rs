//! English (`en`): the library's own words, as the timelines said them before catalogues.

use chrono::DateTime;
use chrono_tz::Tz;

use super::{Catalogue, Context, Locale, Message, Rendered, unsigned_decimal};
use crate::carrier_choice::ChoiceReason;
use crate::effect::{CaseUpdateState, NotificationKind};
use crate::money::Money;
use crate::order::{AnomalyReason, CancelReason, RefundFailure, RefundReason};
use crate::timeline::{LineUnits, TimelineMessage};
use crate::validation::{Sum, Violation, ViolationRule, field_name};

/// English. Money as `CNY 270.00` (the ISO code first: `¥` alone would not say yuan or yen),
/// times as `2026-12-05 09:30`.
#[derive(Debug, Clone, Copy, Default)]
pub struct English;

impl Catalogue for English {
    fn locale(&self) -> Locale {
        Locale::En
    }

    fn money(&self, amount: &Money) -> String {
        let (sign, digits) = unsigned_decimal(amount);
        format!("{sign}{} {digits}", amount.currency)
    }

    fn time(&self, at: &DateTime<Tz>) -> String {
        at.format("%Y-%m-%d %H:%M").to_string()
    }

    fn render(&self, message: Message<'_>, cx: &Context<'_>) -> Rendered {
        match message {
            Message::Timeline(m) => timeline(m, cx),
            Message::Notification(n) => notification(&n.kind, &n.order_number.to_string(), cx),
            Message::Violation(v) => Rendered::new(field_label(field_name(&v.field)), violation(v, cx)),
            Message::RefundReason(reason) => Rendered::new("Refund", refund_reason(reason)),
            Message::CarrierChoice(reason) => Rendered::new("Carrier chosen", carrier_choice(reason, cx)),
        }
    }
}

/// `2× L1, 1× L2`.
fn units(units: &[LineUnits]) -> String {
    units.iter().map(|u| format!("{}× {}", u.quantity, u.line)).collect::<Vec<_>>().join(", ")
}

/// `case C1: ` + words, or `case C1` when there are none.
fn case_with(case: impl std::fmt::Display, words: &str) -> String {
    if words.is_empty() { format!("case {case}") } else { format!("case {case}: {words}") }
}

/// Why an order was cancelled, in English.
pub(crate) fn cancel_reason(reason: &CancelReason) -> &str {
    match reason {
        CancelReason::NotPaidInTime => "not paid in time",
        CancelReason::Stated { text } => text,
    }
}

/// Why a payment could not be applied, in English.
fn anomaly_reason(reason: &AnomalyReason, cx: &Context<'_>) -> String {
    match reason {
        AnomalyReason::AmountMismatch { expected, received } => {
            format!("expected {}, received {}", cx.money(expected), cx.money(received))
        }
        AnomalyReason::AmountNotPositive => "the amount is not above zero".to_owned(),
        AnomalyReason::NotPayable { status } => {
            format!("the order takes no payment while it is {}", status.as_str().replace('_', " "))
        }
        AnomalyReason::ArrivedAfterCancellation => "payment arrived after the order was cancelled".to_owned(),
        AnomalyReason::Refused { code } => format!("the workflow refused the payment ({code})"),
        AnomalyReason::Stated { text } => text.clone(),
    }
}

/// Why a carrier was chosen, in English (the booking names the carrier and service).
fn carrier_choice(reason: &ChoiceReason, cx: &Context<'_>) -> String {
    let terms = |cost: &Money, days: &u32| format!("{} in {days} day(s)", cx.money(cost));
    match reason {
        ChoiceReason::Cheapest { quotes, cost, days } => {
            format!("cheapest of {quotes} quote(s): {}", terms(cost, days))
        }
        ChoiceReason::Fastest { quotes, cost, days } => format!("fastest of {quotes} quote(s): {}", terms(cost, days)),
        ChoiceReason::Rule { because, cost, days } => format!("rule: {because} ({})", terms(cost, days)),
        ChoiceReason::NoRuleMatched { fallback } => format!("no rule matched; {}", carrier_choice(fallback, cx)),
        ChoiceReason::Stated { text } => text.clone(),
    }
}

/// Why a refund is made, in English.
fn refund_reason(reason: &RefundReason) -> String {
    match reason {
        RefundReason::OrderCancelled { reason } => format!("order cancelled: {}", cancel_reason(reason)),
        RefundReason::PaidAfterCancellation => "payment arrived after the order was cancelled".to_owned(),
        RefundReason::UnappliedPayment => "a payment that did not match the order is being returned".to_owned(),
        RefundReason::AfterSales { case, reason_code } => format!("after-sales case {case}: {reason_code}"),
        RefundReason::Stated { text } => text.clone(),
    }
}

/// Shorthand for [`Rendered::new`].
fn r(title: impl Into<String>, body: impl Into<String>) -> Rendered {
    Rendered::new(title, body)
}

fn timeline(m: &TimelineMessage, cx: &Context<'_>) -> Rendered {
    use TimelineMessage as M;
    match m {
        M::OrderPlaced { number, total, ship_by, pay_by } => {
            let mut detail =
                format!("order {number}, total {}, estimated to ship by {}", cx.money(total), cx.time(ship_by));
            if let Some(pay_by) = pay_by {
                detail.push_str(&format!(", please pay by {}", cx.time(pay_by)));
            }
            r("Order placed", detail)
        }
        M::OrderConfirmed => r("Order confirmed", ""),
        M::ReviewApproved { note } => r("Review approved", note.as_str()),
        M::PutOnHold { reasons, note } => {
            let why = reasons.iter().map(|r| r.describe()).collect::<Vec<_>>().join(", ");
            r("Put on hold", if note.is_empty() { why } else { format!("{why} ({note})") })
        }
        M::NeedsBuyerContact => r("We need to talk to you", "our service team will contact you about your order"),
        M::HoldResolved { note } => r("Hold resolved", note.as_str()),
        M::ReviewRejected { reason } => r("Review rejected", reason.as_str()),
        M::OrderDeclined { reason } => r("Order declined", reason.as_str()),
        M::PaymentSessionOpened { provider } => r("Payment started", format!("through {provider}")),
        M::PaymentReceived { amount, txn_id } => r(
            "Payment received",
            match txn_id {
                Some(txn) => format!("{} (transaction {txn})", cx.money(amount)),
                None => cx.money(amount),
            },
        ),
        M::PaymentAnomaly { txn_id, amount, reason } => {
            let why = anomaly_reason(reason, cx);
            r("Payment anomaly", format!("{} (transaction {txn_id}): {why}", cx.money(amount)))
        }
        M::RefundRequested { amount, completed, reason } => {
            let why = refund_reason(reason);
            r(if *completed { "Refunded" } else { "Refund requested" }, format!("{} ({why})", cx.money(amount)))
        }
        M::RefundCompleted { refund, reference } => r(
            "Refund completed",
            match reference {
                Some(reference) => format!("{refund}, reference {reference}"),
                None => "the money is on its way back to you".to_owned(),
            },
        ),
        M::RefundFailed { refund, reason } => {
            let why = match reason {
                RefundFailure::ProviderFailed => "the provider could not send the money back; refund it another way",
                RefundFailure::Stated { text } => text,
            };
            r("Refund failed", format!("{refund}: {why}"))
        }
        M::PickListIssued { items } => r(
            "Pick list issued",
            items
                .iter()
                .map(|i| format!("{}× {} {}", i.quantity, i.sku, i.product_name))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        M::BeingPrepared => r("Being prepared", "the warehouse is picking your goods"),
        M::Packed { package, items } => r("Packed", format!("{package}: {}", units(items))),
        M::CarrierChosen { package, carrier, service, reason } => {
            r("Carrier chosen", format!("{package}: {carrier} {service} ({})", carrier_choice(reason, cx)))
        }
        M::CarrierCorrected { package, carrier } => {
            r("Carrier corrected", format!("{package}: the waybill belongs to {carrier}"))
        }
        M::Shipped { package, carrier, waybill } => {
            r("Shipped", format!("parcel {package} with {carrier}, waybill {waybill}"))
        }
        M::TrackingUpdate { package, tracking, location, description } => {
            let mut detail = format!("{package}: {}", tracking.describe());
            if !location.is_empty() {
                detail.push_str(&format!(" at {location}"));
            }
            if !description.is_empty() {
                detail.push_str(&format!(" ({description})"));
            }
            r("Tracking update", detail)
        }
        M::CodCollected { amount } => r("Paid at the door", cx.money(amount)),
        M::ReceiptConfirmed { automatic } => {
            r("Receipt confirmed", if *automatic { "confirmed automatically" } else { "" })
        }
        M::OrderCancelled { reason } => r("Order cancelled", cancel_reason(reason)),
        M::AfterSalesWindowClosed => r("After-sales window closed", ""),
        M::FollowUpDue => r("Follow-up due", "customer service should visit the buyer"),
        M::FollowUpRecorded { score, notes } => r("Follow-up recorded", format!("satisfaction {score}/5 {notes}")),
        M::FeedbackThanks { score } => r("Thank you for your feedback", format!("you rated us {score}/5")),
        M::CaseOpened { case, kind, reason_code, units: lines, text } => {
            let mut detail = format!("case {case}: {kind} ({reason_code})");
            if !lines.is_empty() {
                detail.push_str(&format!(" for {}", units(lines)));
            }
            if let Some(text) = text {
                detail.push_str(&format!(": {text}"));
            }
            r("After-sales request", detail)
        }
        M::CaseApproved { case } => r("Request accepted", case_with(case, "")),
        M::CaseRejected { case, reason } => r("Request declined", case_with(case, reason)),
        M::CaseWithdrawn { case } => r("Request withdrawn", case_with(case, "")),
        M::ReturnParcelSent { case, waybill } => r("Return parcel sent", format!("case {case}, waybill {waybill}")),
        M::ReturnTracking { case, tracking } => r("Return parcel tracking", case_with(case, tracking.describe())),
        M::ReturnReceived { case } => r("Return received", case_with(case, "")),
        M::ReturnInspected { case, passed, note } => r(
            if *passed { "Return inspected: accepted" } else { "Return inspected: not accepted" },
            case_with(case, note),
        ),
        M::ReplacementPacked { case, package } => r("Replacement packed", format!("case {case}, parcel {package}")),
        M::RepairReturned { case, waybill } => r("Repaired goods sent back", format!("case {case}, waybill {waybill}")),
        M::CaseAssigned { case, assignee } => r(
            "Being handled",
            match assignee {
                Some(who) => format!("case {case} assigned to {who}"),
                None => case_with(case, ""),
            },
        ),
        M::CaseResolved { case, resolution } => r("Resolved", case_with(case, resolution)),
        M::CaseClosed { case } => r("Case closed", case_with(case, "")),
        M::CaseEscalated { case } => r("Escalated", case_with(case, "SLA missed")),
        M::CaseFollowUpDue { case } => r("Follow-up due", case_with(case, "")),
        M::CaseFollowUpRecorded { case, score, notes } => {
            r("Follow-up recorded", case_with(case, &format!("satisfaction {score}/5 {notes}")))
        }
        M::DeadlineSet { kind, at } => r(
            "Deadline set",
            match at {
                Some(at) => format!("{kind} at {}", cx.time(at)),
                None => format!("{kind} cleared"),
            },
        ),
    }
}

fn notification(kind: &NotificationKind, number: &str, cx: &Context<'_>) -> Rendered {
    use NotificationKind as N;
    match kind {
        N::Placed { estimated_ship_by, total } => r(
            format!("Order {number} placed"),
            format!("Total {}; we expect to ship it by {}.", cx.money(total), cx.time(estimated_ship_by)),
        ),
        N::NeedsBuyerContact { .. } => {
            r(format!("About your order {number}"), "Our service team will contact you about your order.")
        }
        N::Paid { amount } => r("Payment received", format!("We received {} for order {number}.", cx.money(amount))),
        N::Shipped { package, carrier, waybill } => r(
            format!("Order {number} shipped"),
            format!("Parcel {package} is on its way with {carrier}, waybill {waybill}."),
        ),
        N::TrackingUpdate { package, tracking, description } => {
            r(format!("Parcel {package}: {}", tracking.describe()), description.as_str())
        }
        N::Delivered => r(format!("Order {number} delivered"), "Every parcel of your order has arrived."),
        N::Completed => r(format!("Order {number} completed"), "Thank you for shopping with us."),
        N::Cancelled { reason } => {
            r(format!("Order {number} cancelled"), format!("Reason: {}.", cancel_reason(reason)))
        }
        N::Refunded { amount } => {
            r(format!("Refund for order {number}"), format!("{} is on its way back to you.", cx.money(amount)))
        }
        N::PaymentAnomaly { txn_id, reason } => r(
            format!("Payment anomaly on order {number}"),
            format!("Transaction {txn_id}: {}", anomaly_reason(reason, cx)),
        ),
        N::CaseUpdate { case, state, detail } => {
            let d = detail.as_str();
            let body = match state {
                CaseUpdateState::Requested => "We received your request.".to_owned(),
                CaseUpdateState::Approved => "Your request was accepted.".to_owned(),
                CaseUpdateState::AwaitingReturn => "Your request was accepted: please send the goods back.".to_owned(),
                CaseUpdateState::Rejected => format!("Your request was declined: {d}"),
                CaseUpdateState::Received => "Your parcel arrived at our warehouse.".to_owned(),
                CaseUpdateState::InspectionPassed if d.is_empty() => "The returned goods passed inspection.".to_owned(),
                CaseUpdateState::InspectionPassed => format!("The returned goods passed inspection: {d}"),
                CaseUpdateState::InspectionFailed => format!("The returned goods did not pass inspection: {d}"),
                CaseUpdateState::RepairedAndReturned => {
                    format!("Your repaired goods are on their way back, waybill {d}.")
                }
                CaseUpdateState::InProgress => "Someone is looking into it.".to_owned(),
                CaseUpdateState::Resolved => format!("Resolved: {d}"),
                CaseUpdateState::Closed => "Your request is closed.".to_owned(),
            };
            r(format!("Your request {case} on order {number}"), body)
        }
        N::CaseEscalated { case } => {
            r(format!("Case {case} escalated"), format!("Order {number}: the request was not answered in time."))
        }
        N::FollowUpDue { customer } => r("Follow-up due", format!("Visit buyer {customer} about order {number}.")),
    }
}

/// What English calls a field, by the name its path ends in.
pub(crate) fn field_label(name: &str) -> String {
    match name {
        "phone" => "phone number".to_owned(),
        "postal_code" => "postal code".to_owned(),
        "street" => "street line".to_owned(),
        "sku" => "SKU".to_owned(),
        "variant" => "variant value".to_owned(),
        "customer" => "customer id".to_owned(),
        "provider" => "payment provider".to_owned(),
        other => other.replace('_', " "),
    }
}

/// ` in CN`, or nothing for the default format.
fn place(country: &Option<String>) -> String {
    country.as_ref().map(|c| format!(" in {c}")).unwrap_or_default()
}

fn violation(v: &Violation, cx: &Context<'_>) -> String {
    use ViolationRule as R;
    let what = field_label(field_name(&v.field));
    let format =
        |country: &Option<String>| crate::address::CountryFormat::for_country(country.as_deref().unwrap_or("*"));
    match &v.rule {
        R::Required => format!("{what} is required"),
        R::TooLong { max } => format!("{what} must be at most {max} characters"),
        R::ControlCharacters { line_breaks: false } => format!("{what} must not contain control characters"),
        R::ControlCharacters { line_breaks: true } => {
            format!("{what} must not contain control characters other than line breaks")
        }
        R::WhitespaceOrControl => format!("{what} must not contain whitespace or control characters"),
        R::Invalid => format!("invalid {what}"),
        R::NoStreetLine => "at least one street line is required".to_owned(),
        R::TooManyStreetLines { max } => format!("at most {max} street lines are allowed"),
        R::CountryCode => "country must be a two-letter ISO 3166-1 code such as CN or US".to_owned(),
        R::PhoneShape { country } => {
            format!("phone number{} must be {}", place(country), format(country).phone_rule)
        }
        R::PostalCodeShape { country } => {
            format!("postal code{} must be {}", place(country), format(country).postal_code_rule)
        }
        R::PostalCodeRequired { country } => format!("postal code is required in {country}"),
        R::NoLines => "the order must have at least one line".to_owned(),
        R::TooManyLines { max } => format!("an order may have at most {max} lines"),
        R::TooManyVariantAttributes { max } => format!("a line may have at most {max} variant attributes"),
        R::VariantNameBlank => "variant attribute names must not be blank".to_owned(),
        R::VariantNameTooLong { max } => format!("variant attribute names must be at most {max} characters"),
        R::VariantNameControl => "variant attribute names must not contain control characters".to_owned(),
        R::VariantNameDuplicate => "variant attribute names must be unique, ignoring surrounding spaces".to_owned(),
        R::Quantity { max } => format!("quantity must be between 1 and {max}"),
        R::UnitPrice { max } => format!("unit price must be between 0 and {}", cx.money(max)),
        R::DuplicateLine { first } => format!("same SKU and variant as lines[{first}] but a different unit price"),
        R::CombinedQuantity { max } => {
            format!("combined quantity of lines with this SKU and variant must be at most {max}")
        }
        R::CurrencyMismatch { currency } => format!("currency must be {currency}, the currency of the first line"),
        R::Negative => format!("{what} must not be negative"),
        R::DiscountAboveSubtotal { subtotal } => {
            format!("discount must not exceed the goods subtotal ({})", cx.money(subtotal))
        }
        R::Overflow { sum } => match sum {
            Sum::LineAmount => "unit price times quantity does not fit in 64-bit minor units",
            Sum::Subtotal => "the order subtotal does not fit in 64-bit minor units with this line",
            Sum::WithShipping => "subtotal plus shipping fee does not fit in 64-bit minor units",
            Sum::AfterDiscount => "the order total minus the discount does not fit in 64-bit minor units",
            Sum::Amount => "amount does not fit in 64-bit minor units",
        }
        .to_owned(),
        R::Custom => v.message.clone(),
    }
}
