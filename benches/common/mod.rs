//! Helpers shared by the SQLite benches.
// Each bench uses a part of this module.
#![allow(dead_code)]

#[path = "../../tests/common/temp_db.rs"]
mod temp_db;

// Not every bench uses it.
#[allow(unused_imports)]
pub use temp_db::TempDb;

pub mod cpu_time;

/// True under `cargo bench` (criterion's `--bench` flag); false when `cargo test --benches`
/// runs each benchmark once as a test.
pub fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}
