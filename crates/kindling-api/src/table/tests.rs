//! The printers' tests: every resource's row against its columns, each printer's cells.

use super::*;
use crate::catalog::{builtin_catalog, find};
use jiff::SignedDuration;

fn now() -> Timestamp {
    "2024-05-01T12:00:00Z".parse().unwrap()
}

/// `secs` seconds before `now()`, as an RFC 3339 string.
fn ago(secs: i64) -> String {
    (now() - SignedDuration::from_secs(secs))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn cells(group: &str, plural: &str, obj: Value) -> Vec<Value> {
    let r = find(group, "v2", plural)
        .or_else(|| find(group, "v1", plural))
        .unwrap();
    let cells = row(r, &obj, now());
    assert_eq!(
        cells.len(),
        columns(r).len(),
        "{plural}: one cell per column"
    );
    cells
}

fn strs(cells: &[Value]) -> Vec<String> {
    cells
        .iter()
        .map(|c| match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

#[test]
fn human_duration_matches_upstream() {
    let d = |secs: i64| human_duration(SignedDuration::from_secs(secs));
    assert_eq!(d(-5), "<invalid>");
    assert_eq!(human_duration(SignedDuration::from_millis(-1500)), "0s");
    assert_eq!(d(0), "0s");
    assert_eq!(d(45), "45s");
    assert_eq!(d(119), "119s");
    assert_eq!(d(120), "2m");
    assert_eq!(d(200), "3m20s");
    assert_eq!(d(600), "10m");
    assert_eq!(d(179 * 60 + 59), "179m");
    assert_eq!(d(3 * 3600), "3h");
    assert_eq!(d(3 * 3600 + 25 * 60), "3h25m");
    assert_eq!(d(5 * 3600), "5h");
    assert_eq!(d(8 * 3600 + 59 * 60), "8h");
    assert_eq!(d(47 * 3600), "47h");
    assert_eq!(d(51 * 3600), "2d3h");
    assert_eq!(d(72 * 3600), "3d");
    assert_eq!(d(8 * 86400), "8d");
    assert_eq!(d(400 * 86400), "400d");
    assert_eq!(d(2 * 365 * 86400), "2y");
    assert_eq!(d(3 * 365 * 86400 + 20 * 86400), "3y20d");
    assert_eq!(d(9 * 365 * 86400), "9y");
    let sd = |secs: i64| short_human_duration(SignedDuration::from_secs(secs));
    assert_eq!(sd(45), "45s");
    assert_eq!(sd(200), "3m");
    assert_eq!(sd(5 * 3600 + 10), "5h");
    assert_eq!(sd(51 * 3600), "2d");
    assert_eq!(sd(400 * 86400), "1y");
}

#[test]
fn every_resource_has_one_cell_per_column() {
    for r in builtin_catalog().iter() {
        let cols = columns(r);
        assert!(!cols.is_empty());
        assert_eq!(
            row(r, &json!({}), now()).len(),
            cols.len(),
            "{r:?} empty object"
        );
        let obj = json!({"metadata": {"name": "x", "creationTimestamp": ago(30)}});
        let cells = row(r, &obj, now());
        assert_eq!(cells.len(), cols.len(), "{r:?}");
        // every printer names the object in a `name`-format column
        let i = cols.iter().position(|c| c.format == "name").unwrap();
        assert_eq!(cells[i], "x", "{r:?}");
    }
}

#[test]
fn default_table_for_resources_without_printers() {
    for plural in ["roles", "clusterroles"] {
        let r = find("rbac.authorization.k8s.io", "v1", plural).unwrap();
        let names: Vec<_> = columns(r).iter().map(|c| (c.name, c.type_)).collect();
        assert_eq!(names, vec![("Name", "string"), ("Created At", "date")]);
    }
    let c = cells(
        "",
        "limitranges",
        json!({"metadata": {"name": "lr", "creationTimestamp": "2024-01-02T03:04:05Z"}}),
    );
    assert_eq!(strs(&c), vec!["lr", "2024-01-02T03:04:05Z"]);
}

fn pod(status: Value) -> Value {
    json!({
        "metadata": {"name": "web", "creationTimestamp": ago(200)},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
        "status": status
    })
}

#[test]
fn pod_rows() {
    let columns: Vec<_> = columns(find("", "v1", "pods").unwrap())
        .iter()
        .map(|c| (c.name, c.priority))
        .collect();
    assert_eq!(
        columns,
        vec![
            ("Name", 0),
            ("Ready", 0),
            ("Status", 0),
            ("Restarts", 0),
            ("Age", 0),
            ("IP", 1),
            ("Node", 1),
            ("Nominated Node", 1),
            ("Readiness Gates", 1)
        ]
    );

    // pending, unscheduled
    let c = cells("", "pods", pod(json!({"phase": "Pending"})));
    assert_eq!(
        strs(&c),
        vec!["web", "0/1", "Pending", "0", "3m20s", "<none>", "<none>", "<none>", "<none>"]
    );

    // creating
    let c = cells(
        "",
        "pods",
        pod(json!({"phase": "Pending", "containerStatuses": [
            {"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}
        ]})),
    );
    assert_eq!(c[2], "ContainerCreating");

    // running and ready, on a node, with a restart 5 minutes ago
    let mut p = pod(json!({
        "phase": "Running", "podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}],
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{
            "name": "app", "ready": true, "restartCount": 1, "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(300)}}
        }]
    }));
    p["spec"]["nodeName"] = json!("node-1");
    let c = cells("", "pods", p);
    assert_eq!(
        strs(&c),
        vec![
            "web",
            "1/1",
            "Running",
            "1 (5m ago)",
            "3m20s",
            "10.244.0.5",
            "node-1",
            "<none>",
            "<none>"
        ]
    );

    // crash loop
    let c = cells(
        "",
        "pods",
        pod(json!({"phase": "Running", "containerStatuses": [{
            "name": "app", "ready": false, "restartCount": 5,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(40)}}
        }]})),
    );
    assert_eq!(
        (c[1].as_str(), c[2].as_str(), c[3].as_str()),
        (Some("0/1"), Some("CrashLoopBackOff"), Some("5 (40s ago)"))
    );

    // completed
    let done = pod(json!({"phase": "Succeeded", "containerStatuses": [{
        "name": "app", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}
    }]}));
    let pods = find("", "v1", "pods").unwrap();
    assert_eq!(row(pods, &done, now())[2], "Completed");
    assert_eq!(
        row_conditions(pods, &done).unwrap()[0]["reason"],
        "Succeeded"
    );

    // error, and an exit code without a reason
    let c = cells(
        "",
        "pods",
        pod(json!({"phase": "Failed", "containerStatuses": [{
            "name": "app", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}
        }]})),
    );
    assert_eq!(c[2], "Error");
    let c = cells(
        "",
        "pods",
        pod(
            json!({"phase": "Failed", "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 137}}}]}),
        ),
    );
    assert_eq!(c[2], "ExitCode:137");

    // one container completed, one failed: the failure shows
    let mut two = pod(json!({"phase": "Failed", "containerStatuses": [
        {"name": "a", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}},
        {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    ]}));
    two["spec"]["containers"] = json!([{"name": "a"}, {"name": "b"}]);
    assert_eq!(cells("", "pods", two)[2], "Error");

    // init containers: waiting on the first of two
    let mut init = pod(json!({"phase": "Pending", "initContainerStatuses": [
        {"name": "i1", "state": {"running": {}}},
        {"name": "i2", "state": {"waiting": {"reason": "PodInitializing"}}}
    ]}));
    init["spec"]["initContainers"] = json!([{"name": "i1"}, {"name": "i2"}]);
    assert_eq!(cells("", "pods", init.clone())[2], "Init:0/2");
    init["status"]["initContainerStatuses"][0]["state"] = json!({"terminated": {"exitCode": 0}});
    assert_eq!(cells("", "pods", init.clone())[2], "Init:1/2");
    init["status"]["initContainerStatuses"][1]["state"] =
        json!({"waiting": {"reason": "ImagePullBackOff"}});
    assert_eq!(cells("", "pods", init.clone())[2], "Init:ImagePullBackOff");
    init["status"]["initContainerStatuses"][1]["state"] =
        json!({"terminated": {"exitCode": 2, "reason": "Error"}});
    assert_eq!(cells("", "pods", init)[2], "Init:Error");

    // sidecar (restartable init container) counts toward READY
    let mut sidecar = pod(json!({"phase": "Running",
        "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
        "initContainerStatuses": [{"name": "proxy", "started": true, "ready": true, "restartCount": 0, "state": {"running": {}}}],
        "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}}]
    }));
    sidecar["spec"]["initContainers"] = json!([{"name": "proxy", "restartPolicy": "Always"}]);
    let c = cells("", "pods", sidecar);
    assert_eq!(
        (c[1].as_str(), c[2].as_str()),
        (Some("2/2"), Some("Running"))
    );

    // terminating
    let mut term = pod(json!({"phase": "Running", "containerStatuses": [
        {"name": "app", "ready": true, "state": {"running": {}}}
    ]}));
    term["metadata"]["deletionTimestamp"] = json!(ago(1));
    assert_eq!(cells("", "pods", term)[2], "Terminating");

    // scheduling gated
    let c = cells(
        "",
        "pods",
        pod(
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
        ),
    );
    assert_eq!(c[2], "SchedulingGated");

    // readiness gates
    let mut gated = pod(
        json!({"phase": "Running", "conditions": [{"type": "example.com/lb", "status": "True"}]}),
    );
    gated["spec"]["readinessGates"] =
        json!([{"conditionType": "example.com/lb"}, {"conditionType": "example.com/other"}]);
    assert_eq!(cells("", "pods", gated)[8], "1/2");
}

#[test]
fn deployment_replicaset_statefulset_daemonset_rows() {
    let d = json!({
        "metadata": {"name": "web", "creationTimestamp": ago(5 * 3600)},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}, {"name": "log", "image": "busybox"}]}}
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    });
    let c = cells("apps", "deployments", d.clone());
    assert_eq!(
        strs(&c),
        vec![
            "web",
            "2/3",
            "3",
            "2",
            "5h",
            "nginx,log",
            "nginx:1.25,busybox",
            "app=web"
        ]
    );
    assert!(c[2].is_i64());

    let rs = cells("apps", "replicasets", d.clone());
    assert_eq!(
        strs(&rs),
        vec![
            "web",
            "3",
            "0",
            "2",
            "5h",
            "nginx,log",
            "nginx:1.25,busybox",
            "app=web"
        ]
    );
    assert!(rs[1].is_i64());

    let sts = cells("apps", "statefulsets", d);
    assert_eq!(
        strs(&sts),
        vec!["web", "2/3", "5h", "nginx,log", "nginx:1.25,busybox"]
    );

    let ds = cells(
        "apps",
        "daemonsets",
        json!({
            "metadata": {"name": "agent", "creationTimestamp": ago(60)},
            "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "containers": [{"name": "a", "image": "agent:1"}]}}},
            "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1, "updatedNumberScheduled": 2, "numberAvailable": 1}
        }),
    );
    assert_eq!(
        strs(&ds),
        vec![
            "agent",
            "2",
            "2",
            "1",
            "2",
            "1",
            "kubernetes.io/os=linux",
            "60s",
            "a",
            "agent:1",
            "app=agent"
        ]
    );
}

fn svc(spec: Value, status: Value) -> Value {
    json!({"metadata": {"name": "svc", "creationTimestamp": ago(10)}, "spec": spec, "status": status})
}

#[test]
fn service_rows_of_each_type() {
    let c = cells(
        "",
        "services",
        svc(
            json!({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}], "selector": {"k8s-app": "kube-dns"}}),
            json!({}),
        ),
    );
    assert_eq!(
        strs(&c),
        vec![
            "svc",
            "ClusterIP",
            "10.96.0.10",
            "<none>",
            "53/UDP,53/TCP",
            "10s",
            "k8s-app=kube-dns"
        ]
    );

    let c = cells(
        "",
        "services",
        svc(
            json!({"type": "NodePort", "clusterIPs": ["10.96.1.1"], "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}),
            json!({}),
        ),
    );
    assert_eq!(
        strs(&c),
        vec![
            "svc",
            "NodePort",
            "10.96.1.1",
            "<none>",
            "80:30080/TCP",
            "10s",
            "<none>"
        ]
    );

    let lb = json!({"type": "LoadBalancer", "clusterIPs": ["10.96.2.2"], "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]});
    assert_eq!(
        cells("", "services", svc(lb.clone(), json!({})))[3],
        "<pending>"
    );
    assert_eq!(
        cells(
            "",
            "services",
            svc(
                lb.clone(),
                json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "a.example.com"}]}})
            )
        )[3],
        "203.0.113.9,a.example.com"
    );
    let mut lb_ext = lb;
    lb_ext["externalIPs"] = json!(["198.51.100.1"]);
    assert_eq!(
        cells(
            "",
            "services",
            svc(
                lb_ext,
                json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}})
            )
        )[3],
        "203.0.113.9,198.51.100.1"
    );

    let c = cells(
        "",
        "services",
        svc(
            json!({"type": "ExternalName", "externalName": "db.example.com"}),
            json!({}),
        ),
    );
    assert_eq!(
        strs(&c)[1..5],
        ["ExternalName", "<none>", "db.example.com", "<none>"]
    );

    let c = cells(
        "",
        "services",
        svc(
            json!({"type": "ClusterIP", "clusterIPs": ["None"], "externalIPs": ["1.2.3.4"]}),
            json!({}),
        ),
    );
    assert_eq!(strs(&c)[2..4], ["None", "1.2.3.4"]);
    let c = cells(
        "",
        "services",
        svc(
            json!({"type": "ClusterIP", "clusterIP": "10.96.3.3"}),
            json!({}),
        ),
    );
    assert_eq!(c[2], "10.96.3.3");
}

#[test]
fn node_rows() {
    let n = json!({
        "metadata": {"name": "node-1", "creationTimestamp": ago(3 * 86400),
            "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "", "kubernetes.io/role": "infra"}},
        "spec": {"unschedulable": true},
        "status": {
            "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": "node-1"}],
            "nodeInfo": {"kubeletVersion": "v1.35.0", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.0"}
        }
    });
    let c = cells("", "nodes", n);
    assert_eq!(
        strs(&c),
        vec![
            "node-1",
            "Ready,SchedulingDisabled",
            "control-plane,infra,master",
            "3d",
            "v1.35.0",
            "172.18.0.2",
            "<none>",
            "Debian GNU/Linux 12",
            "6.1.0",
            "containerd://1.7.0"
        ]
    );
    let c = cells(
        "",
        "nodes",
        json!({"metadata": {"name": "n2"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}),
    );
    assert_eq!(
        strs(&c),
        vec![
            "n2",
            "NotReady",
            "<none>",
            "<unknown>",
            "",
            "<none>",
            "<none>",
            "<unknown>",
            "<unknown>",
            "<unknown>"
        ]
    );
    assert_eq!(
        cells("", "nodes", json!({"metadata": {"name": "n3"}}))[1],
        "Unknown"
    );
}

#[test]
fn pv_and_pvc_rows() {
    let pv = json!({
        "metadata": {"name": "pv-1", "creationTimestamp": ago(90)},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "standard",
            "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
        "status": {"phase": "Bound"}
    });
    assert_eq!(
        strs(&cells("", "persistentvolumes", pv)),
        vec![
            "pv-1",
            "10Gi",
            "RWO,RWX",
            "Retain",
            "Bound",
            "default/data",
            "standard",
            "<unset>",
            "",
            "90s",
            "Filesystem"
        ]
    );
    let pvc = json!({
        "metadata": {"name": "data", "creationTimestamp": ago(90)},
        "spec": {"volumeName": "pv-1", "storageClassName": "standard", "resources": {"requests": {"storage": "5Gi"}}},
        "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"]}
    });
    assert_eq!(
        strs(&cells("", "persistentvolumeclaims", pvc)),
        vec!["data", "Bound", "pv-1", "10Gi", "RWO", "standard", "<unset>", "90s", "<unset>"]
    );
    let pending = json!({
        "metadata": {"name": "p", "creationTimestamp": ago(5), "deletionTimestamp": ago(1),
            "annotations": {"volume.beta.kubernetes.io/storage-class": "beta"}},
        "spec": {"storageClassName": "standard"},
        "status": {"phase": "Pending"}
    });
    assert_eq!(
        strs(&cells("", "persistentvolumeclaims", pending)),
        vec![
            "p",
            "Terminating",
            "",
            "",
            "",
            "beta",
            "<unset>",
            "5s",
            "<unset>"
        ]
    );
}

#[test]
fn storage_class_rows() {
    let sc = json!({
        "metadata": {"name": "standard", "creationTimestamp": ago(60),
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "rancher.io/local-path",
        "volumeBindingMode": "WaitForFirstConsumer"
    });
    let c = cells("storage.k8s.io", "storageclasses", sc);
    assert_eq!(
        strs(&c),
        vec![
            "standard (default)",
            "rancher.io/local-path",
            "Delete",
            "WaitForFirstConsumer",
            "false",
            "60s"
        ]
    );
    assert_eq!(c[4], json!(false));
    let c = cells(
        "storage.k8s.io",
        "storageclasses",
        json!({"metadata": {"name": "fast"}, "provisioner": "x", "reclaimPolicy": "Retain", "allowVolumeExpansion": true}),
    );
    assert_eq!(
        strs(&c),
        vec!["fast", "x", "Retain", "Immediate", "true", "<unknown>"]
    );
}

#[test]
fn job_and_cronjob_rows() {
    let job = |spec: Value, status: Value| json!({"metadata": {"name": "pi", "creationTimestamp": ago(300)}, "spec": spec, "status": status});
    let c = cells(
        "batch",
        "jobs",
        job(
            json!({"completions": 1, "parallelism": 1, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
                "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}}),
            json!({"startTime": ago(290), "completionTime": ago(250), "succeeded": 1,
                "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}),
        ),
    );
    assert_eq!(
        strs(&c),
        vec![
            "pi",
            "Complete",
            "1/1",
            "40s",
            "5m",
            "pi",
            "perl",
            "batch.kubernetes.io/controller-uid=u"
        ]
    );
    let c = cells(
        "batch",
        "jobs",
        job(
            json!({"completions": 3}),
            json!({"startTime": ago(200), "succeeded": 1}),
        ),
    );
    assert_eq!(strs(&c)[1..5], ["Running", "1/3", "3m20s", "5m"]);
    let c = cells("batch", "jobs", job(json!({"parallelism": 2}), json!({})));
    assert_eq!(strs(&c)[1..4], ["Running", "0/1 of 2", ""]);
    let c = cells(
        "batch",
        "jobs",
        job(
            json!({"completions": 1}),
            json!({"conditions": [{"type": "Failed", "status": "True"}]}),
        ),
    );
    assert_eq!(c[1], "Failed");
    let c = cells(
        "batch",
        "jobs",
        job(
            json!({"completions": 1, "suspend": true}),
            json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
        ),
    );
    assert_eq!(c[1], "Suspended");
    let c = cells(
        "batch",
        "jobs",
        job(
            json!({"completions": 1}),
            json!({"conditions": [{"type": "FailureTarget", "status": "True"}]}),
        ),
    );
    assert_eq!(c[1], "FailureTarget");

    let cj = json!({
        "metadata": {"name": "hello", "creationTimestamp": ago(3600)},
        "spec": {"schedule": "*/1 * * * *", "suspend": false, "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "hello", "image": "busybox"}]}}}}},
        "status": {"active": [{"name": "hello-1"}], "lastScheduleTime": ago(30)}
    });
    assert_eq!(
        strs(&cells("batch", "cronjobs", cj)),
        vec![
            "hello",
            "*/1 * * * *",
            "<none>",
            "False",
            "1",
            "30s",
            "60m",
            "hello",
            "busybox",
            "<none>"
        ]
    );
}

#[test]
fn event_rows() {
    let ev = json!({
        "metadata": {"name": "web.17a", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
        "reason": "Pulled", "type": "Normal", "message": "Successfully pulled image \"nginx\"\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(120), "lastTimestamp": ago(30), "count": 3
    });
    let c = cells("", "events", ev);
    assert_eq!(
        strs(&c),
        vec![
            "30s",
            "Normal",
            "Pulled",
            "pod/web",
            "spec.containers{app}",
            "kubelet, node-1",
            "Successfully pulled image \"nginx\"",
            "2m",
            "3",
            "web.17a"
        ]
    );
    let v1 = json!({
        "metadata": {"name": "e2"},
        "regarding": {"kind": "Node", "name": "node-1"},
        "reason": "Starting", "type": "Normal", "note": "Starting kubelet.",
        "eventTime": "2024-05-01T11:59:50.000000Z", "reportingController": "kubelet", "reportingInstance": "node-1"
    });
    let c = cells("events.k8s.io", "events", v1);
    assert_eq!(
        strs(&c),
        vec![
            "10s",
            "Normal",
            "Starting",
            "node/node-1",
            "",
            "kubelet, node-1",
            "Starting kubelet.",
            "10s",
            "1",
            "e2"
        ]
    );
}

#[test]
fn small_rows() {
    assert_eq!(
        strs(&cells(
            "",
            "namespaces",
            json!({"metadata": {"name": "default", "creationTimestamp": ago(86400)}, "status": {"phase": "Active"}})
        )),
        vec!["default", "Active", "24h"]
    );
    assert_eq!(
        strs(&cells(
            "",
            "configmaps",
            json!({"metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}})
        )),
        vec!["cm", "3", "<unknown>"]
    );
    assert_eq!(
        strs(&cells(
            "",
            "secrets",
            json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "MQ=="}})
        )),
        vec!["s", "Opaque", "1", "<unknown>"]
    );
    assert_eq!(
        strs(&cells(
            "",
            "serviceaccounts",
            json!({"metadata": {"name": "default"}})
        )),
        vec!["default", "0", "<unknown>"]
    );
    assert_eq!(
        strs(&cells(
            "",
            "endpoints",
            json!({"metadata": {"name": "web"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]}]})
        )),
        vec![
            "web",
            "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more...",
            "<unknown>"
        ]
    );
    assert_eq!(
        strs(&cells("", "endpoints", json!({"metadata": {"name": "e"}}))),
        vec!["e", "<none>", "<unknown>"]
    );
    assert_eq!(
        strs(&cells(
            "discovery.k8s.io",
            "endpointslices",
            json!({"metadata": {"name": "web-abc"}, "addressType": "IPv4",
            "ports": [{"port": 80, "name": "http"}], "endpoints": [{"addresses": ["10.0.0.1"]}]})
        )),
        vec!["web-abc", "IPv4", "80", "10.0.0.1", "<unknown>"]
    );
    assert_eq!(
        strs(&cells(
            "discovery.k8s.io",
            "endpointslices",
            json!({"metadata": {"name": "x"}, "addressType": "IPv4"})
        )),
        vec!["x", "IPv4", "<unset>", "<unset>", "<unknown>"]
    );
    assert_eq!(
        strs(&cells(
            "policy",
            "poddisruptionbudgets",
            json!({"metadata": {"name": "pdb"}, "spec": {"minAvailable": 1}, "status": {"disruptionsAllowed": 0}})
        )),
        vec!["pdb", "1", "N/A", "0", "<unknown>"]
    );
    assert_eq!(
        strs(&cells(
            "networking.k8s.io",
            "ingresses",
            json!({"metadata": {"name": "ing"},
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "a.example.com"}, {}], "tls": [{}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "172.18.0.3"}]}}})
        )),
        vec![
            "ing",
            "nginx",
            "a.example.com",
            "172.18.0.3",
            "80, 443",
            "<unknown>"
        ]
    );
    assert_eq!(
        strs(&cells(
            "networking.k8s.io",
            "ingressclasses",
            json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}})
        )),
        vec![
            "nginx",
            "k8s.io/ingress-nginx",
            "IngressParameters.k8s.example.com/p",
            "<unknown>"
        ]
    );
    assert_eq!(
        strs(&cells(
            "networking.k8s.io",
            "networkpolicies",
            json!({"metadata": {"name": "deny"}, "spec": {}})
        )),
        vec!["deny", "<none>", "<unknown>"]
    );
    assert_eq!(
        strs(&cells(
            "rbac.authorization.k8s.io",
            "rolebindings",
            json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "namespace": "kube-system", "name": "sa"}, {"kind": "Group", "name": "devs"}]})
        )),
        vec![
            "rb",
            "Role/r",
            "<unknown>",
            "alice",
            "devs",
            "kube-system/sa"
        ]
    );
    assert_eq!(
        strs(&cells(
            "certificates.k8s.io",
            "certificatesigningrequests",
            json!({"metadata": {"name": "csr"},
            "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "username": "alice", "expirationSeconds": 86400},
            "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"}})
        )),
        vec![
            "csr",
            "<unknown>",
            "kubernetes.io/kube-apiserver-client",
            "alice",
            "24h",
            "Approved,Issued"
        ]
    );
    assert_eq!(
        strs(&cells(
            "coordination.k8s.io",
            "leases",
            json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "node-1"}})
        )),
        vec!["l", "node-1", "<unknown>"]
    );
    assert_eq!(
        strs(&cells(
            "apps",
            "controllerrevisions",
            json!({"metadata": {"name": "web-7d", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]}, "revision": 2})
        )),
        vec!["web-7d", "statefulset.apps/web", "2", "<unknown>"]
    );
    assert_eq!(
        strs(&cells(
            "",
            "resourcequotas",
            json!({"metadata": {"name": "q"}, "status": {
            "hard": {"pods": "10", "requests.cpu": "1", "limits.memory": "1Gi"},
            "used": {"pods": "2", "requests.cpu": "500m"}}})
        )),
        vec![
            "q",
            "pods: 2/10, requests.cpu: 500m/1",
            "limits.memory: 0/1Gi",
            "<unknown>"
        ]
    );
    assert_eq!(
        strs(&cells(
            "scheduling.k8s.io",
            "priorityclasses",
            json!({"metadata": {"name": "system-cluster-critical"}, "value": 2000000000, "preemptionPolicy": "PreemptLowerPriority"})
        )),
        vec![
            "system-cluster-critical",
            "2000000000",
            "false",
            "<unknown>",
            "PreemptLowerPriority"
        ]
    );
    assert_eq!(
        strs(&cells(
            "storage.k8s.io",
            "csidrivers",
            json!({"metadata": {"name": "d"}, "spec": {"volumeLifecycleModes": ["Persistent"]}})
        )),
        vec![
            "d",
            "true",
            "false",
            "false",
            "<unset>",
            "false",
            "Persistent",
            "<unknown>"
        ]
    );
    assert_eq!(
        strs(&cells(
            "storage.k8s.io",
            "volumeattachments",
            json!({"metadata": {"name": "va"}, "spec": {"attacher": "csi.example.com",
            "source": {"persistentVolumeName": "pv-1"}, "nodeName": "node-1"}, "status": {"attached": true}})
        )),
        vec![
            "va",
            "csi.example.com",
            "pv-1",
            "node-1",
            "true",
            "<unknown>"
        ]
    );
    assert_eq!(
        strs(&cells(
            "",
            "podtemplates",
            json!({"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}})
        )),
        vec!["t", "c", "i", "app=x"]
    );
    assert_eq!(
        strs(&cells(
            "",
            "replicationcontrollers",
            json!({"metadata": {"name": "rc"}, "spec": {"replicas": 2, "selector": {"app": "x"}}})
        )),
        vec!["rc", "2", "0", "0", "<unknown>", "", "", "app=x"]
    );
}

#[test]
fn autoscaling_v1_rows_come_from_the_stored_form() {
    let v1 = find("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
    let hpa = json!({"metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1,
            "maxReplicas": 4, "targetCPUUtilizationPercentage": 60},
        "status": {"currentReplicas": 1, "desiredReplicas": 1, "currentCPUUtilizationPercentage": 20}});
    assert_eq!(
        columns(v1),
        columns(find("autoscaling", "v2", "horizontalpodautoscalers").unwrap())
    );
    assert_eq!(
        strs(&row(v1, &hpa, now())),
        vec![
            "web",
            "Deployment/web",
            "cpu: 20%/60%",
            "1",
            "4",
            "1",
            "<unknown>"
        ]
    );
}

#[test]
fn hpa_rows() {
    let hpa = json!({
        "metadata": {"name": "web"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 10, "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "1k"}}}
        ]},
        "status": {"currentReplicas": 2, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 12, "averageValue": "60m"}}}
        ]}
    });
    assert_eq!(
        strs(&cells("autoscaling", "horizontalpodautoscalers", hpa)),
        vec![
            "web",
            "Deployment/web",
            "cpu: 12%/50%, memory: <unknown>/100Mi + 1 more...",
            "1",
            "10",
            "2",
            "<unknown>"
        ]
    );
    let none = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 3}});
    assert_eq!(
        strs(&cells("autoscaling", "horizontalpodautoscalers", none))[2..4],
        ["<none>", "<unset>"]
    );
}

#[test]
fn the_table_object() {
    let pods = find("", "v1", "pods").unwrap();
    let p = pod(json!({"phase": "Succeeded"}));
    let mut with_rv = p.clone();
    with_rv["metadata"]["resourceVersion"] = json!("42");
    let t = table(
        pods,
        &[with_rv.clone()],
        now(),
        IncludeObject::Metadata,
        json!({"resourceVersion": "100", "continue": ""}),
    );
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(t["metadata"], json!({"resourceVersion": "100"}));
    assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 9);
    assert_eq!(
        t["columnDefinitions"][0],
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names", "priority": 0})
    );
    assert_eq!(t["columnDefinitions"][5]["priority"], 1);
    let r = &t["rows"][0];
    assert_eq!(r["cells"][0], "web");
    assert_eq!(r["conditions"][0]["type"], "Completed");
    assert_eq!(
        r["object"],
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": with_rv["metadata"]})
    );

    let t = table(
        pods,
        std::slice::from_ref(&p),
        now(),
        IncludeObject::Object,
        json!({}),
    );
    assert_eq!(t["metadata"], json!({}));
    assert_eq!(t["rows"][0]["object"]["kind"], "Pod");
    assert_eq!(t["rows"][0]["object"]["apiVersion"], "v1");
    assert_eq!(t["rows"][0]["object"]["spec"], p["spec"]);

    let t = table(
        pods,
        &[p],
        now(),
        IncludeObject::None,
        json!({"remainingItemCount": 3}),
    );
    assert!(t["rows"][0]["object"].is_null());
    assert_eq!(t["metadata"]["remainingItemCount"], 3);

    let mut t = table(pods, &[], now(), IncludeObject::Metadata, json!({}));
    assert_eq!(t["rows"], json!([]));
    omit_column_definitions(&mut t);
    assert!(t["columnDefinitions"].is_null());

    let t = table_in(
        pods,
        &[pod(json!({}))],
        now(),
        IncludeObject::Metadata,
        json!({}),
        "meta.k8s.io/v1beta1",
    );
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1beta1");
    assert_eq!(t["rows"][0]["object"]["apiVersion"], "meta.k8s.io/v1beta1");
}

#[test]
fn include_object_parameter() {
    assert_eq!(IncludeObject::parse(None).unwrap(), IncludeObject::Metadata);
    assert_eq!(
        IncludeObject::parse(Some("")).unwrap(),
        IncludeObject::Metadata
    );
    assert_eq!(
        IncludeObject::parse(Some("Object")).unwrap(),
        IncludeObject::Object
    );
    assert_eq!(
        IncludeObject::parse(Some("None")).unwrap(),
        IncludeObject::None
    );
    let e = IncludeObject::parse(Some("All")).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (400, "unrecognized includeObject value: \"All\"")
    );
}

#[test]
fn column_descriptions_come_from_the_fields_documentation() {
    for r in builtin_catalog().iter() {
        for c in columns(r) {
            // Upstream describes RuntimeClass's Handler with ObjectMeta's (missing) `handler`.
            let upstream_empty = r.kind == "RuntimeClass" && c.name == "Handler";
            assert!(
                !c.description().is_empty() || upstream_empty,
                "{r:?} {}: no description",
                c.name
            );
            if let Doc::Field { package, kind, .. } = c.doc {
                assert!(
                    crate::schema::definitions()
                        .get(&format!("{package}.{kind}"))
                        .is_some(),
                    "{package}.{kind}"
                );
            }
        }
    }
    let pods = find("", "v1", "pods").unwrap();
    let cols = columns(pods);
    assert!(cols[0]
        .description()
        .starts_with("Name must be unique within a namespace."));
    assert_eq!(
        cols[5].description(),
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."
    );
    assert_eq!(
        cols[1].description(),
        "The aggregate readiness state of this pod for accepting traffic."
    );
    // The field's own words, as upstream's SwaggerDoc has them (no Markdown escapes).
    let events = find("", "v1", "events").unwrap();
    let subobject = columns(events)
        .into_iter()
        .find(|c| c.name == "Subobject")
        .unwrap();
    assert!(subobject
        .description()
        .contains("such as desiredState.manifest.containers[2]."));
}
