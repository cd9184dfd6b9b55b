//! [`RecordingNotifier`]: a notifier that records what it was asked to send, drops
//! redelivered keys, and fails on demand.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasher, BuildHasherDefault, RandomState};
use std::sync::Mutex;

use super::gateway::lock;
use crate::adapters::memory::fingerprint::PassThrough;
use crate::effect::Notification;
use crate::ports::notifier::{Notifier, NotifyError};

#[derive(Debug, Default)]
struct NotifierState {
    sent: Vec<(String, Notification)>,
    /// Hashes keys for the index below (std's keyed SipHash, as a `HashSet` would).
    hasher: RandomState,
    /// Position in `sent` of the first key with each hash: every key is stored once,
    /// in `sent`, and a long run's index holds two words per key instead of a second copy.
    by_hash: HashMap<u64, usize, BuildHasherDefault<PassThrough>>,
    /// Positions of later keys whose hash an earlier, different key already had (keeps the
    /// deduplication exact; practically always empty).
    collided: HashMap<u64, Vec<usize>, BuildHasherDefault<PassThrough>>,
    duplicates_dropped: usize,
    fail_next: usize,
    calls: usize,
}

impl NotifierState {
    /// True when `key` (whose hash is `hash`) was already recorded.
    fn seen(&self, key: &str, hash: u64) -> bool {
        let is_key = |i: &usize| self.sent.get(*i).is_some_and(|(k, _)| k == key);
        self.by_hash.get(&hash).is_some_and(is_key)
            || self.collided.get(&hash).is_some_and(|later| later.iter().any(is_key))
    }

    /// Records `key` (not [`seen`](Self::seen) before) with `notification`.
    fn record(&mut self, key: &str, hash: u64, notification: &Notification) {
        let at = self.sent.len();
        match self.by_hash.entry(hash) {
            Entry::Vacant(first) => {
                first.insert(at);
            }
            Entry::Occupied(_) => self.collided.entry(hash).or_default().push(at),
        }
        self.sent.push((key.to_owned(), notification.clone()));
    }
}

/// Records every notification sent, deduplicated by key like a notifier that remembers what
/// it sent: a redelivered key is acknowledged but not recorded again (see
/// [`duplicates_dropped`](Self::duplicates_dropped)). [`fail_next`](Self::fail_next) makes the
/// next calls fail with `Unavailable` (nothing recorded, so a redelivery is sent).
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    state: Mutex<NotifierState>,
}

impl RecordingNotifier {
    /// An empty recorder.
    pub fn new() -> RecordingNotifier {
        RecordingNotifier::default()
    }

    /// The next `n` calls fail with [`NotifyError::Unavailable`].
    pub fn fail_next(&self, n: usize) {
        let mut state = lock(&self.state);
        state.fail_next = state.fail_next.saturating_add(n);
    }

    /// Cancels the failures still queued by `fail_next`.
    pub fn heal(&self) {
        let mut state = lock(&self.state);
        state.fail_next = 0;
    }

    /// Every `(key, notification)` sent, oldest first, each key once.
    pub fn sent(&self) -> Vec<(String, Notification)> {
        lock(&self.state).sent.clone()
    }

    /// The notifications sent, oldest first.
    pub fn notifications(&self) -> Vec<Notification> {
        lock(&self.state).sent.iter().map(|(_, n)| n.clone()).collect()
    }

    /// The kinds' names (`placed`, `paid`, ...) of the notifications sent, oldest first.
    pub fn kinds(&self) -> Vec<&'static str> {
        lock(&self.state).sent.iter().map(|(_, n)| n.kind.name()).collect()
    }

    /// How many redelivered keys were dropped.
    pub fn duplicates_dropped(&self) -> usize {
        lock(&self.state).duplicates_dropped
    }

    /// How many times `send` was called (duplicates and failures included).
    pub fn calls(&self) -> usize {
        lock(&self.state).calls
    }
}

impl Notifier for RecordingNotifier {
    async fn send(&self, key: &str, notification: &Notification) -> Result<(), NotifyError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        if state.fail_next > 0 {
            state.fail_next -= 1;
            return Err(NotifyError::Unavailable("channel is down".into()));
        }
        let hash = state.hasher.hash_one(key);
        if state.seen(key, hash) {
            state.duplicates_dropped += 1;
        } else {
            state.record(key, hash, notification);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effect::{Audience, NotificationKind};
    use crate::order_number::OrderNumber;

    fn notification(n: u64) -> Notification {
        Notification {
            audience: Audience::CustomerService,
            order_number: OrderNumber::from_value(n).unwrap_or_else(|e| panic!("{e}")),
            kind: NotificationKind::Delivered,
        }
    }

    /// Keys sharing a hash stay apart: deduplication compares the keys themselves.
    #[test]
    fn colliding_hashes_still_compare_keys() {
        let mut state = NotifierState::default();
        for (i, key) in ["a", "b", "c"].into_iter().enumerate() {
            assert!(!state.seen(key, 7), "{key}");
            state.record(key, 7, &notification(i as u64 + 1));
        }
        for key in ["a", "b", "c"] {
            assert!(state.seen(key, 7), "{key}");
            assert!(!state.seen(key, 8), "{key}");
        }
        assert!(!state.seen("d", 7));
        let keys: Vec<&str> = state.sent.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
    }
}
