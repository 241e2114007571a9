//! The create path of the field manager (`created_entry`) against the general one (normalize the
//! zero object and the new one, compare, update, encode) over many varied objects: every result
//! must be the same, byte for byte. Objects are made from a few realistic ones by random edits
//! (fields removed, set to null, to zero values, to the wrong shape; list items duplicated or
//! without their keys; unknown fields), with a fixed seed so a failure repeats.

use super::manager::update_by;
use super::*;
use serde_json::{json, Map, Value};

/// xorshift64*: enough randomness for a test, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web", "tier": "1"},
            "annotations": {"a": "b"}, "finalizers": ["x/y"],
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u", "controller": true}]},
        "spec": {"containers": [
                {"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 3600"],
                 "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 53, "protocol": "UDP", "name": "dns"}],
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                 "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "1"}},
                 "volumeMounts": [{"name": "v", "mountPath": "/v"}],
                 "securityContext": {"runAsUser": 0, "capabilities": {"add": ["NET_ADMIN"]}}},
                {"name": "d", "image": "x", "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log"}],
            "initContainers": [{"name": "i", "image": "x"}],
            "volumes": [{"name": "v", "emptyDir": {}}, {"name": "s", "secret": {"secretName": "s", "defaultMode": 420}}],
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
            "nodeSelector": {"disk": "ssd"}, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler",
            "securityContext": {}, "enableServiceLinks": true, "priority": 0},
        "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}], "qosClass": "Burstable"}})
}

fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {"metadata": {"labels": {"app": "web"}, "creationTimestamp": null},
                "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]}}},
        "status": {}})
}

fn service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "s", "namespace": "default"},
        "spec": {"type": "NodePort", "selector": {"app": "web"}, "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"], "ipFamilies": ["IPv4"],
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "nodePort": 30080},
                      {"name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP"}]}})
}

fn config_map() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "generateName": "cm-"},
        "data": {"a": "1", "b": ""}, "binaryData": {"c": "AA=="}, "immutable": false})
}

fn widget() -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"ports": [{"name": "http", "port": 80}], "tags": ["a", "b"], "args": ["x"],
            "selector": {"a": "b"}, "free": {"x": [1, {"y": 2}]}}})
}

fn widget_scope() -> Scope {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "ports": {"type": "array", "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "port": {"type": "integer"}}}},
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "args": {"type": "array", "items": {"type": "string"}},
        "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
            "additionalProperties": {"type": "string"}},
        "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}});
    let mut s = Scope::new("com.example.v1.Widget", "example.com/v1", "Widget");
    s.custom_schema = Some(types::intern(&schema));
    s
}

/// The scopes a create goes through, and a few it never does (to test the path's conditions).
fn scopes(rng: &mut Rng, base: usize) -> Scope {
    let mut s = match base {
        0 => Scope::new("io.k8s.api.core.v1.Pod", "v1", "Pod"),
        1 => Scope::new("io.k8s.api.apps.v1.Deployment", "apps/v1", "Deployment"),
        2 => Scope::new("io.k8s.api.core.v1.Service", "v1", "Service"),
        3 => Scope::new("io.k8s.api.core.v1.ConfigMap", "v1", "ConfigMap"),
        _ => widget_scope(),
    };
    s.reset = match rng.below(6) {
        0 => Reset::None,
        1 => Reset::AllButStatus,
        2 => Reset::AllBut(vec![Path::fields(&["spec", "replicas"])]),
        _ => Reset::Status,
    };
    if rng.below(5) == 0 {
        s.subresource = Some("status".into());
    }
    s.timestamps = rng.below(6) != 0;
    s
}

/// Every position of `v` (as a path of keys and indexes).
fn positions(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                at.push(Step::Key(k.clone()));
                positions(c, at, out);
                at.pop();
            }
        }
        Value::Array(l) => {
            for (i, c) in l.iter().enumerate() {
                at.push(Step::Index(i));
                positions(c, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn at_mut<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut v = v;
    for s in path {
        v = match s {
            Step::Key(k) => v.get_mut(k.as_str())?,
            Step::Index(i) => v.get_mut(*i)?,
        };
    }
    Some(v)
}

/// One random edit somewhere in `obj`.
fn edit(rng: &mut Rng, obj: &mut Value) {
    let mut all = Vec::new();
    positions(obj, &mut Vec::new(), &mut all);
    let path = all[rng.below(all.len())].clone();
    if path.is_empty() {
        return;
    }
    let (last, parent_path) = path.split_last().expect("not empty");
    let Some(parent) = at_mut(obj, parent_path) else {
        return;
    };
    let replacement = match rng.below(12) {
        0 => None,
        1 => Some(Value::Null),
        2 => Some(json!({})),
        3 => Some(json!([])),
        4 => Some(json!("")),
        5 => Some(json!(0)),
        6 => Some(json!(false)),
        7 => Some(json!({"unknownField": {"x": 1}})),
        8 => Some(json!("changed")),
        9 => Some(json!([{"name": "n"}, {"name": "n"}, "v", null])),
        _ => {
            // Duplicate a list item (duplicate keys), or add an unknown field to a map.
            match parent {
                Value::Array(l) if !l.is_empty() => {
                    let item = l[rng.below(l.len())].clone();
                    l.push(item);
                    return;
                }
                Value::Object(m) => {
                    m.insert(format!("extra{}", rng.below(3)), json!({"k": "v"}));
                    return;
                }
                _ => return,
            }
        }
    };
    match (parent, last, replacement) {
        (Value::Object(m), Step::Key(k), None) => {
            m.shift_remove(k.as_str());
        }
        (Value::Array(l), Step::Index(i), None) => {
            l.remove(*i);
        }
        (Value::Object(m), Step::Key(k), Some(r)) => {
            m.insert(k.clone(), r);
        }
        (Value::Array(l), Step::Index(i), Some(r)) => l[*i] = r,
        _ => {}
    }
}

fn both_paths(scope: &Scope, obj: &Value, manager: &str) -> (Value, Value) {
    let (mut direct, mut general) = (obj.clone(), obj.clone());
    update_by(
        scope,
        None,
        &mut direct,
        manager,
        "2025-01-01T00:00:00Z",
        true,
    );
    update_by(
        scope,
        None,
        &mut general,
        manager,
        "2025-01-01T00:00:00Z",
        false,
    );
    (direct, general)
}

#[test]
fn the_create_path_records_what_the_general_path_records() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let bases = [pod(), deployment(), service(), config_map(), widget()];
    let mut tracked = 0;
    for case in 0..3000 {
        let base = rng.below(bases.len());
        let mut obj = bases[base].clone();
        for _ in 0..rng.below(6) {
            edit(&mut rng, &mut obj);
        }
        let scope = scopes(&mut rng, base);
        let manager = ["kubectl-create", "", "kube-controller-manager"][rng.below(3)];
        let (direct, general) = both_paths(&scope, &obj, manager);
        assert_eq!(
            serde_json::to_string(&direct).expect("encodes"),
            serde_json::to_string(&general).expect("encodes"),
            "case {case}: {obj}"
        );
        if direct["metadata"].get("managedFields").is_some() {
            tracked += 1;
        }
    }
    // Most cases record an entry (the edits do not make them all fail).
    assert!(tracked > 2000, "{tracked}");
}

#[test]
fn the_create_path_is_taken_only_for_creates_without_managed_fields() {
    // A body with managed fields of its own goes the general way (they are kept as given).
    let scope = Scope::new("io.k8s.api.core.v1.ConfigMap", "v1", "ConfigMap");
    let mut obj = config_map();
    obj["metadata"]["managedFields"] = json!([{"manager": "m", "operation": "Update",
        "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}}}]);
    let (direct, general) = both_paths(&scope, &obj, "kubectl");
    assert_eq!(direct, general);
    // The create takes `data` from the manager the body named (whose entry then goes).
    assert_eq!(direct["metadata"]["managedFields"][0]["manager"], "kubectl");
    // Objects that do not fit their schema are not tracked, on either path.
    let mut bad = pod();
    bad["spec"]["containers"] = json!([{"image": "x"}, {"image": "y"}, 3]);
    let (direct, general) = both_paths(
        &Scope::new("io.k8s.api.core.v1.Pod", "v1", "Pod"),
        &bad,
        "k",
    );
    assert_eq!(direct, general);
    assert!(direct["metadata"]
        .as_object()
        .is_some_and(|m: &Map<String, Value>| !m.contains_key("managedFields")));
}
