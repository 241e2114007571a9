//! The Node authorizer's first part (upstream's `plugin/pkg/auth/authorizer/node`): a node's
//! identity — user `system:node:<name>` in group `system:nodes` — may do what upstream's
//! `NodeRules()` allow (the `system:node` ClusterRole's rules; upstream binds that role to no
//! one and authorizes nodes here), whatever the RBAC bindings say.
//!
//! Not yet upstream's: requests for secrets, configmaps, claims, volumes and service account
//! tokens are not narrowed to the objects of the node's own pods (upstream's graph), and the
//! node's identity also carries the rights of the parts of `kindling node` that use it today
//! besides the kubelet — the service proxy and cluster DNS (EndpointSlices, like
//! `system:node-proxier` / CoreDNS's role), the local-path provisioner's node half
//! (PersistentVolumes) and the ingress controller of ingress nodes (reading Ingresses and
//! IngressClasses, writing Ingress status, as ingress-nginx's ClusterRole allows; and the
//! Gateway API's objects and Namespaces, writing only their status) — until each
//! has an identity of its own. No IO.

use super::policy;
use super::rules::{Request, Rule};
use kindling_api::user::UserInfo;
use std::sync::OnceLock;

pub const NODES_GROUP: &str = "system:nodes";
const NODE_USER_PREFIX: &str = "system:node:";

/// The node a user is, as upstream's NodeIdentifier reads it.
pub fn node_of(user: &UserInfo) -> Option<&str> {
    let name = user.name.strip_prefix(NODE_USER_PREFIX)?;
    let member = user.groups.iter().any(|g| g == NODES_GROUP);
    (member && !name.is_empty()).then_some(name)
}

/// Upstream's NodeRules (the `system:node` ClusterRole's rules) and what kindling's node-side
/// parts use the same identity for.
fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut rules: Vec<Rule> = policy::cluster_roles()
            .iter()
            .find(|r| r["metadata"]["name"] == "system:node")
            .and_then(|r| r["rules"].as_array())
            .map(|a| a.iter().map(Rule::from_json).collect())
            .unwrap_or_default();
        rules.push(Rule::resources(
            &["list", "watch"],
            &["discovery.k8s.io"],
            &["endpointslices"],
        ));
        rules.push(Rule::resources(
            &["list", "watch", "delete"],
            &[""],
            &["persistentvolumes"],
        ));
        rules.push(Rule::resources(
            &["get", "list", "watch"],
            &["networking.k8s.io"],
            &["ingresses", "ingressclasses"],
        ));
        rules.push(Rule::resources(
            &["update", "patch"],
            &["networking.k8s.io"],
            &["ingresses/status"],
        ));
        // The same controller serves the Gateway API: it reads the classes, Gateways, routes,
        // ReferenceGrants and Namespaces (allowedRoutes selectors) and writes status only.
        rules.push(Rule::resources(
            &["get", "list", "watch"],
            &["gateway.networking.k8s.io"],
            &[
                "gatewayclasses",
                "gateways",
                "httproutes",
                "grpcroutes",
                "referencegrants",
            ],
        ));
        rules.push(Rule::resources(
            &["update", "patch"],
            &["gateway.networking.k8s.io"],
            &[
                "gatewayclasses/status",
                "gateways/status",
                "httproutes/status",
                "grpcroutes/status",
            ],
        ));
        rules.push(Rule::resources(&["list", "watch"], &[""], &["namespaces"]));
        rules
    })
}

/// Whether the node rules allow `req` of `user` (`None`: not a node, no opinion).
pub fn authorize(user: &UserInfo, req: &Request) -> Option<bool> {
    node_of(user)?;
    Some(rules().iter().any(|r| r.allows(req)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> UserInfo {
        UserInfo {
            name: name.into(),
            groups: vec![NODES_GROUP.into(), "system:authenticated".into()],
            ..UserInfo::default()
        }
    }

    fn req(verb: &str, group: &str, resource: &str, sub: &str) -> Request {
        Request {
            verb: verb.into(),
            resource_request: true,
            api_group: group.into(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: "default".into(),
            ..Request::default()
        }
    }

    #[test]
    fn nodes_get_the_node_rules() {
        let n = node("system:node:kind-worker");
        assert_eq!(node_of(&n), Some("kind-worker"));
        assert_eq!(
            authorize(&n, &req("patch", "", "pods", "status")),
            Some(true)
        );
        assert_eq!(
            authorize(&n, &req("create", "", "serviceaccounts", "token")),
            Some(true)
        );
        assert_eq!(
            authorize(&n, &req("update", "coordination.k8s.io", "leases", "")),
            Some(true)
        );
        assert_eq!(
            authorize(&n, &req("watch", "discovery.k8s.io", "endpointslices", "")),
            Some(true)
        );
        assert_eq!(
            authorize(&n, &req("delete", "", "secrets", "")),
            Some(false)
        );
        // the ingress controller's reads and status writes, not its spec
        assert_eq!(
            authorize(&n, &req("watch", "networking.k8s.io", "ingresses", "")),
            Some(true)
        );
        assert_eq!(
            authorize(
                &n,
                &req("patch", "networking.k8s.io", "ingresses", "status")
            ),
            Some(true)
        );
        assert_eq!(
            authorize(&n, &req("patch", "networking.k8s.io", "ingresses", "")),
            Some(false)
        );
        assert_eq!(
            authorize(&n, &req("create", "apps", "deployments", "")),
            Some(false)
        );
        // the Gateway API: reads and status writes, not specs
        let gw = "gateway.networking.k8s.io";
        assert_eq!(
            authorize(&n, &req("watch", gw, "httproutes", "")),
            Some(true)
        );
        assert_eq!(
            authorize(&n, &req("patch", gw, "gateways", "status")),
            Some(true)
        );
        assert_eq!(
            authorize(&n, &req("patch", gw, "gateways", "")),
            Some(false)
        );
        assert_eq!(
            authorize(&n, &req("create", gw, "referencegrants", "")),
            Some(false)
        );
        // Not a node: the name alone or the group alone is not enough.
        let mut not = node("system:node:x");
        not.groups.clear();
        assert_eq!(authorize(&not, &req("get", "", "pods", "")), None);
        assert_eq!(
            authorize(&node("system:node:"), &req("get", "", "pods", "")),
            None
        );
    }
}
