//! The embedded SQLite backend.
//!
//! - `schema`: tables, pragmas, persisted counters.
//! - `writer`: the single writer thread with group commit (one fsync per batch of requests);
//!   `apply`: one request inside its batch (compare-and-swap, rows, event).
//! - `reader`: pooled read-only connections for `get`, `list` and watch replay.
//! - `watch`: the hub that hands committed events to watchers.
//! - `compaction`: deleting history that compaction made unreachable.
//! - `checkpoint`: copying the log into the database file, off the writer thread.

mod apply;
mod checkpoint;
mod compaction;
mod keys;
mod reader;
mod schema;
mod watch;
mod writer;

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self as std_mpsc, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use reader::ReadPool;
use watch::Hub;
use writer::{Command, Reply, WriteOp, WriteOutcome, Writer};

use crate::{Answer, CommitStats, KeyValue, ListPage, Result, Revision, Store, StoreError, Watch};

/// Tuning for [`SqliteStore`]. The defaults suit the API server.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Automatic compaction: keep about this many of the latest revisions of history (between
    /// this and 10% more) and compact older ones, checked after every commit. `None` leaves
    /// compaction to explicit [`Store::compact`] / [`SqliteStore::compact_keep`] calls.
    /// Default: 10 000 revisions, i.e. minutes of history for a small cluster; a paged list or a
    /// watch resuming from an older revision gets `Compacted` (HTTP 410) and re-lists.
    pub retain_revisions: Option<Revision>,
    /// Events buffered per watcher. A watcher that falls this far behind is dropped: its channel
    /// closes and the client must re-watch (Kubernetes clients do). Default: 1024.
    pub watch_buffer: usize,
    /// The most write requests committed together in one transaction. Default: 512.
    pub max_batch: usize,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            retain_revisions: Some(10_000),
            watch_buffer: 1024,
            max_batch: 512,
        }
    }
}

/// A [`Store`] in one SQLite file (WAL mode, `synchronous = FULL`): every acknowledged write is
/// on disk. Writes go through one writer thread that commits queued requests together (group
/// commit); reads use a pool of read-only connections and never wait for writes.
///
/// Only one `SqliteStore` may have a file open at a time (in any process): a second one's writes
/// fail with `Internal` instead of corrupting the revision sequence.
///
/// Dropping the store finishes queued writes, stops the writer and closes all watches.
pub struct SqliteStore {
    shared: Arc<Shared>,
    commands: Option<Sender<Command>>,
    writer: Option<JoinHandle<()>>,
    checkpointer: Option<JoinHandle<()>>,
}

/// State shared by callers, the writer thread and watch replay threads.
struct Shared {
    reads: ReadPool,
    hub: Mutex<Hub>,
    /// The last committed revision; updated by the writer after each commit.
    current: AtomicI64,
    /// The compacted revision; updated by the writer after each commit.
    compacted: AtomicI64,
    watch_buffer: usize,
    /// Batch sizes, recorded by the writer after each commit.
    commit_stats: Mutex<CommitStats>,
}

impl Shared {
    /// How many live events a watcher still replaying history may have waiting before it is
    /// dropped for falling behind. Replays can take a while, so allow several buffers' worth.
    fn max_held_back(&self) -> usize {
        self.watch_buffer.saturating_mul(8)
    }
}

impl SqliteStore {
    /// Opens (or creates) the store in the SQLite file at `path`, creating directories as needed.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        SqliteStore::open_with(path, StoreOptions::default())
    }

    pub fn open_with(path: &Path, options: StoreOptions) -> Result<SqliteStore> {
        let mut conn = schema::open_writer(path)?;
        let checkpointer = checkpoint::start(path, &mut conn)?;
        let counters = schema::read_counters(&conn)?;
        let shared = Arc::new(Shared {
            reads: ReadPool::new(path),
            hub: Mutex::new(Hub::default()),
            current: AtomicI64::new(counters.revision),
            compacted: AtomicI64::new(counters.compacted),
            watch_buffer: options.watch_buffer.max(1),
            commit_stats: Mutex::new(CommitStats::default()),
        });
        let writer = Writer::new(
            conn,
            shared.clone(),
            counters,
            options.max_batch,
            options.retain_revisions.map(|retain| retain.max(0)),
        );
        let (commands, queue) = std_mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("kindling-store-writer".to_string())
            .spawn(move || writer.run(queue))
            .map_err(|error| {
                StoreError::Internal(format!("starting the writer thread: {error}"))
            })?;
        Ok(SqliteStore {
            shared,
            commands: Some(commands),
            writer: Some(writer),
            checkpointer: Some(checkpointer),
        })
    }

    /// Compacts everything but the latest `keep` revisions. Returns the compacted revision.
    pub fn compact_keep(&self, keep: Revision) -> Result<Revision> {
        let target = self.shared.current.load(Ordering::SeqCst) - keep.max(0);
        if target > self.shared.compacted.load(Ordering::SeqCst) {
            self.compact(target)?;
        }
        self.compacted_revision()
    }

    /// How far compaction has physically deleted old history. Compaction itself is immediate
    /// (lists and watches before it fail at once); the rows it makes unreachable are deleted
    /// afterwards in small steps, between and alongside writes. Useful for tests and metrics.
    pub fn purged_revision(&self) -> Result<Revision> {
        self.shared
            .reads
            .with(|conn| schema::read_meta(conn, "purged"))
    }

    fn send<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T> {
        let (reply, answer) = std_mpsc::sync_channel(1);
        let commands = self.commands.as_ref().ok_or_else(stopped)?;
        commands
            .send(command(Reply::Blocking(reply)))
            .map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }

    fn write(&self, op: WriteOp) -> Result<WriteOutcome> {
        self.send(|reply| Command::Write(op, reply))
    }

    /// Queues `op` for the writer; the outcome comes back on a channel the caller awaits.
    fn write_async(&self, op: WriteOp) -> impl Future<Output = Result<WriteOutcome>> + use<> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        if let Some(commands) = &self.commands {
            // On failure the command, and with it `reply`, is dropped: the answer says stopped.
            let _ = commands.send(Command::Write(op, Reply::Async(reply)));
        }
        async move { answer.await.unwrap_or_else(|_| Err(stopped())) }
    }
}

fn stopped() -> StoreError {
    StoreError::Internal("the store writer has stopped".to_string())
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued and return.
        drop(self.commands.take());
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                tracing::error!("the store writer thread panicked");
            }
        }
        // The writer's connection is closed now, and with it the checkpoint thread's wake-ups.
        if let Some(checkpointer) = self.checkpointer.take() {
            if checkpointer.join().is_err() {
                tracing::error!("the store checkpoint thread panicked");
            }
        }
        self.shared
            .hub
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .close_all();
    }
}

impl Store for SqliteStore {
    fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        self.shared.reads.with(|conn| reader::get(conn, key))
    }

    fn commit_stats(&self) -> Option<CommitStats> {
        Some(
            self.shared
                .commit_stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }

    fn count(&self, prefix: &str) -> Result<u64> {
        self.shared.reads.with(|conn| reader::count(conn, prefix))
    }

    fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        revision: Option<Revision>,
    ) -> Result<ListPage> {
        self.shared
            .reads
            .with(|conn| reader::list(conn, prefix, start_after, limit, revision))
    }

    fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision> {
        Ok(self.write(WriteOp::create(key, value))?.revision)
    }

    fn create_async(&self, key: &str, value: Vec<u8>) -> Answer<Revision> {
        let outcome = self.write_async(WriteOp::create(key, value));
        Box::pin(async move { Ok(outcome.await?.revision) })
    }

    fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision> {
        Ok(self.write(WriteOp::update(key, value, expected))?.revision)
    }

    fn update_async(&self, key: &str, value: Vec<u8>, expected: Revision) -> Answer<Revision> {
        let outcome = self.write_async(WriteOp::update(key, value, expected));
        Box::pin(async move { Ok(outcome.await?.revision) })
    }

    fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(Revision, KeyValue)> {
        self.write(WriteOp::delete(key, expected))?.deletion()
    }

    fn delete_async(&self, key: &str, expected: Option<Revision>) -> Answer<(Revision, KeyValue)> {
        let outcome = self.write_async(WriteOp::delete(key, expected));
        Box::pin(async move { outcome.await?.deletion() })
    }

    fn current_revision(&self) -> Result<Revision> {
        Ok(self.shared.current.load(Ordering::SeqCst))
    }

    /// Watching from a revision newer than the current one is allowed: events start once the
    /// store gets there. A watcher that falls behind is dropped (see [`StoreOptions::watch_buffer`]).
    fn watch(&self, prefix: &str, after: Revision) -> Result<Watch> {
        let (sender, events) = tokio::sync::mpsc::channel(self.shared.watch_buffer);
        let mut hub = self
            .shared
            .hub
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Read under the hub lock: see `watch.rs` for why this gives no gap and no duplicate.
        let current = self.shared.current.load(Ordering::SeqCst);
        let compacted = self.shared.compacted.load(Ordering::SeqCst);
        if after < compacted {
            return Err(StoreError::Compacted {
                requested: after,
                compacted,
            });
        }
        if after >= current {
            hub.register(prefix, after, sender, false);
            return Ok(Watch { events });
        }
        let id = hub.register(prefix, current, sender.clone(), true);
        drop(hub);
        let shared = self.shared.clone();
        let replay_prefix = prefix.to_string();
        let spawned = std::thread::Builder::new()
            .name("kindling-store-replay".to_string())
            .spawn(move || watch::replay(shared, id, replay_prefix, after, current, sender));
        if let Err(error) = spawned {
            self.shared
                .hub
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(id);
            return Err(StoreError::Internal(format!(
                "starting a watch replay: {error}"
            )));
        }
        Ok(Watch { events })
    }

    fn compact(&self, revision: Revision) -> Result<()> {
        self.send(|reply| Command::Compact(revision, reply))
    }

    fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.shared.compacted.load(Ordering::SeqCst))
    }
}
