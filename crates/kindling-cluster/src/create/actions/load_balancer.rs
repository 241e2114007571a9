//! `Configuring the external load balancer`: clusters with several control planes get kind's
//! `<cluster>-external-load-balancer` container in front of their API servers — the node image
//! running `kindling loadbalancer` (kindling-lb's L4 balancer, the one LoadBalancer Services
//! use), published on `apiServerAddress:apiServerPort`, forwarding to port 6443 of every control
//! plane (by container name, resolved again every 2 s) that answers `GET /readyz` with 200
//! (kindling-lb's HTTPS check; an API server cut from its etcd quorum says 500 there). The
//! kubeconfig points at it; workers reach the API
//! through it on the cluster network, control planes use their own API server (as kubeadm's
//! control-plane kubelets do). `delete cluster` removes it with the nodes (it carries the
//! cluster label).
//!
//! The functions below decide, from the resolved config alone, who talks to which API server;
//! [`LoadBalancer`] does the IO.

use crate::create::{Action, ActionContext};
use anyhow::{Context, Result};
use futures::future::BoxFuture;
use kindling_config::{ResolvedCluster, ResolvedNode, Role};
use kindling_provider as provider;
use kindling_provider::FileToCopy;

/// Where the balancer reads its configuration (followed as it changes).
const CONFIG_DIR: &str = "/kindling";
const CONFIG_FILE: &str = "lb.json";
const API_PORT: u16 = 6443;

/// The API server URL `node`'s agent uses on the cluster network.
pub fn agent_api_url(cluster: &ResolvedCluster, node: &ResolvedNode) -> String {
    let host = match cluster.load_balancer_name() {
        Some(_) if node.role == Role::ControlPlane => node.name.clone(),
        Some(lb) => lb,
        None => cluster.bootstrap_node().name.clone(),
    };
    format!("https://{host}:{API_PORT}")
}

/// The URL for clients that should survive the loss of one control plane (the admin's
/// in-cluster kubeconfig): the balancer when there is one.
pub fn cluster_api_url(cluster: &ResolvedCluster) -> String {
    let host = cluster
        .load_balancer_name()
        .unwrap_or_else(|| cluster.bootstrap_node().name.clone());
    format!("https://{host}:{API_PORT}")
}

/// Names the API servers' certificates must carry beyond their own: the balancer's.
pub fn extra_sans(cluster: &ResolvedCluster) -> Vec<String> {
    cluster.load_balancer_name().into_iter().collect()
}

/// The stacked etcd members (every control plane), when the cluster keeps its objects in etcd
/// (with several control planes each API server needs the others' writes; one control plane
/// may ask for it, see `ResolvedCluster::stacked_etcd`).
pub fn etcd_members(cluster: &ResolvedCluster) -> Option<Vec<String>> {
    cluster.stacked_etcd.then(|| {
        cluster
            .control_plane_nodes()
            .map(|n| n.name.clone())
            .collect()
    })
}

/// The balancer's backends: every control plane's API server by container name, so a control
/// plane that comes back with another address is found there (the balancer resolves them
/// every 2 s).
pub fn backend_hosts(cluster: &ResolvedCluster) -> Vec<String> {
    cluster
        .control_plane_nodes()
        .map(|n| format!("{}:{API_PORT}", n.name))
        .collect()
}

pub struct LoadBalancer;

impl Action for LoadBalancer {
    fn title(&self, _: &ActionContext) -> Option<String> {
        Some("Configuring the external load balancer ⚖️".into())
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let name = ctx
                .cluster
                .load_balancer_name()
                .context("no external load balancer in this cluster")?;
            let config = kindling_lb::Config {
                frontends: vec![kindling_lb::Frontend {
                    port: API_PORT,
                    protocol: kindling_lb::Protocol::Tcp,
                    backends: Vec::new(),
                    backend_hosts: backend_hosts(&ctx.cluster),
                }],
                https_health_path: Some("/readyz".into()),
            };
            let image = ctx.cluster.bootstrap_node().image.clone();
            let mut spec = provider::NodeSpec::new(
                &name,
                &ctx.cluster.name,
                provider::Role::ExternalLoadBalancer,
                image,
            );
            spec.entrypoint = Some(
                [
                    "/usr/local/bin/kindling",
                    "loadbalancer",
                    "--config",
                    &format!("{CONFIG_DIR}/{CONFIG_FILE}"),
                ]
                .map(str::to_string)
                .to_vec(),
            );
            spec.api_server = Some(provider::ApiServerPublish {
                listen_address: ctx.cluster.api_server.address.clone(),
                host_port: ctx.cluster.api_server.port.max(0) as u16,
            });
            let info = ctx.provider.create_node(&spec).await?;
            ctx.provider
                .copy_files(
                    &name,
                    CONFIG_DIR,
                    vec![FileToCopy::new(
                        CONFIG_FILE,
                        serde_json::to_vec(&config)?,
                        0o644,
                    )],
                )
                .await?;
            ctx.nodes.push(info);
            Ok(())
        })
    }
}
