//! Object metadata rules shared by every resource (k8s.io/apimachinery validation): name formats,
//! label keys and values, annotations, finalizers, owner references, label selectors; plus the
//! helpers that format field errors the way upstream's `field.Error` does (Go-quoted values,
//! `map[string]string{…}`), since kubectl users read those messages verbatim.

use crate::status::Cause;
use crate::strategy::NameRule;
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// Error message pieces (k8s.io/apimachinery/pkg/util/validation).

/// `must be no more than N characters`.
pub fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// `msg (e.g. 'a',  or 'b', regex used for validation is 'fmt')`, spacing exactly as upstream.
pub fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{e}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

/// `must be between LO and HI, inclusive`.
pub fn inclusive_range_error(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

pub const IS_NEGATIVE_ERROR_MSG: &str = "must be greater than or equal to 0";
pub const FIELD_IMMUTABLE_ERROR_MSG: &str = "field is immutable";
/// Total size of all annotations (keys and values), 256 KiB.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_KEY_MSG: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";

// ---------------------------------------------------------------------------------------------
// Format checks. `*_errors` return upstream's messages (empty = valid); `is_*` return a bool.

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn matches_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| is_lower_alnum(c) || c == '-')
        && s.chars().next().is_some_and(is_lower_alnum)
        && s.chars().last().is_some_and(is_lower_alnum)
}

fn matches_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(matches_dns1123_label)
}

pub fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && matches_dns1123_label(s)
}

pub fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && matches_dns1123_subdomain(s)
}

pub fn is_dns1035_label(s: &str) -> bool {
    s.len() <= 63 && matches_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

pub fn dns1123_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !matches_dns1123_label(s) {
        if matches_dns1123_subdomain(s) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

pub fn dns1123_subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !matches_dns1123_subdomain(s) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

pub fn dns1035_label_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !(matches_dns1123_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())) {
        errs.push(regex_error(
            DNS1035_LABEL_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

fn matches_qualified_name_part(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    !s.is_empty()
        && s.chars()
            .all(|c| alnum(c) || c == '-' || c == '_' || c == '.')
        && s.chars().next().is_some_and(alnum)
        && s.chars().last().is_some_and(alnum)
}

/// Qualified name (label keys, annotation keys, finalizers): `[prefix/]name`.
pub fn qualified_name_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.len() {
        1 => parts[0],
        2 => {
            let prefix = parts[0];
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns1123_subdomain_errors(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            parts[1]
        }
        _ => {
            errs.push(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(QUALIFIED_NAME_MSG, QUALIFIED_NAME_FMT, &["MyName", "my.name", "123-abc"])
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !matches_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

pub fn label_value_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !(value.is_empty() || matches_qualified_name_part(value)) {
        errs.push(regex_error(
            LABEL_VALUE_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Keys of ConfigMap and Secret data.
pub fn config_map_key_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push(max_len_error(253));
    }
    if value.is_empty()
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        errs.push(regex_error(
            CONFIG_KEY_MSG,
            CONFIG_KEY_FMT,
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if value == "." {
        errs.push("must not be '.'".to_string());
    } else if value == ".." {
        errs.push("must not be '..'".to_string());
    } else if value.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

/// Names used as path segments (RBAC objects and the like).
pub fn path_segment_errors(name: &str, prefix: bool) -> Vec<String> {
    if !prefix {
        for bad in [".", ".."] {
            if name == bad {
                return vec![format!("may not be '{bad}'")];
            }
        }
    }
    ["/", "%"]
        .iter()
        .filter(|bad| name.contains(**bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// The messages for a name (or, with `prefix`, a generateName) under a rule.
pub fn name_errors(rule: NameRule, name: &str, prefix: bool) -> Vec<String> {
    let masked;
    let name = if prefix && rule != NameRule::PathSegment && name.len() > 1 && name.ends_with('-') {
        masked = format!("{}a", &name[..name.len() - 2]);
        masked.as_str()
    } else {
        name
    };
    match rule {
        NameRule::Subdomain => dns1123_subdomain_errors(name),
        NameRule::Label => dns1123_label_errors(name),
        NameRule::Rfc1035Label => dns1035_label_errors(name),
        NameRule::PathSegment => path_segment_errors(name, prefix),
    }
}

// ---------------------------------------------------------------------------------------------
// Go-style value formatting, as `field.Error` prints bad values.

/// A string as Go's `%q` (strconv.Quote) prints it; the one copy used everywhere.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() && (c as u32) < 0x10000 => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\U{:08x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON string map as Go's `%#v` prints a `map[string]string` (keys sorted).
pub fn go_string_map(m: Option<&Value>) -> String {
    match m.and_then(Value::as_object) {
        None => "map[string]string(nil)".to_string(),
        Some(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        go_quote(k),
                        go_quote(map[*k].as_str().unwrap_or(""))
                    )
                })
                .collect();
            format!("map[string]string{{{}}}", items.join(", "))
        }
    }
}

/// A JSON string array as Go's `%#v` prints a `[]string`.
pub fn go_string_slice(v: Option<&Value>) -> String {
    match v.and_then(Value::as_array) {
        None => "[]string(nil)".to_string(),
        Some(items) => format!(
            "[]string{{{}}}",
            items
                .iter()
                .map(|i| go_quote(i.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A label selector as Go's `%#v` prints a `metav1.LabelSelector`.
pub fn go_label_selector(sel: &Value) -> String {
    let exprs = match sel.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|e| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(e.get("key").and_then(Value::as_str).unwrap_or("")),
                        go_quote(e.get("operator").and_then(Value::as_str).unwrap_or("")),
                        go_string_slice(e.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        go_string_map(sel.get("matchLabels")),
        exprs
    )
}

/// A scalar JSON value as Go prints it in an `Invalid value:` (strings quoted, numbers bare,
/// `null` for absent).
pub fn go_value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "null".to_string(),
        Some(Value::String(s)) => go_quote(s),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(other) => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Field errors beyond the ones `Cause` has.

/// `Required value: detail` (or just `Required value`).
pub fn required(field: impl Into<String>, detail: &str) -> Cause {
    let message = if detail.is_empty() {
        "Required value".to_string()
    } else {
        format!("Required value: {detail}")
    };
    Cause {
        reason: "FieldValueRequired",
        message,
        field: field.into(),
    }
}

/// `Invalid value: "s": detail` for a string value.
pub fn invalid_str(field: impl Into<String>, value: &str, detail: &str) -> Cause {
    Cause::invalid(field, go_quote(value), detail)
}

/// `Invalid value: <value>` with a preformatted value and an optional detail.
pub fn invalid_raw(field: impl Into<String>, value: &str, detail: &str) -> Cause {
    let message = if detail.is_empty() {
        format!("Invalid value: {value}")
    } else {
        format!("Invalid value: {value}: {detail}")
    };
    Cause {
        reason: "FieldValueInvalid",
        message,
        field: field.into(),
    }
}

/// `Unsupported value: "s": supported values: "a", "b"` for a string value.
pub fn not_supported_str(field: impl Into<String>, value: &str, supported: &[&str]) -> Cause {
    Cause::not_supported(field, go_quote(value), supported)
}

/// `Not found: "s"`.
pub fn not_found(field: impl Into<String>, value: &str) -> Cause {
    Cause {
        reason: "FieldValueNotFound",
        message: format!("Not found: {}", go_quote(value)),
        field: field.into(),
    }
}

/// `Duplicate value: "s"`.
pub fn duplicate_str(field: impl Into<String>, value: &str) -> Cause {
    Cause::duplicate(field, go_quote(value))
}

/// `Too long: may not be more than N bytes`.
pub fn too_long(field: impl Into<String>, max: usize) -> Cause {
    Cause {
        reason: "FieldValueTooLong",
        message: format!("Too long: may not be more than {max} bytes"),
        field: field.into(),
    }
}

/// `Invalid value: <value>: field is immutable` when `new` and `old` differ (absent == null).
pub fn validate_immutable(
    new: Option<&Value>,
    old: Option<&Value>,
    field: &str,
    shown: impl FnOnce() -> String,
) -> Vec<Cause> {
    let norm = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned();
    if norm(new) == norm(old) {
        Vec::new()
    } else {
        vec![invalid_raw(field, &shown(), FIELD_IMMUTABLE_ERROR_MSG)]
    }
}

/// Negative numbers: `Invalid value: -1: must be greater than or equal to 0`.
pub fn validate_nonnegative(v: Option<&Value>, field: &str) -> Vec<Cause> {
    match v.and_then(Value::as_i64) {
        Some(n) if n < 0 => vec![Cause::invalid(field, n, IS_NEGATIVE_ERROR_MSG)],
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Field validators.

/// A qualified name (label key and the like).
pub fn validate_qualified_name(value: &str, field: &str) -> Vec<Cause> {
    qualified_name_errors(value)
        .iter()
        .map(|m| invalid_str(field, value, m))
        .collect()
}

/// A label value.
pub fn validate_label_value(value: &str, field: &str) -> Vec<Cause> {
    label_value_errors(value)
        .iter()
        .map(|m| invalid_str(field, value, m))
        .collect()
}

/// A DNS-1123 label field (container names, port names of services, …).
pub fn validate_dns1123_label(value: &str, field: &str) -> Vec<Cause> {
    dns1123_label_errors(value)
        .iter()
        .map(|m| invalid_str(field, value, m))
        .collect()
}

/// A DNS-1123 subdomain field.
pub fn validate_dns1123_subdomain(value: &str, field: &str) -> Vec<Cause> {
    dns1123_subdomain_errors(value)
        .iter()
        .map(|m| invalid_str(field, value, m))
        .collect()
}

/// A label map (`metadata.labels`, `spec.selector`, `spec.nodeSelector`, …): every error is
/// reported at `field` itself, as upstream does.
pub fn validate_labels(labels: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    if let Some(map) = labels.and_then(Value::as_object) {
        for (k, v) in map {
            errs.extend(validate_qualified_name(k, field));
            errs.extend(validate_label_value(v.as_str().unwrap_or(""), field));
        }
    }
    errs
}

/// Annotation keys (qualified names, case-insensitive) and their total size.
pub fn validate_annotations(annotations: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    if let Some(map) = annotations.and_then(Value::as_object) {
        let mut total = 0usize;
        for (k, v) in map {
            for msg in qualified_name_errors(&k.to_lowercase()) {
                errs.push(invalid_str(field, k, &msg));
            }
            total += k.len() + v.as_str().map_or(0, str::len);
        }
        if total > TOTAL_ANNOTATION_SIZE_LIMIT {
            errs.push(too_long(field, TOTAL_ANNOTATION_SIZE_LIMIT));
        }
    }
    errs
}

const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// One finalizer name: a qualified name, and a standard one unless it has a '/' (errors of the
/// first kind at `list_field`, as upstream reports them, of the second at `item_field`).
pub fn validate_finalizer_name(name: &str, list_field: &str, item_field: &str) -> Vec<Cause> {
    let mut errs = validate_qualified_name(name, list_field);
    if !name.contains('/') && !STANDARD_FINALIZERS.contains(&name) {
        errs.push(invalid_str(
            item_field,
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
    errs
}

fn validate_finalizers(finalizers: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let Some(list) = finalizers.and_then(Value::as_array) else {
        return errs;
    };
    let names: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
    for (i, name) in names.iter().enumerate() {
        errs.extend(validate_finalizer_name(
            name,
            field,
            &format!("{field}[{i}]"),
        ));
    }
    if names.contains(&"orphan") && names.contains(&"foregroundDeletion") {
        errs.push(invalid_raw(
            field,
            &go_string_slice(finalizers),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    errs
}

fn validate_owner_references(refs: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let Some(list) = refs.and_then(Value::as_array) else {
        return errs;
    };
    let mut first_controller: Option<String> = None;
    for r in list {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (api_version, kind, name, uid) = (s("apiVersion"), s("kind"), s("name"), s("uid"));
        let version = api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            errs.push(invalid_str(
                format!("{field}.apiVersion"),
                &api_version,
                "version must not be empty",
            ));
        }
        if kind.is_empty() {
            errs.push(invalid_str(
                format!("{field}.kind"),
                &kind,
                "kind must not be empty",
            ));
        }
        if name.is_empty() {
            errs.push(invalid_str(
                format!("{field}.name"),
                &name,
                "name must not be empty",
            ));
        }
        if uid.is_empty() {
            errs.push(invalid_str(
                format!("{field}.uid"),
                &uid,
                "uid must not be empty",
            ));
        }
        if api_version == "v1" && kind == "Event" {
            errs.push(invalid_raw(
                field,
                &r.to_string(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            let current = format!("{kind}/{name}");
            match &first_controller {
                Some(first) => errs.push(invalid_raw(
                    field,
                    &Value::Array(list.clone()).to_string(),
                    &format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

/// `metadata` of a new object, as upstream's `ValidateObjectMeta` (plus core's finalizer rule).
/// The server resolves `generateName` first, so a name is required here. Cluster-scoped objects
/// are expected to have had `metadata.namespace` cleared by the server, as upstream does.
pub fn validate_object_meta(meta: &Value, namespaced: bool, rule: NameRule) -> Vec<Cause> {
    let mut errs = Vec::new();
    let s = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or("");
    let generate_name = s("generateName");
    if !generate_name.is_empty() {
        for msg in name_errors(rule, generate_name, true) {
            errs.push(invalid_str("metadata.generateName", generate_name, &msg));
        }
    }
    let name = s("name");
    if name.is_empty() {
        errs.push(required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in name_errors(rule, name, false) {
            errs.push(invalid_str("metadata.name", name, &msg));
        }
    }
    if namespaced {
        let ns = s("namespace");
        if ns.is_empty() {
            errs.push(required("metadata.namespace", ""));
        } else {
            for msg in name_errors(NameRule::Label, ns, false) {
                errs.push(invalid_str("metadata.namespace", ns, &msg));
            }
        }
    }
    errs.extend(validate_nonnegative(
        meta.get("generation"),
        "metadata.generation",
    ));
    errs.extend(validate_labels(meta.get("labels"), "metadata.labels"));
    errs.extend(validate_annotations(
        meta.get("annotations"),
        "metadata.annotations",
    ));
    errs.extend(validate_owner_references(
        meta.get("ownerReferences"),
        "metadata.ownerReferences",
    ));
    errs.extend(validate_finalizers(
        meta.get("finalizers"),
        "metadata.finalizers",
    ));
    errs
}

/// `metadata` of an update against the stored object, as upstream's `ValidateObjectMetaUpdate`:
/// immutable identity fields, no new finalizers while deleting, and the same format rules as on
/// create for labels, annotations, owner references and finalizers.
pub fn validate_object_meta_update(new: &Value, old: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    if old.get("deletionTimestamp").is_some_and(|v| !v.is_null()) {
        let olds: Vec<&str> = old
            .get("finalizers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut extra: Vec<&str> = new
            .get("finalizers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|f| !olds.contains(f))
            .collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let shown = extra
                .iter()
                .map(|f| go_quote(f))
                .collect::<Vec<_>>()
                .join(", ");
            errs.push(Cause::forbidden(
                "metadata.finalizers",
                format!("no new finalizers can be added if the object is being deleted, found new finalizers []string{{{shown}}}"),
            ));
        }
    }
    let gen = |m: &Value| m.get("generation").and_then(Value::as_i64).unwrap_or(0);
    if gen(new) < gen(old) {
        errs.push(Cause::invalid(
            "metadata.generation",
            gen(new),
            "must not be decremented",
        ));
    }
    for key in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        let field = format!("metadata.{key}");
        errs.extend(validate_immutable(
            new.get(key),
            old.get(key),
            &field,
            || go_value(new.get(key)),
        ));
    }
    errs.extend(validate_labels(new.get("labels"), "metadata.labels"));
    errs.extend(validate_annotations(
        new.get("annotations"),
        "metadata.annotations",
    ));
    errs.extend(validate_owner_references(
        new.get("ownerReferences"),
        "metadata.ownerReferences",
    ));
    errs.extend(validate_finalizers(
        new.get("finalizers"),
        "metadata.finalizers",
    ));
    errs
}

/// Labels and annotations of an embedded template's metadata (`spec.template.labels`, …: the
/// paths are the template's, without `.metadata`, as upstream reports them).
pub fn validate_template_meta(meta: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut errs = validate_labels(
        meta.and_then(|m| m.get("labels")),
        &format!("{field}.labels"),
    );
    errs.extend(validate_annotations(
        meta.and_then(|m| m.get("annotations")),
        &format!("{field}.annotations"),
    ));
    errs
}

/// A `metav1.LabelSelector`: match labels and match expressions.
pub fn validate_label_selector(sel: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let Some(sel) = sel.filter(|s| s.is_object()) else {
        return errs;
    };
    errs.extend(validate_labels(
        sel.get("matchLabels"),
        &format!("{field}.matchLabels"),
    ));
    for (i, expr) in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("{field}.matchExpressions[{i}]");
        let op = expr.get("operator").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = expr
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match op {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(required(
                        format!("{path}.values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(Cause::forbidden(
                        format!("{path}.values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            _ => errs.push(invalid_str(
                format!("{path}.operator"),
                op,
                "not a valid selector operator",
            )),
        }
        let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
        errs.extend(validate_qualified_name(key, &format!("{path}.key")));
        for (j, v) in values.iter().enumerate() {
            errs.extend(validate_label_value(v, &format!("{path}.values[{j}]")));
        }
    }
    errs
}

/// Whether a selector has no requirements at all.
pub fn selector_is_empty(sel: &Value) -> bool {
    sel.get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty)
        && sel
            .get("matchExpressions")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subdomain_message_matches_upstream() {
        let errs = validate_object_meta(
            &json!({"name": "Foo_bar", "namespace": "default"}),
            true,
            NameRule::Subdomain,
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "metadata.name");
        assert_eq!(
            errs[0].message,
            "Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
    }

    #[test]
    fn label_rules() {
        assert_eq!(
            dns1123_label_errors("a.b"),
            vec!["must not contain dots".to_string()],
        );
        assert_eq!(
            dns1123_label_errors("Web")[0],
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        );
        assert!(is_dns1035_label("web-1"));
        assert!(!is_dns1035_label("1web"));
        assert!(is_dns1123_subdomain("a.b-c.d"));
        assert_eq!(
            dns1123_label_errors(&"a".repeat(64)),
            vec![max_len_error(63)]
        );
    }

    #[test]
    fn name_required_and_namespace_checked() {
        let errs = validate_object_meta(&json!({"namespace": "Bad"}), true, NameRule::Subdomain);
        assert_eq!(
            errs[0].summary(),
            "metadata.name: Required value: name or generateName is required"
        );
        assert_eq!(errs[1].field, "metadata.namespace");
        let errs = validate_object_meta(&json!({"name": "x"}), true, NameRule::Subdomain);
        assert_eq!(errs[0].summary(), "metadata.namespace: Required value");
    }

    #[test]
    fn generate_name_may_end_with_dash() {
        let meta = json!({"name": "web-abcde", "generateName": "web-", "namespace": "default"});
        assert!(validate_object_meta(&meta, true, NameRule::Label).is_empty());
    }

    #[test]
    fn label_keys_and_values() {
        let meta =
            json!({"name": "x", "labels": {"example.com/app": "ok", "bad key": "v", "k": "-bad"}});
        let errs = validate_object_meta(&meta, false, NameRule::Subdomain);
        assert_eq!(errs.len(), 2);
        assert_eq!(
            errs[0].message,
            "Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert_eq!(errs[1].field, "metadata.labels");
        assert!(errs[1]
            .message
            .starts_with("Invalid value: \"-bad\": a valid label must be an empty string"));
        let errs = validate_qualified_name("a/b/c", "metadata.labels");
        assert!(errs[0]
            .message
            .contains("with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"));
        let errs = validate_qualified_name("Bad_Prefix/x", "f");
        assert!(errs[0].message.starts_with(
            "Invalid value: \"Bad_Prefix/x\": prefix part a lowercase RFC 1123 subdomain"
        ));
    }

    #[test]
    fn annotations_size_limit() {
        let big = "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT);
        let meta = json!({"name": "x", "annotations": {"a": big}});
        let errs = validate_object_meta(&meta, false, NameRule::Subdomain);
        assert_eq!(
            errs[0].summary(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
    }

    #[test]
    fn finalizers() {
        let meta = json!({"name": "x", "finalizers": ["example.com/ok", "bogus", "orphan", "foregroundDeletion"]});
        let errs = validate_object_meta(&meta, false, NameRule::Subdomain);
        assert_eq!(
            errs[0].summary(),
            "metadata.finalizers[1]: Invalid value: \"bogus\": name is neither a standard finalizer name nor is it fully qualified"
        );
        assert!(errs[1]
            .message
            .ends_with("finalizer orphan and foregroundDeletion cannot be both set"));
    }

    #[test]
    fn owner_references() {
        let meta = json!({"name": "x", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": true},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "", "controller": true}]});
        let errs = validate_object_meta(&meta, false, NameRule::Subdomain);
        assert_eq!(
            errs[0].summary(),
            "metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty"
        );
        assert!(errs[1]
            .message
            .contains("Found \"true\" in references for ReplicaSet/a and ReplicaSet/b"));
    }

    #[test]
    fn meta_update_immutables() {
        let old = json!({"name": "x", "uid": "1", "generation": 2});
        let new = json!({"name": "x", "uid": "2", "generation": 1});
        let errs = validate_object_meta_update(&new, &old);
        assert_eq!(
            errs[0].summary(),
            "metadata.generation: Invalid value: 1: must not be decremented"
        );
        assert_eq!(
            errs[1].summary(),
            "metadata.uid: Invalid value: \"2\": field is immutable"
        );
    }

    #[test]
    fn go_formatting() {
        assert_eq!(
            go_string_map(Some(&json!({"b": "2", "a": "1"}))),
            "map[string]string{\"a\":\"1\", \"b\":\"2\"}"
        );
        assert_eq!(go_string_map(None), "map[string]string(nil)");
        assert_eq!(
            go_label_selector(&json!({"matchLabels": {"app": "web"}})),
            "v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}"
        );
        assert_eq!(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
    }

    #[test]
    fn selectors() {
        let bad = json!({"matchExpressions": [{"key": "k", "operator": "In"}]});
        assert_eq!(
            validate_label_selector(Some(&bad), "spec.selector")[0].summary(),
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
    }

    #[test]
    fn config_keys() {
        assert!(config_map_key_errors("good.key_1").is_empty());
        assert_eq!(config_map_key_errors("bad/key")[0], "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
        assert_eq!(
            config_map_key_errors(".."),
            vec!["must not be '..'".to_string()]
        );
    }
}
