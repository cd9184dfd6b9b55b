//! Helpers shared by the SQLite benches.
// Each bench uses a part of this module.
#![allow(dead_code)]

#[path = "../../tests/common/temp_db.rs"]
mod temp_db;

pub use temp_db::TempDb;

/// True under `cargo bench` (criterion's `--bench` flag); false when `cargo test --benches`
/// runs each benchmark once as a test.
pub fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// CPU time this thread has run so far, in nanoseconds (`/proc/thread-self/schedstat`, Linux);
/// `None` where it cannot be read. Unlike wall time it does not count time spent waiting for
/// a CPU that other processes hold, nor waiting for the disk.
pub fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}
