//! The control plane of a control-plane node: the API server (with its store) and the
//! controllers that live beside it, all in this process.

use crate::config::{kindling_path, NodeConfig};
use crate::ipam;
use anyhow::{Context, Result};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

const DATA_DIR: &str = "/var/lib/kindling/apiserver";
pub const API_PORT: u16 = 6443;

/// Starts the API server on 0.0.0.0:6443, node IPAM, the controllers and the scheduler.
pub async fn start(config: &NodeConfig, ip: IpAddr) -> Result<kindling_apiserver::RunningServer> {
    let cp = config
        .control_plane
        .clone()
        .context("control-plane config missing in node.json")?;
    let mut server = kindling_apiserver::Config::local(DATA_DIR);
    server.bind = SocketAddr::from(([0, 0, 0, 0], API_PORT));
    server.advertise_address = Some(ip);
    server.pki_dir = Some(kindling_path("pki"));
    server.service_cidr = config.service_subnet.clone();
    if let Some(range) = &cp.node_port_range {
        let (lo, hi) = range
            .split_once('-')
            .context("service-node-port-range must be LOW-HIGH")?;
        server.node_port_range = lo.trim().parse()?..=hi.trim().parse()?;
    }
    server.extra_sans = cp.cert_sans.clone();
    server
        .extra_sans
        .extend([config.name.clone(), ip.to_string(), "localhost".into()]);
    let running = kindling_apiserver::start(server).await?;
    let client =
        crate::client_from_kubeconfig(Path::new(DATA_DIR).join("admin.kubeconfig").as_path())
            .await?;
    tokio::spawn(ipam::run(client.clone(), config.pod_subnet.clone()));
    tokio::spawn(kindling_controllers::run(
        client.clone(),
        kindling_controllers::Config {
            root_ca_pem: running.ca_pem.clone(),
        },
    ));
    tokio::spawn(kindling_scheduler::run(client));
    Ok(running)
}
