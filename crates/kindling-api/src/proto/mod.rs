//! Kubernetes protobuf request bodies (`Content-Type: application/vnd.kubernetes.protobuf`) decoded
//! into the JSON object a JSON client would have sent.
//!
//! kubectl's typed commands (`create configmap|deployment|service|secret|job|cronjob|role|
//! rolebinding|namespace|quota|pdb|ingress|priorityclass|…`, `create token`, `auth can-i`,
//! `auth whoami`, `autoscale`) send protobuf; the server works on JSON, so [`decode_protobuf_body`]
//! turns the body into the wire-form JSON (`serde_json::Value`, camelCase) that the Go API server
//! would produce by decoding the protobuf and encoding the object as JSON. (kubectl 1.32 sends
//! `run`, `expose`, `delete`'s DeleteOptions and all patches, `scale` included, as JSON.)
//!
//! For every command the tests cover, the result is exactly what the same command prints with
//! `--dry-run=client -o json`, property order included, less its `null`s (`creationTimestamp`).
//!
//! # Format
//! A body is the 4 bytes `k8s\0` followed by a `runtime.Unknown` message
//! `{typeMeta{apiVersion=1, kind=2}=1, raw=2, contentEncoding=3, contentType=4}` whose `raw` is the
//! object's own message (without TypeMeta; `kind` and `apiVersion` come from the envelope). As in
//! upstream, `contentEncoding` and `contentType` are ignored. Messages are proto2; unknown fields are
//! skipped, repeated scalars may be packed or not, a singular field seen twice keeps the last value
//! (messages merge), map entries are `{key=1, value=2}`.
//!
//! The schema is the generated table `messages.rs` (see `tools/gen_proto_messages.py`): the
//! `generated.proto` messages of every served group plus meta/v1, with facts from the Go types
//! (pointer, `omitempty`, `,inline`) that protobuf alone does not carry.
//!
//! # Which fields appear in the JSON (the zero-value rule)
//! gogo-protobuf writes every non-pointer Go field, zero or not (`name: ""`, `paused: false`,
//! `minReadySeconds: 0`, an empty `status`), and pointer fields only when set. Go's JSON encoder
//! then drops `omitempty` zeros but keeps pointers that are set. So, per field:
//! - absent from the wire: absent from the JSON;
//! - a scalar (string, bytes, number, bool) equal to its zero value: dropped when the Go field is
//!   not a pointer and has `omitempty`; kept otherwise, so `replicas: 0` (`*int32`),
//!   `automountServiceAccountToken: false` (`*bool`) and required `containerPort: 0` survive;
//! - lists and maps: dropped when empty;
//! - a nested message: always an object when present, `{}` included (`"status": {}`,
//!   `"resources": {}`, as Go prints non-pointer structs); `,inline` messages are merged into
//!   their parent (`Volume.volumeSource`, `Probe.handler`);
//! - value-like messages follow the scalar rule with their Go zero value: an unset Time/MicroTime
//!   (JSON `null` upstream) and an empty RawExtension/FieldsV1 are dropped; a zero IntOrString (`0`),
//!   Quantity (`"0"`) or Duration (`"0s"`) is dropped when the field is a non-pointer `omitempty`
//!   one and kept otherwise. Inside lists and maps nothing is dropped (zero times become `null`).
//!
//! Time is second precision (upstream ignores `nanos` of metav1.Time), MicroTime keeps
//! microseconds, both UTC RFC 3339. Bytes are standard base64. Map keys come out sorted, as Go
//! prints them. Strings that are not UTF-8 get U+FFFD, as Go's JSON encoder does.
//!
//! # Limitations
//! - Only the packages in the table: the catalog's groups plus autoscaling/v1 (Scale, and the
//!   HorizontalPodAutoscaler `kubectl autoscale` sends), authentication/v1, authorization/v1 and
//!   meta/v1 (`DeleteOptions` & co., accepted under any group/version as upstream registers them).
//! - Quantities are passed on as written, neither checked nor canonicalized (upstream rejects a
//!   malformed one while decoding and prints `1.5` as `1500m`): the JSON path's rules apply.
//! - A RawExtension holds JSON (or a nested `k8s\0` protobuf object); anything else is a 400.

#![allow(clippy::result_large_err)] // ApiError is the crate's error type

mod decode;
#[rustfmt::skip]
mod messages;
mod order;
mod schema;
mod wire;

pub use order::order_like_upstream;

#[cfg(test)]
mod tests;

use crate::status::ApiError;
use serde_json::Value;

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The 4 bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// How deep messages (and embedded objects) may nest before a body is rejected.
const MAX_DEPTH: usize = 100;

/// Whether a `Content-Type` header names the Kubernetes protobuf media type (parameters ignored).
pub fn is_protobuf_media_type(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(MEDIA_TYPE))
}

/// Decodes a Kubernetes protobuf body (`k8s\0` + `runtime.Unknown`) into the JSON object a JSON
/// client would have sent: `kind` and `apiVersion` first, then the fields in Go order. The body
/// must name its kind and apiVersion (kubectl always does). Malformed input is a 400 BadRequest.
pub fn decode_protobuf_body(body: &[u8]) -> Result<Value, ApiError> {
    decode_protobuf_body_as(body, "", "")
}

/// As [`decode_protobuf_body`], taking the apiVersion and kind the body does not name from the
/// request (upstream fills a missing group/version/kind from the endpoint's). Empty defaults mean
/// none.
pub fn decode_protobuf_body_as(
    body: &[u8],
    default_api_version: &str,
    default_kind: &str,
) -> Result<Value, ApiError> {
    decode::envelope(body, default_api_version, default_kind, 0)
        .map_err(|e| ApiError::bad_request(format!("the protobuf body could not be decoded: {e}")))
}
