//! Helpers shared by the SQLite benches.
// Each bench uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A database file in the temp folder, removed (with its WAL files) when dropped.
pub struct TempDb {
    path: PathBuf,
}

impl TempDb {
    /// A fresh path for `tag`; any file left there by an earlier run is removed.
    pub fn new(tag: &str) -> TempDb {
        let path = std::env::temp_dir().join(format!("orderflow-bench-{tag}-{}.sqlite", std::process::id()));
        let db = TempDb { path };
        db.remove();
        db
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = self.path.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

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
