//! The plain-text answers of the :10250 endpoint (logs, streaming and the server's own refusals).

use axum::body::Body;
use axum::http::{Response, StatusCode};

pub(super) fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r
}
