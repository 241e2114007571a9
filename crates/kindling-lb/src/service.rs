//! What the balancer of a `type: LoadBalancer` Service forwards, decided without IO (what
//! cloud-provider-kind decides for kind): each TCP and UDP port of the Service to that port's NodePort
//! on the nodes that should take it — Ready nodes with an InternalIP, not labelled
//! `node.kubernetes.io/exclude-from-external-load-balancers` (unless that leaves none), and with
//! `externalTrafficPolicy: Local` only the nodes that have a ready endpoint of the Service.

use crate::{Config, Frontend, Protocol};
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

/// The `spec.loadBalancerClass` kindling serves besides none.
pub const CLASS: &str = "kindling.dev/service-lb";
/// The Service annotation that also publishes the balancer's ports on a host address (e.g.
/// `127.0.0.1`, for hosts where the cluster's Docker network is not reachable, as on Docker
/// Desktop): each TCP and UDP port of the Service on the same port number of that address.
pub const PUBLISH_ANNOTATION: &str = "kindling.dev/publish-address";
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Whether kindling gives `svc` a balancer: type LoadBalancer, no class or ours, not deleted.
pub fn is_ours(svc: &Service) -> bool {
    let Some(spec) = &svc.spec else {
        return false;
    };
    spec.type_.as_deref() == Some("LoadBalancer")
        && spec
            .load_balancer_class
            .as_deref()
            .is_none_or(|c| c == CLASS)
        && svc.metadata.deletion_timestamp.is_none()
}

/// The balancer container's name: `<cluster>-lb-<service>-<hash>` (the hash of
/// namespace/name keeps names unique; the whole fits a 63-character hostname).
pub fn container_name(cluster: &str, namespace: &str, name: &str) -> String {
    let hash = fnv1a(&format!("{namespace}/{name}"));
    let hash = format!("{:08x}", hash as u32);
    let room = 63usize.saturating_sub(cluster.len() + "-lb-".len() + 1 + hash.len());
    let short: String = name.chars().take(room).collect();
    let short = short.trim_end_matches('-');
    if short.is_empty() {
        format!("{cluster}-lb-{hash}")
    } else {
        format!("{cluster}-lb-{short}-{hash}")
    }
}

fn node_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn internal_ip(n: &Node) -> Option<IpAddr> {
    n.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .and_then(|a| a.address.parse().ok())
}

/// The forwarding `svc` needs, given every node and the Service's EndpointSlices.
pub fn config(svc: &Service, nodes: &[&Node], slices: &[&EndpointSlice]) -> Config {
    let spec = svc.spec.clone().unwrap_or_default();
    let ready: Vec<&Node> = nodes.iter().copied().filter(|n| node_ready(n)).collect();
    let included: Vec<&Node> = ready
        .iter()
        .copied()
        .filter(|n| {
            n.metadata
                .labels
                .as_ref()
                .is_none_or(|l| !l.contains_key(EXCLUDE_LABEL))
        })
        .collect();
    let mut eligible = if included.is_empty() { ready } else { included };
    if spec.external_traffic_policy.as_deref() == Some("Local") {
        let name = svc.metadata.name.as_deref().unwrap_or_default();
        let ns = svc.metadata.namespace.as_deref().unwrap_or_default();
        let with_endpoints: BTreeSet<&str> = slices
            .iter()
            .filter(|s| {
                s.metadata.namespace.as_deref() == Some(ns)
                    && s.metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(SERVICE_NAME_LABEL))
                        .map(String::as_str)
                        == Some(name)
            })
            .flat_map(|s| &s.endpoints)
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
            .filter_map(|e| e.node_name.as_deref())
            .collect();
        eligible
            .retain(|n| with_endpoints.contains(n.metadata.name.as_deref().unwrap_or_default()));
    }
    let mut ips: Vec<IpAddr> = eligible.iter().filter_map(|n| internal_ip(n)).collect();
    ips.sort();
    let frontends = spec
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            let protocol = match p.protocol.as_deref().unwrap_or("TCP") {
                "TCP" => Protocol::Tcp,
                "UDP" => Protocol::Udp,
                _ => return None, // SCTP: not balanced
            };
            let node_port = u16::try_from(p.node_port?).ok()?;
            Some(Frontend {
                port: u16::try_from(p.port).ok()?,
                protocol,
                backends: ips
                    .iter()
                    .map(|ip| SocketAddr::new(*ip, node_port))
                    .collect(),
                backend_hosts: Vec::new(),
            })
        })
        .collect();
    Config {
        frontends,
        https_health_path: None,
    }
}

/// The ingress load balancer's forwarding (the config's `ingressLoadBalancer`): ports 80 and
/// 443 to the same ports of the Ready nodes named `ingress_nodes` (their controllers listen
/// there); when none is Ready, all of them (better a slow answer than none).
pub fn ingress_config(ingress_nodes: &[String], nodes: &[&Node]) -> Config {
    let named: Vec<&Node> = nodes
        .iter()
        .copied()
        .filter(|n| {
            n.metadata
                .name
                .as_ref()
                .is_some_and(|name| ingress_nodes.contains(name))
        })
        .collect();
    let ready: Vec<&Node> = named.iter().copied().filter(|n| node_ready(n)).collect();
    let chosen = if ready.is_empty() { named } else { ready };
    let mut ips: Vec<IpAddr> = chosen.iter().filter_map(|n| internal_ip(n)).collect();
    ips.sort();
    let frontends = [80, 443]
        .into_iter()
        .map(|port| Frontend {
            port,
            protocol: Protocol::Tcp,
            backends: ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect(),
            backend_hosts: Vec::new(),
        })
        .collect();
    Config {
        frontends,
        https_health_path: None,
    }
}

/// Where `svc`'s balancer is published on the host: (address, port, protocol) for each port, from
/// [`PUBLISH_ANNOTATION`]; empty when the annotation is absent or not an IP address.
pub fn published(svc: &Service) -> Vec<(IpAddr, u16, Protocol)> {
    let Some(address) = svc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PUBLISH_ANNOTATION))
        .and_then(|a| a.trim().parse::<IpAddr>().ok())
    else {
        return Vec::new();
    };
    svc.spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .filter_map(|p| {
            let protocol = match p.protocol.as_deref().unwrap_or("TCP") {
                "TCP" => Protocol::Tcp,
                "UDP" => Protocol::Udp,
                _ => return None,
            };
            Some((address, u16::try_from(p.port).ok()?, protocol))
        })
        .collect()
}

fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, ip: &str, ready: bool, excluded: bool) -> Node {
        let labels = if excluded {
            json!({EXCLUDE_LABEL: ""})
        } else {
            json!({})
        };
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}],
                       "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]},
        }))
        .unwrap()
    }

    fn service(policy: &str, class: Option<&str>) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": policy,
                     "loadBalancerClass": class,
                     "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                               {"port": 53, "nodePort": 30053, "protocol": "UDP"},
                               {"port": 443, "nodePort": 30443}]},
        }))
        .unwrap()
    }

    fn slice(on: &[&str]) -> EndpointSlice {
        let endpoints: Vec<serde_json::Value> = on
            .iter()
            .map(|n| json!({"addresses": ["10.244.9.9"], "nodeName": n, "conditions": {"ready": true}}))
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": "web-x", "namespace": "default",
                         "labels": {SERVICE_NAME_LABEL: "web"}},
            "addressType": "IPv4", "endpoints": endpoints,
        }))
        .unwrap()
    }

    fn backends(c: &Config) -> Vec<(u16, Vec<String>)> {
        c.frontends
            .iter()
            .map(|f| (f.port, f.backends.iter().map(ToString::to_string).collect()))
            .collect()
    }

    #[test]
    fn each_tcp_port_goes_to_its_node_port_on_the_eligible_nodes() {
        let cp = node("cp", "172.18.0.2", true, true);
        let w1 = node("w1", "172.18.0.3", true, false);
        let w2 = node("w2", "172.18.0.4", false, false);
        let w3 = node("w3", "172.18.0.5", true, false);
        let nodes = [&cp, &w1, &w2, &w3];
        let c = config(&service("Cluster", None), &nodes, &[]);
        assert_eq!(
            backends(&c),
            [
                (
                    80,
                    vec!["172.18.0.3:30080".into(), "172.18.0.5:30080".into()]
                ),
                (
                    53,
                    vec!["172.18.0.3:30053".into(), "172.18.0.5:30053".into()]
                ),
                (
                    443,
                    vec!["172.18.0.3:30443".into(), "172.18.0.5:30443".into()]
                ),
            ]
        );
        assert_eq!(c.frontends[1].protocol, Protocol::Udp);
        // Local: only nodes with a ready endpoint.
        let s = slice(&["w3", "cp"]);
        let c = config(&service("Local", None), &nodes, &[&s]);
        assert_eq!(backends(&c)[0].1, ["172.18.0.5:30080"]);
        // A single excluded node is still used when it is all there is.
        assert_eq!(
            backends(&config(&service("Cluster", None), &[&cp], &[]))[0].1,
            ["172.18.0.2:30080"]
        );
    }

    #[test]
    fn the_ingress_balancer_forwards_80_and_443_to_ready_ingress_nodes() {
        let w1 = node("w1", "172.18.0.3", true, false);
        let w2 = node("w2", "172.18.0.4", false, false);
        let w3 = node("w3", "172.18.0.5", true, false);
        let names = ["w1".to_string(), "w2".to_string()];
        let c = ingress_config(&names, &[&w1, &w2, &w3]);
        assert_eq!(
            backends(&c),
            [
                (80, vec!["172.18.0.3:80".into()]),
                (443, vec!["172.18.0.3:443".into()])
            ]
        );
        // None Ready: all the named ones.
        let c = ingress_config(&names, &[&w2]);
        assert_eq!(backends(&c)[0].1, ["172.18.0.4:80"]);
    }

    #[test]
    fn published_on_the_annotated_address() {
        let mut svc = service("Cluster", None);
        assert!(published(&svc).is_empty());
        let annotate = |svc: &mut Service, v: &str| {
            svc.metadata.annotations =
                Some([(PUBLISH_ANNOTATION.to_string(), v.to_string())].into());
        };
        annotate(&mut svc, "127.0.0.1");
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            published(&svc),
            [
                (local, 80, Protocol::Tcp),
                (local, 53, Protocol::Udp),
                (local, 443, Protocol::Tcp)
            ]
        );
        annotate(&mut svc, "not an address");
        assert!(published(&svc).is_empty());
    }

    #[test]
    fn classes_and_names() {
        assert!(is_ours(&service("Cluster", None)));
        assert!(is_ours(&service("Cluster", Some(CLASS))));
        assert!(!is_ours(&service("Cluster", Some("example.com/other"))));
        let name = container_name("kind", "default", "web");
        assert!(
            name.starts_with("kind-lb-web-") && name.len() == 20,
            "{name}"
        );
        assert_ne!(name, container_name("kind", "other", "web"));
        let long = container_name("kind", "default", &"x".repeat(100));
        assert_eq!(long.len(), 63);
    }
}
