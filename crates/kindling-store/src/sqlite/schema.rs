//! The on-disk layout (tables, pragmas, the `meta` counters) and how connections are opened.
//!
//! Tables:
//! - `kv`: one row per live key with its current value. Answers `get` and lists at the current
//!   revision, and lists at an older revision for keys not written since.
//! - `log`: one row per committed write, keyed by its revision. A row holds the new value (NULL for
//!   a deletion) and `prev_revision`, the revision of the `log` row holding the value it replaced
//!   (NULL for a creation). When that row may already have been compacted away, the old value is
//!   copied into `prev_value` instead, so every retained row can always be turned into an event.
//! - `meta`: named integers: the last committed `revision`, the `compacted` revision and `purged`,
//!   how far compaction has actually deleted `log` rows (see `compaction.rs`).
//!
//! Keys are stored as BLOBs so that order and prefix ranges are plain byte comparisons, whatever
//! characters a key holds. Integer columns come before the value columns so that reading them
//! never has to follow a large value's overflow pages.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::{Result, Revision, StoreError};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (
    key             BLOB NOT NULL UNIQUE,
    create_revision INTEGER NOT NULL,
    mod_revision    INTEGER NOT NULL,
    value           BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS log (
    revision        INTEGER PRIMARY KEY,
    key             BLOB NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision   INTEGER,
    value           BLOB,
    prev_value      BLOB
);
-- Finds a key's first write after a revision (lists at a past revision, compaction).
CREATE INDEX IF NOT EXISTS log_by_key ON log (key, revision);
";

/// How long a connection waits on a lock before failing. Only one connection ever writes, so
/// waits are rare (WAL recovery, checkpoints) and short.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Converts SQLite failures into the store's error type.
pub(super) trait DbResultExt<T> {
    fn db(self) -> Result<T>;
}

impl<T> DbResultExt<T> for rusqlite::Result<T> {
    fn db(self) -> Result<T> {
        self.map_err(|error| StoreError::Internal(format!("sqlite: {error}")))
    }
}

/// The persisted counters, read together from one snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Counters {
    /// The last committed revision (0 for an empty store).
    pub revision: Revision,
    /// Lists below and watches from before this revision fail with `Compacted`.
    pub compacted: Revision,
    /// `log` rows at or below this revision that compaction does not need have been deleted.
    pub purged: Revision,
}

/// Opens the one connection that writes, creating the file, its directory and the schema.
pub(super) fn open_writer(path: &Path) -> Result<Connection> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|error| {
            StoreError::Internal(format!("creating {}: {error}", dir.display()))
        })?;
    }
    let mut conn = Connection::open(path).db()?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    let journal_mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .db()?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Internal(format!(
            "{} cannot use WAL mode (got {journal_mode})",
            path.display()
        )));
    }
    // FULL makes every commit fsync the WAL before it returns: an acknowledged write survives
    // the process being killed and the machine losing power.
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = OFF;
         PRAGMA cache_size = -4096;
         PRAGMA journal_size_limit = 67108864;",
    )
    .db()?;
    conn.set_prepared_statement_cache_capacity(32);

    let tx = conn.transaction().db()?;
    tx.execute_batch(SCHEMA).db()?;
    tx.execute(
        "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION],
    )
    .db()?;
    for name in ["revision", "compacted", "purged"] {
        tx.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES (?1, 0)",
            [name],
        )
        .db()?;
    }
    let version = read_meta(&tx, "schema_version")?;
    if version != SCHEMA_VERSION {
        return Err(StoreError::Internal(format!(
            "{} has schema version {version}, this build understands {SCHEMA_VERSION}",
            path.display()
        )));
    }
    tx.commit().db()?;
    Ok(conn)
}

/// Opens a connection for reads. WAL lets it read a consistent snapshot while the writer commits.
pub(super) fn open_reader(path: &Path) -> Result<Connection> {
    // Read-write at the file level because WAL readers update the shared-memory index; the
    // `query_only` pragma keeps this connection from ever changing data.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).db()?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -1024;")
        .db()?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Opens the connection that checkpoints the log (`checkpoint.rs`): it writes only the
/// database file, from the log, and takes no write lock.
pub(super) fn open_checkpointer(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).db()?;
    conn.busy_timeout(BUSY_TIMEOUT).db()?;
    conn.execute_batch("PRAGMA synchronous = FULL;").db()?;
    Ok(conn)
}

pub(super) fn read_meta(conn: &Connection, name: &str) -> Result<i64> {
    conn.prepare_cached("SELECT value FROM meta WHERE name = ?1")
        .db()?
        .query_row([name], |row| row.get(0))
        .optional()
        .db()?
        .ok_or_else(|| StoreError::Internal(format!("meta row {name} is missing")))
}

pub(super) fn write_meta(conn: &Connection, name: &str, value: i64) -> Result<()> {
    conn.prepare_cached("UPDATE meta SET value = ?2 WHERE name = ?1")
        .db()?
        .execute(rusqlite::params![name, value])
        .db()?;
    Ok(())
}

/// Reads all counters; call inside a transaction so they come from one snapshot.
pub(super) fn read_counters(conn: &Connection) -> Result<Counters> {
    Ok(Counters {
        revision: read_meta(conn, "revision")?,
        compacted: read_meta(conn, "compacted")?,
        purged: read_meta(conn, "purged")?,
    })
}
