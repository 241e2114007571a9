//! HTTP glue: one entry point for every request. Public probes, discovery and OpenAPI are served
//! directly; resource paths are parsed into what they name and handed to the generic registry.

mod decode;
mod logs;
mod represent;
mod resource;
mod reviews;
mod stream;
mod subresource;
mod token;
mod watch;

use crate::auth::{is_public_path, Identity};
use crate::request::{self, ApiPath};
use crate::{discovery, openapi, Server};
use axum::body::Body;
use axum::http::{header, HeaderMap, Request, Response, StatusCode};
use decode::{Call, Query};
use kindling_api::ApiError;
use std::sync::Arc;

use represent::{error_response, plain_ok};
use represent::{json_response, Negotiated, Representation};

/// Requests served at once (watches excepted), as upstream's max-in-flight limit: beyond it a
/// client gets 429 with Retry-After instead of the server queueing without bound.
pub const MAX_IN_FLIGHT: usize = 600;

fn in_flight() -> &'static tokio::sync::Semaphore {
    static LIMIT: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    LIMIT.get_or_init(|| tokio::sync::Semaphore::new(MAX_IN_FLIGHT))
}

/// Serves one request.
pub async fn handle(server: Arc<Server>, req: Request<Body>) -> Response<Body> {
    let long_running = req
        .uri()
        .query()
        .is_some_and(|q| q.contains("watch=true") || q.contains("watch=1"))
        || req.uri().path().contains("/watch/");
    let _permit = if long_running {
        None
    } else {
        match in_flight().try_acquire() {
            Ok(p) => Some(p),
            Err(_) => {
                return error_response(&ApiError::too_many_requests(
                    "Too many requests, please try again later.",
                    1,
                ))
            }
        }
    };
    let mut identity = req
        .extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or(Identity::Anonymous);
    if identity.is_anonymous() {
        if let Some(token) = bearer_token(req.headers()) {
            identity = match crate::auth::bearer(&server.tokens, &server.registry, token).await {
                Ok(id) => id,
                Err(e) => return error_response(&e),
            };
        }
    }
    let (mut parts, body) = req.into_parts();
    let call = Call {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: Query::parse(parts.uri.query()),
        headers: parts.headers,
        body,
        identity,
        upgrade: parts.extensions.remove::<hyper::upgrade::OnUpgrade>(),
    };
    match route(&server, call).await {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    }
}

async fn route(server: &Arc<Server>, call: Call) -> Result<Response<Body>, ApiError> {
    if is_public_path(&call.path) {
        return Ok(public(&call.path));
    }
    if call.identity.is_anonymous() {
        return Err(ApiError::unauthorized());
    }
    let path = call.path.clone();
    if path == "/openapi/v3" || path.starts_with("/openapi/v3/") {
        return openapi::serve(&path).map(|v| json_response(StatusCode::OK, &v));
    }
    let Some(parsed) = request::parse(&path) else {
        return Err(ApiError::path_not_found());
    };
    let negotiated = Negotiated::from_headers(&call.headers);
    let aggregated = negotiated.representation == Representation::AggregatedDiscovery;
    match parsed {
        ApiPath::CoreVersions if aggregated => Ok(represent::aggregated_discovery(
            &discovery::aggregated_core(),
        )),
        ApiPath::CoreVersions => Ok(json_response(
            StatusCode::OK,
            &discovery::core_versions(&server.advertise_address()),
        )),
        ApiPath::Groups if aggregated => Ok(represent::aggregated_discovery(
            &discovery::aggregated_groups(),
        )),
        ApiPath::Groups => Ok(json_response(StatusCode::OK, &discovery::groups())),
        ApiPath::Group(g) => discovery::group(&g).map(|v| json_response(StatusCode::OK, &v)),
        ApiPath::Resources { group, version } => {
            discovery::resources(&group, &version).map(|v| json_response(StatusCode::OK, &v))
        }
        ApiPath::Resource(rp) => resource::serve(server, call, rp, negotiated).await,
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn public(path: &str) -> Response<Body> {
    if path.starts_with("/version") {
        return json_response(StatusCode::OK, &crate::version_info());
    }
    plain_ok()
}
