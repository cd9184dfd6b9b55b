//! A durable [`OrderStore`](crate::ports::OrderStore) on one SQLite file: [`SqliteStore`] (feature `sqlite`).
//!
//! Everything an order needs lives in one database file: the snapshots with their indexed
//! columns (number, customer, status, placement time, earliest deadline), the event history,
//! the outbox, the dedupe keys and the waybill index. Every commit is one `BEGIN IMMEDIATE`
//! transaction, so it is written whole or not at all, and compare-and-set on the version is
//! done by the database.
//!
//! The SQL lives in `sql/`, one statement (or one schema migration, `schema_v*.sql`) per file,
//! included at build time. Events and snapshots are written and read through the stored codec
//! ([`crate::stored`]), which records their schema version next to them.
//!
//! The feature `sqlite` links the system's `libsqlite3`; `sqlite-bundled` compiles SQLite into
//! the crate instead, for hosts without the library.
//!
//! # Calling it from async code
//!
//! The methods are `async` to fit the [`OrderStore`](crate::ports::OrderStore) port, but SQLite is a blocking library:
//! a call runs its statements on the calling thread and returns without ever awaiting (one
//! connection per handle, behind a mutex that is never held across an `.await`). Calls are
//! short, on a shared 2-core VM about 20 µs for a load and 0.2–0.4 ms for a commit
//! (`benches/sqlite_store.rs`), but some take longer: after about 1,000 written pages SQLite
//! copies its write-ahead log into the database file and syncs it (milliseconds), and while
//! another connection holds the write lock a call waits up to the busy timeout (5 s by
//! default). All that time the thread does nothing else, so on an async runtime the other
//! tasks of that worker wait too.
//!
//! A host on tokio should therefore run its store calls, or whole engine calls, off the async
//! worker threads: on the blocking pool with `spawn_blocking` and `Handle::block_on` (below),
//! or on a multi-threaded runtime inside `tokio::task::block_in_place`. A host whose requests
//! can share a sub-millisecond pause may call it directly.
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().build().unwrap().block_on(async {
//! use std::sync::Arc;
//!
//! use orderflow::adapters::sqlite::SqliteStore;
//! use orderflow::ports::OrderRepository;
//! use orderflow::OrderId;
//!
//! let store = Arc::new(SqliteStore::open_in_memory().unwrap());
//! let (worker, handle, id) = (Arc::clone(&store), tokio::runtime::Handle::current(), OrderId::new_v7());
//! // The same shape runs an engine call: `handle.block_on(engine.execute(id, command))`.
//! let loaded = tokio::task::spawn_blocking(move || handle.block_on(worker.load(id))).await.unwrap();
//! assert_eq!(loaded, Ok(None));
//! # });
//! ```

mod queries;

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::event::Event;
use crate::ids::OrderId;
use crate::order::{DeadlineKind, Order, UNKNOWN_CARRIER};
use crate::order_number::OrderNumber;
use crate::ports::{
    Commit, DeadLetter, DeadLetterCursor, DeadLetterPage, DueDeadline, FeedCursor, FeedPage, OrderFilter, OrderPage,
    OrderQuery, OrderRepository, OrderSummary, OutboxBacklog, OutboxItem, QueryPage, StatusCounts, StoreError,
    WorkQueue,
};
use crate::stored::{EVENT_VERSION, IndexColumns, SNAPSHOT_VERSION, StoredEvent, StoredSnapshot, decode_effect};

/// The schema version this code writes, recorded in `PRAGMA user_version`.
pub const SCHEMA_VERSION: i64 = 6;

/// How long SQLite itself waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many times a call that found the database busy is run again (after SQLite's own
/// `busy_timeout`) before it fails with [`StoreError::Unavailable`].
const BUSY_RETRIES: u32 = 3;

/// The pause before a retry, multiplied by the attempt number.
const BUSY_BACKOFF: Duration = Duration::from_millis(20);

/// Version 1 of the schema.
///
/// Timestamps are stored as integer microseconds since the Unix epoch (`*_at`, sortable and
/// comparable in SQL) plus the nanoseconds below the microsecond (`*_ns`, 0..=999), so that
/// they round-trip exactly and compare exactly.
const SCHEMA_V1: &str = include_str!("sql/schema_v1.sql");

/// Version 2: when an outbox item last failed (for a dead letter: when it was given up), and an
/// index over the dead letters.
const SCHEMA_V2: &str = include_str!("sql/schema_v2.sql");

/// Version 3: waybills keyed by carrier and waybill (numbers are unique per carrier only). The
/// old table is kept as `waybills_v2` while [`rebuild_waybills`] fills the new one from the
/// order snapshots, then dropped.
const SCHEMA_V3: &str = include_str!("sql/schema_v3.sql");

/// Version 4: the stored form's schema version next to each event and snapshot (see
/// [`crate::stored`]), and each event's type. Rows written before are version 1.
const SCHEMA_V4: &str = include_str!("sql/schema_v4.sql");

/// Version 5: the staff query columns and their indexes (filled from the snapshots by
/// [`queries::fill_query_columns`]), counts per status kept by triggers, and the event feed
/// (existing events numbered order by order).
const SCHEMA_V5: &str = include_str!("sql/schema_v5.sql");

/// Version 6: when each outbox entry was written (the time its commit was decided), for the
/// backlog's oldest pending entry. Entries written before have none.
const SCHEMA_V6: &str = include_str!("sql/schema_v6.sql");

/// An [`OrderStore`](crate::ports::OrderStore) on a single SQLite database file.
///
/// It keeps the whole store contract (the conformance suite in
/// `orderflow::testing::conformance` runs against it): compare-and-set appends, unique order
/// numbers, dedupe keys and `(carrier, waybill)` pairs, all-or-nothing commits, a leased outbox
/// in insertion order.
///
/// # Durability and concurrency
///
/// - The database runs in WAL mode with `synchronous=NORMAL`: a commit is atomic and survives
///   a crash of the process; a power loss or OS crash may lose the last few commits (never
///   half of one). Hosts that need every commit on disk before `append` returns can run
///   `PRAGMA synchronous=FULL` through their own connection policy in a later version.
/// - Every write is one `BEGIN IMMEDIATE` transaction. Several `SqliteStore`s (in one process
///   or several) may open the same file: their writes are serialised by SQLite, and
///   compare-and-set on the version lets exactly one writer win each version.
/// - One handle holds one connection behind a mutex: calls through the same handle run one
///   at a time and never hold the lock across an `.await`. Each call is short, but it is
///   blocking I/O on the calling thread (see the module docs for async hosts).
/// - When another connection holds the write lock, a call waits (`busy_timeout` of 5 s by
///   default, see [`SqliteStore::set_busy_timeout`], then a few retries); if the database stays locked the call fails with
///   [`StoreError::Unavailable`], never with a raw "database is locked" error.
/// - Data that cannot be read back (bad JSON, out-of-range numbers) gives
///   [`StoreError::Corrupt`].
///
/// The schema is created on first open and its version recorded in `PRAGMA user_version`; a
/// file written by a newer version of this crate is refused.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use orderflow::adapters::sqlite::SqliteStore;
///
/// let store = SqliteStore::open_in_memory().unwrap();
/// assert_eq!(store.order_count().unwrap(), 0);
/// # });
/// ```
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: Option<PathBuf>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Why one attempt failed: busy (run it again) or for good.
enum Fail {
    Busy(String),
    Store(StoreError),
}

impl Fail {
    /// The error a caller sees (a busy database is reported as unavailable).
    fn into_store(self) -> StoreError {
        match self {
            Fail::Busy(message) => StoreError::Unavailable(message),
            Fail::Store(e) => e,
        }
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        Fail::Store(e)
    }
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Fail {
        match &e {
            rusqlite::Error::SqliteFailure(inner, _) => match inner.code {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Fail::Busy(e.to_string()),
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                    Fail::Store(StoreError::Corrupt(format!("sqlite: {e}")))
                }
                _ => Fail::Store(StoreError::Unavailable(format!("sqlite: {e}"))),
            },
            rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::Utf8Error(..) => Fail::Store(StoreError::Corrupt(format!("sqlite: {e}"))),
            _ => Fail::Store(StoreError::Unavailable(format!("sqlite: {e}"))),
        }
    }
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(inner, _) if inner.code == ErrorCode::ConstraintViolation)
}

fn corrupt(what: impl fmt::Display) -> Fail {
    Fail::Store(StoreError::Corrupt(what.to_string()))
}

fn lock(mutex: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic inside a call drops its transaction, which rolls back: the connection is usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, sets WAL mode,
    /// `synchronous=NORMAL` and a busy timeout, and creates or migrates the schema.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the file cannot be opened or stays locked;
    /// [`StoreError::Corrupt`] when it is not a database or was written by a newer schema.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        SqliteStore::setup(conn, Some(path))
    }

    /// A private database in memory (gone when the store is dropped), with the same schema.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when SQLite cannot allocate it.
    pub fn open_in_memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| StoreError::Unavailable(format!("cannot open an in-memory database: {e}")))?;
        SqliteStore::setup(conn, None)
    }

    /// Sets how long a call waits for another connection's write lock before retrying
    /// (5 seconds by default). A call retries a few times; if the database is still locked it
    /// fails with [`StoreError::Unavailable`].
    ///
    /// # Errors
    /// As any store call.
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<(), StoreError> {
        self.run(|conn| Ok(conn.busy_timeout(timeout)?))
    }

    /// The file this store was opened on (`None` in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn setup(conn: Connection, path: Option<PathBuf>) -> Result<SqliteStore, StoreError> {
        let store = SqliteStore { conn: Mutex::new(conn), path };
        store.run(|conn| Ok(conn.busy_timeout(BUSY_TIMEOUT)?))?;
        store.run(|conn| {
            // In memory the journal mode stays "memory"; on a file it becomes "wal".
            let _mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
            conn.pragma_update(None, "synchronous", "NORMAL")?;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
            if version > SCHEMA_VERSION {
                return Err(corrupt(format!(
                    "the database has schema version {version}; this build knows up to {SCHEMA_VERSION}"
                )));
            }
            for (from, migration) in
                [(0, SCHEMA_V1), (1, SCHEMA_V2), (2, SCHEMA_V3), (3, SCHEMA_V4), (4, SCHEMA_V5), (5, SCHEMA_V6)]
            {
                if version <= from {
                    tx.execute_batch(migration)?;
                }
            }
            if version <= 2 {
                rebuild_waybills(&tx)?;
            }
            if (1..=4).contains(&version) {
                queries::fill_query_columns(&tx)?;
            }
            if version != SCHEMA_VERSION {
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            }
            tx.commit()?;
            Ok(())
        })?;
        Ok(store)
    }

    /// Runs `f` on the connection, again (up to [`BUSY_RETRIES`] times) while the database is
    /// busy. `f` must do all its writes in one transaction that it commits last, so a retried
    /// attempt starts from a clean state.
    fn run<T>(&self, mut f: impl FnMut(&mut Connection) -> Result<T, Fail>) -> Result<T, StoreError> {
        let mut conn = lock(&self.conn);
        let mut attempt = 0;
        loop {
            match f(&mut conn) {
                Ok(value) => return Ok(value),
                Err(Fail::Store(e)) => return Err(e),
                Err(Fail::Busy(message)) => {
                    attempt += 1;
                    if attempt > BUSY_RETRIES {
                        tracing::warn!(error = %message, "sqlite store: database stayed busy");
                        return Err(StoreError::Unavailable(format!(
                            "the database stayed locked by another connection after {attempt} tries"
                        )));
                    }
                    std::thread::sleep(BUSY_BACKOFF.saturating_mul(attempt));
                }
            }
        }
    }

    /// Number of orders stored.
    ///
    /// # Errors
    /// As any store call.
    pub fn order_count(&self) -> Result<u64, StoreError> {
        self.run(|conn| {
            let n: i64 = conn.query_row(include_str!("sql/count_orders.sql"), [], |row| row.get(0))?;
            u64::try_from(n).map_err(|_| corrupt("negative count"))
        })
    }

    /// Number of outbox entries still to deliver (neither completed nor dead), leased or not.
    ///
    /// # Errors
    /// As any store call.
    pub fn outbox_pending(&self) -> Result<u64, StoreError> {
        self.run(|conn| {
            let n: i64 = conn.query_row(include_str!("sql/count_outbox_pending.sql"), [], |row| row.get(0))?;
            u64::try_from(n).map_err(|_| corrupt("negative count"))
        })
    }

    /// The dead letters: `(key, last error)` of every outbox entry given up on, in insertion
    /// order.
    ///
    /// # Errors
    /// As any store call.
    pub fn outbox_dead(&self) -> Result<Vec<(String, String)>, StoreError> {
        self.run(|conn| {
            let mut stmt = conn.prepare_cached(include_str!("sql/list_dead_keys.sql"))?;
            let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// A timestamp as (microseconds since the epoch, nanoseconds below the microsecond): ordered
/// like the timestamp and exact.
fn split(t: DateTime<Utc>) -> (i64, i64) {
    (t.timestamp_micros(), i64::from(t.timestamp_subsec_nanos() % 1_000))
}

fn join(micros: i64, nanos: i64) -> Result<DateTime<Utc>, Fail> {
    let secs = micros.div_euclid(1_000_000);
    let sub = micros.rem_euclid(1_000_000) * 1_000 + nanos;
    u32::try_from(sub)
        .ok()
        .filter(|_| (0..1_000).contains(&nanos))
        .and_then(|sub| DateTime::from_timestamp(secs, sub))
        .ok_or_else(|| corrupt(format!("timestamp out of range: {micros} us + {nanos} ns")))
}

fn to_json<T: serde::Serialize>(what: &str, value: &T) -> Result<String, Fail> {
    crate::stored::json::to_string(value).map_err(|e| corrupt(format!("cannot encode {what}: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, Fail> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("cannot decode {what}: {e}")))
}

fn parse_id(text: &str) -> Result<OrderId, Fail> {
    text.parse().map_err(|e| corrupt(format!("bad order id {text:?}: {e}")))
}

fn to_i64(what: &str, value: u64) -> Result<i64, Fail> {
    i64::try_from(value).map_err(|_| corrupt(format!("{what} {value} is too large to store")))
}

fn to_u64(what: &str, value: i64) -> Result<u64, Fail> {
    u64::try_from(value).map_err(|_| corrupt(format!("{what} {value} is negative")))
}

/// Clamps a `usize` limit to SQLite's integer range.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

/// Everything a commit writes, encoded before the connection is locked: the serialisation is
/// done once (not again when a busy database makes the call retry) and outside the lock.
struct Rows {
    id: String,
    number: String,
    customer: String,
    status: &'static str,
    placed_at: (i64, i64),
    deadline_at: Option<(i64, i64)>,
    deadline_kind: Option<String>,
    version: i64,
    expected: i64,
    snapshot: String,
    /// `(seq, event type, body)` of each event, in [`EVENT_VERSION`].
    events: Vec<(i64, &'static str, String)>,
    /// `(key, effect)` of each outbox entry.
    outbox: Vec<(String, String)>,
    /// When the outbox entries were written ([`Commit::written_at`]), split.
    written_at: Option<(i64, i64)>,
    /// The order's `(carrier, waybill)` pairs.
    waybills: Vec<(String, String)>,
    /// The staff query columns.
    query: queries::QueryRow,
}

impl Rows {
    fn of(commit: &Commit<'_>) -> Result<Rows, StoreError> {
        let order = commit.order;
        let index = IndexColumns::of(order);
        let deadline = index.deadline;
        let encode = || -> Result<Rows, Fail> {
            Ok(Rows {
                id: order.id.to_string(),
                number: index.summary.number.to_string(),
                customer: index.summary.customer.as_str().to_owned(),
                status: index.summary.status.as_str(),
                placed_at: split(index.summary.placed_at),
                waybills: index.owned_waybills(),
                query: queries::QueryRow::of(&index.query),
                deadline_at: deadline.map(|(at, _)| split(at)),
                deadline_kind: deadline.map(|(_, kind)| to_json("deadline kind", &kind)).transpose()?,
                version: to_i64("version", order.version)?,
                expected: to_i64("expected version", commit.expected_version)?,
                snapshot: StoredSnapshot::encode(order).to_json()?,
                events: commit
                    .events
                    .iter()
                    .map(|e| {
                        let stored = StoredEvent::encode(e);
                        Ok((to_i64("seq", e.seq)?, stored.event_type, stored.to_json()?))
                    })
                    .collect::<Result<_, Fail>>()?,
                outbox: commit
                    .outbox
                    .iter()
                    .map(|entry| Ok((entry.key.clone(), to_json("effect", &entry.effect)?)))
                    .collect::<Result<_, Fail>>()?,
                written_at: commit.written_at().map(split),
            })
        };
        encode().map_err(Fail::into_store)
    }
}

/// Records the dedupe keys; the first one already taken (or repeated) refuses the commit.
fn insert_dedupe_keys(tx: &Transaction<'_>, id: &str, keys: &[String]) -> Result<(), Fail> {
    let mut stmt = tx.prepare_cached(include_str!("sql/insert_dedupe_key.sql"))?;
    for key in keys {
        match stmt.execute(params![key, id]) {
            Ok(_) => {}
            Err(e) if is_constraint(&e) => return Err(StoreError::DuplicateKey(key.clone()).into()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Writes the events, the outbox rows (skipping existing keys) and the changes to the waybill
/// index.
fn write_rest(tx: &Transaction<'_>, rows: &Rows) -> Result<(), Fail> {
    let id = &rows.id;
    {
        let mut stmt = tx.prepare_cached(include_str!("sql/insert_event.sql"))?;
        for (seq, event_type, body) in &rows.events {
            match stmt.execute(params![id, seq, event_type, EVENT_VERSION, body]) {
                Ok(_) => {}
                Err(e) if is_constraint(&e) => {
                    return Err(corrupt(format!("order {id}: event {seq} is already stored")));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    {
        let (min_at, min_ns) = split(DateTime::<Utc>::MIN_UTC);
        let mut stmt = tx.prepare_cached(include_str!("sql/insert_outbox.sql"))?;
        let (written_at, written_ns) = rows.written_at.unzip();
        for (key, effect) in &rows.outbox {
            stmt.execute(params![key, id, effect, min_at, min_ns, written_at, written_ns])?;
        }
    }
    rows.query.write(tx, id)?;
    write_waybills(tx, &rows.waybills, id)
}

/// Brings the waybill index in line with the order's `(carrier, waybill)` pairs. Only the
/// differences are written: most commits change no waybill, and rewriting unchanged rows would
/// dirty pages. A pair another order has refuses the commit ([`StoreError::WaybillTaken`]; the
/// caller's transaction is rolled back).
fn write_waybills(tx: &Transaction<'_>, waybills: &[(String, String)], id: &str) -> Result<(), Fail> {
    let stored: Vec<(String, String)> = {
        let mut stmt = tx.prepare_cached(include_str!("sql/select_order_waybills.sql"))?;
        let rows = stmt.query_map(params![id], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let is_stored = |carrier: &str, waybill: &str| stored.iter().any(|(c, w)| c == carrier && w == waybill);
    for (carrier, waybill) in stored.iter().filter(|&pair| !waybills.contains(pair)) {
        tx.prepare_cached(include_str!("sql/delete_waybill.sql"))?.execute(params![carrier, waybill, id])?;
    }
    for (carrier, waybill) in waybills.iter().filter(|(c, w)| !is_stored(c, w)) {
        let inserted =
            tx.prepare_cached(include_str!("sql/insert_waybill.sql"))?.execute(params![carrier, waybill, id])?;
        if inserted == 0 {
            let owner: Option<String> = tx
                .prepare_cached(include_str!("sql/find_by_waybill.sql"))?
                .query_row(params![carrier, waybill], |row| row.get(0))
                .optional()?;
            // Listed twice by the order itself: already written above.
            if owner.as_deref() != Some(id) {
                return Err(
                    StoreError::WaybillTaken { carrier: carrier.to_owned(), waybill: waybill.to_owned() }.into()
                );
            }
        }
    }
    Ok(())
}

/// Fills the version 3 waybill table from the order snapshots (schema migration from version
/// 2 or older), then drops the old table, `waybills_v2`, which knew no carriers.
///
/// Every order whose snapshot names a waybill gets its `(carrier, waybill)` pairs. Where two
/// orders have the same pair (the old index gave a reused waybill to the order written last),
/// the order the old index pointed to keeps it, so lookups answer as before, and the other
/// loses it (logged). An order whose snapshot cannot be read keeps its old rows, under
/// [`UNKNOWN_CARRIER`] (logged).
fn rebuild_waybills(tx: &Transaction<'_>) -> Result<(), Fail> {
    let old: Vec<(String, String)> = {
        let mut stmt = tx.prepare(include_str!("sql/migrate_old_waybills.sql"))?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let old_owners: HashSet<(&str, &str)> = old.iter().map(|(w, id)| (w.as_str(), id.as_str())).collect();
    let mut pairs: Vec<(String, String, String)> = Vec::new();
    {
        // Only the orders in the old index and those whose snapshot names a waybill (written
        // `"waybill":"..."` or `"return_waybill":"..."`, `null` when there is none) are decoded.
        let mut stmt = tx.prepare(include_str!("sql/migrate_snapshots_with_waybills.sql"))?;
        let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
        for row in rows {
            let (id, snapshot) = row?;
            // Snapshots older than schema version 4 are all of stored version 1.
            match StoredSnapshot::decode(snapshot.as_str(), 1, &id) {
                Ok(order) => {
                    pairs.extend(order.carrier_waybills().map(|(c, w)| (c.to_owned(), w.to_owned(), id.clone())))
                }
                Err(e) => {
                    tracing::warn!(order_id = %id, error = %e, "sqlite store: migrating waybills: snapshot unreadable, its waybills kept without carrier");
                    pairs.extend(
                        old.iter()
                            .filter(|(_, owner)| *owner == id)
                            .map(|(w, _)| (UNKNOWN_CARRIER.to_owned(), w.clone(), id.clone())),
                    );
                }
            }
        }
    }
    // The old index's choice first, so it wins any pair claimed twice.
    pairs.sort_by_key(|(_, w, id)| !old_owners.contains(&(w.as_str(), id.as_str())));
    let mut dropped = 0usize;
    {
        let mut insert = tx.prepare(include_str!("sql/insert_waybill.sql"))?;
        for (carrier, waybill, id) in &pairs {
            if insert.execute(params![carrier, waybill, id])? == 0 {
                dropped += 1;
            }
        }
    }
    if dropped > 0 {
        tracing::warn!(
            dropped,
            "sqlite store: migrating waybills: waybills recorded on two orders stay with the order the old index named"
        );
    }
    tx.execute_batch(include_str!("sql/migrate_drop_old_waybills.sql"))?;
    Ok(())
}

fn create(conn: &mut Connection, commit: &Commit<'_>, rows: &Rows) -> Result<(), Fail> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing: Option<i64> = tx
        .prepare_cached(include_str!("sql/select_version.sql"))?
        .query_row(params![rows.id], |row| row.get(0))
        .optional()?;
    if let Some(actual) = existing {
        return Err(
            StoreError::Conflict { expected: commit.expected_version, actual: to_u64("version", actual)? }.into()
        );
    }
    if commit.expected_version != 0 {
        return Err(corrupt(format!(
            "a new order is created with expected version 0, not {}",
            commit.expected_version
        )));
    }
    if commit.events.is_empty() {
        return Err(corrupt("a new order needs at least its order_placed event"));
    }
    let taken: Option<String> = tx
        .prepare_cached(include_str!("sql/find_by_number.sql"))?
        .query_row(params![rows.number], |row| row.get(0))
        .optional()?;
    if taken.is_some() {
        return Err(StoreError::DuplicateOrderNumber(commit.order.number).into());
    }
    insert_dedupe_keys(&tx, &rows.id, commit.dedupe_keys)?;
    commit.check_sequence()?;
    let inserted = tx.prepare_cached(include_str!("sql/insert_order.sql"))?.execute(params![
        rows.id,
        rows.number,
        rows.customer,
        rows.status,
        rows.placed_at.0,
        rows.placed_at.1,
        rows.deadline_at.map(|d| d.0),
        rows.deadline_at.map(|d| d.1),
        rows.deadline_kind,
        rows.version,
        rows.snapshot,
        SNAPSHOT_VERSION,
    ]);
    match inserted {
        Ok(_) => {}
        // Checked above under the write lock; kept as the database's own guarantee.
        Err(e) if is_constraint(&e) => return Err(StoreError::DuplicateOrderNumber(commit.order.number).into()),
        Err(e) => return Err(e.into()),
    }
    write_rest(&tx, rows)?;
    tx.commit()?;
    Ok(())
}

fn append(conn: &mut Connection, commit: &Commit<'_>, rows: &Rows) -> Result<(), Fail> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Only the columns a transition changes are set: setting an indexed column rewrites its
    // index entry even when the value stays the same. The number is compared in the same
    // statement; why nothing matched is looked up only then.
    let updated = tx.prepare_cached(include_str!("sql/update_order.sql"))?.execute(params![
        rows.id,
        rows.expected,
        rows.status,
        rows.deadline_at.map(|d| d.0),
        rows.deadline_at.map(|d| d.1),
        rows.deadline_kind,
        rows.version,
        rows.snapshot,
        rows.number,
        SNAPSHOT_VERSION,
    ])?;
    if updated == 0 {
        let stored: Option<(i64, String)> = tx
            .prepare_cached(include_str!("sql/select_version_and_number.sql"))?
            .query_row(params![rows.id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        return Err(match stored {
            None => StoreError::NotFound(commit.order.id).into(),
            Some((actual, _)) if actual != rows.expected => {
                StoreError::Conflict { expected: commit.expected_version, actual: to_u64("version", actual)? }.into()
            }
            Some((_, stored_number)) => corrupt(format!(
                "order {} cannot change its number from {stored_number} to {}",
                commit.order.id, commit.order.number
            )),
        });
    }
    // Customer and placement time do not change in the workflow; a snapshot that says
    // otherwise is followed, and an unchanged row is not touched.
    tx.prepare_cached(include_str!("sql/update_order_customer.sql"))?.execute(params![
        rows.id,
        rows.customer,
        rows.placed_at.0,
        rows.placed_at.1
    ])?;
    insert_dedupe_keys(&tx, &rows.id, commit.dedupe_keys)?;
    commit.check_sequence()?;
    write_rest(&tx, rows)?;
    tx.commit()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reads and the outbox
// ---------------------------------------------------------------------------------------------

fn load(conn: &Connection, id: OrderId) -> Result<Option<Order>, Fail> {
    let row: Option<(String, i64, u16)> = conn
        .prepare_cached(include_str!("sql/load_snapshot.sql"))?
        .query_row(params![id.to_string()], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    let Some((snapshot, version, schema_version)) = row else { return Ok(None) };
    let order = StoredSnapshot::decode(snapshot.as_str(), schema_version, id)?;
    if order.id != id || i64::try_from(order.version).ok() != Some(version) {
        return Err(corrupt(format!(
            "order {id}: the snapshot (order {}, version {}) does not match its row (version {version})",
            order.id, order.version
        )));
    }
    Ok(Some(order))
}

fn events(conn: &Connection, id: OrderId) -> Result<Vec<Event>, Fail> {
    let mut stmt = conn.prepare_cached(include_str!("sql/load_events.sql"))?;
    let rows = stmt.query_map(params![id.to_string()], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get::<_, u16>(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, body, schema_version) = row?;
        let event = StoredEvent::decode(body.as_str(), schema_version, id, seq)?;
        if i64::try_from(event.seq).ok() != Some(seq) {
            return Err(corrupt(format!("order {id}: event stored at seq {seq} says seq {}", event.seq)));
        }
        out.push(event);
    }
    Ok(out)
}

fn find_id(conn: &Connection, sql: &str, value: &str) -> Result<Option<OrderId>, Fail> {
    let id: Option<String> = conn.prepare_cached(sql)?.query_row(params![value], |row| row.get(0)).optional()?;
    id.as_deref().map(parse_id).transpose()
}

fn list(conn: &Connection, filter: &OrderFilter, after: Option<OrderId>, limit: usize) -> Result<OrderPage, Fail> {
    // The filter's conditions are appended to this query.
    let mut sql = String::from(include_str!("sql/list_orders.sql").trim_end());
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut arg = |sql: &mut String, clause: &str, value: rusqlite::types::Value| {
        args.push(value);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    };
    if let Some(status) = filter.status {
        arg(&mut sql, " AND status = ?", status.as_str().to_owned().into());
    }
    if let Some(customer) = &filter.customer {
        arg(&mut sql, " AND customer = ?", customer.as_str().to_owned().into());
    }
    if let Some(from) = filter.placed_from {
        let (us, ns) = split(from);
        arg(&mut sql, " AND (placed_at > ?", us.into());
        arg(&mut sql, " OR (placed_at = ?", us.into());
        arg(&mut sql, " AND placed_at_ns >= ?))", ns.into());
    }
    if let Some(before) = filter.placed_before {
        let (us, ns) = split(before);
        arg(&mut sql, " AND (placed_at < ?", us.into());
        arg(&mut sql, " OR (placed_at = ?", us.into());
        arg(&mut sql, " AND placed_at_ns < ?))", ns.into());
    }
    if let Some(after) = after {
        arg(&mut sql, " AND id > ?", after.to_string().into());
    }
    // No LIMIT: the rows are read lazily and reading stops once the page is full and one more
    // matching order is seen (rows whose indexed columns disagree with the snapshot are skipped).
    sql.push_str(" ORDER BY id");

    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, u16>(1)?, row.get::<_, String>(2)?))
    })?;
    let mut items = Vec::with_capacity(limit.min(64));
    let mut more = false;
    for row in rows {
        let (snapshot, schema_version, id) = row?;
        let order = StoredSnapshot::decode(snapshot.as_str(), schema_version, id)?;
        let summary = OrderSummary::of(&order);
        if !filter.matches(&summary) {
            // The indexed columns disagree with the snapshot (e.g. written by an older build
            // that derived the status differently): the snapshot is the truth.
            tracing::warn!(order_id = %order.id, "sqlite store: indexed columns do not match the snapshot");
            continue;
        }
        if items.len() >= limit {
            more = true;
            break;
        }
        items.push(summary);
    }
    let next = if more { items.last().map(|s| s.id) } else { None };
    Ok(OrderPage { items, next })
}

fn due_deadlines(conn: &Connection, now: DateTime<Utc>, limit: usize) -> Result<Vec<DueDeadline>, Fail> {
    let (us, ns) = split(now);
    let mut stmt = conn.prepare_cached(include_str!("sql/due_deadlines.sql"))?;
    let rows = stmt.query_map(params![us, ns, sql_limit(limit)], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, Option<i64>>(2)?,
            row.get::<_, Option<String>>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, at, at_ns, kind) = row?;
        let order_id = parse_id(&id)?;
        let kind = kind.ok_or_else(|| corrupt(format!("order {id}: a deadline without a kind")))?;
        let kind: DeadlineKind = from_json("deadline kind", &kind)?;
        let due_at = join(at, at_ns.unwrap_or(0))?;
        out.push(DueDeadline { order_id, kind, due_at });
    }
    Ok(out)
}

fn claim_outbox(
    conn: &mut Connection,
    now: DateTime<Utc>,
    lease: TimeDelta,
    limit: usize,
) -> Result<Vec<OutboxItem>, Fail> {
    let (now_us, now_ns) = split(now);
    let (until_us, until_ns) = split(now.checked_add_signed(lease).unwrap_or(DateTime::<Utc>::MAX_UTC));
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut claimed = Vec::new();
    {
        let mut select = tx.prepare_cached(include_str!("sql/claim_outbox.sql"))?;
        let rows = select.query_map(params![now_us, now_ns, sql_limit(limit)], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })?;
        let mut update = tx.prepare_cached(include_str!("sql/lease_outbox.sql"))?;
        for row in rows {
            let (seq, key, order_id, effect, attempts) = row?;
            let order_id = parse_id(&order_id)?;
            let effect = decode_effect(effect.as_str().into(), &format_args!("the effect of outbox item {key:?}"))?;
            let attempts = u32::try_from(attempts)
                .map_err(|_| corrupt(format!("outbox {key}: bad attempt count {attempts}")))?
                .saturating_add(1);
            update.execute(params![seq, until_us, until_ns, attempts])?;
            claimed.push(OutboxItem { key, order_id, effect, attempts });
        }
    }
    tx.commit()?;
    Ok(claimed)
}

fn complete_outbox(conn: &mut Connection, key: &str) -> Result<(), Fail> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.prepare_cached(include_str!("sql/complete_outbox.sql"))?.execute(params![key])?;
    tx.commit()?;
    Ok(())
}

fn fail_outbox(
    conn: &mut Connection,
    key: &str,
    now: DateTime<Utc>,
    retry_at: Option<DateTime<Utc>>,
    error: &str,
) -> Result<(), Fail> {
    let (now_us, now_ns) = split(now);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    match retry_at {
        Some(at) => {
            let (us, ns) = split(at);
            tx.prepare_cached(include_str!("sql/retry_outbox.sql"))?
                .execute(params![key, error, us, ns, now_us, now_ns])?;
        }
        None => {
            tx.prepare_cached(include_str!("sql/bury_outbox.sql"))?.execute(params![key, error, now_us, now_ns])?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn dead_letters(conn: &Connection, after: Option<DeadLetterCursor>, limit: usize) -> Result<DeadLetterPage, Fail> {
    // Positions are `seq`s, from 1: a cursor past `i64::MAX` is past every row.
    let Ok(after) = after.map_or(Ok(0), |cursor| i64::try_from(cursor.position())) else {
        return Ok(DeadLetterPage::default());
    };
    let mut stmt = conn.prepare_cached(include_str!("sql/dead_letters.sql"))?;
    // One row more than asked tells whether there is a next page.
    let rows = stmt.query_map(params![after, sql_limit(limit.saturating_add(1))], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, i64>(4)?,
            row.get::<_, String>(5)?,
            row.get::<_, Option<i64>>(6)?,
            row.get::<_, Option<i64>>(7)?,
        ))
    })?;
    let mut page = DeadLetterPage::default();
    let mut last = None;
    for row in rows {
        let (seq, key, order_id, effect, attempts, last_error, failed_at, failed_ns) = row?;
        if page.letters.len() >= limit {
            page.next = last.map(DeadLetterCursor::after_position);
            break;
        }
        let attempts =
            u32::try_from(attempts).map_err(|_| corrupt(format!("outbox {key}: bad attempt count {attempts}")))?;
        last = Some(u64::try_from(seq).map_err(|_| corrupt(format!("outbox {key}: bad position {seq}")))?);
        page.letters.push(DeadLetter {
            order_id: parse_id(&order_id)?,
            effect: decode_effect(effect.as_str().into(), &format_args!("the effect of outbox item {key:?}"))?,
            attempts,
            last_error,
            died_at: failed_at.map(|us| join(us, failed_ns.unwrap_or(0))).transpose()?,
            key,
        });
    }
    Ok(page)
}

fn backlog(conn: &Connection, now: DateTime<Utc>) -> Result<OutboxBacklog, Fail> {
    let (us, ns) = split(now);
    let mut stmt = conn.prepare_cached(include_str!("sql/outbox_backlog.sql"))?;
    let (pending, ready, dead, oldest_at, oldest_ns) = stmt.query_row(params![us, ns], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, Option<i64>>(3)?,
            row.get::<_, Option<i64>>(4)?,
        ))
    })?;
    let count = |n: i64| u64::try_from(n).map_err(|_| corrupt("negative count"));
    Ok(OutboxBacklog {
        pending: count(pending)?,
        ready: count(ready)?,
        dead: count(dead)?,
        oldest_pending_at: oldest_at.map(|us| join(us, oldest_ns.unwrap_or(0))).transpose()?,
    })
}

fn requeue_dead(conn: &mut Connection, key: &str, now: DateTime<Utc>) -> Result<bool, Fail> {
    let (us, ns) = split(now);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx.prepare_cached(include_str!("sql/requeue_dead.sql"))?.execute(params![key, us, ns])?;
    tx.commit()?;
    Ok(changed == 1)
}

impl OrderRepository for SqliteStore {
    async fn create(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        let rows = Rows::of(&commit)?;
        self.run(|conn| create(conn, &commit, &rows))
    }

    async fn append(&self, commit: Commit<'_>) -> Result<(), StoreError> {
        let rows = Rows::of(&commit)?;
        self.run(|conn| append(conn, &commit, &rows))
    }

    async fn load(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.run(|conn| load(conn, id))
    }

    async fn events(&self, id: OrderId) -> Result<Vec<Event>, StoreError> {
        self.run(|conn| events(conn, id))
    }

    async fn find_by_number(&self, number: &OrderNumber) -> Result<Option<OrderId>, StoreError> {
        let number = number.to_string();
        self.run(|conn| find_id(conn, include_str!("sql/find_by_number.sql"), &number))
    }

    async fn find_by_waybill(&self, carrier: &str, waybill: &str) -> Result<Option<OrderId>, StoreError> {
        self.run(|conn| {
            let id: Option<String> = conn
                .prepare_cached(include_str!("sql/find_by_waybill.sql"))?
                .query_row(params![carrier, waybill], |row| row.get(0))
                .optional()?;
            id.as_deref().map(parse_id).transpose()
        })
    }

    async fn find_by_key(&self, key: &str) -> Result<Option<OrderId>, StoreError> {
        self.run(|conn| find_id(conn, include_str!("sql/find_by_key.sql"), key))
    }

    async fn list(&self, filter: &OrderFilter, after: Option<OrderId>, limit: usize) -> Result<OrderPage, StoreError> {
        self.run(|conn| list(conn, filter, after, limit))
    }

    async fn query(&self, query: &OrderQuery) -> Result<QueryPage, StoreError> {
        self.run(|conn| queries::query(conn, query))
    }

    async fn count_by_status(&self) -> Result<StatusCounts, StoreError> {
        self.run(|conn| queries::count_by_status(conn))
    }

    async fn events_after(&self, after: FeedCursor, limit: usize) -> Result<FeedPage, StoreError> {
        self.run(|conn| queries::events_after(conn, after, limit))
    }
}

impl WorkQueue for SqliteStore {
    async fn due_deadlines(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<DueDeadline>, StoreError> {
        self.run(|conn| due_deadlines(conn, now, limit))
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.run(|conn| claim_outbox(conn, now, lease, limit))
    }

    async fn complete_outbox(&self, key: &str) -> Result<(), StoreError> {
        self.run(|conn| complete_outbox(conn, key))
    }

    async fn fail_outbox(
        &self,
        key: &str,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.run(|conn| fail_outbox(conn, key, now, retry_at, error))
    }

    async fn dead_letters(&self, after: Option<DeadLetterCursor>, limit: usize) -> Result<DeadLetterPage, StoreError> {
        self.run(|conn| dead_letters(conn, after, limit))
    }

    async fn backlog(&self, now: DateTime<Utc>) -> Result<OutboxBacklog, StoreError> {
        self.run(|conn| backlog(conn, now))
    }

    async fn requeue_dead(&self, key: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.run(|conn| requeue_dead(conn, key, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effect::Effect;

    #[test]
    fn timestamps_split_and_join_exactly_and_in_order() {
        let times = [
            DateTime::<Utc>::MIN_UTC,
            DateTime::from_timestamp(-1, 999_999_999).unwrap(),
            DateTime::from_timestamp(0, 0).unwrap(),
            DateTime::from_timestamp(0, 1).unwrap(),
            DateTime::from_timestamp(0, 999).unwrap(),
            DateTime::from_timestamp(0, 1_000).unwrap(),
            DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap(),
            DateTime::<Utc>::MAX_UTC,
        ];
        for pair in times.windows(2) {
            assert!(split(pair[0]) < split(pair[1]), "{pair:?}");
        }
        for t in times {
            let (us, ns) = split(t);
            assert_eq!(join(us, ns).ok(), Some(t));
        }
        assert!(join(0, 1_000).is_err());
        assert!(join(i64::MAX, 0).is_err());
    }

    #[test]
    fn a_version_1_file_is_upgraded_and_its_dead_letters_can_be_requeued() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let effect = serde_json::to_string(&Effect::ClosePayment { provider: "alipay".into() }).unwrap();
        let order_id = OrderId::new_v7();
        conn.execute(
            "INSERT INTO outbox (key, order_id, effect, available_at, available_ns, attempts, dead, last_error)
             VALUES ('k', ?1, ?2, 0, 0, 12, 1, 'down')",
            params![order_id.to_string(), effect],
        )
        .unwrap();

        let store = SqliteStore::setup(conn, None).unwrap();
        let version: i64 =
            store.run(|conn| Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let dead = store.run(|conn| dead_letters(conn, None, 10)).unwrap().letters;
        let expected = DeadLetter {
            key: "k".into(),
            order_id,
            effect: Effect::ClosePayment { provider: "alipay".into() },
            attempts: 12,
            last_error: "down".into(),
            died_at: None,
        };
        assert_eq!(dead, vec![expected]);
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(store.run(|conn| requeue_dead(conn, "k", now)).unwrap());
        let claimed = store.run(|conn| claim_outbox(conn, now, TimeDelta::seconds(30), 10)).unwrap();
        assert_eq!(claimed.iter().map(|i| (i.key.as_str(), i.attempts)).collect::<Vec<_>>(), vec![("k", 1)]);
    }
}
