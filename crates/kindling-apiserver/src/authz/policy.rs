//! Upstream's bootstrap policy (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy`) as data —
//! the cluster roles and bindings every cluster starts with, the controllers' roles bound to
//! their service accounts in kube-system — and upstream's reconciliation of an existing object
//! with its expected form (`pkg/registry/rbac/reconciliation`), which both start-up and
//! `kubectl auth reconcile` semantics follow: missing rules and subjects are added, nothing is
//! removed, labels and annotations are merged, an object annotated
//! `rbac.authorization.kubernetes.io/autoupdate: "false"` is left alone. No IO.

use super::rules::{uncovered, Rule};
use serde_json::{json, Value};

pub const AUTOUPDATE: &str = "rbac.authorization.kubernetes.io/autoupdate";
const BOOTSTRAPPING: &str = "kubernetes.io/bootstrapping";

const READ: &str = "get list watch";
const READ_WRITE: &str = "get list watch create update patch delete deletecollection";
/// What admin and edit may do besides reading (upstream's `Write`).
const WRITE: &str = "create update patch delete deletecollection";

/// A rule: space-separated verbs and resources over `groups`.
/// Every list sorted, as upstream's rule builder leaves them.
pub(super) fn r(verbs: &str, groups: &[&str], resources: &str) -> Rule {
    Rule {
        verbs: sorted(verbs.split_whitespace()),
        api_groups: sorted(groups.iter().copied()),
        resources: sorted(resources.split_whitespace()),
        ..Rule::default()
    }
}

fn urls(verbs: &str, list: &[&str]) -> Rule {
    Rule {
        verbs: sorted(verbs.split_whitespace()),
        non_resource_urls: sorted(list.iter().copied()),
        ..Rule::default()
    }
}

fn sorted<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = items.map(str::to_string).collect();
    v.sort();
    v
}

/// Upstream's eventsRule(): write Events of both groups.
pub(super) fn events() -> Rule {
    r("create patch update", &["", "events.k8s.io"], "events")
}

pub(super) fn meta(name: &str, labels: &[(&str, &str)]) -> Value {
    let mut l = serde_json::Map::new();
    l.insert(BOOTSTRAPPING.into(), json!("rbac-defaults"));
    for (k, v) in labels {
        l.insert((*k).into(), json!(v));
    }
    json!({"name": name, "labels": l, "annotations": {AUTOUPDATE: "true"}})
}

fn role(name: &str, labels: &[(&str, &str)], rules: Vec<Rule>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": meta(name, labels),
        "rules": rules.iter().map(Rule::to_json).collect::<Vec<_>>(),
    })
}

fn aggregated(name: &str, labels: &[(&str, &str)], to: &str) -> Value {
    let mut v = role(name, labels, Vec::new());
    v["aggregationRule"] = json!({"clusterRoleSelectors": [
        {"matchLabels": {format!("rbac.authorization.k8s.io/aggregate-to-{to}"): "true"}}
    ]});
    v
}

/// A subject: `User:x`, `Group:x`, `ServiceAccount:ns/x`.
pub(super) fn subject(s: &str) -> Value {
    let (kind, name) = s.split_once(':').unwrap_or(("User", s));
    match kind {
        "ServiceAccount" => {
            let (ns, name) = name.split_once('/').unwrap_or(("kube-system", name));
            json!({"kind": "ServiceAccount", "name": name, "namespace": ns})
        }
        _ => json!({"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}),
    }
}

fn binding(name: &str, role: &str, subjects: &[&str]) -> Value {
    let mut v = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": meta(name, &[]),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
    });
    if !subjects.is_empty() {
        v["subjects"] = json!(subjects.iter().map(|s| subject(s)).collect::<Vec<_>>());
    }
    v
}

const TO_ADMIN: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-admin", "true");
const TO_EDIT: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-edit", "true");
const TO_VIEW: (&str, &str) = ("rbac.authorization.k8s.io/aggregate-to-view", "true");

/// Upstream's ClusterRoles().
pub fn cluster_roles() -> Vec<Value> {
    let signer =
        |verb: &str, names: &[&str]| r(verb, &["certificates.k8s.io"], "signers").names(names);
    let mut roles =
        vec![
            role(
                "cluster-admin",
                &[],
                vec![r("*", &["*"], "*"), urls("*", &["*"])],
            ),
            role(
                "system:discovery",
                &[],
                vec![urls(
                    "get",
                    &[
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                        "/healthz",
                        "/livez",
                        "/openapi",
                        "/openapi/*",
                        "/readyz",
                        "/version",
                        "/version/",
                    ],
                )],
            ),
            role(
                "system:monitoring",
                &[],
                vec![urls(
                    "get",
                    &[
                        "/healthz",
                        "/healthz/*",
                        "/livez",
                        "/livez/*",
                        "/metrics",
                        "/metrics/slis",
                        "/readyz",
                        "/readyz/*",
                    ],
                )],
            ),
            role(
                "system:basic-user",
                &[],
                vec![
                    r(
                        "create",
                        &["authorization.k8s.io"],
                        "selfsubjectaccessreviews selfsubjectrulesreviews",
                    ),
                    r("create", &["authentication.k8s.io"], "selfsubjectreviews"),
                ],
            ),
            role(
                "system:public-info-viewer",
                &[],
                vec![urls(
                    "get",
                    &["/healthz", "/livez", "/readyz", "/version", "/version/"],
                )],
            ),
            aggregated("admin", &[], "admin"),
            aggregated("edit", &[TO_ADMIN], "edit"),
            aggregated("view", &[TO_EDIT], "view"),
            role(
                "system:aggregate-to-admin",
                &[TO_ADMIN],
                vec![
                    r(
                        "create",
                        &["authorization.k8s.io"],
                        "localsubjectaccessreviews",
                    ),
                    r(
                        READ_WRITE,
                        &["rbac.authorization.k8s.io"],
                        "rolebindings roles",
                    ),
                ],
            ),
            role(
                "system:aggregate-to-edit",
                &[TO_EDIT],
                vec![
                r(
                    READ,
                    &[""],
                    "pods/attach pods/exec pods/portforward pods/proxy secrets services/proxy",
                ),
                r("impersonate", &[""], "serviceaccounts"),
                r(WRITE, &[""], "pods pods/attach pods/exec pods/portforward pods/proxy"),
                r("create", &[""], "pods/eviction"),
                r(
                    WRITE,
                    &[""],
                    "configmaps events persistentvolumeclaims replicationcontrollers \
                     replicationcontrollers/scale secrets serviceaccounts services services/proxy",
                ),
                r("create", &[""], "serviceaccounts/token"),
                r(
                    WRITE,
                    &["apps"],
                    "daemonsets deployments deployments/rollback deployments/scale replicasets \
                     replicasets/scale statefulsets statefulsets/scale",
                ),
                r(WRITE, &["autoscaling"], "horizontalpodautoscalers"),
                r(WRITE, &["batch"], "cronjobs jobs"),
                r(
                    WRITE,
                    &["extensions"],
                    "daemonsets deployments deployments/rollback deployments/scale ingresses \
                     networkpolicies replicasets replicasets/scale replicationcontrollers/scale",
                ),
                r(WRITE, &["policy"], "poddisruptionbudgets"),
                r(WRITE, &["networking.k8s.io"], "ingresses networkpolicies"),
                r(READ_WRITE, &["coordination.k8s.io"], "leases"),
            ],
            ),
            role(
                "system:aggregate-to-view",
                &[TO_VIEW],
                vec![
                r(
                    READ,
                    &[""],
                    "configmaps endpoints persistentvolumeclaims persistentvolumeclaims/status \
                     pods replicationcontrollers replicationcontrollers/scale serviceaccounts \
                     services services/status",
                ),
                r(
                    READ,
                    &[""],
                    "bindings events limitranges namespaces/status pods/log pods/status \
                     replicationcontrollers/status resourcequotas resourcequotas/status",
                ),
                r(READ, &[""], "namespaces"),
                r(READ, &["discovery.k8s.io"], "endpointslices"),
                r(
                    READ,
                    &["apps"],
                    "controllerrevisions daemonsets daemonsets/status deployments \
                     deployments/scale deployments/status replicasets replicasets/scale \
                     replicasets/status statefulsets statefulsets/scale statefulsets/status",
                ),
                r(
                    READ,
                    &["autoscaling"],
                    "horizontalpodautoscalers horizontalpodautoscalers/status",
                ),
                r(READ, &["batch"], "cronjobs cronjobs/status jobs jobs/status"),
                r(
                    READ,
                    &["extensions"],
                    "daemonsets daemonsets/status deployments deployments/scale \
                     deployments/status ingresses ingresses/status networkpolicies replicasets \
                     replicasets/scale replicasets/status replicationcontrollers/scale",
                ),
                r(
                    READ,
                    &["policy"],
                    "poddisruptionbudgets poddisruptionbudgets/status",
                ),
                r(
                    READ,
                    &["networking.k8s.io"],
                    "ingresses ingresses/status networkpolicies",
                ),
            ],
            ),
            role(
                "system:heapster",
                &[],
                vec![
                    r(READ, &[""], "events namespaces nodes pods"),
                    r(READ, &["extensions"], "deployments"),
                ],
            ),
            role(
                "system:node",
                &[],
                vec![
                    r("create", &["authentication.k8s.io"], "tokenreviews"),
                    r(
                        "create",
                        &["authorization.k8s.io"],
                        "localsubjectaccessreviews subjectaccessreviews",
                    ),
                    r(READ, &[""], "services"),
                    r("create get list watch", &[""], "nodes"),
                    r("patch update", &[""], "nodes/status"),
                    r("patch update", &[""], "nodes"),
                    r("create patch update", &[""], "events"),
                    r(READ, &[""], "pods"),
                    r("create delete", &[""], "pods"),
                    r("patch update", &[""], "pods/status"),
                    r("create", &[""], "pods/eviction"),
                    r(READ, &[""], "configmaps secrets"),
                    r("get", &[""], "persistentvolumeclaims persistentvolumes"),
                    r("get", &[""], "endpoints"),
                    r(
                        "create get list watch",
                        &["certificates.k8s.io"],
                        "certificatesigningrequests",
                    ),
                    r(
                        "create delete get patch update",
                        &["coordination.k8s.io"],
                        "leases",
                    ),
                    r("get", &["storage.k8s.io"], "volumeattachments"),
                    r("create", &[""], "serviceaccounts/token"),
                    r("get patch update", &[""], "persistentvolumeclaims/status"),
                    r(READ, &["storage.k8s.io"], "csidrivers"),
                    r(
                        "create delete get patch update",
                        &["storage.k8s.io"],
                        "csinodes",
                    ),
                    r(READ, &["node.k8s.io"], "runtimeclasses"),
                ],
            ),
            role(
                "system:node-problem-detector",
                &[],
                vec![
                    r("get", &[""], "nodes"),
                    r("patch", &[""], "nodes/status"),
                    events(),
                ],
            ),
            role(
                "system:kubelet-api-admin",
                &[],
                vec![
                    r(READ, &[""], "nodes"),
                    r("proxy", &[""], "nodes"),
                    r(
                        "*",
                        &[""],
                        "nodes/log nodes/metrics nodes/proxy nodes/stats",
                    ),
                ],
            ),
            role(
                "system:node-bootstrapper",
                &[],
                vec![r(
                    "create get list watch",
                    &["certificates.k8s.io"],
                    "certificatesigningrequests",
                )],
            ),
            role(
                "system:auth-delegator",
                &[],
                vec![
                    r("create", &["authentication.k8s.io"], "tokenreviews"),
                    r("create", &["authorization.k8s.io"], "subjectaccessreviews"),
                ],
            ),
            role(
                "system:kube-aggregator",
                &[],
                vec![r(READ, &[""], "endpoints services")],
            ),
            role(
                "system:kube-controller-manager",
                &[],
                vec![
                    events(),
                    r("create", &["coordination.k8s.io"], "leases"),
                    r("get update", &["coordination.k8s.io"], "leases")
                        .names(&["kube-controller-manager"]),
                    r("create", &[""], "secrets serviceaccounts"),
                    r("delete", &[""], "secrets"),
                    r(
                        "get",
                        &[""],
                        "configmaps namespaces secrets serviceaccounts",
                    ),
                    r("update", &[""], "secrets serviceaccounts"),
                    r("create", &["authentication.k8s.io"], "tokenreviews"),
                    r("create", &["authorization.k8s.io"], "subjectaccessreviews"),
                    r("list watch", &["*"], "*"),
                    r("create", &[""], "serviceaccounts/token"),
                ],
            ),
            role(
                "system:kube-dns",
                &[],
                vec![r("list watch", &[""], "endpoints services")],
            ),
            role(
                "system:persistent-volume-provisioner",
                &[],
                vec![
                    r("create delete get list watch", &[""], "persistentvolumes"),
                    r("get list update watch", &[""], "persistentvolumeclaims"),
                    r(READ, &["storage.k8s.io"], "storageclasses"),
                    r("watch", &[""], "events"),
                    events(),
                ],
            ),
            role(
                "system:kube-scheduler",
                &[],
                vec![
                    events(),
                    r("create", &["coordination.k8s.io"], "leases"),
                    r("get update", &["coordination.k8s.io"], "leases").names(&["kube-scheduler"]),
                    r(READ, &[""], "nodes"),
                    r("delete get list watch", &[""], "pods"),
                    r("create", &[""], "bindings pods/binding"),
                    r("patch update", &[""], "pods/status"),
                    r(READ, &[""], "replicationcontrollers services"),
                    r(READ, &["apps", "extensions"], "replicasets"),
                    r(READ, &["apps"], "statefulsets"),
                    r(READ, &["policy"], "poddisruptionbudgets"),
                    r(READ, &[""], "persistentvolumeclaims persistentvolumes"),
                    r("create", &["authentication.k8s.io"], "tokenreviews"),
                    r("create", &["authorization.k8s.io"], "subjectaccessreviews"),
                    r(READ, &["storage.k8s.io"], "csinodes"),
                    r(READ, &[""], "namespaces"),
                    r(READ, &["storage.k8s.io"], "csidrivers"),
                    r(READ, &["storage.k8s.io"], "csistoragecapacities"),
                ],
            ),
            role(
                "system:volume-scheduler",
                &[],
                vec![
                    r("get list patch update watch", &[""], "persistentvolumes"),
                    r(READ, &["storage.k8s.io"], "storageclasses"),
                    r(
                        "get list patch update watch",
                        &[""],
                        "persistentvolumeclaims",
                    ),
                ],
            ),
            role(
                "system:node-proxier",
                &[],
                vec![
                    r("list watch", &[""], "endpoints services"),
                    r(READ, &[""], "nodes"),
                    events(),
                    r("list watch", &["discovery.k8s.io"], "endpointslices"),
                ],
            ),
            role(
                "system:service-account-issuer-discovery",
                &[],
                vec![urls(
                    "get",
                    &["/.well-known/openid-configuration", "/openid/v1/jwks"],
                )],
            ),
            role(
                "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                &[],
                vec![r(
                    "create",
                    &["certificates.k8s.io"],
                    "certificatesigningrequests/nodeclient",
                )],
            ),
            role(
                "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                &[],
                vec![r(
                    "create",
                    &["certificates.k8s.io"],
                    "certificatesigningrequests/selfnodeclient",
                )],
            ),
            role(
                "system:certificates.k8s.io:kube-apiserver-client-approver",
                &[],
                vec![signer("approve", &["kubernetes.io/kube-apiserver-client"])],
            ),
            role(
                "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver",
                &[],
                vec![signer(
                    "approve",
                    &["kubernetes.io/kube-apiserver-client-kubelet"],
                )],
            ),
            role(
                "system:certificates.k8s.io:kubelet-serving-approver",
                &[],
                vec![signer("approve", &["kubernetes.io/kubelet-serving"])],
            ),
            role(
                "system:certificates.k8s.io:legacy-unknown-approver",
                &[],
                vec![signer("approve", &["kubernetes.io/legacy-unknown"])],
            ),
        ];
    roles.extend(controller_roles());
    roles
}

/// Upstream's ClusterRoleBindings() and the controllers' bindings.
pub fn cluster_role_bindings() -> Vec<Value> {
    let mut bindings = vec![
        binding("cluster-admin", "cluster-admin", &["Group:system:masters"]),
        binding(
            "system:monitoring",
            "system:monitoring",
            &["Group:system:monitoring"],
        ),
        binding(
            "system:discovery",
            "system:discovery",
            &["Group:system:authenticated"],
        ),
        binding(
            "system:basic-user",
            "system:basic-user",
            &["Group:system:authenticated"],
        ),
        binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            &["Group:system:authenticated", "Group:system:unauthenticated"],
        ),
        binding(
            "system:node-proxier",
            "system:node-proxier",
            &["User:system:kube-proxy"],
        ),
        binding(
            "system:kube-controller-manager",
            "system:kube-controller-manager",
            &["User:system:kube-controller-manager"],
        ),
        binding(
            "system:kube-dns",
            "system:kube-dns",
            &["ServiceAccount:kube-system/kube-dns"],
        ),
        binding(
            "system:kube-scheduler",
            "system:kube-scheduler",
            &["User:system:kube-scheduler"],
        ),
        binding(
            "system:volume-scheduler",
            "system:volume-scheduler",
            &["User:system:kube-scheduler"],
        ),
        // Nodes are authorized by the Node authorizer; the binding exists without subjects.
        binding("system:node", "system:node", &[]),
        binding(
            "system:service-account-issuer-discovery",
            "system:service-account-issuer-discovery",
            &["Group:system:serviceaccounts"],
        ),
    ];
    for role in controller_roles() {
        let name = role["metadata"]["name"].as_str().unwrap_or_default();
        let controller = name.trim_start_matches("system:controller:");
        bindings.push(binding(
            name,
            name,
            &[&format!("ServiceAccount:kube-system/{controller}")],
        ));
    }
    bindings
}

/// Upstream's controller roles (`controller_policy.go`), `system:controller:<name>`, each
/// bound to the service account kube-system/<name>.
fn controller_roles() -> Vec<Value> {
    let c = |name: &str, rules: Vec<Rule>| role(&format!("system:controller:{name}"), &[], rules);
    let apps_ext: &[&str] = &["apps", "extensions"];
    vec![
        c(
            "attachdetach-controller",
            vec![
                r(
                    "list watch",
                    &[""],
                    "persistentvolumeclaims persistentvolumes",
                ),
                r(READ, &[""], "nodes"),
                r("patch update", &[""], "nodes/status"),
                r("list watch", &[""], "pods"),
                events(),
                r(
                    "create delete get list watch",
                    &["storage.k8s.io"],
                    "volumeattachments",
                ),
                r(READ, &["storage.k8s.io"], "csidrivers"),
                r(READ, &["storage.k8s.io"], "csinodes"),
            ],
        ),
        c(
            "certificate-controller",
            vec![
                r(
                    "delete get list watch",
                    &["certificates.k8s.io"],
                    "certificatesigningrequests",
                ),
                r(
                    "update",
                    &["certificates.k8s.io"],
                    "certificatesigningrequests/approval certificatesigningrequests/status",
                ),
                r("approve", &["certificates.k8s.io"], "signers")
                    .names(&["kubernetes.io/kube-apiserver-client-kubelet"]),
                r("sign", &["certificates.k8s.io"], "signers").names(&[
                    "kubernetes.io/kube-apiserver-client",
                    "kubernetes.io/kube-apiserver-client-kubelet",
                    "kubernetes.io/kubelet-serving",
                    "kubernetes.io/legacy-unknown",
                ]),
                r("create", &["authorization.k8s.io"], "subjectaccessreviews"),
                events(),
            ],
        ),
        c(
            "clusterrole-aggregation-controller",
            vec![r(
                "escalate get list patch update watch",
                &["rbac.authorization.k8s.io"],
                "clusterroles",
            )],
        ),
        c(
            "cronjob-controller",
            vec![
                r("get list update watch", &["batch"], "cronjobs"),
                r(
                    "create delete get list patch update watch",
                    &["batch"],
                    "jobs",
                ),
                r("update", &["batch"], "cronjobs/status"),
                r("update", &["batch"], "cronjobs/finalizers"),
                r("delete list watch", &[""], "pods"),
                events(),
            ],
        ),
        c(
            "daemon-set-controller",
            vec![
                r(READ, apps_ext, "daemonsets"),
                r("update", apps_ext, "daemonsets/status"),
                r("update", apps_ext, "daemonsets/finalizers"),
                r("list watch", &[""], "nodes"),
                r("create delete list patch watch", &[""], "pods"),
                r("create", &[""], "pods/binding"),
                r(
                    "create delete get list patch update watch",
                    &["apps"],
                    "controllerrevisions",
                ),
                events(),
            ],
        ),
        c(
            "deployment-controller",
            vec![
                r("get list update watch", apps_ext, "deployments"),
                r("update", apps_ext, "deployments/status"),
                r("update", apps_ext, "deployments/finalizers"),
                r(
                    "create delete get list patch update watch",
                    apps_ext,
                    "replicasets",
                ),
                r("get list update watch", &[""], "pods"),
                events(),
            ],
        ),
        c(
            "device-taint-eviction-controller",
            vec![
                r("delete get list watch", &[""], "pods"),
                r("patch update", &[""], "pods/status"),
                r(READ, &["resource.k8s.io"], "resourceclaims"),
                r(READ, &["resource.k8s.io"], "resourceslices"),
                r(READ, &["resource.k8s.io"], "deviceclasses"),
                r(READ, &["resource.k8s.io"], "devicetaintrules"),
                events(),
            ],
        ),
        c(
            "disruption-controller",
            vec![
                r(READ, apps_ext, "deployments"),
                r(READ, apps_ext, "replicasets"),
                r(READ, &[""], "replicationcontrollers"),
                r(READ, &["policy"], "poddisruptionbudgets"),
                r(READ, &["apps"], "statefulsets"),
                r("update", &["policy"], "poddisruptionbudgets/status"),
                r("patch update", &[""], "pods/status"),
                r("get", &["*"], "*/scale"),
                events(),
            ],
        ),
        c(
            "endpoint-controller",
            vec![
                r(READ, &[""], "pods services"),
                r("create delete get list update watch", &[""], "endpoints"),
                r("create", &[""], "endpoints/restricted"),
                events(),
            ],
        ),
        c(
            "endpointslice-controller",
            vec![
                r(READ, &[""], "nodes pods services"),
                r("update", &[""], "services/finalizers"),
                r(
                    "create delete get list update watch",
                    &["discovery.k8s.io"],
                    "endpointslices",
                ),
                events(),
            ],
        ),
        c(
            "endpointslicemirroring-controller",
            vec![
                r(READ, &[""], "endpoints services"),
                r("update", &[""], "services/finalizers"),
                r("update", &[""], "endpoints/finalizers"),
                r(
                    "create delete get list update watch",
                    &["discovery.k8s.io"],
                    "endpointslices",
                ),
                events(),
            ],
        ),
        c(
            "ephemeral-volume-controller",
            vec![
                r(READ, &[""], "pods"),
                r("update", &[""], "pods/finalizers"),
                r("create get list watch", &[""], "persistentvolumeclaims"),
                events(),
            ],
        ),
        c(
            "expand-controller",
            vec![
                r("get list patch update watch", &[""], "persistentvolumes"),
                r("patch update", &[""], "persistentvolumeclaims/status"),
                r(READ, &[""], "persistentvolumeclaims"),
                events(),
                // Upstream's, for the portworx volume plugin.
                r("get", &[""], "services"),
            ],
        ),
        c(
            "generic-garbage-collector",
            vec![
                r("delete get list patch update watch", &["*"], "*"),
                events(),
            ],
        ),
        c(
            "horizontal-pod-autoscaler",
            vec![
                r(READ, &["autoscaling"], "horizontalpodautoscalers"),
                r(
                    "update",
                    &["autoscaling"],
                    "horizontalpodautoscalers/status",
                ),
                r("get update", &["*"], "*/scale"),
                r("list watch", &[""], "pods"),
                r("list watch", &["metrics.k8s.io"], "pods"),
                r(READ, &["custom.metrics.k8s.io"], "*"),
                r(READ, &["external.metrics.k8s.io"], "*"),
                events(),
            ],
        ),
        c(
            "job-controller",
            vec![
                r("get list patch update watch", &["batch"], "jobs"),
                r("update", &["batch"], "jobs/status"),
                r("update", &["batch"], "jobs/finalizers"),
                r("create delete list patch watch", &[""], "pods"),
                events(),
            ],
        ),
        c(
            "legacy-service-account-token-cleaner",
            vec![
                r("get", &[""], "configmaps")
                    .names(&["kube-apiserver-legacy-service-account-token-tracking"]),
                r("delete patch", &[""], "secrets"),
            ],
        ),
        c(
            "namespace-controller",
            vec![
                r("delete get list watch", &[""], "namespaces"),
                r("update", &[""], "namespaces/finalize namespaces/status"),
                r("delete deletecollection get list watch", &["*"], "*"),
            ],
        ),
        c(
            "node-controller",
            vec![
                r("delete get list patch update watch", &[""], "nodes"),
                r("patch update", &[""], "nodes/status"),
                r("patch update", &[""], "pods/status"),
                r("delete get list watch", &[""], "pods"),
                events(),
            ],
        ),
        c(
            "persistent-volume-binder",
            vec![
                r(
                    "create delete get list update watch",
                    &[""],
                    "persistentvolumes",
                ),
                r("update", &[""], "persistentvolumes/status"),
                r("get list update watch", &[""], "persistentvolumeclaims"),
                r("update", &[""], "persistentvolumeclaims/status"),
                r("create delete get list watch", &[""], "pods"),
                r(READ, &["storage.k8s.io"], "storageclasses"),
                r("list watch", &[""], "nodes"),
                events(),
                r("watch", &[""], "events"),
                // Upstream's, for the portworx volume plugin.
                r("get", &[""], "services"),
            ],
        ),
        c(
            "pod-garbage-collector",
            vec![
                r("delete list watch", &[""], "pods"),
                r(READ, &[""], "nodes"),
                r("patch", &[""], "pods/status"),
            ],
        ),
        c(
            "pv-protection-controller",
            vec![
                r("get list update watch", &[""], "persistentvolumes"),
                events(),
            ],
        ),
        c(
            "pvc-protection-controller",
            vec![
                r("get list update watch", &[""], "persistentvolumeclaims"),
                r(READ, &[""], "pods"),
                events(),
            ],
        ),
        c(
            "replicaset-controller",
            vec![
                r("get list update watch", apps_ext, "replicasets"),
                r("update", apps_ext, "replicasets/status"),
                r("update", apps_ext, "replicasets/finalizers"),
                r("create delete list patch watch", &[""], "pods"),
                events(),
            ],
        ),
        c(
            "replication-controller",
            vec![
                r("get list update watch", &[""], "replicationcontrollers"),
                r("update", &[""], "replicationcontrollers/status"),
                r("update", &[""], "replicationcontrollers/finalizers"),
                r("create delete list patch watch", &[""], "pods"),
                events(),
            ],
        ),
        c(
            "resource-claim-controller",
            vec![
                r(READ, &[""], "pods"),
                r("update", &[""], "pods/finalizers"),
                r(
                    "create delete get list watch",
                    &["resource.k8s.io"],
                    "resourceclaims",
                ),
                r(
                    "patch update",
                    &["resource.k8s.io"],
                    "resourceclaims resourceclaims/status",
                ),
                r("patch update", &[""], "pods/status"),
                events(),
                r(
                    "patch update",
                    &["resource.k8s.io"],
                    "resourceclaims/binding",
                ),
            ],
        ),
        c(
            "resourcequota-controller",
            vec![
                r("list watch", &["*"], "*"),
                r("update", &[""], "resourcequotas/status"),
                events(),
            ],
        ),
        c(
            "root-ca-cert-publisher",
            vec![r("create update", &[""], "configmaps"), events()],
        ),
        c(
            "route-controller",
            vec![
                r("list watch", &[""], "nodes"),
                r("patch", &[""], "nodes/status"),
                events(),
            ],
        ),
        c(
            "selinux-warning-controller",
            vec![
                events(),
                r(READ, &[""], "persistentvolumes"),
                r(READ, &[""], "persistentvolumeclaims"),
                r(READ, &[""], "pods"),
                r(READ, &["storage.k8s.io"], "csidrivers"),
            ],
        ),
        c(
            "service-account-controller",
            vec![r("create", &[""], "serviceaccounts"), events()],
        ),
        c(
            "service-cidrs-controller",
            vec![
                r(
                    "get list patch update watch",
                    &["networking.k8s.io"],
                    "servicecidrs",
                ),
                r(
                    "patch update",
                    &["networking.k8s.io"],
                    "servicecidrs/finalizers",
                ),
                r(
                    "patch update",
                    &["networking.k8s.io"],
                    "servicecidrs/status",
                ),
                r(READ, &["networking.k8s.io"], "ipaddresses"),
                events(),
            ],
        ),
        c(
            "service-controller",
            vec![
                r(READ, &[""], "services"),
                r("patch update", &[""], "services/status"),
                r("list watch", &[""], "nodes"),
                events(),
            ],
        ),
        c(
            "statefulset-controller",
            vec![
                r("list watch", &[""], "pods"),
                r(READ, &["apps"], "statefulsets"),
                r("update", &["apps"], "statefulsets/status"),
                r("update", &["apps"], "statefulsets/finalizers"),
                r("create delete get patch update", &[""], "pods"),
                r(
                    "create delete get list patch update watch",
                    &["apps"],
                    "controllerrevisions",
                ),
                r("create get list watch", &[""], "persistentvolumeclaims"),
                r("delete update", &[""], "persistentvolumeclaims"),
                r("update", &[""], "pods/finalizers"),
                events(),
            ],
        ),
        c(
            "ttl-after-finished-controller",
            vec![r("delete get list watch", &["batch"], "jobs"), events()],
        ),
        c(
            "ttl-controller",
            vec![r("list patch update watch", &[""], "nodes"), events()],
        ),
        c(
            "validatingadmissionpolicy-status-controller",
            vec![
                r(
                    READ,
                    &["admissionregistration.k8s.io"],
                    "validatingadmissionpolicies",
                ),
                r(
                    "get patch update",
                    &["admissionregistration.k8s.io"],
                    "validatingadmissionpolicies/status",
                ),
                events(),
            ],
        ),
        c(
            "volumeattributesclass-protection-controller",
            vec![
                r(READ, &[""], "persistentvolumeclaims"),
                r(READ, &[""], "persistentvolumes"),
                r(
                    "get list update watch",
                    &["storage.k8s.io"],
                    "volumeattributesclasses",
                ),
                events(),
            ],
        ),
    ]
}

/// What reconciling an object with its expected form asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Reconcile {
    /// It is as expected (or protected by `autoupdate: "false"`).
    Keep,
    Create(Value),
    Update(Value),
    /// A binding whose roleRef differs: deleted and created again (roleRef is immutable).
    Recreate(Value),
}

fn protected(existing: &Value) -> bool {
    existing["metadata"]["annotations"][AUTOUPDATE] == "false"
}

/// Existing labels/annotations win over expected ones; returns whether anything was added.
fn merge_meta(result: &mut Value, expected: &Value) -> bool {
    let mut changed = false;
    for field in ["labels", "annotations"] {
        let Some(want) = expected["metadata"][field].as_object() else {
            continue;
        };
        for (k, v) in want {
            if result["metadata"][field].get(k).is_none() {
                result["metadata"][field][k] = v.clone();
                changed = true;
            }
        }
    }
    changed
}

fn rules(v: &Value) -> Vec<Rule> {
    v["rules"]
        .as_array()
        .map(|a| a.iter().map(Rule::from_json).collect())
        .unwrap_or_default()
}

/// Upstream's computeReconciledRole with RemoveExtraPermissions off: the existing role with
/// the expected rules it does not cover added (broken down), the expected aggregation
/// selectors it lacks added, labels and annotations merged.
pub fn reconcile_role(existing: Option<&Value>, expected: &Value) -> Reconcile {
    let Some(existing) = existing else {
        return Reconcile::Create(expected.clone());
    };
    if protected(existing) {
        return Reconcile::Keep;
    }
    let mut result = existing.clone();
    let mut changed = merge_meta(&mut result, expected);
    let missing = uncovered(&rules(existing), &rules(expected));
    if !missing.is_empty() {
        let list = result["rules"].as_array().cloned().unwrap_or_default();
        let added = missing.iter().map(Rule::to_json);
        result["rules"] = Value::Array(list.into_iter().chain(added).collect());
        changed = true;
    }
    let want = expected["aggregationRule"]["clusterRoleSelectors"].as_array();
    let have = existing["aggregationRule"]["clusterRoleSelectors"].as_array();
    match (want, have) {
        (None, Some(_)) => {
            if let Some(m) = result.as_object_mut() {
                m.remove("aggregationRule");
            }
            changed = true;
        }
        (Some(want), have) => {
            let have = have.cloned().unwrap_or_default();
            let missing: Vec<Value> = want.iter().filter(|s| !have.contains(s)).cloned().collect();
            if !missing.is_empty() {
                result["aggregationRule"]["clusterRoleSelectors"] =
                    Value::Array(have.into_iter().chain(missing).collect());
                changed = true;
            }
        }
        (None, None) => {}
    }
    if changed {
        Reconcile::Update(result)
    } else {
        Reconcile::Keep
    }
}

/// Upstream's computeReconciledRoleBinding with RemoveExtraSubjects off: missing subjects
/// added, labels and annotations merged; a different roleRef means recreating it.
pub fn reconcile_binding(existing: Option<&Value>, expected: &Value) -> Reconcile {
    let Some(existing) = existing else {
        return Reconcile::Create(expected.clone());
    };
    if protected(existing) {
        return Reconcile::Keep;
    }
    let mut result = existing.clone();
    let mut changed = merge_meta(&mut result, expected);
    let same_subject = |a: &Value, b: &Value| {
        ["kind", "name", "namespace"]
            .iter()
            .all(|f| a[f].as_str().unwrap_or("") == b[f].as_str().unwrap_or(""))
    };
    let have = existing["subjects"].as_array().cloned().unwrap_or_default();
    let missing: Vec<Value> = expected["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| !have.iter().any(|h| same_subject(h, s)))
        .cloned()
        .collect();
    if !missing.is_empty() {
        result["subjects"] = Value::Array(have.into_iter().chain(missing).collect());
        changed = true;
    }
    let role_ref = |v: &Value| {
        (
            v["roleRef"]["kind"].as_str().unwrap_or("").to_string(),
            v["roleRef"]["name"].as_str().unwrap_or("").to_string(),
        )
    };
    if role_ref(existing) != role_ref(expected) {
        result["roleRef"] = expected["roleRef"].clone();
        return Reconcile::Recreate(result);
    }
    if changed {
        Reconcile::Update(result)
    } else {
        Reconcile::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named<'a>(list: &'a [Value], name: &str) -> &'a Value {
        list.iter()
            .find(|v| v["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{name}"))
    }

    #[test]
    fn bootstrap_policy_has_upstreams_shape() {
        let roles = cluster_roles();
        let admin = named(&roles, "cluster-admin");
        assert_eq!(
            admin["rules"],
            json!([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                   {"verbs": ["*"], "nonResourceURLs": ["*"]}])
        );
        assert_eq!(admin["metadata"]["annotations"][AUTOUPDATE], "true");
        assert_eq!(admin["metadata"]["labels"][BOOTSTRAPPING], "rbac-defaults");
        assert_eq!(
            named(&roles, "edit")["metadata"]["labels"][TO_ADMIN.0],
            "true"
        );
        assert!(named(&roles, "view")["aggregationRule"].is_object());
        let bindings = cluster_role_bindings();
        assert_eq!(
            named(&bindings, "system:public-info-viewer")["subjects"][1]["name"],
            "system:unauthenticated"
        );
        let gc = named(&bindings, "system:controller:generic-garbage-collector");
        assert_eq!(
            gc["subjects"],
            json!([{"kind": "ServiceAccount", "name": "generic-garbage-collector", "namespace": "kube-system"}])
        );
        let mut names: Vec<&str> = roles
            .iter()
            .filter_map(|r| r["metadata"]["name"].as_str())
            .collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n, "no role twice");
    }

    #[test]
    fn reconciliation_adds_and_never_removes() {
        let expected = role(
            "r",
            &[],
            vec![r("get list", &[""], "pods"), r("get", &[""], "secrets")],
        );
        assert_eq!(
            reconcile_role(None, &expected),
            Reconcile::Create(expected.clone())
        );
        assert_eq!(reconcile_role(Some(&expected), &expected), Reconcile::Keep);
        // A rule taken away comes back (broken down); extra rules stay; labels merge.
        let mut edited = expected.clone();
        edited["rules"] = json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
                                 {"verbs": ["*"], "apiGroups": ["x"], "resources": ["y"]}]);
        edited["metadata"]["labels"] = json!({"mine": "1"});
        let Reconcile::Update(got) = reconcile_role(Some(&edited), &expected) else {
            panic!("update expected");
        };
        assert_eq!(
            got["rules"],
            json!([{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
                   {"verbs": ["*"], "apiGroups": ["x"], "resources": ["y"]},
                   {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]},
                   {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}])
        );
        assert_eq!(got["metadata"]["labels"]["mine"], "1");
        assert_eq!(got["metadata"]["labels"][BOOTSTRAPPING], "rbac-defaults");
        // autoupdate "false" protects it.
        edited["metadata"]["annotations"][AUTOUPDATE] = json!("false");
        assert_eq!(reconcile_role(Some(&edited), &expected), Reconcile::Keep);
    }

    #[test]
    fn binding_reconciliation() {
        let expected = binding("b", "view", &["Group:g1"]);
        let mut existing = expected.clone();
        existing["subjects"] = json!([{"kind": "User", "name": "u"}]);
        let Reconcile::Update(got) = reconcile_binding(Some(&existing), &expected) else {
            panic!("update expected");
        };
        assert_eq!(got["subjects"].as_array().map(Vec::len), Some(2));
        existing["roleRef"]["name"] = json!("edit");
        assert!(matches!(
            reconcile_binding(Some(&existing), &expected),
            Reconcile::Recreate(_)
        ));
        assert_eq!(
            reconcile_binding(Some(&expected), &expected),
            Reconcile::Keep
        );
    }
}
