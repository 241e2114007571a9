//! The cost of a custom resource create on the schema path, in-process and without IO: what
//! the API server asks the custom resource strategy for each create of `kindling-bench crd`'s
//! object (unknown fields for `fieldValidation`, pruning and defaults, schema and CEL
//! validation). Run it under callgrind to count instructions, which the machine's load does
//! not change:
//!
//! ```text
//! cargo test --profile quick -p kindling-api --test crd_create_cost --no-run
//! CREATES=2000 valgrind --tool=callgrind <the test binary> --ignored --exact crd_create_loop
//! ```
//! (the difference between two counts, say 2000 and 1000 creates, over 1000 is the cost of
//! one create, the set-up taken out).

use kindling_api::apiextensions::CustomResourceStrategy;
use kindling_api::strategy::Strategy;
use serde_json::{json, Value};
use std::sync::Arc;

const PROPERTIES: usize = 30;

/// `kindling-bench crd`'s schema: `spec` with 30 properties and two CEL rules.
fn schema() -> Value {
    let mut props = serde_json::Map::new();
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

/// `kindling-bench crd`'s object.
fn object(name: &str) -> Value {
    let mut spec = serde_json::Map::new();
    for i in 0..PROPERTIES {
        let v = match i % 3 {
            0 => json!(format!("bench-{name}-{i}")),
            1 => json!(i * 10),
            _ => json!(["a", "b", "c"]),
        };
        spec.insert(format!("field{i:02}"), v);
    }
    json!({"apiVersion": "bench.example.com/v1", "kind": "Bench",
        "metadata": {"name": name, "namespace": "default"}, "spec": spec})
}

#[test]
#[ignore = "cost measurement: run with --ignored, under callgrind to count instructions"]
fn crd_create_loop() {
    let creates: usize = std::env::var("CREATES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let strategy = CustomResourceStrategy::new(Arc::new(schema()), false);
    let objects: Vec<Value> = (0..creates).map(|i| object(&format!("b-{i:05}"))).collect();
    let t0 = std::time::Instant::now();
    let mut errors = 0;
    for mut obj in objects {
        let unknown = Strategy::unknown_fields(&strategy, &obj).unwrap_or_default();
        strategy.default(&mut obj);
        let causes = strategy.validate(&obj);
        let create = strategy.validate_create(&obj);
        errors += unknown.len() + causes.len() + create.len();
        std::hint::black_box(obj);
    }
    let per = t0.elapsed().as_secs_f64() * 1e6 / creates.max(1) as f64;
    println!("{creates} creates: {per:.1} µs each on the schema path");
    assert_eq!(errors, 0, "the bench object is valid");
}
