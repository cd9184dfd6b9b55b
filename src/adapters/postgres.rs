//! [`PgStore`]: an [`OrderStore`](crate::ports::OrderStore) on PostgreSQL (feature `postgres`), shared by several
//! application instances.
//!
//! # Tables
//!
//! [`PgStore::connect`] creates (or upgrades) its tables in one schema, by default
//! `orderflow`, so the store can live in a database shared with the host's own tables, and
//! tests can isolate themselves in a schema of their own. A `schema_version` table records
//! which migrations ran; instances starting together serialize their migrations on an advisory
//! lock.
//!
//! - `orders`: one row per order: the snapshot (`jsonb`), its `version`, and the columns the
//!   listings and timers search on (number, customer, status, placed-at, earliest deadline),
//!   each indexed;
//! - `events`: the history, keyed by `(order_id, seq)`;
//! - `outbox`: effects to deliver, keyed by their dedupe key, with a lease, a retry time, an
//!   attempt count, the last error and when it happened, plus partial indexes over the rows
//!   still open and over the dead letters;
//! - `dedupe_keys` and `waybills`: the lookups, the waybills keyed by `(carrier, waybill)`
//!   (migration 3 added the carrier, filling it in from the order snapshots).
//!
//! # Several instances
//!
//! Every guarantee comes from the database, so any number of engines, in one process or many,
//! may share one schema:
//! - an append is one transaction that starts with a compare-and-set on the order's version
//!   (`UPDATE orders ... WHERE id = $1 AND version = $2`): of several writers that decided on
//!   the same version exactly one commits, the others get [`StoreError::Conflict`] and nothing
//!   of theirs is written;
//! - dedupe keys, order numbers and `(carrier, waybill)` pairs are unique constraints, checked
//!   in the same transaction;
//! - outbox items are claimed with `SELECT ... FOR UPDATE SKIP LOCKED` and leased in the same
//!   statement, so two instances claiming at once get different items; an item whose lease ran
//!   out (its instance died or hung) is claimable again, so delivery is at least once, and the
//!   receiving side deduplicates by the item's key;
//! - [`WorkQueue::due_deadlines`](crate::ports::WorkQueue::due_deadlines) is a plain read: two instances may both see the same due
//!   deadline, but firing it is a command on the order, itself a compare-and-set, and the event
//!   it causes clears or moves the deadline, so the loser finds nothing to do and the deadline
//!   fires once.
//!
//! # Copies of recent writes
//!
//! A store keeps a copy of each order it wrote last ([`PgOptions::cached_orders`]), so that
//! a command, which loads the order it changes, need not read it back: the first
//! [`load_for_command`](OrderRepository::load_for_command) after this store's own write of an
//! order answers from the copy without asking the database ([`PgOptions::copy_first`]).
//! Every other load asks the database, which sends the snapshot only when its version is not
//! the copy's, so [`load`](OrderRepository::load) always sees other instances' writes. An
//! append that conflicts or fails drops the copy, so the engine's retry reads the database.
//!
//! What may be stale, across instances only: that one command's load after a write may miss
//! another instance's later write. Commands stay correct all the same: a decision on a stale
//! copy is refused by the commit's compare-and-set (then decided again on a fresh load), and
//! the engine gives an answer that is not a commit (a refusal, nothing to do) only once a
//! second load, which asks the database, found the same version. Turn
//! [`PgOptions::copy_first`] off to have every load ask the database.
//!
//! # Errors
//!
//! Lost connections, timeouts, serialization failures and deadlocks are
//! [`StoreError::Unavailable`] (retry later). Their messages name the SQLSTATE or the kind of
//! failure, never the database's own text, which can quote stored data.
//!
//! # Time
//!
//! PostgreSQL keeps timestamps to the microsecond: the searchable time columns (placed-at, the
//! earliest deadline, outbox retry times and leases) are compared at that precision. Snapshots
//! and events keep every nanosecond.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, QueueMode, RecyclingMethod, Runtime};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use crate::effect::Effect;
use crate::event::Event;
use crate::ids::{CustomerId, OrderId};
use crate::money::Money;
use crate::order::{DeadlineKind, Order, OrderStatus, UNKNOWN_CARRIER};
use crate::order_number::OrderNumber;
use crate::ports::{
    Commit, DeadLetter, DueDeadline, OrderFilter, OrderPage, OrderRepository, OrderSummary, OutboxItem, StoreError,
    WorkQueue,
};

/// The schema used when none is given.
pub const DEFAULT_SCHEMA: &str = "orderflow";

/// The migrations, in order; `{s}` stands for the quoted schema name. A migration never
/// changes once released: add a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE IF NOT EXISTS {s}.orders (
    id                 uuid        PRIMARY KEY,
    number             text        NOT NULL,
    customer           text        NOT NULL,
    status             text        NOT NULL,
    placed_at          timestamptz NOT NULL,
    next_deadline_at   timestamptz,
    next_deadline_kind jsonb,
    version            bigint      NOT NULL,
    snapshot           jsonb       NOT NULL,
    CONSTRAINT orders_number_unique UNIQUE (number)
);
CREATE INDEX IF NOT EXISTS orders_customer_id ON {s}.orders (customer, id);
CREATE INDEX IF NOT EXISTS orders_status_id ON {s}.orders (status, id);
CREATE INDEX IF NOT EXISTS orders_next_deadline ON {s}.orders (next_deadline_at, id)
    WHERE next_deadline_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS {s}.events (
    order_id uuid   NOT NULL REFERENCES {s}.orders (id),
    seq      bigint NOT NULL,
    body     jsonb  NOT NULL,
    PRIMARY KEY (order_id, seq)
);

CREATE TABLE IF NOT EXISTS {s}.outbox (
    key          text        PRIMARY KEY,
    seq          bigserial   NOT NULL,
    order_id     uuid        NOT NULL,
    effect       jsonb       NOT NULL,
    available_at timestamptz,
    lease_until  timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    done         boolean     NOT NULL DEFAULT false,
    dead         boolean     NOT NULL DEFAULT false,
    last_error   text
);
CREATE INDEX IF NOT EXISTS outbox_open ON {s}.outbox (seq) WHERE NOT done AND NOT dead;

CREATE TABLE IF NOT EXISTS {s}.dedupe_keys (
    key      text PRIMARY KEY,
    order_id uuid NOT NULL
);

CREATE TABLE IF NOT EXISTS {s}.waybills (
    waybill  text PRIMARY KEY,
    order_id uuid NOT NULL
);
CREATE INDEX IF NOT EXISTS waybills_order ON {s}.waybills (order_id);
"#,
    r#"
ALTER TABLE {s}.outbox ADD COLUMN IF NOT EXISTS failed_at timestamptz;
CREATE INDEX IF NOT EXISTS outbox_dead ON {s}.outbox (seq) WHERE dead;
"#,
    // Waybills keyed by carrier and waybill (numbers are unique per carrier only). The old
    // table stays as `waybills_v2` while `rebuild_waybills` fills the new one from the order
    // snapshots, then is dropped.
    r#"
ALTER TABLE {s}.waybills RENAME TO waybills_v2;
ALTER TABLE {s}.waybills_v2 RENAME CONSTRAINT waybills_pkey TO waybills_v2_pkey;
ALTER INDEX {s}.waybills_order RENAME TO waybills_v2_order;
CREATE TABLE {s}.waybills (
    carrier  text NOT NULL,
    waybill  text NOT NULL,
    order_id uuid NOT NULL,
    CONSTRAINT waybills_pkey PRIMARY KEY (carrier, waybill)
);
CREATE INDEX waybills_order ON {s}.waybills (order_id);
"#,
];

/// The migration after which [`PgStore::rebuild_waybills`] runs.
const WAYBILLS_BY_CARRIER: i32 = 3;

/// A commit is one statement: its head writes the order row and returns it as `o`, and
/// [`commit_rows`] writes every other row from `o`, so a compare-and-set that finds another
/// version writes nothing. One statement is one round trip and one transaction of its own,
/// with no `BEGIN` and `COMMIT` around it.
///
/// The head of a create: `$1..$9` as in [`OrderRow::params`].
const CREATE_ORDER: &str = "WITH o AS (
    INSERT INTO {s}.orders (id, number, customer, status, placed_at, next_deadline_at, next_deadline_kind, version,
        snapshot)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    RETURNING id
)";

/// The head of an append: the compare-and-set, `$10` being the expected version.
const UPDATE_ORDER: &str = "WITH o AS (
    UPDATE {s}.orders SET customer = $3, status = $4, placed_at = $5, next_deadline_at = $6, next_deadline_kind = $7,
        version = $8, snapshot = $9
    WHERE id = $1 AND number = $2 AND version = $10
    RETURNING id
)";

/// What a commit does to the order's waybills, its `(carrier, waybill)` pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WaybillRows {
    /// Nothing: the order has none and had none (before shipping).
    Leave = 0,
    /// The order keeps every waybill it had (and may have new ones): each one it has no row
    /// for yet is inserted, and one another order has fails the statement (`waybills_pkey`).
    Keep = 1,
    /// They changed, or what they were is not known here: replace the order's rows.
    Replace = 2,
}

/// The hot statements' text, built once per store.
struct Statements {
    /// A create, by [`WaybillRows`].
    create: [String; 3],
    /// An append, by [`WaybillRows`].
    append: [String; 3],
    /// A load: the snapshot only when the version (`$2`) is not the copy's.
    load: String,
}

impl Statements {
    fn new(schema: &str) -> Statements {
        let sql = |text: String| text.replace("{s}", schema);
        let rows = [WaybillRows::Leave, WaybillRows::Keep, WaybillRows::Replace];
        Statements {
            create: rows.map(|w| sql(format!("{CREATE_ORDER}{}", commit_rows(10, w)))),
            append: rows.map(|w| sql(format!("{UPDATE_ORDER}{}", commit_rows(11, w)))),
            load: sql("SELECT CASE WHEN version = $2 THEN NULL ELSE snapshot END FROM {s}.orders WHERE id = $1".into()),
        }
    }
}

/// The rest of a commit's statement, after its head: dedupe keys (a recorded one fails the
/// statement), events, outbox rows (in commit order; an existing key is kept) and the order's
/// waybills (see [`WaybillRows`]; another order's fails the statement). Parameters from
/// `$first`: dedupe keys, event seqs, event bodies, outbox keys, effects and, unless
/// [`WaybillRows::Leave`], the waybills' carriers and numbers. The statement returns how many
/// order rows it wrote, 0 or 1.
fn commit_rows(first: usize, waybills: WaybillRows) -> String {
    let [keys, seqs, bodies, outbox_keys, effects, carriers, numbers] = [0, 1, 2, 3, 4, 5, 6].map(|i| first + i);
    let list = format!("unnest(${carriers}::text[], ${numbers}::text[]) AS t(c, w)");
    let stale = format!(
        ", stale_waybills AS (
    DELETE FROM {{s}}.waybills AS x USING o WHERE x.order_id = o.id
        AND NOT EXISTS (SELECT 1 FROM {list} WHERE t.c = x.carrier AND t.w = x.waybill)
)"
    );
    // The order's rows are looked up by the primary key (not by a join with the table, whose
    // plan could scan it). A pair another order has fails the insert: a unique violation of
    // `waybills_pkey`, which refuses the whole statement.
    let recorded = format!(
        ", new_waybills AS (
    INSERT INTO {{s}}.waybills (carrier, waybill, order_id) SELECT t.c, t.w, o.id FROM o, {list}
    WHERE NOT EXISTS (
        SELECT 1 FROM {{s}}.waybills AS x WHERE x.carrier = t.c AND x.waybill = t.w AND x.order_id = o.id
    )
)"
    );
    let waybills = match waybills {
        WaybillRows::Leave => String::new(),
        WaybillRows::Keep => recorded,
        WaybillRows::Replace => stale + &recorded,
    };
    format!(
        ", new_keys AS (
    INSERT INTO {{s}}.dedupe_keys (key, order_id) SELECT t.k, o.id FROM o, unnest(${keys}::text[]) AS t(k)
), new_events AS (
    INSERT INTO {{s}}.events (order_id, seq, body)
    SELECT o.id, t.seq, t.body FROM o, unnest(${seqs}::bigint[], ${bodies}::jsonb[]) AS t(seq, body)
), new_outbox AS (
    INSERT INTO {{s}}.outbox (key, order_id, effect)
    SELECT t.k, o.id, t.e FROM o, unnest(${outbox_keys}::text[], ${effects}::jsonb[]) WITH ORDINALITY AS t(k, e, n)
    ORDER BY t.n
    ON CONFLICT (key) DO NOTHING
){waybills}
SELECT count(*) FROM o"
    )
}

/// How to reach the database and where to keep the tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// A libpq-style connection string or `postgres://` URL. Connections are not encrypted
    /// (no TLS): use a private network or a local proxy.
    pub url: String,
    /// The schema holding the tables: a lower-case SQL identifier (`[a-z_][a-z0-9_]*`, at most
    /// 63 characters). Created when missing.
    pub schema: String,
    /// Connections kept at most.
    pub pool_size: usize,
    /// How long a call waits for a free connection (or a new one) before it fails with
    /// [`StoreError::Unavailable`].
    pub timeout: Duration,
    /// How many of the orders it wrote last the store keeps a copy of (0: none). A load still
    /// reads the stored version, so writes by other instances are always seen, but when the
    /// version is the copy's the snapshot is neither sent nor decoded. Each copy costs about
    /// as much memory as the order's snapshot.
    pub cached_orders: usize,
    /// Whether the first command's load after this store's own write of an order answers from
    /// its copy without asking the database (see the [module documentation](self)): saves a
    /// round trip per command; off, every load asks the database (and still skips sending a
    /// snapshot equal to the copy).
    pub copy_first: bool,
}

impl PgOptions {
    /// The defaults for `url`: schema [`DEFAULT_SCHEMA`], 16 connections, 30 s timeout,
    /// copies of the last 1,024 orders written.
    pub fn new(url: impl Into<String>) -> PgOptions {
        PgOptions {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            pool_size: 16,
            timeout: Duration::from_secs(30),
            cached_orders: 1024,
            copy_first: true,
        }
    }

    /// Uses the schema `schema`.
    pub fn schema(mut self, schema: impl Into<String>) -> PgOptions {
        self.schema = schema.into();
        self
    }

    /// Keeps at most `size` connections (at least 1).
    pub fn pool_size(mut self, size: usize) -> PgOptions {
        self.pool_size = size.max(1);
        self
    }

    /// Keeps copies of the last `orders` orders written (0: none); see
    /// [`PgOptions::cached_orders`].
    pub fn cached_orders(mut self, orders: usize) -> PgOptions {
        self.cached_orders = orders;
        self
    }

    /// Sets [`PgOptions::copy_first`].
    pub fn copy_first(mut self, on: bool) -> PgOptions {
        self.copy_first = on;
        self
    }
}

/// An [`OrderStore`](crate::ports::OrderStore) on PostgreSQL, for several instances sharing one database (see the
/// [module documentation](self)).
///
/// It holds a pool of connections ([deadpool-postgres](deadpool_postgres)) rather than one
/// connection behind a lock: each call takes a connection for the time of its statement or
/// transaction only, so calls from many tasks run in parallel up to the pool size and then wait
/// in line (with a timeout); a broken connection is dropped and replaced on the next call; and
/// no call ever holds two connections, so the pool cannot deadlock on itself. Statements are
/// prepared once per connection and cached (a connection pooler in front must keep sessions,
/// not transactions). To share one store between tasks, wrap it in an [`std::sync::Arc`].
/// Needs a tokio runtime.
///
/// ```no_run
/// use orderflow::adapters::postgres::{PgOptions, PgStore};
///
/// # async fn demo() -> Result<(), orderflow::ports::StoreError> {
/// let store = PgStore::connect(PgOptions::new("postgres://app@db.internal/shop").schema("orders")).await?;
/// # Ok(()) }
/// ```
pub struct PgStore {
    pool: Pool,
    /// The schema name, quoted, ready to put before a table name.
    quoted: String,
    /// The schema name.
    schema: String,
    /// Copies of the orders written last.
    recent: Mutex<Recent>,
    /// The text of the statements every commit and load runs.
    statements: Statements,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStore")
            .field("schema", &self.schema)
            .field("pool_size", &status.max_size)
            .field("connections", &status.size)
            .finish_non_exhaustive()
    }
}

/// True for a lower-case SQL identifier that needs no quoting.
fn valid_schema(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl PgStore {
    /// The version of the copy this store keeps of an order, if it keeps one (see the
    /// [module documentation](self)): for diagnostics and tests.
    pub fn copy_version(&self, id: OrderId) -> Option<u64> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner).get(id).map(|order| order.version)
    }

    /// Connects, creates the schema and its tables when missing (or upgrades them), and
    /// returns the store.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached or the URL or schema
    /// name is invalid.
    pub async fn connect(options: PgOptions) -> Result<PgStore, StoreError> {
        if !valid_schema(&options.schema) {
            return Err(StoreError::Unavailable(format!(
                "invalid schema name {:?}: use [a-z_][a-z0-9_]*, at most 63 characters",
                options.schema
            )));
        }
        let config: tokio_postgres::Config =
            options.url.parse().map_err(|_| StoreError::Unavailable("invalid PostgreSQL connection string".into()))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.timeout))
            .create_timeout(Some(options.timeout))
            .recycle_timeout(Some(options.timeout))
            // The connection used last first: the few that are busy stay warm, the rest idle.
            .queue_mode(QueueMode::Lifo)
            .build()
            .map_err(|_| StoreError::Unavailable("cannot build the connection pool".into()))?;
        let quoted = format!("\"{}\"", options.schema);
        let store = PgStore {
            pool,
            statements: Statements::new(&quoted),
            quoted,
            schema: options.schema,
            recent: Mutex::new(Recent::new(options.cached_orders, options.copy_first)),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Runs the migrations not run yet, in one transaction, under an advisory lock so
    /// instances starting together do not race.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock(hashtext('orderflow migrations ' || $1::text))", &[&self.schema])
            .await
            .map_err(db)?;
        tx.batch_execute(&self.sql(
            "CREATE SCHEMA IF NOT EXISTS {s};
             CREATE TABLE IF NOT EXISTS {s}.schema_version (
                 version    integer     PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );",
        ))
        .await
        .map_err(db)?;
        let row = tx.query_one(&self.sql("SELECT COALESCE(max(version), 0) FROM {s}.schema_version"), &[]).await;
        let current: i32 = row.map_err(db)?.get(0);
        for (version, migration) in (1i32..).zip(MIGRATIONS) {
            if version <= current {
                continue;
            }
            tx.batch_execute(&self.sql(migration)).await.map_err(db)?;
            if version == WAYBILLS_BY_CARRIER {
                self.rebuild_waybills(&tx).await?;
            }
            tx.execute(&self.sql("INSERT INTO {s}.schema_version (version) VALUES ($1)"), &[&version])
                .await
                .map_err(db)?;
            tracing::info!(schema = %self.schema, version, "orderflow schema migrated");
        }
        tx.commit().await.map_err(db)
    }

    /// Fills the waybill table of migration 3 from the order snapshots, then drops the old
    /// table, `waybills_v2`, which knew no carriers.
    ///
    /// Every order whose snapshot names a waybill gets its `(carrier, waybill)` pairs. Where
    /// two orders have the same pair (the old index gave a reused waybill to the order written
    /// last), the order the old index pointed to keeps it, so lookups answer as before, and
    /// the other loses it (logged). An order whose snapshot cannot be read keeps its old rows,
    /// under [`UNKNOWN_CARRIER`] (logged).
    async fn rebuild_waybills(&self, tx: &tokio_postgres::Transaction<'_>) -> Result<(), StoreError> {
        const PAGE: i64 = 500;
        let old_rows = tx.query(&self.sql("SELECT waybill, order_id FROM {s}.waybills_v2"), &[]).await.map_err(db)?;
        let old: HashSet<(String, Uuid)> = old_rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        // Only the orders in the old index and those whose snapshot names a waybill (`jsonb`
        // prints `"waybill": "..."` or `"return_waybill": "..."`, `null` when there is none).
        let page = self.sql(
            r#"SELECT id, snapshot FROM {s}.orders
               WHERE id > $1 AND (id IN (SELECT order_id FROM {s}.waybills_v2) OR snapshot::text LIKE '%waybill": "%')
               ORDER BY id LIMIT $2"#,
        );
        let mut pairs: Vec<(String, String, Uuid)> = Vec::new();
        let mut after = Uuid::nil();
        loop {
            let rows = tx.query(&page, &[&after, &PAGE]).await.map_err(db)?;
            let Some(last) = rows.last() else { break };
            after = last.get(0);
            for row in &rows {
                let id: Uuid = row.get(0);
                match row.try_get::<_, Json<Order>>(1) {
                    Ok(Json(order)) => {
                        pairs.extend(order.carrier_waybills().map(|(c, w)| (c.to_owned(), w.to_owned(), id)));
                    }
                    Err(_) => {
                        tracing::warn!(order_id = %id, "postgres store: migrating waybills: snapshot unreadable, its waybills kept without carrier");
                        pairs.extend(
                            old.iter()
                                .filter(|(_, owner)| *owner == id)
                                .map(|(w, _)| (UNKNOWN_CARRIER.to_owned(), w.clone(), id)),
                        );
                    }
                }
            }
            if i64::try_from(rows.len()).unwrap_or(i64::MAX) < PAGE {
                break;
            }
        }
        // The old index's choice first, so it wins any pair claimed twice.
        let (kept, others): (Vec<_>, Vec<_>) =
            pairs.into_iter().partition(|(_, w, id)| old.contains(&(w.clone(), *id)));
        let insert = self.sql(
            "INSERT INTO {s}.waybills (carrier, waybill, order_id)
             SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[])
             ON CONFLICT (carrier, waybill) DO NOTHING",
        );
        let mut dropped = 0u64;
        for group in [kept, others] {
            let carriers: Vec<&str> = group.iter().map(|(c, _, _)| c.as_str()).collect();
            let numbers: Vec<&str> = group.iter().map(|(_, w, _)| w.as_str()).collect();
            let ids: Vec<Uuid> = group.iter().map(|(_, _, id)| *id).collect();
            let inserted = tx.execute(&insert, &[&carriers, &numbers, &ids]).await.map_err(db)?;
            dropped += (group.len() as u64).saturating_sub(inserted);
        }
        if dropped > 0 {
            tracing::warn!(schema = %self.schema, dropped, "postgres store: migrating waybills: waybills recorded on two orders stay with the order the old index named");
        }
        tx.batch_execute(&self.sql("DROP TABLE {s}.waybills_v2;")).await.map_err(db)
    }

    /// `template` with `{s}` replaced by the quoted schema.
    fn sql(&self, template: &str) -> String {
        template.replace("{s}", &self.quoted)
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(|e| {
            let what = match e {
                deadpool_postgres::PoolError::Timeout(_) => "timed out waiting for a database connection",
                deadpool_postgres::PoolError::Backend(_) => "cannot connect to the database",
                _ => "no database connection available",
            };
            tracing::warn!(schema = %self.schema, "{what}");
            StoreError::Unavailable(what.into())
        })
    }

    /// Writes a commit in one statement (see [`CREATE_ORDER`]). A refusal is explained
    /// afterwards, by a read.
    async fn write(&self, commit: Commit<'_>, create: bool) -> Result<(), StoreError> {
        if create {
            check_new(&commit)?;
        }
        let order = commit.order;
        let row = OrderRow::of(order)?;
        let client = self.client().await?;
        if let Err(invalid) = commit.check_sequence() {
            // A caller's bug; a stale commit is still a conflict first, as in the memory store.
            return Err(self.refused(&client, &commit, create).await?.unwrap_or(invalid));
        }
        let expected = to_i64(commit.expected_version)?;
        let keys: Vec<&str> = commit.dedupe_keys.iter().map(String::as_str).collect();
        let seqs: Vec<i64> = commit.events.iter().map(|e| to_i64(e.seq)).collect::<Result<_, _>>()?;
        // Serialized straight into the request, as binary `jsonb` (no `Value` in between).
        let bodies: Vec<Json<&Event>> = commit.events.iter().map(Json).collect();
        let outbox_keys: Vec<&str> = commit.outbox.iter().map(|e| e.key.as_str()).collect();
        let effects: Vec<Json<&Effect>> = commit.outbox.iter().map(|e| Json(&e.effect)).collect();
        let mut waybills: Vec<(&str, &str)> = Vec::new();
        for pair in order.carrier_waybills() {
            if !waybills.contains(&pair) {
                waybills.push(pair);
            }
        }
        // What the order's waybills were, from the copy of the version this commit is based on.
        let waybill_rows = if create {
            if waybills.is_empty() { WaybillRows::Leave } else { WaybillRows::Keep }
        } else {
            let copy = self.recent.lock().unwrap_or_else(PoisonError::into_inner).get(order.id);
            match copy.filter(|copy| copy.version == commit.expected_version) {
                Some(copy) if copy.carrier_waybills().next().is_none() && waybills.is_empty() => WaybillRows::Leave,
                Some(copy) if copy.carrier_waybills().all(|pair| waybills.contains(&pair)) => WaybillRows::Keep,
                _ => WaybillRows::Replace,
            }
        };
        let (carriers, numbers): (Vec<&str>, Vec<&str>) = waybills.iter().copied().unzip();
        let mut params = row.params();
        let sql = if create {
            &self.statements.create[waybill_rows as usize]
        } else {
            params.push(&expected);
            &self.statements.append[waybill_rows as usize]
        };
        params.extend::<[&(dyn ToSql + Sync); 5]>([&keys, &seqs, &bodies, &outbox_keys, &effects]);
        if waybill_rows != WaybillRows::Leave {
            params.push(&carriers);
            params.push(&numbers);
        }
        let written = client.query_one(&client.prepare_cached(sql).await.map_err(db)?, &params).await;
        if !matches!(&written, Ok(row) if row.get::<_, i64>(0) == 1) {
            // The retry's load must read the database.
            self.recent.lock().unwrap_or_else(PoisonError::into_inner).forget(order.id);
        }
        let unique_violation = match written {
            Ok(row) if row.get::<_, i64>(0) == 1 => {
                drop(client);
                let copy = Arc::new(order.clone());
                self.recent.lock().unwrap_or_else(PoisonError::into_inner).put(copy);
                return Ok(());
            }
            // The compare-and-set found another version (or no order, or another number).
            Ok(_) => {
                let stale = StoreError::Conflict { expected: commit.expected_version, actual: commit.expected_version };
                return Err(self.refused(&client, &commit, create).await?.unwrap_or(stale));
            }
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => e,
            Err(e) => {
                return Err(match serde_error(&e) {
                    Some(json) => StoreError::Corrupt(format!("cannot encode for storage: {json}")),
                    None => db(e),
                });
            }
        };
        match unique_violation.as_db_error().and_then(|d| d.constraint()).unwrap_or_default() {
            "orders_number_unique" => Err(StoreError::DuplicateOrderNumber(order.number)),
            "dedupe_keys_pkey" => {
                Err(self.duplicate_key(&client, &keys).await?.unwrap_or_else(|| db(unique_violation)))
            }
            "waybills_pkey" => {
                // A recorded dedupe key is reported first, as by the other stores.
                let refusal = match self.duplicate_key(&client, &keys).await? {
                    Some(duplicate) => Some(duplicate),
                    None => self.taken_waybill(&client, order.id, &carriers, &numbers).await?,
                };
                Err(refusal.unwrap_or_else(|| db(unique_violation)))
            }
            "events_pkey" if !create => {
                Err(StoreError::Conflict { expected: commit.expected_version, actual: commit.order.version })
            }
            // The order exists already (create): read its version.
            _ => Err(self.refused(&client, &commit, create).await?.unwrap_or_else(|| db(unique_violation))),
        }
    }

    /// Why the order row of `commit` cannot be written, read from the stored row: the order
    /// exists (create) or is missing, at another version or under another number (append).
    /// `None` when the row would be accepted.
    async fn refused(
        &self,
        client: &Object,
        commit: &Commit<'_>,
        create: bool,
    ) -> Result<Option<StoreError>, StoreError> {
        let order = commit.order;
        let stored = self.version_of(client, order.id).await?;
        Ok(match stored {
            Some((actual, _)) if create => Some(StoreError::Conflict { expected: 0, actual }),
            None if create => {
                let sql = self.sql("SELECT 1 FROM {s}.orders WHERE number = $1");
                let statement = client.prepare_cached(&sql).await.map_err(db)?;
                let taken = client.query_opt(&statement, &[&order.number.as_str()]).await.map_err(db)?;
                taken.map(|_| StoreError::DuplicateOrderNumber(order.number))
            }
            None => Some(StoreError::NotFound(order.id)),
            Some((actual, _)) if actual != commit.expected_version => {
                Some(StoreError::Conflict { expected: commit.expected_version, actual })
            }
            Some((_, number)) if number != order.number.as_str() => Some(StoreError::Corrupt(format!(
                "order {} cannot change its number from {number} to {}",
                order.id, order.number
            ))),
            Some(_) => None,
        })
    }

    /// The first of `keys` that is recorded already or repeated among them.
    async fn duplicate_key(&self, client: &Object, keys: &[&str]) -> Result<Option<StoreError>, StoreError> {
        let sql = self.sql("SELECT key FROM {s}.dedupe_keys WHERE key = ANY($1::text[])");
        let rows = client.query(&client.prepare_cached(&sql).await.map_err(db)?, &[&keys]).await.map_err(db)?;
        let recorded: HashSet<&str> = rows.iter().map(|r| r.get(0)).collect();
        let mut seen = HashSet::with_capacity(keys.len());
        Ok(keys
            .iter()
            .find(|key| recorded.contains(**key) || !seen.insert(**key))
            .map(|key| StoreError::DuplicateKey((*key).to_owned())))
    }

    /// The first of the pairs (`carriers[i]`, `numbers[i]`) that another order than `id` has.
    async fn taken_waybill(
        &self,
        client: &Object,
        id: OrderId,
        carriers: &[&str],
        numbers: &[&str],
    ) -> Result<Option<StoreError>, StoreError> {
        let sql = self.sql(
            "SELECT t.c, t.w FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(c, w, n)
             JOIN {s}.waybills AS x ON x.carrier = t.c AND x.waybill = t.w
             WHERE x.order_id <> $3 ORDER BY t.n LIMIT 1",
        );
        let statement = client.prepare_cached(&sql).await.map_err(db)?;
        let row = client.query_opt(&statement, &[&carriers, &numbers, &id.as_uuid()]).await.map_err(db)?;
        Ok(row.map(|r| StoreError::WaybillTaken { carrier: r.get(0), waybill: r.get(1) }))
    }

    /// The stored version and number of an order, read outside any transaction.
    async fn version_of(&self, client: &Object, id: OrderId) -> Result<Option<(u64, String)>, StoreError> {
        let sql = self.sql("SELECT version, number FROM {s}.orders WHERE id = $1");
        let row =
            client.query_opt(&client.prepare_cached(&sql).await.map_err(db)?, &[&id.as_uuid()]).await.map_err(db)?;
        row.map(|r| Ok((to_u64(r.get(0))?, r.get(1)))).transpose()
    }

    async fn find_one(&self, sql: &str, param: &(dyn ToSql + Sync)) -> Result<Option<OrderId>, StoreError> {
        let client = self.client().await?;
        let row =
            client.query_opt(&client.prepare_cached(&self.sql(sql)).await.map_err(db)?, &[param]).await.map_err(db)?;
        Ok(row.map(|r| OrderId::from_uuid(r.get::<_, Uuid>(0))))
    }
}

/// Copies of the orders a store wrote last, each at the version it wrote, oldest first out.
struct Recent {
    /// Each copy, and whether a load may still answer from it without asking the database.
    orders: HashMap<OrderId, (Arc<Order>, bool)>,
    /// Writes in order; an order written again has an older entry here that no longer evicts
    /// it.
    written: VecDeque<(OrderId, u64)>,
    capacity: usize,
    /// [`PgOptions::copy_first`].
    copy_first: bool,
}

impl Recent {
    fn new(capacity: usize, copy_first: bool) -> Recent {
        Recent { orders: HashMap::new(), written: VecDeque::new(), capacity, copy_first }
    }

    fn get(&self, id: OrderId) -> Option<Arc<Order>> {
        self.orders.get(&id).map(|(order, _)| Arc::clone(order))
    }

    /// The copy a command's load may answer from without asking the database: only for the
    /// first such load after the write, so a copy another instance made stale is served at
    /// most once.
    fn serve(&mut self, id: OrderId) -> Option<Arc<Order>> {
        let (order, unasked) = self.orders.get_mut(&id)?;
        std::mem::take(unasked).then(|| Arc::clone(order))
    }

    /// Drops the copy of an order whose append conflicted or failed.
    fn forget(&mut self, id: OrderId) {
        self.orders.remove(&id);
    }

    fn put(&mut self, order: Arc<Order>) {
        if self.capacity == 0 || self.orders.get(&order.id).is_some_and(|(kept, _)| kept.version > order.version) {
            return;
        }
        self.written.push_back((order.id, order.version));
        self.orders.insert(order.id, (order, self.copy_first));
        while self.written.len() > self.capacity {
            if let Some((id, version)) = self.written.pop_front()
                && self.orders.get(&id).is_some_and(|(o, _)| o.version == version)
            {
                self.orders.remove(&id);
            }
        }
    }
}

/// The searchable columns of an order row.
struct OrderRow<'a> {
    id: Uuid,
    number: String,
    customer: String,
    status: String,
    placed_at: DateTime<Utc>,
    deadline_at: Option<DateTime<Utc>>,
    deadline_kind: Option<Value>,
    version: i64,
    /// Serialized straight into the request, as binary `jsonb` (no `Value` in between).
    snapshot: Json<&'a Order>,
}

impl OrderRow<'_> {
    fn of(order: &Order) -> Result<OrderRow<'_>, StoreError> {
        let deadline = order.next_deadline();
        Ok(OrderRow {
            id: order.id.as_uuid(),
            number: order.number.as_str().to_owned(),
            customer: order.customer.as_str().to_owned(),
            status: status_text(order.status())?,
            placed_at: order.placed_at,
            deadline_at: deadline.map(|(at, _)| at),
            deadline_kind: deadline.map(|(_, kind)| to_json(&kind)).transpose()?,
            version: to_i64(order.version)?,
            snapshot: Json(order),
        })
    }

    /// `$1..$9` in column order: id, number, customer, status, placed_at, next_deadline_at,
    /// next_deadline_kind, version, snapshot.
    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.id,
            &self.number,
            &self.customer,
            &self.status,
            &self.placed_at,
            &self.deadline_at,
            &self.deadline_kind,
            &self.version,
            &self.snapshot,
        ]
    }
}

/// A new order starts at version 0 with at least one event.
fn check_new(commit: &Commit<'_>) -> Result<(), StoreError> {
    if commit.expected_version != 0 {
        return Err(StoreError::Corrupt(format!(
            "a new order is created with expected version 0, not {}",
            commit.expected_version
        )));
    }
    if commit.events.is_empty() {
        return Err(StoreError::Corrupt("a new order needs at least its order_placed event".into()));
    }
    Ok(())
}

/// A driver error as a store error, without the database's text (it can quote stored data).
fn db(e: tokio_postgres::Error) -> StoreError {
    let message = match e.code() {
        Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE => "serialization failure, retry".to_owned(),
        Some(code) if *code == SqlState::T_R_DEADLOCK_DETECTED => "deadlock detected, retry".to_owned(),
        Some(code) => format!("database error (SQLSTATE {})", code.code()),
        None if e.is_closed() => "the database connection was closed".to_owned(),
        None => "database connection failed".to_owned(),
    };
    tracing::warn!(error = %message, "postgres store call failed");
    StoreError::Unavailable(message)
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(format!("cannot encode for storage: {e}")))
}

fn from_json<T: DeserializeOwned>(value: Value, what: &dyn fmt::Display) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|e| undecodable(&e, what))
}

/// The JSON error behind a driver error: a value that could not be encoded or decoded.
fn serde_error(e: &tokio_postgres::Error) -> Option<&serde_json::Error> {
    std::error::Error::source(e).and_then(|source| source.downcast_ref::<serde_json::Error>())
}

/// Names what could not be decoded and where, without quoting the stored data.
fn undecodable(e: &serde_json::Error, what: &dyn fmt::Display) -> StoreError {
    StoreError::Corrupt(format!(
        "{what} cannot be decoded ({:?} error at line {} column {})",
        e.classify(),
        e.line(),
        e.column()
    ))
}

fn status_text(status: OrderStatus) -> Result<String, StoreError> {
    match to_json(&status)? {
        Value::String(s) => Ok(s),
        other => Err(StoreError::Corrupt(format!("order status encodes as {other}, not a string"))),
    }
}

fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{n} does not fit a bigint column")))
}

fn to_u64(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative version {n} stored")))
}

impl OrderRepository for PgStore {
    async fn create(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        self.write(commit, true).await
    }

    async fn append(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        self.write(commit, false).await
    }

    async fn load(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        let copy = self.recent.lock().unwrap_or_else(PoisonError::into_inner).get(id);
        let copy_version = copy.as_ref().and_then(|o| i64::try_from(o.version).ok()).unwrap_or(-1);
        let client = self.client().await?;
        // The snapshot only when the copy (if any) is not the stored version.
        let statement = client.prepare_cached(&self.statements.load).await.map_err(db)?;
        let row = client.query_opt(&statement, &[&id.as_uuid(), &copy_version]).await.map_err(db)?;
        drop(client);
        let Some(row) = row else { return Ok(None) };
        // Decoded straight into the order (not through a `Value`).
        match (row.try_get::<_, Option<Json<Order>>>(0), copy) {
            (Ok(Some(Json(order))), _) => Ok(Some(order)),
            (Ok(None), Some(copy)) => Ok(Some(Order::clone(&copy))),
            (Ok(None), None) => Err(StoreError::Corrupt(format!("order {id} has no snapshot"))),
            (Err(e), _) => Err(match serde_error(&e) {
                Some(e) => undecodable(e, &format_args!("the snapshot of order {id}")),
                None => db(e),
            }),
        }
    }

    /// The copy of this store's last write of the order, the first time after that write;
    /// otherwise [`OrderRepository::load`] (see the module documentation).
    async fn load_for_command(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        let unasked = self.recent.lock().unwrap_or_else(PoisonError::into_inner).serve(id);
        match unasked {
            Some(copy) => Ok(Some(Order::clone(&copy))),
            None => self.load(id).await,
        }
    }

    async fn events(&self, id: OrderId) -> Result<Vec<Event>, StoreError> {
        let client = self.client().await?;
        let sql = self.sql("SELECT seq, body FROM {s}.events WHERE order_id = $1 ORDER BY seq");
        let rows = client.query(&client.prepare_cached(&sql).await.map_err(db)?, &[&id.as_uuid()]).await.map_err(db)?;
        drop(client);
        rows.into_iter()
            .map(|r| {
                let seq: i64 = r.get(0);
                from_json(r.get(1), &format_args!("event {seq} of order {id}"))
            })
            .collect()
    }

    async fn find_by_number(&self, number: &OrderNumber) -> Result<Option<OrderId>, StoreError> {
        self.find_one("SELECT id FROM {s}.orders WHERE number = $1", &number.as_str()).await
    }

    async fn find_by_waybill(&self, carrier: &str, waybill: &str) -> Result<Option<OrderId>, StoreError> {
        let client = self.client().await?;
        let sql = self.sql("SELECT order_id FROM {s}.waybills WHERE carrier = $1 AND waybill = $2");
        let statement = client.prepare_cached(&sql).await.map_err(db)?;
        let row = client.query_opt(&statement, &[&carrier, &waybill]).await.map_err(db)?;
        Ok(row.map(|r| OrderId::from_uuid(r.get::<_, Uuid>(0))))
    }

    async fn find_by_key(&self, key: &str) -> Result<Option<OrderId>, StoreError> {
        self.find_one("SELECT order_id FROM {s}.dedupe_keys WHERE key = $1", &key).await
    }

    async fn list(&self, filter: &OrderFilter, after: Option<OrderId>, limit: usize) -> Result<OrderPage, StoreError> {
        let status = filter.status.map(status_text).transpose()?;
        let customer = filter.customer.as_ref().map(|c| c.as_str());
        let after = after.map(|id| id.as_uuid());
        let fetch = i64::try_from(limit).unwrap_or(i64::MAX - 1).saturating_add(1);
        let mut conditions: Vec<String> = Vec::new();
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(s) = &status {
            params.push(s);
            conditions.push(format!("status = ${}", params.len()));
        }
        if let Some(c) = &customer {
            params.push(c);
            conditions.push(format!("customer = ${}", params.len()));
        }
        if let Some(t) = &filter.placed_from {
            params.push(t);
            conditions.push(format!("placed_at >= ${}", params.len()));
        }
        if let Some(t) = &filter.placed_before {
            params.push(t);
            conditions.push(format!("placed_at < ${}", params.len()));
        }
        if let Some(a) = &after {
            params.push(a);
            conditions.push(format!("id > ${}", params.len()));
        }
        params.push(&fetch);
        let sql = format!(
            "SELECT id, number, customer, status, snapshot->'placed_at', snapshot->'totals'->'total'
             FROM {}.orders {} {} ORDER BY id LIMIT ${}",
            self.quoted,
            if conditions.is_empty() { "" } else { "WHERE" },
            conditions.join(" AND "),
            params.len()
        );
        let client = self.client().await?;
        let rows = client.query(&client.prepare_cached(&sql).await.map_err(db)?, &params).await.map_err(db)?;
        drop(client);
        let mut items = Vec::with_capacity(rows.len().min(limit));
        let mut more = false;
        for row in rows {
            if items.len() >= limit {
                more = true;
                break;
            }
            let id = OrderId::from_uuid(row.get(0));
            let what = format!("the listing row of order {id}");
            let number: &str = row.get(1);
            let customer: &str = row.get(2);
            let status: String = row.get(3);
            items.push(OrderSummary {
                id,
                number: number.parse().map_err(|_| StoreError::Corrupt(format!("{what}: bad order number")))?,
                customer: CustomerId::new(customer)
                    .map_err(|_| StoreError::Corrupt(format!("{what}: bad customer id")))?,
                status: from_json::<OrderStatus>(Value::String(status), &what)?,
                placed_at: from_json::<DateTime<Utc>>(row.get(4), &what)?,
                total: from_json::<Money>(row.get(5), &what)?,
            });
        }
        let next = if more { items.last().map(|s| s.id) } else { None };
        Ok(OrderPage { items, next })
    }
}

impl WorkQueue for PgStore {
    async fn due_deadlines(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<DueDeadline>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let sql = self.sql(
            "SELECT id, next_deadline_at, next_deadline_kind FROM {s}.orders
             WHERE next_deadline_at IS NOT NULL AND next_deadline_at <= $1
             ORDER BY next_deadline_at, id LIMIT $2",
        );
        let rows = client.query(&client.prepare_cached(&sql).await.map_err(db)?, &[&now, &limit]).await.map_err(db)?;
        drop(client);
        rows.into_iter()
            .map(|r| {
                let order_id = OrderId::from_uuid(r.get(0));
                let kind: Option<Value> = r.get(2);
                let kind = from_json::<DeadlineKind>(
                    kind.unwrap_or(Value::Null),
                    &format_args!("the deadline kind of order {order_id}"),
                )?;
                Ok(DueDeadline { order_id, kind, due_at: r.get(1) })
            })
            .collect()
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let lease_until = now.checked_add_signed(lease).unwrap_or(DateTime::<Utc>::MAX_UTC);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Rows another instance is claiming right now are locked: skip them rather than wait.
        // An expired lease is claimable again (its instance died or hung).
        let sql = self.sql(
            "UPDATE {s}.outbox SET lease_until = $2, attempts = attempts + 1
             WHERE key IN (
                 SELECT key FROM {s}.outbox
                 WHERE NOT done AND NOT dead
                   AND (available_at IS NULL OR available_at <= $1)
                   AND (lease_until IS NULL OR lease_until <= $1)
                 ORDER BY seq
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED
             )
             RETURNING seq, key, order_id, effect, attempts",
        );
        let client = self.client().await?;
        let rows = client
            .query(&client.prepare_cached(&sql).await.map_err(db)?, &[&now, &lease_until, &limit])
            .await
            .map_err(db)?;
        drop(client);
        let mut items = rows
            .into_iter()
            .map(|r| {
                let seq: i64 = r.get(0);
                let key: String = r.get(1);
                let effect: Effect = from_json(r.get(3), &format_args!("the effect of outbox item {key:?}"))?;
                let attempts: i32 = r.get(4);
                Ok((
                    seq,
                    OutboxItem {
                        order_id: OrderId::from_uuid(r.get(2)),
                        effect,
                        attempts: u32::try_from(attempts).unwrap_or(0),
                        key,
                    },
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        items.sort_by_key(|(seq, _)| *seq);
        Ok(items.into_iter().map(|(_, item)| item).collect())
    }

    async fn complete_outbox(&self, key: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        let sql = self.sql("UPDATE {s}.outbox SET done = true, lease_until = NULL WHERE key = $1 AND NOT done");
        client.execute(&client.prepare_cached(&sql).await.map_err(db)?, &[&key]).await.map_err(db)?;
        Ok(())
    }

    async fn fail_outbox(
        &self,
        key: &str,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let sql = self.sql(
            "UPDATE {s}.outbox
             SET lease_until = NULL, last_error = $2, failed_at = $4,
                 available_at = COALESCE($3::timestamptz, available_at), dead = ($3::timestamptz IS NULL)
             WHERE key = $1 AND NOT done AND NOT dead",
        );
        client
            .execute(&client.prepare_cached(&sql).await.map_err(db)?, &[&key, &error, &retry_at, &now])
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = self.sql(
            "SELECT key, order_id, effect, attempts, COALESCE(last_error, ''), failed_at FROM {s}.outbox
             WHERE dead ORDER BY seq LIMIT $1",
        );
        let client = self.client().await?;
        let rows = client.query(&client.prepare_cached(&sql).await.map_err(db)?, &[&limit]).await.map_err(db)?;
        drop(client);
        rows.into_iter()
            .map(|r| {
                let key: String = r.get(0);
                let effect: Effect = from_json(r.get(2), &format_args!("the effect of outbox item {key:?}"))?;
                let attempts: i32 = r.get(3);
                Ok(DeadLetter {
                    order_id: OrderId::from_uuid(r.get(1)),
                    effect,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                    last_error: r.get(4),
                    died_at: r.get(5),
                    key,
                })
            })
            .collect()
    }

    async fn requeue_dead(&self, key: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let sql = self.sql(
            "UPDATE {s}.outbox SET dead = false, attempts = 0, available_at = $2, lease_until = NULL
             WHERE key = $1 AND dead",
        );
        let changed =
            client.execute(&client.prepare_cached(&sql).await.map_err(db)?, &[&key, &now]).await.map_err(db)?;
        Ok(changed == 1)
    }
}
