//! `kindling stop cluster`, `kindling start cluster` and `kindling get clusters -o wide`.
//!
//! Stop is `docker stop` of every node container, workers first: the containers' processes end
//! (pods included), so CPU and memory go back to the host; their `/var` volumes and `/kindling`
//! stay. Because the containers restart `unless-stopped`, a stopped cluster also stays stopped
//! across a daemon restart or reboot, as the user asked. Start is `docker start` in the other
//! order, then a wait until every node has posted a Ready heartbeat since the start.

use super::plan;
use crate::status::Status;
use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Node;
use kindling_provider::{NodeInfo, Provider, Role};
use kube::api::Api;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a node's PID 1 gets to end its pods before the engine kills it.
const STOP_GRACE_SECS: u32 = 10;

async fn cluster_nodes(provider: &dyn Provider, cluster: &str) -> Result<Vec<NodeInfo>> {
    let nodes = provider.list_nodes(Some(cluster)).await?;
    anyhow::ensure!(!nodes.is_empty(), "unknown cluster \"{cluster}\"");
    Ok(nodes)
}

/// `kindling stop cluster`.
pub async fn stop_cluster(provider: &dyn Provider, cluster: &str, quiet: bool) -> Result<()> {
    let nodes = cluster_nodes(provider, cluster).await?;
    let mut status = Status::new(quiet);
    status.line(&format!("Stopping cluster \"{cluster}\" ..."));
    for group in plan::stop_order(&nodes) {
        let running: Vec<&String> = group
            .iter()
            .filter(|n| nodes.iter().any(|i| &i.name == *n && i.is_running()))
            .collect();
        if running.is_empty() {
            continue;
        }
        status.start(&format!(
            "Stopping {} 🛑",
            running
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let results = futures::future::join_all(
            running
                .iter()
                .map(|n| provider.stop_node(n, STOP_GRACE_SECS)),
        )
        .await;
        for r in results {
            r?;
        }
    }
    status.end(true);
    status.line(&format!(
        "Stopped cluster \"{cluster}\"; `kindling start cluster --name {cluster}` brings it back"
    ));
    Ok(())
}

/// `kindling start cluster`: returns how long the nodes took to be Ready.
pub async fn start_cluster(
    provider: &dyn Provider,
    cluster: &str,
    wait: Duration,
    quiet: bool,
) -> Result<Duration> {
    let nodes = cluster_nodes(provider, cluster).await?;
    let mut status = Status::new(quiet);
    status.line(&format!("Starting cluster \"{cluster}\" ..."));
    let started = Instant::now();
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    for group in plan::start_order(&nodes) {
        let stopped: Vec<&String> = group
            .iter()
            .filter(|n| nodes.iter().any(|i| &i.name == *n && !i.is_running()))
            .collect();
        if stopped.is_empty() {
            continue;
        }
        status.start(&format!(
            "Starting {} ▶️",
            stopped
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let results =
            futures::future::join_all(stopped.iter().map(|n| provider.start_node(n))).await;
        for r in results {
            r?;
        }
    }
    let names: Vec<String> = nodes
        .iter()
        .filter(|n| matches!(n.role, Some(Role::ControlPlane | Role::Worker)))
        .map(|n| n.name.clone())
        .collect();
    status.start("Waiting for nodes Ready ⏳");
    wait_ready(provider, cluster, &names, since, wait).await?;
    let took = started.elapsed();
    status.end(true);
    let count = match names.len() {
        1 => "1 node".to_string(),
        n => format!("{n} nodes"),
    };
    status.line(&format!(
        "Started cluster \"{cluster}\": {count} Ready in {took:.1?}"
    ));
    Ok(took)
}

/// Waits until every node in `names` is Ready by a heartbeat since `since`.
pub(crate) async fn wait_ready(
    provider: &dyn Provider,
    cluster: &str,
    names: &[String],
    since: i64,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last_error = String::new();
    let mut client = None;
    loop {
        if client.is_none() {
            match super::admin_client(provider, cluster).await {
                Ok(c) => client = Some(c),
                Err(e) => last_error = format!("{e:#}"),
            }
        }
        let answer = match &client {
            Some(c) => not_ready(c.clone(), names, since).await,
            None => Err(anyhow::anyhow!("{last_error}")),
        };
        match answer {
            Ok(waiting) if waiting.is_empty() => return Ok(()),
            Ok(waiting) => last_error = format!("not Ready yet: {}", waiting.join(", ")),
            Err(e) => last_error = format!("{e:#}"),
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "the nodes of cluster \"{cluster}\" were not Ready within {timeout:?} ({last_error})"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The nodes in `names` not yet Ready since `since` (an API server that does not answer yet
/// is an error, retried by the caller).
async fn not_ready(client: kube::Client, names: &[String], since: i64) -> Result<Vec<String>> {
    let api: Api<Node> = Api::all(client);
    let list = api
        .list(&Default::default())
        .await
        .context("listing nodes")?;
    Ok(names
        .iter()
        .filter(|name| {
            !list
                .items
                .iter()
                .any(|n| n.metadata.name.as_ref() == Some(*name) && plan::ready_since(n, since))
        })
        .cloned()
        .collect())
}

/// `kindling get clusters -o wide`: kind prints bare names (scripts read them line by line),
/// so the state is only in this form, with a header as kubectl's wide output has.
pub async fn get_clusters_wide(provider: &dyn Provider) -> Result<()> {
    let nodes = provider.list_nodes(None).await?;
    if nodes.is_empty() {
        eprintln!("No kind clusters found.");
        return Ok(());
    }
    let rows = plan::wide_rows(&nodes);
    let width = rows.iter().map(|r| r[0].len()).max().unwrap_or(0).max(4);
    println!("{:<width$}   {:<8}   NODES", "NAME", "STATUS");
    for [name, state, count] in rows {
        println!("{name:<width$}   {state:<8}   {count}");
    }
    Ok(())
}
