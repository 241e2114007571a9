//! When a finished Job with `ttlSecondsAfterFinished` is due for deletion (upstream's
//! ttlafterfinished needsCleanup/timeLeft): that many seconds after the transition time of its
//! Complete or Failed condition. No IO.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::Job;
use std::time::Duration;

/// What the controller does with a Job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// No TTL, not finished, or being deleted already.
    NotApplicable,
    /// Delete it now.
    Expired,
    /// Look again after this long.
    In(Duration),
}

/// When the Job finished: its Complete or Failed condition's transition time.
pub fn finished_at(job: &Job) -> Option<Timestamp> {
    job.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

pub fn expiry(job: &Job, now: Timestamp) -> Expiry {
    let ttl = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished);
    let (Some(ttl), None) = (ttl, job.metadata.deletion_timestamp.as_ref()) else {
        return Expiry::NotApplicable;
    };
    let Some(done) = finished_at(job) else {
        return Expiry::NotApplicable;
    };
    let expires = done
        .saturating_add(SignedDuration::from_secs(i64::from(ttl)))
        .unwrap_or(Timestamp::MAX);
    if now >= expires {
        Expiry::Expired
    } else {
        Expiry::In(Duration::try_from(expires.duration_since(now)).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jobs_expire_ttl_seconds_after_finishing() {
        let job = |ttl: Option<i32>, condition: Option<&str>, deleting: bool| -> Job {
            let conditions: Vec<_> = condition
                .map(|t| json!({"type": t, "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}))
                .into_iter()
                .collect();
            let mut meta = json!({"name": "j"});
            if deleting {
                meta["deletionTimestamp"] = json!("2026-01-01T00:00:01Z");
            }
            serde_json::from_value(json!({"metadata": meta,
                "spec": {"ttlSecondsAfterFinished": ttl, "template": {}},
                "status": {"conditions": conditions}}))
            .unwrap()
        };
        let now: Timestamp = "2026-01-01T00:00:03Z".parse().unwrap();
        // (ttl, finished condition, deleting) → expiry
        let cases = [
            (None, Some("Complete"), false, Expiry::NotApplicable),
            (Some(5), None, false, Expiry::NotApplicable),
            (
                Some(5),
                Some("SuccessCriteriaMet"),
                false,
                Expiry::NotApplicable,
            ),
            (Some(5), Some("Complete"), true, Expiry::NotApplicable),
            (
                Some(5),
                Some("Complete"),
                false,
                Expiry::In(Duration::from_secs(2)),
            ),
            (Some(3), Some("Failed"), false, Expiry::Expired),
            (Some(0), Some("Complete"), false, Expiry::Expired),
        ];
        for (ttl, condition, deleting, want) in cases {
            assert_eq!(
                expiry(&job(ttl, condition, deleting), now),
                want,
                "{ttl:?} {condition:?} {deleting}"
            );
        }
    }
}
