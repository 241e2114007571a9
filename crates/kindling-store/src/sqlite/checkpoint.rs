//! Checkpoints off the writer thread.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold: that commit
//! copies the whole log into the database file and fsyncs it before its callers are answered,
//! and every request queued behind it waits too (measured: a pod create burst's write p99 was
//! the checkpoints, ~10 ms each, a few per 10 000 creates). Here the writer only notices the
//! log's size after each commit (the WAL hook) and wakes a thread of its own that runs a
//! PASSIVE checkpoint on its own connection, which never blocks the writer; once the log is
//! fully copied, the writer's next transaction starts it over from the beginning.
//!
//! Should that thread fall behind (a disk slower than the writes), the writer checkpoints
//! inline again past [`INLINE_AT`] frames, as SQLite would, so the log stays bounded.

use std::path::Path;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::Connection;

use super::schema::{self, DbResultExt};
use crate::{Result, StoreError};

/// Log frames (pages) after a commit at which the background checkpoint is asked for:
/// SQLite's own automatic threshold.
const WAKE_AT: i32 = 1000;
/// Log frames at which the writer stops relying on the background thread and checkpoints in
/// the commit itself (64 MiB of 4 KiB pages, `journal_size_limit`).
const INLINE_AT: i32 = 16 * 1024;

/// What the writer does about the log after a commit left `frames` in it.
#[derive(Debug, PartialEq, Eq)]
enum After {
    Nothing,
    Wake,
    CheckpointInline,
}

fn after_commit(frames: i32) -> After {
    if frames >= INLINE_AT {
        After::CheckpointInline
    } else if frames >= WAKE_AT {
        After::Wake
    } else {
        After::Nothing
    }
}

/// Starts the checkpoint thread for the database at `path` and points the writer's connection
/// at it. The thread ends when `writer` is closed.
pub(super) fn start(path: &Path, writer: &mut Connection) -> Result<JoinHandle<()>> {
    let conn = schema::open_checkpointer(path)?;
    // One pending wake-up is enough: the checkpoint copies whatever the log holds by then.
    let (wake, woken) = mpsc::sync_channel::<()>(1);
    // Replaces SQLite's automatic checkpoint (itself a WAL hook).
    writer
        .wal_hook(Some(move |wal: &mut Wal, frames| {
            match after_commit(frames) {
                After::Nothing => {}
                After::Wake => wake_up(&wake),
                After::CheckpointInline => {
                    // A failure here is not the commit's: it is already durable in the log.
                    if let Err(error) = wal.checkpoint_v2(CheckpointMode::PASSIVE) {
                        tracing::warn!(%error, frames, "inline WAL checkpoint failed");
                    }
                }
            }
            Ok(())
        }))
        .db()?;
    std::thread::Builder::new()
        .name("kindling-store-checkpoint".to_string())
        .spawn(move || run(&conn, &woken))
        .map_err(|error| StoreError::Internal(format!("starting the checkpoint thread: {error}")))
}

fn wake_up(wake: &SyncSender<()>) {
    // Full: a wake-up is already pending. Disconnected: the thread is gone (the store is
    // closing), and the log stays for the next open to checkpoint.
    let _ = wake.try_send(());
}

fn run(conn: &Connection, woken: &Receiver<()>) {
    while woken.recv().is_ok() {
        if let Err(error) = conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
            tracing::warn!(%error, "WAL checkpoint failed; the next commit retries");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_log_is_left_alone() {
        assert_eq!(after_commit(0), After::Nothing);
        assert_eq!(after_commit(WAKE_AT - 1), After::Nothing);
    }

    #[test]
    fn a_log_past_sqlites_threshold_wakes_the_thread() {
        assert_eq!(after_commit(WAKE_AT), After::Wake);
        assert_eq!(after_commit(INLINE_AT - 1), After::Wake);
    }

    #[test]
    fn a_log_the_thread_let_grow_is_checkpointed_in_the_commit() {
        assert_eq!(after_commit(INLINE_AT), After::CheckpointInline);
    }
}
