//! API discovery documents, legacy (`/api`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>`) and
//! aggregated (apidiscovery.k8s.io/v2), built from the catalog. Data only: `http` decides which
//! document a request gets and how it is sent.

use kindling_api::catalog::{Catalog, ResourceType};
use kindling_api::ApiError;
use serde_json::{json, Value};

/// `GET /api`: the core group's versions, reached at `server_address`.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

/// `GET /api` in the aggregated form: the core group's `APIGroupDiscoveryList`.
pub fn aggregated_core(catalog: &Catalog) -> Value {
    aggregated(json!([group_discovery(catalog, "")]))
}

/// `GET /apis`.
pub fn groups(catalog: &Catalog) -> Value {
    let groups: Vec<Value> = named_groups(catalog)
        .iter()
        .map(|g| api_group(catalog, g))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis` in the aggregated form: every named group's `APIGroupDiscovery`.
pub fn aggregated_groups(catalog: &Catalog) -> Value {
    aggregated(Value::Array(
        named_groups(catalog)
            .iter()
            .map(|g| group_discovery(catalog, g))
            .collect(),
    ))
}

/// `GET /apis/<group>`.
pub fn group(catalog: &Catalog, name: &str) -> Result<Value, ApiError> {
    if !named_groups(catalog).contains(&name) {
        return Err(ApiError::path_not_found());
    }
    let mut g = api_group(catalog, name);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Ok(g)
}

/// `GET /api/v1` or `/apis/<group>/<version>`.
pub fn resources(catalog: &Catalog, group: &str, version: &str) -> Result<Value, ApiError> {
    let in_gv: Vec<&ResourceType> = catalog
        .iter()
        .map(AsRef::as_ref)
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if in_gv.is_empty() {
        return Err(ApiError::path_not_found());
    }
    let mut list = Vec::new();
    for r in in_gv {
        // Field order and omitted empties as upstream's APIResource.
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        if let Some(hash) = storage_version_hash(r) {
            entry["storageVersionHash"] = json!(hash);
        }
        list.push(entry);
        for &sub in &r.subresources {
            let (group, version, kind) = sub.kind(r);
            let mut entry = json!({"name": format!("{}/{}", r.plural, sub.path()), "singularName": "", "namespaced": r.namespaced, "kind": kind, "verbs": sub.verbs()});
            if (group, version) != (r.group.as_str(), r.version.as_str()) {
                entry["group"] = json!(group);
                entry["version"] = json!(version);
            }
            list.push(entry);
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Ok(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list}),
    )
}

fn named_groups(catalog: &Catalog) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for (g, _) in catalog.group_versions() {
        if !g.is_empty() && !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

fn versions_of<'a>(catalog: &'a Catalog, group: &str) -> Vec<&'a str> {
    catalog
        .group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(_, v)| v)
        .collect()
}

fn api_group(catalog: &Catalog, name: &str) -> Value {
    let versions: Vec<Value> = versions_of(catalog, name)
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": versions, "preferredVersion": versions[0]})
}

/// One `APIGroupDiscovery` of the aggregated document.
fn group_discovery(catalog: &Catalog, group: &str) -> Value {
    let versions: Vec<Value> = versions_of(catalog, group)
        .iter()
        .map(|v| {
            let resources: Vec<Value> = catalog
                .iter()
                .filter(|r| r.group == group && r.version == *v)
                .map(|r| {
                    let subs: Vec<Value> = r
                        .subresources
                        .iter()
                        .map(|s| {
                            let (group, version, kind) = s.kind(r);
                            json!({"subresource": s.path(), "responseKind": {"group": group, "version": version, "kind": kind}, "verbs": s.verbs()})
                        })
                        .collect();
                    json!({
                        "resource": r.plural,
                        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": r.singular,
                        "verbs": r.verbs,
                        "shortNames": r.short_names,
                        "categories": r.categories,
                        "subresources": subs,
                    })
                })
                .collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions})
}

/// Upstream's `storageVersionHash` of a stored resource: base64 of the first 8 bytes of the
/// SHA-256 of its stored form's `group/version/kind`. Clients compare it to notice that the
/// storage version changed (storage migration); resources not kept in the store have none.
fn storage_version_hash(r: &ResourceType) -> Option<String> {
    use base64::Engine;
    use sha2::Digest;
    if !r.is_stored() {
        return None;
    }
    let (group, version, kind) = r.storage_gvk();
    let digest = sha2::Sha256::digest(format!("{group}/{version}/{kind}"));
    Some(base64::engine::general_purpose::STANDARD.encode(&digest[..8]))
}

fn aggregated(items: Value) -> Value {
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}
