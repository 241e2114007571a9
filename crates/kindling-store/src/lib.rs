//! The store behind the API server (SQLite embedded, or etcd for several control planes): an
//! ordered key space of opaque values with one global,
//! monotonic revision, compare-and-swap writes, watches from any retained revision and compaction.
//!
//! The API server keeps objects under keys such as `/registry/pods/default/web-1`; the store knows
//! nothing of Kubernetes. Every successful write is durable before it is acknowledged.

mod etcd;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use etcd::{EtcdOptions, EtcdStore, EtcdTls};
pub use sqlite::{SqliteStore, StoreOptions};

use std::sync::Arc;

/// A store revision. Revisions start at 1 and grow by one per committed write.
pub type Revision = i64;

/// One key and its current value, with the revisions that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// Revision of the write that created the key (unchanged by later updates).
    pub create_revision: Revision,
    /// Revision of the last write to the key: the object's resourceVersion.
    pub mod_revision: Revision,
}

/// What a watch reports, in revision order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The key was created (`prev` is `None`) or updated (`prev` is its previous value).
    Put {
        kv: KeyValue,
        prev: Option<KeyValue>,
    },
    /// The key was deleted at `revision`; `prev` is its last value.
    Delete { prev: KeyValue, revision: Revision },
}

impl Event {
    pub fn revision(&self) -> Revision {
        match self {
            Event::Put { kv, .. } => kv.mod_revision,
            Event::Delete { revision, .. } => *revision,
        }
    }
    pub fn key(&self) -> &str {
        match self {
            Event::Put { kv, .. } => &kv.key,
            Event::Delete { prev, .. } => &prev.key,
        }
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPage {
    /// Keys in ascending byte order.
    pub items: Vec<KeyValue>,
    /// The revision the page was read at (the same for every page of one list).
    pub revision: Revision,
    /// True when more keys under the prefix follow the last item.
    pub more: bool,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    #[error("key {0} already exists")]
    AlreadyExists(String),
    #[error("key {0} not found")]
    NotFound(String),
    /// Compare-and-swap failed: the key's current mod revision is `current`.
    #[error("key {key} was modified (expected revision {expected}, current {current})")]
    Conflict {
        key: String,
        expected: Revision,
        current: Revision,
    },
    /// The requested revision is older than the compacted revision.
    #[error("revision {requested} has been compacted (oldest retained is {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    /// The requested revision is newer than the store's current revision.
    #[error("revision {requested} is in the future (current is {current})")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    #[error("store: {0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A write's outcome for a caller on async workers: awaiting it holds no thread while the
/// backend works (SQLite's writer thread or the etcd client's runtime answers it). The blocking
/// methods would each take a thread of tokio's blocking pool for the whole commit.
pub type Answer<T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T>> + Send>>;

/// How the store has grouped writes into commits (one transaction and one fsync each).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Committed transactions that carried writes.
    pub commits: u64,
    /// Write requests in them (refused compare-and-swaps included: they were in the batch).
    pub writes: u64,
    /// Commits by batch size: `batches[i]` counts those of at most `2^i` writes (and more
    /// than `2^(i-1)`); the last bucket takes everything larger.
    pub batches: [u64; COMMIT_BUCKETS],
}

/// Buckets of [`CommitStats::batches`]: 1, 2, 4, … 512 writes.
pub const COMMIT_BUCKETS: usize = 10;

impl CommitStats {
    pub fn record(&mut self, writes: usize) {
        self.commits += 1;
        self.writes += writes as u64;
        let bucket = writes.max(1).next_power_of_two().trailing_zeros() as usize;
        self.batches[bucket.min(COMMIT_BUCKETS - 1)] += 1;
    }

    /// The upper bound of bucket `i`.
    pub fn bucket_bound(i: usize) -> u64 {
        1 << i
    }
}

/// A stream of events for one watch. Dropping it cancels the watch.
///
/// The channel closes (after the events already in it) when the watcher falls too far behind,
/// when its replay hits a compaction, or when the store shuts down. What was received is always a
/// gapless run of revisions, so the consumer can re-watch from the last revision it saw (or
/// re-list if that fails with `Compacted`), as Kubernetes clients do.
pub struct Watch {
    pub events: tokio::sync::mpsc::Receiver<Event>,
}

/// The store interface. Calls are blocking and quick (microseconds to a few milliseconds); async
/// callers run them with `tokio::task::spawn_blocking` or accept the short block.
pub trait Store: Send + Sync + 'static {
    /// The key's current value.
    fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Keys starting with `prefix`, ascending, strictly after `start_after` when given, at most
    /// `limit` of them (0 = no limit), as they were at `revision` (None = now). A revision older
    /// than the compacted one is `Compacted`.
    fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        revision: Option<Revision>,
    ) -> Result<ListPage>;

    /// Creates the key; `AlreadyExists` if present. Returns the new revision.
    fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision>;

    /// [`Store::create`], awaited.
    fn create_async(&self, key: &str, value: Vec<u8>) -> Answer<Revision>;

    /// Replaces the key's value if its mod revision is still `expected`. `NotFound` if absent,
    /// `Conflict` if it changed. Returns the new revision.
    fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision>;

    /// [`Store::update`], awaited.
    fn update_async(&self, key: &str, value: Vec<u8>, expected: Revision) -> Answer<Revision>;

    /// Deletes the key, if `expected` is given only when its mod revision still matches.
    /// Returns the deletion revision and the last value.
    fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)>;

    /// [`Store::delete`], awaited.
    fn delete_async(&self, key: &str, expected: Option<Revision>) -> Answer<(Revision, KeyValue)>;

    /// The revision of the last committed write (0 for an empty store).
    fn current_revision(&self) -> Result<Revision>;

    /// Events for keys under `prefix` with revision greater than `after`, then every later one as it
    /// commits, in revision order. `Compacted` if `after` is older than the compacted revision.
    fn watch(&self, prefix: &str, after: Revision) -> Result<Watch>;

    /// Forgets history before `revision`: later lists at a revision below it and watches from
    /// before it (`after < revision`) fail with `Compacted`; the key space at `revision` itself
    /// stays readable (as in etcd). Current values are kept. Compacting to an already compacted
    /// revision does nothing; to a revision above the current one is `FutureRevision`.
    fn compact(&self, revision: Revision) -> Result<()>;

    /// The oldest revision a list or watch may still ask for.
    fn compacted_revision(&self) -> Result<Revision>;

    /// How writes have been grouped into commits so far, if the backend groups them.
    fn commit_stats(&self) -> Option<CommitStats> {
        None
    }

    /// How many keys start with `prefix` now (the API server's `apiserver_storage_objects`).
    /// A backend that can count without reading values should.
    fn count(&self, prefix: &str) -> Result<u64> {
        Ok(self.list(prefix, None, 0, None)?.items.len() as u64)
    }
}

pub type SharedStore = Arc<dyn Store>;
