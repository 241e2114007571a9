//! admissionregistration.k8s.io/v1: webhook configurations and validating admission policies
//! with their bindings — upstream's v1 defaults and the main rules of its validation
//! (pkg/apis/admissionregistration/validation). kindling stores them; it calls no webhook and
//! evaluates no policy (docs/STATUS.md says so).

use super::util::{arr_of, set_default, set_default_str, spec_of, str_of};
use super::Strategy;
use crate::meta::{
    dns1123_subdomain_errors, duplicate_str, invalid_str, not_supported_str, required,
};
use crate::status::Cause;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Mutating and validating webhook configurations (the mutating ones also have a
/// `reinvocationPolicy`).
pub struct WebhookConfigurationStrategy;

impl Strategy for WebhookConfigurationStrategy {
    fn default(&self, obj: &mut Value) {
        let mutating = obj["kind"] == "MutatingWebhookConfiguration";
        if let Some(hooks) = obj.get_mut("webhooks").and_then(Value::as_array_mut) {
            for w in hooks {
                set_default_str(w, "failurePolicy", "Fail");
                set_default_str(w, "matchPolicy", "Equivalent");
                set_default(w, "namespaceSelector", json!({}));
                set_default(w, "objectSelector", json!({}));
                set_default(w, "timeoutSeconds", json!(10));
                if mutating {
                    set_default_str(w, "reinvocationPolicy", "Never");
                }
                if let Some(rules) = w.get_mut("rules").and_then(Value::as_array_mut) {
                    for r in rules {
                        set_default_str(r, "scope", "*");
                    }
                }
                if let Some(svc) = w
                    .pointer_mut("/clientConfig/service")
                    .filter(|s| s.is_object())
                {
                    set_default(svc, "port", json!(443));
                }
            }
        }
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut errs = Vec::new();
        let mut names = BTreeSet::new();
        for (i, w) in arr_of(obj, "webhooks").iter().enumerate() {
            let path = format!("webhooks[{i}]");
            let name = str_of(w, "name");
            if name.is_empty() {
                errs.push(required(format!("{path}.name"), ""));
            } else {
                for msg in dns1123_subdomain_errors(name) {
                    errs.push(invalid_str(format!("{path}.name"), name, &msg));
                }
                if name.split('.').count() < 3 {
                    errs.push(invalid_str(
                        format!("{path}.name"),
                        name,
                        "should be a domain with at least three segments separated by dots",
                    ));
                }
                if !names.insert(name) {
                    errs.push(duplicate_str(format!("{path}.name"), name));
                }
            }
            errs.extend(validate_webhook(w, &path));
        }
        errs
    }
}

fn validate_webhook(w: &Value, path: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    for (j, r) in arr_of(w, "rules").iter().enumerate() {
        let rp = format!("{path}.rules[{j}]");
        if arr_of(r, "operations").is_empty() {
            errs.push(required(format!("{rp}.operations"), ""));
        }
        for field in ["apiGroups", "apiVersions", "resources"] {
            if arr_of(r, field).is_empty() {
                errs.push(required(format!("{rp}.{field}"), ""));
            }
        }
        let scope = str_of(r, "scope");
        if !["*", "Cluster", "Namespaced"].contains(&scope) {
            errs.push(not_supported_str(
                format!("{rp}.scope"),
                scope,
                &["*", "Cluster", "Namespaced"],
            ));
        }
    }
    let policy = str_of(w, "failurePolicy");
    if !["Fail", "Ignore"].contains(&policy) {
        errs.push(not_supported_str(
            format!("{path}.failurePolicy"),
            policy,
            &["Fail", "Ignore"],
        ));
    }
    let side = str_of(w, "sideEffects");
    if side.is_empty() {
        errs.push(required(
            format!("{path}.sideEffects"),
            "must specify one of None, NoneOnDryRun",
        ));
    } else if !["None", "NoneOnDryRun"].contains(&side) {
        errs.push(not_supported_str(
            format!("{path}.sideEffects"),
            side,
            &["None", "NoneOnDryRun"],
        ));
    }
    let versions = arr_of(w, "admissionReviewVersions");
    if versions.is_empty() {
        errs.push(required(
            format!("{path}.admissionReviewVersions"),
            "must specify one of v1, v1beta1",
        ));
    } else if !versions.iter().any(|v| v == "v1" || v == "v1beta1") {
        errs.push(invalid_str(
            format!("{path}.admissionReviewVersions"),
            "",
            "must include at least one of v1, v1beta1",
        ));
    }
    if let Some(t) = w["timeoutSeconds"]
        .as_i64()
        .filter(|t| !(1..=30).contains(t))
    {
        errs.push(Cause::invalid(
            format!("{path}.timeoutSeconds"),
            t,
            "the timeout value must be between 1 and 30 seconds",
        ));
    }
    let cc = &w["clientConfig"];
    let (url, service) = (
        cc.get("url").and_then(Value::as_str),
        cc.get("service").filter(|s| s.is_object()),
    );
    match (url, service) {
        (Some(_), Some(_)) | (None, None) => errs.push(required(
            format!("{path}.clientConfig"),
            "exactly one of url or service is required",
        )),
        (Some(u), None) => {
            if !u.starts_with("https://") {
                errs.push(invalid_str(
                    format!("{path}.clientConfig.url"),
                    u,
                    "'https' is the only allowed URL scheme",
                ));
            }
        }
        (None, Some(s)) => {
            for field in ["name", "namespace"] {
                if str_of(s, field).is_empty() {
                    errs.push(required(
                        format!("{path}.clientConfig.service.{field}"),
                        &format!("service {field} is required"),
                    ));
                }
            }
        }
    }
    errs
}

pub struct ValidatingAdmissionPolicyStrategy;

impl Strategy for ValidatingAdmissionPolicyStrategy {
    fn default(&self, obj: &mut Value) {
        let spec = crate::json_path::object_mut(obj, &["spec"]);
        set_default_str(spec, "failurePolicy", "Fail");
        if let Some(mc) = spec.get_mut("matchConstraints").filter(|m| m.is_object()) {
            set_default_str(mc, "matchPolicy", "Equivalent");
            set_default(mc, "namespaceSelector", json!({}));
            set_default(mc, "objectSelector", json!({}));
        }
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let spec = spec_of(obj);
        let mut errs = Vec::new();
        if spec.get("matchConstraints").is_none_or(Value::is_null) {
            errs.push(required("spec.matchConstraints", ""));
        } else if arr_of(&spec["matchConstraints"], "resourceRules").is_empty() {
            errs.push(required("spec.matchConstraints.resourceRules", ""));
        }
        let validations = arr_of(spec, "validations");
        if validations.is_empty() && arr_of(spec, "auditAnnotations").is_empty() {
            errs.push(required(
                "spec.validations",
                "validations or auditAnnotations must contain at least one item",
            ));
        }
        for (i, v) in validations.iter().enumerate() {
            if str_of(v, "expression").trim().is_empty() {
                errs.push(required(format!("spec.validations[{i}].expression"), ""));
            }
        }
        let policy = str_of(spec, "failurePolicy");
        if !["Fail", "Ignore"].contains(&policy) {
            errs.push(not_supported_str(
                "spec.failurePolicy",
                policy,
                &["Fail", "Ignore"],
            ));
        }
        errs
    }
}

pub struct ValidatingAdmissionPolicyBindingStrategy;

const VALIDATION_ACTIONS: &[&str] = &["Audit", "Deny", "Warn"];

impl Strategy for ValidatingAdmissionPolicyBindingStrategy {
    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let spec = spec_of(obj);
        let mut errs = Vec::new();
        let policy = str_of(spec, "policyName");
        if policy.is_empty() {
            errs.push(required("spec.policyName", ""));
        } else {
            for msg in dns1123_subdomain_errors(policy) {
                errs.push(invalid_str("spec.policyName", policy, &msg));
            }
        }
        let actions = arr_of(spec, "validationActions");
        if actions.is_empty() {
            errs.push(required(
                "spec.validationActions",
                "at least one validation action is required",
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, a) in actions.iter().enumerate() {
            let a = a.as_str().unwrap_or_default();
            if !VALIDATION_ACTIONS.contains(&a) {
                errs.push(not_supported_str(
                    format!("spec.validationActions[{i}]"),
                    a,
                    VALIDATION_ACTIONS,
                ));
            } else if !seen.insert(a) {
                errs.push(duplicate_str(format!("spec.validationActions[{i}]"), a));
            }
        }
        if actions.iter().any(|a| a == "Deny") && actions.iter().any(|a| a == "Warn") {
            errs.push(invalid_str(
                "spec.validationActions",
                "",
                "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)",
            ));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summaries(errs: Vec<Cause>) -> Vec<String> {
        errs.iter().map(Cause::summary).collect()
    }

    #[test]
    fn a_webhook_needs_its_essentials() {
        let mut cfg = json!({"kind": "ValidatingWebhookConfiguration", "metadata": {"name": "v"},
            "webhooks": [{"name": "check", "clientConfig": {}}]});
        WebhookConfigurationStrategy.default(&mut cfg);
        assert_eq!(cfg["webhooks"][0]["timeoutSeconds"], 10);
        assert_eq!(
            summaries(WebhookConfigurationStrategy.validate(&cfg)),
            [
                "webhooks[0].name: Invalid value: \"check\": should be a domain with at least three segments separated by dots",
                "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
                "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, v1beta1",
                "webhooks[0].clientConfig: Required value: exactly one of url or service is required",
            ]
        );
        let mut ok = json!({"kind": "MutatingWebhookConfiguration", "metadata": {"name": "m"},
            "webhooks": [{"name": "check.example.com", "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "clientConfig": {"service": {"name": "hook", "namespace": "default"}},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                    "resources": ["pods"]}]}]});
        WebhookConfigurationStrategy.default(&mut ok);
        assert_eq!(ok["webhooks"][0]["reinvocationPolicy"], "Never");
        assert!(WebhookConfigurationStrategy.validate(&ok).is_empty());
    }

    #[test]
    fn policies_and_bindings() {
        let mut p = json!({"spec": {"matchConstraints": {"resourceRules": [{"operations": ["CREATE"],
            "apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["deployments"]}]}}});
        ValidatingAdmissionPolicyStrategy.default(&mut p);
        assert_eq!(
            summaries(ValidatingAdmissionPolicyStrategy.validate(&p)),
            ["spec.validations: Required value: validations or auditAnnotations must contain at least one item"]
        );
        let b = json!({"spec": {"policyName": "p", "validationActions": ["Deny", "Nope"]}});
        assert_eq!(
            summaries(ValidatingAdmissionPolicyBindingStrategy.validate(&b)),
            ["spec.validationActions[1]: Unsupported value: \"Nope\": supported values: \"Audit\", \"Deny\", \"Warn\""]
        );
    }
}
