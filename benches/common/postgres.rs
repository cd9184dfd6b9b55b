//! What the PostgreSQL benches share: the server to use and the server's statistics. Included
//! by `#[path]` from the benches built with the `postgres` feature (not from `common`, which
//! the others use too).

use tokio_postgres::Client;

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
