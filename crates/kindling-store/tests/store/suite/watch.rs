use std::sync::Arc;
use std::time::{Duration, Instant};

use kindling_store::{Event, KeyValue, Revision, Store};

use super::temp_store;
use crate::common::{expect_event, expect_quiet, next_event, Model, Received, Rng, PATIENCE};

#[test]
fn watch_replays_history_then_streams_live_events() {
    let (_dir, store) = temp_store();
    store.create("/w/a", b"a1".to_vec()).unwrap();
    store.create("/other", b"x".to_vec()).unwrap();
    store.update("/w/a", b"a2".to_vec(), 1).unwrap();

    let mut watch = store.watch("/w/", 0).unwrap();
    let a1 = KeyValue {
        key: "/w/a".into(),
        value: b"a1".to_vec(),
        create_revision: 1,
        mod_revision: 1,
    };
    let a2 = KeyValue {
        value: b"a2".to_vec(),
        mod_revision: 3,
        ..a1.clone()
    };
    assert_eq!(
        expect_event(&mut watch),
        Event::Put {
            kv: a1.clone(),
            prev: None
        }
    );
    assert_eq!(
        expect_event(&mut watch),
        Event::Put {
            kv: a2.clone(),
            prev: Some(a1)
        }
    );
    expect_quiet(&mut watch);

    store.create("/other2", vec![]).unwrap();
    store.delete("/w/a", Some(3)).unwrap();
    assert_eq!(
        expect_event(&mut watch),
        Event::Delete {
            prev: a2,
            revision: 5
        }
    );
    expect_quiet(&mut watch);
}

#[test]
fn watch_from_now_and_from_the_future() {
    let (_dir, store) = temp_store();
    store.create("/a", vec![]).unwrap();
    let mut now = store.watch("/", 1).unwrap();
    let mut future = store.watch("/", 2).unwrap();
    store.create("/b", vec![]).unwrap();
    store.create("/c", vec![]).unwrap();
    assert_eq!(expect_event(&mut now).revision(), 2);
    assert_eq!(expect_event(&mut now).revision(), 3);
    assert_eq!(expect_event(&mut future).revision(), 3);
    expect_quiet(&mut future);
}

#[test]
fn concurrent_writers_watchers_see_every_revision_once_in_order() {
    const THREADS: usize = 4;
    const WRITES: usize = 250;
    const TOTAL: Revision = (THREADS * WRITES) as Revision;
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let from_start = store.watch("/c/", 0).unwrap();

    let writers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..WRITES {
                    store
                        .create(&format!("/c/{thread}/{i}"), vec![thread as u8])
                        .unwrap();
                }
            })
        })
        .collect();
    // Watches started while the writers run: part replay, part live, racing with commits.
    let mut watches = vec![(0, from_start)];
    let deadline = Instant::now() + PATIENCE;
    for threshold in [50, 300, 700] {
        while store.current_revision().unwrap() < threshold && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let after = store.current_revision().unwrap() - 20;
        watches.push((after, store.watch("/c/", after).unwrap()));
    }
    for (after, mut watch) in watches {
        for expected in after + 1..=TOTAL {
            assert_eq!(
                expect_event(&mut watch).revision(),
                expected,
                "watch after {after}"
            );
        }
        expect_quiet(&mut watch);
    }
    for writer in writers {
        writer.join().unwrap();
    }
}

#[test]
fn watch_replay_matches_a_model_from_every_revision() {
    let (_dir, store) = temp_store();
    let mut model = Model::new();
    model.run_random_writes(&store, &mut Rng::new(11), 120);
    for after in (0..=model.revision()).step_by(7) {
        for prefix in ["", "/m/a", "/n/"] {
            model.check_watch(&store, prefix, after);
        }
    }
}

#[test]
fn dropping_the_receiver_unregisters_the_watcher() {
    let (_dir, store) = temp_store();
    for i in 0..10 {
        store.create(&format!("/d/{i}"), vec![]).unwrap();
    }
    // Mid-replay and live receivers dropped: later writes must still go through.
    drop(store.watch("/d/", 0).unwrap());
    drop(store.watch("/d/", 10).unwrap());
    for i in 10..20 {
        store.create(&format!("/d/{i}"), vec![]).unwrap();
    }
    assert_eq!(store.current_revision(), Ok(20));
}

#[test]
fn dropping_the_store_closes_its_watches() {
    let (_dir, store) = temp_store();
    store.create("/x", vec![]).unwrap();
    let mut watch = store.watch("/", 1).unwrap();
    drop(store);
    assert!(matches!(next_event(&mut watch, PATIENCE), Received::Closed));
}

#[test]
fn watch_works_inside_a_tokio_runtime() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    for i in 0..3 {
        store.create(&format!("/t/{i}"), vec![]).unwrap();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut watch = store.watch("/t/", 0).unwrap();
        let writer = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.create("/t/3", vec![]).unwrap())
        };
        for expected in 1..=4 {
            let event = tokio::time::timeout(PATIENCE, watch.events.recv()).await;
            assert_eq!(event.unwrap().unwrap().revision(), expected);
        }
        writer.await.unwrap();
        let quiet = tokio::time::timeout(Duration::from_millis(100), watch.events.recv()).await;
        assert!(quiet.is_err());
    });
}
