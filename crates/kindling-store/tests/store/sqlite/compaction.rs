use kindling_store::{Event, Store, StoreError, StoreOptions};
use tempfile::TempDir;

use super::{reopen, temp_store_with, wait_for_purge};
use crate::common::{assert_compacted, expect_event, expect_quiet, Model, Rng, MODEL_KEYS};

fn manual_compaction() -> StoreOptions {
    StoreOptions {
        retain_revisions: None,
        ..StoreOptions::default()
    }
}

/// Log rows at or below `revision` still on disk (compaction keeps only what later rows need).
fn log_rows_at_or_below(dir: &TempDir, revision: i64) -> i64 {
    let conn = rusqlite::Connection::open(dir.path().join("data/store.db")).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM log WHERE revision <= ?1",
        [revision],
        |row| row.get(0),
    )
    .unwrap()
}

#[test]
fn compaction_fails_old_reads_and_keeps_current_values() {
    let (dir, store) = temp_store_with(manual_compaction());
    store.create("/a", b"a1".to_vec()).unwrap(); // 1
    store.update("/a", b"a2".to_vec(), 1).unwrap(); // 2
    store.create("/b", b"b1".to_vec()).unwrap(); // 3
    store.delete("/b", None).unwrap(); // 4
    store.create("/c", b"c1".to_vec()).unwrap(); // 5

    store.compact(3).unwrap();
    assert_eq!(store.compacted_revision(), Ok(3));
    assert_eq!(
        store.list("/", None, 0, Some(2)),
        Err(StoreError::Compacted {
            requested: 2,
            compacted: 3
        })
    );
    assert_compacted(store.watch("/", 2).map(|_| ()));
    wait_for_purge(&store);

    // The compacted revision itself is still readable (as in etcd).
    let at_3 = store.list("/", None, 0, Some(3)).unwrap();
    let summary: Vec<_> = at_3
        .items
        .iter()
        .map(|kv| (kv.key.as_str(), kv.mod_revision))
        .collect();
    assert_eq!(summary, [("/a", 2), ("/b", 3)]);
    let mut watch = store.watch("/", 3).unwrap();
    match expect_event(&mut watch) {
        Event::Delete { prev, revision: 4 } => assert_eq!(prev.value, b"b1"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(expect_event(&mut watch).revision(), 5);
    expect_quiet(&mut watch);

    assert_eq!(store.get("/a").unwrap().unwrap().value, b"a2");
    assert_eq!(store.get("/c").unwrap().unwrap().value, b"c1");
    assert_eq!(store.list("/", None, 0, None).unwrap().items.len(), 2);

    // Compacting backwards is a no-op; forwards past the present is refused.
    store.compact(2).unwrap();
    assert_eq!(store.compacted_revision(), Ok(3));
    assert_eq!(
        store.compact(99),
        Err(StoreError::FutureRevision {
            requested: 99,
            current: 5
        })
    );

    drop(store);
    let store = reopen(&dir);
    assert_eq!(store.compacted_revision(), Ok(3));
    assert_compacted(store.list("/", None, 0, Some(2)));
    // Row 3 (b1) is still named by the delete at 4; rows 1 and 2 are gone.
    assert_eq!(log_rows_at_or_below(&dir, 3), 1);
}

#[test]
fn history_after_compaction_matches_a_model() {
    let (dir, store) = temp_store_with(manual_compaction());
    let mut model = Model::new();
    let mut rng = Rng::new(3);
    model.run_random_writes(&store, &mut rng, 200);

    store.compact(80).unwrap();
    wait_for_purge(&store);
    assert_compacted(store.list("", None, 0, Some(79)));
    assert!(log_rows_at_or_below(&dir, 80) <= MODEL_KEYS.len() as i64);
    model.check_lists(&store, "", 80, 3);
    for after in [80, 81, 150, 200] {
        model.check_watch(&store, "", after);
    }

    // Later writes replace values whose log rows were purged: their events must still carry the
    // previous value.
    model.run_random_writes(&store, &mut rng, 100);
    model.check_watch(&store, "", 200);
    store.compact(250).unwrap();
    wait_for_purge(&store);
    assert!(log_rows_at_or_below(&dir, 250) <= MODEL_KEYS.len() as i64);
    model.check_lists(&store, "/m/", 250, 2);
    model.check_watch(&store, "", 250);

    drop(store);
    let store = reopen(&dir);
    model.check_lists(&store, "", 250, 4);
    model.check_watch(&store, "/m/a", 250);
}

#[test]
fn compacting_while_purge_is_pending_and_across_restarts() {
    let (dir, store) = temp_store_with(manual_compaction());
    let mut model = Model::new();
    let mut rng = Rng::new(5);
    model.run_random_writes(&store, &mut rng, 300);
    // Several compactions in a row, then writes and a restart before the purge is done.
    store.compact(100).unwrap();
    store.compact(150).unwrap();
    model.run_random_writes(&store, &mut rng, 50);
    store.compact(200).unwrap();
    drop(store);

    let store = reopen(&dir);
    model.check_lists(&store, "", 200, 3);
    model.check_watch(&store, "", 200);
    wait_for_purge(&store);
    assert!(log_rows_at_or_below(&dir, 200) <= MODEL_KEYS.len() as i64);
    model.check_lists(&store, "", 200, 3);
    model.check_watch(&store, "", 200);
}

#[test]
fn automatic_compaction_keeps_about_the_configured_history() {
    let options = StoreOptions {
        retain_revisions: Some(100),
        ..StoreOptions::default()
    };
    let (_dir, store) = temp_store_with(options);
    let mut model = Model::new();
    model.run_random_writes(&store, &mut Rng::new(9), 500);
    let compacted = store.compacted_revision().unwrap();
    assert!((390..=400).contains(&compacted), "compacted {compacted}");
    assert_compacted(store.list("", None, 0, Some(compacted - 1)));
    wait_for_purge(&store);
    model.check_lists(&store, "", compacted, 5);
    model.check_watch(&store, "", compacted);

    assert_eq!(store.compact_keep(10), Ok(490));
    assert_eq!(store.compacted_revision(), Ok(490));
    model.check_watch(&store, "", 490);
}

/// A key untouched since before the compaction has no log row left; its next update and delete
/// must still report the value they replaced, to watches and to lists at a past revision.
#[test]
fn values_older_than_the_compaction_still_appear_as_previous_values() {
    let (_dir, store) = temp_store_with(manual_compaction());
    store.create("/old/u", b"u1".to_vec()).unwrap(); // 1
    store.create("/old/d", b"d1".to_vec()).unwrap(); // 2
    for i in 0..20 {
        store.create(&format!("/filler/{i}"), vec![]).unwrap(); // 3..=22
    }
    store.compact(22).unwrap();
    wait_for_purge(&store);

    store.update("/old/u", b"u2".to_vec(), 1).unwrap(); // 23
    store.delete("/old/d", Some(2)).unwrap(); // 24
    let mut watch = store.watch("/old/", 22).unwrap();
    match expect_event(&mut watch) {
        Event::Put {
            kv,
            prev: Some(prev),
        } => {
            assert_eq!(
                (kv.mod_revision, prev.value.as_slice(), prev.mod_revision),
                (23, &b"u1"[..], 1)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    match expect_event(&mut watch) {
        Event::Delete { prev, revision: 24 } => assert_eq!(prev.value, b"d1"),
        other => panic!("unexpected {other:?}"),
    }
    let at_22 = store.list("/old/", None, 0, Some(22)).unwrap();
    let values: Vec<_> = at_22.items.iter().map(|kv| kv.value.as_slice()).collect();
    assert_eq!(values, [&b"d1"[..], &b"u1"[..]]);

    // And once those rows are compacted in turn, the copies go with them.
    store.compact(24).unwrap();
    wait_for_purge(&store);
    assert_eq!(
        store.list("/old/", None, 0, Some(24)).unwrap().items.len(),
        1
    );
}
