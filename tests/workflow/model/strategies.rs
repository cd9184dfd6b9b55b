//! Generating steps from the reference state: sensible runs with every kind of mistake mixed in.

use super::*;
// ---------------------------------------------------------------------------------------------
// Generating steps from the reference state
// ---------------------------------------------------------------------------------------------

pub(super) const TXNS: [&str; 4] = ["T1", "T2", "T3", "T4"];
pub(super) const WAYBILLS: [&str; 3] = ["SF100", "SF200", "SF300"];
pub(super) const EVENT_IDS: [&str; 6] = ["ev1", "ev2", "ev3", "ev4", "ev5", ""];

#[derive(Clone, Debug)]
pub(super) enum Step {
    /// The clock moves on.
    Advance { minutes: i64 },
    /// Someone issues a command.
    Do { who: Who, action: Action },
}

pub(super) fn by(default: Who) -> BoxedStrategy<Who> {
    prop_oneof![6 => Just(default), 1 => proptest::sample::select(EVERYONE.to_vec())].boxed()
}

pub(super) fn step(who: BoxedStrategy<Who>, action: impl Strategy<Value = Action> + 'static) -> BoxedStrategy<Step> {
    (who, action).prop_map(|(who, action)| Step::Do { who, action }).boxed()
}

pub(super) fn just(who: Who, action: Action) -> BoxedStrategy<Step> {
    Just(Step::Do { who, action }).boxed()
}

pub(super) fn text(valid: &'static str) -> BoxedStrategy<String> {
    prop_oneof![10 => Just(valid.to_owned()), 1 => Just(String::new()), 1 => Just("   ".to_owned())].boxed()
}

pub(super) fn advance() -> BoxedStrategy<Step> {
    prop_oneof![
        3 => 1..60i64,
        3 => HOUR..2 * DAY,
        2 => DAY..25 * DAY,
    ]
    .prop_map(|minutes| Step::Advance { minutes })
    .boxed()
}

pub(super) fn pick_one<T: Clone + std::fmt::Debug + 'static>(options: Vec<T>) -> BoxedStrategy<T> {
    proptest::sample::select(options).boxed()
}

pub(super) fn scan_of(line: &CatLine, quantity: u32) -> ScannedItem {
    ScannedItem { sku: line.sku.clone(), product_name: line.name.clone(), variant: line.variant.clone(), quantity }
}

pub(super) fn item(line: u32, quantity: u32) -> PackageItem {
    PackageItem { line: LineId(line), quantity }
}

/// Everything left to pack, with the right scans.
pub(super) fn pack_everything(s: &Model) -> (Vec<PackageItem>, Vec<ScannedItem>) {
    let mut items = Vec::new();
    let mut scans = Vec::new();
    for line in &cat().lines {
        let left = s.remaining(line.id);
        if left > 0 {
            items.push(item(line.id, left));
            scans.push(scan_of(line, left));
        }
    }
    (items, scans)
}

pub(super) fn fresh_txn(s: &Model) -> String {
    TXNS.iter()
        .find(|t| !s.knows_txn(t))
        .map_or_else(|| format!("T{}", 10 + s.captures.len() + s.anomalies.len()), |t| (*t).to_owned())
}

pub(super) fn fresh_waybill(s: &Model, package: u32) -> String {
    WAYBILLS
        .iter()
        .find(|w| s.package_by_waybill(w).is_none())
        .map_or_else(|| format!("SF9{package}"), |w| (*w).to_owned())
}

pub(super) fn update(kind: TrackingKind, at: i64, event_id: String) -> TrackingUpdate {
    TrackingUpdate {
        kind,
        at: instant(at),
        event_id: event_id.into(),
        location: "Hangzhou hub".into(),
        description: kind.describe().into(),
    }
}

/// The next step of a sensible run, so sequences reach shipping, delivery and completion.
pub(super) fn happy(s: &Model) -> BoxedStrategy<Step> {
    let status = s.status();
    if status.is_terminal() {
        if let Some(kind) = s.due().first() {
            return just(Who::System, Action::FireDeadline { kind: *kind });
        }
        if s.follow_ups.iter().any(Option::is_none) {
            return just(Who::CustomerService, Action::RecordFollowUp { score: 4, notes: "happy".into() });
        }
        return (DAY..4 * DAY).prop_map(|minutes| Step::Advance { minutes }).boxed();
    }
    match s.review {
        Review::Pending | Review::Resolved => return just(Who::Reviewer, Action::Approve { note: "ok".into() }),
        Review::OnHold => {
            return just(Who::CustomerService, Action::ResolveHold { contact_note: "called the buyer".into() });
        }
        Review::Approved | Review::Rejected => {}
    }
    if !s.gate_open() {
        let amount = cny(s.outstanding());
        let pay = just(Who::Provider, Action::CapturePayment { txn_id: fresh_txn(s), amount });
        // Sometimes the buyer does not pay in time.
        if s.due().contains(&DeadlineKind::PayBy) {
            return prop_oneof![3 => pay, 1 => just(Who::System, Action::FireDeadline { kind: DeadlineKind::PayBy })]
                .boxed();
        }
        return prop_oneof![6 => pay, 1 => (31..120i64).prop_map(|minutes| Step::Advance { minutes })].boxed();
    }
    if !s.picking_started {
        return just(Who::Warehouse, Action::IssuePickList);
    }
    if let Some(p) = s.packages.iter().find(|p| p.state == PackageState::Packed) {
        let action = Action::BookShipment {
            package: PackageId(p.id),
            carrier: "sf-express".into(),
            service: "standard".into(),
            reason: orderflow::ChoiceReason::stated("cheapest"),
        };
        return just(Who::Warehouse, action);
    }
    if let Some(p) = s.packages.iter().find(|p| p.state == PackageState::Booked) {
        return just(Who::Carrier, Action::RecordWaybill { package: PackageId(p.id), waybill: fresh_waybill(s, p.id) });
    }
    if cat().lines.iter().any(|l| s.remaining(l.id) > 0) {
        let (items, scanned) = pack_everything(s);
        let everything = just(Who::Warehouse, Action::Pack { items: items.clone(), scanned: scanned.clone() });
        let first = items[0];
        let line = cat().line(first.line.0).map(|l| scan_of(l, 1));
        let one = just(
            Who::Warehouse,
            Action::Pack { items: vec![item(first.line.0, 1)], scanned: line.into_iter().collect() },
        );
        return prop_oneof![3 => everything, 1 => one].boxed();
    }
    if s.cod && s.cod_collected.is_none() && s.any_shipped() {
        return just(Who::Carrier, Action::RecordCodCollected { amount: cny(cat().total) });
    }
    if let Some(p) = s.packages.iter().find(|p| left_the_shop(p.state) && !final_state(p.state)) {
        let waybill = p.waybill.clone().unwrap_or_default();
        let id = p.id;
        let now = s.now;
        let count = p.tracking.len();
        return (
            prop_oneof![6 => Just(TrackingKind::Delivered), 2 => Just(TrackingKind::InTransit),
                1 => Just(TrackingKind::RefusedAtDoor), 1 => Just(TrackingKind::ReturnedToSender)],
            0..120i64,
        )
            .prop_map(move |(kind, ago)| Step::Do {
                who: Who::Carrier,
                action: Action::RecordTracking {
                    waybill: waybill.clone(),
                    update: update(kind, now - ago, format!("p{id}-{count}")),
                },
            })
            .boxed();
    }
    if matches!(status, OrderStatus::Shipped | OrderStatus::Delivered) {
        if s.due().contains(&DeadlineKind::AutoConfirm) {
            return just(Who::System, Action::FireDeadline { kind: DeadlineKind::AutoConfirm });
        }
        return prop_oneof![
            3 => Just(Step::Do { who: Who::Owner, action: Action::ConfirmReceipt }),
            1 => Just(Step::Advance { minutes: 21 * DAY }),
        ]
        .boxed();
    }
    advance()
}

pub(super) fn review_step() -> BoxedStrategy<Step> {
    let reasons = pick_one(vec![
        vec![HoldReason::NeedsBuyerContact],
        vec![HoldReason::AddressProblem, HoldReason::SuspectedFraud],
        vec![HoldReason::InsufficientStock],
        vec![HoldReason::Custom { text: "odd note".into() }],
        vec![],
    ]);
    prop_oneof![
        3 => step(by(Who::Reviewer), text("looks fine").prop_map(|note| Action::Approve { note })),
        2 => step(by(Who::CustomerService), (reasons, text("check")).prop_map(|(reasons, note)| Action::Hold { reasons, note })),
        2 => step(by(Who::CustomerService), text("called the buyer").prop_map(|contact_note| Action::ResolveHold { contact_note })),
        1 => step(by(Who::Reviewer), text("fraud").prop_map(|reason| Action::Reject { reason })),
    ]
    .boxed()
}

pub(super) fn capture_step(s: &Model) -> BoxedStrategy<Step> {
    let outstanding = s.outstanding();
    let total = cat().total;
    let amount = pick_one(vec![
        cny(outstanding),
        cny(outstanding),
        cny(outstanding / 2),
        cny(outstanding + 1),
        cny(0),
        cny(total),
        Money::new(outstanding, Currency::USD),
    ]);
    let txn = pick_one(TXNS.iter().map(|t| (*t).to_owned()).collect());
    // The buyer opens a session with the chosen provider, switches, or comes back to one.
    let provider = pick_one(vec!["alipay".to_owned(), "wechatpay".to_owned(), " alipay ".to_owned(), String::new()]);
    prop_oneof![
        2 => step(by(Who::Owner), provider.prop_map(|provider| Action::OpenPaymentSession { provider })),
        4 => step(by(Who::Provider), (txn.clone(), amount.clone()).prop_map(|(txn_id, amount)| Action::CapturePayment { txn_id, amount })),
        1 => step(by(Who::System), (txn, amount).prop_map(|(txn_id, amount)| Action::RecordPaymentAnomaly {
            txn_id, amount, reason: orderflow::AnomalyReason::stated("currency mismatch"),
        })),
    ]
    .boxed()
}

pub(super) fn refund_step(s: &Model) -> BoxedStrategy<Step> {
    let parts: Vec<BoxedStrategy<Option<LineRefund>>> = cat()
        .lines
        .iter()
        .map(|l| {
            let open = l.payable - s.refunded_line(l.id);
            let line = LineId(l.id);
            let part = move |amount: Money| Some(LineRefund { line, amount });
            prop_oneof![
                4 => Just(None),
                3 => Just(part(cny(open))),
                2 => Just(part(cny(open / 2))),
                1 => Just(part(cny(open + 1))),
                1 => Just(part(cny(l.payable))),
                1 => Just(part(cny(1))),
                1 => Just(part(Money::new(100, Currency::USD))),
            ]
            .boxed()
        })
        .collect();
    let fee_open = cat().shipping_fee - s.refunded_shipping();
    let shipping = pick_one(vec![cny(0), cny(0), cny(fee_open), cny(fee_open + 1), cny(cat().shipping_fee / 2)]);
    let manual = if s.cod {
        prop_oneof![4 => Just(Some("BANK-1".to_owned())), 1 => Just(None), 1 => Just(Some("  ".to_owned()))].boxed()
    } else {
        prop_oneof![5 => Just(None), 1 => Just(Some("BANK-1".to_owned()))].boxed()
    };
    let unknown_line = prop_oneof![9 => Just(None), 1 => Just(Some(LineRefund { line: LineId(9), amount: cny(1) }))];
    step(
        by(Who::CustomerService),
        (parts, unknown_line, shipping, text("damaged"), manual).prop_map(
            |(parts, unknown, shipping, reason, manual_reference)| Action::RequestRefund {
                lines: parts.into_iter().chain([unknown]).flatten().collect(),
                shipping,
                reason,
                manual_reference,
            },
        ),
    )
}

pub(super) fn refund_outcome_step(s: &Model) -> BoxedStrategy<Step> {
    let mut ids: Vec<u32> = vec![1, 2, 3];
    for _ in 0..3 {
        ids.extend(s.refunds.iter().map(|r| r.id));
    }
    let id = pick_one(ids).prop_map(RefundId);
    prop_oneof![
        2 => step(by(Who::Provider), id.clone().prop_map(|refund| Action::CompleteRefund { refund, reference: "RF-1".into() })),
        1 => step(by(Who::System), id.prop_map(|refund| Action::FailRefund { refund, reason: orderflow::RefundFailure::stated("card closed") })),
    ]
    .boxed()
}

pub(super) fn pack_step(s: &Model) -> BoxedStrategy<Step> {
    let (items, scanned) = pack_everything(s);
    let mut options: Vec<(Vec<PackageItem>, Vec<ScannedItem>)> = Vec::new();
    if !items.is_empty() {
        options.push((items.clone(), scanned.clone()));
        options.push((items.clone(), scanned.clone()));
        // A wrong variant on the first scan.
        let mut wrong_variant = scanned.clone();
        wrong_variant[0].variant =
            Variant::from([("colour".to_owned(), "blue".to_owned()), ("grade".to_owned(), "basic".to_owned())]);
        options.push((items.clone(), wrong_variant));
        // One unit too many scanned, and one too few.
        let mut too_many = scanned.clone();
        too_many[0].quantity += 1;
        options.push((items.clone(), too_many));
        let mut too_few = scanned.clone();
        too_few[0].quantity -= 1;
        options.push((items.clone(), too_few));
        // The wrong product name on the label.
        let mut wrong_name = scanned.clone();
        wrong_name[0].product_name = "Green tea 250g".into();
        options.push((items, wrong_name));
    }
    // Split shipments: part of one line (possibly more than is left), scanned correctly.
    for line in &cat().lines {
        for quantity in [1, line.quantity] {
            options.push((vec![item(line.id, quantity)], vec![scan_of(line, quantity)]));
        }
    }
    // Nothing at all.
    options.push((Vec::new(), Vec::new()));
    step(by(Who::Warehouse), pick_one(options).prop_map(|(items, scanned)| Action::Pack { items, scanned }))
}

pub(super) fn package_ids(s: &Model) -> Vec<u32> {
    let mut ids: Vec<u32> = vec![1, 2, 3];
    ids.extend(s.packages.iter().map(|p| p.id));
    ids
}

pub(super) fn shipping_step(s: &Model) -> BoxedStrategy<Step> {
    let mut booked: Vec<u32> = s.packages.iter().filter(|p| p.state == PackageState::Booked).map(|p| p.id).collect();
    booked.extend(package_ids(s));
    let booked = pick_one(booked);
    let mut packed: Vec<u32> = s.packages.iter().filter(|p| p.state == PackageState::Packed).map(|p| p.id).collect();
    packed.extend(package_ids(s));
    let packed = pick_one(packed);
    let waybill = pick_one(WAYBILLS.iter().map(|w| (*w).to_owned()).chain([" SF100 ".to_owned()]).collect());
    let carrier = pick_one(vec!["sf-express".to_owned(), "sf-express".to_owned(), " ".to_owned()]);
    prop_oneof![
        2 => step(by(Who::Warehouse), Just(Action::IssuePickList)),
        3 => step(by(Who::Warehouse), (packed, carrier).prop_map(|(p, carrier)| Action::BookShipment {
            package: PackageId(p), carrier, service: "express".into(), reason: orderflow::ChoiceReason::stated("fastest"),
        })),
        3 => step(by(Who::Carrier), (booked, waybill).prop_map(|(p, waybill)| Action::RecordWaybill {
            package: PackageId(p), waybill,
        })),
    ]
    .boxed()
}

pub(super) fn tracking_step(s: &Model) -> BoxedStrategy<Step> {
    let mut waybills: Vec<String> = s.packages.iter().filter_map(|p| p.waybill.clone()).collect();
    waybills.extend(waybills.clone());
    waybills.extend(WAYBILLS.iter().map(|w| (*w).to_owned()));
    waybills.extend(s.cases.iter().filter_map(|c| c.return_waybill.clone()));
    let kind = prop_oneof![
        3 => Just(TrackingKind::Delivered),
        2 => Just(TrackingKind::ReturnedToSender),
        2 => Just(TrackingKind::RefusedAtDoor),
        2 => Just(TrackingKind::InTransit),
        1 => Just(TrackingKind::PickedUp),
        1 => Just(TrackingKind::OutForDelivery),
        1 => Just(TrackingKind::Exception),
        1 => Just(TrackingKind::AwaitingCollection),
        1 => Just(TrackingKind::Customs),
        1 => Just(TrackingKind::Rerouted),
        1 => Just(TrackingKind::Returning),
    ];
    let now = s.now;
    let event = pick_one(EVENT_IDS.iter().map(|e| (*e).to_owned()).collect());
    step(
        by(Who::Carrier),
        (pick_one(waybills), kind, -3 * DAY..DAY, event).prop_map(move |(waybill, kind, jitter, event_id)| {
            Action::RecordTracking { waybill, update: update(kind, now + jitter, event_id) }
        }),
    )
}

pub(super) fn ending_step(s: &Model) -> BoxedStrategy<Step> {
    let total = cat().total;
    let mut kinds: Vec<DeadlineKind> = DEADLINE_KINDS.to_vec();
    kinds.extend([DeadlineKind::CaseSla(CaseId(1)), DeadlineKind::CaseFollowUp(CaseId(1))]);
    kinds.extend(s.due());
    kinds.extend(s.due());
    prop_oneof![
        2 => step(by(Who::Carrier), pick_one(vec![cny(total), cny(total), cny(total - 1)]).prop_map(|amount| Action::RecordCodCollected { amount })),
        2 => step(by(Who::Owner), Just(Action::ConfirmReceipt)),
        2 => step(pick_one(vec![Who::Owner, Who::CustomerService, Who::Mallory, Who::Warehouse]),
            text("changed my mind").prop_map(|reason| Action::Cancel { reason })),
        3 => step(by(Who::System), pick_one(kinds).prop_map(|kind| Action::FireDeadline { kind })),
        1 => step(by(Who::CustomerService), (0..=6u8).prop_map(|score| Action::RecordFollowUp { score, notes: "visited".into() })),
    ]
    .boxed()
}

pub(super) const CASE_KINDS: [CaseKind; 5] = [
    CaseKind::RefundOnly,
    CaseKind::ReturnAndRefund,
    CaseKind::Exchange,
    CaseKind::WarrantyRepair,
    CaseKind::Complaint,
];
pub(super) const RETURN_WAYBILLS: [&str; 3] = ["RT100", "RT200", "SF100"];

pub(super) fn request(kind: CaseKind, lines: Vec<(u32, u32)>, reason_code: String) -> CaseRequest {
    CaseRequest {
        kind,
        lines: lines.into_iter().map(|(line, quantity)| CaseLine { line: LineId(line), quantity }).collect(),
        reason_code,
        text: "it arrived broken".into(),
        evidence: vec!["photo-1.jpg".into()],
    }
}

/// Lines and units around what the buyer received and what cases already hold.
pub(super) fn case_units(s: &Model) -> BoxedStrategy<Vec<(u32, u32)>> {
    let mut options: Vec<Vec<(u32, u32)>> = Vec::new();
    for line in &cat().lines {
        let claimable = s.claimable(line.id);
        let received = s.received_units(line.id);
        for units in [1, claimable, claimable, claimable + 1, received, line.quantity] {
            if units > 0 {
                options.push(vec![(line.id, units)]);
            }
        }
    }
    let all: Vec<(u32, u32)> =
        cat().lines.iter().map(|l| (l.id, s.claimable(l.id))).filter(|(_, units)| *units > 0).collect();
    if !all.is_empty() {
        options.push(all.clone());
        options.push(all);
    }
    options.push(Vec::new());
    options.push(vec![(9, 1)]);
    options.push(vec![(cat().lines[0].id, 0)]);
    // The same line twice: merged.
    options.push(vec![(cat().lines[0].id, 1), (cat().lines[0].id, 1)]);
    pick_one(options)
}

pub(super) fn case_ids(s: &Model) -> BoxedStrategy<CaseId> {
    let mut ids: Vec<u32> = vec![1, 2, 3];
    for _ in 0..3 {
        ids.extend(s.cases.iter().filter(|c| !case_terminal(&c.state)).map(|c| c.id));
    }
    pick_one(ids).prop_map(CaseId).boxed()
}

pub(super) fn replacement_scans(s: &Model, case: u32) -> Vec<Vec<ScannedItem>> {
    let lines = s.case(case).map(|c| c.lines.clone()).unwrap_or_default();
    let right: Vec<ScannedItem> =
        lines.iter().filter_map(|(id, units)| cat().line(*id).map(|l| scan_of(l, *units))).collect();
    let mut options = vec![right.clone(), right.clone(), Vec::new()];
    if let Some(first) = right.first() {
        let mut too_many = right.clone();
        too_many[0].quantity += 1;
        options.push(too_many);
        let mut wrong = right.clone();
        wrong[0].variant = Variant::from([("colour".to_owned(), "blue".to_owned())]);
        options.push(wrong);
        let mut other = right.clone();
        other[0] = ScannedItem { sku: "NOT-OURS".into(), ..first.clone() };
        options.push(other);
    }
    options
}

/// After-sales commands of every kind, by the usual actors and sometimes by anyone.
pub(super) fn case_step(s: &Model) -> BoxedStrategy<Step> {
    let ids = case_ids(s);
    let kind = pick_one(CASE_KINDS.to_vec());
    let who = pick_one(vec![Who::Owner, Who::Owner, Who::Owner, Who::CustomerService, Who::Mallory, Who::Warehouse]);
    let open = (who, kind, case_units(s), text("damaged")).prop_map(|(who, kind, lines, reason)| Step::Do {
        who,
        action: Action::OpenCase { request: request(kind, lines, reason) },
    });
    let mut scans: Vec<(u32, Vec<ScannedItem>)> = Vec::new();
    for c in &s.cases {
        for scanned in replacement_scans(s, c.id) {
            scans.push((c.id, scanned));
        }
    }
    scans.push((1, Vec::new()));
    let manual = pick_one(vec![None, None, Some("BANK-2".to_owned()), Some(" ".to_owned())]);
    let waybill = pick_one(RETURN_WAYBILLS.iter().map(|w| (*w).to_owned()).chain([" RT100 ".to_owned()]).collect());
    prop_oneof![
        4 => open,
        3 => step(by(Who::CustomerService), ids.clone().prop_map(|case| Action::ApproveCase { case })),
        1 => step(by(Who::CustomerService), (ids.clone(), text("not covered")).prop_map(|(case, reason)| Action::RejectCase { case, reason })),
        1 => step(by(Who::Owner), ids.clone().prop_map(|case| Action::WithdrawCase { case })),
        2 => step(by(Who::Owner), (ids.clone(), waybill.clone()).prop_map(|(case, waybill)| Action::RecordReturnParcel { case, waybill })),
        2 => step(by(Who::Warehouse), ids.clone().prop_map(|case| Action::ReceiveReturn { case })),
        2 => step(by(Who::Warehouse), (ids.clone(), any::<bool>(), text("scratched")).prop_map(|(case, passed, note)| Action::InspectReturn { case, passed, note })),
        2 => step(by(Who::CustomerService), (ids.clone(), manual).prop_map(|(case, manual_reference)| Action::RefundCase { case, manual_reference })),
        2 => step(by(Who::Warehouse), pick_one(scans).prop_map(|(case, scanned)| Action::PackReplacement { case: CaseId(case), scanned })),
        1 => step(by(Who::Warehouse), (ids.clone(), waybill).prop_map(|(case, waybill)| Action::RecordRepairReturned { case, waybill })),
        1 => step(by(Who::CustomerService), ids.clone().prop_map(|case| Action::AssignCase { case, assignee: StaffId::new("carol").expect("valid id") })),
        1 => step(by(Who::CustomerService), (ids.clone(), text("apologised")).prop_map(|(case, resolution)| Action::ResolveCase { case, resolution })),
        2 => step(by(Who::CustomerService), ids.clone().prop_map(|case| Action::CloseCase { case })),
        1 => step(by(Who::CustomerService), (ids, 0..=6u8).prop_map(|(case, score)| Action::RecordCaseFollowUp { case, score, notes: "fine".into() })),
    ]
    .boxed()
}

/// The next step of the first open case, so cases run to their end; or a new case.
pub(super) fn case_happy(s: &Model) -> BoxedStrategy<Step> {
    let due: Vec<DeadlineKind> = s.due().into_iter().filter(|k| slot(*k).is_none()).collect();
    if let Some(kind) = due.first() {
        return just(Who::System, Action::FireDeadline { kind: *kind });
    }
    if let Some(p) = s.packages.iter().find(|p| p.case.is_some() && p.state == PackageState::Packed) {
        let action = Action::BookShipment {
            package: PackageId(p.id),
            carrier: "sf-express".into(),
            service: "standard".into(),
            reason: orderflow::ChoiceReason::stated("replacement"),
        };
        return just(Who::Warehouse, action);
    }
    if let Some(p) = s.packages.iter().find(|p| p.case.is_some() && p.state == PackageState::Booked) {
        return just(Who::Carrier, Action::RecordWaybill { package: PackageId(p.id), waybill: fresh_waybill(s, p.id) });
    }
    let open = s.cases.iter().find(|c| !case_terminal(&c.state) || c.follow_up_score.is_none());
    let Some(c) = open else {
        return case_step(s);
    };
    let case = CaseId(c.id);
    let cs = Who::CustomerService;
    let action = match (&c.state, c.kind) {
        (CaseState::Requested, CaseKind::Complaint) => {
            Action::AssignCase { case, assignee: StaffId::new("carol").expect("valid id") }
        }
        (CaseState::Requested, _) => {
            return prop_oneof![
                6 => just(cs, Action::ApproveCase { case }),
                1 => just(cs, Action::RejectCase { case, reason: "outside policy".into() }),
                1 => just(Who::Owner, Action::WithdrawCase { case }),
                1 => Just(Step::Advance { minutes: 2 * DAY }),
            ]
            .boxed();
        }
        (CaseState::AwaitingReturn, _) if c.return_waybill.is_none() => {
            let waybill = RETURN_WAYBILLS.iter().find(|w| !s.waybill_in_use(w)).copied().unwrap_or("RT900");
            return just(Who::Owner, Action::RecordReturnParcel { case, waybill: waybill.into() });
        }
        (CaseState::AwaitingReturn, _) => {
            let waybill = c.return_waybill.clone().unwrap_or_default();
            let now = s.now;
            return prop_oneof![
                3 => just(Who::Warehouse, Action::ReceiveReturn { case }),
                1 => just(Who::Carrier, Action::RecordTracking {
                    waybill,
                    update: update(TrackingKind::InTransit, now, format!("rt{}", c.id)),
                }),
            ]
            .boxed();
        }
        (CaseState::Received, _) => {
            return prop_oneof![
                4 => just(Who::Warehouse, Action::InspectReturn { case, passed: true, note: String::new() }),
                1 => just(Who::Warehouse, Action::InspectReturn { case, passed: false, note: "used".into() }),
            ]
            .boxed();
        }
        (CaseState::Approved, _) | (CaseState::Inspected { passed: true, .. }, CaseKind::ReturnAndRefund) => {
            let manual_reference = s.cod.then(|| "BANK-7".to_owned());
            Action::RefundCase { case, manual_reference }
        }
        (CaseState::Inspected { passed: true, .. }, CaseKind::Exchange) => {
            let mut options = replacement_scans(s, c.id);
            options.truncate(3);
            return step(
                Just(Who::Warehouse).boxed(),
                pick_one(options).prop_map(move |scanned| Action::PackReplacement { case, scanned }),
            );
        }
        (CaseState::Inspected { passed: true, .. }, _) => {
            Action::RecordRepairReturned { case, waybill: "SF777".into() }
        }
        (CaseState::InProgress { .. }, _) => Action::ResolveCase { case, resolution: "apologised".into() },
        (CaseState::Closed | CaseState::Resolved { .. }, _) => {
            Action::RecordCaseFollowUp { case, score: 5, notes: "happy".into() }
        }
        (CaseState::Rejected { .. } | CaseState::Withdrawn, _) => return case_step(s),
        _ => Action::CloseCase { case },
    };
    just(if matches!(action, Action::RecordRepairReturned { .. }) { Who::Warehouse } else { cs }, action)
}

/// The reference state machine: the model, and the steps it makes likely.
pub(super) struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        let start = prop_oneof![
            2 => Just(Start::AutoApproved),
            1 => Just(Start::ManualReview),
            1 => Just(Start::HeldAtPlacement),
        ];
        (any::<bool>(), start).prop_map(|(cod, start)| Model::initial(cod, start)).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Step> {
        Union::new_weighted(vec![
            // Towards delivery a little faster, so after-sales cases get their share of steps.
            (if state.cases.is_empty() && !state.any_received() { 22 } else { 14 }, happy(state)),
            (5, advance()),
            (
                if matches!(
                    state.status(),
                    OrderStatus::AwaitingPayment | OrderStatus::UnderReview | OrderStatus::OnHold
                ) {
                    5
                } else {
                    1
                },
                review_step(),
            ),
            (if state.gate_open() && !state.cancelled { 1 } else { 5 }, capture_step(state)),
            (4, refund_step(state)),
            (
                if state.refunds.iter().any(|r| r.state == RefundState::Pending) { 5 } else { 1 },
                refund_outcome_step(state),
            ),
            (4, pack_step(state)),
            (4, shipping_step(state)),
            (5, tracking_step(state)),
            (4, ending_step(state)),
            (if state.cases.is_empty() && !state.any_received() { 1 } else { 12 }, case_step(state)),
            (if state.any_received() || !state.cases.is_empty() { 45 } else { 1 }, case_happy(state)),
        ])
        .boxed()
    }

    fn apply(mut state: Model, step: &Step) -> Model {
        match step {
            Step::Advance { minutes } => state.now += minutes,
            Step::Do { who, action } => {
                if state.verdict(*who, action) == Verdict::Accepted {
                    state.apply(action);
                }
            }
        }
        state
    }
}
