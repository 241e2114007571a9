//! kindling-lb: a small L4 load balancer and what a LoadBalancer Service needs of it.
//!
//! [`proxy`] forwards TCP from listeners to health-checked backends (and UDP datagrams, per
//! client, to backends in turn) (reusable: the service
//! load balancers use it, and a cluster's external load balancer can); [`run_from_file`] runs
//! it from a JSON [`Config`] file that the controller rewrites (`docker cp`), following changes
//! within a fraction of a second; [`service`] decides, without IO, a Service's configuration.

pub mod forward;
pub mod https_check;
pub mod proxy;
pub mod service;

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// What to forward: each frontend port to its backends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub frontends: Vec<Frontend>,
    /// Check backends with `GET <path>` over HTTPS (a 200 is healthy) instead of a TCP connect:
    /// API servers (`/readyz`) behind a cluster's external load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_health_path: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frontend {
    pub port: u16,
    /// Absent in configurations written before UDP: TCP.
    #[serde(default)]
    pub protocol: Protocol,
    pub backends: Vec<SocketAddr>,
    /// Backends by name (`host:port`), resolved again every [`RESOLVE_EVERY`]: containers on
    /// the cluster network, found by Docker's DNS at whatever address they have now (a control
    /// plane restarted with a new IP stays a backend; a stopped one drops out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend_hosts: Vec<String>,
}

impl Config {
    /// This configuration with `host` (`name:port`) among the named backends of the frontend on
    /// `port` (a control plane added to a cluster behind its external load balancer). Adding a
    /// host already there changes nothing; a port without a frontend gets none. No IO.
    pub fn with_backend_host(&self, port: u16, host: &str) -> Config {
        let mut config = self.clone();
        for f in config.frontends.iter_mut().filter(|f| f.port == port) {
            if !f.backend_hosts.iter().any(|h| h == host) {
                f.backend_hosts.push(host.to_string());
            }
        }
        config
    }

    /// This configuration without `host` in any frontend's named backends (a control plane
    /// deleted). No IO.
    pub fn without_backend_host(&self, host: &str) -> Config {
        let mut config = self.clone();
        for f in &mut config.frontends {
            f.backend_hosts.retain(|h| h != host);
        }
        config
    }
}

/// `config` with every `backend_hosts` entry replaced by the addresses it resolved to
/// (`resolved`; a name that did not resolve contributes nothing). No IO.
pub fn with_resolved_hosts(
    config: &Config,
    resolved: &std::collections::HashMap<String, Vec<SocketAddr>>,
) -> Config {
    let frontends = config
        .frontends
        .iter()
        .map(|f| {
            let mut backends = f.backends.clone();
            for host in &f.backend_hosts {
                for addr in resolved.get(host).into_iter().flatten() {
                    if !backends.contains(addr) {
                        backends.push(*addr);
                    }
                }
            }
            Frontend {
                port: f.port,
                protocol: f.protocol,
                backends,
                backend_hosts: Vec::new(),
            }
        })
        .collect();
    Config {
        frontends,
        https_health_path: config.https_health_path.clone(),
    }
}

/// Resolves every `backend_hosts` entry of `config` (IPv4 addresses, the cluster network's).
async fn resolve_hosts(config: &Config) -> std::collections::HashMap<String, Vec<SocketAddr>> {
    let mut resolved = std::collections::HashMap::new();
    for host in config.frontends.iter().flat_map(|f| &f.backend_hosts) {
        if resolved.contains_key(host) {
            continue;
        }
        let addrs: Vec<SocketAddr> = match tokio::net::lookup_host(host.as_str()).await {
            Ok(found) => found.filter(SocketAddr::is_ipv4).collect(),
            Err(e) => {
                tracing::debug!("lb: resolving {host}: {e}");
                Vec::new()
            }
        };
        resolved.insert(host.clone(), addrs);
    }
    resolved
}

/// A frontend's transport, as a Service port names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

/// How often the configuration file is read again.
const RELOAD_EVERY: Duration = Duration::from_millis(200);
/// How often backends named by host are looked up again.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(2);

/// Runs a balancer on every address from the configuration at `path`, following the file as
/// it changes (a missing or unreadable file keeps the last good configuration). Never returns.
pub async fn run_from_file(path: &Path) -> ! {
    let mut balancer = proxy::Balancer::new(std::net::IpAddr::from([0, 0, 0, 0]));
    let mut current: Option<Config> = None;
    let mut file: Option<Config> = None;
    let mut resolved = std::collections::HashMap::new();
    let mut resolved_at: Option<std::time::Instant> = None;
    loop {
        let read = std::fs::read(path)
            .ok()
            .and_then(|raw| serde_json::from_slice::<Config>(&raw).ok());
        if let Some(config) = read {
            let stale = resolved_at.is_none_or(|t| t.elapsed() >= RESOLVE_EVERY);
            if file.as_ref() != Some(&config) || stale {
                resolved = resolve_hosts(&config).await;
                resolved_at = Some(std::time::Instant::now());
                file = Some(config);
            }
        }
        let wanted = file.as_ref().map(|f| with_resolved_hosts(f, &resolved));
        if let Some(config) = wanted.filter(|c| current.as_ref() != Some(c)) {
            let errors = balancer.apply(&config).await;
            for e in &errors {
                tracing::warn!("lb: {e}");
            }
            tracing::info!("lb: forwarding {:?}", config.frontends);
            // A port that could not be bound is tried again at the next read.
            if errors.is_empty() {
                current = Some(config);
            }
        }
        tokio::time::sleep(RELOAD_EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn named_backends_become_what_they_resolve_to_now() {
        let a: SocketAddr = "172.18.0.2:6443".parse().unwrap();
        let b: SocketAddr = "172.18.0.9:6443".parse().unwrap();
        let config = Config {
            frontends: vec![Frontend {
                port: 6443,
                protocol: Protocol::Tcp,
                backends: Vec::new(),
                backend_hosts: vec![
                    "kind-control-plane:6443".into(),
                    "kind-control-plane2:6443".into(),
                ],
            }],
            https_health_path: Some("/readyz".into()),
        };
        let resolved = HashMap::from([
            ("kind-control-plane:6443".to_string(), vec![a]),
            ("kind-control-plane2:6443".to_string(), vec![b]),
        ]);
        let effective = with_resolved_hosts(&config, &resolved);
        assert_eq!(effective.frontends[0].backends, [a, b]);
        assert!(effective.frontends[0].backend_hosts.is_empty());
        assert_eq!(effective.https_health_path.as_deref(), Some("/readyz"));
        // A stopped container no longer resolves: it drops out until it is back.
        let resolved = HashMap::from([("kind-control-plane2:6443".to_string(), vec![b])]);
        assert_eq!(
            with_resolved_hosts(&config, &resolved).frontends[0].backends,
            [b]
        );
    }

    #[test]
    fn control_planes_join_and_leave_the_named_backends() {
        let config = Config {
            frontends: vec![Frontend {
                port: 6443,
                protocol: Protocol::Tcp,
                backends: Vec::new(),
                backend_hosts: vec!["kind-control-plane:6443".into()],
            }],
            https_health_path: Some("/readyz".into()),
        };
        let hosts = |c: &Config| c.frontends[0].backend_hosts.join(",");
        let added = config.with_backend_host(6443, "kind-control-plane4:6443");
        assert_eq!(
            hosts(&added),
            "kind-control-plane:6443,kind-control-plane4:6443"
        );
        // Twice is once; another port has no frontend to add to.
        assert_eq!(
            added.with_backend_host(6443, "kind-control-plane4:6443"),
            added
        );
        assert_eq!(config.with_backend_host(80, "x:80"), config);
        assert_eq!(
            added.without_backend_host("kind-control-plane4:6443"),
            config
        );
        assert_eq!(config.without_backend_host("absent:6443"), config);
    }
}
