//! The cells of every table's rows, as upstream's printers compute them
//! (k8s.io/kubernetes/pkg/printers/internalversion/printers.go), from objects in wire form.

use super::duration::{human_duration_nanos, NS_PER_SEC};
use super::Printer;
use crate::json_path::{array_at, at, bool_at, i64_at, object_at, str_at};
use crate::selector::{format_label_selector, format_labels, LabelSelector};
use jiff::Timestamp;
use serde_json::{json, Map, Value};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Upstream's `translateTimestampSince`: `<unknown>` for a missing timestamp.
fn since(t: Option<Timestamp>, now: Timestamp) -> String {
    match t {
        Some(t) => human_duration_nanos(now.as_nanosecond() - t.as_nanosecond()),
        None => "<unknown>".into(),
    }
}

fn ts(v: &Value, path: &[&str]) -> Option<Timestamp> {
    at(v, path)
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Timestamp>().ok())
}

fn name(obj: &Value) -> Value {
    Value::String(str_at(obj, &["metadata", "name"]).to_string())
}

fn age(obj: &Value, now: Timestamp) -> Value {
    Value::String(since(ts(obj, &["metadata", "creationTimestamp"]), now))
}

/// The text of a quantity or an IntOrString as stored (a string, or a number some clients
/// send); `absent` otherwise: `<nil>` for a nil `*Quantity` as Go prints it, `0` for a
/// non-pointer quantity.
fn text_or(v: Option<&Value>, absent: &str) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => absent.into(),
    }
}

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

fn or(v: &str, default: &str) -> String {
    if v.is_empty() {
        default.to_string()
    } else {
        v.to_string()
    }
}

/// Upstream's `layoutContainerCells`: names and images joined with `,`.
fn container_cells(containers: &[Value]) -> (Value, Value) {
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    (s(names.join(",")), s(images.join(",")))
}

impl Printer {
    pub(super) fn row(&self, o: &Value, now: Timestamp) -> Vec<Value> {
        match self {
            Printer::Custom(columns) => columns.row(o, now),
            Printer::Pod => pod_row(o, now),
            Printer::PodTemplate => {
                let (names, images) =
                    container_cells(array_at(o, &["template", "spec", "containers"]));
                vec![
                    name(o),
                    names,
                    images,
                    s(format_labels(object_at(
                        o,
                        &["template", "metadata", "labels"],
                    ))),
                ]
            }
            Printer::PodDisruptionBudget => {
                let min = at(o, &["spec", "minAvailable"])
                    .map_or_else(|| "N/A".into(), |v| text_or(Some(v), ""));
                let max = at(o, &["spec", "maxUnavailable"])
                    .map_or_else(|| "N/A".into(), |v| text_or(Some(v), ""));
                vec![
                    name(o),
                    s(min),
                    s(max),
                    json!(i64_at(o, &["status", "disruptionsAllowed"])),
                    age(o, now),
                ]
            }
            Printer::ReplicationController | Printer::ReplicaSet => {
                let (names, images) =
                    container_cells(array_at(o, &["spec", "template", "spec", "containers"]));
                // A replication controller's selector is a map, a replica set's a LabelSelector.
                let selector = if *self == Printer::ReplicationController {
                    format_labels(object_at(o, &["spec", "selector"]))
                } else {
                    format_label_selector(at(o, &["spec", "selector"]))
                };
                vec![
                    name(o),
                    json!(i64_at(o, &["spec", "replicas"])),
                    json!(i64_at(o, &["status", "replicas"])),
                    json!(i64_at(o, &["status", "readyReplicas"])),
                    age(o, now),
                    names,
                    images,
                    s(selector),
                ]
            }
            Printer::DaemonSet => {
                let (names, images) =
                    container_cells(array_at(o, &["spec", "template", "spec", "containers"]));
                vec![
                    name(o),
                    json!(i64_at(o, &["status", "desiredNumberScheduled"])),
                    json!(i64_at(o, &["status", "currentNumberScheduled"])),
                    json!(i64_at(o, &["status", "numberReady"])),
                    json!(i64_at(o, &["status", "updatedNumberScheduled"])),
                    json!(i64_at(o, &["status", "numberAvailable"])),
                    s(format_labels(object_at(
                        o,
                        &["spec", "template", "spec", "nodeSelector"],
                    ))),
                    age(o, now),
                    names,
                    images,
                    s(format_label_selector(at(o, &["spec", "selector"]))),
                ]
            }
            Printer::Job => job_row(o, now),
            Printer::CronJob => {
                let last = match ts(o, &["status", "lastScheduleTime"]) {
                    Some(t) => since(Some(t), now),
                    None => "<none>".into(),
                };
                let tz = at(o, &["spec", "timeZone"])
                    .and_then(Value::as_str)
                    .unwrap_or("<none>");
                let suspend = match bool_at(o, &["spec", "suspend"]) {
                    Some(true) => "True",
                    Some(false) => "False",
                    None => "<unset>",
                };
                let (names, images) = container_cells(array_at(
                    o,
                    &[
                        "spec",
                        "jobTemplate",
                        "spec",
                        "template",
                        "spec",
                        "containers",
                    ],
                ));
                vec![
                    name(o),
                    s(str_at(o, &["spec", "schedule"])),
                    s(tz),
                    s(suspend),
                    json!(array_at(o, &["status", "active"]).len()),
                    s(last),
                    age(o, now),
                    names,
                    images,
                    s(format_label_selector(at(
                        o,
                        &["spec", "jobTemplate", "spec", "selector"],
                    ))),
                ]
            }
            Printer::Service => service_row(o, now),
            Printer::Ingress => {
                let class = at(o, &["spec", "ingressClassName"])
                    .and_then(Value::as_str)
                    .unwrap_or("<none>");
                let rules = array_at(o, &["spec", "rules"]);
                let mut hosts: Vec<&str> = Vec::new();
                let mut more = false;
                for rule in rules {
                    if hosts.len() == 3 {
                        more = true;
                    }
                    let host = str_at(rule, &["host"]);
                    if !more && !host.is_empty() {
                        hosts.push(host);
                    }
                }
                let hosts = if hosts.is_empty() {
                    "*".to_string()
                } else if more {
                    format!("{} + {} more...", hosts.join(","), rules.len() - 3)
                } else {
                    hosts.join(",")
                };
                let ports = if array_at(o, &["spec", "tls"]).is_empty() {
                    "80"
                } else {
                    "80, 443"
                };
                vec![
                    name(o),
                    s(class),
                    s(hosts),
                    s(load_balancer_ingress(array_at(
                        o,
                        &["status", "loadBalancer", "ingress"],
                    ))),
                    s(ports),
                    age(o, now),
                ]
            }
            Printer::IngressClass => {
                let params = match at(o, &["spec", "parameters"]) {
                    Some(p) => {
                        let mut out = str_at(p, &["kind"]).to_string();
                        if let Some(g) = at(p, &["apiGroup"]).and_then(Value::as_str) {
                            out = format!("{out}.{g}");
                        }
                        format!("{out}/{}", str_at(p, &["name"]))
                    }
                    None => "<none>".into(),
                };
                vec![
                    name(o),
                    s(str_at(o, &["spec", "controller"])),
                    s(params),
                    age(o, now),
                ]
            }
            Printer::StatefulSet => {
                let (names, images) =
                    container_cells(array_at(o, &["spec", "template", "spec", "containers"]));
                let ready = format!(
                    "{}/{}",
                    i64_at(o, &["status", "readyReplicas"]),
                    i64_at(o, &["spec", "replicas"])
                );
                vec![name(o), s(ready), age(o, now), names, images]
            }
            Printer::Endpoints => vec![name(o), s(format_endpoints(o)), age(o, now)],
            Printer::Node => node_row(o, now),
            Printer::Event => event_row(o, now, false),
            Printer::EventsV1 => event_row(o, now, true),
            Printer::Namespace => vec![name(o), s(str_at(o, &["status", "phase"])), age(o, now)],
            Printer::Secret => vec![
                name(o),
                s(str_at(o, &["type"])),
                json!(object_at(o, &["data"]).map_or(0, Map::len)),
                age(o, now),
            ],
            Printer::ServiceAccount => {
                vec![name(o), json!(array_at(o, &["secrets"]).len()), age(o, now)]
            }
            Printer::PersistentVolume => pv_row(o, now),
            Printer::PersistentVolumeClaim => pvc_row(o, now),
            Printer::Deployment => {
                let selector = match LabelSelector::from_metav1(at(o, &["spec", "selector"])) {
                    Ok(sel) => sel.to_string(),
                    Err(_) => "<invalid>".into(),
                };
                let (names, images) =
                    container_cells(array_at(o, &["spec", "template", "spec", "containers"]));
                vec![
                    name(o),
                    s(format!(
                        "{}/{}",
                        i64_at(o, &["status", "readyReplicas"]),
                        i64_at(o, &["spec", "replicas"])
                    )),
                    json!(i64_at(o, &["status", "updatedReplicas"])),
                    json!(i64_at(o, &["status", "availableReplicas"])),
                    age(o, now),
                    names,
                    images,
                    s(selector),
                ]
            }
            Printer::HorizontalPodAutoscaler => {
                let reference = format!(
                    "{}/{}",
                    str_at(o, &["spec", "scaleTargetRef", "kind"]),
                    str_at(o, &["spec", "scaleTargetRef", "name"])
                );
                let min = match at(o, &["spec", "minReplicas"]).and_then(Value::as_i64) {
                    Some(n) => n.to_string(),
                    None => "<unset>".into(),
                };
                vec![
                    name(o),
                    s(reference),
                    s(hpa_metrics(
                        array_at(o, &["spec", "metrics"]),
                        array_at(o, &["status", "currentMetrics"]),
                    )),
                    s(min),
                    json!(i64_at(o, &["spec", "maxReplicas"])),
                    json!(i64_at(o, &["status", "currentReplicas"])),
                    age(o, now),
                ]
            }
            Printer::ConfigMap => {
                let n = object_at(o, &["data"]).map_or(0, Map::len)
                    + object_at(o, &["binaryData"]).map_or(0, Map::len);
                vec![name(o), json!(n), age(o, now)]
            }
            Printer::NetworkPolicy => {
                // podSelector is not a pointer upstream: absent is the empty selector.
                let empty = json!({});
                let sel = at(o, &["spec", "podSelector"]).unwrap_or(&empty);
                vec![name(o), s(format_label_selector(Some(sel))), age(o, now)]
            }
            Printer::RoleBinding | Printer::ClusterRoleBinding => {
                let role = format!(
                    "{}/{}",
                    str_at(o, &["roleRef", "kind"]),
                    str_at(o, &["roleRef", "name"])
                );
                let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
                for subject in array_at(o, &["subjects"]) {
                    match str_at(subject, &["kind"]) {
                        "ServiceAccount" => sas.push(format!(
                            "{}/{}",
                            str_at(subject, &["namespace"]),
                            str_at(subject, &["name"])
                        )),
                        "User" => users.push(str_at(subject, &["name"]).to_string()),
                        "Group" => groups.push(str_at(subject, &["name"]).to_string()),
                        _ => {}
                    }
                }
                vec![
                    name(o),
                    s(role),
                    age(o, now),
                    s(users.join(", ")),
                    s(groups.join(", ")),
                    s(sas.join(", ")),
                ]
            }
            Printer::CertificateSigningRequest => {
                let duration = match at(o, &["spec", "expirationSeconds"]).and_then(Value::as_i64) {
                    Some(secs) => human_duration_nanos(i128::from(secs) * NS_PER_SEC),
                    None => "<none>".into(),
                };
                vec![
                    name(o),
                    age(o, now),
                    s(or(str_at(o, &["spec", "signerName"]), "<none>")),
                    s(str_at(o, &["spec", "username"])),
                    s(duration),
                    s(csr_condition(o)),
                ]
            }
            Printer::Lease => vec![
                name(o),
                s(str_at(o, &["spec", "holderIdentity"])),
                age(o, now),
            ],
            Printer::StorageClass => {
                let annotations = object_at(o, &["metadata", "annotations"]);
                let is_default = annotations.is_some_and(|a| {
                    a.get("storageclass.kubernetes.io/is-default-class")
                        .and_then(Value::as_str)
                        == Some("true")
                        || a.get("storageclass.beta.kubernetes.io/is-default-class")
                            .and_then(Value::as_str)
                            == Some("true")
                });
                let mut n = str_at(o, &["metadata", "name"]).to_string();
                if is_default {
                    n.push_str(" (default)");
                }
                vec![
                    s(n),
                    s(str_at(o, &["provisioner"])),
                    s(at(o, &["reclaimPolicy"])
                        .and_then(Value::as_str)
                        .unwrap_or("Delete")),
                    s(at(o, &["volumeBindingMode"])
                        .and_then(Value::as_str)
                        .unwrap_or("Immediate")),
                    json!(bool_at(o, &["allowVolumeExpansion"]).unwrap_or(false)),
                    age(o, now),
                ]
            }
            Printer::ControllerRevision => {
                let controller = array_at(o, &["metadata", "ownerReferences"])
                    .iter()
                    .find(|r| bool_at(r, &["controller"]) == Some(true))
                    .map_or_else(
                        || "<none>".into(),
                        |r| {
                            let group = match str_at(r, &["apiVersion"]).split_once('/') {
                                Some((g, _)) => g,
                                None => "",
                            };
                            let kind = str_at(r, &["kind"]);
                            let gk = if group.is_empty() {
                                kind.to_string()
                            } else {
                                format!("{kind}.{group}")
                            };
                            if gk.is_empty() {
                                str_at(r, &["name"]).to_string()
                            } else {
                                format!("{}/{}", gk.to_lowercase(), str_at(r, &["name"]))
                            }
                        },
                    );
                vec![
                    name(o),
                    s(controller),
                    json!(i64_at(o, &["revision"])),
                    age(o, now),
                ]
            }
            Printer::ResourceQuota => {
                let mut resources: Vec<&String> = object_at(o, &["status", "hard"])
                    .map(|m| m.keys().collect())
                    .unwrap_or_default();
                resources.sort();
                let (mut requests, mut limits) = (Vec::new(), Vec::new());
                for r in resources {
                    let used = text_or(
                        object_at(o, &["status", "used"]).and_then(|m| m.get(r.as_str())),
                        "0",
                    );
                    let hard = text_or(
                        object_at(o, &["status", "hard"]).and_then(|m| m.get(r.as_str())),
                        "0",
                    );
                    let entry = format!("{r}: {used}/{hard}");
                    let pieces: Vec<&str> = r.split('.').collect();
                    if pieces.len() > 1 && pieces[0] == "limits" {
                        limits.push(entry);
                    } else {
                        requests.push(entry);
                    }
                }
                vec![
                    name(o),
                    s(requests.join(", ")),
                    s(limits.join(", ")),
                    age(o, now),
                ]
            }
            Printer::PriorityClass => vec![
                name(o),
                json!(i64_at(o, &["value"])),
                json!(bool_at(o, &["globalDefault"]).unwrap_or(false)),
                age(o, now),
                s(str_at(o, &["preemptionPolicy"])),
            ],
            Printer::VolumeAttachment => vec![
                name(o),
                s(str_at(o, &["spec", "attacher"])),
                s(str_at(o, &["spec", "source", "persistentVolumeName"])),
                s(str_at(o, &["spec", "nodeName"])),
                json!(bool_at(o, &["status", "attached"]).unwrap_or(false)),
                age(o, now),
            ],
            Printer::EndpointSlice => {
                let ports: Vec<String> = array_at(o, &["ports"])
                    .iter()
                    .map(|p| match at(p, &["port"]).and_then(Value::as_i64) {
                        Some(n) => n.to_string(),
                        None => match at(p, &["name"]).and_then(Value::as_str) {
                            Some(n) => n.to_string(),
                            None => "*".into(),
                        },
                    })
                    .collect();
                let addresses: Vec<String> = array_at(o, &["endpoints"])
                    .iter()
                    .flat_map(|e| {
                        array_at(e, &["addresses"])
                            .iter()
                            .map(|a| a.as_str().unwrap_or_default().to_string())
                    })
                    .collect();
                vec![
                    name(o),
                    s(str_at(o, &["addressType"])),
                    s(list_with_more(ports)),
                    s(list_with_more(addresses)),
                    age(o, now),
                ]
            }
            Printer::CsiNode => vec![
                name(o),
                json!(array_at(o, &["spec", "drivers"]).len()),
                age(o, now),
            ],
            Printer::CsiDriver => {
                let token_requests =
                    match at(o, &["spec", "tokenRequests"]).and_then(Value::as_array) {
                        Some(list) => list
                            .iter()
                            .map(|t| str_at(t, &["audience"]))
                            .collect::<Vec<_>>()
                            .join(","),
                        None => "<unset>".into(),
                    };
                let modes: Vec<&str> = array_at(o, &["spec", "volumeLifecycleModes"])
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                vec![
                    name(o),
                    json!(bool_at(o, &["spec", "attachRequired"]).unwrap_or(true)),
                    json!(bool_at(o, &["spec", "podInfoOnMount"]).unwrap_or(false)),
                    json!(bool_at(o, &["spec", "storageCapacity"]).unwrap_or(false)),
                    s(token_requests),
                    json!(bool_at(o, &["spec", "requiresRepublish"]).unwrap_or(false)),
                    s(or(&modes.join(","), "<none>")),
                    age(o, now),
                ]
            }
            Printer::CsiStorageCapacity => vec![
                name(o),
                s(str_at(o, &["storageClassName"])),
                s(text_or(at(o, &["capacity"]), "<unset>")),
            ],
            Printer::VolumeAttributesClass => {
                vec![name(o), s(str_at(o, &["driverName"])), age(o, now)]
            }
            Printer::ComponentStatus => {
                let healthy = array_at(o, &["conditions"])
                    .iter()
                    .find(|c| str_at(c, &["type"]) == "Healthy");
                let (status, message, error) = match healthy {
                    Some(c) => (
                        if str_at(c, &["status"]) == "True" {
                            "Healthy"
                        } else {
                            "Unhealthy"
                        },
                        str_at(c, &["message"]),
                        str_at(c, &["error"]),
                    ),
                    None => ("Unknown", "", ""),
                };
                vec![name(o), s(status), s(message), s(error)]
            }
            Printer::RuntimeClass => vec![name(o), s(str_at(o, &["handler"])), age(o, now)],
            Printer::FlowSchema => {
                let method = match str_at(o, &["spec", "distinguisherMethod", "type"]) {
                    "" => "<none>",
                    m => m,
                };
                let missing = array_at(o, &["status", "conditions"])
                    .iter()
                    .find(|c| str_at(c, &["type"]) == "Dangling")
                    .map_or("?", |c| str_at(c, &["status"]));
                vec![
                    name(o),
                    s(str_at(o, &["spec", "priorityLevelConfiguration", "name"])),
                    json!(i64_at(o, &["spec", "matchingPrecedence"])),
                    s(method),
                    age(o, now),
                    s(missing),
                ]
            }
            Printer::PriorityLevelConfiguration => {
                let none = || s("<none>");
                let limited = at(o, &["spec", "limited"]).filter(|l| l.is_object());
                let shares =
                    limited.map_or_else(none, |l| json!(i64_at(l, &["nominalConcurrencyShares"])));
                let queuing = limited
                    .and_then(|l| at(l, &["limitResponse", "queuing"]))
                    .filter(|q| q.is_object());
                let q = |field: &str| queuing.map_or_else(none, |q| json!(i64_at(q, &[field])));
                vec![
                    name(o),
                    s(str_at(o, &["spec", "type"])),
                    shares,
                    q("queues"),
                    q("handSize"),
                    q("queueLengthLimit"),
                    age(o, now),
                ]
            }
            Printer::ServiceCidr => {
                let cidrs: Vec<&str> = array_at(o, &["spec", "cidrs"])
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                vec![name(o), s(cidrs.join(",")), age(o, now)]
            }
            Printer::IpAddress => {
                let parent = match at(o, &["spec", "parentRef"]).filter(|p| p.is_object()) {
                    None => "<none>".to_string(),
                    Some(p) => {
                        let (group, resource) = (str_at(p, &["group"]), str_at(p, &["resource"]));
                        let mut out = if group.is_empty() {
                            resource.to_lowercase()
                        } else {
                            format!("{resource}.{group}").to_lowercase()
                        };
                        let ns = str_at(p, &["namespace"]);
                        if !ns.is_empty() {
                            out = format!("{out}/{ns}");
                        }
                        format!("{out}/{}", str_at(p, &["name"]))
                    }
                };
                vec![name(o), s(parent)]
            }
            Printer::DeviceClass | Printer::ResourceClaimTemplate => vec![name(o), age(o, now)],
            Printer::ResourceClaim => {
                let deleted = at(o, &["metadata", "deletionTimestamp"]).is_some();
                let mut states = Vec::new();
                if deleted {
                    states.push("deleted");
                }
                if at(o, &["status", "allocation"]).is_none_or(Value::is_null) {
                    if !deleted {
                        states.push("pending");
                    }
                } else {
                    states.push("allocated");
                    if !array_at(o, &["status", "reservedFor"]).is_empty() {
                        states.push("reserved");
                    }
                }
                vec![name(o), s(states.join(",")), age(o, now)]
            }
            Printer::ResourceSlice => vec![
                name(o),
                s(str_at(o, &["spec", "nodeName"])),
                s(str_at(o, &["spec", "driver"])),
                s(str_at(o, &["spec", "pool", "name"])),
                age(o, now),
            ],
            Printer::WebhookConfiguration => vec![
                name(o),
                json!(array_at(o, &["webhooks"]).len()),
                age(o, now),
            ],
            Printer::ValidatingAdmissionPolicy => {
                let param_kind = match at(o, &["spec", "paramKind"]).filter(|p| p.is_object()) {
                    Some(p) => format!("{}/{}", str_at(p, &["apiVersion"]), str_at(p, &["kind"])),
                    None => "<unset>".into(),
                };
                vec![
                    name(o),
                    json!(array_at(o, &["spec", "validations"]).len()),
                    s(param_kind),
                    age(o, now),
                ]
            }
            Printer::ValidatingAdmissionPolicyBinding => {
                let param = match at(o, &["spec", "paramRef"]).filter(|p| p.is_object()) {
                    None => "<unset>".to_string(),
                    Some(p) => {
                        let (ns, n) = (str_at(p, &["namespace"]), str_at(p, &["name"]));
                        match (n.is_empty(), ns.is_empty(), at(p, &["selector"])) {
                            (false, false, _) => format!("{ns}/{n}"),
                            (false, true, _) => format!("*/{n}"),
                            (true, _, Some(sel)) if !sel.is_null() => {
                                crate::meta::go_label_selector(sel)
                            }
                            _ => "<unset>".to_string(),
                        }
                    }
                };
                vec![
                    name(o),
                    s(str_at(o, &["spec", "policyName"])),
                    s(param),
                    age(o, now),
                ]
            }
            Printer::Default => {
                let created = match ts(o, &["metadata", "creationTimestamp"]) {
                    Some(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    None => "0001-01-01T00:00:00Z".into(),
                };
                vec![name(o), s(created)]
            }
        }
    }
}

/// Upstream's `listWithMoreString` over at most 3 entries: `a,b,c + 2 more...`, `<unset>` when empty.
fn list_with_more(list: Vec<String>) -> String {
    let count = list.len();
    if count > 3 {
        return format!("{} + {} more...", list[..3].join(","), count - 3);
    }
    let ret = list.join(",");
    if ret.is_empty() {
        "<unset>".into()
    } else {
        ret
    }
}

/// Upstream's load balancer status stringer (wide: never clipped): IPs, or hostnames, sorted and
/// deduplicated.
fn load_balancer_ingress(ingress: &[Value]) -> String {
    let mut set = BTreeSet::new();
    for i in ingress {
        let ip = str_at(i, &["ip"]);
        let host = str_at(i, &["hostname"]);
        if !ip.is_empty() {
            set.insert(ip);
        } else if !host.is_empty() {
            set.insert(host);
        }
    }
    set.into_iter().collect::<Vec<_>>().join(",")
}

fn pod_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let init_specs = array_at(o, &["spec", "initContainers"]);
    let mut total = array_at(o, &["spec", "containers"]).len();
    let mut restartable: HashSet<&str> = HashSet::new();
    for c in init_specs {
        if str_at(c, &["restartPolicy"]) == "Always" {
            restartable.insert(str_at(c, &["name"]));
            total += 1;
        }
    }
    let conditions = array_at(o, &["status", "conditions"]);
    let phase = str_at(o, &["status", "phase"]);
    let mut reason = or(str_at(o, &["status", "reason"]), phase);
    for c in conditions {
        if str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".into();
        }
    }

    let later = |cur: Option<Timestamp>, c: &Value| -> Option<Timestamp> {
        if at(c, &["lastState", "terminated"]).is_none() {
            return cur;
        }
        match (cur, ts(c, &["lastState", "terminated", "finishedAt"])) {
            (None, Some(t)) => Some(t),
            (Some(c), Some(t)) if c < t => Some(t),
            (c, _) => c,
        }
    };

    let mut restarts = 0i64;
    let mut restartable_restarts = 0i64;
    let mut ready = 0usize;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_restartable_restart: Option<Timestamp> = None;
    let mut initializing = false;
    for (i, c) in array_at(o, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        restarts += i64_at(c, &["restartCount"]);
        last_restart = later(last_restart, c);
        let is_restartable = restartable.contains(str_at(c, &["name"]));
        if is_restartable {
            restartable_restarts += i64_at(c, &["restartCount"]);
            last_restartable_restart = later(last_restartable_restart, c);
        }
        let terminated = at(c, &["state", "terminated"]);
        let waiting = at(c, &["state", "waiting"]);
        if terminated.is_some_and(|t| i64_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if is_restartable && bool_at(c, &["started"]) == Some(true) {
            if bool_at(c, &["ready"]) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            reason = if str_at(t, &["reason"]).is_empty() {
                if i64_at(t, &["signal"]) != 0 {
                    format!("Init:Signal:{}", i64_at(t, &["signal"]))
                } else {
                    format!("Init:ExitCode:{}", i64_at(t, &["exitCode"]))
                }
            } else {
                format!("Init:{}", str_at(t, &["reason"]))
            };
        } else if let Some(w) = waiting.filter(|w| {
            !str_at(w, &["reason"]).is_empty() && str_at(w, &["reason"]) != "PodInitializing"
        }) {
            reason = format!("Init:{}", str_at(w, &["reason"]));
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = conditions
        .iter()
        .find(|c| str_at(c, &["type"]) == "Initialized")
        .is_some_and(|c| str_at(c, &["status"]) == "True");
    if !initializing || initialized {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        let mut error_reason = String::new();
        for c in array_at(o, &["status", "containerStatuses"]).iter().rev() {
            restarts += i64_at(c, &["restartCount"]);
            last_restart = later(last_restart, c);
            let waiting_reason = str_at(c, &["state", "waiting", "reason"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = at(c, &["state", "terminated"]) {
                reason = if !str_at(t, &["reason"]).is_empty() {
                    str_at(t, &["reason"]).to_string()
                } else if i64_at(t, &["signal"]) != 0 {
                    format!("Signal:{}", i64_at(t, &["signal"]))
                } else {
                    format!("ExitCode:{}", i64_at(t, &["exitCode"]))
                };
                if i64_at(t, &["exitCode"]) != 0 {
                    error_reason = reason.clone();
                }
            } else if bool_at(c, &["ready"]) == Some(true) && at(c, &["state", "running"]).is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" {
            let pod_ready = conditions
                .iter()
                .any(|c| str_at(c, &["type"]) == "Ready" && str_at(c, &["status"]) == "True");
            if has_running && pod_ready {
                reason = "Running".into();
            } else if !error_reason.is_empty() {
                reason = error_reason;
            } else if has_running {
                reason = "NotReady".into();
            }
        }
    }

    let deleting = at(o, &["metadata", "deletionTimestamp"]).is_some();
    if deleting && str_at(o, &["status", "reason"]) == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && phase != "Failed" && phase != "Succeeded" {
        reason = "Terminating".into();
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(Some(t), now)),
        _ => restarts.to_string(),
    };

    let pod_ip = {
        let ip = str_at(o, &["status", "podIP"]);
        if ip.is_empty() {
            str_at(o, &["status", "podIPs", "0", "ip"])
        } else {
            ip
        }
    };
    let gates = array_at(o, &["spec", "readinessGates"]);
    let readiness_gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_conditions = gates
            .iter()
            .filter(|g| {
                let t = str_at(g, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| str_at(c, &["type"]) == t)
                    .is_some_and(|c| str_at(c, &["status"]) == "True")
            })
            .count();
        format!("{true_conditions}/{}", gates.len())
    };
    vec![
        name(o),
        s(format!("{ready}/{total}")),
        s(reason),
        s(restarts_str),
        age(o, now),
        s(or(pod_ip, "<none>")),
        s(or(str_at(o, &["spec", "nodeName"]), "<none>")),
        s(or(str_at(o, &["status", "nominatedNodeName"]), "<none>")),
        s(readiness_gates),
    ]
}

/// The first condition of `type_` decides (upstream's `hasJobCondition`).
fn has_condition(o: &Value, type_: &str) -> bool {
    array_at(o, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == type_)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

fn job_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = i64_at(o, &["status", "succeeded"]);
    let completions = match at(o, &["spec", "completions"]).and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = i64_at(o, &["spec", "parallelism"]);
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let duration = match (
        ts(o, &["status", "startTime"]),
        ts(o, &["status", "completionTime"]),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => since(Some(start), now),
        (Some(start), Some(done)) => {
            human_duration_nanos(done.as_nanosecond() - start.as_nanosecond())
        }
    };
    let status = if has_condition(o, "Complete") {
        "Complete"
    } else if has_condition(o, "Failed") {
        "Failed"
    } else if at(o, &["metadata", "deletionTimestamp"]).is_some() {
        "Terminating"
    } else if has_condition(o, "Suspended") {
        "Suspended"
    } else if has_condition(o, "FailureTarget") {
        "FailureTarget"
    } else if has_condition(o, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let (names, images) = container_cells(array_at(o, &["spec", "template", "spec", "containers"]));
    vec![
        name(o),
        s(status),
        s(completions),
        s(duration),
        age(o, now),
        names,
        images,
        s(format_label_selector(at(o, &["spec", "selector"]))),
    ]
}

fn service_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let svc_type = str_at(o, &["spec", "type"]);
    // clusterIPs[0]; upstream's defaulting copies a lone clusterIP into clusterIPs.
    let cluster_ip = at(o, &["spec", "clusterIPs", "0"])
        .or_else(|| at(o, &["spec", "clusterIP"]))
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
        .unwrap_or("<none>");
    let external_ips: Vec<&str> = array_at(o, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external = match svc_type {
        "ClusterIP" | "NodePort" => {
            if external_ips.is_empty() {
                "<none>".to_string()
            } else {
                external_ips.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = load_balancer_ingress(array_at(o, &["status", "loadBalancer", "ingress"]));
            if !external_ips.is_empty() {
                let mut results: Vec<&str> = Vec::new();
                if !lb.is_empty() {
                    results.extend(lb.split(','));
                }
                results.extend(external_ips.iter().copied());
                results.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => str_at(o, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = array_at(o, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = i64_at(p, &["port"]);
            let protocol = str_at(p, &["protocol"]);
            let node_port = i64_at(p, &["nodePort"]);
            if node_port > 0 {
                format!("{port}:{node_port}/{protocol}")
            } else {
                format!("{port}/{protocol}")
            }
        })
        .collect();
    vec![
        name(o),
        s(svc_type),
        s(cluster_ip),
        s(external),
        s(or(&ports.join(","), "<none>")),
        age(o, now),
        s(format_labels(object_at(o, &["spec", "selector"]))),
    ]
}

/// Upstream's `formatEndpoints` over all ports: at most 3 `ip:port`, then `+ N more...`.
fn format_endpoints(o: &Value) -> String {
    let subsets = array_at(o, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".into();
    }
    const MAX: usize = 3;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addresses = array_at(ss, &["addresses"]);
        let ports = array_at(ss, &["ports"]);
        if ports.is_empty() {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(str_at(a, &["ip"]).to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                let ip = str_at(a, &["ip"]);
                let p = i64_at(port, &["port"]);
                if ip.contains(':') {
                    list.push(format!("[{ip}]:{p}"));
                } else {
                    list.push(format!("{ip}:{p}"));
                }
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{ret} + {} more...", count - MAX)
    } else {
        ret
    }
}

fn node_row(o: &Value, now: Timestamp) -> Vec<Value> {
    // The last condition of each type wins, as upstream builds a map; only Ready is shown.
    let mut by_type: HashMap<&str, &Value> = HashMap::new();
    for c in array_at(o, &["status", "conditions"]) {
        by_type.insert(str_at(c, &["type"]), c);
    }
    let mut status: Vec<String> = Vec::new();
    if let Some(c) = by_type.get("Ready") {
        if str_at(c, &["status"]) == "True" {
            status.push("Ready".into());
        } else {
            status.push("NotReady".into());
        }
    }
    if status.is_empty() {
        status.push("Unknown".into());
    }
    if bool_at(o, &["spec", "unschedulable"]) == Some(true) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles = BTreeSet::new();
    if let Some(labels) = object_at(o, &["metadata", "labels"]) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.insert(role.to_string());
                }
            } else if k == "kubernetes.io/role" {
                let v = v.as_str().unwrap_or_default();
                if !v.is_empty() {
                    roles.insert(v.to_string());
                }
            }
        }
    }
    let roles = roles.into_iter().collect::<Vec<_>>().join(",");
    let address = |t: &str| {
        array_at(o, &["status", "addresses"])
            .iter()
            .find(|a| str_at(a, &["type"]) == t)
            .map_or_else(|| "<none>".into(), |a| str_at(a, &["address"]).to_string())
    };
    vec![
        name(o),
        s(status.join(",")),
        s(or(&roles, "<none>")),
        age(o, now),
        s(str_at(o, &["status", "nodeInfo", "kubeletVersion"])),
        s(address("InternalIP")),
        s(address("ExternalIP")),
        s(or(
            str_at(o, &["status", "nodeInfo", "osImage"]),
            "<unknown>",
        )),
        s(or(
            str_at(o, &["status", "nodeInfo", "kernelVersion"]),
            "<unknown>",
        )),
        s(or(
            str_at(o, &["status", "nodeInfo", "containerRuntimeVersion"]),
            "<unknown>",
        )),
    ]
}

/// Core v1 events and events.k8s.io/v1 events print alike: upstream converts both to the internal
/// event (`regarding` → `involvedObject`, `note` → `message`, `deprecated*` → the old fields).
fn event_row(o: &Value, now: Timestamp, v1: bool) -> Vec<Value> {
    let (involved, source, message, first_field, last_field, count_field, reporting) = if v1 {
        (
            "regarding",
            "deprecatedSource",
            "note",
            "deprecatedFirstTimestamp",
            "deprecatedLastTimestamp",
            "deprecatedCount",
            "reportingController",
        )
    } else {
        (
            "involvedObject",
            "source",
            "message",
            "firstTimestamp",
            "lastTimestamp",
            "count",
            "reportingComponent",
        )
    };
    let first = match ts(o, &[first_field]) {
        Some(t) => since(Some(t), now),
        None => since(ts(o, &["eventTime"]), now),
    };
    let mut last = match ts(o, &[last_field]) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = i64_at(o, &[count_field]);
    if at(o, &["series"]).is_some() {
        last = since(ts(o, &["series", "lastObservedTime"]), now);
        count = i64_at(o, &["series", "count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(o, &[involved, "kind"]).to_lowercase();
    let involved_name = str_at(o, &[involved, "name"]);
    let target = if involved_name.is_empty() {
        kind
    } else {
        format!("{kind}/{involved_name}")
    };
    let component = or(str_at(o, &[source, "component"]), str_at(o, &[reporting]));
    let instance = or(
        str_at(o, &[source, "host"]),
        str_at(o, &["reportingInstance"]),
    );
    let source_str = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        s(last),
        s(str_at(o, &["type"])),
        s(str_at(o, &["reason"])),
        s(target),
        s(str_at(o, &[involved, "fieldPath"])),
        s(source_str),
        s(str_at(o, &[message]).trim()),
        s(first),
        json!(count),
        name(o),
    ]
}

/// Upstream's `GetAccessModesAsString`.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    let mut out = Vec::new();
    for (mode, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if has(mode) {
            out.push(short);
        }
    }
    out.join(",")
}

const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

fn pv_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let claim = match at(o, &["spec", "claimRef"]) {
        Some(c) => format!("{}/{}", str_at(c, &["namespace"]), str_at(c, &["name"])),
        None => String::new(),
    };
    let phase = if at(o, &["metadata", "deletionTimestamp"]).is_some() {
        "Terminating"
    } else {
        str_at(o, &["status", "phase"])
    };
    let class = match at(
        o,
        &["metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION],
    )
    .and_then(Value::as_str)
    {
        Some(c) => c,
        None => str_at(o, &["spec", "storageClassName"]),
    };
    vec![
        name(o),
        s(text_or(at(o, &["spec", "capacity", "storage"]), "0")),
        s(access_modes(array_at(o, &["spec", "accessModes"]))),
        s(str_at(o, &["spec", "persistentVolumeReclaimPolicy"])),
        s(phase),
        s(claim),
        s(class),
        s(at(o, &["spec", "volumeAttributesClassName"])
            .and_then(Value::as_str)
            .unwrap_or("<unset>")),
        s(str_at(o, &["status", "reason"])),
        age(o, now),
        s(at(o, &["spec", "volumeMode"])
            .and_then(Value::as_str)
            .unwrap_or("<unset>")),
    ]
}

fn pvc_row(o: &Value, now: Timestamp) -> Vec<Value> {
    let phase = if at(o, &["metadata", "deletionTimestamp"]).is_some() {
        "Terminating"
    } else {
        str_at(o, &["status", "phase"])
    };
    let volume = str_at(o, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            text_or(at(o, &["status", "capacity", "storage"]), "0"),
            access_modes(array_at(o, &["status", "accessModes"])),
        )
    };
    let class = match at(
        o,
        &["metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION],
    )
    .and_then(Value::as_str)
    {
        Some(c) => c,
        None => str_at(o, &["spec", "storageClassName"]),
    };
    vec![
        name(o),
        s(phase),
        s(volume),
        s(capacity),
        s(modes),
        s(class),
        s(at(o, &["spec", "volumeAttributesClassName"])
            .and_then(Value::as_str)
            .unwrap_or("<unset>")),
        age(o, now),
        s(at(o, &["spec", "volumeMode"])
            .and_then(Value::as_str)
            .unwrap_or("<unset>")),
    ]
}

/// Upstream's `formatHPAMetrics` (autoscaling/v2 wire form): at most two targets, then `+ N more...`.
fn hpa_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".into();
    }
    let mut list: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i);
        let status_of = |field: &str| status.and_then(|s| at(s, &[field]));
        let entry = match str_at(spec, &["type"]) {
            kind @ ("External" | "Object") => {
                let field = if kind == "External" {
                    "external"
                } else {
                    "object"
                };
                let target = at(spec, &[field, "target"]);
                match target.and_then(|t| at(t, &["averageValue"])) {
                    Some(avg) => {
                        let current = status_of(field)
                            .and_then(|s| at(s, &["current", "averageValue"]))
                            .map_or_else(|| "<unknown>".into(), |q| text_or(Some(q), "<nil>"));
                        format!("{current}/{} (avg)", text_or(Some(avg), "<nil>"))
                    }
                    None => {
                        let current = status_of(field).map_or_else(
                            || "<unknown>".into(),
                            |s| text_or(at(s, &["current", "value"]), "<nil>"),
                        );
                        format!(
                            "{current}/{}",
                            text_or(target.and_then(|t| at(t, &["value"])), "<nil>")
                        )
                    }
                }
            }
            "Pods" => {
                let current = status_of("pods").map_or_else(
                    || "<unknown>".into(),
                    |s| text_or(at(s, &["current", "averageValue"]), "<nil>"),
                );
                format!(
                    "{current}/{}",
                    text_or(at(spec, &["pods", "target", "averageValue"]), "<nil>")
                )
            }
            kind @ ("Resource" | "ContainerResource") => {
                let field = if kind == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let resource_name = str_at(spec, &[field, "name"]);
                match at(spec, &[field, "target", "averageValue"]) {
                    Some(avg) => {
                        let current = status_of(field).map_or_else(
                            || "<unknown>".into(),
                            |s| text_or(at(s, &["current", "averageValue"]), "<nil>"),
                        );
                        format!("{resource_name}: {current}/{}", text_or(Some(avg), "<nil>"))
                    }
                    None => {
                        let current = status_of(field)
                            .and_then(|s| at(s, &["current", "averageUtilization"]))
                            .and_then(Value::as_i64)
                            .map_or_else(|| "<unknown>".into(), |u| format!("{u}%"));
                        let target = at(spec, &[field, "target", "averageUtilization"])
                            .and_then(Value::as_i64)
                            .map_or_else(|| "<auto>".into(), |u| format!("{u}%"));
                        format!("{resource_name}: {current}/{target}")
                    }
                }
            }
            _ => "<unknown type>".into(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > 2 {
        format!("{} + {} more...", list[..2].join(", "), count - 2)
    } else {
        list.join(", ")
    }
}

/// Upstream's `extractCSRStatus`: `Denied`, `Approved` or `Pending`, then `,Failed`, `,Issued`.
fn csr_condition(o: &Value) -> String {
    let (mut approved, mut denied, mut failed) = (false, false, false);
    for c in array_at(o, &["status", "conditions"]) {
        match str_at(c, &["type"]) {
            "Approved" => approved = true,
            "Denied" => denied = true,
            "Failed" => failed = true,
            _ => {}
        }
    }
    let mut status = if denied {
        "Denied".to_string()
    } else if approved {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if failed {
        status.push_str(",Failed");
    }
    if !str_at(o, &["status", "certificate"]).is_empty() {
        status.push_str(",Issued");
    }
    status
}
