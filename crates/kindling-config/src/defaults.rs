//! kind's defaults (`pkg/apis/config/v1alpha4/default.go` and the internal `default.go`).

use crate::types::*;

/// The cluster name when neither `--name`, `KIND_CLUSTER_NAME` nor the config names one.
pub const DEFAULT_CLUSTER_NAME: &str = "kind";

/// Sets every unset field to kind's default. `default_image` is the node image of nodes that
/// name none.
///
/// - no nodes: one control-plane node; a node's role defaults to `control-plane`;
/// - `ipFamily: ipv4`; `apiServerAddress: 127.0.0.1` (`::1` for ipv6); `apiServerPort: 0` stays 0
///   (= a random free host port);
/// - `podSubnet: 10.244.0.0/16` (ipv6 `fd00:10:244::/56`, dual both);
/// - `serviceSubnet: 10.96.0.0/16` (ipv6 `fd00:10:96::/112`, dual both) — kind's default is
///   /16, not kubeadm's /12;
/// - `kubeProxyMode: iptables`;
/// - the cluster name `kind`.
///
/// Port-mapping defaults (`protocol: TCP`, `listenAddress: 0.0.0.0`, `::` for ipv6) are applied
/// by kind's provider, not here, and so are in [`crate::ResolvedCluster`]'s port mappings.
pub fn set_defaults(c: &mut Cluster, default_image: &str) {
    if c.kind.is_empty() {
        c.kind = KIND.to_string();
    }
    if c.api_version.is_empty() {
        c.api_version = API_VERSION.to_string();
    }
    if c.name.is_empty() {
        c.name = DEFAULT_CLUSTER_NAME.to_string();
    }
    if c.nodes.is_empty() {
        c.nodes.push(Node {
            role: CONTROL_PLANE_ROLE.to_string(),
            ..Node::default()
        });
    }
    for n in &mut c.nodes {
        if n.image.is_empty() {
            n.image = default_image.to_string();
        }
        if n.role.is_empty() {
            n.role = CONTROL_PLANE_ROLE.to_string();
        }
    }
    let net = &mut c.networking;
    if net.ip_family.is_empty() {
        net.ip_family = IPV4_FAMILY.to_string();
    }
    let family = net.ip_family.clone();
    if net.api_server_address.is_empty() {
        net.api_server_address = if family == IPV6_FAMILY {
            "::1"
        } else {
            "127.0.0.1"
        }
        .to_string();
    }
    if net.pod_subnet.is_empty() {
        net.pod_subnet = match family.as_str() {
            IPV6_FAMILY => "fd00:10:244::/56",
            DUAL_STACK_FAMILY => "10.244.0.0/16,fd00:10:244::/56",
            _ => "10.244.0.0/16",
        }
        .to_string();
    }
    if net.service_subnet.is_empty() {
        net.service_subnet = match family.as_str() {
            IPV6_FAMILY => "fd00:10:96::/112",
            DUAL_STACK_FAMILY => "10.96.0.0/16,fd00:10:96::/112",
            _ => "10.96.0.0/16",
        }
        .to_string();
    }
    if net.kube_proxy_mode.is_empty() {
        net.kube_proxy_mode = IPTABLES_PROXY_MODE.to_string();
    }
}
