//! The second baseline's storage: what a team writing its own order code would do for each
//! request, with hand-written SQL on the same SQLite schema. The rows come from the shop: a
//! recorded lifecycle notes, after each request, the rows the shop's store wrote for the
//! order (the order row as it then stood, new events, outbox rows, idempotency keys,
//! waybills); the baseline writes those rows, with its own order's id, number and waybill
//! in them, in one `BEGIN IMMEDIATE` transaction per request (the order row inserted, or
//! updated with a compare-and-set on its version), and reads the order where the step writes
//! nothing. Webhooks find their order as the shop does: by order number or by waybill.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};
use serde_json::Value;

use super::{BoxError, Fresh, Step};

/// The tables an order's rows are in besides `orders`, each with the column that tells its
/// rows apart.
const ROW_TABLES: [(&str, &str); 4] =
    [("events", "seq"), ("outbox", "key"), ("dedupe_keys", "key"), ("waybills", "waybill")];

/// The rows one step wrote, each with its statement (built once, at recording).
#[derive(Debug, Default, Clone)]
pub struct StepRows {
    /// The order row after the step: its statement (an insert, or an update with the version
    /// compare-and-set), its values and its version before (0: new).
    order: Option<(i64, String, Vec<SqlValue>)>,
    /// New rows of the other tables: the insert, the values and, for dedupe keys, where the
    /// key is among them.
    rows: Vec<(String, Vec<SqlValue>, Option<usize>)>,
}

/// The insert of a row of `table` with `columns`.
fn insert_sql(table: &str, columns: &[String]) -> String {
    let marks = vec!["?"; columns.len()].join(", ");
    format!("INSERT INTO {table} ({}) VALUES ({marks})", columns.join(", "))
}

/// Reads, after each step of the recorded lifecycle, what the shop's store wrote for it.
pub struct RowRecorder {
    conn: Connection,
    id: Option<String>,
    version: i64,
    seen: HashSet<(&'static str, String)>,
    pub steps: HashMap<Step, StepRows>,
}

fn row_of(row: &rusqlite::Row<'_>, columns: usize) -> rusqlite::Result<Vec<SqlValue>> {
    (0..columns).map(|i| row.get::<_, SqlValue>(i)).collect()
}

fn text(value: &SqlValue) -> String {
    match value {
        SqlValue::Text(t) => t.clone(),
        SqlValue::Integer(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

impl RowRecorder {
    /// Reads the shop's database at `path` (a second connection: WAL lets it read beside the
    /// store's).
    pub fn open(path: &Path) -> Result<RowRecorder, BoxError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(RowRecorder { conn, id: None, version: 0, seen: HashSet::new(), steps: HashMap::new() })
    }

    /// Notes the rows `step` wrote (`answer`: the shop's answer, which names the order at
    /// placement).
    pub fn after(&mut self, step: Step, answer: &str) -> Result<(), BoxError> {
        if step == Step::Place {
            let placed: Value = serde_json::from_str(answer)?;
            self.id = placed["order"]["id"].as_str().map(str::to_owned);
        }
        let id = self.id.clone().ok_or("no order placed yet")?;
        let mut rows = StepRows::default();
        let mut stmt = self.conn.prepare("SELECT * FROM orders WHERE id = ?1")?;
        let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
        let order = stmt.query_row(params![id], |row| row_of(row, columns.len()))?;
        let at = columns.iter().position(|c| c == "version").ok_or("no version column")?;
        let version = match order.get(at) {
            Some(SqlValue::Integer(v)) => *v,
            _ => return Err("version is not an integer".into()),
        };
        if version != self.version {
            let sql = if self.version == 0 {
                insert_sql("orders", &columns)
            } else {
                let sets: Vec<String> = columns.iter().enumerate().map(|(i, c)| format!("{c} = ?{}", i + 1)).collect();
                let n = columns.len();
                format!("UPDATE orders SET {} WHERE id = ?{} AND version = ?{}", sets.join(", "), n + 1, n + 2)
            };
            rows.order = Some((self.version, sql, order));
            self.version = version;
        }
        for (table, key) in ROW_TABLES {
            let mut stmt = self.conn.prepare(&format!("SELECT * FROM {table} WHERE order_id = ?1"))?;
            let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
            let at = columns.iter().position(|c| c == key).ok_or("no key column")?;
            let found =
                stmt.query_map(params![id], |row| row_of(row, columns.len()))?.collect::<Result<Vec<_>, _>>()?;
            for values in found {
                if self.seen.insert((table, values.get(at).map(text).unwrap_or_default())) {
                    // The outbox's own sequence number is the database's to give.
                    let (cols, vals): (Vec<String>, Vec<SqlValue>) =
                        columns.iter().cloned().zip(values).filter(|(c, _)| !(table == "outbox" && c == "seq")).unzip();
                    let key = (table == "dedupe_keys").then(|| cols.iter().position(|c| c == "key")).flatten();
                    rows.rows.push((insert_sql(table, &cols), vals, key));
                }
            }
        }
        self.steps.insert(step, rows);
        Ok(())
    }
}

/// The baseline's database: one connection, as the shop's store has.
pub struct HandSqlite {
    conn: Mutex<Connection>,
    steps: HashMap<Step, StepRows>,
    /// The recorded order's id, number and waybill, replaced in every row by the request's own.
    recorded: Fresh,
}

impl HandSqlite {
    /// A fresh database at `path` with the store's schema (made by `SqliteStore::open`) and
    /// pragmas (WAL, `synchronous = NORMAL`, a 5 s busy timeout).
    pub fn open(path: &Path, steps: HashMap<Step, StepRows>, recorded: Fresh) -> Result<HandSqlite, BoxError> {
        drop(orderflow::adapters::sqlite::SqliteStore::open(path)?);
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let _mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(HandSqlite { conn: Mutex::new(conn), steps, recorded })
    }

    fn substitute(&self, value: &SqlValue, fresh: &Fresh) -> SqlValue {
        match value {
            SqlValue::Text(t) => SqlValue::Text(self.recorded.replace_in(t, fresh)),
            other => other.clone(),
        }
    }

    /// The order a webhook is about: the payment notification's order number, or the
    /// tracking push's waybill, looked up.
    pub fn find(&self, step: Step, body: &Value) -> Result<Option<String>, BoxError> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let found = match step {
            Step::PaidWebhook => {
                let number = body["order_number"].as_str().ok_or("no order_number")?;
                conn.prepare_cached("SELECT id FROM orders WHERE number = ?1")?
                    .query_row(params![number], |row| row.get(0))
                    .optional()?
            }
            _ => {
                let carrier = body["carrier"].as_str().ok_or("no carrier")?;
                let waybill = body["events"][0]["waybill"].as_str().ok_or("no waybill")?;
                conn.prepare_cached("SELECT order_id FROM waybills WHERE carrier = ?1 AND waybill = ?2")?
                    .query_row(params![carrier, waybill], |row| row.get(0))
                    .optional()?
            }
        };
        Ok(found)
    }

    /// Writes the rows of `step` for the order `fresh` in one transaction, or reads the order
    /// when the step writes nothing.
    pub fn write(&self, step: Step, fresh: &Fresh, serial: u64) -> Result<(), BoxError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(rows) = self.steps.get(&step).filter(|r| r.order.is_some() || !r.rows.is_empty()) else {
            let _snapshot: Option<String> = conn
                .prepare_cached("SELECT snapshot FROM orders WHERE id = ?1")?
                .query_row(params![fresh.id], |row| row.get(0))
                .optional()?;
            return Ok(());
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some((expected, sql, values)) = &rows.order {
            let mut values: Vec<SqlValue> = values.iter().map(|v| self.substitute(v, fresh)).collect();
            if *expected == 0 {
                tx.prepare_cached(sql)?.execute(params_from_iter(values.iter()))?;
            } else {
                values.push(SqlValue::Text(fresh.id.clone()));
                values.push(SqlValue::Integer(*expected));
                if tx.prepare_cached(sql)?.execute(params_from_iter(values.iter()))? != 1 {
                    return Err(format!("order {} is not at version {expected}", fresh.id).into());
                }
            }
        }
        for (sql, values, key) in &rows.rows {
            let mut values: Vec<SqlValue> = values.iter().map(|v| self.substitute(v, fresh)).collect();
            // Provider and idempotency keys are the recorded ones: made the order's own.
            if let Some(SqlValue::Text(key)) = key.and_then(|i| values.get_mut(i)) {
                key.push_str(&format!("#{serial}"));
            }
            tx.prepare_cached(sql)?.execute(params_from_iter(values.iter()))?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Rows per order of each table in the database at `path`, and the snapshots' bytes per
/// order: both sides of the comparison must show the same.
pub fn rows_per_order(path: &Path) -> Result<Vec<(&'static str, f64)>, BoxError> {
    let conn = Connection::open(path)?;
    let orders: i64 = conn.query_row("SELECT count(*) FROM orders", [], |row| row.get(0))?;
    let orders = orders.max(1) as f64;
    let mut counts = Vec::new();
    for (table, _) in ROW_TABLES {
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0))?;
        counts.push((table, n as f64 / orders));
    }
    let bytes: i64 = conn.query_row("SELECT coalesce(sum(length(snapshot)), 0) FROM orders", [], |row| row.get(0))?;
    counts.push(("snapshot bytes", bytes as f64 / orders));
    Ok(counts)
}
