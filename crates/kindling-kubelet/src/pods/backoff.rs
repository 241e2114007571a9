//! The kubelet's back-off: 10 s doubling to 5 min per key (a container's crash loop, an image's
//! failed pulls), forgotten after twice the maximum without a new failure.

use std::collections::HashMap;
use std::time::Duration;

pub const INITIAL: Duration = Duration::from_secs(10);
pub const MAX: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug)]
struct Entry {
    backoff: Duration,
    /// Wall-clock nanoseconds of the failure that set it.
    last_update: i64,
}

#[derive(Debug, Default)]
pub struct Backoff {
    entries: HashMap<String, Entry>,
}

fn expired(event: i64, last_update: i64) -> bool {
    event - last_update > 2 * MAX.as_nanos() as i64
}

impl Backoff {
    /// Whether `key` is still backing off from a failure at `event` (nanoseconds), at `now`.
    pub fn in_backoff_since(&self, key: &str, event: i64, now: i64) -> bool {
        match self.entries.get(key) {
            Some(e) if !expired(event, e.last_update) => now - event < e.backoff.as_nanos() as i64,
            _ => false,
        }
    }

    /// Records a failure at `event`: the first waits 10 s, each next one twice as long.
    pub fn next(&mut self, key: &str, event: i64) {
        let entry = match self.entries.get(key) {
            Some(e) if !expired(event, e.last_update) => Entry {
                backoff: (e.backoff * 2).min(MAX),
                last_update: event,
            },
            _ => Entry {
                backoff: INITIAL,
                last_update: event,
            },
        };
        self.entries.insert(key.to_string(), entry);
    }

    /// The current back-off of `key`.
    pub fn get(&self, key: &str) -> Option<Duration> {
        self.entries.get(key).map(|e| e.backoff)
    }

    /// How long until a failure at `event` has waited out its back-off.
    pub fn remaining(&self, key: &str, event: i64, now: i64) -> Duration {
        match self.entries.get(key) {
            Some(e) => {
                let until = event + e.backoff.as_nanos() as i64;
                Duration::from_nanos((until - now).max(0) as u64)
            }
            None => Duration::ZERO,
        }
    }

    /// Whether `key` still backs off from its last recorded failure, at `now`; how long for.
    pub fn waiting(&self, key: &str, now: i64) -> Option<Duration> {
        let e = self.entries.get(key)?;
        let until = e.last_update + e.backoff.as_nanos() as i64;
        (now < until && !expired(now, e.last_update))
            .then(|| Duration::from_nanos((until - now) as u64))
    }

    pub fn forget(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

/// `10s`, `1m20s`, `5m0s` as Go prints durations in kubelet messages.
pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn doubles_to_five_minutes() {
        let mut b = Backoff::default();
        let key = "pod/c";
        // First failure: not backing off yet, restart at once and arm 10 s.
        assert!(!b.in_backoff_since(key, 0, 0));
        b.next(key, 0);
        assert_eq!(b.get(key), Some(INITIAL));
        // Second failure at 5 s: back off until 15 s.
        assert!(b.in_backoff_since(key, 5 * S, 6 * S));
        assert_eq!(b.remaining(key, 5 * S, 6 * S), Duration::from_secs(9));
        assert!(!b.in_backoff_since(key, 5 * S, 15 * S));
        b.next(key, 5 * S);
        assert_eq!(b.get(key), Some(Duration::from_secs(20)));
        let mut t = 5 * S;
        for _ in 0..10 {
            t += S;
            b.next(key, t);
        }
        assert_eq!(b.get(key), Some(MAX));
        // Quiet for more than twice the maximum: starts over.
        b.next(key, t + 601 * S);
        assert_eq!(b.get(key), Some(INITIAL));
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(MAX), "5m0s");
    }
}
