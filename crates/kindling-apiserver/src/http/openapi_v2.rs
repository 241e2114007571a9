//! `GET /openapi/v2` as kube-apiserver's handler (kube-openapi) answers it: the media type by
//! `Accept` (JSON, `*/*` or none → JSON; gnostic protobuf under both its names, answered as
//! `application/com.github.proto-openapi.spec.v2.v1.0+protobuf`; anything else → 406), an
//! `ETag` shared by both forms and `If-None-Match` → 304, `Last-Modified`, gzip when the client
//! takes it (compressed once per form), `Vary: Accept` and `Vary: Accept-Encoding`.

use crate::openapi::v2;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use bytes::Bytes;
use kindling_api::Catalog;
use std::io::Write;
use std::sync::{Arc, OnceLock};

const JSON: &str = "application/json";
const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
const PROTOBUF_DEPRECATED_SUBTYPE: &str = "com.github.proto-openapi.spec.v2@v1.0+protobuf";
const PROTOBUF_SUBTYPE: &str = "com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Responses smaller than this are not compressed (the gzip handler's default minimum).
const GZIP_MIN_SIZE: usize = 1400;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Form {
    Json,
    Protobuf,
}

/// One `Accept` clause.
#[derive(Debug)]
struct Clause<'a> {
    kind: &'a str,
    subtype: &'a str,
    q: f32,
}

/// The clauses of `Accept`, most preferred first (higher q, then the more specific).
fn clauses(accept: &str) -> Vec<Clause<'_>> {
    let accept = if accept.trim().is_empty() {
        "*/*"
    } else {
        accept
    };
    let mut out: Vec<Clause> = accept
        .split(',')
        .filter_map(|alternative| {
            let mut parts = alternative.split(';').map(str::trim);
            let (kind, subtype) = parts.next()?.split_once('/')?;
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse().ok())
                .unwrap_or(1.0);
            Some(Clause { kind, subtype, q })
        })
        .collect();
    let specificity = |c: &Clause| u8::from(c.kind != "*") + u8::from(c.subtype != "*");
    out.sort_by(|a, b| {
        b.q.total_cmp(&a.q)
            .then_with(|| specificity(b).cmp(&specificity(a)))
    });
    out
}

/// The form to send, in the handler's order of what it serves, or `None` (406).
fn negotiate(accept: &str) -> Option<Form> {
    const SERVED: &[(&str, &str, Form)] = &[
        ("application", "json", Form::Json),
        ("application", PROTOBUF_DEPRECATED_SUBTYPE, Form::Protobuf),
        ("application", PROTOBUF_SUBTYPE, Form::Protobuf),
    ];
    clauses(accept).iter().find_map(|c| {
        SERVED
            .iter()
            .find(|(kind, subtype, _)| {
                (c.kind == *kind || c.kind == "*") && (c.subtype == *subtype || c.subtype == "*")
            })
            .map(|(_, _, form)| *form)
    })
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Whether the client takes gzip (`Accept-Encoding: gzip`, not `q=0`).
fn takes_gzip(headers: &HeaderMap) -> bool {
    header_str(headers, header::ACCEPT_ENCODING)
        .split(',')
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            parts.next() == Some("gzip") && !parts.any(|p| p == "q=0" || p == "q=0.0")
        })
}

/// Whether `If-None-Match` names `etag` (weak comparison, or `*`).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    header_str(headers, header::IF_NONE_MATCH)
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// When the document was built (it does not change while the server runs).
fn last_modified() -> &'static str {
    static AT: OnceLock<String> = OnceLock::new();
    AT.get_or_init(|| {
        jiff::Timestamp::now()
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
            .to_string()
    })
}

fn gzip(data: &[u8]) -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    match enc.write_all(data).and_then(|()| enc.finish()) {
        Ok(out) => Bytes::from(out),
        Err(_) => Bytes::new(),
    }
}

fn gzipped(served: &v2::Served, form: Form) -> &Bytes {
    match form {
        Form::Json => served.json_gz.get_or_init(|| gzip(&served.json)),
        Form::Protobuf => served.protobuf_gz.get_or_init(|| gzip(&served.protobuf)),
    }
}

/// `GET /openapi/v2`.
pub async fn serve(catalog: Arc<Catalog>, headers: &HeaderMap) -> Response<Body> {
    let mut resp = Response::new(Body::empty());
    let h = resp.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.append(header::VARY, HeaderValue::from_static("Accept"));
    let Some(form) = negotiate(header_str(headers, header::ACCEPT)) else {
        *resp.status_mut() = StatusCode::NOT_ACCEPTABLE;
        return resp;
    };
    // Built (and compressed) once, on a blocking thread: the first build takes a while.
    let Ok(served) = tokio::task::spawn_blocking(move || v2::served(&catalog)).await else {
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        return resp;
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&served.etag) {
        h.insert(header::ETAG, v);
    }
    if none_match(headers, &served.etag) {
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        return resp;
    }
    if let Ok(v) = HeaderValue::from_str(last_modified()) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(match form {
            Form::Json => JSON,
            Form::Protobuf => PROTOBUF,
        }),
    );
    let plain = match form {
        Form::Json => &served.json,
        Form::Protobuf => &served.protobuf,
    };
    let body = if takes_gzip(headers) && plain.len() >= GZIP_MIN_SIZE {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        let served = served.clone();
        match tokio::task::spawn_blocking(move || gzipped(&served, form).clone()).await {
            Ok(gz) => gz,
            Err(_) => Bytes::new(),
        }
    } else {
        plain.clone()
    };
    *resp.body_mut() = Body::from(body);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_as_kube_openapi() {
        assert_eq!(negotiate(""), Some(Form::Json));
        assert_eq!(negotiate("*/*"), Some(Form::Json));
        assert_eq!(negotiate("application/json"), Some(Form::Json));
        assert_eq!(
            negotiate("application/com.github.proto-openapi.spec.v2@v1.0+protobuf"),
            Some(Form::Protobuf)
        );
        assert_eq!(
            negotiate("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
            Some(Form::Protobuf)
        );
        assert_eq!(
            negotiate("application/json;q=0.5, application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
            Some(Form::Protobuf)
        );
        assert_eq!(negotiate("text/html"), None);
    }

    #[test]
    fn gzip_and_etags() {
        let mut h = HeaderMap::new();
        assert!(!takes_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("deflate, gzip"),
        );
        assert!(takes_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0"),
        );
        assert!(!takes_gzip(&h));
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"A\", W/\"B\""),
        );
        assert!(none_match(&h, "\"B\""));
        assert!(!none_match(&h, "\"C\""));
    }
}
