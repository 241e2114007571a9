//! The compiled walks against the reference (the schema read as JSON at every node): the same
//! objects, dropped fields and errors for a table of schemas and objects.

mod reference;

use super::Structural;
use serde_json::{json, Value};

fn schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "widget",
            json!({"type": "object", "properties": {
                "spec": {"type": "object", "required": ["size"], "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                    "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1.5, "exclusiveMaximum": true, "multipleOf": 0.5},
                    "small": {"type": "integer", "format": "int32"},
                    "color": {"type": "string", "enum": ["red", "green"], "default": "red"},
                    "level": {"type": "integer", "enum": [1, 2, 3]},
                    "name": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 5},
                    "bad": {"type": "string", "pattern": "(unclosed"},
                    "port": {"x-kubernetes-int-or-string": true},
                    "tags": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}},
                    "set": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "integer"}},
                    "unique": {"type": "array", "uniqueItems": true, "items": {"type": "object",
                        "properties": {"a": {"type": "string", "default": "x"}}}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}},
                    "closed": {"type": "object", "additionalProperties": false, "properties": {"k": {"type": "string"}}},
                    "open": {"type": "object", "additionalProperties": true},
                    "when": {"type": "string", "format": "date-time"},
                    "ip": {"type": "string", "format": "ipv4"},
                    "maybe": {"type": "string", "nullable": true, "default": "m"},
                    "counts": {"type": "object", "minProperties": 1, "maxProperties": 2},
                    "nested": {"type": "object", "default": {"inner": {}}, "properties": {
                        "inner": {"type": "object", "properties": {
                            "deep": {"type": "string", "default": "d"},
                            "keep": {"type": "integer"}}}}},
                    "weird": {"type": 5},
                    "unknownType": {"type": "thing"},
                }},
                "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
            }}),
        ),
        (
            "compositions",
            json!({"type": "object", "properties": {"spec": {"type": "object",
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}, "n": {"type": "integer"}},
                "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
                "anyOf": [{"properties": {"n": {"minimum": 5}}}, {"properties": {"n": {"maximum": 1}}}],
                "allOf": [{"properties": {"a": {"maxLength": 3}}}, {"properties": {"b": {"pattern": "^b"}}}],
                "not": {"required": ["c"]}}}}),
        ),
        (
            "embedded",
            json!({"type": "object", "properties": {
                "apiVersion": {"type": "string", "enum": ["example.com/v1"]},
                "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 3}}},
                "spec": {"type": "object", "properties": {
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                        "properties": {"spec": {"type": "object", "properties": {"x": {"type": "integer", "default": 1}}},
                            "kind": {"type": "string", "default": "Pod"}}},
                    "raw": {"type": "object", "x-kubernetes-embedded-resource": true,
                        "x-kubernetes-preserve-unknown-fields": true}}}}}),
        ),
        (
            "both",
            json!({"type": "object", "properties": {"m": {"type": "object",
                "properties": {"fixed": {"type": "object", "default": {}}},
                "additionalProperties": {"type": "object", "properties": {"z": {"type": "integer", "default": 9}}}}}}),
        ),
        (
            "root-default",
            json!({"type": "object", "properties": {
                "metadata": {"type": "object", "properties": {"labels": {"type": "object", "default": {"a": "b"}}}},
                "spec": {"type": "object", "default": {}, "properties": {
                    "items": {"type": "array", "items": {"type": "object", "required": ["name"],
                        "properties": {"name": {"type": "string"}, "v": {"type": "integer", "default": 0}}}}}}}}),
        ),
    ]
}

fn objects() -> Vec<Value> {
    vec![
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {"x": "y"}},
            "spec": {"size": 1, "extra": 1, "free": {"any": {"thing": 1}}, "labels": {"a": "b"}}, "junk": true}),
        json!({"spec": {"size": 11, "color": "blue", "name": "ABCDEF", "port": true, "tags": ["a", "b", "c"],
            "when": "yesterday", "ratio": 1.5, "small": 3_000_000_000_i64, "level": 4, "bad": "x",
            "set": [1, 2, 1], "unique": [{"a": "y"}, {"a": "y"}, {}], "labels": {"k": "long", "n": 1},
            "closed": {"k": "v", "x": 1}, "open": {"o": 1}, "ip": "1.2.3", "maybe": null,
            "counts": {}, "nested": {"inner": {"keep": 1, "drop": 2}}, "weird": null, "unknownType": 1}}),
        json!({"spec": {"size": "two", "tags": [], "ratio": 0, "name": "a", "counts": {"a": 1, "b": 2, "c": 3},
            "nested": null, "port": "http", "maybe": "set"}}),
        json!({"spec": {}}),
        json!({"spec": {"a": "x"}}),
        json!({"spec": {"a": "toolong", "b": "y", "n": 3, "c": 1}}),
        json!({"spec": {"n": 6, "b": "b"}}),
        json!({"apiVersion": "example.com/v2", "kind": "K", "metadata": {"name": "long-name", "extra": 1},
            "spec": {"template": {"apiVersion": "v1", "metadata": {"name": "p"}, "spec": {"y": 1}, "other": 1},
                "raw": {"kind": "", "anything": {"goes": 1}}}}),
        json!({"m": {"fixed": {"z": 1, "q": 2}, "dyn": {"q": 1}, "dyn2": {}}}),
        json!({"metadata": {"name": "r"}, "spec": {"items": [{"name": "a"}, {"v": 1, "x": 2}]}}),
        json!({"kind": "Bare"}),
        json!([1, 2]),
        json!(null),
        json!("text"),
    ]
}

/// Causes as comparable text.
fn texts(causes: &[crate::status::Cause]) -> Vec<String> {
    causes
        .iter()
        .map(|c| format!("{} {}: {}", c.reason, c.field, c.message))
        .collect()
}

#[test]
fn every_walk_agrees_with_the_reference() {
    for (name, schema) in schemas() {
        let compiled = Structural::compile(&schema);
        for obj in objects() {
            let case = format!("schema {name}, object {obj}");

            let mut want = obj.clone();
            let want_pruned = reference::prune(&schema, &mut want);
            let mut got = obj.clone();
            assert_eq!(compiled.prune(&mut got, true), want_pruned, "prune: {case}");
            assert_eq!(got, want, "prune: {case}");
            assert_eq!(
                serde_json::to_string(&got).ok(),
                serde_json::to_string(&want).ok(),
                "prune order: {case}"
            );
            assert_eq!(
                compiled.unknown_fields(&obj),
                want_pruned,
                "unknown: {case}"
            );

            reference::apply_defaults(&schema, &mut want);
            let mut got = obj.clone();
            assert_eq!(
                compiled.prune_and_default(&mut got),
                want_pruned,
                "prune+default: {case}"
            );
            assert_eq!(
                serde_json::to_string(&got).ok(),
                serde_json::to_string(&want).ok(),
                "prune+default: {case}"
            );

            let mut want_d = obj.clone();
            reference::apply_defaults(&schema, &mut want_d);
            let mut got_d = obj.clone();
            compiled.apply_defaults(&mut got_d);
            assert_eq!(
                serde_json::to_string(&got_d).ok(),
                serde_json::to_string(&want_d).ok(),
                "default: {case}"
            );

            assert_eq!(
                texts(&compiled.validate(&obj)),
                texts(&reference::validate(&schema, &obj)),
                "validate: {case}"
            );
            assert_eq!(
                texts(&compiled.validate(&want)),
                texts(&reference::validate(&schema, &want)),
                "validate defaulted: {case}"
            );
            assert_eq!(
                texts(&compiled.validate_value(&obj, "spec.default")),
                texts(&reference::validate_value(&schema, &obj, "spec.default")),
                "validate_value: {case}"
            );
            let mut want_v = obj.clone();
            let want_vp = reference::prune_value(&schema, &mut want_v);
            let mut got_v = obj.clone();
            assert_eq!(
                compiled.prune(&mut got_v, compiled.embedded()),
                want_vp,
                "prune_value: {case}"
            );
            assert_eq!(got_v, want_v, "prune_value: {case}");
        }
    }
}

#[test]
fn the_table_finds_errors_and_drops() {
    // The comparison above is only worth something if the cases do go wrong somewhere.
    let (_, widget) = &schemas()[0];
    let c = Structural::compile(widget);
    assert!(c.validate(&objects()[1]).len() > 15);
    assert_eq!(c.unknown_fields(&objects()[0]).len(), 2);
    let mut o = objects()[3].clone();
    assert!(c.prune_and_default(&mut o).is_empty());
    assert_eq!(o["spec"]["color"], "red");
    assert_eq!(o["spec"]["nested"]["inner"]["deep"], "d");
}

#[test]
fn paths_render_as_upstreams() {
    use super::Path;
    let root = Path::Root("");
    let spec = Path::Field(&root, "spec");
    let item = Path::Index(&spec, 2);
    assert_eq!(Path::Field(&item, "name").render(), "spec[2].name");
    assert_eq!(Path::Index(&root, 0).render(), "[0]");
    let prefixed = Path::Root("spec.default");
    assert_eq!(Path::Field(&prefixed, "a").render(), "spec.default.a");
}
