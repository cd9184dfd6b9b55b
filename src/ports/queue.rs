//! The work queue: what the engine finds in the store to do later, the deadlines due and the
//! outbox (effects to deliver after commit, written by [`super::OrderRepository::append`]).
//!
//! The contract every implementation keeps (checked by `orderflow::testing::conformance`):
//! - Outbox items are claimed with a lease: a claimed item is not handed out again until the
//!   lease ends or it is failed; completed items are never handed out again.
//! - An item failed without a retry time is a dead letter: never claimed, listed by
//!   [`WorkQueue::dead_letters`] a page at a time (the order entries were written in, resumed
//!   after a [`DeadLetterCursor`]), counted by [`WorkQueue::backlog`], and back to pending (attempts reset) only through
//!   [`WorkQueue::requeue_dead`].

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::operations::{DeadLetterCursor, DeadLetterPage, OutboxBacklog};
use super::store::{DueDeadline, OutboxItem, StoreError};

/// The deadlines and the outbox of a store.
#[dynosaur::dynosaur(pub DynWorkQueue = dyn(box) WorkQueue)]
pub trait WorkQueue: Send + Sync {
    /// Orders whose earliest deadline is at or before `now`, earliest first.
    fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueDeadline>, StoreError>> + Send;
    /// Claims up to `limit` deliverable outbox items for `lease`.
    fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, StoreError>> + Send;
    /// Marks an item delivered.
    fn complete_outbox(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records that the attempt made at `now` failed with `error`, and gives the item back for
    /// another try at `retry_at`, or gives up on it (`None`: dead letter). Unknown, completed
    /// and dead items are left as they are.
    fn fail_outbox(
        &self,
        key: &str,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Up to `limit` dead letters after `after` (from the first when `None`), in the order
    /// their entries were written, and the cursor of the next page when there are more.
    fn dead_letters(
        &self,
        after: Option<DeadLetterCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<DeadLetterPage, StoreError>> + Send;
    /// The outbox's backlog at `now`: entries pending and ready, dead letters, and when the
    /// oldest pending entry was written.
    fn backlog(&self, now: DateTime<Utc>) -> impl Future<Output = Result<OutboxBacklog, StoreError>> + Send;
    /// Moves the dead letter `key` back to pending, due at `now`, with its attempts reset, so it
    /// is delivered again under the same key. False (and nothing changed) when no dead item has
    /// this key: unknown, pending, completed, or already requeued.
    fn requeue_dead(&self, key: &str, now: DateTime<Utc>) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

impl<T: WorkQueue + ?Sized> WorkQueue for Arc<T> {
    fn due_deadlines(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueDeadline>, StoreError>> + Send {
        (**self).due_deadlines(now, limit)
    }
    fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: TimeDelta,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, StoreError>> + Send {
        (**self).claim_outbox(now, lease, limit)
    }
    fn complete_outbox(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).complete_outbox(key)
    }
    fn fail_outbox(
        &self,
        key: &str,
        now: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).fail_outbox(key, now, retry_at, error)
    }
    fn dead_letters(
        &self,
        after: Option<DeadLetterCursor>,
        limit: usize,
    ) -> impl Future<Output = Result<DeadLetterPage, StoreError>> + Send {
        (**self).dead_letters(after, limit)
    }
    fn backlog(&self, now: DateTime<Utc>) -> impl Future<Output = Result<OutboxBacklog, StoreError>> + Send {
        (**self).backlog(now)
    }
    fn requeue_dead(&self, key: &str, now: DateTime<Utc>) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).requeue_dead(key, now)
    }
}
