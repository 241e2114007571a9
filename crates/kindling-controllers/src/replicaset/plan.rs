//! What the replica set controller decides, without IO: how many pods to create or delete,
//! in which batches, which pods go first, the pods it creates and the status it reports.

use crate::pods::{self, Ranked};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kindling_api::selector::LabelSelector;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// At most this many pods are created or deleted in one sync (upstream's burstReplicas).
pub const BURST: usize = 500;
/// The first batch of creations is this big; each next one twice the last (upstream's
/// SlowStartInitialBatchSize).
pub const SLOW_START_INITIAL_BATCH: usize = 1;

/// The type of the condition a failed create or delete sets.
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// What a replica set or replication controller asks for.
#[derive(Clone, Debug)]
pub struct Spec {
    pub replicas: i32,
    pub min_ready_seconds: i32,
    pub selector: LabelSelector,
    pub template: Option<PodTemplateSpec>,
}

impl Spec {
    pub fn template_labels(&self) -> BTreeMap<String, String> {
        self.template
            .as_ref()
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .unwrap_or_default()
    }
}

/// One status condition (ReplicaSetCondition and ReplicationControllerCondition are alike).
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub type_: String,
    pub status: String,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub last_transition_time: Option<Time>,
}

/// The status both kinds report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Status {
    pub replicas: i32,
    pub fully_labeled_replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    pub observed_generation: i64,
    pub conditions: Vec<Condition>,
}

impl Status {
    /// The status as a merge patch body: zero counts are left out, as upstream's omitempty
    /// fields are, and no conditions means none.
    pub fn to_patch(&self) -> Value {
        let count = |n: i32| if n == 0 { Value::Null } else { json!(n) };
        let conditions: Vec<Value> = self
            .conditions
            .iter()
            .map(|c| {
                json!({"type": c.type_, "status": c.status, "reason": c.reason,
                       "message": c.message, "lastTransitionTime": c.last_transition_time})
            })
            .collect();
        json!({"status": {
            "replicas": self.replicas,
            "fullyLabeledReplicas": count(self.fully_labeled_replicas),
            "readyReplicas": count(self.ready_replicas),
            "availableReplicas": count(self.available_replicas),
            "observedGeneration": self.observed_generation,
            "conditions": if conditions.is_empty() { Value::Null } else { json!(conditions) },
        }})
    }
}

/// What one sync does about the number of pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manage {
    Create(usize),
    Delete(usize),
    Nothing,
}

/// More pods or fewer, at most [`BURST`] at a time.
pub fn manage(active: usize, replicas: i32) -> Manage {
    let want = replicas.max(0) as usize;
    if active < want {
        Manage::Create((want - active).min(BURST))
    } else if active > want {
        Manage::Delete((active - want).min(BURST))
    } else {
        Manage::Nothing
    }
}

/// Batch sizes for `count` creations: 1, 2, 4, … (upstream's slowStartBatch); the caller stops
/// after the first batch with a failure, so a quota or admission error costs one request, not
/// `count`.
pub fn slow_start_batches(count: usize, initial: usize) -> Vec<usize> {
    let mut batches = Vec::new();
    let mut remaining = count;
    let mut size = initial.max(1).min(remaining);
    while size > 0 {
        batches.push(size);
        remaining -= size;
        size = (2 * size).min(remaining);
    }
    batches
}

/// The `n` pods a scale-down removes (upstream's getPodsToDelete): by
/// [`pods::deletion_order`], with `colocated(pod)` the number of active pods of the controller's
/// family (replica sets of the same Deployment) on the pod's node.
pub fn pods_to_delete<'a>(
    owned: &[&'a Pod],
    colocated: impl Fn(&Pod) -> usize,
    n: usize,
    now: Timestamp,
) -> Vec<&'a Pod> {
    let mut ranked: Vec<Ranked> = owned
        .iter()
        .map(|pod| Ranked {
            pod,
            colocated: colocated(pod),
        })
        .collect();
    if n < ranked.len() {
        ranked.sort_by(|a, b| pods::deletion_order(a, b, now));
    }
    ranked.into_iter().take(n).map(|r| r.pod).collect()
}

/// The pod a controller creates from its template (upstream's GetPodFromTemplate): the
/// template's labels, annotations, finalizers and spec, named `<controller>-<random>`, owned by
/// the controller.
pub fn pod_from_template(
    template: &PodTemplateSpec,
    controller: &str,
    owner: OwnerReference,
) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{controller}-")),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// The status after a sync (upstream's calculateStatus): counts of the active pods the
/// controller owns, the ReplicaFailure condition set by a failed create or delete and removed
/// by a sync without one.
pub fn calculate_status(
    spec: &Spec,
    current: &Status,
    owned: &[&Pod],
    manage_error: Option<&str>,
    generation: i64,
    now: Timestamp,
) -> Status {
    let template = LabelSelector::from_set(
        spec.template_labels()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    );
    let labels = |p: &Pod| p.metadata.labels.clone().unwrap_or_default();
    let mut status = current.clone();
    status.replicas = owned.len() as i32;
    status.fully_labeled_replicas = owned
        .iter()
        .filter(|p| template.matches(&labels(p)))
        .count() as i32;
    status.ready_replicas = owned.iter().filter(|p| pods::is_ready(p)).count() as i32;
    status.available_replicas = owned
        .iter()
        .filter(|p| pods::is_available(p, spec.min_ready_seconds, now))
        .count() as i32;
    status.observed_generation = generation;
    let failing = status.conditions.iter().any(|c| c.type_ == REPLICA_FAILURE);
    match manage_error {
        Some(message) if !failing => {
            let reason = if (owned.len() as i64) < i64::from(spec.replicas) {
                "FailedCreate"
            } else {
                "FailedDelete"
            };
            status.conditions.push(Condition {
                type_: REPLICA_FAILURE.into(),
                status: "True".into(),
                reason: Some(reason.into()),
                message: Some(message.into()),
                last_transition_time: Some(Time(now)),
            });
        }
        None if failing => status.conditions.retain(|c| c.type_ != REPLICA_FAILURE),
        _ => {}
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_start_slow() {
        assert_eq!(slow_start_batches(0, 1), Vec::<usize>::new());
        assert_eq!(slow_start_batches(1, 1), [1]);
        assert_eq!(slow_start_batches(3, 1), [1, 2]);
        assert_eq!(slow_start_batches(10, 1), [1, 2, 4, 3]);
        assert_eq!(slow_start_batches(16, 1), [1, 2, 4, 8, 1]);
    }

    #[test]
    fn manage_creates_or_deletes_the_difference_within_the_burst() {
        assert_eq!(manage(0, 3), Manage::Create(3));
        assert_eq!(manage(3, 3), Manage::Nothing);
        assert_eq!(manage(5, 3), Manage::Delete(2));
        assert_eq!(manage(0, 1000), Manage::Create(BURST));
        assert_eq!(manage(2, 0), Manage::Delete(2));
    }

    fn pod(labels: Value, ready: Option<&str>) -> Pod {
        let conditions = match ready {
            Some(t) => json!([{"type": "Ready", "status": "True", "lastTransitionTime": t}]),
            None => json!([]),
        };
        serde_json::from_value(json!({
            "metadata": {"name": "p", "labels": labels},
            "status": {"phase": "Running", "conditions": conditions},
        }))
        .unwrap()
    }

    fn spec(replicas: i32, min_ready_seconds: i32) -> Spec {
        Spec {
            replicas,
            min_ready_seconds,
            selector: LabelSelector::from_set([("app", "web")]),
            template: Some(
                serde_json::from_value(
                    json!({"metadata": {"labels": {"app": "web", "tier": "front"}}}),
                )
                .unwrap(),
            ),
        }
    }

    #[test]
    fn status_counts_labeled_ready_and_available_pods() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().unwrap();
        let full = json!({"app": "web", "tier": "front"});
        let pods = [
            pod(full.clone(), Some("2026-01-01T00:00:00Z")),
            pod(full, Some("2026-01-01T00:00:55Z")),
            pod(json!({"app": "web"}), None),
        ];
        let owned: Vec<&Pod> = pods.iter().collect();
        let s = calculate_status(&spec(3, 10), &Status::default(), &owned, None, 4, now);
        assert_eq!(
            (
                s.replicas,
                s.fully_labeled_replicas,
                s.ready_replicas,
                s.available_replicas
            ),
            (3, 2, 2, 1)
        );
        assert_eq!(s.observed_generation, 4);
        assert!(s.conditions.is_empty());
    }

    #[test]
    fn a_failed_create_sets_replica_failure_until_a_clean_sync() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let failed = calculate_status(
            &spec(2, 0),
            &Status::default(),
            &[],
            Some("pods \"web-\" is forbidden: exceeded quota"),
            1,
            now,
        );
        assert_eq!(failed.conditions.len(), 1);
        assert_eq!(failed.conditions[0].reason.as_deref(), Some("FailedCreate"));
        let patch = failed.to_patch();
        assert_eq!(patch["status"]["conditions"][0]["type"], "ReplicaFailure");
        assert_eq!(patch["status"]["readyReplicas"], Value::Null);
        // Kept while failing, gone after a sync without error.
        let again = calculate_status(&spec(2, 0), &failed, &[], Some("again"), 1, now);
        assert_eq!(again.conditions, failed.conditions);
        let clean = calculate_status(&spec(2, 0), &failed, &[], None, 1, now);
        assert!(clean.conditions.is_empty());
    }

    #[test]
    fn pods_from_the_template_are_named_after_and_owned_by_the_controller() {
        let owner = OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web-6d4cf56db6".into(),
            uid: "u1".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        let template = spec(1, 0).template.unwrap();
        let p = pod_from_template(&template, "web-6d4cf56db6", owner.clone());
        assert_eq!(p.metadata.generate_name.as_deref(), Some("web-6d4cf56db6-"));
        assert_eq!(p.metadata.owner_references, Some(vec![owner]));
        assert_eq!(p.metadata.labels.unwrap()["tier"], "front");
    }
}
