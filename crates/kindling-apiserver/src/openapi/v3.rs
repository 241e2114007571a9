//! `/openapi/v3`: an index of group-versions and one OpenAPI 3.0 document per group-version, from
//! the shared definitions and operations (see the parent module). kubectl reads them to find out
//! that the server validates fields itself (the `fieldValidation` parameter on PATCH), for
//! `explain`, and for client-side apply's patch metadata.

use super::{
    add_patch_metadata, custom_definition, group_version_kinds, operation_extensions, operations,
    patch_types, tag, Body, In, Param,
};
use kindling_api::catalog::{Catalog, ResourceType};
use kindling_api::schema::{definitions, Definitions, REF_PREFIX};
use kindling_api::ApiError;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

type Documents = BTreeMap<String, (Value, String)>;

/// Documents by path (`api/v1`, `apis/apps/v1`), with their hashes, for the catalog.
fn documents(catalog: &Arc<Catalog>) -> Arc<Documents> {
    static DOCS: super::PerCatalog<Documents> = super::PerCatalog::new();
    DOCS.get(catalog, |catalog| {
        catalog
            .group_versions()
            .into_iter()
            .map(|(g, v)| {
                let path = if g.is_empty() {
                    format!("api/{v}")
                } else {
                    format!("apis/{g}/{v}")
                };
                let doc = document(catalog, g, v);
                let hash = content_hash(&doc);
                (path, (doc, hash))
            })
            .collect()
    })
}

pub fn serve(catalog: &Arc<Catalog>, path: &str) -> Result<Value, ApiError> {
    let documents = documents(catalog);
    let rest = path.trim_start_matches("/openapi/v3").trim_matches('/');
    if rest.is_empty() {
        let paths: Map<String, Value> = documents
            .iter()
            .map(|(p, (_, hash))| {
                (
                    p.clone(),
                    json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={hash}")}),
                )
            })
            .collect();
        return Ok(json!({"paths": paths}));
    }
    documents
        .get(rest)
        .map(|(doc, _)| doc.clone())
        .ok_or_else(ApiError::path_not_found)
}

fn content_hash(doc: &Value) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    doc.to_string().hash(&mut h);
    format!("{:016X}", h.finish())
}

fn document(catalog: &Catalog, group: &str, version: &str) -> Value {
    let defs = definitions();
    let resources: Vec<&ResourceType> = catalog
        .iter()
        .map(AsRef::as_ref)
        .filter(|r| r.group == group && r.version == version)
        .collect();
    let mut paths = Map::new();
    for r in &resources {
        add_paths(&mut paths, r);
    }
    let customs: Vec<(String, Value)> = resources
        .iter()
        .filter_map(|r| custom_definition(r, REF_PREFIX))
        .collect();
    let mut roots: Vec<String> = resources.iter().map(|r| r.schema_name()).collect();
    if !customs.is_empty() {
        roots.push(super::OBJECT_META.to_string());
    }
    let mut schemas = Map::new();
    for name in reachable(defs, &roots) {
        let mut schema = defs.get(&name).cloned().unwrap_or_else(|| json!({}));
        if let Some(gvks) = group_version_kinds(catalog, &name) {
            schema["x-kubernetes-group-version-kind"] = Value::Array(gvks);
        }
        add_patch_metadata(&name, &mut schema);
        schemas.insert(name, schema);
    }
    for (name, schema) in customs {
        schemas.insert(name, schema);
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// Every definition reachable through `$ref`s from the roots.
fn reachable(defs: &Definitions, roots: &[String]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.to_vec();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(s) = defs.get(&name) {
            collect_refs(s, &mut todo);
        }
    }
    seen
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(REF_PREFIX))
            {
                out.push(r.to_string());
            }
            m.values().for_each(|c| collect_refs(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| collect_refs(c, out)),
        _ => {}
    }
}

fn param(p: &Param, required: bool) -> Value {
    let location = match p.location {
        In::Path => "path",
        In::Query => "query",
    };
    json!({"name": p.name, "in": location, "description": p.description, "required": required,
        "schema": {"type": "string", "uniqueItems": true}})
}

fn add_paths(paths: &mut Map<String, Value>, r: &ResourceType) {
    let body_ref = json!({"$ref": format!("{REF_PREFIX}{}", r.schema_name())});
    for path_ops in operations(r) {
        let mut item = Map::new();
        for op in &path_ops.operations {
            let mut o = Map::new();
            o.insert("description".into(), json!(op.description));
            o.insert("operationId".into(), json!(op.id));
            o.insert("tags".into(), json!([tag(r)]));
            let params: Vec<Value> = op.params.iter().map(|p| param(p, false)).collect();
            o.insert("parameters".into(), json!(params));
            match op.body {
                Body::None => {}
                Body::Object => {
                    o.insert(
                        "requestBody".into(),
                        json!({"content": {"*/*": {"schema": body_ref.clone()}}, "required": true}),
                    );
                }
                Body::Patch => {
                    let content: Map<String, Value> = patch_types(r)
                        .iter()
                        .map(|t| ((*t).to_string(), json!({"schema": {"type": "object"}})))
                        .collect();
                    o.insert(
                        "requestBody".into(),
                        json!({"content": content, "required": true}),
                    );
                }
            }
            o.insert(
                "responses".into(),
                json!({"200": {"description": "OK", "content": {"application/json": {"schema": body_ref.clone()}}},
                    "401": {"description": "Unauthorized"}}),
            );
            o.extend(operation_extensions(r, op));
            item.insert(op.method.into(), Value::Object(o));
        }
        let params: Vec<Value> = path_ops.params.iter().map(|p| param(p, true)).collect();
        item.insert("parameters".into(), json!(params));
        paths.insert(path_ops.path, Value::Object(item));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> Arc<Catalog> {
        Arc::new(kindling_api::catalog::builtin_catalog().clone())
    }

    #[test]
    fn index_lists_every_group_version() {
        let index = serve(&builtin(), "/openapi/v3").unwrap();
        assert!(index["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .starts_with("/openapi/v3/api/v1?hash="));
        assert!(index["paths"].get("apis/apps/v1").is_some());
    }

    #[test]
    fn documents_mark_kinds_and_field_validation() {
        let doc = serve(&builtin(), "/openapi/v3/apis/apps/v1").unwrap();
        let dep = &doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            dep["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment"
        );
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert!(patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation"));
        assert!(doc["components"]["schemas"]
            .get("io.k8s.api.core.v1.PodSpec")
            .is_some());
    }
}
