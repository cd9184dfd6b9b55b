//! The staff queries ([`OrderRepository::query`], [`OrderRepository::count_by_status`]) and
//! the event feed ([`OrderRepository::events_after`]) as checks every store passes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::TimeDelta;

use super::{Step, completed_with_three_deadlines, decide, minutes, ok, pay, place};
use crate::command::Action;
use crate::config::WorkflowConfig;
use crate::decide::{Workflow, after};
use crate::ids::OrderId;
use crate::order::{HoldReason, HoldReasonKind, Order, OrderStatus};
use crate::ports::{
    FeedCursor, FeedEvent, OrderQuery, OrderRepository, OrderSummary, QueryCursor, SortOrder, StatusCounts, WorkQueue,
};
use crate::testing::{buyer, customer_service, provider, reviewer, warehouse};

/// Creates `step`'s order.
async fn create<S: OrderRepository + WorkQueue>(check: &str, store: &S, step: Step) -> Order {
    ok(check, "create", store.create(step.commit(&[])).await);
    step.order
}

/// Decides and appends a command; returns the order after it.
async fn apply<S: OrderRepository + WorkQueue>(
    check: &str,
    store: &S,
    before: &Order,
    actor: crate::actor::Actor,
    action: Action,
    minute: i64,
) -> Order {
    let step = decide(&Workflow::default(), before, actor, action, minutes(minute));
    ok(check, "append", store.append(step.commit(&[])).await);
    step.order
}

/// Every page of `query` (following `next`, through the cursor's text form), checking each
/// page; the ids in the order shown.
async fn all_pages<S: OrderRepository + WorkQueue>(check: &str, store: &S, query: &OrderQuery) -> Vec<OrderSummary> {
    let mut query = query.clone();
    let mut all: Vec<OrderSummary> = Vec::new();
    for _ in 0..1_000 {
        let page = ok(check, "query", store.query(&query).await);
        assert!(page.items.len() <= query.limit, "{check}: a page holds at most {} orders", query.limit);
        all.extend(page.items.iter().cloned());
        let Some(next) = page.next else { return all };
        assert_eq!(page.items.len(), query.limit, "{check}: a page with a next cursor must be full");
        assert_eq!(page.items.last().map(QueryCursor::of), Some(next), "{check}: next must name the page's last order");
        let text = next.to_string();
        let parsed: QueryCursor =
            text.parse().unwrap_or_else(|e| panic!("{check}: cursor {text:?} does not parse: {e}"));
        assert_eq!(parsed, next, "{check}: a cursor's text form must read back as the cursor");
        query.after = Some(parsed);
    }
    panic!("{check}: the query never returned a last page")
}

/// The ids `query` finds, a page of two at a time (so lanes are merged across pages), after
/// checking a single large page finds the same.
async fn ids<S: OrderRepository + WorkQueue>(check: &str, store: &S, query: OrderQuery) -> Vec<OrderId> {
    let paged = all_pages(check, store, &query.clone().limit(2)).await;
    let whole = ok(check, "query", store.query(&query.clone().limit(1_000)).await);
    assert_eq!(whole.next, None, "{check}: everything fits one large page");
    assert_eq!(paged, whole.items, "{check}: pages of two must add up to the one large page for {query:?}");
    paged.iter().map(|s| s.id).collect()
}

/// Each named staff query finds exactly its orders, oldest or newest first, with their
/// summaries; conditions combine; counts per status follow every change of status.
///
/// Nine orders, placed a minute apart: awaiting payment (a), ready to pick (b), on hold for
/// high value (c), on hold for an address problem and a custom reason (d), held, resolved and
/// paid so awaiting review (e), in fulfilment (f), completed with an open complaint (g), with a
/// payment anomaly (h), cancelled (i).
pub async fn staff_queries<S: OrderRepository + WorkQueue>(store: &S) {
    let check = "staff_queries";
    let wf = Workflow::default();
    let hold = |reasons: Vec<HoldReason>| Action::Hold { reasons, note: String::new() };

    let a = create(check, store, place("qa", 301, minutes(1), false)).await;
    let b = create(check, store, place("qb", 302, minutes(2), false)).await;
    let b_paid = pay(&wf, &b, "T-QB", minutes(2));
    ok(check, "pay b", store.append(b_paid.commit(&[])).await);
    let b = b_paid.order;
    let c = create(check, store, place("qc", 303, minutes(3), false)).await;
    let c = apply(check, store, &c, reviewer(), hold(vec![HoldReason::HighValue]), 3).await;
    let d = create(check, store, place("qd", 304, minutes(4), false)).await;
    let reasons = vec![HoldReason::AddressProblem, HoldReason::Custom { text: "odd".into() }];
    let d = apply(check, store, &d, reviewer(), hold(reasons), 4).await;
    let e = create(check, store, place("qe", 305, minutes(5), false)).await;
    let e = apply(check, store, &e, reviewer(), hold(vec![HoldReason::NeedsBuyerContact]), 5).await;
    let resolve = Action::ResolveHold { contact_note: "called".into() };
    let e = apply(check, store, &e, customer_service(), resolve, 5).await;
    let e_paid = pay(&wf, &e, "T-QE", minutes(5));
    ok(check, "pay e", store.append(e_paid.commit(&[])).await);
    let e = e_paid.order;
    let f = create(check, store, place("qf", 306, minutes(6), false)).await;
    let f_paid = pay(&wf, &f, "T-QF", minutes(6));
    ok(check, "pay f", store.append(f_paid.commit(&[])).await);
    let f = apply(check, store, &f_paid.order, warehouse(), Action::IssuePickList, 6).await;
    let g = completed_with_three_deadlines(check, &wf, store, "qg", 307, minutes(7)).await;
    let h = create(check, store, place("qh", 308, minutes(8), false)).await;
    let anomaly = Action::RecordPaymentAnomaly {
        txn_id: "T-QH-ODD".into(),
        amount: h.totals.total,
        reason: crate::order::AnomalyReason::stated("currency mismatch"),
    };
    let h = apply(check, store, &h, provider(), anomaly, 8).await;
    let i = create(check, store, place("qi", 309, minutes(9), false)).await;
    let cancel = Action::Cancel { reason: "changed my mind".into() };
    let i = apply(check, store, &i, buyer("qi"), cancel, 9).await;

    let orders = [&a, &b, &c, &d, &e, &f, &g, &h, &i];
    let expected = [
        OrderStatus::AwaitingPayment,
        OrderStatus::ReadyToShip,
        OrderStatus::OnHold,
        OrderStatus::OnHold,
        OrderStatus::UnderReview,
        OrderStatus::InFulfilment,
        OrderStatus::Completed,
        OrderStatus::AwaitingPayment,
        OrderStatus::Cancelled,
    ];
    for (order, status) in orders.iter().zip(expected) {
        assert_eq!(order.status(), status, "{check}: test setup: order {} should be {status}", order.number);
    }
    let id = |o: &Order| o.id;

    let everything = all_pages(check, store, &OrderQuery::all().limit(4)).await;
    let summaries: Vec<OrderSummary> = orders.iter().map(|o| OrderSummary::of(o)).collect();
    assert_eq!(everything, summaries, "{check}: every order, oldest first, with its summary");
    let newest = ids(check, store, OrderQuery::all().newest_first()).await;
    assert_eq!(newest, orders.iter().rev().map(|o| o.id).collect::<Vec<_>>(), "{check}: every order, newest first");

    let unpaid_or_ready = OrderQuery::statuses([OrderStatus::ReadyToShip, OrderStatus::AwaitingPayment]);
    assert_eq!(ids(check, store, unpaid_or_ready.clone()).await, vec![a.id, b.id, h.id], "{check}: by two statuses");
    assert_eq!(
        ids(check, store, unpaid_or_ready.newest_first()).await,
        vec![h.id, b.id, a.id],
        "{check}: by two statuses, newest first"
    );
    assert_eq!(ids(check, store, OrderQuery::awaiting_review()).await, vec![e.id], "{check}: awaiting review");
    assert_eq!(ids(check, store, OrderQuery::on_hold(None)).await, vec![c.id, d.id], "{check}: on hold");
    for (reason, held) in [
        (HoldReasonKind::HighValue, vec![id(&c)]),
        (HoldReasonKind::AddressProblem, vec![id(&d)]),
        (HoldReasonKind::Custom, vec![id(&d)]),
        (HoldReasonKind::SuspectedFraud, vec![]),
        // e was held for this, but its hold is resolved.
        (HoldReasonKind::NeedsBuyerContact, vec![]),
    ] {
        assert_eq!(ids(check, store, OrderQuery::on_hold(Some(reason))).await, held, "{check}: on hold for {reason:?}");
    }
    assert_eq!(ids(check, store, OrderQuery::ready_to_pick()).await, vec![b.id], "{check}: ready to pick");

    let ship_within = WorkflowConfig::default().ship_within;
    let d_due = after(minutes(4), ship_within);
    assert_eq!(
        ids(check, store, OrderQuery::ship_by_due(d_due + TimeDelta::seconds(1))).await,
        vec![a.id, b.id, c.id, d.id],
        "{check}: ship-by due before just after d's"
    );
    assert_eq!(
        ids(check, store, OrderQuery::ship_by_due(d_due)).await,
        vec![a.id, b.id, c.id],
        "{check}: ship-by due strictly before d's"
    );
    assert_eq!(
        ids(check, store, OrderQuery::ship_by_due(after(minutes(100), ship_within)).newest_first()).await,
        vec![h.id, f.id, e.id, d.id, c.id, b.id, a.id],
        "{check}: every order still to ship (not the completed or cancelled one), newest first"
    );
    assert_eq!(ids(check, store, OrderQuery::payment_anomalies()).await, vec![h.id], "{check}: payment anomalies");
    assert_eq!(ids(check, store, OrderQuery::open_after_sales()).await, vec![g.id], "{check}: open after-sales cases");

    let anomalies_ready = OrderQuery { payment_anomalies: true, ..OrderQuery::ready_to_pick() };
    assert_eq!(ids(check, store, anomalies_ready).await, Vec::<OrderId>::new(), "{check}: conditions combine");
    let anomalies_unpaid =
        OrderQuery { payment_anomalies: true, ..OrderQuery::statuses([OrderStatus::AwaitingPayment]) };
    assert_eq!(ids(check, store, anomalies_unpaid).await, vec![h.id], "{check}: conditions combine");
    let held_not_on_hold =
        OrderQuery { hold_reason: Some(HoldReasonKind::HighValue), ..OrderQuery::statuses([OrderStatus::ReadyToShip]) };
    assert_eq!(
        ids(check, store, held_not_on_hold).await,
        Vec::<OrderId>::new(),
        "{check}: a hold reason means on hold"
    );
    let empty = ok(check, "query", store.query(&OrderQuery::all().limit(0)).await);
    assert!(empty.items.is_empty() && empty.next.is_none(), "{check}: a page of 0 is empty and last");

    let mut counts = StatusCounts::new();
    for order in orders {
        *counts.entry(order.status()).or_default() += 1;
    }
    assert_eq!(ok(check, "count", store.count_by_status().await), counts, "{check}: counts per status");
}

/// Paging through a query while orders are placed (before the cursor, after it, and at the
/// cursor's own placement time) shows every order that was there once, in order, never one
/// twice, both oldest and newest first.
pub async fn query_pages_are_stable_under_inserts<S: OrderRepository + WorkQueue>(store: &S) {
    let check = "query_pages_are_stable_under_inserts";
    let mut number = 400;
    let mut next_number = || {
        number += 1;
        number
    };
    for minute in [10, 20, 30, 40, 50, 60] {
        create(check, store, place("pg", next_number(), minutes(minute), false)).await;
    }
    for order in [SortOrder::OldestFirst, SortOrder::NewestFirst] {
        let before: BTreeSet<OrderId> =
            ok(check, "query", store.query(&OrderQuery::all().limit(1_000)).await).items.iter().map(|s| s.id).collect();
        let mut query = OrderQuery { order, limit: 2, ..OrderQuery::all() };
        let mut seen: Vec<OrderSummary> = Vec::new();
        for round in 0..1_000 {
            let page = ok(check, "query", store.query(&query).await);
            seen.extend(page.items.iter().cloned());
            let Some(next) = page.next else { break };
            if round < 2 {
                // Placed meanwhile: before everything, after everything, at the cursor's time.
                for at in [minutes(1 + round), minutes(100 + round), next.placed_at()] {
                    create(check, store, place("pg", next_number(), at, false)).await;
                }
            }
            query.after = Some(next);
        }
        let shown: Vec<OrderId> = seen.iter().map(|s| s.id).collect();
        let unique: BTreeSet<OrderId> = shown.iter().copied().collect();
        assert_eq!(unique.len(), shown.len(), "{check}: {order:?}: an order was shown twice");
        assert!(before.is_subset(&unique), "{check}: {order:?}: an order that was there was skipped");
        let keys: Vec<_> = seen.iter().map(|s| (s.placed_at, s.id)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        if order == SortOrder::NewestFirst {
            sorted.reverse();
        }
        assert_eq!(keys, sorted, "{check}: {order:?}: pages out of order");
    }
}

/// Reads the feed from `from` until `count` events came (a store may hand out events only once
/// the transactions before them ended: on a shared database server another client's
/// transaction delays it), in pages of `limit`.
async fn read_feed<S: OrderRepository + WorkQueue>(
    check: &str,
    store: &S,
    from: FeedCursor,
    count: usize,
    limit: usize,
) -> (Vec<FeedEvent>, FeedCursor) {
    let mut cursor = from;
    let mut read = Vec::new();
    let mut idle = 0;
    while read.len() < count {
        let page = ok(check, "events_after", store.events_after(cursor, limit).await);
        assert!(page.events.len() <= limit, "{check}: at most {limit} events a page");
        assert_eq!(
            page.next,
            page.events.last().map_or(cursor, |e| e.cursor),
            "{check}: next is the last event's cursor"
        );
        if page.events.is_empty() {
            idle += 1;
            assert!(idle < 1_000, "{check}: the feed stopped after {} of {count} events", read.len());
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        cursor = page.next;
        read.extend(page.events);
    }
    (read, cursor)
}

/// The event feed hands out every committed event once, in commit order (so each order's in
/// sequence), equal to the order's stored events; a saved cursor (through its text form)
/// resumes where it was; new commits follow from the last cursor, and past them nothing more.
pub async fn event_feed<S: OrderRepository + WorkQueue>(store: &S) {
    let check = "event_feed";
    let wf = Workflow::default();
    let first = ok(check, "events_after", store.events_after(FeedCursor::START, 10).await);
    assert!(first.events.is_empty(), "{check}: an empty store has no events");
    assert_eq!(first.next, FeedCursor::START, "{check}: no event, the cursor stays");

    let mut committed: Vec<(OrderId, u64)> = Vec::new();
    let mut record = |step: &Step| committed.extend(step.events.iter().map(|e| (step.order.id, e.seq)));
    let x = place("fx", 501, minutes(1), false);
    ok(check, "create x", store.create(x.commit(&[])).await);
    record(&x);
    let y = place("fy", 502, minutes(2), false);
    ok(check, "create y", store.create(y.commit(&[])).await);
    record(&y);
    let x_paid = pay(&wf, &x.order, "T-FX", minutes(3));
    ok(check, "pay x", store.append(x_paid.commit(&[])).await);
    record(&x_paid);
    let hold = Action::Hold { reasons: vec![HoldReason::SuspectedFraud], note: String::new() };
    let y_held = decide(&wf, &y.order, reviewer(), hold, minutes(4));
    ok(check, "hold y", store.append(y_held.commit(&[])).await);
    record(&y_held);

    let (read, end) = read_feed(check, store, FeedCursor::START, committed.len(), 3).await;
    let order_of: Vec<(OrderId, u64)> = read.iter().map(|e| (e.order_id, e.event.seq)).collect();
    assert_eq!(order_of, committed, "{check}: every event once, in commit order");
    let mut histories: BTreeMap<OrderId, Vec<crate::event::Event>> = BTreeMap::new();
    for event in &read {
        histories.entry(event.order_id).or_default().push(event.event.clone());
    }
    for (id, events) in &histories {
        assert_eq!(&ok(check, "events", store.events(*id).await), events, "{check}: the feed's events are the order's");
    }
    let cursors: Vec<FeedCursor> = read.iter().map(|e| e.cursor).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{check}: cursors grow");

    let saved = read[1].cursor.to_string();
    let resumed: FeedCursor = saved.parse().unwrap_or_else(|e| panic!("{check}: cursor {saved:?} does not parse: {e}"));
    let (rest, _) = read_feed(check, store, resumed, read.len() - 2, 100).await;
    assert_eq!(rest, read[2..], "{check}: a saved cursor resumes right after its event");

    let z = place("fz", 503, minutes(5), false);
    ok(check, "create z", store.create(z.commit(&[])).await);
    let (new, end) = read_feed(check, store, end, z.events.len(), 100).await;
    let new_ids: Vec<(OrderId, u64)> = new.iter().map(|e| (e.order_id, e.event.seq)).collect();
    let z_ids: Vec<(OrderId, u64)> = z.events.iter().map(|e| (z.order.id, e.seq)).collect();
    assert_eq!(new_ids, z_ids, "{check}: after the last cursor come exactly the new commit's events");
    let past = ok(check, "events_after", store.events_after(end, 100).await);
    assert!(past.events.is_empty() && past.next == end, "{check}: nothing after the end");
}
