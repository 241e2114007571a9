//! kindling-lb: a small L4 load balancer and what a LoadBalancer Service needs of it.
//!
//! [`proxy`] forwards TCP from listeners to health-checked backends (reusable: the service
//! load balancers use it, and a cluster's external load balancer can); [`run_from_file`] runs
//! it from a JSON [`Config`] file that the controller rewrites (`docker cp`), following changes
//! within a fraction of a second; [`service`] decides, without IO, a Service's configuration.

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
    pub backends: Vec<SocketAddr>,
}

/// How often the configuration file is read again.
const RELOAD_EVERY: Duration = Duration::from_millis(200);

/// Runs a balancer on every address from the configuration at `path`, following the file as
/// it changes (a missing or unreadable file keeps the last good configuration). Never returns.
pub async fn run_from_file(path: &Path) -> ! {
    let mut balancer = proxy::Balancer::new(std::net::IpAddr::from([0, 0, 0, 0]));
    let mut current: Option<Config> = None;
    loop {
        let read = std::fs::read(path)
            .ok()
            .and_then(|raw| serde_json::from_slice::<Config>(&raw).ok());
        if let Some(config) = read.filter(|c| current.as_ref() != Some(c)) {
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
