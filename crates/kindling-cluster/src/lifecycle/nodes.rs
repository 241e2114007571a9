//! `kindling create node` and `kindling delete node` on a live cluster.
//!
//! A new node is made as `create cluster` makes one, from what the cluster already holds: its
//! settings are the first control plane's `node.json` turned into a worker's or another control
//! plane's, its identity a `system:node:<name>` certificate signed by the cluster CA (read from
//! that control plane), its image the control plane's unless `--image` says otherwise. A control
//! plane also joins the stacked etcd cluster and the external load balancer
//! (`control_plane.rs`). Checks come first and nothing is left behind when a step fails.

use super::{control_plane, drain, plan, read_node_file};
use crate::status::Status;
use anyhow::{Context, Result};
use bytes::Bytes;
use k8s_openapi::api::core::v1::Node;
use kindling_node::config::{kindling_path, NodeConfig, KINDLING_DIR};
use kindling_provider::{FileToCopy, NodeInfo, NodeSpec, Provider, Role};
use kube::api::{Api, DeleteParams};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub struct CreateNodeOptions {
    /// The node's name; `None`: kind's next name for the role (`kind-worker4`).
    pub name: Option<String>,
    pub role: Role,
    /// The node image; `None`: the first control plane's.
    pub image: Option<String>,
    /// Node labels (`--label k=v`).
    pub labels: BTreeMap<String, String>,
    /// How long to wait for the node to be Ready.
    pub wait: Duration,
    pub quiet: bool,
}

/// The control plane to read the cluster's settings, CA and admin kubeconfig from: the first
/// running one by name (every control plane keeps them; the first may have been deleted).
fn settings_control_plane(nodes: &[NodeInfo], cluster: &str) -> Result<NodeInfo> {
    crate::manage::control_planes_in_turn(nodes)
        .into_iter()
        .next()
        .with_context(|| {
            format!("could not locate any control plane nodes for cluster named '{cluster}'")
        })
}

/// A worker's `node.json` from a control plane's: the cluster-wide settings kept, what is the
/// control plane's own replaced.
pub fn worker_config(
    control_plane: &NodeConfig,
    name: &str,
    image: &str,
    labels: BTreeMap<String, String>,
) -> NodeConfig {
    NodeConfig {
        name: name.to_string(),
        role: kindling_node::config::Role::Worker,
        labels,
        taints: Vec::new(),
        control_plane: None,
        image: image.to_string(),
        ingress: false,
        ..control_plane.clone()
    }
}

/// `kindling create node`: returns the new node's name.
pub async fn create_node(
    provider: &dyn Provider,
    cluster: &str,
    opts: CreateNodeOptions,
) -> Result<String> {
    let nodes = provider.list_nodes(Some(cluster)).await?;
    let existing: Vec<String> = provider
        .list_nodes(None)
        .await?
        .into_iter()
        .map(|n| n.name)
        .collect();
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| plan::next_node_name(cluster, opts.role, &existing));
    // A container of that name outside any cluster takes the name too.
    let taken = provider.inspect(&name).await.is_ok();
    plan::check_create_node(cluster, &name, opts.role, &nodes, taken)
        .map_err(anyhow::Error::msg)?;
    let cp = &settings_control_plane(&nodes, cluster)?;
    anyhow::ensure!(
        cp.is_running(),
        "cluster \"{cluster}\" is not running ({} is {}); `kindling start cluster --name {cluster}` first",
        cp.name,
        cp.status
    );
    let cp_config: NodeConfig = serde_json::from_str(
        &read_node_file(
            provider,
            &cp.name,
            &kindling_path("node.json").to_string_lossy(),
        )
        .await?,
    )
    .context("reading the control plane's node.json")?;
    let joins_control_plane = opts.role == Role::ControlPlane;
    if joins_control_plane {
        let members = cp_config
            .control_plane
            .as_ref()
            .and_then(|c| c.etcd_members.as_deref());
        plan::check_join_control_plane(cluster, members, &nodes).map_err(anyhow::Error::msg)?;
    }
    let ca = kindling_pki::Ca::from_pem(
        &read_node_file(provider, &cp.name, "/kindling/pki/ca.crt").await?,
        &read_node_file(provider, &cp.name, "/kindling/pki/ca.key").await?,
    )?;
    let client = super::admin_client(provider, cluster).await?;
    let image = opts.image.clone().unwrap_or_else(|| cp.image.clone());

    let mut status = Status::new(opts.quiet);
    status.line(&format!(
        "Adding node \"{name}\" to cluster \"{cluster}\" ..."
    ));
    status.start(&format!("Preparing node {name} 📦"));
    let mut spec = NodeSpec::new(&name, cluster, opts.role, &image);
    if joins_control_plane {
        // As `create cluster` mounts it on every control plane: the service load-balancer
        // controller may lead here.
        if let Some(socket) = crate::create::actions::provision::docker_socket_for_service_lb() {
            spec.extra_mounts.push(kindling_provider::Mount::new(
                socket,
                crate::create::actions::provision::SERVICE_LB_SOCKET,
            ));
        }
    }
    provider.create_node(&spec).await?;
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let joined = async {
        status.start("Writing configuration 📜");
        let config = match joins_control_plane {
            true => {
                let mut members: Vec<String> = nodes
                    .iter()
                    .filter(|n| n.role == Some(Role::ControlPlane))
                    .map(|n| n.name.clone())
                    .collect();
                members.sort();
                members.push(name.clone());
                control_plane::control_plane_config(
                    &cp_config,
                    &name,
                    &image,
                    opts.labels.clone(),
                    members,
                )
            }
            false => {
                let mut config = worker_config(&cp_config, &name, &image, opts.labels.clone());
                // A cluster with several control planes: workers reach the API through the
                // balancer.
                let balancer = kindling_config::load_balancer_name(cluster);
                if nodes.iter().any(|n| n.name == balancer) {
                    config.api_server_url = format!("https://{balancer}:6443");
                }
                config
            }
        };
        let mut files = vec![FileToCopy::new(
            "node.json",
            Bytes::from(serde_json::to_vec_pretty(&config)?),
            0o644,
        )];
        files.extend(crate::create::actions::write_config::node_credentials(
            &ca,
            &format!("kind-{cluster}"),
            &config.api_server_url,
            &name,
        )?);
        if joins_control_plane {
            files.extend(control_plane::secrets(provider, &cp.name, &ca).await?);
        }
        provider.copy_files(&name, KINDLING_DIR, files).await?;
        status.start(match joins_control_plane {
            true => "Joining control-plane node 🕹️",
            false => "Joining node 🚜",
        });
        super::startstop::wait_ready(
            provider,
            cluster,
            std::slice::from_ref(&name),
            since,
            opts.wait,
        )
        .await?;
        if joins_control_plane {
            control_plane::mark(&client, &config).await?;
            control_plane::set_balancer_backend(provider, cluster, &name, true).await?;
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = joined {
        status.end(false);
        // Nothing left behind: the balancer's backend and the etcd member of a control plane,
        // the container, and the Node if it registered.
        if joins_control_plane {
            let _ = control_plane::set_balancer_backend(provider, cluster, &name, false).await;
            if let Some(via) = plan::removal_via(&nodes, &name) {
                let _ = control_plane::remove_member(provider, &via, &name).await;
            }
        }
        let _ = provider.delete_nodes(std::slice::from_ref(&name)).await;
        let _ = Api::<Node>::all(client.clone())
            .delete(&name, &DeleteParams::default())
            .await;
        return Err(e);
    }
    status.end(true);
    status.line(&format!("Node \"{name}\" joined cluster \"{cluster}\""));
    Ok(name)
}

/// `kindling delete node`: drain (PodDisruptionBudgets respected), then the Node and the
/// container. A refusal changes nothing; a drain that does not finish leaves the node cordoned
/// (as `kubectl drain` does) and everything else as it was.
pub async fn delete_node(
    provider: &dyn Provider,
    cluster: &str,
    name: &str,
    timeout: Duration,
    quiet: bool,
) -> Result<()> {
    let nodes = provider.list_nodes(Some(cluster)).await?;
    plan::check_delete_node(cluster, name, &nodes).map_err(anyhow::Error::msg)?;
    let client = super::admin_client(provider, cluster).await?;
    let mut status = Status::new(quiet);
    status.line(&format!(
        "Deleting node \"{name}\" from cluster \"{cluster}\" ..."
    ));
    status.start(&format!("Draining node {name} 🚰"));
    if drain::cordon(&client, name).await? {
        if let Err(e) = drain::drain(&client, name, timeout, quiet).await {
            status.end(false);
            return Err(e);
        }
    }
    let leaving_control_plane = nodes
        .iter()
        .any(|n| n.name == name && n.role == Some(Role::ControlPlane));
    if leaving_control_plane {
        status.start(&format!(
            "Removing control plane {name} from etcd and the load balancer ⚖️"
        ));
        let removed = remove_control_plane(provider, cluster, name, &nodes).await;
        if let Err(e) = removed {
            status.end(false);
            return Err(e);
        }
    }
    status.start(&format!("Removing node {name} 🗑️"));
    // A new client: the old one's connections may go through the balancer to the API server
    // of the control plane just removed, whose etcd member has stopped.
    let client = match leaving_control_plane {
        true => super::admin_client(provider, cluster).await?,
        false => client,
    };
    delete_node_object(&client, name).await?;
    provider.delete_nodes(&[name.to_string()]).await?;
    drain::delete_leftover_pods(&client, name).await?;
    status.end(true);
    status.line(&format!("Deleted node \"{name}\""));
    Ok(())
}

/// Deletes the Node. The balancer re-reads its backends every 200 ms, so a request sent just
/// after a control plane left may still reach that control plane's API server, which answers
/// 500 (its etcd member is gone): such answers and broken connections are tried again for
/// [`NODE_DELETE_RETRY`].
async fn delete_node_object(client: &kube::Client, name: &str) -> Result<()> {
    let api: Api<Node> = Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + NODE_DELETE_RETRY;
    loop {
        let error = match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
            Err(e) => e,
        };
        let transient = match &error {
            kube::Error::Api(e) => e.code >= 500,
            _ => true,
        };
        if !transient || tokio::time::Instant::now() >= deadline {
            return Err(error).context("deleting the Node");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// How long a Node delete that met a leaving API server is tried again.
const NODE_DELETE_RETRY: Duration = Duration::from_secs(10);

/// A control plane leaves: the balancer stops sending it clients, then its etcd member is
/// removed through a control plane that stays (before its container stops: a member that is
/// merely gone would still count towards the quorum).
async fn remove_control_plane(
    provider: &dyn Provider,
    cluster: &str,
    name: &str,
    nodes: &[NodeInfo],
) -> Result<()> {
    control_plane::set_balancer_backend(provider, cluster, name, false).await?;
    let via = plan::removal_via(nodes, name).with_context(|| {
        format!("no running control plane stays to remove {name}'s etcd member through")
    })?;
    let via_config: NodeConfig = serde_json::from_str(
        &read_node_file(
            provider,
            &via,
            &kindling_path("node.json").to_string_lossy(),
        )
        .await?,
    )
    .with_context(|| format!("reading {via}'s node.json"))?;
    let on_etcd = via_config
        .control_plane
        .is_some_and(|c| c.etcd_members.is_some());
    if on_etcd {
        control_plane::remove_member(provider, &via, name).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workers_config_keeps_the_clusters_settings_and_drops_the_control_planes() {
        let cp: NodeConfig = serde_json::from_value(serde_json::json!({
            "cluster": "kind", "name": "kind-control-plane", "role": "control-plane",
            "apiServerUrl": "https://kind-control-plane:6443", "podSubnet": "10.244.0.0/16",
            "serviceSubnet": "10.96.0.0/16", "defaultCni": true,
            "labels": {"ingress-ready": "true"},
            "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
            "controlPlane": {"certSans": []}, "image": "kindling/node:v1", "ingress": true,
            "dnsSearch": ["example.com"], "kubeProxyMode": "none",
        }))
        .unwrap();
        let labels = BTreeMap::from([("tier".to_string(), "db".to_string())]);
        let w = worker_config(&cp, "kind-worker4", "kindling/node:v2", labels.clone());
        assert_eq!(w.name, "kind-worker4");
        assert_eq!(w.role, kindling_node::config::Role::Worker);
        assert_eq!(w.labels, labels);
        assert!(w.taints.is_empty() && w.control_plane.is_none() && !w.ingress);
        assert_eq!(w.image, "kindling/node:v2");
        assert_eq!(w.api_server_url, cp.api_server_url);
        assert_eq!(w.pod_subnet, cp.pod_subnet);
        assert_eq!(w.dns_search, cp.dns_search);
        assert_eq!(w.kube_proxy_mode, "none");
    }
}
