//! What the host tells a node: written by `kindling create cluster` to `/kindling/node.json` in
//! every node container, read by `kindling node` at every start.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the host puts the node's files.
pub const KINDLING_DIR: &str = "/kindling";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    ControlPlane,
    Worker,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeConfig {
    pub cluster: String,
    /// The node (and container, and host) name, e.g. `kind-control-plane`.
    pub name: String,
    pub role: Role,
    /// The API server URL this node's agent uses (a control-plane node name or the load balancer
    /// on the cluster network, resolved by Docker's DNS).
    pub api_server_url: String,
    pub pod_subnet: String,
    pub service_subnet: String,
    /// False when the config says `disableDefaultCNI: true`: then the node stays NotReady until
    /// someone installs a CNI config, as with kind.
    pub default_cni: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Node taints, as Kubernetes JSON (`{key, value, effect}`).
    #[serde(default)]
    pub taints: Vec<serde_json::Value>,
    /// Set on control-plane nodes.
    #[serde(default)]
    pub control_plane: Option<ControlPlaneConfig>,
    /// The node image this node runs (shown as the image of its mirror pods).
    #[serde(default)]
    pub image: String,
    /// The cluster domain (`networking.dnsDomain` of a ClusterConfiguration patch).
    #[serde(default = "default_dns_domain")]
    pub dns_domain: String,
    /// The kube-dns Service's ClusterIP; absent: the 10th address of the service subnet.
    #[serde(
        default,
        rename = "dnsServiceIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub dns_service_ip: Option<String>,
    /// kind's `networking.dnsSearch`: the node's search domains (None: the host's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_search: Option<Vec<String>>,
    /// `networking.kubeProxyMode`: `none` runs no service proxy; any other mode runs
    /// kindling's, which programs iptables.
    #[serde(default = "default_proxy_mode")]
    pub kube_proxy_mode: String,
    /// This node runs the ingress controller on its ports 80 and 443: it is labelled
    /// `ingress-ready=true`, or no node is and it is the first control plane.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ingress: bool,
    /// KubeletConfiguration `serverTLSBootstrap`: the kubelet asks for its :10250 serving
    /// certificate with a `kubernetes.io/kubelet-serving` CSR (else it signs its own, as
    /// upstream's kubelet does).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub server_tls_bootstrap: bool,
}

/// What a node.json written before the proxy existed means.
fn default_proxy_mode() -> String {
    "iptables".into()
}

fn default_dns_domain() -> String {
    "cluster.local".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControlPlaneConfig {
    /// Extra names/addresses for the serving certificate (apiServerAddress, certSANs, the load
    /// balancer).
    #[serde(default)]
    pub cert_sans: Vec<String>,
    /// `service-node-port-range` as `30000-32767`.
    #[serde(default)]
    pub node_port_range: Option<String>,
    /// `enable-admission-plugins`, as given (comma-separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_admission_plugins: Option<String>,
    /// `disable-admission-plugins`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_admission_plugins: Option<String>,
    /// `token-auth-file`: where the token file is on this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_auth_file: Option<String>,
    /// Keep objects in a stacked etcd member on this node (see `etcd.rs`) instead of SQLite:
    /// every control plane of the cluster, by node name. Absent: SQLite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etcd_members: Option<Vec<String>>,
    /// This member joins a running etcd cluster (`kindling create node --role control-plane`):
    /// before its first start it is added through a live member (MemberAdd, kubeadm's join
    /// order) and starts with `--initial-cluster-state existing`. Meaningless once the member
    /// has data (its membership is in its data dir then).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub etcd_join: bool,
    /// `service-account-issuer`, `service-account-jwks-uri` and `api-audiences` (comma-separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_jwks_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_audiences: Option<String>,
    /// kube-controller-manager's `--controllers` (from `controllerManager.extraArgs`), as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controllers: Option<String>,
    /// The config's `ingressLoadBalancer` (on the first control plane, which runs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_load_balancer: Option<IngressLoadBalancer>,
}

/// A balancer on host ports in front of the ingress nodes' ports 80 and 443.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressLoadBalancer {
    pub listen_address: String,
    pub http_port: u16,
    pub https_port: u16,
    /// The nodes whose controllers it forwards to (the ingress nodes).
    pub nodes: Vec<String>,
}

impl NodeConfig {
    pub fn load(path: &Path) -> anyhow::Result<NodeConfig> {
        let raw =
            std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        serde_json::from_slice(&raw).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

/// Files under [`KINDLING_DIR`].
pub fn kindling_path(name: &str) -> PathBuf {
    Path::new(KINDLING_DIR).join(name)
}
