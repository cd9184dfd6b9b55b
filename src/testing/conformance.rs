//! The store conformance suite: the [`OrderRepository`] and [`WorkQueue`] contracts as executable checks, shared by
//! every store implementation (the built-in [`crate::MemoryStore`], SQLite, PostgreSQL, or a
//! host's own).
//!
//! Every check takes an **empty** store, drives it with genuine orders (placed from
//! [`sample_form`] and moved on by real commands through [`Workflow::decide`]) and panics with
//! a message naming the check and the broken rule when the store does not keep the contract.
//!
//! ```
//! use orderflow::MemoryStore;
//! use orderflow::testing::conformance;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! conformance::run_all(MemoryStore::new).await;
//! // or one check at a time:
//! conformance::append_compare_and_set(&MemoryStore::new()).await;
//! # });
//! ```
//!
//! One check, [`run_due_fires_every_due_deadline`], runs an [`Engine`]
//! (with the test fakes) over the store, since what it checks is how the engine's timers and
//! the store's deadline index work together; it takes the store by value.
//!
//! The suite needs no async runtime of its own: concurrent calls are polled together in the
//! caller's task, so a store whose calls really wait (a database pool) is exercised
//! concurrently. Stores that are plain data behind a lock may additionally be raced from
//! threads by their own tests.

mod queries;

pub use queries::{event_feed, query_pages_are_stable_under_inserts, staff_queries};

mod operations;

pub use operations::{dead_letter_pages, outbox_backlog};

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use chrono::{DateTime, TimeDelta, Utc};

use super::{
    FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, customer_service, pack_remaining, provider,
    sample_cod_form, sample_form, t0, warehouse,
};
use crate::actor::Actor;
use crate::adapters::memory::MemoryInventory;
use crate::command::{Action, Command};
use crate::decide::{Ctx, Decision, NewOrder, Workflow, after, evolve};
use crate::effect::Effect;
use crate::engine::{Adapters, DueReport, Engine, EngineSettings};
use crate::event::Event;
use crate::ids::{CustomerId, OrderId, PackageId};
use crate::order::{CaseKind, CaseRequest, DeadlineKind, Order, OrderStatus, TrackingKind, TrackingUpdate};
use crate::order_number::OrderNumber;
use crate::ports::{
    Commit, DeadLetter, DueDeadline, OrderFilter, OrderPage, OrderRepository, OrderSummary, OutboxEntry, OutboxItem,
    StoreError, WorkQueue,
};

/// Runs every check, each on a fresh store from `make` (which must return an empty store).
///
/// # Panics
/// On the first contract violation, naming the check and the rule.
pub async fn run_all<S: OrderRepository + WorkQueue, F: Fn() -> S>(make: F) {
    create_and_load(&make()).await;
    duplicate_number_refused(&make()).await;
    append_compare_and_set(&make()).await;
    dedupe_keys_are_atomic(&make()).await;
    lookups(&make()).await;
    waybills_are_unique_per_carrier(&make()).await;
    list_filters_and_pages(&make()).await;
    due_deadlines(&make()).await;
    outbox_leases(&make()).await;
    dead_letters_and_requeue(&make()).await;
    dead_letter_pages(&make()).await;
    outbox_backlog(&make()).await;
    concurrent_appends(&make()).await;
    concurrent_creates(&make()).await;
    staff_queries(&make()).await;
    query_pages_are_stable_under_inserts(&make()).await;
    event_feed(&make()).await;
    run_due_fires_every_due_deadline(make()).await;
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// A created order loads back unchanged (snapshot, version, events), for online and
/// cash-on-delivery orders; an unknown id loads as `None`; creating the same order twice is
/// refused without changing it.
pub async fn create_and_load<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "create_and_load";
    let placed = place("alice", 1, t0(), false);
    let keys = vec!["place/req-1".to_owned()];
    ok(CHECK, "create", store.create(placed.commit(&keys)).await);
    assert_stored(CHECK, store, &placed.order, &placed.events).await;
    assert_eq!(
        placed.order.version,
        placed.events.len() as u64,
        "{CHECK}: test setup: version must equal the number of events"
    );
    assert_eq!(
        ok(CHECK, "find_by_number", store.find_by_number(&placed.order.number).await),
        Some(placed.order.id),
        "{CHECK}: find_by_number must find the created order"
    );
    assert_eq!(
        ok(CHECK, "find_by_key", store.find_by_key("place/req-1").await),
        Some(placed.order.id),
        "{CHECK}: the dedupe keys of a create must be recorded"
    );

    let cod = place("bob", 2, after(t0(), TimeDelta::minutes(1)), true);
    ok(CHECK, "create a cash-on-delivery order", store.create(cod.commit(&[])).await);
    assert_stored(CHECK, store, &cod.order, &cod.events).await;

    let unknown = OrderId::new_v7();
    assert_eq!(ok(CHECK, "load unknown", store.load(unknown).await), None, "{CHECK}: an unknown id must load as None");
    match store.events(unknown).await {
        Ok(events) => assert!(events.is_empty(), "{CHECK}: an unknown order has no events"),
        Err(StoreError::NotFound(_)) => {}
        Err(e) => panic!("{CHECK}: events of an unknown order: unexpected error {e:?}"),
    }

    let again = store.create(placed.commit(&[])).await;
    assert!(again.is_err(), "{CHECK}: creating an existing order again must be refused");
    assert_stored(CHECK, store, &placed.order, &placed.events).await;
}

/// A taken order number is refused with `DuplicateOrderNumber`, and nothing of the refused
/// commit is written: no snapshot, events, dedupe keys, outbox rows or deadlines.
pub async fn duplicate_number_refused<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "duplicate_number_refused";
    let first = place("alice", 7, t0(), false);
    ok(CHECK, "create the first order", store.create(first.commit(&[])).await);

    let second = place("bob", 7, after(t0(), TimeDelta::minutes(1)), false);
    let keys = vec!["place/second".to_owned()];
    match store.create(second.commit(&keys)).await {
        Err(StoreError::DuplicateOrderNumber(number)) => {
            assert_eq!(number, second.order.number, "{CHECK}: the error must name the taken number")
        }
        other => panic!("{CHECK}: a taken number must give DuplicateOrderNumber, got {other:?}"),
    }
    assert_absent(CHECK, store, &second).await;
    assert_eq!(
        ok(CHECK, "find_by_key", store.find_by_key("place/second").await),
        None,
        "{CHECK}: the dedupe keys of a refused create must not be recorded"
    );
    assert_eq!(
        ok(CHECK, "find_by_number", store.find_by_number(&first.order.number).await),
        Some(first.order.id),
        "{CHECK}: the number must still belong to the first order"
    );
    assert_stored(CHECK, store, &first.order, &first.events).await;
    assert_outbox_keys(CHECK, store, keys_of(&[&first])).await;
    let due = ok(CHECK, "due_deadlines", store.due_deadlines(far_future(), 100).await);
    assert_eq!(
        due.iter().map(|d| d.order_id).collect::<Vec<_>>(),
        vec![first.order.id],
        "{CHECK}: a refused create must not index a deadline"
    );
}

/// `append` is a compare-and-set on the version: the right version appends; a stale (or
/// future) version gives `Conflict { expected, actual }` and writes nothing (events, snapshot,
/// outbox, dedupe keys); an unknown order gives `NotFound`.
pub async fn append_compare_and_set<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "append_compare_and_set";
    let wf = Workflow::default();
    let placed = place("alice", 1, t0(), false);
    ok(CHECK, "create", store.create(placed.commit(&[])).await);
    let base = placed.order.clone();
    let mut history = placed.events.clone();

    let paid = pay(&wf, &base, "T-1", minutes(1));
    ok(CHECK, "append with the current version", store.append(paid.commit(&[])).await);
    history.extend(paid.events.iter().cloned());
    assert_stored(CHECK, store, &paid.order, &history).await;

    // Decided on the old version: the buyer cancels what they saw before the payment.
    let stale = decide(&wf, &base, buyer("alice"), Action::Cancel { reason: "changed my mind".into() }, minutes(2));
    let stale_keys = vec!["cmd/stale".to_owned()];
    match store.append(stale.commit(&stale_keys)).await {
        Err(StoreError::Conflict { expected, actual }) => {
            assert_eq!(expected, base.version, "{CHECK}: Conflict.expected must be the version the writer expected");
            assert_eq!(actual, paid.order.version, "{CHECK}: Conflict.actual must be the stored version");
        }
        other => panic!("{CHECK}: a stale version must give Conflict, got {other:?}"),
    }
    assert_stored(CHECK, store, &paid.order, &history).await;
    assert_eq!(
        ok(CHECK, "find_by_key", store.find_by_key("cmd/stale").await),
        None,
        "{CHECK}: a conflicting append must not record its dedupe keys"
    );

    // A version from the future is just as wrong.
    let mut ahead = decide(&wf, &paid.order, warehouse(), Action::IssuePickList, minutes(3));
    ahead.expected_version += 5;
    match store.append(ahead.commit(&[])).await {
        Err(StoreError::Conflict { expected, actual }) => {
            assert_eq!((expected, actual), (paid.order.version + 5, paid.order.version), "{CHECK}: Conflict fields")
        }
        other => panic!("{CHECK}: a version ahead of the store must give Conflict, got {other:?}"),
    }
    assert_stored(CHECK, store, &paid.order, &history).await;
    assert_outbox_keys(CHECK, store, keys_of(&[&placed, &paid])).await;

    // The history goes on from the stored version.
    let picking = decide(&wf, &paid.order, warehouse(), Action::IssuePickList, minutes(4));
    ok(CHECK, "append after a refused append", store.append(picking.commit(&[])).await);
    history.extend(picking.events.iter().cloned());
    assert_stored(CHECK, store, &picking.order, &history).await;

    // Appending to an order that was never created.
    let ghost = place("ghost", 99, t0(), false);
    let ghost_paid = pay(&wf, &ghost.order, "T-9", minutes(1));
    match store.append(ghost_paid.commit(&[])).await {
        Err(StoreError::NotFound(id)) => assert_eq!(id, ghost.order.id, "{CHECK}: NotFound must name the order"),
        other => panic!("{CHECK}: appending to an unknown order must give NotFound, got {other:?}"),
    }
    assert_absent(CHECK, store, &ghost).await;
}

/// Dedupe keys are unique across the store: a commit carrying a recorded key is refused with
/// `DuplicateKey(key)` as a whole (none of its keys, events or outbox rows are written), on
/// create and on append, whichever order recorded the key.
pub async fn dedupe_keys_are_atomic<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "dedupe_keys_are_atomic";
    let wf = Workflow::default();
    let a = place("alice", 1, t0(), false);
    let place_keys = vec!["place/k1".to_owned()];
    ok(CHECK, "create with a dedupe key", store.create(a.commit(&place_keys)).await);

    // The same idempotency key on another order's create.
    let b = place("bob", 2, minutes(1), false);
    match store.create(b.commit(&place_keys)).await {
        Err(StoreError::DuplicateKey(key)) => assert_eq!(key, "place/k1", "{CHECK}: DuplicateKey must name the key"),
        other => panic!("{CHECK}: a create with a recorded key must give DuplicateKey, got {other:?}"),
    }
    assert_absent(CHECK, store, &b).await;
    assert_eq!(
        ok(CHECK, "find_by_number", store.find_by_number(&b.order.number).await),
        None,
        "{CHECK}: a refused create must not take its number"
    );

    let paid = pay(&wf, &a.order, "T-1", minutes(2));
    let pay_keys = vec!["pay/T-1".to_owned()];
    ok(CHECK, "append with a dedupe key", store.append(paid.commit(&pay_keys)).await);
    assert_eq!(
        ok(CHECK, "find_by_key", store.find_by_key("pay/T-1").await),
        Some(a.order.id),
        "{CHECK}: the dedupe keys of an append must be recorded"
    );
    let mut history = a.events.clone();
    history.extend(paid.events.iter().cloned());

    // A fresh key and a recorded one: the whole commit is refused.
    let picking = decide(&wf, &paid.order, warehouse(), Action::IssuePickList, minutes(3));
    let mixed = vec!["cmd/x".to_owned(), "pay/T-1".to_owned()];
    match store.append(picking.commit(&mixed)).await {
        Err(StoreError::DuplicateKey(key)) => assert_eq!(key, "pay/T-1", "{CHECK}: DuplicateKey must name the key"),
        other => panic!("{CHECK}: an append with a recorded key must give DuplicateKey, got {other:?}"),
    }
    assert_stored(CHECK, store, &paid.order, &history).await;
    assert_eq!(
        ok(CHECK, "find_by_key", store.find_by_key("cmd/x").await),
        None,
        "{CHECK}: no key of a refused commit may be recorded, not even the new ones"
    );
    assert_outbox_keys(CHECK, store, keys_of(&[&a, &paid])).await;

    // The same commit with fresh keys goes through (so nothing was half-written).
    let fresh = vec!["cmd/x".to_owned()];
    ok(CHECK, "append with fresh keys", store.append(picking.commit(&fresh)).await);
    history.extend(picking.events.iter().cloned());
    assert_stored(CHECK, store, &picking.order, &history).await;

    // A key recorded by one order blocks it on every other order.
    ok(CHECK, "create the second order", store.create(b.commit(&[])).await);
    let b_paid = pay(&wf, &b.order, "T-2", minutes(4));
    match store.append(b_paid.commit(&pay_keys)).await {
        Err(StoreError::DuplicateKey(key)) => assert_eq!(key, "pay/T-1", "{CHECK}: DuplicateKey must name the key"),
        other => panic!("{CHECK}: a key recorded by another order must give DuplicateKey, got {other:?}"),
    }
    assert_stored(CHECK, store, &b.order, &b.events).await;
}

/// `find_by_number`, `find_by_waybill` (indexed by carrier and waybill from the packages'
/// waybills as they are recorded) and `find_by_key`.
pub async fn lookups<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "lookups";
    let wf = Workflow::default();
    let a = place("alice", 11, t0(), false);
    let b = place("bob", 12, minutes(1), false);
    let a_keys = vec!["place/a".to_owned()];
    ok(CHECK, "create a", store.create(a.commit(&a_keys)).await);
    ok(CHECK, "create b", store.create(b.commit(&[])).await);

    assert_eq!(
        ok(CHECK, "find_by_waybill", store.find_by_waybill("SF", "WB-A-1").await),
        None,
        "{CHECK}: no waybill is known before shipping"
    );
    let a_shipped = ship(CHECK, &wf, store, &a.order, "WB-A-1", minutes(10)).await;
    let b_shipped = ship(CHECK, &wf, store, &b.order, "WB-B-1", minutes(20)).await;
    assert_eq!(a_shipped.status(), OrderStatus::Shipped, "{CHECK}: test setup: order a must be shipped");

    for (order, waybill) in [(&a_shipped, "WB-A-1"), (&b_shipped, "WB-B-1")] {
        assert_eq!(
            ok(CHECK, "find_by_waybill", store.find_by_waybill("SF", waybill).await),
            Some(order.id),
            "{CHECK}: find_by_waybill(\"SF\", {waybill:?}) must find the order whose package carries it"
        );
        assert_eq!(
            ok(CHECK, "find_by_waybill", store.find_by_waybill("YT", waybill).await),
            None,
            "{CHECK}: find_by_waybill(\"YT\", {waybill:?}): the waybill is SF's, not YT's"
        );
        assert_eq!(
            ok(CHECK, "find_by_number", store.find_by_number(&order.number).await),
            Some(order.id),
            "{CHECK}: find_by_number({}) must find the order",
            order.number
        );
    }
    assert_eq!(
        ok(CHECK, "find_by_waybill", store.find_by_waybill("SF", "WB-NONE").await),
        None,
        "{CHECK}: unknown waybill"
    );
    assert_eq!(
        ok(CHECK, "find_by_number", store.find_by_number(&order_number(999)).await),
        None,
        "{CHECK}: unknown number"
    );
    assert_eq!(
        ok(CHECK, "find_by_key", store.find_by_key("place/a").await),
        Some(a.order.id),
        "{CHECK}: find_by_key must find the order that recorded the key"
    );
    assert_eq!(ok(CHECK, "find_by_key", store.find_by_key("place/none").await), None, "{CHECK}: unknown key");
    let loaded = ok(CHECK, "load", store.load(a.order.id).await);
    assert_eq!(loaded.as_ref(), Some(&a_shipped), "{CHECK}: the snapshot must follow every append");
}

/// Waybill numbers are unique per carrier: a commit recording a waybill that another order has
/// under the same carrier is refused whole with `WaybillTaken { carrier, waybill }` (no
/// snapshot, event, outbox row or dedupe key of it is written, and the waybill stays with the
/// first order); the same commit with another waybill then goes through. The same number under
/// another carrier is another parcel: both orders have it, each found under its own carrier.
pub async fn waybills_are_unique_per_carrier<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "waybills_are_unique_per_carrier";
    let wf = Workflow::default();
    let a = place("alice", 31, t0(), false);
    let b = place("bob", 32, minutes(1), false);
    let c = place("cyd", 33, minutes(2), false);
    for step in [&a, &b, &c] {
        ok(CHECK, "create", store.create(step.commit(&[])).await);
    }
    let a_shipped = ship(CHECK, &wf, store, &a.order, "WB-1", minutes(10)).await;

    // b is booked with SF, and SF's answer repeats a's waybill.
    let b_booked = ship_with(CHECK, &wf, store, &b.order, "SF", None, minutes(20)).await;
    let b_history = ok(CHECK, "events", store.events(b.order.id).await);
    let package = PackageId(1);
    let taken =
        decide(&wf, &b_booked, Actor::System, Action::RecordWaybill { package, waybill: "WB-1".into() }, minutes(21));
    let taken_keys = vec!["cmd/taken".to_owned()];
    match store.append(taken.commit(&taken_keys)).await {
        Err(StoreError::WaybillTaken { carrier, waybill }) => {
            assert_eq!((carrier.as_str(), waybill.as_str()), ("SF", "WB-1"), "{CHECK}: WaybillTaken must name the pair")
        }
        other => panic!("{CHECK}: another order's waybill of the same carrier must give WaybillTaken, got {other:?}"),
    }
    assert_stored(CHECK, store, &b_booked, &b_history).await;
    assert_eq!(
        ok(CHECK, "find_by_waybill", store.find_by_waybill("SF", "WB-1").await),
        Some(a.order.id),
        "{CHECK}: the waybill must stay with the order that recorded it first"
    );
    assert_eq!(
        ok(CHECK, "find_by_key", store.find_by_key("cmd/taken").await),
        None,
        "{CHECK}: a refused commit must not record its dedupe keys"
    );
    assert_stored(CHECK, store, &a_shipped, &ok(CHECK, "events", store.events(a.order.id).await)).await;
    let claimed = claim(CHECK, store, far_future(), TimeDelta::days(1), 10_000).await;
    let refused = keys_of(&[&taken]);
    assert!(
        claimed.iter().all(|item| !refused.contains(&item.key)),
        "{CHECK}: the outbox must not hold the refused commit's entries {refused:?}"
    );

    // The same commit with b's real waybill goes through (nothing was half-written).
    let b_shipped =
        decide(&wf, &b_booked, Actor::System, Action::RecordWaybill { package, waybill: "WB-2".into() }, minutes(22));
    ok(CHECK, "append another waybill", store.append(b_shipped.commit(&taken_keys)).await);
    let mut b_history = b_history;
    b_history.extend(b_shipped.events.iter().cloned());
    assert_stored(CHECK, store, &b_shipped.order, &b_history).await;
    let claimed = claim(CHECK, store, far_future(), TimeDelta::days(1), 10_000).await;
    let keys: BTreeSet<String> = claimed.iter().map(|item| item.key.clone()).collect();
    assert_eq!(keys, keys_of(&[&b_shipped]), "{CHECK}: the outbox must hold the accepted commit's entries");

    // The same number with another carrier is c's own parcel.
    let c_shipped = ship_with(CHECK, &wf, store, &c.order, "YT", Some("WB-1"), minutes(30)).await;
    let expected = [
        ("SF", "WB-1", Some(a.order.id)),
        ("SF", "WB-2", Some(b.order.id)),
        ("YT", "WB-1", Some(c.order.id)),
        ("YT", "WB-2", None),
    ];
    for (carrier, waybill, owner) in expected {
        assert_eq!(
            ok(CHECK, "find_by_waybill", store.find_by_waybill(carrier, waybill).await),
            owner,
            "{CHECK}: find_by_waybill({carrier:?}, {waybill:?})"
        );
    }
    assert_eq!(ok(CHECK, "load", store.load(c.order.id).await).as_ref(), Some(&c_shipped), "{CHECK}: c is stored");

    // Later commits of an order keep its waybills (they are its own, not taken).
    let a_tracked = decide(
        &wf,
        &a_shipped,
        Actor::System,
        Action::RecordTracking { waybill: "WB-1".into(), update: tracking(TrackingKind::InTransit, minutes(40)) },
        minutes(40),
    );
    ok(CHECK, "append to an order with a waybill", store.append(a_tracked.commit(&[])).await);
    assert_eq!(
        ok(CHECK, "find_by_waybill", store.find_by_waybill("SF", "WB-1").await),
        Some(a.order.id),
        "{CHECK}: a's waybill stays a's"
    );

    // A corrected carrier moves the parcel's pair: found under the new carrier, not the old.
    let c_corrected = decide(
        &wf,
        &c_shipped,
        Actor::System,
        Action::CorrectCarrier { waybill: "WB-1".into(), carrier: "ZTO".into() },
        minutes(50),
    );
    ok(CHECK, "append a carrier correction", store.append(c_corrected.commit(&[])).await);
    for (carrier, owner) in [("ZTO", Some(c.order.id)), ("YT", None), ("SF", Some(a.order.id))] {
        assert_eq!(
            ok(CHECK, "find_by_waybill", store.find_by_waybill(carrier, "WB-1").await),
            owner,
            "{CHECK}: after c's carrier correction, find_by_waybill({carrier:?}, \"WB-1\")"
        );
    }
}

/// `list` in order-id order with status, customer and placed-between filters, paged with the
/// `after` cursor: every page holds at most `limit` items, a page with a `next` cursor is
/// full, and following the cursors yields exactly the matching orders, without duplicates or
/// gaps, whatever the page size.
pub async fn list_filters_and_pages<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "list_filters_and_pages";
    let wf = Workflow::default();
    let customers = ["ann", "bob", "cyd"];
    let mut orders: Vec<Order> = Vec::new();
    for i in 0..25u32 {
        let customer = customers.get(i as usize % customers.len()).copied().unwrap_or("ann");
        let at = minutes(i64::from(i));
        let placed = place(customer, 100 + u64::from(i), at, false);
        ok(CHECK, "create", store.create(placed.commit(&[])).await);
        let mut order = placed.order;
        if i % 4 == 0 {
            let paid = pay(&wf, &order, &format!("T-{i}"), at);
            ok(CHECK, "append payment", store.append(paid.commit(&[])).await);
            order = paid.order;
        } else if i % 5 == 1 {
            let cancelled = decide(&wf, &order, buyer(customer), Action::Cancel { reason: "not needed".into() }, at);
            ok(CHECK, "append cancellation", store.append(cancelled.commit(&[])).await);
            order = cancelled.order;
        }
        orders.push(order);
    }
    let mut all: Vec<OrderSummary> = orders.iter().map(OrderSummary::of).collect();
    all.sort_by_key(|s| s.id);
    for status in [OrderStatus::AwaitingPayment, OrderStatus::ReadyToShip, OrderStatus::Cancelled] {
        assert!(all.iter().any(|s| s.status == status), "{CHECK}: test setup: no order is {status}");
    }

    let bob = customer("bob");
    let filters = [
        OrderFilter::default(),
        OrderFilter { status: Some(OrderStatus::ReadyToShip), ..Default::default() },
        OrderFilter { status: Some(OrderStatus::AwaitingPayment), ..Default::default() },
        OrderFilter { status: Some(OrderStatus::Cancelled), ..Default::default() },
        OrderFilter { status: Some(OrderStatus::Delivered), ..Default::default() },
        OrderFilter { customer: Some(bob.clone()), ..Default::default() },
        OrderFilter { customer: Some(customer("nobody")), ..Default::default() },
        OrderFilter { customer: Some(bob.clone()), status: Some(OrderStatus::AwaitingPayment), ..Default::default() },
        OrderFilter { placed_from: Some(minutes(5)), placed_before: Some(minutes(17)), ..Default::default() },
        OrderFilter {
            status: Some(OrderStatus::ReadyToShip),
            customer: Some(customer("ann")),
            placed_from: Some(minutes(3)),
            placed_before: Some(minutes(24)),
        },
    ];
    for filter in &filters {
        let expected: Vec<OrderSummary> = all.iter().filter(|s| filter.matches(s)).cloned().collect();
        for limit in [1, 4, 7, 25, 100] {
            let got = collect_pages(CHECK, store, filter, None, limit).await;
            assert_eq!(
                got, expected,
                "{CHECK}: paging with limit {limit} and filter {filter:?} must yield exactly the matching \
                 orders in id order"
            );
        }
    }

    // A cursor in the middle: strictly after it.
    let middle = all.get(11).map(|s| s.id);
    let expected: Vec<OrderSummary> = all.iter().filter(|s| Some(s.id) > middle).cloned().collect();
    let got = collect_pages(CHECK, store, &OrderFilter::default(), middle, 5).await;
    assert_eq!(got, expected, "{CHECK}: listing after a cursor must start strictly after it");
}

/// `due_deadlines` returns exactly the orders whose earliest deadline is at or before `now`,
/// earliest first, at most `limit`, and follows commits that set, move or clear a deadline.
pub async fn due_deadlines<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "due_deadlines";
    let wf = Workflow::default();
    let mut orders: BTreeMap<OrderId, Order> = BTreeMap::new();
    let mut ids = Vec::new();
    for i in 0..5u32 {
        let placed = place("alice", 1 + u64::from(i), minutes(10 * i64::from(i)), false);
        ok(CHECK, "create", store.create(placed.commit(&[])).await);
        ids.push(placed.order.id);
        orders.insert(placed.order.id, placed.order);
    }
    let cod = place("bob", 50, t0(), true);
    ok(CHECK, "create a cash-on-delivery order", store.create(cod.commit(&[])).await);
    orders.insert(cod.order.id, cod.order);
    let id = |i: usize| ids.get(i).copied().unwrap_or_else(|| panic!("{CHECK}: test setup: no order {i}"));

    // Online orders must pay within 30 minutes of placement.
    let now = minutes(55);
    let due = expect_due(CHECK, store, &orders, now, 100).await;
    assert_eq!(
        due.iter().map(|d| d.order_id).collect::<Vec<_>>(),
        vec![id(0), id(1), id(2)],
        "{CHECK}: exactly the unpaid orders past their pay-by time are due, earliest first"
    );
    assert!(due.iter().all(|d| d.kind == DeadlineKind::PayBy), "{CHECK}: the due deadlines are pay-by deadlines");
    let limited = ok(CHECK, "due_deadlines", store.due_deadlines(now, 2).await);
    assert_eq!(limited, due.get(..2).map(<[DueDeadline]>::to_vec).unwrap_or_default(), "{CHECK}: limit 2");
    assert!(
        ok(CHECK, "due_deadlines", store.due_deadlines(minutes(29), 100).await).is_empty(),
        "{CHECK}: nothing is due before the first pay-by time"
    );

    // Paying clears the pay-by deadline.
    let paid = pay(&wf, order_of(CHECK, &orders, id(1)), "T-1", minutes(45));
    ok(CHECK, "append payment", store.append(paid.commit(&[])).await);
    orders.insert(paid.order.id, paid.order.clone());
    let due = expect_due(CHECK, store, &orders, now, 100).await;
    assert_eq!(
        due.iter().map(|d| d.order_id).collect::<Vec<_>>(),
        vec![id(0), id(2)],
        "{CHECK}: a paid order is no longer due"
    );

    // Cancelling clears every deadline.
    let cancel = Action::Cancel { reason: "too slow".into() };
    let cancelled = decide(&wf, order_of(CHECK, &orders, id(0)), customer_service(), cancel, minutes(50));
    ok(CHECK, "append cancellation", store.append(cancelled.commit(&[])).await);
    orders.insert(cancelled.order.id, cancelled.order.clone());
    expect_due(CHECK, store, &orders, now, 100).await;

    // Shipping sets the auto-confirm deadline, far later.
    let shipped = ship(CHECK, &wf, store, &paid.order, "WB-1", minutes(60)).await;
    let (auto_at, kind) = shipped
        .next_deadline()
        .unwrap_or_else(|| panic!("{CHECK}: test setup: a shipped order has an auto-confirm deadline"));
    assert_eq!(kind, DeadlineKind::AutoConfirm, "{CHECK}: test setup");
    orders.insert(shipped.id, shipped);
    let due = expect_due(CHECK, store, &orders, now, 100).await;
    assert!(due.iter().all(|d| d.order_id != id(1)), "{CHECK}: the auto-confirm deadline is not due yet");
    let due = expect_due(CHECK, store, &orders, auto_at, 100).await;
    assert_eq!(
        due.last(),
        Some(&DueDeadline { order_id: id(1), kind: DeadlineKind::AutoConfirm, due_at: auto_at }),
        "{CHECK}: the moved deadline is due at its new time, after the earlier ones"
    );
    expect_due(CHECK, store, &orders, auto_at, 2).await;
}

/// Outbox leases: claimed items come in insertion order with `attempts` counted; a leased item
/// is not handed out again before its lease ends and is afterwards; completed items never come
/// back; failed items come back at their retry time; dead ones never; an entry whose key
/// exists is not added again (nor revived).
pub async fn outbox_leases<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "outbox_leases";
    let wf = Workflow::default();
    let mut placed = place("alice", 1, t0(), false);
    let placed_notice = placement_notice(CHECK, &placed);
    let id = placed.order.id;
    let key = |n: u32| format!("{id}/conformance/{n}");
    placed.outbox = (1..=5).map(|n| OutboxEntry { key: key(n), effect: placed_notice.clone() }).collect();
    ok(CHECK, "create", store.create(placed.commit(&[])).await);

    let lease = TimeDelta::seconds(30);
    let at = |seconds: i64| after(t0(), TimeDelta::seconds(seconds));
    let first = claim(CHECK, store, at(0), lease, 2).await;
    assert_claimed(CHECK, &first, &[(key(1), 1), (key(2), 1)], "the first claim (limit 2)");
    for item in &first {
        assert_eq!(item.order_id, id, "{CHECK}: a claimed item names its order");
        assert_eq!(item.effect, placed_notice, "{CHECK}: a claimed item carries its effect unchanged");
    }
    let second = claim(CHECK, store, at(1), lease, 10).await;
    assert_claimed(CHECK, &second, &[(key(3), 1), (key(4), 1), (key(5), 1)], "the rest, while 1 and 2 are leased");
    assert_claimed(CHECK, &claim(CHECK, store, at(10), lease, 10).await, &[], "everything is leased");

    ok(CHECK, "complete_outbox", store.complete_outbox(&key(1)).await);
    ok(CHECK, "fail_outbox with a retry time", store.fail_outbox(&key(2), at(5), Some(at(300)), "boom").await);
    ok(CHECK, "fail_outbox for good", store.fail_outbox(&key(3), at(5), None, "gone").await);
    assert_claimed(
        CHECK,
        &claim(CHECK, store, at(29), lease, 10).await,
        &[],
        "before the leases end: 1 done, 2 waits for its retry time, 3 dead, 4 and 5 leased",
    );
    assert_claimed(
        CHECK,
        &claim(CHECK, store, at(40), lease, 10).await,
        &[(key(4), 2), (key(5), 2)],
        "after the lease ends, leased items come back",
    );
    ok(CHECK, "complete_outbox", store.complete_outbox(&key(4)).await);
    ok(CHECK, "fail_outbox with a retry time", store.fail_outbox(&key(5), at(41), Some(at(600)), "later").await);
    assert_claimed(CHECK, &claim(CHECK, store, at(299), lease, 10).await, &[], "nothing before the retry times");
    assert_claimed(
        CHECK,
        &claim(CHECK, store, at(300), lease, 10).await,
        &[(key(2), 2)],
        "a failed item comes back at its retry time",
    );
    ok(CHECK, "complete_outbox", store.complete_outbox(&key(2)).await);
    assert_claimed(CHECK, &claim(CHECK, store, at(600), lease, 10).await, &[(key(5), 3)], "the later retry");
    ok(CHECK, "complete_outbox", store.complete_outbox(&key(5)).await);
    ok(CHECK, "complete_outbox again", store.complete_outbox(&key(5)).await);
    assert_claimed(
        CHECK,
        &claim(CHECK, store, far_future(), lease, 10).await,
        &[],
        "completed and dead items never come back",
    );

    // Entries whose keys exist are skipped, not revived; new ones are added.
    let mut paid = pay(&wf, &placed.order, "T-1", minutes(11));
    paid.outbox = vec![
        OutboxEntry { key: key(1), effect: placed_notice.clone() },
        OutboxEntry { key: key(3), effect: placed_notice.clone() },
        OutboxEntry { key: key(6), effect: placed_notice.clone() },
    ];
    ok(CHECK, "append with existing outbox keys", store.append(paid.commit(&[])).await);
    assert_claimed(
        CHECK,
        &claim(CHECK, store, minutes(12), lease, 10).await,
        &[(key(6), 1)],
        "an entry whose key exists is not added again",
    );
}

/// Dead letters: an item failed without a retry time is listed (key, order, effect, attempts,
/// last error, when it failed) in insertion order, at most `limit`, and never claimed; a later
/// failure report does not change it. `requeue_dead` makes it due at once with its attempts
/// reset, so it is claimed and completed like any item; it answers false for unknown, pending,
/// completed and already requeued keys, and a requeued item that fails for good is listed again.
pub async fn dead_letters_and_requeue<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "dead_letters_and_requeue";
    let mut placed = place("alice", 1, t0(), false);
    let notice = placement_notice(CHECK, &placed);
    let refund = Effect::Refund {
        refund: crate::ids::RefundId(1),
        amount: placed.order.totals.total,
        provider: "alipay".into(),
    };
    let id = placed.order.id;
    let key = |n: u32| format!("{id}/conformance/{n}");
    let effect = |n: u32| if n == 2 { refund.clone() } else { notice.clone() };
    placed.outbox = (1..=4).map(|n| OutboxEntry { key: key(n), effect: effect(n) }).collect();
    ok(CHECK, "create", store.create(placed.commit(&[])).await);
    let at = |seconds: i64| after(t0(), TimeDelta::seconds(seconds));
    let lease = TimeDelta::seconds(30);
    assert!(letters(CHECK, store, 10).await.is_empty(), "{CHECK}: no dead letters yet");

    // 1 is delivered, 3 waits for a retry, 4 is given up at once, 2 after three attempts.
    let first = claim(CHECK, store, at(0), lease, 10).await;
    assert_claimed(CHECK, &first, &[(key(1), 1), (key(2), 1), (key(3), 1), (key(4), 1)], "the first claim");
    ok(CHECK, "complete_outbox", store.complete_outbox(&key(1)).await);
    ok(CHECK, "fail_outbox", store.fail_outbox(&key(2), at(1), Some(at(10)), "timeout").await);
    ok(CHECK, "fail_outbox", store.fail_outbox(&key(3), at(1), Some(at(5_000)), "later").await);
    ok(CHECK, "fail_outbox for good", store.fail_outbox(&key(4), at(2), None, "refused for now").await);
    assert_claimed(CHECK, &claim(CHECK, store, at(10), lease, 10).await, &[(key(2), 2)], "the first retry");
    ok(CHECK, "fail_outbox", store.fail_outbox(&key(2), at(11), Some(at(20)), "timeout").await);
    assert_claimed(CHECK, &claim(CHECK, store, at(20), lease, 10).await, &[(key(2), 3)], "the second retry");
    let gave_up = "payment provider unavailable: timeout";
    ok(CHECK, "fail_outbox for good", store.fail_outbox(&key(2), at(21), None, gave_up).await);
    // A late failure report (a second engine whose lease ran out) changes nothing.
    ok(CHECK, "fail_outbox of a dead item", store.fail_outbox(&key(4), at(22), Some(at(23)), "late").await);

    let dead = |n: u32, attempts: u32, error: &str, died: i64| DeadLetter {
        key: key(n),
        order_id: id,
        effect: effect(n),
        attempts,
        last_error: error.to_owned(),
        died_at: Some(at(died)),
    };
    let expected = vec![dead(2, 3, gave_up, 21), dead(4, 1, "refused for now", 2)];
    let listed = letters(CHECK, store, 10).await;
    assert_eq!(listed, expected, "{CHECK}: every item failed for good is listed, in insertion order");
    let limited = letters(CHECK, store, 1).await;
    assert_eq!(limited, expected.get(..1).unwrap_or_default(), "{CHECK}: dead_letters(1) lists one");
    assert!(letters(CHECK, store, 0).await.is_empty(), "{CHECK}: dead_letters(0)");
    assert_claimed(CHECK, &claim(CHECK, store, at(4_999), lease, 10).await, &[], "dead items are never claimed");

    for (what, k) in [("a completed", key(1)), ("a pending", key(3)), ("an unknown", key(9))] {
        let requeued = ok(CHECK, "requeue_dead", store.requeue_dead(&k, at(30)).await);
        assert!(!requeued, "{CHECK}: requeue_dead of {what} item must answer false");
    }
    assert!(ok(CHECK, "requeue_dead", store.requeue_dead(&key(2), at(30)).await), "{CHECK}: requeue a dead item");
    assert!(
        !ok(CHECK, "requeue_dead again", store.requeue_dead(&key(2), at(31)).await),
        "{CHECK}: requeuing twice must answer false the second time"
    );
    let listed = letters(CHECK, store, 10).await;
    assert_eq!(listed, expected.get(1..).unwrap_or_default(), "{CHECK}: a requeued item is no longer dead");
    assert_claimed(
        CHECK,
        &claim(CHECK, store, at(31), lease, 10).await,
        &[(key(2), 1)],
        "a requeued item is due at once, its attempts counted afresh",
    );
    ok(CHECK, "complete_outbox", store.complete_outbox(&key(2)).await);
    assert!(
        !ok(CHECK, "requeue_dead", store.requeue_dead(&key(2), at(40)).await),
        "{CHECK}: a delivered item cannot be requeued"
    );

    // Requeued again and given up again: listed again with its new attempt and error.
    assert!(ok(CHECK, "requeue_dead", store.requeue_dead(&key(4), at(50)).await), "{CHECK}: requeue item 4");
    assert_claimed(CHECK, &claim(CHECK, store, at(50), lease, 10).await, &[(key(4), 1)], "the requeued item 4");
    ok(CHECK, "fail_outbox for good", store.fail_outbox(&key(4), at(51), None, "still refused").await);
    let listed = letters(CHECK, store, 10).await;
    assert_eq!(listed, vec![dead(4, 1, "still refused", 51)], "{CHECK}: an item can die again after a requeue");
    assert_claimed(
        CHECK,
        &claim(CHECK, store, far_future(), lease, 10).await,
        &[(key(3), 2)],
        "in the end only the pending item comes back",
    );
}

/// Many appends of the same expected version at once: exactly one wins, every other gets
/// `Conflict`, and the stored history is the winner's.
pub async fn concurrent_appends<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "concurrent_appends";
    const WRITERS: usize = 16;
    let wf = Workflow::default();
    let placed = place("alice", 1, t0(), false);
    ok(CHECK, "create", store.create(placed.commit(&[])).await);
    let base = placed.order.clone();
    let steps: Vec<Step> = (0..WRITERS).map(|i| pay(&wf, &base, &format!("T-{i}"), minutes(1))).collect();
    let results = join_all(steps.iter().map(|s| store.append(s.commit(&[])))).await;

    let winners: Vec<usize> = results.iter().enumerate().filter(|(_, r)| r.is_ok()).map(|(i, _)| i).collect();
    assert_eq!(winners.len(), 1, "{CHECK}: exactly one of {WRITERS} concurrent appends must succeed: {results:?}");
    for result in results.iter().filter(|r| r.is_err()) {
        assert!(
            matches!(result, Err(StoreError::Conflict { expected, actual })
                if *expected == base.version && *actual == base.version + 1),
            "{CHECK}: every losing append must get Conflict {{ expected: {}, actual: {} }}, got {result:?}",
            base.version,
            base.version + 1
        );
    }
    let winner = winners.first().and_then(|&i| steps.get(i)).unwrap_or_else(|| panic!("{CHECK}: no winner"));
    let mut history = placed.events.clone();
    history.extend(winner.events.iter().cloned());
    assert_stored(CHECK, store, &winner.order, &history).await;
}

/// Many creates of different orders with the same number at once: exactly one is stored, every
/// other gets `DuplicateOrderNumber` and leaves nothing behind.
pub async fn concurrent_creates<S: OrderRepository + WorkQueue>(store: &S) {
    const CHECK: &str = "concurrent_creates";
    const WRITERS: usize = 8;
    let steps: Vec<Step> = (0..WRITERS).map(|i| place(&format!("buyer{i}"), 42, minutes(i as i64), false)).collect();
    let results = join_all(steps.iter().map(|s| store.create(s.commit(&[])))).await;
    let winners: Vec<usize> = results.iter().enumerate().filter(|(_, r)| r.is_ok()).map(|(i, _)| i).collect();
    assert_eq!(winners.len(), 1, "{CHECK}: exactly one of {WRITERS} creates with one number must succeed");
    for (step, result) in steps.iter().zip(&results) {
        match result {
            Ok(()) => assert_stored(CHECK, store, &step.order, &step.events).await,
            Err(StoreError::DuplicateOrderNumber(_)) => assert_absent(CHECK, store, step).await,
            Err(e) => panic!("{CHECK}: a losing create must get DuplicateOrderNumber, got {e:?}"),
        }
    }
}

/// The engine over the store under test: one [`Engine::run_due`] call fires every deadline
/// due at its `now`, though the store lists only each order's earliest. Completed orders each
/// have three deadlines due (the answer SLA of the buyer's complaint, the follow-up and the
/// after-sales window). With the default settings, one call fires the six deadlines of two
/// such orders; with batches of one deadline, one call fires the nine of three more (more
/// rounds than a fixed cap of eight would allow) and leaves an order whose deadline is not
/// due alone; a second call finds nothing to do.
///
/// Unlike the store-only checks it takes the store by value: the engines own it.
pub async fn run_due_fires_every_due_deadline<S: OrderRepository + WorkQueue>(store: S) {
    const CHECK: &str = "run_due_fires_every_due_deadline";
    let wf = Workflow::default();
    let store = Arc::new(store);
    let engine_at = |now: DateTime<Utc>, settings: EngineSettings| {
        let adapters = Adapters {
            store: Arc::clone(&store),
            payments: FakeGateway::new("alipay", b"provider-secret"),
            logistics: FakeCarrier::new("SF", b"carrier-secret"),
            inventory: MemoryInventory::new(),
            notifier: RecordingNotifier::new(),
            clock: FixedClock::new(now),
        };
        Engine::new(Workflow::default(), adapters).with_settings(settings)
    };
    let batches_of_one = EngineSettings { due_batch: 1, ..EngineSettings::default() };
    let mut number = 20;
    let mut start = t0();
    for (customers, settings) in
        [(&["ann", "bob"][..], EngineSettings::default()), (&["cyd", "dan", "eve"], batches_of_one)]
    {
        let mut completed = Vec::new();
        for customer in customers {
            number += 1;
            completed.push(completed_with_three_deadlines(CHECK, &wf, &*store, customer, number, start).await);
        }
        let now = completed
            .iter()
            .flat_map(|o| o.deadlines.all().map(|(at, _)| at))
            .max()
            .unwrap_or_else(|| panic!("{CHECK}: test setup: no deadline"));
        // Placed long after `now` (and after the next round's): its pay-by deadline is not due.
        number += 1;
        let later = place("fay", number, after(far_future(), TimeDelta::minutes(number as i64)), false);
        ok(CHECK, "create", store.create(later.commit(&[])).await);
        let listed = ok(CHECK, "due_deadlines", store.due_deadlines(now, 100).await);
        assert_eq!(listed.len(), completed.len(), "{CHECK}: test setup: one deadline listed per completed order");

        let engine = engine_at(now, settings.clone());
        let report = engine.run_due(now).await.unwrap_or_else(|e| panic!("{CHECK}: run_due: {e}"));
        let due = 3 * completed.len();
        assert_eq!(
            (report.fired, report.found_paid, report.failed),
            (due, 0, 0),
            "{CHECK}: one run_due call must fire all {due} due deadlines (due_batch {}): {report:?}",
            settings.due_batch
        );
        for before in &completed {
            let order = ok(CHECK, "load", store.load(before.id).await)
                .unwrap_or_else(|| panic!("{CHECK}: order {} is gone", before.id));
            assert_eq!(order.deadlines.next(), None, "{CHECK}: every deadline of order {} must be fired", order.id);
            let events = ok(CHECK, "events", store.events(order.id).await);
            let added = events.len().saturating_sub(before.version as usize);
            assert_eq!(added, 3, "{CHECK}: one event per fired deadline of order {}", order.id);
        }
        assert_eq!(
            ok(CHECK, "load", store.load(later.order.id).await).as_ref(),
            Some(&later.order),
            "{CHECK}: an order whose deadline is not due must be left alone"
        );
        let listed = ok(CHECK, "due_deadlines", store.due_deadlines(now, 100).await);
        assert!(listed.is_empty(), "{CHECK}: nothing may stay due, got {listed:?}");
        let again = engine.run_due(now).await.unwrap_or_else(|e| panic!("{CHECK}: run_due again: {e}"));
        assert_eq!(again, DueReport::default(), "{CHECK}: a second call finds nothing to do");
        start = after(now, TimeDelta::hours(1));
    }
}

// ---------------------------------------------------------------------------------------------
// Building genuine orders
// ---------------------------------------------------------------------------------------------

/// One decision ready to store: the order after it, its events, outbox rows and the version it
/// was decided on.
#[derive(Debug, Clone)]
struct Step {
    order: Order,
    events: Vec<Event>,
    outbox: Vec<OutboxEntry>,
    expected_version: u64,
}

impl Step {
    fn commit<'a>(&'a self, dedupe_keys: &'a [String]) -> Commit<'a> {
        Commit {
            order: &self.order,
            expected_version: self.expected_version,
            events: &self.events,
            outbox: &self.outbox,
            dedupe_keys,
        }
    }
}

fn minutes(n: i64) -> DateTime<Utc> {
    after(t0(), TimeDelta::minutes(n))
}

fn far_future() -> DateTime<Utc> {
    after(t0(), TimeDelta::days(3650))
}

fn customer(id: &str) -> CustomerId {
    CustomerId::new(id).unwrap_or_else(|e| panic!("test setup: bad customer id {id:?}: {e}"))
}

/// A genuine new order for store tests: [`sample_form`] for `customer` placed at `at` under
/// `number` with the default workflow (placed and automatically approved), with its events.
/// Store it with `expected_version: 0`.
pub fn sample_order(customer: &str, number: u64, at: DateTime<Utc>) -> (Order, Vec<Event>) {
    let step = place(customer, number, at, false);
    (step.order, step.events)
}

/// Places [`sample_form`] (or [`sample_cod_form`]) for `customer` at `at` through
/// [`Workflow::place`] with the default workflow: the order placed and automatically approved.
fn place(customer: &str, number: u64, at: DateTime<Utc>, cod: bool) -> Step {
    let form = if cod { sample_cod_form(customer) } else { sample_form(customer) };
    let new = NewOrder { id: OrderId::new_v7(), number: order_number(number) };
    let decision = Workflow::default()
        .place(&buyer(customer), &form, new, &Ctx::at(at))
        .unwrap_or_else(|e| panic!("test setup: the sample form was refused: {e}"));
    let order = Order::from_events(&decision.events).unwrap_or_else(|e| panic!("test setup: placement replay: {e}"));
    let outbox = outbox_of(&order, &decision);
    Step { order, events: decision.events, outbox, expected_version: 0 }
}

fn order_number(value: u64) -> OrderNumber {
    OrderNumber::from_value(value).unwrap_or_else(|e| panic!("test setup: order number {value}: {e}"))
}

/// Decides a real command on `before`.
///
/// # Panics
/// When the workflow refuses it or it changes nothing: test setup.
fn decide(wf: &Workflow, before: &Order, actor: Actor, action: Action, at: DateTime<Utc>) -> Step {
    let command = Command::new(actor, action);
    let decision =
        wf.decide(before, &command, &Ctx::at(at)).unwrap_or_else(|e| panic!("test setup: {command:?} refused: {e}"));
    assert!(!decision.events.is_empty(), "test setup: {command:?} changed nothing");
    let mut order = before.clone();
    for event in &decision.events {
        evolve(&mut order, event);
    }
    let outbox = outbox_of(&order, &decision);
    Step { order, events: decision.events, outbox, expected_version: before.version }
}

fn pay(wf: &Workflow, before: &Order, txn_id: &str, at: DateTime<Utc>) -> Step {
    let action = Action::CapturePayment { txn_id: txn_id.into(), amount: before.totals.total };
    decide(wf, before, provider(), action, at)
}

/// The outbox rows the engine writes for a decision: every effect but the stock reservation
/// (run before commit) and deadline notes (deadlines live on the order).
fn outbox_of(order: &Order, decision: &Decision) -> Vec<OutboxEntry> {
    let seq = decision.events.first().map_or(order.version, |e| e.seq);
    let id = order.id.to_string();
    decision
        .effects
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.before_commit() && !matches!(e, Effect::Schedule { .. }))
        .map(|(i, effect)| OutboxEntry { key: effect.key(&id, seq, i), effect: effect.clone() })
        .collect()
}

/// Picks, packs, books and ships every line of a paid order in one parcel under `waybill`,
/// with carrier SF, appending each step; returns the shipped order.
async fn ship<S: OrderRepository + WorkQueue>(
    check: &str,
    wf: &Workflow,
    store: &S,
    paid_or_not: &Order,
    waybill: &str,
    at: DateTime<Utc>,
) -> Order {
    ship_with(check, wf, store, paid_or_not, "SF", Some(waybill), at).await
}

/// Pays (if needed), picks, packs and books every line of an order in one parcel (package 1)
/// with `carrier`, and records `waybill` if given, appending each step; returns the order.
async fn ship_with<S: OrderRepository + WorkQueue>(
    check: &str,
    wf: &Workflow,
    store: &S,
    paid_or_not: &Order,
    carrier: &str,
    waybill: Option<&str>,
    at: DateTime<Utc>,
) -> Order {
    let mut order = paid_or_not.clone();
    if !order.payment.gate_open() {
        let paid = pay(wf, &order, &format!("T-{}", order.number), at);
        ok(check, "append payment", store.append(paid.commit(&[])).await);
        order = paid.order;
    }
    let pack = pack_remaining(&order);
    let package = PackageId(1);
    let mut actions = vec![
        (warehouse(), Action::IssuePickList),
        (warehouse(), pack),
        (
            warehouse(),
            Action::BookShipment {
                package,
                carrier: carrier.into(),
                service: "standard".into(),
                reason: crate::carrier_choice::ChoiceReason::stated("conformance"),
            },
        ),
    ];
    if let Some(waybill) = waybill {
        actions.push((Actor::System, Action::RecordWaybill { package, waybill: waybill.into() }));
    }
    for (actor, action) in actions {
        let step = decide(wf, &order, actor, action, at);
        ok(check, "append a shipping step", store.append(step.commit(&[])).await);
        order = step.order;
    }
    order
}

/// A tracking update of `kind` at `at`.
fn tracking(kind: TrackingKind, at: DateTime<Utc>) -> TrackingUpdate {
    TrackingUpdate {
        kind,
        at,
        event_id: format!("{kind:?}-{}", at.timestamp()).as_str().into(),
        location: Default::default(),
        description: Default::default(),
    }
}

/// A paid order placed at `at`, shipped, confirmed received by its buyer and with a complaint
/// open, all stored: its follow-up, after-sales window and the complaint's answer SLA are
/// pending.
async fn completed_with_three_deadlines<S: OrderRepository + WorkQueue>(
    check: &str,
    wf: &Workflow,
    store: &S,
    customer: &str,
    number: u64,
    at: DateTime<Utc>,
) -> Order {
    let placed = place(customer, number, at, false);
    ok(check, "create", store.create(placed.commit(&[])).await);
    let shipped =
        ship(check, wf, store, &placed.order, &format!("WB-DUE-{number}"), after(at, TimeDelta::minutes(10))).await;
    let confirmed = decide(wf, &shipped, buyer(customer), Action::ConfirmReceipt, after(at, TimeDelta::minutes(20)));
    ok(check, "append the receipt", store.append(confirmed.commit(&[])).await);
    let complaint = Action::OpenCase {
        request: CaseRequest {
            kind: CaseKind::Complaint,
            lines: Vec::new(),
            reason_code: "late".into(),
            text: "the parcel came late".into(),
            evidence: Vec::new(),
        },
    };
    let opened = decide(wf, &confirmed.order, buyer(customer), complaint, after(at, TimeDelta::minutes(30)));
    ok(check, "append the complaint", store.append(opened.commit(&[])).await);
    let pending: Vec<_> = opened.order.deadlines.all().collect();
    assert_eq!(pending.len(), 3, "{check}: test setup: three deadlines pending, got {pending:?}");
    opened.order
}

// ---------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------

fn ok<T>(check: &str, what: &str, result: Result<T, StoreError>) -> T {
    result.unwrap_or_else(|e| panic!("{check}: {what}: unexpected store error: {e:?}"))
}

async fn assert_stored<S: OrderRepository + WorkQueue>(check: &str, store: &S, order: &Order, events: &[Event]) {
    let loaded = ok(check, "load", store.load(order.id).await);
    assert_eq!(loaded.as_ref(), Some(order), "{check}: load must return the last committed snapshot");
    let stored = ok(check, "events", store.events(order.id).await);
    assert_eq!(stored, events, "{check}: events must return the full history in sequence");
}

async fn assert_absent<S: OrderRepository + WorkQueue>(check: &str, store: &S, step: &Step) {
    assert_eq!(
        ok(check, "load", store.load(step.order.id).await),
        None,
        "{check}: a refused commit must not store a snapshot"
    );
    match store.events(step.order.id).await {
        Ok(events) => assert!(events.is_empty(), "{check}: a refused commit must not store events"),
        Err(StoreError::NotFound(_)) => {}
        Err(e) => panic!("{check}: events: unexpected store error {e:?}"),
    }
}

fn keys_of(steps: &[&Step]) -> BTreeSet<String> {
    steps.iter().flat_map(|s| s.outbox.iter().map(|e| e.key.clone())).collect()
}

/// Claims everything (for good) and compares the keys.
async fn assert_outbox_keys<S: OrderRepository + WorkQueue>(check: &str, store: &S, expected: BTreeSet<String>) {
    let claimed = ok(check, "claim_outbox", store.claim_outbox(far_future(), TimeDelta::days(1), 10_000).await);
    let keys: BTreeSet<String> = claimed.iter().map(|i| i.key.clone()).collect();
    assert_eq!(keys.len(), claimed.len(), "{check}: an outbox key was handed out twice in one claim");
    assert_eq!(keys, expected, "{check}: the outbox must hold exactly the entries of successful commits");
}

/// The effect of a placement's first outbox entry (its notice to the buyer).
fn placement_notice(check: &str, placed: &Step) -> Effect {
    placed
        .outbox
        .first()
        .map(|e| e.effect.clone())
        .unwrap_or_else(|| panic!("{check}: test setup: placement has an outbox entry"))
}

/// The first page of up to `limit` dead letters.
async fn letters<S: WorkQueue>(check: &str, store: &S, limit: usize) -> Vec<DeadLetter> {
    ok(check, "dead_letters", store.dead_letters(None, limit).await).letters
}

async fn claim<S: OrderRepository + WorkQueue>(
    check: &str,
    store: &S,
    now: DateTime<Utc>,
    lease: TimeDelta,
    limit: usize,
) -> Vec<OutboxItem> {
    ok(check, "claim_outbox", store.claim_outbox(now, lease, limit).await)
}

fn assert_claimed(check: &str, claimed: &[OutboxItem], expected: &[(String, u32)], when: &str) {
    let got: Vec<(String, u32)> = claimed.iter().map(|i| (i.key.clone(), i.attempts)).collect();
    assert_eq!(got, expected, "{check}: {when}: claimed (key, attempts) in insertion order");
}

fn order_of<'a>(check: &str, orders: &'a BTreeMap<OrderId, Order>, id: OrderId) -> &'a Order {
    orders.get(&id).unwrap_or_else(|| panic!("{check}: test setup: unknown order {id}"))
}

/// Compares `due_deadlines(now, limit)` with what the snapshots say is due.
async fn expect_due<S: OrderRepository + WorkQueue>(
    check: &str,
    store: &S,
    orders: &BTreeMap<OrderId, Order>,
    now: DateTime<Utc>,
    limit: usize,
) -> Vec<DueDeadline> {
    let mut expected: Vec<DueDeadline> = orders
        .values()
        .filter_map(|o| o.next_deadline().map(|(due_at, kind)| DueDeadline { order_id: o.id, kind, due_at }))
        .filter(|d| d.due_at <= now)
        .collect();
    expected.sort_by_key(|d| (d.due_at, d.order_id));
    expected.truncate(limit);
    let got = ok(check, "due_deadlines", store.due_deadlines(now, limit).await);
    assert_eq!(got, expected, "{check}: due_deadlines({now}, {limit}) must return the due orders, earliest first");
    got
}

/// Follows `next` cursors from `after` to the end, checking every page.
async fn collect_pages<S: OrderRepository + WorkQueue>(
    check: &str,
    store: &S,
    filter: &OrderFilter,
    mut after: Option<OrderId>,
    limit: usize,
) -> Vec<OrderSummary> {
    let mut all = Vec::new();
    for _ in 0..1_000 {
        let OrderPage { items, next } = ok(check, "list", store.list(filter, after, limit).await);
        assert!(items.len() <= limit, "{check}: a page must hold at most {limit} items, got {}", items.len());
        match next {
            Some(cursor) => {
                assert_eq!(items.len(), limit, "{check}: a page with a next cursor must be full");
                assert_eq!(Some(cursor), items.last().map(|s| s.id), "{check}: next must be the page's last id");
                all.extend(items);
                after = Some(cursor);
            }
            None => {
                all.extend(items);
                return all;
            }
        }
    }
    panic!("{check}: list never returned a last page (next stayed Some)")
}

// ---------------------------------------------------------------------------------------------
// Running futures together without a runtime
// ---------------------------------------------------------------------------------------------

type BoxedFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Polls every future in the caller's task until all are done; results in input order.
fn join_all<'a, T: Unpin + 'a>(
    futures: impl IntoIterator<Item = impl Future<Output = T> + Send + 'a>,
) -> JoinAll<'a, T> {
    let pending: Vec<Option<BoxedFuture<'a, T>>> =
        futures.into_iter().map(|f| Some(Box::pin(f) as BoxedFuture<'a, T>)).collect();
    let results = pending.iter().map(|_| None).collect();
    JoinAll { pending, results }
}

struct JoinAll<'a, T> {
    pending: Vec<Option<BoxedFuture<'a, T>>>,
    results: Vec<Option<T>>,
}

impl<T: Unpin> Future for JoinAll<'_, T> {
    type Output = Vec<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<T>> {
        let this = self.get_mut();
        let mut waiting = false;
        for (slot, result) in this.pending.iter_mut().zip(this.results.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => {
                        *result = Some(value);
                        *slot = None;
                    }
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting { Poll::Pending } else { Poll::Ready(this.results.iter_mut().filter_map(Option::take).collect()) }
    }
}
