//! The schema migrations of [`PgStore`](super::PgStore), exposed for hosts that run their own
//! migration tool (Flyway, sqlx, refinery, a deploy script): [`MIGRATIONS`] lists them, and
//! [`Migration::sql_for`] gives each one's SQL for a schema, recording itself in the
//! `schema_version` table the store reads. Such a host connects with
//! [`PgOptions::migrate`](super::PgOptions::migrate) off: the store then only checks that the
//! schema is at [`LATEST`] and refuses to start, naming the missing migrations, when it is
//! behind.
//!
//! Migration 3 re-keys the waybill index by carrier: on a database that already holds shipped
//! orders, let the store run it ([`PgStore::connect`](super::PgStore::connect) with migrations
//! on), which rebuilds the index from the order snapshots; applied from SQL alone it leaves the
//! new index empty for the orders written before it. Migration 5 likewise fills the staff
//! query columns of existing orders from their snapshots only when the store runs it.

use tokio_postgres::Transaction;

use crate::ports::StoreError;

/// One schema migration: a released migration never changes, a change is a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Its number: migrations run in increasing order, each once.
    pub version: i32,
    /// What it does, in a few words (usable as a file name).
    pub name: &'static str,
    /// Its SQL, with `{s}` where the quoted schema name goes (see [`Migration::sql_for`]).
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "orders_events_outbox", sql: include_str!("sql/migration_1.sql") },
    Migration { version: 2, name: "outbox_failed_at", sql: include_str!("sql/migration_2.sql") },
    // The old table stays as `waybills_v2` while the store fills the new one from the order
    // snapshots, then is dropped (see the module documentation).
    Migration { version: 3, name: "waybills_by_carrier", sql: include_str!("sql/migration_3.sql") },
    Migration { version: 4, name: "stored_form_versions", sql: include_str!("sql/migration_4.sql") },
    // The staff query columns and their indexes, counts per status (changes appended by a
    // trigger, summed up when counted) and the event feed's transaction ids and positions.
    Migration { version: 5, name: "query_columns_counts_feed", sql: include_str!("sql/migration_5.sql") },
    Migration { version: 6, name: "outbox_written_at", sql: include_str!("sql/migration_6.sql") },
];

/// The version a schema must be at for this build.
pub const LATEST: i32 = match MIGRATIONS.last() {
    Some(last) => last.version,
    None => 0,
};

/// The migration after which the query columns of orders written before are filled from their
/// snapshots.
pub(super) const QUERY_COLUMNS: i32 = 5;

/// The migration after which the waybill index is rebuilt from the order snapshots.
pub(super) const WAYBILLS_BY_CARRIER: i32 = 3;

impl Migration {
    /// The SQL to run for the schema `schema` (an identifier as
    /// [`PgOptions::schema`](super::PgOptions::schema) takes), as one script: the first one also
    /// creates the schema and the `schema_version` table, and each one ends by recording its
    /// version there. Run each in a transaction of its own, in order, skipping those recorded.
    ///
    /// ```
    /// # #[cfg(feature = "postgres")] {
    /// use orderflow::adapters::postgres::MIGRATIONS;
    ///
    /// let first = MIGRATIONS.first().map(|m| m.sql_for("shop_a")).unwrap_or_default();
    /// assert!(first.contains("CREATE TABLE IF NOT EXISTS \"shop_a\".orders"));
    /// assert!(first.contains("INSERT INTO \"shop_a\".schema_version (version) VALUES (1)"));
    /// # }
    /// ```
    pub fn sql_for(&self, schema: &str) -> String {
        let quoted = format!("\"{schema}\"");
        let mut script = String::new();
        if self.version == 1 {
            script.push_str(include_str!("sql/migration_table.sql"));
            script.push_str(";\n");
        }
        script.push_str(self.sql);
        if self.version == WAYBILLS_BY_CARRIER {
            script.push_str(include_str!("sql/migrate_drop_old_waybills.sql"));
            script.push_str(";\n");
        }
        script.push_str(&format!("INSERT INTO {{s}}.schema_version (version) VALUES ({});\n", self.version));
        script.replace("{s}", &quoted)
    }
}

/// The versions recorded in the schema (none when it has no `schema_version` table).
pub(super) async fn recorded(tx: &Transaction<'_>, quoted: &str) -> Result<Vec<i32>, StoreError> {
    let exists = tx
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&format!("{quoted}.schema_version")])
        .await
        .map_err(super::db)?;
    if !exists.get::<_, bool>(0) {
        return Ok(Vec::new());
    }
    let rows = tx
        .query(&format!("SELECT version FROM {quoted}.schema_version ORDER BY version"), &[])
        .await
        .map_err(super::db)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Checks that every migration is recorded in the schema; otherwise says which are missing.
pub(super) fn check_current(schema: &str, recorded: &[i32]) -> Result<(), StoreError> {
    let missing: Vec<String> = MIGRATIONS
        .iter()
        .filter(|m| !recorded.contains(&m.version))
        .map(|m| format!("{} ({})", m.version, m.name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let at = recorded.iter().max().copied().unwrap_or(0);
    Err(StoreError::Unavailable(format!(
        "schema {schema:?} is behind: at migration {at}, this build needs {LATEST}; missing {}. Apply them \
         (orderflow::adapters::postgres::MIGRATIONS) or connect with PgOptions::migrate(true)",
        missing.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_every_script_records_itself() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version, "{pair:?}");
        }
        for m in MIGRATIONS {
            let sql = m.sql_for("shop_b");
            assert!(!sql.contains("{s}"), "migration {} keeps a placeholder", m.version);
            assert!(
                sql.ends_with(&format!("INSERT INTO \"shop_b\".schema_version (version) VALUES ({});\n", m.version))
            );
        }
    }

    #[test]
    fn a_schema_behind_is_refused_naming_what_is_missing() {
        let all: Vec<i32> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(check_current("s", &all), Ok(()));
        let Err(StoreError::Unavailable(message)) = check_current("s", &all[..all.len() - 1]) else {
            panic!("a schema missing the last migration must be refused");
        };
        assert!(message.contains(&format!("needs {LATEST}")), "{message}");
        assert!(message.contains(&format!("missing {} (outbox_written_at)", LATEST)), "{message}");
        assert!(matches!(check_current("s", &[]), Err(StoreError::Unavailable(m)) if m.contains("at migration 0")));
    }
}
