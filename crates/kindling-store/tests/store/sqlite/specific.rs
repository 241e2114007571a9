//! What only the SQLite backend promises: one writer per file, group commit, dropping a
//! watcher that falls behind.

use std::sync::Arc;
use std::time::Instant;

use kindling_store::{Revision, Store, StoreError, StoreOptions};

use super::{reopen, temp_store, temp_store_with};
use crate::common::{expect_event, expect_quiet, next_event, Received, PATIENCE};

#[test]
fn a_second_instance_on_the_same_file_cannot_corrupt_revisions() {
    let (dir, first) = temp_store();
    let second = reopen(&dir);
    assert_eq!(first.create("/a", vec![]), Ok(1));
    assert!(matches!(
        second.create("/b", vec![]),
        Err(StoreError::Internal(_))
    ));
    assert_eq!(first.create("/c", vec![]), Ok(2));
}

/// Concurrent writers share commits: with 16 threads creating at once, the writer commits
/// several requests per transaction (one fsync for all of them), and says so in its stats.
#[test]
fn concurrent_writes_are_committed_together() {
    const THREADS: usize = 16;
    const WRITES: usize = 50;
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..WRITES {
                    store
                        .create(&format!("/k/{t}/{i}"), vec![b'x'; 512])
                        .unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let stats = store.commit_stats().unwrap();
    assert_eq!(stats.writes, (THREADS * WRITES) as u64);
    assert_eq!(stats.batches.iter().sum::<u64>(), stats.commits);
    assert!(
        stats.commits < stats.writes,
        "no batching: {} commits for {} writes",
        stats.commits,
        stats.writes
    );
}

/// The log is still copied into the database file now that the checkpoints run on a thread of
/// their own (SQLite's automatic checkpoint in the commit is replaced): ~5 000 pages of writes
/// reach the file without anyone asking for a checkpoint.
#[test]
fn the_log_is_checkpointed_into_the_database_file() {
    let (dir, store) = temp_store();
    let file = dir.path().join("data/store.db");
    let before = std::fs::metadata(&file).unwrap().len();
    for i in 0..100 {
        // Written twice (current value and history): ~50 pages a write.
        store
            .create(&format!("/big/{i}"), vec![b'x'; 100 * 1024])
            .unwrap();
    }
    let deadline = Instant::now() + PATIENCE;
    let grown = || std::fs::metadata(&file).unwrap().len() > before + 8 * 1024 * 1024;
    while !grown() && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        grown(),
        "the database file is {} bytes after 20 MB of writes (was {before})",
        std::fs::metadata(&file).unwrap().len()
    );
    assert_eq!(
        store.get("/big/99").unwrap().unwrap().value.len(),
        100 * 1024
    );
}

#[test]
fn commit_stats_buckets_are_powers_of_two() {
    let mut stats = kindling_store::CommitStats::default();
    for size in [1, 2, 3, 4, 5, 512, 600] {
        stats.record(size);
    }
    assert_eq!(stats.batches, [1, 1, 2, 1, 0, 0, 0, 0, 0, 2]);
    assert_eq!((stats.commits, stats.writes), (7, 1127));
}

#[test]
fn a_slow_watcher_is_dropped_without_blocking_writers() {
    let options = StoreOptions {
        watch_buffer: 4,
        ..StoreOptions::default()
    };
    let (_dir, store) = temp_store_with(options);
    let mut slow = store.watch("/s/", 0).unwrap();
    let mut fast = store.watch("/s/", 0).unwrap();
    let started = Instant::now();
    let mut seen_by_fast = 0;
    for i in 0..50 {
        store.create(&format!("/s/{i:02}"), vec![]).unwrap();
        // Keep the fast watcher drained as it goes.
        while let Ok(event) = fast.events.try_recv() {
            seen_by_fast += 1;
            assert_eq!(event.revision(), seen_by_fast);
        }
    }
    assert!(started.elapsed() < PATIENCE);
    // The slow one gets what fit in its buffer, in order, then the end of the stream.
    let mut received = Vec::new();
    loop {
        match next_event(&mut slow, PATIENCE) {
            Received::Event(event) => received.push(event.revision()),
            Received::Closed => break,
            Received::TimedOut => panic!("the slow watcher was not closed"),
        }
    }
    assert_eq!(
        received,
        (1..=received.len() as Revision).collect::<Vec<_>>()
    );
    assert!(received.len() <= 4, "{received:?}");
    // The one that kept up is still open and complete.
    while seen_by_fast < 50 {
        assert_eq!(expect_event(&mut fast).revision(), seen_by_fast + 1);
        seen_by_fast += 1;
    }
    expect_quiet(&mut fast);
}
