//! The watch cache, as upstream's storage/cacher: every stored object in memory, fed by ONE
//! watch on the store, so that reads and watches stop costing a store read, a decode and an
//! encode each.
//!
//! - `state`: one resource's objects and recent changes (pure).
//! - `served`: stored JSON → what clients are sent, resourceVersion spliced in (pure).
//! - `event`: a change shared by all its watchers: decoded once, each encoding made once.
//! - `budget`: how long the feed may wait for watchers whose buffers are full (pure).
//! - `feed`: the thread that loads the store and applies and dispatches its changes.
//!
//! Guarantees. The feed applies the store's events in revision order and publishes the revision
//! it has applied (`applied`) only after the change is in the cache and queued to every watcher;
//! a reader that needs "at least revision R" (a consistent read: R = the store's current
//! revision) waits until `applied` ≥ R. A watch registers under its resource's lock, where it
//! also takes its initial state or its replay, so it gets every change after that state exactly
//! once. A watcher's queue is bounded; the feed waits for a full one within upstream's time
//! budget, then ends that watch (the client re-watches or re-lists), so a slow client neither
//! stalls the others for long nor grows the server's memory.

mod budget;
mod event;
mod feed;
pub(crate) mod served;
mod state;

pub use event::{EventType, SharedEvent};
pub use served::metadata as metadata_of;
pub use state::{Object, TooOld};

use kindling_store::{Revision, SharedStore};
use state::ResourceCache;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Changes kept per resource for watches that resume from a past revision; older ones are
/// replayed from the store's log instead.
const HISTORY_PER_RESOURCE: usize = 10_240;
/// Every key the API server writes is under it, and the feed follows all of it. A write
/// outside it would advance the store's revision where the cache cannot see it, so every
/// consistent read would wait out [`FRESHNESS_WAIT`] until the next write it does see.
pub const ROOT: &str = "/registry/";
/// How long a read waits for the cache to reach the revision it needs (upstream's 3 s).
const FRESHNESS_WAIT: Duration = Duration::from_secs(3);

pub struct Cacher {
    inner: Arc<Inner>,
    /// Events queued per watcher before the feed has to wait for it.
    watch_queue: usize,
    store: SharedStore,
}

struct Inner {
    resources: RwLock<HashMap<String, Arc<Mutex<Resource>>>>,
    /// Every change up to this revision is in the cache and queued to its watchers.
    applied: watch::Sender<Revision>,
    /// The revision the cache was (re)loaded at: resources first seen later start here.
    loaded: AtomicI64,
    next_watcher: AtomicU64,
}

struct Resource {
    cache: ResourceCache,
    watchers: Vec<Watcher>,
}

struct Watcher {
    id: u64,
    /// Keys it sees (the resource's prefix, or a namespace's).
    prefix: String,
    /// Only changes after this revision are queued to it.
    after: Revision,
    sender: mpsc::Sender<Arc<SharedEvent>>,
}

/// Where a watch starts.
#[derive(Clone, Copy, Debug)]
pub enum Start {
    /// With the current state, each object as an ADDED event.
    State,
    /// With every change after this revision.
    After(Revision),
}

/// A registered watch: what to send first, then the live changes.
pub struct CacheWatch {
    /// The state it starts from (for [`Start::State`]).
    pub initial: Vec<Arc<Object>>,
    /// The changes to replay first (for [`Start::After`]).
    pub replay: Vec<Arc<SharedEvent>>,
    /// The revision `initial`/`replay` bring the watcher to.
    pub revision: Revision,
    pub events: mpsc::Receiver<Arc<SharedEvent>>,
}

/// A list's objects and the revision they are the state at.
pub struct Snapshot {
    pub objects: Vec<Arc<Object>>,
    pub revision: Revision,
}

impl Cacher {
    /// Starts the cache: it loads every object and follows the store from then on (reads
    /// wait until it has caught up), until the store is dropped.
    ///
    /// The feed runs on a thread of its own (with a runtime of its own for its timers), not
    /// among the request handlers: every consistent read waits for it, so it must not queue
    /// behind them when the server is busy.
    pub fn start(store: SharedStore, watch_queue: usize) -> std::io::Result<Arc<Cacher>> {
        let (applied, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            resources: RwLock::new(HashMap::new()),
            applied,
            loaded: AtomicI64::new(0),
            next_watcher: AtomicU64::new(1),
        });
        let (feed_inner, weak_store) = (inner.clone(), Arc::downgrade(&store));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        std::thread::Builder::new()
            .name("kindling-watch-cache".to_string())
            .spawn(move || runtime.block_on(feed::run(feed_inner, weak_store)))?;
        Ok(Arc::new(Cacher {
            inner,
            watch_queue: watch_queue.max(1),
            store,
        }))
    }

    /// Waits until every change up to `revision` is in the cache; false after upstream's 3 s.
    pub async fn wait_for(&self, revision: Revision) -> bool {
        if *self.inner.applied.borrow() >= revision {
            return true;
        }
        let mut applied = self.inner.applied.subscribe();
        let reached = tokio::time::timeout(
            FRESHNESS_WAIT,
            applied.wait_for(|applied| *applied >= revision),
        )
        .await;
        matches!(reached, Ok(Ok(_)))
    }

    /// Waits until the cache holds everything the store has committed (a consistent read);
    /// false if it could not catch up in time.
    pub async fn wait_fresh(&self) -> bool {
        match self.store.current_revision() {
            Ok(current) => self.wait_for(current).await,
            Err(_) => false,
        }
    }

    /// The object at `key` and the revision the cache is at.
    pub fn get(&self, key: &str) -> (Option<Arc<Object>>, Revision) {
        let resource = self.inner.resource(key);
        let resource = resource.lock().unwrap_or_else(PoisonError::into_inner);
        let revision = self.inner.state_revision(&resource.cache);
        (resource.cache.get(key), revision)
    }

    /// The objects under `prefix` after `start_after`, in key order, with their revision.
    pub fn list(&self, prefix: &str, start_after: Option<&str>) -> Snapshot {
        let resource = self.inner.resource(prefix);
        let resource = resource.lock().unwrap_or_else(PoisonError::into_inner);
        Snapshot {
            objects: resource.cache.list(prefix, start_after),
            revision: self.inner.state_revision(&resource.cache),
        }
    }

    /// Registers a watch of the keys under `prefix`. `TooOld` when changes after the requested
    /// revision are no longer all held (the caller replays them from the store instead).
    pub fn watch(&self, prefix: &str, start: Start) -> Result<CacheWatch, TooOld> {
        let resource = self.inner.resource(prefix);
        let mut resource = resource.lock().unwrap_or_else(PoisonError::into_inner);
        let revision = self.inner.state_revision(&resource.cache);
        let (initial, replay, after) = match start {
            Start::State => (resource.cache.list(prefix, None), Vec::new(), revision),
            Start::After(from) => {
                let replay = resource.cache.since(prefix, from)?;
                let replay = replay
                    .into_iter()
                    .map(|change| Arc::new(SharedEvent::new(change)))
                    .collect();
                (Vec::new(), replay, from.max(revision))
            }
        };
        let (sender, events) = mpsc::channel(self.watch_queue);
        resource.watchers.push(Watcher {
            id: self.inner.next_watcher.fetch_add(1, Ordering::Relaxed),
            prefix: prefix.to_string(),
            after,
            sender,
        });
        Ok(CacheWatch {
            initial,
            replay,
            revision: after,
            events,
        })
    }

    /// The revision up to which every change is queued to the watchers: a watcher whose queue
    /// is empty after this was read has seen everything up to it (bookmarks).
    pub fn applied(&self) -> Revision {
        *self.inner.applied.borrow()
    }
}

impl Inner {
    /// The cache of the resource `key` (or a prefix of it) belongs to, made empty if new.
    fn resource(&self, key: &str) -> Arc<Mutex<Resource>> {
        let name = resource_prefix(key);
        if let Some(resource) = self
            .resources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
        {
            return resource.clone();
        }
        let loaded = self.loaded.load(Ordering::SeqCst);
        self.resources
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Resource {
                    cache: ResourceCache::new(loaded, HISTORY_PER_RESOURCE),
                    watchers: Vec::new(),
                }))
            })
            .clone()
    }

    /// The revision a resource's cache is the state at, read under its lock: the feed applies
    /// changes in order and publishes `applied` after each, so every change up to the later
    /// of the two is in it and none after.
    fn state_revision(&self, cache: &ResourceCache) -> Revision {
        cache.revision().max(*self.applied.borrow())
    }
}

/// `/registry/<group>/<plural>/` of a key or prefix (the whole string when it is shorter).
fn resource_prefix(key: &str) -> &str {
    match key.match_indices('/').nth(3) {
        Some((at, _)) => &key[..=at],
        None => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_prefixes() {
        assert_eq!(
            resource_prefix("/registry/core/pods/default/web"),
            "/registry/core/pods/"
        );
        assert_eq!(
            resource_prefix("/registry/core/pods/default/"),
            "/registry/core/pods/"
        );
        assert_eq!(
            resource_prefix("/registry/core/nodes/n1"),
            "/registry/core/nodes/"
        );
        assert_eq!(
            resource_prefix("/registry/core/nodes/"),
            "/registry/core/nodes/"
        );
        assert_eq!(resource_prefix("/other"), "/other");
    }
}
