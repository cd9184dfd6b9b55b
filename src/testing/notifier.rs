//! [`RecordingNotifier`]: a notifier that records what it was asked to send and drops
//! redelivered keys (wrap it in [`Failing`](super::Failing) to make it fail).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::gateway::lock;
use crate::effect::Notification;
use crate::ports::notifier::{Notifier, NotifyError};

#[derive(Debug, Default)]
struct NotifierState {
    /// What was sent, oldest first; each key's text is shared with `keys`.
    sent: Vec<(Arc<str>, Notification)>,
    /// Every key sent, for deduplication.
    keys: HashSet<Arc<str>>,
    duplicates_dropped: usize,
    calls: usize,
}

/// Records every notification sent, deduplicated by key like a notifier that remembers what
/// it sent: a redelivered key is acknowledged but not recorded again (see
/// [`duplicates_dropped`](Self::duplicates_dropped)).
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    state: Mutex<NotifierState>,
}

impl RecordingNotifier {
    /// An empty recorder.
    pub fn new() -> RecordingNotifier {
        RecordingNotifier::default()
    }

    /// Every `(key, notification)` sent, oldest first, each key once.
    pub fn sent(&self) -> Vec<(String, Notification)> {
        lock(&self.state).sent.iter().map(|(k, n)| (k.to_string(), n.clone())).collect()
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

    /// How many times `send` reached this notifier (duplicates included).
    pub fn calls(&self) -> usize {
        lock(&self.state).calls
    }
}

impl Notifier for RecordingNotifier {
    async fn send(&self, key: &str, notification: &Notification) -> Result<(), NotifyError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        if state.keys.contains(key) {
            state.duplicates_dropped += 1;
        } else {
            let key: Arc<str> = key.into();
            state.keys.insert(key.clone());
            state.sent.push((key, notification.clone()));
        }
        Ok(())
    }
}
