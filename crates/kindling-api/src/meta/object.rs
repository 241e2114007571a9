//! `metadata` of an object as a whole, on create and on update (upstream's
//! `ValidateObjectMeta` / `ValidateObjectMetaUpdate`), and of an embedded template.

use super::{
    finalizers::validate_finalizers, go_strings, go_value, invalid_str, name_errors,
    owners::validate_owner_references, required, validate_annotations, validate_immutable,
    validate_labels, validate_nonnegative,
};
use crate::status::Cause;
use crate::strategy::NameRule;
use serde_json::Value;

/// `metadata` of a new object, as upstream's `ValidateObjectMeta` (plus core's finalizer rule).
/// The server resolves `generateName` first, so a name is required here. Cluster-scoped objects
/// are expected to have had `metadata.namespace` cleared by the server, as upstream does.
pub fn validate_object_meta(meta: &Value, namespaced: bool, rule: NameRule) -> Vec<Cause> {
    let mut errs = Vec::new();
    let s = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or("");
    let generate_name = s("generateName");
    if !generate_name.is_empty() {
        for msg in name_errors(rule, generate_name, true) {
            errs.push(invalid_str("metadata.generateName", generate_name, &msg));
        }
    }
    let name = s("name");
    if name.is_empty() {
        errs.push(required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in name_errors(rule, name, false) {
            errs.push(invalid_str("metadata.name", name, &msg));
        }
    }
    if namespaced {
        let ns = s("namespace");
        if ns.is_empty() {
            errs.push(required("metadata.namespace", ""));
        } else {
            for msg in name_errors(NameRule::Label, ns, false) {
                errs.push(invalid_str("metadata.namespace", ns, &msg));
            }
        }
    }
    errs.extend(validate_nonnegative(
        meta.get("generation"),
        "metadata.generation",
    ));
    errs.extend(validate_labels(meta.get("labels"), "metadata.labels"));
    errs.extend(validate_annotations(
        meta.get("annotations"),
        "metadata.annotations",
    ));
    errs.extend(validate_owner_references(
        meta.get("ownerReferences"),
        "metadata.ownerReferences",
    ));
    errs.extend(validate_finalizers(
        meta.get("finalizers"),
        "metadata.finalizers",
    ));
    errs
}

/// `metadata` of an update against the stored object, as upstream's `ValidateObjectMetaUpdate`:
/// immutable identity fields, no new finalizers while deleting, and the same format rules as on
/// create for labels, annotations, owner references and finalizers.
pub fn validate_object_meta_update(new: &Value, old: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    if old.get("deletionTimestamp").is_some_and(|v| !v.is_null()) {
        let olds: Vec<&str> = old
            .get("finalizers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut extra: Vec<&str> = new
            .get("finalizers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|f| !olds.contains(f))
            .collect();
        extra.sort_unstable();
        extra.dedup();
        if !extra.is_empty() {
            errs.push(Cause::forbidden(
                "metadata.finalizers",
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                    go_strings(extra)
                ),
            ));
        }
    }
    let gen = |m: &Value| m.get("generation").and_then(Value::as_i64).unwrap_or(0);
    if gen(new) < gen(old) {
        errs.push(Cause::invalid(
            "metadata.generation",
            gen(new),
            "must not be decremented",
        ));
    }
    for key in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        let field = format!("metadata.{key}");
        errs.extend(validate_immutable(
            new.get(key),
            old.get(key),
            &field,
            || go_value(new.get(key)),
        ));
    }
    errs.extend(validate_labels(new.get("labels"), "metadata.labels"));
    errs.extend(validate_annotations(
        new.get("annotations"),
        "metadata.annotations",
    ));
    errs.extend(validate_owner_references(
        new.get("ownerReferences"),
        "metadata.ownerReferences",
    ));
    errs.extend(validate_finalizers(
        new.get("finalizers"),
        "metadata.finalizers",
    ));
    errs
}

/// Labels and annotations of an embedded template's metadata (`spec.template.labels`, …: the
/// paths are the template's, without `.metadata`, as upstream reports them).
pub fn validate_template_meta(meta: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut errs = validate_labels(
        meta.and_then(|m| m.get("labels")),
        &format!("{field}.labels"),
    );
    errs.extend(validate_annotations(
        meta.and_then(|m| m.get("annotations")),
        &format!("{field}.annotations"),
    ));
    errs
}

#[cfg(test)]
mod tests {
    use crate::meta::*;
    use crate::strategy::NameRule;
    use serde_json::json;

    #[test]
    fn subdomain_message_matches_upstream() {
        let errs = validate_object_meta(
            &json!({"name": "Foo_bar", "namespace": "default"}),
            true,
            NameRule::Subdomain,
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "metadata.name");
        assert_eq!(
            errs[0].message,
            "Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
    }

    #[test]
    fn name_required_and_namespace_checked() {
        let errs = validate_object_meta(&json!({"namespace": "Bad"}), true, NameRule::Subdomain);
        assert_eq!(
            errs[0].summary(),
            "metadata.name: Required value: name or generateName is required"
        );
        assert_eq!(errs[1].field, "metadata.namespace");
        let errs = validate_object_meta(&json!({"name": "x"}), true, NameRule::Subdomain);
        assert_eq!(errs[0].summary(), "metadata.namespace: Required value");
    }

    #[test]
    fn generate_name_may_end_with_dash() {
        let meta = json!({"name": "web-abcde", "generateName": "web-", "namespace": "default"});
        assert!(validate_object_meta(&meta, true, NameRule::Label).is_empty());
    }

    #[test]
    fn meta_update_immutables() {
        let old = json!({"name": "x", "uid": "1", "generation": 2});
        let new = json!({"name": "x", "uid": "2", "generation": 1});
        let errs = validate_object_meta_update(&new, &old);
        assert_eq!(
            errs[0].summary(),
            "metadata.generation: Invalid value: 1: must not be decremented"
        );
        assert_eq!(
            errs[1].summary(),
            "metadata.uid: Invalid value: \"2\": field is immutable"
        );
    }
}
