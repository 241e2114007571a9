//! Who each part of `kindling node` is to the API server, and the RBAC its upstream counterpart
//! installs for it — so that every part holds exactly upstream's rights:
//!
//! | part | identity | rights, as installed by |
//! | --- | --- | --- |
//! | kubelet | `system:node:<name>` in `system:nodes` | Node authorizer + NodeRestriction |
//! | service proxy | SA `kube-system/kube-proxy` | `system:node-proxier` (kubeadm's `kubeadm:node-proxier` binding) |
//! | cluster DNS | SA `kube-system/coredns` | `system:coredns` (kubeadm's CoreDNS addon) |
//! | pod network | SA `kube-system/kindnet` | `kindnet` (kind's kindnet manifest) |
//! | local-path volumes | SA `local-path-storage/local-path-provisioner-service-account` | `local-path-provisioner-role` (kind's local-path-storage manifest) |
//! | ingress controller | SA `ingress-kindling/ingress-nginx` | `ingress-nginx` (ingress-nginx's kind manifest) |
//! | scheduler | `system:kube-scheduler` | upstream's bootstrap policy |
//!
//! The host issues each node one client certificate per node-side part (`kubeconfig-<part>` next
//! to the kubelet's `kubeconfig`, see [`Part::file`]); a certificate whose common name is a service
//! account's user name authenticates as that account, as upstream's x509 authenticator reads it.
//! The API server makes [`addons`] at its first start, before it serves, so no part ever meets
//! a 403 for want of its binding. No IO here.

use serde_json::{json, Value};

/// A node-side part with an identity of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    ServiceProxy,
    Dns,
    PodNetwork,
    LocalPath,
    Ingress,
}

impl Part {
    pub const ALL: [Part; 5] = [
        Part::ServiceProxy,
        Part::Dns,
        Part::PodNetwork,
        Part::LocalPath,
        Part::Ingress,
    ];

    /// The service account it runs as (namespace, name).
    pub fn service_account(self) -> (&'static str, &'static str) {
        match self {
            Part::ServiceProxy => ("kube-system", "kube-proxy"),
            Part::Dns => ("kube-system", "coredns"),
            Part::PodNetwork => ("kube-system", "kindnet"),
            Part::LocalPath => (
                "local-path-storage",
                "local-path-provisioner-service-account",
            ),
            Part::Ingress => ("ingress-kindling", "ingress-nginx"),
        }
    }

    /// The user name and groups its certificate carries (the service account's).
    pub fn user(self) -> (String, Vec<String>) {
        let (ns, name) = self.service_account();
        (
            format!("system:serviceaccount:{ns}:{name}"),
            vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
            ],
        )
    }

    /// Its kubeconfig's file name in the node's `/kindling`.
    pub fn file(self) -> &'static str {
        match self {
            Part::ServiceProxy => "kubeconfig-kube-proxy",
            Part::Dns => "kubeconfig-coredns",
            Part::PodNetwork => "kubeconfig-kindnet",
            Part::LocalPath => "kubeconfig-local-path-provisioner",
            Part::Ingress => "kubeconfig-ingress-nginx",
        }
    }
}

/// The scheduler's user (bound by upstream's bootstrap policy).
pub const SCHEDULER_USER: &str = "system:kube-scheduler";

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

fn cluster_role(name: &str, rules: Vec<Value>) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
           "metadata": {"name": name}, "rules": rules})
}

fn binding(name: &str, role: &str, part: Part) -> Value {
    let (ns, sa) = part.service_account();
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
           "metadata": {"name": name},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
           "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns}]})
}

/// What the parts' upstream installers create: their namespaces, service accounts, ClusterRoles
/// (the upstream manifests' rules) and bindings. `system:node-proxier` is upstream's bootstrap
/// role and needs only kubeadm's binding.
pub fn addons() -> Vec<Value> {
    let mut out = Vec::new();
    for ns in ["local-path-storage", "ingress-kindling"] {
        out.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    }
    for part in Part::ALL {
        let (ns, name) = part.service_account();
        out.push(json!({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": name, "namespace": ns}}));
    }
    out.push(binding(
        "kubeadm:node-proxier",
        "system:node-proxier",
        Part::ServiceProxy,
    ));
    // kubeadm's: nodes' client certificates are approved automatically, for bootstrap tokens
    // (new nodes) and for nodes renewing their own.
    for (name, role, group) in [
        (
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            "system:bootstrappers:kubeadm:default-node-token",
        ),
        (
            "kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            "system:nodes",
        ),
    ] {
        out.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]}));
    }
    out.push(cluster_role(
        "system:coredns",
        vec![
            rule(
                &[""],
                &["endpoints", "services", "pods", "namespaces"],
                &["list", "watch"],
            ),
            rule(
                &["discovery.k8s.io"],
                &["endpointslices"],
                &["list", "watch"],
            ),
        ],
    ));
    out.push(binding("system:coredns", "system:coredns", Part::Dns));
    out.push(cluster_role(
        "kindnet",
        vec![
            rule(&[""], &["nodes"], &["list", "watch", "patch"]),
            rule(&[""], &["configmaps"], &["get"]),
            rule(&[""], &["namespaces", "pods"], &["list", "watch"]),
            rule(
                &["networking.k8s.io"],
                &["networkpolicies"],
                &["list", "watch"],
            ),
        ],
    ));
    out.push(binding("kindnet", "kindnet", Part::PodNetwork));
    out.push(cluster_role(
        "local-path-provisioner-role",
        vec![
            rule(
                &[""],
                &[
                    "nodes",
                    "persistentvolumeclaims",
                    "configmaps",
                    "pods",
                    "pods/log",
                ],
                &["get", "list", "watch"],
            ),
            rule(
                &[""],
                &["persistentvolumes"],
                &[
                    "get", "list", "watch", "create", "patch", "update", "delete",
                ],
            ),
            rule(&[""], &["events"], &["create", "patch"]),
            rule(
                &["storage.k8s.io"],
                &["storageclasses"],
                &["get", "list", "watch"],
            ),
        ],
    ));
    out.push(binding(
        "local-path-provisioner-bind",
        "local-path-provisioner-role",
        Part::LocalPath,
    ));
    out.push(cluster_role(
        "ingress-nginx",
        vec![
            rule(
                &[""],
                &[
                    "configmaps",
                    "endpoints",
                    "nodes",
                    "pods",
                    "secrets",
                    "namespaces",
                ],
                &["list", "watch"],
            ),
            rule(&["coordination.k8s.io"], &["leases"], &["list", "watch"]),
            rule(&[""], &["nodes"], &["get"]),
            rule(&[""], &["services"], &["get", "list", "watch"]),
            rule(
                &["networking.k8s.io"],
                &["ingresses"],
                &["get", "list", "watch"],
            ),
            rule(&[""], &["events"], &["create", "patch"]),
            rule(&["networking.k8s.io"], &["ingresses/status"], &["update"]),
            rule(
                &["networking.k8s.io"],
                &["ingressclasses"],
                &["get", "list", "watch"],
            ),
            rule(
                &["discovery.k8s.io"],
                &["endpointslices"],
                &["list", "watch", "get"],
            ),
            // The same controller serves the Gateway API (ingress-nginx does not): it reads
            // the classes, Gateways, routes and ReferenceGrants and writes their status only.
            rule(
                &["gateway.networking.k8s.io"],
                &[
                    "gatewayclasses",
                    "gateways",
                    "httproutes",
                    "grpcroutes",
                    "referencegrants",
                ],
                &["get", "list", "watch"],
            ),
            rule(
                &["gateway.networking.k8s.io"],
                &[
                    "gatewayclasses/status",
                    "gateways/status",
                    "httproutes/status",
                    "grpcroutes/status",
                ],
                &["update", "patch"],
            ),
        ],
    ));
    out.push(binding("ingress-nginx", "ingress-nginx", Part::Ingress));
    out.extend(own_controller_roles());
    out
}

/// The controller-manager identities that exist only in kindling, as a `kube-system` service
/// account each.
pub const SERVING_APPROVER: &str = "kubelet-serving-approver";
/// The service load-balancer controller's account: upstream's service controller's, whose
/// `system:controller:service-controller` role the bootstrap policy binds.
pub const SERVICE_LB: &str = "service-controller";

/// What kindling's own controller parts need beyond upstream's roles, each on a role of its
/// own (never added to an upstream-named one):
/// - the kubelet serving approver (upstream has none): read the Node a request names, approve
///   `kubernetes.io/kubelet-serving` requests;
/// - the service load balancer (cloud-provider-kind's job, on upstream's service-controller
///   role): watch EndpointSlices, because an `externalTrafficPolicy: Local` balancer forwards
///   only to the nodes with a ready endpoint (a cloud's balancer asks the health-check node
///   port instead).
fn own_controller_roles() -> Vec<Value> {
    let bind = |role: &str, account: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": role},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
               "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": "kube-system"}]})
    };
    let approver = format!("kindling:controller:{SERVING_APPROVER}");
    let lb = "kindling:controller:service-lb-endpointslices";
    vec![
        cluster_role(
            &approver,
            vec![
                rule(&[""], &["nodes"], &["get"]),
                rule(
                    &["certificates.k8s.io"],
                    &["certificatesigningrequests/approval"],
                    &["update"],
                ),
                json!({"apiGroups": ["certificates.k8s.io"], "resources": ["signers"],
                       "resourceNames": ["kubernetes.io/kubelet-serving"], "verbs": ["approve"]}),
            ],
        ),
        bind(&approver, SERVING_APPROVER),
        cluster_role(
            lb,
            vec![rule(
                &["discovery.k8s.io"],
                &["endpointslices"],
                &["list", "watch"],
            )],
        ),
        bind(lb, SERVICE_LB),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_has_an_account_a_binding_and_a_file_of_its_own() {
        let addons = addons();
        let mut files: Vec<&str> = Part::ALL.iter().map(|p| p.file()).collect();
        files.sort_unstable();
        files.dedup();
        assert_eq!(files.len(), Part::ALL.len());
        for part in Part::ALL {
            let (ns, name) = part.service_account();
            assert!(addons.iter().any(|o| o["kind"] == "ServiceAccount"
                && o["metadata"]["name"] == name
                && o["metadata"]["namespace"] == ns));
            let bound = addons.iter().find(|o| {
                o["kind"] == "ClusterRoleBinding"
                    && o["subjects"][0]["name"] == name
                    && o["subjects"][0]["namespace"] == ns
            });
            let role = &bound.expect("a binding")["roleRef"]["name"];
            let defined = addons
                .iter()
                .any(|o| o["kind"] == "ClusterRole" && o["metadata"]["name"] == *role);
            assert!(defined || role == "system:node-proxier", "{role}");
            assert_eq!(part.user().0, format!("system:serviceaccount:{ns}:{name}"));
        }
        // Namespaces come before what lives in them.
        let first_sa = addons.iter().position(|o| o["kind"] == "ServiceAccount");
        let last_ns = addons.iter().rposition(|o| o["kind"] == "Namespace");
        assert!(last_ns < first_sa);
    }
}
