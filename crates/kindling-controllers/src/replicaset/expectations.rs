//! Upstream's ControllerExpectations (the uid-tracking kind the replica set controller uses):
//! what a controller expects its pod watch to show after creating or deleting pods. Until the
//! watch has shown it, the controller does not create or delete again, so a lagging watch never
//! makes it create pods twice. An expectation older than five minutes counts as met, in case an
//! event was lost.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an expectation is waited for.
pub const TTL: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
struct Entry {
    /// Creations not yet seen.
    adds: i64,
    /// Pods (namespace/name) whose deletion has not been seen yet.
    deletes: HashSet<String>,
    at: Instant,
}

/// Expectations per controller key (`namespace/name`).
#[derive(Debug, Default)]
pub struct Expectations {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Expectations {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> T) -> T {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut entries)
    }

    /// Whether the controller may create or delete again: nothing outstanding, or too old.
    pub fn satisfied(&self, key: &str) -> bool {
        self.satisfied_at(key, Instant::now())
    }

    fn satisfied_at(&self, key: &str, now: Instant) -> bool {
        self.with(|e| match e.get(key) {
            None => true,
            Some(entry) => {
                (entry.adds <= 0 && entry.deletes.is_empty()) || now.duration_since(entry.at) > TTL
            }
        })
    }

    /// `n` pods are about to be created (replaces what was expected before).
    pub fn expect_creations(&self, key: &str, n: usize) {
        self.with(|e| {
            e.insert(
                key.to_string(),
                Entry {
                    adds: n as i64,
                    deletes: HashSet::new(),
                    at: Instant::now(),
                },
            )
        });
    }

    /// These pods are about to be deleted (replaces what was expected before).
    pub fn expect_deletions(&self, key: &str, pods: impl IntoIterator<Item = String>) {
        self.with(|e| {
            e.insert(
                key.to_string(),
                Entry {
                    adds: 0,
                    deletes: pods.into_iter().collect(),
                    at: Instant::now(),
                },
            )
        });
    }

    /// A pod of the controller appeared (or a create failed and will never appear).
    pub fn creation_observed(&self, key: &str) {
        self.with(|e| {
            if let Some(entry) = e.get_mut(key) {
                entry.adds -= 1;
            }
        });
    }

    /// A pod went or started terminating (or its delete failed).
    pub fn deletion_observed(&self, key: &str, pod: &str) {
        self.with(|e| {
            if let Some(entry) = e.get_mut(key) {
                entry.deletes.remove(pod);
            }
        });
    }

    /// The controller is gone.
    pub fn forget(&self, key: &str) {
        self.with(|e| e.remove(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_and_deletions_are_waited_for() {
        let e = Expectations::default();
        assert!(e.satisfied("ns/rs"));
        e.expect_creations("ns/rs", 2);
        assert!(!e.satisfied("ns/rs"));
        e.creation_observed("ns/rs");
        assert!(!e.satisfied("ns/rs"));
        e.creation_observed("ns/rs");
        assert!(e.satisfied("ns/rs"));

        e.expect_deletions("ns/rs", ["ns/a".to_string(), "ns/b".to_string()]);
        e.deletion_observed("ns/rs", "ns/other");
        e.deletion_observed("ns/rs", "ns/a");
        assert!(!e.satisfied("ns/rs"));
        e.deletion_observed("ns/rs", "ns/b");
        assert!(e.satisfied("ns/rs"));

        // Other controllers are not affected; an old expectation counts as met.
        e.expect_creations("ns/other", 1);
        assert!(e.satisfied("ns/rs"));
        assert!(!e.satisfied("ns/other"));
        assert!(e.satisfied_at("ns/other", Instant::now() + TTL + Duration::from_secs(1)));
        e.forget("ns/other");
        assert!(e.satisfied("ns/other"));
    }
}
