//! What a response is: the representation the client negotiated (`Accept` with `as=Table`,
//! `as=PartialObjectMetadata`, aggregated discovery), objects and watch events rendered in it,
//! JSON encoding, `Status` errors, `Warning` headers, and LIST responses streamed as the store is
//! read.

use crate::cacher::{metadata_of, EventType, Object, SharedEvent};
use crate::registry::{decode_cached, ListOptions, Registry, Scan, WatchEvent, WatchItem};
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use futures::{Stream, StreamExt};
use kindling_api::table::{self, IncludeObject};
use kindling_api::{ApiError, ResourceType};
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Representation {
    #[default]
    Object,
    /// `as=Table;g=meta.k8s.io`: rows and columns for `kubectl get`.
    Table,
    /// `as=PartialObjectMetadata[List]`: metadata only.
    Metadata,
    /// `as=APIGroupDiscoveryList;g=apidiscovery.k8s.io;v=v2`.
    AggregatedDiscovery,
}

#[derive(Clone, Debug, Default)]
pub struct Negotiated {
    pub representation: Representation,
}

impl Negotiated {
    /// The first acceptable alternative of the `Accept` header that we serve wins.
    pub fn from_headers(headers: &HeaderMap) -> Negotiated {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        for alternative in accept.split(',') {
            let mut params = alternative.split(';').map(str::trim);
            let media = params.next().unwrap_or("");
            if !matches!(media, "application/json" | "*/*" | "application/*") {
                continue;
            }
            let mut as_ = None;
            let mut group = None;
            let mut version = None;
            for p in params {
                match p.split_once('=') {
                    Some(("as", v)) => as_ = Some(v),
                    Some(("g", v)) => group = Some(v),
                    Some(("v", v)) => version = Some(v),
                    _ => {}
                }
            }
            let representation = match (as_, group, version) {
                (None, _, _) => Representation::Object,
                (Some("Table"), Some("meta.k8s.io"), Some("v1")) => Representation::Table,
                (
                    Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                    Some("meta.k8s.io"),
                    Some("v1"),
                ) => Representation::Metadata,
                (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2")) => {
                    Representation::AggregatedDiscovery
                }
                _ => continue,
            };
            return Negotiated { representation };
        }
        Negotiated::default()
    }
}

/// `value` as upstream's JSON encoder writes it: one line, ended by a newline.
pub fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut body = serde_json::to_vec(value).unwrap_or_default();
    body.push(b'\n');
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A JSON body already encoded (one object, as `json_response` would write it).
pub fn json_bytes_response(status: StatusCode, mut body: Vec<u8>) -> Response<Body> {
    body.push(b'\n');
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An object straight from the watch cache: its JSON is already what the client is sent.
pub fn cached_object(status: StatusCode, object: &Object) -> Response<Body> {
    let mut body = Vec::with_capacity(object.json.len() + 1);
    body.extend_from_slice(&object.json);
    body.push(b'\n');
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub fn error_response(e: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_response(status, &e.to_status());
    if let Some(s) = e.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp
}

/// Adds `Warning: 299 - "<text>"` headers, as upstream reports field-validation warnings.
pub fn add_warnings(resp: &mut Response<Body>, warnings: &[String]) {
    for w in warnings {
        let text = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
}

/// A probe's `ok`.
pub fn plain_ok() -> Response<Body> {
    let mut resp = Response::new(Body::from("ok"));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

const AGGREGATED_DISCOVERY_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// An aggregated discovery document (`APIGroupDiscoveryList`), with its media type.
pub fn aggregated_discovery(doc: &Value) -> Response<Body> {
    let mut resp = json_response(StatusCode::OK, doc);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(AGGREGATED_DISCOVERY_CONTENT_TYPE),
    );
    resp
}

/// One object as the client asked for it: itself, a one-row Table, or its metadata.
pub fn object(rt: &ResourceType, obj: Value, neg: &Negotiated, include: IncludeObject) -> Value {
    match neg.representation {
        Representation::Table => {
            let meta = json!({"resourceVersion": obj["metadata"]["resourceVersion"].clone()});
            table::table(
                rt,
                std::slice::from_ref(&obj),
                jiff::Timestamp::now(),
                include,
                meta,
            )
        }
        Representation::Metadata => partial_metadata(&obj),
        _ => obj,
    }
}

pub fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

/// [`partial_metadata`] of an object's JSON, written around its metadata's bytes (no decoding);
/// `None` if the object has no metadata.
fn partial_metadata_json(object: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let metadata = metadata_of(object)?;
    out.extend_from_slice(
        br#"{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":"#,
    );
    out.extend_from_slice(metadata);
    out.push(b'}');
    Some(())
}

const LIST_CHUNK_BYTES: usize = 64 * 1024;

/// A LIST response, built item by item: objects are serialized (or turned into table rows) as the
/// store is scanned, so a large list never holds every decoded object at once.
pub async fn list(
    reg: &Registry,
    rt: &Arc<ResourceType>,
    ns: Option<&str>,
    opts: &ListOptions,
    neg: &Negotiated,
    include: IncludeObject,
) -> Result<Response<Body>, ApiError> {
    match neg.representation {
        Representation::Table => {
            let now = jiff::Timestamp::now();
            let mut rows = Vec::new();
            let meta = reg
                .scan(rt, ns, opts, |obj| {
                    let mut one =
                        table::table(rt, std::slice::from_ref(&obj), now, include, json!({}));
                    if let Some(row) = one["rows"].as_array_mut().and_then(std::vec::Vec::pop) {
                        rows.push(row);
                    }
                    Ok(())
                })
                .await?;
            table::order_rows(rt, &mut rows);
            let mut t = table::table(rt, &[], now, include, meta.to_json());
            t["rows"] = Value::Array(rows);
            Ok(json_response(StatusCode::OK, &t))
        }
        Representation::Metadata => {
            // Each item written around the metadata's bytes: no object is decoded.
            let mut scan = Scan::new(reg.clone(), rt, ns, opts.clone())?;
            let mut items = Vec::new();
            let mut first = true;
            while let Some(batch) = scan.next_json_batch().await? {
                for object in batch {
                    if !first {
                        items.push(b',');
                    }
                    first = false;
                    if partial_metadata_json(&object, &mut items).is_none() {
                        let obj: Value = serde_json::from_slice(&object).unwrap_or_default();
                        let _ = serde_json::to_writer(&mut items, &partial_metadata(&obj));
                    }
                }
            }
            let head = json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                              "metadata": scan.meta().to_json(), "items": []});
            let mut body = serde_json::to_vec(&head).unwrap_or_default();
            body.truncate(body.len() - 2); // `]}`: the items go in between
            body.extend_from_slice(&items);
            body.extend_from_slice(b"]}\n");
            let mut resp = Response::new(Body::from(body));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(resp)
        }
        _ => {
            // Objects are streamed as the store is read: the first batch is read before the
            // response starts, so that errors (a bad continue token, 410) still get a Status.
            // The list's metadata comes first, as upstream writes it: its revision is the
            // first batch's snapshot; a continue token exists only for a limited list, whose
            // page (at most `limit` objects) is read whole before anything is sent.
            let mut scan = Scan::new(reg.clone(), rt, ns, opts.clone())?;
            let mut batches = vec![scan.next_json_batch().await?.unwrap_or_default()];
            if opts.limit.is_some_and(|l| l > 0) {
                while let Some(batch) = scan.next_json_batch().await? {
                    batches.push(batch);
                }
            }
            let head = json!({"kind": rt.list_kind, "apiVersion": rt.api_version(),
                              "metadata": scan.meta().to_json(), "items": []});
            let mut head = serde_json::to_vec(&head).unwrap_or_default();
            head.truncate(head.len() - 3); // `[]}`: the items follow
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(2);
            tokio::spawn(async move {
                let mut batches = batches.into_iter();
                let mut batch = batches.next();
                let mut buf = head;
                buf.push(b'[');
                let mut first_item = true;
                while let Some(objects) = batch {
                    for obj in &objects {
                        if !first_item {
                            buf.push(b',');
                        }
                        first_item = false;
                        buf.extend_from_slice(obj);
                        // Small chunks keep what waits in the connection's send buffer small.
                        if buf.len() >= LIST_CHUNK_BYTES
                            && tx
                                .send(Ok(bytes::Bytes::from(std::mem::take(&mut buf))))
                                .await
                                .is_err()
                        {
                            return;
                        }
                    }
                    drop(objects);
                    batch = match batches.next() {
                        Some(b) => Some(b),
                        None => match scan.next_json_batch().await {
                            Ok(b) => b,
                            Err(e) => {
                                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                                return;
                            }
                        },
                    };
                }
                buf.extend_from_slice(b"]}\n");
                let _ = tx.send(Ok(bytes::Bytes::from(buf))).await;
            });
            let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
            let mut resp = Response::new(Body::from_stream(stream));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Ok(resp)
        }
    }
}

/// Watch events as newline-delimited JSON lines, each object in the negotiated representation:
/// with `as=Table` a one-row Table, whose column definitions only the first event carries.
/// A change shared by several watchers is encoded once for all that ask for the same line.
pub struct WatchEncoder {
    rt: Arc<ResourceType>,
    representation: Representation,
    include: IncludeObject,
    first_table: bool,
}

impl WatchEncoder {
    pub fn new(rt: &Arc<ResourceType>, neg: &Negotiated, include: IncludeObject) -> Self {
        WatchEncoder {
            rt: rt.clone(),
            representation: neg.representation,
            include,
            first_table: true,
        }
    }

    /// `{"type": …, "object": …}` and a newline.
    pub fn line(&mut self, item: &WatchItem) -> bytes::Bytes {
        match item {
            WatchItem::Own(ev) => self.own_line(ev),
            WatchItem::Shared(event_type, shared) => {
                let first_table = self.representation == Representation::Table && self.first_table;
                self.first_table = false;
                // Watchers of the same version and representation share the bytes.
                let key = format!(
                    "{}/{}|{:?}|{:?}|{first_table}|{}",
                    self.rt.api_version(),
                    self.rt.plural,
                    self.representation,
                    self.include,
                    event_type.name()
                );
                shared.line(&key, || self.shared_line(*event_type, shared, first_table))
            }
        }
    }

    fn shared_line(
        &self,
        event_type: EventType,
        shared: &SharedEvent,
        first_table: bool,
    ) -> bytes::Bytes {
        let shown = shared.shown(event_type);
        let as_stored = self.rt.serves_stored_form() && shown.served;
        if as_stored
            && matches!(
                self.representation,
                Representation::Object | Representation::Metadata
            )
        {
            // The cached JSON is the object as served (and holds its metadata as served):
            // written around, not decoded.
            let mut line = Vec::with_capacity(shown.json.len() + 40);
            line.extend_from_slice(b"{\"type\":\"");
            line.extend_from_slice(event_type.name().as_bytes());
            line.extend_from_slice(b"\",\"object\":");
            let written = match self.representation {
                Representation::Metadata => partial_metadata_json(&shown.json, &mut line).is_some(),
                _ => {
                    line.extend_from_slice(&shown.json);
                    true
                }
            };
            if written {
                line.extend_from_slice(b"}\n");
                return bytes::Bytes::from(line);
            }
        }
        let object = match decode_cached(&self.rt, &shown) {
            Ok(object) => object,
            Err(e) => return encode_line("ERROR", &e.to_status()),
        };
        let object = match self.representation {
            Representation::Table => {
                let mut t = table::table(
                    &self.rt,
                    std::slice::from_ref(&object),
                    jiff::Timestamp::now(),
                    self.include,
                    json!({}),
                );
                if !first_table {
                    table::omit_column_definitions(&mut t);
                }
                t
            }
            Representation::Metadata => partial_metadata(&object),
            _ => object,
        };
        encode_line(event_type.name(), &object)
    }

    fn own_line(&mut self, ev: &WatchEvent) -> bytes::Bytes {
        let kind = ev.type_name();
        let object = match (ev, self.representation) {
            (WatchEvent::Error(o) | WatchEvent::Bookmark(o), _) => o.clone(),
            (_, Representation::Table) => {
                let mut t = table::table(
                    &self.rt,
                    std::slice::from_ref(ev.object()),
                    jiff::Timestamp::now(),
                    self.include,
                    json!({}),
                );
                if !self.first_table {
                    table::omit_column_definitions(&mut t);
                }
                self.first_table = false;
                t
            }
            (_, Representation::Metadata) => partial_metadata(ev.object()),
            _ => ev.object().clone(),
        };
        encode_line(kind, &object)
    }
}

fn encode_line(kind: &str, object: &Value) -> bytes::Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    bytes::Bytes::from(line)
}

/// A watch response: the encoded lines as they come, never cached.
pub fn watch_stream<S>(lines: S) -> Response<Body>
where
    S: Stream<Item = bytes::Bytes> + Send + 'static,
{
    let body = lines.map(Ok::<_, std::convert::Infallible>);
    let mut resp = Response::new(Body::from_stream(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neg(accept: &str) -> Representation {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        Negotiated::from_headers(&h).representation
    }

    #[test]
    fn kubectl_get_asks_for_tables() {
        assert_eq!(
            neg("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"),
            Representation::Table
        );
        assert_eq!(
            neg("application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"),
            Representation::Object
        );
        assert_eq!(neg("application/json"), Representation::Object);
        assert_eq!(
            neg("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"),
            Representation::AggregatedDiscovery
        );
    }
}
