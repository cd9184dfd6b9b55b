//! The event feed: every order's events in one global, resumable order, for projections
//! (reports, search indexes) and syncing an ERP ([`OrderRepository::events_after`]).
//!
//! A reader keeps a [`FeedCursor`] (its text form survives restarts), asks for the events after
//! it, handles them, saves the page's `next` and asks again. The contract every store keeps
//! (checked by the conformance suite):
//! - every committed event is handed out exactly once to a reader that follows the cursors,
//!   and an order's events come in their sequence;
//! - an event is never handed out before an event that will be handed out after it was
//!   committed: once the feed moved past a point, nothing appears behind it. On PostgreSQL,
//!   where transactions may commit in another order than they started, an event is handed out
//!   only once every transaction that could still write before it has finished (so a long
//!   transaction delays the feed, it never makes it skip).
//!
//! [`OrderRepository::events_after`]: super::OrderRepository::events_after

use std::fmt;
use std::str::FromStr;

use super::queries::CursorError;
use crate::event::Event;
use crate::ids::OrderId;

/// A position in the event feed: opaque, to hand back to the next call. [`FeedCursor::START`]
/// is before every event; its text form ([`fmt::Display`], [`FromStr`]) is for saving it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedCursor {
    /// The writing transaction's id where a store needs it (PostgreSQL), 0 otherwise.
    epoch: u64,
    /// The event's place within the epoch.
    position: u64,
}

impl FeedCursor {
    /// Before the first event.
    pub const START: FeedCursor = FeedCursor { epoch: 0, position: 0 };

    /// A cursor from a store's two numbers: `epoch` (a transaction id where the store orders by
    /// them, else 0) and `position` (its sequence within the epoch). For stores.
    pub fn new(epoch: u64, position: u64) -> FeedCursor {
        FeedCursor { epoch, position }
    }

    /// The epoch (for stores).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The position within the epoch (for stores).
    pub fn position(&self) -> u64 {
        self.position
    }
}

impl fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.epoch, self.position)
    }
}

impl FromStr for FeedCursor {
    type Err = CursorError;

    fn from_str(text: &str) -> Result<FeedCursor, CursorError> {
        let bad = |rule| CursorError { text: text.chars().take(100).collect(), rule };
        let (epoch, position) = text.split_once('.').ok_or_else(|| bad("expected <epoch>.<position>"))?;
        let number = |part: &str| part.parse::<u64>().map_err(|_| bad("epoch and position are whole numbers"));
        Ok(FeedCursor { epoch: number(epoch)?, position: number(position)? })
    }
}

/// One event of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEvent {
    /// The order it belongs to.
    pub order_id: OrderId,
    /// The event (its `seq` is its place in the order's history).
    pub event: Event,
    /// The feed's position just past this event: save it once the event is handled.
    pub cursor: FeedCursor,
}

/// One page of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPage {
    /// The events, in feed order.
    pub events: Vec<FeedEvent>,
    /// Where the next call starts: the last event's cursor, or the cursor asked with when no
    /// event is ready.
    pub next: FeedCursor,
}
