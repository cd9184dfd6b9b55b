//! The `admin` example's commands against a SQLite file and (with `DATABASE_URL`) a PostgreSQL
//! schema: listing dead letters page by page with their count, showing one, requeuing one, the
//! backlog, and the command line's refusals.
#![cfg(feature = "sqlite")]

#[path = "../../examples/admin/cli.rs"]
mod cli;

use chrono::TimeDelta;
use orderflow::adapters::sqlite::SqliteStore;
use orderflow::decide::after;
use orderflow::ports::{Commit, OrderRepository, OutboxEntry, WorkQueue};
use orderflow::testing::{conformance, t0};

use cli::{Cli, Command, Usage};

/// Writes an order with outbox entries `k1`..`k4` into `store`: `k1`, `k2` and `k4` dead, `k3`
/// pending.
async fn three_dead_letters(store: &(impl OrderRepository + WorkQueue)) {
    let (order, events) = conformance::sample_order("alice", 1, t0());
    let effect = orderflow::Effect::ClosePayment { provider: "alipay".into() };
    let outbox: Vec<OutboxEntry> =
        (1..=4).map(|n| OutboxEntry { key: format!("k{n}"), effect: effect.clone() }).collect();
    let commit = Commit { order: &order, expected_version: 0, events: &events, outbox: &outbox, dedupe_keys: &[] };
    store.create(commit).await.unwrap();
    assert_eq!(store.claim_outbox(t0(), TimeDelta::seconds(30), 10).await.unwrap().len(), 4);
    for key in ["k1", "k2", "k4"] {
        store.fail_outbox(key, t0(), None, &format!("{key} refused")).await.unwrap();
    }
    store.fail_outbox("k3", t0(), Some(after(t0(), TimeDelta::hours(1))), "timeout").await.unwrap();
}

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

/// Runs the command line `line` (after the store) against `store` at `t0() + 10 min`.
async fn admin(store: &str, line: &str) -> Result<String, String> {
    let mut all = vec![store.to_owned()];
    all.extend(args(line));
    let cli = cli::parse(all).map_err(|Usage(u)| format!("usage: {u}"))?;
    cli::run(&cli, after(t0(), TimeDelta::minutes(10))).await
}

/// The same session against any store: lists, pages, shows, requeues, prints the backlog.
async fn session(store: &str) {
    let first = admin(store, "list --limit 2").await.unwrap();
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines.first(), Some(&"3 dead letters"), "{first}");
    assert!(lines.get(1).is_some_and(|l| l.starts_with("k1 ") && l.ends_with("k1 refused")), "{first}");
    assert!(lines.get(2).is_some_and(|l| l.starts_with("k2 ") && l.contains("close_payment")), "{first}");
    let next = lines.get(3).and_then(|l| l.strip_prefix("next page: list ")).unwrap_or_else(|| panic!("{first}"));
    let second = admin(store, &format!("list {next} --limit 2")).await.unwrap();
    let keys: Vec<&str> = second.lines().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
    assert_eq!(keys, ["k4"], "the second page holds the rest and no cursor: {second}");

    let shown = admin(store, "show k2").await.unwrap();
    assert!(shown.contains("key: k2\n") && shown.contains("attempts: 1\n"), "{shown}");
    assert!(shown.contains("last error: k2 refused\n") && shown.contains("\"provider\": \"alipay\""), "{shown}");
    assert_eq!(admin(store, "show k3").await, Err("no dead letter \"k3\"".to_owned()), "k3 is pending, not dead");

    assert_eq!(admin(store, "requeue k2").await, Ok("requeued k2: delivered by the next outbox dispatch\n".into()));
    assert!(admin(store, "requeue k2").await.is_err_and(|e| e.starts_with("no dead letter \"k2\"")));
    let backlog = admin(store, "backlog").await.unwrap();
    assert_eq!(
        backlog,
        format!("pending: 2\nready: 1\ndead: 2\noldest pending: {} (600 s ago)\n", t0().to_rfc3339()),
        "k2 requeued (ready) and k3 waiting for its retry"
    );
}

#[tokio::test]
async fn admin_lists_shows_requeues_and_counts_on_a_sqlite_file() {
    let path = std::env::temp_dir().join(format!("orderflow-admin-{}.sqlite", orderflow::OrderId::new_v7()));
    three_dead_letters(&SqliteStore::open(&path).unwrap()).await;
    session(&path.display().to_string()).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn admin_lists_shows_requeues_and_counts_on_postgres() {
    use orderflow::adapters::postgres::{PgOptions, PgStore};
    let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(std::env::var_os("CI").is_none(), "DATABASE_URL is not set: in CI the PostgreSQL tests must run");
        eprintln!("SKIPPED: DATABASE_URL is not set");
        return;
    };
    let schema = format!("orderflow_admin_{}", orderflow::OrderId::new_v7().to_string().replace('-', ""));
    let store = PgStore::connect(PgOptions::new(url.clone()).schema(&schema).pool_size(2)).await.unwrap();
    three_dead_letters(&store).await;
    let mut line = vec![url.clone(), "--schema".to_owned(), schema.clone()];
    line.extend(args("list --limit 2"));
    let listed = cli::run(&cli::parse(line).unwrap(), t0()).await.unwrap();
    assert!(listed.starts_with("3 dead letters\nk1 "), "{listed}");
    // The rest of the session through the same code, on this schema.
    session_on_schema(&url, &schema).await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE")).await.unwrap();
}

#[cfg(feature = "postgres")]
async fn session_on_schema(url: &str, schema: &str) {
    let run = |line: &str| {
        let mut all = vec![url.to_owned(), "--schema".to_owned(), schema.to_owned()];
        all.extend(args(line));
        async move { cli::run(&cli::parse(all).unwrap(), after(t0(), TimeDelta::minutes(10))).await }
    };
    assert!(run("show k4").await.is_ok_and(|s| s.contains("last error: k4 refused")));
    assert!(run("requeue k1").await.is_ok());
    let backlog = run("backlog").await.unwrap();
    assert!(backlog.starts_with("pending: 2\nready: 1\ndead: 2\n"), "{backlog}");
}

#[tokio::test]
async fn the_command_line_is_checked_before_anything_is_opened() {
    let parse = |line: &str| cli::parse(args(line));
    assert_eq!(
        parse("shop.db list --after 7 --limit 5"),
        Ok(Cli {
            store: "shop.db".into(),
            schema: None,
            command: Command::List { after: Some("7".parse().unwrap()), limit: 5 }
        })
    );
    assert_eq!(parse("").map(|c| c.command), Ok(Command::Help));
    for (line, problem) in [
        ("shop.db", "a COMMAND is missing"),
        ("shop.db purge", "unknown command \"purge\""),
        ("shop.db show", "show needs a KEY"),
        ("shop.db list --limit 0", "--limit: a number from 1 to 1000"),
        (
            "shop.db list --after x",
            "--after: cursor \"x\" is not valid: expected the digits of a cursor an earlier page returned",
        ),
        ("shop.db backlog now", "unexpected argument \"now\""),
    ] {
        assert_eq!(parse(line), Err(Usage(problem.into())), "{line}");
    }
    let missing = cli::run(&parse("/no/such/file.db backlog").unwrap(), t0()).await;
    assert_eq!(missing, Err("/no/such/file.db: no such SQLite file".into()));
}
