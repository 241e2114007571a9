//! Reads: `get`, `list` (now or at a past revision) and the event log for watch replay. Each runs
//! on a pooled read-only connection; WAL gives it a consistent snapshot while the writer commits.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, Row};

use super::keys::{key_from_blob, KeyRange};
use super::schema::{self, DbResultExt};
use crate::{Event, KeyValue, ListPage, Result, Revision, StoreError};

/// Idle read connections kept for reuse; more are opened on demand when callers overlap.
const MAX_IDLE_READERS: usize = 4;

pub(super) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    pub fn new(path: &Path) -> ReadPool {
        ReadPool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` on an idle connection (or a new one) and returns the connection to the pool.
    pub fn with<T>(&self, read: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => schema::open_reader(&self.path)?,
        };
        let result = read(&mut conn);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

pub(super) fn get(conn: &Connection, key: &str) -> Result<Option<KeyValue>> {
    conn.prepare_cached("SELECT create_revision, mod_revision, value FROM kv WHERE key = ?1")
        .db()?
        .query_row([key.as_bytes()], |row| {
            Ok(KeyValue {
                key: key.to_string(),
                create_revision: row.get(0)?,
                mod_revision: row.get(1)?,
                value: row.get(2)?,
            })
        })
        .optional()
        .db()
}

pub(super) fn list(
    conn: &mut Connection,
    prefix: &str,
    start_after: Option<&str>,
    limit: usize,
    revision: Option<Revision>,
) -> Result<ListPage> {
    // One read transaction: the counters and every row come from the same snapshot.
    let tx = conn.transaction().db()?;
    let counters = schema::read_counters(&tx)?;
    let at = revision.unwrap_or(counters.revision);
    if at > counters.revision {
        return Err(StoreError::FutureRevision {
            requested: at,
            current: counters.revision,
        });
    }
    if at < counters.compacted {
        return Err(StoreError::Compacted {
            requested: at,
            compacted: counters.compacted,
        });
    }
    let range = KeyRange::new(prefix, start_after);
    // One extra row tells whether more keys follow the page.
    let fetch = if limit == 0 {
        -1
    } else {
        i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1
    };

    let mut items = unchanged_since(&tx, &range, at, fetch)?;
    if at < counters.revision {
        let replaced = replaced_since(&tx, &range, at, fetch)?;
        items = merge_by_key(items, replaced);
    }
    let more = limit > 0 && items.len() > limit;
    if more {
        items.truncate(limit);
    }
    Ok(ListPage {
        items,
        revision: at,
        more,
    })
}

/// How many live keys start with `prefix`, read from the key index alone.
pub(super) fn count(conn: &mut Connection, prefix: &str) -> Result<u64> {
    let range = KeyRange::new(prefix, None);
    let sql = format!(
        "SELECT COUNT(*) FROM kv WHERE key {} ?1 AND key < ?2",
        range.lower_op
    );
    let n: i64 = conn
        .prepare_cached(&sql)
        .db()?
        .query_row(rusqlite::params![range.lower, range.upper], |row| {
            row.get(0)
        })
        .db()?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Live keys whose current value was already there at `at`.
fn unchanged_since(
    conn: &Connection,
    range: &KeyRange,
    at: Revision,
    fetch: i64,
) -> Result<Vec<KeyValue>> {
    let sql = format!(
        "SELECT key, value, create_revision, mod_revision FROM kv
         WHERE key {} ?1 AND key < ?2 AND mod_revision <= ?3
         ORDER BY key LIMIT ?4",
        range.lower_op
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt
        .query(rusqlite::params![range.lower, range.upper, at, fetch])
        .db()?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().db()? {
        items.push(KeyValue {
            key: key_from_blob(row.get(0).db()?)?,
            value: row.get(1).db()?,
            create_revision: row.get(2).db()?,
            mod_revision: row.get(3).db()?,
        });
    }
    Ok(items)
}

/// Keys written after `at` that existed at `at`, with the value they had then. A key's first
/// write after `at` names (or carries) the value it replaced; a creation replaced nothing, so a
/// key created after `at` is rightly absent.
fn replaced_since(
    conn: &Connection,
    range: &KeyRange,
    at: Revision,
    fetch: i64,
) -> Result<Vec<KeyValue>> {
    let sql = format!(
        "SELECT first.key, COALESCE(n.prev_value, p.value), n.create_revision, n.prev_revision
         FROM (SELECT key, MIN(revision) AS revision FROM log
               WHERE key {} ?1 AND key < ?2 AND revision > ?3
               GROUP BY key) AS first
         JOIN log AS n ON n.revision = first.revision
         LEFT JOIN log AS p ON p.revision = n.prev_revision
         WHERE n.prev_revision IS NOT NULL
         ORDER BY first.key LIMIT ?4",
        range.lower_op
    );
    let mut stmt = conn.prepare_cached(&sql).db()?;
    let mut rows = stmt
        .query(rusqlite::params![range.lower, range.upper, at, fetch])
        .db()?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().db()? {
        let key = key_from_blob(row.get(0).db()?)?;
        let value: Option<Vec<u8>> = row.get(1).db()?;
        let mod_revision: Revision = row.get(3).db()?;
        let value = value.ok_or_else(|| missing_history(&key, mod_revision))?;
        items.push(KeyValue {
            key,
            value,
            create_revision: row.get(2).db()?,
            mod_revision,
        });
    }
    Ok(items)
}

/// Merges two key-sorted lists. They never share a key: a key is in the first only if it has not
/// been written after the list revision, and in the second only if it has.
fn merge_by_key(left: Vec<KeyValue>, right: Vec<KeyValue>) -> Vec<KeyValue> {
    if right.is_empty() {
        return left;
    }
    let mut merged = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => l.key.as_bytes() <= r.key.as_bytes(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return merged,
        };
        let next = if take_left { left.next() } else { right.next() };
        merged.extend(next);
    }
}

/// Events for keys under `prefix` with revisions in `(after, until]`, at most `max` of them, in
/// revision order. `Compacted` if history after `after` is no longer complete.
pub(super) fn read_events(
    conn: &mut Connection,
    prefix: &str,
    after: Revision,
    until: Revision,
    max: usize,
) -> Result<Vec<Event>> {
    let tx = conn.transaction().db()?;
    let compacted = schema::read_meta(&tx, "compacted")?;
    if after < compacted {
        return Err(StoreError::Compacted {
            requested: after,
            compacted,
        });
    }
    let range = KeyRange::new(prefix, None);
    // `+n.key` keeps SQLite on the revision (primary key) range: replays usually start from a
    // recent revision, and the result must come out in revision order anyway.
    let mut stmt = tx
        .prepare_cached(
            "SELECT n.revision, n.key, n.create_revision, n.prev_revision, n.value,
                    COALESCE(n.prev_value, p.value)
             FROM log AS n LEFT JOIN log AS p ON p.revision = n.prev_revision
             WHERE n.revision > ?1 AND n.revision <= ?2 AND +n.key >= ?3 AND +n.key < ?4
             ORDER BY n.revision LIMIT ?5",
        )
        .db()?;
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let mut rows = stmt
        .query(rusqlite::params![
            after,
            until,
            range.lower,
            range.upper,
            max
        ])
        .db()?;
    let mut events = Vec::new();
    while let Some(row) = rows.next().db()? {
        events.push(event_from_row(row)?);
    }
    Ok(events)
}

fn event_from_row(row: &Row<'_>) -> Result<Event> {
    let revision: Revision = row.get(0).db()?;
    let key = key_from_blob(row.get(1).db()?)?;
    let create_revision: Revision = row.get(2).db()?;
    let prev_revision: Option<Revision> = row.get(3).db()?;
    let value: Option<Vec<u8>> = row.get(4).db()?;
    let prev_value: Option<Vec<u8>> = row.get(5).db()?;
    let prev = match prev_revision {
        Some(mod_revision) => Some(KeyValue {
            key: key.clone(),
            value: prev_value.ok_or_else(|| missing_history(&key, mod_revision))?,
            create_revision,
            mod_revision,
        }),
        None => None,
    };
    match value {
        Some(value) => Ok(Event::Put {
            kv: KeyValue {
                key,
                value,
                create_revision,
                mod_revision: revision,
            },
            prev,
        }),
        None => match prev {
            Some(prev) => Ok(Event::Delete { prev, revision }),
            None => Err(StoreError::Internal(format!(
                "log row {revision} deletes {key} but names no previous value"
            ))),
        },
    }
}

fn missing_history(key: &str, revision: Revision) -> StoreError {
    StoreError::Internal(format!(
        "the value of {key} at revision {revision} is missing from the log"
    ))
}
