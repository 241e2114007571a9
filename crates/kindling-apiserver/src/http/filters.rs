//! What every request passes before it is routed, as upstream's handler chain: the max-in-flight
//! limit and authentication (the connection's client certificate, else a bearer token).

use crate::auth::{self, Identity};
use crate::Server;
use axum::http::{header, Extensions, HeaderMap, Uri};
use kindling_api::ApiError;
use tokio::sync::{Semaphore, SemaphorePermit};

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
/// anonymous.
pub async fn authenticate(
    server: &Server,
    extensions: &mut Extensions,
    headers: &HeaderMap,
) -> Result<Identity, ApiError> {
    let identity = extensions
        .remove::<Identity>()
        .unwrap_or(Identity::Anonymous);
    if identity.is_anonymous() {
        if let Some(token) = bearer_token(headers) {
            return auth::bearer(&server.tokens, &server.registry, token).await;
        }
    }
    Ok(identity)
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
