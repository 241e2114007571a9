//! `/openapi/v2`: one Swagger 2.0 document of every served resource, rendered from the same
//! definitions and operations as `/openapi/v3` (see the parent module): `$ref`s point into
//! `#/definitions/`, a field's `$ref` carries its description beside it (v3 wraps it in `allOf`),
//! an int-or-string is `type: string, format: int-or-string`. It is built once, with its
//! protobuf form (gnostic's `openapi.v2.Document`, what kubectl asks for) and its ETag
//! (upstream's: the SHA-512 of the JSON, in upper-case hex).

use super::{
    add_patch_metadata, custom_definition, gnostic, group_version_kinds, operation_extensions,
    operations, patch_types, tag, Body, In, Param,
};
use bytes::Bytes;
use kindling_api::catalog::{Catalog, ResourceType};
use kindling_api::schema::{definitions, REF_PREFIX};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};
use std::sync::{Arc, OnceLock};

const V2_REF_PREFIX: &str = "#/definitions/";

/// The body kubectl's PATCH takes, as upstream names it.
const PATCH_DEFINITION: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

/// The document in each form it is served in.
pub struct Served {
    pub json: Bytes,
    pub protobuf: Bytes,
    /// Quoted, as the `ETag` header carries it.
    pub etag: String,
    /// The gzipped forms, made when first asked for.
    pub json_gz: OnceLock<Bytes>,
    pub protobuf_gz: OnceLock<Bytes>,
}

/// The document of the catalog, built on first use and again when the catalog changes.
pub fn served(catalog: &Arc<Catalog>) -> Arc<Served> {
    static SERVED: super::PerCatalog<Served> = super::PerCatalog::new();
    SERVED.get(catalog, |catalog| {
        let doc = document(catalog);
        let json = serde_json::to_vec(&doc).unwrap_or_default();
        let etag = format!("\"{}\"", hex_upper(&Sha512::digest(&json)));
        Served {
            protobuf: Bytes::from(gnostic::encode_document(&doc)),
            json: Bytes::from(json),
            etag,
            json_gz: OnceLock::new(),
            protobuf_gz: OnceLock::new(),
        }
    })
}

fn hex_upper(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

/// The Swagger 2.0 document.
pub fn document(catalog: &Catalog) -> Value {
    let defs = definitions();
    let mut definitions_v2 = Map::new();
    let mut names: Vec<&String> = defs.schemas.keys().collect();
    names.sort();
    for name in names {
        let mut schema = to_swagger(&defs.schemas[name]);
        if let Some(gvks) = group_version_kinds(catalog, name) {
            schema["x-kubernetes-group-version-kind"] = Value::Array(gvks);
        }
        add_patch_metadata(name, &mut schema);
        definitions_v2.insert(name.clone(), schema);
    }
    definitions_v2.insert(
        PATCH_DEFINITION.into(),
        json!({"description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.", "type": "object"}),
    );
    for r in catalog.iter() {
        if let Some((name, schema)) = custom_definition(r, REF_PREFIX) {
            definitions_v2.insert(name, to_swagger(&schema));
        }
    }
    let mut paths = Map::new();
    for r in catalog.iter() {
        add_paths(&mut paths, r);
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": crate::KUBERNETES_VERSION},
        "paths": paths,
        "definitions": definitions_v2,
        "securityDefinitions": {"BearerToken": {
            "description": "Bearer Token authentication",
            "type": "apiKey",
            "name": "authorization",
            "in": "header",
        }},
        "security": [{"BearerToken": []}],
    })
}

/// A schema of the shared definitions (OpenAPI 3 form) in Swagger 2.0 form.
fn to_swagger(schema: &Value) -> Value {
    let Value::Object(m) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (k, v) in m {
        match k.as_str() {
            "$ref" => {
                let name = v.as_str().unwrap_or_default();
                let name = name.strip_prefix(REF_PREFIX).unwrap_or(name);
                out.insert(k.clone(), json!(format!("{V2_REF_PREFIX}{name}")));
            }
            // A `$ref` with siblings: v3 wraps it, v2 writes it beside them.
            "allOf"
                if v.as_array()
                    .is_some_and(|a| a.len() == 1 && a[0].get("$ref").is_some()) =>
            {
                if let Value::Object(inner) = to_swagger(&v[0]) {
                    out.extend(inner);
                }
            }
            "x-kubernetes-int-or-string" if m.get("type").is_none() => {
                out.insert("type".into(), json!("string"));
                out.insert("format".into(), json!("int-or-string"));
            }
            "properties" => {
                let props: Map<String, Value> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, p)| (name.clone(), to_swagger(p)))
                    .collect();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" | "additionalProperties" => {
                out.insert(k.clone(), to_swagger(v));
            }
            "allOf" | "anyOf" | "oneOf" => {
                let all: Vec<Value> = v.as_array().into_iter().flatten().map(to_swagger).collect();
                out.insert(k.clone(), Value::Array(all));
            }
            "not" => {
                out.insert(k.clone(), to_swagger(v));
            }
            "nullable" => {}
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn param(p: &Param, required: bool) -> Value {
    let mut v = json!({
        "uniqueItems": true,
        "type": "string",
        "description": p.description,
        "name": p.name,
        "in": match p.location { In::Path => "path", In::Query => "query" },
    });
    if required {
        v["required"] = json!(true);
    }
    v
}

fn add_paths(paths: &mut Map<String, Value>, r: &ResourceType) {
    let object_ref = json!({"$ref": format!("{V2_REF_PREFIX}{}", r.schema_name())});
    for path_ops in operations(r) {
        let item = paths
            .entry(path_ops.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("a path item is an object");
        for op in &path_ops.operations {
            let mut params: Vec<Value> = Vec::new();
            let consumes = match op.body {
                Body::None => vec!["*/*"],
                Body::Object => {
                    params.push(json!({"name": "body", "in": "body", "required": true,
                        "schema": object_ref.clone()}));
                    vec!["*/*"]
                }
                Body::Patch => {
                    params.push(json!({"name": "body", "in": "body", "required": true,
                        "schema": {"$ref": format!("{V2_REF_PREFIX}{PATCH_DEFINITION}")}}));
                    patch_types(r)
                }
            };
            params.extend(op.params.iter().map(|p| param(p, false)));
            let mut o = Map::new();
            o.insert("consumes".into(), json!(consumes));
            o.insert("description".into(), json!(op.description));
            o.insert("operationId".into(), json!(op.id));
            o.insert("parameters".into(), json!(params));
            o.insert(
                "produces".into(),
                json!([
                    "application/json",
                    "application/yaml",
                    "application/vnd.kubernetes.protobuf"
                ]),
            );
            o.insert(
                "responses".into(),
                json!({"200": {"description": "OK", "schema": object_ref.clone()},
                    "401": {"description": "Unauthorized"}}),
            );
            o.insert("schemes".into(), json!(["https"]));
            o.insert("tags".into(), json!([tag(r)]));
            o.extend(operation_extensions(r, op));
            item.insert(op.method.into(), Value::Object(o));
        }
        let params: Vec<Value> = path_ops.params.iter().map(|p| param(p, true)).collect();
        item.insert("parameters".into(), json!(params));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_swagger_2() {
        let doc = document(kindling_api::catalog::builtin_catalog());
        assert_eq!(doc["swagger"], "2.0");
        let defs = &doc["definitions"];
        let pod = &defs["io.k8s.api.core.v1.Pod"];
        assert_eq!(
            pod["x-kubernetes-group-version-kind"],
            json!([{"group": "", "version": "v1", "kind": "Pod"}])
        );
        assert_eq!(
            pod["properties"]["spec"]["$ref"],
            "#/definitions/io.k8s.api.core.v1.PodSpec"
        );
        assert!(pod["properties"]["spec"]["description"].is_string());
        let containers = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        let int_or_string = &defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
        assert_eq!(int_or_string["type"], "string");
        assert_eq!(int_or_string["format"], "int-or-string");
        // nothing of OpenAPI 3 is left
        let text = doc.to_string();
        assert!(!text.contains("#/components/schemas/"));
        // (JSONSchemaProps has a property named allOf: look for the v3 wrapping itself.)
        assert!(!text.contains("\"allOf\":[{\"$ref\""));
    }

    #[test]
    fn paths_carry_actions_and_kinds() {
        let doc = document(kindling_api::catalog::builtin_catalog());
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-action"], "patch");
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert_eq!(patch["operationId"], "patchAppsV1NamespacedDeployment");
        assert!(patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query"));
        let bind = &doc["paths"]["/api/v1/namespaces/{namespace}/bindings"];
        assert_eq!(
            bind["post"]["x-kubernetes-group-version-kind"]["kind"],
            "Binding"
        );
        assert!(bind.get("patch").is_none());
    }

    #[test]
    fn etag_is_the_sha512_of_the_json() {
        let s = served(&Arc::new(kindling_api::catalog::builtin_catalog().clone()));
        assert_eq!(s.etag.len(), 128 + 2);
        assert!(s.etag.starts_with('"') && s.etag.ends_with('"'));
        assert_eq!(s.etag[1..129], hex_upper(&Sha512::digest(&s.json)));
    }
}
