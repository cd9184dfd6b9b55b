//! [`RecordingNotifier`]: a notifier that records what it was asked to send, drops
//! redelivered keys, and fails on demand.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::BuildHasherDefault;
use std::sync::Mutex;

use super::gateway::lock;
use crate::adapters::memory::fingerprint::PassThrough;
use crate::effect::Notification;
use crate::ports::notifier::{Notifier, NotifyError};

#[derive(Debug, Default)]
struct NotifierState {
    sent: Vec<(String, Notification)>,
    /// Position in `sent` of the first key with each [`key_hash`]: every key is stored once,
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
    /// True when `key` (whose [`key_hash`] is `hash`) was already recorded.
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

/// A 64-bit hash of an idempotency key, multiply-rotate per 8 bytes (FxHash style) and a
/// final avalanche so every bit is usable by the table. Not resistant to chosen keys (HashDoS):
/// fine for a test fake, whose keys come from the engine under test, and far cheaper than
/// SipHash over hundreds of thousands of keys in a long run.
fn key_hash(key: &str) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let bytes = key.as_bytes();
    let mut hash = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        hash = (hash ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(26);
    }
    let mut tail = [0u8; 8];
    for (to, from) in tail.iter_mut().zip(words.remainder()) {
        *to = *from;
    }
    hash = (hash ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    // MurmurHash3's finalizer.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
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
        let hash = key_hash(key);
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

    #[test]
    fn hash_depends_on_every_byte_and_the_length() {
        let base = key_hash("order:0000000000000001:notify:3");
        assert_ne!(base, key_hash("order:0000000000000001:notify:4"));
        assert_ne!(base, key_hash("prder:0000000000000001:notify:3"));
        assert_ne!(key_hash(""), key_hash("\0"));
        assert_ne!(key_hash("abcdefgh"), key_hash("abcdefgh\0"));
    }
}
