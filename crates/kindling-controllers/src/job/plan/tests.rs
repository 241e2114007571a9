use super::*;
use serde_json::{json, Value};

const NOW: &str = "2026-01-01T00:10:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn job(spec: Value, status: Value) -> Job {
    let mut s = json!({"parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
        "podReplacementPolicy": "TerminatingOrFailed", "suspend": false,
        "selector": {"matchLabels": {"j": "x"}},
        "template": {"spec": {"restartPolicy": "Never", "containers": []}}});
    for (k, v) in spec.as_object().unwrap() {
        s[k] = v.clone();
    }
    serde_json::from_value(
        json!({"metadata": {"name": "j", "namespace": "ns", "uid": "job"},
        "spec": s, "status": status}),
    )
    .unwrap()
}

/// A pod `name` in `phase` (with `finished` seconds before NOW as its exit time), holding the
/// finalizer unless `counted`.
fn pod(name: &str, phase: &str, index: Option<i32>, counted: bool) -> Pod {
    let mut annotations = json!({});
    if let Some(ix) = index {
        annotations[indexes::COMPLETION_INDEX] = json!(ix.to_string());
    }
    let finalizers = if counted {
        json!([])
    } else {
        json!([TRACKING_FINALIZER])
    };
    let exit = if phase == "Failed" { 1 } else { 0 };
    let state = if matches!(phase, "Failed" | "Succeeded") {
        json!({"terminated": {"exitCode": exit, "finishedAt": "2026-01-01T00:09:55Z"}})
    } else {
        json!({"running": {}})
    };
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "ns", "uid": name, "annotations": annotations,
                     "finalizers": finalizers, "creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": {"phase": phase, "containerStatuses": [{"name": "c", "image": "i", "imageID": "",
            "ready": phase == "Running", "restartCount": 0, "state": state}]}
    }))
    .unwrap()
}

fn run(job: &Job, pods: &[Pod]) -> Decision {
    let refs: Vec<&Pod> = pods.iter().collect();
    sync(&Input {
        job,
        pods: &refs,
        removing: &HashSet::new(),
        expectations_met: true,
        now: now(),
    })
}

fn condition_types(s: &JobStatus) -> Vec<String> {
    s.conditions
        .iter()
        .flatten()
        .map(|c| format!("{}={}", c.type_, c.reason.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn pods_are_created_up_to_parallelism_and_remaining_completions() {
    // (completions, parallelism, running, succeeded and uncounted, want creates)
    let cases = [
        (Some(5), 2, 0, 0, 2),
        (Some(5), 2, 1, 0, 1),
        (Some(5), 2, 0, 4, 1),
        (Some(5), 2, 2, 3, 0),
        (None, 3, 0, 0, 3),
        (None, 3, 1, 1, 0),
    ];
    for (completions, parallelism, running, done, want) in cases {
        let j = job(
            json!({"completions": completions, "parallelism": parallelism}),
            json!({}),
        );
        let mut pods: Vec<Pod> = (0..running)
            .map(|i| pod(&format!("r{i}"), "Running", None, false))
            .collect();
        pods.extend((0..done).map(|i| pod(&format!("s{i}"), "Succeeded", None, false)));
        let d = run(&j, &pods);
        assert_eq!(
            d.create.len(),
            want,
            "{completions:?} {parallelism} {running} {done}"
        );
        assert_eq!(d.status.active, Some(running + want as i32));
    }
}

#[test]
fn finished_pods_are_listed_then_counted_and_the_job_completes() {
    let j = job(
        json!({"completions": 2, "parallelism": 2}),
        json!({"succeeded": 1}),
    );
    let d = run(
        &j,
        &[
            pod("a", "Succeeded", None, false),
            pod("b", "Succeeded", None, true),
        ],
    );
    // "a" is listed as uncounted and released; the Job is done once it is counted.
    assert_eq!(
        d.status
            .uncounted_terminated_pods
            .as_ref()
            .unwrap()
            .succeeded,
        Some(vec!["a".to_string()])
    );
    assert_eq!(
        d.remove_finalizers,
        vec![("a".to_string(), "a".to_string())]
    );
    assert_eq!(
        condition_types(&d.status),
        ["SuccessCriteriaMet=CompletionsReached"]
    );
    let (status, finished) = after_finalizers(&d, &HashSet::new(), now());
    assert!(finished);
    assert_eq!(status.succeeded, Some(2));
    assert_eq!(
        status.uncounted_terminated_pods.clone().unwrap().succeeded,
        None
    );
    assert_eq!(
        condition_types(&status),
        [
            "SuccessCriteriaMet=CompletionsReached",
            "Complete=CompletionsReached"
        ]
    );
    assert!(status.completion_time.is_some());
    // A finalizer that could not be removed keeps the pod uncounted and the Job open.
    let (status, finished) = after_finalizers(&d, &HashSet::from(["a".to_string()]), now());
    assert!(!finished);
    assert_eq!(status.succeeded, Some(1));
}

#[test]
fn failures_back_off_then_exceed_the_backoff_limit() {
    // One failure 5 s ago: the replacement waits 5 more seconds.
    let j = job(json!({"completions": 1, "backoffLimit": 1}), json!({}));
    let d = run(&j, &[pod("f1", "Failed", None, false)]);
    assert!(d.create.is_empty());
    assert_eq!(d.requeue_after, Some(Duration::from_secs(5)));
    assert_eq!(
        d.status.uncounted_terminated_pods.as_ref().unwrap().failed,
        Some(vec!["f1".to_string()])
    );
    // The second failure passes the limit: FailureTarget now, Failed once counted.
    let j = job(
        json!({"completions": 1, "backoffLimit": 1}),
        json!({"failed": 1}),
    );
    let d = run(
        &j,
        &[
            pod("f1", "Failed", None, true),
            pod("f2", "Failed", None, false),
        ],
    );
    assert_eq!(
        condition_types(&d.status),
        ["FailureTarget=BackoffLimitExceeded"]
    );
    let (status, finished) = after_finalizers(&d, &HashSet::new(), now());
    assert!(finished);
    assert_eq!(status.failed, Some(2));
    assert_eq!(
        condition_types(&status),
        [
            "FailureTarget=BackoffLimitExceeded",
            "Failed=BackoffLimitExceeded"
        ]
    );
    let events = finished_events(&status, Some(1), d.finished.as_ref().unwrap());
    assert_eq!(events[0].reason, "BackoffLimitExceeded");
    assert_eq!(
        events[0].message,
        "Job has reached the specified backoff limit"
    );
}

#[test]
fn a_failing_job_deletes_its_running_pods_and_waits_for_them() {
    let j = job(
        json!({"completions": 3, "parallelism": 2, "backoffLimit": 0}),
        json!({}),
    );
    let d = run(
        &j,
        &[
            pod("f", "Failed", None, false),
            pod("r", "Running", None, false),
        ],
    );
    assert_eq!(
        d.delete.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(),
        ["r"]
    );
    assert_eq!(d.status.terminating, Some(1));
    assert_eq!(d.status.active, Some(0));
    let (status, finished) = after_finalizers(&d, &HashSet::new(), now());
    assert!(!finished, "the deleted pod is still terminating");
    assert_eq!(status.failed, Some(2), "the running pod counts as failed");
}

#[test]
fn deadline_fails_the_job_and_otherwise_sets_a_timer() {
    let started = json!({"startTime": "2026-01-01T00:09:00Z"});
    let d = run(
        &job(json!({"activeDeadlineSeconds": 100}), started.clone()),
        &[pod("r", "Running", None, false)],
    );
    assert_eq!(d.requeue_after, Some(Duration::from_secs(40)));
    let d = run(
        &job(json!({"activeDeadlineSeconds": 60}), started),
        &[pod("r", "Running", None, false)],
    );
    assert_eq!(
        condition_types(&d.status),
        ["FailureTarget=DeadlineExceeded"]
    );
    assert_eq!(d.delete.len(), 1);
}

#[test]
fn suspended_jobs_delete_their_pods_and_say_so() {
    let j = job(
        json!({"suspend": true, "completions": 2, "parallelism": 2}),
        json!({}),
    );
    let d = run(
        &j,
        &[
            pod("a", "Running", None, false),
            pod("b", "Pending", None, false),
        ],
    );
    assert_eq!(d.delete.len(), 2);
    assert!(d.create.is_empty());
    assert!(d.status.start_time.is_none());
    assert_eq!(condition_types(&d.status), ["Suspended=JobSuspended"]);
    assert_eq!(d.events[0].reason, "Suspended");
    // Resuming flips the condition and restarts the clock.
    let resumed = job(
        json!({"completions": 2, "parallelism": 2}),
        json!({"conditions": [
        {"type": "Suspended", "status": "True", "reason": "JobSuspended", "message": "Job suspended"}]}),
    );
    let d = run(&resumed, &[]);
    assert_eq!(d.create.len(), 2);
    assert_eq!(condition_types(&d.status), ["Suspended=JobResumed"]);
    assert_eq!(d.status.start_time, Some(Time(now())));
}

#[test]
fn indexed_jobs_create_missing_indexes_and_track_completed_ones() {
    let j = job(
        json!({"completionMode": "Indexed", "completions": 4, "parallelism": 3}),
        json!({"completedIndexes": "0"}),
    );
    let pods = [
        pod("p1", "Succeeded", Some(1), false),
        pod("p2", "Running", Some(2), false),
        pod("dup", "Running", Some(2), false),
    ];
    let d = run(&j, &pods);
    // A repeated index is deleted first; creation waits for the next sync.
    assert_eq!(d.delete.len(), 1);
    assert!(d.create.is_empty());
    assert_eq!(d.status.completed_indexes.as_deref(), Some("0,1"));
    assert_eq!(d.status.succeeded, Some(2));
    let d = run(&j, &[pod("p2", "Running", Some(2), false)]);
    assert_eq!(d.create, vec![Some(1), Some(3)]);
}

#[test]
fn pod_failure_policy_fails_or_ignores() {
    let rules = json!({"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}]});
    let j = job(
        json!({"completions": 1, "podFailurePolicy": rules, "podReplacementPolicy": "Failed"}),
        json!({}),
    );
    let d = run(&j, &[pod("f", "Failed", None, false)]);
    assert_eq!(
        condition_types(&d.status),
        ["FailureTarget=PodFailurePolicy"]
    );
    let rules =
        json!({"rules": [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1]}}]});
    let j = job(
        json!({"completions": 1, "backoffLimit": 0, "podFailurePolicy": rules, "podReplacementPolicy": "Failed"}),
        json!({}),
    );
    let d = run(&j, &[pod("f", "Failed", None, false)]);
    assert!(condition_types(&d.status).is_empty());
    assert_eq!(
        d.create.len(),
        1,
        "an ignored failure neither counts nor backs off"
    );
    assert_eq!(
        d.status.uncounted_terminated_pods.as_ref().unwrap().failed,
        None
    );
}

#[test]
fn backoff_limit_per_index_fails_indexes() {
    let j = job(
        json!({"completionMode": "Indexed", "completions": 2, "parallelism": 2,
        "backoffLimitPerIndex": 0, "backoffLimit": 2147483647}),
        json!({}),
    );
    let d = run(
        &j,
        &[
            pod("f0", "Failed", Some(0), false),
            pod("s1", "Succeeded", Some(1), false),
        ],
    );
    assert_eq!(d.status.failed_indexes.as_deref(), Some("0"));
    assert_eq!(condition_types(&d.status), ["FailureTarget=FailedIndexes"]);
}

#[test]
fn success_policy_finishes_early() {
    let j = job(
        json!({"completionMode": "Indexed", "completions": 3, "parallelism": 3,
        "successPolicy": {"rules": [{"succeededIndexes": "0"}]}}),
        json!({}),
    );
    let d = run(
        &j,
        &[
            pod("s0", "Succeeded", Some(0), false),
            pod("r1", "Running", Some(1), false),
        ],
    );
    assert_eq!(
        condition_types(&d.status),
        ["SuccessCriteriaMet=SuccessPolicy"]
    );
    assert_eq!(d.delete.len(), 1);
    assert_eq!(d.finished.as_ref().unwrap().type_, COMPLETE);
}

#[test]
fn unmet_expectations_hold_creation_back() {
    let j = job(json!({"completions": 3, "parallelism": 3}), json!({}));
    let refs: Vec<&Pod> = Vec::new();
    let d = sync(&Input {
        job: &j,
        pods: &refs,
        removing: &HashSet::new(),
        expectations_met: false,
        now: now(),
    });
    assert!(d.create.is_empty());
    // Pods whose finalizer removal is in flight are not counted again.
    let p = pod("a", "Succeeded", None, false);
    let refs = vec![&p];
    let removing = HashSet::from(["a".to_string()]);
    let d = sync(&Input {
        job: &j,
        pods: &refs,
        removing: &removing,
        expectations_met: true,
        now: now(),
    });
    assert!(d.remove_finalizers.is_empty());
    assert_eq!(d.status.uncounted_terminated_pods.unwrap().succeeded, None);
}
