//! [`FixedClock`]: a clock that stands still until a test moves it.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};

use super::gateway::lock;
use crate::ports::clock::Clock;

/// A steppable clock. Clones share the same time, so a test can keep one handle and give
/// another to the engine.
///
/// ```
/// use chrono::TimeDelta;
/// use orderflow::testing::{FixedClock, t0};
///
/// let clock = FixedClock::new(t0());
/// let engine_side = clock.clone();
/// clock.advance(TimeDelta::hours(2));
/// assert_eq!(engine_side.now(), t0() + TimeDelta::hours(2));
/// ```
#[derive(Debug, Clone)]
pub struct FixedClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl FixedClock {
    /// A clock showing `at`.
    pub fn new(at: DateTime<Utc>) -> FixedClock {
        FixedClock { now: Arc::new(Mutex::new(at)) }
    }

    /// Sets the time to `at` (backwards too).
    pub fn set(&self, at: DateTime<Utc>) {
        *lock(&self.now) = at;
    }

    /// Moves the time by `by` (negative moves it back; an out-of-range result leaves it
    /// unchanged).
    pub fn advance(&self, by: TimeDelta) {
        let mut now = lock(&self.now);
        *now = crate::decide::after(*now, by);
    }

    /// The time shown.
    pub fn now(&self) -> DateTime<Utc> {
        *lock(&self.now)
    }
}

impl Default for FixedClock {
    /// A clock showing [`super::t0`].
    fn default() -> FixedClock {
        FixedClock::new(super::t0())
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        FixedClock::now(self)
    }
}
