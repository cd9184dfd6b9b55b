//! A host's own words for some messages, falling back to a catalogue for the rest.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::DateTime;
use chrono_tz::Tz;

use super::{Catalogue, Context, Locale, Message, Rendered};
use crate::money::Money;

/// A host's words for one kind of message: `None` leaves the message to the wrapped catalogue
/// (kinds are named per family, so a closure for `shipped` sees both the timeline entry and the
/// notification of that name, and answers the ones it means).
pub type Override = Arc<dyn Fn(Message<'_>, &Context<'_>) -> Option<Rendered> + Send + Sync>;

/// Wraps a catalogue, answering the kinds given to [`Overrides::with`] in the host's words.
pub struct Overrides<C> {
    inner: C,
    by_kind: BTreeMap<&'static str, Override>,
}

impl<C> fmt::Debug for Overrides<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Overrides").field("kinds", &self.by_kind.keys().collect::<Vec<_>>()).finish()
    }
}

impl<C: Catalogue> Overrides<C> {
    /// No overrides yet: everything as `inner` says it.
    pub fn new(inner: C) -> Overrides<C> {
        Overrides { inner, by_kind: BTreeMap::new() }
    }

    /// Says messages of `kind` (see [`Message::kind`]) with `words`, unless it answers `None`.
    pub fn with(
        mut self,
        kind: &'static str,
        words: impl Fn(Message<'_>, &Context<'_>) -> Option<Rendered> + Send + Sync + 'static,
    ) -> Overrides<C> {
        self.by_kind.insert(kind, Arc::new(words));
        self
    }
}

impl<C: Catalogue> Catalogue for Overrides<C> {
    fn locale(&self) -> Locale {
        self.inner.locale()
    }

    fn money(&self, amount: &Money) -> String {
        self.inner.money(amount)
    }

    fn time(&self, at: &DateTime<Tz>) -> String {
        self.inner.time(at)
    }

    fn render(&self, message: Message<'_>, cx: &Context<'_>) -> Rendered {
        self.by_kind
            .get(message.kind())
            .and_then(|words| words(message, cx))
            .unwrap_or_else(|| self.inner.render(message, cx))
    }
}
