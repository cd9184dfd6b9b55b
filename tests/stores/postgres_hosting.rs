//! `PgStore` as hosts run it: over the host's own pool, with the host's migration tool (the
//! store only checks the schema), several shops in schemas of one database, and TLS against a
//! server with a certificate made here.
//!
//! Like `postgres_store`, these need `DATABASE_URL` (`scripts/with-postgres.sh`). The TLS test
//! turns TLS on in the server it is given (`ALTER SYSTEM`), so it runs only on the throwaway
//! server `scripts/with-postgres.sh` starts (which sets `ORDERFLOW_PG_THROWAWAY=1`).
#![cfg(feature = "postgres")]

use orderflow::adapters::postgres::{LATEST, MIGRATIONS, PgOptions, PgStore};
use orderflow::ports::{Commit, OrderFilter, OrderRepository, StoreError};
use orderflow::testing::{conformance, t0};
use orderflow::{Order, OrderId};

fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => panic!("DATABASE_URL is not set: in CI the PostgreSQL tests must run"),
        _ => {
            eprintln!("SKIPPED: DATABASE_URL is not set; run under scripts/with-postgres.sh");
            None
        }
    }
}

fn fresh_schema(tag: &str) -> String {
    format!("orderflow_{tag}_{}", OrderId::new_v7().to_string().replace('-', ""))
}

async fn client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

async fn drop_schemas(url: &str, schemas: &[&str]) {
    let client = client(url).await;
    for schema in schemas {
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await.unwrap();
    }
}

/// Creates order number `number` for `customer` and returns it.
async fn create(store: &PgStore, customer: &str, number: u64) -> Order {
    let (order, events) = conformance::sample_order(customer, number, t0());
    let commit = Commit { order: &order, expected_version: 0, events: &events, outbox: &[], dedupe_keys: &[] };
    store.create(commit).await.unwrap();
    order
}

#[tokio::test]
async fn a_store_over_the_hosts_own_pool() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema("pool");
    // The host's pool, configured its own way.
    let config: tokio_postgres::Config = url.parse().unwrap();
    let manager = deadpool_postgres::Manager::new(config, tokio_postgres::NoTls);
    let pool = deadpool_postgres::Pool::builder(manager).max_size(3).build().unwrap();
    let store = PgStore::with_pool(pool.clone(), PgOptions::default().schema(&schema)).await.unwrap();
    let order = create(&store, "alice", 1).await;
    assert_eq!(store.load(order.id()).await.unwrap(), Some(order.clone()));
    // The host keeps using its pool, and sees the store's tables in the schema.
    let host = pool.get().await.unwrap();
    let row = host.query_one(&format!("SELECT count(*) FROM \"{schema}\".orders"), &[]).await.unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
    drop(host);
    let refused = PgStore::with_pool(pool, PgOptions::default().schema("Bad-Name")).await;
    assert!(matches!(refused, Err(StoreError::Unavailable(m)) if m.contains("invalid schema name \"Bad-Name\"")));
    drop_schemas(&url, &[&schema]).await;
}

#[tokio::test]
async fn a_host_that_migrates_with_its_own_tool() {
    let Some(url) = database_url() else { return };
    let (ours, theirs) = (fresh_schema("ours"), fresh_schema("theirs"));
    let checked =
        |schema: &str| PgStore::connect(PgOptions::new(url.clone()).schema(schema).pool_size(2).migrate(false));

    // Nothing applied yet: refused, naming what is missing, and nothing created.
    let Err(StoreError::Unavailable(message)) = checked(&theirs).await else {
        panic!("an empty schema must be refused")
    };
    assert!(message.contains("at migration 0") && message.contains(&format!("needs {LATEST}")), "{message}");
    let client = client(&url).await;
    let exists = "SELECT count(*) FROM pg_namespace WHERE nspname = $1";
    assert_eq!(client.query_one(exists, &[&theirs]).await.unwrap().get::<_, i64>(0), 0, "checking creates nothing");

    // The host's tool runs the published scripts, each in its own transaction.
    for migration in MIGRATIONS {
        client.batch_execute(&format!("BEGIN; {} COMMIT;", migration.sql_for(&theirs))).await.unwrap();
    }
    let store = checked(&theirs).await.unwrap();
    let order = create(&store, "alice", 1).await;
    assert_eq!(store.load(order.id()).await.unwrap(), Some(order));

    // The store's own migrations and the scripts build the same tables.
    PgStore::connect(PgOptions::new(url.clone()).schema(&ours).pool_size(2)).await.unwrap();
    let columns = "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
                   WHERE table_schema = $1 ORDER BY 1, 2";
    let shape = |rows: Vec<tokio_postgres::Row>| {
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect::<Vec<(String, String, String, String)>>()
    };
    assert_eq!(
        shape(client.query(columns, &[&ours]).await.unwrap()),
        shape(client.query(columns, &[&theirs]).await.unwrap())
    );

    // A schema behind (the last migration not applied) is refused with a clear message.
    let behind = format!("DELETE FROM \"{ours}\".schema_version WHERE version = {LATEST}");
    client.batch_execute(&behind).await.unwrap();
    let Err(StoreError::Unavailable(message)) = checked(&ours).await else { panic!("a schema behind must be refused") };
    let last = MIGRATIONS.last().map(|m| format!("missing {} ({})", m.version, m.name)).unwrap_or_default();
    assert!(message.contains(&last), "{message}");
    drop_schemas(&url, &[&ours, &theirs]).await;
}

#[tokio::test]
async fn two_shops_in_two_schemas_see_only_their_own_orders() {
    let Some(url) = database_url() else { return };
    let (a, b) = (fresh_schema("shop_a"), fresh_schema("shop_b"));
    let shop_a = PgStore::connect(PgOptions::new(url.clone()).schema(&a).pool_size(2)).await.unwrap();
    let shop_b = PgStore::connect(PgOptions::new(url.clone()).schema(&b).pool_size(2)).await.unwrap();
    let a1 = create(&shop_a, "alice", 1).await;
    let a2 = create(&shop_a, "bob", 2).await;
    // Order numbers are unique per shop: shop B may use shop A's.
    let b1 = create(&shop_b, "carol", 1).await;
    let ids = |page: orderflow::ports::OrderPage| page.items.iter().map(|s| s.id).collect::<Vec<_>>();
    let mut expected_a = vec![a1.id(), a2.id()];
    expected_a.sort();
    assert_eq!(ids(shop_a.list(&OrderFilter::default(), None, 10).await.unwrap()), expected_a);
    assert_eq!(ids(shop_b.list(&OrderFilter::default(), None, 10).await.unwrap()), vec![b1.id()]);
    assert_eq!(shop_b.load(a1.id()).await.unwrap(), None, "shop B cannot load shop A's order");
    assert_eq!(shop_a.find_by_number(&b1.number()).await.unwrap(), Some(a1.id()), "A's own number 1");
    assert_eq!(shop_b.find_by_number(&a2.number()).await.unwrap(), None);
    drop_schemas(&url, &[&a, &b]).await;
}

/// Two instances on one schema: the one whose copy of the order is stale decides on it, its
/// commit conflicts, and it decides again on a fresh load: counted as a retry for a conflict.
#[test]
fn a_conflict_between_two_instances_is_counted_as_a_retry() {
    use std::sync::Arc;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use orderflow::engine::{Adapters, Engine};
    use orderflow::testing::{FakeCarrier, FakeGateway, FixedClock, RecordingNotifier, buyer, sample_form};
    use orderflow::{Action, Command, MemoryInventory, Sku, Workflow};

    let Some(url) = database_url() else { return };
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let schema = fresh_schema("conflict");
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let gateway = Arc::new(FakeGateway::new("alipay", b"provider-secret"));
            let inventory = Arc::new(MemoryInventory::new());
            for s in ["TEA-OOLONG", "MUG-CLAY", "CUP-SET"] {
                inventory.set_stock(&Sku::new(s).unwrap(), 100);
            }
            let clock = Arc::new(FixedClock::new(t0()));
            let mut engines = Vec::new();
            for _ in 0..2 {
                let options = PgOptions::new(url.clone()).schema(&schema).pool_size(2);
                engines.push(Engine::new(
                    Workflow::default(),
                    Adapters {
                        store: Arc::new(PgStore::connect(options).await.unwrap()),
                        payments: gateway.clone(),
                        logistics: Arc::new(FakeCarrier::new("SF", b"carrier-secret")),
                        inventory: inventory.clone(),
                        notifier: Arc::new(RecordingNotifier::new()),
                        clock: clock.clone(),
                    },
                ));
            }
            let [a, b] = [&engines[0], &engines[1]];
            // A places (and keeps a copy of what it wrote); B records the payment.
            let order = a.place(&buyer("eve"), &sample_form("eve"), None).await.unwrap().order;
            let raw = gateway.notify_paid(&order.number(), order.totals().total, clock.now());
            b.handle_payment_notification(&raw).await.unwrap();
            // A's command loads its stale copy first (unpaid): the commit conflicts, and it is
            // decided again on the paid order (whatever the answer, it was decided twice).
            let cancel = Command::new(buyer("eve"), Action::Cancel { reason: "changed my mind".into() });
            let answered = a.execute(order.id(), cancel).await;
            assert!(!matches!(answered, Err(orderflow::engine::EngineError::Conflict { .. })), "{answered:?}");
        });
    });
    let retries = snapshotter.snapshot().into_vec().into_iter().find_map(|(key, _, _, value)| {
        let key = key.key();
        let labels: Vec<(&str, &str)> = key.labels().map(|l| (l.key(), l.value())).collect();
        (key.name() == orderflow::engine::metrics::RETRIES
            && labels.contains(&("kind", "cancel"))
            && labels.contains(&("cause", "conflict")))
        .then_some(value)
    });
    assert_eq!(retries, Some(DebugValue::Counter(1)));
    runtime.block_on(drop_schemas(&url, &[&schema]));
}

#[cfg(feature = "postgres-tls")]
mod tls {
    use std::os::unix::fs::MetadataExt;
    use std::path::PathBuf;
    use std::time::Duration;

    use orderflow::adapters::postgres::{PgOptions, PgStore, PgTls};
    use orderflow::ports::StoreError;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    use super::{client, create, database_url, drop_schemas, fresh_schema};

    /// A CA (its PEM) and a server certificate it signed for 127.0.0.1 and localhost (its PEM
    /// and its key's).
    fn certificates() -> (String, String, String) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        let server_pem = server.signed_by(&server_key, &issuer).unwrap().pem();
        (ca_pem, server_pem, server_key.serialize_pem())
    }

    /// Writes `contents` where the server can read it and nobody else: owned by the data
    /// directory's owner (the server's user), mode 0600.
    fn server_file(dir: &std::path::Path, name: &str, contents: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        let owner = std::fs::metadata(dir).unwrap();
        std::os::unix::fs::chown(&path, Some(owner.uid()), Some(owner.gid())).unwrap();
        let mut permissions = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o600);
        std::fs::set_permissions(&path, permissions).unwrap();
        path
    }

    #[tokio::test]
    async fn a_tls_connection_verifies_the_servers_certificate() {
        let Some(url) = database_url() else { return };
        if std::env::var("ORDERFLOW_PG_THROWAWAY").as_deref() != Ok("1") {
            eprintln!("SKIPPED: TLS is turned on only in the throwaway server of scripts/with-postgres.sh");
            return;
        }
        let admin = client(&url).await;
        let data: String = admin.query_one("SHOW data_directory", &[]).await.unwrap().get(0);
        let data = PathBuf::from(data);
        let (ca_pem, server_pem, key_pem) = certificates();
        let cert = server_file(&data, "orderflow-test-server.crt", &server_pem);
        let key = server_file(&data, "orderflow-test-server.key", &key_pem);
        // One statement at a time: ALTER SYSTEM refuses to run in a transaction (a batch is one).
        let settings = [
            format!("ALTER SYSTEM SET ssl_cert_file = '{}'", cert.display()),
            format!("ALTER SYSTEM SET ssl_key_file = '{}'", key.display()),
            "ALTER SYSTEM SET ssl = on".to_owned(),
            "SELECT pg_reload_conf()".to_owned(),
        ];
        for statement in &settings {
            admin.simple_query(statement).await.unwrap();
        }
        // The reload is asynchronous: new sessions see it once the server has read the files.
        let mut on = false;
        for _ in 0..100 {
            let fresh = client(&url).await;
            if fresh.query_one("SHOW ssl", &[]).await.unwrap().get::<_, String>(0) == "on" {
                on = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(on, "the server did not turn TLS on (see its log)");

        let schema = fresh_schema("tls");
        let options = PgOptions::new(url.clone()).schema(&schema).pool_size(1);
        let store = PgStore::connect_tls(options.clone(), PgTls::from_pem(ca_pem.as_bytes()).unwrap()).await.unwrap();
        let order = create(&store, "alice", 1).await;
        use orderflow::ports::OrderRepository;
        assert_eq!(store.load(order.id()).await.unwrap(), Some(order));
        // The store's (pooled, idle) connection is encrypted.
        let encrypted = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                 WHERE s.ssl AND a.datname = current_database() AND a.pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert!(encrypted.get::<_, i64>(0) >= 1, "no encrypted session of the store found");

        // A certificate another CA signed is refused: no connection, no fallback to plain text.
        let (other_ca, _, _) = certificates();
        let refused = PgStore::connect_tls(options, PgTls::from_pem(other_ca.as_bytes()).unwrap()).await;
        assert!(matches!(refused, Err(StoreError::Unavailable(_))), "{refused:?}");
        assert!(
            matches!(PgTls::from_pem(b"not a certificate"), Err(StoreError::Unavailable(m)) if m.contains("no certificate"))
        );

        drop(store);
        for statement in [
            "ALTER SYSTEM RESET ssl",
            "ALTER SYSTEM RESET ssl_cert_file",
            "ALTER SYSTEM RESET ssl_key_file",
            "SELECT pg_reload_conf()",
        ] {
            admin.simple_query(statement).await.unwrap();
        }
        drop_schemas(&url, &[&schema]).await;
    }
}
