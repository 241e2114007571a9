//! Create and update bodies decoded as kube-apiserver's serializer decodes them, with its
//! answers for what it refuses (all 400 BadRequest):
//!
//! - not JSON (YAML sent as `application/json`, an empty body, malformed JSON) or not an object:
//!   `the object provided is unrecognized (must be of type Namespace): couldn't get
//!   version/kind; json parse error: invalid character 'a' looking for beginning of value
//!   (61706956657273696f6e3a2076310a6b696e64 ...)` — Go's JSON syntax messages and upstream's
//!   30-byte summary of the body;
//! - a kind or version the API does not have: `Foo in version "v1" cannot be handled as a
//!   ConfigMap: no kind "Foo" is registered for version "v1" in scheme "…"`;
//! - a field of the wrong JSON type: `Deployment in version "v1" cannot be handled as a
//!   Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas
//!   of type int32` (and Quantity, IntOrString, time and base64 errors in Go's words);
//! - another kind than the URL's: `Pod in version "v1" cannot be handled as a ConfigMap:
//!   converting (v1.Pod) to (core.ConfigMap): unknown conversion`;
//! - the URL's kind in another version: `the API version in the data (autoscaling/v1) does not
//!   match the expected API version (autoscaling/v2)`.
//!
//! The steps are upstream's (handlers/create.go and update.go over the JSON/YAML serializer and
//! the versioning codec): read apiVersion/kind, default them from the URL, find the body's type,
//! decode into it, convert to the URL's internal type, compare versions. No IO.

#![allow(clippy::result_large_err)] // ApiError is the crate's error type

#[rustfmt::skip]
mod go_types;
mod syntax;
mod types;
mod values;

pub use syntax::syntax_error;
pub use types::type_error;

use crate::catalog::{self, ResourceType};
use crate::patch::go_json_kind;
use crate::ApiError;
use serde_json::{Map, Value};

/// How the body is encoded (its negotiated serializer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Yaml,
}

/// The name of kube-apiserver's scheme as its errors print it.
const SCHEME: &str = "k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30";

/// Go's printing of the anonymous struct upstream reads apiVersion and kind into.
const TYPE_META_STRUCT: &str = "struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }";

/// Kinds metav1 registers in every group version (request options).
const OPTION_KINDS: &[&str] = &[
    "ListOptions",
    "GetOptions",
    "DeleteOptions",
    "CreateOptions",
    "UpdateOptions",
    "PatchOptions",
    "WatchEvent",
];

/// Decodes a create or update body for `target` (the URL's resource): the object, with
/// apiVersion and kind filled in from the URL where the body left them out, or upstream's 400.
pub fn decode(target: &ResourceType, encoding: Encoding, body: &[u8]) -> Result<Value, ApiError> {
    let value = match encoding {
        // Go's syntax check reads the body before anything else; here it runs only when
        // serde_json refuses the body: what serde_json accepts Go's scanner accepts too (both
        // take RFC 8259 JSON; serde_json is the stricter on strings, numbers and depth), so
        // the answer is the same and a well-formed body is scanned once.
        Encoding::Json => serde_json::from_slice(body).map_err(|e| {
            let why = syntax_error(body).unwrap_or_else(|| e.to_string());
            unrecognized(
                target,
                &format!("couldn't get version/kind; json parse error: {why}"),
                body,
            )
        })?,
        Encoding::Yaml => yaml_to_json(body).map_err(|e| unrecognized(target, &e, body))?,
    };
    let (api_version, kind) = type_meta(&value).map_err(|e| unrecognized(target, &e, body))?;
    let (mut group, mut version) =
        parse_group_version(&api_version).map_err(|e| unrecognized(target, &e, body))?;
    // Upstream's gvkWithDefaults: what the body leaves out comes from the URL.
    let kind = if kind.is_empty() {
        target.kind.clone()
    } else {
        kind
    };
    if version.is_empty() && group.is_empty() {
        (group, version) = (target.group.clone(), target.version.clone());
    } else if version.is_empty() && group == target.group {
        version = target.version.clone();
    }
    let cannot = |why: &str| {
        ApiError::bad_request(format!(
            "{kind} in version {version:?} cannot be handled as a {}: {why}",
            target.kind
        ))
    };
    if version.is_empty() {
        return Err(cannot(&format!(
            "Object 'apiVersion' is missing in '{}'",
            String::from_utf8_lossy(body)
        )));
    }
    let gv = if group.is_empty() {
        version.clone()
    } else {
        format!("{group}/{version}")
    };
    // The URL's own type is registered whatever the catalog holds (a resource served from
    // data at run time decodes as itself).
    let own = (group.as_str(), version.as_str(), kind.as_str())
        == (
            target.group.as_str(),
            target.version.as_str(),
            target.kind.as_str(),
        );
    let registered = if own {
        Some(Registered::Resource(target.schema_name()))
    } else {
        registered(&group, &version, &kind)
    };
    let Some(registered) = registered else {
        return Err(cannot(&format!(
            "no kind {kind:?} is registered for version {gv:?} in scheme {SCHEME:?}"
        )));
    };
    if let Registered::Resource(definition) = &registered {
        if let Some(e) = type_error(definition, &value) {
            return Err(cannot(&e));
        }
    }
    let same_internal_type =
        kind == target.kind && internal_package(&group) == internal_package(&target.group);
    if !same_internal_type {
        let go_package = match registered {
            Registered::Option => "v1",
            _ => version.as_str(),
        };
        return Err(cannot(&format!(
            "converting ({go_package}.{kind}) to ({}.{}): unknown conversion",
            internal_package(&target.group),
            target.kind
        )));
    }
    if (group.as_str(), version.as_str()) != (target.group.as_str(), target.version.as_str()) {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({gv}) does not match the expected API version ({})",
            target.api_version()
        )));
    }
    let mut obj = match value {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    obj.insert("apiVersion".into(), Value::String(gv));
    obj.insert("kind".into(), Value::String(kind));
    Ok(Value::Object(obj))
}

/// Upstream's 400 for a body whose type cannot be told, with its summary of the body.
fn unrecognized(target: &ResourceType, why: &str, body: &[u8]) -> ApiError {
    ApiError::bad_request(format!(
        "the object provided is unrecognized (must be of type {}): {why} ({})",
        target.kind,
        summarize(body)
    ))
}

/// Upstream's summary of a body: `<empty>`, the first 30 bytes of a JSON object, or the first
/// 30 bytes in hex, with ` ...` when cut.
fn summarize(body: &[u8]) -> String {
    const MAX: usize = 30;
    let (head, cut) = if body.len() > MAX {
        (&body[..MAX], " ...")
    } else {
        (body, "")
    };
    match body.first() {
        None => "<empty>".into(),
        Some(b'{') => format!("{}{cut}", String::from_utf8_lossy(head)),
        Some(_) => {
            let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
            format!("{hex}{cut}")
        }
    }
}

/// apiVersion and kind as upstream reads them first: Go's `json.Unmarshal` into a two-field
/// struct (keys matched without regard to case, the last one winning; a non-string value is
/// an error).
fn type_meta(value: &Value) -> Result<(String, String), String> {
    let prefix = "couldn't get version/kind; json parse error: ";
    let map = match value {
        Value::Object(map) => map,
        Value::Null => return Ok(Default::default()),
        other => {
            return Err(format!(
                "{prefix}json: cannot unmarshal {} into Go value of type {TYPE_META_STRUCT}",
                go_json_kind(other)
            ))
        }
    };
    let (mut api_version, mut kind) = (String::new(), String::new());
    let mut first_error = None;
    for (key, v) in map {
        let (slot, name) = if key.eq_ignore_ascii_case("apiVersion") {
            (&mut api_version, "apiVersion")
        } else if key.eq_ignore_ascii_case("kind") {
            (&mut kind, "kind")
        } else {
            continue;
        };
        match v {
            Value::String(s) => *slot = s.clone(),
            Value::Null => {}
            other => {
                first_error.get_or_insert_with(|| {
                    format!(
                        "{prefix}json: cannot unmarshal {} into Go struct field .{name} of type string",
                        go_json_kind(other)
                    )
                });
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok((api_version, kind)),
    }
}

/// Upstream's ParseGroupVersion: `` and `/` are empty, `v1` is the core group.
fn parse_group_version(api_version: &str) -> Result<(String, String), String> {
    if api_version.is_empty() || api_version == "/" {
        return Ok(Default::default());
    }
    match api_version.matches('/').count() {
        0 => Ok((String::new(), api_version.to_string())),
        1 => {
            let (g, v) = catalog::split_api_version(api_version);
            Ok((g.to_string(), v.to_string()))
        }
        _ => Err(format!("unexpected GroupVersion string: {api_version}")),
    }
}

/// What a group/version/kind is in the API's scheme.
enum Registered {
    /// A resource: its OpenAPI definition.
    Resource(String),
    /// Its list kind.
    List,
    /// A request option kind.
    Option,
}

fn registered(group: &str, version: &str, kind: &str) -> Option<Registered> {
    let served = catalog::builtin_catalog()
        .iter()
        .filter(|r| r.group == group && r.version == version);
    let mut any = false;
    for r in served {
        any = true;
        if r.kind == kind {
            return Some(Registered::Resource(r.schema_name()));
        }
        if r.list_kind == kind {
            return Some(Registered::List);
        }
    }
    (any && OPTION_KINDS.contains(&kind)).then_some(Registered::Option)
}

/// The Go package of a group's internal types, which every version converts to
/// (events.k8s.io shares core's Event).
fn internal_package(group: &str) -> &str {
    match group {
        "" | "events.k8s.io" => "core",
        "internal.apiserver.k8s.io" => "apiserverinternal",
        g => g.split('.').next().unwrap_or(g),
    }
}

/// sigs.k8s.io/yaml's YAMLToJSON: an empty document is `null`.
fn yaml_to_json(body: &[u8]) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    crate::patch::yaml_to_value(body).map_err(|e| format!("error converting YAML to JSON: {e}"))
}

#[cfg(test)]
mod tests;
