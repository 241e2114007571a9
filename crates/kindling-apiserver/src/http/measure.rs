//! The request metrics around every resource request (upstream's `InstrumentRouteFunc` and
//! long-running tracking) and the `/metrics` exposition; the metrics themselves are
//! `crate::metrics`.

use super::decode::Query;
use crate::metrics::{Held, Metrics, RequestLabels, CONTENT_TYPE};
use crate::request::ApiPath;
use crate::Server;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Response};
use futures::StreamExt;
use std::time::Instant;

/// A resource request being measured.
pub struct Measured<'a> {
    labels: RequestLabels<'a>,
    started: Instant,
    held: Held,
}

impl<'a> Measured<'a> {
    /// Starts measuring a resource request (`None` for any other path).
    pub fn start(
        metrics: &Metrics,
        parts: &Parts,
        query: &Query,
        target: Option<&'a ApiPath>,
    ) -> Option<Measured<'a>> {
        let Some(ApiPath::Resource(rp)) = target else {
            return None;
        };
        let apply = parts
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/apply-patch+yaml"));
        let watch = rp.watch_prefix || query.flag("watch");
        let labels =
            RequestLabels::of(rp, parts.method.as_str(), watch, apply, query.get("dryRun"));
        let held = metrics.start(&labels);
        Some(Measured {
            labels,
            started: Instant::now(),
            held,
        })
    }

    /// The response head is ready: the request is counted with its code and latency; a
    /// long-running one stays counted as such until its body ends.
    pub fn finish(self, metrics: &Metrics, resp: Response<Body>) -> Response<Body> {
        let code = resp.status().as_u16();
        metrics.observe(&self.labels, code, self.started.elapsed());
        if !self.labels.long_running() {
            return resp;
        }
        let held = self.held;
        let (parts, body) = resp.into_parts();
        let body = body.into_data_stream().map(move |chunk| {
            let _until_the_body_ends = &held;
            chunk
        });
        Response::from_parts(parts, Body::from_stream(body))
    }
}

/// `GET /metrics`: the API server's metrics in Prometheus text format.
pub async fn exposition(server: &Server) -> Response<Body> {
    let mut resp = Response::new(Body::from(server.metrics.render(&server.registry).await));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}
