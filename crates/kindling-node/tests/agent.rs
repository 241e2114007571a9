//! The kubelet's agent against a real API server (in-process, no containerd): it registers its
//! Node with labels, taints, addresses and capacity, reports NotReady with the runtime down, keeps
//! a Lease, and the node's IPAM hands it a podCIDR. (Here rather than in kindling-kubelet, which
//! must not link the API server, not even for its tests.)
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use kindling_kubelet::{Agent, Config};
use kube::api::Api;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_and_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    let server = kindling_apiserver::start(kindling_apiserver::Config::local(dir.path()))
        .await
        .unwrap();
    let client = kindling_node::client_from_kubeconfig(&server.kubeconfig)
        .await
        .unwrap();
    let config = Config {
        node_name: "kind-worker".into(),
        node_ip: "172.18.0.3".parse().unwrap(),
        control_plane: false,
        labels: [("tier".to_string(), "edge".to_string())].into(),
        taints: vec![
            serde_json::json!({"key": "dedicated", "value": "edge", "effect": "NoSchedule"}),
        ],
        default_cni: false,
        service_proxy: false,
        ingress_controller: false,
        image: String::new(),
        client_ca_pem: String::new(),
        runtime_endpoint: "/nonexistent/containerd.sock".into(),
        runtime_version: "containerd://test".into(),
        pod_resolv_conf: String::new(),
        cluster_dns: Vec::new(),
        cluster_domain: "cluster.local".into(),
        server_tls_bootstrap: false,
    };
    tokio::spawn(kindling_node::ipam::run(
        client.clone(),
        "10.244.0.0/16".into(),
    ));
    tokio::spawn(Agent::new(client.clone(), config).run());
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(20);
    let node = loop {
        if let Ok(n) = nodes.get("kind-worker").await {
            let has_cidr = n.spec.as_ref().and_then(|s| s.pod_cidr.as_ref()).is_some();
            let has_status = n
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some();
            if has_cidr && has_status {
                break n;
            }
        }
        assert!(Instant::now() < deadline, "node never registered fully");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let labels = node.metadata.labels.clone().unwrap();
    assert_eq!(labels["tier"], "edge");
    assert_eq!(labels["kubernetes.io/hostname"], "kind-worker");
    assert!(!labels.contains_key("node-role.kubernetes.io/control-plane"));
    assert_eq!(
        node.spec.as_ref().unwrap().taints.as_ref().unwrap()[0].key,
        "dedicated"
    );
    assert_eq!(
        node.spec.as_ref().unwrap().pod_cidr.as_deref(),
        Some("10.244.0.0/24")
    );
    let status = node.status.unwrap();
    let ready = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "False", "no containerd here, so not ready");
    assert_eq!(status.addresses.unwrap()[0].address, "172.18.0.3");
    assert!(status.capacity.unwrap().contains_key("cpu"));
    assert_eq!(
        status.node_info.unwrap().kubelet_version,
        kindling_apiserver::KUBERNETES_VERSION
    );
    let leases: Api<Lease> = Api::namespaced(client, "kube-node-lease");
    let lease = leases.get("kind-worker").await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("kind-worker")
    );
}
