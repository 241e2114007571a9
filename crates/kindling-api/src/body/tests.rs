//! Upstream's answers for each kind of bad body, as kube-apiserver v1.35 gives them.

use super::{decode, Encoding};
use crate::catalog;
use serde_json::json;

fn namespaces() -> &'static crate::ResourceType {
    catalog::find("", "v1", "namespaces").unwrap()
}

fn configmaps() -> &'static crate::ResourceType {
    catalog::find("", "v1", "configmaps").unwrap()
}

fn message(rt: &crate::ResourceType, encoding: Encoding, body: &str) -> String {
    let err = decode(rt, encoding, body.as_bytes()).unwrap_err();
    assert_eq!((err.code, err.reason), (400, "BadRequest"), "{body}");
    err.message
}

#[test]
fn unreadable_bodies_are_unrecognized() {
    let ns = namespaces();
    let cases = [
        (
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n",
            "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: invalid character 'a' looking for beginning of value (61706956657273696f6e3a2076310a6b696e643a204e616d657370616365 ...)",
        ),
        (
            "",
            "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: unexpected end of JSON input (<empty>)",
        ),
        (
            r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}"#,
            "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: unexpected end of JSON input ({\"apiVersion\":\"v1\",\"kind\":\"Nam ...)",
        ),
        (
            r#"{"metadata":{"name":"x",}}"#,
            "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: invalid character '}' looking for beginning of object key string ({\"metadata\":{\"name\":\"x\",}})",
        ),
        (
            "[1,2,3]",
            "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" } (5b312c322c335d)",
        ),
        (
            r#"{"kind":5}"#,
            "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: json: cannot unmarshal number into Go struct field .kind of type string ({\"kind\":5})",
        ),
        (
            r#"{"apiVersion":"a/b/c","kind":"Namespace"}"#,
            "the object provided is unrecognized (must be of type Namespace): unexpected GroupVersion string: a/b/c ({\"apiVersion\":\"a/b/c\",\"kind\":\" ...)",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(message(ns, Encoding::Json, body), want, "{body}");
    }
    let yaml = message(ns, Encoding::Yaml, "a: [unclosed");
    assert!(
        yaml.starts_with("the object provided is unrecognized (must be of type Namespace): error converting YAML to JSON: yaml: line "),
        "{yaml}"
    );
    assert!(
        yaml.ends_with(": did not find expected ',' or ']' (613a205b756e636c6f736564)"),
        "{yaml}"
    );
}

#[test]
fn wrong_kinds_and_versions() {
    let cm = configmaps();
    let cases = [
        (
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}"#,
            "Pod in version \"v1\" cannot be handled as a ConfigMap: converting (v1.Pod) to (core.ConfigMap): unknown conversion",
        ),
        (
            r#"{"apiVersion":"apps/v1","kind":"Deployment"}"#,
            "Deployment in version \"v1\" cannot be handled as a ConfigMap: converting (v1.Deployment) to (core.ConfigMap): unknown conversion",
        ),
        (
            r#"{"apiVersion":"v1","kind":"ConfigMapList"}"#,
            "ConfigMapList in version \"v1\" cannot be handled as a ConfigMap: converting (v1.ConfigMapList) to (core.ConfigMap): unknown conversion",
        ),
        (
            r#"{"apiVersion":"v1","kind":"configmap"}"#,
            "configmap in version \"v1\" cannot be handled as a ConfigMap: no kind \"configmap\" is registered for version \"v1\" in scheme \"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30\"",
        ),
        (
            r#"{"apiVersion":"v2","kind":"ConfigMap"}"#,
            "ConfigMap in version \"v2\" cannot be handled as a ConfigMap: no kind \"ConfigMap\" is registered for version \"v2\" in scheme \"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30\"",
        ),
        (
            r#"{"apiVersion":"apps/v1","kind":"ConfigMap"}"#,
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: no kind \"ConfigMap\" is registered for version \"apps/v1\" in scheme \"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30\"",
        ),
        (
            r#"{"apiVersion":"v1","kind":"ConfigMap","data":{"a":1}}"#,
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string",
        ),
        (
            // The body's own type decodes first: a Pod's type error before the conversion.
            r#"{"apiVersion":"v1","kind":"Pod","spec":{"containers":{}}}"#,
            "Pod in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container",
        ),
    ];
    for (body, want) in cases {
        assert_eq!(message(cm, Encoding::Json, body), want, "{body}");
    }
    let hpa = catalog::find("autoscaling", "v2", "horizontalpodautoscalers").unwrap();
    assert_eq!(
        message(hpa, Encoding::Json, r#"{"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler"}"#),
        "the API version in the data (autoscaling/v1) does not match the expected API version (autoscaling/v2)"
    );
    let core_events = catalog::find("", "v1", "events").unwrap();
    assert_eq!(
        message(core_events, Encoding::Json, r#"{"apiVersion":"events.k8s.io/v1","kind":"Event"}"#),
        "the API version in the data (events.k8s.io/v1) does not match the expected API version (v1)"
    );
}

#[test]
fn good_bodies_get_the_urls_type() {
    let cm = configmaps();
    for (encoding, body) in [
        (Encoding::Json, r#"{"metadata":{"name":"a"}}"#),
        (
            Encoding::Json,
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}"#,
        ),
        (
            Encoding::Json,
            r#"{"kind":"ConfigMap","metadata":{"name":"a"}} "#,
        ),
        (Encoding::Yaml, "metadata:\n  name: a\n"),
    ] {
        let obj = decode(cm, encoding, body.as_bytes()).unwrap();
        assert_eq!(obj["apiVersion"], "v1");
        assert_eq!(obj["kind"], "ConfigMap");
        assert_eq!(obj["metadata"]["name"], "a");
    }
    // An empty YAML document and a JSON null decode to an empty object (upstream then answers
    // with the validation's 422 for the missing name).
    for (encoding, body) in [(Encoding::Yaml, ""), (Encoding::Json, "null")] {
        let obj = decode(cm, encoding, body.as_bytes()).unwrap();
        assert_eq!(obj, json!({"apiVersion": "v1", "kind": "ConfigMap"}));
    }
    // apiVersion without its group, in the URL's group: the URL's version.
    let deploy = catalog::find("apps", "v1", "deployments").unwrap();
    let obj = decode(
        deploy,
        Encoding::Json,
        br#"{"apiVersion":"apps/","kind":"Deployment"}"#,
    )
    .unwrap();
    assert_eq!(obj["apiVersion"], "apps/v1");
}

/// Go's syntax scan runs only when serde_json refuses a body: whatever serde_json takes, the
/// scan must take too, or a malformed body would be let through.
#[test]
fn what_serde_json_takes_gos_scanner_takes() {
    let bodies = [
        r#"{"a":1}"#,
        " {\"a\": [1, 2.5e-3, -0, 1E+2, true, false, null, \"\\u00e9\\n\\\"\"]}\n\t",
        "{}",
        "[]",
        "\"x\"",
        "0",
        r#"{"a":{"b":{"c":[[],{}]}}}"#,
        r#"{"k":"\ud83d\ude00","\/":"é"}"#,
    ];
    for body in bodies {
        assert!(
            serde_json::from_str::<serde_json::Value>(body).is_ok(),
            "{body}"
        );
        assert_eq!(super::syntax_error(body.as_bytes()), None, "{body}");
    }
    // And a body both refuse keeps Go's words.
    let m = message(configmaps(), Encoding::Json, "{\"a\":}");
    assert!(
        m.contains("invalid character '}' looking for beginning of value"),
        "{m}"
    );
}
