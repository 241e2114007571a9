//! rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding, ClusterRoleBinding: upstream's
//! v1 defaults (a roleRef's and a User/Group subject's apiGroup) and validation
//! (pkg/apis/rbac/validation): names are path segments, rules need verbs and either resources
//! with groups or non-resource URLs (cluster roles only), bindings name a Role/ClusterRole of
//! rbac.authorization.k8s.io whose roleRef never changes, subjects are User, Group or
//! ServiceAccount.

use super::{NameRule, Strategy};
use crate::meta::{
    dns1123_subdomain_errors, go_quote, go_strings, invalid_raw, invalid_str, not_supported_str,
    path_segment_errors, required,
};
use crate::status::Cause;
use serde_json::{json, Value};

const GROUP: &str = "rbac.authorization.k8s.io";

/// Roles (`namespaced`) and ClusterRoles.
pub struct RoleStrategy {
    pub namespaced: bool,
}

/// RoleBindings (`namespaced`) and ClusterRoleBindings.
pub struct RoleBindingStrategy {
    pub namespaced: bool,
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Upstream's ValidatePolicyRule.
fn validate_rule(rule: &Value, namespaced: bool, path: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    if strings(&rule["verbs"]).is_empty() {
        errs.push(required(
            format!("{path}.verbs"),
            "verbs must contain at least one value",
        ));
    }
    let urls = strings(&rule["nonResourceURLs"]);
    if !urls.is_empty() {
        let shown = go_strings(urls.iter().copied());
        if namespaced {
            errs.push(invalid_raw(
                format!("{path}.nonResourceURLs"),
                &shown,
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        let resources = ["apiGroups", "resources", "resourceNames"]
            .iter()
            .any(|f| !strings(&rule[f]).is_empty());
        if resources {
            errs.push(invalid_raw(
                format!("{path}.nonResourceURLs"),
                &shown,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if strings(&rule["apiGroups"]).is_empty() {
        errs.push(required(
            format!("{path}.apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if strings(&rule["resources"]).is_empty() {
        errs.push(required(
            format!("{path}.resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errs
}

impl Strategy for RoleStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::PathSegment
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut errs: Vec<Cause> = obj["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .flat_map(|(i, r)| validate_rule(r, self.namespaced, &format!("rules[{i}]")))
            .collect();
        if !self.namespaced {
            if let Some(agg) = obj.get("aggregationRule").filter(|a| !a.is_null()) {
                if agg["clusterRoleSelectors"]
                    .as_array()
                    .is_none_or(Vec::is_empty)
                {
                    errs.push(required(
                        "aggregationRule.clusterRoleSelectors",
                        "at least one clusterRoleSelector required if aggregationRule is non-nil",
                    ));
                }
            }
        }
        errs
    }
}

/// Go's `%#v` of an rbac.RoleRef.
fn role_ref_shown(r: &Value) -> String {
    let s = |f: &str| go_quote(r[f].as_str().unwrap_or_default());
    format!(
        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
        s("apiGroup"),
        s("kind"),
        s("name")
    )
}

/// Upstream's ValidateRoleBindingSubject.
fn validate_subject(s: &Value, namespaced: bool, path: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let name = s["name"].as_str().unwrap_or_default();
    let group = s["apiGroup"].as_str().unwrap_or_default();
    if name.is_empty() {
        errs.push(required(format!("{path}.name"), ""));
    }
    match s["kind"].as_str().unwrap_or_default() {
        "ServiceAccount" => {
            if !name.is_empty() {
                for msg in dns1123_subdomain_errors(name) {
                    errs.push(invalid_str(format!("{path}.name"), name, &msg));
                }
            }
            if !group.is_empty() {
                errs.push(not_supported_str(format!("{path}.apiGroup"), group, &[""]));
            }
            if !namespaced && s["namespace"].as_str().unwrap_or_default().is_empty() {
                errs.push(required(format!("{path}.namespace"), ""));
            }
        }
        "User" | "Group" => {
            if group != GROUP {
                errs.push(not_supported_str(
                    format!("{path}.apiGroup"),
                    group,
                    &[GROUP],
                ));
            }
        }
        other => errs.push(not_supported_str(
            format!("{path}.kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errs
}

impl Strategy for RoleBindingStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::PathSegment
    }

    fn default(&self, obj: &mut Value) {
        if obj["roleRef"].is_object()
            && obj["roleRef"]["apiGroup"].as_str().unwrap_or("").is_empty()
        {
            obj["roleRef"]["apiGroup"] = json!(GROUP);
        }
        if let Some(subjects) = obj.get_mut("subjects").and_then(Value::as_array_mut) {
            for s in subjects {
                let kind = s["kind"].as_str().unwrap_or_default();
                let empty = s["apiGroup"].as_str().unwrap_or("").is_empty();
                if empty && (kind == "User" || kind == "Group") {
                    s["apiGroup"] = json!(GROUP);
                }
            }
        }
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut errs = Vec::new();
        let r = &obj["roleRef"];
        let group = r["apiGroup"].as_str().unwrap_or_default();
        if group != GROUP {
            errs.push(not_supported_str("roleRef.apiGroup", group, &[GROUP]));
        }
        let kind = r["kind"].as_str().unwrap_or_default();
        let kinds: &[&str] = if self.namespaced {
            &["Role", "ClusterRole"]
        } else {
            &["ClusterRole"]
        };
        if !kinds.contains(&kind) {
            errs.push(not_supported_str("roleRef.kind", kind, kinds));
        }
        let name = r["name"].as_str().unwrap_or_default();
        if name.is_empty() {
            errs.push(required("roleRef.name", ""));
        } else {
            for msg in path_segment_errors(name, false) {
                errs.push(invalid_str("roleRef.name", name, &msg));
            }
        }
        for (i, s) in obj["subjects"].as_array().into_iter().flatten().enumerate() {
            errs.extend(validate_subject(
                s,
                self.namespaced,
                &format!("subjects[{i}]"),
            ));
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        if new["roleRef"] != old["roleRef"] {
            return vec![invalid_raw(
                "roleRef",
                &role_ref_shown(&new["roleRef"]),
                "cannot change roleRef",
            )];
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_bindings_are_validated_as_upstream() {
        let role = RoleStrategy { namespaced: true };
        let errs = role.validate(&json!({"rules": [
            {"verbs": [], "apiGroups": [""], "resources": ["pods"]},
            {"verbs": ["get"], "nonResourceURLs": ["/x"]},
            {"verbs": ["get"]},
        ]}));
        let summaries: Vec<String> = errs.iter().map(Cause::summary).collect();
        assert_eq!(
            summaries,
            vec![
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[1].nonResourceURLs: Invalid value: []string{\"/x\"}: namespaced rules cannot apply to non-resource URLs",
                "rules[2].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[2].resources: Required value: resource rules must supply at least one resource",
            ]
        );
        let cluster = RoleStrategy { namespaced: false };
        assert!(cluster
            .validate(&json!({"rules": [{"verbs": ["get"], "nonResourceURLs": ["/x"]}]}))
            .is_empty());

        let crb = RoleBindingStrategy { namespaced: false };
        let mut b = json!({"roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "s"}, {"kind": "Robot", "name": "x"}]});
        crb.default(&mut b);
        assert_eq!(b["roleRef"]["apiGroup"], GROUP);
        assert_eq!(b["subjects"][0]["apiGroup"], GROUP);
        let summaries: Vec<String> = crb.validate(&b).iter().map(Cause::summary).collect();
        assert_eq!(
            summaries,
            vec![
                "roleRef.kind: Unsupported value: \"Role\": supported values: \"ClusterRole\"",
                "subjects[1].namespace: Required value",
                "subjects[2].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\"",
            ]
        );
        let mut changed = b.clone();
        changed["roleRef"]["name"] = json!("other");
        assert_eq!(
            crb.validate_update(&changed, &b)[0].summary(),
            "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"Role\", Name:\"other\"}: cannot change roleRef"
        );
    }
}
