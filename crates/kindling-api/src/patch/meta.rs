//! Strategic-merge-patch metadata: which fields of which definitions merge (and by which key),
//! retain keys or replace, from the generated [`super::merge_keys::PATCH_META`] table, and the
//! walk of the OpenAPI definitions that the strategic merge follows.

use super::merge_keys::PATCH_META;
use crate::schema::{definitions, Definitions};
use serde_json::Value;

/// The patch metadata of one field: upstream's `patchStrategy` and `patchMergeKey` tags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PatchMeta {
    /// `merge`, `replace`, `retainKeys`, `merge,retainKeys`, or empty.
    pub strategy: &'static str,
    /// The key list items merge by, or empty (a list of primitives, or no merge).
    pub merge_key: &'static str,
}

impl PatchMeta {
    /// The strategies, split on commas.
    pub fn strategies(&self) -> impl Iterator<Item = &'static str> {
        self.strategy.split(',').filter(|s| !s.is_empty())
    }

    /// The strategy other than `retainKeys` (`merge`, `replace` or ``), as upstream's
    /// `extractRetainKeysPatchStrategy` picks it.
    pub fn list_strategy(&self) -> &'static str {
        self.strategies().find(|s| *s != "retainKeys").unwrap_or("")
    }

    pub fn retain_keys(&self) -> bool {
        self.strategies().any(|s| s == "retainKeys")
    }
}

/// The patch metadata of `field` of the definition `definition` (e.g.
/// `io.k8s.api.core.v1.PodSpec`, `containers`), if it has any.
pub fn patch_meta(definition: &str, field: &str) -> Option<PatchMeta> {
    PATCH_META
        .iter()
        .find(|(d, f, _, _)| *d == definition && *f == field)
        .map(|&(_, _, strategy, merge_key)| PatchMeta {
            strategy,
            merge_key,
        })
}

/// The key a merging list of objects merges by (`name` for `PodSpec.containers`), or `None` for
/// lists that are replaced or are lists of primitives.
pub fn merge_key(definition: &str, field: &str) -> Option<&'static str> {
    patch_meta(definition, field)
        .filter(|m| m.list_strategy() == "merge" && !m.merge_key.is_empty())
        .map(|m| m.merge_key)
}

/// What the strategic merge needs to know of a schema: the schema of a field (with its patch
/// metadata) and the schema of a list's items. Upstream's `LookupPatchMeta`.
pub trait PatchSchema: Sized + Clone {
    fn field(&self, key: &str) -> (Self, PatchMeta);
    fn items(&self) -> Self;
}

/// A position in the OpenAPI definitions: the schema (resolved) and, when it is a named
/// definition, its name (the patch metadata is looked up by name). `None` schema: unknown, so
/// lists are replaced and maps merged as in a merge patch.
#[derive(Clone, Copy)]
pub struct DefSchema {
    name: Option<&'static str>,
    schema: Option<&'static Value>,
}

impl DefSchema {
    /// The definition named `name`, or an unknown schema if there is none.
    pub fn root(name: &str) -> DefSchema {
        let defs = definitions();
        match defs.schemas.get_key_value(name) {
            Some((n, s)) => DefSchema {
                name: Some(n.as_str()),
                schema: Some(s),
            },
            None => DefSchema::unknown(),
        }
    }

    pub fn unknown() -> DefSchema {
        DefSchema {
            name: None,
            schema: None,
        }
    }

    fn of(raw: &'static Value) -> DefSchema {
        let defs = definitions();
        match Definitions::ref_name(raw).and_then(|n| defs.schemas.get_key_value(n)) {
            Some((n, s)) => DefSchema {
                name: Some(n.as_str()),
                schema: Some(s),
            },
            None => DefSchema {
                name: None,
                schema: Some(raw),
            },
        }
    }
}

impl PatchSchema for DefSchema {
    fn field(&self, key: &str) -> (DefSchema, PatchMeta) {
        let Some(schema) = self.schema else {
            return (DefSchema::unknown(), PatchMeta::default());
        };
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            return match props.get(key) {
                Some(raw) => {
                    let meta = self
                        .name
                        .and_then(|n| patch_meta(n, key))
                        .unwrap_or_default();
                    (DefSchema::of(raw), meta)
                }
                None => (DefSchema::unknown(), PatchMeta::default()),
            };
        }
        match schema.get("additionalProperties") {
            Some(v @ Value::Object(_)) => (DefSchema::of(v), PatchMeta::default()),
            _ => (DefSchema::unknown(), PatchMeta::default()),
        }
    }

    fn items(&self) -> DefSchema {
        match self.schema.and_then(|s| s.get("items")) {
            Some(raw) => DefSchema::of(raw),
            None => DefSchema::unknown(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_the_well_known_keys() {
        assert_eq!(
            merge_key("io.k8s.api.core.v1.PodSpec", "containers"),
            Some("name")
        );
        assert_eq!(
            merge_key("io.k8s.api.core.v1.Container", "ports"),
            Some("containerPort")
        );
        assert_eq!(
            merge_key("io.k8s.api.core.v1.ServiceSpec", "ports"),
            Some("port")
        );
        assert_eq!(
            merge_key(
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "ownerReferences"
            ),
            Some("uid")
        );
        assert_eq!(merge_key("io.k8s.api.core.v1.PodSpec", "tolerations"), None);
        let fin = patch_meta(
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "finalizers",
        )
        .unwrap();
        assert_eq!((fin.list_strategy(), fin.merge_key), ("merge", ""));
        let vols = patch_meta("io.k8s.api.core.v1.PodSpec", "volumes").unwrap();
        assert!(vols.retain_keys());
        assert_eq!(vols.list_strategy(), "merge");
        let strategy = patch_meta("io.k8s.api.apps.v1.DeploymentSpec", "strategy").unwrap();
        assert!(strategy.retain_keys());
        assert_eq!(strategy.list_strategy(), "");
    }

    #[test]
    fn every_table_row_that_names_a_served_definition_names_a_real_field() {
        let defs = definitions();
        let mut seen = 0;
        for (d, f, _, _) in PATCH_META {
            if let Some(schema) = defs.get(d) {
                seen += 1;
                assert!(schema["properties"].get(*f).is_some(), "{d}.{f}");
            }
        }
        assert!(seen > 30, "{seen}");
    }

    #[test]
    fn walks_from_deployment_to_container_env() {
        let root = DefSchema::root("io.k8s.api.apps.v1.Deployment");
        let (spec, _) = root.field("spec");
        let (template, _) = spec.field("template");
        let (pod_spec, _) = template.field("spec");
        let (containers, meta) = pod_spec.field("containers");
        assert_eq!(meta.merge_key, "name");
        let (_, env) = containers.items().field("env");
        assert_eq!((env.list_strategy(), env.merge_key), ("merge", "name"));
        let (labels, _) = template.field("metadata").0.field("labels");
        assert!(labels.field("anything").0.schema.is_some());
        assert!(root.field("nonsense").0.schema.is_none());
    }
}
