//! Watch responses: newline-delimited JSON events streamed until the client leaves or
//! `timeoutSeconds` passes, each rendered by [`represent::WatchEncoder`]. The stream is pulled
//! by the connection: a client that stops reading leaves its events queued in the watch cache,
//! which ends the watch once that bounded queue stays full.

use super::decode::{watch_options, Call};
use super::represent::{self, Negotiated, WatchEncoder};
use crate::Server;
use axum::body::Body;
use axum::http::Response;
use futures::StreamExt;
use kindling_api::{ApiError, ResourceType};
use std::sync::Arc;
use std::time::Duration;

/// Upstream picks a random timeout between the minimum and twice it; one value is enough here.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub async fn serve(
    server: &Arc<Server>,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    call: Call<'_>,
    neg: Negotiated,
) -> Result<Response<Body>, ApiError> {
    let opts = watch_options(rt, &call)?;
    let timeout = call
        .query
        .int("timeoutSeconds")?
        .map_or(DEFAULT_TIMEOUT, |s| Duration::from_secs(s.max(0) as u64));
    let include = call.include_object();
    drop(call);
    let items = server.registry.watch_items(rt, ns, opts).await?;
    let deadline = tokio::time::sleep(timeout);
    let events = items.take_until(deadline);
    let mut encoder = WatchEncoder::new(rt, &neg, include);
    let sent = server.metrics.watch_events(rt);
    Ok(represent::watch_stream(events.map(move |ev| {
        let line = encoder.line(&ev);
        sent.sent(line.len());
        line
    })))
}
