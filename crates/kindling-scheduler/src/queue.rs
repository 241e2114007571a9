//! The queue of pods waiting for a node, shaped like upstream's scheduling queue:
//!
//! - *active*: ready to be tried, highest priority first, then first come;
//! - *back-off*: failed recently, retried after 1 s doubling up to 10 s per attempt;
//! - *unschedulable*: rejected; moved back when a cluster change could help (a node added or
//!   changed, a pod gone for resource/port/spreading/affinity rejections, a pod added for
//!   spreading/affinity ones), or after 5 minutes in any case.
//!
//! A change seen while a pod is being tried sends it to back-off rather than unschedulable, so
//! that no event is lost. Time is passed in, so all of this is tested without sleeping.

use crate::framework::Plugin;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct QueueConfig {
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a pod stays unschedulable without any helpful event before a retry.
    pub max_unschedulable: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            max_unschedulable: Duration::from_secs(300),
        }
    }
}

/// A cluster change that may make unschedulable pods schedulable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterEvent {
    NodeAdded,
    /// A scheduling-relevant change of a node (labels, taints, readiness, allocatable, cordon).
    NodeUpdated,
    /// A bound pod went away or finished: resources, ports, spreading, anti-affinity.
    AssignedPodDeleted,
    /// A pod was bound or its labels changed: spreading, affinity.
    AssignedPodAdded,
    /// Namespace labels changed: affinity terms' namespace selectors.
    NamespaceChanged,
    /// A claim, volume or storage class was added or changed.
    VolumeChanged,
}

impl ClusterEvent {
    /// Whether this event can help a pod rejected by these plugins (an empty set — no nodes at
    /// all — waits for nodes).
    fn may_help(self, plugins: &BTreeSet<Plugin>) -> bool {
        use Plugin::*;
        match self {
            ClusterEvent::NodeAdded | ClusterEvent::NodeUpdated => true,
            ClusterEvent::AssignedPodDeleted => plugins.iter().any(|p| {
                matches!(
                    p,
                    NodeResourcesFit | NodePorts | PodTopologySpread | InterPodAffinity
                )
            }),
            ClusterEvent::AssignedPodAdded => plugins
                .iter()
                .any(|p| matches!(p, PodTopologySpread | InterPodAffinity)),
            ClusterEvent::NamespaceChanged => plugins.contains(&InterPodAffinity),
            ClusterEvent::VolumeChanged => plugins.contains(&VolumeBinding),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Active,
    Backoff,
    Unschedulable,
    InFlight,
}

#[derive(Clone, Debug)]
struct Entry {
    priority: i32,
    state: State,
    /// Bumped whenever the entry is (re)inserted in a heap; stale heap items are skipped.
    generation: u64,
    arrival: u64,
    attempts: u32,
    last_failure: Option<Instant>,
    unschedulable_since: Option<Instant>,
    plugins: BTreeSet<Plugin>,
    move_seq_at_pop: u64,
}

#[derive(PartialEq, Eq)]
struct ActiveItem {
    priority: i32,
    arrival: u64,
    generation: u64,
    key: String,
}

impl Ord for ActiveItem {
    fn cmp(&self, o: &Self) -> Ordering {
        self.priority
            .cmp(&o.priority)
            .then_with(|| o.arrival.cmp(&self.arrival))
    }
}

impl PartialOrd for ActiveItem {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

#[derive(Debug, Default)]
pub struct Queue {
    config: QueueConfig,
    entries: HashMap<String, Entry>,
    active: BinaryHeap<ActiveItem>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    counter: u64,
    move_seq: u64,
    active_count: usize,
    backoff_count: usize,
    unschedulable: HashSet<String>,
}

impl std::fmt::Debug for ActiveItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.key, self.priority)
    }
}

impl Queue {
    pub fn new(config: QueueConfig) -> Queue {
        Queue {
            config,
            ..Default::default()
        }
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Changes an entry's state, keeping the active count and unschedulable set right.
    fn set_state(&mut self, key: &str, new: State) {
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        let old = e.state;
        e.state = new;
        self.track(key, Some(old), Some(new));
    }

    fn track(&mut self, key: &str, old: Option<State>, new: Option<State>) {
        if old == new {
            return;
        }
        match old {
            Some(State::Active) => self.active_count -= 1,
            Some(State::Backoff) => self.backoff_count -= 1,
            Some(State::Unschedulable) => {
                self.unschedulable.remove(key);
            }
            _ => {}
        }
        match new {
            Some(State::Active) => self.active_count += 1,
            Some(State::Backoff) => self.backoff_count += 1,
            Some(State::Unschedulable) => {
                self.unschedulable.insert(key.to_string());
            }
            _ => {}
        }
    }

    fn backoff_duration(&self, attempts: u32) -> Duration {
        let shift = attempts.saturating_sub(1).min(16);
        (self.config.initial_backoff * (1u32 << shift)).min(self.config.max_backoff)
    }

    fn backoff_expiry(&self, e: &Entry) -> Option<Instant> {
        e.last_failure
            .map(|t| t + self.backoff_duration(e.attempts))
    }

    fn activate(&mut self, key: &str) {
        let g = self.next();
        self.set_state(key, State::Active);
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        e.generation = g;
        self.active.push(ActiveItem {
            priority: e.priority,
            arrival: e.arrival,
            generation: g,
            key: key.to_string(),
        });
    }

    fn back_off(&mut self, key: &str, now: Instant) {
        let Some(e) = self.entries.get(key) else {
            return;
        };
        match self.backoff_expiry(e) {
            Some(at) if at > now => {
                let g = self.next();
                self.set_state(key, State::Backoff);
                let e = self.entries.get_mut(key).expect("present");
                e.generation = g;
                self.backoff.push(Reverse((at, g, key.to_string())));
            }
            _ => self.activate(key),
        }
    }

    /// A new pending pod, or an update of one already queued. `changed` says its spec or labels
    /// changed (then a rejected pod is worth another try).
    pub fn add_or_update(&mut self, key: &str, priority: i32, changed: bool, now: Instant) {
        if let Some(e) = self.entries.get_mut(key) {
            e.priority = priority;
            if changed && e.state == State::Unschedulable {
                self.back_off(key, now);
            }
            return;
        }
        let arrival = self.next();
        self.entries.insert(
            key.to_string(),
            Entry {
                priority,
                // Not yet in any queue (uncounted) until it is activated just below.
                state: State::InFlight,
                generation: 0,
                arrival,
                attempts: 0,
                last_failure: None,
                unschedulable_since: None,
                plugins: BTreeSet::new(),
                move_seq_at_pop: 0,
            },
        );
        self.activate(key);
    }

    /// The next pod to try, which is then in flight until `done`, `unschedulable`, `retry` or
    /// `remove`.
    pub fn pop(&mut self) -> Option<String> {
        while let Some(item) = self.active.pop() {
            let Some(e) = self.entries.get_mut(&item.key) else {
                continue;
            };
            if e.state != State::Active || e.generation != item.generation {
                continue;
            }
            e.attempts += 1;
            e.move_seq_at_pop = self.move_seq;
            self.set_state(&item.key, State::InFlight);
            return Some(item.key);
        }
        None
    }

    /// Scheduled (assumed): the pod leaves the queue.
    pub fn done(&mut self, key: &str) {
        self.remove(key);
    }

    pub fn remove(&mut self, key: &str) {
        if let Some(e) = self.entries.remove(key) {
            self.track(key, Some(e.state), None);
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// The pod fits nowhere; `plugins` rejected it.
    pub fn unschedulable(&mut self, key: &str, plugins: BTreeSet<Plugin>, now: Instant) {
        let move_seq = self.move_seq;
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        e.last_failure = Some(now);
        e.plugins = plugins;
        if e.move_seq_at_pop != move_seq {
            // The cluster changed while it was tried.
            self.back_off(key, now);
        } else {
            e.unschedulable_since = Some(now);
            self.set_state(key, State::Unschedulable);
        }
    }

    /// An error not about the pod's fit (a failed binding): try again after the back-off. A pod
    /// that was not in flight (e.g. bound already, then its binding answer came) is re-added.
    pub fn retry(&mut self, key: &str, priority: i32, now: Instant) {
        if !self.entries.contains_key(key) {
            self.add_or_update(key, priority, false, now);
        }
        if let Some(e) = self.entries.get_mut(key) {
            e.last_failure = Some(now);
            e.attempts = e.attempts.max(1);
        }
        self.back_off(key, now);
    }

    /// A cluster change: moves the unschedulable pods it may help.
    pub fn on_event(&mut self, event: ClusterEvent, now: Instant) {
        self.move_seq += 1;
        let keys: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|k| {
                self.entries
                    .get(*k)
                    .is_some_and(|e| event.may_help(&e.plugins))
            })
            .cloned()
            .collect();
        for k in keys {
            self.back_off(&k, now);
        }
    }

    /// Moves pods whose back-off expired, and pods unschedulable for too long, to active.
    pub fn flush(&mut self, now: Instant) {
        while let Some(Reverse((at, g, _))) = self.backoff.peek() {
            if *at > now {
                break;
            }
            let g = *g;
            let Reverse((_, _, key)) = self.backoff.pop().expect("peeked");
            if self
                .entries
                .get(&key)
                .is_some_and(|e| e.state == State::Backoff && e.generation == g)
            {
                self.activate(&key);
            }
        }
        let max = self.config.max_unschedulable;
        let stale: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|k| {
                self.entries
                    .get(*k)
                    .and_then(|e| e.unschedulable_since)
                    .is_some_and(|t| now >= t + max)
            })
            .cloned()
            .collect();
        for k in stale {
            self.back_off(&k, now);
        }
    }

    /// When `flush` has something to do next (a back-off expiring).
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.backoff.peek().map(|Reverse((at, _, _))| *at)
    }

    pub fn has_active(&self) -> bool {
        self.active_count > 0
    }

    /// Pods waiting to be tried, waiting out a back-off, and rejected (kube-scheduler's
    /// activeQ, backoffQ and unschedulablePods).
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.active_count,
            self.backoff_count,
            self.unschedulable.len(),
        )
    }

    /// How many times the pod was taken to be tried.
    pub fn attempts(&self, key: &str) -> u32 {
        self.entries.get(key).map_or(0, |e| e.attempts)
    }

    /// Pods rejected and waiting for a helpful change.
    pub fn unschedulable_count(&self) -> usize {
        self.unschedulable.len()
    }

    /// Pods waiting in any state.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn counts_follow_the_states() {
        let mut q = Queue::new(QueueConfig::default());
        let now = Instant::now();
        q.add_or_update("a", 0, false, now);
        q.add_or_update("b", 0, false, now);
        assert_eq!(q.counts(), (2, 0, 0));
        let first = q.pop().unwrap();
        assert_eq!(q.attempts(&first), 1);
        q.unschedulable(&first, BTreeSet::new(), now);
        assert_eq!(q.counts(), (1, 0, 1));
        let second = q.pop().unwrap();
        q.retry(&second, 0, now);
        assert_eq!(q.counts(), (0, 1, 1));
        q.remove(&second);
        assert_eq!(q.counts(), (0, 0, 1));
    }

    #[test]
    fn priority_then_arrival() {
        let now = Instant::now();
        let mut q = Queue::new(QueueConfig::default());
        q.add_or_update("a", 0, false, now);
        q.add_or_update("b", 10, false, now);
        q.add_or_update("c", 0, false, now);
        q.add_or_update("a", 0, false, now);
        assert_eq!(q.pop().as_deref(), Some("b"));
        assert_eq!(q.pop().as_deref(), Some("a"));
        assert_eq!(q.pop().as_deref(), Some("c"));
        assert_eq!(q.pop(), None);
        assert_eq!(q.len(), 3, "in flight");
    }

    #[test]
    fn unschedulable_waits_for_a_helpful_event() {
        let t0 = Instant::now();
        let mut q = Queue::new(QueueConfig::default());
        q.add_or_update("p", 0, false, t0);
        assert_eq!(q.pop().as_deref(), Some("p"));
        q.unschedulable("p", BTreeSet::from([Plugin::NodeResourcesFit]), t0);
        q.flush(t0 + s(60));
        assert_eq!(q.pop(), None, "stays unschedulable");
        q.on_event(ClusterEvent::AssignedPodAdded, t0 + s(61));
        assert_eq!(q.pop(), None, "a new pod does not free resources");
        q.on_event(ClusterEvent::AssignedPodDeleted, t0 + s(62));
        assert_eq!(q.pop().as_deref(), Some("p"), "back-off (1 s) already over");
    }

    #[test]
    fn backoff_grows_and_caps() {
        let t0 = Instant::now();
        let mut q = Queue::new(QueueConfig::default());
        q.add_or_update("p", 0, false, t0);
        let mut t = t0;
        for expected in [1, 2, 4, 8, 10, 10] {
            assert_eq!(q.pop().as_deref(), Some("p"));
            q.unschedulable("p", BTreeSet::from([Plugin::TaintToleration]), t);
            q.on_event(ClusterEvent::NodeUpdated, t);
            q.flush(
                (t + s(expected))
                    .checked_sub(Duration::from_millis(1))
                    .unwrap(),
            );
            assert_eq!(q.pop(), None, "still backing off after {expected}s");
            assert_eq!(q.next_wakeup(), Some(t + s(expected)));
            t += s(expected);
            q.flush(t);
        }
    }

    #[test]
    fn event_during_attempt_means_backoff_not_unschedulable() {
        let t0 = Instant::now();
        let mut q = Queue::new(QueueConfig::default());
        q.add_or_update("p", 0, false, t0);
        assert!(q.pop().is_some());
        q.on_event(ClusterEvent::NodeAdded, t0);
        q.unschedulable("p", BTreeSet::from([Plugin::NodeAffinity]), t0);
        q.flush(t0 + s(1));
        assert_eq!(q.pop().as_deref(), Some("p"));
    }

    #[test]
    fn periodic_retry_and_pod_updates() {
        let t0 = Instant::now();
        let mut q = Queue::new(QueueConfig::default());
        q.add_or_update("p", 0, false, t0);
        q.pop();
        q.unschedulable("p", BTreeSet::from([Plugin::NodeAffinity]), t0);
        q.flush(t0 + s(299));
        assert_eq!(q.pop(), None);
        q.flush(t0 + s(300));
        assert_eq!(q.pop().as_deref(), Some("p"), "retried after 5 minutes");
        q.unschedulable("p", BTreeSet::from([Plugin::NodeAffinity]), t0 + s(300));
        q.add_or_update("p", 0, false, t0 + s(310));
        q.flush(t0 + s(310));
        assert_eq!(q.pop(), None, "a status-only update changes nothing");
        q.add_or_update("p", 0, true, t0 + s(311));
        q.flush(t0 + s(311));
        assert_eq!(q.pop().as_deref(), Some("p"), "a spec change retries");
    }

    #[test]
    fn retry_and_remove() {
        let t0 = Instant::now();
        let mut q = Queue::new(QueueConfig::default());
        q.add_or_update("p", 0, false, t0);
        q.pop();
        q.retry("p", 0, t0);
        assert!(!q.has_active());
        q.flush(t0 + s(1));
        assert!(q.has_active());
        q.remove("p");
        assert_eq!(q.pop(), None);
        q.retry("gone", 0, t0);
        assert!(q.contains("gone"));
        q.done("gone");
        assert!(q.is_empty());
    }
}
