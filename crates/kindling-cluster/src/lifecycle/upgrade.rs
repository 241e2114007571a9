//! `kindling upgrade cluster --image IMG`: every node container replaced by one of IMG, one at
//! a time ([`plan::upgrade_order`]). For each: cordon and drain (PodDisruptionBudgets
//! respected, as `delete node` does), replace the container (kindling-provider's
//! `replace_node`: same name, labels, mounts, ports, network alias, `/var` volume and
//! `/kindling` files, its `node.json` naming IMG), wait until the node posts Ready again,
//! uncordon. Objects live in the control planes' `/var`, PV data in each node's: both stay.
//! kind's answer to an upgrade is to create the cluster again.
//!
//! With several control planes (stacked etcd) each one is replaced while the others keep a
//! quorum: every member must be healthy before one is taken out (else the upgrade refuses or
//! stops), the external load balancer forgets it before it stops (clients go to the others),
//! its member comes back with the same name and data directory (`/var/lib/etcd` on the kept
//! volume), and only when every member is healthy again and its agent has posted a heartbeat
//! through its own API server does the balancer learn it again and the next one go.
//!
//! Then what else runs the node image moves to IMG: the external load balancer (replaced, its
//! host port kept), the port proxy (made again with the same ports) and the LoadBalancer
//! Services' balancers (made again by their controller, which follows its control plane's
//! `node.json` image).
//!
//! A failed step stops the upgrade there: nodes done stay on IMG, the node at hand is left as
//! the failure left it (cordoned if its drain did not finish), later nodes are untouched.

use super::{control_plane, drain, edit, plan, ports, read_node_file, startstop};
use crate::status::Status;
use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Node;
use kindling_node::config::kindling_path;
use kindling_provider::{FileToCopy, NodeInfo, Provider, Role, Stdin};
use kube::api::{Api, Patch, PatchParams};
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a node's PID 1 gets to end its pods before the engine kills it (as `stop cluster`).
const STOP_GRACE_SECS: u32 = 10;

/// The external load balancer's: it holds only connections, which clients open again.
const BALANCER_STOP_GRACE_SECS: u32 = 1;

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
    let control_planes: Vec<String> = nodes
        .iter()
        .filter(|n| n.role == Some(Role::ControlPlane))
        .map(|n| n.name.clone())
        .collect();
    let ha = control_planes.len() > 1;
    if ha && order.iter().any(|n| control_planes.contains(n)) {
        // Before anything changes: a member already down would make the next one's
        // replacement lose the quorum.
        check_etcd(provider, cluster, &nodes, None, &control_planes).await?;
    }
    let mut status = Status::new(quiet);
    let satellites = satellites_to_move(cluster, &nodes, &current, &target);
    if order.is_empty() && satellites.is_empty() {
        status.line(&format!(
            "Cluster \"{cluster}\" already runs image \"{image}\""
        ));
        return Ok(());
    }
    status.line(&format!(
        "Upgrading cluster \"{cluster}\" to image \"{image}\" ..."
    ));
    for name in &order {
        let member = ha && control_planes.contains(name);
        let replaced = replace_one(
            provider,
            &mut status,
            cluster,
            &nodes,
            name,
            image,
            wait,
            member,
            quiet,
        );
        if let Err(e) = replaced.await {
            status.end(false);
            return Err(e);
        }
    }
    if !satellites.is_empty() {
        status.start(&format!(
            "Moving {} to the new image 🔁",
            satellites.join(", ")
        ));
        if let Err(e) = move_satellites(provider, cluster, &satellites, image).await {
            status.end(false);
            return Err(e);
        }
        status.end(true);
    }
    let mut done = order.clone();
    done.extend(satellites);
    status.line(&format!(
        "Upgraded cluster \"{cluster}\": {} now run \"{image}\"",
        done.join(", ")
    ));
    Ok(())
}

/// Replaces node `name`; `member`: it is one of several stacked etcd members (see the module
/// docs for what that adds).
#[allow(clippy::too_many_arguments)]
async fn replace_one(
    provider: &dyn Provider,
    status: &mut Status,
    cluster: &str,
    nodes: &[NodeInfo],
    name: &str,
    image: &str,
    wait: Duration,
    member: bool,
    quiet: bool,
) -> Result<()> {
    let control_planes: Vec<String> = nodes
        .iter()
        .filter(|n| n.role == Some(Role::ControlPlane))
        .map(|n| n.name.clone())
        .collect();
    if member {
        status.start(&format!("Checking etcd members before {name} 🩺"));
        check_etcd(provider, cluster, nodes, None, &control_planes).await?;
        // Clients stop going to its API server before it stops.
        control_plane::set_balancer_backend(provider, cluster, name, false).await?;
    }
    let client = super::admin_client(provider, cluster).await?;
    status.start(&format!("Draining node {name} 🚰"));
    let cordoned = drain::cordon(&client, name).await?;
    if cordoned {
        drain::drain(&client, name, wait, quiet).await?;
    }
    status.start(&format!("Replacing node {name} 🔁"));
    // Ready again means a heartbeat newer than the stopped node's last one (heartbeats
    // are in whole seconds: "since the replacement began" could still be the old one's).
    // Read before the stop too: a control plane's API server goes with it.
    let before = last_heartbeat(&client, name).await;
    let config_path = kindling_path("node.json").to_string_lossy().to_string();
    let old_config = read_node_file(provider, name, &config_path).await?;
    provider.stop_node(name, STOP_GRACE_SECS).await?;
    let since = match before.max(last_heartbeat(&client, name).await) {
        Some(t) => t + 1,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    };
    // The node's own record of its image: what it makes LoadBalancer Services' balancers of.
    write_node_config(provider, name, &with_image(&old_config, image)?).await?;
    if let Err(e) = provider.replace_node(name, image).await {
        let _ = write_node_config(provider, name, &old_config).await;
        return Err(e).with_context(|| format!("replacing node {name}"));
    }
    status.start(&format!("Waiting for node {name} Ready ⏳"));
    startstop::wait_ready(provider, cluster, &[name.to_string()], since, wait).await?;
    if member {
        status.start(&format!("Waiting for etcd member {name} healthy 🩺"));
        let deadline = Instant::now() + wait;
        loop {
            match check_etcd(provider, cluster, nodes, Some(name), &control_planes).await {
                Ok(()) => break,
                Err(e) if Instant::now() > deadline => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        control_plane::set_balancer_backend(provider, cluster, name, true).await?;
    }
    if cordoned {
        // A new client: the old one may have talked to the replaced API server.
        let client = super::admin_client(provider, cluster).await?;
        uncordon(&client, name).await?;
    }
    status.end(true);
    Ok(())
}

/// Asks a running control plane (not `besides`) for every member's health and refuses unless
/// each of `control_planes` has a healthy member.
async fn check_etcd(
    provider: &dyn Provider,
    cluster: &str,
    nodes: &[NodeInfo],
    besides: Option<&str>,
    control_planes: &[String],
) -> Result<()> {
    let via = plan::removal_via(nodes, besides.unwrap_or_default())
        .with_context(|| format!("cluster \"{cluster}\" has no running control plane"))?;
    let argv = ["kindling", "etcd-member", "health"];
    let out = provider.exec(&via, &argv, Stdin::None).await?;
    let health = plan::parse_member_health(&String::from_utf8_lossy(&out.stdout));
    if health.is_empty() {
        anyhow::bail!(
            "asking {via} for the etcd members' health: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    plan::check_members_healthy(cluster, control_planes, &health)
        .map_err(|e| anyhow::anyhow!("{e}; nothing more was changed"))
}

/// `node.json` text with its `image` set (other fields kept as they are).
fn with_image(config: &str, image: &str) -> Result<String> {
    let mut value: serde_json::Value = serde_json::from_str(config).context("reading node.json")?;
    value["image"] = serde_json::Value::String(image.to_string());
    Ok(serde_json::to_string_pretty(&value)?)
}

/// Writes `node.json` (the engine copies into a stopped container too).
async fn write_node_config(provider: &dyn Provider, node: &str, text: &str) -> Result<()> {
    provider
        .copy_files(
            node,
            kindling_node::config::KINDLING_DIR,
            vec![FileToCopy::new(
                "node.json",
                text.as_bytes().to_vec(),
                0o644,
            )],
        )
        .await?;
    Ok(())
}

/// The containers beside the nodes that run the node image and are not on the target yet: the
/// external load balancer and the port proxy (the LoadBalancer Services' balancers follow
/// their controller).
fn satellites_to_move(
    cluster: &str,
    nodes: &[NodeInfo],
    current: &BTreeMap<String, String>,
    target: &str,
) -> Vec<String> {
    [
        kindling_config::load_balancer_name(cluster),
        ports::proxy_name(cluster),
    ]
    .into_iter()
    .filter(|name| nodes.iter().any(|n| &n.name == name))
    .filter(|name| current.get(name).map(String::as_str) != Some(target))
    .collect()
}

/// Moves the external load balancer (replaced: same name, host port and `lb.json`) and the
/// port proxy (made again with the ports its label records) to `image`.
async fn move_satellites(
    provider: &dyn Provider,
    cluster: &str,
    satellites: &[String],
    image: &str,
) -> Result<()> {
    for name in satellites {
        if *name == ports::proxy_name(cluster) {
            let nodes = provider.list_nodes(Some(cluster)).await?;
            let published = nodes
                .iter()
                .find(|n| &n.name == name)
                .and_then(|n| n.labels.get(ports::PORTS_LABEL))
                .map_or_else(Vec::new, |l| ports::from_label(l));
            provider.delete_nodes(std::slice::from_ref(name)).await?;
            provider
                .create_node(&edit::proxy_spec(cluster, image, &published))
                .await
                .with_context(|| format!("making {name} again"))?;
        } else {
            // The balancer ends its connections at once (it keeps no state worth a grace
            // period): the host port is away only while the container is made again.
            provider.stop_node(name, BALANCER_STOP_GRACE_SECS).await?;
            provider
                .replace_node(name, image)
                .await
                .with_context(|| format!("replacing {name}"))?;
        }
    }
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
