//! What an operator reads from the [`WorkQueue`](super::WorkQueue): dead letters a page at a
//! time ([`DeadLetterPage`], resumed from a [`DeadLetterCursor`]) and how far behind the outbox
//! is ([`OutboxBacklog`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, TimeDelta, Utc};

use super::queries::CursorError;
use super::store::DeadLetter;

/// Where a page of dead letters ended: the next page starts after it. Stable under new dead
/// letters and requeues: a letter is listed at the place its outbox entry was written, so
/// paging on while items die or are requeued neither repeats nor skips the letters that stay
/// dead.
///
/// It is the entry's position in the store's outbox, which only the store that made it can
/// interpret; its text form (`Display`, `FromStr`) lets an admin tool hand it to the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeadLetterCursor(u64);

impl DeadLetterCursor {
    /// The cursor after the outbox entry at `position` (for store implementations: positions
    /// grow in the order entries were written).
    pub fn after_position(position: u64) -> DeadLetterCursor {
        DeadLetterCursor(position)
    }

    /// The position of the last entry of the page (for store implementations).
    pub fn position(self) -> u64 {
        self.0
    }
}

impl fmt::Display for DeadLetterCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for DeadLetterCursor {
    type Err = CursorError;

    /// Reads a cursor an earlier page returned; any other text is a [`CursorError`]
    /// (`invalid_cursor`), as for the other cursors.
    fn from_str(s: &str) -> Result<DeadLetterCursor, CursorError> {
        let refused =
            || CursorError { text: s.to_owned(), rule: "expected the digits of a cursor an earlier page returned" };
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refused());
        }
        s.parse().map(DeadLetterCursor).map_err(|_| refused())
    }
}

/// One page of dead letters, oldest outbox entry first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeadLetterPage {
    /// The letters of this page.
    pub letters: Vec<DeadLetter>,
    /// Where the next page starts; `None` when this page is the last.
    pub next: Option<DeadLetterCursor>,
}

/// How far behind the outbox is at a moment: what operators watch and alert on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxBacklog {
    /// Entries still to deliver (neither delivered nor dead), leased or not.
    pub pending: u64,
    /// Of those, the ones deliverable now: not leased, and any retry time reached.
    pub ready: u64,
    /// Dead letters, waiting for an operator.
    pub dead: u64,
    /// When the oldest pending entry was written (by the commit that caused it). `None` when
    /// nothing is pending, or only entries a store wrote before it kept this time.
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

impl OutboxBacklog {
    /// How long the oldest pending entry has waited at `now` (zero when it is from the future
    /// of `now`, as with clocks that disagree); `None` when there is none.
    pub fn oldest_pending_age(&self, now: DateTime<Utc>) -> Option<TimeDelta> {
        self.oldest_pending_at.map(|at| (now - at).max(TimeDelta::zero()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_its_own_text_and_nothing_else() {
        let cursor = DeadLetterCursor::after_position(42);
        assert_eq!(cursor.to_string().parse::<DeadLetterCursor>(), Ok(cursor));
        for bad in ["", "-1", "+1", "1.0", "x", "18446744073709551616"] {
            let refused = bad.parse::<DeadLetterCursor>().err();
            assert_eq!(refused.map(|e| (e.code(), e.text)), Some(("invalid_cursor", bad.to_owned())), "{bad:?}");
        }
    }

    #[test]
    fn the_age_is_never_negative() {
        let at = DateTime::from_timestamp(1_000, 0).unwrap_or_default();
        let backlog = OutboxBacklog { oldest_pending_at: Some(at), ..OutboxBacklog::default() };
        assert_eq!(backlog.oldest_pending_age(at + TimeDelta::seconds(5)), Some(TimeDelta::seconds(5)));
        assert_eq!(backlog.oldest_pending_age(at - TimeDelta::seconds(5)), Some(TimeDelta::zero()));
        assert_eq!(OutboxBacklog::default().oldest_pending_age(at), None);
    }
}
