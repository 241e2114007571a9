//! The generic REST verbs on a resource path.

use super::represent::{self, add_warnings, json_response, Negotiated};
use super::{read_body, subresource, watch, Call};
use crate::options::FieldValidation;
use crate::registry::{DeleteOptions, ListOptions, UpdateKind, WatchOptions, WriteContext};
use crate::request::ResourcePath;
use crate::Server;
use axum::body::Body;
use axum::http::{header, Method, Response, StatusCode};
use kindling_api::patch::{self, PatchType};
use kindling_api::proto;
use kindling_api::selector;
use kindling_api::table::IncludeObject;
use kindling_api::{catalog, fields, ApiError, ResourceType};
use serde_json::Value;
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
            let manager = crate::apply::write_manager(&call.query, &call.headers);
            let (mut obj, warnings) =
                decode_body(rt, &call.headers, &call.query, read_body(call.body).await?)?;
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
            let manager = crate::apply::write_manager(&call.query, &call.headers);
            let (obj, warnings) =
                decode_body(rt, &call.headers, &call.query, read_body(call.body).await?)?;
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

impl Call {
    /// `includeObject` of a Table request (upstream's default is the object's metadata).
    pub fn include_object(&self) -> IncludeObject {
        include_object(&self.query)
    }
}

fn include_object(q: &crate::options::Query) -> IncludeObject {
    IncludeObject::parse(q.get("includeObject")).unwrap_or(IncludeObject::Metadata)
}

pub fn list_options(rt: &ResourceType, call: &Call) -> Result<ListOptions, ApiError> {
    let q = &call.query;
    Ok(ListOptions {
        label_selector: q
            .get("labelSelector")
            .map(selector::parse_label_selector)
            .transpose()?,
        field_selector: q
            .get("fieldSelector")
            .map(|s| selector::parse_field_selector(rt, s))
            .transpose()?,
        limit: q.int("limit")?.map(|l| l.max(0) as usize),
        continue_token: q.get("continue").map(str::to_string),
        resource_version: q.get("resourceVersion").map(str::to_string),
    })
}

pub fn watch_options(rt: &ResourceType, call: &Call) -> Result<WatchOptions, ApiError> {
    Ok(WatchOptions {
        list: list_options(rt, call)?,
        send_initial_events: call.query.flag("sendInitialEvents"),
        allow_bookmarks: call.query.flag("allowWatchBookmarks"),
        bookmark_interval: None,
    })
}

pub fn write_context(call: &Call) -> Result<WriteContext, ApiError> {
    Ok(WriteContext {
        dry_run: call.query.dry_run()?,
        field_manager: call.query.get("fieldManager").map(str::to_string),
    })
}

fn delete_options(
    q: &crate::options::Query,
    body: bytes::Bytes,
) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions {
        grace_period_seconds: q.int("gracePeriodSeconds")?,
        propagation_policy: q.get("propagationPolicy").map(str::to_string),
        dry_run: q.dry_run()?,
        ..Default::default()
    };
    if !body.iter().all(u8::is_ascii_whitespace) {
        let v = any_body(&body)?;
        opts.merge_body(&v)?;
    }
    Ok(opts)
}

/// Parses a create/update body (JSON or YAML) and applies field validation. Returns the object
/// and the warnings to send.
pub fn decode_body(
    rt: &ResourceType,
    headers: &axum::http::HeaderMap,
    q: &crate::options::Query,
    body: bytes::Bytes,
) -> Result<(Value, Vec<String>), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let media = content_type.split(';').next().unwrap_or("").trim();
    let obj = match media {
        "application/json" | "" | "*/*" => serde_json::from_slice::<Value>(&body).map_err(|e| {
            ApiError::bad_request(format!("error decoding request body as JSON: {e}"))
        })?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            patch::yaml_or_json_to_value(&body)?
        }
        // kubectl's typed commands (`create configmap`, `create deployment`, …) send protobuf.
        m if proto::is_protobuf_media_type(m) => {
            proto::decode_protobuf_body_as(&body, &rt.api_version(), rt.kind)?
        }
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    if !obj.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body of the request was in an unknown format: expected a {} object",
            rt.kind
        )));
    }
    // JSON bodies are scanned once for unknown and duplicate fields, in document order.
    let problems = if media == "application/json" {
        fields::strict_errors(&(rt.schema_name)(), &body)
    } else {
        fields::unknown_fields(&(rt.schema_name)(), &obj)
    };
    field_validation(q.field_validation()?, problems).map(|w| (obj, w))
}

/// Strict turns field problems into a 400; Warn returns them as warnings; Ignore drops them.
pub fn field_validation(
    mode: FieldValidation,
    problems: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    match mode {
        FieldValidation::Ignore => Ok(Vec::new()),
        FieldValidation::Warn => Ok(problems),
        FieldValidation::Strict if problems.is_empty() => Ok(Vec::new()),
        FieldValidation::Strict => Err(ApiError::bad_request(fields::strict_decoding_error(
            &problems,
        ))),
    }
}

/// For patches, upstream reports strict-decoding problems as 422 Invalid on the field `patch`.
fn patch_field_validation(
    rt: &ResourceType,
    name: &str,
    mode: FieldValidation,
    problems: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    match mode {
        FieldValidation::Strict if !problems.is_empty() => Err(ApiError::invalid(
            rt.group,
            rt.kind,
            name,
            vec![kindling_api::Cause {
                reason: "FieldValueInvalid",
                message: format!(
                    "Invalid value: {}",
                    fields::strict_decoding_error(&problems)
                ),
                field: "patch".into(),
            }],
        )),
        other => field_validation(other, problems),
    }
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
    let content_type = call
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let patch_type = PatchType::from_content_type(content_type)
        .ok_or_else(|| ApiError::unsupported_media_type(content_type))?;
    crate::apply::validate_patch_options(&call.query, patch_type == PatchType::Apply)?;
    let ctx = write_context(&call)?;
    let mode = call.query.field_validation()?;
    let manager = crate::apply::write_manager(&call.query, &call.headers);
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

/// A body of a subresource or option type, in whichever encoding it came (protobuf envelopes
/// start with their magic bytes; JSON is YAML).
pub fn any_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.starts_with(proto::MAGIC) {
        proto::decode_protobuf_body(body)
    } else {
        patch::yaml_or_json_to_value(body)
    }
}
