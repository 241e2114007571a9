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

use kindling_api::apiextensions::bench_fixture::{object, schema};
use kindling_api::apiextensions::CustomResourceStrategy;
use kindling_api::strategy::Strategy;
use serde_json::Value;
use std::sync::Arc;

#[test]
#[ignore = "cost measurement: run with --ignored, under callgrind to count instructions"]
fn crd_create_loop() {
    let creates: usize = std::env::var("CREATES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let strategy = CustomResourceStrategy::new(Arc::new(schema()), false);
    let objects: Vec<Value> = (0..creates)
        .map(|i| {
            let mut o = object(&format!("b-{i:05}"));
            o["metadata"]["namespace"] = "default".into();
            o
        })
        .collect();
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
