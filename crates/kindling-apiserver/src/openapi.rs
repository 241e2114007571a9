//! `/openapi/v3`: an index of group-versions and one OpenAPI 3.0 document per group-version,
//! generated from the k8s-openapi types (via `kindling_api::schema`). kubectl reads them to find
//! out that the server validates fields itself (the `fieldValidation` parameter on PATCH), for
//! `explain`, and for client-side apply's patch metadata.

use kindling_api::catalog::{group_versions, ResourceType, Serving, CATALOG};
use kindling_api::schema::{definitions, Definitions, REF_PREFIX};
use kindling_api::ApiError;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// Documents by path (`api/v1`, `apis/apps/v1`), with their hashes.
fn documents() -> &'static BTreeMap<String, (Value, String)> {
    static DOCS: OnceLock<BTreeMap<String, (Value, String)>> = OnceLock::new();
    DOCS.get_or_init(|| {
        group_versions()
            .into_iter()
            .map(|(g, v)| {
                let path = if g.is_empty() {
                    format!("api/{v}")
                } else {
                    format!("apis/{g}/{v}")
                };
                let doc = document(g, v);
                let hash = content_hash(&doc);
                (path, (doc, hash))
            })
            .collect()
    })
}

pub fn serve(path: &str) -> Result<Value, ApiError> {
    let rest = path.trim_start_matches("/openapi/v3").trim_matches('/');
    if rest.is_empty() {
        let paths: Map<String, Value> = documents()
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
    documents()
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

fn document(group: &str, version: &str) -> Value {
    let defs = definitions();
    let resources: Vec<&ResourceType> = CATALOG
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    let mut paths = Map::new();
    for r in &resources {
        add_paths(&mut paths, r);
    }
    let roots: Vec<String> = resources.iter().map(|r| (r.schema_name)()).collect();
    let mut schemas = Map::new();
    for name in reachable(defs, &roots) {
        let mut schema = defs.get(&name).cloned().unwrap_or_else(|| json!({}));
        if let Some(r) = CATALOG.iter().find(|r| (r.schema_name)() == name) {
            schema["x-kubernetes-group-version-kind"] =
                json!([{"group": r.group, "version": r.version, "kind": r.kind}]);
        }
        add_patch_metadata(&name, &mut schema);
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

/// `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` on the fields that have them,
/// so that kubectl's client-side apply computes the same patches as against upstream.
fn add_patch_metadata(name: &str, schema: &mut Value) {
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, prop) in props.iter_mut() {
        if let Some(kindling_api::patch::PatchMeta {
            strategy,
            merge_key: key,
        }) = kindling_api::patch::patch_meta(name, field)
        {
            let target = prop.as_object_mut();
            if let Some(t) = target {
                t.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
                if !key.is_empty() {
                    t.insert("x-kubernetes-patch-merge-key".into(), json!(key));
                }
            }
        }
    }
}

fn param(name: &str, location: &str, required: bool) -> Value {
    json!({"name": name, "in": location, "required": required, "schema": {"type": "string", "uniqueItems": true}})
}

fn add_paths(paths: &mut Map<String, Value>, r: &ResourceType) {
    let prefix = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    let collection = if r.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", r.plural)
    } else {
        format!("{prefix}/{}", r.plural)
    };
    let item = format!("{collection}/{{name}}");
    let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
    let body_ref = json!({"$ref": format!("{REF_PREFIX}{}", (r.schema_name)())});
    let write_params = || {
        vec![
            param("dryRun", "query", false),
            param("fieldManager", "query", false),
            param("fieldValidation", "query", false),
        ]
    };
    let op = |action: &str, id: &str, params: Vec<Value>| {
        json!({
            "operationId": id,
            "parameters": params,
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": body_ref.clone()}}}},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk.clone(),
        })
    };
    let title = format!("{}{}", r.kind, if r.namespaced { "Namespaced" } else { "" });
    let mut scope_params = vec![];
    if r.namespaced {
        scope_params.push(param("namespace", "path", true));
    }
    let mut item_params = scope_params.clone();
    item_params.push(param("name", "path", true));
    let mut patch_params = write_params();
    patch_params.push(param("force", "query", false));
    if matches!(r.serving, Serving::Computed(..)) {
        paths.insert(
            collection,
            json!({"get": op("list", &format!("list{title}"), vec![]), "parameters": scope_params}),
        );
        paths.insert(
            item,
            json!({"get": op("get", &format!("read{title}"), vec![]), "parameters": item_params}),
        );
        return;
    }
    if !r.is_stored() {
        paths.insert(
            collection,
            json!({"post": op("post", &format!("create{title}"), write_params()), "parameters": scope_params}),
        );
        return;
    }
    paths.insert(
        collection,
        json!({
            "get": op("list", &format!("list{title}"), vec![]),
            "post": op("post", &format!("create{title}"), write_params()),
            "delete": op("deletecollection", &format!("deleteCollection{title}"), vec![]),
            "parameters": scope_params,
        }),
    );
    let mut patch_op = op("patch", &format!("patch{title}"), patch_params);
    patch_op["requestBody"] = json!({"content": {
        "application/apply-patch+yaml": {"schema": {"type": "object"}},
        "application/json-patch+json": {"schema": {"type": "object"}},
        "application/merge-patch+json": {"schema": {"type": "object"}},
        "application/strategic-merge-patch+json": {"schema": {"type": "object"}},
    }});
    paths.insert(
        item,
        json!({
            "get": op("get", &format!("read{title}"), vec![]),
            "put": op("put", &format!("replace{title}"), write_params()),
            "patch": patch_op,
            "delete": op("delete", &format!("delete{title}"), vec![param("dryRun", "query", false)]),
            "parameters": item_params,
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lists_every_group_version() {
        let index = serve("/openapi/v3").unwrap();
        assert!(index["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .starts_with("/openapi/v3/api/v1?hash="));
        assert!(index["paths"].get("apis/apps/v1").is_some());
    }

    #[test]
    fn documents_mark_kinds_and_field_validation() {
        let doc = serve("/openapi/v3/apis/apps/v1").unwrap();
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
