//! The generic REST verbs on a resource: one handler per verb, each a thin step from the decoded
//! request to the registry and back to its representation.

use super::decode::{
    self, delete_options, list_options, list_request_options, patch_field_validation, read_body,
    write_context, Call,
};
use super::represent::{self, add_warnings, json_response, Negotiated, Representation};
use crate::registry::UpdateKind;
use crate::Server;
use axum::body::Body;
use axum::http::{Response, StatusCode};
use kindling_api::patch::{self, PatchType};
use kindling_api::{fields, ApiError, ResourceType};
use std::sync::{Arc, PoisonError};

/// `GET` of a collection (a LIST).
pub async fn list(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    call: Call<'_>,
    neg: Negotiated,
) -> Result<Response<Body>, ApiError> {
    let opts = list_request_options(rt, &call)?;
    represent::list(&server.registry, rt, ns, &opts, &neg, call.include_object()).await
}

pub async fn get(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    call: Call<'_>,
    neg: Negotiated,
) -> Result<Response<Body>, ApiError> {
    if neg.representation == Representation::Object && rt.serves_stored_form() {
        // The object as the cache holds it is what the client gets: no decode, no encode.
        let object = server.registry.get_cached(rt, ns, name).await?;
        if object.served {
            return Ok(represent::cached_object(StatusCode::OK, &object));
        }
    }
    let obj = server.registry.get(rt, ns, name).await?;
    Ok(json_response(
        StatusCode::OK,
        &represent::object(rt, obj, &neg, call.include_object()),
    ))
}

/// `POST` to a collection.
pub async fn create(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    call: Call<'_>,
    neg: Negotiated,
) -> Result<Response<Body>, ApiError> {
    let ctx = write_context(&call)?;
    let include = call.include_object();
    let manager = decode::field_manager(&call);
    let (mut obj, warnings) =
        decode::object(rt, &call.headers, &call.query, read_body(call.body).await?)?;
    crate::apply::track_create(rt, &mut obj, &manager);
    let (created, served) = server.registry.create_served(rt, ns, obj, &ctx).await?;
    let mut resp = match served.filter(|_| neg.representation == Representation::Object) {
        // The bytes the store got, with the resourceVersion: no second encoding.
        Some(json) => represent::json_bytes_response(StatusCode::CREATED, json),
        None => json_response(
            StatusCode::CREATED,
            &represent::object(rt, created, &neg, include),
        ),
    };
    add_warnings(&mut resp, &warnings);
    Ok(resp)
}

/// `PUT` of an object.
pub async fn update(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let ctx = write_context(&call)?;
    let neg = Negotiated::from_headers(&call.headers);
    let include = call.include_object();
    let manager = decode::field_manager(&call);
    let (obj, warnings) =
        decode::object(rt, &call.headers, &call.query, read_body(call.body).await?)?;
    let updated = server
        .registry
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
    let mut resp = json_response(
        StatusCode::OK,
        &represent::object(rt, updated, &neg, include),
    );
    add_warnings(&mut resp, &warnings);
    Ok(resp)
}

pub async fn delete(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let neg = Negotiated::from_headers(&call.headers);
    let include = call.include_object();
    let opts = delete_options(&call.query, read_body(call.body).await?)?;
    crate::admission::validate_delete(&server.registry, &call.identity.user_info(), rt, ns, name)
        .await?;
    let deleted = server.registry.delete(rt, ns, name, &opts).await?;
    Ok(json_response(
        StatusCode::OK,
        &represent::object(rt, deleted, &neg, include),
    ))
}

/// `DELETE` of a collection.
pub async fn delete_collection(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let list = list_options(rt, &call)?;
    let opts = delete_options(&call.query, read_body(call.body).await?)?;
    let deleted = server
        .registry
        .delete_collection(rt, ns, &list, &opts)
        .await?;
    Ok(json_response(StatusCode::OK, &deleted))
}

/// PATCH on a resource or its status: apply the patch to the current object and update.
pub async fn patch(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    kind: UpdateKind,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let patch_type = decode::patch_type(rt, &call.headers)?;
    decode::patch_options(&call.query, patch_type == PatchType::Apply)?;
    let neg = Negotiated::from_headers(&call.headers);
    let include = call.include_object();
    let ctx = write_context(&call)?;
    let mode = call.query.field_validation()?;
    let manager = decode::field_manager(&call);
    let force = call.query.flag("force");
    let subresource = crate::apply::subresource_of(kind);
    let body = read_body(call.body).await?;
    let type_name = rt.schema_name();
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
            *warnings.lock().unwrap_or_else(PoisonError::into_inner) =
                patch_field_validation(rt, name, mode, problems)?;
            Ok(Some(patched))
        })
        .await?;
    let status = if existed.load(std::sync::atomic::Ordering::Relaxed) {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut resp = json_response(status, &represent::object(rt, result, &neg, include));
    add_warnings(
        &mut resp,
        &warnings
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner),
    );
    Ok(resp)
}
