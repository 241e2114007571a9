//! Temporary SQLite stores for the suite.

use std::time::{Duration, Instant};

use kindling_store::{SqliteStore, Store, StoreOptions};
use tempfile::TempDir;

use crate::common::PATIENCE;

pub fn temp_store() -> (TempDir, SqliteStore) {
    temp_store_with(StoreOptions::default())
}

pub fn temp_store_with(options: StoreOptions) -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open_with(&dir.path().join("data/store.db"), options).expect("open");
    (dir, store)
}

pub fn reopen(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join("data/store.db")).expect("reopen")
}

/// Waits until compaction has physically deleted everything it made unreachable.
pub fn wait_for_purge(store: &SqliteStore) {
    let deadline = Instant::now() + PATIENCE;
    let compacted = store.compacted_revision().unwrap();
    while store.purged_revision().unwrap() < compacted {
        assert!(
            Instant::now() < deadline,
            "purge did not finish in {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
