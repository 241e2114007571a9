//! The field manager end to end on Deployments and ConfigMaps: entries, ownership, conflicts,
//! pruning, and the upstream quirks kubectl relies on.

use super::*;
use serde_json::{json, Value};

const T0: &str = "2025-01-01T00:00:00Z";
const T1: &str = "2025-01-01T00:01:00Z";
const T2: &str = "2025-01-01T00:02:00Z";

fn deploy_scope() -> Scope {
    let mut s = Scope::new("io.k8s.api.apps.v1.Deployment", "apps/v1", "Deployment");
    s.reset = Reset::Status;
    s
}

fn cm_scope() -> Scope {
    Scope::new("io.k8s.api.core.v1.ConfigMap", "v1", "ConfigMap")
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image,
                                         "ports": [{"containerPort": 80}]}]}
            }
        }
    })
}

/// What the registry adds on create.
fn stored(mut obj: Value) -> Value {
    obj["metadata"]["uid"] = json!("u-1");
    obj["metadata"]["creationTimestamp"] = json!(T0);
    obj
}

fn entries(obj: &Value) -> Vec<Value> {
    obj["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn entry<'a>(obj: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
}

fn apply_ok(
    scope: &Scope,
    live: Option<&Value>,
    config: &Value,
    manager: &str,
    now: &str,
) -> Value {
    let out = apply(scope, live, config, manager, false, now).unwrap();
    match live {
        Some(_) => out,
        None => stored(out),
    }
}

#[test]
fn apply_creates_and_records_the_applied_fields() {
    let obj = apply_ok(
        &deploy_scope(),
        None,
        &deployment(3, "nginx:1"),
        "kubectl",
        T0,
    );
    assert_eq!(obj["spec"]["replicas"], 3);
    let e = entries(&obj);
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0],
        json!({
            "manager": "kubectl", "operation": "Apply", "apiVersion": "apps/v1", "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                            ".": {}, "f:image": {}, "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                ".": {}, "f:containerPort": {}}}
                        }}}
                    }
                }
            }
        })
    );
}

#[test]
fn applying_the_same_configuration_again_changes_nothing() {
    let scope = deploy_scope();
    let config = deployment(3, "nginx:1");
    let first = apply_ok(&scope, None, &config, "kubectl", T0);
    let second = apply_ok(&scope, Some(&first), &config, "kubectl", T1);
    assert_eq!(first, second);
    assert_eq!(entry(&second, "kubectl", "Apply").unwrap()["time"], T0);
}

#[test]
fn conflicts_name_the_other_manager_and_force_takes_over() {
    let scope = deploy_scope();
    let live = apply_ok(&scope, None, &deployment(3, "nginx:1"), "first", T0);
    let err = apply(
        &scope,
        Some(&live),
        &deployment(5, "nginx:1"),
        "other",
        false,
        T1,
    )
    .unwrap_err();
    assert_eq!(err.code, 409);
    assert_eq!(err.reason, "Conflict");
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"first\": .spec.replicas"
    );
    assert_eq!(err.causes.len(), 1);
    assert_eq!(err.causes[0].reason, "FieldManagerConflict");
    assert_eq!(err.causes[0].message, "conflict with \"first\"");
    assert_eq!(err.causes[0].field, ".spec.replicas");
    let status = err.to_status();
    assert!(status["details"].get("name").is_none());

    let forced = apply(
        &scope,
        Some(&live),
        &deployment(5, "nginx:1"),
        "other",
        true,
        T1,
    )
    .unwrap();
    assert_eq!(forced["spec"]["replicas"], 5);
    let first = entry(&forced, "first", "Apply").unwrap();
    assert!(first["fieldsV1"]["f:spec"].get("f:replicas").is_none());
    assert_eq!(first["time"], T0);
    let other = entry(&forced, "other", "Apply").unwrap();
    assert!(other["fieldsV1"]["f:spec"].get("f:replicas").is_some());
    assert_eq!(other["time"], T1);
}

#[test]
fn several_conflicts_are_listed_by_manager() {
    let scope = deploy_scope();
    let live = apply_ok(&scope, None, &deployment(3, "nginx:1"), "first", T0);
    let err = apply(
        &scope,
        Some(&live),
        &deployment(5, "nginx:2"),
        "other",
        false,
        T1,
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "Apply failed with 2 conflicts: conflicts with \"first\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image"
    );
    assert_eq!(err.causes.len(), 2);
}

#[test]
fn the_same_value_is_shared_not_a_conflict() {
    let scope = deploy_scope();
    let live = apply_ok(&scope, None, &deployment(3, "nginx:1"), "first", T0);
    let config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "web"}, "spec": {"replicas": 3}});
    let shared = apply(&scope, Some(&live), &config, "second", false, T1).unwrap();
    let second = entry(&shared, "second", "Apply").unwrap();
    assert_eq!(second["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    // Nothing changed, so the new entry has no time, as upstream.
    assert!(second.get("time").is_none());
    // Now "first" drops replicas: "second" still owns it, so it stays.
    let mut without = deployment(3, "nginx:1");
    without["spec"].as_object_mut().unwrap().remove("replicas");
    let after = apply(&scope, Some(&shared), &without, "first", false, T2).unwrap();
    assert_eq!(after["spec"]["replicas"], 3);
}

#[test]
fn fields_no_longer_applied_are_removed() {
    let scope = cm_scope();
    let v1 = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "c", "labels": {"a": "1", "b": "2"}},
                    "data": {"x": "1", "y": "2"}});
    let live = apply_ok(&scope, None, &v1, "m", T0);
    let v2 = json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"x": "1"}});
    let after = apply(&scope, Some(&live), &v2, "m", false, T1).unwrap();
    assert_eq!(after["data"], json!({"x": "1"}));
    assert_eq!(after["metadata"]["labels"], json!({"a": "1"}));
    assert_eq!(after["metadata"]["uid"], "u-1");
    assert_eq!(after["metadata"]["creationTimestamp"], T0);
    // Dropping every label removes the map itself.
    let v3 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1"}});
    let after = apply(&scope, Some(&after), &v3, "m", false, T2).unwrap();
    assert!(after["metadata"].get("labels").is_none(), "{after}");
    assert_eq!(after["metadata"]["name"], "c");
    assert_eq!(
        entry(&after, "m", "Apply").unwrap()["fieldsV1"],
        json!({"f:data": {"f:x": {}}})
    );
}

#[test]
fn fields_set_by_an_update_manager_are_not_pruned() {
    let scope = cm_scope();
    let v1 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                    "data": {"x": "1"}});
    let live = apply_ok(&scope, None, &v1, "m", T0);
    // An update adds y and takes x over.
    let mut new = live.clone();
    new["data"] = json!({"x": "2", "y": "3"});
    update(&scope, Some(&live), &mut new, "kubectl-edit", T1);
    let edit = entry(&new, "kubectl-edit", "Update").unwrap();
    assert_eq!(edit["fieldsV1"], json!({"f:data": {"f:x": {}, "f:y": {}}}));
    assert_eq!(edit["time"], T1);
    assert_eq!(edit["apiVersion"], "v1");
    assert!(entry(&new, "m", "Apply").is_none(), "m lost its only field");
    // The applier applying nothing of data leaves both.
    let v2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
    let after = apply(&scope, Some(&new), &v2, "m", false, T2).unwrap();
    assert_eq!(after["data"], json!({"x": "2", "y": "3"}));
    // Re-applying the old value conflicts with the update manager.
    let err = apply(&scope, Some(&new), &v1, "m", false, T2).unwrap_err();
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using v1: .data.x"
    );
}

#[test]
fn updates_record_what_they_change_and_create_records_everything() {
    let scope = deploy_scope();
    let mut created = deployment(2, "nginx:1");
    update(&scope, None, &mut created, "kubectl-create", T0);
    let e = entries(&created);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["manager"], "kubectl-create");
    assert_eq!(e[0]["operation"], "Update");
    assert_eq!(e[0]["time"], T0);
    let f = &e[0]["fieldsV1"];
    assert!(f["f:metadata"].get("f:name").is_none());
    assert_eq!(f["f:metadata"]["f:labels"], json!({".": {}, "f:app": {}}));
    assert_eq!(f["f:spec"]["f:replicas"], json!({}));
    // As upstream compares against the Go zero value: structs that are not pointers, and
    // fields without omitempty, were there already (no "."), pointers and omitempty lists were
    // not; a container's resources are always there.
    assert!(f["f:spec"].get(".").is_none(), "{f}");
    assert!(
        f["f:spec"]["f:template"]["f:spec"].get(".").is_none(),
        "{f}"
    );
    let containers = &f["f:spec"]["f:template"]["f:spec"]["f:containers"];
    assert!(containers.get(".").is_none(), "{f}");
    let web = &containers["k:{\"name\":\"web\"}"];
    assert_eq!(web["."], json!({}));
    assert_eq!(web["f:resources"], json!({}));
    assert_eq!(web["f:ports"]["."], json!({}));
    let live = stored(created);
    // An update that changes nothing keeps the entry as it was.
    let mut same = live.clone();
    update(&scope, Some(&live), &mut same, "kubectl-edit", T1);
    assert_eq!(same, live);
    // Status changes on the main resource are not owned.
    let mut with_status = live.clone();
    with_status["status"] = json!({"replicas": 2});
    with_status["spec"]["replicas"] = json!(4);
    update(&scope, Some(&live), &mut with_status, "kubectl-edit", T1);
    let edit = entry(&with_status, "kubectl-edit", "Update").unwrap();
    assert_eq!(edit["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    let create = entry(&with_status, "kubectl-create", "Update").unwrap();
    assert!(create["fieldsV1"]["f:spec"].get("f:replicas").is_none());
}

#[test]
fn objects_without_managed_fields_are_not_tracked_by_updates() {
    let scope = cm_scope();
    let live = stored(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1"}}),
    );
    let mut new = live.clone();
    new["data"]["x"] = json!("2");
    update(&scope, Some(&live), &mut new, "kubectl-edit", T1);
    assert!(new["metadata"].get("managedFields").is_none());
    // An apply starts tracking: what was there goes to "before-first-apply".
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"z": "1"}});
    let after = apply(&scope, Some(&live), &config, "m", false, T1).unwrap();
    let before = entry(&after, "before-first-apply", "Update").unwrap();
    assert_eq!(before["fieldsV1"], json!({"f:data": {".": {}, "f:x": {}}}));
    assert_eq!(after["data"], json!({"x": "1", "z": "1"}));
}

#[test]
fn managed_fields_in_a_request_replace_or_reset_them() {
    let scope = cm_scope();
    let live = apply_ok(
        &scope,
        None,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "1"}}),
        "m",
        T0,
    );
    let mut reset = live.clone();
    reset["metadata"]["managedFields"] = json!([]);
    update(&scope, Some(&live), &mut reset, "kubectl-edit", T1);
    assert!(reset["metadata"].get("managedFields").is_none());
    let err = apply(
        &scope,
        Some(&live),
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "managedFields": []}}),
        "m",
        false,
        T1,
    )
    .unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (400, "metadata.managedFields must be nil")
    );
    let err = apply(
        &scope,
        Some(&live),
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "c"}}),
        "m",
        false,
        T1,
    )
    .unwrap_err();
    assert_eq!(err.message, "invalid object type: apps/v1, Kind=Deployment");
}

#[test]
fn kubectl_takes_over_from_client_side_apply() {
    let scope = deploy_scope();
    let mut csa = deployment(3, "nginx:1");
    let last = serde_json::to_string(&deployment(3, "nginx:1")).unwrap();
    csa["metadata"]["annotations"] = json!({LAST_APPLIED_ANNOTATION: last});
    update(&scope, None, &mut csa, "kubectl-client-side-apply", T0);
    let live = stored(csa);
    // Another manager conflicts with the client-side applier...
    let err = apply(
        &scope,
        Some(&live),
        &deployment(5, "nginx:1"),
        "other",
        false,
        T1,
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
    );
    // ...but kubectl's server-side apply takes the fields the annotation set.
    let after = apply(
        &scope,
        Some(&live),
        &deployment(5, "nginx:1"),
        "kubectl",
        false,
        T1,
    )
    .unwrap();
    assert_eq!(after["spec"]["replicas"], 5);
    let annotation = after["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
        .as_str()
        .unwrap();
    let recorded: Value = serde_json::from_str(annotation).unwrap();
    assert_eq!(recorded["spec"]["replicas"], 5);
    assert!(annotation.ends_with('\n'));
}

#[test]
fn scale_entries_own_replicas_without_time() {
    let scope = deploy_scope();
    let live = apply_ok(&scope, None, &deployment(3, "nginx:1"), "kubectl", T0);
    let mut scale = scope.clone();
    scale.subresource = Some("scale".into());
    scale.reset = Reset::AllBut(vec![Path::fields(&["spec", "replicas"])]);
    scale.timestamps = false;
    let mut new = live.clone();
    new["spec"]["replicas"] = json!(5);
    update(&scale, Some(&live), &mut new, "kubectl", T1);
    let e = entry(&new, "kubectl", "Update").unwrap();
    assert_eq!(
        e,
        &json!({"manager": "kubectl", "operation": "Update", "apiVersion": "apps/v1",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}},
                "subresource": "scale"})
    );
    let err = apply(
        &scope,
        Some(&new),
        &deployment(3, "nginx:1"),
        "kubectl",
        false,
        T2,
    )
    .unwrap_err();
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"kubectl\" with subresource \"scale\" using apps/v1: .spec.replicas"
    );
}

#[test]
fn map_list_items_merge_by_key_in_upstream_order() {
    let scope = deploy_scope();
    let mut config = deployment(1, "nginx:1");
    config["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]);
    let live = apply_ok(&scope, None, &config, "one", T0);
    let other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "c:1"}, {"name": "a", "image": "a:1"}]}}}});
    let merged = apply(&scope, Some(&live), &other, "two", false, T1).unwrap();
    let names: Vec<&str> = merged["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c", "a", "b"]);
    // "one" stops applying b: it goes; a stays (two applies it too).
    let mut fewer = config.clone();
    fewer["spec"]["template"]["spec"]["containers"] = json!([]);
    let after = apply(&scope, Some(&merged), &fewer, "one", false, T2).unwrap();
    let names: Vec<&str> = after["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c", "a"]);
}

#[test]
fn duplicate_keys_in_an_applied_list_are_refused() {
    let mut config = deployment(1, "nginx:1");
    config["spec"]["template"]["spec"]["containers"] = json!([
        {"name": "a", "image": "a:1"}, {"name": "a", "image": "b:1"}]);
    let err = apply(&deploy_scope(), None, &config, "m", false, T0).unwrap_err();
    assert_eq!(err.code, 500);
    assert!(
        err.message
            .contains("duplicate entries for key [name=\"a\"]"),
        "{}",
        err.message
    );
}

#[test]
fn update_managers_are_capped() {
    let scope = cm_scope();
    let mut live = apply_ok(
        &scope,
        None,
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}}),
        "m",
        T0,
    );
    for i in 0..12 {
        let mut new = live.clone();
        new["data"][format!("k{i}")] = json!("v");
        let t = format!("2025-01-01T01:{i:02}:00Z");
        update(&scope, Some(&live), &mut new, &format!("u{i}"), &t);
        live = new;
    }
    let names: Vec<String> = entries(&live)
        .iter()
        .filter(|e| e["operation"] == "Update")
        .map(|e| e["manager"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 10, "{names:?}");
    assert!(names.contains(&"ancient-changes".to_string()), "{names:?}");
    let ancient = entry(&live, "ancient-changes", "Update").unwrap();
    assert_eq!(
        ancient["fieldsV1"],
        json!({"f:data": {"f:k0": {}, "f:k1": {}, "f:k2": {}}})
    );
}

#[test]
fn managers_default_from_the_user_agent() {
    assert_eq!(
        manager_or_user_agent(None, Some("kubectl/v1.32.4 (linux/amd64) kubernetes/abc")),
        "kubectl"
    );
    assert_eq!(
        manager_or_user_agent(Some("helm"), Some("kubectl/v1")),
        "helm"
    );
    assert_eq!(
        manager_or_user_agent(Some(""), Some("kube-rs/0.1")),
        "kube-rs"
    );
    assert_eq!(manager_or_user_agent(None, None), "");
    let long = "x".repeat(300);
    assert_eq!(manager_or_user_agent(None, Some(&long)).len(), 128);
}

#[test]
fn encode_sorts_appliers_first_then_by_time() {
    let scope = cm_scope();
    let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    update(&scope, None, &mut obj, "creator", T1);
    let live = stored(obj);
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"b": "1"}});
    let after = apply(&scope, Some(&live), &config, "applier", false, T2).unwrap();
    let order: Vec<&str> = after["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["applier", "creator"]);
    let decoded = decode(after["metadata"].get("managedFields")).unwrap();
    assert_eq!(
        encode(&decoded).unwrap(),
        after["metadata"]["managedFields"]
    );
}

/// A custom resource's schema: a list-map by `name`, a set, an atomic list, an atomic map.
fn widget_scope() -> Scope {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "ports": {"type": "array", "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "port": {"type": "integer"}}}},
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "args": {"type": "array", "items": {"type": "string"}},
        "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
            "additionalProperties": {"type": "string"}}}}}});
    let mut s = Scope::new("com.example.v1.Widget", "example.com/v1", "Widget");
    s.custom_schema = Some(types::intern(&schema));
    s
}

fn widget(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"}, "spec": spec})
}

#[test]
fn custom_resources_merge_by_their_schemas_list_types() {
    let s = widget_scope();
    let a = apply_ok(
        &s,
        None,
        &widget(json!({"ports": [{"name": "http", "port": 80}], "tags": ["a"], "args": ["x"]})),
        "a",
        T0,
    );
    let b = apply_ok(
        &s,
        Some(&a),
        &widget(json!({"ports": [{"name": "metrics", "port": 9090}], "tags": ["b"]})),
        "b",
        T1,
    );
    // Both managers' items are kept: merged by key, and by value in the set.
    assert_eq!(
        b["spec"]["ports"],
        json!([{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}])
    );
    assert_eq!(b["spec"]["tags"], json!(["a", "b"]));
    let fields = &entry(&b, "b", "Apply").unwrap()["fieldsV1"];
    assert_eq!(
        fields["f:spec"]["f:ports"],
        json!({"k:{\"name\":\"metrics\"}": {".": {}, "f:name": {}, "f:port": {}}})
    );
    assert_eq!(fields["f:spec"]["f:tags"], json!({"v:\"b\"": {}}));
    // a drops its port: only its item goes.
    let a2 = apply_ok(
        &s,
        Some(&b),
        &widget(json!({"tags": ["a"], "args": ["x"]})),
        "a",
        T2,
    );
    assert_eq!(
        a2["spec"]["ports"],
        json!([{"name": "metrics", "port": 9090}])
    );
    // The atomic list is one field: b changing it conflicts with a.
    let err = apply(
        &s,
        Some(&a2),
        &widget(json!({"args": ["y"]})),
        "b",
        false,
        T2,
    )
    .unwrap_err();
    assert_eq!(err.code, 409, "{err:?}");
    // metadata is ObjectMeta: finalizers are a set.
    let mut fin = widget(json!({}));
    fin["metadata"]["finalizers"] = json!(["example.com/x"]);
    let with_fin = apply_ok(&s, Some(&a2), &fin, "c", T2);
    assert_eq!(
        entry(&with_fin, "c", "Apply").unwrap()["fieldsV1"]["f:metadata"]["f:finalizers"],
        json!({"v:\"example.com/x\"": {}})
    );
}
