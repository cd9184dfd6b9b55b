//! TEMP STUB
#![allow(missing_docs)]
use serde::{Deserialize, Serialize};
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OrderNumber(String);
impl OrderNumber {
    pub fn from_value(v: u64) -> Self {
        OrderNumber(v.to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl std::fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub trait OrderNumberGenerator: Send + Sync {
    fn next_number(&self, now: chrono::DateTime<chrono::Utc>) -> OrderNumber;
}
#[derive(Default)]
pub struct TimeOrderedNumbers(std::sync::atomic::AtomicU64);
impl OrderNumberGenerator for TimeOrderedNumbers {
    fn next_number(&self, _now: chrono::DateTime<chrono::Utc>) -> OrderNumber {
        OrderNumber::from_value(self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
    }
}
