//! Bad input, table-driven: every row is a refused placement or command with the error variant
//! it must produce. A refusal changes nothing: no order is created, the stored order, its
//! history and the effects so far stay exactly as they were.

use chrono::TimeDelta;
use orderflow::CaseId;
use orderflow::order::{CaseKind, CaseLine, CaseRequest};
use orderflow::order::{DeadlineKind, HoldReason, LineRefund, PackProblem, PackageItem, PackageState, ScannedItem};
use orderflow::order::{TrackingKind, TrackingUpdate};
use orderflow::placement::{LineForm, PlaceOrderForm, Variant};
use orderflow::testing::{
    Scenario, buyer, carrier, customer_service, provider, reviewer, sample_cod_form, sample_form, staff, t0, warehouse,
};
use orderflow::validation::{Limits, ViolationCode};
use orderflow::{
    Action, Actor, ActorKind, CommandKind, Currency, Error, LineId, Money, MoneyError, Order, OrderStatus, PackageId,
    RefundId, Role, Workflow, WorkflowConfig,
};

use ViolationCode::{BadFormat, CurrencyMismatch, OutOfRange, Overflow, Required, TooLong, TooMany};

// ---------------------------------------------------------------------------------------------
// Helpers and given states
// ---------------------------------------------------------------------------------------------

fn cny(minor: i64) -> Money {
    Money::new(minor, Currency::CNY)
}

fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::USD)
}

const P1: PackageId = PackageId(1);
const P2: PackageId = PackageId(2);
const L1: LineId = LineId(1);
const L2: LineId = LineId(2);
const L3: LineId = LineId(3);

fn alice() -> Actor {
    buyer("alice")
}

fn bob() -> Actor {
    buyer("bob")
}

fn scan(order: &Order, line: LineId, quantity: u32) -> ScannedItem {
    let l = order.line(line).unwrap();
    ScannedItem {
        sku: l.sku.as_str().to_owned(),
        product_name: l.product_name.to_string(),
        variant: l.variant.clone(),
        quantity,
    }
}

/// Packs `parts`, scanned correctly, against the sample order's lines.
fn pack_parts(parts: &[(LineId, u32)]) -> Action {
    let order = Scenario::placed(sample_form("alice")).order().clone();
    Action::Pack {
        items: parts.iter().map(|(line, quantity)| PackageItem { line: *line, quantity: *quantity }).collect(),
        scanned: parts.iter().map(|(line, quantity)| scan(&order, *line, *quantity)).collect(),
    }
}

fn pack_all() -> Action {
    pack_parts(&[(L1, 2), (L2, 1), (L3, 3)])
}

fn book(package: PackageId) -> Action {
    Action::BookShipment {
        package,
        carrier: "SF".into(),
        service: "standard".into(),
        reason: orderflow::ChoiceReason::stated("cheapest"),
    }
}

fn waybill(package: PackageId, waybill: &str) -> Action {
    Action::RecordWaybill { package, waybill: waybill.into() }
}

fn capture(txn: &str, amount: Money) -> Action {
    Action::CapturePayment { txn_id: txn.into(), amount }
}

fn open_session(provider: &str) -> Action {
    Action::OpenPaymentSession { provider: provider.into() }
}

fn refund(lines: &[(LineId, Money)], shipping: Money) -> Action {
    Action::RequestRefund {
        lines: lines.iter().map(|(line, amount)| LineRefund { line: *line, amount: *amount }).collect(),
        shipping,
        reason: "damaged".into(),
        manual_reference: None,
    }
}

fn fire(kind: DeadlineKind) -> Action {
    Action::FireDeadline { kind }
}

fn track(waybill: &str, kind: TrackingKind) -> Action {
    Action::RecordTracking {
        waybill: waybill.into(),
        update: TrackingUpdate {
            kind,
            at: t0() + TimeDelta::hours(5),
            event_id: "E1".into(),
            location: Default::default(),
            description: Default::default(),
        },
    }
}

fn ok(s: &mut Scenario, actor: Actor, action: Action) {
    if let Err(e) = s.when(actor, action.clone()) {
        panic!("setup step {action:?} refused: {e}");
    }
}

fn no_auto_approve() -> Workflow {
    Workflow::new(WorkflowConfig { auto_approve: false, ..Default::default() })
}

fn placed_with(workflow: Workflow, form: &PlaceOrderForm) -> Scenario {
    let mut s = Scenario::new(workflow);
    s.place(&buyer(&form.customer), form).unwrap();
    s
}

/// Online, auto-approved, unpaid.
fn placed() -> Scenario {
    Scenario::placed(sample_form("alice"))
}

/// Online, waiting for a reviewer, unpaid.
fn unreviewed() -> Scenario {
    placed_with(no_auto_approve(), &sample_form("alice"))
}

/// Online, waiting for a reviewer, paid.
fn unreviewed_paid() -> Scenario {
    let mut s = unreviewed();
    ok(&mut s, provider(), capture("ALI-1", cny(27_000)));
    s
}

/// 100.00 of 270.00 captured, in a shop that takes payments in parts.
fn partially_paid() -> Scenario {
    let mut s = placed_with(
        Workflow::new(WorkflowConfig { partial_captures: true, ..Default::default() }),
        &sample_form("alice"),
    );
    ok(&mut s, provider(), capture("ALI-1", cny(10_000)));
    s
}

fn on_hold() -> Scenario {
    let mut s = placed();
    ok(&mut s, reviewer(), Action::Hold { reasons: vec![HoldReason::AddressProblem], note: String::new() });
    s
}

fn paid() -> Scenario {
    let mut s = placed();
    ok(&mut s, provider(), capture("ALI-1", cny(27_000)));
    s
}

/// Paid, and 50.00 of line 1 (payable 94.40) already refunded.
fn paid_on_hold() -> Scenario {
    let mut s = paid();
    ok(&mut s, reviewer(), Action::Hold { reasons: vec![HoldReason::SuspectedFraud], note: String::new() });
    s
}

fn partly_refunded() -> Scenario {
    let mut s = paid();
    ok(&mut s, customer_service(), refund(&[(L1, cny(5_000))], cny(0)));
    s
}

fn picking() -> Scenario {
    let mut s = paid();
    ok(&mut s, warehouse(), Action::IssuePickList);
    s
}

fn packed() -> Scenario {
    let mut s = picking();
    ok(&mut s, warehouse(), pack_all());
    s
}

fn booked() -> Scenario {
    let mut s = packed();
    ok(&mut s, warehouse(), book(P1));
    s
}

fn shipped() -> Scenario {
    let mut s = booked();
    ok(&mut s, carrier("SF"), waybill(P1, "SF1"));
    s
}

/// P1 (line 1) shipped as SF1; P2 (lines 2 and 3) booked, no waybill yet.
fn partly_shipped() -> Scenario {
    let mut s = picking();
    ok(&mut s, warehouse(), pack_parts(&[(L1, 2)]));
    ok(&mut s, warehouse(), pack_parts(&[(L2, 1), (L3, 3)]));
    ok(&mut s, warehouse(), book(P1));
    ok(&mut s, warehouse(), book(P2));
    ok(&mut s, carrier("SF"), waybill(P1, "SF1"));
    s
}

fn completed() -> Scenario {
    let mut s = shipped();
    s.advance(TimeDelta::days(2));
    ok(&mut s, alice(), Action::ConfirmReceipt);
    s
}

fn cancelled() -> Scenario {
    let mut s = paid();
    ok(&mut s, alice(), Action::Cancel { reason: "changed my mind".into() });
    s
}

fn cod_placed() -> Scenario {
    Scenario::placed(sample_cod_form("alice"))
}

fn cod_shipped() -> Scenario {
    let mut s = cod_placed();
    ok(&mut s, warehouse(), Action::IssuePickList);
    ok(&mut s, warehouse(), pack_all());
    ok(&mut s, warehouse(), book(P1));
    ok(&mut s, carrier("SF"), waybill(P1, "SF1"));
    s
}

// ---------------------------------------------------------------------------------------------
// Placement forms
// ---------------------------------------------------------------------------------------------

struct PlaceRow {
    name: &'static str,
    workflow: fn() -> Workflow,
    actor: Actor,
    form: PlaceOrderForm,
    expect: fn(&Error) -> bool,
}

fn form(change: impl FnOnce(&mut PlaceOrderForm)) -> PlaceOrderForm {
    let mut f = sample_form("alice");
    change(&mut f);
    f
}

fn line(sku: &str, quantity: i64, unit_price: Money) -> LineForm {
    LineForm { sku: sku.into(), product_name: format!("Product {sku}"), variant: Variant::new(), quantity, unit_price }
}

fn huge_prices() -> Workflow {
    let mut limits = Limits::default();
    limits.max_unit_price_minor = i64::MAX;
    Workflow::new(WorkflowConfig { limits, ..Default::default() })
}

fn place_rows() -> Vec<PlaceRow> {
    let row = |name, form, expect| PlaceRow { name, workflow: Workflow::default, actor: alice(), form, expect };
    vec![
        row("empty order", form(|f| f.lines.clear()), |e| matches!(e, Error::Invalid(v) if v.has("lines", Required))),
        row(
            "zero quantity",
            form(|f| f.lines[0].quantity = 0),
            |e| matches!(e, Error::Invalid(v) if v.has("lines[0].quantity", OutOfRange)),
        ),
        row(
            "negative quantity",
            form(|f| f.lines[1].quantity = -3),
            |e| matches!(e, Error::Invalid(v) if v.has("lines[1].quantity", OutOfRange)),
        ),
        row(
            "quantity above the per-line maximum",
            form(|f| f.lines[2].quantity = 1_000),
            |e| matches!(e, Error::Invalid(v) if v.has("lines[2].quantity", OutOfRange)),
        ),
        row("huge quantity", form(|f| f.lines[0].quantity = i64::MAX), |e| {
            matches!(e, Error::Invalid(v)
                if v.has("lines[0].quantity", OutOfRange) && v.has("lines[0].quantity", Overflow))
        }),
        row(
            "mixed currencies",
            form(|f| {
                f.lines[1].unit_price = usd(12_900);
                f.shipping_fee = usd(800);
                f.discount = Money::new(1_000, Currency::EUR);
            }),
            |e| {
                matches!(e, Error::Invalid(v)
                    if v.has("lines[1].unit_price", CurrencyMismatch)
                        && v.has("shipping_fee", CurrencyMismatch)
                        && v.has("discount", CurrencyMismatch)
                        && !v.has("lines[0].unit_price", CurrencyMismatch))
            },
        ),
        row(
            "total overflow: subtotal plus shipping",
            form(|f| f.shipping_fee = cny(i64::MAX)),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_fee", Overflow)),
        ),
        PlaceRow {
            name: "total overflow: one line's total (prices allowed up to i64::MAX)",
            workflow: huge_prices,
            actor: alice(),
            form: form(|f| {
                f.lines[0].unit_price = cny(i64::MAX / 2);
                f.lines[0].quantity = 3;
            }),
            expect: |e| matches!(e, Error::Invalid(v) if v.has("lines[0].quantity", Overflow)),
        },
        PlaceRow {
            name: "total overflow: the subtotal",
            workflow: huge_prices,
            actor: alice(),
            form: form(|f| {
                f.lines[0].quantity = 1;
                f.lines[0].unit_price = cny(i64::MAX / 2 + 1);
                f.lines[1].unit_price = cny(i64::MAX / 2 + 1);
            }),
            expect: |e| matches!(e, Error::Invalid(v) if v.has("lines[1]", Overflow)),
        },
        row(
            "negative unit price",
            form(|f| f.lines[0].unit_price = cny(-1)),
            |e| matches!(e, Error::Invalid(v) if v.has("lines[0].unit_price", OutOfRange)),
        ),
        row(
            "negative shipping fee",
            form(|f| f.shipping_fee = cny(-800)),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_fee", OutOfRange)),
        ),
        row(
            "negative discount",
            form(|f| f.discount = cny(-1)),
            |e| matches!(e, Error::Invalid(v) if v.has("discount", OutOfRange)),
        ),
        row(
            "discount above the goods",
            form(|f| f.discount = cny(27_201)),
            |e| matches!(e, Error::Invalid(v) if v.has("discount", OutOfRange)),
        ),
        row(
            "missing recipient",
            form(|f| f.shipping_address.recipient = "  ".into()),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.recipient", Required)),
        ),
        row(
            "missing phone",
            form(|f| f.shipping_address.phone.clear()),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.phone", Required)),
        ),
        row(
            "missing country",
            form(|f| f.shipping_address.country.clear()),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.country", Required)),
        ),
        row(
            "missing province and city",
            form(|f| {
                f.shipping_address.province.clear();
                f.shipping_address.city = "\t".into();
            }),
            |e| {
                matches!(e, Error::Invalid(v)
                if v.has("shipping_address.province", Required) && v.has("shipping_address.city", Required))
            },
        ),
        row(
            "no street line",
            form(|f| f.shipping_address.street.clear()),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.street", Required)),
        ),
        row(
            "only blank street lines",
            form(|f| f.shipping_address.street = vec![" ".into(), String::new()]),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.street", Required)),
        ),
        row(
            "missing postal code in the US",
            form(|f| {
                f.shipping_address.country = "US".into();
                f.shipping_address.phone = "555 123 4567".into();
                f.shipping_address.postal_code.clear();
            }),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.postal_code", Required) && v.len() == 1),
        ),
        row(
            "over-long recipient",
            form(|f| f.shipping_address.recipient = "李".repeat(61)),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.recipient", TooLong)),
        ),
        row(
            "over-long province",
            form(|f| f.shipping_address.province = "x".repeat(121)),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.province", TooLong)),
        ),
        row(
            "over-long street line",
            form(|f| f.shipping_address.street = vec!["1 Road".into(), "y".repeat(121)]),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.street[1]", TooLong)),
        ),
        row(
            "over-long postal code",
            form(|f| f.shipping_address.postal_code = "3".repeat(13)),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.postal_code", TooLong)),
        ),
        row(
            "over-long phone",
            form(|f| f.shipping_address.phone = "1".repeat(21)),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.phone", TooLong)),
        ),
        row(
            "too many street lines",
            form(|f| f.shipping_address.street = vec!["a".into(); 4]),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.street", TooMany)),
        ),
        row(
            "bad country code",
            form(|f| f.shipping_address.country = "CHN".into()),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.country", BadFormat)),
        ),
        row(
            "bad CN phone",
            form(|f| f.shipping_address.phone = "12345".into()),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.phone", BadFormat)),
        ),
        row(
            "bad CN postal code",
            form(|f| f.shipping_address.postal_code = "3100".into()),
            |e| matches!(e, Error::Invalid(v) if v.has("shipping_address.postal_code", BadFormat)),
        ),
        row(
            "too many lines",
            form(|f| f.lines = (0..101).map(|i| line(&format!("SKU-{i}"), 1, cny(100))).collect()),
            |e| matches!(e, Error::Invalid(v) if v.has("lines", TooMany) && v.len() == 1),
        ),
        row(
            "blank SKU",
            form(|f| f.lines[1].sku = " ".into()),
            |e| matches!(e, Error::Invalid(v) if v.has("lines[1].sku", Required)),
        ),
        row(
            "invisible-only recipient, city, street, product name and customer",
            form(|f| {
                f.shipping_address.recipient = "\u{200B}\u{200C}".into();
                f.shipping_address.city = "\u{2060}\u{3000}".into();
                f.shipping_address.street = vec!["\u{FEFF}".into()];
                f.lines[0].product_name = " \u{200D} ".into();
            }),
            |e| {
                matches!(e, Error::Invalid(v)
                if v.has("shipping_address.recipient", Required)
                    && v.has("shipping_address.city", Required)
                    && v.has("shipping_address.street", Required)
                    && v.has("lines[0].product_name", Required))
            },
        ),
        PlaceRow {
            name: "invisible-only customer, placed by customer service",
            workflow: Workflow::default,
            actor: customer_service(),
            form: form(|f| f.customer = "\u{200B}\u{2060}".into()),
            expect: |e| matches!(e, Error::Invalid(v) if v.has("customer", Required)),
        },
        row(
            "over-long product name",
            form(|f| f.lines[0].product_name = "n".repeat(201)),
            |e| matches!(e, Error::Invalid(v) if v.has("lines[0].product_name", TooLong)),
        ),
        row(
            "online payment without a provider",
            form(|f| f.payment = orderflow::placement::PaymentMethod::Online { provider: " ".into() }),
            |e| matches!(e, Error::Invalid(v) if v.has("payment.provider", Required)),
        ),
        row(
            "over-long buyer note",
            form(|f| f.buyer_note = "n".repeat(501)),
            |e| matches!(e, Error::Invalid(v) if v.has("buyer_note", TooLong)),
        ),
        row(
            "every problem at once",
            form(|f| {
                f.lines[0].quantity = 0;
                f.lines[1].unit_price = usd(1);
                f.lines[2].sku.clear();
                f.shipping_address.recipient.clear();
                f.shipping_address.street = vec!["z".repeat(121)];
                f.shipping_address.postal_code = "9".repeat(13);
                f.shipping_fee = cny(-1);
            }),
            |e| {
                matches!(e, Error::Invalid(v)
                    if v.has("lines[0].quantity", OutOfRange)
                        && v.has("lines[1].unit_price", CurrencyMismatch)
                        && v.has("lines[2].sku", Required)
                        && v.has("shipping_address.recipient", Required)
                        && v.has("shipping_address.street[0]", TooLong)
                        && v.has("shipping_address.postal_code", TooLong)
                        && v.has("shipping_fee", OutOfRange))
            },
        ),
        PlaceRow {
            name: "a buyer placing for another buyer",
            workflow: Workflow::default,
            actor: bob(),
            form: sample_form("alice"),
            expect: |e| matches!(e, Error::NotYourOrder),
        },
        PlaceRow {
            name: "warehouse placing an order",
            workflow: Workflow::default,
            actor: warehouse(),
            form: sample_form("alice"),
            expect: |e| matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::Place, .. }),
        },
        PlaceRow {
            name: "a carrier placing an order",
            workflow: Workflow::default,
            actor: carrier("SF"),
            form: sample_form("alice"),
            expect: |e| matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::Place, .. }),
        },
    ]
}

#[test]
fn bad_placement_forms_are_refused_with_every_problem_named() {
    let mut failures = Vec::new();
    for row in place_rows() {
        let mut s = Scenario::new((row.workflow)());
        match s.place(&row.actor, &row.form) {
            Ok(d) => failures.push(format!("{}: accepted, {} events", row.name, d.events.len())),
            Err(err) => {
                if !(row.expect)(&err) {
                    failures.push(format!("{}: unexpected error {err:?}", row.name));
                }
                if let Error::Invalid(v) = &err
                    && (v.is_empty() || v.iter().any(|v| v.message.is_empty() || v.field.is_empty()))
                {
                    failures.push(format!("{}: undescriptive violations {v:?}", row.name));
                }
                assert!(!err.to_string().is_empty());
            }
        }
        if !s.history().is_empty() || !s.effects().is_empty() {
            failures.push(format!("{}: something was recorded: {:?} {:?}", row.name, s.history(), s.effects()));
        }
    }
    assert!(failures.is_empty(), "{} bad placement row(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_sample_forms_themselves_are_valid() {
    // Guards the table above: each row breaks only what it names.
    for f in [sample_form("alice"), sample_cod_form("alice")] {
        let mut s = Scenario::new(Workflow::default());
        s.place(&alice(), &f).unwrap();
    }
    let mut s = Scenario::new(huge_prices());
    s.place(&alice(), &sample_form("alice")).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

struct Row {
    name: &'static str,
    given: fn() -> Scenario,
    actor: Actor,
    action: Action,
    expect: fn(&Error) -> bool,
}

fn row(name: &'static str, given: fn() -> Scenario, actor: Actor, action: Action, expect: fn(&Error) -> bool) -> Row {
    Row { name, given, actor, action, expect }
}

fn payment_rows() -> Vec<Row> {
    vec![
        row("capture above the total", placed, provider(), capture("T2", cny(27_001)), |e| {
            matches!(e, Error::PaymentMismatch { expected, received }
                if *expected == cny(27_000) && *received == cny(27_001))
        }),
        row(
            "capture above what is outstanding",
            partially_paid,
            provider(),
            capture("T2", cny(17_001)),
            |e| matches!(e, Error::PaymentMismatch { expected, .. } if *expected == cny(17_000)),
        ),
        row(
            "capture in the wrong currency",
            placed,
            provider(),
            capture("T2", usd(27_000)),
            |e| matches!(e, Error::PaymentMismatch { received, .. } if received.currency == Currency::USD),
        ),
        row(
            "capture short of the total (one exact payment by default)",
            placed,
            provider(),
            capture("T2", cny(26_999)),
            |e| {
                matches!(e, Error::PaymentMismatch { expected, received }
                if *expected == cny(27_000) && *received == cny(26_999))
            },
        ),
        row("capture of zero", placed, provider(), capture("T2", cny(0)), |e| {
            matches!(e, Error::InvalidField { field: "amount", .. })
        }),
        row("capture of a negative amount", placed, provider(), capture("T2", cny(-100)), |e| {
            matches!(e, Error::InvalidField { field: "amount", .. })
        }),
        row("capture without a transaction id", placed, provider(), capture("  ", cny(27_000)), |e| {
            matches!(e, Error::InvalidField { field: "txn_id", .. })
        }),
        row("second capture on a paid order", paid, provider(), capture("T2", cny(100)), |e| {
            matches!(
                e,
                Error::IllegalTransition { command: CommandKind::CapturePayment, status: OrderStatus::ReadyToShip }
            )
        }),
        row(
            "capture on a paid order on hold",
            paid_on_hold,
            provider(),
            capture("T2", cny(100)),
            |e| matches!(e, Error::PaymentMismatch { expected, .. } if expected.is_zero()),
        ),
        row("payment session for a cancelled order", cancelled, alice(), open_session("alipay"), |e| {
            matches!(
                e,
                Error::IllegalTransition { command: CommandKind::OpenPaymentSession, status: OrderStatus::Cancelled }
            )
        }),
        row("payment session for a paid order", paid, alice(), open_session("wechatpay"), |e| {
            matches!(
                e,
                Error::IllegalTransition { command: CommandKind::OpenPaymentSession, status: OrderStatus::ReadyToShip }
            )
        }),
        row("payment session for a paid order on hold", paid_on_hold, alice(), open_session("wechatpay"), |e| {
            matches!(
                e,
                Error::IllegalTransition { command: CommandKind::OpenPaymentSession, status: OrderStatus::OnHold }
            )
        }),
        row("payment session for a cash-on-delivery order", cod_placed, alice(), open_session("alipay"), |e| {
            matches!(e, Error::IllegalTransition { command: CommandKind::OpenPaymentSession, .. })
        }),
        row("payment session with no provider", placed, alice(), open_session("  "), |e| {
            matches!(e, Error::InvalidField { field: "provider", .. })
        }),
        row("payment session with a control character", placed, alice(), open_session("ali\npay"), |e| {
            matches!(e, Error::InvalidField { field: "provider", .. })
        }),
        row("payment session with an overlong provider", placed, alice(), open_session(&"p".repeat(129)), |e| {
            matches!(e, Error::InvalidField { field: "provider", .. })
        }),
        row("capture for a cash-on-delivery order", cod_placed, provider(), capture("T2", cny(27_000)), |e| {
            matches!(
                e,
                Error::IllegalTransition { command: CommandKind::CapturePayment, .. } | Error::PaymentMismatch { .. }
            )
        }),
        row(
            "refund of an unknown unapplied payment",
            placed,
            customer_service(),
            Action::RefundUnappliedPayment { txn_id: "T404".into() },
            |e| matches!(e, Error::InvalidField { field: "txn_id", .. }),
        ),
        row(
            "anomaly with a reason of 2,001 characters",
            placed,
            provider(),
            Action::RecordPaymentAnomaly {
                txn_id: "T3".into(),
                amount: cny(1),
                reason: orderflow::AnomalyReason::stated("r".repeat(2_001)),
            },
            |e| matches!(e, Error::InvalidField { field: "reason", .. }),
        ),
        row(
            "refund failure with a reason of 2,001 characters",
            placed,
            provider(),
            Action::FailRefund { refund: RefundId(1), reason: orderflow::RefundFailure::stated("r".repeat(2_001)) },
            |e| matches!(e, Error::InvalidField { field: "reason", .. }),
        ),
        row(
            "anomaly without a transaction id",
            placed,
            provider(),
            Action::RecordPaymentAnomaly {
                txn_id: String::new(),
                amount: cny(1),
                reason: orderflow::AnomalyReason::stated("?"),
            },
            |e| matches!(e, Error::InvalidField { field: "txn_id", .. }),
        ),
    ]
}

fn review_rows() -> Vec<Row> {
    let long = || "n".repeat(2_001);
    vec![
        row("approve with a note of 2,001 characters", unreviewed, reviewer(), Action::Approve { note: long() }, |e| {
            matches!(e, Error::InvalidField { field: "note", .. })
        }),
        row(
            "hold with a note of 2,001 characters",
            unreviewed,
            reviewer(),
            Action::Hold { reasons: vec![HoldReason::SuspectedFraud], note: long() },
            |e| matches!(e, Error::InvalidField { field: "note", .. }),
        ),
        row(
            "hold with a custom reason of 2,001 characters",
            unreviewed,
            reviewer(),
            Action::Hold { reasons: vec![HoldReason::Custom { text: long() }], note: String::new() },
            |e| matches!(e, Error::InvalidField { field: "reasons", .. }),
        ),
        row(
            "reject with a reason of 2,001 characters",
            unreviewed,
            reviewer(),
            Action::Reject { reason: long() },
            |e| matches!(e, Error::InvalidField { field: "reason", .. }),
        ),
        row(
            "reject with an invisible-only reason",
            unreviewed,
            reviewer(),
            Action::Reject { reason: "\u{200B}\u{FEFF}".into() },
            |e| matches!(e, Error::InvalidField { field: "reason", .. }),
        ),
        row(
            "resolve a hold with a note of 2,001 characters",
            on_hold,
            customer_service(),
            Action::ResolveHold { contact_note: long() },
            |e| matches!(e, Error::InvalidField { field: "contact_note", .. }),
        ),
        row("approve while on hold", on_hold, reviewer(), Action::Approve { note: String::new() }, |e| {
            matches!(e, Error::IllegalTransition { command: CommandKind::Approve, status: OrderStatus::OnHold })
        }),
        row("approve an approved, paid order", paid, reviewer(), Action::Approve { note: String::new() }, |e| {
            matches!(e, Error::IllegalTransition { command: CommandKind::Approve, status: OrderStatus::ReadyToShip })
        }),
        row("approve an auto-approved order", placed, reviewer(), Action::Approve { note: String::new() }, |e| {
            matches!(
                e,
                Error::IllegalTransition { command: CommandKind::Approve, status: OrderStatus::AwaitingPayment }
            )
        }),
        row("hold without a reason", placed, reviewer(), Action::Hold { reasons: vec![], note: "x".into() }, |e| {
            matches!(e, Error::InvalidField { field: "reasons", .. })
        }),
        row(
            "hold once shipped",
            shipped,
            reviewer(),
            Action::Hold { reasons: vec![HoldReason::SuspectedFraud], note: String::new() },
            |e| matches!(e, Error::IllegalTransition { command: CommandKind::Hold, status: OrderStatus::Shipped }),
        ),
        row(
            "resolve a hold without a contact note",
            on_hold,
            customer_service(),
            Action::ResolveHold { contact_note: " ".into() },
            |e| matches!(e, Error::InvalidField { field: "contact_note", .. }),
        ),
        row(
            "resolve a hold that is not there",
            placed,
            customer_service(),
            Action::ResolveHold { contact_note: "called".into() },
            |e| {
                matches!(
                    e,
                    Error::IllegalTransition {
                        command: CommandKind::ResolveHold,
                        status: OrderStatus::AwaitingPayment
                    }
                )
            },
        ),
        row("reject without a reason", unreviewed, reviewer(), Action::Reject { reason: "\n".into() }, |e| {
            matches!(e, Error::InvalidField { field: "reason", .. })
        }),
        row(
            "reject with an over-long reason",
            unreviewed,
            reviewer(),
            Action::Reject { reason: "r".repeat(501) },
            |e| matches!(e, Error::InvalidField { field: "reason", .. }),
        ),
        row("reject an approved, paid order", paid, reviewer(), Action::Reject { reason: "late".into() }, |e| {
            matches!(e, Error::IllegalTransition { command: CommandKind::Reject, status: OrderStatus::ReadyToShip })
        }),
    ]
}

fn fulfilment_rows() -> Vec<Row> {
    vec![
        row("pick list before approval", unreviewed_paid, warehouse(), Action::IssuePickList, |e| {
            matches!(e, Error::NotReadyToFulfil { approved: false, paid: true })
        }),
        row("pick list before payment", placed, warehouse(), Action::IssuePickList, |e| {
            matches!(e, Error::NotReadyToFulfil { approved: true, paid: false })
        }),
        row("pick list before approval and payment", unreviewed, warehouse(), Action::IssuePickList, |e| {
            matches!(e, Error::NotReadyToFulfil { approved: false, paid: false })
        }),
        row("pick list while on hold", on_hold, warehouse(), Action::IssuePickList, |e| {
            matches!(e, Error::NotReadyToFulfil { approved: false, .. })
        }),
        row("pack before approval", unreviewed_paid, warehouse(), pack_all(), |e| {
            matches!(e, Error::NotReadyToFulfil { approved: false, paid: true })
        }),
        row("pack before payment", placed, warehouse(), pack_all(), |e| {
            matches!(e, Error::NotReadyToFulfil { approved: true, paid: false })
        }),
        row("book before approval", unreviewed_paid, warehouse(), book(P1), |e| {
            matches!(e, Error::NotReadyToFulfil { approved: false, paid: true })
        }),
        row("book before payment", partially_paid, warehouse(), book(P1), |e| {
            matches!(e, Error::NotReadyToFulfil { approved: true, paid: false })
        }),
        row("pack before the pick list", paid, warehouse(), pack_all(), |e| {
            matches!(e, Error::IllegalTransition { command: CommandKind::Pack, status: OrderStatus::ReadyToShip })
        }),
        row("pick list on a cancelled order", cancelled, warehouse(), Action::IssuePickList, |e| {
            matches!(
                e,
                Error::IllegalTransition { command: CommandKind::IssuePickList, status: OrderStatus::Cancelled }
            )
        }),
        row(
            "pack the wrong variant",
            picking,
            warehouse(),
            Action::Pack {
                items: vec![PackageItem { line: L2, quantity: 1 }],
                scanned: vec![ScannedItem {
                    sku: "MUG-CLAY".into(),
                    product_name: "Clay tea mug".into(),
                    variant: [("colour".to_owned(), "blue".to_owned()), ("size".to_owned(), "L".to_owned())].into(),
                    quantity: 1,
                }],
            },
            |e| {
                matches!(e, Error::PackMismatch { problems }
                    if problems.iter().any(|p| matches!(p, PackProblem::WrongVariant { sku, .. } if sku == "MUG-CLAY")))
            },
        ),
        row(
            "pack the wrong quantity (too few scanned)",
            picking,
            warehouse(),
            Action::Pack {
                items: vec![PackageItem { line: L3, quantity: 3 }],
                scanned: vec![ScannedItem {
                    sku: "CUP-SET".into(),
                    product_name: "Tasting cup".into(),
                    variant: Variant::new(),
                    quantity: 1,
                }],
            },
            |e| {
                matches!(e, Error::PackMismatch { problems }
                if problems == &vec![PackProblem::Missing {
                    line: L3, sku: orderflow::Sku::new("CUP-SET").unwrap(), expected: 3, scanned: 1,
                }])
            },
        ),
        row("pack more than was ordered", picking, warehouse(), pack_parts(&[(L1, 3)]), |e| {
            matches!(e, Error::PackMismatch { problems }
                if problems.contains(&PackProblem::ExceedsRemaining { line: L1, remaining: 2, requested: 3 }))
        }),
        row(
            "pack a line the order does not have",
            picking,
            warehouse(),
            Action::Pack { items: vec![PackageItem { line: LineId(9), quantity: 1 }], scanned: vec![] },
            |e| matches!(e, Error::PackMismatch { problems } if problems.contains(&PackProblem::UnknownLine { line: LineId(9) })),
        ),
        row(
            "pack nothing",
            picking,
            warehouse(),
            Action::Pack { items: vec![], scanned: vec![] },
            |e| matches!(e, Error::PackMismatch { problems } if problems == &vec![PackProblem::Empty]),
        ),
        row("book a package that was never packed", picking, warehouse(), book(P1), |e| {
            matches!(e, Error::UnknownPackage(P1))
        }),
        row("book a package twice", booked, warehouse(), book(P1), |e| {
            matches!(
                e,
                Error::PackageState { package: P1, state: PackageState::Booked, command: CommandKind::BookShipment }
            )
        }),
        row(
            "book without a carrier",
            packed,
            warehouse(),
            Action::BookShipment {
                package: P1,
                carrier: " ".into(),
                service: "standard".into(),
                reason: orderflow::ChoiceReason::stated(""),
            },
            |e| matches!(e, Error::InvalidField { field: "carrier", .. }),
        ),
        row("waybill on a package that was never packed", picking, carrier("SF"), waybill(PackageId(7), "SF7"), |e| {
            matches!(e, Error::UnknownPackage(PackageId(7)))
        }),
        row("waybill on a packed, unbooked package", packed, carrier("SF"), waybill(P1, "SF1"), |e| {
            matches!(
                e,
                Error::PackageState { package: P1, state: PackageState::Packed, command: CommandKind::RecordWaybill }
            )
        }),
        row("blank waybill", booked, carrier("SF"), waybill(P1, "  "), |e| {
            matches!(e, Error::InvalidField { field: "waybill", .. })
        }),
        row("a waybill already used by another package", partly_shipped, carrier("SF"), waybill(P2, "SF1"), |e| {
            matches!(e, Error::InvalidField { field: "waybill", .. })
        }),
        row("a second waybill for a shipped package", partly_shipped, carrier("SF"), waybill(P1, "SF9"), |e| {
            matches!(
                e,
                Error::PackageState { package: P1, state: PackageState::Shipped, command: CommandKind::RecordWaybill }
            )
        }),
        row(
            "tracking for an unknown waybill",
            shipped,
            carrier("SF"),
            track("NOPE", TrackingKind::InTransit),
            |e| matches!(e, Error::UnknownWaybill(w) if w == "NOPE"),
        ),
        row("tracking before anything shipped", booked, carrier("SF"), track("SF1", TrackingKind::InTransit), |e| {
            matches!(
                e,
                Error::IllegalTransition { command: CommandKind::RecordTracking, status: OrderStatus::InFulfilment }
            )
        }),
    ]
}

fn receipt_and_cancel_rows() -> Vec<Row> {
    vec![
        row("confirm receipt of another buyer's order", shipped, bob(), Action::ConfirmReceipt, |e| {
            matches!(e, Error::NotYourOrder)
        }),
        row("confirm receipt before shipping", picking, alice(), Action::ConfirmReceipt, |e| {
            matches!(e, Error::NotShippedYet)
        }),
        row("confirm receipt of a partial shipment", partly_shipped, alice(), Action::ConfirmReceipt, |e| {
            matches!(e, Error::NotShippedYet)
        }),
        row("confirm receipt twice", completed, alice(), Action::ConfirmReceipt, |e| {
            matches!(
                e,
                Error::IllegalTransition { command: CommandKind::ConfirmReceipt, status: OrderStatus::Completed }
            )
        }),
        row("confirm receipt of a cancelled order", cancelled, alice(), Action::ConfirmReceipt, |e| {
            matches!(
                e,
                Error::IllegalTransition { command: CommandKind::ConfirmReceipt, status: OrderStatus::Cancelled }
            )
        }),
        row("cancel after shipment", shipped, alice(), Action::Cancel { reason: "late".into() }, |e| {
            matches!(e, Error::AlreadyShipped)
        }),
        row(
            "cancel after part of it shipped",
            partly_shipped,
            customer_service(),
            Action::Cancel { reason: "late".into() },
            |e| matches!(e, Error::AlreadyShipped),
        ),
        row("cancel once a carrier is booked", booked, alice(), Action::Cancel { reason: "late".into() }, |e| {
            matches!(e, Error::AlreadyShipped)
        }),
        row("cancel without a reason", placed, alice(), Action::Cancel { reason: String::new() }, |e| {
            matches!(e, Error::InvalidField { field: "reason", .. })
        }),
        row("cancel twice", cancelled, alice(), Action::Cancel { reason: "again".into() }, |e| {
            matches!(e, Error::IllegalTransition { command: CommandKind::Cancel, status: OrderStatus::Cancelled })
        }),
        row("cancel another buyer's order", placed, bob(), Action::Cancel { reason: "mine".into() }, |e| {
            matches!(e, Error::NotYourOrder)
        }),
    ]
}

fn refund_rows() -> Vec<Row> {
    vec![
        row(
            "refund above what was captured",
            partially_paid,
            customer_service(),
            refund(&[(L2, cny(12_426))], cny(0)),
            |e| {
                matches!(e, Error::RefundExceedsRefundable { scope, requested, refundable }
                if scope == "order" && *requested == cny(12_426) && *refundable == cny(10_000))
            },
        ),
        row(
            "refund of an unpaid order",
            placed,
            customer_service(),
            refund(&[(L1, cny(100))], cny(0)),
            |e| matches!(e, Error::RefundExceedsRefundable { scope, refundable, .. } if scope == "order" && refundable.is_zero()),
        ),
        row("refund above a line's payable", paid, customer_service(), refund(&[(L1, cny(9_441))], cny(0)), |e| {
            matches!(e, Error::RefundExceedsRefundable { scope, refundable, .. }
                if scope == "line L1" && *refundable == cny(9_440))
        }),
        row(
            "refund above a line's payable, in two parts",
            paid,
            customer_service(),
            refund(&[(L1, cny(5_000)), (L1, cny(4_441))], cny(0)),
            |e| matches!(e, Error::RefundExceedsRefundable { scope, .. } if scope == "line L1"),
        ),
        row(
            "refund above what is left of a line",
            partly_refunded,
            customer_service(),
            refund(&[(L1, cny(4_441))], cny(0)),
            |e| {
                matches!(e, Error::RefundExceedsRefundable { scope, refundable, .. }
                if scope == "line L1" && *refundable == cny(4_440))
            },
        ),
        row("refund above the shipping fee", paid, customer_service(), refund(&[], cny(801)), |e| {
            matches!(e, Error::RefundExceedsRefundable { scope, refundable, .. }
                if scope == "shipping" && *refundable == cny(800))
        }),
        row("refund of a negative line amount", paid, customer_service(), refund(&[(L1, cny(-1))], cny(0)), |e| {
            matches!(e, Error::InvalidField { field: "lines", .. })
        }),
        row("refund of a negative shipping amount", paid, customer_service(), refund(&[], cny(-1)), |e| {
            matches!(e, Error::InvalidField { field: "shipping", .. })
        }),
        row("refund of nothing", paid, customer_service(), refund(&[], cny(0)), |e| {
            matches!(e, Error::InvalidField { field: "lines", .. })
        }),
        row("refund of an unknown line", paid, customer_service(), refund(&[(LineId(9), cny(1))], cny(0)), |e| {
            matches!(e, Error::UnknownLine(LineId(9)))
        }),
        row("refund in another currency", paid, customer_service(), refund(&[(L1, usd(100))], cny(0)), |e| {
            matches!(e, Error::Money(MoneyError::CurrencyMismatch { .. }))
        }),
        row(
            "refund without a reason",
            paid,
            customer_service(),
            Action::RequestRefund {
                lines: vec![LineRefund { line: L1, amount: cny(100) }],
                shipping: cny(0),
                reason: " ".into(),
                manual_reference: None,
            },
            |e| matches!(e, Error::InvalidField { field: "reason", .. }),
        ),
        row(
            "COD refund without a manual reference",
            cod_shipped,
            customer_service(),
            refund(&[(L1, cny(100))], cny(0)),
            |e| matches!(e, Error::InvalidField { field: "manual_reference", .. }),
        ),
        row(
            "COD refund with a blank manual reference",
            cod_shipped,
            customer_service(),
            Action::RequestRefund {
                lines: vec![LineRefund { line: L1, amount: cny(100) }],
                shipping: cny(0),
                reason: "damaged".into(),
                manual_reference: Some("  ".into()),
            },
            |e| matches!(e, Error::InvalidField { field: "manual_reference", .. }),
        ),
        row(
            "online refund with a manual reference",
            paid,
            customer_service(),
            Action::RequestRefund {
                lines: vec![LineRefund { line: L1, amount: cny(100) }],
                shipping: cny(0),
                reason: "damaged".into(),
                manual_reference: Some("BANK-1".into()),
            },
            |e| matches!(e, Error::InvalidField { field: "manual_reference", .. }),
        ),
        row(
            "complete an unknown refund",
            paid,
            provider(),
            Action::CompleteRefund { refund: RefundId(9), reference: "X".into() },
            |e| matches!(e, Error::UnknownRefund(RefundId(9))),
        ),
        row(
            "fail an unknown refund",
            paid,
            provider(),
            Action::FailRefund { refund: RefundId(9), reason: orderflow::RefundFailure::stated("X") },
            |e| matches!(e, Error::UnknownRefund(RefundId(9))),
        ),
    ]
}

fn cod_and_deadline_rows() -> Vec<Row> {
    vec![
        row(
            "cash collected differs from the total",
            cod_shipped,
            carrier("SF"),
            Action::RecordCodCollected { amount: cny(20_000) },
            |e| matches!(e, Error::PaymentMismatch { expected, received } if *expected == cny(27_000) && *received == cny(20_000)),
        ),
        row(
            "cash collected in another currency",
            cod_shipped,
            carrier("SF"),
            Action::RecordCodCollected { amount: usd(27_000) },
            |e| matches!(e, Error::PaymentMismatch { .. }),
        ),
        row(
            "cash collected for an online order",
            shipped,
            carrier("SF"),
            Action::RecordCodCollected { amount: cny(27_000) },
            |e| matches!(e, Error::PaymentMismatch { .. }),
        ),
        row(
            "cash collected before shipping",
            cod_placed,
            carrier("SF"),
            Action::RecordCodCollected { amount: cny(27_000) },
            |e| {
                matches!(
                    e,
                    Error::IllegalTransition {
                        command: CommandKind::RecordCodCollected,
                        status: OrderStatus::ReadyToShip
                    }
                )
            },
        ),
        row("pay-by fired early", placed, Actor::System, fire(DeadlineKind::PayBy), |e| {
            matches!(e, Error::NotDue { kind: DeadlineKind::PayBy, due: Some(_) })
        }),
        row("pay-by fired for a COD order", cod_placed, Actor::System, fire(DeadlineKind::PayBy), |e| {
            matches!(e, Error::NotDue { kind: DeadlineKind::PayBy, due: None })
        }),
        row("auto-confirm fired before shipping", picking, Actor::System, fire(DeadlineKind::AutoConfirm), |e| {
            matches!(e, Error::NotDue { kind: DeadlineKind::AutoConfirm, due: None })
        }),
        row("auto-confirm fired early", shipped, Actor::System, fire(DeadlineKind::AutoConfirm), |e| {
            matches!(e, Error::NotDue { kind: DeadlineKind::AutoConfirm, due: Some(_) })
        }),
        row(
            "after-sales window fired before completion",
            shipped,
            Actor::System,
            fire(DeadlineKind::AfterSalesWindow),
            |e| matches!(e, Error::NotDue { kind: DeadlineKind::AfterSalesWindow, due: None }),
        ),
        row(
            "follow-up score 0",
            completed,
            customer_service(),
            Action::RecordFollowUp { score: 0, notes: String::new() },
            |e| matches!(e, Error::InvalidField { field: "score", .. }),
        ),
        row(
            "follow-up score 6",
            completed,
            customer_service(),
            Action::RecordFollowUp { score: 6, notes: String::new() },
            |e| matches!(e, Error::InvalidField { field: "score", .. }),
        ),
        row(
            "follow-up before completion",
            shipped,
            customer_service(),
            Action::RecordFollowUp { score: 5, notes: String::new() },
            |e| {
                matches!(
                    e,
                    Error::IllegalTransition { command: CommandKind::RecordFollowUp, status: OrderStatus::Shipped }
                )
            },
        ),
    ]
}

/// One wrong actor (or more) for every kind of command. Permission is checked first, so the
/// order's state does not matter.
fn wrong_actor_rows() -> Vec<Row> {
    let forbidden =
        |name, actor: Actor, action: Action, expect: fn(&Error) -> bool| row(name, shipped, actor, action, expect);
    vec![
        forbidden("buyer approving", alice(), Action::Approve { note: String::new() }, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Buyer, command: CommandKind::Approve, .. })
        }),
        forbidden("carrier approving", carrier("SF"), Action::Approve { note: String::new() }, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::Approve, .. })
        }),
        forbidden(
            "warehouse holding",
            warehouse(),
            Action::Hold { reasons: vec![HoldReason::SuspectedFraud], note: String::new() },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::Hold, .. }),
        ),
        forbidden("system resolving a hold", Actor::System, Action::ResolveHold { contact_note: "x".into() }, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::System, command: CommandKind::ResolveHold, .. })
        }),
        forbidden("customer service rejecting", customer_service(), Action::Reject { reason: "x".into() }, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::Reject, .. })
        }),
        forbidden("buyer rejecting", alice(), Action::Reject { reason: "x".into() }, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Buyer, command: CommandKind::Reject, .. })
        }),
        forbidden("carrier opening a payment session", carrier("SF"), open_session("alipay"), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::OpenPaymentSession, .. })
        }),
        forbidden("warehouse opening a payment session", staff("w", &[Role::Warehouse]), open_session("alipay"), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::OpenPaymentSession, .. })
        }),
        forbidden("a provider opening a payment session", provider(), open_session("alipay"), |e| {
            matches!(
                e,
                Error::Forbidden { actor: ActorKind::PaymentProvider, command: CommandKind::OpenPaymentSession, .. }
            )
        }),
        forbidden("another buyer opening a payment session", bob(), open_session("alipay"), |e| {
            matches!(e, Error::NotYourOrder)
        }),
        forbidden("carrier capturing", carrier("SF"), capture("T9", cny(1)), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::CapturePayment, .. })
        }),
        forbidden("buyer capturing", alice(), capture("T9", cny(1)), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Buyer, command: CommandKind::CapturePayment, .. })
        }),
        forbidden("admin capturing", staff("root", &[Role::Admin]), capture("T9", cny(1)), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::CapturePayment, .. })
        }),
        forbidden(
            "reviewer recording a payment anomaly",
            reviewer(),
            Action::RecordPaymentAnomaly {
                txn_id: "T9".into(),
                amount: cny(1),
                reason: orderflow::AnomalyReason::stated("x"),
            },
            |e| {
                matches!(
                    e,
                    Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::RecordPaymentAnomaly, .. }
                )
            },
        ),
        forbidden(
            "warehouse refunding an unapplied payment",
            warehouse(),
            Action::RefundUnappliedPayment { txn_id: "T9".into() },
            |e| {
                matches!(
                    e,
                    Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::RefundUnappliedPayment, .. }
                )
            },
        ),
        forbidden("warehouse refunding", warehouse(), refund(&[(L1, cny(100))], cny(0)), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::RequestRefund, .. })
        }),
        forbidden("buyer refunding", alice(), refund(&[(L1, cny(100))], cny(0)), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Buyer, command: CommandKind::RequestRefund, .. })
        }),
        forbidden(
            "customer service completing a refund",
            customer_service(),
            Action::CompleteRefund { refund: RefundId(1), reference: "X".into() },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::CompleteRefund, .. }),
        ),
        forbidden(
            "carrier failing a refund",
            carrier("SF"),
            Action::FailRefund { refund: RefundId(1), reason: orderflow::RefundFailure::stated("X") },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::FailRefund, .. }),
        ),
        forbidden("reviewer issuing a pick list", reviewer(), Action::IssuePickList, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::IssuePickList, .. })
        }),
        forbidden("buyer packing", alice(), pack_all(), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Buyer, command: CommandKind::Pack, .. })
        }),
        forbidden("carrier booking a shipment", carrier("SF"), book(P1), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::BookShipment, .. })
        }),
        forbidden("payment provider recording a waybill", provider(), waybill(P1, "SF1"), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::PaymentProvider, command: CommandKind::RecordWaybill, .. })
        }),
        forbidden("warehouse recording tracking", warehouse(), track("SF1", TrackingKind::Delivered), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::RecordTracking, .. })
        }),
        forbidden("buyer recording tracking", alice(), track("SF1", TrackingKind::Delivered), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Buyer, command: CommandKind::RecordTracking, .. })
        }),
        forbidden("buyer recording cash collected", alice(), Action::RecordCodCollected { amount: cny(27_000) }, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Buyer, command: CommandKind::RecordCodCollected, .. })
        }),
        forbidden(
            "system recording cash collected",
            Actor::System,
            Action::RecordCodCollected { amount: cny(27_000) },
            |e| {
                matches!(e, Error::Forbidden { actor: ActorKind::System, command: CommandKind::RecordCodCollected, .. })
            },
        ),
        forbidden("customer service confirming receipt", customer_service(), Action::ConfirmReceipt, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::ConfirmReceipt, .. })
        }),
        forbidden("carrier confirming receipt", carrier("SF"), Action::ConfirmReceipt, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::ConfirmReceipt, .. })
        }),
        forbidden("another buyer confirming receipt", bob(), Action::ConfirmReceipt, |e| {
            matches!(e, Error::NotYourOrder)
        }),
        forbidden("warehouse cancelling", warehouse(), Action::Cancel { reason: "x".into() }, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::Cancel, .. })
        }),
        forbidden("payment provider cancelling", provider(), Action::Cancel { reason: "x".into() }, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::PaymentProvider, command: CommandKind::Cancel, .. })
        }),
        forbidden("buyer firing the pay-by deadline", alice(), fire(DeadlineKind::PayBy), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Buyer, command: CommandKind::CancelUnpaid, .. })
        }),
        forbidden("customer service firing auto-confirm", customer_service(), fire(DeadlineKind::AutoConfirm), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::AutoConfirm, .. })
        }),
        forbidden("payment provider closing after-sales", provider(), fire(DeadlineKind::AfterSalesWindow), |e| {
            matches!(
                e,
                Error::Forbidden { actor: ActorKind::PaymentProvider, command: CommandKind::CloseAfterSales, .. }
            )
        }),
        forbidden("reviewer firing a follow-up", reviewer(), fire(DeadlineKind::FollowUp), |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::FollowUpDue, .. })
        }),
        forbidden(
            "buyer recording a follow-up",
            alice(),
            Action::RecordFollowUp { score: 5, notes: String::new() },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Buyer, command: CommandKind::RecordFollowUp, .. }),
        ),
        forbidden(
            "warehouse recording a follow-up",
            warehouse(),
            Action::RecordFollowUp { score: 5, notes: String::new() },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Staff, command: CommandKind::RecordFollowUp, .. }),
        ),
        forbidden(
            "carrier doing OpenCase",
            carrier("SF"),
            Action::OpenCase {
                request: CaseRequest {
                    kind: CaseKind::Complaint,
                    lines: vec![],
                    reason_code: "x".into(),
                    text: String::new(),
                    evidence: vec![],
                },
            },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::OpenCase, .. }),
        ),
        forbidden("carrier doing ApproveCase", carrier("SF"), Action::ApproveCase { case: CaseId(1) }, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::ApproveCase, .. })
        }),
        forbidden(
            "carrier doing RejectCase",
            carrier("SF"),
            Action::RejectCase { case: CaseId(1), reason: "x".into() },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::RejectCase, .. }),
        ),
        forbidden("carrier doing WithdrawCase", carrier("SF"), Action::WithdrawCase { case: CaseId(1) }, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::WithdrawCase, .. })
        }),
        forbidden(
            "carrier doing RecordReturnParcel",
            carrier("SF"),
            Action::RecordReturnParcel { case: CaseId(1), waybill: "R1".into() },
            |e| {
                matches!(
                    e,
                    Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::RecordReturnParcel, .. }
                )
            },
        ),
        forbidden("carrier doing ReceiveReturn", carrier("SF"), Action::ReceiveReturn { case: CaseId(1) }, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::ReceiveReturn, .. })
        }),
        forbidden(
            "carrier doing InspectReturn",
            carrier("SF"),
            Action::InspectReturn { case: CaseId(1), passed: true, note: String::new() },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::InspectReturn, .. }),
        ),
        forbidden(
            "carrier doing RefundCase",
            carrier("SF"),
            Action::RefundCase { case: CaseId(1), manual_reference: None },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::RefundCase, .. }),
        ),
        forbidden(
            "carrier doing PackReplacement",
            carrier("SF"),
            Action::PackReplacement { case: CaseId(1), scanned: vec![] },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::PackReplacement, .. }),
        ),
        forbidden(
            "carrier doing RecordRepairReturned",
            carrier("SF"),
            Action::RecordRepairReturned { case: CaseId(1), waybill: "R1".into() },
            |e| {
                matches!(
                    e,
                    Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::RecordRepairReturned, .. }
                )
            },
        ),
        forbidden(
            "carrier doing AssignCase",
            carrier("SF"),
            Action::AssignCase { case: CaseId(1), assignee: orderflow::StaffId::new("chen").unwrap() },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::AssignCase, .. }),
        ),
        forbidden(
            "carrier doing ResolveCase",
            carrier("SF"),
            Action::ResolveCase { case: CaseId(1), resolution: "x".into() },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::ResolveCase, .. }),
        ),
        forbidden("carrier doing CloseCase", carrier("SF"), Action::CloseCase { case: CaseId(1) }, |e| {
            matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::CloseCase, .. })
        }),
        forbidden(
            "carrier doing EscalateCase",
            carrier("SF"),
            Action::FireDeadline { kind: DeadlineKind::CaseSla(CaseId(1)) },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::EscalateCase, .. }),
        ),
        forbidden(
            "carrier doing CaseFollowUpDue",
            carrier("SF"),
            Action::FireDeadline { kind: DeadlineKind::CaseFollowUp(CaseId(1)) },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::CaseFollowUpDue, .. }),
        ),
        // A carrier's correction comes through the verified push, recorded by the system.
        forbidden(
            "carrier doing CorrectCarrier",
            carrier("SF"),
            Action::CorrectCarrier { waybill: "SF1".into(), carrier: "ZTO".into() },
            |e| matches!(e, Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::CorrectCarrier, .. }),
        ),
        forbidden(
            "carrier doing RecordCaseFollowUp",
            carrier("SF"),
            Action::RecordCaseFollowUp { case: CaseId(1), score: 5, notes: String::new() },
            |e| {
                matches!(
                    e,
                    Error::Forbidden { actor: ActorKind::Carrier, command: CommandKind::RecordCaseFollowUp, .. }
                )
            },
        ),
        forbidden(
            "another buyer opening a case",
            buyer("mallory"),
            Action::OpenCase {
                request: CaseRequest {
                    kind: CaseKind::Complaint,
                    lines: vec![],
                    reason_code: "x".into(),
                    text: String::new(),
                    evidence: vec![],
                },
            },
            |e| matches!(e, Error::NotYourOrder),
        ),
    ]
}

/// Runs rows; returns one line per row that did not behave.
fn run(rows: Vec<Row>) -> Vec<String> {
    let mut failures = Vec::new();
    for row in rows {
        let mut s = (row.given)();
        let before: Order = s.order().clone();
        let history = s.history().len();
        let effects = s.effects().len();
        match s.when(row.actor.clone(), row.action.clone()) {
            Ok(d) => failures.push(format!("{}: accepted ({:?})", row.name, d.events)),
            Err(err) => {
                if !(row.expect)(&err) {
                    failures.push(format!("{}: unexpected error {err:?}", row.name));
                }
                if err.to_string().is_empty() {
                    failures.push(format!("{}: error without a message", row.name));
                }
            }
        }
        if s.order() != &before {
            failures.push(format!("{}: the order changed", row.name));
        }
        if s.history().len() != history || s.effects().len() != effects {
            failures.push(format!("{}: events or effects were recorded", row.name));
        }
    }
    failures
}

fn check(group: &str, rows: Vec<Row>) {
    let count = rows.len();
    let failures = run(rows);
    assert!(failures.is_empty(), "{group}: {} of {count} row(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn bad_payments_are_refused() {
    check("payment", payment_rows());
}

#[test]
fn bad_review_steps_are_refused() {
    check("review", review_rows());
}

#[test]
fn bad_fulfilment_steps_are_refused() {
    check("fulfilment", fulfilment_rows());
}

#[test]
fn bad_receipts_and_cancellations_are_refused() {
    check("receipt and cancel", receipt_and_cancel_rows());
}

#[test]
fn bad_refunds_are_refused() {
    check("refund", refund_rows());
}

#[test]
fn bad_cash_on_delivery_and_deadline_commands_are_refused() {
    check("cod and deadlines", cod_and_deadline_rows());
}

#[test]
fn wrong_actors_are_refused_for_every_command_kind() {
    let rows = wrong_actor_rows();
    let mut kinds: Vec<CommandKind> = rows.iter().map(|r| r.action.kind()).collect();
    kinds.sort();
    kinds.dedup();
    let every: Vec<CommandKind> = orderflow::transitions::PERMISSIONS
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| *k != CommandKind::Place) // placement rows cover it
        .collect();
    for kind in every {
        assert!(kinds.contains(&kind), "no wrong-actor row for {kind}");
    }
    check("wrong actors", rows);
}

#[test]
fn refused_commands_leave_the_decided_order_untouched() {
    // The same guarantee straight through `Workflow::decide`, on a serialized copy.
    let s = shipped();
    let order = s.order().clone();
    let json = serde_json::to_string(&order).unwrap();
    let ctx = orderflow::Ctx::at(s.now);
    for (actor, action) in [
        (alice(), Action::Cancel { reason: "x".into() }),
        (bob(), Action::ConfirmReceipt),
        (carrier("SF"), capture("T9", cny(1))),
        (customer_service(), refund(&[], cny(801))),
    ] {
        let command = orderflow::Command::new(actor, action);
        assert!(s.workflow.decide(&order, &command, &ctx).is_err(), "{command:?}");
        assert_eq!(serde_json::to_string(&order).unwrap(), json);
    }
}

fn case_request(kind: CaseKind, lines: &[(LineId, u32)]) -> Action {
    Action::OpenCase {
        request: CaseRequest {
            kind,
            lines: lines.iter().map(|(line, quantity)| CaseLine { line: *line, quantity: *quantity }).collect(),
            reason_code: "damaged".into(),
            text: String::new(),
            evidence: vec![],
        },
    }
}

/// Completed eight days ago: the 7-day return window is over.
fn completed_long_ago() -> Scenario {
    let mut s = completed();
    s.advance(TimeDelta::days(8));
    s
}

/// Completed, with case C1 (a return of one unit of line 1) requested.
fn return_requested() -> Scenario {
    let mut s = completed();
    ok(&mut s, alice(), case_request(CaseKind::ReturnAndRefund, &[(L1, 1)]));
    s
}

/// Completed, with complaint C1 open.
fn complaint_open() -> Scenario {
    let mut s = completed();
    ok(&mut s, alice(), case_request(CaseKind::Complaint, &[]));
    s
}

fn after_sales_rows() -> Vec<Row> {
    vec![
        row("return before delivery", shipped, alice(), case_request(CaseKind::ReturnAndRefund, &[(L1, 1)]), |e| {
            matches!(e, Error::OutsideWindow { kind: CaseKind::ReturnAndRefund, .. })
        }),
        row(
            "return after the window",
            completed_long_ago,
            alice(),
            case_request(CaseKind::ReturnAndRefund, &[(L1, 1)]),
            |e| matches!(e, Error::OutsideWindow { .. }),
        ),
        row(
            "warranty claim for a SKU without warranty",
            completed,
            alice(),
            case_request(CaseKind::WarrantyRepair, &[(L2, 1)]),
            |e| matches!(e, Error::OutsideWindow { kind: CaseKind::WarrantyRepair, .. }),
        ),
        row("return without lines", completed, alice(), case_request(CaseKind::ReturnAndRefund, &[]), |e| {
            matches!(e, Error::InvalidField { field: "lines", .. })
        }),
        row("return of zero units", completed, alice(), case_request(CaseKind::Exchange, &[(L1, 0)]), |e| {
            matches!(e, Error::InvalidField { field: "lines", .. })
        }),
        row(
            "return of more units than delivered",
            completed,
            alice(),
            case_request(CaseKind::ReturnAndRefund, &[(L1, 3)]),
            |e| matches!(e, Error::TooManyUnits { requested: 3, claimable: 2, .. }),
        ),
        row(
            "return of an unknown line",
            completed,
            alice(),
            case_request(CaseKind::RefundOnly, &[(LineId(9), 1)]),
            |e| matches!(e, Error::UnknownLine(LineId(9))),
        ),
        row(
            "second return of units already in a case",
            return_requested,
            alice(),
            case_request(CaseKind::RefundOnly, &[(L1, 2)]),
            |e| matches!(e, Error::TooManyUnits { claimable: 1, .. }),
        ),
        row(
            "case without a reason code",
            completed,
            alice(),
            Action::OpenCase {
                request: CaseRequest {
                    kind: CaseKind::Complaint,
                    lines: vec![],
                    reason_code: " ".into(),
                    text: String::new(),
                    evidence: vec![],
                },
            },
            |e| matches!(e, Error::InvalidField { field: "reason_code", .. }),
        ),
        row(
            "case with too much evidence",
            completed,
            alice(),
            Action::OpenCase {
                request: CaseRequest {
                    kind: CaseKind::Complaint,
                    lines: vec![],
                    reason_code: "x".into(),
                    text: String::new(),
                    evidence: vec!["p".into(); 11],
                },
            },
            |e| matches!(e, Error::InvalidField { field: "evidence", .. }),
        ),
        row("approving an unknown case", completed, customer_service(), Action::ApproveCase { case: CaseId(7) }, |e| {
            matches!(e, Error::UnknownCase(CaseId(7)))
        }),
        row(
            "approving a complaint",
            complaint_open,
            customer_service(),
            Action::ApproveCase { case: CaseId(1) },
            |e| matches!(e, Error::CaseState { command: CommandKind::ApproveCase, .. }),
        ),
        row(
            "receiving a return before approval",
            return_requested,
            warehouse(),
            Action::ReceiveReturn { case: CaseId(1) },
            |e| matches!(e, Error::CaseState { state: "requested", .. }),
        ),
        row(
            "refunding a return before inspection",
            return_requested,
            customer_service(),
            Action::RefundCase { case: CaseId(1), manual_reference: None },
            |e| matches!(e, Error::CaseState { command: CommandKind::RefundCase, .. }),
        ),
        row(
            "closing a requested case",
            return_requested,
            customer_service(),
            Action::CloseCase { case: CaseId(1) },
            |e| matches!(e, Error::CaseState { command: CommandKind::CloseCase, .. }),
        ),
        row(
            "rejecting a case without a reason",
            return_requested,
            customer_service(),
            Action::RejectCase { case: CaseId(1), reason: String::new() },
            |e| matches!(e, Error::InvalidField { field: "reason", .. }),
        ),
        row(
            "withdrawing another buyer's case",
            return_requested,
            bob(),
            Action::WithdrawCase { case: CaseId(1) },
            |e| matches!(e, Error::NotYourOrder),
        ),
        row(
            "resolving a complaint nobody took",
            complaint_open,
            customer_service(),
            Action::ResolveCase { case: CaseId(1), resolution: "x".into() },
            |e| matches!(e, Error::CaseState { command: CommandKind::ResolveCase, .. }),
        ),
        row(
            "case follow-up score of 0",
            return_requested,
            customer_service(),
            Action::RecordCaseFollowUp { case: CaseId(1), score: 0, notes: String::new() },
            |e| matches!(e, Error::InvalidField { field: "score", .. }),
        ),
        row(
            "packing a replacement for a return",
            return_requested,
            warehouse(),
            Action::PackReplacement { case: CaseId(1), scanned: vec![] },
            |e| matches!(e, Error::CaseState { command: CommandKind::PackReplacement, .. }),
        ),
    ]
}

#[test]
fn bad_after_sales_requests_are_refused() {
    check("after-sales", after_sales_rows());
}
