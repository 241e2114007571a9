//! Label keys and values, annotations, and `metav1.LabelSelector` objects: qualified names,
//! the total annotation size, a selector's syntax. (Matching a selector is `crate::selector`'s.)

use super::{
    dns1123_subdomain_errors, invalid_str, max_len_error, regex_error, required, too_long,
};
use crate::status::Cause;
use serde_json::{Map, Value};

const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// Total size of all annotations (keys and values), 256 KiB.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

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
    use crate::meta::*;
    use crate::strategy::NameRule;
    use serde_json::json;

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
    fn selectors() {
        let bad = json!({"matchExpressions": [{"key": "k", "operator": "In"}]});
        assert_eq!(
            validate_label_selector(Some(&bad), "spec.selector")[0].summary(),
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
    }
}
