//! A cluster after `create`: `stop cluster`, `start cluster`, `get clusters -o wide`,
//! `create node`, `delete node`, `edit cluster` (host ports through a port proxy) and
//! `upgrade cluster` (node containers replaced one at a time). What they decide is in [`plan`] (no IO); the other
//! modules carry it out through the [`Provider`] and the cluster's API.
//!
//! What makes a stopped or rebooted cluster come back is not here: node containers restart
//! `unless-stopped` (kindling-provider) and everything a node needs is inside it, so `kindling
//! node` redoes its start-up on every start (kindling-node `restart.rs` says what it redoes).

pub mod plan;
pub mod ports;

mod control_plane;
mod drain;
mod edit;
mod nodes;
mod startstop;
mod upgrade;

pub use edit::edit_cluster_ports;
pub use nodes::{create_node, delete_node, CreateNodeOptions};
pub use startstop::{get_clusters_wide, start_cluster, stop_cluster};
pub use upgrade::upgrade_cluster;

use anyhow::{Context, Result};
use kindling_provider::{Provider, Stdin};

/// An admin client of a running cluster, from the admin kubeconfig its first control plane
/// keeps (the published API server address, as `kindling get kubeconfig` prints it).
pub(crate) async fn admin_client(provider: &dyn Provider, cluster: &str) -> Result<kube::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let text = crate::manage::kubeconfig_text(provider, cluster, false).await?;
    let kubeconfig: kube::config::Kubeconfig =
        serde_norway::from_str(&text).context("parsing the cluster's admin kubeconfig")?;
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    // A PodDisruptionBudget's 429 is an answer the drain acts on (and reports), not a
    // transient failure for the client to retry out of sight.
    config.default_retry = false;
    Ok(kube::Client::try_from(config)?)
}

/// A file of a node container, as text.
pub(crate) async fn read_node_file(
    provider: &dyn Provider,
    node: &str,
    path: &str,
) -> Result<String> {
    let argv = ["cat", path];
    let out = provider
        .exec(node, &argv, Stdin::None)
        .await?
        .check(node, &argv)?;
    String::from_utf8(out.stdout).with_context(|| format!("{node}:{path} is not UTF-8"))
}
