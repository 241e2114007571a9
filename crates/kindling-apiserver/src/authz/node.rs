//! The Node authorizer (upstream's `plugin/pkg/auth/authorizer/node`): a node's identity —
//! user `system:node:<name>` in group `system:nodes` — reads only what the pods bound to it use
//! (secrets, configmaps, claims, their volumes, service account tokens, ResourceClaims: the
//! [`Graph`]), the VolumeAttachments and ResourceSlices that name it, its own Node and Lease,
//! pods and ResourceSlices in lists only through a `spec.nodeName=<itself>` selector;
//! everything else by upstream's `NodeRules()` (the `system:node` ClusterRole's rules, bound to
//! no one). Writes it may attempt (creating/deleting mirror pods, pod and node status, its own
//! Node) are narrowed further by NodeRestriction admission (`admission_noderestriction`).
//!
//! With `AuthorizeNodeWithSelectors` (on by default since v1.32) as upstream. No IO: the graph
//! is read under the lock its keeper (`graph_index.rs`) writes it with.

use super::graph::{Graph, Kind};
use super::policy;
use super::rules::{Request, Rule};
use kindling_api::user::UserInfo;
use std::sync::OnceLock;

pub const NODES_GROUP: &str = "system:nodes";
const NODE_USER_PREFIX: &str = "system:node:";
const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// The node a user is, as upstream's NodeIdentifier reads it.
pub fn node_of(user: &UserInfo) -> Option<&str> {
    let name = user.name.strip_prefix(NODE_USER_PREFIX)?;
    let member = user.groups.iter().any(|g| g == NODES_GROUP);
    (member && !name.is_empty()).then_some(name)
}

/// Whether the user is in `system:nodes` with a `system:node:` name (upstream's isNode), even
/// when no node name can be read from it.
pub fn is_node(user: &UserInfo) -> bool {
    user.name.starts_with(NODE_USER_PREFIX) && user.groups.iter().any(|g| g == NODES_GROUP)
}

/// Upstream's NodeRules (the `system:node` ClusterRole's rules).
fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        policy::cluster_roles()
            .iter()
            .find(|r| r["metadata"]["name"] == "system:node")
            .and_then(|r| r["rules"].as_array())
            .map(|a| a.iter().map(Rule::from_json).collect())
            .unwrap_or_default()
    })
}

/// What the Node authorizer says: `None` when the user is no node (no opinion, no reason);
/// `Some(Ok)` allowed; `Some(Err(reason))` no opinion, with upstream's reason.
pub fn authorize(user: &UserInfo, req: &Request, graph: &Graph) -> Option<Result<(), String>> {
    if !is_node(user) {
        return None;
    }
    let Some(node) = node_of(user) else {
        return Some(Err(format!("unknown node for user \"{}\"", user.name)));
    };
    if req.resource_request {
        let subdivided = match (req.api_group.as_str(), req.resource.as_str()) {
            ("", "secrets") => Some(read_namespaced(node, Kind::Secret, req, graph)),
            ("", "configmaps") => Some(read_namespaced(node, Kind::ConfigMap, req, graph)),
            ("", "persistentvolumeclaims") if req.subresource == "status" => {
                Some(status_update(node, Kind::Claim, req, graph))
            }
            ("", "persistentvolumeclaims") => Some(get(node, Kind::Claim, req, graph)),
            ("", "persistentvolumes") => Some(get(node, Kind::Volume, req, graph)),
            ("resource.k8s.io", "resourceclaims") => {
                Some(get(node, Kind::ResourceClaim, req, graph))
            }
            ("storage.k8s.io", "volumeattachments") => {
                Some(get(node, Kind::VolumeAttachment, req, graph))
            }
            ("resource.k8s.io", "resourceslices") => Some(resource_slice(node, req, graph)),
            ("", "serviceaccounts") => Some(create_token(node, req, graph)),
            ("coordination.k8s.io", "leases") => Some(lease(node, req)),
            ("storage.k8s.io", "csinodes") => Some(csi_node(node, req)),
            ("", "nodes") => node_object(node, req),
            ("", "pods") => pod(node, req, graph),
            _ => None,
        };
        if let Some(decision) = subdivided {
            return Some(decision);
        }
    }
    if rules().iter().any(|r| r.allows(req)) {
        Some(Ok(()))
    } else {
        Some(Err(String::new()))
    }
}

fn no_relationship(node: &str) -> String {
    format!("no relationship found between node '{node}' and this object")
}

/// A named object reached from the node in the graph.
fn related(node: &str, kind: Kind, req: &Request, graph: &Graph) -> Result<(), String> {
    if req.name.is_empty() {
        return Err("No Object name found".into());
    }
    if graph.related(node, kind, &req.namespace, &req.name) {
        Ok(())
    } else {
        Err(no_relationship(node))
    }
}

fn read_namespaced(node: &str, kind: Kind, req: &Request, graph: &Graph) -> Result<(), String> {
    if !matches!(req.verb.as_str(), "get" | "list" | "watch") {
        return Err("can only read resources of this type".into());
    }
    if !req.subresource.is_empty() {
        return Err("cannot read subresource".into());
    }
    if req.namespace.is_empty() {
        return Err("can only read namespaced object of this type".into());
    }
    related(node, kind, req, graph)
}

fn get(node: &str, kind: Kind, req: &Request, graph: &Graph) -> Result<(), String> {
    if req.verb != "get" {
        return Err("can only get individual resources of this type".into());
    }
    if !req.subresource.is_empty() {
        return Err("cannot get subresource".into());
    }
    related(node, kind, req, graph)
}

fn status_update(node: &str, kind: Kind, req: &Request, graph: &Graph) -> Result<(), String> {
    if !matches!(req.verb.as_str(), "update" | "patch") {
        return Err("can only get/update/patch this type".into());
    }
    related(node, kind, req, graph)
}

fn create_token(node: &str, req: &Request, graph: &Graph) -> Result<(), String> {
    if req.verb != "create" || req.name.is_empty() {
        return Err("can only create tokens for individual service accounts".into());
    }
    if req.subresource != "token" {
        return Err("can only create token subresource of serviceaccount".into());
    }
    related(node, Kind::ServiceAccount, req, graph)
}

fn lease(node: &str, req: &Request) -> Result<(), String> {
    if !matches!(
        req.verb.as_str(),
        "get" | "create" | "update" | "patch" | "delete"
    ) {
        return Err("can only get, create, update, patch, or delete a node lease".into());
    }
    if req.namespace != NODE_LEASE_NAMESPACE {
        return Err(format!(
            "can only access leases in the \"{NODE_LEASE_NAMESPACE}\" system namespace"
        ));
    }
    // The name of a create is in the body: NodeRestriction checks it.
    if req.verb != "create" && req.name != node {
        return Err("can only access node lease with the same name as the requesting node".into());
    }
    Ok(())
}

fn csi_node(node: &str, req: &Request) -> Result<(), String> {
    if !matches!(
        req.verb.as_str(),
        "get" | "create" | "update" | "patch" | "delete"
    ) {
        return Err("can only get, create, update, patch, or delete a CSINode".into());
    }
    if !req.subresource.is_empty() {
        return Err("cannot authorize CSINode subresources".into());
    }
    if req.verb != "create" && req.name != node {
        return Err("can only access CSINode with the same name as the requesting node".into());
    }
    Ok(())
}

/// ResourceSlices: those whose `spec.nodeName` is the node (the graph's edge); creates for
/// NodeRestriction to check; lists, watches and collection deletes only through a
/// `spec.nodeName=<itself>` selector.
fn resource_slice(node: &str, req: &Request, graph: &Graph) -> Result<(), String> {
    if !req.subresource.is_empty() {
        return Err("cannot authorize ResourceSlice subresources".into());
    }
    match req.verb.as_str() {
        "create" => Ok(()),
        "get" | "update" | "patch" | "delete" => related(node, Kind::ResourceSlice, req, graph),
        "watch" | "list" | "deletecollection" if selects_node(&req.field_selector, node) => Ok(()),
        "watch" | "list" | "deletecollection" => Err(
            "can only list/watch/deletecollection resourceslices with nodeName field selector"
                .into(),
        ),
        _ => Err("only the following verbs are allowed for a ResourceSlice: get, watch, list, create, update, patch, delete, deletecollection".into()),
    }
}

/// Its own Node; writes are NodeRestriction's to narrow. `None`: the node rules decide.
fn node_object(node: &str, req: &Request) -> Option<Result<(), String>> {
    match (req.subresource.as_str(), req.verb.as_str()) {
        ("", "create" | "update" | "patch") | ("status", "update" | "patch") => Some(Ok(())),
        ("", "get" | "list" | "watch") => Some(if req.name == node {
            Ok(())
        } else if req.name.is_empty() {
            Err(format!(
                "node '{node}' cannot read all nodes, only its own Node object"
            ))
        } else {
            Err(format!(
                "node '{node}' cannot read '{}', only its own Node object",
                req.name
            ))
        }),
        _ => Some(Err(String::new())),
    }
}

/// Whether a field selector pins `spec.nodeName` to `node`.
fn selects_node(selector: &str, node: &str) -> bool {
    selector.split(',').any(|term| {
        let Some((field, value)) = term.split_once('=') else {
            return false;
        };
        let value = value.strip_prefix('=').unwrap_or(value);
        field.trim() == "spec.nodeName" && !field.ends_with('!') && value.trim() == node
    })
}

/// Pods: its own pods by selector or name; create/delete (mirror pods), status and eviction
/// for NodeRestriction to narrow.
fn pod(node: &str, req: &Request, graph: &Graph) -> Option<Result<(), String>> {
    Some(match (req.subresource.as_str(), req.verb.as_str()) {
        ("", "get") => get(node, Kind::Pod, req, graph),
        ("", "list" | "watch") => {
            if selects_node(&req.field_selector, node) {
                Ok(())
            } else if !req.name.is_empty() {
                related(node, Kind::Pod, req, graph)
            } else {
                Err("can only list/watch pods with spec.nodeName field selector".into())
            }
        }
        ("", "create" | "delete") | ("status", "update" | "patch") | ("eviction", "create") => {
            Ok(())
        }
        _ => Err(String::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: vec![NODES_GROUP.into(), "system:authenticated".into()],
            ..UserInfo::default()
        }
    }

    /// `verb group/resource/sub ns/name ?selector` read into a request.
    fn req(line: &str) -> Request {
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or_default();
        let mut res = words.next().unwrap_or_default().split('/');
        let (group, resource) = (
            res.next().unwrap_or_default(),
            res.next().unwrap_or_default(),
        );
        let sub = res.next().unwrap_or_default();
        let (ns, name) = words
            .next()
            .unwrap_or("/")
            .split_once('/')
            .unwrap_or_default();
        Request {
            verb: verb.into(),
            resource_request: true,
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.into(),
            name: name.into(),
            field_selector: words.next().unwrap_or_default().into(),
            ..Request::default()
        }
    }

    /// What the graph reads of a pod or PV written as JSON.
    fn refs<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    fn graph() -> Graph {
        let mut g = Graph::default();
        g.set_pod(&refs(
            json!({"metadata": {"namespace": "d", "name": "web"}, "spec": {
            "nodeName": "a", "serviceAccountName": "sa",
            "volumes": [{"name": "v", "secret": {"secretName": "mine"}},
                        {"name": "c", "persistentVolumeClaim": {"claimName": "data"}}]}}),
        ));
        g.set_pod(&refs(
            json!({"metadata": {"namespace": "d", "name": "db"}, "spec": {
            "nodeName": "b", "volumes": [{"name": "v", "secret": {"secretName": "theirs"}}]}}),
        ));
        g.set_volume(&refs(json!({"metadata": {"name": "pv"}, "spec": {
            "claimRef": {"namespace": "d", "name": "data"}}})));
        g.set_on_node(Kind::VolumeAttachment, "va-a", Some("a"));
        g.set_on_node(Kind::VolumeAttachment, "va-b", Some("b"));
        g.set_on_node(Kind::ResourceSlice, "slice-a", Some("a"));
        g.set_on_node(Kind::ResourceSlice, "slice-b", Some("b"));
        g.set_on_node(Kind::ResourceSlice, "moved", Some("a"));
        g.set_on_node(Kind::ResourceSlice, "moved", Some("b"));
        g.set_on_node(Kind::ResourceSlice, "gone", Some("a"));
        g.delete_on_node(Kind::ResourceSlice, "gone");
        g
    }

    #[test]
    fn node_decisions_are_upstreams() {
        let g = graph();
        let a = node("system:node:a");
        let none = String::new();
        let rel = "no relationship found between node 'a' and this object".to_string();
        let cases: Vec<(&str, Result<(), String>)> = vec![
            ("get /secrets d/mine", Ok(())),
            ("watch /secrets d/mine", Ok(())),
            ("get /secrets d/theirs", Err(rel.clone())),
            ("list /secrets d/", Err("No Object name found".into())),
            (
                "delete /secrets d/mine",
                Err("can only read resources of this type".into()),
            ),
            ("get /configmaps d/kube-root-ca.crt", Err(rel.clone())),
            ("get /persistentvolumeclaims d/data", Ok(())),
            (
                "list /persistentvolumeclaims d/",
                Err("can only get individual resources of this type".into()),
            ),
            ("patch /persistentvolumeclaims/status d/data", Ok(())),
            ("get /persistentvolumes /pv", Ok(())),
            (
                "watch /persistentvolumes /",
                Err("can only get individual resources of this type".into()),
            ),
            ("create /serviceaccounts/token d/sa", Ok(())),
            ("create /serviceaccounts/token d/default", Err(rel.clone())),
            (
                "get /serviceaccounts d/sa",
                Err("can only create tokens for individual service accounts".into()),
            ),
            (
                "update coordination.k8s.io/leases kube-node-lease/a",
                Ok(()),
            ),
            ("create coordination.k8s.io/leases kube-node-lease/", Ok(())),
            (
                "update coordination.k8s.io/leases kube-node-lease/b",
                Err("can only access node lease with the same name as the requesting node".into()),
            ),
            (
                "get coordination.k8s.io/leases d/a",
                Err("can only access leases in the \"kube-node-lease\" system namespace".into()),
            ),
            ("get /nodes /a", Ok(())),
            ("watch /nodes /a", Ok(())),
            (
                "list /nodes /",
                Err("node 'a' cannot read all nodes, only its own Node object".into()),
            ),
            (
                "get /nodes /b",
                Err("node 'a' cannot read 'b', only its own Node object".into()),
            ),
            ("patch /nodes/status /a", Ok(())),
            ("delete /nodes /a", Err(none.clone())),
            ("watch /pods / spec.nodeName=a", Ok(())),
            ("list /pods / spec.nodeName==a", Ok(())),
            (
                "list /pods / spec.nodeName=b",
                Err("can only list/watch pods with spec.nodeName field selector".into()),
            ),
            (
                "list /pods / spec.nodeName!=b",
                Err("can only list/watch pods with spec.nodeName field selector".into()),
            ),
            ("get /pods d/web", Ok(())),
            (
                "get /pods d/db",
                Err("no relationship found between node 'a' and this object".into()),
            ),
            ("create /pods d/", Ok(())),
            ("patch /pods/status d/db", Ok(())),
            ("create /pods/eviction d/db", Ok(())),
            ("get /pods/log d/web", Err(none.clone())),
            ("get storage.k8s.io/volumeattachments /va-a", Ok(())),
            ("get storage.k8s.io/volumeattachments /va-b", Err(rel.clone())),
            (
                "list storage.k8s.io/volumeattachments /",
                Err("can only get individual resources of this type".into()),
            ),
            ("get resource.k8s.io/resourceslices /slice-a", Ok(())),
            ("update resource.k8s.io/resourceslices /slice-a", Ok(())),
            ("delete resource.k8s.io/resourceslices /slice-a", Ok(())),
            ("patch resource.k8s.io/resourceslices /slice-b", Err(rel.clone())),
            ("get resource.k8s.io/resourceslices /moved", Err(rel.clone())),
            ("get resource.k8s.io/resourceslices /gone", Err(rel.clone())),
            ("create resource.k8s.io/resourceslices /", Ok(())),
            ("watch resource.k8s.io/resourceslices / spec.nodeName=a", Ok(())),
            (
                "deletecollection resource.k8s.io/resourceslices / spec.nodeName=a",
                Ok(()),
            ),
            (
                "list resource.k8s.io/resourceslices / spec.nodeName=b",
                Err("can only list/watch/deletecollection resourceslices with nodeName field selector".into()),
            ),
            (
                "get resource.k8s.io/resourceslices/status /slice-a",
                Err("cannot authorize ResourceSlice subresources".into()),
            ),
            // The node rules for the rest.
            ("watch /services /", Ok(())),
            ("create /events d/", Ok(())),
            ("create authentication.k8s.io/tokenreviews /", Ok(())),
            ("create apps/deployments d/", Err(none.clone())),
            ("list discovery.k8s.io/endpointslices /", Err(none.clone())),
            ("watch networking.k8s.io/ingresses /", Err(none.clone())),
        ];
        for (line, want) in cases {
            assert_eq!(authorize(&a, &req(line), &g), Some(want), "{line}");
        }
    }

    #[test]
    fn only_node_identities_are_decided_here() {
        let g = graph();
        assert_eq!(
            node_of(&node("system:node:kind-worker")),
            Some("kind-worker")
        );
        let mut not = node("system:node:x");
        not.groups.clear();
        assert_eq!(authorize(&not, &req("get /pods d/p"), &g), None);
        assert_eq!(
            authorize(&node("system:node:"), &req("get /pods d/p"), &g),
            Some(Err("unknown node for user \"system:node:\"".into()))
        );
    }
}
