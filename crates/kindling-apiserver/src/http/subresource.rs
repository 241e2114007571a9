//! Subresources served through the registry: status, scale, binding (and the `bindings`
//! resource), finalize, approval, resize, ephemeralcontainers (their PATCH is
//! [`super::resource::patch`]);
//! token, log and the streams (exec, attach, portforward) have modules of their own.

use super::decode::{self, read_body, write_context, Call};
use super::represent::json_response;
use crate::registry::{meta_str, UpdateKind};
use crate::Server;
use axum::body::Body;
use axum::http::{Method, Response, StatusCode};
use kindling_api::patch::{self, PatchType};
use kindling_api::{ApiError, ResourceType};
use serde_json::{json, Value};
use std::sync::Arc;

/// `GET` of `status`, `resize`, `ephemeralcontainers` or `approval`: the whole object.
pub async fn get(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &server.registry.get(rt, ns, name).await?,
    ))
}

/// `GET` of `scale`.
pub async fn get_scale(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &scale_of(rt, &server.registry.get(rt, ns, name).await?),
    ))
}

/// `PUT` of `status`, `approval`, `resize` or `ephemeralcontainers`: the body replaces what
/// the update kind lets it.
pub async fn put(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    kind: UpdateKind,
    subresource: &'static str,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let ctx = write_context(&call)?;
    let manager = decode::field_manager(&call);
    let (obj, _) = decode::object(rt, &call.headers, &call.query, read_body(call.body).await?)?;
    let updated = server
        .registry
        .update_with(rt, ns, name, kind, &ctx, |cur| {
            Ok(cur.map(|cur| {
                let mut new = obj.clone();
                crate::apply::track_update(
                    rt,
                    kind,
                    Some(subresource),
                    Some(cur),
                    &mut new,
                    &manager,
                );
                new
            }))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &updated))
}

/// The autoscaling/v1 Scale view of an object, from its entry's scale paths.
fn scale_of(rt: &ResourceType, obj: &Value) -> Value {
    rt.scale
        .as_ref()
        .map(|paths| paths.scale_of(obj))
        .unwrap_or_default()
}

/// PUT or PATCH of `/scale`: the new Scale's `spec.replicas` becomes the object's.
pub async fn scale(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let ctx = write_context(&call)?;
    let manager = decode::field_manager(&call);
    let method = call.method.clone();
    let content_type = call
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let body = read_body(call.body).await?;
    let updated = server
        .registry
        .update_with(rt, ns, name, UpdateKind::Main, &ctx, |cur| {
            let Some(cur) = cur else { return Ok(None) };
            let current_scale = scale_of(rt, cur);
            let new_scale = if method == Method::PUT {
                decode::any_body(&body)?
            } else {
                match PatchType::from_content_type(&content_type) {
                    Some(PatchType::Json) => patch::apply_json_patch(&current_scale, &body)?,
                    Some(PatchType::Merge | PatchType::StrategicMerge) => {
                        patch::apply_merge_patch(&current_scale, &body)?
                    }
                    _ => return Err(ApiError::unsupported_media_type(&content_type)),
                }
            };
            let replicas = new_scale["spec"]["replicas"].as_i64().unwrap_or(0);
            if replicas < 0 {
                return Err(ApiError::invalid(
                    "autoscaling",
                    "Scale",
                    name,
                    vec![kindling_api::Cause::invalid(
                        "spec.replicas",
                        replicas,
                        "must be greater than or equal to 0",
                    )],
                ));
            }
            let mut next = cur.clone();
            if let Some(paths) = &rt.scale {
                paths.set_replicas(&mut next, replicas);
            }
            if let Some(rv) = meta_str(&new_scale, "resourceVersion") {
                next["metadata"]["resourceVersion"] = json!(rv);
            }
            crate::apply::track_scale(rt, cur, &mut next, &manager);
            Ok(Some(next))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &scale_of(rt, &updated)))
}

/// `pods/<name>/binding`: assigns the pod to a node, once.
pub async fn bind(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let body = decode::any_body(&read_body(call.body).await?)?;
    bind_pod(server, rt, ns, name, &body).await
}

/// `POST …/namespaces/<ns>/bindings`: the pod the Binding names (`metadata.name`) is bound, as
/// through `pods/<name>/binding`.
pub async fn bind_named(
    server: &Arc<Server>,
    pods: &Arc<ResourceType>,
    ns: &str,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let body = decode::any_body(&read_body(call.body).await?)?;
    let name = meta_str(&body, "name").unwrap_or_default().to_string();
    if name.is_empty() {
        return Err(ApiError::invalid(
            "",
            "Binding",
            "",
            vec![kindling_api::Cause::required("metadata.name")],
        ));
    }
    bind_pod(server, pods, Some(ns), &name, &body).await
}

async fn bind_pod(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    body: &Value,
) -> Result<Response<Body>, ApiError> {
    let node = body["target"]["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::invalid(
                "",
                "Binding",
                name,
                vec![kindling_api::Cause::required("target.name")],
            )
        })?;
    let ctx = write_context_plain();
    server
        .registry
        .update_with(rt, ns, name, UpdateKind::Everything, &ctx, |cur| {
            let Some(cur) = cur else { return Ok(None) };
            if let Some(existing) = cur["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                return Err(ApiError::conflict(
                    "",
                    "pods",
                    name,
                    &format!("pod {name} is already assigned to node \"{existing}\""),
                ));
            }
            if cur["metadata"].get("deletionTimestamp").is_some() {
                return Err(ApiError::conflict(
                    "",
                    "pods",
                    name,
                    &format!("pod {name} is being deleted, cannot be assigned to a host"),
                ));
            }
            let mut next = cur.clone();
            next["spec"]["nodeName"] = json!(node);
            let conditions = next["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut conditions: Vec<Value> = conditions
                .into_iter()
                .filter(|c| c["type"] != "PodScheduled")
                .collect();
            conditions.push(
                json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null,
                "lastTransitionTime": crate::registry::timestamp(jiff::Timestamp::now())}),
            );
            next["status"]["conditions"] = Value::Array(conditions);
            next["metadata"]
                .as_object_mut()
                .map(|m| m.remove("resourceVersion"));
            Ok(Some(next))
        })
        .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &kindling_api::status::success_status(None),
    ))
}

fn write_context_plain() -> crate::registry::WriteContext {
    crate::registry::WriteContext::default()
}

/// `namespaces/<name>/finalize`: only `spec.finalizers` changes.
pub async fn finalize(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    name: &str,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let body = decode::any_body(&read_body(call.body).await?)?;
    let finalizers = body["spec"]["finalizers"].clone();
    let ctx = write_context_plain();
    let updated = server
        .registry
        .update_with(rt, None, name, UpdateKind::Everything, &ctx, |cur| {
            let Some(cur) = cur else { return Ok(None) };
            let mut next = cur.clone();
            next["spec"]["finalizers"] = if finalizers.is_null() {
                json!([])
            } else {
                finalizers.clone()
            };
            next["metadata"]
                .as_object_mut()
                .map(|m| m.remove("resourceVersion"));
            Ok(Some(next))
        })
        .await?;
    Ok(json_response(StatusCode::OK, &updated))
}
