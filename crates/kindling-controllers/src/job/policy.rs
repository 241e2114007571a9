//! What a Job's policies say about its pods (upstream's pod_failure_policy.go,
//! success_policy.go, backoff_utils.go): the podFailurePolicy rule a failed pod matches, whether
//! the successPolicy is met, and how long pod re-creation backs off after failures. No IO.

use super::indexes::Intervals;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::batch::v1::{PodFailurePolicy, SuccessPolicy};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use std::time::Duration;

/// The first re-creation delay after a failure (upstream's DefaultJobPodFailureBackOff).
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// The longest delay (upstream's MaxJobPodFailureBackOff).
pub const BACKOFF_MAX: Duration = Duration::from_secs(360);

/// What a podFailurePolicy rule does with a failed pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The Job fails, with this message.
    FailJob(String),
    /// The pod's index fails (backoffLimitPerIndex).
    FailIndex,
    /// The failure counts toward the backoff limit.
    Count,
    /// The failure is not counted.
    Ignore,
}

impl Action {
    /// Whether the failure counts toward backoffLimit.
    pub fn counts(&self) -> bool {
        *self != Action::Ignore
    }
}

fn terminated_exit(status: &ContainerStatus) -> Option<i32> {
    Some(status.state.as_ref()?.terminated.as_ref()?.exit_code)
}

/// The first container (then init container) that exited non-zero with a code the rule
/// names.
fn matching_container<'a>(
    pod: &'a Pod,
    container: Option<&str>,
    operator: &str,
    values: &[i32],
) -> Option<(&'a ContainerStatus, i32)> {
    let status = pod.status.as_ref()?;
    let lists = [
        status.container_statuses.as_deref(),
        status.init_container_statuses.as_deref(),
    ];
    lists.into_iter().flatten().find_map(|list| {
        list.iter().find_map(|c| {
            let code = terminated_exit(c)?;
            let named = container.is_none_or(|n| n == c.name);
            let matched = match operator {
                "In" => values.contains(&code),
                "NotIn" => !values.contains(&code),
                _ => false,
            };
            (named && code != 0 && matched).then_some((c, code))
        })
    })
}

/// The action of the first rule a failed pod matches; `None` when no rule does (the failure
/// counts).
pub fn match_failure_policy(policy: Option<&PodFailurePolicy>, pod: &Pod) -> Option<Action> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    for (index, rule) in policy?.rules.iter().enumerate() {
        let failing = if let Some(req) = &rule.on_exit_codes {
            let Some((c, code)) = matching_container(
                pod,
                req.container_name.as_deref(),
                &req.operator,
                &req.values,
            ) else {
                continue;
            };
            format!(
                "Container {} for pod {ns}/{name} failed with exit code {code} matching {} rule at index {index}",
                c.name, rule.action
            )
        } else if let Some(patterns) = &rule.on_pod_conditions {
            let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
            let Some(cond) = conditions.into_iter().flatten().find(|c| {
                patterns.iter().any(|p| {
                    p.type_ == c.type_ && p.status.as_deref().unwrap_or("True") == c.status
                })
            }) else {
                continue;
            };
            format!(
                "Pod {ns}/{name} has condition {} matching {} rule at index {index}",
                cond.type_, rule.action
            )
        } else {
            continue;
        };
        return match rule.action.as_str() {
            "Ignore" => Some(Action::Ignore),
            "Count" => Some(Action::Count),
            "FailIndex" => Some(Action::FailIndex),
            "FailJob" => Some(Action::FailJob(failing)),
            _ => continue,
        };
    }
    None
}

/// Whether a failed pod counts toward backoffLimit.
pub fn failure_counts(policy: Option<&PodFailurePolicy>, pod: &Pod) -> bool {
    match_failure_policy(policy, pod).is_none_or(|a| a.counts())
}

/// The successPolicy rule the succeeded indexes meet, as upstream's condition message.
pub fn match_success_policy(
    policy: Option<&SuccessPolicy>,
    completions: i32,
    succeeded: &Intervals,
) -> Option<String> {
    let policy = policy?;
    if succeeded.is_empty() {
        return None;
    }
    for (index, rule) in policy.rules.iter().enumerate() {
        let met = match &rule.succeeded_indexes {
            Some(s) => {
                let required = Intervals::parse(s, completions);
                if required.is_empty() {
                    continue;
                }
                let contained = required
                    .0
                    .iter()
                    .flat_map(|iv| iv.first..=iv.last)
                    .filter(|ix| succeeded.has(*ix))
                    .count() as i32;
                contained == required.total()
                    || rule.succeeded_count.is_some_and(|c| contained >= c)
            }
            None => rule.succeeded_count.is_some_and(|c| succeeded.total() >= c),
        };
        if met {
            return Some(format!("Matched rules at index {index}"));
        }
    }
    None
}

/// When a finished pod finished: the latest container termination, else its deletion, else
/// its creation (upstream's getFinishedTime falls back to the Ready condition and now).
pub fn finished_at(pod: &Pod) -> Option<Timestamp> {
    let status = pod.status.as_ref();
    let terminated = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max();
    terminated
        .or_else(|| pod.metadata.deletion_timestamp.as_ref().map(|t| t.0))
        .or_else(|| {
            status
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .find(|c| c.type_ == "Ready")
                .and_then(|c| c.last_transition_time.as_ref())
                .map(|t| t.0)
        })
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// Failures since the last success and when the last of them happened (upstream's
/// backoffRecord, here read off the job's pods, which it keeps until it is deleted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backoff {
    pub failures: u32,
    pub last_failure: Option<Timestamp>,
}

impl Backoff {
    /// From the job's finished pods: `(succeeded?, finished at)`.
    pub fn from_finished(pods: impl IntoIterator<Item = (bool, Timestamp)>) -> Backoff {
        let pods: Vec<(bool, Timestamp)> = pods.into_iter().collect();
        let last_success = pods.iter().filter(|(ok, _)| *ok).map(|(_, t)| *t).max();
        let failures: Vec<Timestamp> = pods
            .iter()
            .filter(|(ok, t)| !ok && last_success.is_none_or(|s| *t > s))
            .map(|(_, t)| *t)
            .collect();
        Backoff {
            failures: failures.len() as u32,
            last_failure: failures.into_iter().max(),
        }
    }

    /// How long pod creation still waits at `now`: 10 s doubled per further failure, at most
    /// 6 min, counted from the last failure.
    pub fn remaining(&self, now: Timestamp) -> Duration {
        remaining_for(self.failures, self.last_failure, now)
    }
}

/// Upstream's getRemainingTimeForFailuresCount.
pub fn remaining_for(failures: u32, last_failure: Option<Timestamp>, now: Timestamp) -> Duration {
    let Some(last) = last_failure.filter(|_| failures > 0) else {
        return Duration::ZERO;
    };
    let mut delay = BACKOFF_BASE;
    for _ in 1..failures {
        delay *= 2;
        if delay >= BACKOFF_MAX {
            delay = BACKOFF_MAX;
            break;
        }
    }
    let elapsed = now.duration_since(last);
    let delay = SignedDuration::try_from(delay).unwrap_or(SignedDuration::MAX);
    if elapsed >= delay {
        Duration::ZERO
    } else {
        Duration::try_from(delay - elapsed).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn failed_pod(exit: i32, conditions: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "status": {"phase": "Failed", "conditions": conditions, "containerStatuses": [
                {"name": "main", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": exit}}}]}
        }))
        .unwrap()
    }

    fn policy(rules: serde_json::Value) -> PodFailurePolicy {
        serde_json::from_value(json!({"rules": rules})).unwrap()
    }

    #[test]
    fn failure_policy_rules_match_in_order() {
        let p = policy(json!([
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1]}},
        ]));
        // (exit code, conditions) → action
        let cases = [
            (42, json!([{"type": "DisruptionTarget", "status": "True"}]), Some(Action::Ignore)),
            (42, json!([]), Some(Action::FailJob(
                "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1".into()))),
            (3, json!([]), Some(Action::Count)),
            (1, json!([]), None),
            (0, json!([]), None),
        ];
        for (exit, conditions, want) in cases {
            assert_eq!(
                match_failure_policy(Some(&p), &failed_pod(exit, conditions.clone())),
                want,
                "{exit} {conditions}"
            );
        }
        let p =
            policy(json!([{"action": "FailJob", "onPodConditions": [{"type": "ConfigIssue"}]}]));
        assert_eq!(
            match_failure_policy(
                Some(&p),
                &failed_pod(1, json!([{"type": "ConfigIssue", "status": "True"}]))
            ),
            Some(Action::FailJob(
                "Pod ns/p has condition ConfigIssue matching FailJob rule at index 0".into()
            ))
        );
        assert!(!failure_counts(
            Some(&policy(
                json!([{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1]}}])
            )),
            &failed_pod(1, json!([]))
        ));
    }

    #[test]
    fn success_policy_rules() {
        let sp = |rules: serde_json::Value| -> SuccessPolicy {
            serde_json::from_value(json!({"rules": rules})).unwrap()
        };
        let done = Intervals::parse("0-2,5", 10);
        // (rules, met?)
        let cases = [
            (
                json!([{"succeededIndexes": "0-2"}]),
                Some("Matched rules at index 0"),
            ),
            (json!([{"succeededIndexes": "0-3"}]), None),
            (
                json!([{"succeededIndexes": "0-5", "succeededCount": 4}]),
                Some("Matched rules at index 0"),
            ),
            (
                json!([{"succeededIndexes": "0-5", "succeededCount": 5}]),
                None,
            ),
            (
                json!([{"succeededIndexes": "9"}, {"succeededIndexes": "1-5", "succeededCount": 3}]),
                Some("Matched rules at index 1"),
            ),
            (
                json!([{"succeededCount": 4}]),
                Some("Matched rules at index 0"),
            ),
            (json!([{"succeededCount": 5}]), None),
        ];
        for (rules, want) in cases {
            assert_eq!(
                match_success_policy(Some(&sp(rules.clone())), 10, &done).as_deref(),
                want,
                "{rules}"
            );
        }
        assert_eq!(
            match_success_policy(
                Some(&sp(json!([{"succeededCount": 0}]))),
                10,
                &Intervals::default()
            ),
            None
        );
    }

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_six_minutes() {
        let t = |s: i64| Timestamp::from_second(1_000_000 + s).unwrap();
        // (failures, seconds since the last failure) → remaining seconds
        let cases = [
            (0, 0, 0),
            (1, 0, 10),
            (1, 4, 6),
            (1, 11, 0),
            (2, 0, 20),
            (3, 5, 35),
            (6, 0, 320),
            (7, 0, 360),
            (20, 60, 300),
        ];
        for (failures, since, want) in cases {
            let b = Backoff {
                failures,
                last_failure: Some(t(0)),
            };
            assert_eq!(
                b.remaining(t(since)),
                Duration::from_secs(want),
                "{failures} {since}"
            );
        }
    }

    #[test]
    fn backoff_counts_failures_after_the_last_success() {
        let t = |s: i64| Timestamp::from_second(s).unwrap();
        let b = Backoff::from_finished([(false, t(1)), (true, t(2)), (false, t(3)), (false, t(5))]);
        assert_eq!(
            b,
            Backoff {
                failures: 2,
                last_failure: Some(t(5))
            }
        );
        assert_eq!(
            Backoff::from_finished([(true, t(9)), (false, t(3))]),
            Backoff::default()
        );
    }
}
