//! The HTTP layer. This file only routes: probes, OpenAPI and discovery, then a resource path to
//! the handler of its verb — [`resource`] (get, list, create, update, patch, delete,
//! deletecollection), [`watch`], [`subresource`] (and [`logs`], [`stream`], [`token`] for the
//! subresources that leave the registry), [`reviews`]. What a request says is read by
//! [`decode`]; what a response is, by [`represent`]; [`filters`] run before routing.

mod computed;
mod decode;
mod eviction;
mod filters;
mod logs;
mod measure;
mod openapi_v2;
mod proxy;
mod represent;
mod resource;
mod reviews;
mod stream;
mod subresource;
mod token;
mod watch;

use crate::auth::{is_public_path, Identity};
use crate::registry::UpdateKind;
use crate::request::{self, ApiPath, ResourcePath};
use crate::{discovery, openapi, Server};
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Method, Request, Response, StatusCode, Uri};
use decode::{Call, Query};
use filters::RequestLog;
use kindling_api::catalog::{self, Serving, Subresource};
use kindling_api::{ApiError, ResourceType};
use represent::{error_response, json_response, Negotiated, Representation};
use std::sync::Arc;
use tracing::Instrument;

/// Serves one request.
pub async fn handle(server: Arc<Server>, req: Request<Body>) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    let uri = std::mem::take(&mut parts.uri);
    let query = Query::parse(uri.query());
    let target = request::parse(uri.path());
    let log = RequestLog::start(&parts.method, uri.path(), &query, target.as_ref());
    let measured = measure::Measured::start(&server.metrics, &parts, &query, target.as_ref());
    let mut identity = Identity::Anonymous;
    let resp = serve(
        &server,
        parts,
        &uri,
        body,
        query,
        target.as_ref(),
        &mut identity,
    )
    .instrument(log.span().clone())
    .await;
    log.finish(&identity, resp.status());
    match measured {
        Some(m) => m.finish(&server.metrics, resp),
        None => resp,
    }
}

/// The filters, then the route (`parts.uri` was taken out: it is `uri`); `identity` is who the
/// request turned out to be from.
async fn serve(
    server: &Arc<Server>,
    mut parts: Parts,
    uri: &Uri,
    body: Body,
    query: Query,
    target: Option<&ApiPath>,
    identity: &mut Identity,
) -> Response<Body> {
    let _permit = match filters::limit_in_flight(uri) {
        Ok(p) => p,
        Err(e) => return error_response(&e),
    };
    *identity = match filters::authenticate(server, &mut parts.extensions, &parts.headers).await {
        Ok(id) => id,
        Err(e) => return error_response(&e),
    };
    RequestLog::record_user(identity);
    if let Err(e) = filters::authorize(server, identity, &parts.method, uri.path(), target, &query)
    {
        return error_response(&e);
    }
    let call = Call {
        method: parts.method,
        query,
        raw_query: uri.query().map(str::to_string),
        headers: parts.headers,
        body,
        identity,
        upgrade: parts.extensions.remove::<hyper::upgrade::OnUpgrade>(),
    };
    match route(server, uri.path(), target, call).await {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    }
}

async fn route(
    server: &Arc<Server>,
    path: &str,
    target: Option<&ApiPath>,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    if is_public_path(path) {
        if path == "/readyz" || path == "/readyz/etcd" {
            return Ok(readyz(server).await);
        }
        return Ok(public(path));
    }
    if path == "/openapi/v3" || path.starts_with("/openapi/v3/") {
        let catalog = server.registry.catalog.load();
        return openapi::serve_v3(&catalog, path).map(|v| json_response(StatusCode::OK, &v));
    }
    if path == "/metrics" {
        return Ok(measure::exposition(server).await);
    }
    if let Some(resp) = issuer_discovery(server, path, &call.method) {
        return resp;
    }
    if path == "/openapi/v2" {
        return match call.method {
            Method::GET | Method::HEAD => {
                Ok(openapi_v2::serve(server.registry.catalog.load(), &call.headers).await)
            }
            _ => Err(method_not_allowed()),
        };
    }
    let Some(target) = target else {
        return Err(ApiError::path_not_found());
    };
    let negotiated = Negotiated::from_headers(&call.headers);
    let aggregated = negotiated.representation == Representation::AggregatedDiscovery;
    let catalog = || server.registry.catalog.load();
    match target {
        ApiPath::CoreVersions if aggregated => Ok(represent::aggregated_discovery(
            &discovery::aggregated_core(&catalog()),
        )),
        ApiPath::CoreVersions => Ok(json_response(
            StatusCode::OK,
            &discovery::core_versions(&server.advertise_address()),
        )),
        ApiPath::Groups if aggregated => Ok(represent::aggregated_discovery(
            &discovery::aggregated_groups(&catalog()),
        )),
        ApiPath::Groups => Ok(json_response(
            StatusCode::OK,
            &discovery::groups(&catalog()),
        )),
        ApiPath::Group(g) => {
            discovery::group(&catalog(), g).map(|v| json_response(StatusCode::OK, &v))
        }
        ApiPath::Resources { group, version } => discovery::resources(&catalog(), group, version)
            .map(|v| json_response(StatusCode::OK, &v)),
        ApiPath::Resource(rp) => route_resource(server, rp, call, negotiated).await,
    }
}

/// `/readyz`: `ok` while the store answers, else upstream's failure text for its `etcd` check
/// (HTTP 500, the reason withheld as upstream does for unauthenticated callers).
async fn readyz(server: &Arc<Server>) -> Response<Body> {
    if server
        .registry
        .store_answers(std::time::Duration::from_secs(2))
        .await
    {
        return represent::plain_ok();
    }
    let mut resp = Response::new(Body::from(
        "[-]etcd failed: reason withheld\nreadyz check failed\n",
    ));
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    resp
}

/// Service account issuer discovery (`/.well-known/openid-configuration`, `/openid/v1/jwks`),
/// served as upstream only for an `https` issuer; RBAC lets `system:serviceaccounts` read them
/// (the bootstrap `system:service-account-issuer-discovery` binding).
fn issuer_discovery(
    server: &Server,
    path: &str,
    method: &Method,
) -> Option<Result<Response<Body>, ApiError>> {
    let (document, content_type) = match path {
        "/.well-known/openid-configuration" => (
            server.tokens.openid_configuration(&server.jwks_uri),
            "application/json",
        ),
        "/openid/v1/jwks" => (server.tokens.jwks(), "application/jwk-set+json"),
        _ => return None,
    };
    if !server.tokens.discoverable() {
        return None;
    }
    if method != Method::GET {
        return Some(Err(method_not_allowed()));
    }
    let mut resp = json_response(StatusCode::OK, &document);
    if let Ok(v) = axum::http::HeaderValue::from_str(content_type) {
        resp.headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, v);
    }
    // Upstream lets these be cached for an hour.
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=3600"),
    );
    Some(Ok(resp))
}

/// `/healthz`, `/livez`, `/readyz` (and their sub-paths) and `/version`.
fn public(path: &str) -> Response<Body> {
    if path.starts_with("/version") {
        return json_response(StatusCode::OK, &crate::version_info());
    }
    represent::plain_ok()
}

/// A resource path: its catalog entry, then the handler of the verb.
async fn route_resource(
    server: &Arc<Server>,
    rp: &ResourcePath,
    call: Call<'_>,
    negotiated: Negotiated,
) -> Result<Response<Body>, ApiError> {
    let rt = server
        .registry
        .catalog
        .find(&rp.group, &rp.version, &rp.resource)
        .ok_or_else(ApiError::path_not_found)?;
    let rt = &rt;
    if rp.namespace.is_some() && !rt.namespaced {
        return Err(ApiError::path_not_found());
    }
    let ns = rp.namespace.as_deref();
    match rt.serving {
        Serving::Stored => {}
        Serving::Review => {
            return match (&call.method, rp.name.as_deref()) {
                (&Method::POST, None) => reviews::create(server, rt, ns, call).await,
                _ => Err(method_not_allowed()),
            };
        }
        Serving::PodBinding => {
            return match (&call.method, rp.name.as_deref(), ns) {
                (&Method::POST, None, Some(ns)) => {
                    let pods = catalog::builtin("", "v1", "pods");
                    subresource::bind_named(server, pods, ns, call).await
                }
                _ => Err(method_not_allowed()),
            };
        }
        Serving::Computed(objects, warning) => {
            let watching = rp.watch_prefix || call.query.flag("watch");
            let mut resp = match (&call.method, rp.name.as_deref(), rp.subresource.as_deref()) {
                (&Method::GET, None, None) if !watching => {
                    computed::list(rt, objects(), &call, &negotiated)
                }
                (&Method::GET, Some(name), None) => {
                    computed::get(rt, objects(), name, &call, &negotiated)
                }
                _ => Err(method_not_allowed()),
            }?;
            let warnings: Vec<String> = warning
                .iter()
                .map(std::string::ToString::to_string)
                .collect();
            represent::add_warnings(&mut resp, &warnings);
            return Ok(resp);
        }
    }
    let neg = negotiated;
    let watching = rp.watch_prefix || call.query.flag("watch");
    match (&call.method, rp.name.as_deref(), rp.subresource.as_deref()) {
        (&Method::GET, None, None) if watching => watch::serve(server, rt, ns, call, neg).await,
        (&Method::GET, None, None) => resource::list(server, rt, ns, call, neg).await,
        (&Method::GET, Some(name), None) => resource::get(server, rt, ns, name, call, neg).await,
        (&Method::POST, None, None) if rt.namespaced && ns.is_none() => Err(method_not_allowed()),
        (&Method::POST, None, None) => resource::create(server, rt, ns, call, neg).await,
        (&Method::PUT, Some(name), None) => resource::update(server, rt, ns, name, call).await,
        (&Method::PATCH, Some(name), None) => {
            resource::patch(server, rt, ns, name, UpdateKind::Main, call).await
        }
        (&Method::DELETE, Some(name), None) => resource::delete(server, rt, ns, name, call).await,
        (&Method::DELETE, None, None) => resource::delete_collection(server, rt, ns, call).await,
        (_, Some(name), Some(sub)) => {
            route_subresource(server, rt, ns, name, (sub, &rp.proxy_path), call).await
        }
        _ => Err(method_not_allowed()),
    }
}

/// `<resource>/<name>/<subresource>`: status, scale, binding, finalize, approval, resize,
/// ephemeralcontainers and eviction go through the registry; log, exec/attach/portforward to the
/// pod's node, a node's proxy (with the path after it) to the node; token is computed.
async fn route_subresource(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    name: &str,
    (sub, proxy_path): (&str, &str),
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let Some(sub) = rt.subresources.iter().copied().find(|s| s.path() == sub) else {
        return Err(ApiError::path_not_found());
    };
    match (sub, &call.method) {
        (
            Subresource::Status
            | Subresource::EphemeralContainers
            | Subresource::Resize
            | Subresource::Approval,
            &Method::GET,
        ) => subresource::get(server, rt, ns, name).await,
        // Subresources whose strategy decides what a write changes.
        (
            Subresource::Resize | Subresource::EphemeralContainers | Subresource::Approval,
            &Method::PUT,
        ) => {
            let kind = UpdateKind::Subresource(sub);
            subresource::put(server, rt, ns, name, kind, sub.path(), call).await
        }
        (
            Subresource::Resize | Subresource::EphemeralContainers | Subresource::Approval,
            &Method::PATCH,
        ) => {
            let kind = UpdateKind::Subresource(sub);
            resource::patch(server, rt, ns, name, kind, call).await
        }
        (Subresource::Status, &Method::PUT) => {
            subresource::put(server, rt, ns, name, UpdateKind::Status, "status", call).await
        }
        (Subresource::Status, &Method::PATCH) => {
            resource::patch(server, rt, ns, name, UpdateKind::Status, call).await
        }
        (Subresource::Scale, &Method::GET) => subresource::get_scale(server, rt, ns, name).await,
        (Subresource::Scale, &Method::PUT | &Method::PATCH) => {
            subresource::scale(server, rt, ns, name, call).await
        }
        (Subresource::Binding, &Method::POST) => {
            subresource::bind(server, rt, ns, name, call).await
        }
        (Subresource::Eviction, &Method::POST) => {
            eviction::create(server, rt, ns, name, call).await
        }
        (Subresource::Finalize, &Method::PUT) => {
            subresource::finalize(server, rt, name, call).await
        }
        (Subresource::Log, &Method::GET) => {
            logs::serve(server, ns.unwrap_or("default"), name, call).await
        }
        (
            sub @ (Subresource::Exec | Subresource::Attach | Subresource::PortForward),
            &Method::GET | &Method::POST,
        ) => stream::serve(server, ns.unwrap_or("default"), name, sub, call).await,
        (Subresource::Proxy, _) => proxy::serve(server, name, proxy_path, call).await,
        (Subresource::Token, &Method::POST) => {
            token::create(server, ns.unwrap_or("default"), name, call).await
        }
        _ => Err(method_not_allowed()),
    }
}

fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed("the server does not allow this method on the requested resource")
}
