//! The generic REST verbs on a resource path.

use super::decode::{
    self, delete_options, list_options, patch_field_validation, read_body, write_context, Call,
};
use super::represent::{self, add_warnings, json_response, Negotiated};
use super::{subresource, watch};
use crate::registry::UpdateKind;
use crate::request::ResourcePath;
use crate::Server;
use axum::body::Body;
use axum::http::{Method, Response, StatusCode};
use kindling_api::patch::{self, PatchType};
use kindling_api::{catalog, fields, ApiError, ResourceType};
use std::sync::Arc;

pub async fn serve(
    server: &Arc<Server>,
    call: Call,
    rp: ResourcePath,
    neg: Negotiated,
) -> Result<Response<Body>, ApiError> {
    let rt =
        catalog::find(&rp.group, &rp.version, &rp.resource).ok_or_else(ApiError::path_not_found)?;
    if rp.namespace.is_some() && !rt.namespaced {
        return Err(ApiError::path_not_found());
    }
    let ns = rp.namespace.clone();
    let ns = ns.as_deref();
    if rt.is_review() {
        return match (&call.method, rp.name.as_deref()) {
            (&Method::POST, None) => super::reviews::create(server, rt, ns, call).await,
            _ => Err(method_not_allowed()),
        };
    }
    let reg = &server.registry;
    let watching = rp.watch_prefix || call.query.flag("watch");
    match (&call.method, rp.name.as_deref(), rp.subresource.as_deref()) {
        (&Method::GET, None, None) if watching => watch::serve(server, rt, ns, call, neg).await,
        (&Method::GET, None, None) => {
            let opts = list_options(rt, &call)?;
            represent::list(&server.registry, rt, ns, &opts, &neg, call.include_object()).await
        }
        (&Method::GET, Some(name), None) => {
            let obj = reg.get(rt, ns, name).await?;
            Ok(json_response(
                StatusCode::OK,
                &represent::object(rt, obj, &neg, call.include_object()),
            ))
        }
        (&Method::POST, None, None) => {
            if rt.namespaced && ns.is_none() {
                return Err(method_not_allowed());
            }
            let ctx = write_context(&call)?;
            let include = call.include_object();
            let manager = decode::field_manager(&call);
            let (mut obj, warnings) =
                decode::object(rt, &call.headers, &call.query, read_body(call.body).await?)?;
            crate::apply::track_create(rt, &mut obj, &manager);
            let created = reg.create(rt, ns, obj, &ctx).await?;
            let mut resp = json_response(
                StatusCode::CREATED,
                &represent::object(rt, created, &neg, include),
            );
            add_warnings(&mut resp, &warnings);
            Ok(resp)
        }
        (&Method::PUT, Some(name), None) => {
            let ctx = write_context(&call)?;
            let manager = decode::field_manager(&call);
            let (obj, warnings) =
                decode::object(rt, &call.headers, &call.query, read_body(call.body).await?)?;
            let updated = reg
                .update_with(rt, ns, name, UpdateKind::Main, &ctx, |cur| {
                    Ok(cur.map(|cur| {
                        let mut new = obj.clone();
                        crate::apply::track_update(
                            rt,
                            UpdateKind::Main,
                            None,
                            Some(cur),
                            &mut new,
                            &manager,
                        );
                        new
                    }))
                })
                .await?;
            let mut resp = json_response(StatusCode::OK, &updated);
            add_warnings(&mut resp, &warnings);
            Ok(resp)
        }
        (&Method::PATCH, Some(name), None) => {
            patch(server, rt, ns, name, UpdateKind::Main, call).await
        }
        (&Method::DELETE, Some(name), None) => {
            let opts = delete_options(&call.query, read_body(call.body).await?)?;
            let deleted = reg.delete(rt, ns, name, &opts).await?;
            Ok(json_response(StatusCode::OK, &deleted))
        }
        (&Method::DELETE, None, None) => {
            let list = list_options(rt, &call)?;
            let opts = delete_options(&call.query, read_body(call.body).await?)?;
            let deleted = reg.delete_collection(rt, ns, &list, &opts).await?;
            Ok(json_response(StatusCode::OK, &deleted))
        }
        (_, Some(name), Some(sub)) => {
            subresource::serve(server, rt, ns, name, sub, call, neg).await
        }
        _ => Err(method_not_allowed()),
    }
}

pub fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed("the server does not allow this method on the requested resource")
}

/// PATCH on a resource or its status: apply the patch to the current object and update.
pub async fn patch(
    server: &Arc<Server>,
    rt: &'static ResourceType,
    ns: Option<&str>,
    name: &str,
    kind: UpdateKind,
    call: Call,
) -> Result<Response<Body>, ApiError> {
    let patch_type = decode::patch_type(&call.headers)?;
    decode::patch_options(&call.query, patch_type == PatchType::Apply)?;
    let ctx = write_context(&call)?;
    let mode = call.query.field_validation()?;
    let manager = decode::field_manager(&call);
    let force = call.query.flag("force");
    let subresource = crate::apply::subresource_of(kind);
    let body = read_body(call.body).await?;
    let type_name = (rt.schema_name)();
    let warnings = std::sync::Mutex::new(Vec::new());
    let existed = std::sync::atomic::AtomicBool::new(true);
    let result = server
        .registry
        .update_with(rt, ns, name, kind, &ctx, |current| {
            let patched = match (patch_type, current) {
                (PatchType::Apply, cur) => {
                    existed.store(cur.is_some(), std::sync::atomic::Ordering::Relaxed);
                    crate::apply::server_side_apply(rt, kind, cur, &body, &manager, force)?
                }
                (_, None) => return Ok(None),
                (_, Some(cur)) => {
                    let mut patched = match patch_type {
                        PatchType::Json => patch::apply_json_patch(cur, &body)?,
                        PatchType::Merge => patch::apply_merge_patch(cur, &body)?,
                        _ => patch::apply_strategic_merge_patch(&type_name, cur, &body)?,
                    };
                    crate::apply::track_update(
                        rt,
                        kind,
                        subresource,
                        Some(cur),
                        &mut patched,
                        &manager,
                    );
                    patched
                }
            };
            let mut problems = match patch_type {
                PatchType::Json => patch::json_patch_strict_errors(&body),
                PatchType::Merge | PatchType::StrategicMerge => fields::duplicate_fields(&body),
                PatchType::Apply => Vec::new(),
            };
            problems.extend(fields::unknown_fields(&type_name, &patched));
            *warnings.lock().unwrap() = patch_field_validation(rt, name, mode, problems)?;
            Ok(Some(patched))
        })
        .await?;
    let status = if existed.load(std::sync::atomic::Ordering::Relaxed) {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut resp = json_response(status, &result);
    add_warnings(&mut resp, &warnings.into_inner().unwrap());
    Ok(resp)
}
