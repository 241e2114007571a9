//! The access reviews' rules (authorization.k8s.io/v1), without IO: upstream's validation of
//! SubjectAccessReview, LocalSubjectAccessReview and SelfSubjectAccessReview specs, the
//! attributes a spec asks about (`AuthorizationAttributesFrom`: an empty version is `*`), and
//! the status of a decision or of a rules listing (SelfSubjectRulesReview).

use super::rules::Request;
use super::Decision;
use kindling_api::meta::go_quote;
use kindling_api::user::UserInfo;
use kindling_api::{ApiError, Cause};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Which review a spec belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Subject,
    /// LocalSubjectAccessReview in this namespace.
    Local,
    SelfSubject,
}

/// Go's `%#v` of a pointer field as field errors print it (nil is `"null"`).
fn shown(v: &Value, go_type: &str, fields: &[(&str, &str)]) -> String {
    if v.is_null() {
        return "\"null\"".into();
    }
    let parts: Vec<String> = fields
        .iter()
        .map(|(json_name, go_name)| {
            format!(
                "{go_name}:{}",
                go_quote(v[json_name].as_str().unwrap_or_default())
            )
        })
        .collect();
    format!("{go_type}{{{}}}", parts.join(", "))
}

/// Upstream's ValidateSubjectAccessReview / ValidateLocalSubjectAccessReview /
/// ValidateSelfSubjectAccessReview: 422 with its causes.
pub fn validate(kind: Kind, rt_kind: &str, review: &Value, ns: &str) -> Result<(), ApiError> {
    let spec = &review["spec"];
    let resource = &spec["resourceAttributes"];
    let non_resource = &spec["nonResourceAttributes"];
    let non_resource_shown = || {
        shown(
            non_resource,
            "authorization.NonResourceAttributes",
            &[("path", "Path"), ("verb", "Verb")],
        )
    };
    let mut causes = Vec::new();
    if !resource.is_null() && !non_resource.is_null() {
        causes.push(Cause::invalid(
            "spec.nonResourceAttributes",
            non_resource_shown(),
            "cannot be specified in combination with resourceAttributes",
        ));
    }
    if resource.is_null() && non_resource.is_null() {
        causes.push(Cause::invalid(
            "spec.resourceAttributes",
            non_resource_shown(),
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        ));
    }
    if kind != Kind::SelfSubject {
        let user = spec["user"].as_str().unwrap_or_default();
        let no_groups = spec["groups"].as_array().is_none_or(Vec::is_empty);
        if user.is_empty() && no_groups {
            causes.push(Cause::invalid(
                "spec.user",
                go_quote(user),
                "at least one of user or group must be specified",
            ));
        }
    }
    if kind == Kind::Local {
        let asked = resource["namespace"].as_str().unwrap_or_default();
        if !resource.is_null() && asked != ns {
            causes.push(Cause::invalid(
                "spec.resourceAttributes.namespace",
                go_quote(asked),
                "must match metadata.namespace",
            ));
        }
        if !non_resource.is_null() {
            causes.push(Cause::invalid(
                "spec.nonResourceAttributes",
                non_resource_shown(),
                "disallowed on this kind of request",
            ));
        }
    }
    if causes.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(
        "authorization.k8s.io",
        rt_kind,
        "",
        causes,
    ))
}

/// The user a SubjectAccessReview asks about.
pub fn subject(spec: &Value) -> UserInfo {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let extra: BTreeMap<String, Vec<String>> = spec["extra"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), strings(v)))
        .collect();
    UserInfo {
        name: spec["user"].as_str().unwrap_or_default().to_string(),
        uid: spec["uid"].as_str().unwrap_or_default().to_string(),
        groups: strings(&spec["groups"]),
        extra,
    }
}

/// Upstream's AuthorizationAttributesFrom (the user aside).
pub fn attributes(spec: &Value) -> Request {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let ra = &spec["resourceAttributes"];
    if ra.is_null() {
        let na = &spec["nonResourceAttributes"];
        return Request {
            verb: s(&na["verb"]),
            path: s(&na["path"]),
            ..Request::default()
        };
    }
    let version = s(&ra["version"]);
    Request {
        verb: s(&ra["verb"]),
        resource_request: true,
        api_group: s(&ra["group"]),
        api_version: if version.is_empty() {
            "*".into()
        } else {
            version
        },
        namespace: s(&ra["namespace"]),
        resource: s(&ra["resource"]),
        subresource: s(&ra["subresource"]),
        name: s(&ra["name"]),
        path: String::new(),
        field_selector: s(&ra["fieldSelector"]["rawSelector"]),
    }
}

/// A SubjectAccessReviewStatus.
pub fn status(d: &Decision) -> Value {
    let mut st = json!({"allowed": d.allowed});
    if !d.reason.is_empty() {
        st["reason"] = json!(d.reason);
    }
    st
}

/// A SubjectRulesReviewStatus of what RulesFor found.
pub fn rules_status(found: &super::RulesFor) -> Value {
    let (rules, error) = (&found.rules, found.error.as_deref());
    let resource: Vec<Value> = rules
        .iter()
        .filter(|r| !r.resources.is_empty())
        .map(|r| {
            let mut v = json!({"verbs": r.verbs});
            if !r.api_groups.is_empty() {
                v["apiGroups"] = json!(r.api_groups);
            }
            v["resources"] = json!(r.resources);
            if !r.resource_names.is_empty() {
                v["resourceNames"] = json!(r.resource_names);
            }
            v
        })
        .collect();
    let non_resource: Vec<Value> = rules
        .iter()
        .filter(|r| !r.non_resource_urls.is_empty())
        .map(|r| json!({"verbs": r.verbs, "nonResourceURLs": r.non_resource_urls}))
        .collect();
    let mut st = json!({
        "resourceRules": resource,
        "nonResourceRules": non_resource,
        "incomplete": found.incomplete,
    });
    if let Some(e) = error {
        st["evaluationError"] = json!(e);
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_validated_as_upstream() {
        let e = validate(
            Kind::Subject,
            "SubjectAccessReview",
            &json!({"spec": {}}),
            "",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "SubjectAccessReview.authorization.k8s.io \"\" is invalid: [spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified, spec.user: Invalid value: \"\": at least one of user or group must be specified]"
        );
        let local =
            json!({"spec": {"user": "u", "resourceAttributes": {"namespace": "b", "verb": "get"}}});
        let e = validate(Kind::Local, "LocalSubjectAccessReview", &local, "a").unwrap_err();
        assert_eq!(
            e.message,
            "LocalSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.resourceAttributes.namespace: Invalid value: \"b\": must match metadata.namespace"
        );
        let own = json!({"spec": {"nonResourceAttributes": {"path": "/x", "verb": "get"}}});
        assert!(validate(Kind::SelfSubject, "SelfSubjectAccessReview", &own, "").is_ok());
        let a = attributes(&json!({"resourceAttributes": {"verb": "get", "resource": "pods"}}));
        assert_eq!((a.api_version.as_str(), a.resource_request), ("*", true));
    }
}
