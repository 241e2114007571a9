//! kind's cluster config, `kind: Cluster` / `apiVersion: kind.x-k8s.io/v1alpha4`: every field of
//! kind's `pkg/apis/config/v1alpha4` types, with the same YAML names. Decoding is strict like
//! kind's (an unknown field is an error). Enumerations stay strings here, as in kind, and are
//! checked with kind's messages; the resolved view (`crate::resolve`) has them typed.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// `kind.x-k8s.io/v1alpha4`
pub const API_VERSION: &str = "kind.x-k8s.io/v1alpha4";
/// `Cluster`
pub const KIND: &str = "Cluster";

/// Node roles (`nodes[].role`).
pub const CONTROL_PLANE_ROLE: &str = "control-plane";
pub const WORKER_ROLE: &str = "worker";

/// `networking.ipFamily` values.
pub const IPV4_FAMILY: &str = "ipv4";
pub const IPV6_FAMILY: &str = "ipv6";
pub const DUAL_STACK_FAMILY: &str = "dual";

/// `networking.kubeProxyMode` values (`none` is accepted by kind's validation: no kube-proxy).
pub const IPTABLES_PROXY_MODE: &str = "iptables";
pub const IPVS_PROXY_MODE: &str = "ipvs";
pub const NFTABLES_PROXY_MODE: &str = "nftables";
pub const NONE_PROXY_MODE: &str = "none";

/// A YAML `null` (or `key:` with nothing after it) means "unset", as in Go.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// serde's `skip_serializing_if` passes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(b: &bool) -> bool {
    !*b
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// The cluster config, as written (before defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub kind: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub api_version: String,
    /// The cluster name; `--name` and `KIND_CLUSTER_NAME` override it (see `resolve_name`).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    /// Empty means one control-plane node.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub nodes: Vec<Node>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Networking::is_empty"
    )]
    pub networking: Networking,
    /// Feature gates for every component.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub feature_gates: BTreeMap<String, bool>,
    /// `--runtime-config` of the API server.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub runtime_config: BTreeMap<String, String>,
    /// Merge patches (YAML documents) for the kubeadm config of every node.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kubeadm_config_patches: Vec<String>,
    #[serde(
        rename = "kubeadmConfigPatchesJSON6902",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kubeadm_config_patches_json6902: Vec<PatchJson6902>,
    /// TOML merge patches for every node's containerd config.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub containerd_config_patches: Vec<String>,
    /// RFC 6902 patches (YAML or JSON) for every node's containerd config.
    #[serde(
        rename = "containerdConfigPatchesJSON6902",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub containerd_config_patches_json6902: Vec<String>,
    /// kindling's own field (kind has none): a load balancer container on the host's ports
    /// 80 and 443 in front of every ingress node's controller — the "custom load balancer for
    /// Ingress" of kind's multi-node guides, as one line (`ingressLoadBalancer: {}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_load_balancer: Option<IngressLoadBalancer>,
}

/// Where the ingress load balancer listens on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressLoadBalancer {
    /// The host address; empty: every address (`0.0.0.0`), as extraPortMappings.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listen_address: String,
    /// The host port for HTTP (default 80).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
    /// The host port for HTTPS (default 443).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_port: Option<u16>,
}

/// One node container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Node {
    /// `control-plane` (the default) or `worker`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub role: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub image: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub extra_mounts: Vec<Mount>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub extra_port_mappings: Vec<PortMapping>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kubeadm_config_patches: Vec<String>,
    #[serde(
        rename = "kubeadmConfigPatchesJSON6902",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub kubeadm_config_patches_json6902: Vec<PatchJson6902>,
}

/// Cluster-wide network settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Networking {
    /// `ipv4` (default), `ipv6` or `dual`.
    #[serde(
        rename = "ipFamily",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub ip_family: String,
    /// Host port of the API server: 0 = a random free port picked by kindling, -1 = picked by
    /// the container engine.
    #[serde(
        rename = "apiServerPort",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub api_server_port: i32,
    /// Host address the API server port listens on (default 127.0.0.1, `::1` for ipv6).
    #[serde(
        rename = "apiServerAddress",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub api_server_address: String,
    /// One CIDR, or two comma-separated (one per family) for dual-stack.
    #[serde(
        rename = "podSubnet",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub pod_subnet: String,
    #[serde(
        rename = "serviceSubnet",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub service_subnet: String,
    /// Do not install the default CNI (kindnet); nodes stay NotReady until the user installs one.
    #[serde(
        rename = "disableDefaultCNI",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub disable_default_cni: bool,
    /// `iptables` (default), `ipvs`, `nftables` or `none`.
    #[serde(
        rename = "kubeProxyMode",
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub kube_proxy_mode: String,
    /// DNS search domains of the nodes; unset = inherited from the host, `[]` = none.
    #[serde(rename = "dnsSearch", default, skip_serializing_if = "Option::is_none")]
    pub dns_search: Option<Vec<String>>,
}

impl Networking {
    fn is_empty(&self) -> bool {
        self == &Networking::default()
    }
}

/// A host path mounted into the node container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mount {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub container_path: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub host_path: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub read_only: bool,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_false"
    )]
    pub selinux_relabel: bool,
    /// `None`, `HostToContainer` or `Bidirectional`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub propagation: String,
}

/// A host port forwarded to a node container port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortMapping {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub container_port: i32,
    /// 0 = a random free port, -1 = picked by the container engine.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "is_zero"
    )]
    pub host_port: i32,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub listen_address: String,
    /// `TCP` (default), `UDP` or `SCTP`; any case (kind upper-cases it).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub protocol: String,
}

/// An RFC 6902 patch of the kubeadm config object of kind `kind` (and `group/version`, when
/// given).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchJson6902 {
    #[serde(default, deserialize_with = "nullable")]
    pub group: String,
    #[serde(default, deserialize_with = "nullable")]
    pub version: String,
    #[serde(default, deserialize_with = "nullable")]
    pub kind: String,
    /// The operations, as YAML or JSON text.
    #[serde(default, deserialize_with = "nullable")]
    pub patch: String,
}

impl PatchJson6902 {
    /// `group/version`, or `version` alone when the group is empty (the core group), as kind
    /// matches it.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}
