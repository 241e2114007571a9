//! The leader-election decision, as client-go's `tryAcquireOrRenew`, as a pure function: given
//! the Lease as read (if any), when this candidate first saw it in that state, the time and who
//! it is, what to write (or to wait). No IO here.
//!
//! As upstream, a lease held by someone else counts as expired only after `leaseDuration` has
//! passed on *this* candidate's clock since it observed the record change, so candidates do not
//! depend on the holder's clock.

use std::time::Duration;

use jiff::Timestamp;

/// The part of a Lease's spec the election reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub holder: String,
    pub lease_duration_seconds: i32,
    pub acquire_time: Timestamp,
    pub renew_time: Timestamp,
    pub transitions: i32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No Lease yet: create it, held by this candidate.
    Create(Record),
    /// Write this record over the one read (a compare-and-swap on its resourceVersion).
    Update(Record),
    /// Someone else holds a lease that has not expired.
    Wait,
}

/// Upstream's defaults for kube-controller-manager and kube-scheduler.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);
pub const RETRY_PERIOD: Duration = Duration::from_secs(2);

/// `observed_at` is when this candidate first read `current` in its present state (local clock).
pub fn decide(
    current: Option<&Record>,
    observed_at: Timestamp,
    now: Timestamp,
    me: &str,
    lease_duration: Duration,
) -> Decision {
    let seconds = i32::try_from(lease_duration.as_secs()).unwrap_or(i32::MAX);
    let Some(current) = current else {
        return Decision::Create(Record {
            holder: me.to_string(),
            lease_duration_seconds: seconds,
            acquire_time: now,
            renew_time: now,
            transitions: 0,
        });
    };
    if current.holder == me {
        return Decision::Update(Record {
            renew_time: now,
            lease_duration_seconds: seconds,
            ..current.clone()
        });
    }
    let held_for = Duration::from_secs(u64::try_from(current.lease_duration_seconds).unwrap_or(0));
    let expires = observed_at.checked_add(held_for).unwrap_or(Timestamp::MAX);
    if !current.holder.is_empty() && expires > now {
        return Decision::Wait;
    }
    Decision::Update(Record {
        holder: me.to_string(),
        lease_duration_seconds: seconds,
        acquire_time: now,
        renew_time: now,
        transitions: current.transitions + 1,
    })
}

/// What a holder that stops writes on its way out (client-go's `ReleaseOnCancel`): no holder, a
/// one-second lease, so the others take over at their next try instead of waiting out
/// `leaseDuration`. `None` when `current` is not ours (then there is nothing to give up).
pub fn released(current: &Record, me: &str, now: Timestamp) -> Option<Record> {
    (current.holder == me).then(|| Record {
        holder: String::new(),
        lease_duration_seconds: 1,
        acquire_time: now,
        renew_time: now,
        transitions: current.transitions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_releases_only_its_own_lease_and_others_take_it_at_once() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let mine = Record {
            holder: "a".into(),
            lease_duration_seconds: 15,
            acquire_time: t0,
            renew_time: t0,
            transitions: 3,
        };
        assert_eq!(released(&mine, "b", t0), None);
        let gone = released(&mine, "a", t0).unwrap();
        assert_eq!((gone.holder.as_str(), gone.lease_duration_seconds), ("", 1));
        assert_eq!(gone.transitions, 3);
        // b saw it released just now: it takes it without waiting out any duration.
        let Decision::Update(taken) = decide(Some(&gone), t0, t0, "b", LEASE_DURATION) else {
            panic!("b should take a released lease");
        };
        assert_eq!((taken.holder.as_str(), taken.transitions), ("b", 4));
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn held_by(holder: &str, since: i64, transitions: i32) -> Record {
        Record {
            holder: holder.to_string(),
            lease_duration_seconds: 15,
            acquire_time: at(since),
            renew_time: at(since),
            transitions,
        }
    }

    #[test]
    fn decisions() {
        struct Case {
            name: &'static str,
            current: Option<Record>,
            observed_at: i64,
            now: i64,
            want: Decision,
        }
        let cases = [
            Case {
                name: "no lease: create it",
                current: None,
                observed_at: 0,
                now: 0,
                want: Decision::Create(held_by("me", 0, 0)),
            },
            Case {
                name: "mine: renew, keeping acquire time and transitions",
                current: Some(held_by("me", 0, 3)),
                observed_at: 0,
                now: 8,
                want: Decision::Update(Record {
                    renew_time: at(8),
                    ..held_by("me", 0, 3)
                }),
            },
            Case {
                name: "someone else's, fresh: wait",
                current: Some(held_by("other", 0, 1)),
                observed_at: 2,
                now: 16,
                want: Decision::Wait,
            },
            Case {
                name: "someone else's, unchanged for a lease duration: take it",
                current: Some(held_by("other", 0, 1)),
                observed_at: 2,
                now: 17,
                want: Decision::Update(held_by("me", 17, 2)),
            },
            Case {
                name: "released (empty holder): take it at once",
                current: Some(held_by("", 0, 4)),
                observed_at: 0,
                now: 1,
                want: Decision::Update(held_by("me", 1, 5)),
            },
            Case {
                name: "the holder's clock does not matter, only when it was observed",
                current: Some(held_by("other", -1000, 1)),
                observed_at: 10,
                now: 20,
                want: Decision::Wait,
            },
        ];
        for case in cases {
            let got = decide(
                case.current.as_ref(),
                at(case.observed_at),
                at(case.now),
                "me",
                LEASE_DURATION,
            );
            assert_eq!(got, case.want, "{}", case.name);
        }
    }
}
