//! The checker over a table: upstream's cases (apiextensions-apiserver schema/cel
//! validation_test.go and compilation_test.go; cel-go's checker messages and locations) and
//! rules it must accept.

use super::*;
use serde_json::json;

/// A resource's schema with a `spec` of every kind of property the checker types.
fn schema() -> Json {
    json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "replicas": {"type": "integer"},
        "ratio": {"type": "number"},
        "name": {"type": "string"},
        "enabled": {"type": "boolean"},
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"},
        "grace": {"type": "string", "format": "duration"},
        "data": {"type": "string", "format": "byte"},
        "port": {"x-kubernetes-int-or-string": true},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "tags": {"type": "array", "items": {"type": "string"}},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            "key": {"type": "string"}, "weight": {"type": "integer"}}}},
        "a": {"type": "object", "properties": {"b": {"type": "integer"}}},
        "withUnknown": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        "anyval": {"x-kubernetes-preserve-unknown-fields": true},
        "anyvalList": {"type": "array", "items": {"x-kubernetes-preserve-unknown-fields": true}},
        "embedded": {"type": "object", "x-kubernetes-embedded-resource": true,
            "x-kubernetes-preserve-unknown-fields": true},
        "dash-name": {"type": "integer"},
        "namespace": {"type": "integer"}
    }}}})
}

fn typed(rule: &str) -> Result<String, String> {
    let s = schema();
    let program = super::super::compile(rule).expect("parses");
    check(&program, rule, &s, true, false).map(|t| format!("{t:?}"))
}

#[test]
fn rules_that_type_check() {
    let cases = [
        ("self.spec.replicas > 1", "Bool"),
        ("self.spec.replicas + 1", "Int"),
        ("self.spec.ratio > 1", "Bool"),
        ("self.spec.ratio >= 0.5 && self.spec.replicas < 3u", "Bool"),
        ("self.spec.ratio == 1", "Bool"),
        ("self.spec.end > self.spec.start", "Bool"),
        ("self.spec.end - self.spec.start <= duration('24h')", "Bool"),
        ("self.spec.end - self.spec.start", "Duration"),
        ("self.spec.start + self.spec.grace", "Timestamp"),
        ("timestamp(self.spec.name).getFullYear() >= 2020", "Bool"),
        ("string(self.spec.start) == self.spec.name", "Bool"),
        ("self.spec.data == b'abc'", "Bool"),
        ("has(self.spec.a.b)", "Bool"),
        ("has(self.spec.labels.app)", "Bool"),
        ("self.spec.labels.app == 'x'", "Bool"),
        ("self.spec.labels['app'].startsWith('x')", "Bool"),
        ("self.spec.tags.all(t, t.size() < 10)", "Bool"),
        ("self.spec.tags.exists_one(t, t == 'a')", "Bool"),
        (
            "self.spec.items.all(i, i.weight > 0 && i.key != '')",
            "Bool",
        ),
        ("self.spec.items.map(i, i.weight).sum() > 0", "Bool"),
        ("self.spec.items.map(i, i.weight).sum()", "Dyn"),
        ("self.spec.items[0].key", "String"),
        ("self.spec.labels.all(k, k.startsWith('a'))", "Bool"),
        (
            "type(self.spec.port) == int ? self.spec.port > 0 : self.spec.port.endsWith('%')",
            "Bool",
        ),
        ("self.spec.port == 'x'", "Bool"),
        ("has(self.spec.withUnknown)", "Bool"),
        ("self.metadata.name.startsWith('a')", "Bool"),
        ("self.apiVersion == 'v1' && self.kind == 'Widget'", "Bool"),
        (
            "self.spec.embedded.kind == 'Pod' && self.spec.embedded.metadata.name != ''",
            "Bool",
        ),
        (
            "self.spec.dash__dash__name > 0 && self.spec.__namespace__ > 0",
            "Bool",
        ),
        (
            "quantity(self.spec.name).isGreaterThan(quantity('1Gi'))",
            "Dyn",
        ),
        ("self.spec.?name.orValue('') == ''", "Bool"),
        ("[1, 2].all(x, x > 0)", "Bool"),
        ("self.spec.replicas == oldSelf.spec.replicas", "Bool"),
        ("42", "Int"),
        ("self.spec", "Object"),
    ];
    for (rule, want) in cases {
        let got = typed(rule);
        assert!(
            got.as_deref().is_ok_and(|t| t.starts_with(want)),
            "{rule}: {got:?}, want {want}"
        );
    }
}

#[test]
fn type_errors_as_cel_go_reports_them() {
    let cases = [
        (
            "self.spec.foo == 1",
            "ERROR: <input>:1:10: undefined field 'foo'\n | self.spec.foo == 1\n | .........^",
        ),
        (
            "has(self.spec.a.z)",
            "ERROR: <input>:1:4: undefined field 'z'\n | has(self.spec.a.z)\n | ...^",
        ),
        (
            "has(self.metadata.namespace)",
            "ERROR: <input>:1:4: undefined field 'namespace'\n | has(self.metadata.namespace)\n | ...^",
        ),
        (
            "self.metadata.labels.size() > 0",
            "ERROR: <input>:1:14: undefined field 'labels'\n | self.metadata.labels.size() > 0\n | .............^",
        ),
        (
            "has(self.spec.withUnknown.field1)",
            "ERROR: <input>:1:4: undefined field 'field1'\n | has(self.spec.withUnknown.field1)\n | ...^",
        ),
        (
            "has(self.spec.anyval)",
            "ERROR: <input>:1:4: undefined field 'anyval'\n | has(self.spec.anyval)\n | ...^",
        ),
        (
            "has(self.spec.anyvalList)",
            "ERROR: <input>:1:4: undefined field 'anyvalList'\n | has(self.spec.anyvalList)\n | ...^",
        ),
        (
            "has(self.spec.embedded.spec)",
            "ERROR: <input>:1:4: undefined field 'spec'\n | has(self.spec.embedded.spec)\n | ...^",
        ),
        (
            "self.spec.__illegal__ == 301",
            "ERROR: <input>:1:10: undefined field '__illegal__'\n | self.spec.__illegal__ == 301\n | .........^",
        ),
        (
            "self.spec.name > 1",
            "ERROR: <input>:1:16: found no matching overload for '_>_' applied to '(string, int)'\n | self.spec.name > 1\n | ...............^",
        ),
        (
            "self.spec.name == null",
            "ERROR: <input>:1:16: found no matching overload for '_==_' applied to '(string, null)'\n | self.spec.name == null\n | ...............^",
        ),
        (
            "self.spec.replicas + 0.5 > 1.0",
            "ERROR: <input>:1:20: found no matching overload for '_+_' applied to '(int, double)'\n | self.spec.replicas + 0.5 > 1.0\n | ...................^",
        ),
        (
            "self.spec.end - self.spec.grace > self.spec.name",
            "ERROR: <input>:1:33: found no matching overload for '_>_' applied to '(google.protobuf.Timestamp, string)'\n | self.spec.end - self.spec.grace > self.spec.name\n | ................................^",
        ),
        (
            "self.spec.replicas.value > 1",
            "ERROR: <input>:1:19: type 'int' does not support field selection\n | self.spec.replicas.value > 1\n | ..................^",
        ),
        (
            "self.spec.items.all(i, i.wieght > 0)",
            "ERROR: <input>:1:25: undefined field 'wieght'\n | self.spec.items.all(i, i.wieght > 0)\n | ........................^",
        ),
    ];
    for (rule, want) in cases {
        assert_eq!(typed(rule), Err(want.to_string()), "{rule}");
    }
}

#[test]
fn every_error_is_reported_in_order() {
    let got = typed("self.spec.y == 1 || self.spec.x == 2").unwrap_err();
    assert_eq!(got.matches("ERROR: ").count(), 2, "{got}");
    assert!(got.find("'y'") < got.find("'x'"), "{got}");
}

/// `oldSelf` is the node's type, except with `optionalOldSelf` (an optional, which the
/// checker does not type: accepted).
#[test]
fn old_self_has_the_node_type() {
    let s = schema();
    let rule = "oldSelf.spec.foo == 1";
    let program = super::super::compile(rule).unwrap();
    assert!(check(&program, rule, &s, true, false).is_err());
    assert!(check(&program, rule, &s, true, true).is_ok());
}
