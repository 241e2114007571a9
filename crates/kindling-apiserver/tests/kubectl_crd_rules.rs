//! CEL rules of CustomResourceDefinitions with the real kubectl, beyond `kubectl_crd.rs`:
//! rules over timestamps and durations (`format: date-time`/`duration` fields and
//! `timestamp()`), with upstream's messages and field paths in kubectl's output; rules type
//! checked when the definition is written; validation ratcheting of a tightened schema.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{kubectl_tests, Kubectl, TestServer};
use std::time::{Duration, Instant};

/// Waits (≤ 5 s) until `kubectl api-resources` lists `plural` of example.com.
fn wait_for_resource(s: &TestServer, plural: &str) {
    let start = Instant::now();
    loop {
        let out = s.ok(&["api-resources", "--api-group=example.com"]);
        if out.lines().any(|l| l.starts_with(plural)) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{plural} never served:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A definition of `windows.example.com` whose spec compares times: an end after the start,
/// a window of at most a day, a `grace` duration under an hour (with a `fieldPath`), and a
/// plain string read with `timestamp()`.
const WINDOWS_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: windows.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: windows, singular: window, kind: Window}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: "self.end > self.start"
            - rule: "self.end - self.start <= duration('24h')"
              message: a window lasts at most a day
            - rule: "self.grace < duration('1h')"
              fieldPath: .grace
              message: grace must stay under an hour
            - rule: "timestamp(self.at).getFullYear() >= 2020"
              messageExpression: "'at is in ' + string(timestamp(self.at).getFullYear())"
            properties:
              start: {type: string, format: date-time}
              end: {type: string, format: date-time}
              grace: {type: string, format: duration}
              at: {type: string}
"#;

fn window(name: &str, start: &str, end: &str, grace: &str, at: &str) -> String {
    format!(
        "apiVersion: example.com/v1\nkind: Window\nmetadata:\n  name: {name}\nspec:\n  start: \"{start}\"\n  end: \"{end}\"\n  grace: \"{grace}\"\n  at: \"{at}\"\n"
    )
}

/// Rules over `date-time`/`duration` fields: an object within every rule is applied; one that
/// breaks each of them is refused with upstream's messages at upstream's paths.
fn time_rules(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(WINDOWS_CRD);
    wait_for_resource(&s, "windows");
    // Offsets count: 10:00+01:00 is 09:00Z, so this window is 23 hours long.
    s.apply(&window(
        "ok",
        "2024-01-01T10:00:00+01:00",
        "2024-01-02T08:00:00Z",
        "30m",
        "2024-06-01T00:00:00Z",
    ));
    assert_eq!(
        s.ok(&["get", "window", "ok", "-o", "jsonpath={.spec.end}"]),
        "2024-01-02T08:00:00Z"
    );
    let out = s.kubectl_stdin(
        &["apply", "-f", "-"],
        &window(
            "bad",
            "2024-01-02T00:00:00Z",
            "2024-01-01T00:00:00Z",
            "2h",
            "2019-12-31T23:00:00Z",
        ),
    );
    assert!(!out.status.success());
    let err = common::text(&out.stderr);
    for want in [
        "The Window \"bad\" is invalid: ",
        "spec: Invalid value: failed rule: self.end > self.start",
        "spec.grace: Invalid value: grace must stay under an hour",
        "spec: Invalid value: at is in 2019",
    ] {
        assert!(err.contains(want), "{want} not in: {err}");
    }
    // The end before the start is a negative window, within a day.
    assert!(!err.contains("a window lasts at most a day"), "{err}");
    let long = s.kubectl_stdin(
        &["apply", "-f", "-"],
        &window(
            "long",
            "2024-01-01T00:00:00Z",
            "2024-01-02T00:00:01Z",
            "0s",
            "2024-01-01T00:00:00Z",
        ),
    );
    let err = common::text(&long.stderr);
    assert!(
        err.contains(
            "The Window \"long\" is invalid: spec: Invalid value: a window lasts at most a day"
        ),
        "{err}"
    );
    assert!(
        !s.ok(&["get", "windows", "-o", "name"]).contains("long"),
        "nothing stored"
    );
}

/// A definition of `boxes.example.com`: `spec.name` of at most `max_len` characters, with
/// `spec_rule` on `spec` and `count_rule` on `spec.count` if given.
fn boxes_crd(max_len: u32, spec_rule: Option<&str>, count_rule: Option<&str>) -> String {
    let rules = |r: Option<&str>, indent: &str| {
        r.map_or(String::new(), |r| {
            format!("{indent}x-kubernetes-validations:\n{indent}- rule: \"{r}\"\n")
        })
    };
    let spec_rules = rules(spec_rule, "            ");
    let count_rules = rules(count_rule, "                ");
    format!(
        r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: boxes.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {{plural: boxes, singular: box, kind: Box}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
{spec_rules}            properties:
              name: {{type: string, maxLength: {max_len}}}
              count:
                type: integer
{count_rules}              note: {{type: string}}
"#
    )
}

/// A rule naming a field the schema does not declare, or not giving a bool, refuses the
/// definition with cel-go's compile error (kubectl shows it) and nothing is registered.
fn rules_are_type_checked(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        &boxes_crd(10, Some("self.nmae.size() > 0"), None),
    );
    assert!(!out.status.success());
    let err = common::text(&out.stderr);
    assert!(
        err.contains("The CustomResourceDefinition \"boxes.example.com\" is invalid: spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: apiextensions.ValidationRule{Rule:\"self.nmae.size() > 0\""),
        "{err}"
    );
    assert!(
        err.contains("compilation failed: ERROR: <input>:1:5: undefined field 'nmae'"),
        "{err}"
    );
    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        &boxes_crd(10, Some("self.count + 1"), None),
    );
    let err = common::text(&out.stderr);
    assert!(
        err.contains("cel expression must evaluate to a bool"),
        "{err}"
    );
    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        &boxes_crd(10, Some("self.name > 1"), None),
    );
    let err = common::text(&out.stderr);
    assert!(
        err.contains("found no matching overload for '_>_' applied to '(string, int)'"),
        "{err}"
    );
    assert!(
        !s.ok(&["get", "crd"]).contains("boxes"),
        "nothing registered"
    );
}

/// Validation ratcheting: after the schema is tightened (a shorter maxLength, a new rule on a
/// field), an old object that breaks it can still be labelled and have other fields changed;
/// changing a violating field to another violating value is refused.
fn ratcheting_of_a_tightened_schema(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(&boxes_crd(10, None, None));
    wait_for_resource(&s, "boxes");
    s.apply("apiVersion: example.com/v1\nkind: Box\nmetadata:\n  name: b\nspec:\n  name: abcdefgh\n  count: 7\n");
    s.apply(&boxes_crd(4, None, Some("self < 5")));
    // A new object must follow the new schema.
    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Box\nmetadata:\n  name: c\nspec:\n  name: abcdefgh\n",
    );
    let err = common::text(&out.stderr);
    assert!(err.contains("spec.name: Too long"), "{err}");
    // The old one can be labelled and have its note changed.
    s.ok(&["label", "box", "b", "tier=old"]);
    s.ok(&[
        "patch",
        "box",
        "b",
        "--type=merge",
        "-p",
        r#"{"spec":{"note":"still here"}}"#,
    ]);
    // Changing the violating values to other violating values is refused.
    let out = s.kubectl(&[
        "patch",
        "box",
        "b",
        "--type=merge",
        "-p",
        r#"{"spec":{"name":"abcdefghi"}}"#,
    ]);
    let err = common::text(&out.stderr);
    assert!(err.contains("spec.name: Too long"), "{err}");
    let out = s.kubectl(&[
        "patch",
        "box",
        "b",
        "--type=merge",
        "-p",
        r#"{"spec":{"count":8}}"#,
    ]);
    let err = common::text(&out.stderr);
    assert!(
        err.contains("spec.count: Invalid value: 8: failed rule: self < 5"),
        "{err}"
    );
    // Fixing them is fine.
    s.ok(&[
        "patch",
        "box",
        "b",
        "--type=merge",
        "-p",
        r#"{"spec":{"name":"abc","count":1}}"#,
    ]);
}

kubectl_tests!(
    time_rules,
    rules_are_type_checked,
    ratcheting_of_a_tightened_schema
);
