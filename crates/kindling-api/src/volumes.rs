//! Persistent volumes and claims as the PV controller and the scheduler's VolumeBinding plugin
//! both see them (upstream's component-helpers `storage/volume` and the PV controller's
//! `index.go`): the well-known annotations and finalizers, a claim's class and request, which
//! volume a claim binds to, volume node affinity, the claim a pod volume uses. No IO.

use crate::nodeselector::{Labels, NodeSelector};
use crate::selector::LabelSelector;
use crate::Quantity;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod, Volume};
use k8s_openapi::api::storage::v1::StorageClass;
use std::collections::BTreeSet;

/// The node the scheduler picked for a WaitForFirstConsumer claim.
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The provisioner asked to provision a claim (set by the PV controller).
pub const ANN_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
pub const ANN_BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
/// On a claim: the PV controller finished binding it.
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// The PV controller (not a user) wrote the binding.
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// On a volume: the provisioner that made it (and deletes it).
pub const ANN_PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// On a StorageClass: the default class of claims that name none.
pub const ANN_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
/// The deprecated class annotation of claims and volumes, which wins over the field.
pub const ANN_BETA_CLASS: &str = "volume.beta.kubernetes.io/storage-class";
/// Keeps a claim while a pod uses it.
pub const PVC_PROTECTION_FINALIZER: &str = "kubernetes.io/pvc-protection";
/// Keeps a volume while it is bound.
pub const PV_PROTECTION_FINALIZER: &str = "kubernetes.io/pv-protection";
/// A class whose volumes are all made by hand (no dynamic provisioning).
pub const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

fn annotation<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// The claim's class: the beta annotation, else `spec.storageClassName`, else "".
pub fn claim_class(claim: &PersistentVolumeClaim) -> &str {
    if let Some(c) = annotation(&claim.metadata, ANN_BETA_CLASS) {
        return c;
    }
    claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or_default()
}

/// The volume's class: the beta annotation, else `spec.storageClassName`, else "".
pub fn volume_class(volume: &PersistentVolume) -> &str {
    if let Some(c) = annotation(&volume.metadata, ANN_BETA_CLASS) {
        return c;
    }
    volume
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.as_deref())
        .unwrap_or_default()
}

/// `spec.resources.requests.storage`.
pub fn claim_request(claim: &PersistentVolumeClaim) -> Option<Quantity> {
    let q = claim
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")?;
    Quantity::try_from(q).ok()
}

/// `status.capacity.storage` of a claim.
pub fn claim_capacity(claim: &PersistentVolumeClaim) -> Option<Quantity> {
    let q = claim.status.as_ref()?.capacity.as_ref()?.get("storage")?;
    Quantity::try_from(q).ok()
}

/// `spec.capacity.storage` of a volume.
pub fn volume_capacity(volume: &PersistentVolume) -> Option<Quantity> {
    let q = volume.spec.as_ref()?.capacity.as_ref()?.get("storage")?;
    Quantity::try_from(q).ok()
}

pub fn claim_volume_name(claim: &PersistentVolumeClaim) -> &str {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .unwrap_or_default()
}

pub fn claim_phase(claim: &PersistentVolumeClaim) -> &str {
    claim
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

pub fn volume_phase(volume: &PersistentVolume) -> &str {
    volume
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

pub fn has_annotation(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> bool {
    annotation(meta, key).is_some()
}

/// The node the scheduler chose for the claim.
pub fn selected_node(claim: &PersistentVolumeClaim) -> Option<&str> {
    annotation(&claim.metadata, ANN_SELECTED_NODE).filter(|n| !n.is_empty())
}

/// Upstream's `isPVCFullyBound`: a volume name and the bind-completed annotation.
pub fn is_fully_bound(claim: &PersistentVolumeClaim) -> bool {
    !claim_volume_name(claim).is_empty() && has_annotation(&claim.metadata, ANN_BIND_COMPLETED)
}

/// The volume's `claimRef` names this claim (and its uid, when the reference has one).
pub fn is_bound_to(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    r.name == claim.metadata.name
        && r.namespace.as_deref().unwrap_or_default()
            == claim.metadata.namespace.as_deref().unwrap_or_default()
        && r.uid
            .as_deref()
            .filter(|u| !u.is_empty())
            .is_none_or(|u| Some(u) == claim.metadata.uid.as_deref())
}

/// The volume's required node affinity lets `node` use it (no affinity: every node).
pub fn node_affinity_allows(volume: &PersistentVolume, node: &str, labels: &Labels) -> bool {
    let Some(required) = volume
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
    else {
        return true;
    };
    NodeSelector::parse(&required.node_selector_terms).matches(node, labels)
}

/// The one node a volume's affinity names by `kubernetes.io/hostname In [node]` (local volumes).
pub fn affinity_hostname(volume: &PersistentVolume) -> Option<&str> {
    let terms = &volume
        .spec
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required
        .as_ref()?
        .node_selector_terms;
    terms.iter().find_map(|t| {
        t.match_expressions.iter().flatten().find_map(|e| {
            let values = e.values.as_deref().unwrap_or_default();
            (e.key == "kubernetes.io/hostname" && e.operator == "In" && values.len() == 1)
                .then(|| values[0].as_str())
        })
    })
}

/// WaitForFirstConsumer: the scheduler decides where the claim's volume goes.
pub fn is_delay_binding(class: Option<&StorageClass>) -> bool {
    class.and_then(|c| c.volume_binding_mode.as_deref()) == Some("WaitForFirstConsumer")
}

fn access_modes(modes: Option<&Vec<String>>) -> BTreeSet<&str> {
    modes.into_iter().flatten().map(String::as_str).collect()
}

fn volume_mode(mode: Option<&String>) -> &str {
    mode.map_or("Filesystem", String::as_str)
}

/// Upstream's `FindMatchingVolume`: the volume pre-bound to the claim (if its node affinity
/// allows `node`), else the smallest available volume of the claim's class, volume mode and
/// selector that is big enough and has every access mode the claim asks for (the one with
/// fewer access modes among equally small ones). With `node`, only volumes that node may use;
/// without one, a delay-binding claim matches only a pre-bound volume: the scheduler picks the
/// rest. `excluded` are volumes already chosen for other claims.
pub fn find_matching_volume<'a>(
    claim: &PersistentVolumeClaim,
    volumes: impl IntoIterator<Item = &'a PersistentVolume>,
    node: Option<(&str, &Labels)>,
    excluded: &BTreeSet<String>,
    delay_binding: bool,
) -> Option<&'a PersistentVolume> {
    let spec = claim.spec.as_ref()?;
    let requested = claim_request(claim).unwrap_or_default();
    let class = claim_class(claim);
    let want_modes = access_modes(spec.access_modes.as_ref());
    let want_mode = volume_mode(spec.volume_mode.as_ref());
    let selector = spec
        .selector
        .as_ref()
        .map(|s| LabelSelector::from_typed(Some(s)).unwrap_or_else(|_| LabelSelector::nothing()));
    let mut best: Option<(&PersistentVolume, Quantity, usize)> = None;
    for volume in volumes {
        let name = volume.metadata.name.as_deref().unwrap_or_default();
        if excluded.contains(name) || volume.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(vspec) = volume.spec.as_ref() else {
            continue;
        };
        let capacity = volume_capacity(volume).unwrap_or_default();
        if capacity < requested {
            continue;
        }
        if volume_mode(vspec.volume_mode.as_ref()) != want_mode {
            continue;
        }
        let node_ok = node.is_none_or(|(n, labels)| node_affinity_allows(volume, n, labels));
        if is_bound_to(volume, claim) {
            // Pre-bound to this claim: this one or none.
            return node_ok.then_some(volume);
        }
        if node.is_none() && delay_binding {
            continue;
        }
        if vspec.claim_ref.is_some() || volume_phase(volume) != "Available" {
            continue;
        }
        let labels = volume.metadata.labels.clone().unwrap_or_default();
        if selector.as_ref().is_some_and(|s| !s.matches(&labels)) {
            continue;
        }
        if volume_class(volume) != class || !node_ok {
            continue;
        }
        let modes = access_modes(vspec.access_modes.as_ref());
        if !want_modes.is_subset(&modes) {
            continue;
        }
        let better = best
            .as_ref()
            .is_none_or(|(_, c, m)| capacity < *c || (capacity == *c && modes.len() < *m));
        if better {
            best = Some((volume, capacity, modes.len()));
        }
    }
    best.map(|(v, _, _)| v)
}

/// The claim a pod volume uses and whether it is a generic ephemeral volume's
/// (`<pod>-<volume>`, upstream's `ephemeral.VolumeClaimName`).
pub fn pod_volume_claim(pod: &Pod, volume: &Volume) -> Option<(String, bool)> {
    if let Some(c) = &volume.persistent_volume_claim {
        return Some((c.claim_name.clone(), false));
    }
    volume.ephemeral.as_ref().map(|_| {
        let pod_name = pod.metadata.name.as_deref().unwrap_or_default();
        (format!("{pod_name}-{}", volume.name), true)
    })
}

/// Every claim a pod uses, in volume order.
pub fn pod_claims(pod: &Pod) -> Vec<(String, bool)> {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| pod_volume_claim(pod, v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn pv(name: &str, size: &str, extra: Value) -> PersistentVolume {
        let mut v = json!({"metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "hostPath": {"path": "/x"}, "volumeMode": "Filesystem"},
            "status": {"phase": "Available"}});
        if let Value::Object(m) = extra {
            crate::patch::merge::merge_object(&mut v, m);
        }
        serde_json::from_value(v).unwrap()
    }

    fn pvc(extra: Value) -> PersistentVolumeClaim {
        let mut v = json!({"metadata": {"name": "c", "namespace": "ns", "uid": "u1"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                     "volumeMode": "Filesystem"}});
        if let Value::Object(m) = extra {
            crate::patch::merge::merge_object(&mut v, m);
        }
        serde_json::from_value(v).unwrap()
    }

    fn names(found: Option<&PersistentVolume>) -> Option<&str> {
        found.and_then(|v| v.metadata.name.as_deref())
    }

    #[test]
    fn smallest_fitting_volume_of_the_class_wins() {
        let vols = [
            pv("small", "500Mi", json!({})),
            pv("big", "10Gi", json!({})),
            pv("fit", "2Gi", json!({})),
            pv(
                "other-class",
                "1Gi",
                json!({"spec": {"storageClassName": "fast"}}),
            ),
            pv(
                "rwx-only",
                "1Gi",
                json!({"spec": {"accessModes": ["ReadWriteMany"]}}),
            ),
            pv("block", "1Gi", json!({"spec": {"volumeMode": "Block"}})),
            pv(
                "taken",
                "1Gi",
                json!({"spec": {"claimRef": {"namespace": "ns", "name": "other"}}}),
            ),
            pv("released", "1Gi", json!({"status": {"phase": "Released"}})),
        ];
        let none = BTreeSet::new();
        assert_eq!(
            names(find_matching_volume(
                &pvc(json!({})),
                &vols,
                None,
                &none,
                false
            )),
            Some("fit")
        );
        let fast = pvc(json!({"spec": {"storageClassName": "fast"}}));
        assert_eq!(
            names(find_matching_volume(&fast, &vols, None, &none, false)),
            Some("other-class")
        );
        let excluded = BTreeSet::from(["fit".to_string()]);
        assert_eq!(
            names(find_matching_volume(
                &pvc(json!({})),
                &vols,
                None,
                &excluded,
                false
            )),
            Some("big")
        );
        let huge = pvc(json!({"spec": {"resources": {"requests": {"storage": "20Gi"}}}}));
        assert_eq!(
            names(find_matching_volume(&huge, &vols, None, &none, false)),
            None
        );
        // Delay binding: the controller leaves unbound volumes to the scheduler.
        assert_eq!(
            names(find_matching_volume(
                &pvc(json!({})),
                &vols,
                None,
                &none,
                true
            )),
            None
        );
    }

    #[test]
    fn selectors_prebinding_and_node_affinity() {
        let affinity = json!({"spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}}}});
        let mut labelled = affinity.clone();
        labelled["metadata"] = json!({"labels": {"tier": "gold"}});
        let vols = [pv("local", "1Gi", labelled), pv("plain", "5Gi", json!({}))];
        let none = BTreeSet::new();
        let n1: Labels = [("kubernetes.io/hostname".to_string(), "n1".to_string())].into();
        let n2: Labels = [("kubernetes.io/hostname".to_string(), "n2".to_string())].into();
        let claim = pvc(json!({}));
        assert_eq!(
            names(find_matching_volume(
                &claim,
                &vols,
                Some(("n1", &n1)),
                &none,
                true
            )),
            Some("local")
        );
        assert_eq!(
            names(find_matching_volume(
                &claim,
                &vols,
                Some(("n2", &n2)),
                &none,
                true
            )),
            Some("plain")
        );
        let gold = pvc(json!({"spec": {"selector": {"matchLabels": {"tier": "gold"}}}}));
        assert_eq!(
            names(find_matching_volume(
                &gold,
                &vols,
                Some(("n2", &n2)),
                &none,
                true
            )),
            None
        );
        assert_eq!(affinity_hostname(&vols[0]), Some("n1"));
        // A volume pre-bound to the claim is the only candidate, even when bigger ones fit.
        let pre = [
            pv("exact", "1Gi", json!({})),
            pv(
                "mine",
                "3Gi",
                json!({"spec": {"claimRef": {"namespace": "ns", "name": "c"}}, "status": {"phase": "Pending"}}),
            ),
        ];
        assert_eq!(
            names(find_matching_volume(&claim, &pre, None, &none, true)),
            Some("mine")
        );
        let other_uid = pv(
            "x",
            "3Gi",
            json!({"spec": {"claimRef": {"namespace": "ns", "name": "c", "uid": "old"}}}),
        );
        assert!(!is_bound_to(&other_uid, &claim));
    }

    #[test]
    fn pod_volumes_name_their_claims() {
        let pod: Pod = serde_json::from_value(
            json!({"metadata": {"name": "web-0"}, "spec": {"containers": [],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-0"}},
                        {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}},
                        {"name": "tmp", "emptyDir": {}}]}}),
        )
        .unwrap();
        assert_eq!(
            pod_claims(&pod),
            vec![
                ("data-web-0".to_string(), false),
                ("web-0-scratch".to_string(), true)
            ]
        );
    }
}
