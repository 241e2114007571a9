//! The scheduler against a real (in-process) API server, no Docker: Nodes are created with the
//! status a node agent would report, pods are created, and the scheduler must bind them where
//! upstream's would — or leave them Pending with upstream's event and condition.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

struct Cluster {
    client: Client,
    _server: kindling_apiserver::RunningServer,
    _dir: tempfile::TempDir,
}

async fn client_from(kubeconfig: &std::path::Path) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

/// A server, the scheduler, and kind's three nodes: a tainted control plane and two workers
/// (4 CPUs, 8 GiB, 110 pods each).
async fn cluster() -> Cluster {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let server = kindling_apiserver::start(kindling_apiserver::Config::local(dir.path()))
        .await
        .unwrap();
    let client = client_from(&server.kubeconfig).await;
    // Pods need their namespace's default ServiceAccount (admission looks it up).
    tokio::spawn(kindling_controllers::run(
        client.clone(),
        kindling_controllers::Config {
            root_ca_pem: server.ca_pem.clone(),
        },
    ));
    add_node(
        &client,
        "kind-control-plane",
        json!({"node-role.kubernetes.io/control-plane": ""}),
        json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
        "4",
    )
    .await;
    add_node(&client, "kind-worker", json!({}), json!([]), "4").await;
    add_node(
        &client,
        "kind-worker2",
        json!({"tier": "edge"}),
        json!([]),
        "4",
    )
    .await;
    tokio::spawn(kindling_scheduler::run_with(
        client.clone(),
        kindling_scheduler::Options {
            seed: Some(42),
            ..Default::default()
        },
    ));
    Cluster {
        client,
        _server: server,
        _dir: dir,
    }
}

async fn add_node(client: &Client, name: &str, labels: Value, taints: Value, cpu: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let mut labels = labels;
    labels["kubernetes.io/hostname"] = json!(name);
    labels["kubernetes.io/os"] = json!("linux");
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
    }))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    set_allocatable(client, name, cpu).await;
}

async fn set_allocatable(client: &Client, name: &str, cpu: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    let resources =
        json!({"cpu": cpu, "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"});
    let status = json!({"status": {
        "capacity": resources, "allocatable": resources,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
            "message": "kubelet is posting ready status",
            "lastHeartbeatTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"}],
    }});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

fn pod(name: &str, labels: Value, spec: Value) -> Pod {
    let mut spec = spec;
    if spec["containers"].is_null() {
        spec["containers"] = json!([{"name": "c", "image": "busybox"}]);
    }
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": spec,
    }))
    .unwrap()
}

fn requesting(cpu: &str) -> Value {
    json!({"containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}]})
}

async fn create(c: &Cluster, p: Pod) {
    let pods: Api<Pod> = Api::default_namespaced(c.client.clone());
    pods.create(&PostParams::default(), &p).await.unwrap();
}

async fn wait_bound(c: &Cluster, name: &str) -> String {
    let pods: Api<Pod> = Api::default_namespaced(c.client.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = pods.get(name).await.unwrap();
        if let Some(n) = p.spec.and_then(|s| s.node_name) {
            return n;
        }
        assert!(Instant::now() < deadline, "{name} never bound");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn node_of(c: &Cluster, name: &str) -> Option<String> {
    let pods: Api<Pod> = Api::default_namespaced(c.client.clone());
    pods.get(name).await.unwrap().spec.and_then(|s| s.node_name)
}

/// The pod's events of this reason, as `kubectl describe pod` finds them.
async fn events(c: &Cluster, name: &str, reason: &str) -> Vec<Event> {
    let api: Api<Event> = Api::default_namespaced(c.client.clone());
    let lp = ListParams::default().fields(&format!(
        "involvedObject.name={name},involvedObject.namespace=default"
    ));
    api.list(&lp)
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

async fn wait_event(c: &Cluster, name: &str, reason: &str) -> Event {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(e) = events(c, name, reason).await.into_iter().next() {
            return e;
        }
        assert!(Instant::now() < deadline, "no {reason} event for {name}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the pod's `PodScheduled` condition is False with a message, and returns it.
async fn wait_unschedulable(c: &Cluster, name: &str) -> (String, String) {
    let pods: Api<Pod> = Api::default_namespaced(c.client.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = pods.get(name).await.unwrap();
        let cond = p
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False");
        if let Some(cond) = cond {
            return (
                cond.reason.unwrap_or_default(),
                cond.message.unwrap_or_default(),
            );
        }
        assert!(
            Instant::now() < deadline,
            "{name} never marked unschedulable"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binds_to_workers_and_records_scheduled() {
    let c = cluster().await;
    for i in 0..6 {
        create(
            &c,
            pod(
                &format!("web-{i}"),
                json!({"app": "web"}),
                requesting("100m"),
            ),
        )
        .await;
    }
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..6 {
        *per_node
            .entry(wait_bound(&c, &format!("web-{i}")).await)
            .or_default() += 1;
    }
    assert!(!per_node.contains_key("kind-control-plane"), "{per_node:?}");
    assert_eq!(per_node.len(), 2, "spread over both workers: {per_node:?}");
    let node = node_of(&c, "web-1").await.unwrap();
    let ev = wait_event(&c, "web-1", "Scheduled").await;
    assert_eq!(
        ev.message.as_deref(),
        Some(format!("Successfully assigned default/web-1 to {node}").as_str())
    );
    assert_eq!(ev.type_.as_deref(), Some("Normal"));
    assert_eq!(
        ev.source.unwrap().component.as_deref(),
        Some("default-scheduler")
    );
    assert_eq!(ev.reporting_component.as_deref(), Some("default-scheduler"));
    assert_eq!(ev.count, Some(1));
    assert!(ev.first_timestamp.is_some() && ev.last_timestamp.is_some());
    assert_eq!(ev.involved_object.kind.as_deref(), Some("Pod"));
    assert!(ev.involved_object.uid.is_some());
    // The server set the PodScheduled condition with the binding.
    let pods: Api<Pod> = Api::default_namespaced(c.client.clone());
    let conds = pods
        .get("web-1")
        .await
        .unwrap()
        .status
        .unwrap()
        .conditions
        .unwrap();
    assert!(conds
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.status == "True"));
    // Pods for another scheduler are left alone.
    create(
        &c,
        pod(
            "other",
            json!({}),
            json!({"schedulerName": "my-scheduler",
        "containers": [{"name": "c", "image": "busybox"}]}),
        ),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(node_of(&c, "other").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_selector_and_tolerated_control_plane() {
    let c = cluster().await;
    create(
        &c,
        pod(
            "edge",
            json!({}),
            json!({"nodeSelector": {"tier": "edge"},
        "containers": [{"name": "c", "image": "busybox"}]}),
        ),
    )
    .await;
    assert_eq!(wait_bound(&c, "edge").await, "kind-worker2");
    create(&c, pod("cp", json!({}), json!({
        "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
        "containers": [{"name": "c", "image": "busybox"}]}))).await;
    assert_eq!(wait_bound(&c, "cp").await, "kind-control-plane");
    create(
        &c,
        pod(
            "nowhere",
            json!({}),
            json!({"nodeSelector": {"tier": "gpu"},
        "containers": [{"name": "c", "image": "busybox"}]}),
        ),
    )
    .await;
    let (_, message) = wait_unschedulable(&c, "nowhere").await;
    assert_eq!(
        message,
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
         2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: \
         3 Preemption is not helpful for scheduling."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_big_stays_pending_with_upstream_message_then_fits_when_a_node_grows() {
    let c = cluster().await;
    create(&c, pod("big", json!({}), requesting("6"))).await;
    let expected = "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
                    2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
                    2 No preemption victims found for incoming pod.";
    let ev = wait_event(&c, "big", "FailedScheduling").await;
    assert_eq!(ev.message.as_deref(), Some(expected));
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert_eq!(
        ev.source.unwrap().component.as_deref(),
        Some("default-scheduler")
    );
    let (reason, message) = wait_unschedulable(&c, "big").await;
    assert_eq!(reason, "Unschedulable");
    assert_eq!(message, expected);
    assert_eq!(node_of(&c, "big").await, None);
    let pods: Api<Pod> = Api::default_namespaced(c.client.clone());
    assert_eq!(
        pods.get("big")
            .await
            .unwrap()
            .status
            .unwrap()
            .phase
            .as_deref(),
        Some("Pending")
    );
    // A node that grows is a reason to try again.
    set_allocatable(&c.client, "kind-worker", "8").await;
    assert_eq!(wait_bound(&c, "big").await, "kind-worker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordoned_nodes_take_no_pods() {
    let c = cluster().await;
    let nodes: Api<Node> = Api::all(c.client.clone());
    let cordon = json!({"spec": {"unschedulable": true}});
    for n in ["kind-worker", "kind-worker2"] {
        nodes
            .patch(n, &PatchParams::default(), &Patch::Merge(&cordon))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    create(&c, pod("p", json!({}), requesting("100m"))).await;
    let (_, message) = wait_unschedulable(&c, "p").await;
    assert_eq!(
        message,
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
         2 node(s) were unschedulable. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    let uncordon = json!({"spec": {"unschedulable": false}});
    nodes
        .patch(
            "kind-worker2",
            &PatchParams::default(),
            &Patch::Merge(&uncordon),
        )
        .await
        .unwrap();
    assert_eq!(wait_bound(&c, "p").await, "kind-worker2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_ports_conflict() {
    let c = cluster().await;
    let with_port = || {
        json!({"containers": [{"name": "c", "image": "busybox",
            "ports": [{"containerPort": 80, "hostPort": 8080}]}]})
    };
    create(&c, pod("a", json!({}), with_port())).await;
    let a = wait_bound(&c, "a").await;
    create(&c, pod("b", json!({}), with_port())).await;
    let b = wait_bound(&c, "b").await;
    assert_ne!(a, b, "same host port, different nodes");
    create(&c, pod("c", json!({}), with_port())).await;
    let (_, message) = wait_unschedulable(&c, "c").await;
    assert_eq!(
        message,
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
         2 node(s) didn't have free ports for the requested pod ports. preemption: 0/3 nodes are available: \
         1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
    );
    // Freeing the port lets it in.
    let pods: Api<Pod> = Api::default_namespaced(c.client.clone());
    pods.delete("a", &Default::default()).await.unwrap();
    // Graceful deletion only marks the pod; without a kubelet, finish it.
    let _ = pods
        .delete("a", &kube::api::DeleteParams::default().grace_period(0))
        .await;
    assert_eq!(wait_bound(&c, "c").await, a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anti_affinity_spreads_replicas() {
    let c = cluster().await;
    let spec = || {
        json!({
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}},
            "containers": [{"name": "c", "image": "busybox"}],
        })
    };
    for i in 0..3 {
        create(&c, pod(&format!("db-{i}"), json!({"app": "db"}), spec())).await;
    }
    let mut placed = Vec::new();
    let mut pending = Vec::new();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..3 {
        let name = format!("db-{i}");
        match node_of(&c, &name).await {
            Some(n) => placed.push(n),
            None => pending.push(name),
        }
    }
    if placed.len() < 2 {
        // Give the binds a little longer.
        tokio::time::sleep(Duration::from_secs(2)).await;
        placed.clear();
        pending.clear();
        for i in 0..3 {
            let name = format!("db-{i}");
            match node_of(&c, &name).await {
                Some(n) => placed.push(n),
                None => pending.push(name),
            }
        }
    }
    placed.sort();
    assert_eq!(placed, vec!["kind-worker", "kind-worker2"]);
    assert_eq!(pending.len(), 1);
    let (_, message) = wait_unschedulable(&c, &pending[0]).await;
    assert_eq!(
        message,
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
         2 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: \
         1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_count_on_one_event() {
    let c = cluster().await;
    create(&c, pod("huge", json!({}), requesting("100"))).await;
    wait_event(&c, "huge", "FailedScheduling").await;
    // Node changes that do not help still make it try again (each node update is a retry);
    // the same message grows the count of the same Event.
    for cpu in ["5", "6"] {
        set_allocatable(&c.client, "kind-worker", cpu).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let evs = events(&c, "huge", "FailedScheduling").await;
        assert_eq!(evs.len(), 1, "one Event object");
        if evs[0].count.unwrap_or(0) >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "count never grew: {:?}",
            evs[0].count
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduling_gates_hold_a_pod_and_not_ready_nodes_are_avoided() {
    let c = cluster().await;
    // A third worker that never became Ready.
    let nodes: Api<Node> = Api::all(c.client.clone());
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "kind-worker3",
        "labels": {"kubernetes.io/hostname": "kind-worker3", "tier": "edge"}}}))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    create(
        &c,
        pod(
            "gated",
            json!({}),
            json!({"schedulingGates": [{"name": "example.com/wait"}],
        "nodeSelector": {"tier": "edge"},
        "containers": [{"name": "c", "image": "busybox"}]}),
        ),
    )
    .await;
    let (reason, message) = wait_unschedulable(&c, "gated").await;
    assert_eq!(reason, "SchedulingGated");
    assert_eq!(
        message,
        "Scheduling is blocked due to non-empty scheduling gates"
    );
    assert_eq!(node_of(&c, "gated").await, None);
    let pods: Api<Pod> = Api::default_namespaced(c.client.clone());
    let ungate = json!({"spec": {"schedulingGates": null}});
    pods.patch("gated", &PatchParams::default(), &Patch::Merge(&ungate))
        .await
        .unwrap();
    assert_eq!(
        wait_bound(&c, "gated").await,
        "kind-worker2",
        "not the NotReady node"
    );
    create(
        &c,
        pod(
            "only-3",
            json!({}),
            json!({"nodeSelector": {"kubernetes.io/hostname": "kind-worker3"},
        "containers": [{"name": "c", "image": "busybox"}]}),
        ),
    )
    .await;
    let (_, message) = wait_unschedulable(&c, "only-3").await;
    assert_eq!(
        message,
        "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
         1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, \
         2 node(s) didn't match Pod's node affinity/selector. preemption: 0/4 nodes are available: \
         4 Preemption is not helpful for scheduling."
    );
}

/// VolumeBinding with the real PV controller and local-path provisioner (no node agent: the
/// volume's directory is never made, which scheduling does not need).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_decide_where_pods_go() {
    use k8s_openapi::api::core::v1::PersistentVolumeClaim;
    use k8s_openapi::api::storage::v1::StorageClass;
    let c = cluster().await;
    let classes: Api<StorageClass> = Api::all(c.client.clone());
    let class = serde_json::from_value(json!({"metadata": {"name": "standard"},
        "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"}))
    .unwrap();
    classes
        .create(&PostParams::default(), &class)
        .await
        .unwrap();
    let claim_vol =
        |claim: &str| json!([{"name": "d", "persistentVolumeClaim": {"claimName": claim}}]);

    // A claim that does not exist: the pre-filter's reason for every node.
    create(
        &c,
        pod(
            "orphan",
            json!({}),
            json!({"volumes": claim_vol("missing")}),
        ),
    )
    .await;
    let (reason, message) = wait_unschedulable(&c, "orphan").await;
    assert_eq!(reason, "Unschedulable");
    assert_eq!(
        message,
        "0/3 nodes are available: persistentvolumeclaim \"missing\" not found. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );

    // A WaitForFirstConsumer claim is provisioned on the node of its first pod.
    let claims: Api<PersistentVolumeClaim> = Api::default_namespaced(c.client.clone());
    let claim = serde_json::from_value(json!({"metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard",
                 "resources": {"requests": {"storage": "1Mi"}}}}))
    .unwrap();
    claims.create(&PostParams::default(), &claim).await.unwrap();
    create(
        &c,
        pod(
            "first",
            json!({}),
            json!({"nodeSelector": {"kubernetes.io/hostname": "kind-worker"},
            "containers": [{"name": "c", "image": "busybox"}], "volumes": claim_vol("data")}),
        ),
    )
    .await;
    assert_eq!(wait_bound(&c, "first").await, "kind-worker");
    let bound = claims.get("data").await.unwrap();
    assert_eq!(
        bound.metadata.annotations.unwrap()["volume.kubernetes.io/selected-node"],
        "kind-worker"
    );
    assert_eq!(bound.status.unwrap().phase.as_deref(), Some("Bound"));

    // Its volume is pinned there: a pod that may only run elsewhere stays Pending with
    // upstream's reason; one that may run anywhere goes there.
    create(
        &c,
        pod(
            "edge",
            json!({}),
            json!({"nodeSelector": {"tier": "edge"},
            "containers": [{"name": "c", "image": "busybox"}], "volumes": claim_vol("data")}),
        ),
    )
    .await;
    let (_, message) = wait_unschedulable(&c, "edge").await;
    assert!(
        message.starts_with("0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 1 node(s) had volume node affinity conflict."),
        "{message}"
    );
    create(&c, pod("anywhere", json!({}), json!({"containers": [{"name": "c", "image": "busybox"}], "volumes": claim_vol("data")}))).await;
    assert_eq!(wait_bound(&c, "anywhere").await, "kind-worker");
}
