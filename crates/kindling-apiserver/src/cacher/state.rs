//! What the cache knows of one resource (one storage prefix, `/registry/core/pods/`): its objects
//! now and its recent changes, as upstream's watchCache (store + cyclic event buffer). Pure: the
//! feed hands it the store's events in revision order; readers take snapshots and histories.

use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use super::served;
use kindling_store::{Event, KeyValue, Revision};

/// One object as the cache holds it.
#[derive(Debug)]
pub struct Object {
    pub key: String,
    /// What a client is sent: the stored JSON (in the storage version's form) with its
    /// `metadata.resourceVersion`. When the stored value was not a JSON object this is the
    /// stored value itself and `served` is false: readers decode it the slow way, which reports
    /// the corruption.
    pub json: Bytes,
    pub served: bool,
    /// Its resourceVersion: the revision of the write that made this state (for a deleted
    /// object's last state, the deletion's).
    pub revision: Revision,
}

impl Object {
    /// The object `kv` holds, as of `revision` (its mod revision, or the deletion's).
    pub fn from_kv(kv: &KeyValue, revision: Revision) -> Object {
        match served::with_resource_version(&kv.value, revision) {
            Some(json) => Object {
                key: kv.key.clone(),
                json: Bytes::from(json),
                served: true,
                revision,
            },
            None => Object {
                key: kv.key.clone(),
                json: Bytes::from(kv.value.clone()),
                served: false,
                revision,
            },
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One committed change of one object.
#[derive(Debug)]
pub struct Change {
    pub kind: ChangeKind,
    pub revision: Revision,
    /// The object after the change; for a deletion, its last state at the deletion revision.
    pub object: Arc<Object>,
    /// The object before the change (modifications and deletions).
    pub prev: Option<Arc<Object>>,
}

impl Change {
    pub fn key(&self) -> &str {
        &self.object.key
    }
}

/// Asked for changes after a revision the history no longer holds.
#[derive(Debug, PartialEq, Eq)]
pub struct TooOld {
    /// Every change after this revision is still held.
    pub oldest: Revision,
}

#[derive(Debug)]
pub struct ResourceCache {
    objects: BTreeMap<String, Arc<Object>>,
    history: VecDeque<Arc<Change>>,
    /// Every change after this revision is in `history`.
    history_after: Revision,
    /// The revision of the last change applied (or of the load).
    revision: Revision,
    capacity: usize,
}

impl ResourceCache {
    /// An empty cache of a resource as of `revision` (nothing before it can be replayed),
    /// keeping at most `capacity` changes of history.
    pub fn new(revision: Revision, capacity: usize) -> ResourceCache {
        ResourceCache {
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_after: revision,
            revision,
            capacity: capacity.max(1),
        }
    }

    /// Adds an object of the initial load.
    pub fn load(&mut self, object: Object) {
        self.objects.insert(object.key.clone(), Arc::new(object));
    }

    pub fn revision(&self) -> Revision {
        self.revision
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Applies one store event (in revision order); returns the change it made.
    pub fn apply(&mut self, event: &Event) -> Arc<Change> {
        let change = match event {
            Event::Put { kv, prev } => {
                let object = Arc::new(Object::from_kv(kv, kv.mod_revision));
                let before = self.objects.insert(kv.key.clone(), object.clone());
                // The cache's previous state is the event's previous value; the event's is only
                // needed if the cache somehow lacks it.
                let prev = before.or_else(|| {
                    prev.as_ref()
                        .map(|p| Arc::new(Object::from_kv(p, p.mod_revision)))
                });
                Change {
                    kind: if prev.is_some() {
                        ChangeKind::Modified
                    } else {
                        ChangeKind::Added
                    },
                    revision: kv.mod_revision,
                    object,
                    prev,
                }
            }
            Event::Delete { prev, revision } => {
                let before = self.objects.remove(&prev.key);
                Change {
                    kind: ChangeKind::Deleted,
                    revision: *revision,
                    object: Arc::new(Object::from_kv(prev, *revision)),
                    prev: Some(
                        before
                            .unwrap_or_else(|| Arc::new(Object::from_kv(prev, prev.mod_revision))),
                    ),
                }
            }
        };
        let change = Arc::new(change);
        self.revision = change.revision;
        self.history.push_back(change.clone());
        while self.history.len() > self.capacity {
            self.drop_oldest();
        }
        change
    }

    /// Drops the history the store has compacted: a watch from before it is 410 Gone anyway.
    pub fn forget_compacted(&mut self, compacted: Revision) {
        while self
            .history
            .front()
            .is_some_and(|change| change.revision <= compacted)
        {
            self.drop_oldest();
        }
    }

    fn drop_oldest(&mut self) {
        if let Some(dropped) = self.history.pop_front() {
            self.history_after = dropped.revision;
        }
    }

    /// The current object at `key`.
    pub fn get(&self, key: &str) -> Option<Arc<Object>> {
        self.objects.get(key).cloned()
    }

    /// The objects whose keys start with `prefix` and sort after `start_after`, in key order.
    pub fn list(&self, prefix: &str, start_after: Option<&str>) -> Vec<Arc<Object>> {
        let lower = match start_after {
            Some(after) if after >= prefix => Bound::Excluded(after.to_string()),
            _ => Bound::Included(prefix.to_string()),
        };
        self.objects
            .range((lower, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(_, object)| object.clone())
            .collect()
    }

    /// The changes of keys under `prefix` after `after`, in revision order.
    pub fn since(&self, prefix: &str, after: Revision) -> Result<Vec<Arc<Change>>, TooOld> {
        if after < self.history_after {
            return Err(TooOld {
                oldest: self.history_after,
            });
        }
        // History is in revision order: skip what the client has seen.
        let first = self.history.partition_point(|c| c.revision <= after);
        Ok(self
            .history
            .range(first..)
            .filter(|c| c.key().starts_with(prefix))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &str, rev: Revision) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            create_revision: rev,
            mod_revision: rev,
        }
    }

    fn put(key: &str, name: &str, rev: Revision, prev: Option<KeyValue>) -> Event {
        Event::Put {
            kv: kv(key, &format!(r#"{{"metadata":{{"name":"{name}"}}}}"#), rev),
            prev,
        }
    }

    const P: &str = "/registry/core/pods/";

    #[test]
    fn changes_carry_kinds_states_and_served_json() {
        let mut cache = ResourceCache::new(10, 100);
        cache.load(Object::from_kv(
            &kv(&format!("{P}d/a"), r#"{"metadata":{"name":"a"}}"#, 5),
            5,
        ));
        let modified = cache.apply(&put(&format!("{P}d/a"), "a2", 11, None));
        assert_eq!(modified.kind, ChangeKind::Modified);
        assert_eq!(
            &modified.object.json[..],
            br#"{"metadata":{"name":"a2","resourceVersion":"11"}}"#
        );
        assert_eq!(modified.prev.as_ref().unwrap().revision, 5);
        let added = cache.apply(&put(&format!("{P}e/b"), "b", 12, None));
        assert_eq!(added.kind, ChangeKind::Added);
        let deleted = cache.apply(&Event::Delete {
            prev: kv(&format!("{P}d/a"), r#"{"metadata":{"name":"a2"}}"#, 11),
            revision: 13,
        });
        assert_eq!(deleted.kind, ChangeKind::Deleted);
        assert_eq!(
            &deleted.object.json[..],
            br#"{"metadata":{"name":"a2","resourceVersion":"13"}}"#
        );
        assert_eq!(cache.revision(), 13);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&format!("{P}d/a")).is_none());
    }

    #[test]
    fn lists_by_prefix_and_pages_in_key_order() {
        let mut cache = ResourceCache::new(0, 100);
        for (i, key) in ["d/b", "d/a", "e/a", "d/c"].iter().enumerate() {
            cache.apply(&put(&format!("{P}{key}"), key, i as Revision + 1, None));
        }
        let names = |objects: Vec<Arc<Object>>| -> Vec<String> {
            objects
                .iter()
                .map(|o| o.key.trim_start_matches(P).to_string())
                .collect()
        };
        assert_eq!(names(cache.list(P, None)), ["d/a", "d/b", "d/c", "e/a"]);
        assert_eq!(
            names(cache.list(&format!("{P}d/"), None)),
            ["d/a", "d/b", "d/c"]
        );
        assert_eq!(
            names(cache.list(&format!("{P}d/"), Some(&format!("{P}d/a")))),
            ["d/b", "d/c"]
        );
        assert!(cache.list(&format!("{P}f/"), None).is_empty());
    }

    #[test]
    fn history_replays_after_a_revision_until_it_is_dropped() {
        let mut cache = ResourceCache::new(100, 3);
        for rev in 101..=104 {
            cache.apply(&put(&format!("{P}d/x{rev}"), "x", rev, None));
        }
        // Capacity 3: 101 was dropped, so only watches from 101 on can be served.
        assert_eq!(cache.since(P, 100).err(), Some(TooOld { oldest: 101 }));
        let revs = |changes: Vec<Arc<Change>>| -> Vec<Revision> {
            changes.iter().map(|c| c.revision).collect()
        };
        assert_eq!(revs(cache.since(P, 101).unwrap()), [102, 103, 104]);
        assert_eq!(revs(cache.since(P, 103).unwrap()), [104]);
        assert!(cache.since(P, 104).unwrap().is_empty());
        assert!(cache.since(&format!("{P}e/"), 101).unwrap().is_empty());
        cache.forget_compacted(103);
        assert_eq!(cache.since(P, 102).err(), Some(TooOld { oldest: 103 }));
        assert_eq!(revs(cache.since(P, 103).unwrap()), [104]);
    }
}
