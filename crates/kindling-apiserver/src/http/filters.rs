//! What wraps every request before it is routed, as upstream's handler chain: the request log
//! (httplog), the max-in-flight limit, authentication (the connection's client certificate,
//! else a bearer token; then impersonation) and authorization.

use super::decode::Query;
use crate::auth::{self, Identity};
use crate::request::{ApiPath, ResourcePath};
use crate::Server;
use axum::http::{header, Extensions, HeaderMap, Method, StatusCode, Uri};
use kindling_api::ApiError;
use std::time::Instant;
use tokio::sync::{Semaphore, SemaphorePermit};
use tracing::field::{debug, Empty};
use tracing::Span;

/// The log of one request, as upstream's httplog: a `request` span at debug level carrying the
/// request's attributes (verb, path, resource, namespace, name, subresource, then user, code
/// and latency as they become known), and one event when the response is ready — at debug, or
/// at info for a 5xx, with the same fields so that it stands alone when debug is off.
///
/// Nothing is formatted unless a subscriber wants it: a disabled span is `Span::none()`, its
/// `record`s do nothing, and field values are borrowed. The latency is the time to the response
/// head (a LIST or watch body streams on after it).
pub struct RequestLog<'a> {
    span: Span,
    started: Instant,
    verb: &'static str,
    path: &'a str,
    resource: Option<&'a ResourcePath>,
}

impl<'a> RequestLog<'a> {
    pub fn start(
        method: &Method,
        path: &'a str,
        query: &Query,
        target: Option<&'a ApiPath>,
    ) -> RequestLog<'a> {
        let resource = match target {
            Some(ApiPath::Resource(rp)) => Some(rp),
            _ => None,
        };
        let verb = verb(method, resource, query);
        let span = tracing::debug_span!(
            "request",
            verb,
            path,
            resource = resource.map(|r| r.resource.as_str()),
            namespace = resource.and_then(|r| r.namespace.as_deref()),
            name = resource.and_then(|r| r.name.as_deref()),
            subresource = resource.and_then(|r| r.subresource.as_deref()),
            user = Empty,
            code = Empty,
            latency = Empty,
        );
        RequestLog {
            span,
            started: Instant::now(),
            verb,
            path,
            resource,
        }
    }

    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Records who sent the request on the current request span (a no-op when it is disabled).
    pub fn record_user(identity: &Identity) {
        Span::current().record("user", identity.username());
    }

    pub fn finish(self, identity: &Identity, status: StatusCode) {
        let latency = self.started.elapsed();
        let code = status.as_u16();
        self.span.record("code", code);
        self.span.record("latency", debug(latency));
        let (verb, path, rp) = (self.verb, self.path, self.resource);
        macro_rules! event {
            ($level:expr, $message:literal) => {
                tracing::event!(
                    $level,
                    verb,
                    path,
                    resource = rp.map(|r| r.resource.as_str()),
                    namespace = rp.and_then(|r| r.namespace.as_deref()),
                    name = rp.and_then(|r| r.name.as_deref()),
                    subresource = rp.and_then(|r| r.subresource.as_deref()),
                    user = identity.username(),
                    code,
                    ?latency,
                    $message
                )
            };
        }
        if status.is_server_error() {
            event!(tracing::Level::INFO, "request failed");
        } else {
            event!(tracing::Level::DEBUG, "request");
        }
    }
}

/// The request's verb as upstream's RequestInfo names it: for resources get, list, watch,
/// create, update, patch, delete, deletecollection; otherwise the lowercase HTTP method.
fn verb(method: &Method, resource: Option<&ResourcePath>, query: &Query) -> &'static str {
    let Some(rp) = resource else {
        return match *method {
            Method::GET => "get",
            Method::HEAD => "head",
            Method::POST => "post",
            Method::PUT => "put",
            Method::PATCH => "patch",
            Method::DELETE => "delete",
            Method::OPTIONS => "options",
            _ => "other",
        };
    };
    let collection = rp.name.is_none();
    match *method {
        Method::GET | Method::HEAD if collection && (rp.watch_prefix || query.flag("watch")) => {
            "watch"
        }
        Method::GET | Method::HEAD if collection => "list",
        Method::GET | Method::HEAD => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if collection => "deletecollection",
        Method::DELETE => "delete",
        _ => "other",
    }
}

/// Requests served at once (watches excepted), as upstream's max-in-flight limit: beyond it a
/// client gets 429 with Retry-After instead of the server queueing without bound.
pub const MAX_IN_FLIGHT: usize = 600;

fn in_flight() -> &'static Semaphore {
    static LIMIT: std::sync::OnceLock<Semaphore> = std::sync::OnceLock::new();
    LIMIT.get_or_init(|| Semaphore::new(MAX_IN_FLIGHT))
}

/// A place among the requests in flight (held until the response is made), or 429. Watches are
/// long-running and not counted.
pub fn limit_in_flight(uri: &Uri) -> Result<Option<SemaphorePermit<'static>>, ApiError> {
    let long_running = uri
        .query()
        .is_some_and(|q| q.contains("watch=true") || q.contains("watch=1"))
        || uri.path().contains("/watch/");
    if long_running {
        return Ok(None);
    }
    match in_flight().try_acquire() {
        Ok(p) => Ok(Some(p)),
        Err(_) => Err(ApiError::too_many_requests(
            "Too many requests, please try again later.",
            1,
        )),
    }
}

/// Who sent the request: the user of the connection's client certificate; without one, the
/// service account of an `Authorization: Bearer` token (401 if it does not verify); else
/// anonymous — then the user it impersonates, if it does.
pub async fn authenticate(
    server: &Server,
    extensions: &mut Extensions,
    headers: &HeaderMap,
) -> Result<Identity, ApiError> {
    let mut identity = extensions
        .remove::<Identity>()
        .unwrap_or(Identity::Anonymous);
    if identity.is_anonymous() {
        if let Some(token) = bearer_token(headers) {
            identity = auth::bearer(
                &server.tokens,
                &server.token_sources,
                &server.registry,
                token,
            )
            .await?;
        }
    }
    auth::impersonate(identity, headers, &server.authorizer)
}

/// Whether `identity` may do what the request asks (upstream's authorization filter): the
/// request's attributes as upstream's RequestInfo reads them, decided by the server's
/// authorizer; upstream's 403 if not.
pub fn authorize(
    server: &Server,
    identity: &Identity,
    method: &Method,
    path: &str,
    target: Option<&ApiPath>,
    query: &Query,
) -> Result<(), ApiError> {
    let attrs = crate::authz::attributes::of(
        method.as_str(),
        path,
        target,
        query.flag("watch"),
        query.get("fieldSelector"),
    );
    let user = identity.user_info();
    let decision = server.authorizer.check(&user, &attrs);
    if let Err(e) = &decision {
        if is_control_plane(&user.name) {
            // A control-plane component refused by the authorizer is a rule its role lacks (or
            // a request its upstream counterpart does not make), never a user's mistake: shown
            // at the default level, so it is seen in the node's log.
            tracing::warn!(
                user = user.name,
                "control-plane request forbidden: {}",
                e.message
            );
        }
    }
    decision
}

/// The controller manager's and scheduler's identities, and the service accounts of
/// kube-system (the controllers', the node-side parts').
fn is_control_plane(user: &str) -> bool {
    user.starts_with("system:serviceaccount:kube-system:")
        || user == "system:kube-controller-manager"
        || user == "system:kube-scheduler"
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request;

    fn verb_of(method: Method, uri: &str) -> &'static str {
        let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
        let target = request::parse(path);
        let resource = match &target {
            Some(ApiPath::Resource(rp)) => Some(rp),
            _ => None,
        };
        verb(&method, resource, &Query::parse(Some(query)))
    }

    #[test]
    fn verbs_are_upstreams() {
        assert_eq!(verb_of(Method::GET, "/api/v1/namespaces/d/pods"), "list");
        assert_eq!(verb_of(Method::GET, "/api/v1/pods?watch=true"), "watch");
        assert_eq!(verb_of(Method::GET, "/api/v1/watch/pods"), "watch");
        assert_eq!(verb_of(Method::GET, "/api/v1/namespaces/d/pods/p"), "get");
        assert_eq!(
            verb_of(Method::GET, "/api/v1/namespaces/d/pods/p/log"),
            "get"
        );
        assert_eq!(verb_of(Method::POST, "/api/v1/namespaces/d/pods"), "create");
        assert_eq!(
            verb_of(Method::POST, "/api/v1/namespaces/d/pods/p/exec"),
            "create"
        );
        assert_eq!(
            verb_of(Method::PUT, "/api/v1/namespaces/d/pods/p/status"),
            "update"
        );
        assert_eq!(
            verb_of(Method::PATCH, "/apis/apps/v1/namespaces/d/deployments/w"),
            "patch"
        );
        assert_eq!(
            verb_of(Method::DELETE, "/api/v1/namespaces/d/pods/p"),
            "delete"
        );
        assert_eq!(
            verb_of(Method::DELETE, "/api/v1/namespaces/d/pods"),
            "deletecollection"
        );
        assert_eq!(verb_of(Method::GET, "/healthz"), "get");
        assert_eq!(verb_of(Method::GET, "/apis"), "get");
    }
}
