use kindling_store::{KeyValue, Store, StoreError};

use super::{reopen, temp_store};

#[test]
fn create_get_update_delete() {
    let (_dir, store) = temp_store();
    assert_eq!(store.current_revision(), Ok(0));
    assert_eq!(store.get("/a"), Ok(None));

    assert_eq!(store.create("/a", b"one".to_vec()), Ok(1));
    let created = KeyValue {
        key: "/a".into(),
        value: b"one".to_vec(),
        create_revision: 1,
        mod_revision: 1,
    };
    assert_eq!(store.get("/a"), Ok(Some(created.clone())));
    assert_eq!(
        store.create("/a", b"again".to_vec()),
        Err(StoreError::AlreadyExists("/a".into()))
    );

    assert_eq!(
        store.update("/a", b"two".to_vec(), 7),
        Err(StoreError::Conflict {
            key: "/a".into(),
            expected: 7,
            current: 1
        })
    );
    assert_eq!(store.update("/a", b"two".to_vec(), 1), Ok(2));
    let updated = KeyValue {
        value: b"two".to_vec(),
        mod_revision: 2,
        ..created
    };
    assert_eq!(store.get("/a"), Ok(Some(updated.clone())));
    assert_eq!(
        store.update("/missing", vec![], 1),
        Err(StoreError::NotFound("/missing".into()))
    );

    assert_eq!(
        store.delete("/a", Some(1)),
        Err(StoreError::Conflict {
            key: "/a".into(),
            expected: 1,
            current: 2
        })
    );
    assert_eq!(store.delete("/a", Some(2)), Ok((3, updated)));
    assert_eq!(store.get("/a"), Ok(None));
    assert_eq!(
        store.delete("/a", None),
        Err(StoreError::NotFound("/a".into()))
    );

    // Refused writes consume no revision.
    assert_eq!(store.current_revision(), Ok(3));
    // A deleted key can be created again, as a new object.
    assert_eq!(store.create("/a", b"three".to_vec()), Ok(4));
    assert_eq!(store.get("/a").unwrap().unwrap().create_revision, 4);
    // Unconditional delete.
    assert_eq!(
        store.delete("/a", None).map(|(revision, _)| revision),
        Ok(5)
    );
}

/// The awaited writes answer as the blocking ones, on a runtime with a single thread (nothing
/// blocks it while the backend works), and writes queued together all land.
#[test]
fn awaited_writes_answer_like_blocking_ones() {
    let (_dir, store) = temp_store();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(store.create_async("/a", b"one".to_vec()).await, Ok(1));
        assert_eq!(
            store.create_async("/a", vec![]).await,
            Err(StoreError::AlreadyExists("/a".into()))
        );
        assert_eq!(
            store.update_async("/a", b"two".to_vec(), 7).await,
            Err(StoreError::Conflict {
                key: "/a".into(),
                expected: 7,
                current: 1
            })
        );
        assert_eq!(store.update_async("/a", b"two".to_vec(), 1).await, Ok(2));
        assert_eq!(
            store.update_async("/missing", vec![], 1).await,
            Err(StoreError::NotFound("/missing".into()))
        );
        let (revision, deleted) = store.delete_async("/a", Some(2)).await.unwrap();
        assert_eq!((revision, deleted.value), (3, b"two".to_vec()));
        assert_eq!(
            store.delete_async("/a", None).await,
            Err(StoreError::NotFound("/a".into()))
        );
        // Queued before any is awaited.
        let pending: Vec<_> = (0..50)
            .map(|i| store.create_async(&format!("/many/{i}"), vec![]))
            .collect();
        let mut revisions = Vec::new();
        for answer in pending {
            revisions.push(answer.await.unwrap());
        }
        revisions.sort_unstable();
        assert_eq!(revisions, (4..54).collect::<Vec<_>>());
    });
}

#[test]
fn revision_and_data_survive_reopen() {
    let (dir, store) = temp_store();
    store.create("/a", b"1".to_vec()).unwrap();
    store.create("/b", b"2".to_vec()).unwrap();
    // The last write is a delete, so the revision cannot be recovered from `kv` alone.
    store.delete("/b", None).unwrap();
    drop(store);

    let store = reopen(&dir);
    assert_eq!(store.current_revision(), Ok(3));
    assert_eq!(
        store.get("/a").unwrap().map(|kv| kv.value),
        Some(b"1".to_vec())
    );
    assert_eq!(store.get("/b"), Ok(None));
    assert_eq!(store.create("/c", vec![]), Ok(4));
    drop(store);

    let store = reopen(&dir);
    assert_eq!(store.current_revision(), Ok(4));
    assert_eq!(store.update("/a", b"x".to_vec(), 1), Ok(5));
}

#[test]
fn empty_and_binary_values_round_trip() {
    let (_dir, store) = temp_store();
    let binary: Vec<u8> = (0..=255u8).collect();
    store.create("/empty", Vec::new()).unwrap();
    store.create("/binary", binary.clone()).unwrap();
    assert_eq!(
        store.get("/empty").unwrap().unwrap().value,
        Vec::<u8>::new()
    );
    assert_eq!(store.get("/binary").unwrap().unwrap().value, binary);
}
