//! The stores' part of the bad-input catalogue: every refused write, with its error variant,
//! and nothing written.

use orderflow::ports::{Commit, OrderRepository, StoreError};
use orderflow::testing::conformance::sample_order;
use orderflow::testing::t0;
use orderflow::{MemoryStore, Order, OrderId};

type Setup = fn(&Order) -> (Order, u64, Vec<orderflow::Event>, Vec<String>);
type Row = (&'static str, bool, Setup, fn(&StoreError) -> bool);

fn same(order: &Order) -> (Order, u64, Vec<orderflow::Event>, Vec<String>) {
    (order.clone(), 0, Vec::new(), Vec::new())
}

#[tokio::test]
async fn refused_store_writes_name_their_reason_and_write_nothing() {
    let store = MemoryStore::new();
    let (order, events) = sample_order("alice", 1, t0());
    store
        .create(Commit {
            order: &order,
            expected_version: 0,
            events: &events,
            outbox: &[],
            dedupe_keys: &["k1".into()],
        })
        .await
        .unwrap();
    let (other, other_events) = sample_order("bob", 1, t0());
    let stale = |o: &Order| {
        let next = orderflow::testing::edited(o, |json| json["version"] = (o.version() + 1).into());
        let mut event = orderflow::testing::conformance::sample_order("x", 9, t0()).1.remove(0);
        event.seq = o.version() + 1;
        (next, 0, vec![event], Vec::new())
    };
    let rows: Vec<Row> = vec![
        ("create with a taken order number", true, same, |e| matches!(e, StoreError::DuplicateOrderNumber(_))),
        ("append with a stale version", false, stale, |e| matches!(e, StoreError::Conflict { expected: 0, .. })),
    ];
    for (name, create, setup, expect) in rows {
        let target = if create { &other } else { &order };
        let (next, expected_version, new_events, keys) = setup(target);
        let new_events = if create { other_events.clone() } else { new_events };
        let commit = Commit { order: &next, expected_version, events: &new_events, outbox: &[], dedupe_keys: &keys };
        let result = if create { store.create(commit).await } else { store.append(commit).await };
        let err = result.expect_err(name);
        assert!(expect(&err), "{name}: got {err:?}");
        assert_eq!(store.order_count(), 1, "{name}: something was written");
        assert_eq!(store.events(order.id()).await.unwrap(), events, "{name}: history changed");
    }

    // A reused dedupe key refuses the whole commit.
    let (third, third_events) = sample_order("carol", 3, t0());
    let commit =
        Commit { order: &third, expected_version: 0, events: &third_events, outbox: &[], dedupe_keys: &["k1".into()] };
    assert!(matches!(store.create(commit).await, Err(StoreError::DuplicateKey(k)) if k == "k1"));
    assert_eq!(store.order_count(), 1);

    // Appending to an order that does not exist.
    let ghost =
        orderflow::testing::edited(&third, |json| json["id"] = serde_json::to_value(OrderId::new_v7()).unwrap());
    let commit = Commit { order: &ghost, expected_version: 1, events: &[], outbox: &[], dedupe_keys: &[] };
    assert!(matches!(store.append(commit).await, Err(StoreError::NotFound(_))));
}
