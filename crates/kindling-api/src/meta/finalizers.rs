//! `metadata.finalizers`: standard or qualified names, and not both `orphan` and
//! `foregroundDeletion`.

use super::{go_string_slice, invalid_raw, invalid_str, validate_qualified_name};
use crate::status::Cause;
use serde_json::Value;

/// The kube-apiserver's standard names, and the one the apiextensions server's objects carry
/// (its validation checks only that a finalizer is a qualified name).
const STANDARD_FINALIZERS: &[&str] = &[
    "kubernetes",
    "orphan",
    "foregroundDeletion",
    "customresourcecleanup.apiextensions.k8s.io",
];

/// One finalizer name: a qualified name, and a standard one unless it has a '/' (errors of the
/// first kind at `list_field`, as upstream reports them, of the second at `item_field`).
pub fn validate_finalizer_name(name: &str, list_field: &str, item_field: &str) -> Vec<Cause> {
    let mut errs = validate_qualified_name(name, list_field);
    if !name.contains('/') && !STANDARD_FINALIZERS.contains(&name) {
        errs.push(invalid_str(
            item_field,
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
    errs
}

pub(super) fn validate_finalizers(finalizers: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let Some(list) = finalizers.and_then(Value::as_array) else {
        return errs;
    };
    let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
    for (i, name) in names.iter().enumerate() {
        errs.extend(validate_finalizer_name(
            name,
            field,
            &format!("{field}[{i}]"),
        ));
    }
    if names.contains(&"orphan") && names.contains(&"foregroundDeletion") {
        errs.push(invalid_raw(
            field,
            &go_string_slice(finalizers),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::meta::*;
    use crate::strategy::NameRule;
    use serde_json::json;

    #[test]
    fn finalizers() {
        let meta = json!({"name": "x", "finalizers": ["example.com/ok", "bogus", "orphan", "foregroundDeletion"]});
        let errs = validate_object_meta(&meta, false, NameRule::Subdomain);
        assert_eq!(
            errs[0].summary(),
            "metadata.finalizers[1]: Invalid value: \"bogus\": name is neither a standard finalizer name nor is it fully qualified"
        );
        assert!(errs[1]
            .message
            .ends_with("finalizer orphan and foregroundDeletion cannot be both set"));
    }
}
