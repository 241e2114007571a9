//! `kindling edit cluster --port-add/--port-remove`: host ports on a live cluster.
//!
//! Docker fixes a container's published ports when it is created, and node containers cannot
//! be made again without stopping what runs in them. So, as k3d does with its server load
//! balancer, the ports go to a small container of their own, `<cluster>-port-proxy`: the node
//! image running `kindling port-proxy` (kindling-lb's proxy), on the cluster's network,
//! publishing every added host port and forwarding each to its node's container port by the
//! node's name (resolved again every 2 s, so it follows nodes whose IPs change). An edit
//! replaces the proxy with one publishing the new set; nothing else in the cluster is touched.
//!
//! The proxy carries kind's cluster label and the `external-load-balancer` role, so `stop`/
//! `start cluster` stop and start it with the nodes, `delete cluster` removes it, and it
//! restarts `unless-stopped` like them after a reboot. [`ports::PORTS_LABEL`] records its
//! ports for the next edit.
//!
//! Everything is checked before anything changes (specs, nodes, ports free on the host); if
//! the new proxy cannot be made, the old one is made again.

use super::ports::{self, PortSpec, ProxiedPort, PORTS_LABEL};
use crate::status::Status;
use anyhow::{Context, Result};
use kindling_provider::{NodeInfo, NodeSpec, Protocol, Provider, Role};

/// `kindling edit cluster`: returns the ports the proxy publishes afterwards.
pub async fn edit_cluster_ports(
    provider: &dyn Provider,
    cluster: &str,
    add: &[String],
    remove: &[String],
    quiet: bool,
) -> Result<Vec<ProxiedPort>> {
    let add: Vec<PortSpec> = add
        .iter()
        .map(|s| ports::parse_add(s))
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    let remove: Vec<PortSpec> = remove
        .iter()
        .map(|s| ports::parse_remove(s))
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        !add.is_empty() || !remove.is_empty(),
        "nothing to edit: give --port-add or --port-remove"
    );
    let nodes = provider.list_nodes(Some(cluster)).await?;
    anyhow::ensure!(!nodes.is_empty(), "unknown cluster \"{cluster}\"");
    let name = ports::proxy_name(cluster);
    let old = nodes.iter().find(|n| n.name == name);
    let current = old
        .and_then(|n| n.labels.get(PORTS_LABEL))
        .map_or_else(Vec::new, |l| ports::from_label(l));
    let wanted =
        ports::plan_edit(cluster, &current, &add, &remove, &nodes).map_err(anyhow::Error::msg)?;
    let image = control_plane_image(cluster, &nodes)?;
    for p in wanted.iter().filter(|p| !current.contains(p)) {
        // The proxy's own ports are in use by it; they are freed when it is replaced.
        let ours = current
            .iter()
            .any(|c| c.host_port == p.host_port && c.protocol == p.protocol);
        if !ours && !port_free(provider, p) {
            anyhow::bail!(
                "host port {} is already in use ({}:{}/{}); nothing was changed",
                p.host_port,
                if p.listen_address.is_empty() {
                    "0.0.0.0"
                } else {
                    &p.listen_address
                },
                p.host_port,
                p.protocol
            );
        }
    }

    let mut status = Status::new(quiet);
    status.line(&format!("Editing cluster \"{cluster}\" ..."));
    status.start(&format!("Replacing {name} 🔀"));
    if old.is_some() {
        provider.delete_nodes(std::slice::from_ref(&name)).await?;
    }
    if !wanted.is_empty() {
        if let Err(e) = provider
            .create_node(&proxy_spec(cluster, &image, &wanted))
            .await
        {
            status.end(false);
            // Back to what was there: the old ports were free a moment ago.
            if !current.is_empty() {
                provider
                    .create_node(&proxy_spec(cluster, &image, &current))
                    .await
                    .context("making the previous port proxy again")?;
            }
            return Err(e).context("making the port proxy");
        }
    }
    status.end(true);
    if wanted.is_empty() {
        status.line(&format!("Cluster \"{cluster}\" publishes no added ports"));
    } else {
        for p in &wanted {
            status.line(&format!(
                " {} -> {}:{}",
                p.mapping()
                    .describe()
                    .split("->")
                    .next()
                    .unwrap_or_default(),
                p.node,
                p.container_port
            ));
        }
    }
    Ok(wanted)
}

/// The proxy runs the first control plane's image: the binary the cluster already runs.
fn control_plane_image(cluster: &str, nodes: &[NodeInfo]) -> Result<String> {
    let cp = nodes
        .iter()
        .filter(|n| n.role == Some(Role::ControlPlane))
        .min_by(|a, b| a.name.cmp(&b.name))
        .with_context(|| format!("cluster \"{cluster}\" has no control-plane node"))?;
    anyhow::ensure!(
        cp.is_running(),
        "cluster \"{cluster}\" is not running ({} is {}); `kindling start cluster --name {cluster}` first",
        cp.name,
        cp.status
    );
    Ok(cp.image.clone())
}

fn port_free(provider: &dyn Provider, p: &ProxiedPort) -> bool {
    match p.protocol {
        Protocol::Udp => {
            let host = if p.listen_address.is_empty() {
                "0.0.0.0"
            } else {
                &p.listen_address
            };
            host.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| std::net::UdpSocket::bind((ip, p.host_port)).is_ok())
        }
        _ => provider.is_port_free(&p.listen_address, p.host_port),
    }
}

/// The proxy container: unprivileged (the external-load-balancer role), its forwards as its
/// command, its ports as its label.
pub(crate) fn proxy_spec(cluster: &str, image: &str, wanted: &[ProxiedPort]) -> NodeSpec {
    let mut spec = NodeSpec::new(
        ports::proxy_name(cluster),
        cluster,
        Role::ExternalLoadBalancer,
        image,
    );
    spec.labels
        .insert(PORTS_LABEL.into(), ports::to_label(wanted));
    spec.port_mappings = wanted.iter().map(ProxiedPort::mapping).collect();
    let mut argv = vec![
        "/usr/local/bin/kindling".to_string(),
        "port-proxy".to_string(),
    ];
    for p in wanted {
        argv.push("--forward".into());
        argv.push(p.forward().to_arg());
    }
    spec.entrypoint = Some(argv);
    spec
}
