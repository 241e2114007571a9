//! What the workload controllers read off pods (upstream's podutil and controller_utils): is it
//! active, ready, available, and in which order a controller gives pods up. No IO.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Pod;
use std::cmp::{Ordering, Reverse};

/// The annotation that tells a controller which pods to remove first when scaling down (lower
/// first).
pub const DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Not finished and not being deleted: a pod that counts toward its controller's replicas.
pub fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && pod.metadata.deletion_timestamp.is_none()
}

fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// The pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// When the pod last turned ready (its Ready condition's lastTransitionTime).
pub fn ready_since(pod: &Pod) -> Option<Timestamp> {
    ready_condition(pod)
        .filter(|c| c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

/// Ready for at least `min_ready_seconds` at `now` (upstream's IsPodAvailable).
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    ready_since(pod)
        .is_some_and(|since| since + SignedDuration::from_secs(i64::from(min_ready_seconds)) < now)
}

fn phase_rank(pod: &Pod) -> u8 {
    match phase(pod) {
        "Pending" => 0,
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DELETION_COST_ANNOTATION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The highest restart count among regular containers, then among restartable init
/// containers (sidecars).
fn max_restarts(pod: &Pod) -> (i32, i32) {
    let Some(status) = pod.status.as_ref() else {
        return (0, 0);
    };
    let regular = status
        .container_statuses
        .iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    let sidecars: Vec<&str> = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    let sidecar = status
        .init_container_statuses
        .iter()
        .flatten()
        .filter(|c| sidecars.contains(&c.name.as_str()))
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    (regular, sidecar)
}

/// log2 of the age at `now`, in nanoseconds, or -1 for no age (upstream's logarithmic rank:
/// pods of about the same age rank the same, so a scale-down does not always take the newest).
fn log_rank(t: Timestamp, now: Timestamp) -> i64 {
    let age = now.duration_since(t).as_nanos();
    if age > 0 {
        (age as f64).log2() as i64
    } else {
        -1
    }
}

/// Younger first on a logarithmic scale, a missing time counting as the youngest (upstream's
/// afterOrZero): `None` sorts before every age.
fn age_rank(t: Option<Timestamp>, now: Timestamp) -> Option<i64> {
    t.map(|t| log_rank(t, now))
}

/// A pod with the number of active pods of its controller family on the same node.
pub struct Ranked<'a> {
    pub pod: &'a Pod,
    pub colocated: usize,
}

/// Upstream's ActivePodsWithRanks order, what a scale-down removes first: unassigned before
/// assigned, Pending < Unknown < Running, not ready before ready, lower deletion cost first,
/// more pods of the family on the same node first, ready for less time first, more restarts
/// first, newer first, then by uid.
///
/// A comparison of one key per pod, so a total order: upstream's Less breaks ties by uid only
/// between pods whose times differ within one rank, which is not transitive (Go's sort accepts
/// that, Rust's sort panics on it). Wherever upstream says "less" this says so too; pods
/// upstream calls equal are ordered by uid.
pub fn deletion_order(a: &Ranked, b: &Ranked, now: Timestamp) -> Ordering {
    deletion_key(a, now).cmp(&deletion_key(b, now))
}

type DeletionKey<'a> = (
    bool,
    u8,
    bool,
    i32,
    Reverse<usize>,
    Option<Option<i64>>,
    Reverse<(i32, i32)>,
    Option<i64>,
    &'a str,
);

fn deletion_key<'a>(r: &Ranked<'a>, now: Timestamp) -> DeletionKey<'a> {
    let pod = r.pod;
    let assigned = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    let ready = is_ready(pod);
    let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
    (
        assigned,
        phase_rank(pod),
        ready,
        deletion_cost(pod),
        Reverse(r.colocated),
        // Compared only between ready pods (`ready` is equal by now).
        ready.then(|| age_rank(ready_since(pod), now)),
        Reverse(max_restarts(pod)),
        age_rank(created, now),
        pod.metadata.uid.as_deref().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, node: &str, phase: &str, ready: Option<&str>, created: &str) -> Pod {
        let mut conditions = vec![];
        if let Some(since) = ready {
            conditions
                .push(json!({"type": "Ready", "status": "True", "lastTransitionTime": since}));
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "uid": name, "creationTimestamp": created},
            "spec": {"nodeName": node, "containers": []},
            "status": {"phase": phase, "conditions": conditions},
        }))
        .unwrap()
    }

    fn order(pods: &[Pod], colocated: &[usize]) -> Vec<String> {
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let mut ranked: Vec<Ranked> = pods
            .iter()
            .zip(colocated)
            .map(|(pod, &colocated)| Ranked { pod, colocated })
            .collect();
        ranked.sort_by(|a, b| deletion_order(a, b, now));
        ranked
            .iter()
            .map(|r| r.pod.metadata.name.clone().unwrap())
            .collect()
    }

    const T: &str = "2026-01-01T00:00:00Z";

    #[test]
    fn scale_down_removes_the_least_useful_pods_first() {
        let pods = [
            pod("running-ready", "n1", "Running", Some(T), T),
            pod("unassigned", "", "Pending", None, T),
            pod("pending", "n1", "Pending", None, T),
            pod("unknown", "n1", "Unknown", None, T),
            pod("running", "n1", "Running", None, T),
        ];
        assert_eq!(
            order(&pods, &[0; 5]),
            [
                "unassigned",
                "pending",
                "unknown",
                "running",
                "running-ready"
            ]
        );
    }

    #[test]
    fn among_equals_cost_then_doubled_up_then_newer_first() {
        let mut cheap = pod("cheap", "n1", "Running", Some(T), T);
        cheap.metadata.annotations =
            Some([(DELETION_COST_ANNOTATION.to_string(), "-5".to_string())].into());
        let pods = [
            pod("old", "n1", "Running", Some(T), "2025-01-01T00:00:00Z"),
            pod("crowded", "n2", "Running", Some(T), "2025-01-01T00:00:00Z"),
            // Ready much more recently: goes before the others.
            pod("fresh", "n1", "Running", Some("2026-01-01T11:59:00Z"), T),
            cheap,
        ];
        assert_eq!(
            order(&pods, &[1, 3, 1, 1]),
            ["cheap", "crowded", "fresh", "old"]
        );
    }

    #[test]
    fn the_order_is_total_for_pods_created_about_together() {
        // Upstream's Less is not transitive here: a = b (same time), a < c and c < b by uid
        // (times differ within one rank). A sort must not see that.
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let mut pods: Vec<Pod> = (0..60)
            .map(|i| {
                let created = format!("2026-01-01T11:59:{:02}Z", i % 3);
                pod(
                    &format!("p{:03}", (i * 37) % 60),
                    "",
                    "Pending",
                    None,
                    &created,
                )
            })
            .collect();
        pods.reverse();
        let ranked: Vec<Ranked> = pods
            .iter()
            .map(|pod| Ranked { pod, colocated: 0 })
            .collect();
        for a in &ranked {
            for b in &ranked {
                for c in &ranked {
                    let at_most = |x, y| deletion_order(x, y, now) != Ordering::Greater;
                    if at_most(a, b) && at_most(b, c) {
                        assert!(at_most(a, c));
                    }
                }
            }
        }
        assert_eq!(order(&pods, &[0; 60]).len(), 60);
    }

    #[test]
    fn availability_waits_min_ready_seconds() {
        let p = pod("p", "n1", "Running", Some(T), T);
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert!(is_available(&p, 0, at(T)));
        assert!(!is_available(&p, 10, at("2026-01-01T00:00:10Z")));
        assert!(is_available(&p, 10, at("2026-01-01T00:00:11Z")));
        let unready = pod("u", "n1", "Running", None, T);
        assert!(!is_available(&unready, 0, at(T)));
        let mut gone = p.clone();
        gone.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(T)));
        assert!(!is_active(&gone));
    }
}
