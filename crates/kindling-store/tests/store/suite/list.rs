use kindling_store::{Store, StoreError};

use super::temp_store;
use crate::common::{Model, Rng};

fn keys(page: &kindling_store::ListPage) -> Vec<&str> {
    page.items.iter().map(|kv| kv.key.as_str()).collect()
}

#[test]
fn list_with_prefix_limit_and_paging() {
    let (_dir, store) = temp_store();
    for key in ["/p/3", "/p/1", "/p/2", "/p", "/p0", "/q/1", "/p/4", "/p/5"] {
        store.create(key, key.as_bytes().to_vec()).unwrap();
    }
    let all = store.list("/p/", None, 0, None).unwrap();
    assert_eq!(keys(&all), ["/p/1", "/p/2", "/p/3", "/p/4", "/p/5"]);
    assert_eq!(all.revision, 8);
    assert!(!all.more);

    let first = store.list("/p/", None, 2, None).unwrap();
    assert_eq!(keys(&first), ["/p/1", "/p/2"]);
    assert!(first.more);
    // Writes between pages do not show in later pages read at the first page's revision.
    store.create("/p/25", vec![]).unwrap();
    store.delete("/p/4", None).unwrap();
    let second = store
        .list("/p/", Some("/p/2"), 2, Some(first.revision))
        .unwrap();
    assert_eq!(keys(&second), ["/p/3", "/p/4"]);
    assert!(second.more);
    let third = store
        .list("/p/", Some("/p/4"), 2, Some(first.revision))
        .unwrap();
    assert_eq!(keys(&third), ["/p/5"]);
    assert!(!third.more);
    assert_eq!(third.revision, first.revision);

    // An exact fit is not "more".
    let exact = store
        .list("/p/", Some("/p/3"), 2, Some(first.revision))
        .unwrap();
    assert_eq!(keys(&exact), ["/p/4", "/p/5"]);
    assert!(!exact.more);

    // The current state.
    assert_eq!(
        keys(&store.list("/p/", None, 0, None).unwrap()),
        ["/p/1", "/p/2", "/p/25", "/p/3", "/p/5"]
    );
    // The empty prefix lists everything.
    assert_eq!(store.list("", None, 0, None).unwrap().items.len(), 8);
}

#[test]
fn list_at_an_older_revision_sees_the_old_state() {
    let (_dir, store) = temp_store();
    store.create("/k/a", b"a1".to_vec()).unwrap();
    store.create("/k/b", b"b1".to_vec()).unwrap();
    let before = store.current_revision().unwrap();
    store.update("/k/a", b"a2".to_vec(), 1).unwrap();
    store.delete("/k/b", None).unwrap();
    store.create("/k/c", b"c1".to_vec()).unwrap();

    let old = store.list("/k/", None, 0, Some(before)).unwrap();
    assert_eq!(keys(&old), ["/k/a", "/k/b"]);
    assert_eq!(old.items[0].value, b"a1");
    assert_eq!(old.items[0].mod_revision, 1);
    assert_eq!(old.items[1].value, b"b1");
    assert_eq!(old.revision, before);

    let now = store.list("/k/", None, 0, None).unwrap();
    assert_eq!(keys(&now), ["/k/a", "/k/c"]);
    assert_eq!(now.items[0].value, b"a2");

    assert_eq!(store.list("/k/", None, 0, Some(0)).unwrap().items, vec![]);
    assert_eq!(
        store.list("/k/", None, 0, Some(99)),
        Err(StoreError::FutureRevision {
            requested: 99,
            current: 5
        })
    );
}

#[test]
fn prefixes_with_wildcard_and_unicode_characters_match_exactly() {
    let (_dir, store) = temp_store();
    for key in [
        "/a%",
        "/a%/x",
        "/ab",
        "/a_",
        "/a_/y",
        "/aé",
        "/aé/z",
        "/a\u{10FFFF}",
    ] {
        store.create(key, vec![]).unwrap();
    }
    assert_eq!(
        keys(&store.list("/a%", None, 0, None).unwrap()),
        ["/a%", "/a%/x"]
    );
    assert_eq!(
        keys(&store.list("/a_", None, 0, None).unwrap()),
        ["/a_", "/a_/y"]
    );
    assert_eq!(
        keys(&store.list("/aé", None, 0, None).unwrap()),
        ["/aé", "/aé/z"]
    );
    assert_eq!(
        keys(&store.list("/a\u{10FFFF}", None, 0, None).unwrap()),
        ["/a\u{10FFFF}"]
    );
    assert_eq!(store.list("/a", None, 0, None).unwrap().items.len(), 8);
}

#[test]
fn lists_at_every_revision_match_a_model() {
    let (_dir, store) = temp_store();
    let mut model = Model::new();
    model.run_random_writes(&store, &mut Rng::new(7), 150);
    for prefix in ["", "/m/", "/m/a", "/m/z", "/n/"] {
        model.check_lists(&store, prefix, 0, 2);
    }
}
