//! Read-only resources whose objects are computed on each read (`componentstatuses`): get and
//! list, in every representation a stored resource has.

use super::decode::Call;
use super::represent::{self, json_response, Negotiated, Representation};
use axum::body::Body;
use axum::http::{Response, StatusCode};
use kindling_api::table;
use kindling_api::{ApiError, ResourceType};
use serde_json::{json, Value};

/// `GET` of the collection.
pub fn list(
    rt: &ResourceType,
    objects: Vec<Value>,
    call: &Call<'_>,
    neg: &Negotiated,
) -> Result<Response<Body>, ApiError> {
    let body = match neg.representation {
        Representation::Table => table::table(
            rt,
            &objects,
            jiff::Timestamp::now(),
            call.include_object(),
            json!({}),
        ),
        Representation::Metadata => json!({
            "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": {},
            "items": objects.iter().map(represent::partial_metadata).collect::<Vec<_>>(),
        }),
        _ => json!({
            "kind": rt.list_kind, "apiVersion": rt.api_version(), "metadata": {}, "items": objects,
        }),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET` of one object.
pub fn get(
    rt: &ResourceType,
    objects: Vec<Value>,
    name: &str,
    call: &Call<'_>,
    neg: &Negotiated,
) -> Result<Response<Body>, ApiError> {
    let obj = objects
        .into_iter()
        .find(|o| o["metadata"]["name"] == name)
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.qualified_plural(), name))?;
    Ok(json_response(
        StatusCode::OK,
        &represent::object(rt, obj, neg, call.include_object()),
    ))
}
