//! Cluster DNS on this node: kindling-dns answers on the node's IP and on the kube-dns
//! Service's ClusterIP, port 53, UDP and TCP, and forwards other names to the node's resolver
//! (Docker's embedded DNS at 127.0.0.11, from the node's /etc/resolv.conf).
//!
//! The ClusterIP is reachable without a service proxy: it is an address of a dummy interface
//! of the node (`kindling-dns`; `lo` where the kernel has no dummy interfaces), as NodeLocal
//! DNSCache binds its addresses, so pods' packets to it are delivered locally. The raw table's
//! `KINDLING-DNS` chain (jumped to first from PREROUTING and OUTPUT) marks DNS to and from that
//! address NOTRACK: connection tracking, hence the nat table, never sees it, so a service proxy's
//! KUBE-SERVICES DNAT for kube-dns (to the endpoints of its selector, the nodes' `coredns-…`
//! pods) cannot take these packets elsewhere, and needs no exception. Each node answers its own
//! pods.
//!
//! `dnsPolicy: Default` pods get the node's resolv.conf with Docker's loopback resolver (which
//! is the pod's own loopback inside a pod) replaced by the node's IP, where the same server
//! forwards what is not the cluster's, as kind points pods at the node.

use crate::config::NodeConfig;
use crate::init::run_owned;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;

const DOCKER_DNS: &str = "127.0.0.11";
/// The dummy interface that carries the kube-dns ClusterIP.
pub const INTERFACE: &str = "kindling-dns";
/// Our raw-table chain.
pub const CHAIN: &str = "KINDLING-DNS";
/// CoreDNS's metrics port (the kube-dns Service's `metrics`).
pub const METRICS_PORT: u16 = 9153;

/// The resolv.conf pods get: the node's, with Docker's loopback resolver replaced by `node_ip`.
pub fn pod_resolv_conf(node_resolv_conf: &str, node_ip: IpAddr) -> String {
    node_resolv_conf
        .lines()
        .map(|l| {
            if l.split_whitespace().collect::<Vec<_>>() == ["nameserver", DOCKER_DNS] {
                format!("nameserver {node_ip}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The node's resolv.conf with kind's `networking.dnsSearch` applied, as kind's entrypoint
/// applies KIND_DNS_SEARCH: the search line replaced (added if missing), or removed when the
/// list is empty. `None` leaves the host's (Docker's) search domains.
pub fn with_search(resolv_conf: &str, search: Option<&[String]>) -> String {
    let Some(search) = search else {
        return resolv_conf.to_string();
    };
    let mut lines: Vec<String> = resolv_conf
        .lines()
        .filter(|l| l.split_whitespace().next() != Some("search"))
        .map(str::to_string)
        .collect();
    if !search.is_empty() {
        lines.insert(0, format!("search {}", search.join(" ")));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The kube-dns ClusterIP: node.json's, else the 10th address of the service subnet (as
/// kubeadm picks it).
pub fn service_ip(config: &NodeConfig) -> Option<IpAddr> {
    if let Some(ip) = config
        .dns_service_ip
        .as_deref()
        .and_then(|s| s.parse().ok())
    {
        return Some(ip);
    }
    let (base, prefix) = config.service_subnet.split_once('/')?;
    let base: Ipv4Addr = base.parse().ok()?;
    let prefix: u32 = prefix.parse().ok()?;
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix.min(32))
    };
    Some(IpAddr::V4(Ipv4Addr::from((u32::from(base) & mask) + 10)))
}

/// The raw-table rules of [`CHAIN`] for `ip`: DNS to and from it is not tracked.
pub fn notrack_rules(ip: IpAddr) -> Vec<Vec<String>> {
    let ip = format!("{ip}/32");
    let mut rules = Vec::new();
    for proto in ["udp", "tcp"] {
        for (addr, port) in [("-d", "--dport"), ("-s", "--sport")] {
            rules.push(
                [
                    addr, &ip, "-p", proto, "-m", proto, port, "53", "-j", "NOTRACK",
                ]
                .map(str::to_string)
                .to_vec(),
            );
        }
    }
    rules
}

fn check(cmd: &mut Command) -> Result<(), String> {
    let out = run_owned(cmd).map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    check(Command::new("ip").args(args))
}

fn iptables(args: &[&str]) -> Result<(), String> {
    check(Command::new("iptables").args(["-w", "5"]).args(args))
}

/// Puts the ClusterIP on this node (a dummy interface, else `lo`) and exempts its DNS from
/// connection tracking. Idempotent.
pub fn bind_service_ip(service_ip: IpAddr) -> Result<(), String> {
    let cidr = format!("{service_ip}/32");
    let on_dummy = (|| {
        let exists = ip(&["link", "show", INTERFACE]).is_ok();
        if !exists {
            ip(&["link", "add", INTERFACE, "type", "dummy"])?;
        }
        ip(&["link", "set", INTERFACE, "up"])?;
        ip(&["addr", "replace", &cidr, "dev", INTERFACE])
    })();
    if let Err(e) = on_dummy {
        tracing::info!("dns: no dummy interface ({e}); the kube-dns address goes on lo");
        ip(&["addr", "replace", &cidr, "dev", "lo"])?;
    }
    if iptables(&["-t", "raw", "-N", CHAIN]).is_err() {
        iptables(&["-t", "raw", "-F", CHAIN])?;
    }
    for rule in notrack_rules(service_ip) {
        let mut args = vec!["-t", "raw", "-A", CHAIN];
        args.extend(rule.iter().map(String::as_str));
        iptables(&args)?;
    }
    for hook in ["PREROUTING", "OUTPUT"] {
        if iptables(&["-t", "raw", "-C", hook, "-j", CHAIN]).is_err() {
            iptables(&["-t", "raw", "-I", hook, "1", "-j", CHAIN])?;
        }
    }
    Ok(())
}

/// What the DNS server of this node is told.
pub fn server_config(
    config: &NodeConfig,
    node_ip: IpAddr,
    service_ip: Option<IpAddr>,
    node_resolv_conf: &str,
) -> kindling_dns::Config {
    let mut listen = vec![node_ip];
    listen.extend(service_ip);
    kindling_dns::Config {
        domain: config.dns_domain.clone(),
        dns_ip: service_ip,
        listen,
        port: 53,
        metrics: Some(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            METRICS_PORT,
        )),
        upstreams: kindling_dns::forward::upstreams_from_resolv_conf(node_resolv_conf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(service_subnet: &str) -> NodeConfig {
        serde_json::from_value(serde_json::json!({
            "cluster": "kind", "name": "kind-worker", "role": "worker",
            "apiServerUrl": "https://kind-control-plane:6443", "podSubnet": "10.244.0.0/16",
            "serviceSubnet": service_subnet, "defaultCni": true,
        }))
        .unwrap()
    }

    #[test]
    fn rewrites_docker_resolver_to_the_node() {
        let conf = "search example.com\nnameserver 127.0.0.11\noptions ndots:0";
        assert_eq!(
            pod_resolv_conf(conf, "172.18.0.2".parse().unwrap()),
            "search example.com\nnameserver 172.18.0.2\noptions ndots:0"
        );
    }

    #[test]
    fn dns_search_replaces_adds_or_removes_the_search_line() {
        let conf = "search corp.example\nnameserver 127.0.0.11\noptions ndots:0\n";
        let ours = ["a.example".to_string(), "b.example".to_string()];
        assert_eq!(with_search(conf, None), conf);
        assert_eq!(
            with_search(conf, Some(&ours)),
            "search a.example b.example\nnameserver 127.0.0.11\noptions ndots:0\n"
        );
        assert_eq!(
            with_search(conf, Some(&[])),
            "nameserver 127.0.0.11\noptions ndots:0\n"
        );
        assert_eq!(
            with_search("nameserver 127.0.0.11\n", Some(&ours)),
            "search a.example b.example\nnameserver 127.0.0.11\n"
        );
    }

    #[test]
    fn the_service_ip_is_the_tenth_address_unless_given() {
        assert_eq!(
            service_ip(&node("10.96.0.0/16")),
            Some("10.96.0.10".parse().unwrap())
        );
        assert_eq!(
            service_ip(&node("10.100.5.0/24")),
            Some("10.100.5.10".parse().unwrap())
        );
        let mut n = node("10.96.0.0/16");
        n.dns_service_ip = Some("10.96.0.53".into());
        assert_eq!(service_ip(&n), Some("10.96.0.53".parse().unwrap()));
        assert_eq!(service_ip(&node("fd00::/108")), None);
    }

    #[test]
    fn dns_to_and_from_the_service_ip_is_untracked() {
        let rules: Vec<String> = notrack_rules("10.96.0.10".parse().unwrap())
            .iter()
            .map(|r| r.join(" "))
            .collect();
        assert_eq!(
            rules,
            [
                "-d 10.96.0.10/32 -p udp -m udp --dport 53 -j NOTRACK",
                "-s 10.96.0.10/32 -p udp -m udp --sport 53 -j NOTRACK",
                "-d 10.96.0.10/32 -p tcp -m tcp --dport 53 -j NOTRACK",
                "-s 10.96.0.10/32 -p tcp -m tcp --sport 53 -j NOTRACK",
            ]
        );
    }

    #[test]
    fn the_server_listens_on_the_node_and_the_service_ip_and_forwards_to_docker() {
        let c = server_config(
            &node("10.96.0.0/16"),
            "172.18.0.2".parse().unwrap(),
            Some("10.96.0.10".parse().unwrap()),
            "nameserver 127.0.0.11\noptions ndots:0\n",
        );
        assert_eq!(c.domain, "cluster.local");
        assert_eq!(
            c.listen,
            [
                "172.18.0.2".parse::<IpAddr>().unwrap(),
                "10.96.0.10".parse().unwrap()
            ]
        );
        assert_eq!(c.upstreams, ["127.0.0.11:53".parse().unwrap()]);
    }
}
