//! Applying one write request inside the writer's open transaction: the compare-and-swap check,
//! the `kv` and `log` rows, and the event watchers will get once the batch commits.

use rusqlite::Connection;

use super::schema::DbResultExt;
use super::writer::{WriteOp, WriteOutcome};
use crate::{Event, KeyValue, Result, Revision, StoreError};

/// A request applied inside the open transaction (not yet committed).
pub(super) struct Applied {
    pub outcome: WriteOutcome,
    pub event: Event,
}

/// Applies one request at `revision` inside the open transaction. The outer error is a database
/// failure; the inner one a refusal that leaves the database untouched. `purged` is how far
/// compaction has deleted log rows: a previous value at or below it is copied into the new row.
pub(super) fn apply(
    conn: &Connection,
    op: &WriteOp,
    revision: Revision,
    purged: Revision,
) -> Result<Result<Applied>> {
    match op {
        WriteOp::Create { key, value } => {
            if super::reader::get(conn, key)?.is_some() {
                return Ok(Err(StoreError::AlreadyExists(key.clone())));
            }
            conn.prepare_cached(
                "INSERT INTO kv (key, create_revision, mod_revision, value) VALUES (?1, ?2, ?2, ?3)",
            )
            .db()?
            .execute(rusqlite::params![key.as_bytes(), revision, value])
            .db()?;
            append_log(conn, revision, key, revision, None, Some(value))?;
            let kv = KeyValue {
                key: key.clone(),
                value: value.clone(),
                create_revision: revision,
                mod_revision: revision,
            };
            Ok(Ok(Applied {
                outcome: WriteOutcome {
                    revision,
                    deleted: None,
                },
                event: Event::Put { kv, prev: None },
            }))
        }
        WriteOp::Update {
            key,
            value,
            expected,
        } => {
            let prev = match super::reader::get(conn, key)? {
                None => return Ok(Err(StoreError::NotFound(key.clone()))),
                Some(prev) if prev.mod_revision != *expected => {
                    return Ok(Err(conflict(key, *expected, prev.mod_revision)))
                }
                Some(prev) => prev,
            };
            conn.prepare_cached("UPDATE kv SET mod_revision = ?2, value = ?3 WHERE key = ?1")
                .db()?
                .execute(rusqlite::params![key.as_bytes(), revision, value])
                .db()?;
            append_log(
                conn,
                revision,
                key,
                prev.create_revision,
                Some((&prev, purged)),
                Some(value),
            )?;
            let kv = KeyValue {
                key: key.clone(),
                value: value.clone(),
                create_revision: prev.create_revision,
                mod_revision: revision,
            };
            Ok(Ok(Applied {
                outcome: WriteOutcome {
                    revision,
                    deleted: None,
                },
                event: Event::Put {
                    kv,
                    prev: Some(prev),
                },
            }))
        }
        WriteOp::Delete { key, expected } => {
            let Some(prev) = super::reader::get(conn, key)? else {
                return Ok(Err(StoreError::NotFound(key.clone())));
            };
            if let Some(expected) = *expected {
                if prev.mod_revision != expected {
                    return Ok(Err(conflict(key, expected, prev.mod_revision)));
                }
            }
            conn.prepare_cached("DELETE FROM kv WHERE key = ?1")
                .db()?
                .execute([key.as_bytes()])
                .db()?;
            append_log(
                conn,
                revision,
                key,
                prev.create_revision,
                Some((&prev, purged)),
                None,
            )?;
            Ok(Ok(Applied {
                outcome: WriteOutcome {
                    revision,
                    deleted: Some(prev.clone()),
                },
                event: Event::Delete { prev, revision },
            }))
        }
    }
}

fn conflict(key: &str, expected: Revision, current: Revision) -> StoreError {
    StoreError::Conflict {
        key: key.to_string(),
        expected,
        current,
    }
}

/// Writes the log row for a write. `replaced` is the previous value and the purged revision;
/// `value` is None for a deletion.
fn append_log(
    conn: &Connection,
    revision: Revision,
    key: &str,
    create_revision: Revision,
    replaced: Option<(&KeyValue, Revision)>,
    value: Option<&Vec<u8>>,
) -> Result<()> {
    let prev_revision = replaced.map(|(prev, _)| prev.mod_revision);
    // The log row of the previous value may already be purged: keep a copy of the value.
    let prev_value = replaced
        .filter(|(prev, purged)| prev.mod_revision <= *purged)
        .map(|(prev, _)| &prev.value);
    conn.prepare_cached(
        "INSERT INTO log (revision, key, create_revision, prev_revision, value, prev_value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .db()?
    .execute(rusqlite::params![
        revision,
        key.as_bytes(),
        create_revision,
        prev_revision,
        value,
        prev_value
    ])
    .db()?;
    Ok(())
}
