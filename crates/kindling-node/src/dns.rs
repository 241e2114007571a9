//! Name resolution for pods until cluster DNS exists: the node's resolv.conf names Docker's
//! embedded DNS at 127.0.0.11, which is the pod's own loopback from inside a pod. As kind does,
//! pods are given the node's IP instead, and DNS packets to the node IP on port 53 are DNAT-ed to
//! the ports Docker's DNS really listens on (found in Docker's DOCKER_OUTPUT rules).

use crate::init::run_owned;
use std::net::IpAddr;
use std::process::Command;

const DOCKER_DNS: &str = "127.0.0.11";

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

/// Docker's DNS listening ports `(udp, tcp)` from `iptables-save -t nat` output.
pub fn docker_dns_ports(nat_rules: &str) -> (Option<u16>, Option<u16>) {
    let mut udp = None;
    let mut tcp = None;
    for line in nat_rules
        .lines()
        .filter(|l| l.starts_with("-A DOCKER_OUTPUT") && l.contains(DOCKER_DNS))
    {
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "--to-destination")
            .nth(1)
            .and_then(|d| d.rsplit_once(':'))
            .and_then(|(_, p)| p.parse().ok());
        if line.contains("-p udp") {
            udp = udp.or(port);
        } else if line.contains("-p tcp") {
            tcp = tcp.or(port);
        }
    }
    (udp, tcp)
}

/// Forwards DNS to the node IP (from pods) to Docker's resolver. Idempotent.
pub fn forward_node_dns(node_ip: IpAddr) -> Result<(), String> {
    let out =
        run_owned(Command::new("iptables-save").args(["-t", "nat"])).map_err(|e| e.to_string())?;
    let (udp, tcp) = docker_dns_ports(&String::from_utf8_lossy(&out.stdout));
    let ip = node_ip.to_string();
    for (proto, port) in [("udp", udp), ("tcp", tcp)] {
        let Some(port) = port else { continue };
        let target = format!("{DOCKER_DNS}:{port}");
        let rule = |flag: &'static str| {
            vec![
                "-t",
                "nat",
                flag,
                "PREROUTING",
                "-d",
                ip.as_str(),
                "-p",
                proto,
                "--dport",
                "53",
                "-j",
                "DNAT",
                "--to-destination",
                target.as_str(),
            ]
        };
        let exists =
            run_owned(Command::new("iptables").args(rule("-C"))).is_ok_and(|o| o.status.success());
        if !exists {
            let out =
                run_owned(Command::new("iptables").args(rule("-A"))).map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_docker_dns_ports_and_rewrites_resolv_conf() {
        let rules = "*nat\n:DOCKER_OUTPUT - [0:0]\n-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT\n-A DOCKER_OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:37617\n-A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:51023\nCOMMIT\n";
        assert_eq!(docker_dns_ports(rules), (Some(51023), Some(37617)));
        let conf = "search example.com\nnameserver 127.0.0.11\noptions ndots:0";
        assert_eq!(
            pod_resolv_conf(conf, "172.18.0.2".parse().unwrap()),
            "search example.com\nnameserver 172.18.0.2\noptions ndots:0"
        );
    }
}
