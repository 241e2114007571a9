//! The real kubectl against an in-process server: the everyday commands of REQUIREMENTS.md S7
//! that need no running pod. Assertions are on what kubectl prints.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{assert_deleted, rows, text, Kubectl, TestServer};

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: busybox:1.36
        ports:
        - containerPort: 80
";

fn server_reports_its_version_and_namespaces(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let out = s.ok(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    // Whatever version the server serves, kubectl reads it back whole.
    let version = kindling_apiserver::KUBERNETES_VERSION;
    assert_eq!(v["serverVersion"]["gitVersion"], version);
    assert_eq!(
        v["serverVersion"]["minor"],
        version.split('.').nth(1).unwrap()
    );
    let ns = s.ok(&["get", "namespaces", "-o", "name"]);
    for n in ["default", "kube-node-lease", "kube-public", "kube-system"] {
        assert!(ns.contains(&format!("namespace/{n}")), "{ns}");
    }
    let svc = s.ok(&[
        "get",
        "service",
        "kubernetes",
        "-o",
        "jsonpath={.spec.clusterIP}",
    ]);
    assert_eq!(svc, "10.96.0.1");
}

fn create_apply_and_conflicts_like_upstream(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let out = s.kubectl_stdin(&["create", "-f", "-"], DEPLOYMENT);
    assert_eq!(
        text(&out.stdout).trim(),
        "deployment.apps/web created",
        "{}",
        text(&out.stderr)
    );
    let out = s.kubectl_stdin(&["create", "-f", "-"], DEPLOYMENT);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Error from server (AlreadyExists): error when creating \"STDIN\": deployments.apps \"web\" already exists"),
        "{}",
        text(&out.stderr)
    );
    // kubectl apply over an object made by create: patched, with upstream's warning.
    assert_eq!(s.apply(DEPLOYMENT).trim(), "deployment.apps/web configured");
    assert_eq!(s.apply(DEPLOYMENT).trim(), "deployment.apps/web unchanged");
    assert_eq!(
        s.apply(&DEPLOYMENT.replace("replicas: 2", "replicas: 3"))
            .trim(),
        "deployment.apps/web configured"
    );
    assert_eq!(
        s.ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.replicas} {.metadata.generation}"
        ]),
        "3 2"
    );
}

fn apply_twice_creates_then_is_unchanged(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n";
    assert_eq!(s.apply(cm).trim(), "configmap/settings created");
    assert_eq!(s.apply(cm).trim(), "configmap/settings unchanged");
    assert_eq!(
        s.apply(&cm.replace("\"1\"", "\"2\"")).trim(),
        "configmap/settings configured"
    );
    assert_eq!(
        s.ok(&["get", "cm", "settings", "-o", "jsonpath={.data.a}"]),
        "2"
    );
}

fn scale_label_annotate_patch(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(DEPLOYMENT);
    assert_eq!(
        s.ok(&["scale", "deploy", "web", "--replicas=5"]).trim(),
        "deployment.apps/web scaled"
    );
    assert_eq!(
        s.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "5"
    );
    assert_eq!(
        s.ok(&["label", "deploy", "web", "tier=front"]).trim(),
        "deployment.apps/web labeled"
    );
    assert_eq!(
        s.ok(&["annotate", "deploy", "web", "note=hello"]).trim(),
        "deployment.apps/web annotated"
    );
    let names = s.ok(&["get", "deploy", "-l", "tier=front", "-o", "name"]);
    assert_eq!(names.trim(), "deployment.apps/web");
    assert_eq!(
        s.ok(&["get", "deploy", "-l", "tier=back", "-o", "name"])
            .trim(),
        ""
    );
    // Strategic merge: the container list merges by name, other fields stay.
    s.ok(&[
        "patch",
        "deploy",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"busybox:1.37"}]}}}}"#,
    ]);
    assert_eq!(
        s.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort}"]),
        "busybox:1.37 80"
    );
    s.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"tier":null}}}"#,
    ]);
    assert_eq!(
        s.ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.labels}"]),
        r#"{"app":"web"}"#
    );
    s.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":1}]"#,
    ]);
    assert_eq!(
        s.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "1"
    );
    let err = s.fails(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
    ]);
    assert!(err.contains("The request is invalid"), "{err}");
}

fn delete_by_name_label_and_all(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    for (name, tier) in [("a", "x"), ("b", "x"), ("c", "y")] {
        let cm = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels: {{tier: \"{tier}\"}}\n");
        s.apply(&cm);
    }
    assert_deleted(&s.ok(&["delete", "cm", "a"]), "configmap \"a\"", "default");
    let err = s.fails(&["delete", "cm", "a"]);
    assert!(
        err.contains("Error from server (NotFound): configmaps \"a\" not found"),
        "{err}"
    );
    assert_deleted(
        &s.ok(&["delete", "cm", "-l", "tier=x"]),
        "configmap \"b\"",
        "default",
    );
    s.ok(&["delete", "cm", "--all"]);
    let left = s.ok(&["get", "cm", "-o", "name"]);
    assert!(!left.contains("configmap/c"), "{left}");
}

fn get_output_formats(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.apply(DEPLOYMENT);
    let json: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "deploy", "web", "-o", "json"])).unwrap();
    assert_eq!(json["kind"], "Deployment");
    assert!(json["metadata"]["uid"]
        .as_str()
        .is_some_and(|u| u.len() == 36));
    let yaml = s.ok(&["get", "deploy", "web", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: Deployment") && yaml.contains("resourceVersion:"),
        "{yaml}"
    );
    let table = rows(&s.ok(&["get", "deploy"]));
    assert_eq!(table[0][0], "NAME");
    assert_eq!(table[1][0], "web");
    let list = s.ok(&["get", "deploy", "-o", "jsonpath={.items[*].metadata.name}"]);
    assert_eq!(list, "web");
}

fn dry_run_server_writes_nothing(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let out = s.kubectl_stdin(&["apply", "--dry-run=server", "-f", "-"], DEPLOYMENT);
    assert_eq!(
        text(&out.stdout).trim(),
        "deployment.apps/web created (server dry run)",
        "{}",
        text(&out.stderr)
    );
    let err = s.fails(&["get", "deploy", "web"]);
    assert!(err.contains("NotFound"), "{err}");
}

fn server_side_apply(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let out = s.kubectl_stdin(&["apply", "--server-side", "-f", "-"], DEPLOYMENT);
    assert_eq!(
        text(&out.stdout).trim(),
        "deployment.apps/web serverside-applied",
        "{}",
        text(&out.stderr)
    );
    let out = s.kubectl_stdin(
        &["apply", "--server-side", "-f", "-"],
        &DEPLOYMENT.replace("replicas: 2", "replicas: 4"),
    );
    assert_eq!(
        text(&out.stdout).trim(),
        "deployment.apps/web serverside-applied",
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        s.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "4"
    );
}

fn api_resources_versions_and_explain(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let res = s.ok(&["api-resources"]);
    let deploy = rows(&res)
        .into_iter()
        .find(|r| r[0] == "deployments")
        .expect("deployments listed");
    assert_eq!(
        deploy,
        vec!["deployments", "deploy", "apps/v1", "true", "Deployment"]
    );
    let versions = s.ok(&["api-versions"]);
    for gv in [
        "apps/v1",
        "batch/v1",
        "v1",
        "rbac.authorization.k8s.io/v1",
        "storage.k8s.io/v1",
    ] {
        assert!(
            versions.lines().any(|l| l == gv),
            "{gv} missing from {versions}"
        );
    }
    let explain = s.ok(&["explain", "deployment.spec.replicas"]);
    assert!(explain.contains("FIELD: replicas <integer>"), "{explain}");
    let explain = s.ok(&["explain", "pods.spec.containers.image"]);
    assert!(explain.contains("image <string>"), "{explain}");
}

common::kubectl_tests!(
    server_reports_its_version_and_namespaces,
    create_apply_and_conflicts_like_upstream,
    apply_twice_creates_then_is_unchanged,
    scale_label_annotate_patch,
    delete_by_name_label_and_all,
    get_output_formats,
    dry_run_server_writes_nothing,
    server_side_apply,
    api_resources_versions_and_explain,
);
