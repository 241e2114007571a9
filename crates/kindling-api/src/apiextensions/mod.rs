//! CustomResourceDefinitions (apiextensions.k8s.io/v1): what a definition serves, as catalog
//! entries made at run time, and the rules of the definitions themselves. Pure: the API
//! server's CRD controller reads definitions, asks [`names_accepted`] and [`entries`], and
//! installs what they return.
//!
//! - `validation.rs`: upstream's validation of a CRD (names, group, scope, versions, printer
//!   columns, structural schemas), with its field paths and messages.
//! - `structural/`: a version's structural schema compiled once into a typed tree, and the
//!   walks over custom objects with it (pruning with defaulting in one pass, unknown fields,
//!   validation).
//! - `schema.rs`: the same for a schema given as JSON (compiled for the call).
//! - `strategy.rs`: the strategies of CRDs and of custom objects.
//! - `columns.rs`: additionalPrinterColumns as Table columns and cells.
//! - `rules.rs`: CEL `x-kubernetes-validations` (compiled once per version, evaluated on writes;
//!   `rules_check.rs` checks them when the definition is written).
//! - `ratchet.rs`: validation ratcheting (errors of unchanged values dropped on updates).
//! - `conversion.rs`: conversion `Webhook`'s reviews, answers and Service endpoints (pure).
//! - `cel/`: the CEL environment (the Kubernetes libraries) and upstream's cost model.
//! - `bench_fixture.rs`: the CRD benchmark's schema and object (the bench and a cost test).

pub mod bench_fixture;
pub mod cel;
pub mod columns;
pub mod conversion;
pub mod ratchet;
pub mod rules;
pub mod schema;
mod strategy;
pub mod structural;
mod validation;

pub use strategy::{set_condition, CustomResourceDefinitionStrategy, CustomResourceStrategy};
pub use validation::{validate_crd, validate_crd_update};

use crate::catalog::{
    DefaultPropagation, ResourceType, ScalePaths, ScaleSelector, Serving, StrategyRef, Subresource,
    TypeInfo, STORED_VERBS,
};
use crate::json_path::{array_at, str_at};
use crate::selector::FieldLabels;
use crate::table::Printer;
use serde_json::{json, Value};
use std::sync::Arc;

/// The finalizer a deleted CRD waits on while its objects are deleted.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

/// The CRD's served names: `spec.names`, with upstream's defaults (singular: the lower-case
/// kind; listKind: kind + `List`).
fn names(crd: &Value) -> (String, String, String, String) {
    let n = &crd["spec"]["names"];
    let kind = str_at(n, &["kind"]).to_string();
    let plural = str_at(n, &["plural"]).to_string();
    let singular = match str_at(n, &["singular"]) {
        "" => kind.to_lowercase(),
        s => s.to_string(),
    };
    let list_kind = match str_at(n, &["listKind"]) {
        "" => format!("{kind}List"),
        s => s.to_string(),
    };
    (plural, singular, kind, list_kind)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// upstream's OpenAPI definition name of a custom kind: the group reversed, then version and
/// kind (`widgets.example.com` v1 Widget → `com.example.v1.Widget`).
pub fn definition_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

fn path_segments(json_path: &str) -> Vec<String> {
    json_path
        .trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The catalog entries of a CRD: one per served version.
pub fn entries(crd: &Value) -> Vec<ResourceType> {
    let spec = &crd["spec"];
    let group = str_at(spec, &["group"]).to_string();
    let (plural, singular, kind, list_kind) = names(crd);
    let namespaced = str_at(spec, &["scope"]) != "Cluster";
    let storage_version = array_at(spec, &["versions"])
        .iter()
        .find(|v| v["storage"].as_bool() == Some(true))
        .map(|v| str_at(v, &["name"]).to_string())
        .unwrap_or_default();
    let mut served: Vec<&Value> = array_at(spec, &["versions"])
        .iter()
        .filter(|v| v["served"].as_bool().unwrap_or(false))
        .collect();
    // Discovery lists a group's versions by priority, the preferred one first.
    served.sort_by(|a, b| {
        version_priority(str_at(a, &["name"])).cmp(&version_priority(str_at(b, &["name"])))
    });
    served
        .into_iter()
        .map(|v| {
            let version = str_at(v, &["name"]).to_string();
            let schema = Arc::new(v["schema"]["openAPIV3Schema"].clone());
            let subs = &v["subresources"];
            let mut subresources = Vec::new();
            if subs.get("status").is_some() {
                subresources.push(Subresource::Status);
            }
            let scale = subs.get("scale").map(|s| ScalePaths {
                spec_replicas: path_segments(str_at(s, &["specReplicasPath"])),
                status_replicas: path_segments(str_at(s, &["statusReplicasPath"])),
                selector: ScaleSelector::Text(
                    s.get("labelSelectorPath")
                        .and_then(Value::as_str)
                        .map(path_segments),
                ),
            });
            if scale.is_some() {
                subresources.push(Subresource::Scale);
            }
            let terminating = crd["metadata"].get("deletionTimestamp").is_some();
            let strategy = CustomResourceStrategy::new(schema.clone(), terminating);
            ResourceType {
                group: group.clone(),
                version: version.clone(),
                kind: kind.clone(),
                list_kind: list_kind.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced,
                short_names: strings(&spec["names"]["shortNames"]),
                categories: strings(&spec["names"]["categories"]),
                subresources,
                type_info: TypeInfo::Custom {
                    schema_name: definition_name(&group, &version, &kind),
                    ssa_schema: crate::managed::types::intern(&schema),
                    structural: strategy.structural(),
                    schema,
                    converter: None,
                    storage_version: storage_version.clone(),
                },
                strategy: StrategyRef::Shared(Arc::new(strategy)),
                verbs: STORED_VERBS,
                serving: Serving::Stored,
                storage: None,
                default_propagation: DefaultPropagation::Background,
                printer: Printer::Custom(Arc::new(columns::CustomColumns::from_version(v))),
                field_labels: field_labels(v),
                admission: None,
                allocation: None,
                scale,
                custom: true,
            }
        })
        .collect()
}

/// upstream's version priority (`version.CompareKubeAwareVersionStrings`) as a sort key,
/// highest first: GA by major, then beta, then alpha (by major, then minor), then anything
/// else by name.
fn version_priority(v: &str) -> (u8, std::cmp::Reverse<u64>, std::cmp::Reverse<u64>, String) {
    let parsed = v.strip_prefix('v').and_then(|rest| {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: u64 = rest[..digits].parse().ok()?;
        let tail = &rest[digits..];
        if tail.is_empty() {
            return Some((0, major, 0));
        }
        for (stage, name) in [(1, "beta"), (2, "alpha")] {
            if let Some(n) = tail.strip_prefix(name) {
                let minor = if n.is_empty() { 0 } else { n.parse().ok()? };
                return Some((stage, major, minor));
            }
        }
        None
    });
    match parsed {
        Some((stage, major, minor)) => (
            stage,
            std::cmp::Reverse(major),
            std::cmp::Reverse(minor),
            String::new(),
        ),
        None => (3, std::cmp::Reverse(0), std::cmp::Reverse(0), v.to_string()),
    }
}

/// A version's `selectableFields` as field labels (none: only the metadata ones).
fn field_labels(version: &Value) -> FieldLabels {
    let fields: Vec<String> = array_at(version, &["selectableFields"])
        .iter()
        .map(|f| str_at(f, &["jsonPath"]).trim_start_matches('.').to_string())
        .filter(|f| !f.is_empty())
        .collect();
    if fields.is_empty() {
        FieldLabels::Default
    } else {
        FieldLabels::Custom(Arc::new(fields))
    }
}

/// Whether `crd` (by its `metadata.name`) is the definition of `entry`.
pub fn serves(crd_name: &str, entry: &ResourceType) -> bool {
    entry.custom && format!("{}.{}", entry.plural, entry.group) == crd_name
}

/// A condition as the CRD status carries it.
pub fn condition(type_: &str, status: bool, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": type_,
        "status": if status { "True" } else { "False" },
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    })
}

/// upstream's naming controller: the CRD's names are accepted unless another CRD of the same
/// group already has one of them; `Err((reason, message))` names the first conflict.
pub fn names_accepted(crd: &Value, others: &[Value]) -> Result<(), (String, String)> {
    let name = str_at(crd, &["metadata", "name"]);
    let group = str_at(crd, &["spec", "group"]);
    let (plural, singular, kind, list_kind) = names(crd);
    let short = strings(&crd["spec"]["names"]["shortNames"]);
    for other in others {
        if str_at(other, &["metadata", "name"]) == name
            || str_at(other, &["spec", "group"]) != group
        {
            continue;
        }
        // What the other definition has been granted (its accepted names).
        let accepted = &other["status"]["acceptedNames"];
        if accepted.get("kind").is_none() {
            continue;
        }
        let conflict = |reason: &str, value: &str| {
            Err((
                reason.to_string(),
                format!("{} is already in use", crate::meta::go_quote(value)),
            ))
        };
        if str_at(accepted, &["plural"]) == plural {
            return conflict("PluralConflict", &plural);
        }
        if str_at(accepted, &["singular"]) == singular {
            return conflict("SingularConflict", &singular);
        }
        let theirs = strings(&accepted["shortNames"]);
        if let Some(s) = short.iter().find(|s| theirs.contains(s)) {
            return conflict("ShortNamesConflict", s);
        }
        if str_at(accepted, &["kind"]) == kind {
            return conflict("KindConflict", &kind);
        }
        if str_at(accepted, &["listKind"]) == list_kind {
            return conflict("ListKindConflict", &list_kind);
        }
    }
    Ok(())
}

/// The names a CRD is granted once accepted: its spec's, defaults filled in.
pub fn accepted_names(crd: &Value) -> Value {
    let (plural, singular, kind, list_kind) = names(crd);
    let n = &crd["spec"]["names"];
    let mut out = json!({"plural": plural, "singular": singular});
    if let Some(s) = n
        .get("shortNames")
        .filter(|s| s.as_array().is_some_and(|a| !a.is_empty()))
    {
        out["shortNames"] = s.clone();
    }
    out["kind"] = json!(kind);
    out["listKind"] = json!(list_kind);
    if let Some(c) = n
        .get("categories")
        .filter(|s| s.as_array().is_some_and(|a| !a.is_empty()))
    {
        out["categories"] = c.clone();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn widget_crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                        "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}}}}},
                    "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
                    "additionalPrinterColumns": [{"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}]}]}
        })
    }

    #[test]
    fn a_crd_serves_one_entry_per_served_version() {
        let e = entries(&widget_crd());
        assert_eq!(e.len(), 1);
        let w = &e[0];
        assert_eq!(
            (w.group.as_str(), w.version.as_str(), w.plural.as_str()),
            ("example.com", "v1", "widgets")
        );
        assert_eq!(w.list_kind, "WidgetList");
        assert!(w.has(Subresource::Status) && w.has(Subresource::Scale));
        assert_eq!(w.schema_name(), "com.example.v1.Widget");
        assert!(serves("widgets.example.com", w));
    }

    #[test]
    fn versions_in_upstreams_priority() {
        let mut v = vec![
            "v1alpha1", "foo", "v2beta1", "v1", "v2", "v1beta2", "v1beta1",
        ];
        v.sort_by_key(|s| version_priority(s));
        assert_eq!(
            v,
            ["v2", "v1", "v2beta1", "v1beta2", "v1beta1", "v1alpha1", "foo"]
        );
    }

    #[test]
    fn other_versions_are_stored_in_the_storage_version() {
        let mut crd = widget_crd();
        let mut beta = crd["spec"]["versions"][0].clone();
        beta["name"] = json!("v1beta1");
        beta["storage"] = json!(false);
        crd["spec"]["versions"]
            .as_array_mut()
            .unwrap()
            .insert(0, beta);
        let e = entries(&crd);
        assert_eq!(e[0].version, "v1", "the preferred version first");
        let beta = &e[1];
        let stored = beta
            .to_stored(json!({"apiVersion": "example.com/v1beta1", "kind": "Widget"}))
            .unwrap();
        assert_eq!(stored["apiVersion"], "example.com/v1");
        assert_eq!(
            beta.from_stored(stored).unwrap()["apiVersion"],
            "example.com/v1beta1"
        );
        assert!(e[0].is_storage_entry() && !beta.is_storage_entry());
    }

    #[test]
    fn names_taken_by_another_definition_conflict() {
        let mut other = widget_crd();
        other["metadata"]["name"] = json!("gadgets.example.com");
        other["spec"]["names"] =
            json!({"plural": "gadgets", "singular": "gadget", "kind": "Widget"});
        other["status"]["acceptedNames"] = accepted_names(&other);
        let err = names_accepted(&widget_crd(), &[other]).unwrap_err();
        assert_eq!(err.0, "KindConflict");
        assert_eq!(err.1, "\"Widget\" is already in use");
    }
}
