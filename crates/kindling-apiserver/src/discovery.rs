//! API discovery, legacy (`/api`, `/apis`, `/apis/<g>/<v>`) and aggregated (v2), from the catalog.

use crate::http::{json_response, Negotiated};
use crate::Server;
use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use kindling_api::catalog::{group_versions, ResourceType, CATALOG};
use kindling_api::ApiError;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::http::Representation;

const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// `GET /api`.
pub fn core_versions(server: &Arc<Server>, neg: &Negotiated) -> Response<Body> {
    if neg.representation == Representation::AggregatedDiscovery {
        return aggregated(json!([group_discovery("")]));
    }
    json_response(
        StatusCode::OK,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server.advertise_address()}],
        }),
    )
}

/// `GET /apis`.
pub fn groups(neg: &Negotiated) -> Response<Body> {
    let names = named_groups();
    if neg.representation == Representation::AggregatedDiscovery {
        return aggregated(Value::Array(
            names.iter().map(|g| group_discovery(g)).collect(),
        ));
    }
    let groups: Vec<Value> = names.iter().map(|g| api_group(g)).collect();
    json_response(
        StatusCode::OK,
        &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
    )
}

/// `GET /apis/<group>`.
pub fn group(name: &str) -> Result<Value, ApiError> {
    if !named_groups().contains(&name) {
        return Err(ApiError::path_not_found());
    }
    let mut g = api_group(name);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Ok(g)
}

/// `GET /api/v1` or `/apis/<group>/<version>`.
pub fn resources(group: &str, version: &str) -> Result<Value, ApiError> {
    let in_gv: Vec<&ResourceType> = CATALOG
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if in_gv.is_empty() {
        return Err(ApiError::path_not_found());
    }
    let mut list = Vec::new();
    for r in in_gv {
        list.push(json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.verbs,
            "shortNames": r.short_names,
            "categories": r.categories,
            "storageVersionHash": "",
        }));
        for sub in r.subresources {
            let (kind, verbs): (&str, &[&str]) = match sub.path() {
                "scale" => ("Scale", &["get", "patch", "update"]),
                "binding" => ("Binding", &["create"]),
                "log" => ("Pod", &["get"]),
                "exec" => ("PodExecOptions", &["create", "get"]),
                "attach" => ("PodAttachOptions", &["create", "get"]),
                "portforward" => ("PodPortForwardOptions", &["create", "get"]),
                "finalize" => (r.kind, &["update"]),
                _ => (r.kind, &["get", "patch", "update"]),
            };
            let mut entry = json!({"name": format!("{}/{}", r.plural, sub.path()), "singularName": "", "namespaced": r.namespaced, "kind": kind, "verbs": verbs});
            if sub.path() == "scale" {
                entry["group"] = json!("autoscaling");
                entry["version"] = json!("v1");
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

fn named_groups() -> Vec<&'static str> {
    let mut out: Vec<&str> = Vec::new();
    for (g, _) in group_versions() {
        if !g.is_empty() && !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

fn versions_of(group: &str) -> Vec<&'static str> {
    group_versions()
        .into_iter()
        .filter(|(g, _)| *g == group)
        .map(|(_, v)| v)
        .collect()
}

fn api_group(name: &str) -> Value {
    let versions: Vec<Value> = versions_of(name)
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"name": name, "versions": versions, "preferredVersion": versions[0]})
}

/// One `APIGroupDiscovery` of the aggregated document.
fn group_discovery(group: &str) -> Value {
    let versions: Vec<Value> = versions_of(group)
        .iter()
        .map(|v| {
            let resources: Vec<Value> = CATALOG
                .iter()
                .filter(|r| r.group == group && r.version == *v)
                .map(|r| {
                    let subs: Vec<Value> = r
                        .subresources
                        .iter()
                        .map(|s| {
                            let kind = if s.path() == "scale" { json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}) } else { json!({"group": r.group, "version": r.version, "kind": r.kind}) };
                            json!({"subresource": s.path(), "responseKind": kind, "verbs": ["get", "patch", "update"]})
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

fn aggregated(items: Value) -> Response<Body> {
    let doc = json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items});
    let mut resp = json_response(StatusCode::OK, &doc);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(AGGREGATED_CONTENT_TYPE),
    );
    resp
}
