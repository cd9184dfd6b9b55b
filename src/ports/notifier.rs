//! The notifier port: messages to buyers and customer service, delivered from the outbox.

use std::future::Future;
use std::sync::Arc;

use super::BoxFuture;
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
pub trait Notifier: Send + Sync {
    /// Sends one notification.
    fn send(&self, key: &str, notification: &Notification) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

/// Object-safe twin of [`Notifier`].
pub trait DynNotifier: Send + Sync {
    /// Sends one notification.
    fn send_dyn<'a>(&'a self, key: &'a str, notification: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>>;
}

impl<T: Notifier> DynNotifier for T {
    fn send_dyn<'a>(&'a self, key: &'a str, notification: &'a Notification) -> BoxFuture<'a, Result<(), NotifyError>> {
        Box::pin(self.send(key, notification))
    }
}

impl<'d> Notifier for dyn DynNotifier + 'd {
    async fn send(&self, key: &str, notification: &Notification) -> Result<(), NotifyError> {
        self.send_dyn(key, notification).await
    }
}

impl<T: Notifier + ?Sized> Notifier for Arc<T> {
    fn send(&self, key: &str, notification: &Notification) -> impl Future<Output = Result<(), NotifyError>> + Send {
        (**self).send(key, notification)
    }
}
