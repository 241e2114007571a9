//! Server-side apply and managed fields with the real kubectl: ownership, conflicts and their
//! messages, forcing, removal of fields no longer applied, the scale subresource, and the
//! `managedFields` entries kubectl shows with --show-managed-fields.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{text, Kubectl, TestServer};

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
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
        env:
        - {name: A, value: '1'}
        - {name: B, value: '2'}
        ports:
        - containerPort: 80
";

fn apply_ssa(s: &TestServer, yaml: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["apply", "--server-side", "-f", "-"];
    args.extend_from_slice(extra);
    s.kubectl_stdin(&args, yaml)
}

fn apply_ok(s: &TestServer, yaml: &str, extra: &[&str]) -> String {
    let out = apply_ssa(s, yaml, extra);
    assert!(
        out.status.success(),
        "apply {extra:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn jsonpath(s: &TestServer, path: &str) -> String {
    s.ok(&["get", "deploy", "web", "-o", &format!("jsonpath={path}")])
}

/// The managedFields entries of the clients under test. The Deployment controller's own
/// (`kube-controller-manager`: the revision annotation, the status) are left out.
fn managed_fields(s: &TestServer) -> serde_json::Value {
    let out = s.ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "json",
        "--show-managed-fields",
    ]);
    let obj: serde_json::Value = serde_json::from_str(&out).unwrap();
    let entries: Vec<serde_json::Value> = obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["manager"] != "kube-controller-manager")
        .cloned()
        .collect();
    serde_json::Value::Array(entries)
}

/// Waits until the controllers are done with the new Deployment (its replica set made, its
/// status written; no node runs the pods) and its resourceVersion stays put.
fn settled(s: &TestServer) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut last = String::new();
    loop {
        let replicas = jsonpath(s, "{.status.replicas}");
        let rv = jsonpath(s, "{.metadata.resourceVersion}");
        if replicas == "2" && rv == last {
            return rv;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Deployment never settled"
        );
        last = rv;
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

fn entry<'a>(mf: &'a serde_json::Value, manager: &str, op: &str) -> Option<&'a serde_json::Value> {
    mf.as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == op)
}

fn applying_twice_changes_nothing_the_second_time(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    assert_eq!(
        apply_ok(&s, DEPLOYMENT, &[]).trim(),
        "deployment.apps/web serverside-applied"
    );
    let rv = settled(&s);
    let time = jsonpath(&s, "{.metadata.managedFields[0].time}");
    assert_eq!(
        apply_ok(&s, DEPLOYMENT, &[]).trim(),
        "deployment.apps/web serverside-applied"
    );
    assert_eq!(jsonpath(&s, "{.metadata.resourceVersion}"), rv);
    assert_eq!(jsonpath(&s, "{.metadata.managedFields[0].time}"), time);
    // The entry has upstream's shape.
    let mf = managed_fields(&s);
    assert_eq!(mf.as_array().unwrap().len(), 1, "{mf}");
    let e = entry(&mf, "kubectl", "Apply").expect("kubectl's apply entry");
    assert_eq!(e["apiVersion"], "apps/v1");
    assert_eq!(e["fieldsType"], "FieldsV1");
    let f = &e["fieldsV1"];
    assert_eq!(f["f:spec"]["f:replicas"], serde_json::json!({}));
    let c = &f["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"web\"}"];
    assert_eq!(c["."], serde_json::json!({}), "{f}");
    assert_eq!(
        c["f:env"]["k:{\"name\":\"A\"}"]["f:value"],
        serde_json::json!({})
    );
    assert!(
        c["f:ports"]
            .get("k:{\"containerPort\":80,\"protocol\":\"TCP\"}")
            .is_some(),
        "{c}"
    );
}

fn another_manager_conflicts_until_it_forces(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    apply_ok(&s, DEPLOYMENT, &[]);
    let other = DEPLOYMENT.replace("replicas: 2", "replicas: 5");
    let out = apply_ssa(&s, &other, &["--field-manager=other"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas"),
        "{err}"
    );
    assert!(err.contains("--force-conflicts"), "{err}");
    assert_eq!(jsonpath(&s, "{.spec.replicas}"), "2");

    // The same value is no conflict: both own it.
    apply_ok(&s, DEPLOYMENT, &["--field-manager=other"]);
    // Forcing takes the field over.
    apply_ok(&s, &other, &["--field-manager=other", "--force-conflicts"]);
    assert_eq!(jsonpath(&s, "{.spec.replicas}"), "5");
    let mf = managed_fields(&s);
    let kubectl = entry(&mf, "kubectl", "Apply").unwrap();
    assert!(
        kubectl["fieldsV1"]["f:spec"].get("f:replicas").is_none(),
        "{mf}"
    );
    let other_entry = entry(&mf, "other", "Apply").unwrap();
    assert!(
        other_entry["fieldsV1"]["f:spec"]
            .get("f:replicas")
            .is_some(),
        "{mf}"
    );
    // Now kubectl's old value conflicts with "other".
    let out = apply_ssa(&s, DEPLOYMENT, &[]);
    let err = text(&out.stderr);
    assert!(
        err.contains("Apply failed with 1 conflict: conflict with \"other\": .spec.replicas"),
        "{err}"
    );
}

fn fields_no_longer_applied_are_removed(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    apply_ok(&s, DEPLOYMENT, &[]);
    let fewer = DEPLOYMENT
        .replace("labels: {app: web, tier: front}", "labels: {app: web}")
        .replace("        - {name: B, value: '2'}\n", "");
    apply_ok(&s, &fewer, &[]);
    assert_eq!(jsonpath(&s, "{.metadata.labels}"), r#"{"app":"web"}"#);
    assert_eq!(
        jsonpath(&s, "{.spec.template.spec.containers[0].env[*].name}"),
        "A"
    );
    // A label another manager also applied stays when kubectl drops it.
    let both = DEPLOYMENT.replace("tier: front", "tier: front, team: a");
    apply_ok(&s, &both, &[]);
    let team_only = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {team: a}
";
    apply_ok(&s, team_only, &["--field-manager=labeler"]);
    apply_ok(&s, &fewer, &[]);
    assert_eq!(
        jsonpath(&s, "{.metadata.labels}"),
        r#"{"app":"web","team":"a"}"#
    );
}

fn scale_takes_replicas_and_reapplying_conflicts(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    apply_ok(&s, DEPLOYMENT, &[]);
    s.ok(&["scale", "deploy", "web", "--replicas=4"]);
    assert_eq!(jsonpath(&s, "{.spec.replicas}"), "4");
    let mf = managed_fields(&s);
    let scale = mf
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subresource"] == "scale")
        .unwrap_or_else(|| panic!("no scale entry: {mf}"));
    assert_eq!(scale["operation"], "Update");
    assert_eq!(scale["apiVersion"], "apps/v1");
    assert_eq!(
        scale["fieldsV1"],
        serde_json::json!({"f:spec": {"f:replicas": {}}})
    );
    let manager = scale["manager"].as_str().unwrap().to_string();
    let out = apply_ssa(&s, DEPLOYMENT, &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    let expected = format!(
        "Apply failed with 1 conflict: conflict with \"{manager}\" with subresource \"scale\" using apps/v1: .spec.replicas"
    );
    assert!(err.contains(&expected), "{err}");
    apply_ok(&s, DEPLOYMENT, &["--force-conflicts"]);
    assert_eq!(jsonpath(&s, "{.spec.replicas}"), "2");
}

fn ordinary_writes_record_update_entries(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    // Client-side apply creates, then patches: both as kubectl-client-side-apply.
    s.apply(DEPLOYMENT);
    let mf = managed_fields(&s);
    let csa = entry(&mf, "kubectl-client-side-apply", "Update").unwrap_or_else(|| panic!("{mf}"));
    assert_eq!(csa["apiVersion"], "apps/v1");
    assert!(csa["time"].is_string());
    assert_eq!(
        csa["fieldsV1"]["f:metadata"]["f:labels"]["f:tier"],
        serde_json::json!({})
    );
    s.apply(&DEPLOYMENT.replace("replicas: 2", "replicas: 3"));
    assert_eq!(managed_fields(&s).as_array().unwrap().len(), 1);

    // Another manager conflicts with the client-side applier, as upstream words it.
    let out = apply_ssa(
        &s,
        &DEPLOYMENT.replace("replicas: 2", "replicas: 6"),
        &["--field-manager=other"],
    );
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        ),
        "{err}"
    );
    // kubectl's own server-side apply takes over what the last client-side apply set.
    apply_ok(&s, &DEPLOYMENT.replace("replicas: 2", "replicas: 6"), &[]);
    assert_eq!(jsonpath(&s, "{.spec.replicas}"), "6");

    // Label and annotate record their own managers.
    s.ok(&["label", "deploy", "web", "extra=yes"]);
    s.ok(&["annotate", "deploy", "web", "note=hi"]);
    let mf = managed_fields(&s);
    let label = entry(&mf, "kubectl-label", "Update").unwrap_or_else(|| panic!("{mf}"));
    assert_eq!(
        label["fieldsV1"],
        serde_json::json!({"f:metadata": {"f:labels": {"f:extra": {}}}})
    );
    assert!(entry(&mf, "kubectl-annotate", "Update").is_some(), "{mf}");

    // kubectl create records kubectl-create.
    s.ok(&["create", "configmap", "cm", "--from-literal=a=1"]);
    let out = s.ok(&["get", "cm", "cm", "-o", "json", "--show-managed-fields"]);
    let cm: serde_json::Value = serde_json::from_str(&out).unwrap();
    let e = &cm["metadata"]["managedFields"][0];
    assert_eq!(e["manager"], "kubectl-create");
    assert_eq!(e["operation"], "Update");
    assert_eq!(
        e["fieldsV1"],
        serde_json::json!({"f:data": {".": {}, "f:a": {}}})
    );
}

fn managed_fields_show_only_when_asked(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    apply_ok(&s, DEPLOYMENT, &[]);
    let plain = s.ok(&["get", "deploy", "web", "-o", "yaml"]);
    assert!(!plain.contains("managedFields"), "{plain}");
    let shown = s.ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "yaml",
        "--show-managed-fields",
    ]);
    for want in [
        "managedFields:",
        "manager: kubectl",
        "operation: Apply",
        "fieldsType: FieldsV1",
        "apiVersion: apps/v1",
        "f:replicas: {}",
        "k:{\"name\":\"web\"}:",
        ".: {}",
    ] {
        assert!(shown.contains(want), "{want} missing from:\n{shown}");
    }
}

fn patch_records_its_manager_and_apply_needs_one(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    apply_ok(&s, DEPLOYMENT, &[]);
    s.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        "{\"spec\":{\"minReadySeconds\":3}}",
    ]);
    let mf = managed_fields(&s);
    let patch = entry(&mf, "kubectl-patch", "Update").unwrap_or_else(|| panic!("{mf}"));
    assert_eq!(
        patch["fieldsV1"],
        serde_json::json!({"f:spec": {"f:minReadySeconds": {}}})
    );
    // An apply without a field manager is refused as upstream refuses it.
    let out = apply_ssa(&s, DEPLOYMENT, &["--field-manager="]);
    let err = text(&out.stderr);
    assert!(
        err.contains("PatchOptions \"\" is invalid: fieldManager: Required value: is required for apply patch"),
        "{err}"
    );
}

fn created_objects_look_like_upstreams(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.ok(&["create", "deployment", "web", "--image=nginx"]);
    let mf = managed_fields(&s);
    let e = entry(&mf, "kubectl-create", "Update").unwrap_or_else(|| panic!("{mf}"));
    let spec = &e["fieldsV1"]["f:spec"];
    // Structs that Go always has (spec, template, strategy) carry no "."; pointers do.
    assert!(spec.get(".").is_none(), "{spec}");
    assert!(spec["f:template"].get(".").is_none(), "{spec}");
    assert!(spec["f:strategy"].get(".").is_none(), "{spec}");
    assert_eq!(
        spec["f:strategy"]["f:rollingUpdate"]["."],
        serde_json::json!({})
    );
    let c = &spec["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"];
    for f in [
        "f:image",
        "f:imagePullPolicy",
        "f:resources",
        "f:terminationMessagePath",
    ] {
        assert_eq!(c[f], serde_json::json!({}), "{f} in {c}");
    }
}

common::kubectl_tests!(
    applying_twice_changes_nothing_the_second_time,
    another_manager_conflicts_until_it_forces,
    fields_no_longer_applied_are_removed,
    scale_takes_replicas_and_reapplying_conflicts,
    ordinary_writes_record_update_entries,
    managed_fields_show_only_when_asked,
    patch_records_its_manager_and_apply_needs_one,
    created_objects_look_like_upstreams,
);
