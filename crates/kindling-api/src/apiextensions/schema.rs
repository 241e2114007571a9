//! Custom objects against their CustomResourceDefinition's structural schema, as upstream's
//! apiextensions-apiserver treats them: unknown fields pruned (pruning/algorithm.go), defaults
//! applied (defaulting/algorithm.go), then the object validated (kube-openapi's validator, its
//! errors as upstream converts them to field errors). Pure functions of the schema (the
//! `openAPIV3Schema` JSON) and the object.
//!
//! These take the schema as JSON and compile it for the one call ([`Structural`]); the request
//! path holds each version's compiled schema instead (the custom resource strategy, the
//! catalog entry).

use super::structural::Structural;
use crate::status::Cause;
use serde_json::Value;

/// Drops every field the schema does not specify (unless it preserves unknown fields there);
/// returns the dropped fields' paths, as `unknown field "<path>"` messages in document order.
pub fn prune(schema: &Value, obj: &mut Value) -> Vec<String> {
    Structural::compile(schema).prune(obj, true)
}

/// Pruning of a value of `schema` that is not a resource (a schema's `default`).
pub fn prune_value(schema: &Value, v: &mut Value) -> Vec<String> {
    let compiled = Structural::compile(schema);
    let embedded = compiled.embedded();
    compiled.prune(v, embedded)
}

/// Fills in the schema's `default`s where a field is absent (or null and not nullable), from
/// the outside in, as upstream's structural defaulting.
pub fn apply_defaults(schema: &Value, obj: &mut Value) {
    Structural::compile(schema).apply_defaults(obj);
}

/// The errors of `obj` against `schema`, with upstream's paths and messages. The root's
/// `apiVersion`, `kind` and `metadata` are the generic path's to check.
pub fn validate(schema: &Value, obj: &Value) -> Vec<Cause> {
    Structural::compile(schema).validate(obj)
}

/// The errors of a value of `schema` found at `path` (a schema's `default`).
pub fn validate_value(schema: &Value, v: &Value, path: &str) -> Vec<Cause> {
    Structural::compile(schema).validate_value(v, path)
}

/// The string formats upstream checks (kube-openapi's strfmt registry, the ones CRDs use);
/// unknown formats accept anything, as upstream.
pub(crate) fn format_matches(format: &str, s: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "required": ["size"], "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "color": {"type": "string", "enum": ["red", "green"], "default": "red"},
                "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 5},
                "port": {"x-kubernetes-int-or-string": true},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "when": {"type": "string", "format": "date-time"},
            }},
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
        }})
    }

    #[test]
    fn unknown_fields_are_pruned_except_where_preserved() {
        let mut obj = json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w"},
            "spec": {"size": 1, "extra": 1, "free": {"any": {"thing": 1}}, "labels": {"a": "b"}},
            "junk": true});
        let pruned = prune(&schema(), &mut obj);
        assert_eq!(
            pruned,
            vec!["unknown field \"spec.extra\"", "unknown field \"junk\""]
        );
        assert!(obj.get("junk").is_none());
        assert_eq!(obj["spec"]["free"]["any"]["thing"], 1);
        assert_eq!(obj["metadata"]["name"], "w");
    }

    #[test]
    fn one_of_any_of_and_not() {
        let s = json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
            "not": {"required": ["c"]}}}});
        assert!(validate(&s, &json!({"spec": {"a": "x"}})).is_empty());
        let both: Vec<String> = validate(&s, &json!({"spec": {"a": "x", "b": "y"}}))
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        assert_eq!(
            both,
            ["<nil>: Invalid value: \"\": \"spec\" must validate one and only one schema (oneOf). Found 2 valid alternatives"]
        );
        let none = validate(&s, &json!({"spec": {}}));
        assert_eq!(none.len(), 2, "{none:?}");
        assert_eq!(none[1].field, "spec.a");
    }

    #[test]
    fn defaults_fill_absent_fields() {
        let mut obj = json!({"spec": {"size": 2}});
        apply_defaults(&schema(), &mut obj);
        assert_eq!(obj["spec"]["color"], "red");
    }

    #[test]
    fn errors_are_upstreams() {
        let obj = json!({"spec": {"size": 11, "color": "blue", "name": "ABCDEF",
            "port": true, "tags": ["a", "b", "c"], "when": "yesterday"}});
        let msgs: Vec<String> = validate(&schema(), &obj)
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let want = [
            "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10",
            "spec.color: Unsupported value: \"blue\": supported values: \"red\", \"green\"",
            "spec.name: Too long: may not be more than 5 bytes",
            "spec.name: Invalid value: \"ABCDEF\": spec.name in body should match '^[a-z]+$'",
            "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
            "spec.tags: Too many: 3: must have at most 2 items",
            "spec.when: Invalid value: \"yesterday\": spec.when in body must be of type date-time: \"yesterday\"",
        ];
        for w in want {
            assert!(msgs.iter().any(|m| m == w), "missing {w} in {msgs:#?}");
        }
        let missing = validate(&schema(), &json!({"spec": {"size": "two"}}));
        assert_eq!(
            missing[0].message,
            "Invalid value: \"string\": spec.size in body must be of type integer: \"string\""
        );
        assert_eq!(missing[0].reason, "FieldValueTypeInvalid");
        let required = validate(&schema(), &json!({"spec": {}}));
        assert_eq!(required[0].field, "spec.size");
        assert_eq!(required[0].message, "Required value");
    }
}
