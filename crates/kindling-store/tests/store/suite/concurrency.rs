use std::sync::Arc;

use kindling_store::{Store, StoreError};

use super::temp_store;

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
