//! kindling-kubelet: the node agent, the part of kindling that does what the kubelet does.
//!
//! [`run`] starts it on a node: the Node's registration, Lease and status ([`Agent`]), the pod
//! runner (`pods/`: the pods bound to this node run over CRI), the mirror pods of kindling's own
//! parts, the node's CSINode, the node half of the local-path provisioner, and the :10250 server for logs, exec, attach and port-forward. `kindling node` (PID 1,
//! containerd, the control plane) runs it as its `kubelet` unit.
//!
//! The kubelet talks to the API server only through its client, so this crate links neither the
//! API server nor the store; certificates come from kindling-pki.

mod agent;
mod cni;
mod csinode;
pub mod localpath;
mod metrics;
mod mirror;
mod pods;
mod runtime;
mod server;
mod sysinfo;

pub use agent::Agent;
pub use pods::dns::ClusterDns;
pub use pods::spec::{
    container_config, log_directory, sandbox_config, ContainerInputs, Kind as ContainerKind,
    NodeFacts,
};
pub use runtime::{CriRuntime, Runtime, LABEL_MANAGED};

use std::collections::BTreeMap;
use std::net::IpAddr;

/// What the node tells its kubelet (the part of upstream's flags and KubeletConfiguration that
/// kindling uses).
#[derive(Clone, Debug)]
pub struct Config {
    /// The Node's name (the node container's hostname).
    pub node_name: String,
    /// The node's InternalIP: the Node's address, pods' hostIP, the :10250 serving certificate.
    pub node_ip: IpAddr,
    /// A control-plane node: the control-plane role label, and mirror pods for its parts.
    pub control_plane: bool,
    /// Labels the Node is registered with, besides the well-known ones.
    pub labels: BTreeMap<String, String>,
    /// Taints the Node is registered with, as Kubernetes JSON (`{key, value, effect}`).
    pub taints: Vec<serde_json::Value>,
    /// The default pod network is on: its CNI config is written once the Node has a podCIDR,
    /// and kindnet's mirror pod is shown.
    pub default_cni: bool,
    /// The node runs the service proxy: kube-proxy's mirror pod is shown.
    pub service_proxy: bool,
    /// The node runs the ingress controller: `ingress-controller-<node>` is shown in
    /// `ingress-kindling`.
    pub ingress_controller: bool,
    /// The node image (the image of the mirror pods).
    pub image: String,
    /// The cluster CA (PEM) that :10250 verifies client certificates against.
    pub client_ca_pem: String,
    /// The CRI runtime's unix socket.
    pub runtime_endpoint: String,
    /// `nodeInfo.containerRuntimeVersion`, e.g. `containerd://2.1.1`.
    pub runtime_version: String,
    /// The node's resolv.conf as pods see it: what `dnsPolicy: Default` pods get, and the
    /// search domains `ClusterFirst` appends to the cluster's.
    pub pod_resolv_conf: String,
    /// The cluster DNS servers (`clusterDNS`: the kube-dns Service's address); empty: pods with
    /// `ClusterFirst` fall back to `Default`, as upstream's kubelet does.
    pub cluster_dns: Vec<IpAddr>,
    /// The cluster domain (`clusterDomain`), e.g. `cluster.local`.
    pub cluster_domain: String,
    /// Ask for the :10250 serving certificate by CSR (`serverTLSBootstrap`), else sign one's own.
    pub server_tls_bootstrap: bool,
}

/// Runs the kubelet until its runtime is dropped: pod runner, mirror pods and :10250 on tasks of
/// their own, the Node's registration and heartbeat on this one.
pub async fn run(client: kube::Client, config: Config) {
    let metrics = std::sync::Arc::new(metrics::Metrics::new(&config.node_name));
    tokio::spawn(pods::run(client.clone(), config.clone(), metrics.clone()));
    tokio::spawn(mirror::run(client.clone(), config.clone()));
    tokio::spawn(csinode::run(client.clone(), config.clone()));
    let server_config = config.clone();
    let server_client = client.clone();
    tokio::spawn(async move {
        if let Err(e) = server::serve(&server_config, server_client, metrics).await {
            tracing::error!("log endpoint: {e:#}");
        }
    });
    Agent::new(client, config).run().await;
}

#[cfg(test)]
impl Config {
    /// A worker's config with nothing set but its name.
    pub(crate) fn for_tests(node_name: &str) -> Config {
        Config {
            node_name: node_name.into(),
            node_ip: IpAddr::from([172, 18, 0, 2]),
            control_plane: false,
            labels: BTreeMap::new(),
            taints: Vec::new(),
            default_cni: false,
            service_proxy: false,
            ingress_controller: false,
            image: String::new(),
            client_ca_pem: String::new(),
            runtime_endpoint: "/nonexistent.sock".into(),
            runtime_version: String::new(),
            pod_resolv_conf: String::new(),
            cluster_dns: Vec::new(),
            cluster_domain: "cluster.local".into(),
            server_tls_bootstrap: false,
        }
    }
}
