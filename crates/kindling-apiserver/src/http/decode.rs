//! What a request says, read once: its query options (upstream's ListOptions, DeleteOptions,
//! PatchOptions, PodLogOptions, dryRun, fieldValidation, fieldManager) and its body, decoded
//! from JSON, YAML or protobuf with field validation. Handlers get a [`Call`] and ask this
//! module; nothing else parses a query or a body.

use crate::auth::Identity;
use crate::registry::{DeleteOptions, ListOptions, WatchOptions, WriteContext};
use axum::body::Body;
use axum::http::{header, HeaderMap, Method};
use kindling_api::body::Encoding;
use kindling_api::managed;
use kindling_api::patch::{self, PatchType};
use kindling_api::proto;
use kindling_api::selector;
use kindling_api::status::Cause;
use kindling_api::table::IncludeObject;
use kindling_api::{fields, ApiError, ResourceType};
use kindling_stream::translate::Streams;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Bodies above this size are refused with 413, as upstream's 3 MiB limit.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// What a handler works with: the request with its query parsed and its body still unread.
pub struct Call<'a> {
    pub method: Method,
    pub query: Query,
    /// The query as sent (what a proxied request passes on).
    pub raw_query: Option<String>,
    pub headers: HeaderMap,
    pub body: Body,
    pub identity: &'a Identity,
    /// The connection's upgrade, for the streaming subresources (exec, attach, portforward).
    pub upgrade: Option<hyper::upgrade::OnUpgrade>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Unknown or duplicate fields fail the request.
    Strict,
    /// They are reported in `Warning` headers (the server default).
    #[default]
    Warn,
    Ignore,
}

/// The query of one request.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub params: HashMap<String, String>,
    /// Every pair in order, repeated keys included (exec's `command`).
    pub pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let mut params = HashMap::new();
        let mut pairs = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            // A repeated key: its first value counts, as `url.Values.Get` and upstream's
            // parameter conversions read it.
            params.entry(decode(k)).or_insert_with(|| decode(v));
            pairs.push((decode(k), decode(v)));
        }
        Query { params, pairs }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .get(key)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A boolean option (watch, allowWatchBookmarks, sendInitialEvents, force, follow, stdin …),
    /// read as upstream reads every boolean query parameter (apimachinery's
    /// `Convert_Slice_string_To_bool`): absent is false; present, it is false when it is `0` or
    /// `false` in any case and true otherwise — `true`, `True` (the Python client's), `1`, even
    /// an empty value. No value is an error.
    pub fn flag(&self, key: &str) -> bool {
        self.params
            .get(key)
            .is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
    }

    pub fn dry_run(&self) -> Result<bool, ApiError> {
        match self.get("dryRun") {
            None => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "Invalid dryRun value: {other}. Supported values: \"All\""
            ))),
        }
    }

    pub fn field_validation(&self) -> Result<FieldValidation, ApiError> {
        match self.get("fieldValidation") {
            None => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of Ignore, Warn, or Strict, got {other}"
            ))),
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value {v:?} for {key}: must be an integer"))
            }),
        }
    }
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

impl Call<'_> {
    /// `includeObject` of a Table request (upstream's default is the object's metadata).
    pub fn include_object(&self) -> IncludeObject {
        include_object(&self.query)
    }
}

fn include_object(q: &Query) -> IncludeObject {
    IncludeObject::parse(q.get("includeObject")).unwrap_or(IncludeObject::Metadata)
}

/// The manager of a write: the `fieldManager` parameter, or the User-Agent's product
/// (`kubectl`), as upstream's `managerOrUserAgent`.
pub fn field_manager(call: &Call) -> String {
    let agent = call
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    managed::manager_or_user_agent(call.query.get("fieldManager"), agent)
}

/// The patch a PATCH body is, by its content type (415 for any other, and for one the resource
/// does not take, with upstream's list of those it takes).
pub fn patch_type(rt: &ResourceType, headers: &HeaderMap) -> Result<PatchType, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let patch = PatchType::from_content_type(content_type)
        .ok_or_else(|| ApiError::unsupported_media_type(content_type))?;
    let accepted = rt.patch_types();
    if accepted.contains(&patch) {
        return Ok(patch);
    }
    let list: Vec<&str> = accepted.iter().map(|p| p.content_type()).collect();
    Err(ApiError::unsupported_media_type_of(&list))
}

/// PatchOptions validation: apply needs a fieldManager; `force` is for apply only.
pub fn patch_options(query: &Query, apply: bool) -> Result<(), ApiError> {
    let cause = if apply {
        query.get("fieldManager").is_none().then(|| Cause {
            reason: "FieldValueRequired",
            message: "Required value: is required for apply patch".into(),
            field: "fieldManager".into(),
        })
    } else {
        // Given at all, even empty or false, as upstream's `*bool` is then set.
        query
            .params
            .contains_key("force")
            .then(|| Cause::forbidden("force", "may not be specified for non-apply patch"))
    };
    match cause {
        Some(c) => Err(ApiError::invalid(
            "meta.k8s.io",
            "PatchOptions",
            "",
            vec![c],
        )),
        None => Ok(()),
    }
}

pub fn list_options(rt: &ResourceType, call: &Call) -> Result<ListOptions, ApiError> {
    let q = &call.query;
    Ok(ListOptions {
        label_selector: q
            .get("labelSelector")
            .map(selector::parse_label_selector)
            .transpose()?,
        field_selector: q
            .get("fieldSelector")
            .map(|s| selector::parse_field_selector(rt, s))
            .transpose()?,
        limit: q.int("limit")?.map(|l| l.max(0) as usize),
        continue_token: q.get("continue").map(str::to_string),
        resource_version: q.get("resourceVersion").map(str::to_string),
        resource_version_match: q.get("resourceVersionMatch").map(str::to_string),
    })
}

/// A LIST's options, checked as upstream's ValidateListOptions.
pub fn list_request_options(rt: &ResourceType, call: &Call) -> Result<ListOptions, ApiError> {
    let opts = list_options(rt, call)?;
    opts.validate(false, send_initial_events(call))?;
    Ok(opts)
}

pub fn watch_options(rt: &ResourceType, call: &Call) -> Result<WatchOptions, ApiError> {
    let list = list_options(rt, call)?;
    let send_initial_events = send_initial_events(call);
    list.validate(true, send_initial_events)?;
    Ok(WatchOptions {
        list,
        send_initial_events,
        allow_bookmarks: call.query.flag("allowWatchBookmarks"),
        bookmark_interval: None,
    })
}

/// `sendInitialEvents`, when the request has it.
fn send_initial_events(call: &Call) -> Option<bool> {
    call.query
        .params
        .contains_key("sendInitialEvents")
        .then(|| call.query.flag("sendInitialEvents"))
}

pub fn write_context(call: &Call) -> Result<WriteContext, ApiError> {
    Ok(WriteContext {
        dry_run: call.query.dry_run()?,
        user: Some(call.identity.user_info()),
    })
}

pub fn delete_options(q: &Query, body: bytes::Bytes) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions {
        grace_period_seconds: q.int("gracePeriodSeconds")?,
        propagation_policy: q.get("propagationPolicy").map(str::to_string),
        orphan_dependents: q.get("orphanDependents").map(|v| v == "true" || v == "1"),
        dry_run: q.dry_run()?,
        ..Default::default()
    };
    if !body.iter().all(u8::is_ascii_whitespace) {
        let v = any_body(&body)?;
        opts.merge_body(&v)?;
    }
    opts.validate()?;
    Ok(opts)
}

/// Reads the body, refusing more than [`MAX_BODY_BYTES`].
pub async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
        total += chunk.len();
        if total <= MAX_BODY_BYTES {
            buf.extend_from_slice(&chunk);
        } else if total > DRAIN_LIMIT_BYTES {
            break;
        }
        // Beyond the limit the rest is read and dropped, so that the client, still sending,
        // receives the 413 instead of a connection reset.
    }
    if total > MAX_BODY_BYTES {
        return Err(ApiError::too_large(
            "Request entity too large: limit is 3145728",
        ));
    }
    Ok(buf.freeze())
}

/// How much of an oversized body is drained before giving up on the connection.
const DRAIN_LIMIT_BYTES: usize = 64 * 1024 * 1024;

/// Decodes a create/update body (JSON, YAML or protobuf) as upstream's serializer does
/// (`kindling_api::body`: its 400s for a body that is not the URL's type) and applies field
/// validation. Returns the object and the warnings to send.
pub fn object(
    rt: &ResourceType,
    headers: &axum::http::HeaderMap,
    q: &Query,
    body: bytes::Bytes,
) -> Result<(Value, Vec<String>), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let media = content_type.split(';').next().unwrap_or("").trim();
    let mode = q.field_validation()?;
    let obj = match media {
        "application/json" | "" | "*/*" => kindling_api::body::decode(rt, Encoding::Json, &body)?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            kindling_api::body::decode(rt, Encoding::Yaml, &body)?
        }
        // kubectl's typed commands (`create configmap`, `create deployment`, …) send protobuf.
        m if proto::is_protobuf_media_type(m) => {
            proto::decode_protobuf_body_as(&body, &rt.api_version(), &rt.kind)?
        }
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    // JSON bodies are scanned once for unknown and duplicate fields, in document order.
    let problems = match rt.strategy.unknown_fields(&obj) {
        // A custom resource: what pruning drops, after the body's duplicate keys.
        Some(unknown) => {
            let mut problems = if media == "application/json" {
                fields::duplicate_fields(&body)
            } else {
                Vec::new()
            };
            problems.extend(unknown);
            problems
        }
        None if media == "application/json" => fields::strict_errors(&rt.schema_name(), &body),
        None => fields::unknown_fields(&rt.schema_name(), &obj),
    };
    field_validation(mode, problems).map(|w| (obj, w))
}

/// Strict turns field problems into a 400; Warn returns them as warnings; Ignore drops them.
pub fn field_validation(
    mode: FieldValidation,
    problems: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    match mode {
        FieldValidation::Ignore => Ok(Vec::new()),
        FieldValidation::Warn => Ok(problems),
        FieldValidation::Strict if problems.is_empty() => Ok(Vec::new()),
        FieldValidation::Strict => Err(ApiError::bad_request(fields::strict_decoding_error(
            &problems,
        ))),
    }
}

/// For patches, upstream reports strict-decoding problems as 422 Invalid on the field `patch`.
pub fn patch_field_validation(
    rt: &ResourceType,
    name: &str,
    mode: FieldValidation,
    problems: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    match mode {
        FieldValidation::Strict if !problems.is_empty() => Err(ApiError::invalid(
            &rt.group,
            &rt.kind,
            name,
            vec![kindling_api::Cause {
                reason: "FieldValueInvalid",
                message: format!(
                    "Invalid value: {}",
                    fields::strict_decoding_error(&problems)
                ),
                field: "patch".into(),
            }],
        )),
        other => field_validation(other, problems),
    }
}

/// A body of a subresource or option type, in whichever encoding it came (protobuf envelopes
/// start with their magic bytes; JSON is YAML).
pub fn any_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.starts_with(proto::MAGIC) {
        proto::decode_protobuf_body(body)
    } else {
        patch::yaml_or_json_to_value(body)
    }
}

/// The body of a request for one fixed type (`TokenRequest`): JSON, YAML or protobuf (client-go's
/// typed calls), empty meaning `{}`; a mismatched apiVersion or kind is a 400.
pub fn typed_body(
    headers: &HeaderMap,
    body: &[u8],
    api_version: &str,
    kind: &str,
) -> Result<Value, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let media = content_type.split(';').next().unwrap_or("").trim();
    let obj = if proto::is_protobuf_media_type(media) {
        proto::decode_protobuf_body_as(body, api_version, kind)?
    } else if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        patch::yaml_or_json_to_value(body)?
    };
    if !obj.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body of the request must be a {kind} object"
        )));
    }
    for (field, expected) in [("apiVersion", api_version), ("kind", kind)] {
        if let Some(got) = obj[field]
            .as_str()
            .filter(|s| !s.is_empty() && *s != expected)
        {
            return Err(ApiError::bad_request(format!(
                "the {field} in the data ({got}) does not match the expected {field} ({expected})"
            )));
        }
    }
    Ok(obj)
}

/// The streams an exec or attach asks for (PodExecOptions/PodAttachOptions' booleans).
pub fn remote_command_streams(query: &Query) -> Streams {
    Streams {
        stdin: query.flag("stdin"),
        stdout: query.flag("stdout"),
        stderr: query.flag("stderr"),
        tty: query.flag("tty"),
    }
}

/// PodLogOptions as the node agent is asked for them, as upstream's LogLocation builds the
/// kubelet's query: the booleans that hold as `true` (absent otherwise), the numbers and the
/// time as given (after [`log_options`] checked them).
pub fn log_query(query: &Query) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for key in ["follow", "previous", "timestamps"] {
        if query.flag(key) {
            out.push((key, "true".to_string()));
        }
    }
    for key in ["tailLines", "limitBytes", "sinceSeconds", "sinceTime"] {
        if let Some(v) = query.get(key) {
            out.push((key, v.to_string()));
        }
    }
    out
}

/// Upstream's ValidatePodLogOptions: numbers in range, at most one of the two `since`s.
pub fn log_options(query: &Query, name: &str) -> Result<(), ApiError> {
    let mut causes = Vec::new();
    let number = |key: &str| query.get(key).map(|v| (v, v.parse::<i64>()));
    for (key, minimum, detail) in [
        ("tailLines", 0, "must be greater than or equal to 0"),
        ("limitBytes", 1, "must be greater than 0"),
        ("sinceSeconds", 1, "must be greater than 0"),
    ] {
        match number(key) {
            Some((_, Ok(n))) if n < minimum => causes.push(Cause::invalid(key, n, detail)),
            Some((v, Err(_))) => {
                return Err(ApiError::bad_request(format!(
                    "{key}: invalid value {v:?}: not an integer"
                )))
            }
            _ => {}
        }
    }
    if let Some(t) = query.get("sinceTime") {
        if t.parse::<jiff::Timestamp>().is_err() {
            return Err(ApiError::bad_request(format!(
                "sinceTime: invalid value {t:?}: not an RFC 3339 time"
            )));
        }
        if query.get("sinceSeconds").is_some() {
            causes.push(Cause::forbidden(
                "",
                "at most one of `sinceTime` or `sinceSeconds` may be specified",
            ));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid("", "PodLogOptions", name, causes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_selectors() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dweb%2Ctier+in+%28a%29&limit=500&dryRun=All",
        ));
        assert_eq!(q.get("labelSelector"), Some("app=web,tier in (a)"));
        assert_eq!(q.int("limit").unwrap(), Some(500));
        assert!(q.dry_run().unwrap());
        assert!(Query::parse(Some("dryRun=Some")).dry_run().is_err());
    }

    /// Every boolean option reads like upstream's: only `0` and `false` (any case) are false.
    #[test]
    fn booleans_read_like_upstreams() {
        for yes in ["true", "True", "TRUE", "1", "t", "yes", "", "%54rue"] {
            let q = Query::parse(Some(&format!("watch={yes}&limit=1")));
            assert!(q.flag("watch"), "watch={yes}");
        }
        assert!(Query::parse(Some("watch")).flag("watch"), "a bare key");
        for no in ["false", "False", "FALSE", "fAlSe", "0"] {
            assert!(
                !Query::parse(Some(&format!("watch={no}"))).flag("watch"),
                "{no}"
            );
        }
        assert!(!Query::parse(Some("limit=1")).flag("watch"), "absent");
        // The first of repeated values counts.
        assert!(Query::parse(Some("watch=True&watch=false")).flag("watch"));
        assert!(!Query::parse(Some("watch=0&watch=true")).flag("watch"));
        // force, a *bool upstream, is "given" whatever its value.
        for given in ["force=", "force=false", "force=True"] {
            assert!(patch_options(&Query::parse(Some(given)), false).is_err());
            assert!(patch_options(
                &Query::parse(Some(&format!("{given}&fieldManager=m"))),
                true
            )
            .is_ok());
        }
        assert!(patch_options(&Query::parse(None), false).is_ok());
        // The Python client's exec and log options reach the node as upstream sends them.
        let q = Query::parse(Some("stdin=True&stdout=True&stderr=False&tty=0"));
        let streams = remote_command_streams(&q);
        assert!(streams.stdin && streams.stdout && !streams.stderr && !streams.tty);
        let q = Query::parse(Some("follow=True&previous=False&timestamps=1&tailLines=5"));
        assert_eq!(
            log_query(&q),
            [
                ("follow", "true".to_string()),
                ("timestamps", "true".to_string()),
                ("tailLines", "5".to_string())
            ]
        );
    }
}
