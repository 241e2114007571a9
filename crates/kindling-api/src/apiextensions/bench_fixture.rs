//! The custom resource of the CRD benchmark (`kindling-bench crd`), shared with the cost test
//! that counts its schema path's instructions (kindling-api `tests/crd_create_cost.rs`): a
//! `spec` of 30 properties (strings, integers, lists of strings) with two CEL rules.

use serde_json::{json, Map, Value};

const PROPERTIES: usize = 30;

/// The version's `openAPIV3Schema`.
pub fn schema() -> Value {
    let mut props = Map::new();
    for i in 0..PROPERTIES {
        let s = match i % 3 {
            0 => json!({"type": "string", "maxLength": 64}),
            1 => json!({"type": "integer", "minimum": 0}),
            _ => {
                json!({"type": "array", "maxItems": 8, "items": {"type": "string", "maxLength": 32}})
            }
        };
        props.insert(format!("field{i:02}"), s);
    }
    json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": props,
            "x-kubernetes-validations": [
                {"rule": "self.field01 <= 1000000", "message": "field01 too large"},
                {"rule": "self.field00.startsWith('bench')", "messageExpression": "'field00 is ' + self.field00"}]}}})
}

/// A valid object named `name` (no namespace).
pub fn object(name: &str) -> Value {
    let mut spec = Map::new();
    for i in 0..PROPERTIES {
        let v = match i % 3 {
            0 => json!(format!("bench-{name}-{i}")),
            1 => json!(i * 10),
            _ => json!(["a", "b", "c"]),
        };
        spec.insert(format!("field{i:02}"), v);
    }
    json!({"apiVersion": "bench.example.com/v1", "kind": "Bench",
        "metadata": {"name": name}, "spec": spec})
}
