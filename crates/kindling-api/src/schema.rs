//! OpenAPI definitions of every served type, generated from the k8s-openapi types (schemars), named
//! as upstream names them (`io.k8s.api.core.v1.Pod`). They serve `/openapi/v3`, `kubectl explain`,
//! unknown-field detection and the strategic-merge-patch walk.

use crate::catalog::{builtin_catalog, TypeInfo};
use serde_json::{Map, Value};
use std::sync::OnceLock;

/// The definitions, by name, with `$ref`s of the form `#/components/schemas/<name>`.
pub struct Definitions {
    pub schemas: Map<String, Value>,
}

pub const REF_PREFIX: &str = "#/components/schemas/";

/// The definitions of every catalog type, built once.
pub fn definitions() -> &'static Definitions {
    static DEFS: OnceLock<Definitions> = OnceLock::new();
    DEFS.get_or_init(build)
}

fn build() -> Definitions {
    let mut settings = schemars::generate::SchemaSettings::openapi3();
    settings.definitions_path = "/components/schemas".into();
    let mut generator = schemars::SchemaGenerator::new(settings);
    for r in builtin_catalog().iter() {
        if let TypeInfo::Builtin { add_schema, .. } = &r.type_info {
            add_schema(&mut generator);
        }
    }
    let mut schemas = Map::new();
    for (name, mut schema) in generator.take_definitions(true) {
        drop_required_metadata(&mut schema);
        schemas.insert(name, schema);
    }
    Definitions { schemas }
}

/// k8s-openapi lists `metadata` as required wherever its Rust field is not an `Option` (every
/// top-level kind and list); upstream's OpenAPI never requires ObjectMeta or ListMeta, and
/// kubectl's client-side validation would demand it (e.g. of a SubjectAccessReview).
fn drop_required_metadata(schema: &mut Value) {
    let is_meta = schema["properties"]["metadata"]["$ref"]
        .as_str()
        .or_else(|| schema["properties"]["metadata"]["allOf"][0]["$ref"].as_str())
        .is_some_and(|r| {
            r.ends_with("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
                || r.ends_with("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")
        });
    if !is_meta {
        return;
    }
    let Some(required) = schema.get_mut("required").and_then(Value::as_array_mut) else {
        return;
    };
    required.retain(|f| f != "metadata");
    if required.is_empty() {
        if let Some(m) = schema.as_object_mut() {
            m.remove("required");
        }
    }
}

impl Definitions {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.schemas.get(name)
    }

    /// Follows a `$ref` (possibly wrapped in `allOf`) to the definition name it names.
    pub fn ref_name(schema: &Value) -> Option<&str> {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            return r.strip_prefix(REF_PREFIX);
        }
        schema
            .get("allOf")?
            .as_array()?
            .iter()
            .find_map(Definitions::ref_name)
    }

    /// Resolves a schema that may be a `$ref` to the schema it refers to.
    pub fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match Definitions::ref_name(schema).and_then(|n| self.get(n)) {
            Some(s) => s,
            None => schema,
        }
    }

    /// The schema of `field` inside the object schema `schema` (resolved through `$ref`s).
    pub fn property<'a>(&'a self, schema: &'a Value, field: &str) -> Option<&'a Value> {
        let s = self.resolve(schema);
        s.get("properties")
            .and_then(|p| p.get(field))
            .map(|f| self.resolve(f))
    }

    /// The documentation of `field` in the definition `definition` (upstream's
    /// `SwaggerDoc()[field]`), as written on the property, before any `$ref` is followed.
    pub fn field_description(&self, definition: &str, field: &str) -> Option<&str> {
        self.get(definition)?
            .get("properties")?
            .get(field)?
            .get("description")?
            .as_str()
    }

    /// The item schema of an array schema, resolved.
    pub fn items<'a>(&'a self, schema: &'a Value) -> Option<&'a Value> {
        self.resolve(schema).get("items").map(|i| self.resolve(i))
    }

    /// The value schema of a map (`additionalProperties`), resolved.
    pub fn map_values<'a>(&'a self, schema: &'a Value) -> Option<&'a Value> {
        match self.resolve(schema).get("additionalProperties") {
            Some(Value::Bool(_)) | None => None,
            Some(v) => Some(self.resolve(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_never_required_as_upstream() {
        let defs = definitions();
        let sar = defs
            .get("io.k8s.api.authorization.v1.SubjectAccessReview")
            .unwrap();
        assert_eq!(sar["required"], serde_json::json!(["spec"]));
        assert!(defs
            .get("io.k8s.api.core.v1.Pod")
            .unwrap()
            .get("required")
            .is_none());
        for (name, schema) in &defs.schemas {
            let required = schema["required"].as_array().cloned().unwrap_or_default();
            assert!(!required.iter().any(|f| f == "metadata"), "{name}");
        }
    }

    #[test]
    fn every_catalog_type_has_a_definition() {
        let defs = definitions();
        for r in builtin_catalog().iter() {
            assert!(defs.get(&r.schema_name()).is_some(), "{r:?}");
        }
    }

    #[test]
    fn navigates_pod_containers() {
        let defs = definitions();
        let pod = defs.get("io.k8s.api.core.v1.Pod").unwrap();
        let spec = defs.property(pod, "spec").unwrap();
        let containers = defs.property(spec, "containers").unwrap();
        let container = defs.items(containers).unwrap();
        assert!(defs.property(container, "image").is_some());
        assert!(defs.property(container, "imagex").is_none());
    }

    #[test]
    fn field_descriptions_are_the_fields_own() {
        let defs = definitions();
        let meta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
        assert!(defs
            .field_description(meta, "name")
            .unwrap()
            .starts_with("Name must be unique within a namespace."));
        // a `$ref` field keeps its own description, not its type's
        assert!(defs
            .field_description(meta, "creationTimestamp")
            .unwrap()
            .starts_with("CreationTimestamp is a timestamp"));
        assert_eq!(defs.field_description(meta, "nosuchfield"), None);
        assert_eq!(defs.field_description("io.k8s.NoSuchType", "name"), None);
    }
}
