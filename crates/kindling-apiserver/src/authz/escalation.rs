//! Escalation prevention on writes of roles and bindings (upstream's policy-based RBAC
//! storage): a user may create or change a Role/ClusterRole only with rules it holds itself,
//! or with the `escalate` verb on it; a RoleBinding/ClusterRoleBinding only to a role whose
//! rules it holds, or with the `bind` verb on that role. `system:masters` may always; a change
//! of owner references or finalizers alone is always allowed (the garbage collector's). Setting
//! an aggregationRule takes every right (cluster-admin).
//!
//! Which resources are guarded is the catalog entry's data (`Admission::RbacRole`,
//! `Admission::RbacBinding`); the decisions here read the authorizer's snapshot, no store.

use super::rules::{describe_missing, uncovered, Request, Rule};
use super::{qualified_forbidden, Authorizer, SYSTEM_MASTERS};
use kindling_api::catalog::Admission;
use kindling_api::meta::go_quote;
use kindling_api::user::UserInfo;
use kindling_api::{ApiError, ResourceType};
use serde_json::Value;

/// Checks a create (`old` None) or an update of `new`, written by `user`.
pub fn check(
    az: &Authorizer,
    user: &UserInfo,
    rt: &ResourceType,
    new: &Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let binding = match rt.admission {
        Some(Admission::RbacRole) => false,
        Some(Admission::RbacBinding) => true,
        _ => return Ok(()),
    };
    if user.groups.iter().any(|g| g == SYSTEM_MASTERS) {
        return Ok(());
    }
    if old.is_some_and(|old| only_gc_fields_differ(new, old)) {
        return Ok(());
    }
    let ns = new["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = new["metadata"]["name"].as_str().unwrap_or_default();
    let forbidden = |why: &str| qualified_forbidden(&rt.group, &rt.plural, name, why);
    if binding {
        let role_kind = new["roleRef"]["kind"].as_str().unwrap_or_default();
        let role_name = new["roleRef"]["name"].as_str().unwrap_or_default();
        let bind = Request {
            verb: "bind".into(),
            resource_request: true,
            api_group: new["roleRef"]["apiGroup"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            namespace: ns.to_string(),
            resource: match role_kind {
                "ClusterRole" => "clusterroles".into(),
                "Role" => "roles".into(),
                _ => String::new(),
            },
            name: role_name.to_string(),
            ..Request::default()
        };
        if az.authorize(user, &bind).allowed {
            return Ok(());
        }
        let role_ref = super::rbac::RoleRef {
            kind: role_kind.to_string(),
            name: role_name.to_string(),
        };
        let rules = az
            .policy()
            .role_rules(&role_ref, ns)
            .map_err(|e| forbidden(&e))?;
        return confirm_no_escalation(az, user, ns, &rules).map_err(|e| forbidden(&e));
    }
    let escalate = Request {
        verb: "escalate".into(),
        resource_request: true,
        api_group: rt.group.clone(),
        api_version: rt.version.clone(),
        namespace: ns.to_string(),
        resource: rt.plural.clone(),
        name: name.to_string(),
        ..Request::default()
    };
    if az.authorize(user, &escalate).allowed {
        return Ok(());
    }
    let rules: Vec<Rule> = new["rules"]
        .as_array()
        .map(|a| a.iter().map(Rule::from_json).collect())
        .unwrap_or_default();
    confirm_no_escalation(az, user, ns, &rules).map_err(|e| forbidden(&e))?;
    let aggregates = |v: &Value| v.get("aggregationRule").is_some_and(|a| !a.is_null());
    if aggregates(new) || old.is_some_and(aggregates) {
        let everything = [
            Rule::resources(&["*"], &["*"], &["*"]),
            Rule::urls(&["*"], &["*"]),
        ];
        if confirm_no_escalation(az, user, ns, &everything).is_err() {
            return Err(forbidden(
                "must have cluster-admin privileges to use the aggregationRule",
            ));
        }
    }
    Ok(())
}

/// Upstream's ConfirmNoEscalation: the user's own rules in `ns` must cover `rules`.
fn confirm_no_escalation(
    az: &Authorizer,
    user: &UserInfo,
    ns: &str,
    rules: &[Rule],
) -> Result<(), String> {
    let (owned, errors) = az.policy().rules_for(user, ns);
    let missing = uncovered(&owned, rules);
    if missing.is_empty() {
        return Ok(());
    }
    let groups: Vec<String> = user.groups.iter().map(|g| go_quote(g)).collect();
    let mut msg = format!(
        "user {} (groups=[{}]) is attempting to grant RBAC permissions not currently held:\n{}",
        go_quote(&user.name),
        groups.join(" "),
        describe_missing(&missing).join("\n")
    );
    if let Some(e) = errors {
        msg = format!("{msg}; resolution errors: [{e}]");
    }
    Err(msg)
}

/// Upstream's IsOnlyMutatingGCFields: the objects differ only in owner references and
/// finalizers (and what every write changes: resourceVersion, managedFields).
fn only_gc_fields_differ(new: &Value, old: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v["metadata"].as_object_mut() {
            for f in [
                "ownerReferences",
                "finalizers",
                "resourceVersion",
                "managedFields",
                "generation",
            ] {
                m.remove(f);
            }
        }
        v
    };
    strip(new) == strip(old)
}

#[cfg(test)]
mod tests {
    use super::super::rbac::Policy;
    use super::super::Mode;
    use super::*;
    use serde_json::json;

    fn bob() -> UserInfo {
        UserInfo {
            name: "bob".into(),
            groups: vec!["devs".into(), "system:authenticated".into()],
            ..UserInfo::default()
        }
    }

    fn authorizer() -> Authorizer {
        let pods = json!({"metadata": {"name": "pods"},
            "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]});
        let rbac_admin = json!({"metadata": {"name": "rbac"},
            "rules": [{"verbs": ["create", "update"], "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles", "rolebindings"]}]});
        let binder = json!({"metadata": {"name": "binder"},
            "rules": [{"verbs": ["bind"], "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "resourceNames": ["secrets"]}]});
        let secrets = json!({"metadata": {"name": "secrets"},
            "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}]});
        let b1 = json!({"metadata": {"name": "b1", "namespace": "a"},
            "roleRef": {"kind": "ClusterRole", "name": "pods"}, "subjects": [{"kind": "Group", "name": "devs"}]});
        let b2 = json!({"metadata": {"name": "b2", "namespace": "a"},
            "roleRef": {"kind": "ClusterRole", "name": "rbac"}, "subjects": [{"kind": "User", "name": "bob"}]});
        let b3 = json!({"metadata": {"name": "b3", "namespace": "b"},
            "roleRef": {"kind": "ClusterRole", "name": "binder"}, "subjects": [{"kind": "User", "name": "bob"}]});
        let az = Authorizer::new(vec![Mode::Rbac]);
        az.set_policy(Policy::build(
            &[&pods, &rbac_admin, &binder, &secrets],
            &[],
            &[],
            &[&b1, &b2, &b3],
        ));
        az
    }

    fn entry(plural: &str) -> &'static std::sync::Arc<ResourceType> {
        kindling_api::catalog::builtin("rbac.authorization.k8s.io", "v1", plural)
    }

    #[test]
    fn roles_grant_only_what_the_writer_holds() {
        let az = authorizer();
        let role = |verbs: Value| {
            json!({"metadata": {"name": "r", "namespace": "a"},
                   "rules": [{"verbs": verbs, "apiGroups": [""], "resources": ["pods"]}]})
        };
        assert!(check(&az, &bob(), entry("roles"), &role(json!(["get"])), None).is_ok());
        let e = check(
            &az,
            &bob(),
            entry("roles"),
            &role(json!(["get", "delete"])),
            None,
        )
        .unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "roles.rbac.authorization.k8s.io \"r\" is forbidden: user \"bob\" (groups=[\"devs\" \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}"
        );
        // Only ownerReferences changed: allowed whatever the rules.
        let old = role(json!(["*"]));
        let mut new = old.clone();
        new["metadata"]["ownerReferences"] = json!([{"name": "x"}]);
        assert!(check(&az, &bob(), entry("roles"), &new, Some(&old)).is_ok());
        let masters = UserInfo {
            groups: vec![SYSTEM_MASTERS.into()],
            ..bob()
        };
        assert!(check(&az, &masters, entry("roles"), &old, None).is_ok());
    }

    #[test]
    fn bindings_need_the_roles_rules_or_bind() {
        let az = authorizer();
        let rb = |ns: &str, role: &str| {
            json!({"metadata": {"name": "x", "namespace": ns},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                   "subjects": [{"kind": "User", "name": "eve"}]})
        };
        let rbs = entry("rolebindings");
        assert!(check(&az, &bob(), rbs, &rb("a", "pods"), None).is_ok());
        let e = check(&az, &bob(), rbs, &rb("a", "secrets"), None).unwrap_err();
        assert!(e.message.starts_with(
            "rolebindings.rbac.authorization.k8s.io \"x\" is forbidden: user \"bob\""
        ));
        // `bind` on that ClusterRole in namespace b.
        assert!(check(&az, &bob(), rbs, &rb("b", "secrets"), None).is_ok());
        let e = check(&az, &bob(), rbs, &rb("a", "nope"), None).unwrap_err();
        assert_eq!(
            e.message,
            "rolebindings.rbac.authorization.k8s.io \"x\" is forbidden: clusterrole.rbac.authorization.k8s.io \"nope\" not found"
        );
    }
}
