//! The single writer thread and its group commit.
//!
//! Callers queue write requests on a channel and block on a reply. The writer takes every request
//! already queued (up to a batch limit), applies them one after another in ONE transaction (each
//! gets its own revision and its own compare-and-swap check, so a failed check fails only that
//! request), commits once (one fsync for the whole batch), then publishes the batch's events to
//! watchers and answers every caller. Under load, batches grow by themselves: requests queue up
//! while the previous batch is being fsynced.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior};

use super::apply::{apply, Applied};
use super::compaction;
use super::schema::{self, Counters, DbResultExt};
use super::Shared;
use crate::{Event, KeyValue, Result, Revision, StoreError};

/// Revisions purged per write batch: small, so it adds little to the batch's latency, yet far
/// more per second than writes can add.
const PURGE_CHUNK_WITH_WRITES: i64 = 128;
/// Revisions purged per transaction when no writes are waiting.
const PURGE_CHUNK_WHEN_IDLE: i64 = 2048;
/// How long the queue must stay empty before the writer purges on its own.
const IDLE_BEFORE_PURGE: Duration = Duration::from_millis(20);
/// After a failed purge, leave purging alone this long (the failure is logged once per attempt).
const PURGE_RETRY_DELAY: Duration = Duration::from_secs(5);

/// Where the writer sends a request's outcome.
pub(super) enum Reply<T> {
    /// A caller blocked on its thread.
    Blocking(SyncSender<Result<T>>),
    /// A caller's task awaiting it (no thread waits).
    Async(tokio::sync::oneshot::Sender<Result<T>>),
}

impl<T> Reply<T> {
    /// Answers the caller; one that has gone (its request was cancelled) is skipped.
    pub fn send(self, outcome: Result<T>) {
        match self {
            Reply::Blocking(reply) => {
                let _ = reply.send(outcome);
            }
            Reply::Async(reply) => {
                let _ = reply.send(outcome);
            }
        }
    }
}

pub(super) enum Command {
    Write(WriteOp, Reply<WriteOutcome>),
    Compact(Revision, Reply<()>),
}

pub(super) enum WriteOp {
    Create {
        key: String,
        value: Vec<u8>,
    },
    Update {
        key: String,
        value: Vec<u8>,
        expected: Revision,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
}

impl WriteOp {
    pub fn create(key: &str, value: Vec<u8>) -> WriteOp {
        WriteOp::Create {
            key: key.to_string(),
            value,
        }
    }

    pub fn update(key: &str, value: Vec<u8>, expected: Revision) -> WriteOp {
        WriteOp::Update {
            key: key.to_string(),
            value,
            expected,
        }
    }

    pub fn delete(key: &str, expected: Option<Revision>) -> WriteOp {
        WriteOp::Delete {
            key: key.to_string(),
            expected,
        }
    }
}

pub(super) struct WriteOutcome {
    pub revision: Revision,
    /// For a delete: the value it removed.
    pub deleted: Option<KeyValue>,
}

impl WriteOutcome {
    /// A delete's revision and the value it removed.
    pub fn deletion(self) -> Result<(Revision, KeyValue)> {
        let deleted = self
            .deleted
            .ok_or_else(|| StoreError::Internal("a delete returned no value".to_string()))?;
        Ok((self.revision, deleted))
    }
}

pub(super) struct Writer {
    conn: Connection,
    shared: Arc<Shared>,
    /// The committed counters (what `meta` holds).
    counters: Counters,
    max_batch: usize,
    retain_revisions: Option<Revision>,
    /// Set after a purge failed; purging resumes once this instant has passed.
    purge_paused_until: Option<Instant>,
}

impl Writer {
    pub fn new(
        conn: Connection,
        shared: Arc<Shared>,
        counters: Counters,
        max_batch: usize,
        retain_revisions: Option<Revision>,
    ) -> Writer {
        Writer {
            conn,
            shared,
            counters,
            max_batch: max_batch.max(1),
            retain_revisions,
            purge_paused_until: None,
        }
    }

    /// Serves commands until every sender is gone (the store was dropped).
    pub fn run(mut self, commands: Receiver<Command>) {
        loop {
            let first = if self.purge_due() {
                match commands.recv_timeout(IDLE_BEFORE_PURGE) {
                    Ok(command) => command,
                    Err(RecvTimeoutError::Timeout) => {
                        self.purge_alone();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            } else {
                match commands.recv() {
                    Ok(command) => command,
                    Err(_) => return,
                }
            };
            let mut writes = Vec::new();
            let mut next = Some(first);
            while let Some(command) = next.take() {
                match command {
                    Command::Write(op, reply) => writes.push((op, reply)),
                    Command::Compact(revision, reply) => {
                        // Keep queue order: writes queued before the compaction go first.
                        self.write_batch(std::mem::take(&mut writes));
                        reply.send(self.compact(revision));
                    }
                }
                if writes.len() < self.max_batch {
                    next = commands.try_recv().ok();
                }
            }
            self.write_batch(writes);
        }
    }

    fn purge_due(&self) -> bool {
        self.counters.purged < self.counters.compacted
            && self
                .purge_paused_until
                .is_none_or(|until| Instant::now() >= until)
    }

    fn write_batch(&mut self, writes: Vec<(WriteOp, Reply<WriteOutcome>)>) {
        if writes.is_empty() {
            return;
        }
        let ops: Vec<&WriteOp> = writes.iter().map(|(op, _)| op).collect();
        match self.commit(&ops) {
            Ok(results) => self.deliver(writes, results),
            Err(error) if writes.len() == 1 => {
                for (_, reply) in writes {
                    reply.send(Err(error.clone()));
                }
            }
            Err(error) => {
                // One request may have caused the failure; retry each alone so that only it fails.
                tracing::warn!(%error, size = writes.len(), "batch failed, retrying one by one");
                for (op, reply) in writes {
                    match self.commit(&[&op]) {
                        Ok(results) => self.deliver(vec![(op, reply)], results),
                        Err(error) => {
                            reply.send(Err(error));
                        }
                    }
                }
            }
        }
    }

    /// Applies `ops` in one transaction and commits it. The outer error means nothing was
    /// committed; inner errors are per-request refusals (exists, not found, conflict).
    fn commit(&mut self, ops: &[&WriteOp]) -> Result<Vec<Result<Applied>>> {
        let purge = self.purge_due();
        let compaction_target = |revision| {
            auto_compaction_target(self.retain_revisions, self.counters.compacted, revision)
        };
        let mut counters = self.counters;
        let mut purge_error = None;
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .db()?;
        ensure_sole_writer(&tx, self.counters.revision)?;
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let result = apply(&tx, op, counters.revision + 1, counters.purged)?;
            if result.is_ok() {
                counters.revision += 1;
            }
            results.push(result);
        }
        if counters.revision != self.counters.revision {
            schema::write_meta(&tx, "revision", counters.revision)?;
        }
        if let Some(target) = compaction_target(counters.revision) {
            schema::write_meta(&tx, "compacted", target)?;
            counters.compacted = target;
        }
        if purge {
            // In a savepoint, so that a purge failure never fails the writes.
            let savepoint = tx.savepoint().db()?;
            let purged = compaction::purge_step(
                &savepoint,
                counters.purged,
                counters.compacted,
                PURGE_CHUNK_WITH_WRITES,
            )
            .and_then(|purged| savepoint.commit().db().map(|()| purged));
            match purged {
                Ok(purged) => counters.purged = purged,
                Err(error) => purge_error = Some(error),
            }
        }
        tx.commit().db()?;
        self.set_committed(counters);
        self.shared
            .commit_stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .record(ops.len());
        if let Some(error) = purge_error {
            self.pause_purging(&error);
        }
        Ok(results)
    }

    /// Publishes the committed events, then answers the callers.
    fn deliver(&self, writes: Vec<(WriteOp, Reply<WriteOutcome>)>, results: Vec<Result<Applied>>) {
        let events: Vec<Event> = results
            .iter()
            .filter_map(|result| result.as_ref().ok().map(|applied| applied.event.clone()))
            .collect();
        if !events.is_empty() {
            let max_held_back = self.shared.max_held_back();
            self.shared
                .hub
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .publish(&events, max_held_back);
        }
        for ((_, reply), result) in writes.into_iter().zip(results) {
            reply.send(result.map(|applied| applied.outcome));
        }
    }

    fn compact(&mut self, target: Revision) -> Result<()> {
        if target > self.counters.revision {
            return Err(StoreError::FutureRevision {
                requested: target,
                current: self.counters.revision,
            });
        }
        if target <= self.counters.compacted {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .db()?;
        ensure_sole_writer(&tx, self.counters.revision)?;
        schema::write_meta(&tx, "compacted", target)?;
        tx.commit().db()?;
        self.set_committed(Counters {
            compacted: target,
            ..self.counters
        });
        Ok(())
    }

    /// Purges a larger chunk in a transaction of its own while no writes are waiting.
    fn purge_alone(&mut self) {
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .db()?;
            let purged = compaction::purge_step(
                &tx,
                self.counters.purged,
                self.counters.compacted,
                PURGE_CHUNK_WHEN_IDLE,
            )?;
            tx.commit().db()?;
            Ok(purged)
        })();
        match result {
            Ok(purged) => {
                self.purge_paused_until = None;
                self.counters.purged = purged;
            }
            Err(error) => self.pause_purging(&error),
        }
    }

    fn pause_purging(&mut self, error: &StoreError) {
        tracing::warn!(%error, "purging compacted history failed; retrying later");
        self.purge_paused_until = Some(Instant::now() + PURGE_RETRY_DELAY);
    }

    /// Records a commit. The revision is stored before the batch is published (see `watch.rs`).
    fn set_committed(&mut self, counters: Counters) {
        self.counters = counters;
        self.shared
            .current
            .store(counters.revision, Ordering::SeqCst);
        self.shared
            .compacted
            .store(counters.compacted, Ordering::SeqCst);
    }
}

/// Fails if the file's revision moved without this writer: another `SqliteStore` (in this or
/// another process) is writing the same file, and revisions would collide.
fn ensure_sole_writer(conn: &Connection, expected: Revision) -> Result<()> {
    let stored = schema::read_meta(conn, "revision")?;
    if stored == expected {
        return Ok(());
    }
    Err(StoreError::Internal(format!(
        "the store file is at revision {stored}, expected {expected}: \
         another store instance is writing it"
    )))
}

/// The revision to compact to automatically after a commit at `revision`, if due. Compacts in
/// steps of a tenth of the retained window, so the store keeps between `retain` and
/// `retain * 1.1` revisions of history.
fn auto_compaction_target(
    retain: Option<Revision>,
    compacted: Revision,
    revision: Revision,
) -> Option<Revision> {
    let retain = retain?;
    let target = revision - retain;
    let step = (retain / 10).max(1);
    (target >= compacted + step).then_some(target)
}
