//! A database file in the temp folder for the SQLite tests and benches.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh file path in the temp folder; the file and its WAL files are removed when dropped.
pub struct TempDb {
    path: PathBuf,
}

impl TempDb {
    /// A path no other `TempDb` uses (process id, time and a counter in the name).
    pub fn new(tag: &str) -> TempDb {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!("orderflow-test-{tag}-{}-{nanos}-{n}.sqlite", std::process::id()));
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
