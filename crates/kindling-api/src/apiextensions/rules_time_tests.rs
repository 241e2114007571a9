//! Timestamps and durations in rules, with upstream's cases (apiextensions-apiserver's
//! schema/cel validation_test.go: "duration format", "date format", "date-time format",
//! "conversions").

use super::*;
use serde_json::json;

/// The errors of `obj` (the value of `spec`) against `rules` on a `spec` of `props`.
fn errors(props: Value, rules: &[&str], obj: Value) -> Vec<String> {
    let rules: Vec<Value> = rules.iter().map(|r| json!({"rule": r})).collect();
    let s = json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": props, "x-kubernetes-validations": rules}}});
    let compiled = Rules::compile(&s);
    assert_eq!(compiled.programs.len(), rules.len(), "every rule compiles");
    compiled
        .validate(&s, &json!({"spec": obj}))
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect()
}

/// `vals` as `val1`, `val2` … of the given formats (`""`: a plain string; `integer` etc.: a type).
fn vals(kinds: &[&str], values: &[Value]) -> (Value, Value) {
    let mut props = serde_json::Map::new();
    let mut obj = serde_json::Map::new();
    for (i, (kind, v)) in kinds.iter().zip(values).enumerate() {
        let schema = match *kind {
            "integer" | "number" | "boolean" => json!({"type": kind}),
            "" => json!({"type": "string"}),
            format => json!({"type": "string", "format": format}),
        };
        props.insert(format!("val{}", i + 1), schema);
        obj.insert(format!("val{}", i + 1), v.clone());
    }
    (Value::Object(props), Value::Object(obj))
}

/// (upstream's case name, the kinds of val1…, their values, rules that hold)
type FormatCase = (
    &'static str,
    Vec<&'static str>,
    Vec<Value>,
    Vec<&'static str>,
);

#[test]
fn formatted_strings_are_timestamps_and_durations_as_upstream() {
    let cases: Vec<FormatCase> = vec![
        (
            "duration format",
            vec!["duration", "duration"],
            vec![json!("1h2m3s4ms"), json!("1h2m3s4ms")],
            vec![
                "self.val1 == self.val2",
                "self.val1 == duration('1h2m3s4ms')",
                "self.val1 == duration('1h2m') + duration('3s4ms')",
                "self.val1.getHours() == 1",
                "self.val1.getMinutes() == 62",
                "self.val1.getSeconds() == 3723",
                "self.val1.getMilliseconds() == 3723004",
                "type(self.val1) == google.protobuf.Duration",
            ],
        ),
        (
            "date format",
            vec!["date", "date"],
            vec![json!("1997-07-16"), json!("1997-07-16")],
            vec![
                "self.val1 == self.val2",
                "self.val1 == timestamp('1997-07-16T00:00:00.000Z')",
                "self.val1.getDate() == 16",
                "self.val1.getMonth() == 06",
                "self.val1.getFullYear() == 1997",
                "type(self.val1) == google.protobuf.Timestamp",
            ],
        ),
        (
            "date-time format",
            vec!["date-time", "date-time"],
            vec![
                json!("2011-08-18T19:03:37.010000000+01:00"),
                json!("2011-08-18T19:03:37.010000000+01:00"),
            ],
            vec![
                "self.val1 == self.val2",
                "self.val1 == timestamp('2011-08-18T19:03:37.010+01:00')",
                "self.val1 == timestamp('2011-08-18T00:00:00.000+01:00') + duration('19h3m37s10ms')",
                "self.val1.getDate('01:00') == 18",
                "self.val1.getMonth('01:00') == 7",
                "self.val1.getFullYear('01:00') == 2011",
                "self.val1.getHours('01:00') == 19",
                "self.val1.getMinutes('01:00') == 03",
                "self.val1.getSeconds('01:00') == 37",
                "self.val1.getMilliseconds('01:00') == 10",
                "self.val1.getHours('UTC') == 18",
                "type(self.val1) == google.protobuf.Timestamp",
            ],
        ),
        (
            "conversions",
            vec![
                "", "byte", "", "duration", "", "date-time", "", "date", "duration",
            ],
            vec![
                json!("10"),
                json!("MTA="),
                json!("3723.004s"),
                json!("1h2m3s4ms"),
                json!("2011-08-18T19:03:37.01+01:00"),
                json!("2011-08-18T19:03:37.01+01:00"),
                json!("2011-08-18T00:00:00Z"),
                json!("2011-08-18"),
                json!("2 days"),
            ],
            vec![
                "bytes(self.val1) == self.val2",
                "string(self.val2) == self.val1",
                "duration(self.val3) == self.val4",
                "string(self.val4) == self.val3",
                "timestamp(self.val5) == self.val6",
                // cel-go writes a timestamp in the offset it carries.
                "string(self.val6) == self.val5",
                "string(timestamp('2024-01-01T10:00:00+01:00')) == '2024-01-01T10:00:00+01:00'",
                "string(self.val6 + duration('1h')) == '2011-08-18T20:03:37.01+01:00'",
                "string(timestamp('2024-01-01T10:00:00.500-05:30')) == '2024-01-01T10:00:00.5-05:30'",
                "string(timestamp('2024-01-01T10:00:00+00:00')) == '2024-01-01T10:00:00Z'",
                "timestamp(self.val7) == self.val8",
                "string(self.val8) == self.val7",
                // strfmt's looser durations (not CEL's duration()).
                "self.val9 == duration('48h')",
            ],
        ),
    ];
    for (name, kinds, values, rules) in cases {
        let (props, obj) = vals(&kinds, &values);
        assert_eq!(errors(props, &rules, obj), Vec::<String>::new(), "{name}");
    }
}

/// A definition with upstream's usual time rules.
fn window() -> Value {
    json!({
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"},
        "ttl": {"type": "string"},
        "created": {"type": "string"}})
}

#[test]
fn time_rules_of_a_definition() {
    let rules = [
        "self.end > self.start",
        "duration(self.ttl) < duration('24h')",
        "timestamp(self.created).getFullYear() >= 2020",
        "self.end - self.start <= duration('168h')",
    ];
    let good = json!({"start": "2026-01-01T10:00:00Z", "end": "2026-01-02T09:30:00+01:00",
        "ttl": "90m", "created": "2026-12-07T13:00:00Z"});
    assert_eq!(errors(window(), &rules, good.clone()), Vec::<String>::new());
    let with = |k: &str, v: &str| {
        let mut o = good.clone();
        o[k] = json!(v);
        o
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            with("end", "2026-01-01T10:59:59+01:00"),
            vec!["spec: Invalid value: failed rule: self.end > self.start"],
        ),
        (
            with("end", "2026-02-01T00:00:00Z"),
            vec!["spec: Invalid value: failed rule: self.end - self.start <= duration('168h')"],
        ),
        (
            with("ttl", "25h"),
            vec!["spec: Invalid value: failed rule: duration(self.ttl) < duration('24h')"],
        ),
        // CEL's duration() is Go's syntax: no days.
        (
            with("ttl", "1d"),
            vec!["spec: Invalid value: \"object\": type conversion error from 'string' to 'google.protobuf.Duration' evaluating rule: duration(self.ttl) < duration('24h')"],
        ),
        (
            with("created", "yesterday"),
            vec!["spec: Invalid value: \"object\": type conversion error from 'string' to 'google.protobuf.Timestamp' evaluating rule: timestamp(self.created).getFullYear() >= 2020"],
        ),
        (
            with("created", "2019-12-31T23:59:59Z"),
            vec!["spec: Invalid value: failed rule: timestamp(self.created).getFullYear() >= 2020"],
        ),
    ];
    for (obj, want) in cases {
        assert_eq!(errors(window(), &rules, obj.clone()), want, "{obj}");
    }
}

#[test]
fn bad_literals_fail_evaluation() {
    let cases = [
        (
            "timestamp('1000-00-00T00:00:00Z') > timestamp(self.created)",
            "type conversion error from 'string' to 'google.protobuf.Timestamp'",
        ),
        (
            "duration('1') < duration('1h')",
            "type conversion error from 'string' to 'google.protobuf.Duration'",
        ),
        (
            "timestamp('0000-01-01T00:00:00Z') < timestamp(self.created)",
            "timestamp overflow",
        ),
    ];
    let obj = json!({"created": "2026-12-07T13:00:00Z"});
    for (rule, err) in cases {
        assert_eq!(
            errors(window(), &[rule], obj.clone()),
            vec![format!(
                "spec: Invalid value: \"object\": {err} evaluating rule: {rule}"
            )],
        );
    }
}

#[test]
fn bad_literals_are_refused_with_the_definition() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
        "properties": window(),
        "x-kubernetes-validations": [
            {"rule": "self.end > timestamp('1000-00-00T00:00:00Z')"},
            {"rule": "self.end > self.start", "messageExpression": "'over ' + string(duration('1d'))"}]}}});
    let mut out = Vec::new();
    rule_errors(&schema, "spec.validation.openAPIV3Schema", &mut out);
    let got: Vec<String> = out
        .iter()
        .map(|c| format!("{}: {}", c.field, c.message))
        .collect();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got[0].starts_with("spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: "), "{}", got[0]);
    assert!(got[0].ends_with(": compilation failed: ERROR: <input>:1:22: invalid timestamp  | self.end > timestamp('1000-00-00T00:00:00Z')  | .....................^"), "{}", got[0]);
    assert!(got[1].ends_with(": messageExpression compilation failed: ERROR: <input>:1:27: invalid duration argument  | 'over ' + string(duration('1d'))  | ..........................^"), "{}", got[1]);
}
