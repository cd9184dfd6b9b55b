//! The eight stages of order processing (README, "What the workflow covers"), one group of unit tests per stage, driven through the pure core
//! (`Scenario` or `Workflow` directly): events with the right actor, effects, status, deadlines.

use chrono::{DateTime, TimeDelta, Utc};
use orderflow::order::{
    DeadlineKind, HoldAbove, HoldReason, LineRefund, PackProblem, PackageItem, PackageState, PaymentState, PickItem,
    RefundMethod, RefundStatus, ReviewState, ScannedItem, TrackingKind, TrackingUpdate, Verdict,
};
use orderflow::placement::{LineForm, OrderDraft, Variant};
use orderflow::testing::{
    Scenario, buyer, carrier, customer_service, provider, reviewer, sample_cod_form, sample_form, t0, warehouse,
};
use orderflow::{
    Action, Actor, Audience, CancelReason, Change, Ctx, Currency, CustomerId, Decision, Effect, Error, Event, LineId,
    Money, NewOrder, Notification, NotificationKind, Order, OrderId, OrderNumber, OrderStatus, PackageId, RefundId,
    StockItem, Workflow, WorkflowConfig, buyer_timeline, staff_view,
};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn cny(minor: i64) -> Money {
    Money::new(minor, Currency::CNY)
}

fn alice() -> Actor {
    buyer("alice")
}

fn alice_id() -> CustomerId {
    CustomerId::new("alice").unwrap()
}

fn minutes(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

fn hours(h: i64) -> TimeDelta {
    TimeDelta::hours(h)
}

fn days(d: i64) -> TimeDelta {
    TimeDelta::days(d)
}

const P1: PackageId = PackageId(1);
const P2: PackageId = PackageId(2);
const L1: LineId = LineId(1);
const L2: LineId = LineId(2);
const L3: LineId = LineId(3);

fn variant(pairs: &[(&str, &str)]) -> Variant {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Names of the decision's events.
fn names(d: &Decision) -> Vec<&'static str> {
    d.events.iter().map(|e| e.change.name()).collect()
}

/// Every notification among the decision's effects.
fn notifications(d: &Decision) -> Vec<&Notification> {
    d.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notify(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// What the buyer `alice` is told by this decision.
fn told_alice(d: &Decision) -> Vec<&NotificationKind> {
    notifications(d)
        .into_iter()
        .filter(|n| n.audience == Audience::Buyer { customer: alice_id() })
        .map(|n| &n.kind)
        .collect()
}

/// What customer service is told by this decision.
fn told_service(d: &Decision) -> Vec<&NotificationKind> {
    notifications(d).into_iter().filter(|n| n.audience == Audience::CustomerService).map(|n| &n.kind).collect()
}

/// Stock items as sorted (sku, quantity) pairs.
fn stock(items: &[StockItem]) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = items.iter().map(|i| (i.sku.as_str().to_owned(), i.quantity)).collect();
    out.sort();
    out
}

fn all_sample_stock() -> Vec<(String, u32)> {
    vec![("CUP-SET".into(), 3), ("MUG-CLAY".into(), 1), ("TEA-OOLONG".into(), 2)]
}

fn release_of(d: &Decision) -> Option<Vec<(String, u32)>> {
    d.effects.iter().find_map(|e| match e {
        Effect::ReleaseStock { items } => Some(stock(items)),
        _ => None,
    })
}

fn deadline_events(d: &Decision) -> Vec<(DeadlineKind, Option<DateTime<Utc>>, Actor)> {
    d.events
        .iter()
        .filter_map(|e| match &e.change {
            Change::DeadlineSet { kind, at } => Some((*kind, *at, e.actor.clone())),
            _ => None,
        })
        .collect()
}

fn scheduled(d: &Decision) -> Vec<(DeadlineKind, DateTime<Utc>)> {
    d.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Schedule { kind, at } => Some((*kind, *at)),
            _ => None,
        })
        .collect()
}

/// What the packer scans for `quantity` units of `line`, exactly as ordered.
fn scan(order: &Order, line: LineId, quantity: u32) -> ScannedItem {
    let l = order.line(line).unwrap();
    ScannedItem {
        sku: l.sku.as_str().to_owned(),
        product_name: l.product_name.to_string(),
        variant: l.variant.clone(),
        quantity,
    }
}

/// A verified pack of the given (line, quantity) parts, scanned correctly.
fn pack(order: &Order, parts: &[(LineId, u32)]) -> Action {
    Action::Pack {
        items: parts.iter().map(|(line, quantity)| PackageItem { line: *line, quantity: *quantity }).collect(),
        scanned: parts.iter().map(|(line, quantity)| scan(order, *line, *quantity)).collect(),
    }
}

fn pack_everything(order: &Order) -> Action {
    let parts: Vec<(LineId, u32)> = order.lines().iter().map(|l| (l.id, l.quantity)).collect();
    pack(order, &parts)
}

fn book(package: PackageId, carrier: &str) -> Action {
    Action::BookShipment {
        package,
        carrier: carrier.into(),
        service: "standard".into(),
        reason: orderflow::ChoiceReason::stated("cheapest of 2 quotes"),
    }
}

fn waybill(package: PackageId, waybill: &str) -> Action {
    Action::RecordWaybill { package, waybill: waybill.into() }
}

fn update(kind: TrackingKind, at: DateTime<Utc>, id: &str) -> TrackingUpdate {
    TrackingUpdate {
        kind,
        at,
        event_id: id.into(),
        location: "Hangzhou".into(),
        description: format!("carrier says {}", kind.describe()).into(),
    }
}

fn track(s: &mut Scenario, waybill: &str, kind: TrackingKind, at: DateTime<Utc>, id: &str) -> Result<Decision, Error> {
    s.when(carrier("SF"), Action::RecordTracking { waybill: waybill.into(), update: update(kind, at, id) })
}

fn capture(txn: &str, amount: Money) -> Action {
    Action::CapturePayment { txn_id: txn.into(), amount }
}

fn fire(kind: DeadlineKind) -> Action {
    Action::FireDeadline { kind }
}

fn no_auto_approve() -> Workflow {
    Workflow::new(WorkflowConfig { auto_approve: false, ..Default::default() })
}

/// A workflow that takes payments in parts (off by default).
fn partial_captures() -> Workflow {
    Workflow::new(WorkflowConfig { partial_captures: true, ..Default::default() })
}

fn placed_with(workflow: Workflow, form: &orderflow::PlaceOrderForm) -> Scenario {
    let mut s = Scenario::new(workflow);
    s.place(&buyer(&form.customer), form).unwrap();
    s
}

/// Alice's sample order, auto-approved and paid in full.
fn paid() -> Scenario {
    let mut s = Scenario::placed(sample_form("alice"));
    s.advance(minutes(3));
    let total = s.order().totals().total;
    s.when(provider(), capture("ALI-1", total)).unwrap();
    s
}

/// Picking started on a paid order.
fn picking() -> Scenario {
    let mut s = paid();
    s.when(warehouse(), Action::IssuePickList).unwrap();
    s
}

/// Everything packed into P1, booked with SF and shipped under waybill SF1.
fn ship_everything(mut s: Scenario) -> Scenario {
    s.when(warehouse(), Action::IssuePickList).unwrap();
    let action = pack_everything(s.order());
    s.when(warehouse(), action).unwrap();
    s.when(warehouse(), book(P1, "SF")).unwrap();
    s.advance(hours(1));
    s.when(carrier("SF"), waybill(P1, "SF1")).unwrap();
    s
}

fn shipped() -> Scenario {
    ship_everything(paid())
}

fn cod_shipped() -> Scenario {
    ship_everything(Scenario::placed(sample_cod_form("alice")))
}

/// P1 (lines 1 and 2) shipped with SF as SF1 and P2 (line 3) with YTO as YT2.
fn split_shipped() -> Scenario {
    let mut s = picking();
    let first = pack(s.order(), &[(L1, 2), (L2, 1)]);
    s.when(warehouse(), first).unwrap();
    let second = pack(s.order(), &[(L3, 3)]);
    s.when(warehouse(), second).unwrap();
    s.when(warehouse(), book(P1, "SF")).unwrap();
    s.when(warehouse(), book(P2, "YTO")).unwrap();
    s.when(carrier("SF"), waybill(P1, "SF1")).unwrap();
    s.when(carrier("YTO"), waybill(P2, "YT2")).unwrap();
    s
}

fn completed() -> Scenario {
    let mut s = shipped();
    s.advance(days(2));
    s.when(alice(), Action::ConfirmReceipt).unwrap();
    s
}

// ---------------------------------------------------------------------------------------------
// 1. Order placed
// ---------------------------------------------------------------------------------------------

#[test]
fn stage1_placed_event_and_message_carry_the_order_number_and_estimated_ship_time() {
    let workflow = Workflow::default();
    let ctx = Ctx::at(t0());
    let mut placed = Vec::new();
    for (value, who) in [(1001u64, "alice"), (1002, "bob")] {
        let new = NewOrder { id: OrderId::new_v7(), number: OrderNumber::from_value(value).unwrap() };
        let id = new.id;
        let d = workflow.place(&buyer(who), &sample_form(who), new, &ctx).unwrap();
        let first = &d.events[0];
        assert_eq!((first.seq, first.at, &first.actor), (1, t0(), &buyer(who)));
        let Change::OrderPlaced { id: event_id, number, ship_by, .. } = &first.change else {
            panic!("first event is {}", first.change.name());
        };
        assert_eq!(*event_id, id);
        assert_eq!(*number, OrderNumber::from_value(value).unwrap());
        assert_eq!(*ship_by, t0() + hours(48), "estimated ship time is placement + 48h by default");

        let messages: Vec<&Notification> =
            notifications(&d).into_iter().filter(|n| matches!(n.kind, NotificationKind::Placed { .. })).collect();
        assert_eq!(messages.len(), 1, "exactly one placed message");
        assert_eq!(messages[0].order_number, *number);
        assert_eq!(messages[0].audience, Audience::Buyer { customer: CustomerId::new(who).unwrap() });
        assert_eq!(
            messages[0].kind,
            NotificationKind::Placed { estimated_ship_by: t0() + hours(48), total: cny(27_000) }
        );
        let order = Order::from_events(&d.events).unwrap();
        assert_eq!(order.number(), *number);
        assert_eq!(order.deadlines().ship_by, Some(t0() + hours(48)));
        placed.push((id, *number));
    }
    assert_ne!(placed[0].0, placed[1].0, "order ids are unique");
    assert_ne!(placed[0].1, placed[1].1, "order numbers are unique");
}

#[test]
fn stage1_estimated_ship_time_follows_the_configuration() {
    let workflow = Workflow::new(WorkflowConfig { ship_within: hours(24), ..Default::default() });
    let s = placed_with(workflow, &sample_form("alice"));
    assert_eq!(s.order().deadlines().ship_by, Some(t0() + hours(24)));
    let placed = s.effects().iter().find_map(|e| match e {
        Effect::Notify(Notification { kind: NotificationKind::Placed { estimated_ship_by, .. }, .. }) => {
            Some(*estimated_ship_by)
        }
        _ => None,
    });
    assert_eq!(placed, Some(t0() + hours(24)));
}

#[test]
fn stage1_reserve_stock_lists_every_sku_with_summed_quantities() {
    let mut s = Scenario::new(Workflow::default());
    let d = s.place(&alice(), &sample_form("alice")).unwrap();
    let reserve: Vec<&Effect> = d.effects.iter().filter(|e| matches!(e, Effect::ReserveStock { .. })).collect();
    assert_eq!(reserve.len(), 1);
    assert!(reserve[0].before_commit(), "reservation runs before the order is committed");
    let Effect::ReserveStock { items, .. } = reserve[0] else { unreachable!() };
    assert_eq!(stock(items), all_sample_stock());

    // Same SKU in two variants (two lines) and the same product entered twice (merged): the
    // reservation sums per SKU.
    let mut form = sample_form("alice");
    form.lines.push(LineForm {
        sku: "TEA-OOLONG".into(),
        product_name: "Oolong tea 250g".into(),
        variant: variant(&[("grade", "standard")]),
        quantity: 3,
        unit_price: cny(3_900),
    });
    form.lines.push(form.lines[2].clone()); // CUP-SET again, same price: merged into line 3
    let mut s = Scenario::new(Workflow::default());
    let d = s.place(&alice(), &form).unwrap();
    let items = d
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::ReserveStock { items, .. } => Some(stock(items)),
            _ => None,
        })
        .unwrap();
    assert_eq!(items, vec![("CUP-SET".into(), 6), ("MUG-CLAY".into(), 1), ("TEA-OOLONG".into(), 5)]);
    assert_eq!(s.order().lines().len(), 4, "different variants stay separate lines, duplicates merge");
    assert_eq!(s.order().lines()[2].quantity, 6);
}

#[test]
fn stage1_online_orders_get_a_30_minute_pay_by_deadline_cod_orders_none() {
    let mut s = Scenario::new(Workflow::default());
    let d = s.place(&alice(), &sample_form("alice")).unwrap();
    let Change::OrderPlaced { pay_by, .. } = &d.events[0].change else { panic!("not placed") };
    assert_eq!(*pay_by, Some(t0() + minutes(30)));
    assert_eq!(s.order().deadlines().pay_by, Some(t0() + minutes(30)));
    assert_eq!(scheduled(&d), vec![(DeadlineKind::PayBy, t0() + minutes(30))]);
    assert_eq!(s.order().status(), OrderStatus::AwaitingPayment);

    let mut s = Scenario::new(Workflow::default());
    let d = s.place(&alice(), &sample_cod_form("alice")).unwrap();
    let Change::OrderPlaced { pay_by, .. } = &d.events[0].change else { panic!("not placed") };
    assert_eq!(*pay_by, None);
    assert_eq!(s.order().deadlines().pay_by, None);
    assert!(scheduled(&d).is_empty(), "no deadline for cash on delivery: {:?}", scheduled(&d));
}

#[test]
fn stage1_totals_and_per_line_discount_allocation() {
    let s = Scenario::placed(sample_form("alice"));
    let o = s.order();
    // 2×49.00 + 1×129.00 + 3×15.00 = 272.00; + 8.00 shipping − 10.00 discount = 270.00
    assert_eq!(o.totals().subtotal, cny(27_200));
    assert_eq!(o.totals().shipping_fee, cny(800));
    assert_eq!(o.totals().discount, cny(1_000));
    assert_eq!(o.totals().total, cny(27_000));
    assert_eq!(o.payment().total, cny(27_000));
    let line_totals: Vec<i64> = o.lines().iter().map(|l| l.line_total.minor).collect();
    assert_eq!(line_totals, vec![9_800, 12_900, 4_500]);
    // 10.00 split in proportion to 98 : 129 : 45, largest remainder: 3.60 / 4.74 / 1.66.
    let discounts: Vec<i64> = o.lines().iter().map(|l| l.discount.minor).collect();
    assert_eq!(discounts, vec![360, 474, 166]);
    assert_eq!(discounts.iter().sum::<i64>(), 1_000);
    let payable: Vec<i64> = o.lines().iter().map(|l| l.payable.minor).collect();
    assert_eq!(payable, vec![9_440, 12_426, 4_334]);
    assert_eq!(payable.iter().sum::<i64>() + o.totals().shipping_fee.minor, o.totals().total.minor);
    assert_eq!(o.lines().iter().map(|l| l.id).collect::<Vec<_>>(), vec![L1, L2, L3]);

    // Three equal lines and 1.00 off: 0.34 / 0.33 / 0.33.
    let mut form = sample_form("alice");
    for l in &mut form.lines {
        l.quantity = 1;
        l.unit_price = cny(100);
    }
    form.discount = cny(100);
    let s = Scenario::placed(form);
    let discounts: Vec<i64> = s.order().lines().iter().map(|l| l.discount.minor).collect();
    assert_eq!(discounts, vec![34, 33, 33]);
    assert_eq!(s.order().totals().total, cny(300 - 100 + 800));
}

// ---------------------------------------------------------------------------------------------
// 2. Order review
// ---------------------------------------------------------------------------------------------

#[test]
fn stage2_orders_are_approved_automatically_by_default() {
    let s = Scenario::placed(sample_form("alice"));
    let approved = &s.history()[1];
    assert_eq!(approved.change, Change::ReviewApproved { note: String::new() });
    assert_eq!(approved.actor, Actor::System);
    assert_eq!(*s.order().review(), ReviewState::Approved);
    assert_eq!(s.order().status(), OrderStatus::AwaitingPayment, "approved, waiting for the money");
}

#[test]
fn stage2_without_auto_approve_the_order_waits_for_a_reviewer() {
    let mut s = placed_with(no_auto_approve(), &sample_form("alice"));
    assert_eq!(s.history().len(), 1, "only the placement: {:?}", s.history());
    assert_eq!(*s.order().review(), ReviewState::Pending);
    let total = s.order().totals().total;
    s.when(provider(), capture("ALI-1", total)).unwrap();
    assert_eq!(s.order().status(), OrderStatus::UnderReview);
    let d = s.when(reviewer(), Action::Approve { note: " address checked ".into() }).unwrap();
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].change, Change::ReviewApproved { note: "address checked".into() });
    assert_eq!(d.events[0].actor, reviewer());
    assert_eq!(s.order().status(), OrderStatus::ReadyToShip);
}

#[test]
fn stage2_hold_above_limit_holds_high_value_orders() {
    let limit = cny(26_999);
    let workflow = Workflow::default().with_review_rule(HoldAbove { limit });
    let mut s = Scenario::new(workflow);
    let d = s.place(&alice(), &sample_form("alice")).unwrap();
    assert_eq!(names(&d), vec!["order_placed", "review_held"]);
    assert_eq!(d.events[1].actor, Actor::System);
    assert_eq!(d.events[1].change, Change::ReviewHeld { reasons: vec![HoldReason::HighValue], note: String::new() });
    assert!(
        !told_alice(&d).iter().any(|k| matches!(k, NotificationKind::NeedsBuyerContact { .. })),
        "a high-value hold is internal; the buyer is not contacted"
    );
    assert_eq!(*s.order().review(), ReviewState::OnHold { reasons: vec![HoldReason::HighValue] });
    assert_eq!(s.order().status(), OrderStatus::OnHold);

    // At the limit exactly: approved automatically.
    let workflow = Workflow::default().with_review_rule(HoldAbove { limit: cny(27_000) });
    let s = placed_with(workflow, &sample_form("alice"));
    assert_eq!(*s.order().review(), ReviewState::Approved);
}

#[test]
fn stage2_automatic_hold_needing_the_buyer_notifies_the_buyer() {
    let rule = |_: &OrderDraft| Verdict::Hold(HoldReason::AddressProblem);
    let mut s = Scenario::new(Workflow::default().with_review_rule(rule));
    let d = s.place(&alice(), &sample_form("alice")).unwrap();
    assert!(
        told_alice(&d).contains(&&NotificationKind::NeedsBuyerContact { reasons: vec![HoldReason::AddressProblem] })
    );
    assert_eq!(s.order().status(), OrderStatus::OnHold);
}

#[test]
fn stage2_hold_needing_buyer_contact_notifies_the_buyer() {
    let mut s = Scenario::placed(sample_form("alice"));
    let reasons = vec![HoldReason::NeedsBuyerContact, HoldReason::InsufficientStock];
    let d = s.when(reviewer(), Action::Hold { reasons: reasons.clone(), note: "only 1 mug left".into() }).unwrap();
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].actor, reviewer());
    assert_eq!(d.events[0].change, Change::ReviewHeld { reasons: reasons.clone(), note: "only 1 mug left".into() });
    let told = notifications(&d);
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].audience, Audience::Buyer { customer: alice_id() });
    assert_eq!(told[0].order_number, s.order().number());
    assert_eq!(told[0].kind, NotificationKind::NeedsBuyerContact { reasons: reasons.clone() });
    assert_eq!(*s.order().review(), ReviewState::OnHold { reasons });
    assert_eq!(s.order().status(), OrderStatus::OnHold);

    // A hold that needs no buyer (stock only) tells nobody.
    let mut s = Scenario::placed(sample_form("alice"));
    let d = s.when(reviewer(), Action::Hold { reasons: vec![HoldReason::InsufficientStock], note: String::new() });
    assert!(notifications(&d.unwrap()).is_empty());
}

#[test]
fn stage2_resolving_a_hold_needs_a_contact_note_then_a_reviewer_approves() {
    let mut s = Scenario::placed(sample_form("alice"));
    s.when(reviewer(), Action::Hold { reasons: vec![HoldReason::AddressProblem], note: String::new() }).unwrap();

    // Approve while on hold is refused.
    let before = s.order().clone();
    let err = s.when(reviewer(), Action::Approve { note: String::new() }).unwrap_err();
    assert!(
        matches!(
            err,
            Error::IllegalTransition { command: orderflow::CommandKind::Approve, status: OrderStatus::OnHold }
        ),
        "{err:?}"
    );
    assert_eq!(s.order(), &before);

    // Resolving needs a contact note.
    for blank in ["", "   "] {
        let err = s.when(customer_service(), Action::ResolveHold { contact_note: blank.into() }).unwrap_err();
        assert!(matches!(err, Error::InvalidField { field: "contact_note", .. }), "{err:?}");
        assert_eq!(s.order(), &before);
    }
    let d =
        s.when(customer_service(), Action::ResolveHold { contact_note: "called Li Lei, street fixed".into() }).unwrap();
    assert_eq!(d.events[0].change, Change::HoldResolved { contact_note: "called Li Lei, street fixed".into() });
    assert_eq!(d.events[0].actor, customer_service());
    assert_eq!(*s.order().review(), ReviewState::HoldResolved { contact_note: "called Li Lei, street fixed".into() });
    assert_eq!(s.order().status(), OrderStatus::AwaitingPayment);

    let d = s.when(reviewer(), Action::Approve { note: "ok now".into() }).unwrap();
    assert_eq!(names(&d), vec!["review_approved"]);
    assert_eq!(*s.order().review(), ReviewState::Approved);
    let total = s.order().totals().total;
    s.when(provider(), capture("ALI-1", total)).unwrap();
    assert_eq!(s.order().status(), OrderStatus::ReadyToShip);
}

#[test]
fn stage2_reject_releases_stock_closes_the_unpaid_payment_and_notifies() {
    let mut s = placed_with(no_auto_approve(), &sample_form("alice"));
    let d = s.when(reviewer(), Action::Reject { reason: " address does not exist ".into() }).unwrap();
    assert_eq!(d.events[0].change, Change::ReviewRejected { reason: "address does not exist".into() });
    assert_eq!(d.events[0].actor, reviewer());
    assert_eq!(release_of(&d), Some(all_sample_stock()));
    assert!(d.effects.contains(&Effect::ClosePayment { provider: "alipay".into() }));
    assert!(!d.effects.iter().any(|e| matches!(e, Effect::Refund { .. })), "nothing was paid");
    assert_eq!(
        told_alice(&d),
        vec![&NotificationKind::Cancelled { reason: CancelReason::stated("address does not exist") }]
    );
    assert_eq!(s.order().status(), OrderStatus::Rejected);
    assert_eq!(s.order().deadlines().pay_by, None, "the pay-by deadline goes with the order");
}

#[test]
fn stage2_reject_refunds_what_was_paid() {
    let paid_in_parts = WorkflowConfig { auto_approve: false, partial_captures: true, ..Default::default() };
    let mut s = placed_with(Workflow::new(paid_in_parts), &sample_form("alice"));
    s.when(provider(), capture("ALI-1", cny(10_000))).unwrap();
    let d = s.when(reviewer(), Action::Reject { reason: "suspected fraud".into() }).unwrap();
    assert_eq!(names(&d), vec!["review_rejected", "refund_requested"]);
    assert!(d.effects.contains(&Effect::ClosePayment { provider: "alipay".into() }), "the rest can no longer be paid");
    assert!(d.effects.contains(&Effect::Refund {
        refund: RefundId(1),
        amount: cny(10_000),
        provider: "alipay".into()
    }));
    assert_eq!(release_of(&d), Some(all_sample_stock()));
    assert_eq!(s.order().payment().refundable().unwrap(), cny(0));
    assert_eq!(s.order().status(), OrderStatus::Rejected);

    // Fully paid and held: refund everything, nothing to close.
    let mut s = paid();
    s.when(reviewer(), Action::Hold { reasons: vec![HoldReason::SuspectedFraud], note: String::new() }).unwrap();
    let d = s.when(reviewer(), Action::Reject { reason: "fraud".into() }).unwrap();
    assert!(!d.effects.iter().any(|e| matches!(e, Effect::ClosePayment { .. })));
    assert!(d.effects.contains(&Effect::Refund {
        refund: RefundId(1),
        amount: cny(27_000),
        provider: "alipay".into()
    }));
    assert!(told_alice(&d).contains(&&NotificationKind::Cancelled { reason: CancelReason::stated("fraud") }));
}

#[test]
fn stage2_a_hold_blocks_fulfilment_only_payment_is_still_captured() {
    let mut s = Scenario::placed(sample_form("alice"));
    s.when(reviewer(), Action::Hold { reasons: vec![HoldReason::SuspectedFraud], note: String::new() }).unwrap();
    let total = s.order().totals().total;
    let d = s.when(provider(), capture("ALI-1", total)).unwrap();
    assert_eq!(names(&d), vec!["payment_captured"]);
    assert!(told_alice(&d).contains(&&NotificationKind::Paid { amount: total }));
    assert_eq!(s.order().payment().state(), PaymentState::Paid);
    assert_eq!(s.order().deadlines().pay_by, None);
    assert_eq!(s.order().status(), OrderStatus::OnHold);
    let err = s.when(warehouse(), Action::IssuePickList).unwrap_err();
    assert!(matches!(err, Error::NotReadyToFulfil { approved: false, paid: true }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// 3. Payment confirmation
// ---------------------------------------------------------------------------------------------

#[test]
fn stage3_full_capture_marks_the_order_paid() {
    let mut s = Scenario::placed(sample_form("alice"));
    s.advance(minutes(5));
    let total = s.order().totals().total;
    let d = s.when(provider(), capture("ALI-1", total)).unwrap();
    assert_eq!(d.events.len(), 1);
    assert_eq!(
        d.events[0].change,
        Change::PaymentCaptured { txn_id: "ALI-1".into(), amount: total, provider: Some("alipay".into()) }
    );
    assert_eq!(d.events[0].actor, provider());
    assert_eq!(d.events[0].at, t0() + minutes(5));
    assert_eq!(told_alice(&d), vec![&NotificationKind::Paid { amount: total }]);
    assert_eq!(notifications(&d)[0].order_number, s.order().number());
    assert_eq!(s.order().payment().state(), PaymentState::Paid);
    assert_eq!(s.order().deadlines().pay_by, None, "pay-by cleared");
    assert_eq!(s.order().status(), OrderStatus::ReadyToShip);
}

#[test]
fn stage3_two_partial_captures_sum_to_the_total() {
    let mut s = placed_with(partial_captures(), &sample_form("alice"));
    let d = s.when(provider(), capture("ALI-1", cny(10_000))).unwrap();
    assert!(told_alice(&d).is_empty(), "not paid in full yet");
    assert_eq!(s.order().payment().state(), PaymentState::PartiallyPaid);
    assert_eq!(s.order().payment().outstanding().unwrap(), cny(17_000));
    assert_eq!(s.order().deadlines().pay_by, Some(t0() + minutes(30)), "still due");
    assert_eq!(s.order().status(), OrderStatus::AwaitingPayment);

    let d = s.when(provider(), capture("ALI-2", cny(17_000))).unwrap();
    assert_eq!(told_alice(&d), vec![&NotificationKind::Paid { amount: cny(27_000) }]);
    assert_eq!(s.order().payment().received().unwrap(), cny(27_000));
    assert_eq!(s.order().payment().state(), PaymentState::Paid);
    assert_eq!(s.order().deadlines().pay_by, None);
    assert_eq!(s.order().status(), OrderStatus::ReadyToShip);
}

fn open_session(provider: &str) -> Action {
    Action::OpenPaymentSession { provider: provider.into() }
}

/// The providers whose session a decision closes, in order.
fn closed(d: &orderflow::Decision) -> Vec<&str> {
    d.effects
        .iter()
        .filter_map(|e| match e {
            Effect::ClosePayment { provider } => Some(provider.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn stage3_each_payment_session_is_recorded_once() {
    // Placed with Alipay; the buyer switches to WeChat Pay at the payment page.
    let mut s = Scenario::placed(sample_form("alice"));
    let d = s.when(alice(), open_session(" wechatpay ")).unwrap();
    assert_eq!(names(&d), vec!["payment_session_opened"]);
    assert_eq!(d.events[0].change, Change::PaymentSessionOpened { provider: "wechatpay".into() });
    assert_eq!(d.events[0].actor, alice());
    assert!(d.effects.is_empty(), "the engine creates the session once this is stored");
    assert_eq!(s.order().status(), OrderStatus::AwaitingPayment);
    // Opened again (the buyer reloads the page): nothing to record.
    let len = s.history().len();
    assert!(s.when(alice(), open_session("wechatpay")).unwrap().is_empty());
    assert_eq!(s.history().len(), len);
    // Back to the chosen provider, by customer service on the buyer's behalf, then the system.
    s.when(customer_service(), open_session("alipay")).unwrap();
    assert!(s.when(Actor::System, open_session("alipay")).unwrap().is_empty());
    assert_eq!(s.order().payment().sessions, vec!["wechatpay".to_owned(), "alipay".to_owned()]);
    assert_eq!(s.order().payment().session_providers().collect::<Vec<_>>(), vec!["alipay", "wechatpay"]);
    assert!(s.order().payment().has_session("wechatpay") && !s.order().payment().has_session("unionpay"));
    // On hold, still unpaid: the buyer may still pay.
    s.when(reviewer(), Action::Hold { reasons: vec![HoldReason::SuspectedFraud], note: String::new() }).unwrap();
    assert_eq!(names(&s.when(alice(), open_session("unionpay")).unwrap()), vec!["payment_session_opened"]);
}

#[test]
fn stage3_paying_through_one_session_closes_every_other() {
    let mut s = Scenario::placed(sample_form("alice"));
    for provider in ["alipay", "wechatpay", "unionpay"] {
        s.when(alice(), open_session(provider)).unwrap();
    }
    let total = s.order().totals().total;
    let wechat = Actor::PaymentProvider { provider: "wechatpay".into() };
    let d = s.when(wechat, capture("WX-1", total)).unwrap();
    assert_eq!(closed(&d), vec!["alipay", "unionpay"], "every session but the one that paid");
    assert_eq!(s.order().payment().paid_through(), Some(("wechatpay", "WX-1")));

    // Paid through the chosen provider: the sessions switched to are closed.
    let mut s = Scenario::placed(sample_form("alice"));
    s.when(alice(), open_session("wechatpay")).unwrap();
    let d = s.when(provider(), capture("ALI-1", total)).unwrap();
    assert_eq!(closed(&d), vec!["wechatpay"]);
    assert_eq!(s.order().payment().paid_through(), Some(("alipay", "ALI-1")));

    // Recorded by the system (after asking the chosen provider): the same.
    let mut s = Scenario::placed(sample_form("alice"));
    s.when(alice(), open_session("wechatpay")).unwrap();
    let d = s.when(Actor::System, capture("ALI-1", total)).unwrap();
    assert_eq!(closed(&d), vec!["wechatpay"]);

    // No session but the chosen one: nothing to close, as before sessions were recorded.
    let mut s = Scenario::placed(sample_form("alice"));
    s.when(alice(), open_session("alipay")).unwrap();
    assert!(closed(&s.when(provider(), capture("ALI-1", total)).unwrap()).is_empty());
}

#[test]
fn stage3_cancelling_or_the_deadline_closes_every_payment_session() {
    let mut s = Scenario::placed(sample_form("alice"));
    s.when(alice(), open_session("wechatpay")).unwrap();
    let d = s.when(alice(), Action::Cancel { reason: "changed my mind".into() }).unwrap();
    assert_eq!(closed(&d), vec!["alipay", "wechatpay"]);
    // Over: no session can be opened any more, and nothing changes.
    let before = s.order().clone();
    let err = s.when(alice(), open_session("wechatpay")).unwrap_err();
    assert_eq!(
        err,
        Error::IllegalTransition {
            command: orderflow::CommandKind::OpenPaymentSession,
            status: OrderStatus::Cancelled
        }
    );
    assert_eq!(s.order(), &before);

    let mut s = Scenario::placed(sample_form("alice"));
    s.when(alice(), open_session("wechatpay")).unwrap();
    s.advance(minutes(30));
    let d = s.when(Actor::System, fire(DeadlineKind::PayBy)).unwrap();
    assert_eq!(closed(&d), vec!["alipay", "wechatpay"]);

    // Money through a session after the cancellation still goes back where it came from.
    let total = s.order().totals().total;
    let d = s.when(Actor::PaymentProvider { provider: "wechatpay".into() }, capture("WX-9", total)).unwrap();
    assert!(d.effects.contains(&Effect::Refund { refund: RefundId(1), amount: total, provider: "wechatpay".into() }));
    assert!(closed(&d).is_empty());
}

#[test]
fn stage3_capture_above_outstanding_is_refused() {
    let mut s = placed_with(partial_captures(), &sample_form("alice"));
    s.when(provider(), capture("ALI-1", cny(10_000))).unwrap();
    let before = s.order().clone();
    let err = s.when(provider(), capture("ALI-2", cny(17_001))).unwrap_err();
    assert_eq!(err, Error::PaymentMismatch { expected: cny(17_000), received: cny(17_001) });
    assert_eq!(s.order(), &before);
}

#[test]
fn stage3_duplicate_transaction_is_an_empty_decision() {
    let mut s = paid();
    let len = s.history().len();
    let total = s.order().totals().total;
    let d = s.when(provider(), capture("ALI-1", total)).unwrap();
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(s.history().len(), len);
    assert_eq!(s.order().payment().captures.len(), 1);
}

#[test]
fn stage3_cash_on_delivery_skips_payment() {
    let s = Scenario::placed(sample_cod_form("alice"));
    assert_eq!(s.order().payment().state(), PaymentState::CodDue);
    assert_eq!(s.order().status(), OrderStatus::ReadyToShip, "approved and COD: straight to the warehouse");

    let mut s = placed_with(no_auto_approve(), &sample_cod_form("alice"));
    assert_eq!(s.order().status(), OrderStatus::UnderReview, "nothing to pay; waiting for review only");
    s.when(reviewer(), Action::Approve { note: String::new() }).unwrap();
    assert_eq!(s.order().status(), OrderStatus::ReadyToShip);
    s.when(warehouse(), Action::IssuePickList).unwrap();
    assert_eq!(s.order().status(), OrderStatus::InFulfilment);
}

#[test]
fn stage3_capture_after_cancellation_is_recorded_and_refunded() {
    let mut s = Scenario::placed(sample_form("alice"));
    s.when(alice(), Action::Cancel { reason: "changed my mind".into() }).unwrap();
    s.advance(minutes(2));
    let d = s.when(provider(), capture("ALI-LATE", cny(27_000))).unwrap();
    assert_eq!(names(&d), vec!["payment_captured", "refund_requested"]);
    assert_eq!(d.events[0].actor, provider());
    assert_eq!(d.events[1].actor, Actor::System);
    let Change::RefundRequested { refund } = &d.events[1].change else { unreachable!() };
    assert_eq!((refund.id, refund.amount), (RefundId(1), cny(27_000)));
    assert_eq!(refund.method, RefundMethod::Gateway);
    assert_eq!(refund.status, RefundStatus::Pending);
    assert!(d.effects.contains(&Effect::Refund {
        refund: RefundId(1),
        amount: cny(27_000),
        provider: "alipay".into()
    }));
    assert!(
        told_service(&d)
            .iter()
            .any(|k| matches!(k, NotificationKind::PaymentAnomaly { txn_id, .. } if txn_id == "ALI-LATE"))
    );
    let o = s.order();
    assert_eq!(o.status(), OrderStatus::Cancelled);
    assert_eq!(o.payment().received().unwrap(), cny(27_000));
    assert_eq!(o.payment().refundable().unwrap(), cny(0));
}

// ---------------------------------------------------------------------------------------------
// 4. Pick and pack
// ---------------------------------------------------------------------------------------------

#[test]
fn stage4_pick_list_needs_approval_and_payment() {
    // (workflow, form, pay in full?) → expected gates (approved, paid), or None when ready
    type Case = (Workflow, orderflow::PlaceOrderForm, bool, Option<(bool, bool)>);
    let cases: Vec<Case> = vec![
        (no_auto_approve(), sample_form("alice"), false, Some((false, false))),
        (Workflow::default(), sample_form("alice"), false, Some((true, false))),
        (no_auto_approve(), sample_form("alice"), true, Some((false, true))),
        (no_auto_approve(), sample_cod_form("alice"), false, Some((false, true))),
        (Workflow::default(), sample_form("alice"), true, None),
        (Workflow::default(), sample_cod_form("alice"), false, None),
    ];
    for (workflow, form, pay, expected) in cases {
        let mut s = placed_with(workflow, &form);
        if pay {
            let total = s.order().totals().total;
            s.when(provider(), capture("ALI-1", total)).unwrap();
        }
        let before = s.order().clone();
        let result = s.when(warehouse(), Action::IssuePickList);
        match expected {
            Some((approved, paid)) => {
                assert_eq!(result.unwrap_err(), Error::NotReadyToFulfil { approved, paid });
                assert_eq!(s.order(), &before);
            }
            None => {
                let d = result.unwrap();
                assert_eq!(names(&d), vec!["pick_list_issued"]);
                assert_eq!(d.events[0].actor, warehouse());
                assert_eq!(s.order().status(), OrderStatus::InFulfilment);
            }
        }
    }
}

#[test]
fn stage4_pick_list_lists_remaining_lines_with_name_variant_and_quantity() {
    let mut s = paid();
    s.advance(hours(1));
    let d = s.when(warehouse(), Action::IssuePickList).unwrap();
    let Change::PickListIssued { items } = &d.events[0].change else { panic!("{:?}", d.events) };
    let expected = vec![
        PickItem {
            line: L1,
            sku: s.order().lines()[0].sku.clone(),
            product_name: "Oolong tea 250g".into(),
            variant: variant(&[("grade", "premium")]),
            quantity: 2,
        },
        PickItem {
            line: L2,
            sku: s.order().lines()[1].sku.clone(),
            product_name: "Clay tea mug".into(),
            variant: variant(&[("colour", "red"), ("size", "L")]),
            quantity: 1,
        },
        PickItem {
            line: L3,
            sku: s.order().lines()[2].sku.clone(),
            product_name: "Tasting cup".into(),
            variant: Variant::new(),
            quantity: 3,
        },
    ];
    assert_eq!(items, &expected);
    assert_eq!(s.order().fulfilment().pick_list, expected);
    assert_eq!(s.order().fulfilment().picking_started, Some(s.now));

    // After packing the tea and one cup, the next pick list holds only what is left.
    let first = pack(s.order(), &[(L1, 2), (L3, 1)]);
    s.when(warehouse(), first).unwrap();
    let d = s.when(warehouse(), Action::IssuePickList).unwrap();
    let Change::PickListIssued { items } = &d.events[0].change else { panic!("{:?}", d.events) };
    let left: Vec<(LineId, u32)> = items.iter().map(|i| (i.line, i.quantity)).collect();
    assert_eq!(left, vec![(L2, 1), (L3, 2)]);

    // Everything packed: nothing to pick.
    let rest = pack(s.order(), &[(L2, 1), (L3, 2)]);
    s.when(warehouse(), rest).unwrap();
    let err = s.when(warehouse(), Action::IssuePickList).unwrap_err();
    assert!(matches!(err, Error::InvalidField { field: "lines", .. }), "{err:?}");
}

#[test]
fn stage4_pack_with_correct_scan_emits_package_packed() {
    let mut s = picking();
    let action = pack_everything(s.order());
    let d = s.when(warehouse(), action).unwrap();
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].actor, warehouse());
    assert_eq!(
        d.events[0].change,
        Change::PackagePacked {
            package: P1,
            items: vec![
                PackageItem { line: L1, quantity: 2 },
                PackageItem { line: L2, quantity: 1 },
                PackageItem { line: L3, quantity: 3 },
            ],
        }
    );
    let p = s.order().fulfilment().package(P1).unwrap();
    assert_eq!(p.state, PackageState::Packed);
    assert_eq!(p.packed_at, s.now);
    assert_eq!(s.order().status(), OrderStatus::InFulfilment);
}

#[test]
fn stage4_pack_mismatch_lists_every_problem_at_once() {
    let mut s = picking();
    let o = s.order().clone();
    let wrong_variant = variant(&[("colour", "blue"), ("size", "L")]);
    let scanned = vec![
        scan(&o, L1, 3), // too many
        ScannedItem { variant: wrong_variant.clone(), ..scan(&o, L2, 1) },
        ScannedItem { product_name: "Tasting glass".into(), ..scan(&o, L3, 3) },
        ScannedItem { sku: "PEN-01".into(), product_name: "Pen".into(), variant: Variant::new(), quantity: 1 },
    ];
    let items = o.lines().iter().map(|l| PackageItem { line: l.id, quantity: l.quantity }).collect();
    let len = s.history().len();
    let err = s.when(warehouse(), Action::Pack { items, scanned }).unwrap_err();
    let Error::PackMismatch { problems } = &err else { panic!("{err:?}") };
    let expected = [
        PackProblem::TooMany { line: L1, sku: o.lines()[0].sku.clone(), expected: 2, scanned: 3 },
        PackProblem::WrongVariant { sku: "MUG-CLAY".into(), scanned: wrong_variant },
        PackProblem::Missing { line: L2, sku: o.lines()[1].sku.clone(), expected: 1, scanned: 0 },
        PackProblem::WrongProduct {
            sku: "CUP-SET".into(),
            expected: "Tasting cup".into(),
            scanned: "Tasting glass".into(),
        },
        PackProblem::Missing { line: L3, sku: o.lines()[2].sku.clone(), expected: 3, scanned: 0 },
        PackProblem::Unexpected { sku: "PEN-01".into(), quantity: 1 },
    ];
    for problem in &expected {
        assert!(problems.contains(problem), "missing {problem:?} in {problems:?}");
    }
    assert_eq!(problems.len(), expected.len(), "{problems:?}");
    assert_eq!(s.order(), &o);
    assert_eq!(s.history().len(), len);
}

#[test]
fn stage4_pack_mismatch_each_kind_alone() {
    let s = picking();
    let o = s.order().clone();
    let items = |line: LineId, quantity: u32| vec![PackageItem { line, quantity }];
    let cases: Vec<(&str, Vec<PackageItem>, Vec<ScannedItem>, PackProblem)> = vec![
        (
            "wrong variant",
            items(L1, 2),
            vec![ScannedItem { variant: variant(&[("grade", "standard")]), ..scan(&o, L1, 2) }],
            PackProblem::WrongVariant { sku: "TEA-OOLONG".into(), scanned: variant(&[("grade", "standard")]) },
        ),
        (
            "wrong product name",
            items(L2, 1),
            vec![ScannedItem { product_name: "Clay tea pot".into(), ..scan(&o, L2, 1) }],
            PackProblem::WrongProduct {
                sku: "MUG-CLAY".into(),
                expected: "Clay tea mug".into(),
                scanned: "Clay tea pot".into(),
            },
        ),
        (
            "too few",
            items(L3, 3),
            vec![scan(&o, L3, 2)],
            PackProblem::Missing { line: L3, sku: o.lines()[2].sku.clone(), expected: 3, scanned: 2 },
        ),
        (
            "too many",
            items(L3, 2),
            vec![scan(&o, L3, 3)],
            PackProblem::TooMany { line: L3, sku: o.lines()[2].sku.clone(), expected: 2, scanned: 3 },
        ),
        (
            "unexpected SKU (an order SKU that is not in this package)",
            items(L1, 2),
            vec![scan(&o, L1, 2), scan(&o, L2, 1)],
            PackProblem::Unexpected { sku: "MUG-CLAY".into(), quantity: 1 },
        ),
        ("empty package", Vec::new(), Vec::new(), PackProblem::Empty),
        ("unknown line", items(LineId(9), 1), vec![scan(&o, L1, 1)], PackProblem::UnknownLine { line: LineId(9) }),
    ];
    for (name, items, scanned, problem) in cases {
        let mut s = picking();
        let before = s.order().clone();
        let err = s.when(warehouse(), Action::Pack { items, scanned }).unwrap_err();
        let Error::PackMismatch { problems } = &err else { panic!("{name}: {err:?}") };
        assert!(problems.contains(&problem), "{name}: {problem:?} not in {problems:?}");
        assert_eq!(s.order(), &before, "{name}");
    }
}

#[test]
fn stage4_split_packing_into_two_packages() {
    let mut s = picking();
    let first = pack(s.order(), &[(L1, 2), (L3, 1)]);
    let d = s.when(warehouse(), first).unwrap();
    assert!(matches!(&d.events[0].change, Change::PackagePacked { package: P1, .. }));
    let second = pack(s.order(), &[(L2, 1), (L3, 2)]);
    let d = s.when(warehouse(), second).unwrap();
    assert_eq!(
        d.events[0].change,
        Change::PackagePacked {
            package: P2,
            items: vec![PackageItem { line: L2, quantity: 1 }, PackageItem { line: L3, quantity: 2 }],
        }
    );
    let f = &s.order().fulfilment();
    assert_eq!(f.packages.len(), 2);
    assert_eq!((f.packed_quantity(L1), f.packed_quantity(L2), f.packed_quantity(L3)), (2, 1, 3));
    assert!(s.order().lines().iter().all(|l| s.order().remaining_to_pack(l) == 0));
}

#[test]
fn stage4_packing_more_than_remaining_is_refused() {
    let mut s = picking();
    let first = pack(s.order(), &[(L1, 2), (L3, 2)]);
    s.when(warehouse(), first).unwrap();
    let before = s.order().clone();
    let again = pack(s.order(), &[(L1, 1), (L3, 2)]);
    let err = s.when(warehouse(), again).unwrap_err();
    let Error::PackMismatch { problems } = &err else { panic!("{err:?}") };
    assert_eq!(
        problems,
        &vec![
            PackProblem::ExceedsRemaining { line: L1, remaining: 0, requested: 1 },
            PackProblem::ExceedsRemaining { line: L3, remaining: 1, requested: 2 },
        ]
    );
    assert_eq!(s.order(), &before);
}

// ---------------------------------------------------------------------------------------------
// 5. Arrange shipping
// ---------------------------------------------------------------------------------------------

#[test]
fn stage5_booking_records_carrier_service_and_reason_and_creates_the_shipment() {
    let mut s = picking();
    let action = pack_everything(s.order());
    s.when(warehouse(), action).unwrap();
    let d = s
        .when(
            warehouse(),
            Action::BookShipment {
                package: P1,
                carrier: " SF ".into(),
                service: "express".into(),
                reason: orderflow::ChoiceReason::stated("closest hub, 12.00 CNY"),
            },
        )
        .unwrap();
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].actor, warehouse());
    assert_eq!(
        d.events[0].change,
        Change::ShipmentBooked {
            package: P1,
            carrier: "SF".into(),
            service: "express".into(),
            reason: orderflow::ChoiceReason::stated("closest hub, 12.00 CNY"),
        }
    );
    let o = s.order();
    assert_eq!(
        d.effects,
        vec![Effect::CreateShipment {
            package: P1,
            carrier: "SF".into(),
            service: "express".into(),
            items: o.fulfilment().package(P1).unwrap().items.clone(),
            address: (*o.shipping_address()).clone(),
        }]
    );
    let p = o.fulfilment().package(P1).unwrap();
    assert_eq!(p.state, PackageState::Booked);
    assert_eq!(p.carrier.as_deref(), Some("SF"));
    assert_eq!(p.service.as_deref(), Some("express"));
    assert_eq!(p.selection_reason, Some(orderflow::ChoiceReason::stated("closest hub, 12.00 CNY")));
    assert_eq!(o.status(), OrderStatus::InFulfilment, "nothing has left yet");
}

#[test]
fn stage5_waybill_ships_the_package_commits_stock_and_tells_the_buyer() {
    let mut s = picking();
    let action = pack_everything(s.order());
    s.when(warehouse(), action).unwrap();
    s.when(warehouse(), book(P1, "SF")).unwrap();
    s.advance(hours(2));
    let now = s.now;
    let d = s.when(carrier("SF"), waybill(P1, " SF1 ")).unwrap();
    assert_eq!(names(&d), vec!["package_shipped", "deadline_set"]);
    assert_eq!(d.events[0].change, Change::PackageShipped { package: P1, waybill: "SF1".into() });
    assert_eq!(d.events[0].actor, carrier("SF"));
    let commit = d.effects.iter().find_map(|e| match e {
        Effect::CommitStock { package, items } => Some((*package, stock(items))),
        _ => None,
    });
    assert_eq!(commit, Some((P1, all_sample_stock())));
    assert_eq!(
        told_alice(&d),
        vec![&NotificationKind::Shipped { package: P1, carrier: "SF".into(), waybill: "SF1".into() }]
    );
    let p = s.order().fulfilment().package(P1).unwrap();
    assert_eq!((p.state, p.waybill.as_deref(), p.shipped_at), (PackageState::Shipped, Some("SF1"), Some(now)));
    assert_eq!(s.order().status(), OrderStatus::Shipped);

    // The same waybill again: already applied.
    let len = s.history().len();
    let d = s.when(carrier("SF"), waybill(P1, "SF1")).unwrap();
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(s.history().len(), len);
}

#[test]
fn stage6_a_corrected_carrier_is_recorded_on_the_parcel_and_subscribed_again() {
    let mut s = shipped();
    let d = s.when(Actor::System, Action::CorrectCarrier { waybill: " SF1 ".into(), carrier: " ZTO ".into() }).unwrap();
    assert_eq!(names(&d), vec!["carrier_corrected"]);
    assert_eq!(d.events[0].change, Change::CarrierCorrected { package: P1, carrier: "ZTO".into() });
    assert_eq!(
        d.effects,
        vec![Effect::SubscribeTracking { package: P1, carrier: "ZTO".into(), waybill: "SF1".into() }]
    );
    assert_eq!(s.order().fulfilment().package(P1).unwrap().carrier.as_deref(), Some("ZTO"));
    assert_eq!(s.order().carrier_waybills().collect::<Vec<_>>(), vec![("ZTO", "SF1")]);
    assert_eq!(s.order().status(), OrderStatus::Shipped);

    // The same correction again: already applied.
    let len = s.history().len();
    assert!(
        s.when(Actor::System, Action::CorrectCarrier { waybill: "SF1".into(), carrier: "ZTO".into() })
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.history().len(), len);
    // A waybill no parcel has, or no carrier: refused, nothing changes.
    let before = s.order().clone();
    let err =
        s.when(Actor::System, Action::CorrectCarrier { waybill: "SF9".into(), carrier: "YT".into() }).unwrap_err();
    assert!(matches!(err, Error::InvalidField { field: "waybill", .. }), "{err:?}");
    let err = s.when(Actor::System, Action::CorrectCarrier { waybill: "SF1".into(), carrier: " ".into() }).unwrap_err();
    assert!(matches!(err, Error::InvalidField { field: "carrier", .. }), "{err:?}");
    assert_eq!(s.order(), &before);
    assert_eq!(s.history().len(), len);
}

#[test]
fn stage6_a_carrier_cannot_be_corrected_before_the_parcel_ships() {
    let mut s = picking();
    let action = pack_everything(s.order());
    s.when(warehouse(), action).unwrap();
    s.when(warehouse(), book(P1, "SF")).unwrap();
    let before = s.order().clone();
    let err =
        s.when(Actor::System, Action::CorrectCarrier { waybill: "SF1".into(), carrier: "ZTO".into() }).unwrap_err();
    assert_eq!(
        err,
        Error::IllegalTransition { command: orderflow::CommandKind::CorrectCarrier, status: OrderStatus::InFulfilment }
    );
    assert_eq!(s.order(), &before);
}

#[test]
fn stage5_waybill_for_unknown_or_unbooked_packages_is_refused() {
    let mut s = picking();
    let before = s.order().clone();
    let err = s.when(carrier("SF"), waybill(P1, "SF1")).unwrap_err();
    assert_eq!(err, Error::UnknownPackage(P1), "never packed");
    assert_eq!(s.order(), &before);

    let action = pack_everything(s.order());
    s.when(warehouse(), action).unwrap();
    let before = s.order().clone();
    let err = s.when(carrier("SF"), waybill(P1, "SF1")).unwrap_err();
    assert_eq!(
        err,
        Error::PackageState {
            package: P1,
            state: PackageState::Packed,
            command: orderflow::CommandKind::RecordWaybill
        }
    );
    assert_eq!(s.order(), &before);
}

#[test]
fn stage5_partial_shipment_then_shipped_and_auto_confirm_after_the_last_package() {
    let mut s = picking();
    let first = pack(s.order(), &[(L1, 2), (L2, 1)]);
    s.when(warehouse(), first).unwrap();
    let second = pack(s.order(), &[(L3, 3)]);
    s.when(warehouse(), second).unwrap();
    s.when(warehouse(), book(P1, "SF")).unwrap();
    let d = s.when(carrier("SF"), waybill(P1, "SF1")).unwrap();
    assert!(deadline_events(&d).is_empty(), "no auto-confirm while goods are still in the warehouse");
    assert_eq!(s.order().status(), OrderStatus::PartiallyShipped);
    assert_eq!(s.order().deadlines().auto_confirm_at, None);
    let commit = d.effects.iter().find_map(|e| match e {
        Effect::CommitStock { items, .. } => Some(stock(items)),
        _ => None,
    });
    assert_eq!(commit, Some(vec![("MUG-CLAY".into(), 1), ("TEA-OOLONG".into(), 2)]), "only what left");

    s.advance(days(1));
    s.when(warehouse(), book(P2, "YTO")).unwrap();
    let now = s.now;
    let d = s.when(carrier("YTO"), waybill(P2, "YT2")).unwrap();
    assert_eq!(deadline_events(&d), vec![(DeadlineKind::AutoConfirm, Some(now + days(20)), Actor::System)]);
    assert_eq!(scheduled(&d), vec![(DeadlineKind::AutoConfirm, now + days(20))]);
    assert!(told_alice(&d).contains(&&NotificationKind::Shipped {
        package: P2,
        carrier: "YTO".into(),
        waybill: "YT2".into()
    }));
    assert_eq!(s.order().status(), OrderStatus::Shipped);
    assert_eq!(s.order().deadlines().auto_confirm_at, Some(now + days(20)));
}

// ---------------------------------------------------------------------------------------------
// 6. Logistics updates
// ---------------------------------------------------------------------------------------------

#[test]
fn stage6_updates_are_kept_in_time_order_and_the_buyer_hears_of_each_newest_one() {
    let mut s = shipped();
    let base = s.now;
    let d = track(&mut s, "SF1", TrackingKind::InTransit, base + hours(20), "E2").unwrap();
    assert_eq!(d.events[0].actor, carrier("SF"));
    assert!(matches!(&d.events[0].change, Change::TrackingRecorded { package: P1, .. }));
    assert_eq!(
        told_alice(&d),
        vec![&NotificationKind::TrackingUpdate {
            package: P1,
            tracking: TrackingKind::InTransit,
            description: "carrier says in transit".into(),
        }]
    );
    // An older update arrives late: recorded in its place, the buyer is not told old news.
    let d = track(&mut s, "SF1", TrackingKind::PickedUp, base + hours(4), "E1").unwrap();
    assert_eq!(names(&d), vec!["tracking_recorded"]);
    assert!(told_alice(&d).is_empty(), "{:?}", told_alice(&d));
    let d = track(&mut s, "SF1", TrackingKind::OutForDelivery, base + hours(30), "E3").unwrap();
    assert!(
        told_alice(&d)
            .iter()
            .any(|k| matches!(k, NotificationKind::TrackingUpdate { tracking: TrackingKind::OutForDelivery, .. }))
    );
    let p = s.order().fulfilment().package(P1).unwrap();
    let kinds: Vec<TrackingKind> = p.tracking.iter().map(|t| t.kind).collect();
    assert_eq!(kinds, vec![TrackingKind::PickedUp, TrackingKind::InTransit, TrackingKind::OutForDelivery]);
    assert_eq!(p.state, PackageState::OutForDelivery);
    assert_eq!(s.order().status(), OrderStatus::Shipped);
}

#[test]
fn stage6_duplicate_updates_are_ignored() {
    let mut s = shipped();
    let at = s.now + hours(3);
    track(&mut s, "SF1", TrackingKind::PickedUp, at, "E1").unwrap();
    let len = s.history().len();
    let d = track(&mut s, "SF1", TrackingKind::PickedUp, at, "E1").unwrap();
    assert!(d.is_empty(), "{d:?}");
    // Same carrier event id, even with other words: the same event.
    let d = track(&mut s, "SF1", TrackingKind::InTransit, at + hours(1), "E1").unwrap();
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(s.history().len(), len);
    assert_eq!(s.order().fulfilment().package(P1).unwrap().tracking.len(), 1);
}

#[test]
fn stage6_a_late_in_transit_does_not_undo_delivered() {
    let mut s = shipped();
    let base = s.now;
    s.advance(hours(40));
    track(&mut s, "SF1", TrackingKind::Delivered, base + hours(40), "E9").unwrap();
    assert_eq!(s.order().status(), OrderStatus::Delivered);
    let deadline = s.order().deadlines().auto_confirm_at;
    // Late news from before the delivery, and a confused scan after it.
    track(&mut s, "SF1", TrackingKind::InTransit, base + hours(20), "E5").unwrap();
    track(&mut s, "SF1", TrackingKind::InTransit, base + hours(50), "E6").unwrap();
    let p = s.order().fulfilment().package(P1).unwrap();
    assert_eq!(p.state, PackageState::Delivered);
    assert_eq!(p.delivered_at, Some(base + hours(40)));
    assert_eq!(p.tracking.len(), 3);
    assert_eq!(s.order().status(), OrderStatus::Delivered);
    assert_eq!(s.order().deadlines().auto_confirm_at, deadline, "the delivery deadline stays");
}

#[test]
fn stage6_order_is_delivered_only_when_every_package_is() {
    let mut s = split_shipped();
    let shipped_deadline = s.order().deadlines().auto_confirm_at;
    assert!(shipped_deadline.is_some());
    s.advance(hours(30));
    let now = s.now;
    let d = track(&mut s, "SF1", TrackingKind::Delivered, now, "SF-E1").unwrap();
    assert!(!told_alice(&d).contains(&&NotificationKind::Delivered));
    assert!(deadline_events(&d).is_empty());
    assert_eq!(s.order().fulfilment().package(P1).unwrap().state, PackageState::Delivered);
    assert_eq!(s.order().status(), OrderStatus::Shipped, "P2 is still on its way");
    assert_eq!(s.order().deadlines().auto_confirm_at, shipped_deadline);

    s.advance(hours(10));
    let now = s.now;
    let d = s
        .when(
            carrier("YTO"),
            Action::RecordTracking { waybill: "YT2".into(), update: update(TrackingKind::Delivered, now, "YT-E1") },
        )
        .unwrap();
    assert!(told_alice(&d).contains(&&NotificationKind::Delivered));
    assert_eq!(deadline_events(&d), vec![(DeadlineKind::AutoConfirm, Some(now + days(10)), Actor::System)]);
    assert_eq!(s.order().status(), OrderStatus::Delivered);
    assert_eq!(s.order().deadlines().auto_confirm_at, Some(now + days(10)), "delivery + 10 days");
}

#[test]
fn stage6_delivery_moves_auto_confirm_to_delivery_plus_ten_days() {
    let mut s = shipped();
    assert_eq!(s.order().deadlines().auto_confirm_at, Some(s.now + days(20)));
    s.advance(hours(36));
    let delivered = s.now;
    let d = track(&mut s, "SF1", TrackingKind::Delivered, delivered, "E1").unwrap();
    assert_eq!(told_alice(&d).len(), 2, "the tracking change and the delivery: {:?}", told_alice(&d));
    assert!(told_alice(&d).contains(&&NotificationKind::Delivered));
    assert_eq!(scheduled(&d), vec![(DeadlineKind::AutoConfirm, delivered + days(10))]);
    assert_eq!(s.order().deadlines().auto_confirm_at, Some(delivered + days(10)));
}

#[test]
fn stage6_tracking_for_an_unknown_waybill_is_refused() {
    let mut s = shipped();
    let before = s.order().clone();
    let at = s.now;
    let err = track(&mut s, "NOPE-1", TrackingKind::InTransit, at, "E1").unwrap_err();
    assert_eq!(err, Error::UnknownWaybill("NOPE-1".into()));
    assert_eq!(s.order(), &before);
}

// ---------------------------------------------------------------------------------------------
// 7. Confirm receipt
// ---------------------------------------------------------------------------------------------

#[test]
fn stage7_buyer_confirms_receipt_after_shipping() {
    let mut s = shipped();
    s.advance(days(2));
    let now = s.now;
    let d = s.when(alice(), Action::ConfirmReceipt).unwrap();
    assert_eq!(d.events[0].change, Change::ReceiptConfirmed { automatic: false });
    assert_eq!(d.events[0].actor, alice());
    assert_eq!(
        deadline_events(&d),
        vec![
            (DeadlineKind::AfterSalesWindow, Some(now + days(7)), Actor::System),
            (DeadlineKind::FollowUp, Some(now + days(3)), Actor::System),
        ]
    );
    assert_eq!(
        scheduled(&d),
        vec![(DeadlineKind::AfterSalesWindow, now + days(7)), (DeadlineKind::FollowUp, now + days(3))]
    );
    assert_eq!(told_alice(&d), vec![&NotificationKind::Completed]);
    let o = s.order();
    assert_eq!(o.status(), OrderStatus::Completed);
    assert_eq!(o.completion().as_ref().map(|c| (c.at, c.automatic)), Some((now, false)));
    assert_eq!(o.deadlines().auto_confirm_at, None);
    assert_eq!(o.deadlines().after_sales_until, Some(now + days(7)));
    assert_eq!(o.deadlines().follow_up_at, Some(now + days(3)));
}

#[test]
fn stage7_confirming_before_shipping_or_for_another_buyer_is_refused() {
    let mut s = picking();
    let before = s.order().clone();
    assert_eq!(s.when(alice(), Action::ConfirmReceipt).unwrap_err(), Error::NotShippedYet);
    assert_eq!(s.order(), &before);

    let mut s = split_shipped();
    assert_eq!(s.order().status(), OrderStatus::Shipped);
    let before = s.order().clone();
    assert_eq!(s.when(buyer("bob"), Action::ConfirmReceipt).unwrap_err(), Error::NotYourOrder);
    assert_eq!(s.order(), &before);

    let mut s = picking();
    let first = pack(s.order(), &[(L1, 2)]);
    s.when(warehouse(), first).unwrap();
    s.when(warehouse(), book(P1, "SF")).unwrap();
    s.when(carrier("SF"), waybill(P1, "SF1")).unwrap();
    assert_eq!(s.order().status(), OrderStatus::PartiallyShipped);
    assert_eq!(s.when(alice(), Action::ConfirmReceipt).unwrap_err(), Error::NotShippedYet);
}

#[test]
fn stage7_auto_confirm_fires_only_once_due_by_the_system() {
    let mut s = shipped();
    let due = s.order().deadlines().auto_confirm_at.unwrap();
    assert_eq!(due, s.now + days(20));
    s.now = due - minutes(1);
    let before = s.order().clone();
    let err = s.when(Actor::System, fire(DeadlineKind::AutoConfirm)).unwrap_err();
    assert_eq!(err, Error::NotDue { kind: DeadlineKind::AutoConfirm, due: Some(due) });
    assert_eq!(s.order(), &before);

    s.now = due;
    let d = s.when(Actor::System, fire(DeadlineKind::AutoConfirm)).unwrap();
    assert_eq!(d.events[0].change, Change::ReceiptConfirmed { automatic: true });
    assert_eq!(d.events[0].actor, Actor::System);
    assert_eq!(s.order().status(), OrderStatus::Completed);
    assert_eq!(s.order().completion().as_ref().map(|c| c.automatic), Some(true));
    assert_eq!(s.order().deadlines().auto_confirm_at, None);

    // Firing again finds nothing due, and the buyer can no longer confirm.
    let err = s.when(Actor::System, fire(DeadlineKind::AutoConfirm)).unwrap_err();
    assert_eq!(err, Error::NotDue { kind: DeadlineKind::AutoConfirm, due: None });
    let err = s.when(alice(), Action::ConfirmReceipt).unwrap_err();
    assert!(matches!(err, Error::IllegalTransition { command: orderflow::CommandKind::ConfirmReceipt, .. }), "{err:?}");
}

#[test]
fn stage7_manual_then_automatic_confirmation_confirms_once() {
    let mut s = completed();
    let len = s.history().len();
    s.advance(days(30));
    let err = s.when(Actor::System, fire(DeadlineKind::AutoConfirm)).unwrap_err();
    assert_eq!(err, Error::NotDue { kind: DeadlineKind::AutoConfirm, due: None });
    assert_eq!(s.history().len(), len);
    assert_eq!(s.order().completion().as_ref().map(|c| c.automatic), Some(false));
    let confirmations = s.history().iter().filter(|e| matches!(e.change, Change::ReceiptConfirmed { .. })).count();
    assert_eq!(confirmations, 1);
}

// ---------------------------------------------------------------------------------------------
// 8. After-sales basics, and cancellation
// ---------------------------------------------------------------------------------------------

#[test]
fn stage8_follow_up_falls_due_and_customer_service_is_told() {
    let mut s = completed();
    let due = s.order().deadlines().follow_up_at.unwrap();
    s.now = due - minutes(1);
    assert_eq!(
        s.when(Actor::System, fire(DeadlineKind::FollowUp)).unwrap_err(),
        Error::NotDue { kind: DeadlineKind::FollowUp, due: Some(due) }
    );
    s.now = due;
    let d = s.when(Actor::System, fire(DeadlineKind::FollowUp)).unwrap();
    assert_eq!(names(&d), vec!["follow_up_due"]);
    assert_eq!(d.events[0].actor, Actor::System);
    assert_eq!(told_service(&d), vec![&NotificationKind::FollowUpDue { customer: alice_id() }]);
    assert_eq!(notifications(&d)[0].order_number, s.order().number());
    assert_eq!(s.order().deadlines().follow_up_at, None);
    assert_eq!(s.order().follow_ups().len(), 1);
    assert_eq!(s.order().follow_ups()[0].score, None);
}

#[test]
fn stage8_follow_up_scores_are_one_to_five_and_land_in_the_timeline() {
    let mut s = completed();
    s.advance(days(3));
    s.when(Actor::System, fire(DeadlineKind::FollowUp)).unwrap();
    for bad in [0u8, 6, 255] {
        let before = s.order().clone();
        let err = s.when(customer_service(), Action::RecordFollowUp { score: bad, notes: String::new() }).unwrap_err();
        assert!(matches!(err, Error::InvalidField { field: "score", .. }), "score {bad}: {err:?}");
        assert_eq!(s.order(), &before);
    }
    let d = s.when(customer_service(), Action::RecordFollowUp { score: 5, notes: " loves the mug ".into() }).unwrap();
    assert_eq!(d.events[0].change, Change::FollowUpRecorded { score: 5, notes: "loves the mug".into() });
    assert_eq!(d.events[0].actor, customer_service());
    assert_eq!(s.order().follow_ups()[0].score, Some(5));
    let staff = staff_view(s.history());
    let last = staff.last().unwrap();
    assert_eq!(last.title, "Follow-up recorded");
    assert!(last.detail.contains("5/5") && last.detail.contains("loves the mug"), "{last:?}");
    let mine = buyer_timeline(s.history());
    assert!(mine.iter().any(|e| e.detail == "you rated us 5/5"), "{mine:?}");
    for score in 1..=4u8 {
        s.when(customer_service(), Action::RecordFollowUp { score, notes: String::new() }).unwrap();
    }
}

#[test]
fn stage8_after_sales_window_closes_when_due() {
    let mut s = completed();
    let until = s.order().deadlines().after_sales_until.unwrap();
    s.now = until - minutes(1);
    assert!(matches!(
        s.when(Actor::System, fire(DeadlineKind::AfterSalesWindow)).unwrap_err(),
        Error::NotDue { kind: DeadlineKind::AfterSalesWindow, due: Some(_) }
    ));
    s.now = until;
    let d = s.when(Actor::System, fire(DeadlineKind::AfterSalesWindow)).unwrap();
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].change, Change::AfterSalesWindowClosed);
    assert_eq!(d.events[0].actor, Actor::System);
    assert_eq!(s.order().deadlines().after_sales_until, None);
    assert_eq!(s.order().status(), OrderStatus::Completed);
}

#[test]
fn stage8_buyer_cancels_an_unpaid_order() {
    let mut s = Scenario::placed(sample_form("alice"));
    s.advance(minutes(10));
    let d = s.when(alice(), Action::Cancel { reason: " ordered twice ".into() }).unwrap();
    assert_eq!(names(&d), vec!["order_cancelled"]);
    assert_eq!(d.events[0].change, Change::OrderCancelled { reason: CancelReason::stated("ordered twice") });
    assert_eq!(d.events[0].actor, alice());
    assert_eq!(release_of(&d), Some(all_sample_stock()));
    assert!(d.effects.contains(&Effect::ClosePayment { provider: "alipay".into() }));
    assert!(!d.effects.iter().any(|e| matches!(e, Effect::Refund { .. })));
    assert_eq!(told_alice(&d), vec![&NotificationKind::Cancelled { reason: CancelReason::stated("ordered twice") }]);
    let o = s.order();
    assert_eq!(o.status(), OrderStatus::Cancelled);
    assert_eq!(o.deadlines().pay_by, None);
    assert_eq!(o.cancellation().as_ref().map(|c| c.by), Some(orderflow::ActorKind::Buyer));
}

#[test]
fn stage8_cancelling_a_paid_order_refunds_what_was_captured() {
    let mut s = paid();
    let d = s.when(alice(), Action::Cancel { reason: "found it cheaper".into() }).unwrap();
    assert_eq!(names(&d), vec!["order_cancelled", "refund_requested"]);
    let Change::RefundRequested { refund } = &d.events[1].change else { unreachable!() };
    assert_eq!(refund.amount, cny(27_000));
    assert_eq!(
        refund.lines,
        vec![
            LineRefund { line: L1, amount: cny(9_440) },
            LineRefund { line: L2, amount: cny(12_426) },
            LineRefund { line: L3, amount: cny(4_334) },
        ]
    );
    assert_eq!(refund.shipping, cny(800));
    assert_eq!((&refund.method, &refund.status), (&RefundMethod::Gateway, &RefundStatus::Pending));
    assert!(d.effects.contains(&Effect::Refund {
        refund: RefundId(1),
        amount: cny(27_000),
        provider: "alipay".into()
    }));
    assert!(!d.effects.iter().any(|e| matches!(e, Effect::ClosePayment { .. })), "nothing left to pay");
    assert_eq!(release_of(&d), Some(all_sample_stock()));
    assert!(
        told_alice(&d).contains(&&NotificationKind::Cancelled { reason: CancelReason::stated("found it cheaper") })
    );
    assert_eq!(s.order().payment().state(), PaymentState::Refunded);

    // Partially paid: close the rest and refund the part.
    let mut s = placed_with(partial_captures(), &sample_form("alice"));
    s.when(provider(), capture("ALI-1", cny(5_000))).unwrap();
    let d = s.when(customer_service(), Action::Cancel { reason: "buyer called".into() }).unwrap();
    assert!(d.effects.contains(&Effect::ClosePayment { provider: "alipay".into() }));
    assert!(d.effects.contains(&Effect::Refund { refund: RefundId(1), amount: cny(5_000), provider: "alipay".into() }));
    assert_eq!(d.events[0].actor, customer_service());
}

#[test]
fn stage8_cancelling_while_packing_is_fine_but_not_once_booked_or_shipped() {
    let mut s = picking();
    let action = pack_everything(s.order());
    s.when(warehouse(), action).unwrap();
    let d = s.when(alice(), Action::Cancel { reason: "too slow".into() }).unwrap();
    assert_eq!(release_of(&d), Some(all_sample_stock()));
    assert!(d.effects.contains(&Effect::Refund {
        refund: RefundId(1),
        amount: cny(27_000),
        provider: "alipay".into()
    }));
    assert_eq!(s.order().status(), OrderStatus::Cancelled);

    let mut s = picking();
    let action = pack_everything(s.order());
    s.when(warehouse(), action).unwrap();
    s.when(warehouse(), book(P1, "SF")).unwrap();
    let before = s.order().clone();
    assert_eq!(s.when(alice(), Action::Cancel { reason: "too slow".into() }).unwrap_err(), Error::AlreadyShipped);
    assert_eq!(s.order(), &before);

    let mut s = shipped();
    let before = s.order().clone();
    let err = s.when(customer_service(), Action::Cancel { reason: "too slow".into() }).unwrap_err();
    assert_eq!(err, Error::AlreadyShipped);
    assert_eq!(s.order(), &before);
}

#[test]
fn stage8_unpaid_orders_are_cancelled_automatically_after_30_minutes() {
    let mut s = Scenario::placed(sample_form("alice"));
    s.advance(minutes(29));
    let before = s.order().clone();
    let err = s.when(Actor::System, fire(DeadlineKind::PayBy)).unwrap_err();
    assert_eq!(err, Error::NotDue { kind: DeadlineKind::PayBy, due: Some(t0() + minutes(30)) });
    assert_eq!(s.order(), &before);

    s.advance(minutes(1));
    let d = s.when(Actor::System, fire(DeadlineKind::PayBy)).unwrap();
    assert_eq!(d.events[0].change, Change::OrderCancelled { reason: CancelReason::NotPaidInTime });
    assert_eq!(d.events[0].actor, Actor::System);
    assert_eq!(release_of(&d), Some(all_sample_stock()));
    assert!(d.effects.contains(&Effect::ClosePayment { provider: "alipay".into() }));
    assert_eq!(told_alice(&d), vec![&NotificationKind::Cancelled { reason: CancelReason::NotPaidInTime }]);
    assert_eq!(s.order().status(), OrderStatus::Cancelled);
    assert_eq!(s.order().cancellation().as_ref().map(|c| c.by), Some(orderflow::ActorKind::System));
    let err = s.when(Actor::System, fire(DeadlineKind::PayBy)).unwrap_err();
    assert_eq!(err, Error::NotDue { kind: DeadlineKind::PayBy, due: None });

    // Paid in time: the deadline is gone.
    let mut s = paid();
    s.advance(hours(1));
    let err = s.when(Actor::System, fire(DeadlineKind::PayBy)).unwrap_err();
    assert_eq!(err, Error::NotDue { kind: DeadlineKind::PayBy, due: None });
}

#[test]
fn stage8_cod_refused_at_the_door_and_returned_is_restocked() {
    let mut s = cod_shipped();
    let base = s.now;
    let d = track(&mut s, "SF1", TrackingKind::RefusedAtDoor, base + hours(30), "E1").unwrap();
    assert!(!d.effects.iter().any(|e| matches!(e, Effect::Restock { .. })), "not back yet");
    assert_eq!(
        deadline_events(&d),
        vec![(DeadlineKind::AutoConfirm, None, Actor::System)],
        "refused goods are not auto-confirmed"
    );
    assert_eq!(s.order().fulfilment().package(P1).unwrap().state, PackageState::RefusedAtDoor);

    let d = track(&mut s, "SF1", TrackingKind::ReturnedToSender, base + hours(80), "E2").unwrap();
    let restock = d.effects.iter().find_map(|e| match e {
        Effect::Restock { package, items } => Some((*package, stock(items))),
        _ => None,
    });
    assert_eq!(restock, Some((P1, all_sample_stock())));
    assert_eq!(deadline_events(&d), vec![]);
    assert_eq!(s.order().fulfilment().package(P1).unwrap().state, PackageState::ReturnedToSender);
    assert_eq!(s.order().status(), OrderStatus::ReturnedToSender);
    assert_eq!(s.order().deadlines().auto_confirm_at, None);
}

#[test]
fn stage8_a_parcel_refused_at_the_door_is_not_confirmed_automatically() {
    // The buyer refused the goods (cash on delivery never collected); the return scan is late.
    // The auto-confirm deadline set at shipping must not complete the order as if received.
    let mut s = cod_shipped();
    let base = s.now;
    let due = s.order().deadlines().auto_confirm_at.unwrap();
    track(&mut s, "SF1", TrackingKind::RefusedAtDoor, base + hours(30), "E1").unwrap();
    s.now = due;
    if let Ok(d) = s.when(Actor::System, fire(DeadlineKind::AutoConfirm)) {
        assert!(
            !d.events.iter().any(|e| matches!(e.change, Change::ReceiptConfirmed { .. })),
            "a refused parcel was confirmed as received: {:?}",
            names(&d)
        );
    }
    assert_ne!(s.order().status(), OrderStatus::Completed);
    assert_eq!(s.order().completion(), None);
}

#[test]
fn stage8_cod_cash_collected_must_equal_the_total() {
    let mut s = cod_shipped();
    let before = s.order().clone();
    let err = s.when(carrier("SF"), Action::RecordCodCollected { amount: cny(26_999) }).unwrap_err();
    assert_eq!(err, Error::PaymentMismatch { expected: cny(27_000), received: cny(26_999) });
    assert_eq!(s.order(), &before);

    let d = s.when(carrier("SF"), Action::RecordCodCollected { amount: cny(27_000) }).unwrap();
    assert_eq!(d.events[0].change, Change::CodCollected { amount: cny(27_000) });
    assert_eq!(d.events[0].actor, carrier("SF"));
    assert_eq!(told_alice(&d), vec![&NotificationKind::Paid { amount: cny(27_000) }]);
    assert_eq!(s.order().payment().cod_collected, Some(cny(27_000)));
    assert_eq!(s.order().payment().state(), PaymentState::CodCollected);
    // Reported twice: applied once.
    let d = s.when(carrier("SF"), Action::RecordCodCollected { amount: cny(27_000) }).unwrap();
    assert!(d.is_empty(), "{d:?}");
}

// ---------------------------------------------------------------------------------------------
// Timelines and serialization
// ---------------------------------------------------------------------------------------------

/// A full history with internal steps: an anomaly, a hold, pick list, packing, booking,
/// tracking, receipt and a follow-up.
fn eventful() -> Scenario {
    let mut s = Scenario::placed(sample_form("alice"));
    s.advance(minutes(1));
    s.when(
        provider(),
        Action::RecordPaymentAnomaly {
            txn_id: "ALI-BAD-7".into(),
            amount: Money::new(3_900, Currency::USD),
            reason: orderflow::AnomalyReason::stated("wrong currency"),
        },
    )
    .unwrap();
    s.when(reviewer(), Action::Hold { reasons: vec![HoldReason::SuspectedFraud], note: "odd pattern".into() }).unwrap();
    s.when(customer_service(), Action::ResolveHold { contact_note: "called buyer".into() }).unwrap();
    s.when(reviewer(), Action::Approve { note: "fine".into() }).unwrap();
    s.advance(minutes(2));
    let total = s.order().totals().total;
    s.when(provider(), capture("ALI-1", total)).unwrap();
    let mut s = ship_everything(s);
    let base = s.now;
    track(&mut s, "SF1", TrackingKind::PickedUp, base + hours(2), "E1").unwrap();
    s.advance(hours(30));
    let at = s.now;
    track(&mut s, "SF1", TrackingKind::Delivered, at, "E2").unwrap();
    s.advance(days(1));
    s.when(alice(), Action::ConfirmReceipt).unwrap();
    s.advance(days(3));
    s.when(Actor::System, fire(DeadlineKind::FollowUp)).unwrap();
    s.when(customer_service(), Action::RecordFollowUp { score: 4, notes: "happy".into() }).unwrap();
    s
}

#[test]
fn buyer_timeline_hides_internal_steps() {
    let s = eventful();
    let mine = buyer_timeline(s.history());
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|e| e.actor.is_none()), "no actors in the buyer's timeline: {mine:?}");
    let titles: Vec<&str> = mine.iter().map(|e| e.title.as_str()).collect();
    for hidden in [
        "Payment anomaly",
        "Put on hold",
        "Hold resolved",
        "Pick list issued",
        "Packed",
        "Carrier chosen",
        "Deadline set",
    ] {
        assert!(!titles.contains(&hidden), "{hidden:?} shown to the buyer: {titles:?}");
    }
    for shown in
        ["Order placed", "Payment received", "Being prepared", "Shipped", "Tracking update", "Receipt confirmed"]
    {
        assert!(titles.contains(&shown), "{shown:?} missing: {titles:?}");
    }
    let text: String = mine.iter().map(|e| format!("{e}\n")).collect();
    for secret in ["ALI-BAD-7", "wrong currency", "rita", "wang", "chen", "TEA-OOLONG", "odd pattern", "called buyer"] {
        assert!(!text.contains(secret), "{secret:?} leaks into the buyer timeline:\n{text}");
    }
    let placed = &mine[0];
    assert!(placed.detail.contains(&s.order().number().to_string()), "{placed:?}");
    let shipped = mine.iter().find(|e| e.title == "Shipped").unwrap();
    assert!(shipped.detail.contains("SF") && shipped.detail.contains("SF1"), "{shipped:?}");
}

#[test]
fn staff_view_shows_every_event_with_its_actor() {
    let s = eventful();
    let all = staff_view(s.history());
    assert_eq!(all.len(), s.history().len());
    for (entry, event) in all.iter().zip(s.history()) {
        assert_eq!(entry.seq, event.seq);
        assert_eq!(entry.actor.as_deref(), Some(event.actor.to_string().as_str()), "{entry:?}");
    }
    let text: String = all.iter().map(|e| format!("{e}\n")).collect();
    for detail in ["ALI-BAD-7", "staff rita", "staff wang", "staff chen", "TEA-OOLONG", "odd pattern", "called buyer"] {
        assert!(text.contains(detail), "{detail:?} missing from the staff view:\n{text}");
    }
}

#[test]
fn events_and_effects_round_trip_through_json() {
    let s = eventful();
    for event in s.history() {
        let json = serde_json::to_string(event).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, event, "{json}");
    }
    let json = serde_json::to_string(s.history()).unwrap();
    let back: Vec<Event> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, s.history());
    assert_eq!(&Order::from_events(&back).unwrap(), s.order(), "the order is the fold of its events");
    for effect in s.effects() {
        let json = serde_json::to_string(effect).unwrap();
        let back: Effect = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, effect, "{json}");
    }
    let order_json = serde_json::to_string(s.order()).unwrap();
    let order: Order = serde_json::from_str(&order_json).unwrap();
    assert_eq!(&order, s.order());
}

// ---------------------------------------------------------------------------------------------
// Defects found by an outside user (issue 18)
// ---------------------------------------------------------------------------------------------

#[test]
fn stage3_by_default_a_payment_must_settle_the_whole_amount() {
    let mut s = Scenario::placed(sample_form("alice"));
    let before = s.order().clone();
    let err = s.when(provider(), capture("ALI-1", cny(26_999))).unwrap_err();
    assert_eq!(err, Error::PaymentMismatch { expected: cny(27_000), received: cny(26_999) });
    assert_eq!(s.order(), &before, "refused: nothing changed");
}

/// The refund a decision requested, if any.
fn requested_refund(d: &Decision) -> Option<&orderflow::order::Refund> {
    d.events.iter().find_map(|e| match &e.change {
        Change::RefundRequested { refund } => Some(refund.as_ref()),
        _ => None,
    })
}

fn anomaly(txn: &str, amount: Money) -> Action {
    Action::RecordPaymentAnomaly {
        txn_id: txn.into(),
        amount,
        reason: orderflow::AnomalyReason::stated("does not settle the order"),
    }
}

#[test]
fn stage3_an_unapplied_payment_is_sent_back_and_the_exact_payment_then_pays_the_order() {
    let mut s = Scenario::placed(sample_form("alice"));
    let d = s.when(provider(), anomaly("ALI-SHORT", cny(26_999))).unwrap();
    let refund = requested_refund(&d).expect("sent back at once");
    assert_eq!((refund.amount, refund.unapplied_txn.as_deref()), (cny(26_999), Some("ALI-SHORT")));
    assert_eq!(d.events.last().map(|e| &e.actor), Some(&Actor::System));
    assert!(d.effects.iter().any(|e| matches!(e,
        Effect::Refund { amount, provider, .. } if *amount == cny(26_999) && provider == "alipay")));
    // The money was never received, so neither the ledger nor the gates move.
    let ledger = &s.order().payment();
    assert_eq!((ledger.received().unwrap(), ledger.refunded().unwrap()), (cny(0), cny(0)));
    assert_eq!(ledger.state(), PaymentState::Unpaid);
    assert_eq!(ledger.unapplied().count(), 0, "nothing held");
    let id = refund.id;
    s.when(provider(), Action::CompleteRefund { refund: id, reference: "R-1".into() }).unwrap();
    // The buyer pays the exact amount: the order is paid.
    s.when(provider(), capture("ALI-2", cny(27_000))).unwrap();
    assert_eq!(s.order().payment().state(), PaymentState::Paid);
    assert_eq!(s.order().payment().refundable().unwrap(), cny(27_000));
    assert_eq!(s.order().status(), OrderStatus::ReadyToShip);
}

#[test]
fn stage3_unapplied_payments_can_be_held_for_staff_who_send_them_back_once() {
    let held = Workflow::new(WorkflowConfig {
        unapplied_payments: orderflow::UnappliedPayments::HoldForStaff,
        ..Default::default()
    });
    let mut s = placed_with(held, &sample_form("alice"));
    let d = s.when(provider(), anomaly("ALI-USD", Money::new(3_900, Currency::USD))).unwrap();
    assert!(requested_refund(&d).is_none(), "held");
    assert!(d.effects.iter().any(|e| matches!(e, Effect::Notify(n) if n.audience == Audience::CustomerService)));
    assert_eq!(s.order().payment().unapplied().map(|a| a.txn_id.as_str()).collect::<Vec<_>>(), ["ALI-USD"]);
    // Only customer service may send it back.
    let refund = || Action::RefundUnappliedPayment { txn_id: "ALI-USD".into() };
    let before = s.order().clone();
    assert!(matches!(s.when(alice(), refund()), Err(Error::NotYourOrder | Error::Forbidden { .. })));
    assert_eq!(s.order(), &before);
    let d = s.when(customer_service(), refund()).unwrap();
    let sent = requested_refund(&d).expect("refund requested");
    assert_eq!(sent.amount, Money::new(3_900, Currency::USD));
    assert!(d.effects.iter().any(|e| matches!(e, Effect::Refund { provider, .. } if provider == "alipay")));
    assert_eq!(s.order().payment().unapplied().count(), 0);
    assert_eq!(s.order().payment().refunded().unwrap(), cny(0), "not counted against money received");
    // Twice is refused; an unknown transaction too.
    let before = s.order().clone();
    assert!(matches!(s.when(customer_service(), refund()), Err(Error::InvalidField { field: "txn_id", .. })));
    let unknown = Action::RefundUnappliedPayment { txn_id: "NOPE".into() };
    assert!(matches!(s.when(customer_service(), unknown), Err(Error::InvalidField { field: "txn_id", .. })));
    assert_eq!(s.order(), &before);
}

#[test]
fn stage7_a_cod_order_refused_at_the_door_owes_nothing() {
    let mut s = cod_shipped();
    assert_eq!(s.order().payment().state(), PaymentState::CodDue);
    let at = s.now;
    track(&mut s, "SF1", TrackingKind::RefusedAtDoor, at, "E1").unwrap();
    assert_eq!(s.order().payment().state(), PaymentState::CodDue, "the parcel is still out");
    track(&mut s, "SF1", TrackingKind::ReturnedToSender, at + hours(30), "E2").unwrap();
    assert_eq!(s.order().status(), OrderStatus::ReturnedToSender);
    assert_eq!(s.order().payment().state(), PaymentState::CodVoid);
    // Replaying the history gives the same.
    assert_eq!(Order::from_events(s.history()).unwrap().payment().state(), PaymentState::CodVoid);
}

#[test]
fn stage7_a_cod_order_cancelled_or_rejected_before_collection_owes_nothing() {
    let mut s = Scenario::placed(sample_cod_form("alice"));
    s.when(alice(), Action::Cancel { reason: "changed my mind".into() }).unwrap();
    assert_eq!(s.order().payment().state(), PaymentState::CodVoid);
    let mut s = placed_with(no_auto_approve(), &sample_cod_form("alice"));
    s.when(reviewer(), Action::Reject { reason: "address does not exist".into() }).unwrap();
    assert_eq!(s.order().payment().state(), PaymentState::CodVoid);
    assert!(!PaymentState::CodVoid.opens_fulfilment());
}

#[test]
fn timelines_show_tracking_in_the_order_it_happened_not_as_it_arrived() {
    let mut s = shipped();
    let base = s.now;
    // Delivered is pushed first, the earlier in-transit scan after it.
    s.advance(hours(10));
    track(&mut s, "SF1", TrackingKind::Delivered, base + hours(9), "E2").unwrap();
    s.advance(minutes(1));
    track(&mut s, "SF1", TrackingKind::InTransit, base + hours(2), "E1").unwrap();
    for timeline in [buyer_timeline(s.history()), staff_view(s.history())] {
        let times: Vec<_> = timeline.iter().map(|e| e.at).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "in time order: {timeline:#?}");
        let tracking: Vec<&str> =
            timeline.iter().filter(|e| e.title == "Tracking update").map(|e| e.detail.as_str()).collect();
        assert!(tracking.first().is_some_and(|d| d.contains("in transit")), "{tracking:?}");
        assert!(tracking.last().is_some_and(|d| d.contains("delivered")), "{tracking:?}");
    }
}

#[test]
fn timelines_keep_the_history_order_for_equal_times() {
    let s = shipped();
    // Placement's events share one time (placed, deadline notes): they stay in sequence.
    let timeline = staff_view(s.history());
    let seqs: Vec<u64> = timeline.iter().filter(|e| e.at == timeline[0].at).map(|e| e.seq).collect();
    let mut sorted = seqs.clone();
    sorted.sort();
    assert_eq!(seqs, sorted);
    assert!(seqs.len() > 1, "{timeline:#?}");
}

#[test]
fn stage1_a_chinese_address_needs_no_postal_code_and_may_give_a_landline() {
    let mut form = sample_form("alice");
    form.shipping_address.postal_code.clear();
    form.shipping_address.phone = "0571-88888888".into();
    let s = Scenario::placed(form);
    assert_eq!(s.order().shipping_address().postal_code.as_str(), "");
    assert_eq!(s.order().status(), OrderStatus::AwaitingPayment);
}

#[test]
fn stage6_lockers_customs_re_routing_and_returns_are_tracked() {
    let mut s = shipped();
    let base = s.now;
    track(&mut s, "SF1", TrackingKind::Customs, base + hours(3), "E1").unwrap();
    assert_eq!(s.order().fulfilment().package(P1).unwrap().state, PackageState::InTransit);
    track(&mut s, "SF1", TrackingKind::Rerouted, base + hours(5), "E2").unwrap();
    assert_eq!(s.order().fulfilment().package(P1).unwrap().state, PackageState::InTransit);
    let d = track(&mut s, "SF1", TrackingKind::AwaitingCollection, base + hours(9), "E3").unwrap();
    assert_eq!(s.order().fulfilment().package(P1).unwrap().state, PackageState::OutForDelivery);
    assert!(
        told_alice(&d)
            .iter()
            .any(|k| matches!(k, NotificationKind::TrackingUpdate { tracking: TrackingKind::AwaitingCollection, .. }))
    );
    let timeline = buyer_timeline(s.history());
    assert!(timeline.iter().any(|e| e.detail.contains("parcel locker or pickup station")), "{timeline:#?}");
    assert_eq!(s.order().status(), OrderStatus::Shipped, "not delivered until collected");

    // Not collected: the carrier sends it back.
    let d = track(&mut s, "SF1", TrackingKind::Returning, base + hours(80), "E4").unwrap();
    assert_eq!(s.order().fulfilment().package(P1).unwrap().state, PackageState::RefusedAtDoor);
    assert!(!d.effects.iter().any(|e| matches!(e, Effect::Restock { .. })), "not back yet");
    track(&mut s, "SF1", TrackingKind::ReturnedToSender, base + hours(120), "E5").unwrap();
    assert_eq!(s.order().status(), OrderStatus::ReturnedToSender);
}
