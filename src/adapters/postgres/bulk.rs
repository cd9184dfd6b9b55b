//! Many new orders at once ([`PgStore::create_many`]): the rows a create writes, each encoded
//! as a create encodes it ([`OrderRow`], [`StoredEvent`]), streamed with binary `COPY` in one
//! transaction instead of one statement per order.

use std::pin::pin;

use chrono::{DateTime, Utc};
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use super::jsonb::Jsonb;
use super::{OrderRow, PgStore, check_new, db, to_i64};
use crate::effect::Effect;
use crate::event::Event;
use crate::ports::{Commit, StoreError};
use crate::stored::{EVENT_VERSION, SNAPSHOT_VERSION, StoredEvent};

/// One row's values, in the columns of its `COPY` statement.
type Values<'a> = Vec<&'a (dyn ToSql + Sync)>;

/// An outbox row: key, order, effect, when it was written.
type OutboxRow<'a> = (&'a str, Uuid, Jsonb<&'a Effect>, Option<DateTime<Utc>>);

impl PgStore {
    /// Creates many new orders at once, with the outcome of
    /// [`create`](crate::ports::OrderRepository::create) on each in turn: for loading a store
    /// (orders imported from an older system, a benchmark's million orders), where a statement
    /// per order is the slow part.
    ///
    /// Every row is streamed with binary `COPY` in one transaction, so the commits are written
    /// all together or not at all. When that transaction fails (a number, dedupe key or waybill
    /// taken, an order that exists, a malformed commit), it is rolled back and the commits are
    /// created one at a time, stopping at the first refusal, which is returned: the orders
    /// before it are written, it and those after it are not. Pass thousands of commits per
    /// call, not millions: one transaction holds them all.
    ///
    /// The store keeps no copy of these orders ([`PgOptions::cached_orders`](super::PgOptions)):
    /// their first load asks the database.
    ///
    /// ```no_run
    /// # async fn demo(store: &orderflow::adapters::postgres::PgStore, commits: &[orderflow::ports::Commit<'_>])
    /// # -> Result<(), orderflow::ports::StoreError> {
    /// for batch in commits.chunks(10_000) {
    ///     store.create_many(batch).await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create_many(&self, commits: &[Commit<'_>]) -> Result<(), StoreError> {
        let well_formed = commits.iter().all(|c| check_new(c).is_ok() && c.check_sequence().is_ok());
        if well_formed {
            match self.copy_all(commits).await {
                Ok(()) => return Ok(()),
                Err(e) => tracing::debug!(error = %e, "postgres store: bulk create refused; creating one at a time"),
            }
        }
        for commit in commits {
            self.write(*commit, true).await?;
        }
        Ok(())
    }

    /// Writes every row of `commits` in one transaction: orders first (events name them), then
    /// events in commit order (the feed's order), dedupe keys, outbox rows and waybills.
    async fn copy_all(&self, commits: &[Commit<'_>]) -> Result<(), StoreError> {
        let orders = commits.iter().map(|c| OrderRow::of(c.order)).collect::<Result<Vec<_>, _>>()?;
        let snapshot_version = version_column(SNAPSHOT_VERSION);
        let event_version = version_column(EVENT_VERSION);
        let mut events: Vec<(Uuid, i64, Jsonb<&Event>, &str)> = Vec::new();
        let mut keys: Vec<(&str, Uuid)> = Vec::new();
        let mut outbox: Vec<OutboxRow<'_>> = Vec::new();
        let mut waybills: Vec<(&str, &str, Uuid)> = Vec::new();
        for (commit, row) in commits.iter().zip(&orders) {
            for event in commit.events {
                let stored = StoredEvent::encode(event);
                events.push((row.id, to_i64(event.seq)?, Jsonb(stored.payload), stored.event_type));
            }
            keys.extend(commit.dedupe_keys.iter().map(|k| (k.as_str(), row.id)));
            let written_at = commit.written_at();
            outbox.extend(commit.outbox.iter().map(|e| (e.key.as_str(), row.id, Jsonb(&e.effect), written_at)));
            waybills.extend(row.index.waybills.iter().map(|&(carrier, waybill)| (carrier, waybill, row.id)));
        }

        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let order_types = [
            Type::UUID,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::TIMESTAMPTZ,
            Type::TIMESTAMPTZ,
            Type::JSONB,
            Type::INT8,
            Type::JSONB,
            Type::TEXT_ARRAY,
            Type::TIMESTAMPTZ,
            Type::BOOL,
            Type::BOOL,
            Type::INT2,
        ];
        let order_rows = orders.iter().map(|row| {
            let mut values = row.params();
            values.push(&snapshot_version);
            values
        });
        self.copy(&tx, include_str!("sql/copy_orders.sql"), &order_types, order_rows).await?;
        let event_types = [Type::UUID, Type::INT8, Type::JSONB, Type::TEXT, Type::INT2];
        let event_rows =
            events.iter().map(|(id, seq, body, kind)| -> Values<'_> { vec![id, seq, body, kind, &event_version] });
        self.copy(&tx, include_str!("sql/copy_events.sql"), &event_types, event_rows).await?;
        let key_rows = keys.iter().map(|(key, id)| -> Values<'_> { vec![key, id] });
        self.copy(&tx, include_str!("sql/copy_dedupe_keys.sql"), &[Type::TEXT, Type::UUID], key_rows).await?;
        let outbox_types = [Type::TEXT, Type::UUID, Type::JSONB, Type::TIMESTAMPTZ];
        let outbox_rows = outbox.iter().map(|(key, id, effect, at)| -> Values<'_> { vec![key, id, effect, at] });
        self.copy(&tx, include_str!("sql/copy_outbox.sql"), &outbox_types, outbox_rows).await?;
        let waybill_rows = waybills.iter().map(|(carrier, waybill, id)| -> Values<'_> { vec![carrier, waybill, id] });
        self.copy(&tx, include_str!("sql/copy_waybills.sql"), &[Type::TEXT, Type::TEXT, Type::UUID], waybill_rows)
            .await?;
        tx.commit().await.map_err(db)
    }

    /// Streams `rows` (values of `types`) through the `COPY ... FROM STDIN (FORMAT binary)`
    /// statement `template`; nothing when there are none.
    async fn copy<'a>(
        &self,
        tx: &Transaction<'_>,
        template: &str,
        types: &[Type],
        rows: impl Iterator<Item = Values<'a>>,
    ) -> Result<(), StoreError> {
        let mut rows = rows.peekable();
        if rows.peek().is_none() {
            return Ok(());
        }
        let sink = tx.copy_in(&self.sql(template)).await.map_err(db)?;
        let mut writer = pin!(BinaryCopyInWriter::new(sink, types));
        for values in rows {
            writer.as_mut().write(&values).await.map_err(db)?;
        }
        writer.as_mut().finish().await.map_err(db)?;
        Ok(())
    }
}

/// A schema version as its `smallint` column holds it.
fn version_column(version: u16) -> i16 {
    i16::try_from(version).unwrap_or(i16::MAX)
}
