//! The store conformance suite against `MemoryStore` (plain and, with `packed-memory`, packed),
//! plus checks of what only the memory store offers (dead letters), failures injected around it
//! and a multi-threaded append race.

use std::sync::Arc;

use chrono::TimeDelta;
use orderflow::decide::after;
use orderflow::ports::{Commit, OrderRepository, OutboxEntry, StoreError, WorkQueue};
use orderflow::testing::{COMMITS, Failing, Failure, conformance, provider, t0};
use orderflow::{Action, Command, Ctx, MemoryStore, Order, Workflow, evolve};

#[tokio::test]
async fn conformance_run_all() {
    conformance::run_all(MemoryStore::new).await;
}

/// The packed store keeps the same contract, with the default number of decoded snapshots and
/// with every order packed after each call.
#[cfg(feature = "packed-memory")]
#[tokio::test]
async fn conformance_run_all_packed() {
    conformance::run_all(MemoryStore::packed).await;
    conformance::run_all(|| MemoryStore::with_hot_orders(0)).await;
}

#[tokio::test]
async fn conformance_create_and_load() {
    conformance::create_and_load(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_duplicate_number_refused() {
    conformance::duplicate_number_refused(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_append_compare_and_set() {
    conformance::append_compare_and_set(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_dedupe_keys_are_atomic() {
    conformance::dedupe_keys_are_atomic(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_lookups() {
    conformance::lookups(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_waybills_are_unique_per_carrier() {
    conformance::waybills_are_unique_per_carrier(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_list_filters_and_pages() {
    conformance::list_filters_and_pages(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_due_deadlines() {
    conformance::due_deadlines(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_outbox_leases() {
    conformance::outbox_leases(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_dead_letters_and_requeue() {
    conformance::dead_letters_and_requeue(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_dead_letter_pages() {
    conformance::dead_letter_pages(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_outbox_backlog() {
    conformance::outbox_backlog(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_concurrent_appends() {
    conformance::concurrent_appends(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_concurrent_creates() {
    conformance::concurrent_creates(&MemoryStore::new()).await;
}

#[tokio::test]
async fn conformance_run_due_fires_every_due_deadline() {
    conformance::run_due_fires_every_due_deadline(MemoryStore::new()).await;
}

// ---------------------------------------------------------------------------------------------
// MemoryStore specifics
// ---------------------------------------------------------------------------------------------

fn placed(number: u64) -> (Order, Vec<orderflow::Event>) {
    conformance::sample_order("alice", number, t0())
}

fn commit<'a>(
    order: &'a Order,
    expected: u64,
    events: &'a [orderflow::Event],
    outbox: &'a [OutboxEntry],
) -> Commit<'a> {
    Commit { order, expected_version: expected, events, outbox, dedupe_keys: &[] }
}

fn pay(order: &Order, txn: &str) -> (Order, Vec<orderflow::Event>) {
    let action = Action::CapturePayment { txn_id: txn.into(), amount: order.totals().total };
    let decision = Workflow::default().decide(order, &Command::new(provider(), action), &Ctx::at(t0())).unwrap();
    let mut next = order.clone();
    for e in &decision.events {
        evolve(&mut next, e);
    }
    (next, decision.events)
}

#[tokio::test]
async fn memory_store_injected_failures_write_nothing() {
    let (order, events) = placed(1);
    let store = Arc::new(MemoryStore::new());
    let failing = Failing::new(store.clone());
    failing.switch().inject(Failure::next(2).of(COMMITS));
    for _ in 0..2 {
        let err = failing.create(commit(&order, 0, &events, &[])).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    }
    assert_eq!(store.order_count(), 0);
    failing.create(commit(&order, 0, &events, &[])).await.unwrap();
    assert_eq!(store.order_count(), 1);

    let (paid, paid_events) = pay(&order, "T-1");
    failing.switch().inject(Failure::next(1).of(COMMITS));
    let err = failing.append(commit(&paid, order.version(), &paid_events, &[])).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)));
    // Only commits fail: the read goes through.
    assert_eq!(failing.load(order.id()).await.unwrap().unwrap(), order);
    failing.append(commit(&paid, order.version(), &paid_events, &[])).await.unwrap();
    assert_eq!(store.load(order.id()).await.unwrap().unwrap(), paid);
}

#[tokio::test]
async fn memory_store_refuses_events_out_of_sequence() {
    let (order, events) = placed(1);
    let store = MemoryStore::new();
    store.create(commit(&order, 0, &events, &[])).await.unwrap();
    let (paid, mut paid_events) = pay(&order, "T-1");
    paid_events[0].seq += 1;
    let err = store.append(commit(&paid, order.version(), &paid_events, &[])).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert_eq!(store.events(order.id()).await.unwrap(), events);
    assert_eq!(store.load(order.id()).await.unwrap().unwrap(), order);
}

#[tokio::test]
async fn memory_store_counts_pending_and_dead_letters() {
    let (order, events) = placed(1);
    let effect = orderflow::Effect::ClosePayment { provider: "alipay".into() };
    let outbox: Vec<OutboxEntry> =
        ["a", "b", "c"].iter().map(|k| OutboxEntry { key: (*k).into(), effect: effect.clone() }).collect();
    let store = MemoryStore::new();
    store.create(commit(&order, 0, &events, &outbox)).await.unwrap();
    assert_eq!(store.outbox_pending(), 3);

    // A lease so long it would overflow the calendar does not panic.
    let claimed = store.claim_outbox(t0(), TimeDelta::MAX, 10).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(store.claim_outbox(after(t0(), TimeDelta::days(365_000)), TimeDelta::MAX, 10).await.unwrap().is_empty());

    store.complete_outbox("a").await.unwrap();
    store.fail_outbox("b", t0(), None, "provider said no").await.unwrap();
    store.fail_outbox("c", t0(), Some(t0()), "timeout").await.unwrap();
    assert_eq!(store.outbox_pending(), 1);
    assert_eq!(store.outbox_dead(), vec![("b".to_owned(), "provider said no".to_owned())]);
    // Completing or failing unknown keys is harmless.
    store.complete_outbox("nope").await.unwrap();
    store.fail_outbox("nope", t0(), None, "x").await.unwrap();
    // A dead letter is not revived by a later failure report.
    store.fail_outbox("b", t0(), Some(t0()), "again").await.unwrap();
    assert_eq!(store.outbox_dead().len(), 1);
    let again = store.claim_outbox(t0(), TimeDelta::seconds(30), 10).await.unwrap();
    assert_eq!(again.iter().map(|i| (i.key.as_str(), i.attempts)).collect::<Vec<_>>(), vec![("c", 2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn conformance_append_race_across_threads() {
    let (order, events) = placed(1);
    let store = Arc::new(MemoryStore::new());
    store.create(commit(&order, 0, &events, &[])).await.unwrap();
    let base = Arc::new(order);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let store = Arc::clone(&store);
        let base = Arc::clone(&base);
        tasks.push(tokio::spawn(async move {
            let (paid, paid_events) = pay(&base, &format!("T-{i}"));
            store.append(commit(&paid, base.version(), &paid_events, &[])).await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict { expected, actual }) => {
                assert_eq!((expected, actual), (base.version(), base.version() + 1));
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(store.events(base.id()).await.unwrap().len() as u64, base.version() + 1);
}
