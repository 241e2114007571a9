use super::*;
use serde_json::json;

fn schema() -> Value {
    json!({"type": "object", "properties": {"spec": {"type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.replicas <= self.maxReplicas", "message": "replicas must not exceed maxReplicas"},
            {"rule": "self.mode == oldSelf.mode", "message": "mode is immutable", "reason": "FieldValueForbidden"},
            {"rule": "self.name.matches('^[a-z]+$')"},
            {"rule": "self.replicas < 100", "messageExpression": "'replicas is ' + string(self.replicas) + ', above 99'"},
            {"rule": "self.replicas != 42", "fieldPath": ".replicas", "message": "not the answer"}],
        "properties": {"replicas": {"type": "integer"}, "maxReplicas": {"type": "integer"},
            "mode": {"type": "string"}, "name": {"type": "string", "maxLength": 20,
                "x-kubernetes-validations": [{"rule": "self != 'forbidden'", "message": "no"}]},
            "ports": {"type": "array", "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"], "maxItems": 10,
                "items": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string", "maxLength": 10}, "port": {"type": "integer"}},
                    "x-kubernetes-validations": [{"rule": "self.port >= oldSelf.port", "message": "ports only grow"}]}},
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "maxItems": 10,
                "items": {"type": "string", "maxLength": 10,
                    "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}},
            "first": {"type": "string", "x-kubernetes-validations": [
                {"rule": "!oldSelf.hasValue() || oldSelf.value() == self", "optionalOldSelf": true, "message": "first is fixed once set"}]}}}}})
}

/// The errors of a create (`old` None) or an update, as `field: message`.
fn messages(obj: Value, old: Option<Value>) -> Vec<String> {
    let s = schema();
    let rules = Rules::compile(&s);
    let mut causes = rules.validate(&s, &obj);
    match old {
        Some(old) => causes.extend(rules.validate_transitions(&s, &obj, &old)),
        None => causes.extend(rules.validate_create(&s, &obj)),
    }
    causes
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect()
}

fn spec(v: Value) -> Value {
    let mut base = json!({"replicas": 1, "maxReplicas": 2, "mode": "a", "name": "web"});
    if let (Some(b), Value::Object(extra)) = (base.as_object_mut(), v) {
        b.extend(extra);
    }
    json!({"spec": base})
}

#[test]
fn rules_as_upstream() {
    // (what, new spec fields, old spec fields (None: a create), the errors)
    let cases: Vec<(&str, Value, Option<Value>, Vec<&str>)> = vec![
        ("valid", json!({}), None, vec![]),
        (
            "message, objects not shown",
            json!({"replicas": 3}),
            None,
            vec!["spec: Invalid value: replicas must not exceed maxReplicas"],
        ),
        (
            "default message",
            json!({"name": "Web"}),
            None,
            vec!["spec: Invalid value: failed rule: self.name.matches('^[a-z]+$')"],
        ),
        (
            "scalars are shown",
            json!({"name": "forbidden"}),
            None,
            vec!["spec.name: Invalid value: \"forbidden\": no"],
        ),
        (
            "messageExpression",
            json!({"replicas": 100, "maxReplicas": 200}),
            None,
            vec!["spec: Invalid value: replicas is 100, above 99"],
        ),
        (
            "fieldPath",
            json!({"replicas": 42, "maxReplicas": 50}),
            None,
            vec!["spec.replicas: Invalid value: not the answer"],
        ),
        (
            "reason",
            json!({"mode": "b"}),
            Some(json!({})),
            vec!["spec: Forbidden: mode is immutable"],
        ),
        (
            "list-map items correlate by key",
            json!({"ports": [{"name": "b", "port": 1}, {"name": "a", "port": 5}]}),
            Some(json!({"ports": [{"name": "a", "port": 6}, {"name": "b", "port": 1}]})),
            vec!["spec.ports[1]: Invalid value: ports only grow"],
        ),
        (
            "new list-map items have no old value",
            json!({"ports": [{"name": "c", "port": 1}]}),
            Some(json!({"ports": [{"name": "a", "port": 6}]})),
            vec![],
        ),
        (
            "set items correlate by value",
            json!({"tags": ["x", "y"]}),
            Some(json!({"tags": ["y"]})),
            vec![],
        ),
        (
            "optionalOldSelf on create",
            json!({"first": "a"}),
            None,
            vec![],
        ),
        (
            "optionalOldSelf on update",
            json!({"first": "b"}),
            Some(json!({"first": "a"})),
            vec!["spec.first: Invalid value: \"b\": first is fixed once set"],
        ),
    ];
    for (what, new, old, want) in cases {
        let got = messages(spec(new), old.map(spec));
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn evaluation_costs_are_charged() {
    // A quadratic rule over a long list: over upstream's per-call limit.
    let s = json!({"type": "object", "properties": {"list": {"type": "array",
        "items": {"type": "string"},
        "x-kubernetes-validations": [{"rule": "self.all(x, self.all(y, x.contains(y)))", "message": "m"}]}}});
    let long: Vec<String> = (0..400).map(|i| format!("{i:0>50}")).collect();
    let causes = Rules::compile(&s).validate(&s, &json!({"list": long}));
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].field, "list");
    assert_eq!(causes[0].message, "Invalid value: \"array\": 'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: m");
    // A short one is cheap.
    assert!(Rules::compile(&s)
        .validate(&s, &json!({"list": ["a", "a"]}))
        .is_empty());
}

fn definition_errors(s: &Value) -> Vec<String> {
    let mut out = Vec::new();
    rule_errors(s, "spec.validation.openAPIV3Schema", &mut out);
    out.iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect()
}

#[test]
fn definitions_are_checked_as_upstream() {
    let p = "spec.validation.openAPIV3Schema";
    let cases: Vec<(&str, Value, Vec<String>)> = vec![
        ("compiles", json!({"type": "object", "x-kubernetes-validations": [{"rule": "self.a =="}]}),
            vec![format!("{p}.x-kubernetes-validations[0].rule: Invalid value: apiextensions.ValidationRule{{Rule:\"self.a ==\", Message:\"\", MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}}: compilation failed: ")]),
        ("optionalOldSelf needs oldSelf", json!({"type": "object", "x-kubernetes-validations": [{"rule": "true", "optionalOldSelf": true}]}),
            vec![format!("{p}.x-kubernetes-validations[0].optionalOldSelf: Invalid value: true: may not be set if oldSelf is not used in rule")]),
        ("oldSelf in an atomic list", json!({"type": "object", "properties": {"l": {"type": "array", "maxItems": 2,
            "items": {"type": "string", "maxLength": 5, "x-kubernetes-validations": [{"rule": "self == oldSelf"}]}}}}),
            vec![format!("{p}.properties[l].items.x-kubernetes-validations[0].rule: Invalid value: \"self == oldSelf\": oldSelf cannot be used on the uncorrelatable portion of the schema within {p}.properties[l].items")]),
        ("fieldPath must exist", json!({"type": "object", "properties": {"a": {"type": "string"}},
            "x-kubernetes-validations": [{"rule": "true", "fieldPath": ".b"}]}),
            vec![format!("{p}.x-kubernetes-validations[0].fieldPath: Invalid value: \".b\": must be a valid path")]),
        ("per-rule cost", json!({"type": "object", "properties": {"l": {"type": "array", "items": {"type": "string"},
            "x-kubernetes-validations": [{"rule": "self.all(x, self.all(y, x == y))"}]}}}),
            vec![format!("{p}.properties[l].x-kubernetes-validations[0].rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"),
                // As upstream: that one rule is also over the whole schema's limit.
                format!("{p}.properties[l].x-kubernetes-validations[0].rule: Forbidden: contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"),
                format!("{p}: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of more than 100x")]),
        ("bounded sizes keep it cheap", json!({"type": "object", "properties": {"l": {"type": "array", "maxItems": 10,
            "items": {"type": "string", "maxLength": 10},
            "x-kubernetes-validations": [{"rule": "self.all(x, self.all(y, x == y))"}]}}}), vec![]),
        ("a rule under an unbounded list runs once per item", json!({"type": "object", "properties": {"l": {"type": "array",
            "items": {"type": "string", "x-kubernetes-validations": [{"rule": "self.matches('^[a-z]+$')"}]}}}}),
            vec![format!("{p}.properties[l].items.x-kubernetes-validations[0].rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"),
                format!("{p}.properties[l].items.x-kubernetes-validations[0].rule: Forbidden: contributed to estimated rule cost total"),
                format!("{p}: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget")]),
        ("rules are type checked", json!({"type": "object", "properties": {"spec": {"type": "object",
            "properties": {"a": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "self.foo == 1"}]}}}),
            vec![format!("{p}.properties[spec].x-kubernetes-validations[0].rule: Invalid value: apiextensions.ValidationRule{{Rule:\"self.foo == 1\", Message:\"\", MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}}: compilation failed: ERROR: <input>:1:5: undefined field 'foo'  | self.foo == 1  | ....^")]),
        ("a rule must evaluate to a bool", json!({"type": "object", "properties": {"a": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "self.a + 1"}]}),
            vec![format!("{p}.x-kubernetes-validations[0].rule: Invalid value: apiextensions.ValidationRule{{Rule:\"self.a + 1\", Message:\"\", MessageExpression:\"\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}}: cel expression must evaluate to a bool")]),
        ("a messageExpression must evaluate to a string", json!({"type": "object", "properties": {"a": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "self.a > 1", "messageExpression": "self.a"}]}),
            vec![format!("{p}.x-kubernetes-validations[0].messageExpression: Invalid value: apiextensions.ValidationRule{{Rule:\"self.a > 1\", Message:\"\", MessageExpression:\"self.a\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}}: messageExpression must evaluate to a string")]),
        ("a messageExpression is type checked", json!({"type": "object", "properties": {"a": {"type": "integer"}},
            "x-kubernetes-validations": [{"rule": "self.a > 1", "messageExpression": "'a is ' + self.b"}]}),
            vec![format!("{p}.x-kubernetes-validations[0].messageExpression: Invalid value: apiextensions.ValidationRule{{Rule:\"self.a > 1\", Message:\"\", MessageExpression:\"'a is ' + self.b\", Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}}: messageExpression compilation failed: ERROR: <input>:1:15: undefined field 'b'")]),
        ("a rule the checker cannot type is accepted", json!({"type": "object", "properties": {"q": {"type": "string", "maxLength": 10}},
            "x-kubernetes-validations": [{"rule": "quantity(self.q).isGreaterThan(quantity('1'))"}]}), vec![]),
    ];
    for (what, s, want) in cases {
        let got = definition_errors(&s);
        assert_eq!(got.len(), want.len(), "{what}: {got:#?}");
        for (g, w) in got.iter().zip(&want) {
            assert!(g.starts_with(w.as_str()), "{what}:\n got {g}\nwant {w}");
        }
    }
}

#[test]
fn total_cost_of_a_definition() {
    // Sixteen rules of 6.4% of the total limit each (each within the per-rule limit).
    let rules: Vec<Value> = (0..16)
        .map(|_| json!({"rule": "self.all(x, x.matches('^[a-z]+$'))"}))
        .collect();
    let s = json!({"type": "object", "properties": {"l": {"type": "array", "maxItems": 1000,
        "items": {"type": "string", "maxLength": 8000}, "x-kubernetes-validations": rules}}});
    let got = definition_errors(&s);
    assert!(got.iter().any(|e| e.starts_with("spec.validation.openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget by factor of ")), "{got:#?}");
    assert_eq!(got.iter().filter(|e| e.ends_with("contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema")).count(), 4, "{got:#?}");
}

#[test]
fn property_names_are_escaped_as_upstream() {
    let s = json!({"type": "object", "properties": {"spec": {"type": "object",
        "x-kubernetes-validations": [{"rule": "!has(self.__namespace__) || self.__namespace__ != self.x__dash__y", "message": "same"}],
        "properties": {"namespace": {"type": "string", "maxLength": 10}, "x-y": {"type": "string", "maxLength": 10}}}}});
    let rules = Rules::compile(&s);
    assert!(rules
        .validate(&s, &json!({"spec": {"namespace": "a", "x-y": "b"}}))
        .is_empty());
    assert_eq!(
        rules.validate(&s, &json!({"spec": {"namespace": "a", "x-y": "a"}}))[0].message,
        "Invalid value: same"
    );
    assert_eq!(
        super::super::cel::escape("a__b.c/d"),
        Some("a__underscores__b__dot__c__slash__d".into())
    );
    assert_eq!(
        super::super::cel::unescape("a__underscores__b__dot__c__slash__d"),
        "a__b.c/d"
    );
    assert_eq!(super::super::cel::escape("1a"), None);
}

#[test]
#[ignore = "timing aid: cargo test --release -p kindling-api -- --ignored --nocapture crd_timing"]
fn crd_timing() {
    use super::super::bench_fixture;
    use crate::strategy::Strategy;
    let schema = bench_fixture::schema();
    let obj = bench_fixture::object("b");
    let st = super::super::CustomResourceStrategy::new(std::sync::Arc::new(schema.clone()), false);
    let n = 20_000;
    let time = |what: &str, f: &mut dyn FnMut()| {
        let t = std::time::Instant::now();
        for _ in 0..n {
            f();
        }
        println!(
            "{what}: {:.1} µs",
            t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
        );
    };
    time("unknown_fields", &mut || {
        std::hint::black_box(st.unknown_fields(&obj));
    });
    time("default", &mut || {
        let mut o = obj.clone();
        st.default(&mut o);
    });
    let structural = super::super::structural::Structural::compile(&schema);
    time("schema validate", &mut || {
        std::hint::black_box(structural.validate(&obj));
    });
    let rules = Rules::compile(&schema);
    time("rules validate", &mut || {
        std::hint::black_box(rules.validate(&schema, &obj));
    });
    time("validate_create", &mut || {
        std::hint::black_box(st.validate_create(&obj));
    });
    time("clone", &mut || {
        std::hint::black_box(obj.clone());
    });
    let spec_schema = &schema["properties"]["spec"];
    let spec_v = &obj["spec"];
    time("to_cel_typed", &mut || {
        std::hint::black_box(super::super::cel::to_cel_typed(spec_v, spec_schema));
    });
    time("to_cel", &mut || {
        std::hint::black_box(super::super::cel::to_cel(spec_v));
    });
    time("shape", &mut || {
        std::hint::black_box(Shape::of_value(spec_v));
    });
    let p = super::super::cel::compile("self.field00.startsWith('bench')").unwrap();
    let shape = Shape::of_value(spec_v);
    time("estimate", &mut || {
        std::hint::black_box(cost::estimate(p.expression(), &[("self", shape.clone())]));
    });
    time("context", &mut || {
        let v = super::super::cel::to_cel(spec_v);
        std::hint::black_box(super::super::cel::context(vec![("self", v)]));
    });
    let ctx = super::super::cel::context(vec![("self", super::super::cel::to_cel(spec_v))]);
    time("execute", &mut || {
        let _ = std::hint::black_box(p.execute(&ctx));
    });
}

/// The definitions of widely used projects (Gateway API, cert-manager, prometheus-operator)
/// pass upstream's checks, the type checker's included. Run by hand with the files on disk
/// (not committed): `KINDLING_THIRD_PARTY_CRDS=dir1:dir2 cargo test -p kindling-api --lib --
/// --ignored third_party_definitions`.
#[test]
#[ignore = "reads third-party CRDs from KINDLING_THIRD_PARTY_CRDS"]
fn third_party_definitions() {
    let dirs = std::env::var("KINDLING_THIRD_PARTY_CRDS").unwrap_or_default();
    let mut checked = 0;
    let mut types = std::collections::BTreeMap::new();
    let mut failed = Vec::new();
    for dir in dirs.split(':').filter(|d| !d.is_empty()) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            for doc in text.split("\n---") {
                let Ok(crd) = serde_norway::from_str::<Value>(doc) else {
                    continue;
                };
                if crd["kind"] != "CustomResourceDefinition" {
                    continue;
                }
                checked += 1;
                for v in crd["spec"]["versions"].as_array().into_iter().flatten() {
                    count_types(&v["schema"]["openAPIV3Schema"], true, &mut types);
                }
                let errors = super::super::validate_crd(&crd);
                if !errors.is_empty() {
                    failed.push(format!("{}: {errors:#?}", entry.path().display()));
                }
            }
        }
    }
    println!(
        "{checked} definitions checked; their rules' types as the checker sees them: {types:?}"
    );
    assert!(checked > 0, "no definitions in {dirs:?}");
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// How many rules of `schema` the checker types as what (`Bool`: known; `Dyn`: accepted unseen).
fn count_types(schema: &Value, root: bool, out: &mut std::collections::BTreeMap<String, usize>) {
    for rule in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let text = str_at(rule, &["rule"]);
        let Ok(program) = super::super::cel::compile(text) else {
            continue;
        };
        let optional = rule["optionalOldSelf"] == true;
        let ty = super::super::cel::check::check(&program, text, schema, root, optional)
            .map_or_else(|e| e, |t| format!("{t:?}"));
        *out.entry(ty).or_default() += 1;
    }
    let children = schema["properties"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
        .chain(
            ["items", "additionalProperties"]
                .iter()
                .map(|k| &schema[*k]),
        );
    for child in children.filter(|c| c.is_object()) {
        count_types(child, child["x-kubernetes-embedded-resource"] == true, out);
    }
}

/// Ratcheting of plain rules is by the rule's node (as upstream's), whatever its fieldPath;
/// transition rules are not ratcheted.
#[test]
fn rules_ratchet_by_their_node() {
    let s = json!({"type": "object", "properties": {
        "metadata": {"type": "object"},
        "spec": {"type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.count < 5", "fieldPath": ".count", "message": "spec rule"}],
            "properties": {
                "count": {"type": "integer",
                    "x-kubernetes-validations": [{"rule": "self < 6", "message": "count rule"}]},
                "note": {"type": "string"}}}}});
    let rules = Rules::compile(&s);
    let old = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"count": 7, "note": "a"}});
    let messages = |new: Value| -> Vec<String> {
        rules
            .validate_ratcheting(&s, &new, &old)
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    };
    assert_eq!(rules.validate(&s, &old).len(), 2, "both rules fail");
    // Only the labels changed: spec is unchanged, nothing runs.
    let relabelled = json!({"metadata": {"labels": {"a": "2"}}, "spec": {"count": 7, "note": "a"}});
    assert_eq!(messages(relabelled), Vec::<String>::new());
    // The note changed: spec's rule runs (its error at its fieldPath), count's does not.
    let renoted = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"count": 7, "note": "b"}});
    assert_eq!(messages(renoted), ["spec.count: Invalid value: spec rule"]);
    // The count changed to another bad value: both run.
    let recounted = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"count": 8, "note": "a"}});
    assert_eq!(
        messages(recounted),
        [
            "spec.count: Invalid value: spec rule",
            "spec.count: Invalid value: 8: count rule"
        ]
    );
}
