//! `kindling upgrade cluster --image IMG`: every node container replaced by one of IMG, one at
//! a time ([`plan::upgrade_order`]: workers, then the control plane). For each: cordon and
//! drain (PodDisruptionBudgets respected, as `delete node` does), replace the container
//! (kindling-provider's `replace_node`: same name, labels, mounts, ports, network alias, `/var`
//! volume and `/kindling` files), wait until the node posts Ready again, uncordon. Objects live
//! in the control plane's `/var`, PV data in each node's: both stay. kind's answer to an
//! upgrade is to create the cluster again.
//!
//! A failed step stops the upgrade there: nodes done stay on IMG, the node at hand is left as
//! the failure left it (cordoned if its drain did not finish), later nodes are untouched.

use super::{drain, plan, startstop};
use crate::status::Status;
use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Node;
use kindling_provider::Provider;
use kube::api::{Api, Patch, PatchParams};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a node's PID 1 gets to end its pods before the engine kills it (as `stop cluster`).
const STOP_GRACE_SECS: u32 = 10;

/// `kindling upgrade cluster`.
pub async fn upgrade_cluster(
    provider: &dyn Provider,
    cluster: &str,
    image: &str,
    wait: Duration,
    quiet: bool,
) -> Result<()> {
    let target = provider.image_id(image).await?.with_context(|| {
        format!("image \"{image}\" is not present locally: build it (`kindling build node-image`) or pull it first; nothing was changed")
    })?;
    let nodes = provider.list_nodes(Some(cluster)).await?;
    let mut current = BTreeMap::new();
    for n in &nodes {
        let inspected = provider.inspect(&n.name).await?;
        if let Some(id) = inspected["Image"].as_str() {
            current.insert(n.name.clone(), id.to_string());
        }
    }
    let order =
        plan::upgrade_order(cluster, &nodes, &current, &target).map_err(anyhow::Error::msg)?;
    let mut status = Status::new(quiet);
    if order.is_empty() {
        status.line(&format!(
            "Cluster \"{cluster}\" already runs image \"{image}\""
        ));
        return Ok(());
    }
    status.line(&format!(
        "Upgrading cluster \"{cluster}\" to image \"{image}\" ..."
    ));
    for name in &order {
        let client = super::admin_client(provider, cluster).await?;
        status.start(&format!("Draining node {name} 🚰"));
        let cordoned = drain::cordon(&client, name).await?;
        if cordoned {
            if let Err(e) = drain::drain(&client, name, wait, quiet).await {
                status.end(false);
                return Err(e);
            }
        }
        status.start(&format!("Replacing node {name} 🔁"));
        // Ready again means a heartbeat newer than the stopped node's last one (heartbeats
        // are in whole seconds: "since the replacement began" could still be the old one's).
        // Read before the stop too: a control plane's API server goes with it.
        let before = last_heartbeat(&client, name).await;
        provider.stop_node(name, STOP_GRACE_SECS).await?;
        let since = match before.max(last_heartbeat(&client, name).await) {
            Some(t) => t + 1,
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        };
        if let Err(e) = provider.replace_node(name, image).await {
            status.end(false);
            return Err(e).with_context(|| format!("replacing node {name}"));
        }
        status.start(&format!("Waiting for node {name} Ready ⏳"));
        if let Err(e) =
            startstop::wait_ready(provider, cluster, std::slice::from_ref(name), since, wait).await
        {
            status.end(false);
            return Err(e);
        }
        if cordoned {
            // A new client: the old one may have talked to the replaced API server.
            let client = super::admin_client(provider, cluster).await?;
            uncordon(&client, name).await?;
        }
        status.end(true);
    }
    status.line(&format!(
        "Upgraded cluster \"{cluster}\": {} now run \"{image}\"",
        order.join(", ")
    ));
    Ok(())
}

/// The second of the node's last Ready heartbeat, if the API server answers with one.
async fn last_heartbeat(client: &kube::Client, node: &str) -> Option<i64> {
    let node = Api::<Node>::all(client.clone()).get(node).await.ok()?;
    node.status?
        .conditions?
        .into_iter()
        .find(|c| c.type_ == "Ready")?
        .last_heartbeat_time
        .map(|t| t.0.as_second())
}

/// `kubectl uncordon`.
async fn uncordon(client: &kube::Client, node: &str) -> Result<()> {
    let patch = serde_json::json!({"spec": {"unschedulable": null}});
    Api::<Node>::all(client.clone())
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("uncordoning node {node}"))?;
    Ok(())
}
