//! Watch responses: newline-delimited JSON events streamed until the client leaves or
//! `timeoutSeconds` passes. With `as=Table` each event's object is a one-row Table.

use super::negotiate::{Negotiated, Representation};
use super::resource::{partial_metadata, watch_options};
use super::Call;
use crate::registry::WatchEvent;
use crate::Server;
use axum::body::Body;
use axum::http::{header, HeaderValue, Response};
use futures::StreamExt;
use kindling_api::table;
use kindling_api::{ApiError, ResourceType};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Upstream picks a random timeout between the minimum and twice it; one value is enough here.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

pub async fn serve(
    server: &Arc<Server>,
    rt: &'static ResourceType,
    ns: Option<&str>,
    call: Call,
    neg: Negotiated,
) -> Result<Response<Body>, ApiError> {
    let opts = watch_options(rt, &call)?;
    let timeout = call
        .query
        .int("timeoutSeconds")?
        .map(|s| Duration::from_secs(s.max(0) as u64))
        .unwrap_or(DEFAULT_TIMEOUT);
    let include = call.include_object();
    drop(call);
    let rx = server.registry.watch(rt, ns, opts).await?;
    let deadline = tokio::time::sleep(timeout);
    let events = tokio_stream::wrappers::ReceiverStream::new(rx).take_until(deadline);
    let mut first_table = true;
    let body = events.map(move |ev| {
        let kind = ev.type_name();
        let object = match (&ev, neg.representation) {
            (WatchEvent::Error(o) | WatchEvent::Bookmark(o), _) => o.clone(),
            (_, Representation::Table) => {
                let mut t = table::table(
                    rt,
                    std::slice::from_ref(ev.object()),
                    jiff::Timestamp::now(),
                    include,
                    json!({}),
                );
                if !first_table {
                    table::omit_column_definitions(&mut t);
                }
                first_table = false;
                t
            }
            (_, Representation::Metadata) => partial_metadata(ev.object()),
            _ => ev.object().clone(),
        };
        let mut line =
            serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
        line.push(b'\n');
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(line))
    });
    let mut resp = Response::new(Body::from_stream(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}
