//! Upstream's finalizer expectations: the pods whose tracking finalizer a Job's sync removed
//! but the pod watch has not shown without it yet. Until it has, a sync must not count those
//! pods again (their uids have already left uncountedTerminatedPods for the counters).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Removals {
    by_job: Mutex<HashMap<String, HashSet<String>>>,
}

impl Removals {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, HashSet<String>>) -> T) -> T {
        let mut map = self
            .by_job
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut map)
    }

    /// The uids of `job` still expected to lose the finalizer.
    pub fn pending(&self, job: &str) -> HashSet<String> {
        self.with(|m| m.get(job).cloned().unwrap_or_default())
    }

    pub fn expect(&self, job: &str, uids: impl IntoIterator<Item = String>) {
        self.with(|m| m.entry(job.to_string()).or_default().extend(uids));
    }

    /// The pod was seen without the finalizer, or gone (or its removal failed).
    pub fn observed(&self, job: &str, uid: &str) {
        self.with(|m| {
            if let Some(set) = m.get_mut(job) {
                set.remove(uid);
                if set.is_empty() {
                    m.remove(job);
                }
            }
        });
    }

    pub fn forget(&self, job: &str) {
        self.with(|m| m.remove(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_are_tracked_per_job_until_seen() {
        let r = Removals::default();
        r.expect("ns/a", ["u1".to_string(), "u2".to_string()]);
        r.expect("ns/b", ["u3".to_string()]);
        r.observed("ns/a", "u1");
        assert_eq!(r.pending("ns/a"), HashSet::from(["u2".to_string()]));
        r.observed("ns/a", "u2");
        assert!(r.pending("ns/a").is_empty());
        r.forget("ns/b");
        assert!(r.pending("ns/b").is_empty());
    }
}
