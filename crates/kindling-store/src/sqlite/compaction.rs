//! Deleting compacted history from the `log` table.
//!
//! Compacting to revision C only moves the `compacted` counter (one tiny write); the writer then
//! deletes the rows it no longer needs in small chunks ("purging"), piggybacked on write batches
//! and run on its own when the store is idle, so a large compaction never stalls writers.
//!
//! What must survive compaction to C? Lists at a revision R >= C and watches replaying events
//! after R >= C. Both read only `log` rows above R, and for such a row the value it replaced: a
//! list at R takes a key's first write after R and reads the value that write replaced (a key not
//! written after R is answered from `kv`). So a row c <= C is still needed exactly when it is a put
//! whose next write to the same key is above C (that write names c as its previous value). Every
//! other row <= C can go; tombstones are never named as a previous value.
//!
//! Purging walks revisions upwards; `purged` (persisted in `meta`) is how far it got. Rows at or
//! below `purged` that are still present are kept puts whose next write is above `purged`. When the
//! walk passes that next write n, it deletes the row n names if n is at or below C. A write whose
//! previous value is already at or below `purged` (possibly deleted) copies that value into its own
//! `prev_value` column instead of naming it (see `apply.rs`).

use rusqlite::Connection;

use super::schema::{self, DbResultExt};
use crate::{Result, Revision};

/// Purges the next chunk of at most `max_revisions` revisions above `purged`, up to `compacted`,
/// inside the caller's transaction. Returns the new `purged` revision (already written to `meta`).
pub(super) fn purge_step(
    conn: &Connection,
    purged: Revision,
    compacted: Revision,
    max_revisions: i64,
) -> Result<Revision> {
    let chunk_end = compacted.min(purged.saturating_add(max_revisions));
    if chunk_end <= purged {
        return Ok(purged);
    }
    // Rows kept by earlier chunks whose next write is in this chunk: that write is compacted, so
    // nothing needs the row anymore.
    conn.prepare_cached(
        "DELETE FROM log WHERE revision IN (
             SELECT prev_revision FROM log
             WHERE revision > ?1 AND revision <= ?2 AND prev_revision <= ?1)",
    )
    .db()?
    .execute(rusqlite::params![purged, chunk_end])
    .db()?;
    // Rows of this chunk, except puts whose next write is above `compacted`.
    conn.prepare_cached(
        "DELETE FROM log WHERE revision IN (
             SELECT c.revision FROM log AS c
             WHERE c.revision > ?1 AND c.revision <= ?2
               AND NOT (c.value IS NOT NULL AND
                        IFNULL((SELECT MIN(n.revision) FROM log AS n
                                WHERE n.key = c.key AND n.revision > c.revision), 0) > ?3))",
    )
    .db()?
    .execute(rusqlite::params![purged, chunk_end, compacted])
    .db()?;
    schema::write_meta(conn, "purged", chunk_end)?;
    Ok(chunk_end)
}
