//! Fixed forwards by name: what a cluster's port proxy (`kindling edit cluster --port-add`)
//! runs. Each [`Forward`] is a listening port and one target `host:port`, where the host is a
//! node container's name. Names are resolved again every few seconds (the cluster network's
//! DNS answers them), so the forwards follow nodes whose IPs change after a reboot or an
//! upgrade; the listening and copying is [`crate::proxy`]'s.
//!
//! The forwards travel as command-line arguments (`PORT[/udp]=HOST:PORT`): the proxy container
//! is made again for every change anyway (Docker fixes published ports at creation), so its
//! command is the record of what it forwards and no configuration file is needed.

use crate::{Config, Frontend, Protocol};
use std::net::SocketAddr;
use std::time::Duration;

/// One listening port forwarded to one named target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    pub port: u16,
    pub protocol: Protocol,
    /// A name the network's DNS resolves (a node container's name) or an address.
    pub target_host: String,
    pub target_port: u16,
}

impl Forward {
    /// `PORT[/udp]=HOST:PORT`, as [`Forward::parse`] reads it.
    pub fn to_arg(&self) -> String {
        let proto = match self.protocol {
            Protocol::Tcp => "",
            Protocol::Udp => "/udp",
        };
        format!(
            "{}{proto}={}:{}",
            self.port, self.target_host, self.target_port
        )
    }

    /// Reads `PORT[/tcp|/udp]=HOST:PORT`.
    pub fn parse(arg: &str) -> Result<Forward, String> {
        let bad = || format!("invalid forward {arg:?}: want PORT[/udp]=HOST:PORT");
        let (listen, target) = arg.split_once('=').ok_or_else(bad)?;
        let (port, protocol) = match listen.split_once('/') {
            None => (listen, Protocol::Tcp),
            Some((p, "tcp")) => (p, Protocol::Tcp),
            Some((p, "udp")) => (p, Protocol::Udp),
            Some(_) => return Err(bad()),
        };
        let (host, target_port) = target.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        let target_port: u16 = target_port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 || target_port == 0 {
            return Err(bad());
        }
        Ok(Forward {
            port,
            protocol,
            target_host: host.trim_start_matches('[').trim_end_matches(']').into(),
            target_port,
        })
    }
}

/// The balancer configuration for `forwards`, given what each target host resolved to (a
/// target that did not resolve has no backend yet: its listener stays open, connections to it
/// are refused until it does).
pub fn config(forwards: &[Forward], resolve: &dyn Fn(&str) -> Option<std::net::IpAddr>) -> Config {
    Config {
        frontends: forwards
            .iter()
            .map(|f| Frontend {
                port: f.port,
                protocol: f.protocol,
                backends: resolve(&f.target_host)
                    .map(|ip| SocketAddr::new(ip, f.target_port))
                    .into_iter()
                    .collect(),
                backend_hosts: Vec::new(),
            })
            .collect(),
        https_health_path: None,
    }
}

/// The address to forward to among a name's: IPv4 first. The network's DNS may answer a
/// node's IPv6 ULA first, and a node serves its NodePorts on IPv4 in a single-stack cluster.
pub fn pick_address(addrs: impl Iterator<Item = std::net::IpAddr>) -> Option<std::net::IpAddr> {
    let all: Vec<std::net::IpAddr> = addrs.collect();
    all.iter()
        .find(|ip| ip.is_ipv4())
        .or_else(|| all.first())
        .copied()
}

/// How often target names are resolved again.
const RESOLVE_EVERY: Duration = Duration::from_secs(2);

/// Runs the forwards, listening on every address, following the targets' addresses, until
/// SIGTERM (it is PID 1 of its container: without a handler, `docker stop` would wait out
/// its grace period and kill it).
pub async fn run(forwards: Vec<Forward>) -> ! {
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::spawn(async move {
            term.recv().await;
            std::process::exit(0);
        });
    }
    let mut balancer = crate::proxy::Balancer::new(std::net::IpAddr::from([0, 0, 0, 0]));
    let mut current: Option<Config> = None;
    loop {
        let mut resolved = std::collections::HashMap::new();
        for f in &forwards {
            if resolved.contains_key(&f.target_host) {
                continue;
            }
            let ip = match f.target_host.parse::<std::net::IpAddr>() {
                Ok(ip) => Some(ip),
                // Bounded: a name the network's DNS does not know (a stopped node) is asked
                // of the host's resolvers, which may not answer.
                Err(_) => tokio::time::timeout(
                    RESOLVE_EVERY,
                    tokio::net::lookup_host((f.target_host.as_str(), f.target_port)),
                )
                .await
                .ok()
                .and_then(Result::ok)
                .and_then(|addrs| pick_address(addrs.map(|a| a.ip()))),
            };
            resolved.insert(f.target_host.clone(), ip);
        }
        let wanted = config(&forwards, &|host| resolved.get(host).copied().flatten());
        if current.as_ref() != Some(&wanted) {
            let errors = balancer.apply(&wanted).await;
            for e in &errors {
                tracing::warn!("port-proxy: {e}");
            }
            tracing::info!("port-proxy: forwarding {:?}", wanted.frontends);
            if errors.is_empty() {
                current = Some(wanted);
            }
        }
        tokio::time::sleep(RESOLVE_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_read_and_written() {
        let cases = [
            (
                "8080=kind-control-plane:30080",
                Some((8080, Protocol::Tcp, "kind-control-plane", 30080)),
            ),
            (
                "53/udp=kind-worker:30053",
                Some((53, Protocol::Udp, "kind-worker", 30053)),
            ),
            (
                "80/tcp=10.0.0.2:80",
                Some((80, Protocol::Tcp, "10.0.0.2", 80)),
            ),
            ("80/sctp=a:80", None),
            ("80=a", None),
            ("x=a:1", None),
            ("0=a:1", None),
            ("80=:1", None),
            ("80", None),
        ];
        for (arg, want) in cases {
            let got = Forward::parse(arg).ok();
            let want = want.map(|(port, protocol, host, target_port)| Forward {
                port,
                protocol,
                target_host: host.to_string(),
                target_port,
            });
            assert_eq!(got, want, "{arg}");
            if let Some(f) = got {
                assert_eq!(Forward::parse(&f.to_arg()), Ok(f));
            }
        }
    }

    #[test]
    fn ipv4_is_picked_first() {
        let v6: std::net::IpAddr = "fc00:f853:ccd:e793::2".parse().unwrap();
        let v4: std::net::IpAddr = "172.18.0.2".parse().unwrap();
        assert_eq!(pick_address([v6, v4].into_iter()), Some(v4));
        assert_eq!(pick_address([v6].into_iter()), Some(v6));
        assert_eq!(pick_address(std::iter::empty()), None);
    }

    #[test]
    fn unresolved_targets_have_no_backend() {
        let forwards = [
            Forward::parse("8080=kind-control-plane:30080").unwrap(),
            Forward::parse("9090=gone:1").unwrap(),
        ];
        let ip = std::net::IpAddr::from([172, 18, 0, 2]);
        let c = config(&forwards, &|h| (h == "kind-control-plane").then_some(ip));
        assert_eq!(c.frontends[0].backends, vec![SocketAddr::new(ip, 30080)]);
        assert!(c.frontends[1].backends.is_empty());
        assert_eq!(c.frontends[1].port, 9090);
    }
}
