//! Upstream's namespaced bootstrap policy (`bootstrappolicy/namespace_policy.go`): the Roles
//! and RoleBindings every cluster has in kube-system and kube-public — leader locking for the
//! controller manager and the scheduler, the bootstrap signer's and token cleaner's rights to
//! bootstrap-token Secrets and the `cluster-info` ConfigMap, the deprecated cloud-provider role,
//! and the reader of `extension-apiserver-authentication`. Reconciled at start-up with the
//! cluster roles (`policy::reconcile_role`/`reconcile_binding`). No IO.
//!
//! The leader-locking roles name Leases and LeaseCandidates only: upstream dropped their
//! ConfigMap rules when ConfigMap locks went (kubernetes#134297); a cluster that still has
//! them keeps them, as reconciliation never removes a rule.

use super::policy::{events, meta, r, subject};
use super::rules::Rule;
use serde_json::{json, Value};

pub const KUBE_SYSTEM: &str = "kube-system";
pub const KUBE_PUBLIC: &str = "kube-public";

const CONTROLLER_MANAGER: &str = "User:system:kube-controller-manager";
const SCHEDULER: &str = "User:system:kube-scheduler";

fn role(namespace: &str, name: &str, rules: Vec<Rule>) -> Value {
    let mut metadata = meta(name, &[]);
    metadata["namespace"] = json!(namespace);
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": metadata,
        "rules": rules.iter().map(Rule::to_json).collect::<Vec<_>>(),
    })
}

/// A RoleBinding named `name` of the Role `role` in `namespace` (subjects as
/// `policy::subject` reads them).
fn binding(namespace: &str, name: &str, role: &str, subjects: &[&str]) -> Value {
    let mut metadata = meta(name, &[]);
    metadata["namespace"] = json!(namespace);
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        "subjects": subjects.iter().map(|s| subject(s)).collect::<Vec<_>>(),
    })
}

/// A binding named as its role, in the role's namespace.
fn same_name(namespace: &str, role: &str, subjects: &[&str]) -> Value {
    binding(namespace, role, role, subjects)
}

/// What a leader-locking role allows: upstream's rule on Leases and LeaseCandidates.
fn leader_locking() -> Vec<Rule> {
    let verbs = "create get list update watch";
    vec![
        r(verbs, &["coordination.k8s.io"], "leases"),
        r(verbs, &["coordination.k8s.io"], "leasecandidates"),
    ]
}

/// Upstream's NamespaceRoles(), every namespace's in one list (each with its namespace).
pub fn namespace_roles() -> Vec<Value> {
    let configmaps = |verbs| r(verbs, &[""], "configmaps");
    let secrets = |verbs| r(verbs, &[""], "secrets");
    vec![
        role(
            KUBE_SYSTEM,
            "extension-apiserver-authentication-reader",
            vec![configmaps("get list watch").names(&["extension-apiserver-authentication"])],
        ),
        role(
            KUBE_SYSTEM,
            "system:controller:bootstrap-signer",
            vec![secrets("get list watch")],
        ),
        role(
            KUBE_SYSTEM,
            "system:controller:cloud-provider",
            vec![configmaps("create get list watch")],
        ),
        role(
            KUBE_SYSTEM,
            "system:controller:token-cleaner",
            vec![secrets("delete get list watch"), events()],
        ),
        role(
            KUBE_SYSTEM,
            "system::leader-locking-kube-controller-manager",
            leader_locking(),
        ),
        role(
            KUBE_SYSTEM,
            "system::leader-locking-kube-scheduler",
            leader_locking(),
        ),
        role(
            KUBE_PUBLIC,
            "system:controller:bootstrap-signer",
            vec![
                configmaps("get list watch"),
                configmaps("update").names(&["cluster-info"]),
                events(),
            ],
        ),
    ]
}

/// Upstream's NamespaceRoleBindings(), every namespace's in one list.
pub fn namespace_role_bindings() -> Vec<Value> {
    let sa = |name: &str| format!("ServiceAccount:{KUBE_SYSTEM}/{name}");
    vec![
        binding(
            KUBE_SYSTEM,
            "system::extension-apiserver-authentication-reader",
            "extension-apiserver-authentication-reader",
            &[CONTROLLER_MANAGER, SCHEDULER],
        ),
        same_name(
            KUBE_SYSTEM,
            "system::leader-locking-kube-controller-manager",
            &[
                CONTROLLER_MANAGER,
                &sa("kube-controller-manager"),
                &sa("leader-election-controller"),
            ],
        ),
        same_name(
            KUBE_SYSTEM,
            "system::leader-locking-kube-scheduler",
            &[SCHEDULER, &sa("kube-scheduler")],
        ),
        same_name(
            KUBE_SYSTEM,
            "system:controller:bootstrap-signer",
            &[&sa("bootstrap-signer")],
        ),
        same_name(
            KUBE_SYSTEM,
            "system:controller:cloud-provider",
            &[&sa("cloud-provider")],
        ),
        same_name(
            KUBE_SYSTEM,
            "system:controller:token-cleaner",
            &[&sa("token-cleaner")],
        ),
        same_name(
            KUBE_PUBLIC,
            "system:controller:bootstrap-signer",
            &[&sa("bootstrap-signer")],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(list: &'a [Value], ns: &str, name: &str) -> &'a Value {
        list.iter()
            .find(|v| v["metadata"]["namespace"] == ns && v["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{ns}/{name}"))
    }

    /// The objects as upstream's `testdata/namespace-roles.yaml` and
    /// `namespace-role-bindings.yaml` list them (rules and subjects in their order).
    #[test]
    fn roles_and_bindings_are_upstreams() {
        let roles = namespace_roles();
        assert_eq!(roles.len(), 7);
        assert_eq!(
            find(&roles, KUBE_PUBLIC, "system:controller:bootstrap-signer")["rules"],
            json!([
                {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["configmaps"]},
                {"verbs": ["update"], "apiGroups": [""], "resources": ["configmaps"],
                 "resourceNames": ["cluster-info"]},
                {"verbs": ["create", "patch", "update"], "apiGroups": ["", "events.k8s.io"],
                 "resources": ["events"]},
            ])
        );
        assert_eq!(
            find(&roles, KUBE_SYSTEM, "system:controller:token-cleaner")["rules"][0],
            json!({"verbs": ["delete", "get", "list", "watch"], "apiGroups": [""],
                   "resources": ["secrets"]})
        );
        assert_eq!(
            find(&roles, KUBE_SYSTEM, "system::leader-locking-kube-scheduler")["rules"][1],
            json!({"verbs": ["create", "get", "list", "update", "watch"],
                   "apiGroups": ["coordination.k8s.io"], "resources": ["leasecandidates"]})
        );
        let reader = find(
            &roles,
            KUBE_SYSTEM,
            "extension-apiserver-authentication-reader",
        );
        assert_eq!(
            reader["rules"][0]["resourceNames"],
            json!(["extension-apiserver-authentication"])
        );
        assert_eq!(
            reader["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"],
            "true"
        );
        assert_eq!(
            reader["metadata"]["labels"]["kubernetes.io/bootstrapping"],
            "rbac-defaults"
        );

        let bindings = namespace_role_bindings();
        assert_eq!(bindings.len(), 7);
        let kcm = find(
            &bindings,
            KUBE_SYSTEM,
            "system::leader-locking-kube-controller-manager",
        );
        assert_eq!(
            kcm["subjects"],
            json!([
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                 "name": "system:kube-controller-manager"},
                {"kind": "ServiceAccount", "name": "kube-controller-manager", "namespace": "kube-system"},
                {"kind": "ServiceAccount", "name": "leader-election-controller", "namespace": "kube-system"},
            ])
        );
        let auth = find(
            &bindings,
            KUBE_SYSTEM,
            "system::extension-apiserver-authentication-reader",
        );
        assert_eq!(
            auth["roleRef"],
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                   "name": "extension-apiserver-authentication-reader"})
        );
        // The kube-public binding names the signer's account in kube-system.
        assert_eq!(
            find(&bindings, KUBE_PUBLIC, "system:controller:bootstrap-signer")["subjects"],
            json!([{"kind": "ServiceAccount", "name": "bootstrap-signer", "namespace": "kube-system"}])
        );
        // Every binding's role exists in its namespace.
        for b in &bindings {
            let ns = b["metadata"]["namespace"].as_str().unwrap_or_default();
            find(
                &roles,
                ns,
                b["roleRef"]["name"].as_str().unwrap_or_default(),
            );
        }
    }
}
