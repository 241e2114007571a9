use super::*;
use serde_json::json;

const NOW: &str = "2026-01-01T12:00:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn set(extra: serde_json::Value) -> StatefulSet {
    let mut v = json!({
        "metadata": {"name": "web", "namespace": "default", "uid": "set-uid", "generation": 2},
        "spec": {
            "replicas": 3,
            "serviceName": "nginx",
            "selector": {"matchLabels": {"app": "web"}},
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "c", "image": "v1"}]}},
        },
    });
    merge(&mut v, extra);
    serde_json::from_value(v).unwrap()
}

fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn template(image: &str) -> PodTemplateSpec {
    serde_json::from_value(json!({"metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": image}]}}))
    .unwrap()
}

/// A pod of `set` at `revision`: "ready", "pending", "notready", "failed" or "terminating".
fn pod(s: &StatefulSet, ordinal: i32, revision: &str, state: &str) -> Pod {
    let mut p = new_pod(s, &template("v1"), revision, ordinal);
    p.metadata.uid = Some(format!("pod-{ordinal}"));
    let (phase, ready) = match state {
        "pending" => ("Pending", false),
        "notready" => ("Running", false),
        "failed" => ("Failed", false),
        _ => ("Running", true),
    };
    let mut status = json!({"phase": phase});
    if ready {
        status["conditions"] = json!([{"type": "Ready", "status": "True",
            "lastTransitionTime": "2026-01-01T00:00:00Z"}]);
    }
    p.status = Some(serde_json::from_value(status).unwrap());
    if state == "terminating" {
        p.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
    }
    p
}

fn run(s: &StatefulSet, pods: &[Pod], claims: &BTreeMap<String, PersistentVolumeClaim>) -> Plan {
    let (t1, t2) = (template("v1"), template("v2"));
    plan(&Input {
        set: s,
        current: Revision {
            name: "web-1",
            template: &t1,
        },
        update: Revision {
            name: "web-2",
            template: &t2,
        },
        collision_count: 0,
        pods: pods.iter().collect(),
        claims,
        now: now(),
    })
}

/// The actions as short strings: `create web-0@web-2`, `delete web-2`, `claims web-0`, …
fn summary(p: &Plan) -> Vec<String> {
    p.actions
        .iter()
        .map(|a| match a {
            Action::CreatePod {
                pod,
                missing_claims,
            } => {
                let mut s = format!(
                    "create {}@{}",
                    pod.metadata.name.as_deref().unwrap(),
                    history::pod_revision(pod)
                );
                for c in missing_claims {
                    s.push_str(&format!(" +{}", c.metadata.name.as_deref().unwrap()));
                }
                s
            }
            Action::CreateClaims { pod, .. } => {
                format!("claims {}", pod.metadata.name.as_deref().unwrap())
            }
            Action::FixIdentity { pod, .. } => format!("identity {pod}"),
            Action::SetClaimOwners { claim, owners } => format!(
                "owners {} {:?}",
                claim.metadata.name.as_deref().unwrap(),
                owners.iter().map(|o| o.kind.as_str()).collect::<Vec<_>>()
            ),
            Action::DeletePod { pod, .. } => {
                format!("delete {}", pod.metadata.name.as_deref().unwrap())
            }
        })
        .collect()
}

fn no_claims() -> BTreeMap<String, PersistentVolumeClaim> {
    BTreeMap::new()
}

#[test]
fn names_and_ordinals() {
    assert_eq!(parent_and_ordinal("web-0"), Some(("web", 0)));
    assert_eq!(parent_and_ordinal("my-web-12"), Some(("my-web", 12)));
    assert_eq!(parent_and_ordinal("web"), None);
    assert_eq!(parent_and_ordinal("web-x1"), None);
    assert_eq!(parent_and_ordinal("web-"), None);
    assert_eq!(parent_and_ordinal("web-99999999999"), None);
}

#[test]
fn a_new_pod_has_its_identity() {
    let s = set(
        json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}],
        "template": {"spec": {"volumes": [{"name": "data", "emptyDir": {}}, {"name": "x", "emptyDir": {}}]}}}}),
    );
    let t: PodTemplateSpec =
        serde_json::from_value(serde_json::to_value(&s.spec.as_ref().unwrap().template).unwrap())
            .unwrap();
    let p = new_pod(&s, &t, "web-abc", 1);
    assert_eq!(p.metadata.name.as_deref(), Some("web-1"));
    assert_eq!(p.metadata.generate_name.as_deref(), Some("web-"));
    let labels = p.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[POD_NAME_LABEL], "web-1");
    assert_eq!(labels[POD_INDEX_LABEL], "1");
    assert_eq!(labels["controller-revision-hash"], "web-abc");
    assert_eq!(labels["app"], "web");
    let spec = p.spec.as_ref().unwrap();
    assert_eq!(spec.hostname.as_deref(), Some("web-1"));
    assert_eq!(spec.subdomain.as_deref(), Some("nginx"));
    let volumes = spec.volumes.as_ref().unwrap();
    assert_eq!(volumes.len(), 2, "the claim replaces the template's `data`");
    assert_eq!(
        volumes[0]
            .persistent_volume_claim
            .as_ref()
            .unwrap()
            .claim_name,
        "data-web-1"
    );
    assert_eq!(volumes[1].name, "x");
    let owner = &p.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.controller),
        ("StatefulSet", Some(true))
    );
    assert!(identity_matches(&s, &p) && storage_matches(&s, &p));
    let claims = claims_for(&s, 1);
    assert_eq!(claims[0].metadata.name.as_deref(), Some("data-web-1"));
    assert_eq!(claims[0].metadata.labels.as_ref().unwrap()["app"], "web");
}

#[test]
fn ordered_ready_creates_one_pod_at_a_time() {
    let s = set(json!({}));
    assert_eq!(summary(&run(&s, &[], &no_claims())), ["create web-0@web-2"]);
    let p0 = pod(&s, 0, "web-2", "pending");
    assert!(summary(&run(&s, &[p0], &no_claims())).is_empty());
    let p0 = pod(&s, 0, "web-2", "notready");
    assert!(summary(&run(&s, &[p0], &no_claims())).is_empty());
    let p0 = pod(&s, 0, "web-2", "ready");
    assert_eq!(
        summary(&run(&s, std::slice::from_ref(&p0), &no_claims())),
        ["create web-1@web-2"]
    );
    // A hole is filled before anything else.
    let p2 = pod(&s, 2, "web-2", "ready");
    assert_eq!(
        summary(&run(&s, &[p0, p2], &no_claims())),
        ["create web-1@web-2"]
    );
}

#[test]
fn ordered_ready_waits_min_ready_seconds() {
    let s = set(json!({"spec": {"minReadySeconds": 60}}));
    // Ready since 00:00, now 12:00: available.
    let p0 = pod(&s, 0, "web-2", "ready");
    assert_eq!(
        summary(&run(&s, std::slice::from_ref(&p0), &no_claims())),
        ["create web-1@web-2"]
    );
    let mut fresh = p0;
    fresh.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].last_transition_time =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-01-01T11:59:30Z".parse().unwrap(),
        ));
    assert!(summary(&run(&s, &[fresh], &no_claims())).is_empty());
}

#[test]
fn parallel_creates_and_deletes_at_once() {
    let s = set(json!({"spec": {"podManagementPolicy": "Parallel"}}));
    assert_eq!(
        summary(&run(&s, &[], &no_claims())),
        [
            "create web-0@web-2",
            "create web-1@web-2",
            "create web-2@web-2"
        ]
    );
    let s = set(json!({"spec": {"podManagementPolicy": "Parallel", "replicas": 1}}));
    let pods: Vec<Pod> = (0..3).map(|i| pod(&s, i, "web-2", "notready")).collect();
    assert_eq!(
        summary(&run(&s, &pods, &no_claims())),
        ["delete web-2", "delete web-1"]
    );
}

#[test]
fn scale_down_goes_in_reverse_order_one_at_a_time() {
    let s = set(json!({"spec": {"replicas": 1}}));
    let pods: Vec<Pod> = (0..3).map(|i| pod(&s, i, "web-2", "ready")).collect();
    assert_eq!(summary(&run(&s, &pods, &no_claims())), ["delete web-2"]);
    // web-2 terminating: wait for it.
    let mut pods2 = pods.clone();
    pods2[2] = pod(&s, 2, "web-2", "terminating");
    assert!(summary(&run(&s, &pods2, &no_claims())).is_empty());
    // An unhealthy web-1 blocks web-2's deletion only if it is not the first unhealthy pod.
    let mut pods3 = pods.clone();
    pods3[2] = pod(&s, 2, "web-2", "notready");
    assert_eq!(summary(&run(&s, &pods3, &no_claims())), ["delete web-2"]);
    let mut pods4 = pods;
    pods4[2] = pod(&s, 2, "web-2", "notready");
    pods4.push(pod(&s, 3, "web-2", "notready"));
    assert!(summary(&run(&s, &pods4, &no_claims())).is_empty());
}

#[test]
fn a_finished_pod_is_replaced() {
    let s = set(json!({}));
    let pods = vec![pod(&s, 0, "web-2", "failed")];
    assert_eq!(summary(&run(&s, &pods, &no_claims())), ["delete web-0"]);
}

#[test]
fn rolling_update_goes_from_the_top_down_to_the_partition() {
    // (partition, maxUnavailable, policy) → deletions of pods all at the old revision.
    let cases: &[(i32, serde_json::Value, &str, &[&str])] = &[
        (0, json!(null), "OrderedReady", &["delete web-2"]),
        (2, json!(null), "OrderedReady", &["delete web-2"]),
        (3, json!(null), "OrderedReady", &[]),
        (
            0,
            json!(2),
            "OrderedReady",
            &["delete web-2", "delete web-1"],
        ),
        (
            0,
            json!("100%"),
            "Parallel",
            &["delete web-2", "delete web-1", "delete web-0"],
        ),
        (
            1,
            json!("100%"),
            "Parallel",
            &["delete web-2", "delete web-1"],
        ),
    ];
    for (partition, mu, policy, want) in cases {
        let s = set(json!({"spec": {"podManagementPolicy": policy,
            "updateStrategy": {"rollingUpdate": {"partition": partition, "maxUnavailable": mu}}}}));
        let pods: Vec<Pod> = (0..3).map(|i| pod(&s, i, "web-1", "ready")).collect();
        assert_eq!(
            summary(&run(&s, &pods, &no_claims())),
            *want,
            "{partition} {mu} {policy}"
        );
    }
    // One pod down already uses the budget of one.
    let s = set(json!({}));
    let pods = vec![
        pod(&s, 0, "web-1", "ready"),
        pod(&s, 1, "web-1", "ready"),
        pod(&s, 2, "web-2", "ready"),
    ];
    assert_eq!(summary(&run(&s, &pods, &no_claims())), ["delete web-1"]);
    let s = set(json!({"spec": {"podManagementPolicy": "Parallel"}}));
    let pods = vec![
        pod(&s, 0, "web-1", "ready"),
        pod(&s, 1, "web-1", "ready"),
        pod(&s, 2, "web-2", "notready"),
    ];
    assert!(summary(&run(&s, &pods, &no_claims())).is_empty());
    // OnDelete never deletes for an update.
    let s = set(json!({"spec": {"updateStrategy": {"type": "OnDelete", "rollingUpdate": null}}}));
    let pods: Vec<Pod> = (0..3).map(|i| pod(&s, i, "web-1", "ready")).collect();
    assert!(summary(&run(&s, &pods, &no_claims())).is_empty());
}

#[test]
fn pods_below_the_partition_are_recreated_at_the_current_revision() {
    let s = set(json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 2}}}}));
    let pods = vec![pod(&s, 0, "web-1", "ready"), pod(&s, 2, "web-2", "ready")];
    assert_eq!(
        summary(&run(&s, &pods, &no_claims())),
        ["create web-1@web-1"]
    );
    let pods = vec![pod(&s, 0, "web-1", "ready"), pod(&s, 1, "web-1", "ready")];
    assert_eq!(
        summary(&run(&s, &pods, &no_claims())),
        ["create web-2@web-2"]
    );
}

#[test]
fn status_counts_and_completes_the_rollout() {
    let s = set(json!({}));
    let pods: Vec<Pod> = (0..3).map(|i| pod(&s, i, "web-2", "ready")).collect();
    let p = run(&s, &pods, &no_claims());
    let st = &p.status;
    assert_eq!(st.replicas, 3);
    assert_eq!(st.ready_replicas, Some(3));
    assert_eq!(st.available_replicas, Some(3));
    assert_eq!(st.updated_replicas, Some(3));
    // Every pod updated and ready: the update revision became the current one.
    assert_eq!(st.current_revision.as_deref(), Some("web-2"));
    assert_eq!(st.current_replicas, Some(3));
    assert_eq!(st.observed_generation, Some(2));
    assert_eq!(st.collision_count, Some(0));

    let pods = vec![
        pod(&s, 0, "web-1", "ready"),
        pod(&s, 1, "web-1", "ready"),
        pod(&s, 2, "web-2", "pending"),
    ];
    let st = run(&s, &pods, &no_claims()).status;
    assert_eq!(
        (
            st.replicas,
            st.ready_replicas,
            st.current_replicas,
            st.updated_replicas
        ),
        (3, Some(2), Some(2), Some(1))
    );
    assert_eq!(st.current_revision.as_deref(), Some("web-1"));
    assert!(status_differs(&s, &st));
}

#[test]
fn claims_are_created_with_the_pod_and_owned_by_the_retention_policy() {
    let s = set(
        json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"]}}]}}),
    );
    assert_eq!(
        summary(&run(&s, &[], &no_claims())),
        ["create web-0@web-2 +data-web-0"]
    );
    let mut claims = BTreeMap::new();
    claims.insert("data-web-0".to_string(), claims_for(&s, 0).remove(0));
    assert_eq!(summary(&run(&s, &[], &claims)), ["create web-0@web-2"]);

    // (whenDeleted, whenScaled, pod in range) → owners.
    let cases = [
        ("Retain", "Retain", true, vec![]),
        ("Delete", "Retain", true, vec!["StatefulSet"]),
        ("Retain", "Delete", true, vec![]),
        ("Retain", "Delete", false, vec!["Pod"]),
        ("Delete", "Delete", true, vec!["StatefulSet"]),
        ("Delete", "Delete", false, vec!["Pod"]),
    ];
    for (when_deleted, when_scaled, in_range, want) in cases {
        let s = set(json!({"spec": {"replicas": if in_range { 3 } else { 1 },
            "volumeClaimTemplates": [{"metadata": {"name": "data"}}],
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": when_deleted, "whenScaled": when_scaled}}}));
        let p = pod(&s, 2, "web-2", "ready");
        let claim = claims_for(&s, 2).remove(0);
        let owners: Vec<String> = claim_owners(&claim, &s, &p)
            .iter()
            .map(|o| o.kind.clone())
            .collect();
        assert_eq!(owners, want, "{when_deleted} {when_scaled} {in_range}");
        let mut fixed = claim.clone();
        fixed.metadata.owner_references = Some(claim_owners(&claim, &s, &p));
        assert!(claim_owners_up_to_date(&fixed, &s, &p));
        assert_eq!(claim_owners_up_to_date(&claim, &s, &p), want.is_empty());
    }
}

#[test]
fn a_claim_still_owned_by_an_earlier_pod_holds_the_pod_back() {
    let s = set(
        json!({"spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}}],
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"}}}),
    );
    let old = pod(&s, 0, "web-1", "ready");
    let mut claim = claims_for(&s, 0).remove(0);
    claim.metadata.owner_references = Some(vec![owners::controller_ref(&old)]);
    let mut claims = BTreeMap::new();
    claims.insert("data-web-0".to_string(), claim);
    assert!(summary(&run(&s, &[], &claims)).is_empty());
}
