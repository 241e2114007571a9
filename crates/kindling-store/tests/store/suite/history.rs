//! Compaction as every backend must show it: old reads and watches fail with `Compacted`, the
//! key space at the compacted revision and everything after it stay readable and watchable.

use kindling_store::{Store, StoreError};

use super::{reopen, temp_store};
use crate::common::{assert_compacted, Model, Rng};

#[test]
fn compaction_keeps_current_values_and_later_history() {
    let (guard, store) = temp_store();
    let mut model = Model::new();
    model.run_random_writes(&store, &mut Rng::new(7), 60);

    store.compact(30).unwrap();
    assert_eq!(store.compacted_revision(), Ok(30));
    assert_compacted(store.list("/m/", None, 0, Some(29)));
    assert_compacted(store.watch("/m/", 29).map(|_| ()));
    model.check_lists(&store, "/m/", 30, 2);
    model.check_watch(&store, "/m/", 30);
    model.check_watch(&store, "/", 45);
    for kv in model.items("", 60) {
        assert_eq!(store.get(&kv.key), Ok(Some(kv.clone())));
    }

    // Compacting to an older revision does nothing; to a future one is refused.
    store.compact(10).unwrap();
    assert_eq!(store.compacted_revision(), Ok(30));
    assert!(matches!(
        store.compact(1000),
        Err(StoreError::FutureRevision { .. })
    ));

    // A new client (a restarted API server) knows the compaction from the store itself.
    drop(store);
    let store = reopen(&guard);
    assert_eq!(store.compacted_revision(), Ok(30));
    assert_compacted(store.list("/m/", None, 0, Some(29)));
    model.check_lists(&store, "/m/", 58, 3);
    // And writes go on from where they were.
    assert_eq!(store.create("/after", vec![]), Ok(61));
}
