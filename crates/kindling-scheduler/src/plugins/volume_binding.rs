//! VolumeBinding (upstream's volumebinding plugin and its SchedulerVolumeBinder), pure: the
//! pre-filter checks a pod's claims exist and are usable and splits them into bound ones and
//! WaitForFirstConsumer ones (an unbound claim of any other class keeps the pod out:
//! `pod has unbound immediate PersistentVolumeClaims`); the filter checks, per node, that
//! bound volumes' node affinity allows it and that every delayed claim gets an available
//! volume there or can be provisioned there (its class's provisioner and allowed topologies).
//! What it finds for the chosen node is what the binder does before the pod is bound (static
//! volumes pre-bound to their claims, `volume.kubernetes.io/selected-node` on claims to
//! provision), then it waits for the PV controller to finish.

use crate::framework::{Code, Plugin, Status};
use crate::labels::Labels;
use crate::types::PodInfo;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kindling_api::volumes::{self, NO_PROVISIONER};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub const REASON_BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
pub const REASON_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const REASON_PV_NOT_EXIST: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
pub const REASON_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";

/// The claims, volumes and classes the scheduler has seen.
#[derive(Debug, Default)]
pub struct VolumeView {
    /// By `namespace/name`.
    pub claims: BTreeMap<String, Arc<PersistentVolumeClaim>>,
    pub volumes: BTreeMap<String, Arc<PersistentVolume>>,
    pub classes: BTreeMap<String, Arc<StorageClass>>,
}

/// No claims, volumes or classes (tests, pods without volumes).
pub static NO_VOLUMES: VolumeView = VolumeView {
    claims: BTreeMap::new(),
    volumes: BTreeMap::new(),
    classes: BTreeMap::new(),
};

/// What the pre-filter found for a pod.
#[derive(Clone, Debug, Default)]
pub struct FilterState {
    bound: Vec<Arc<PersistentVolumeClaim>>,
    delayed: Vec<Arc<PersistentVolumeClaim>>,
}

impl FilterState {
    pub fn has_claims(&self) -> bool {
        !self.bound.is_empty() || !self.delayed.is_empty()
    }
}

/// What must happen before the pod is bound to a node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bindings {
    /// (claim `namespace/name`, volume): the volume is pre-bound to the claim.
    pub volumes: Vec<(String, String)>,
    /// Claims (`namespace/name`) to provision on the node: annotated with it.
    pub provisions: Vec<String>,
    /// Every claim the binder waits for (delayed ones).
    pub wait_for: Vec<String>,
}

fn key(claim: &PersistentVolumeClaim) -> String {
    format!(
        "{}/{}",
        claim.metadata.namespace.as_deref().unwrap_or_default(),
        claim.metadata.name.as_deref().unwrap_or_default()
    )
}

pub fn pre_filter(pod: &PodInfo, view: &VolumeView) -> Result<FilterState, String> {
    let mut found = Vec::new();
    for (name, ephemeral) in &pod.claims {
        let Some(claim) = view.claims.get(&format!("{}/{name}", pod.namespace)) else {
            return Err(if *ephemeral {
                format!("waiting for ephemeral volume controller to create the persistentvolumeclaim \"{name}\"")
            } else {
                format!("persistentvolumeclaim \"{name}\" not found")
            });
        };
        if volumes::claim_phase(claim) == "Lost" {
            return Err(format!(
                "persistentvolumeclaim \"{name}\" bound to non-existent persistentvolume \"{}\"",
                volumes::claim_volume_name(claim)
            ));
        }
        if claim.metadata.deletion_timestamp.is_some() {
            return Err(format!("persistentvolumeclaim \"{name}\" is being deleted"));
        }
        if *ephemeral {
            let owned = claim
                .metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && o.uid == pod.uid);
            if !owned {
                return Err(format!(
                    "PVC {}/{name} was not created for pod {}/{} (pod is not owner)",
                    pod.namespace, pod.namespace, pod.name
                ));
            }
        }
        found.push(claim.clone());
    }
    let mut state = FilterState::default();
    let mut immediate = false;
    for claim in found {
        if volumes::is_fully_bound(&claim) {
            state.bound.push(claim);
        } else if volumes::is_delay_binding(
            view.classes
                .get(volumes::claim_class(&claim))
                .map(AsRef::as_ref),
        ) {
            state.delayed.push(claim);
        } else {
            immediate = true;
        }
    }
    if immediate {
        return Err(REASON_UNBOUND_IMMEDIATE.to_string());
    }
    Ok(state)
}

/// The class's `allowedTopologies` let the node have its volumes (none: every node).
fn topology_allows(class: &StorageClass, labels: &Labels) -> bool {
    let terms = class.allowed_topologies.as_deref().unwrap_or_default();
    terms.is_empty()
        || terms.iter().any(|t| {
            t.match_label_expressions.iter().flatten().all(|e| {
                labels
                    .get(&e.key)
                    .is_some_and(|v| e.values.iter().any(|x| x == v))
            })
        })
}

/// Whether the pod's claims can be served on `node`, and how.
pub fn filter(
    state: &FilterState,
    view: &VolumeView,
    node: &str,
    labels: &Labels,
) -> Result<Bindings, Status> {
    let mut node_conflict = false;
    let mut pv_missing = false;
    for claim in &state.bound {
        match view.volumes.get(volumes::claim_volume_name(claim)) {
            None => pv_missing = true,
            Some(pv) if !volumes::node_affinity_allows(pv, node, labels) => node_conflict = true,
            Some(_) => {}
        }
    }
    let mut out = Bindings::default();
    let mut bind_conflict = false;
    let mut chosen = BTreeSet::new();
    for claim in &state.delayed {
        out.wait_for.push(key(claim));
        if let Some(selected) = volumes::selected_node(claim) {
            if selected != node {
                bind_conflict = true;
                break;
            }
            continue;
        }
        let found = volumes::find_matching_volume(
            claim,
            view.volumes.values().map(AsRef::as_ref),
            Some((node, labels)),
            &chosen,
            true,
        );
        if let Some(pv) = found {
            let name = pv.metadata.name.clone().unwrap_or_default();
            chosen.insert(name.clone());
            out.volumes.push((key(claim), name));
            continue;
        }
        let provisionable = view
            .classes
            .get(volumes::claim_class(claim))
            .is_some_and(|c| c.provisioner != NO_PROVISIONER && topology_allows(c, labels));
        if provisionable {
            out.provisions.push(key(claim));
        } else {
            bind_conflict = true;
        }
    }
    let mut reasons = Vec::new();
    if node_conflict {
        reasons.push(REASON_NODE_CONFLICT.to_string());
    }
    if bind_conflict {
        reasons.push(REASON_BIND_CONFLICT.to_string());
    }
    if pv_missing {
        reasons.push(REASON_PV_NOT_EXIST.to_string());
    }
    if reasons.is_empty() {
        return Ok(out);
    }
    Err(Status {
        code: Code::UnschedulableAndUnresolvable,
        plugin: Plugin::VolumeBinding,
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::pod;
    use serde_json::{json, Value};

    fn merged(mut base: Value, extra: Value) -> Value {
        if let Value::Object(m) = extra {
            kindling_api::patch::merge::merge_object(&mut base, m);
        }
        base
    }

    fn claim(name: &str, extra: Value) -> Arc<PersistentVolumeClaim> {
        Arc::new(
            serde_json::from_value(merged(
                json!({"metadata": {"name": name, "namespace": "default", "uid": format!("u-{name}")},
                       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                                "storageClassName": "standard", "volumeMode": "Filesystem"},
                       "status": {"phase": "Pending"}}),
                extra,
            ))
            .unwrap(),
        )
    }

    fn local_pv(name: &str, node: &str, extra: Value) -> Arc<PersistentVolume> {
        Arc::new(
            serde_json::from_value(merged(
                json!({"metadata": {"name": name},
                       "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                "storageClassName": "standard", "volumeMode": "Filesystem",
                                "hostPath": {"path": "/x"},
                                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}},
                       "status": {"phase": "Available"}}),
                extra,
            ))
            .unwrap(),
        )
    }

    fn class(name: &str, mode: &str, provisioner: &str) -> Arc<StorageClass> {
        Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": name}, "provisioner": provisioner,
                "volumeBindingMode": mode}),
            )
            .unwrap(),
        )
    }

    fn view(
        claims: Vec<Arc<PersistentVolumeClaim>>,
        pvs: Vec<Arc<PersistentVolume>>,
    ) -> VolumeView {
        VolumeView {
            claims: claims.into_iter().map(|c| (key(&c), c)).collect(),
            volumes: pvs
                .into_iter()
                .map(|v| (v.metadata.name.clone().unwrap(), v))
                .collect(),
            classes: [
                class("standard", "WaitForFirstConsumer", "rancher.io/local-path"),
                class("fast", "Immediate", "rancher.io/local-path"),
                class("manual", "WaitForFirstConsumer", NO_PROVISIONER),
            ]
            .into_iter()
            .map(|c| (c.metadata.name.clone().unwrap(), c))
            .collect(),
        }
    }

    fn user(claims: &[&str]) -> PodInfo {
        let vols: Vec<Value> = claims
            .iter()
            .map(|c| json!({"name": c, "persistentVolumeClaim": {"claimName": c}}))
            .collect();
        pod(json!({"metadata": {"name": "p", "uid": "pod-uid"}, "spec": {"volumes": vols}}))
    }

    fn labels(node: &str) -> Labels {
        [("kubernetes.io/hostname".to_string(), node.to_string())].into()
    }

    #[test]
    fn pre_filter_rejects_missing_lost_deleting_and_immediate_claims() {
        let bound = json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
                           "spec": {"volumeName": "pv1"}, "status": {"phase": "Bound"}});
        let v = view(
            vec![
                claim("wffc", json!({})),
                claim("bound", bound),
                claim("immediate", json!({"spec": {"storageClassName": "fast"}})),
                claim(
                    "lost",
                    json!({"spec": {"volumeName": "gone"}, "status": {"phase": "Lost"}}),
                ),
                claim(
                    "going",
                    json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
                ),
            ],
            vec![],
        );
        let cases = [
            (vec!["wffc", "bound"], Ok(())),
            (vec!["nope"], Err("persistentvolumeclaim \"nope\" not found".to_string())),
            (vec!["wffc", "immediate"], Err(REASON_UNBOUND_IMMEDIATE.to_string())),
            (vec!["immediate", "nope"], Err("persistentvolumeclaim \"nope\" not found".to_string())),
            (vec!["lost"], Err("persistentvolumeclaim \"lost\" bound to non-existent persistentvolume \"gone\"".to_string())),
            (vec!["going"], Err("persistentvolumeclaim \"going\" is being deleted".to_string())),
        ];
        for (claims, want) in cases {
            assert_eq!(
                pre_filter(&user(&claims), &v).map(|_| ()),
                want,
                "{claims:?}"
            );
        }
        let eph = pod(
            json!({"metadata": {"name": "p", "uid": "pod-uid"}, "spec": {"volumes": [
            {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]}}),
        );
        assert_eq!(
            pre_filter(&eph, &v).unwrap_err(),
            "waiting for ephemeral volume controller to create the persistentvolumeclaim \"p-scratch\""
        );
    }

    #[test]
    fn filter_follows_volume_affinity_and_provisioning() {
        let bound_here = claim(
            "data",
            json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
                   "spec": {"volumeName": "pv-w1"}, "status": {"phase": "Bound"}}),
        );
        let orphan = claim(
            "orphan",
            json!({"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
                   "spec": {"volumeName": "missing"}, "status": {"phase": "Bound"}}),
        );
        let selected = claim(
            "sel",
            json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "w2"}}}),
        );
        let manual = claim("manual", json!({"spec": {"storageClassName": "manual"}}));
        let fresh = claim("fresh", json!({}));
        let v = view(
            vec![bound_here, orphan, selected, manual, fresh],
            vec![
                local_pv(
                    "pv-w1",
                    "w1",
                    json!({"spec": {"claimRef": {"namespace": "default", "name": "data"}}, "status": {"phase": "Bound"}}),
                ),
                local_pv(
                    "static-w2",
                    "w2",
                    json!({"spec": {"storageClassName": "manual"}}),
                ),
            ],
        );
        let run = |claims: &[&str], node: &str| {
            let state = pre_filter(&user(claims), &v).unwrap();
            filter(&state, &v, node, &labels(node)).map_err(|s| s.reasons)
        };
        assert!(run(&["data"], "w1").is_ok());
        assert_eq!(
            run(&["data"], "w2").unwrap_err(),
            vec![REASON_NODE_CONFLICT]
        );
        assert_eq!(
            run(&["orphan"], "w1").unwrap_err(),
            vec![REASON_PV_NOT_EXIST]
        );
        assert_eq!(run(&["sel"], "w1").unwrap_err(), vec![REASON_BIND_CONFLICT]);
        assert_eq!(
            run(&["sel"], "w2").unwrap(),
            Bindings {
                wait_for: vec!["default/sel".into()],
                ..Default::default()
            }
        );
        // A class without a provisioner needs a volume on the node.
        assert_eq!(
            run(&["manual"], "w1").unwrap_err(),
            vec![REASON_BIND_CONFLICT]
        );
        assert_eq!(
            run(&["manual"], "w2").unwrap().volumes,
            vec![("default/manual".to_string(), "static-w2".to_string())]
        );
        assert_eq!(
            run(&["fresh"], "w1").unwrap().provisions,
            vec!["default/fresh".to_string()]
        );
        assert_eq!(
            run(&["data", "sel"], "w1").unwrap_err(),
            vec![REASON_BIND_CONFLICT]
        );
    }
}
