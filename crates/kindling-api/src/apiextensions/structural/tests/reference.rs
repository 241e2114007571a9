//! The walks as they were before the schema was compiled (reading the JSON schema at every
//! node), kept as the oracle the compiled walks must agree with.
#![allow(dead_code)]

use crate::meta::go_quote;
use crate::status::Cause;
use serde_json::{Map, Value};

/// `a.b`, `a[0]`: how field paths are written.
fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

/// The fields of an embedded object (or the root) that pruning keeps whatever the schema says.
const OBJECT_META_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Drops every field the schema does not specify (unless it preserves unknown fields there);
/// returns the dropped fields' paths, as `unknown field "<path>"` messages in document order.
pub(super) fn prune(schema: &Value, obj: &mut Value) -> Vec<String> {
    let mut pruned = Vec::new();
    prune_at(schema, obj, "", true, &mut pruned);
    pruned
}

/// Pruning of a value of `schema` that is not a resource (a schema's `default`).
pub(super) fn prune_value(schema: &Value, v: &mut Value) -> Vec<String> {
    let mut pruned = Vec::new();
    let embedded = flag(schema, "x-kubernetes-embedded-resource");
    prune_at(schema, v, "", embedded, &mut pruned);
    pruned
}

fn prune_at(schema: &Value, obj: &mut Value, path: &str, keep_meta: bool, out: &mut Vec<String>) {
    match obj {
        Value::Object(map) => {
            let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
            let embedded = flag(schema, "x-kubernetes-embedded-resource");
            let props = properties(schema);
            let additional = schema.get("additionalProperties");
            let mut drop = Vec::new();
            for (key, value) in map.iter_mut() {
                let field = child(path, key);
                if (keep_meta || embedded) && OBJECT_META_FIELDS.contains(&key.as_str()) {
                    if let Some(s) = props.and_then(|p| p.get(key)) {
                        if key != "metadata" {
                            prune_at(s, value, &field, false, out);
                        }
                    }
                    continue;
                }
                if let Some(s) = props.and_then(|p| p.get(key)) {
                    prune_at(s, value, &field, false, out);
                } else if let Some(s) = additional.filter(|a| a.is_object()) {
                    prune_at(s, value, &field, false, out);
                } else if additional == Some(&Value::Bool(true)) || preserve {
                    // Kept as it is.
                } else {
                    drop.push(key.clone());
                    out.push(format!("unknown field {}", go_quote(&field)));
                }
            }
            for key in drop {
                map.shift_remove(&key);
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune_at(s, item, &index(path, i), false, out);
                }
            }
        }
        _ => {}
    }
}

/// Fills in the schema's `default`s where a field is absent (or null and not nullable), from
/// the outside in, as upstream's structural defaulting.
pub(super) fn apply_defaults(schema: &Value, obj: &mut Value) {
    match obj {
        Value::Object(map) => {
            if let Some(props) = properties(schema) {
                for (key, s) in props {
                    let absent = match map.get(key) {
                        None => true,
                        Some(Value::Null) => !flag(s, "nullable"),
                        Some(_) => false,
                    };
                    if absent {
                        if let Some(d) = s.get("default") {
                            map.insert(key.clone(), d.clone());
                        }
                    }
                    if let Some(v) = map.get_mut(key) {
                        apply_defaults(s, v);
                    }
                }
            }
            if let Some(s) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                for v in map.values_mut() {
                    apply_defaults(s, v);
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for item in items {
                    apply_defaults(s, item);
                }
            }
        }
        _ => {}
    }
}

/// The schema's type of a JSON value, as kube-openapi names it in its errors.
fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as kube-openapi's errors show it: strings quoted, everything else as JSON.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => go_quote(s),
        Value::Null => "\"null\"".into(),
        other => other.to_string(),
    }
}

/// Whether `v` has type `t` (an integer is also a number).
fn has_type(v: &Value, t: &str) -> bool {
    let actual = type_of(v);
    actual == t || (t == "number" && actual == "integer")
}

/// The errors of `obj` against `schema`, with upstream's paths and messages. The root's
/// `apiVersion`, `kind` and `metadata` are the generic path's to check.
pub(super) fn validate(schema: &Value, obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    validate_at(schema, obj, "", true, &mut out);
    out
}

/// The errors of a value of `schema` found at `path` (a schema's `default`).
pub(super) fn validate_value(schema: &Value, v: &Value, path: &str) -> Vec<Cause> {
    let mut out = Vec::new();
    validate_at(schema, v, path, false, &mut out);
    out
}

fn validate_at(schema: &Value, v: &Value, path: &str, root: bool, out: &mut Vec<Cause>) {
    if v.is_null() {
        if flag(schema, "nullable") || schema.get("type").is_none() {
            return;
        }
        let t = schema["type"].as_str().unwrap_or_default();
        out.push(type_invalid(
            path,
            "null",
            &format!("{path} in body must be of type {t}: \"null\""),
        ));
        return;
    }
    if flag(schema, "x-kubernetes-int-or-string") {
        if !(v.is_string() || has_type(v, "integer")) {
            out.push(type_invalid(
                path,
                type_of(v),
                &format!(
                    "{path} in body must be of type integer,string: {}",
                    go_quote(type_of(v))
                ),
            ));
        }
    } else if let Some(t) = schema.get("type").and_then(Value::as_str) {
        if !has_type(v, t) {
            out.push(type_invalid(
                path,
                type_of(v),
                &format!(
                    "{path} in body must be of type {t}: {}",
                    go_quote(type_of(v))
                ),
            ));
            return;
        }
    }
    compositions(schema, v, path, out);
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            let list: Vec<String> = allowed.iter().map(enum_text).collect();
            let refs: Vec<&str> = list.iter().map(String::as_str).collect();
            out.push(Cause::not_supported(path, shown(v), &refs));
        }
    }
    match v {
        Value::Number(n) => check_number(schema, n, path, out),
        Value::String(s) => check_string(schema, s, path, out),
        Value::Array(items) => {
            check_array(schema, items, path, out);
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate_at(s, item, &index(path, i), false, out);
                }
            }
        }
        Value::Object(map) => check_object(schema, map, path, root, out),
        _ => {}
    }
}

/// kube-openapi's type error, as upstream turns it into a field error: the value shown is the
/// name of the type the value has.
fn type_invalid(path: &str, actual: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueTypeInvalid",
        message: format!("Invalid value: {}: {detail}", go_quote(actual)),
        field: path.to_string(),
    }
}

/// A composite failure (oneOf, anyOf, allOf, not): kube-openapi reports it without a field,
/// which upstream shows as `<nil>: Invalid value: ""`.
fn composite(message: String) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        message: format!("Invalid value: \"\": {message}"),
        field: "<nil>".into(),
    }
}

/// oneOf, anyOf, allOf and not (value validations only, in a structural schema), as
/// kube-openapi's schema props validator: the composite error, then the errors of the closest
/// failing alternative.
fn compositions(schema: &Value, v: &Value, path: &str, out: &mut Vec<Cause>) {
    let results = |key: &str| -> Vec<Vec<Cause>> {
        schema[key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                let mut errs = Vec::new();
                validate_at(s, v, path, false, &mut errs);
                errs
            })
            .collect()
    };
    let best = |rs: &[Vec<Cause>]| {
        rs.iter()
            .filter(|r| !r.is_empty())
            .min_by_key(|r| r.len())
            .cloned()
    };
    let any = results("anyOf");
    if !any.is_empty() && !any.iter().any(Vec::is_empty) {
        out.push(composite(format!(
            "{} must validate at least one schema (anyOf)",
            go_quote(path)
        )));
        out.extend(best(&any).unwrap_or_default());
    }
    let one = results("oneOf");
    if !one.is_empty() {
        let valid = one.iter().filter(|r| r.is_empty()).count();
        if valid != 1 {
            let more = if valid == 0 {
                "Found none valid".to_string()
            } else {
                format!("Found {valid} valid alternatives")
            };
            out.push(composite(format!(
                "{} must validate one and only one schema (oneOf). {more}",
                go_quote(path)
            )));
            if valid == 0 {
                out.extend(best(&one).unwrap_or_default());
            }
        }
    }
    let all = results("allOf");
    if !all.is_empty() {
        let valid = all.iter().filter(|r| r.is_empty()).count();
        for r in &all {
            out.extend(r.iter().cloned());
        }
        if valid != all.len() {
            let more = if valid == 0 { ". None validated" } else { "" };
            out.push(composite(format!(
                "{} must validate all the schemas (allOf){more}",
                go_quote(path)
            )));
        }
    }
    if let Some(not) = schema.get("not") {
        let mut errs = Vec::new();
        validate_at(not, v, path, false, &mut errs);
        if errs.is_empty() {
            out.push(composite(format!(
                "{} must not validate the schema (not)",
                go_quote(path)
            )));
        }
    }
}

fn enum_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn check_number(schema: &Value, n: &serde_json::Number, path: &str, out: &mut Vec<Cause>) {
    let x = n.as_f64().unwrap_or_default();
    let shown_n = n.to_string();
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        let exclusive = flag(schema, "exclusiveMinimum");
        if x < min || (exclusive && x == min) {
            let rel = if exclusive {
                "greater than"
            } else {
                "greater than or equal to"
            };
            out.push(Cause::invalid(
                path,
                &shown_n,
                &format!(
                    "{path} in body should be {rel} {}",
                    number_text(&schema["minimum"])
                ),
            ));
        }
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        let exclusive = flag(schema, "exclusiveMaximum");
        if x > max || (exclusive && x == max) {
            let rel = if exclusive {
                "less than"
            } else {
                "less than or equal to"
            };
            out.push(Cause::invalid(
                path,
                &shown_n,
                &format!(
                    "{path} in body should be {rel} {}",
                    number_text(&schema["maximum"])
                ),
            ));
        }
    }
    if let Some(m) = schema.get("multipleOf").and_then(Value::as_f64) {
        if m != 0.0 && (x / m).fract() != 0.0 {
            out.push(Cause::invalid(
                path,
                &shown_n,
                &format!(
                    "{path} in body should be a multiple of {}",
                    number_text(&schema["multipleOf"])
                ),
            ));
        }
    }
    if let Some(f) = schema.get("format").and_then(Value::as_str) {
        let fits = match f {
            "int32" => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
            "int64" => n.as_i64().is_some(),
            _ => true,
        };
        if !fits {
            out.push(Cause::invalid(
                path,
                &shown_n,
                &format!("{path} in body must be of type {f}: {}", go_quote(&shown_n)),
            ));
        }
    }
}

fn number_text(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => v.to_string(),
    }
}

fn check_string(schema: &Value, s: &str, path: &str, out: &mut Vec<Cause>) {
    let len = s.chars().count();
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
        if (len as u64) < min {
            out.push(Cause::invalid(
                path,
                go_quote(s),
                &format!("{path} in body should be at least {min} chars long"),
            ));
        }
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        if (len as u64) > max {
            out.push(crate::meta::too_long(
                path,
                usize::try_from(max).unwrap_or(usize::MAX),
            ));
        }
    }
    if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
        if let Ok(re) = regex::Regex::new(p) {
            if !re.is_match(s) {
                out.push(Cause::invalid(
                    path,
                    go_quote(s),
                    &format!("{path} in body should match '{p}'"),
                ));
            }
        }
    }
    if let Some(f) = schema.get("format").and_then(Value::as_str) {
        if !format_matches(f, s) {
            out.push(Cause::invalid(
                path,
                go_quote(s),
                &format!("{path} in body must be of type {f}: {}", go_quote(s)),
            ));
        }
    }
}

/// The string formats upstream checks (kube-openapi's strfmt registry, the ones CRDs use);
/// unknown formats accept anything, as upstream.
pub(super) fn format_matches(format: &str, s: &str) -> bool {
    match format {
        "date-time" | "datetime" => s.parse::<jiff::Timestamp>().is_ok(),
        "date" => s.parse::<jiff::civil::Date>().is_ok() && s.len() == 10,
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "cidr" => s.split_once('/').is_some_and(|(ip, bits)| {
            ip.parse::<std::net::IpAddr>().is_ok() && bits.parse::<u8>().is_ok()
        }),
        "uuid" => {
            let hex: Vec<&str> = s.split('-').collect();
            hex.len() == 5
                && [8, 4, 4, 4, 12]
                    .iter()
                    .zip(&hex)
                    .all(|(n, h)| h.len() == *n && h.chars().all(|c| c.is_ascii_hexdigit()))
        }
        "byte" => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(s).is_ok()
        }
        "email" => s.contains('@') && !s.starts_with('@') && !s.ends_with('@'),
        "hostname" => crate::meta::is_dns1123_subdomain(s),
        _ => true,
    }
}

fn check_array(schema: &Value, items: &[Value], path: &str, out: &mut Vec<Cause>) {
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
        if (items.len() as u64) < min {
            out.push(Cause::invalid(
                path,
                items.len(),
                &format!("{path} in body should have at least {min} items"),
            ));
        }
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
        if (items.len() as u64) > max {
            out.push(Cause {
                reason: "FieldValueTooMany",
                message: format!("Too many: {}: must have at most {max} items", items.len()),
                field: path.to_string(),
            });
        }
    }
    if flag(schema, "uniqueItems") || schema["x-kubernetes-list-type"] == "set" {
        for (i, a) in items.iter().enumerate() {
            if items[..i].contains(a) {
                out.push(Cause::duplicate(index(path, i), shown(a)));
            }
        }
    }
}

fn check_object(
    schema: &Value,
    map: &Map<String, Value>,
    path: &str,
    root: bool,
    out: &mut Vec<Cause>,
) {
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for r in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(r) {
                out.push(Cause::required(child(path, r)));
            }
        }
    }
    if let Some(min) = schema.get("minProperties").and_then(Value::as_u64) {
        if (map.len() as u64) < min {
            out.push(Cause::invalid(
                path,
                map.len(),
                &format!("{path} in body should have at least {min} properties"),
            ));
        }
    }
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64) {
        if (map.len() as u64) > max {
            out.push(Cause {
                reason: "FieldValueTooMany",
                message: format!("Too many: {}: must have at most {max} items", map.len()),
                field: path.to_string(),
            });
        }
    }
    let embedded = flag(schema, "x-kubernetes-embedded-resource");
    let props = properties(schema);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (key, value) in map {
        if (root || embedded) && OBJECT_META_FIELDS.contains(&key.as_str()) && key == "metadata" {
            continue;
        }
        let field = child(path, key);
        if let Some(s) = props.and_then(|p| p.get(key)) {
            validate_at(s, value, &field, false, out);
        } else if let Some(s) = additional {
            validate_at(s, value, &field, false, out);
        }
    }
    if embedded {
        for k in ["apiVersion", "kind"] {
            if map.get(k).and_then(Value::as_str).is_none_or(str::is_empty) {
                out.push(Cause::required(child(path, k)));
            }
        }
    }
}
