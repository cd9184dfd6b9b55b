//! What the PostgreSQL benches share: the server to use, a connection to it, its durability
//! settings and the reset of its statistics (each bench reads and prints the statistics it
//! wants). Included by `#[path]` from the benches built with the `postgres` feature (not from
//! `common`, which the others use too).

use tokio_postgres::{Client, NoTls};

/// `DATABASE_URL`, or `None` after saying how to run `bench` with a server (so that
/// `cargo test --benches` passes without one).
pub fn database_url(bench: &str) -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "{bench}: SKIPPED, DATABASE_URL is not set. Run it with a server:\n  \
                 ORDERFLOW_PG_DURABLE=1 bash scripts/with-postgres.sh cargo bench --all-features --bench {bench}"
            );
            None
        }
    }
}

/// A connection of the bench's own, beside the store's pool (for schemas, checks and the
/// server's statistics); its connection task runs on the current tokio runtime.
pub async fn connect(url: &str) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The server's `fsync` and `synchronous_commit` settings, printed beside the figures: a
/// server that does not flush its commits makes them much cheaper.
pub async fn durability(admin: &Client) -> Result<(String, String), tokio_postgres::Error> {
    let fsync: String = admin.query_one("SHOW fsync", &[]).await?.get(0);
    let synchronous: String = admin.query_one("SHOW synchronous_commit", &[]).await?.get(0);
    Ok((fsync, synchronous))
}

/// Resets the WAL's counters and, when the server has `pg_stat_statements` loaded
/// (`ORDERFLOW_PG_DURABLE=1` loads it), creates the extension and resets its counters too:
/// true then.
pub async fn reset_server_stats(admin: &Client) -> Result<bool, tokio_postgres::Error> {
    let loaded: String = admin.query_one("SHOW shared_preload_libraries", &[]).await?.get(0);
    admin.batch_execute("SELECT pg_stat_reset_shared('wal')").await?;
    if !loaded.contains("pg_stat_statements") {
        return Ok(false);
    }
    admin.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").await?;
    admin.batch_execute("SELECT pg_stat_statements_reset()").await?;
    Ok(true)
}
