//! Tests of the protobuf decoder.
//!
//! - `testdata/NAME.pb` are bodies kubectl v1.32 really sent, `testdata/NAME.json` what the same
//!   command prints with `--dry-run=client -o json` (Go's JSON of the same object); both captured
//!   by `tools/capture_kubectl_bodies.py`. The decoded body must equal the JSON, property order
//!   included, once `null` properties are removed (the decoder omits what Go prints as `null`).
//! - Other bodies are built with the independent prost encoder of the `k8s-pb` crate.
//! - Truncated, flipped and garbage bytes must give a 400, never a panic.

use super::decode::go_duration;
use super::schema::{self, Card, Special, Ty, INLINE};
use super::*;
use k8s_pb::api::{apps, autoscaling, coordination, core, events, policy};
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message as _;
use serde_json::json;
use std::collections::BTreeMap;

/// `k8s\0` + Unknown{typeMeta, raw}, with the empty contentEncoding/contentType Go writes.
fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut body = MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    body
}

fn body<M: prost::Message>(api_version: &str, kind: &str, message: &M) -> Vec<u8> {
    envelope(api_version, kind, message.encode_to_vec())
}

fn decode(body: &[u8]) -> Value {
    decode_protobuf_body(body).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts equal JSON, property order included.
fn assert_json(actual: &Value, expected: &Value) {
    let a = serde_json::to_string_pretty(actual).unwrap();
    let e = serde_json::to_string_pretty(expected).unwrap();
    assert!(a == e, "decoded:\n{a}\nexpected:\n{e}");
}

fn meta(name: &str) -> Option<meta::ObjectMeta> {
    Some(meta::ObjectMeta {
        name: Some(name.into()),
        ..Default::default()
    })
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!("testdata/", $name, ".pb")).as_slice(),
            include_str!(concat!("testdata/", $name, ".json")),
        )
    };
}

/// (name, protobuf body kubectl sent, kubectl's JSON of the same object)
const FIXTURES: &[(&str, &[u8], &str)] = &[
    fixture!("configmap"),
    fixture!("configmap-binary"),
    fixture!("deployment"),
    fixture!("deployment-zero"),
    fixture!("service-clusterip"),
    fixture!("service-nodeport"),
    fixture!("service-headless"),
    fixture!("secret"),
    fixture!("secret-docker"),
    fixture!("job"),
    fixture!("cronjob"),
    fixture!("role"),
    fixture!("clusterrole"),
    fixture!("rolebinding"),
    fixture!("clusterrolebinding"),
    fixture!("namespace"),
    fixture!("serviceaccount"),
    fixture!("pdb"),
    fixture!("quota"),
    fixture!("priorityclass"),
    fixture!("ingress"),
    fixture!("hpa"),
];

const TOKEN: &[u8] = include_bytes!("testdata/token.pb");
const SELF_SUBJECT_ACCESS_REVIEW: &[u8] = include_bytes!("testdata/selfsubjectaccessreview.pb");
const SELF_SUBJECT_REVIEW: &[u8] = include_bytes!("testdata/selfsubjectreview.pb");

#[test]
fn kubectl_bodies_decode_to_kubectls_json() {
    for (name, pb, json) in FIXTURES {
        let mut expected: Value = serde_json::from_str(json).unwrap();
        drop_nulls(&mut expected);
        let actual = decode_protobuf_body(pb).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (a, e) = (
            serde_json::to_string_pretty(&actual).unwrap(),
            serde_json::to_string_pretty(&expected).unwrap(),
        );
        assert!(a == e, "{name}: decoded:\n{a}\nexpected:\n{e}");
    }
}

#[test]
fn kubectl_create_configmap() {
    // `kubectl create configmap c --from-literal=a=b`
    let v = decode(FIXTURES[0].1);
    assert_json(
        &v,
        &json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}, "data": {"a": "b"}}),
    );
}

#[test]
fn kubectl_create_deployment_with_zero_replicas_keeps_them() {
    let v = decode(FIXTURES[3].1);
    assert_eq!(v["spec"]["replicas"], 0);
    assert_eq!(
        v["spec"]["template"]["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 8080}])
    );
    // gogo wrote `paused: false`, `minReadySeconds: 0`, `hostNetwork: false`…: omitempty drops them.
    assert!(v["spec"].get("paused").is_none());
    assert!(v["spec"]["template"]["spec"].get("hostNetwork").is_none());
    assert_eq!(v["status"], json!({}));
}

#[test]
fn kubectl_create_token_and_reviews() {
    // `kubectl create token sa1`: the name is in the URL; TokenRequest.status.token has no
    // omitempty, so Go prints `"token": ""`.
    assert_json(
        &decode(TOKEN),
        &json!({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {}, "spec": {}, "status": {"token": ""}}),
    );
    assert_json(
        &decode(SELF_SUBJECT_ACCESS_REVIEW),
        &json!({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "metadata": {},
                "spec": {"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}},
                "status": {"allowed": false}}),
    );
    assert_json(
        &decode(SELF_SUBJECT_REVIEW),
        &json!({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {}, "status": {"userInfo": {}}}),
    );
}

#[test]
fn configmap_with_binary_data() {
    let cm = core::v1::ConfigMap {
        metadata: meta("c"),
        data: labels(&[("a", "b")]),
        binary_data: [("bin".to_string(), vec![0xff, 0x00, 0x01])]
            .into_iter()
            .collect(),
        immutable: Some(false),
    };
    assert_json(
        &decode(&body("v1", "ConfigMap", &cm)),
        &json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}, "immutable": false,
                "data": {"a": "b"}, "binaryData": {"bin": "/wAB"}}),
    );
}

#[test]
fn secret_bytes_are_base64() {
    let secret = core::v1::Secret {
        metadata: Some(meta::ObjectMeta {
            name: Some("s".into()),
            namespace: Some("default".into()),
            ..Default::default()
        }),
        data: [
            ("k".to_string(), b"v".to_vec()),
            ("empty".to_string(), Vec::new()),
        ]
        .into_iter()
        .collect(),
        r#type: Some("Opaque".into()),
        ..Default::default()
    };
    assert_json(
        &decode(&body("v1", "Secret", &secret)),
        &json!({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s", "namespace": "default"},
                "data": {"empty": "", "k": "dg=="}, "type": "Opaque"}),
    );
}

/// A Deployment as `kubectl create deployment web --image=busybox --replicas=2` builds it, with
/// the zero fields gogo writes.
#[test]
fn deployment_like_kubectl_create() {
    let app = labels(&[("app", "web")]);
    let container = core::v1::Container {
        name: Some("busybox".into()),
        image: Some("busybox".into()),
        resources: Some(Default::default()),
        termination_message_path: Some(String::new()),
        image_pull_policy: Some(String::new()),
        stdin: Some(false),
        tty: Some(false),
        ..Default::default()
    };
    let deploy = apps::v1::Deployment {
        metadata: Some(meta::ObjectMeta {
            name: Some("web".into()),
            labels: app.clone(),
            ..Default::default()
        }),
        spec: Some(apps::v1::DeploymentSpec {
            replicas: Some(2),
            selector: Some(meta::LabelSelector {
                match_labels: app.clone(),
                ..Default::default()
            }),
            template: Some(core::v1::PodTemplateSpec {
                metadata: Some(meta::ObjectMeta {
                    labels: app,
                    creation_timestamp: Some(Default::default()),
                    ..Default::default()
                }),
                spec: Some(core::v1::PodSpec {
                    containers: vec![container],
                    restart_policy: Some(String::new()),
                    host_network: Some(false),
                    ..Default::default()
                }),
            }),
            strategy: Some(Default::default()),
            min_ready_seconds: Some(0),
            paused: Some(false),
            ..Default::default()
        }),
        status: Some(apps::v1::DeploymentStatus {
            replicas: Some(0),
            observed_generation: Some(0),
            ..Default::default()
        }),
    };
    assert_json(
        &decode(&body("apps/v1", "Deployment", &deploy)),
        &json!({
            "kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "busybox", "image": "busybox", "resources": {}}]}
                },
                "strategy": {}
            },
            "status": {}
        }),
    );
}

/// A Pod as `kubectl run nginx --image=nginx --port=80 --labels=app=web` describes it (kubectl
/// itself sends that one as JSON), plus pointer fields set to zero, which must stay.
#[test]
fn pod_keeps_pointer_zeros_and_inlines_volume_sources() {
    let pod = core::v1::Pod {
        metadata: Some(meta::ObjectMeta {
            name: Some("nginx".into()),
            labels: labels(&[("app", "web")]),
            ..Default::default()
        }),
        spec: Some(core::v1::PodSpec {
            containers: vec![core::v1::Container {
                name: Some("nginx".into()),
                image: Some("nginx".into()),
                ports: vec![core::v1::ContainerPort {
                    container_port: Some(80),
                    host_port: Some(0),
                    ..Default::default()
                }],
                resources: Some(core::v1::ResourceRequirements {
                    limits: [(
                        "cpu".to_string(),
                        Quantity {
                            string: Some("500m".into()),
                        },
                    )]
                    .into_iter()
                    .collect(),
                    ..Default::default()
                }),
                readiness_probe: Some(core::v1::Probe {
                    handler: Some(core::v1::ProbeHandler {
                        http_get: Some(core::v1::HttpGetAction {
                            path: Some("/healthz".into()),
                            port: Some(IntOrString {
                                r#type: Some(0),
                                int_val: Some(8080),
                                str_val: Some(String::new()),
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    period_seconds: Some(5),
                    ..Default::default()
                }),
                volume_mounts: vec![core::v1::VolumeMount {
                    name: Some("cfg".into()),
                    mount_path: Some("/etc/cfg".into()),
                    read_only: Some(false),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            volumes: vec![core::v1::Volume {
                name: Some("cfg".into()),
                volume_source: Some(core::v1::VolumeSource {
                    config_map: Some(core::v1::ConfigMapVolumeSource {
                        local_object_reference: Some(core::v1::LocalObjectReference {
                            name: Some("c".into()),
                        }),
                        default_mode: Some(0o644),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }],
            termination_grace_period_seconds: Some(0),
            automount_service_account_token: Some(false),
            host_network: Some(false),
            ..Default::default()
        }),
        status: Some(Default::default()),
    };
    assert_json(
        &decode(&body("v1", "Pod", &pod)),
        &json!({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "nginx", "labels": {"app": "web"}},
            "spec": {
                "volumes": [{"name": "cfg", "configMap": {"name": "c", "defaultMode": 420}}],
                "containers": [{
                    "name": "nginx", "image": "nginx",
                    "ports": [{"containerPort": 80}],
                    "resources": {"limits": {"cpu": "500m"}},
                    "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}],
                    "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5}
                }],
                "terminationGracePeriodSeconds": 0,
                "automountServiceAccountToken": false
            },
            "status": {}
        }),
    );
}

/// A Service as `kubectl expose deployment web --port=80 --target-port=8080` builds it.
#[test]
fn service_target_ports_are_numbers_or_strings() {
    let port = |name: &str, port: i32, target: IntOrString| core::v1::ServicePort {
        name: Some(name.into()),
        protocol: Some("TCP".into()),
        port: Some(port),
        target_port: Some(target),
        node_port: Some(0),
        ..Default::default()
    };
    let svc = core::v1::Service {
        metadata: meta("web"),
        spec: Some(core::v1::ServiceSpec {
            ports: vec![
                port(
                    "http",
                    80,
                    IntOrString {
                        r#type: Some(0),
                        int_val: Some(8080),
                        str_val: Some(String::new()),
                    },
                ),
                port(
                    "named",
                    81,
                    IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: Some("metrics".into()),
                    },
                ),
                port(
                    "unset",
                    82,
                    IntOrString {
                        r#type: Some(0),
                        int_val: Some(0),
                        str_val: Some(String::new()),
                    },
                ),
            ],
            selector: labels(&[("app", "web")]),
            cluster_ip: Some(String::new()),
            r#type: Some(String::new()),
            ..Default::default()
        }),
        status: Some(core::v1::ServiceStatus {
            load_balancer: Some(Default::default()),
            conditions: vec![],
        }),
    };
    assert_json(
        &decode(&body("v1", "Service", &svc)),
        &json!({
            "kind": "Service", "apiVersion": "v1", "metadata": {"name": "web"},
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "named", "protocol": "TCP", "port": 81, "targetPort": "metrics"},
                    {"name": "unset", "protocol": "TCP", "port": 82}
                ],
                "selector": {"app": "web"}
            },
            "status": {"loadBalancer": {}}
        }),
    );
}

#[test]
fn scale_with_zero_replicas() {
    let scale = autoscaling::v1::Scale {
        metadata: Some(meta::ObjectMeta {
            name: Some("web".into()),
            namespace: Some("default".into()),
            resource_version: Some("5".into()),
            ..Default::default()
        }),
        spec: Some(autoscaling::v1::ScaleSpec { replicas: Some(0) }),
        status: Some(autoscaling::v1::ScaleStatus {
            replicas: Some(0),
            selector: Some(String::new()),
        }),
    };
    assert_json(
        &decode(&body("autoscaling/v1", "Scale", &scale)),
        &json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": "web", "namespace": "default", "resourceVersion": "5"},
                // ScaleSpec.replicas is `int32 omitempty` upstream: 0 is dropped, as Go's JSON does;
                // ScaleStatus.replicas has no omitempty and stays.
                "spec": {}, "status": {"replicas": 0}}),
    );
}

#[test]
fn binding_eviction_and_delete_options() {
    let binding = core::v1::Binding {
        metadata: meta("nginx"),
        target: Some(core::v1::ObjectReference {
            kind: Some("Node".into()),
            name: Some("n1".into()),
            ..Default::default()
        }),
    };
    assert_json(
        &decode(&body("v1", "Binding", &binding)),
        &json!({"kind": "Binding", "apiVersion": "v1", "metadata": {"name": "nginx"}, "target": {"kind": "Node", "name": "n1"}}),
    );

    let options = meta::DeleteOptions {
        grace_period_seconds: Some(0),
        preconditions: Some(meta::Preconditions {
            uid: Some("u1".into()),
            resource_version: None,
        }),
        propagation_policy: Some("Foreground".into()),
        dry_run: vec!["All".into()],
        ..Default::default()
    };
    let eviction = policy::v1::Eviction {
        metadata: meta("nginx"),
        delete_options: Some(options.clone()),
    };
    assert_json(
        &decode(&body("policy/v1", "Eviction", &eviction)),
        &json!({"kind": "Eviction", "apiVersion": "policy/v1", "metadata": {"name": "nginx"},
                "deleteOptions": {"gracePeriodSeconds": 0, "preconditions": {"uid": "u1"},
                                  "propagationPolicy": "Foreground", "dryRun": ["All"]}}),
    );
    // DeleteOptions comes under the resource's group/version (and meta.k8s.io/v1).
    for api_version in ["apps/v1", "v1", "meta.k8s.io/v1", "example.com/v1"] {
        let v = decode(&body(api_version, "DeleteOptions", &options));
        assert_eq!(v["apiVersion"], api_version);
        assert_eq!(v["gracePeriodSeconds"], 0);
    }
}

#[test]
fn times_micro_times_and_raw_extensions() {
    let event = events::v1::Event {
        metadata: Some(meta::ObjectMeta {
            name: Some("e".into()),
            creation_timestamp: Some(meta::Time {
                seconds: Some(1_700_000_000),
                nanos: Some(999_999_999),
            }),
            deletion_timestamp: Some(meta::Time {
                seconds: Some(-62_135_596_800),
                nanos: Some(0),
            }),
            ..Default::default()
        }),
        event_time: Some(meta::MicroTime {
            seconds: Some(1_700_000_000),
            nanos: Some(123_456_789),
        }),
        series: Some(events::v1::EventSeries {
            count: Some(2),
            last_observed_time: Some(meta::MicroTime {
                seconds: Some(0),
                nanos: Some(0),
            }),
        }),
        deprecated_first_timestamp: Some(meta::Time::default()),
        deprecated_count: Some(0),
        ..Default::default()
    };
    assert_json(
        &decode(&body("events.k8s.io/v1", "Event", &event)),
        &json!({"kind": "Event", "apiVersion": "events.k8s.io/v1",
                "metadata": {"name": "e", "creationTimestamp": "2023-11-14T22:13:20Z"},
                "eventTime": "2023-11-14T22:13:20.123456Z",
                "series": {"count": 2, "lastObservedTime": "1970-01-01T00:00:00.000000Z"}}),
    );

    let lease = coordination::v1::Lease {
        metadata: meta("l"),
        spec: Some(coordination::v1::LeaseSpec {
            holder_identity: Some("me".into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(meta::MicroTime {
                seconds: Some(86_400),
                nanos: Some(1_000),
            }),
            ..Default::default()
        }),
    };
    assert_json(
        &decode(&body("coordination.k8s.io/v1", "Lease", &lease)),
        &json!({"kind": "Lease", "apiVersion": "coordination.k8s.io/v1", "metadata": {"name": "l"},
                "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15, "renewTime": "1970-01-02T00:00:00.000001Z"}}),
    );

    let data = br#"{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"b"}]}}}}"#;
    let revision = apps::v1::ControllerRevision {
        metadata: meta("r"),
        data: Some(RawExtension {
            raw: Some(data.to_vec()),
        }),
        revision: Some(3),
    };
    assert_json(
        &decode(&body("apps/v1", "ControllerRevision", &revision)),
        &json!({"kind": "ControllerRevision", "apiVersion": "apps/v1", "metadata": {"name": "r"},
                "data": serde_json::from_slice::<Value>(data).unwrap(), "revision": 3}),
    );
    // A RawExtension holding a protobuf object decodes it too.
    let nested = apps::v1::ControllerRevision {
        metadata: meta("r"),
        data: Some(RawExtension {
            raw: Some(body(
                "v1",
                "ConfigMap",
                &core::v1::ConfigMap {
                    metadata: meta("c"),
                    ..Default::default()
                },
            )),
        }),
        revision: Some(1),
    };
    assert_eq!(
        decode(&body("apps/v1", "ControllerRevision", &nested))["data"],
        json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}})
    );
    // Not JSON: a 400.
    let bad = apps::v1::ControllerRevision {
        data: Some(RawExtension {
            raw: Some(b"{not json".to_vec()),
        }),
        ..Default::default()
    };
    assert_eq!(
        decode_protobuf_body(&body("apps/v1", "ControllerRevision", &bad))
            .unwrap_err()
            .code,
        400
    );
}

#[test]
fn conditions_and_managed_fields() {
    let pdb = policy::v1::PodDisruptionBudget {
        metadata: Some(meta::ObjectMeta {
            name: Some("p".into()),
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: Some("kubectl".into()),
                operation: Some("Update".into()),
                fields_type: Some("FieldsV1".into()),
                fields_v1: Some(meta::FieldsV1 {
                    raw: Some(br#"{"f:spec":{}}"#.to_vec()),
                }),
                time: Some(meta::Time {
                    seconds: Some(60),
                    nanos: None,
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        spec: Some(policy::v1::PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString {
                r#type: Some(1),
                int_val: None,
                str_val: Some("10%".into()),
            }),
            ..Default::default()
        }),
        status: Some(policy::v1::PodDisruptionBudgetStatus {
            conditions: vec![meta::Condition {
                r#type: Some("DisruptionAllowed".into()),
                status: Some("False".into()),
                observed_generation: Some(0),
                last_transition_time: Some(meta::Time {
                    seconds: Some(0),
                    nanos: None,
                }),
                reason: Some(String::new()),
                message: Some(String::new()),
            }],
            current_healthy: Some(0),
            ..Default::default()
        }),
    };
    assert_json(
        &decode(&body("policy/v1", "PodDisruptionBudget", &pdb)),
        &json!({"kind": "PodDisruptionBudget", "apiVersion": "policy/v1",
                "metadata": {"name": "p", "managedFields": [{"manager": "kubectl", "operation": "Update",
                    "time": "1970-01-01T00:01:00Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]},
                "spec": {"maxUnavailable": "10%"},
                // metav1.Condition's fields have no omitempty: Go prints them even empty.
                "status": {"currentHealthy": 0,
                           "conditions": [{"type": "DisruptionAllowed", "status": "False",
                               "lastTransitionTime": "1970-01-01T00:00:00Z", "reason": "", "message": ""}]}}),
    );
}

// --- wire-level behaviour ------------------------------------------------------------------

fn key(number: u32, wire_type: u8) -> Vec<u8> {
    varint(u64::from(number) << 3 | u64::from(wire_type))
}

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn len_field(number: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = key(number, 2);
    out.extend(varint(payload.len() as u64));
    out.extend(payload);
    out
}

#[test]
fn repeated_numbers_packed_or_not() {
    // PodSecurityContext.supplementalGroups = 4 (repeated int64), in PodSpec.securityContext = 14.
    let mut unpacked = Vec::new();
    for g in [1000u64, 2000] {
        unpacked.extend(key(4, 0));
        unpacked.extend(varint(g));
    }
    let mut packed_payload = varint(3000);
    packed_payload.extend(varint((-1i64) as u64));
    let mut sc = unpacked;
    sc.extend(len_field(4, &packed_payload));
    let spec = len_field(14, &sc);
    let pod = len_field(2, &spec);
    let v = decode(&envelope("v1", "Pod", pod));
    assert_eq!(
        v["spec"]["securityContext"]["supplementalGroups"],
        json!([1000, 2000, 3000, -1])
    );
}

#[test]
fn unknown_fields_are_skipped_and_repeats_merge() {
    let cm = core::v1::ConfigMap {
        metadata: meta("c"),
        data: labels(&[("a", "b")]),
        ..Default::default()
    };
    let mut raw = cm.encode_to_vec();
    // Unknown fields of every wire type, at top level and inside metadata.
    raw.extend(key(900, 0));
    raw.extend(varint(7));
    raw.extend(key(901, 1));
    raw.extend([0; 8]);
    raw.extend(key(902, 5));
    raw.extend([0; 4]);
    raw.extend(len_field(903, b"xyz"));
    raw.extend(key(904, 3));
    raw.extend(key(1, 0));
    raw.extend(varint(1));
    raw.extend(key(904, 4));
    // A second metadata: merged into the first (namespace added, name kept).
    let mut second = len_field(3, b"ns");
    second.extend(len_field(900, b"ignored"));
    raw.extend(len_field(1, &second));
    // A later map entry with the same key wins.
    let mut entry = len_field(1, b"a");
    entry.extend(len_field(2, b"c"));
    raw.extend(len_field(2, &entry));
    assert_json(
        &decode(&envelope("v1", "ConfigMap", raw)),
        &json!({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c", "namespace": "ns"}, "data": {"a": "c"}}),
    );
}

#[test]
fn invalid_utf8_is_replaced_not_rejected() {
    let raw = len_field(1, &len_field(1, b"a\xffb"));
    assert_eq!(
        decode(&envelope("v1", "ConfigMap", raw))["metadata"]["name"],
        "a\u{fffd}b"
    );
}

#[test]
fn envelope_errors_are_bad_requests() {
    let cm = core::v1::ConfigMap {
        metadata: meta("c"),
        ..Default::default()
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "empty body"),
        (MAGIC.to_vec(), "empty body"),
        (b"{\"kind\":\"ConfigMap\"}".to_vec(), "prefix"),
        (
            body("v1", "NoSuchKind", &cm),
            "no kind \"NoSuchKind\" is registered for version \"v1\"",
        ),
        (body("v1", "", &cm), "Kind"),
        (body("", "ConfigMap", &cm), "apiVersion"),
        (body("v1", "Time", &cm), "no kind"),
        (body("nosuch.group/v1", "ConfigMap", &cm), "no kind"),
    ];
    for (input, message) in cases {
        let err = decode_protobuf_body(&input).unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(err.reason, "BadRequest");
        assert!(
            err.message.contains(message),
            "{} does not contain {message}",
            err.message
        );
    }
    // The request's group/version/kind fill in what the body leaves out.
    let v = decode_protobuf_body_as(&body("", "", &cm), "v1", "ConfigMap").unwrap();
    assert_eq!(v["kind"], "ConfigMap");
    assert_eq!(v["apiVersion"], "v1");
}

#[test]
fn wrong_wire_types_name_the_field() {
    // metadata.name (string) sent as a varint.
    let mut meta = key(1, 0);
    meta.extend(varint(5));
    let err = decode_protobuf_body(&envelope("v1", "ConfigMap", len_field(1, &meta))).unwrap_err();
    assert!(
        err.message.contains("metadata.name: wrong wire type 0"),
        "{}",
        err.message
    );
}

#[test]
fn deep_nesting_is_rejected_not_overflowing() {
    // RawExtensions holding protobuf objects holding RawExtensions…
    let mut inner = body("v1", "ConfigMap", &core::v1::ConfigMap::default());
    for _ in 0..200 {
        let rev = apps::v1::ControllerRevision {
            data: Some(RawExtension { raw: Some(inner) }),
            ..Default::default()
        };
        inner = body("apps/v1", "ControllerRevision", &rev);
    }
    let err = decode_protobuf_body(&inner).unwrap_err();
    assert!(err.message.contains("too deeply"), "{}", err.message);
    // Deeply nested groups in an unknown field.
    let mut raw = Vec::new();
    for _ in 0..10_000 {
        raw.extend(key(900, 3));
    }
    assert_eq!(
        decode_protobuf_body(&envelope("v1", "ConfigMap", raw))
            .unwrap_err()
            .code,
        400
    );
}

/// A small deterministic generator, so the fuzz-ish tests are reproducible.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn all_bodies() -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = FIXTURES.iter().map(|(_, pb, _)| pb.to_vec()).collect();
    bodies.extend([
        TOKEN.to_vec(),
        SELF_SUBJECT_ACCESS_REVIEW.to_vec(),
        SELF_SUBJECT_REVIEW.to_vec(),
    ]);
    bodies
}

#[test]
fn truncated_bodies_never_panic() {
    for body in all_bodies() {
        for len in 0..body.len() {
            if let Err(e) = decode_protobuf_body(&body[..len]) {
                assert_eq!(e.code, 400);
            }
        }
    }
}

#[test]
fn corrupted_bodies_never_panic() {
    let mut rng = Lcg(42);
    for body in all_bodies() {
        for _ in 0..300 {
            let mut b = body.clone();
            for _ in 0..1 + rng.next() % 4 {
                let i = 4 + (rng.next() as usize) % (b.len() - 4);
                match rng.next() % 3 {
                    0 => b[i] = rng.next() as u8,
                    1 => b[i] ^= 1 << (rng.next() % 8),
                    _ => {
                        b.insert(i, rng.next() as u8);
                    }
                }
            }
            if let Err(e) = decode_protobuf_body(&b) {
                assert_eq!(e.code, 400);
            }
        }
    }
    for _ in 0..2000 {
        let len = (rng.next() % 64) as usize;
        let mut b = MAGIC.to_vec();
        b.extend((0..len).map(|_| rng.next() as u8));
        if let Err(e) = decode_protobuf_body(&b) {
            assert_eq!(e.code, 400);
        }
    }
}

// --- the table against the OpenAPI definitions ---------------------------------------------

/// The JSON properties a message produces, inline fields expanded.
fn json_properties(message: &schema::Message, out: &mut Vec<&'static str>) {
    for f in message.fields {
        if f.flags & INLINE != 0 {
            let Ty::Msg(p, n) = f.ty else {
                panic!("inline scalar")
            };
            json_properties(schema::message(p, n).unwrap(), out);
        } else {
            out.push(f.json);
        }
    }
}

#[test]
fn table_matches_the_openapi_definitions() {
    let defs = crate::schema::definitions();
    let mut checked = 0;
    for message in schema::all() {
        if message.special != Special::None {
            continue;
        }
        let Some(def) = defs.get(&message.definition_name()) else {
            continue;
        };
        let Some(props) = def.get("properties").and_then(Value::as_object) else {
            continue;
        };
        let mut ours = Vec::new();
        json_properties(message, &mut ours);
        let mut ours: Vec<&str> = ours.into_iter().collect();
        ours.sort_unstable();
        // TypeMeta's kind and apiVersion come from the envelope, not from the message.
        let type_meta = |k: &str| (k == "kind" || k == "apiVersion") && !ours.contains(&k);
        let mut theirs: Vec<&str> = props
            .keys()
            .map(String::as_str)
            .filter(|k| !type_meta(k))
            .collect();
        theirs.sort_unstable();
        assert_eq!(ours, theirs, "{}", message.definition_name());
        checked += 1;
    }
    assert!(checked > 250, "only {checked} definitions checked");
}

#[test]
fn every_catalog_kind_and_subresource_body_has_a_message() {
    // apiextensions.k8s.io is generated from another repository's .proto files, not in the
    // table yet; clients send CustomResourceDefinitions as JSON or YAML.
    for r in crate::catalog::builtin_catalog()
        .iter()
        .filter(|r| r.group != "apiextensions.k8s.io")
    {
        let m = schema::message_for_kind(&r.group, &r.version, &r.kind)
            .unwrap_or_else(|| panic!("{r:?}"));
        assert_eq!(m.definition_name(), r.schema_name());
    }
    for (g, v, k) in [
        ("autoscaling", "v1", "Scale"),
        ("", "v1", "Binding"),
        ("policy", "v1", "Eviction"),
        ("apps", "v1", "DeleteOptions"),
    ] {
        assert!(schema::message_for_kind(g, v, k).is_some(), "{k}");
    }
}

#[test]
fn every_message_type_in_the_table_resolves() {
    for message in schema::all() {
        for f in message.fields {
            for ty in [
                Some(f.ty),
                if let Card::Map(k) = f.card {
                    Some(k)
                } else {
                    None
                },
            ]
            .into_iter()
            .flatten()
            {
                if let Ty::Msg(p, n) = ty {
                    assert!(
                        schema::message(p, n).is_some(),
                        "{}.{} -> {n}",
                        message.name,
                        f.json
                    );
                }
            }
        }
    }
}

#[test]
fn go_durations() {
    for (ns, s) in [
        (0, "0s"),
        (1, "1ns"),
        (1_100, "1.1µs"),
        (2_200_000, "2.2ms"),
        (1_500_000_000, "1.5s"),
        (60_000_000_000, "1m0s"),
        (3_600_000_000_000, "1h0m0s"),
        (5_430_000_000_000, "1h30m30s"),
        (-90_000_000_000, "-1m30s"),
        (i64::MIN, "-2562047h47m16.854775808s"),
    ] {
        assert_eq!(go_duration(ns), s);
    }
}

#[test]
fn media_type() {
    assert!(is_protobuf_media_type(
        "application/vnd.kubernetes.protobuf"
    ));
    assert!(is_protobuf_media_type(
        "application/vnd.kubernetes.protobuf; charset=binary"
    ));
    assert!(!is_protobuf_media_type("application/json"));
}
