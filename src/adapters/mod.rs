//! Adapters that ship with the library.
//!
//! [`memory`] holds in-process implementations of the store and inventory ports: complete,
//! thread-safe and keeping the same contract as the durable stores, for tests, examples,
//! prototypes and single-process hosts that do not need durability.

pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
