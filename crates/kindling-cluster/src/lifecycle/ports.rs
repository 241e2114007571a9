//! What `kindling edit cluster --port-add/--port-remove` decides, without IO: reading the port
//! specs, which node a spec means, and the full set of ports the cluster's port proxy publishes
//! afterwards (every edit makes the proxy again with the whole set, because Docker fixes a
//! container's published ports when it is created).
//!
//! Spec syntax (k3d's `--port` shape, with kind's node names): `[ADDR:]HOST:CONTAINER[/udp][@NODE]`
//! to add, `[ADDR:]HOST[/udp][@NODE]` to remove. NODE is a node's container name
//! (`kind-worker`) or the same without the cluster's prefix (`worker`); without it, the first
//! control plane.

use kindling_lb::forward::Forward;
use kindling_provider::{NodeInfo, PortMapping, Protocol, Role};

/// The port proxy's container name: `<cluster>-port-proxy`, beside kind's
/// `<cluster>-external-load-balancer`, so `docker ps` says which cluster it serves and what it is.
pub fn proxy_name(cluster: &str) -> String {
    format!("{cluster}-port-proxy")
}

/// The container label holding the published ports (specs in the add syntax, comma-separated,
/// node names in full): what the next edit starts from.
pub const PORTS_LABEL: &str = "io.kindling.port-proxy.ports";

/// A port spec as the user wrote it (`container_port` is 0 in a remove spec).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    /// Host address; empty: every address (`0.0.0.0`), as Docker publishes by default.
    pub listen_address: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
    pub node: Option<String>,
}

/// One port the proxy publishes: host `listen_address:host_port` to `node:container_port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxiedPort {
    pub host_port: u16,
    pub protocol: Protocol,
    pub listen_address: String,
    pub node: String,
    pub container_port: u16,
}

impl ProxiedPort {
    /// The add spec that makes this port again (the label's form).
    pub fn spec(&self) -> String {
        let addr = if self.listen_address.is_empty() {
            String::new()
        } else if self.listen_address.contains(':') {
            format!("[{}]:", self.listen_address)
        } else {
            format!("{}:", self.listen_address)
        };
        let proto = match self.protocol {
            Protocol::Tcp => "",
            _ => "/udp",
        };
        format!(
            "{addr}{}:{}{proto}@{}",
            self.host_port, self.container_port, self.node
        )
    }

    /// The proxy container publishes the host port on the same port number inside.
    pub fn mapping(&self) -> PortMapping {
        PortMapping {
            protocol: self.protocol,
            ..PortMapping::tcp(self.listen_address.clone(), self.host_port, self.host_port)
        }
    }

    pub fn forward(&self) -> Forward {
        Forward {
            port: self.host_port,
            protocol: match self.protocol {
                Protocol::Udp => kindling_lb::Protocol::Udp,
                _ => kindling_lb::Protocol::Tcp,
            },
            target_host: self.node.clone(),
            target_port: self.container_port,
        }
    }
}

fn port(text: &str, what: &str, spec: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!(
            "invalid port spec {spec:?}: {what} {text:?} is not a port number (1-65535)"
        )),
    }
}

/// Splits `[ADDR:]REST` where ADDR may be `[v6]`; returns (addr, the colon-separated ports).
fn split_address(body: &str) -> (String, Vec<&str>) {
    if let Some(rest) = body.strip_prefix('[') {
        if let Some((addr, ports)) = rest.split_once("]:") {
            return (addr.to_string(), ports.split(':').collect());
        }
    }
    let parts: Vec<&str> = body.split(':').collect();
    (String::new(), parts)
}

fn parse(spec: &str, add: bool) -> Result<PortSpec, String> {
    let syntax = if add {
        "[ADDR:]HOST:CONTAINER[/udp][@NODE]"
    } else {
        "[ADDR:]HOST[/udp][@NODE]"
    };
    let bad = || format!("invalid port spec {spec:?}: want {syntax}");
    let (body, node) = match spec.split_once('@') {
        Some((_, "")) => return Err(bad()),
        Some((b, n)) => (b, Some(n.to_string())),
        None => (spec, None),
    };
    let (body, protocol) = match body.rsplit_once('/') {
        None => (body, Protocol::Tcp),
        Some((b, p)) => match p.to_ascii_lowercase().as_str() {
            "tcp" => (b, Protocol::Tcp),
            "udp" => (b, Protocol::Udp),
            _ => {
                return Err(format!(
                    "invalid port spec {spec:?}: protocol {p:?} is not tcp or udp"
                ))
            }
        },
    };
    let (mut addr, mut parts) = split_address(body);
    let want = if add { 2 } else { 1 };
    if addr.is_empty() && parts.len() == want + 1 {
        addr = parts.remove(0).to_string();
        if addr.is_empty() {
            return Err(bad());
        }
    }
    if parts.len() != want {
        return Err(bad());
    }
    if !addr.is_empty() && addr.parse::<std::net::IpAddr>().is_err() {
        return Err(format!(
            "invalid port spec {spec:?}: {addr:?} is not an IP address"
        ));
    }
    Ok(PortSpec {
        listen_address: addr,
        host_port: port(parts[0], "host port", spec)?,
        container_port: if add {
            port(parts[1], "container port", spec)?
        } else {
            0
        },
        protocol,
        node,
    })
}

/// Reads an add spec `[ADDR:]HOST:CONTAINER[/udp][@NODE]`.
pub fn parse_add(spec: &str) -> Result<PortSpec, String> {
    parse(spec, true)
}

/// Reads a remove spec `[ADDR:]HOST[/udp][@NODE]`.
pub fn parse_remove(spec: &str) -> Result<PortSpec, String> {
    parse(spec, false)
}

/// The node container a spec's `@NODE` means (default: the first control plane).
pub fn resolve_node(
    cluster: &str,
    node: Option<&str>,
    nodes: &[NodeInfo],
) -> Result<String, String> {
    let candidates: Vec<&NodeInfo> = nodes
        .iter()
        .filter(|n| matches!(n.role, Some(Role::ControlPlane | Role::Worker)))
        .collect();
    match node {
        None => candidates
            .iter()
            .filter(|n| n.role == Some(Role::ControlPlane))
            .map(|n| n.name.clone())
            .min()
            .ok_or_else(|| format!("cluster \"{cluster}\" has no control-plane node")),
        Some(name) => {
            let full = format!("{cluster}-{name}");
            candidates
                .iter()
                .find(|n| n.name == name || n.name == full)
                .map(|n| n.name.clone())
                .ok_or_else(|| {
                    let known: Vec<&str> = candidates.iter().map(|n| n.name.as_str()).collect();
                    format!(
                        "unknown node \"{name}\" in cluster \"{cluster}\" (nodes: {})",
                        known.join(", ")
                    )
                })
        }
    }
}

/// The ports a proxy label records (entries that do not read are dropped: a label edited by
/// hand must not make the cluster uneditable).
pub fn from_label(label: &str) -> Vec<ProxiedPort> {
    label
        .split(',')
        .filter_map(|s| parse_add(s.trim()).ok())
        .filter_map(|s| {
            Some(ProxiedPort {
                host_port: s.host_port,
                protocol: s.protocol,
                listen_address: s.listen_address,
                node: s.node?,
                container_port: s.container_port,
            })
        })
        .collect()
}

pub fn to_label(ports: &[ProxiedPort]) -> String {
    ports
        .iter()
        .map(ProxiedPort::spec)
        .collect::<Vec<_>>()
        .join(",")
}

/// The proxy's ports after an edit: `current` without the removed ones, plus the added ones,
/// sorted. Refused (nothing changes) when a removed port is not published by the proxy, an
/// added host port is already published (by the proxy or by a node's extraPortMappings), the
/// same host port is added twice, or a node is unknown.
pub fn plan_edit(
    cluster: &str,
    current: &[ProxiedPort],
    add: &[PortSpec],
    remove: &[PortSpec],
    nodes: &[NodeInfo],
) -> Result<Vec<ProxiedPort>, String> {
    let mut ports: Vec<ProxiedPort> = current.to_vec();
    for r in remove {
        let node = match &r.node {
            Some(n) => Some(resolve_node(cluster, Some(n), nodes)?),
            None => None,
        };
        let before = ports.len();
        ports.retain(|p| {
            !(p.host_port == r.host_port
                && p.protocol == r.protocol
                && (r.listen_address.is_empty() || p.listen_address == r.listen_address)
                && node.as_ref().is_none_or(|n| &p.node == n))
        });
        if ports.len() == before {
            return Err(format!(
                "host port {}/{} is not published by `edit cluster --port-add` on cluster \"{cluster}\"",
                r.host_port, r.protocol
            ));
        }
    }
    for a in add {
        let node = resolve_node(cluster, a.node.as_deref(), nodes)?;
        if let Some(p) = ports
            .iter()
            .find(|p| p.host_port == a.host_port && p.protocol == a.protocol)
        {
            return Err(format!(
                "host port {}/{} is already published (to {}:{}); `--port-remove {}` first",
                a.host_port, a.protocol, p.node, p.container_port, a.host_port
            ));
        }
        if let Some(n) = nodes.iter().find(|n| {
            n.name != proxy_name(cluster)
                && n.ports
                    .iter()
                    .any(|p| p.host_port == a.host_port && p.protocol == a.protocol)
        }) {
            return Err(format!(
                "host port {}/{} is already in use by container {}",
                a.host_port, a.protocol, n.name
            ));
        }
        ports.push(ProxiedPort {
            host_port: a.host_port,
            protocol: a.protocol,
            listen_address: a.listen_address.clone(),
            node,
            container_port: a.container_port,
        });
    }
    ports.sort_by(|a, b| {
        (a.host_port, a.protocol.as_str(), &a.listen_address).cmp(&(
            b.host_port,
            b.protocol.as_str(),
            &b.listen_address,
        ))
    });
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kindling_provider::PublishedPort;

    fn spec(addr: &str, host: u16, container: u16, udp: bool, node: Option<&str>) -> PortSpec {
        PortSpec {
            listen_address: addr.into(),
            host_port: host,
            container_port: container,
            protocol: if udp { Protocol::Udp } else { Protocol::Tcp },
            node: node.map(str::to_string),
        }
    }

    #[test]
    fn add_specs() {
        let cases: [(&str, Result<PortSpec, &str>); 11] = [
            ("8080:30080", Ok(spec("", 8080, 30080, false, None))),
            (
                "8080:30080@worker",
                Ok(spec("", 8080, 30080, false, Some("worker"))),
            ),
            (
                "127.0.0.1:8080:30080/udp",
                Ok(spec("127.0.0.1", 8080, 30080, true, None)),
            ),
            (
                "[::1]:53:30053/udp@kind-worker2",
                Ok(spec("::1", 53, 30053, true, Some("kind-worker2"))),
            ),
            ("8080:30080/TCP", Ok(spec("", 8080, 30080, false, None))),
            ("8080", Err("want [ADDR:]HOST:CONTAINER[/udp][@NODE]")),
            ("8080:30080@", Err("want")),
            (
                "8080:30080/sctp",
                Err("protocol \"sctp\" is not tcp or udp"),
            ),
            ("70000:80", Err("host port \"70000\" is not a port number")),
            ("8080:0", Err("container port \"0\" is not a port number")),
            (
                "localhost:8080:80",
                Err("\"localhost\" is not an IP address"),
            ),
        ];
        for (text, want) in cases {
            match (parse_add(text), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{text}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn remove_specs() {
        assert_eq!(parse_remove("8080"), Ok(spec("", 8080, 0, false, None)));
        assert_eq!(
            parse_remove("127.0.0.1:53/udp@worker"),
            Ok(spec("127.0.0.1", 53, 0, true, Some("worker")))
        );
        assert!(parse_remove("8080:80").is_err());
    }

    fn node(name: &str, role: Role, host_ports: &[u16]) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            id: String::new(),
            role: Some(role),
            cluster: "kind".into(),
            ipv4: None,
            ipv6: None,
            api_server_host_port: None,
            ports: host_ports
                .iter()
                .map(|p| PublishedPort {
                    listen_address: "0.0.0.0".into(),
                    host_port: *p,
                    container_port: *p,
                    protocol: Protocol::Tcp,
                })
                .collect(),
            status: "running".into(),
            image: String::new(),
            labels: Default::default(),
        }
    }

    fn cluster() -> Vec<NodeInfo> {
        vec![
            node("kind-control-plane", Role::ControlPlane, &[6443]),
            node("kind-worker", Role::Worker, &[80]),
            node("kind-port-proxy", Role::ExternalLoadBalancer, &[8080]),
        ]
    }

    #[test]
    fn nodes_by_full_or_short_name_default_first_control_plane() {
        let nodes = cluster();
        assert_eq!(
            resolve_node("kind", None, &nodes).unwrap(),
            "kind-control-plane"
        );
        assert_eq!(
            resolve_node("kind", Some("worker"), &nodes).unwrap(),
            "kind-worker"
        );
        assert_eq!(
            resolve_node("kind", Some("kind-worker"), &nodes).unwrap(),
            "kind-worker"
        );
        let err = resolve_node("kind", Some("port-proxy"), &nodes).unwrap_err();
        assert_eq!(
            err,
            "unknown node \"port-proxy\" in cluster \"kind\" (nodes: kind-control-plane, kind-worker)"
        );
    }

    #[test]
    fn the_label_round_trips() {
        let ports = vec![
            ProxiedPort {
                host_port: 53,
                protocol: Protocol::Udp,
                listen_address: "::1".into(),
                node: "kind-worker".into(),
                container_port: 30053,
            },
            ProxiedPort {
                host_port: 8080,
                protocol: Protocol::Tcp,
                listen_address: String::new(),
                node: "kind-control-plane".into(),
                container_port: 30080,
            },
        ];
        let label = to_label(&ports);
        assert_eq!(
            label,
            "[::1]:53:30053/udp@kind-worker,8080:30080@kind-control-plane"
        );
        assert_eq!(from_label(&label), ports);
        assert_eq!(from_label(""), vec![]);
        assert_eq!(ports[0].mapping().describe(), "[::1]:53->53/udp");
        assert_eq!(ports[1].forward().to_arg(), "8080=kind-control-plane:30080");
    }

    #[test]
    fn which_ports_the_proxy_publishes_after_an_edit() {
        let nodes = cluster();
        let current = from_label("8080:30080@kind-control-plane");
        type Case = (
            &'static str,
            Vec<PortSpec>,
            Vec<PortSpec>,
            Result<&'static str, &'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "add one",
                vec![spec("", 9090, 30090, false, Some("worker"))],
                vec![],
                Ok("8080:30080@kind-control-plane,9090:30090@kind-worker"),
            ),
            (
                "same port, other protocol",
                vec![spec("", 8080, 30053, true, None)],
                vec![],
                Ok("8080:30080@kind-control-plane,8080:30053/udp@kind-control-plane"),
            ),
            (
                "remove",
                vec![],
                vec![spec("", 8080, 0, false, None)],
                Ok(""),
            ),
            (
                "remove and add again elsewhere",
                vec![spec("", 8080, 30081, false, Some("worker"))],
                vec![spec("", 8080, 0, false, None)],
                Ok("8080:30081@kind-worker"),
            ),
            (
                "taken by the proxy",
                vec![spec("", 8080, 1, false, None)],
                vec![],
                Err("host port 8080/tcp is already published (to kind-control-plane:30080)"),
            ),
            (
                "taken by a node",
                vec![spec("", 80, 1, false, None)],
                vec![],
                Err("host port 80/tcp is already in use by container kind-worker"),
            ),
            (
                "added twice",
                vec![
                    spec("", 9090, 1, false, None),
                    spec("", 9090, 2, false, None),
                ],
                vec![],
                Err("host port 9090/tcp is already published"),
            ),
            (
                "unknown node",
                vec![spec("", 9090, 1, false, Some("worker7"))],
                vec![],
                Err("unknown node \"worker7\""),
            ),
            (
                "remove what is not there",
                vec![],
                vec![spec("", 9090, 0, false, None)],
                Err("host port 9090/tcp is not published"),
            ),
            (
                "remove on another node",
                vec![],
                vec![spec("", 8080, 0, false, Some("worker"))],
                Err("host port 8080/tcp is not published"),
            ),
        ];
        for (what, add, remove, want) in cases {
            let got = plan_edit("kind", &current, &add, &remove, &nodes).map(|p| to_label(&p));
            match (got, want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{what}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{what}: {got}"),
                (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
            }
        }
    }
}
