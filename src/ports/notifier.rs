//! The notifier port: messages to buyers and customer service, delivered from the outbox.

use std::future::Future;
use std::sync::Arc;

use crate::effect::Notification;

/// Why a notification was not sent. The outbox retries it later; the order is not affected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    /// The channel is down; retry later.
    #[error("notification channel unavailable: {0}")]
    Unavailable(String),
}

impl NotifyError {
    /// A stable, machine-readable code (snake_case, unique across the crate's errors), listed
    /// in `docs/ERRORS.md`.
    pub fn code(&self) -> &'static str {
        match self {
            NotifyError::Unavailable(_) => "notifier_unavailable",
        }
    }
}

/// Sends notifications. `key` is stable across redeliveries: a notifier that can deduplicate
/// should drop a key it has already sent.
#[dynosaur::dynosaur(pub DynNotifier = dyn(box) Notifier)]
pub trait Notifier: Send + Sync {
    /// Sends one notification.
    fn send(&self, key: &str, notification: &Notification) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

impl<T: Notifier + ?Sized> Notifier for Arc<T> {
    fn send(&self, key: &str, notification: &Notification) -> impl Future<Output = Result<(), NotifyError>> + Send {
        (**self).send(key, notification)
    }
}
