//! Helpers shared by every backend: bounded waits on watches and a reference model of the key
//! space.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kindling_store::{Event, KeyValue, Revision, Store, StoreError, Watch};

/// Upper bound for anything a test waits for; generous so slow CI machines do not flake.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub enum Received {
    Event(Event),
    /// The channel closed (watcher dropped or store closed).
    Closed,
    TimedOut,
}

/// Waits for the watch's next event or its end, at most `timeout`; works without a runtime.
pub fn next_event(watch: &mut Watch, timeout: Duration) -> Received {
    use tokio::sync::mpsc::error::TryRecvError;
    let deadline = Instant::now() + timeout;
    loop {
        match watch.events.try_recv() {
            Ok(event) => return Received::Event(event),
            Err(TryRecvError::Disconnected) => return Received::Closed,
            Err(TryRecvError::Empty) if Instant::now() >= deadline => return Received::TimedOut,
            Err(TryRecvError::Empty) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// The next event, failing the test if none arrives in time.
pub fn expect_event(watch: &mut Watch) -> Event {
    match next_event(watch, PATIENCE) {
        Received::Event(event) => event,
        Received::Closed => panic!("watch closed while an event was expected"),
        Received::TimedOut => panic!("no event within {PATIENCE:?}"),
    }
}

/// Asserts nothing arrives for a short while (the watch is still open).
pub fn expect_quiet(watch: &mut Watch) {
    match next_event(watch, Duration::from_millis(100)) {
        Received::TimedOut => {}
        Received::Event(event) => panic!("unexpected event {event:?}"),
        Received::Closed => panic!("watch closed unexpectedly"),
    }
}

/// A deterministic pseudo-random sequence (xorshift), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// What the store should hold: the key space after every revision, and every event.
pub struct Model {
    /// `states[r]` is the key space at revision `r` (`states[0]` is empty).
    pub states: Vec<BTreeMap<String, KeyValue>>,
    /// `events[r - 1]` is the event of revision `r`.
    pub events: Vec<Event>,
}

/// Keys chosen to trip up naive prefix matching: LIKE wildcards, non-ASCII, a key equal to a
/// prefix of others.
pub const MODEL_KEYS: &[&str] = &[
    "/m/a",
    "/m/a%",
    "/m/a_b",
    "/m/ab",
    "/m/é",
    "/m/\u{10FFFF}",
    "/m/z/1",
    "/m/z",
    "/n/other",
];

impl Model {
    pub fn new() -> Model {
        Model {
            states: vec![BTreeMap::new()],
            events: Vec::new(),
        }
    }

    pub fn revision(&self) -> Revision {
        self.events.len() as Revision
    }

    /// Applies `count` random writes to both the store and the model; refused writes must be
    /// refused by both.
    pub fn run_random_writes(&mut self, store: &dyn Store, rng: &mut Rng, count: usize) {
        for step in 0..count {
            let key = MODEL_KEYS[rng.below(MODEL_KEYS.len())];
            let value = format!("{key}#{}#{step}", self.revision()).into_bytes();
            let current = self.states.last().unwrap().get(key).cloned();
            let revision = self.revision() + 1;
            let mut next = self.states.last().unwrap().clone();
            let event = match (current, rng.below(3)) {
                (None, _) => {
                    assert_eq!(store.create(key, value.clone()), Ok(revision));
                    let kv = KeyValue {
                        key: key.to_string(),
                        value,
                        create_revision: revision,
                        mod_revision: revision,
                    };
                    next.insert(key.to_string(), kv.clone());
                    Event::Put { kv, prev: None }
                }
                (Some(prev), 0) => {
                    let deleted = store.delete(key, Some(prev.mod_revision));
                    assert_eq!(deleted, Ok((revision, prev.clone())));
                    next.remove(key);
                    Event::Delete { prev, revision }
                }
                (Some(prev), _) => {
                    assert_eq!(
                        store.update(key, value.clone(), prev.mod_revision),
                        Ok(revision)
                    );
                    let kv = KeyValue {
                        key: key.to_string(),
                        value,
                        create_revision: prev.create_revision,
                        mod_revision: revision,
                    };
                    next.insert(key.to_string(), kv.clone());
                    Event::Put {
                        kv,
                        prev: Some(prev),
                    }
                }
            };
            self.states.push(next);
            self.events.push(event);
        }
    }

    /// The model's items under `prefix` at `revision`.
    pub fn items(&self, prefix: &str, revision: Revision) -> Vec<KeyValue> {
        self.states[revision as usize]
            .values()
            .filter(|kv| kv.key.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Checks lists of `prefix` at every revision from `from`, whole and in pages of `page`.
    pub fn check_lists(&self, store: &dyn Store, prefix: &str, from: Revision, page: usize) {
        for revision in from..=self.revision() {
            let expected = self.items(prefix, revision);
            let whole = store.list(prefix, None, 0, Some(revision)).unwrap();
            assert_eq!(whole.items, expected, "list {prefix:?} at {revision}");
            assert_eq!(whole.revision, revision);
            assert!(!whole.more);

            let mut paged = Vec::new();
            let mut start_after: Option<String> = None;
            loop {
                let list = store
                    .list(prefix, start_after.as_deref(), page, Some(revision))
                    .unwrap();
                assert!(list.items.len() <= page);
                paged.extend(list.items.iter().cloned());
                start_after = list.items.last().map(|kv| kv.key.clone());
                if !list.more {
                    break;
                }
            }
            assert_eq!(paged, expected, "paged list {prefix:?} at {revision}");
        }
    }

    /// The model's events under `prefix` after `after`.
    pub fn events_after(&self, prefix: &str, after: Revision) -> Vec<Event> {
        self.events[after as usize..]
            .iter()
            .filter(|event| event.key().starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Checks that a watch from `after` replays exactly the model's events, then stays quiet.
    pub fn check_watch(&self, store: &dyn Store, prefix: &str, after: Revision) {
        let mut watch = store.watch(prefix, after).unwrap();
        for expected in self.events_after(prefix, after) {
            assert_eq!(
                expect_event(&mut watch),
                expected,
                "watch {prefix:?} after {after}"
            );
        }
        expect_quiet(&mut watch);
    }
}

pub fn assert_compacted<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Compacted { .. })),
        "expected Compacted, got {result:?}"
    );
}
