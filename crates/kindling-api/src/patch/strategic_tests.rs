//! Strategic merge patch cases kubectl users meet, on the real definitions, and the directive
//! mechanics on a small test schema.

use super::strategic::test_schema::TestSchema;
use super::strategic::{apply_strategic_merge_patch, strategic_merge};
use serde_json::{json, Value};

const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";
const POD: &str = "io.k8s.api.core.v1.Pod";

fn smp(type_name: &str, doc: &Value, patch: Value) -> Value {
    apply_strategic_merge_patch(type_name, doc, &serde_json::to_vec(&patch).unwrap())
        .unwrap_or_else(|e| panic!("{patch}: {e}"))
}

fn smp_err(type_name: &str, doc: &Value, patch: Value) -> crate::ApiError {
    apply_strategic_merge_patch(type_name, doc, &serde_json::to_vec(&patch).unwrap()).unwrap_err()
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"},
                     "finalizers": ["a.example.com/x", "b.example.com/y"]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "app:v1", "args": ["--a"],
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}]},
                        {"name": "sidecar", "image": "proxy:v1"}
                    ],
                    "tolerations": [{"key": "k1", "operator": "Exists"}, {"key": "k2", "operator": "Exists"}],
                    "volumes": [{"name": "data", "emptyDir": {}}]
                }
            }
        }
    })
}

fn containers(d: &Value) -> &Value {
    &d["spec"]["template"]["spec"]["containers"]
}

#[test]
fn kubectl_apply_changes_one_image_with_set_element_order() {
    let patch = json!({
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
        "spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
            "containers": [{"image": "proxy:v2", "name": "sidecar"}]
        }}}
    });
    let out = smp(DEPLOYMENT, &deployment(), patch);
    let mut want = deployment();
    want["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": "{}\n"});
    want["spec"]["template"]["spec"]["containers"][1]["image"] = json!("proxy:v2");
    assert_eq!(out, want);
}

#[test]
fn kubectl_apply_reorders_and_adds_containers() {
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "init"}, {"name": "sidecar"}, {"name": "app"}],
        "containers": [{"name": "init", "image": "init:v1"}]
    }}}});
    let out = smp(DEPLOYMENT, &deployment(), patch);
    let names: Vec<&str> = containers(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["init", "sidecar", "app"]);
    assert_eq!(
        containers(&out)[2]["env"],
        deployment()["spec"]["template"]["spec"]["containers"][0]["env"]
    );
}

#[test]
fn kubectl_patch_one_container_keeps_the_rest() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:v2"}]}}}}),
    );
    let mut want = deployment();
    want["spec"]["template"]["spec"]["containers"][0]["image"] = json!("app:v2");
    assert_eq!(out, want);
}

#[test]
fn new_container_is_appended() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"name":"extra","image":"x","workingDir":null}]}}}}),
    );
    // As upstream: items only the patch has come before the server's items.
    assert_eq!(containers(&out).as_array().unwrap().len(), 3);
    assert_eq!(containers(&out)[0], json!({"name": "extra", "image": "x"}));
    assert_eq!(containers(&out)[1]["name"], "app");
}

#[test]
fn env_merges_by_name() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"name":"app","env":[
            {"name":"B","value":"3"},{"name":"C","value":"4"}
        ]}]}}}}),
    );
    assert_eq!(
        containers(&out)[0]["env"],
        json!([{"name":"A","value":"1"},{"name":"B","value":"3"},{"name":"C","value":"4"}])
    );
    // Non-merging lists inside the merged item are replaced.
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"name":"app","args":["--b"]}]}}}}),
    );
    assert_eq!(containers(&out)[0]["args"], json!(["--b"]));
}

#[test]
fn env_item_deleted_and_value_from_switched() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"name":"app","env":[
            {"name":"A","$patch":"delete"},
            {"name":"B","value":null,"valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}
        ]}]}}}}),
    );
    assert_eq!(
        containers(&out)[0]["env"],
        json!([{"name":"B","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}])
    );
}

#[test]
fn delete_a_container_with_patch_delete() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}),
    );
    assert_eq!(containers(&out).as_array().unwrap().len(), 1);
    assert_eq!(containers(&out)[0]["name"], "app");
}

#[test]
fn replace_a_list_with_patch_replace_item() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"$patch":"replace"},{"name":"only","image":"only:v1"}]}}}}),
    );
    assert_eq!(
        containers(&out),
        &json!([{"name":"only","image":"only:v1"}])
    );
}

#[test]
fn null_deletes_a_label_and_keeps_key_order() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"metadata":{"labels":{"app":null,"new":"x"}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({"tier":"front","new":"x"}));
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec"]);
    // A null for something absent is ignored.
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"metadata":{"annotations":null}}),
    );
    assert_eq!(out, deployment());
}

#[test]
fn maps_replaced_or_deleted_by_directive() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"metadata":{"labels":{"$patch":"replace","only":"one"}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({"only":"one"}));
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"metadata":{"labels":{"$patch":"delete"}}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({}));
    let out = smp(DEPLOYMENT, &deployment(), json!({"$patch":"delete"}));
    assert_eq!(out, json!({}));
}

#[test]
fn retain_keys_switches_strategy_to_recreate() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}),
    );
    assert_eq!(out["spec"]["strategy"], json!({"type":"Recreate"}));
    // The same with an explicit null, as kubectl patch users write it.
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"strategy":{"type":"Recreate","rollingUpdate":null}}}),
    );
    assert_eq!(out["spec"]["strategy"], json!({"type":"Recreate"}));
    // Without either, rollingUpdate stays (and validation rejects it later, as upstream).
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"strategy":{"type":"Recreate"}}}),
    );
    assert_eq!(out["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
}

#[test]
fn retain_keys_must_list_every_patched_key() {
    let e = smp_err(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":{"maxSurge":1}}}}),
    );
    assert_eq!(
        (e.code, e.reason, e.message.as_str()),
        (400, "BadRequest", "invalid patch format of retainKeys")
    );
    let e = smp_err(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"strategy":{"$retainKeys":"type"}}}),
    );
    assert_eq!(e.code, 400);
}

#[test]
fn retain_keys_in_volume_items() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"template":{"spec":{
            "$setElementOrder/volumes":[{"name":"data"}],
            "volumes":[{"$retainKeys":["configMap","name"],"configMap":{"name":"cm"},"name":"data"}]
        }}}}),
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["volumes"],
        json!([{"name":"data","configMap":{"name":"cm"}}])
    );
}

#[test]
fn finalizers_merge_as_a_set() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"metadata":{"finalizers":["c.example.com/z","a.example.com/x"]}}),
    );
    // Patch items in patch order, server-only items kept after the item they followed.
    assert_eq!(
        out["metadata"]["finalizers"],
        json!(["c.example.com/z", "a.example.com/x", "b.example.com/y"])
    );
}

#[test]
fn delete_from_primitive_list() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["a.example.com/x","nope"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["b.example.com/y"]));
    // Deleting from an absent list does not create it.
    let mut d = deployment();
    d["metadata"].as_object_mut().unwrap().remove("finalizers");
    let out = smp(
        DEPLOYMENT,
        &d,
        json!({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}),
    );
    assert!(out["metadata"].get("finalizers").is_none());
    // kubectl apply removing one finalizer and keeping the other.
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"metadata":{"$setElementOrder/finalizers":["b.example.com/y"],"$deleteFromPrimitiveList/finalizers":["a.example.com/x"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["b.example.com/y"]));
    let e = smp_err(
        DEPLOYMENT,
        &deployment(),
        json!({"metadata":{"$deleteFromPrimitiveList":["a"]}}),
    );
    assert_eq!(
        (e.code, e.message.as_str()),
        (400, "invalid patch format of primitive list")
    );
}

#[test]
fn ports_merge_by_container_port() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"template":{"spec":{"containers":[{"name":"app","ports":[
            {"containerPort":80,"hostPort":8080},{"containerPort":443,"name":"https"}
        ]}]}}}}),
    );
    assert_eq!(
        containers(&out)[0]["ports"],
        json!([
            {"containerPort":80,"name":"http","protocol":"TCP","hostPort":8080},
            {"containerPort":443,"name":"https"}
        ])
    );
}

#[test]
fn tolerations_are_replaced() {
    let out = smp(
        DEPLOYMENT,
        &deployment(),
        json!({"spec":{"template":{"spec":{"tolerations":[{"key":"k3","operator":"Exists"}]}}}}),
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["tolerations"],
        json!([{"key":"k3","operator":"Exists"}])
    );
}

#[test]
fn service_ports_merge_by_port_and_owner_references_by_uid() {
    let svc = json!({"metadata":{"name":"s","ownerReferences":[{"uid":"u1","name":"a","kind":"X","apiVersion":"v1"}]},
                     "spec":{"ports":[{"port":80,"targetPort":8080},{"port":443,"targetPort":"https"}]}});
    let out = smp(
        "io.k8s.api.core.v1.Service",
        &svc,
        json!({"metadata":{"ownerReferences":[{"uid":"u2","name":"b","kind":"X","apiVersion":"v1"}]},
               "spec":{"ports":[{"port":80,"targetPort":9090}]}}),
    );
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port":80,"targetPort":9090},{"port":443,"targetPort":"https"}])
    );
    assert_eq!(
        out["metadata"]["ownerReferences"].as_array().unwrap().len(),
        2
    );
}

#[test]
fn replace_strategy_map() {
    let pdb = json!({"spec":{"minAvailable":1,"selector":{"matchLabels":{"a":"1"},"matchExpressions":[{"key":"k","operator":"Exists"}]}}});
    let out = smp(
        "io.k8s.api.policy.v1.PodDisruptionBudget",
        &pdb,
        json!({"spec":{"selector":{"matchLabels":{"b":"2"}}}}),
    );
    assert_eq!(out["spec"]["selector"], json!({"matchLabels":{"b":"2"}}));
}

#[test]
fn pod_containers_on_the_pod_type() {
    let pod = json!({"spec":{"containers":[{"name":"a","image":"x","resources":{"limits":{"cpu":"1"}}}]}});
    let out = smp(
        POD,
        &pod,
        json!({"spec":{"containers":[{"name":"a","resources":{"limits":{"memory":"1Gi"}}}]}}),
    );
    assert_eq!(
        out["spec"]["containers"][0]["resources"]["limits"],
        json!({"cpu":"1","memory":"1Gi"})
    );
}

#[test]
fn unknown_fields_and_types_fall_back_to_merge_patch() {
    let mut d = deployment();
    d["spec"]["custom"] = json!({"list": [1, 2], "keep": true});
    let out = smp(DEPLOYMENT, &d, json!({"spec":{"custom":{"list":[3]}}}));
    assert_eq!(out["spec"]["custom"], json!({"list":[3],"keep":true}));
    let widget = json!({"spec":{"items":[{"name":"a"}],"m":{"x":1}}});
    let out = smp(
        "io.example.v1.Widget",
        &widget,
        json!({"spec":{"items":[{"name":"b"}],"m":{"y":2}}}),
    );
    assert_eq!(
        out,
        json!({"spec":{"items":[{"name":"b"}],"m":{"x":1,"y":2}}})
    );
}

#[test]
fn errors_like_upstream() {
    let d = deployment();
    let e = smp_err(
        DEPLOYMENT,
        &d,
        json!({"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}),
    );
    assert_eq!(e.code, 500);
    assert_eq!(
        e.message,
        "map: map[image:x] does not contain declared merge key: name"
    );

    let e = smp_err(
        DEPLOYMENT,
        &d,
        json!({"metadata":{"labels":{"$patch":"bogus"}}}),
    );
    assert_eq!(e.code, 500);
    assert_eq!(
        e.message,
        "unknown patch type: bogus in map: map[$patch:bogus]"
    );

    let e = smp_err(
        DEPLOYMENT,
        &d,
        json!({"spec":{"template":{"spec":{"containers":[{"name":"x","$patch":"merge"}]}}}}),
    );
    assert_eq!(
        e.message,
        "merging lists cannot yet be specified in the patch"
    );

    let mut no_finalizers = d.clone();
    no_finalizers["metadata"]["finalizers"] = json!([]);
    let e = smp_err(
        DEPLOYMENT,
        &no_finalizers,
        json!({"metadata":{"finalizers":[["a"]]}}),
    );
    assert_eq!(
        (e.code, e.reason, e.message.as_str()),
        (422, "Invalid", super::json::UNPROCESSABLE)
    );

    let e = smp_err(DEPLOYMENT, &d, json!({"metadata":{"finalizers":[1]}}));
    assert_eq!(e.code, 500);
    assert!(
        e.message
            .starts_with("list element types are not identical: "),
        "{}",
        e.message
    );

    let e = smp_err(
        DEPLOYMENT,
        &d,
        json!({"spec":{"template":{"spec":{
            "$setElementOrder/containers":[{"name":"app"}],
            "containers":[{"name":"sidecar","image":"y"}]
        }}}}),
    );
    assert_eq!(e.code, 500);
    assert!(
        e.message.contains("doesn't match $setElementOrder list"),
        "{}",
        e.message
    );

    let e = smp_err(
        DEPLOYMENT,
        &d,
        json!({"spec":{"template":{"spec":{"$setElementOrder":[]}}}}),
    );
    assert_eq!(
        (e.code, e.message.as_str()),
        (400, "invalid patch format of setElementOrder list")
    );

    let e = apply_strategic_merge_patch(DEPLOYMENT, &d, b"{\"spec\": ").unwrap_err();
    assert_eq!(e.code, 400);
    assert!(e.message.contains("invalid JSON"), "{}", e.message);
    let e = apply_strategic_merge_patch(DEPLOYMENT, &d, b"[]").unwrap_err();
    assert_eq!(
        e.message,
        "json: cannot unmarshal array into Go value of type map[string]interface {}"
    );
    assert_eq!(
        apply_strategic_merge_patch(DEPLOYMENT, &d, b"null").unwrap(),
        d
    );
}

// The directive mechanics on the test schema (`mergingList` merges by `name`, `mergingIntList`
// merges primitives).

fn test_merge(original: Value, patch: Value) -> Result<Value, crate::ApiError> {
    let (Value::Object(o), Value::Object(p)) = (original, patch) else {
        panic!("objects only")
    };
    strategic_merge(o, p, &TestSchema).map(Value::Object)
}

fn names(v: &Value) -> Vec<Value> {
    v["mergingList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].clone())
        .collect()
}

#[test]
fn set_element_order_interleaves_server_only_items() {
    let original = json!({"mergingList": [
        {"name": "p", "other": "kept"}, {"name": "q"}, {"name": "s1"}, {"name": "s2"}, {"name": "r"}, {"name": "t"}
    ]});
    let patch = json!({"$setElementOrder/mergingList": [{"name": "q"}, {"name": "p"}, {"name": "t"}, {"name": "r"}]});
    let out = test_merge(original, patch).unwrap();
    assert_eq!(
        names(&out),
        [
            json!("q"),
            json!("p"),
            json!("s1"),
            json!("s2"),
            json!("t"),
            json!("r")
        ]
    );
    assert_eq!(out["mergingList"][1]["other"], "kept");
}

#[test]
fn set_element_order_may_name_items_that_are_absent() {
    let out = test_merge(
        json!({"mergingList": [{"name": "1"}, {"name": "3"}]}),
        json!({"$setElementOrder/mergingList": [{"name": "3"}, {"name": "2"}, {"name": "1"}],
               "mergingList": [{"name": "3", "value": "c"}, {"name": "1", "value": "a"}]}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"mergingList": [{"name": "3", "value": "c"}, {"name": "1", "value": "a"}]})
    );
}

#[test]
fn set_element_order_of_primitives() {
    let out = test_merge(
        json!({"mergingIntList": [1, 2, 9, 3]}),
        json!({"$setElementOrder/mergingIntList": [3, 1, 4], "mergingIntList": [4]}),
    )
    .unwrap();
    // The patch list merges first (4 goes first, being new), then the directive's items take its
    // order and each server-only item stays before the item it preceded in the live list.
    assert_eq!(out, json!({"mergingIntList": [2, 9, 3, 1, 4]}));
}

#[test]
fn set_element_order_for_a_list_the_original_lacks() {
    let out = test_merge(
        json!({}),
        json!({"$setElementOrder/mergingList": [{"name": "b"}, {"name": "a"}],
               "mergingList": [{"name": "b", "x": 2}, {"name": "a", "x": 1, "y": null}]}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"mergingList": [{"name": "b", "x": 2}, {"name": "a", "x": 1}]})
    );
}

#[test]
fn merging_int_list_union_and_non_merging_replacement() {
    let out = test_merge(
        json!({"mergingIntList": [1, 2], "nonMergingList": [1, 2], "other": {"a": [1]}}),
        json!({"mergingIntList": [2, 3], "nonMergingList": [3], "other": {"b": 1}}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"mergingIntList": [1, 2, 3], "nonMergingList": [3], "other": {"a": [1], "b": 1}})
    );
}

#[test]
fn retain_keys_in_a_merging_list_item() {
    let out = test_merge(
        json!({"retainKeysMergingList": [{"name": "a", "x": 1, "y": 2}, {"name": "b", "x": 1}]}),
        json!({"retainKeysMergingList": [{"name": "a", "$retainKeys": ["name", "z"], "z": 3}]}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"retainKeysMergingList": [{"name": "a", "z": 3}, {"name": "b", "x": 1}]})
    );
}

#[test]
fn new_subtrees_lose_directive_maps_and_nulls() {
    let out = test_merge(
        json!({}),
        json!({"fresh": {"a": null, "b": {"$patch": "delete"}, "c": [{"x": null, "y": 1}]}}),
    )
    .unwrap();
    assert_eq!(out, json!({"fresh": {"c": [{"y": 1}]}}));
}

#[test]
fn list_item_replace_inside_merging_list_item() {
    let out = test_merge(
        json!({"mergingList": [{"name": "a", "mergingList": [{"name": "x"}, {"name": "y"}]}]}),
        json!({"mergingList": [{"name": "a", "mergingList": [{"$patch": "replace"}, {"name": "z"}]}]}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"mergingList": [{"name": "a", "mergingList": [{"name": "z"}]}]})
    );
}

#[test]
fn replacing_map_strategy() {
    let out = test_merge(
        json!({"replacingMap": {"a": 1, "b": 2}}),
        json!({"replacingMap": {"c": 3}}),
    )
    .unwrap();
    assert_eq!(out, json!({"replacingMap": {"c": 3}}));
}
