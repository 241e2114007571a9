//! kind's validation (`pkg/internal/apis/config/validate.go`) with kind's messages, each error
//! located at the field; plus the checks kind leaves to `docker run` or the kubelet (which then
//! fail half-way through `create`), made up front.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use crate::cidr::Cidr;
use crate::error::{ConfigError, Warning};
use crate::labels::{check_label_key, check_label_value};
use crate::source::Source;
use crate::types::*;

/// kind's cluster name rule.
pub const CLUSTER_NAME_PATTERN: &str = "^[a-z0-9.-]+$";
/// Longer names are accepted with kind's warning.
pub const CLUSTER_NAME_MAX: usize = 50;

/// Checks a cluster name against kind's `^[a-z0-9.-]+$`, with kind's message.
pub fn validate_cluster_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a valid cluster name, cluster names must match `{CLUSTER_NAME_PATTERN}`"
        ))
    }
}

fn validate_port(port: i32) -> Result<(), String> {
    // -1: the container engine picks the port.
    if !(-1..=65535).contains(&port) {
        Err(format!("invalid port number: {port}"))
    } else {
        Ok(())
    }
}

/// kind's `validateSubnets`, returning the parsed networks.
pub(crate) fn validate_subnets(subnets: &str, family: &str) -> Result<Vec<(Cidr, bool)>, String> {
    let mut out = Vec::new();
    for s in subnets.split(',') {
        match Cidr::parse_with_host_bits(s) {
            Ok(c) => out.push(c),
            Err(e) => return Err(format!("failed to parse cidr value:{s:?} with error: {e}")),
        }
    }
    let dual = family == DUAL_STACK_FAMILY;
    let dual_msg =
        "expected one (IPv4 or IPv6) CIDR or two CIDRs from each family for dual-stack networking";
    if dual && out.len() > 2 {
        return Err(dual_msg.to_string());
    }
    if dual && out.len() == 2 {
        let v4 = out.iter().any(|(c, _)| c.is_ipv4());
        let v6 = out.iter().any(|(c, _)| !c.is_ipv4());
        if !(v4 && v6) {
            return Err(dual_msg.to_string());
        }
    }
    if !dual && out.len() > 1 {
        return Err("only one CIDR allowed for single-stack networking".to_string());
    }
    if !dual && family == IPV4_FAMILY && !out[0].0.is_ipv4() {
        return Err("expected IPv4 CIDR for IPv4 family".to_string());
    }
    if !dual && family == IPV6_FAMILY && out[0].0.is_ipv4() {
        return Err("expected IPv6 CIDR for IPv6 family".to_string());
    }
    Ok(out)
}

/// A host binding, for the duplicate check (kind's `validatePortMappings`, done across all
/// nodes: every node container binds on the same host).
struct Binding {
    field: String,
    addr: IpAddr,
    port: i32,
    protocol: String,
}

/// Validates a defaulted cluster (see [`crate::set_defaults`]) whose name is already resolved.
/// Locations come from `source` (the as-written config).
/// `name_in_file`: the name is the config's own `name` (so an error points at it).
pub(crate) fn validate(
    c: &Cluster,
    source: &Source,
    name_in_file: bool,
    warnings: &mut Vec<Warning>,
) -> Vec<ConfigError> {
    let mut errs = Vec::new();
    let name_field = if name_in_file && source.location("name").is_some() {
        "name"
    } else {
        ""
    };
    if let Err(m) = validate_cluster_name(&c.name) {
        errs.push(if name_field.is_empty() {
            ConfigError::new(&source.name, None, None, m)
        } else {
            source.error_at(name_field, m)
        });
    }
    let net = &c.networking;
    if net.api_server_port != 0 {
        if let Err(m) = validate_port(net.api_server_port) {
            errs.push(source.error_at(
                "networking.apiServerPort",
                format!("invalid apiServerPort: {m}"),
            ));
        }
    }
    if net.api_server_address.parse::<IpAddr>().is_err() {
        errs.push(source.error_at(
            "networking.apiServerAddress",
            format!(
                "invalid apiServerAddress: {:?} is not an IP address",
                net.api_server_address
            ),
        ));
    }
    let family = net.ip_family.as_str();
    if ![IPV4_FAMILY, IPV6_FAMILY, DUAL_STACK_FAMILY].contains(&family) {
        errs.push(source.error_at(
            "networking.ipFamily",
            format!("invalid ipFamily: {family} (expected ipv4, ipv6 or dual)"),
        ));
    }
    let pods = validate_subnets(&net.pod_subnet, family);
    if let Err(m) = &pods {
        errs.push(source.error_at("networking.podSubnet", format!("invalid pod subnet {m}")));
    }
    let services = validate_subnets(&net.service_subnet, family);
    if let Err(m) = &services {
        errs.push(source.error_at(
            "networking.serviceSubnet",
            format!("invalid service subnet {m}"),
        ));
    }
    if let (Ok(p), Ok(s)) = (&pods, &services) {
        overlap_warning(p, s, "networking", source, warnings);
    }
    if ![
        IPTABLES_PROXY_MODE,
        IPVS_PROXY_MODE,
        NFTABLES_PROXY_MODE,
        NONE_PROXY_MODE,
    ]
    .contains(&net.kube_proxy_mode.as_str())
    {
        errs.push(source.error_at(
            "networking.kubeProxyMode",
            format!(
                "invalid kubeProxyMode: {} (expected iptables, ipvs, nftables or none)",
                net.kube_proxy_mode
            ),
        ));
    }
    if let Some(search) = &net.dns_search {
        for (i, d) in search.iter().enumerate() {
            if d.is_empty() || d.contains(char::is_whitespace) {
                errs.push(source.error_at(
                    &format!("networking.dnsSearch[{i}]"),
                    format!("invalid dnsSearch domain {d:?}"),
                ));
            }
        }
    }

    let mut bindings: Vec<Binding> = Vec::new();
    if net.api_server_port > 0 {
        if let Ok(addr) = net.api_server_address.parse::<IpAddr>() {
            bindings.push(Binding {
                field: "networking.apiServerPort".to_string(),
                addr,
                port: net.api_server_port,
                protocol: "TCP".to_string(),
            });
        }
    }
    let mut control_planes = 0;
    for (i, n) in c.nodes.iter().enumerate() {
        let node_err = |field: &str, m: String| {
            let path = if field.is_empty() {
                format!("nodes[{i}]")
            } else {
                format!("nodes[{i}].{field}")
            };
            let e = source.error_at(&path, format!("invalid configuration for node {i}: {m}"));
            if e.location.is_none() && field == "role" {
                // a defaulted role has no place of its own; point at the node
                return source.error_at(&format!("nodes[{i}]"), e.message);
            }
            e
        };
        match n.role.as_str() {
            CONTROL_PLANE_ROLE => control_planes += 1,
            WORKER_ROLE => {}
            other => errs.push(node_err(
                "role",
                format!("{other:?} is not a valid node role (expected control-plane or worker)"),
            )),
        }
        if n.image.is_empty() {
            errs.push(node_err("image", "image is a required field".to_string()));
        }
        for (k, v) in &n.labels {
            let field = format!("labels.{k}");
            if let Err(m) = check_label_key(k).and_then(|()| check_label_value(k, v)) {
                errs.push(node_err(&field, m));
            }
        }
        for (j, m) in n.extra_mounts.iter().enumerate() {
            if m.container_path.is_empty() || !m.container_path.starts_with('/') {
                errs.push(node_err(
                    &format!("extraMounts[{j}].containerPath"),
                    format!(
                        "invalid extraMount: containerPath must be an absolute path, got {:?}",
                        m.container_path
                    ),
                ));
            }
            if m.host_path.is_empty() {
                errs.push(node_err(
                    &format!("extraMounts[{j}]"),
                    "invalid extraMount: hostPath is required".to_string(),
                ));
            }
        }
        for (j, pm) in n.extra_port_mappings.iter().enumerate() {
            let base = format!("extraPortMappings[{j}]");
            if let Err(m) = validate_port(pm.host_port) {
                errs.push(node_err(
                    &format!("{base}.hostPort"),
                    format!("invalid hostPort: {m}"),
                ));
            }
            if let Err(m) = validate_port(pm.container_port) {
                errs.push(node_err(
                    &format!("{base}.containerPort"),
                    format!("invalid containerPort: {m}"),
                ));
            } else if pm.container_port <= 0 {
                errs.push(node_err(
                    &format!("{base}.containerPort"),
                    format!(
                        "invalid containerPort: invalid port number: {} (a container port must be 1-65535)",
                        pm.container_port
                    ),
                ));
            }
            let addr = if pm.listen_address.is_empty() {
                Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
            } else {
                pm.listen_address.parse::<IpAddr>().ok()
            };
            let Some(addr) = addr else {
                errs.push(node_err(
                    &format!("{base}.listenAddress"),
                    format!(
                        "invalid portMapping: invalid listen address: {}",
                        pm.listen_address
                    ),
                ));
                continue;
            };
            if pm.host_port == 0 || pm.host_port == -1 {
                continue; // random ports never collide
            }
            let protocol = if pm.protocol.is_empty() {
                "TCP".to_string()
            } else {
                pm.protocol.clone()
            };
            // 0.0.0.0 and :: are the same wildcard to Go (and to docker's port binding check).
            let addr = if addr.is_unspecified() {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            } else {
                addr
            };
            let clash = bindings.iter().find(|b| {
                b.port == pm.host_port
                    && b.protocol == protocol
                    && (b.addr == addr || b.addr.is_unspecified() || addr.is_unspecified())
            });
            if let Some(other) = clash {
                let mut e = node_err(
                    &format!("{base}.hostPort"),
                    format!(
                        "invalid portMapping: port mapping with same listen address, port and protocol already configured: {addr}:{}/{protocol} (also {})",
                        pm.host_port, other.field
                    ),
                );
                if e.location.is_none() {
                    e.location = source.location(&format!("nodes[{i}].{base}"));
                }
                errs.push(e);
            } else {
                bindings.push(Binding {
                    field: format!("nodes[{i}].{base}"),
                    addr,
                    port: pm.host_port,
                    protocol,
                });
            }
        }
    }
    if control_planes < 1 {
        let m = format!("must have at least one {CONTROL_PLANE_ROLE} node");
        errs.push(if source.location("nodes").is_some() {
            source.error_at_key("nodes", m)
        } else {
            ConfigError::new(&source.name, None, Some("nodes".to_string()), m)
        });
    }
    errs
}

/// Pod and Service networks must not share addresses (kind does not check; the cluster's
/// routing breaks when they do): a warning, so that configs kind accepts still load.
pub(crate) fn overlap_warning(
    pods: &[(Cidr, bool)],
    services: &[(Cidr, bool)],
    field: &str,
    source: &Source,
    warnings: &mut Vec<Warning>,
) {
    let mut seen = BTreeSet::new();
    for (p, _) in pods {
        for (s, _) in services {
            if p.overlaps(s) && seen.insert((*p, *s)) {
                warnings.push(Warning {
                    field: field.to_string(),
                    message: format!(
                        "the pod subnet {p} overlaps the service subnet {s}: Pod and Service addresses will collide"
                    ),
                    location: source.location(field),
                });
            }
        }
    }
}
