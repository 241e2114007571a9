//! NodeRestriction admission (upstream's `plugin/pkg/admission/noderestriction`): what the Node
//! authorizer lets a node attempt, narrowed to the node itself — mirror pods bound to it and
//! owned by its Node, status of its own pods, its own Node (no `node-restriction.kubernetes.io/`
//! labels, no other `kubernetes.io`/`k8s.io` labels but the kubelet's, no taint changes), its
//! own Lease and CSINode, evictions of its pods, tokens bound to its pods.
//!
//! The decisions are pure functions of the objects (`*_decision`); the async entry points only
//! look up the objects a decision needs (the pod being deleted, evicted or bound, the Node's
//! uid) and turn a refusal into upstream's 403 (`pods "x" is forbidden: node "a" …`).

use crate::authz::graph::Kind;
use crate::authz::graph_refs::PodRefs;
use crate::authz::node::node_of;
use crate::authz::qualified_forbidden;
use crate::registry::Registry;
use kindling_api::user::UserInfo;
use kindling_api::{ApiError, ResourceType};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;

const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

fn labels(obj: Option<&Value>) -> Vec<(String, String)> {
    obj.and_then(|o| o["metadata"]["labels"].as_object())
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Label keys added, removed or changed between `old` and `new`.
fn modified_labels(new: Option<&Value>, old: Option<&Value>) -> BTreeSet<String> {
    let (a, b) = (labels(new), labels(old));
    let mut out = BTreeSet::new();
    for (k, v) in &a {
        if !b.iter().any(|(k2, v2)| k2 == k && v2 == v) {
            out.insert(k.clone());
        }
    }
    for (k, v) in &b {
        if !a.iter().any(|(k2, v2)| k2 == k && v2 == v) {
            out.insert(k.clone());
        }
    }
    out
}

/// The labels a node may not set (`kindling_api::node_labels`).
pub fn forbidden_labels(modified: &BTreeSet<String>) -> Vec<String> {
    modified
        .iter()
        .filter(|k| !kindling_api::node_labels::node_may_set(k))
        .cloned()
        .collect()
}

/// A node creating or changing a Node object (`old` for updates, its status included).
pub fn node_decision(
    node: &str,
    name: &str,
    new: &Value,
    old: Option<&Value>,
) -> Result<(), String> {
    if name != node {
        return Err(format!(
            "node \"{node}\" is not allowed to modify node \"{name}\""
        ));
    }
    let config_source = &new["spec"]["configSource"];
    let Some(old) = old else {
        if !config_source.is_null() {
            return Err(format!(
                "node \"{node}\" is not allowed to create pods with a non-nil configSource"
            ));
        }
        let forbidden = forbidden_labels(&modified_labels(Some(new), None));
        if !forbidden.is_empty() {
            return Err(format!(
                "node \"{node}\" is not allowed to set the following labels: {}",
                forbidden.join(", ")
            ));
        }
        return Ok(());
    };
    if !config_source.is_null() && *config_source != old["spec"]["configSource"] {
        return Err(format!(
            "node \"{node}\" is not allowed to update configSource to a new non-nil configSource"
        ));
    }
    let taints = |o: &Value| o["spec"]["taints"].as_array().cloned().unwrap_or_default();
    if taints(new) != taints(old) {
        return Err(format!("node \"{node}\" is not allowed to modify taints"));
    }
    let forbidden = forbidden_labels(&modified_labels(Some(new), Some(old)));
    if !forbidden.is_empty() {
        return Err(format!(
            "is not allowed to modify labels: {}",
            forbidden.join(", ")
        ));
    }
    Ok(())
}

/// A node creating a pod: only a mirror pod bound to itself, owned (as controller, without
/// blockOwnerDeletion) by its Node of uid `node_uid`, naming no other API objects.
pub fn mirror_pod_decision(node: &str, pod: &Value, node_uid: Option<&str>) -> Result<(), String> {
    if pod["metadata"]["annotations"]
        .get(MIRROR_ANNOTATION)
        .is_none()
    {
        return Err(format!("pod does not have \"{MIRROR_ANNOTATION}\" annotation, node \"{node}\" can only create mirror pods"));
    }
    if pod["spec"]["nodeName"].as_str() != Some(node) {
        return Err(format!(
            "node \"{node}\" can only create pods with spec.nodeName set to itself"
        ));
    }
    let owners = pod["metadata"]["ownerReferences"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let owner = match owners.as_slice() {
        [] => {
            return Err(format!(
                "node \"{node}\" can only create pods with an owner reference set to itself"
            ))
        }
        [one] => one,
        _ => {
            return Err(format!(
                "node \"{node}\" can only create pods with a single owner reference set to itself"
            ))
        }
    };
    if owner["apiVersion"] != "v1" || owner["kind"] != "Node" || owner["name"] != node {
        return Err(format!(
            "node \"{node}\" can only create pods with an owner reference set to itself"
        ));
    }
    if owner["controller"] != true {
        return Err(format!(
            "node \"{node}\" can only create pods with a controller owner reference set to itself"
        ));
    }
    if owner["blockOwnerDeletion"] == true {
        return Err(format!(
            "node \"{node}\" must not set blockOwnerDeletion on an owner reference"
        ));
    }
    let uid = owner["uid"].as_str().unwrap_or_default();
    if let Some(expected) = node_uid {
        if uid != expected {
            return Err(format!(
                "node {node} UID mismatch: expected {uid} got {expected}"
            ));
        }
    }
    if pod["spec"]["serviceAccountName"]
        .as_str()
        .is_some_and(|s| !s.is_empty())
    {
        return Err(format!(
            "node \"{node}\" can not create pods that reference a service account"
        ));
    }
    // The body was decoded against the pod's types already: this reads what it names.
    let refs = PodRefs::deserialize(pod).unwrap_or_default();
    let uses = crate::authz::graph::pod_uses(&refs);
    if uses.iter().any(|(kind, _)| *kind == Kind::Secret) {
        return Err(format!(
            "node \"{node}\" can not create pods that reference secrets"
        ));
    }
    if uses.iter().any(|(kind, _)| *kind == Kind::ConfigMap) {
        return Err(format!(
            "node \"{node}\" can not create pods that reference configmaps"
        ));
    }
    let volumes = pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let trust_bundle = volumes.iter().any(|v| {
        v["projected"]["sources"]
            .as_array()
            .is_some_and(|s| s.iter().any(|p| !p["clusterTrustBundle"].is_null()))
    });
    if trust_bundle {
        return Err(format!(
            "node \"{node}\" can not create pods that reference clustertrustbundles"
        ));
    }
    if volumes
        .iter()
        .any(|v| !v["persistentVolumeClaim"].is_null())
    {
        return Err(format!(
            "node \"{node}\" can not create pods that reference persistentvolumeclaims"
        ));
    }
    Ok(())
}

/// A node writing a pod's status: only its own pods', without changing labels or resource
/// claim statuses.
pub fn pod_status_decision(node: &str, new: &Value, old: &Value) -> Result<(), String> {
    if old["spec"]["nodeName"].as_str() != Some(node) {
        return Err(format!(
            "node \"{node}\" can only update pod status for pods with spec.nodeName set to itself"
        ));
    }
    if labels(Some(new)) != labels(Some(old)) {
        return Err(format!(
            "node \"{node}\" cannot update labels through pod status"
        ));
    }
    let claims = |o: &Value| {
        o["status"]["resourceClaimStatuses"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| (s["name"].clone(), s["resourceClaimName"].clone()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    if claims(new) != claims(old) {
        return Err(format!(
            "node \"{node}\" cannot update resource claim statues"
        ));
    }
    Ok(())
}

/// A node writing a claim's status: only capacity, conditions and the allocated resources.
pub fn claim_status_decision(node: &str, new: &Value, old: &Value) -> Result<(), String> {
    let strip = |o: &Value| {
        let mut o = o.clone();
        if let Some(m) = o["metadata"].as_object_mut() {
            m.remove("resourceVersion");
            m.remove("managedFields");
        }
        if let Some(s) = o["status"].as_object_mut() {
            for f in [
                "capacity",
                "conditions",
                "allocatedResources",
                "allocatedResourceStatuses",
            ] {
                s.remove(f);
            }
        }
        o
    };
    if strip(new) != strip(old) {
        return Err(format!("node \"{node}\" is not allowed to update fields other than status.capacity and status.conditions"));
    }
    Ok(())
}

/// A node's lease: in `kube-node-lease`, named as the node.
pub fn lease_decision(node: &str, namespace: &str, name: &str) -> Result<(), String> {
    if namespace != NODE_LEASE_NAMESPACE {
        return Err(format!(
            "can only access leases in the \"{NODE_LEASE_NAMESPACE}\" system namespace"
        ));
    }
    if name != node {
        return Err("can only access node lease with the same name as the requesting node".into());
    }
    Ok(())
}

/// A node deleting or evicting a pod: only one bound to itself.
pub fn own_pod_decision(node: &str, pod: &Value, evict: bool) -> Result<(), String> {
    if pod["spec"]["nodeName"].as_str() == Some(node) {
        return Ok(());
    }
    Err(if evict {
        format!("node {node} can only evict pods with spec.nodeName set to itself")
    } else {
        format!("node \"{node}\" can only delete pods with spec.nodeName set to itself")
    })
}

/// A node asking for a token: bound to a pod (by uid) scheduled on itself. `pod` is the bound
/// pod as stored, when there is one.
pub fn token_decision(node: &str, bound: &Value, pod: Option<&Value>) -> Result<(), String> {
    let field = |f: &str| bound[f].as_str().unwrap_or_default();
    if bound.is_null()
        || field("apiVersion") != "v1"
        || field("kind") != "Pod"
        || field("name").is_empty()
    {
        return Err("node requested token not bound to a pod".into());
    }
    if field("uid").is_empty() {
        return Err("node requested token with a pod binding without a uid".into());
    }
    let Some(pod) = pod else {
        return Ok(()); // The token request itself answers 404.
    };
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    if field("uid") != uid {
        return Err(format!("the UID in the bound object reference ({}) does not match the UID in record. The object might have been deleted and then recreated", field("uid")));
    }
    if pod["spec"]["nodeName"].as_str() != Some(node) {
        return Err("node requested token bound to a pod scheduled on a different node".into());
    }
    Ok(())
}

fn forbid(rt: &ResourceType, name: &str, why: &str) -> ApiError {
    qualified_forbidden(&rt.group, &rt.plural, name, why)
}

fn obj_name(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

/// The node a request comes from, when it does.
fn requester(user: Option<&UserInfo>) -> Option<&str> {
    user.and_then(node_of)
}

async fn node_uid(registry: &Registry, node: &str) -> Result<Option<String>, ApiError> {
    let nodes = kindling_api::catalog::builtin("", "v1", "nodes");
    let n = registry.get(nodes, None, node).await?;
    Ok(n["metadata"]["uid"].as_str().map(str::to_string))
}

/// Admission of a create, update (`old`) or status update (`status`) of `new`.
pub async fn admit_write(
    registry: &Registry,
    user: Option<&UserInfo>,
    rt: &ResourceType,
    new: &Value,
    old: Option<&Value>,
    status: bool,
) -> Result<(), ApiError> {
    let Some(node) = requester(user) else {
        return Ok(());
    };
    let name = obj_name(new);
    let decision = match (rt.group.as_str(), rt.plural.as_str(), old) {
        ("", "pods", Some(old)) if status => pod_status_decision(node, new, old),
        ("", "pods", None) => {
            let uid = node_uid(registry, node).await?;
            mirror_pod_decision(node, new, uid.as_deref())
        }
        ("", "pods", Some(_)) => Err(format!(
            "unexpected operation \"UPDATE\", node \"{node}\" can only create and delete mirror pods"
        )),
        ("", "nodes", old) => node_decision(node, name, new, old),
        ("", "persistentvolumeclaims", Some(old)) if status => {
            claim_status_decision(node, new, old)
        }
        ("", "persistentvolumeclaims", _) => Err("may only update PVC status".into()),
        ("coordination.k8s.io", "leases", _) => lease_decision(
            node,
            new["metadata"]["namespace"].as_str().unwrap_or_default(),
            name,
        ),
        ("storage.k8s.io", "csinodes", _) if name != node => {
            Err("can only access CSINode with the same name as the requesting node".into())
        }
        ("resource.k8s.io", "resourceslices", None) => slice_decision(node, new, "create"),
        _ => Ok(()),
    };
    decision.map_err(|why| forbid(rt, name, &why))
}

/// A node creating or deleting a ResourceSlice: only one whose `spec.nodeName` is itself (the
/// Node authorizer cannot see a create's body, nor each object of a collection delete).
pub fn slice_decision(node: &str, slice: &Value, verb: &str) -> Result<(), String> {
    if slice["spec"]["nodeName"].as_str() == Some(node) {
        return Ok(());
    }
    Err(format!(
        "can only {verb} ResourceSlice with the same NodeName as the requesting node"
    ))
}

/// Admission of a delete of `name`: a node deletes only pods bound to itself, its own Node,
/// Lease and CSINode, and the ResourceSlices of its own.
pub async fn admit_delete(
    registry: &Registry,
    user: Option<&UserInfo>,
    rt: &std::sync::Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
) -> Result<(), ApiError> {
    let Some(node) = requester(user) else {
        return Ok(());
    };
    let decision = match (rt.group.as_str(), rt.plural.as_str()) {
        ("", "pods") => {
            let pod = registry.get(rt, ns, name).await?;
            own_pod_decision(node, &pod, false)
        }
        ("", "nodes") if name != node => Err(format!(
            "node \"{node}\" is not allowed to modify node \"{name}\""
        )),
        ("coordination.k8s.io", "leases") => lease_decision(node, ns.unwrap_or_default(), name),
        ("storage.k8s.io", "csinodes") if name != node => {
            Err("can only access CSINode with the same name as the requesting node".into())
        }
        ("resource.k8s.io", "resourceslices") => {
            let slice = registry.get(rt, ns, name).await?;
            slice_decision(node, &slice, "delete")
        }
        _ => Ok(()),
    };
    decision.map_err(|why| forbid(rt, name, &why))
}

/// Admission of an eviction of `pod` by a node.
pub fn admit_eviction(user: &UserInfo, pod: &Value) -> Result<(), ApiError> {
    let Some(node) = node_of(user) else {
        return Ok(());
    };
    own_pod_decision(node, pod, true)
        .map_err(|why| qualified_forbidden("", "pods", obj_name(pod), &why))
}

/// Admission of a TokenRequest for service account `sa` by a node.
pub async fn admit_token(
    registry: &Registry,
    user: &UserInfo,
    ns: &str,
    sa: &str,
    bound: &Value,
) -> Result<(), ApiError> {
    let Some(node) = node_of(user) else {
        return Ok(());
    };
    let forbidden = |why: String| qualified_forbidden("", "serviceaccounts", sa, &why);
    token_decision(node, bound, None).map_err(forbidden)?;
    let pods = kindling_api::catalog::builtin("", "v1", "pods");
    let name = bound["name"].as_str().unwrap_or_default();
    let pod = registry.get(pods, Some(ns), name).await?;
    token_decision(node, bound, Some(&pod)).map_err(forbidden)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mirror(patch: Value) -> Value {
        let mut pod = json!({
            "metadata": {"name": "etcd-a", "namespace": "kube-system",
                "annotations": {MIRROR_ANNOTATION: "x"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "a", "uid": "u1", "controller": true}]},
            "spec": {"nodeName": "a", "containers": [{"name": "c", "image": "i"}]},
        });
        kindling_api::patch::merge::merge_object(
            &mut pod,
            patch.as_object().cloned().unwrap_or_default(),
        );
        pod
    }

    #[test]
    fn mirror_pods_only_for_itself_and_naming_nothing() {
        let cases: Vec<(Value, Result<(), String>)> = vec![
            (json!({}), Ok(())),
            (json!({"metadata": {"annotations": null}}), Err("pod does not have \"kubernetes.io/config.mirror\" annotation, node \"a\" can only create mirror pods".into())),
            (json!({"spec": {"nodeName": "b"}}), Err("node \"a\" can only create pods with spec.nodeName set to itself".into())),
            (json!({"metadata": {"ownerReferences": []}}), Err("node \"a\" can only create pods with an owner reference set to itself".into())),
            (json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "b", "uid": "u1", "controller": true}]}}), Err("node \"a\" can only create pods with an owner reference set to itself".into())),
            (json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "a", "uid": "u1"}]}}), Err("node \"a\" can only create pods with a controller owner reference set to itself".into())),
            (json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "a", "uid": "u1", "controller": true, "blockOwnerDeletion": true}]}}), Err("node \"a\" must not set blockOwnerDeletion on an owner reference".into())),
            (json!({"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "a", "uid": "old", "controller": true}]}}), Err("node a UID mismatch: expected old got u1".into())),
            (json!({"spec": {"serviceAccountName": "default"}}), Err("node \"a\" can not create pods that reference a service account".into())),
            (json!({"spec": {"imagePullSecrets": [{"name": "s"}]}}), Err("node \"a\" can not create pods that reference secrets".into())),
            (json!({"spec": {"volumes": [{"name": "v", "configMap": {"name": "c"}}]}}), Err("node \"a\" can not create pods that reference configmaps".into())),
            (json!({"spec": {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "c"}}]}}), Err("node \"a\" can not create pods that reference persistentvolumeclaims".into())),
        ];
        for (patch, want) in cases {
            assert_eq!(
                mirror_pod_decision("a", &mirror(patch.clone()), Some("u1")),
                want,
                "{patch}"
            );
        }
    }

    fn node_obj(labels: Value, taints: Value) -> Value {
        json!({"metadata": {"name": "a", "labels": labels}, "spec": {"taints": taints}})
    }

    #[test]
    fn nodes_change_only_themselves_and_allowed_labels() {
        let base = node_obj(
            json!({"kubernetes.io/hostname": "a", "team": "x"}),
            json!([]),
        );
        type Case<'a> = (&'a str, Value, Option<&'a Value>, Result<(), String>);
        let cases: Vec<Case> = vec![
            ("a", base.clone(), None, Ok(())),
            ("b", base.clone(), Some(&base), Err("node \"a\" is not allowed to modify node \"b\"".into())),
            ("a", node_obj(json!({"node-restriction.kubernetes.io/fast": "1"}), json!([])), None,
             Err("node \"a\" is not allowed to set the following labels: node-restriction.kubernetes.io/fast".into())),
            ("a", node_obj(json!({"x.node-restriction.kubernetes.io/y": "1", "node-role.kubernetes.io/control-plane": ""}), json!([])), None,
             Err("node \"a\" is not allowed to set the following labels: node-role.kubernetes.io/control-plane, x.node-restriction.kubernetes.io/y".into())),
            // The kubelet's own labels and unprefixed ones are fine.
            ("a", node_obj(json!({"node.kubernetes.io/exclude-from-external-load-balancers": "", "kubernetes.io/os": "linux", "ingress-ready": "true"}), json!([])), None, Ok(())),
            ("a", node_obj(json!({"kubernetes.io/hostname": "a", "team": "y"}), json!([])), Some(&base), Ok(())),
            ("a", node_obj(json!({"kubernetes.io/hostname": "a"}), json!([])), Some(&base), Ok(())),
            ("a", node_obj(json!({"kubernetes.io/hostname": "a", "team": "x", "example.k8s.io/x": "1"}), json!([])), Some(&base),
             Err("is not allowed to modify labels: example.k8s.io/x".into())),
            ("a", node_obj(json!({"kubernetes.io/hostname": "a", "team": "x"}), json!([{"key": "k", "effect": "NoSchedule"}])), Some(&base),
             Err("node \"a\" is not allowed to modify taints".into())),
        ];
        for (name, new, old, want) in cases {
            assert_eq!(node_decision("a", name, &new, old), want, "{new}");
        }
    }

    #[test]
    fn resource_slices_only_of_its_own_node() {
        let slice = |node: Value| json!({"metadata": {"name": "s"}, "spec": {"nodeName": node}});
        assert_eq!(slice_decision("a", &slice(json!("a")), "create"), Ok(()));
        assert_eq!(
            slice_decision("a", &slice(json!("b")), "create"),
            Err(
                "can only create ResourceSlice with the same NodeName as the requesting node"
                    .into()
            )
        );
        assert_eq!(
            slice_decision("a", &slice(Value::Null), "delete"),
            Err(
                "can only delete ResourceSlice with the same NodeName as the requesting node"
                    .into()
            )
        );
    }

    #[test]
    fn pods_status_leases_tokens_and_claims() {
        let pod = |node: &str, labels: Value| json!({"metadata": {"name": "p", "uid": "u", "labels": labels}, "spec": {"nodeName": node}});
        let (mine, theirs) = (pod("a", json!({"app": "x"})), pod("b", json!({})));
        assert_eq!(pod_status_decision("a", &mine, &mine), Ok(()));
        assert_eq!(
            pod_status_decision("a", &theirs, &theirs),
            Err(
                "node \"a\" can only update pod status for pods with spec.nodeName set to itself"
                    .into()
            )
        );
        assert_eq!(
            pod_status_decision("a", &pod("a", json!({"app": "y"})), &mine),
            Err("node \"a\" cannot update labels through pod status".into())
        );
        assert_eq!(own_pod_decision("a", &mine, false), Ok(()));
        assert_eq!(
            own_pod_decision("a", &theirs, false),
            Err("node \"a\" can only delete pods with spec.nodeName set to itself".into())
        );
        assert_eq!(
            own_pod_decision("a", &theirs, true),
            Err("node a can only evict pods with spec.nodeName set to itself".into())
        );
        assert_eq!(lease_decision("a", "kube-node-lease", "a"), Ok(()));
        assert_eq!(
            lease_decision("a", "kube-node-lease", "b"),
            Err("can only access node lease with the same name as the requesting node".into())
        );
        let bound = json!({"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u"});
        assert_eq!(token_decision("a", &bound, Some(&mine)), Ok(()));
        assert_eq!(
            token_decision("a", &bound, Some(&theirs)),
            Err("node requested token bound to a pod scheduled on a different node".into())
        );
        assert_eq!(
            token_decision("a", &Value::Null, None),
            Err("node requested token not bound to a pod".into())
        );
        assert_eq!(
            token_decision(
                "a",
                &json!({"apiVersion": "v1", "kind": "Pod", "name": "p"}),
                None
            ),
            Err("node requested token with a pod binding without a uid".into())
        );
        let claim = json!({"metadata": {"name": "c", "resourceVersion": "1"}, "status": {"phase": "Bound"}});
        let mut grown = claim.clone();
        grown["status"]["capacity"] = json!({"storage": "2Gi"});
        grown["metadata"]["resourceVersion"] = json!("2");
        assert_eq!(claim_status_decision("a", &grown, &claim), Ok(()));
        grown["metadata"]["labels"] = json!({"x": "y"});
        assert!(claim_status_decision("a", &grown, &claim).is_err());
    }
}
