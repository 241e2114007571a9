//! Which write an event record needs, decided without IO: a new Event, or a patch of the Event
//! an identical record made earlier (same object, type, reason and note within ten minutes), the
//! way client-go's EventCorrelator turns repeats into `count`/`lastTimestamp` so that `kubectl
//! describe` prints `(x3 over 2m)`.

use crate::Record;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Repeats within this window grow one Event; later ones start a new Event.
pub const CORRELATION_WINDOW: Duration = Duration::from_secs(600);
/// Correlation state kept at most; older idle entries are forgotten first.
pub const MAX_TRACKED: usize = 4096;

/// One Event the recorder knows about.
#[derive(Debug)]
pub struct Tracked {
    pub record: Record,
    /// `metadata.name` of the Event: the object's name and the first time in hex, as upstream.
    pub name: String,
    pub count: u32,
    pub first: String,
    pub last: String,
    /// The Event exists on the server (a repeat is a patch, not a create).
    pub created: bool,
    /// A write for it is under way.
    pub busy: bool,
    /// It changed since the last write began.
    pub dirty: bool,
    touched: Instant,
}

/// The write a tracked Event needs next.
#[derive(Debug, PartialEq, Eq)]
pub enum Write {
    Create,
    Patch { count: u32, last: String },
}

#[derive(Default)]
pub struct Correlator {
    events: HashMap<String, Tracked>,
}

impl Correlator {
    /// Takes a record at wall time `stamp` (RFC 3339 seconds) and monotonic `now`; returns the
    /// key of the Event it belongs to.
    pub fn observe(&mut self, record: Record, stamp: String, now: Instant) -> String {
        let key = record.key();
        let fresh = self
            .events
            .get(&key)
            .is_none_or(|e| now.duration_since(e.touched) > CORRELATION_WINDOW);
        if fresh {
            self.evict(now);
            let name = format!("{}.{:x}", record.object_name(), unique_suffix());
            self.events.insert(
                key.clone(),
                Tracked {
                    record,
                    name,
                    count: 1,
                    first: stamp.clone(),
                    last: stamp,
                    created: false,
                    busy: false,
                    dirty: true,
                    touched: now,
                },
            );
        } else if let Some(e) = self.events.get_mut(&key) {
            e.count += 1;
            e.last = stamp;
            e.record.object.resource_version = record.object.resource_version;
            e.dirty = true;
            e.touched = now;
        }
        key
    }

    /// Marks the Event's write as begun and says which one it is, if one is due.
    pub fn begin(&mut self, key: &str) -> Option<(Write, &Tracked)> {
        let e = self.events.get_mut(key)?;
        if e.busy || !e.dirty {
            return None;
        }
        e.busy = true;
        e.dirty = false;
        let write = if e.created {
            Write::Patch {
                count: e.count,
                last: e.last.clone(),
            }
        } else {
            Write::Create
        };
        Some((write, e))
    }

    /// A write ended: `exists` says whether the Event is now on the server (false when a patch
    /// found it gone, so the next write creates it again). Returns whether another write is due.
    pub fn finish(&mut self, key: &str, exists: Option<bool>) -> bool {
        let Some(e) = self.events.get_mut(key) else {
            return false;
        };
        e.busy = false;
        match exists {
            Some(true) => e.created = true,
            Some(false) => {
                e.created = false;
                e.dirty = true;
            }
            // Best effort, like upstream's recorder: a failed write is not retried unless a
            // newer record for the same key comes.
            None => {}
        }
        e.dirty
    }

    pub fn is_busy(&self, key: &str) -> bool {
        self.events.get(key).is_none_or(|e| e.busy)
    }

    /// Keeps the table bounded: forgets idle, old entries.
    fn evict(&mut self, now: Instant) {
        if self.events.len() < MAX_TRACKED {
            return;
        }
        self.events
            .retain(|_, e| e.busy || now.duration_since(e.touched) < CORRELATION_WINDOW / 10);
        if self.events.len() >= MAX_TRACKED {
            self.events.retain(|_, e| e.busy);
        }
    }

    #[cfg(test)]
    pub fn get(&self, key: &str) -> Option<&Tracked> {
        self.events.get(key)
    }
}

/// Nanoseconds since the epoch: unique enough for names and ordered like upstream's.
fn unique_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventType, Record};
    use k8s_openapi::api::core::v1::ObjectReference;

    fn record(note: &str) -> Record {
        Record {
            object: ObjectReference {
                kind: Some("Pod".into()),
                namespace: Some("default".into()),
                name: Some("web".into()),
                uid: Some("u1".into()),
                ..Default::default()
            },
            type_: EventType::Warning,
            reason: "BackOff".into(),
            action: "Restarting".into(),
            note: note.into(),
        }
    }

    #[test]
    fn repeats_within_the_window_patch_one_event() {
        let mut c = Correlator::default();
        let t0 = Instant::now();
        let key = c.observe(record("Back-off"), "2026-01-01T00:00:00Z".into(), t0);
        let (write, e) = c.begin(&key).expect("a create is due");
        assert_eq!(write, Write::Create);
        assert!(e.name.starts_with("web."));
        assert!(!c.finish(&key, Some(true)));

        let again = c.observe(record("Back-off"), "2026-01-01T00:01:00Z".into(), t0);
        assert_eq!(again, key);
        let (write, _) = c.begin(&key).expect("a patch is due");
        assert_eq!(
            write,
            Write::Patch {
                count: 2,
                last: "2026-01-01T00:01:00Z".into()
            }
        );
        assert_eq!(
            c.get(&key).map(|e| e.first.as_str()),
            Some("2026-01-01T00:00:00Z")
        );
    }

    #[test]
    fn a_repeat_during_a_write_is_written_after_it() {
        let mut c = Correlator::default();
        let t0 = Instant::now();
        let key = c.observe(record("x"), "s1".into(), t0);
        assert!(c.begin(&key).is_some());
        c.observe(record("x"), "s2".into(), t0);
        assert!(c.begin(&key).is_none(), "one write at a time");
        assert!(c.finish(&key, Some(true)), "the repeat is still due");
        assert!(matches!(
            c.begin(&key),
            Some((Write::Patch { count: 2, .. }, _))
        ));
    }

    #[test]
    fn other_notes_or_late_repeats_are_new_events() {
        let mut c = Correlator::default();
        let t0 = Instant::now();
        let a = c.observe(record("one"), "s".into(), t0);
        let b = c.observe(record("two"), "s".into(), t0);
        assert_ne!(a, b);
        c.begin(&a);
        c.finish(&a, Some(true));
        let late = t0 + CORRELATION_WINDOW + Duration::from_secs(1);
        c.observe(record("one"), "s".into(), late);
        assert!(matches!(c.begin(&a), Some((Write::Create, _))));
    }

    #[test]
    fn an_event_found_gone_is_created_again() {
        let mut c = Correlator::default();
        let t0 = Instant::now();
        let key = c.observe(record("x"), "s".into(), t0);
        c.begin(&key);
        c.finish(&key, Some(true));
        c.observe(record("x"), "s".into(), t0);
        c.begin(&key);
        assert!(c.finish(&key, Some(false)));
        assert!(matches!(c.begin(&key), Some((Write::Create, _))));
    }

    #[test]
    fn the_table_stays_bounded() {
        let mut c = Correlator::default();
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED + 10 {
            let later = t0 + CORRELATION_WINDOW / 5 * u32::from(i >= MAX_TRACKED);
            c.observe(record(&format!("note {i}")), "s".into(), later);
        }
        assert!(c.events.len() <= MAX_TRACKED);
    }
}
