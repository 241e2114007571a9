use std::sync::Arc;

use kindling_store::{Store, StoreError};

use crate::common::temp_store;

/// Read-modify-write of one counter from many threads: compare-and-swap must let exactly one
/// writer win per revision.
#[test]
fn conflicting_read_modify_write_updates_lose_nothing() {
    const THREADS: usize = 8;
    const ATTEMPTS: usize = 500;
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    store.create("/counter", b"0".to_vec()).unwrap();

    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                let (mut won, mut lost) = (0u64, 0u64);
                for _ in 0..ATTEMPTS {
                    let current = store.get("/counter").unwrap().unwrap();
                    let count: u64 = std::str::from_utf8(&current.value)
                        .unwrap()
                        .parse()
                        .unwrap();
                    let next = (count + 1).to_string().into_bytes();
                    match store.update("/counter", next, current.mod_revision) {
                        Ok(_) => won += 1,
                        Err(StoreError::Conflict { .. }) => lost += 1,
                        Err(other) => panic!("unexpected error {other}"),
                    }
                }
                (won, lost)
            })
        })
        .collect();
    let (mut won, mut lost) = (0, 0);
    for worker in workers {
        let (w, l) = worker.join().unwrap();
        won += w;
        lost += l;
    }
    assert_eq!(won + lost, (THREADS * ATTEMPTS) as u64);
    assert!(won > 0);
    let last = store.get("/counter").unwrap().unwrap();
    assert_eq!(std::str::from_utf8(&last.value).unwrap(), won.to_string());
    // Only successful updates consume revisions.
    assert_eq!(last.mod_revision, 1 + won as i64);
    assert_eq!(store.current_revision(), Ok(1 + won as i64));
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

#[test]
fn commit_stats_buckets_are_powers_of_two() {
    let mut stats = kindling_store::CommitStats::default();
    for size in [1, 2, 3, 4, 5, 512, 600] {
        stats.record(size);
    }
    assert_eq!(stats.batches, [1, 1, 2, 1, 0, 0, 0, 0, 0, 2]);
    assert_eq!((stats.commits, stats.writes), (7, 1127));
}
