//! The SQLite store: the conformance suite on a file and in memory, persistence across reopen,
//! two handles on one file racing, and the engine running a whole order on SQLite.
#![cfg(feature = "sqlite")]

use crate::v1_rows::{V1_EVENTS, V1_SNAPSHOT, v1_history};

use std::path::Path;
use std::sync::Arc;

use chrono::TimeDelta;
use orderflow::adapters::sqlite::SqliteStore;
use orderflow::decide::after;
use orderflow::engine::{Adapters, Engine};
use orderflow::order::{HoldReason, HoldReasonKind, PackageItem, ScannedItem, TrackingKind};
use orderflow::ports::{
    Commit, FeedCursor, OrderFilter, OrderQuery, OrderRepository, OutboxEntry, StoreError, WorkQueue,
};
use orderflow::testing::{
    FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, conformance, pack_remaining, provider, reviewer,
    sample_form, t0, warehouse,
};
use orderflow::{Action, Command, Ctx, MemoryInventory, Order, OrderStatus, Sku, Workflow, evolve};

#[path = "../common/temp_db.rs"]
mod temp_db;

use temp_db::TempDb;

/// Takes a current file back to schema version 5 (outbox entries without the time they were
/// written), for the upgrade tests.
const UNDO_V6: &str = "ALTER TABLE outbox DROP COLUMN written_at; ALTER TABLE outbox DROP COLUMN written_ns;";

/// Takes a version 5 file back to schema version 4 (before the staff query columns, the counts
/// per status and the feed), for the upgrade tests.
const UNDO_V5: &str = "DROP TRIGGER orders_counted; DROP TRIGGER orders_recounted; DROP TRIGGER orders_uncounted;
    DROP TRIGGER events_fed; DROP TABLE status_counts; DROP TABLE feed;
    DROP INDEX orders_by_time; DROP INDEX orders_by_status_time; DROP INDEX orders_with_anomaly;
    DROP INDEX orders_with_open_cases; DROP INDEX orders_by_ship_by;
    ALTER TABLE orders DROP COLUMN hold_reasons; ALTER TABLE orders DROP COLUMN ship_by_at;
    ALTER TABLE orders DROP COLUMN ship_by_ns; ALTER TABLE orders DROP COLUMN payment_anomaly;
    ALTER TABLE orders DROP COLUMN open_cases;";

/// Opens the store on a test file.
trait OpenStore {
    fn open(&self) -> SqliteStore;
}

impl OpenStore for TempDb {
    fn open(&self) -> SqliteStore {
        SqliteStore::open(self.path()).unwrap()
    }
}

fn commit<'a>(
    order: &'a Order,
    expected: u64,
    events: &'a [orderflow::Event],
    outbox: &'a [OutboxEntry],
) -> Commit<'a> {
    Commit { order, expected_version: expected, events, outbox, dedupe_keys: &[] }
}

/// `command` decided on `base` and applied: the next snapshot and its events.
fn step(base: &Order, command: Command) -> (Order, Vec<orderflow::Event>) {
    let decision = Workflow::default().decide(base, &command, &Ctx::at(t0())).unwrap();
    let mut next = base.clone();
    for e in &decision.events {
        evolve(&mut next, e);
    }
    (next, decision.events)
}

fn pay(order: &Order, txn: &str) -> (Order, Vec<orderflow::Event>) {
    step(order, Command::new(provider(), Action::CapturePayment { txn_id: txn.into(), amount: order.totals().total }))
}

// ---------------------------------------------------------------------------------------------
// Conformance
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn conformance_in_memory() {
    conformance::run_all(|| SqliteStore::open_in_memory().unwrap()).await;
}

#[tokio::test]
async fn conformance_on_a_file() {
    let dbs = std::sync::Mutex::new(Vec::new());
    conformance::run_all(|| {
        let db = TempDb::new("conformance");
        let store = db.open();
        dbs.lock().unwrap().push(db);
        store
    })
    .await;
    let dbs = dbs.into_inner().unwrap();
    assert_eq!(dbs.len(), 18);
    for db in &dbs {
        assert!(db.path().exists());
    }
}

// ---------------------------------------------------------------------------------------------
// Persistence
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn everything_survives_a_reopen() {
    let db = TempDb::new("reopen");
    let (order, events) = conformance::sample_order("alice", 1, t0());
    let effect = orderflow::Effect::ClosePayment { provider: "alipay".into() };
    let outbox: Vec<OutboxEntry> =
        ["a", "b", "c"].iter().map(|k| OutboxEntry { key: (*k).into(), effect: effect.clone() }).collect();
    let (paid, paid_events) = pay(&order, "T-1");
    let keys = vec!["pay/T-1".to_owned()];
    {
        let store = db.open();
        store.create(commit(&order, 0, &events, &outbox)).await.unwrap();
        let pay_commit = Commit { dedupe_keys: &keys, ..commit(&paid, order.version(), &paid_events, &[]) };
        store.append(pay_commit).await.unwrap();
        let claimed = store.claim_outbox(t0(), TimeDelta::seconds(30), 1).await.unwrap();
        assert_eq!(claimed.len(), 1);
        store.complete_outbox("a").await.unwrap();
        store.fail_outbox("b", t0(), None, "gone").await.unwrap();
    }
    let store = db.open();
    assert_eq!(store.order_count().unwrap(), 1);
    assert_eq!(store.load(order.id()).await.unwrap(), Some(paid.clone()));
    let mut history = events.clone();
    history.extend(paid_events);
    assert_eq!(store.events(order.id()).await.unwrap(), history);
    assert_eq!(store.find_by_number(&order.number()).await.unwrap(), Some(order.id()));
    assert_eq!(store.find_by_key("pay/T-1").await.unwrap(), Some(order.id()));
    assert_eq!(store.outbox_pending().unwrap(), 1);
    assert_eq!(store.outbox_dead().unwrap(), vec![("b".to_owned(), "gone".to_owned())]);
    let dead = store.dead_letters(None, 10).await.unwrap().letters;
    assert_eq!(dead.iter().map(|d| (d.key.as_str(), d.died_at)).collect::<Vec<_>>(), vec![("b", Some(t0()))]);
    let page = store.list(&OrderFilter::default(), None, 10).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items.first().map(|s| s.status), Some(paid.status()));
    let claimed = store.claim_outbox(after(t0(), TimeDelta::minutes(1)), TimeDelta::seconds(30), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|i| (i.key.as_str(), i.attempts)).collect::<Vec<_>>(), vec![("c", 1)]);
    // The same commit again is a conflict, also after a reopen.
    let err = store.append(commit(&paid, order.version(), &[], &[])).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict { expected: order.version(), actual: paid.version() });
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let db = TempDb::new("garbage");
    std::fs::write(db.path(), b"this is not a database, just some text that is long enough to fill a header").unwrap();
    let err = SqliteStore::open(db.path()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_) | StoreError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("database is locked"), "{err}");
}

#[tokio::test]
async fn corrupt_json_is_reported_as_corrupt() {
    let db = TempDb::new("corrupt");
    let (order, events) = conformance::sample_order("alice", 1, t0());
    db.open().create(commit(&order, 0, &events, &[])).await.unwrap();
    {
        let conn = rusqlite::Connection::open(db.path()).unwrap();
        conn.execute("UPDATE orders SET snapshot = '{not json'", []).unwrap();
        conn.execute("UPDATE events SET body = '[]'", []).unwrap();
    }
    let store = db.open();
    assert!(matches!(store.load(order.id()).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(store.events(order.id()).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(store.list(&OrderFilter::default(), None, 10).await, Err(StoreError::Corrupt(_))));
}

#[tokio::test]
async fn listing_trusts_the_snapshot_over_stale_index_columns() {
    let db = TempDb::new("stale");
    let (order, events) = conformance::sample_order("alice", 1, t0());
    db.open().create(commit(&order, 0, &events, &[])).await.unwrap();
    {
        let conn = rusqlite::Connection::open(db.path()).unwrap();
        conn.execute("UPDATE orders SET status = 'cancelled'", []).unwrap();
    }
    let store = db.open();
    let cancelled = OrderFilter { status: Some(OrderStatus::Cancelled), ..Default::default() };
    let page = store.list(&cancelled, None, 10).await.unwrap();
    assert!(page.items.is_empty() && page.next.is_none(), "{page:?}");
    let page = store.list(&OrderFilter::default(), None, 10).await.unwrap();
    assert_eq!(page.items.iter().map(|s| s.status).collect::<Vec<_>>(), vec![order.status()]);
}

#[tokio::test]
async fn the_waybill_and_customer_columns_follow_the_snapshot() {
    let db = TempDb::new("index");
    let store = db.open();
    let (mut order, events) = conformance::sample_order("alice", 1, t0());
    store.create(commit(&order, 0, &events, &[])).await.unwrap();
    let package = orderflow::PackageId(1);
    let book = Action::BookShipment {
        package,
        carrier: "SF".into(),
        service: "standard".into(),
        reason: orderflow::ChoiceReason::stated("test"),
    };
    let waybill = Action::RecordWaybill { package, waybill: "WB-1".into() };
    let shipping = [
        Command::new(provider(), Action::CapturePayment { txn_id: "T-1".into(), amount: order.totals().total }),
        Command::new(warehouse(), Action::IssuePickList),
        Command::new(warehouse(), pack_remaining(&order)),
        Command::new(warehouse(), book),
        Command::new(orderflow::testing::carrier("SF"), waybill),
    ];
    for command in shipping {
        let (next, events) = step(&order, command);
        store.append(commit(&next, order.version(), &events, &[])).await.unwrap();
        order = next;
    }
    assert_eq!(store.find_by_waybill("SF", "WB-1").await.unwrap(), Some(order.id()));

    // Snapshots edited by hand (the store trusts the snapshot it is given), each on a new event.
    let edit = |order: &Order, change: &dyn Fn(&mut serde_json::Value)| {
        let (next, events) = anomaly(order, format!("A-{}", order.version()));
        (orderflow::testing::edited(&next, change), events)
    };
    let (next, events) = edit(&order, &|o| o["fulfilment"]["packages"][0]["waybill"] = "WB-2".into());
    store.append(commit(&next, order.version(), &events, &[])).await.unwrap();
    assert_eq!(store.find_by_waybill("SF", "WB-1").await.unwrap(), None, "a waybill the order no longer has");
    assert_eq!(store.find_by_waybill("SF", "WB-2").await.unwrap(), Some(order.id()));
    let (next1, events) = edit(&next, &|o| o["fulfilment"]["packages"][0]["carrier"] = "YT".into());
    store.append(commit(&next1, next.version(), &events, &[])).await.unwrap();
    assert_eq!(store.find_by_waybill("SF", "WB-2").await.unwrap(), None, "the waybill is another carrier's now");
    assert_eq!(store.find_by_waybill("YT", "WB-2").await.unwrap(), Some(order.id()));
    let next = next1;
    let (next2, events) = edit(&next, &|o| {
        o["fulfilment"]["packages"][0]["waybill"] = serde_json::Value::Null;
        o["customer"] = "bob".into();
    });
    store.append(commit(&next2, next.version(), &events, &[])).await.unwrap();
    assert_eq!(store.find_by_waybill("YT", "WB-2").await.unwrap(), None);
    let of = |customer: &str| OrderFilter {
        customer: Some(orderflow::CustomerId::new(customer).unwrap()),
        ..Default::default()
    };
    assert!(store.list(&of("alice"), None, 10).await.unwrap().items.is_empty());
    assert_eq!(
        store.list(&of("bob"), None, 10).await.unwrap().items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![order.id()]
    );
}

#[tokio::test]
async fn an_append_that_changes_the_number_is_refused_and_writes_nothing() {
    let store = SqliteStore::open_in_memory().unwrap();
    let (order, events) = conformance::sample_order("alice", 1, t0());
    store.create(commit(&order, 0, &events, &[])).await.unwrap();
    let (next, events) = anomaly(&order, "A-1".into());
    let other_number = serde_json::to_value(orderflow::OrderNumber::from_value(2).unwrap()).unwrap();
    let next = orderflow::testing::edited(&next, |json| json["number"] = other_number);
    let err = store.append(commit(&next, order.version(), &events, &[])).await.unwrap_err();
    assert!(matches!(&err, StoreError::Corrupt(m) if m.contains("cannot change its number")), "{err:?}");
    // On a stale version the conflict is reported first.
    let err = store.append(commit(&next, order.version() - 1, &events, &[])).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict { expected: order.version() - 1, actual: order.version() });
    assert_eq!(store.load(order.id()).await.unwrap(), Some(order.clone()));
    assert_eq!(store.events(order.id()).await.unwrap().len() as u64, order.version());
}

/// Ships every line of `order` in one parcel with `carrier` under `waybill`, commit by commit.
async fn ship(store: &SqliteStore, mut order: Order, carrier: &str, waybill: &str) -> Order {
    let package = orderflow::PackageId(1);
    let book = Action::BookShipment {
        package,
        carrier: carrier.into(),
        service: "standard".into(),
        reason: orderflow::ChoiceReason::stated("test"),
    };
    let shipping = [
        Command::new(
            provider(),
            Action::CapturePayment { txn_id: format!("T-{waybill}"), amount: order.totals().total },
        ),
        Command::new(warehouse(), Action::IssuePickList),
        Command::new(warehouse(), pack_remaining(&order)),
        Command::new(warehouse(), book),
        Command::new(orderflow::testing::carrier(carrier), Action::RecordWaybill { package, waybill: waybill.into() }),
    ];
    for command in shipping {
        let (next, events) = step(&order, command);
        store.append(commit(&next, order.version(), &events, &[])).await.unwrap();
        order = next;
    }
    order
}

#[tokio::test]
async fn a_version_2_file_gets_its_waybills_keyed_by_carrier() {
    let db = TempDb::new("waybills-v2");
    let store = db.open();
    let mut ids = Vec::new();
    for (n, carrier, waybill) in [(1, "SF", "WB-1"), (2, "YT", "WB-1"), (3, "SF", "WB-7"), (4, "SF", "WB-8")] {
        let (order, events) = conformance::sample_order("alice", n, t0());
        store.create(commit(&order, 0, &events, &[])).await.unwrap();
        ids.push(ship(&store, order, carrier, waybill).await.id());
    }
    drop(store);
    // Back to schema version 2: waybills keyed by number alone, each held by the order written
    // last. Order 4's snapshot is made to reuse order 3's SF waybill, which version 2 let it
    // take over; order 1 lost WB-1 to order 2 (another carrier's parcel with the same number).
    {
        let conn = rusqlite::Connection::open(db.path()).unwrap();
        conn.execute_batch(UNDO_V6).unwrap();
        conn.execute_batch(UNDO_V5).unwrap();
        conn.execute_batch(
            "ALTER TABLE events DROP COLUMN event_type;
             ALTER TABLE events DROP COLUMN schema_version;
             ALTER TABLE orders DROP COLUMN snapshot_version;
             DROP TABLE waybills;
             CREATE TABLE waybills (waybill TEXT PRIMARY KEY NOT NULL, order_id TEXT NOT NULL) WITHOUT ROWID;
             CREATE INDEX waybills_by_order ON waybills (order_id);",
        )
        .unwrap();
        conn.execute(
            "UPDATE orders SET snapshot = replace(snapshot, '\"WB-8\"', '\"WB-7\"') WHERE id = ?1",
            [ids[3].to_string()],
        )
        .unwrap();
        for (waybill, id) in [("WB-1", ids[1]), ("WB-7", ids[3])] {
            conn.execute("INSERT INTO waybills (waybill, order_id) VALUES (?1, ?2)", [waybill, &id.to_string()])
                .unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
    }

    let store = db.open();
    let expected = [
        ("SF", "WB-1", Some(ids[0])),
        ("YT", "WB-1", Some(ids[1])),
        // Claimed by two snapshots: it stays with the order the old index named.
        ("SF", "WB-7", Some(ids[3])),
        ("SF", "WB-8", None),
    ];
    for (carrier, waybill, owner) in expected {
        assert_eq!(store.find_by_waybill(carrier, waybill).await.unwrap(), owner, "{carrier} {waybill}");
    }
    drop(store);
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
    assert_eq!(version, orderflow::adapters::sqlite::SCHEMA_VERSION);
    let old_tables: i64 =
        conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'waybills_v2'", [], |row| row.get(0)).unwrap();
    assert_eq!(old_tables, 0, "the old table is dropped");
    let rows: i64 = conn.query_row("SELECT COUNT(*) FROM waybills", [], |row| row.get(0)).unwrap();
    assert_eq!(rows, 3);
}

#[test]
fn a_newer_schema_is_refused() {
    let db = TempDb::new("newer");
    drop(db.open());
    {
        let conn = rusqlite::Connection::open(db.path()).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    assert!(matches!(SqliteStore::open(db.path()), Err(StoreError::Corrupt(_))));
}

// ---------------------------------------------------------------------------------------------
// Two handles on one file
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_one_file_race_and_exactly_one_wins_each_version() {
    const ROUNDS: usize = 12;
    const WRITERS_PER_HANDLE: usize = 4;
    let db = TempDb::new("race");
    let handles = [Arc::new(db.open()), Arc::new(db.open())];
    let (order, events) = conformance::sample_order("alice", 1, t0());
    handles[0].create(commit(&order, 0, &events, &[])).await.unwrap();

    let mut current = order;
    for round in 0..ROUNDS {
        // Every writer appends a note to the same version through one of the two handles.
        let base = Arc::new(current.clone());
        let mut tasks = Vec::new();
        for (h, store) in handles.iter().enumerate() {
            for w in 0..WRITERS_PER_HANDLE {
                let store = Arc::clone(store);
                let base = Arc::clone(&base);
                tasks.push(tokio::spawn(async move {
                    // A payment anomaly can be recorded again and again: a fresh decision on any version.
                    let action = Action::RecordPaymentAnomaly {
                        txn_id: format!("A-{round}-{h}-{w}"),
                        amount: base.totals().total,
                        reason: orderflow::AnomalyReason::stated("amount does not match"),
                    };
                    let command = Command::new(provider(), action);
                    let decision = Workflow::default().decide(&base, &command, &Ctx::at(t0())).unwrap();
                    let mut next = (*base).clone();
                    for e in &decision.events {
                        evolve(&mut next, e);
                    }
                    let result = store.append(commit(&next, base.version(), &decision.events, &[])).await;
                    (result, next)
                }));
            }
        }
        let mut winners = Vec::new();
        for task in tasks {
            let (result, next) = task.await.unwrap();
            match result {
                Ok(()) => winners.push(next),
                Err(StoreError::Conflict { expected, actual }) => {
                    assert_eq!(expected, base.version());
                    assert!(actual > base.version());
                }
                Err(e) => panic!("round {round}: unexpected store error {e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one writer wins each version");
        current = winners.pop().unwrap();
        for store in &handles {
            assert_eq!(store.load(current.id()).await.unwrap().as_ref(), Some(&current));
        }
    }
    let history = handles[1].events(current.id()).await.unwrap();
    assert_eq!(history.len() as u64, current.version());
    assert_eq!(Order::from_events(&history).unwrap(), current);
}

#[tokio::test]
async fn a_database_locked_by_another_connection_gives_unavailable_not_a_raw_lock_error() {
    let db = TempDb::new("locked");
    let store = db.open();
    let (order, events) = conformance::sample_order("alice", 1, t0());
    store.create(commit(&order, 0, &events, &[])).await.unwrap();
    store.set_busy_timeout(std::time::Duration::from_millis(20)).unwrap();

    let other = rusqlite::Connection::open(db.path()).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (paid, paid_events) = pay(&order, "T-1");
    let err = store.append(commit(&paid, order.version(), &paid_events, &[])).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(!err.to_string().contains("database is locked"), "{err}");
    let err = store.claim_outbox(t0(), TimeDelta::seconds(30), 10).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    // Readers are not blocked by a writer (WAL).
    assert_eq!(store.load(order.id()).await.unwrap(), Some(order.clone()));

    other.execute_batch("ROLLBACK").unwrap();
    store.append(commit(&paid, order.version(), &paid_events, &[])).await.unwrap();
    assert_eq!(store.load(order.id()).await.unwrap(), Some(paid));
}

// ---------------------------------------------------------------------------------------------
// The engine on SQLite
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_engine_runs_a_whole_order_on_sqlite() {
    let db = TempDb::new("engine");
    let store = Arc::new(db.open());
    let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
    let carrier = Arc::new(FakeCarrier::new("SF", b"carrier-secret"));
    let inventory = Arc::new(MemoryInventory::new());
    for s in ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"] {
        inventory.set_stock(&Sku::new(s).unwrap(), 100);
    }
    let notifier = Arc::new(RecordingNotifier::new());
    let clock = Arc::new(FixedClock::new(t0()));
    let engine = Engine::new(
        Workflow::default(),
        Adapters {
            store: store.clone(),
            payments: gateway.clone(),
            logistics: carrier.clone(),
            inventory: inventory.clone(),
            notifier: notifier.clone(),
            clock: clock.clone(),
        },
    );

    let placed = engine.place(&buyer("alice"), &sample_form("alice"), None).await.unwrap();
    let id = placed.order.id();
    assert_eq!(placed.order.status(), OrderStatus::AwaitingPayment);
    engine.drain_outbox().await.unwrap();

    let order = engine.order(id).await.unwrap();
    let raw = gateway.notify_paid(&order.number(), order.payment().outstanding().unwrap(), clock.now());
    engine.handle_payment_notification(&raw).await.unwrap();
    // The same notification again changes nothing (dedupe keys in SQLite).
    engine.handle_payment_notification(&raw).await.unwrap();
    assert_eq!(engine.order(id).await.unwrap().status(), OrderStatus::ReadyToShip);

    engine.execute(id, Command::new(warehouse(), Action::IssuePickList)).await.unwrap();
    let order = engine.order(id).await.unwrap();
    let items = order.lines().iter().map(|l| PackageItem { line: l.id, quantity: l.quantity }).collect();
    let scanned = order
        .lines()
        .iter()
        .map(|l| ScannedItem {
            sku: l.sku.to_string(),
            product_name: l.product_name.to_string(),
            variant: l.variant.clone(),
            quantity: l.quantity,
        })
        .collect();
    let packed = engine.execute(id, Command::new(warehouse(), Action::Pack { items, scanned })).await.unwrap();
    let package = packed.order.fulfilment().packages.last().unwrap().id;
    engine.ship(&warehouse(), id, package).await.unwrap();
    engine.drain_outbox().await.unwrap();
    let order = engine.order(id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Shipped);
    let waybill = order.fulfilment().package(package).unwrap().waybill.clone().unwrap();
    assert_eq!(store.find_by_waybill("SF", &waybill).await.unwrap(), Some(id));

    clock.advance(TimeDelta::hours(30));
    let raw = carrier.push(&waybill, TrackingKind::Delivered, clock.now(), "D-1");
    engine.handle_tracking_push(&raw).await.unwrap();
    assert_eq!(engine.order(id).await.unwrap().status(), OrderStatus::Delivered);

    // Nobody confirms: the auto-confirm deadline (from SQLite's deadline index) completes it.
    clock.advance(TimeDelta::days(11));
    let due = engine.run_due(clock.now()).await.unwrap();
    assert!(due.fired >= 1, "{due:?}");
    engine.drain_outbox().await.unwrap();
    let order = engine.order(id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Completed);
    assert_eq!(Order::from_events(&engine.events(id).await.unwrap()).unwrap(), order);
    let kinds = notifier.kinds();
    for expected in ["placed", "paid", "shipped", "delivered", "completed"] {
        assert!(kinds.contains(&expected), "{expected} not sent: {kinds:?}");
    }
    assert_eq!(store.outbox_pending().unwrap(), 0);

    // A fresh handle on the file sees the finished order.
    drop(engine);
    let reopened = db.open();
    assert_eq!(reopened.load(id).await.unwrap(), Some(order));
}

// ---------------------------------------------------------------------------------------------
// Other processes: two writers, and a writer killed mid-stream
// ---------------------------------------------------------------------------------------------

const CHILD_DB: &str = "ORDERFLOW_SQLITE_CHILD_DB";
const CHILD_MODE: &str = "ORDERFLOW_SQLITE_CHILD_MODE";
const CHILD_TAG: &str = "ORDERFLOW_SQLITE_CHILD_TAG";
const CHILD_ORDER: &str = "ORDERFLOW_SQLITE_CHILD_ORDER";
const CHILD_COUNT: &str = "ORDERFLOW_SQLITE_CHILD_COUNT";

/// Starts this test binary again as a child process running only [`child_writer`].
fn spawn_child(db: &TempDb, mode: &str, tag: &str, order: &str, count: u64) -> std::process::Child {
    child_command(db, mode, tag, order, count).stdout(std::process::Stdio::null()).spawn().unwrap()
}

fn child_command(db: &TempDb, mode: &str, tag: &str, order: &str, count: u64) -> std::process::Command {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args(["sqlite_store::child_writer", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DB, db.path())
        .env(CHILD_MODE, mode)
        .env(CHILD_TAG, tag)
        .env(CHILD_ORDER, order)
        .env(CHILD_COUNT, count.to_string());
    command
}

fn anomaly(base: &Order, txn_id: String) -> (Order, Vec<orderflow::Event>) {
    step(
        base,
        Command::new(
            provider(),
            Action::RecordPaymentAnomaly {
                txn_id,
                amount: base.totals().total,
                reason: orderflow::AnomalyReason::stated("test"),
            },
        ),
    )
}

/// The body of the child processes; does nothing when run without the environment.
/// `contend`: appends `count` payment anomalies to one shared order, reloading and retrying on
/// conflicts. `create`: creates `count` orders (each with an outbox row and a dedupe key).
#[tokio::test]
#[ignore = "run as a child process by the two-process and crash tests"]
async fn child_writer() {
    let Ok(path) = std::env::var(CHILD_DB) else { return };
    let mode = std::env::var(CHILD_MODE).unwrap();
    let tag = std::env::var(CHILD_TAG).unwrap();
    let count: u64 = std::env::var(CHILD_COUNT).unwrap().parse().unwrap();
    let store = SqliteStore::open(path).unwrap();
    match mode.as_str() {
        "contend" => {
            let id: orderflow::OrderId = std::env::var(CHILD_ORDER).unwrap().parse().unwrap();
            for i in 0..count {
                loop {
                    let base = store.load(id).await.unwrap().unwrap();
                    let (next, events) = anomaly(&base, format!("A-{tag}-{i}"));
                    match store.append(commit(&next, base.version(), &events, &[])).await {
                        Ok(()) => break,
                        Err(StoreError::Conflict { .. }) => continue,
                        Err(e) => panic!("unexpected store error {e:?}"),
                    }
                }
            }
        }
        "create" => {
            let first: u64 = tag.parse().unwrap();
            for n in first..first + count {
                let (order, events) = conformance::sample_order("crash", n, t0());
                let effect = orderflow::Effect::ClosePayment { provider: "alipay".into() };
                let outbox = [OutboxEntry { key: format!("{}/close", order.id()), effect }];
                let keys = [format!("place/{}", order.id())];
                let create = Commit { dedupe_keys: &keys, ..commit(&order, 0, &events, &outbox) };
                store.create(create).await.unwrap();
                // The parent counts these: every line stands for a commit that returned.
                println!("committed {n}");
            }
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[tokio::test]
async fn two_processes_append_to_one_order_without_losing_a_write() {
    const PER_CHILD: u64 = 25;
    let db = TempDb::new("two-processes");
    let store = db.open();
    let (order, events) = conformance::sample_order("alice", 1, t0());
    store.create(commit(&order, 0, &events, &[])).await.unwrap();

    let children: Vec<_> =
        ["p1", "p2"].iter().map(|tag| spawn_child(&db, "contend", tag, &order.id().to_string(), PER_CHILD)).collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a child process failed");
    }

    let stored = store.load(order.id()).await.unwrap().unwrap();
    let history = store.events(order.id()).await.unwrap();
    assert_eq!(history.len() as u64, stored.version());
    assert_eq!(Order::from_events(&history).unwrap(), stored);
    for tag in ["p1", "p2"] {
        let mine = history
            .iter()
            .filter(|e| serde_json::to_string(e).unwrap().contains(&format!("\"A-{tag}-")))
            .filter(|e| matches!(e.change, orderflow::Change::PaymentAnomalyRecorded { .. }))
            .count() as u64;
        assert_eq!(mine, PER_CHILD, "every append of {tag} is stored exactly once");
    }
}

/// SIGKILL trials run by `cargo test`; `ORDERFLOW_CRASH_TRIALS=N` runs `N` instead.
const CRASH_TRIALS: u64 = 50;

/// Rows of the tables a commit writes, and whether they agree: every order has its events
/// `1..=version`, its outbox row and its dedupe key; SQLite's own integrity check passes.
fn consistent_counts(path: &Path) -> u64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    let one = |sql: &str| -> i64 { conn.query_row(sql, [], |row| row.get(0)).unwrap() };
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    let orders = one("SELECT COUNT(*) FROM orders");
    assert_eq!(one("SELECT COUNT(*) FROM outbox"), orders, "one outbox row per order");
    assert_eq!(one("SELECT COUNT(*) FROM dedupe_keys"), orders, "one dedupe key per order");
    assert_eq!(one("SELECT COALESCE(SUM(version), 0) FROM orders"), one("SELECT COUNT(*) FROM events"));
    let gaps = one("SELECT COUNT(*) FROM orders o
         WHERE (SELECT COUNT(*) FROM events e WHERE e.order_id = o.id AND e.seq BETWEEN 1 AND o.version) != o.version");
    assert_eq!(gaps, 0, "every order has exactly its events");
    u64::try_from(orders).unwrap()
}

#[tokio::test]
async fn a_writer_killed_mid_stream_leaves_only_whole_commits() {
    use std::io::BufRead;
    let trials: u64 = std::env::var("ORDERFLOW_CRASH_TRIALS").map_or(CRASH_TRIALS, |n| n.parse().unwrap());
    let db = TempDb::new("sigkill");
    drop(db.open());
    let mut stored = 0;
    for trial in 0..trials {
        // The child is killed after a varying number of acknowledged commits, so the kill lands
        // at different points of a commit (JSON, inserts, WAL write, checkpoint).
        let acknowledged = 1 + (trial * 7) % 23;
        let first = 1_000 + trial * 100_000;
        let mut child = child_command(&db, "create", &first.to_string(), "", 100_000)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = 0;
        while seen < acknowledged {
            let line = lines.next().unwrap_or_else(|| panic!("trial {trial}: the child stopped early")).unwrap();
            if line.contains("committed ") {
                seen += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();

        // Opening recovers the WAL; every commit that returned is there, and nothing half.
        let store = db.open();
        let count = store.order_count().unwrap();
        assert!(
            count >= stored + acknowledged,
            "trial {trial}: {count} orders, expected at least {stored} + {acknowledged}"
        );
        drop(store);
        assert_eq!(consistent_counts(db.path()), count, "trial {trial}");
        stored = count;
    }

    let store = db.open();
    let mut after = None;
    let mut seen = 0;
    loop {
        let page = store.list(&OrderFilter::default(), after, 100).await.unwrap();
        for summary in &page.items {
            let order = store.load(summary.id).await.unwrap().unwrap();
            let history = store.events(summary.id).await.unwrap();
            assert_eq!(Order::from_events(&history).unwrap(), order, "snapshot and events of one commit");
            assert_eq!(store.find_by_key(&format!("place/{}", order.id())).await.unwrap(), Some(order.id()));
            seen += 1;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, stored);
    assert_eq!(store.outbox_pending().unwrap(), stored, "one outbox row per stored order, none without one");
    // The file takes new writes after the crashes.
    let (order, events) = conformance::sample_order("after", 1, t0());
    store.create(commit(&order, 0, &events, &[])).await.unwrap();
}

/// A schema version 3 file holding rows the previous build wrote is upgraded: its events and
/// snapshot read through the upcasters, and the order can go on.
#[tokio::test]
async fn a_version_3_file_with_version_1_rows_reads_and_goes_on() {
    let (events, order) = v1_history();
    let db = TempDb::new("rows-v1");
    drop(db.open());
    {
        let conn = rusqlite::Connection::open(db.path()).unwrap();
        conn.execute_batch(UNDO_V6).unwrap();
        conn.execute_batch(UNDO_V5).unwrap();
        conn.execute_batch(
            "ALTER TABLE events DROP COLUMN event_type;
             ALTER TABLE events DROP COLUMN schema_version;
             ALTER TABLE orders DROP COLUMN snapshot_version;
",
        )
        .unwrap();
        let micros = order.placed_at().timestamp_micros();
        conn.execute(
            "INSERT INTO orders (id, number, customer, status, placed_at, placed_at_ns, version, snapshot)
             VALUES (?1, ?2, ?3, ?4, ?5, 0, 6, ?6)",
            rusqlite::params![
                order.id().to_string(),
                order.number().to_string(),
                order.customer().as_str(),
                order.status().as_str(),
                micros,
                V1_SNAPSHOT.trim()
            ],
        )
        .unwrap();
        for (seq, body) in V1_EVENTS.lines().enumerate() {
            conn.execute(
                "INSERT INTO events (order_id, seq, body) VALUES (?1, ?2, ?3)",
                rusqlite::params![order.id().to_string(), seq + 1, body],
            )
            .unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
    }
    let store = db.open();
    assert_eq!(store.load(order.id()).await.unwrap().as_ref(), Some(&order));
    assert_eq!(store.events(order.id()).await.unwrap(), events);
    let page = store.list(&OrderFilter::default(), None, 10).await.unwrap();
    assert_eq!(page.items.len(), 1);
    // The order goes on in the current version next to its old rows.
    let completed = Action::CompleteRefund { refund: order.payment().refunds[0].id, reference: "R1".into() };
    let (next, more) = step(&order, Command::new(provider(), completed));
    store.append(commit(&next, order.version(), &more, &[])).await.unwrap();
    assert_eq!(store.load(order.id()).await.unwrap(), Some(next));
    assert_eq!(store.events(order.id()).await.unwrap(), [events.clone(), more].concat());
    drop(store);
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    let types: Vec<String> = conn
        .prepare("SELECT event_type FROM events ORDER BY seq")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(types[..events.len()], events.iter().map(|e| e.change.name()).collect::<Vec<_>>());
}

/// A schema version 4 file is upgraded to version 5: the query columns are filled from the
/// snapshots (a held order is found on hold, for its reason), the counts per status are those
/// of the stored orders, and the feed starts with the stored events, order by order, before
/// those written after the upgrade.
#[tokio::test]
async fn a_version_4_file_gets_query_columns_counts_and_a_feed() {
    let db = TempDb::new("queries-v4");
    let store = db.open();
    let (first, first_events) = conformance::sample_order("alice", 1, t0());
    store.create(commit(&first, 0, &first_events, &[])).await.unwrap();
    let (second, second_events) = conformance::sample_order("bob", 2, t0());
    store.create(commit(&second, 0, &second_events, &[])).await.unwrap();
    let hold = Action::Hold { reasons: vec![HoldReason::SuspectedFraud], note: String::new() };
    let (held, hold_events) = step(&second, Command::new(reviewer(), hold));
    store.append(commit(&held, second.version(), &hold_events, &[])).await.unwrap();
    drop(store);
    {
        let conn = rusqlite::Connection::open(db.path()).unwrap();
        conn.execute_batch(UNDO_V6).unwrap();
        conn.execute_batch(UNDO_V5).unwrap();
        conn.pragma_update(None, "user_version", 4).unwrap();
    }
    let store = db.open();
    let found = store.query(&OrderQuery::on_hold(Some(HoldReasonKind::SuspectedFraud))).await.unwrap();
    assert_eq!(found.items.iter().map(|s| s.id).collect::<Vec<_>>(), vec![held.id()]);
    let counts = store.count_by_status().await.unwrap();
    assert_eq!(counts, [(first.status(), 1), (OrderStatus::OnHold, 1)].into_iter().collect());

    let (third, third_events) = conformance::sample_order("carol", 3, t0());
    store.create(commit(&third, 0, &third_events, &[])).await.unwrap();
    let feed = store.events_after(FeedCursor::START, 100).await.unwrap();
    let fed: Vec<_> = feed.events.iter().map(|e| (e.order_id, e.event.seq)).collect();
    let mut old: Vec<_> = first_events
        .iter()
        .map(|e| (first.id(), e.seq))
        .chain(second_events.iter().chain(&hold_events).map(|e| (second.id(), e.seq)))
        .collect();
    old.sort();
    let new = third_events.iter().map(|e| (third.id(), e.seq));
    assert_eq!(fed, old.into_iter().chain(new).collect::<Vec<_>>());
}

/// Rows written before refund reasons were typed (events of version 5, snapshots of version 6,
/// the reason an English sentence) read with the typed reason, through every read path.
#[tokio::test]
async fn version_5_rows_read_their_refund_reasons_typed() {
    old_rows_read_typed(crate::old_rows::late_payment(), "refund-reasons-v5").await;
}

/// Rows written before carrier choices were typed (events of version 6, snapshots of version
/// 7, the reason an English sentence) read with the typed reason, through every read path.
#[tokio::test]
async fn version_6_rows_read_their_carrier_choices_typed() {
    old_rows_read_typed(crate::old_rows::booked_cheapest(), "carrier-choices-v6").await;
}

/// Stores `rows`' order, rewrites its rows into their older form, and reads them back through
/// the store's load, events and feed: each reads as the current build holds it.
async fn old_rows_read_typed(rows: crate::old_rows::OldRows, name: &str) {
    let id = rows.order.id();
    let db = TempDb::new(name);
    db.open().create(commit(&rows.order, 0, &rows.events, &[])).await.unwrap();
    {
        let conn = rusqlite::Connection::open(db.path()).unwrap();
        for (event, old) in rows.events.iter().zip(&rows.old_events) {
            let params = rusqlite::params![old.to_string(), rows.event_version, id.to_string(), event.seq];
            conn.execute("UPDATE events SET body = ?1, schema_version = ?2 WHERE order_id = ?3 AND seq = ?4", params)
                .unwrap();
        }
        let params = rusqlite::params![rows.old_snapshot.to_string(), rows.snapshot_version, id.to_string()];
        conn.execute("UPDATE orders SET snapshot = ?1, snapshot_version = ?2 WHERE id = ?3", params).unwrap();
        let stored: String = conn.query_row("SELECT snapshot FROM orders", [], |row| row.get(0)).unwrap();
        assert!(stored.contains(rows.old_text), "the old form is stored");
    }
    let store = db.open();
    assert_eq!(store.load(id).await.unwrap().unwrap(), rows.order);
    assert_eq!(store.events(id).await.unwrap(), rows.events);
    let fed = store.events_after(FeedCursor::START, 100).await.unwrap();
    assert_eq!(fed.events.into_iter().map(|e| e.event).collect::<Vec<_>>(), rows.events);
}
