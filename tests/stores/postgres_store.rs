//! `PgStore` on a real PostgreSQL server: the store conformance suite, appends raced from two
//! stores, several engines sharing one database, and lease takeover.
//!
//! The server comes from `DATABASE_URL` (`scripts/with-postgres.sh` starts a throwaway one and
//! sets it; `scripts/test.sh` runs everything inside it). Each test works in a schema of its own,
//! `orderflow_test_<random>`, dropped at the end. Without `DATABASE_URL` the tests fail in CI
//! (`CI` set) and are skipped with a message elsewhere.
#![cfg(feature = "postgres")]

use crate::v1_rows::{V1_EVENTS, V1_SNAPSHOT, v1_history};

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::TimeDelta;
use orderflow::adapters::postgres::{PgOptions, PgStore};
use orderflow::decide::after;
use orderflow::engine::{Adapters, Engine};
use orderflow::ports::{
    Commit, FeedCursor, FeedEvent, OrderQuery, OrderRepository, OutboxEntry, StoreError, WorkQueue,
};
use orderflow::stored::StoredEvent;
use orderflow::testing::{
    FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, conformance, pack_remaining, provider, sample_form,
    t0,
};
use orderflow::{
    Action, Change, Command, Ctx, Effect, Event, MemoryInventory, Order, OrderId, OrderStatus, Sku, Workflow, evolve,
};

/// The server to test on, or `None` (with a message) when there is none outside CI.
fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("DATABASE_URL is not set: in CI the PostgreSQL tests must run (use scripts/with-postgres.sh)")
        }
        _ => {
            eprintln!(
                "SKIPPED: DATABASE_URL is not set; run `scripts/with-postgres.sh cargo test --features postgres`"
            );
            None
        }
    }
}

/// A schema of its own for one test, dropped by [`TestDb::drop_all`].
struct TestDb {
    url: String,
    schemas: RefCell<Vec<String>>,
}

impl TestDb {
    fn new() -> Option<TestDb> {
        database_url().map(|url| TestDb { url, schemas: RefCell::new(Vec::new()) })
    }

    fn fresh_schema(&self) -> String {
        let schema = format!("orderflow_test_{}", OrderId::new_v7().to_string().replace('-', ""));
        self.schemas.borrow_mut().push(schema.clone());
        schema
    }

    async fn store(&self, schema: &str) -> PgStore {
        PgStore::connect(PgOptions::new(self.url.clone()).schema(schema).pool_size(8)).await.unwrap()
    }

    async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    async fn drop_all(self) {
        let client = self.client().await;
        for schema in self.schemas.take() {
            client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await.unwrap();
        }
    }
}

fn commit<'a>(order: &'a Order, expected: u64, events: &'a [Event], outbox: &'a [OutboxEntry]) -> Commit<'a> {
    Commit { order, expected_version: expected, events, outbox, dedupe_keys: &[] }
}

fn pay(order: &Order, txn: &str) -> (Order, Vec<Event>) {
    let action = Action::CapturePayment { txn_id: txn.into(), amount: order.totals().total };
    let decision = Workflow::default().decide(order, &Command::new(provider(), action), &Ctx::at(t0())).unwrap();
    let mut next = order.clone();
    for e in &decision.events {
        evolve(&mut next, e);
    }
    (next, decision.events)
}

#[tokio::test]
async fn postgres_conformance_run_all() {
    let Some(db) = TestDb::new() else { return };
    // `run_all` wants a plain function making empty stores: connect them beforehand.
    // Once with copies of the orders written (the default) and once reading every load.
    for cached_orders in [1024, 0] {
        let mut stores = Vec::new();
        for _ in 0..18 {
            let schema = db.fresh_schema();
            let options = PgOptions::new(db.url.clone()).schema(&schema).pool_size(8).cached_orders(cached_orders);
            stores.push(PgStore::connect(options).await.unwrap());
        }
        stores.reverse();
        let stores = RefCell::new(stores);
        conformance::run_all(|| stores.borrow_mut().pop().expect("enough stores for every check")).await;
    }
    db.drop_all().await;
}

#[tokio::test]
async fn postgres_connect_twice_migrates_once_and_keeps_data() {
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let (order, events) = conformance::sample_order("alice", 1, t0());
    let first = db.store(&schema).await;
    first.create(commit(&order, 0, &events, &[])).await.unwrap();
    // Several instances starting at once share the migration.
    let (a, b, c) = tokio::join!(db.store(&schema), db.store(&schema), db.store(&schema));
    for store in [&a, &b, &c] {
        assert_eq!(store.load(order.id()).await.unwrap().as_ref(), Some(&order));
    }
    let versions: i64 = db
        .client()
        .await
        .query_one(&format!("SELECT count(*) FROM \"{schema}\".schema_version"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(versions, orderflow::adapters::postgres::MIGRATIONS.len() as i64, "one row per migration");
    assert!(
        PgStore::connect(PgOptions::new(db.url.clone()).schema("Bad; DROP")).await.is_err(),
        "a schema name that needs quoting is refused"
    );
    db.drop_all().await;
}

#[tokio::test]
async fn postgres_upgrade_from_migration_1_keeps_dead_letters_requeueable() {
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let (order, events) = conformance::sample_order("alice", 1, t0());
    let effect = Effect::ClosePayment { provider: "alipay".into() };
    let outbox = vec![OutboxEntry { key: "k".into(), effect: effect.clone() }];
    db.store(&schema).await.create(commit(&order, 0, &events, &outbox)).await.unwrap();
    // Back to the tables of migration 1, with a dead letter written by that version.
    db.client()
        .await
        .batch_execute(&format!(
            "ALTER TABLE \"{schema}\".outbox DROP COLUMN failed_at;
             DROP INDEX \"{schema}\".outbox_dead;
             DROP TABLE \"{schema}\".waybills;
             CREATE TABLE \"{schema}\".waybills (waybill text PRIMARY KEY, order_id uuid NOT NULL);
             CREATE INDEX waybills_order ON \"{schema}\".waybills (order_id);
             DELETE FROM \"{schema}\".schema_version WHERE version >= 2;
             UPDATE \"{schema}\".outbox SET dead = true, attempts = 12, last_error = 'down' WHERE key = 'k';"
        ))
        .await
        .unwrap();

    let store = db.store(&schema).await;
    let dead = store.dead_letters(None, 10).await.unwrap().letters;
    assert_eq!(
        dead.iter().map(|d| (d.key.as_str(), d.attempts, d.last_error.as_str(), d.died_at)).collect::<Vec<_>>(),
        vec![("k", 12, "down", None)]
    );
    assert!(store.requeue_dead("k", t0()).await.unwrap());
    let claimed = store.claim_outbox(t0(), TimeDelta::seconds(30), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|i| (i.key.as_str(), i.attempts)).collect::<Vec<_>>(), vec![("k", 1)]);
    db.drop_all().await;
}

/// The commands that ship every line of `order` in one parcel with `carrier` under `waybill`.
fn shipping(order: &Order, carrier: &str, waybill: &str) -> [Command; 5] {
    let package = orderflow::PackageId(1);
    let book = Action::BookShipment {
        package,
        carrier: carrier.into(),
        service: "standard".into(),
        reason: orderflow::ChoiceReason::stated("test"),
    };
    [
        Command::new(
            provider(),
            Action::CapturePayment { txn_id: format!("T-{waybill}"), amount: order.totals().total },
        ),
        Command::new(orderflow::testing::warehouse(), Action::IssuePickList),
        Command::new(orderflow::testing::warehouse(), pack_remaining(order)),
        Command::new(orderflow::testing::warehouse(), book),
        Command::new(orderflow::testing::carrier(carrier), Action::RecordWaybill { package, waybill: waybill.into() }),
    ]
}

/// `order` after `command`, and the command's events.
fn decided(order: &Order, command: &Command) -> (Order, Vec<Event>) {
    let decision = Workflow::default().decide(order, command, &Ctx::at(t0())).unwrap();
    let mut next = order.clone();
    for e in &decision.events {
        evolve(&mut next, e);
    }
    (next, decision.events)
}

/// Ships every line of `order` in one parcel with `carrier` under `waybill`, commit by commit.
async fn ship(store: &PgStore, mut order: Order, carrier: &str, waybill: &str) -> Order {
    for command in shipping(&order, carrier, waybill) {
        let (next, events) = decided(&order, &command);
        store.append(commit(&next, order.version(), &events, &[])).await.unwrap();
        order = next;
    }
    order
}

/// Every row of `table` in `schema` as JSON text, in the order of `order_by`, without the
/// writing transaction's id (the one column two writes of the same commits differ in).
async fn table_rows(client: &tokio_postgres::Client, schema: &str, table: &str, order_by: &str) -> Vec<String> {
    let sql = format!("SELECT (to_jsonb(t) - 'xact_id')::text FROM \"{schema}\".{table} AS t ORDER BY {order_by}");
    client.query(&sql, &[]).await.unwrap().iter().map(|row| row.get(0)).collect()
}

/// `create_many` writes exactly the rows `create` writes for the same commits, one order after
/// another (the feed hands them out in commit order), and counts them; a batch with a refused
/// commit is created one at a time up to the refusal, which it returns.
#[tokio::test]
async fn postgres_create_many_writes_what_create_writes() {
    let Some(db) = TestDb::new() else { return };
    let (one_by_one, at_once) = (db.fresh_schema(), db.fresh_schema());
    let (a, b) = (db.store(&one_by_one).await, db.store(&at_once).await);
    let mut orders: Vec<(Order, Vec<Event>)> = (1..=4)
        .map(|n| conformance::sample_order(&format!("c{n}"), n, after(t0(), TimeDelta::minutes(n as i64))))
        .collect();
    // One order shipped (a waybill row), from all its events at once.
    let (mut order, mut events) = orders.pop().unwrap();
    for command in shipping(&order, "SF", "SF-1") {
        let (next, more) = decided(&order, &command);
        events.extend(more);
        order = next;
    }
    orders.push((order, events));
    let keys = vec!["place/c2".to_owned()];
    let outbox = [OutboxEntry { key: "c1/close".into(), effect: Effect::ClosePayment { provider: "alipay".into() } }];
    let commits: Vec<Commit<'_>> = orders
        .iter()
        .enumerate()
        .map(|(i, (order, events))| Commit {
            outbox: if i == 0 { &outbox } else { &[] },
            dedupe_keys: if i == 1 { &keys } else { &[] },
            ..commit(order, 0, events, &[])
        })
        .collect();
    for c in &commits {
        a.create(*c).await.unwrap();
    }
    b.create_many(&commits).await.unwrap();

    let client = db.client().await;
    for (table, order_by) in [
        ("orders", "id"),
        ("events", "order_id, seq"),
        ("dedupe_keys", "key"),
        ("outbox", "key"),
        ("waybills", "waybill"),
    ] {
        let written = table_rows(&client, &at_once, table, order_by).await;
        assert!(!written.is_empty(), "{table}");
        assert_eq!(written, table_rows(&client, &one_by_one, table, order_by).await, "{table}");
    }
    assert_eq!(b.count_by_status().await.unwrap(), a.count_by_status().await.unwrap());
    let expected: Vec<(OrderId, u64)> =
        orders.iter().flat_map(|(order, events)| events.iter().map(|e| (order.id(), e.seq))).collect();
    let (fed, _) = feed(&b, FeedCursor::START, expected.len()).await;
    assert_eq!(fed, expected, "the feed hands out the orders' events in commit order");
    assert_eq!(b.find_by_waybill("SF", "SF-1").await.unwrap(), Some(orders[3].0.id()));

    // The second commit takes number 1 again: the first is written, the rest are not.
    let fresh = conformance::sample_order("c5", 5, t0());
    let (taken, taken_events) = conformance::sample_order("c6", 1, t0());
    let late = conformance::sample_order("c7", 7, t0());
    let refused =
        [commit(&fresh.0, 0, &fresh.1, &[]), commit(&taken, 0, &taken_events, &[]), commit(&late.0, 0, &late.1, &[])];
    let err = b.create_many(&refused).await.unwrap_err();
    assert_eq!(err, StoreError::DuplicateOrderNumber(taken.number()));
    assert_eq!(b.load(fresh.0.id()).await.unwrap(), Some(fresh.0));
    assert_eq!(b.load(taken.id()).await.unwrap(), None);
    assert_eq!(b.load(late.0.id()).await.unwrap(), None);
    db.drop_all().await;
}

#[tokio::test]
async fn postgres_upgrade_to_migration_3_keys_waybills_by_carrier() {
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let store = db.store(&schema).await;
    let mut ids = Vec::new();
    for (n, carrier, waybill) in [(1, "SF", "WB-1"), (2, "YT", "WB-1"), (3, "SF", "WB-7"), (4, "SF", "WB-8")] {
        let (order, events) = conformance::sample_order("alice", n, t0());
        store.create(commit(&order, 0, &events, &[])).await.unwrap();
        ids.push(ship(&store, order, carrier, waybill).await.id());
    }
    drop(store);
    // Back to the tables of migration 2: waybills keyed by number alone, each held by the order
    // written last. Order 4's snapshot is made to reuse order 3's SF waybill, which that version
    // let it take over; order 1 lost WB-1 to order 2 (another carrier's parcel, same number).
    let client = db.client().await;
    client
        .batch_execute(&format!(
            "DROP TABLE \"{schema}\".waybills;
             CREATE TABLE \"{schema}\".waybills (waybill text PRIMARY KEY, order_id uuid NOT NULL);
             CREATE INDEX waybills_order ON \"{schema}\".waybills (order_id);
             DELETE FROM \"{schema}\".schema_version WHERE version >= 3;
             UPDATE \"{schema}\".orders SET snapshot = replace(snapshot::text, '\"WB-8\"', '\"WB-7\"')::jsonb
                 WHERE id = '{}';
             INSERT INTO \"{schema}\".waybills VALUES ('WB-1', '{}'), ('WB-7', '{}');",
            ids[3], ids[1], ids[3]
        ))
        .await
        .unwrap();

    let store = db.store(&schema).await;
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
    let count = |sql: String| {
        let client = &client;
        async move { client.query_one(&sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count(format!("SELECT count(*) FROM \"{schema}\".waybills")).await, 3);
    assert_eq!(
        count(format!("SELECT count(*) FROM pg_tables WHERE schemaname = '{schema}' AND tablename = 'waybills_v2'"))
            .await,
        0,
        "the old table is dropped"
    );
    db.drop_all().await;
}

#[tokio::test]
async fn postgres_unreachable_server_is_unavailable_without_details() {
    if database_url().is_none() {
        return;
    }
    let mut options = PgOptions::new("postgres://nobody:secret-password@127.0.0.1:1/nothing");
    options.timeout = std::time::Duration::from_secs(5);
    match PgStore::connect(options).await {
        Err(StoreError::Unavailable(message)) => assert!(!message.contains("secret"), "{message}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_appends_from_two_stores_have_one_winner_per_version() {
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let stores = [Arc::new(db.store(&schema).await), Arc::new(db.store(&schema).await)];
    let mut bases = Vec::new();
    for n in 0..4 {
        let (order, events) = conformance::sample_order("alice", 10 + n, t0());
        stores[0].create(commit(&order, 0, &events, &[])).await.unwrap();
        bases.push(Arc::new(order));
    }
    let mut tasks = Vec::new();
    for (o, base) in bases.iter().enumerate() {
        for i in 0..24 {
            let store = Arc::clone(&stores[i % 2]);
            let base = Arc::clone(base);
            tasks.push(tokio::spawn(async move {
                let (paid, events) = pay(&base, &format!("T-{o}-{i}"));
                let outbox = [OutboxEntry {
                    key: format!("{}/race/{i}", base.id()),
                    effect: Effect::ClosePayment { provider: "alipay".into() },
                }];
                (base.id(), store.append(commit(&paid, base.version(), &events, &outbox)).await)
            }));
        }
    }
    let version = bases[0].version();
    let mut wins: HashMap<OrderId, usize> = HashMap::new();
    for task in tasks {
        let (id, result) = task.await.unwrap();
        match result {
            Ok(()) => *wins.entry(id).or_default() += 1,
            Err(StoreError::Conflict { expected, actual }) => assert_eq!((expected, actual), (version, version + 1)),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    for base in &bases {
        assert_eq!(wins.get(&base.id()), Some(&1), "exactly one append wins on order {}", base.id());
        let events = stores[1].events(base.id()).await.unwrap();
        assert_eq!(events.len() as u64, base.version() + 1);
        let loaded = stores[1].load(base.id()).await.unwrap().unwrap();
        assert_eq!(loaded.version(), base.version() + 1);
        assert_eq!(loaded.status(), OrderStatus::ReadyToShip);
    }
    // Only the winners' outbox entries exist: one per order.
    let claimed = stores[0].claim_outbox(after(t0(), TimeDelta::days(1)), TimeDelta::minutes(1), 1000).await.unwrap();
    let race_items = claimed.iter().filter(|i| i.key.contains("/race/")).count();
    assert_eq!(race_items, bases.len());
    db.drop_all().await;
}

type PgEngine = Engine<
    Adapters<
        Arc<PgStore>,
        Arc<FakeGateway>,
        Arc<FakeCarrier>,
        Arc<MemoryInventory>,
        Arc<RecordingNotifier>,
        Arc<FixedClock>,
    >,
>;

/// Several engines ("instances") on one schema, sharing the fakes, the stock and a clock.
struct Instances {
    engines: Vec<Arc<PgEngine>>,
    gateway: Arc<FakeGateway>,
    notifier: Arc<RecordingNotifier>,
    clock: Arc<FixedClock>,
}

impl Instances {
    async fn start(db: &TestDb, schema: &str, count: usize) -> Instances {
        let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
        let carrier = Arc::new(FakeCarrier::new("SF", b"carrier-secret"));
        let inventory = Arc::new(MemoryInventory::new());
        for s in ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"] {
            inventory.set_stock(&Sku::new(s).unwrap(), 1_000);
        }
        let notifier = Arc::new(RecordingNotifier::new());
        let clock = Arc::new(FixedClock::new(t0()));
        let mut engines = Vec::new();
        for _ in 0..count {
            let adapters = Adapters {
                store: Arc::new(db.store(schema).await),
                payments: gateway.clone(),
                logistics: carrier.clone(),
                inventory: inventory.clone(),
                notifier: notifier.clone(),
                clock: clock.clone(),
            };
            engines.push(Arc::new(Engine::new(Workflow::default(), adapters)));
        }
        Instances { engines, gateway, notifier, clock }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_several_engines_fire_each_deadline_once_and_deliver_every_effect() {
    const ORDERS: usize = 30;
    const ENGINES: usize = 3;
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let Instances { engines, gateway, notifier, clock } = Instances::start(&db, &schema, ENGINES).await;

    // Orders placed on every engine; every third one paid.
    let mut unpaid = Vec::new();
    let mut paid = Vec::new();
    for i in 0..ORDERS {
        let engine = &engines[i % ENGINES];
        let customer = format!("buyer{i}");
        let placed = engine.place(&buyer(&customer), &sample_form(&customer), None).await.unwrap();
        if i % 3 == 0 {
            let raw = gateway.notify_paid(&placed.order.number(), placed.order.totals().total, clock.now());
            engine.handle_payment_notification(&raw).await.unwrap();
            paid.push(placed.order.id());
        } else {
            unpaid.push(placed.order.id());
        }
    }

    // Past every pay-by time: all engines run their timers and outbox at once, a few rounds.
    clock.advance(TimeDelta::hours(1));
    let mut tasks = Vec::new();
    for engine in &engines {
        let engine = Arc::clone(engine);
        tasks.push(tokio::spawn(async move {
            let mut fired = 0;
            for _ in 0..5 {
                fired += engine.run_due(engine.adapters().clock.now()).await.unwrap().fired;
                engine.dispatch_outbox().await.unwrap();
                tokio::task::yield_now().await;
            }
            fired
        }));
    }
    let mut fired = 0;
    for task in tasks {
        fired += task.await.unwrap();
    }
    // Whatever is left (leased by nobody now) is delivered by any engine.
    for engine in &engines {
        engine.drain_outbox().await.unwrap();
    }

    let store = &engines[0].adapters().store;
    for id in &unpaid {
        let events = store.events(*id).await.unwrap();
        let cancelled = events.iter().filter(|e| e.change.name() == "order_cancelled").count();
        assert_eq!(cancelled, 1, "order {id}: the pay-by deadline fires exactly once");
        assert_eq!(store.load(*id).await.unwrap().unwrap().status(), OrderStatus::Cancelled);
    }
    for id in &paid {
        let events = store.events(*id).await.unwrap();
        assert!(events.iter().all(|e| !matches!(e.change, Change::OrderCancelled { .. })), "paid order {id}");
    }
    assert_eq!(fired, unpaid.len(), "the engines together fired each due deadline once");
    assert!(store.due_deadlines(clock.now(), 100).await.unwrap().is_empty(), "nothing is due any more");

    // Every outbox row was delivered; the notifier saw every notification key.
    let client = db.client().await;
    let rows = client.query(&format!("SELECT key, effect, done, dead FROM \"{schema}\".outbox"), &[]).await.unwrap();
    assert!(!rows.is_empty());
    let mut notify_keys = BTreeSet::new();
    for row in &rows {
        let key: String = row.get(0);
        let effect: Effect = serde_json::from_value(row.get(1)).unwrap();
        let (done, dead): (bool, bool) = (row.get(2), row.get(3));
        assert!(done && !dead, "outbox item {key} was delivered (done {done}, dead {dead})");
        if matches!(effect, Effect::Notify(_)) {
            notify_keys.insert(key);
        }
    }
    let sent: BTreeSet<String> = notifier.sent().into_iter().map(|(key, _)| key).collect();
    assert_eq!(sent, notify_keys, "the notifier got every notification key, each recorded once");
    assert!(notify_keys.len() >= ORDERS, "at least one notification per order");
    eprintln!(
        "{} outbox rows, {} notifications, {} duplicate deliveries dropped by the notifier",
        rows.len(),
        notify_keys.len(),
        notifier.duplicates_dropped()
    );
    db.drop_all().await;
}

#[tokio::test]
async fn postgres_expired_lease_is_taken_over_by_another_instance() {
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let a = db.store(&schema).await;
    let b = db.store(&schema).await;
    let (order, events) = conformance::sample_order("alice", 1, t0());
    let outbox: Vec<OutboxEntry> = (1..=3)
        .map(|n| OutboxEntry { key: format!("k{n}"), effect: Effect::ClosePayment { provider: "alipay".into() } })
        .collect();
    a.create(commit(&order, 0, &events, &outbox)).await.unwrap();
    let lease = TimeDelta::seconds(30);
    let at = |s: i64| after(t0(), TimeDelta::seconds(s));

    // Instance a claims everything and dies without completing.
    let claimed_a = a.claim_outbox(at(0), lease, 10).await.unwrap();
    assert_eq!(
        claimed_a.iter().map(|i| (i.key.as_str(), i.attempts)).collect::<Vec<_>>(),
        [("k1", 1), ("k2", 1), ("k3", 1)]
    );
    drop(a);
    assert!(b.claim_outbox(at(29), lease, 10).await.unwrap().is_empty(), "leased items wait for the lease");
    let claimed_b = b.claim_outbox(at(31), lease, 10).await.unwrap();
    assert_eq!(
        claimed_b.iter().map(|i| (i.key.as_str(), i.attempts)).collect::<Vec<_>>(),
        [("k1", 2), ("k2", 2), ("k3", 2)]
    );
    for item in &claimed_b {
        assert_eq!(item.order_id, order.id());
        b.complete_outbox(&item.key).await.unwrap();
    }
    assert!(b.claim_outbox(at(3600), lease, 10).await.unwrap().is_empty(), "completed items never come back");
    db.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrent_claims_never_hand_out_an_item_twice() {
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let stores = [Arc::new(db.store(&schema).await), Arc::new(db.store(&schema).await)];
    let (order, events) = conformance::sample_order("alice", 1, t0());
    let outbox: Vec<OutboxEntry> = (0..200)
        .map(|n| OutboxEntry { key: format!("k{n:03}"), effect: Effect::ClosePayment { provider: "alipay".into() } })
        .collect();
    stores[0].create(commit(&order, 0, &events, &outbox)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(&stores[i % 2]);
        tasks.push(tokio::spawn(async move {
            let mut keys = Vec::new();
            loop {
                let items = store.claim_outbox(t0(), TimeDelta::minutes(5), 7).await.unwrap();
                if items.is_empty() {
                    return keys;
                }
                keys.extend(items.into_iter().map(|i| i.key));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 200, "every item is claimed once");
    assert_eq!(unique.len(), 200, "no item is claimed twice while leased");
    db.drop_all().await;
}

// ---------------------------------------------------------------------------------------------
// Separate OS processes
// ---------------------------------------------------------------------------------------------

/// Set in a child process: what it does (`claim` or `crash`).
const WORKER_ENV: &str = "ORDERFLOW_PG_WORKER";
/// Set in a child process: the schema to work in.
const SCHEMA_ENV: &str = "ORDERFLOW_PG_SCHEMA";
const PROCESS_TEST: &str =
    "postgres_store::postgres_separate_processes_share_the_outbox_and_take_over_a_dead_ones_lease";

/// The child's side: `crash` claims five items for 30 s and exits without completing them;
/// `claim` claims and completes items until none is left, printing `CLAIMED <key>` for each.
async fn run_worker(mode: &str, url: String, schema: String) {
    let store = PgStore::connect(PgOptions::new(url).schema(schema).pool_size(2)).await.unwrap();
    let now = after(t0(), TimeDelta::seconds(10));
    if mode == "crash" {
        for item in store.claim_outbox(t0(), TimeDelta::seconds(30), 5).await.unwrap() {
            println!("CLAIMED {}", item.key);
        }
        // Dies mid-lease: no completion, no clean shutdown.
        std::process::exit(0);
    }
    loop {
        let items = store.claim_outbox(now, TimeDelta::minutes(5), 3).await.unwrap();
        if items.is_empty() {
            return;
        }
        for item in items {
            println!("CLAIMED {}", item.key);
            store.complete_outbox(&item.key).await.unwrap();
        }
    }
}

/// Runs this test binary again as a worker process; returns the keys it claimed.
async fn spawn_worker(mode: &str, url: &str, schema: &str) -> Vec<String> {
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([PROCESS_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(WORKER_ENV, mode)
        .env(SCHEMA_ENV, schema)
        .env("DATABASE_URL", url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
    assert!(output.status.success(), "worker process {mode} failed: {:?}", output.status);
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        // libtest may print "test <name> ... " on the same line first.
        .filter_map(|line| line.split_once("CLAIMED ").map(|(_, key)| key.trim().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_separate_processes_share_the_outbox_and_take_over_a_dead_ones_lease() {
    if let Ok(mode) = std::env::var(WORKER_ENV) {
        let url = std::env::var("DATABASE_URL").unwrap();
        return run_worker(&mode, url, std::env::var(SCHEMA_ENV).unwrap()).await;
    }
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let store = db.store(&schema).await;
    let (order, events) = conformance::sample_order("alice", 1, t0());
    let outbox: Vec<OutboxEntry> = (0..60)
        .map(|n| OutboxEntry { key: format!("k{n:03}"), effect: Effect::ClosePayment { provider: "alipay".into() } })
        .collect();
    store.create(commit(&order, 0, &events, &outbox)).await.unwrap();

    // One process claims five items and dies holding their lease.
    let crashed = spawn_worker("crash", &db.url, &schema).await;
    assert_eq!(crashed, ["k000", "k001", "k002", "k003", "k004"]);

    // Three processes drain the rest at once, while the dead one's lease still runs.
    let (a, b, c) = tokio::join!(
        spawn_worker("claim", &db.url, &schema),
        spawn_worker("claim", &db.url, &schema),
        spawn_worker("claim", &db.url, &schema)
    );
    let mut claimed: Vec<String> = [a, b, c].concat();
    claimed.sort();
    let expected: Vec<String> = outbox.iter().skip(5).map(|e| e.key.clone()).collect();
    assert_eq!(claimed, expected, "every other item is claimed by exactly one process");

    // After the lease ends, the dead process's items are taken over.
    let taken = store.claim_outbox(after(t0(), TimeDelta::seconds(31)), TimeDelta::minutes(1), 100).await.unwrap();
    assert_eq!(
        taken.iter().map(|i| (i.key.as_str(), i.attempts)).collect::<Vec<_>>(),
        [("k000", 2), ("k001", 2), ("k002", 2), ("k003", 2), ("k004", 2)]
    );
    db.drop_all().await;
}

/// The refusals of the one-statement write, explained by a read afterwards: events out of
/// sequence are `Corrupt` (a stale commit is a `Conflict` first), a commit ahead of the stored
/// version is a `Conflict`, a changed number is `Corrupt`, a repeated dedupe key within one
/// commit is named; none of them writes anything, not even their keys or outbox rows.
#[tokio::test]
async fn postgres_refused_commits_write_nothing_and_say_why() {
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let store = db.store(&schema).await;
    let (order, events) = conformance::sample_order("alice", 1, t0());
    store.create(commit(&order, 0, &events, &[])).await.unwrap();
    let (paid, paid_events) = pay(&order, "T-1");
    let keys = vec!["k/1".to_owned()];
    let outbox = [OutboxEntry { key: "refused/1".into(), effect: Effect::ClosePayment { provider: "alipay".into() } }];
    let with_rows = |order, expected, events| Commit { dedupe_keys: &keys, ..commit(order, expected, events, &outbox) };

    let mut skipping = paid_events.clone();
    skipping[0].seq += 1;
    let err = store.append(with_rows(&paid, order.version(), &skipping)).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let err = store.append(with_rows(&paid, order.version() - 1, &skipping)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");

    // Decided on a version the store never had: the compare-and-set fails, nothing collides.
    let ahead = orderflow::testing::edited(&paid, |json| json["version"] = (paid.version() + 5).into());
    let mut ahead_events = paid_events.clone();
    for event in &mut ahead_events {
        event.seq += 5;
    }
    let err = store.append(with_rows(&ahead, order.version() + 5, &ahead_events)).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict { expected: order.version() + 5, actual: order.version() });

    let other_number = serde_json::to_value(conformance::sample_order("alice", 2, t0()).0.number()).unwrap();
    let renumbered = orderflow::testing::edited(&paid, |json| json["number"] = other_number);
    let err = store.append(with_rows(&renumbered, order.version(), &paid_events)).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");

    let twice = vec!["k/1".to_owned(), "k/2".to_owned(), "k/1".to_owned()];
    let repeated = Commit { dedupe_keys: &twice, ..commit(&paid, order.version(), &paid_events, &outbox) };
    assert_eq!(store.append(repeated).await.unwrap_err(), StoreError::DuplicateKey("k/1".into()));

    assert_eq!(store.load(order.id()).await.unwrap(), Some(order.clone()));
    assert_eq!(store.events(order.id()).await.unwrap(), events);
    for key in ["k/1", "k/2"] {
        assert_eq!(store.find_by_key(key).await.unwrap(), None, "{key}");
    }
    let claimed = store.claim_outbox(after(t0(), TimeDelta::days(1)), TimeDelta::minutes(1), 100).await.unwrap();
    assert!(claimed.iter().all(|item| item.key != "refused/1"), "{claimed:?}");
    store.append(commit(&paid, order.version(), &paid_events, &[])).await.unwrap();
    assert_eq!(store.load(order.id()).await.unwrap(), Some(paid));
    db.drop_all().await;
}

/// A store keeps copies of the orders it wrote, but a load always checks the stored version:
/// an order another instance changed since is read from the database.
#[tokio::test]
async fn postgres_loads_see_other_instances_writes_past_the_copies() {
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let a = db.store(&schema).await;
    let b = PgStore::connect(PgOptions::new(db.url.clone()).schema(&schema).cached_orders(0)).await.unwrap();
    let (order, events) = conformance::sample_order("alice", 1, t0());
    a.create(commit(&order, 0, &events, &[])).await.unwrap();
    assert_eq!(a.load(order.id()).await.unwrap(), Some(order.clone()));
    assert_eq!(b.load(order.id()).await.unwrap(), Some(order.clone()));

    let (paid, paid_events) = pay(&order, "T-1");
    b.append(commit(&paid, order.version(), &paid_events, &[])).await.unwrap();
    assert_eq!(a.load(order.id()).await.unwrap(), Some(paid.clone()));
    assert_eq!(b.load(order.id()).await.unwrap(), Some(paid));
    db.drop_all().await;
}

#[tokio::test]
async fn postgres_an_instance_with_a_stale_copy_decides_on_the_stored_order() {
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let Instances { engines, gateway, clock, .. } = Instances::start(&db, &schema, 2).await;
    let (a, b) = (&engines[0], &engines[1]);
    // A places the order and keeps its copy (awaiting payment); B records the payment.
    let placed = a.place(&buyer("alice"), &sample_form("alice"), None).await.unwrap();
    let id = placed.order.id();
    assert_eq!(a.adapters().store.copy_version(id), Some(placed.order.version()));
    let raw = gateway.notify_paid(&placed.order.number(), placed.order.totals().total, clock.now());
    b.handle_payment_notification(&raw).await.unwrap();

    // On A's stale copy the pick list would be refused (not paid yet): A decides again on the
    // stored order and issues it.
    let warehouse = orderflow::testing::warehouse();
    let picked = a.execute(id, Command::new(warehouse.clone(), Action::IssuePickList)).await.unwrap();
    assert!(!picked.already_applied);
    assert_eq!(picked.order.status(), OrderStatus::InFulfilment);

    // B's copy is now stale the other way: a command it could decide on its copy conflicts at
    // commit and is decided again, so the history has no gap and no duplicate.
    let pack = pack_remaining(&picked.order);
    let packed = b.execute(id, Command::new(warehouse, pack)).await.unwrap();
    assert_eq!(packed.order.version(), picked.order.version() + packed.events.len() as u64);
    let history = a.events(id).await.unwrap();
    let seqs: Vec<u64> = history.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=packed.order.version()).collect::<Vec<_>>());
    assert_eq!(a.order(id).await.unwrap(), packed.order);
    db.drop_all().await;
}

/// A database of migration 3 holding rows the previous build wrote is upgraded: its events and
/// snapshot read through the upcasters, and the order can go on.
#[tokio::test]
async fn postgres_upgrade_to_migration_4_reads_version_1_rows() {
    let Some(db) = TestDb::new() else { return };
    let (events, order) = v1_history();
    let schema = db.fresh_schema();
    drop(db.store(&schema).await);
    let client = db.client().await;
    client
        .batch_execute(&format!(
            "ALTER TABLE \"{schema}\".events DROP COLUMN event_type, DROP COLUMN schema_version;
             ALTER TABLE \"{schema}\".orders DROP COLUMN snapshot_version;
             DELETE FROM \"{schema}\".schema_version WHERE version >= 4;"
        ))
        .await
        .unwrap();
    let status = serde_json::to_value(order.status()).unwrap();
    client
        .execute(
            &format!(
                "INSERT INTO \"{schema}\".orders (id, number, customer, status, placed_at, version, snapshot)
                 VALUES ($1, $2, $3, $4, $5, 6, $6::text::jsonb)"
            ),
            &[
                &order.id().as_uuid(),
                &order.number().as_str(),
                &order.customer().as_str(),
                &status.as_str().unwrap(),
                &order.placed_at(),
                &V1_SNAPSHOT.trim(),
            ],
        )
        .await
        .unwrap();
    for (seq, body) in V1_EVENTS.lines().enumerate() {
        client
            .execute(
                &format!("INSERT INTO \"{schema}\".events (order_id, seq, body) VALUES ($1, $2, $3::text::jsonb)"),
                &[&order.id().as_uuid(), &(seq as i64 + 1), &body],
            )
            .await
            .unwrap();
    }

    let store = db.store(&schema).await;
    assert_eq!(store.load(order.id()).await.unwrap().as_ref(), Some(&order));
    assert_eq!(store.events(order.id()).await.unwrap(), events);
    // Migration 5 filled its query columns, counted it and put its events in the feed.
    let found = store.query(&OrderQuery::statuses([order.status()])).await.unwrap();
    assert_eq!(found.items.iter().map(|s| s.id).collect::<Vec<_>>(), vec![order.id()]);
    assert_eq!(store.count_by_status().await.unwrap(), [(order.status(), 1)].into_iter().collect());
    let (fed, _) = feed(&store, FeedCursor::START, events.len()).await;
    assert_eq!(fed, events.iter().map(|e| (order.id(), e.seq)).collect::<Vec<_>>());
    // The order goes on in the current version next to its old rows.
    let completed = Action::CompleteRefund { refund: order.payment().refunds[0].id, reference: "R1".into() };
    let decision = Workflow::default().decide(&order, &Command::new(provider(), completed), &Ctx::at(t0())).unwrap();
    let mut next = order.clone();
    for e in &decision.events {
        evolve(&mut next, e);
    }
    store.append(commit(&next, order.version(), &decision.events, &[])).await.unwrap();
    let other = db.store(&schema).await;
    assert_eq!(other.load(order.id()).await.unwrap(), Some(next));
    assert_eq!(other.events(order.id()).await.unwrap(), [events.clone(), decision.events].concat());
    let types: Vec<String> = client
        .query(&format!("SELECT event_type FROM \"{schema}\".events ORDER BY seq"), &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(types[..events.len()], events.iter().map(|e| e.change.name()).collect::<Vec<_>>());
    db.drop_all().await;
}

/// Rows written before refund reasons were typed (events of version 5, snapshots of version 6,
/// the reason an English sentence) read with the typed reason, through every read path.
#[tokio::test]
async fn postgres_version_5_rows_read_their_refund_reasons_typed() {
    old_rows_read_typed(crate::old_rows::late_payment()).await;
}

/// Rows written before carrier choices were typed (events of version 6, snapshots of version
/// 7, the reason an English sentence) read with the typed reason, through every read path.
#[tokio::test]
async fn postgres_version_6_rows_read_their_carrier_choices_typed() {
    old_rows_read_typed(crate::old_rows::booked_cheapest()).await;
}

/// Stores `rows`' order in a fresh schema, rewrites its rows into their older form, and reads
/// them back through the store's load, events and feed: each reads as the current build
/// holds it.
async fn old_rows_read_typed(rows: crate::old_rows::OldRows) {
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let id = rows.order.id();
    db.store(&schema).await.create(commit(&rows.order, 0, &rows.events, &[])).await.unwrap();
    let client = db.client().await;
    let version = |v: u16| i16::try_from(v).unwrap();
    let (event_version, snapshot_version) = (version(rows.event_version), version(rows.snapshot_version));
    for (event, old) in rows.events.iter().zip(&rows.old_events) {
        let sql = format!(
            "UPDATE \"{schema}\".events SET body = $1::text::jsonb, schema_version = $2 WHERE order_id = $3 AND seq = $4"
        );
        client.execute(&sql, &[&old.to_string(), &event_version, &id.as_uuid(), &(event.seq as i64)]).await.unwrap();
    }
    let sql = format!("UPDATE \"{schema}\".orders SET snapshot = $1::text::jsonb, snapshot_version = $2 WHERE id = $3");
    client.execute(&sql, &[&rows.old_snapshot.to_string(), &snapshot_version, &id.as_uuid()]).await.unwrap();

    let store = db.store(&schema).await;
    assert_eq!(store.load(id).await.unwrap().unwrap(), rows.order);
    assert_eq!(store.events(id).await.unwrap(), rows.events);
    let (fed, _) = feed_events(&store, FeedCursor::START, rows.events.len()).await;
    // The feed decoded each old event on the way into its typed form.
    assert_eq!(
        fed.into_iter().map(|e| (e.order_id, e.event)).collect::<Vec<_>>(),
        rows.events.iter().map(|e| (id, e.clone())).collect::<Vec<_>>()
    );
    db.drop_all().await;
}

/// Reads the feed from `from` until `count` events came (another test's transaction on the
/// shared server holds the feed back while it runs).
async fn feed_events(store: &PgStore, from: FeedCursor, count: usize) -> (Vec<FeedEvent>, FeedCursor) {
    let (mut read, mut cursor) = (Vec::new(), from);
    for _ in 0..1_000 {
        if read.len() >= count {
            break;
        }
        let page = store.events_after(cursor, 100).await.unwrap();
        if page.events.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        read.extend(page.events);
        cursor = page.next;
    }
    assert_eq!(read.len(), count, "the feed stopped early");
    (read, cursor)
}

/// [`feed_events`] as (order, seq) pairs.
async fn feed(store: &PgStore, from: FeedCursor, count: usize) -> (Vec<(OrderId, u64)>, FeedCursor) {
    let (read, cursor) = feed_events(store, from, count).await;
    (read.into_iter().map(|e| (e.order_id, e.event.seq)).collect(), cursor)
}

/// Two placed orders of customers `names` (numbers 1 and 2), created in `store` in that order.
async fn two_created(store: &PgStore, names: [&str; 2]) -> [(Order, Vec<Event>); 2] {
    let orders = [conformance::sample_order(names[0], 1, t0()), conformance::sample_order(names[1], 2, t0())];
    for (order, events) in &orders {
        store.create(commit(order, 0, events, &[])).await.unwrap();
    }
    orders
}

/// The feed orders by transaction id as a number: events of transaction 9 come before those of
/// transaction 10 (as text, `10` sorts first).
#[tokio::test]
async fn postgres_feed_orders_transaction_ids_as_numbers() {
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let store = db.store(&schema).await;
    // Transaction 10's order is written first: its events have the lower positions too.
    let [(ten, ten_placed), (nine, nine_placed)] = two_created(&store, ["tom", "nina"]).await;
    let client = db.client().await;
    let sql = format!("UPDATE \"{schema}\".events SET xact_id = $2::text::xid8 WHERE order_id = $1");
    client.execute(&sql, &[&nine.id().as_uuid(), &"9"]).await.unwrap();
    client.execute(&sql, &[&ten.id().as_uuid(), &"10"]).await.unwrap();
    let expected: Vec<(OrderId, u64)> =
        nine_placed.iter().map(|e| (nine.id(), e.seq)).chain(ten_placed.iter().map(|e| (ten.id(), e.seq))).collect();
    let (read, _) = feed(&store, FeedCursor::START, expected.len()).await;
    assert_eq!(read, expected);
    db.drop_all().await;
}

/// Writes `events` of order `id` as a commit does, in the open transaction of `client`.
async fn insert_events(client: &tokio_postgres::Client, schema: &str, id: OrderId, events: &[Event]) {
    let sql = format!(
        "INSERT INTO \"{schema}\".events (order_id, seq, body, event_type, schema_version) VALUES ($1, $2, $3, $4, $5)"
    );
    for event in events {
        let stored = StoredEvent::encode(event);
        let body = serde_json::to_value(stored.payload).unwrap();
        let version = i16::try_from(stored.schema_version).unwrap();
        let seq = i64::try_from(event.seq).unwrap();
        client.execute(&sql, &[&id.as_uuid(), &seq, &body, &stored.event_type, &version]).await.unwrap();
    }
}

/// Two writers whose transactions commit out of order: x's starts first (it takes the lower
/// transaction id and feed positions), y's starts later and commits first. A feed ordered by
/// position alone would hand out y's events, move past them, and never hand out x's; this feed
/// holds y's back while x's transaction runs, then hands out x's and y's, skipping nothing.
#[tokio::test]
async fn postgres_feed_never_skips_events_of_transactions_that_commit_out_of_order() {
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let store = db.store(&schema).await;
    let [(x, x_placed), (y, y_placed)] = two_created(&store, ["xavier", "yvonne"]).await;
    let (_, cursor) = feed(&store, FeedCursor::START, x_placed.len() + y_placed.len()).await;

    let (_, x_paid) = pay(&x, "T-X");
    let (_, y_paid) = pay(&y, "T-Y");
    let (first, second) = (db.client().await, db.client().await);
    first.batch_execute("BEGIN").await.unwrap();
    insert_events(&first, &schema, x.id(), &x_paid).await;
    second.batch_execute("BEGIN").await.unwrap();
    insert_events(&second, &schema, y.id(), &y_paid).await;
    second.batch_execute("COMMIT").await.unwrap();

    let held = store.events_after(cursor, 100).await.unwrap();
    assert!(held.events.is_empty(), "y's events wait while x's older transaction runs: {:?}", held.events);
    assert_eq!(held.next, cursor);

    first.batch_execute("COMMIT").await.unwrap();
    let positions = |id: OrderId| {
        let sql = format!("SELECT max(position) FROM \"{schema}\".events WHERE order_id = $1");
        let client = &first;
        async move { client.query_one(&sql, &[&id.as_uuid()]).await.unwrap().get::<_, i64>(0) }
    };
    assert!(positions(x.id()).await < positions(y.id()).await, "x's events took the lower positions");
    let (read, _) = feed(&store, cursor, x_paid.len() + y_paid.len()).await;
    let expected: Vec<(OrderId, u64)> =
        x_paid.iter().map(|e| (x.id(), e.seq)).chain(y_paid.iter().map(|e| (y.id(), e.seq))).collect();
    assert_eq!(read, expected, "x's events, then y's: none skipped");
    db.drop_all().await;
}

/// The waybill table holds exactly an order's `(carrier, waybill)` pairs whichever form a commit
/// takes: a waybill recorded on the writer's own copy is inserted, and so is one recorded by an
/// instance without a copy; later commits on a copy leave the rows alone, those without one
/// (or with a stale one) rewrite them.
#[tokio::test]
async fn postgres_waybill_rows_follow_the_order_through_every_commit_form() {
    let Some(db) = TestDb::new() else { return };
    let schema = db.fresh_schema();
    let a = db.store(&schema).await;
    let b = PgStore::connect(PgOptions::new(db.url.clone()).schema(&schema).cached_orders(0)).await.unwrap();
    let client = db.client().await;
    let rows = || table_rows(&client, &schema, "waybills", "carrier, waybill");
    let row = |order: &Order, waybill: &str| {
        format!(r#"{{"carrier": "SF", "waybill": "{waybill}", "order_id": "{}"}}"#, order.id())
    };
    let [(first, first_events), (second, second_events)] = [1, 2].map(|n| conformance::sample_order("alice", n, t0()));
    a.create(commit(&first, 0, &first_events, &[])).await.unwrap();
    a.create(commit(&second, 0, &second_events, &[])).await.unwrap();
    assert_eq!(rows().await, Vec::<String>::new());

    // The first order's waybill is recorded on `a`'s copy, the second's by `b`, which has none.
    let first = ship(&a, first, "SF", "WB-1").await;
    let mut second = second;
    for (n, command) in shipping(&second, "SF", "WB-2").iter().enumerate() {
        let (next, events) = decided(&second, command);
        let store = if n == 4 { &b } else { &a };
        store.append(commit(&next, second.version(), &events, &[])).await.unwrap();
        second = next;
    }
    let expected = vec![row(&first, "WB-1"), row(&second, "WB-2")];
    assert_eq!(rows().await, expected, "each waybill's commit inserts its row");

    // Tracking updates of the second: by `b` (no copy), by `a` on a stale copy, then on its own.
    for (n, store) in [&b, &a, &a].into_iter().enumerate() {
        let update = orderflow::order::TrackingUpdate {
            kind: orderflow::order::TrackingKind::InTransit,
            at: t0() + TimeDelta::hours(n as i64 + 1),
            event_id: format!("E{n}").into(),
            location: Default::default(),
            description: Default::default(),
        };
        let action = Action::RecordTracking { waybill: "WB-2".into(), update };
        let (next, events) = decided(&second, &Command::new(orderflow::testing::carrier("SF"), action));
        store.append(commit(&next, second.version(), &events, &[])).await.unwrap();
        second = next;
        assert_eq!(rows().await, expected, "tracking update {n} keeps the orders' waybill rows");
    }
    assert_eq!(b.find_by_waybill("SF", "WB-2").await.unwrap(), Some(second.id()));
    assert_eq!(a.load(second.id()).await.unwrap(), Some(second));
    db.drop_all().await;
}
