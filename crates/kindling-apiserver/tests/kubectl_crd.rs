//! CustomResourceDefinitions with the real kubectl: a definition applied, `kubectl get crd`,
//! its resource in `kubectl api-resources` at once, objects created, listed with the printer
//! columns, patched, scaled, their status through the status subresource, invalid objects and
//! definitions refused with upstream's messages, unknown fields pruned, and the definition's
//! deletion taking its objects with it.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{kubectl_tests, rows, Kubectl, TestServer};
use std::time::{Duration, Instant};

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wd]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
    selectableFields:
    - jsonPath: .spec.color
    additionalPrinterColumns:
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Color
      type: string
      jsonPath: .spec.color
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [replicas]
            properties:
              replicas:
                type: integer
                minimum: 0
                maximum: 10
              color:
                type: string
                enum: [red, green, blue]
                default: red
          status:
            type: object
            properties:
              replicas:
                type: integer
"#;

/// Waits (≤ 5 s) until `kubectl api-resources` lists the resource.
fn wait_for_resource(s: &TestServer, name: &str) -> Duration {
    let start = Instant::now();
    loop {
        let out = s.ok(&["api-resources", "--api-group=example.com"]);
        if out.lines().any(|l| l.starts_with(name)) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{name} never served:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn crd_lifecycle(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let applied = s.apply(CRD);
    assert!(
        applied
            .contains("customresourcedefinition.apiextensions.k8s.io/widgets.example.com created"),
        "{applied}"
    );
    let waited = wait_for_resource(&s, "widgets");
    assert!(waited < Duration::from_secs(1), "discovery took {waited:?}");
    let crds = s.ok(&["get", "crd"]);
    assert_eq!(rows(&crds)[0], ["NAME", "CREATED", "AT"], "{crds}");
    assert_eq!(rows(&crds)[1][0], "widgets.example.com");
    let established = s.ok(&["get", "crd", "widgets.example.com", "-o",
        "jsonpath={.status.conditions[?(@.type==\"Established\")].status} {.status.acceptedNames.kind}"]);
    assert_eq!(established, "True Widget");
    let resources = s.ok(&["api-resources", "--api-group=example.com"]);
    let row = &rows(&resources)[1];
    assert_eq!(
        row,
        &["widgets", "wd", "example.com/v1", "true", "Widget"],
        "{resources}"
    );

    // The published schema: `kubectl explain`.
    let explained = s.ok(&["explain", "widgets.spec.color"]);
    assert!(
        explained.contains("KIND:       Widget") || explained.contains("KIND:     Widget"),
        "{explained}"
    );
    assert!(
        explained.contains("enum: red, green, blue") || explained.contains("color"),
        "{explained}"
    );

    // Objects: defaults, pruning (kubectl's default --validate=strict makes unknown fields a 400).
    s.apply(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  replicas: 2\n",
    );
    let w1: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "wd", "w1", "-o", "json"])).unwrap();
    assert_eq!(w1["spec"]["color"], "red");
    assert_eq!(w1["metadata"]["generation"], 1);
    let strict = s.kubectl_stdin(&["create", "-f", "-"], "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w2\nspec:\n  replicas: 1\n  extra: 1\n");
    let err = common::text(&strict.stderr);
    assert!(err.contains("unknown field \"spec.extra\""), "{err}");
    let loose = s.kubectl_stdin(&["create", "--validate=ignore", "-f", "-"], "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w2\nspec:\n  replicas: 1\n  extra: 1\n");
    assert!(loose.status.success(), "{}", common::text(&loose.stderr));
    let w2: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "widget", "w2", "-o", "json"])).unwrap();
    assert!(w2["spec"].get("extra").is_none(), "{w2}");

    // Invalid objects: upstream's messages.
    let bad = s.kubectl_stdin(&["create", "-f", "-"], "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: bad\nspec:\n  replicas: 11\n  color: purple\n");
    let err = common::text(&bad.stderr);
    assert!(err.contains("The Widget \"bad\" is invalid"), "{err}");
    assert!(err.contains("spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"), "{err}");
    assert!(err.contains("spec.color: Unsupported value: \"purple\": supported values: \"red\", \"green\", \"blue\""), "{err}");
    let missing = s.kubectl_stdin(
        &["create", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: bad\nspec: {}\n",
    );
    assert!(
        common::text(&missing.stderr).contains("spec.replicas: Required value"),
        "{}",
        common::text(&missing.stderr)
    );

    // Printer columns, patches, scale, status.
    let list = s.ok(&["get", "widgets"]);
    let table = rows(&list);
    assert_eq!(table[0], ["NAME", "REPLICAS", "COLOR", "AGE"], "{list}");
    assert_eq!(&table[1][..3], ["w1", "2", "red"], "{list}");
    s.ok(&[
        "patch",
        "widget",
        "w1",
        "--type=merge",
        "-p",
        r#"{"spec":{"color":"green"}}"#,
    ]);
    s.ok(&[
        "patch",
        "widget",
        "w1",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
    ]);
    let smp = s.kubectl(&[
        "patch",
        "widget",
        "w1",
        "-p",
        r#"{"spec":{"color":"blue"}}"#,
    ]);
    assert!(!smp.status.success());
    let smp_err = common::text(&smp.stderr);
    assert!(smp_err.contains("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"), "{smp_err}");
    // selectableFields: field selectors on the definition's fields.
    let green = s.ok(&[
        "get",
        "widgets",
        "--field-selector",
        "spec.color=green",
        "-o",
        "name",
    ]);
    assert_eq!(green.trim(), "widget.example.com/w1");
    let unknown = s.kubectl(&["get", "widgets", "--field-selector", "spec.size=1"]);
    let err = common::text(&unknown.stderr);
    assert!(
        err.contains("field label not supported: spec.size"),
        "{err}"
    );
    s.ok(&["scale", "widget", "w1", "--replicas=5"]);
    let replicas = s.ok(&[
        "get",
        "widget",
        "w1",
        "-o",
        "jsonpath={.spec.replicas} {.spec.color} {.metadata.generation}",
    ]);
    assert_eq!(replicas, "5 green 4");
    s.ok(&[
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":5}}"#,
    ]);
    s.ok(&[
        "patch",
        "widget",
        "w1",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":1}}"#,
    ]);
    let status = s.ok(&["get", "widget", "w1", "-o", "jsonpath={.status.replicas}"]);
    assert_eq!(status, "5", "a main-resource write leaves status alone");
    let scale: serde_json::Value = serde_json::from_str(&s.ok(&[
        "get",
        "--raw",
        "/apis/example.com/v1/namespaces/default/widgets/w1/scale",
    ]))
    .unwrap();
    assert_eq!(
        (
            scale["spec"]["replicas"].as_i64(),
            scale["status"]["replicas"].as_i64()
        ),
        (Some(5), Some(5))
    );
    let ssa = s.kubectl_stdin(
        &["apply", "--server-side", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w3\nspec:\n  replicas: 1\n",
    );
    assert!(ssa.status.success(), "{}", common::text(&ssa.stderr));
    let all = s.ok(&["get", "all"]);
    assert!(all.contains("widget.example.com/w3"), "{all}");

    // A default added to the schema later shows on objects stored before (defaults on read);
    // what the definition may not change is refused.
    s.ok(&["patch", "crd", "widgets.example.com", "--type=json", "-p",
        r#"[{"op":"add","path":"/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/size","value":{"type":"string","default":"M"}}]"#]);
    let start = Instant::now();
    while s.ok(&["get", "widget", "w1", "-o", "jsonpath={.spec.size}"]) != "M" {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the new default never showed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let renamed = s.kubectl(&[
        "patch",
        "crd",
        "widgets.example.com",
        "--type=merge",
        "-p",
        r#"{"spec":{"scope":"Cluster"}}"#,
    ]);
    let err = common::text(&renamed.stderr);
    assert!(
        err.contains("spec.scope: Invalid value: \"Cluster\": field is immutable"),
        "{err}"
    );

    // Deleting the definition deletes its objects, then the definition.
    s.ok(&["delete", "crd", "widgets.example.com", "--timeout=20s"]);
    let gone = s.kubectl(&["get", "widgets"]);
    assert!(!gone.status.success());
    let crds = s.ok(&["get", "crd"]);
    assert!(!crds.contains("widgets"), "{crds}");
}

fn invalid_definitions(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let bad_name = CRD.replace("name: widgets.example.com", "name: gadgets.example.com");
    let out = s.kubectl_stdin(&["create", "-f", "-"], &bad_name);
    let err = common::text(&out.stderr);
    assert!(
        err.contains("The CustomResourceDefinition \"gadgets.example.com\" is invalid"),
        "{err}"
    );
    assert!(err.contains("metadata.name: Invalid value: \"gadgets.example.com\": must be spec.names.plural+\".\"+spec.group"), "{err}");
    let not_structural = CRD.replace(
        "                type: integer\n                minimum: 0",
        "                minimum: 0",
    );
    let out = s.kubectl_stdin(&["create", "-f", "-"], &not_structural);
    let err = common::text(&out.stderr);
    assert!(err.contains("spec.validation.openAPIV3Schema.properties[spec].properties[replicas].type: Required value: must not be empty for specified object fields"), "{err}");
    let two_storage = CRD.replace("    storage: true\n", "    storage: false\n");
    let err = common::text(&s.kubectl_stdin(&["create", "-f", "-"], &two_storage).stderr);
    assert!(
        err.contains("must have exactly one version marked as storage version"),
        "{err}"
    );
    let crds = s.ok(&["get", "crd"]);
    assert!(
        !crds.contains("example.com"),
        "nothing half-registered: {crds}"
    );

    // Two definitions claiming one kind: the second's names are not accepted.
    s.apply(CRD);
    let rival = CRD
        .replace("name: widgets.example.com", "name: gizmos.example.com")
        .replace("plural: widgets", "plural: gizmos")
        .replace("singular: widget", "singular: gizmo")
        .replace("shortNames: [wd]", "shortNames: [gz]");
    s.apply(&rival);
    let start = Instant::now();
    loop {
        let cond = s.ok(&["get", "crd", "gizmos.example.com", "-o",
            "jsonpath={.status.conditions[?(@.type==\"NamesAccepted\")].reason}: {.status.conditions[?(@.type==\"NamesAccepted\")].message}"]);
        if !cond.trim().starts_with(':') {
            assert_eq!(cond, "KindConflict: \"Widget\" is already in use");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no NamesAccepted condition"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let resources = s.ok(&["api-resources", "--api-group=example.com"]);
    assert!(!resources.contains("gizmos"), "{resources}");
}

/// `get -w` of custom objects: the list, then each change as it happens.
fn watch_and_restart(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(CRD);
    wait_for_resource(&s, "widgets");
    s.apply(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  replicas: 1\n",
    );
    let watch = s
        .kubectl
        .command(&s.kubeconfig)
        .args(["get", "widgets", "-w", "--request-timeout=5s", "-o", "name"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    s.apply(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w2\nspec:\n  replicas: 1\n",
    );
    s.ok(&["delete", "widget", "w1"]);
    let out = watch.wait_with_output().unwrap();
    let seen = common::text(&out.stdout);
    assert!(
        seen.contains("widget.example.com/w1") && seen.contains("widget.example.com/w2"),
        "{seen}"
    );
    // A restarted server serves the stored definitions' objects from its first request on.
    let dir = s.stop();
    let s = TestServer::start_in(dir);
    let listed = s.ok(&["get", "widgets", "-o", "name"]);
    assert_eq!(listed.trim(), "widget.example.com/w2");
}

/// A second served version (conversion None): objects are stored once, in the storage version,
/// and each version reads them with its own apiVersion; discovery prefers v1.
fn two_versions(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let beta = CRD.replace(
        "  versions:\n  - name: v1\n",
        "  versions:\n  - name: v1beta1\n    served: true\n    storage: false\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n  - name: v1\n",
    );
    s.apply(&beta);
    wait_for_resource(&s, "widgets");
    let group: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "--raw", "/apis/example.com"])).unwrap();
    assert_eq!(group["preferredVersion"]["version"], "v1", "{group}");
    s.apply("apiVersion: example.com/v1beta1\nkind: Widget\nmetadata:\n  name: b1\nspec:\n  replicas: 1\n  anything: goes\n");
    let as_v1: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "widgets.v1.example.com", "b1", "-o", "json"]))
            .unwrap();
    assert_eq!(as_v1["apiVersion"], "example.com/v1");
    let as_beta: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "widgets.v1beta1.example.com", "b1", "-o", "json"]))
            .unwrap();
    assert_eq!(as_beta["apiVersion"], "example.com/v1beta1");
    assert_eq!(as_beta["spec"]["anything"], "goes");
    let listed = s.ok(&["get", "widgets.v1beta1.example.com", "-o", "name"]);
    assert_eq!(listed.trim(), "widget.example.com/b1");
}

/// CEL `x-kubernetes-validations`: a rule that fails is the object's 422 with the rule's
/// message; a transition rule sees the stored value; a rule that does not compile refuses the
/// definition.
fn cel_rules(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let with_rules = CRD.replace(
        "          spec:\n            type: object\n            required: [replicas]\n",
        "          spec:\n            type: object\n            required: [replicas]\n            x-kubernetes-validations:\n            - rule: \"self.replicas % 2 == 0\"\n              message: replicas must be even\n            - rule: \"self.color == oldSelf.color\"\n              message: color is immutable\n",
    );
    s.apply(&with_rules);
    wait_for_resource(&s, "widgets");
    let odd = s.kubectl_stdin(
        &["create", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: odd\nspec:\n  replicas: 3\n",
    );
    let err = common::text(&odd.stderr);
    assert!(
        err.contains("The Widget \"odd\" is invalid: spec: Invalid value: replicas must be even"),
        "{err}"
    );
    s.apply(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: even\nspec:\n  replicas: 2\n",
    );
    let recolor = s.kubectl(&[
        "patch",
        "widget",
        "even",
        "--type=merge",
        "-p",
        r#"{"spec":{"color":"blue"}}"#,
    ]);
    let err = common::text(&recolor.stderr);
    assert!(
        err.contains("spec: Invalid value: color is immutable"),
        "{err}"
    );
    s.ok(&[
        "patch",
        "widget",
        "even",
        "--type=merge",
        "-p",
        r#"{"spec":{"replicas":4}}"#,
    ]);
    let broken = with_rules
        .replace("widgets.example.com", "gadgets.example.com")
        .replace("plural: widgets", "plural: gadgets")
        .replace("self.replicas % 2 == 0", "self.replicas %");
    let err = common::text(&s.kubectl_stdin(&["create", "-f", "-"], &broken).stderr);
    assert!(err.contains("spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: Invalid value: apiextensions.ValidationRule{Rule:\"self.replicas %\""), "{err}");
    assert!(err.contains("compilation failed"), "{err}");
}

/// A deleted definition waits for its objects (one held by a finalizer of its own), is
/// Terminating meanwhile and refuses new objects, and goes once the last object is gone.
fn deletion_waits_for_objects(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(CRD);
    wait_for_resource(&s, "widgets");
    s.apply("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\nspec:\n  replicas: 1\n");
    s.ok(&["delete", "crd", "widgets.example.com", "--wait=false"]);
    let start = Instant::now();
    loop {
        let terminating = s.ok(&[
            "get",
            "crd",
            "widgets.example.com",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Terminating\")].reason}",
        ]);
        if terminating == "InstanceDeletionCheck" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{terminating}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = s.kubectl_stdin(
        &["create", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: late\nspec:\n  replicas: 1\n",
    );
    let err = common::text(&refused.stderr);
    assert!(
        err.contains("create not allowed while custom resource definition is terminating"),
        "{err}"
    );
    s.ok(&[
        "patch",
        "widget",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    let start = Instant::now();
    while s
        .ok(&["get", "crd", "-o", "name"])
        .contains("widgets.example.com")
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the definition stayed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A definition with the Kubernetes CEL libraries, a messageExpression, a transition rule on
/// the items of a list-map, and a list-map two managers apply to.
const PORTS_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gateways.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gateways, singular: gateway, kind: Gateway}
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
            - rule: "!has(self.address) || isIP(self.address)"
              messageExpression: "'address ' + self.address + ' is not an IP address'"
            - rule: "!has(self.limit) || quantity(self.limit).isLessThan(quantity('1Gi'))"
              message: limit must stay under 1Gi
            properties:
              address: {type: string, maxLength: 64}
              limit: {type: string, maxLength: 16}
              ports:
                type: array
                maxItems: 16
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  x-kubernetes-validations:
                  - rule: "self.port >= oldSelf.port"
                    message: a port may only grow
                  properties:
                    name: {type: string, maxLength: 16}
                    port: {type: integer}
"#;

/// The Kubernetes CEL libraries and messageExpression in kubectl's errors, a transition rule
/// on list-map items (correlated by key, not position), and a rule too costly for a definition.
fn cel_libraries_and_costs(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(PORTS_CRD);
    wait_for_resource(&s, "gateways");
    let bad = s.kubectl_stdin(&["create", "-f", "-"], "apiVersion: example.com/v1\nkind: Gateway\nmetadata:\n  name: g\nspec:\n  address: not-an-ip\n  limit: 2Gi\n");
    let err = common::text(&bad.stderr);
    assert!(err.contains("The Gateway \"g\" is invalid: "), "{err}");
    assert!(
        err.contains("spec: Invalid value: address not-an-ip is not an IP address"),
        "{err}"
    );
    assert!(
        err.contains("spec: Invalid value: limit must stay under 1Gi"),
        "{err}"
    );
    s.apply("apiVersion: example.com/v1\nkind: Gateway\nmetadata:\n  name: g\nspec:\n  address: 10.0.0.1\n  ports:\n  - {name: http, port: 80}\n  - {name: https, port: 443}\n");
    // Reordered, one port grown: fine (items correlate by name).
    s.apply("apiVersion: example.com/v1\nkind: Gateway\nmetadata:\n  name: g\nspec:\n  address: 10.0.0.1\n  ports:\n  - {name: https, port: 8443}\n  - {name: http, port: 80}\n");
    let shrink = s.kubectl_stdin(&["apply", "-f", "-"], "apiVersion: example.com/v1\nkind: Gateway\nmetadata:\n  name: g\nspec:\n  address: 10.0.0.1\n  ports:\n  - {name: https, port: 8443}\n  - {name: http, port: 79}\n");
    let err = common::text(&shrink.stderr);
    assert!(
        err.contains("spec.ports[1]: Invalid value: a port may only grow"),
        "{err}"
    );

    // A quadratic rule over an unbounded list: refused with upstream's cost messages.
    let costly = PORTS_CRD
        .replace("gateways", "costlies")
        .replace("gateway", "costly")
        .replace("Gateway", "Costly")
        .replace("                maxItems: 16\n", "")
        .replace("                    name: {type: string, maxLength: 16}", "                    name: {type: string}")
        .replace("            - rule: \"!has(self.limit)", "            - rule: \"self.ports.all(a, self.ports.all(b, a.name != b.name || a == b))\"\n            - rule: \"!has(self.limit)");
    let out = s.kubectl_stdin(&["create", "-f", "-"], &costly);
    let err = common::text(&out.stderr);
    assert!(
        err.contains("The CustomResourceDefinition \"costlies.example.com\" is invalid"),
        "{err}"
    );
    assert!(err.contains("spec.validation.openAPIV3Schema.properties[spec].x-kubernetes-validations[1].rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"), "{err}");
    assert!(
        !s.ok(&["get", "crd"]).contains("costlies"),
        "nothing registered"
    );
}

/// Server-side apply of a custom list-map by two managers: each owns its items, both stay.
fn server_side_apply_of_a_list_map(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(PORTS_CRD);
    wait_for_resource(&s, "gateways");
    let apply = |manager: &str, ports: &str| {
        let out = s.kubectl_stdin(
            &["apply", "--server-side", "--field-manager", manager, "-f", "-"],
            &format!("apiVersion: example.com/v1\nkind: Gateway\nmetadata:\n  name: shared\nspec:\n  ports:{ports}"),
        );
        assert!(out.status.success(), "{}", common::text(&out.stderr));
    };
    apply("alice", "\n  - {name: http, port: 80}\n");
    apply("bob", "\n  - {name: metrics, port: 9090}\n");
    let ports = s.ok(&[
        "get",
        "gateway",
        "shared",
        "-o",
        "jsonpath={.spec.ports[*].name}",
    ]);
    assert_eq!(ports, "http metrics");
    let fields = s.ok(&[
        "get",
        "gateway",
        "shared",
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[?(@.manager==\"bob\")].fieldsV1.f:spec.f:ports}",
    ]);
    assert_eq!(
        fields,
        "{\"k:{\\\"name\\\":\\\"metrics\\\"}\":{\".\":{},\"f:name\":{},\"f:port\":{}}}"
    );
    // alice stops applying her port: only hers goes.
    apply("alice", " []\n");
    let ports = s.ok(&[
        "get",
        "gateway",
        "shared",
        "-o",
        "jsonpath={.spec.ports[*].name}",
    ]);
    assert_eq!(ports, "metrics");
}

/// A conversion webhook for the tests: HTTPS on 127.0.0.1 with a certificate of its own CA,
/// converting Widgets between v1 (`spec.replicas`) and v1beta1 (`spec.size`); a Widget whose
/// size or replicas is 13 fails its conversion. Records the review versions it was sent.
mod webhook {
    use serde_json::{json, Value};
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    pub struct Webhook {
        pub port: u16,
        pub ca_pem: String,
        pub reviews: Arc<Mutex<Vec<String>>>,
        _runtime: tokio::runtime::Runtime,
    }

    fn convert(obj: &Value, desired: &str) -> Option<Value> {
        let mut out = obj.clone();
        let spec = out["spec"].as_object_mut()?;
        let (from, to) = if desired.ends_with("/v1") {
            ("size", "replicas")
        } else {
            ("replicas", "size")
        };
        if let Some(v) = spec.remove(from) {
            if v == 13 {
                return None;
            }
            spec.insert(to.to_string(), v);
        }
        out["apiVersion"] = json!(desired);
        Some(out)
    }

    fn answer(review: &Value) -> Value {
        let req = &review["request"];
        let desired = req["desiredAPIVersion"].as_str().unwrap_or_default();
        let converted: Option<Vec<Value>> = req["objects"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| convert(o, desired))
            .collect();
        let response = match converted {
            Some(objects) => {
                json!({"uid": req["uid"], "result": {"status": "Success"}, "convertedObjects": objects})
            }
            None => {
                json!({"uid": req["uid"], "result": {"status": "Failure", "message": "13 is unlucky"}})
            }
        };
        json!({"apiVersion": review["apiVersion"], "kind": "ConversionReview", "response": response})
    }

    pub fn start() -> Webhook {
        let ca = kindling_pki::Ca::generate().unwrap();
        let serving = ca
            .serving_cert("webhook", &[], &["127.0.0.1".parse().unwrap()])
            .unwrap();
        let config = kindling_pki::server_config(&ca.pair.cert_pem, &serving).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let reviews = Arc::new(Mutex::new(Vec::new()));
        let seen = reviews.clone();
        runtime.spawn(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let acceptor = acceptor.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    // Headers, then Content-Length bytes of body.
                    let body = loop {
                        let Ok(n) = tls.read(&mut chunk).await else { return };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break buf[end + 4..end + 4 + len].to_vec();
                        }
                    };
                    let review: Value = serde_json::from_slice(&body).unwrap_or_default();
                    seen.lock().unwrap().push(review["apiVersion"].as_str().unwrap_or_default().to_string());
                    let out = serde_json::to_vec(&answer(&review)).unwrap();
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", out.len());
                    let _ = tls.write_all(head.as_bytes()).await;
                    let _ = tls.write_all(&out).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Webhook {
            port,
            ca_pem: ca.pair.cert_pem.clone(),
            reviews,
            _runtime: runtime,
        }
    }
}

/// Conversion `Webhook`: v1beta1 objects are converted by an HTTPS webhook (its `url`, its
/// caBundle trusted, ConversionReview v1beta1 as the definition lists it first) on their way
/// to the store (v1) and back; a failed conversion is upstream's 500 and nothing is written.
fn conversion_webhook(kubectl: &Kubectl) {
    use base64::Engine;
    let hook = webhook::start();
    let s = TestServer::start_using(kubectl);
    let ca = base64::engine::general_purpose::STANDARD.encode(&hook.ca_pem);
    let crd = format!(
        r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget}}
  conversion:
    strategy: Webhook
    webhook:
      conversionReviewVersions: [v1beta1, v1]
      clientConfig:
        url: https://127.0.0.1:{port}/convert
        caBundle: {ca}
  versions:
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {{type: object, properties: {{size: {{type: integer}}}}}}
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {{type: object, properties: {{replicas: {{type: integer}}}}}}
"#,
        port = hook.port
    );
    s.apply(&crd);
    wait_for_resource(&s, "widgets");
    s.apply("apiVersion: example.com/v1beta1\nkind: Widget\nmetadata:\n  name: old\n  labels: {app: a}\nspec:\n  size: 3\n");
    let as_v1: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "widgets.v1.example.com", "old", "-o", "json"]))
            .unwrap();
    assert_eq!(as_v1["apiVersion"], "example.com/v1");
    assert_eq!(as_v1["spec"], serde_json::json!({"replicas": 3}), "{as_v1}");
    assert_eq!(as_v1["metadata"]["labels"]["app"], "a");
    s.apply(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: new\nspec:\n  replicas: 2\n",
    );
    let as_beta: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "widgets.v1beta1.example.com", "new", "-o", "json"]))
            .unwrap();
    assert_eq!(as_beta["apiVersion"], "example.com/v1beta1");
    assert_eq!(as_beta["spec"], serde_json::json!({"size": 2}), "{as_beta}");
    let sizes = s.ok(&[
        "get",
        "widgets.v1beta1.example.com",
        "-o",
        "jsonpath={.items[*].spec.size}",
    ]);
    assert_eq!(sizes, "2 3");
    let reviews = hook.reviews.lock().unwrap().clone();
    assert!(
        !reviews.is_empty() && reviews.iter().all(|v| v == "apiextensions.k8s.io/v1beta1"),
        "{reviews:?}"
    );

    // The webhook refuses: upstream's 500, and nothing is stored.
    let refused = s.kubectl_stdin(&["create", "-f", "-"], "apiVersion: example.com/v1beta1\nkind: Widget\nmetadata:\n  name: unlucky\nspec:\n  size: 13\n");
    let err = common::text(&refused.stderr);
    assert!(err.contains("Internal error occurred: conversion webhook for example.com/v1beta1, Kind=Widget failed: response.result.status was 'Failure', not 'Success'"), "{err}");
    let missing = s.kubectl(&["get", "widgets.v1.example.com", "unlucky"]);
    assert!(
        common::text(&missing.stderr).contains("NotFound")
            || common::text(&missing.stderr).contains("not found")
    );
}

kubectl_tests!(
    crd_lifecycle,
    invalid_definitions,
    watch_and_restart,
    two_versions,
    cel_rules,
    deletion_waits_for_objects,
    cel_libraries_and_costs,
    server_side_apply_of_a_list_map,
    conversion_webhook
);

/// `helm install` of a chart whose `crds/` holds a definition and whose templates create an
/// object of it; `helm uninstall` removes the object (and keeps the definition, as Helm does).
#[test]
fn helm_installs_a_chart_with_crds() {
    let Some(helm) = common::tool("bin/helm") else {
        return;
    };
    let s = TestServer::start();
    let home = tempfile::tempdir().unwrap();
    let chart = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crdchart");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&helm)
            .args(args)
            .env("KUBECONFIG", &s.kubeconfig)
            .env("HOME", home.path())
            .env("XDG_CACHE_HOME", home.path().join("cache"))
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "helm {args:?}: {}{}",
            common::text(&out.stdout),
            common::text(&out.stderr)
        );
        common::text(&out.stdout)
    };
    let installed = run(&[
        "install",
        "demo",
        chart.to_str().unwrap(),
        "--wait",
        "--timeout",
        "60s",
    ]);
    assert!(installed.contains("STATUS: deployed"), "{installed}");
    let gadgets = s.ok(&["get", "gadgets"]);
    let table = rows(&gadgets);
    assert_eq!(table[0], ["NAME", "AGE"], "{gadgets}");
    assert_eq!(table[1][0], "demo-gadget");
    run(&[
        "upgrade",
        "demo",
        chart.to_str().unwrap(),
        "--set",
        "replicas=3",
    ]);
    assert_eq!(
        s.ok(&[
            "get",
            "gadget",
            "demo-gadget",
            "-o",
            "jsonpath={.spec.replicas}"
        ]),
        "3"
    );
    run(&["uninstall", "demo"]);
    assert!(s.ok(&["get", "gadgets", "-o", "name"]).trim().is_empty());
    assert!(s
        .ok(&["get", "crd", "-o", "name"])
        .contains("gadgets.example.com"));
}

/// A development check of the issue's: the CRDs of widely used projects (Gateway API,
/// cert-manager, prometheus-operator — read from their repositories, not committed) apply with
/// `kubectl apply --server-side`, and sample objects of them validate. Run by hand:
/// `KINDLING_THIRD_PARTY_CRDS=dir1:dir2 KINDLING_THIRD_PARTY_SAMPLES=dir cargo test -p
/// kindling-apiserver --test kubectl_crd -- --ignored --nocapture third_party_crds`.
#[test]
#[ignore = "needs third-party CRDs on disk"]
fn third_party_crds() {
    let files = |var: &str| -> Vec<std::path::PathBuf> {
        let mut out: Vec<std::path::PathBuf> = std::env::var(var)
            .unwrap_or_default()
            .split(':')
            .filter(|d| !d.is_empty())
            .flat_map(|d| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        out.sort();
        out
    };
    let s = TestServer::start();
    let mut failed = Vec::new();
    for (i, file) in files("KINDLING_THIRD_PARTY_CRDS").iter().enumerate() {
        let t = Instant::now();
        let out = s.kubectl(&["apply", "--server-side", "-f", file.to_str().unwrap()]);
        let ok = out.status.success();
        println!(
            "crd {i} {} {:?} {}",
            file.display(),
            t.elapsed(),
            if ok { "ok" } else { "FAILED" }
        );
        if !ok {
            failed.push(format!("{}: {}", file.display(), common::text(&out.stderr)));
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    for file in files("KINDLING_THIRD_PARTY_SAMPLES") {
        let out = s.kubectl(&["apply", "--server-side", "-f", file.to_str().unwrap()]);
        println!(
            "sample {}: {}{}",
            file.display(),
            common::text(&out.stdout),
            common::text(&out.stderr)
        );
        if !out.status.success() {
            failed.push(format!("{}: {}", file.display(), common::text(&out.stderr)));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
