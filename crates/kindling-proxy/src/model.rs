//! What the proxy routes, without IO: every port of every Service that has a cluster IP, with
//! the endpoints its EndpointSlices give it (upstream's ServicePort/Endpoint caches).
//!
//! Skipped, as kube-proxy does: ExternalName and headless Services (DNS answers for them), and
//! slices that are not IPv4 (the cluster is IPv4).

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    fn parse(s: Option<&str>) -> Option<Protocol> {
        match s.unwrap_or("TCP") {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    /// As iptables spells it (`-p tcp`, `-m tcp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One backend of a Service port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
    /// The node it runs on, when known.
    pub node: Option<String>,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
}

impl Endpoint {
    /// `ip:port`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// One port of a Service with a cluster IP, and its endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    pub namespace: String,
    pub service: String,
    /// The port's name (`""` for an unnamed single port).
    pub port_name: String,
    pub protocol: Protocol,
    pub cluster_ip: Ipv4Addr,
    pub port: u16,
    /// Set for NodePort and LoadBalancer Services.
    pub node_port: Option<u16>,
    /// `spec.externalIPs` and the load balancer's ingress IPs.
    pub external_ips: Vec<Ipv4Addr>,
    /// sessionAffinity ClientIP, with its timeout.
    pub affinity_seconds: Option<u32>,
    /// externalTrafficPolicy Local: traffic from outside goes to this node's endpoints only.
    pub external_local: bool,
    /// internalTrafficPolicy Local: cluster IP traffic goes to this node's endpoints only.
    pub internal_local: bool,
    /// Sorted, one per `ip:port`.
    pub endpoints: Vec<Endpoint>,
}

impl ServicePort {
    /// `namespace/service:port` (`namespace/service` for an unnamed port), as upstream's
    /// ServicePortName prints it: the key of its chains and comments.
    pub fn name(&self) -> String {
        if self.port_name.is_empty() {
            format!("{}/{}", self.namespace, self.service)
        } else {
            format!("{}/{}:{}", self.namespace, self.service, self.port_name)
        }
    }

    /// Whether traffic can come from outside the cluster (a node port or external IPs).
    pub fn is_external(&self) -> bool {
        self.node_port.is_some() || !self.external_ips.is_empty()
    }

    /// The endpoints for traffic that may go anywhere: the ready ones; when none is ready, the
    /// ones still serving while terminating (upstream's ProxyTerminatingEndpoints).
    pub fn cluster_endpoints(&self) -> Vec<&Endpoint> {
        usable(self.endpoints.iter())
    }

    /// The same choice among the endpoints on `node`.
    pub fn local_endpoints(&self, node: &str) -> Vec<&Endpoint> {
        usable(
            self.endpoints
                .iter()
                .filter(|e| e.node.as_deref() == Some(node)),
        )
    }
}

fn usable<'a>(endpoints: impl Iterator<Item = &'a Endpoint> + Clone) -> Vec<&'a Endpoint> {
    let ready: Vec<&Endpoint> = endpoints.clone().filter(|e| e.ready).collect();
    if !ready.is_empty() {
        return ready;
    }
    endpoints.filter(|e| e.serving && e.terminating).collect()
}

/// Every proxied Service port, sorted by name and protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    pub ports: Vec<ServicePort>,
}

/// The ports of `services` with the endpoints of `slices`.
pub fn build(services: &[Arc<Service>], slices: &[Arc<EndpointSlice>]) -> State {
    // (namespace, service) → its IPv4 slices, by name for a stable order.
    let mut by_service: BTreeMap<(String, String), Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in slices {
        if slice.address_type != "IPv4" {
            continue;
        }
        let labels = slice.metadata.labels.as_ref();
        let (Some(ns), Some(service)) = (
            slice.metadata.namespace.clone(),
            labels.and_then(|l| l.get(LABEL_SERVICE_NAME)).cloned(),
        ) else {
            continue;
        };
        by_service.entry((ns, service)).or_default().push(slice);
    }
    for list in by_service.values_mut() {
        list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    }
    let mut ports = Vec::new();
    for svc in services {
        let (Some(ns), Some(name)) = (svc.metadata.namespace.clone(), svc.metadata.name.clone())
        else {
            continue;
        };
        let Some(spec) = svc.spec.as_ref() else {
            continue;
        };
        if spec.type_.as_deref() == Some("ExternalName") {
            continue;
        }
        let Some(cluster_ip) = spec
            .cluster_ip
            .as_deref()
            .and_then(|ip| ip.parse::<Ipv4Addr>().ok())
        else {
            continue; // headless ("None") or not IPv4
        };
        let mut external_ips: Vec<Ipv4Addr> = spec
            .external_ips
            .iter()
            .flatten()
            .filter_map(|ip| ip.parse().ok())
            .collect();
        let ingress = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref());
        external_ips.extend(
            ingress
                .into_iter()
                .flatten()
                .filter_map(|i| i.ip.as_deref()?.parse::<Ipv4Addr>().ok()),
        );
        external_ips.sort();
        external_ips.dedup();
        let affinity_seconds = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
            spec.session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .and_then(|t| u32::try_from(t).ok())
                .unwrap_or(10800)
        });
        let node_port_type = matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer"));
        let slices = by_service
            .get(&(ns.clone(), name.clone()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        for port in spec.ports.iter().flatten() {
            let Some(protocol) = Protocol::parse(port.protocol.as_deref()) else {
                continue;
            };
            let Ok(number) = u16::try_from(port.port) else {
                continue;
            };
            let port_name = port.name.clone().unwrap_or_default();
            ports.push(ServicePort {
                namespace: ns.clone(),
                service: name.clone(),
                endpoints: endpoints_of(slices, &port_name, protocol),
                port_name,
                protocol,
                cluster_ip,
                port: number,
                node_port: port
                    .node_port
                    .filter(|_| node_port_type)
                    .and_then(|p| u16::try_from(p).ok()),
                external_ips: external_ips.clone(),
                affinity_seconds,
                external_local: spec.external_traffic_policy.as_deref() == Some("Local"),
                internal_local: spec.internal_traffic_policy.as_deref() == Some("Local"),
            });
        }
    }
    ports.sort_by_key(|p| (p.name(), p.protocol));
    State { ports }
}

/// The endpoints the slices give a port of this name and protocol, one per `ip:port` (the
/// first slice that has it wins).
fn endpoints_of(slices: &[&EndpointSlice], port_name: &str, protocol: Protocol) -> Vec<Endpoint> {
    let mut found: BTreeMap<(Ipv4Addr, u16), Endpoint> = BTreeMap::new();
    for slice in slices {
        let port = slice.ports.iter().flatten().find(|p| {
            p.name.as_deref().unwrap_or_default() == port_name
                && Protocol::parse(p.protocol.as_deref()) == Some(protocol)
        });
        let Some(number) = port
            .and_then(|p| p.port)
            .and_then(|p| u16::try_from(p).ok())
        else {
            continue;
        };
        for e in &slice.endpoints {
            let Some(ip) = e.addresses.first().and_then(|a| a.parse::<Ipv4Addr>().ok()) else {
                continue;
            };
            let c = e.conditions.as_ref();
            // Unset conditions: ready unless said otherwise, serving as ready.
            let ready = c.and_then(|c| c.ready).unwrap_or(true);
            let serving = c.and_then(|c| c.serving).unwrap_or(ready);
            let terminating = c.and_then(|c| c.terminating).unwrap_or(false);
            found.entry((ip, number)).or_insert(Endpoint {
                ip,
                port: number,
                node: e.node_name.clone(),
                ready,
                serving,
                terminating,
            });
        }
    }
    found.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn service(name: &str, spec: serde_json::Value) -> Arc<Service> {
        Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": name, "namespace": "default"}, "spec": spec}),
            )
            .unwrap(),
        )
    }

    pub(crate) fn slice(
        service: &str,
        name: &str,
        ports: serde_json::Value,
        endpoints: serde_json::Value,
    ) -> Arc<EndpointSlice> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "default",
                             "labels": {LABEL_SERVICE_NAME: service}},
                "addressType": "IPv4", "ports": ports, "endpoints": endpoints,
            }))
            .unwrap(),
        )
    }

    #[test]
    fn ports_get_the_endpoints_of_their_name_and_protocol() {
        let svc = service(
            "web",
            json!({"type": "NodePort", "clusterIP": "10.96.0.20", "sessionAffinity": "ClientIP",
                   "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                   "externalTrafficPolicy": "Local",
                   "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
                             {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053}]}),
        );
        let slices = [
            slice(
                "web",
                "web-a",
                json!([{"name": "http", "port": 8080, "protocol": "TCP"},
                       {"name": "dns", "port": 5353, "protocol": "UDP"}]),
                json!([{"addresses": ["10.244.1.2"], "nodeName": "w1",
                        "conditions": {"ready": true, "serving": true, "terminating": false}},
                       {"addresses": ["10.244.2.2"], "nodeName": "w2",
                        "conditions": {"ready": false, "serving": true, "terminating": true}}]),
            ),
            slice(
                "other",
                "other-a",
                json!([{"name": "http", "port": 1}]),
                json!([{"addresses": ["10.0.0.1"]}]),
            ),
        ];
        let state = build(&[svc], &slices);
        let names: Vec<String> = state.ports.iter().map(ServicePort::name).collect();
        assert_eq!(names, ["default/web:dns", "default/web:http"]);
        let http = &state.ports[1];
        assert_eq!(http.protocol, Protocol::Tcp);
        assert_eq!(http.node_port, Some(30080));
        assert_eq!(http.affinity_seconds, Some(60));
        assert!(http.external_local && !http.internal_local);
        let addresses: Vec<String> = http.endpoints.iter().map(Endpoint::address).collect();
        assert_eq!(addresses, ["10.244.1.2:8080", "10.244.2.2:8080"]);
        assert_eq!(state.ports[0].endpoints[0].port, 5353);
        // Only the ready one takes traffic; on w2 only the terminating one is left.
        assert_eq!(http.cluster_endpoints().len(), 1);
        assert_eq!(http.local_endpoints("w2")[0].address(), "10.244.2.2:8080");
        assert!(http.local_endpoints("w3").is_empty());
    }

    #[test]
    fn headless_and_external_name_services_are_not_proxied() {
        let services = [
            service(
                "headless",
                json!({"clusterIP": "None", "ports": [{"port": 80}]}),
            ),
            service(
                "ext",
                json!({"type": "ExternalName", "externalName": "example.com"}),
            ),
            service(
                "plain",
                json!({"clusterIP": "10.96.0.5", "ports": [{"port": 80}]}),
            ),
        ];
        let state = build(&services, &[]);
        assert_eq!(state.ports.len(), 1);
        assert_eq!(state.ports[0].name(), "default/plain");
        assert_eq!(state.ports[0].node_port, None);
        assert!(state.ports[0].endpoints.is_empty());
    }
}
