//! PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch,
//! with the errors the upstream apiserver gives for each, plus the body parser of apply patches.
//!
//! - [`json`] — `application/json-patch+json`.
//! - [`merge`] — `application/merge-patch+json`.
//! - [`strategic`] — `application/strategic-merge-patch+json`, as
//!   k8s.io/apimachinery/pkg/util/strategicpatch applies it on the server.
//! - [`meta`] — which fields merge by which key (the `patchStrategy`/`patchMergeKey` tags), from
//!   the generated [`merge_keys`] table.
//!
//! Every function answers with the crate's [`ApiError`], whose size clippy's `result_large_err`
//! objects to; it is the error the server sends, so it is returned as is.

#![allow(clippy::result_large_err)]

pub mod json;
pub mod merge;
#[rustfmt::skip]
pub mod merge_keys;
pub mod meta;
pub mod strategic;
mod strategic_lists;
#[cfg(test)]
mod strategic_tests;

pub(crate) use json::go_json_kind;
pub use json::{apply_json_patch, json_patch_strict_errors};
pub use merge::apply_merge_patch;
pub use meta::{merge_key, patch_meta, PatchMeta};
pub use strategic::apply_strategic_merge_patch;

use crate::status::ApiError;
use serde_json::Value;

/// The patch types a PATCH request can carry, by its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`
    Json,
    /// `application/merge-patch+json`
    Merge,
    /// `application/strategic-merge-patch+json`
    StrategicMerge,
    /// `application/apply-patch+yaml` (server-side apply)
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` header value; parameters (`; charset=utf-8`) and case are
    /// ignored. `None` for anything else (the server answers 415).
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }

    /// The media type, as discovery and error messages name it.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }
}

/// Parses a body that is JSON or YAML (an apply patch, or a YAML create body) into a JSON value.
///
/// A body whose first non-blank character is `{` or `[` is read as JSON (and, if that fails, as
/// YAML flow style); anything else as one YAML document (mapping keys that are not strings become
/// strings, as upstream's YAML-to-JSON conversion does). An empty body gives `Value::Null`.
/// Errors are 400 BadRequest naming the line and column.
pub fn yaml_or_json_to_value(body: &[u8]) -> Result<Value, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => Ok(Value::Null),
        Some(b'{' | b'[') => serde_json::from_slice(body).or_else(|e| {
            parse_yaml(body).map_err(|_| {
                ApiError::bad_request(format!("error decoding JSON: {}", json_error_text(&e)))
            })
        }),
        Some(_) => parse_yaml(body),
    }
}

fn parse_yaml(body: &[u8]) -> Result<Value, ApiError> {
    let yaml: serde_norway::Value = serde_norway::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("error decoding YAML: {}", yaml_error_text(&e)))
    })?;
    yaml_to_json(yaml).map_err(|m| ApiError::bad_request(format!("error decoding YAML: {m}")))
}

/// One YAML document as JSON, its error worded as Go's YAML library words it
/// (`yaml: line 1: did not find expected ',' or ']'`), for bodies decoded as upstream decodes
/// them (`crate::body`).
pub fn yaml_to_value(body: &[u8]) -> Result<Value, String> {
    let yaml: serde_norway::Value = serde_norway::from_slice(body).map_err(|e| {
        let text = e.to_string();
        // serde_norway: "<problem> at line L column C[, while <context> at line …]".
        let problem = text.split(" at line ").next().unwrap_or(&text);
        match e.location() {
            Some(loc) => format!("yaml: line {}: {problem}", loc.line()),
            None => format!("yaml: {problem}"),
        }
    })?;
    yaml_to_json(yaml).map_err(|m| format!("yaml: {m}"))
}

fn yaml_error_text(e: &serde_norway::Error) -> String {
    let text = e.to_string();
    match e.location() {
        // serde_norway already says "at line L column C" in most messages.
        Some(loc) if !text.contains("line") => {
            format!("{text} at line {} column {}", loc.line(), loc.column())
        }
        _ => text,
    }
}

/// serde_json's message, which names the line and column.
pub(crate) fn json_error_text(e: &serde_json::Error) -> String {
    if e.is_syntax() || e.is_eof() {
        format!("invalid JSON: {e}")
    } else {
        e.to_string()
    }
}

fn yaml_to_json(v: serde_norway::Value) -> Result<Value, String> {
    use serde_norway::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                match serde_json::Number::from_f64(f) {
                    Some(n) => Value::Number(n),
                    None => return Err(format!("cannot represent the number {n} in JSON")),
                }
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = serde_json::Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Null => "null".to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    other => return Err(format!("invalid map key: {other:?}")),
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(t) => yaml_to_json(t.value)?,
    })
}

/// Formats a JSON value the way Go's `fmt` prints the `interface{}` it decodes to (`%v`), as
/// upstream's patch error messages show values: `map[name:a value:b]`, `[a b]`, `<nil>`.
pub(crate) fn go_fmt(v: &Value) -> String {
    let mut out = String::new();
    go_fmt_into(v, &mut out);
    out
}

fn go_fmt_into(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.push_str(s),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                out.push_str(&n.to_string());
            } else {
                out.push_str(&go_float(n.as_f64().unwrap_or(0.0)));
            }
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                go_fmt_into(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                go_fmt_into(&m[k.as_str()], out);
            }
            out.push(']');
        }
    }
}

/// Go's `%v` of a float64: shortest representation, exponent form outside [1e-4, 1e21).
fn go_float(f: f64) -> String {
    let a = f.abs();
    if a == 0.0 || (1e-4..1e21).contains(&a) {
        return format!("{f}");
    }
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((mant, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mant}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_types() {
        assert_eq!(
            PatchType::from_content_type("application/json-patch+json"),
            Some(PatchType::Json)
        );
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchType::Merge)
        );
        assert_eq!(
            PatchType::from_content_type("Application/Strategic-Merge-Patch+JSON"),
            Some(PatchType::StrategicMerge)
        );
        assert_eq!(
            PatchType::from_content_type("application/apply-patch+yaml"),
            Some(PatchType::Apply)
        );
        assert_eq!(PatchType::from_content_type("application/json"), None);
        assert_eq!(PatchType::from_content_type(""), None);
        for t in [
            PatchType::Json,
            PatchType::Merge,
            PatchType::StrategicMerge,
            PatchType::Apply,
        ] {
            assert_eq!(PatchType::from_content_type(t.content_type()), Some(t));
        }
    }

    #[test]
    fn yaml_and_json_bodies() {
        let y = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: \"1\"\n  1: one\n  on: yes\n";
        let v = yaml_or_json_to_value(y).unwrap();
        assert_eq!(v["metadata"]["name"], "x");
        assert_eq!(v["data"]["a"], "1");
        assert_eq!(v["data"]["1"], "one");
        let j = yaml_or_json_to_value(br#" {"kind":"Pod","spec":{"n":12345678901234}}"#).unwrap();
        assert_eq!(j, json!({"kind":"Pod","spec":{"n":12345678901234u64}}));
        assert_eq!(yaml_or_json_to_value(b"  \n").unwrap(), Value::Null);
        // YAML flow style also starts with a brace.
        assert_eq!(
            yaml_or_json_to_value(b"{kind: Pod, n: [1, 2]}").unwrap(),
            json!({"kind":"Pod","n":[1,2]})
        );
    }

    #[test]
    fn yaml_errors_name_the_line() {
        let e = yaml_or_json_to_value(b"metadata:\n  name: x\n bad: : :\n").unwrap_err();
        assert_eq!(e.code, 400);
        assert!(
            e.message.starts_with("error decoding YAML: "),
            "{}",
            e.message
        );
        assert!(e.message.contains("line 3"), "{}", e.message);
        let e = yaml_or_json_to_value(b"{\"a\": 1,\n \"b\": [}").unwrap_err();
        assert_eq!(e.code, 400);
        assert!(e.message.contains("line 2 column"), "{}", e.message);
    }

    #[test]
    fn go_formatting() {
        assert_eq!(
            go_fmt(&json!({"value": "b", "name": 1})),
            "map[name:1 value:b]"
        );
        assert_eq!(go_fmt(&json!(["a", null, true, 1.5])), "[a <nil> true 1.5]");
        assert_eq!(go_fmt(&json!(1e21)), "1e+21");
        assert_eq!(go_fmt(&json!(80.0)), "80");
    }
}
