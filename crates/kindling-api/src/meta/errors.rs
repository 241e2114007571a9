//! Field error messages, word for word upstream's (k8s.io/apimachinery/pkg/util/validation and
//! `field.Error`): the message pieces, and the [`Cause`]s beyond the ones `Cause` builds itself.

use super::go_quote;
use crate::status::Cause;
use serde_json::Value;

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
