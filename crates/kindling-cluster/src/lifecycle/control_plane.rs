//! What adding or deleting a control plane does beyond what a worker needs (`nodes.rs` does
//! the rest):
//!
//! - Added: its `node.json` is the first control plane's settings with its own name, its etcd
//!   member joining (see kindling-node `etcd_membership.rs`: MemberAdd through a live member,
//!   then `--initial-cluster-state existing`), its API server on that member; it gets the
//!   cluster CA's key and the ServiceAccount key (every API server signs and verifies the same
//!   tokens); once its Node is Ready it is labelled as kubeadm marks a control plane and the
//!   external load balancer learns it as a backend.
//! - Deleted: the balancer forgets it, then its member is removed (MemberRemove, through another
//!   control plane's member) before its container stops, so quorum is always counted over
//!   members that exist.
//!
//! [`control_plane_config`] decides (no IO); the rest reads and writes node files.

use super::read_node_file;
use anyhow::{Context, Result};
use bytes::Bytes;
use k8s_openapi::api::core::v1::Node;
use kindling_node::config::NodeConfig;
use kindling_provider::{FileToCopy, Provider, Stdin};
use kube::api::{Api, Patch, PatchParams};
use std::collections::BTreeMap;

const API_PORT: u16 = 6443;
/// Where the external load balancer reads its configuration (see `create/actions/load_balancer.rs`).
const BALANCER_DIR: &str = "/kindling";
const BALANCER_FILE: &str = "lb.json";

/// The labels kubeadm's mark-control-plane phase puts on a control plane of a cluster with
/// several (`exclude-from-external-load-balancers` keeps LoadBalancer traffic off it).
fn control_plane_labels() -> BTreeMap<String, String> {
    [
        "node-role.kubernetes.io/control-plane",
        "node.kubernetes.io/exclude-from-external-load-balancers",
    ]
    .into_iter()
    .map(|k| (k.to_string(), String::new()))
    .collect()
}

/// A new control plane's `node.json` from the first control plane's: the cluster-wide settings
/// and the control-plane flags kept; its name, image and labels its own; its agent on its own
/// API server (as kubeadm's control-plane kubelets are); its etcd member joining `members` (the
/// control planes there are, itself included). It runs no ingress (the nodes chosen at create
/// do); it keeps the ingress balancer's settings (whichever control plane runs the service
/// load-balancer controller keeps that balancer).
pub fn control_plane_config(
    first: &NodeConfig,
    name: &str,
    image: &str,
    labels: BTreeMap<String, String>,
    members: Vec<String>,
) -> NodeConfig {
    let mut all_labels = control_plane_labels();
    all_labels.extend(labels);
    let control_plane = first.control_plane.clone().map(|mut cp| {
        cp.etcd_members = Some(members);
        cp.etcd_join = true;
        cp
    });
    NodeConfig {
        name: name.to_string(),
        role: kindling_node::config::Role::ControlPlane,
        api_server_url: format!("https://{name}:{API_PORT}"),
        labels: all_labels,
        control_plane,
        image: image.to_string(),
        ingress: false,
        ..first.clone()
    }
}

/// What only control planes hold, read from another one (`from`): the CA key (the API server,
/// its etcd member and the CSR signer make certificates with it), the ServiceAccount key and
/// the admin kubeconfig (any control plane can be the one `get kubeconfig` reads).
pub(crate) async fn secrets(
    provider: &dyn Provider,
    from: &str,
    ca: &kindling_pki::Ca,
) -> Result<Vec<FileToCopy>> {
    let sa_key = read_node_file(provider, from, "/kindling/pki/sa.key")
        .await
        .context("reading the ServiceAccount signing key")?;
    let admin = read_node_file(provider, from, "/kindling/admin.kubeconfig")
        .await
        .context("reading the admin kubeconfig")?;
    Ok(vec![
        FileToCopy::new("pki/ca.key", Bytes::from(ca.pair.key_pem.clone()), 0o600),
        FileToCopy::new("pki/sa.key", Bytes::from(sa_key), 0o600),
        FileToCopy::new("admin.kubeconfig", Bytes::from(admin), 0o600),
    ])
}

/// Puts on the labels of `config` that a kubelet may not set on its own Node (NodeRestriction),
/// with the admin's rights, as `create cluster`'s MarkNodes does.
pub(crate) async fn mark(client: &kube::Client, config: &NodeConfig) -> Result<()> {
    let labels = crate::create::actions::mark_nodes::admin_labels(&config.labels);
    if labels.is_empty() {
        return Ok(());
    }
    let patch = serde_json::json!({"metadata": {"labels": labels}});
    Api::<Node>::all(client.clone())
        .patch(&config.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("labelling node {}", config.name))?;
    Ok(())
}

/// Adds `node`'s API server to the cluster's external load balancer (`present`) or takes it
/// out. A cluster without one (a single control plane on etcd) has nothing to change. The
/// balancer follows its file within a fraction of a second.
pub(crate) async fn set_balancer_backend(
    provider: &dyn Provider,
    cluster: &str,
    node: &str,
    present: bool,
) -> Result<()> {
    let balancer = kindling_config::load_balancer_name(cluster);
    let exists = provider
        .list_nodes(Some(cluster))
        .await?
        .iter()
        .any(|n| n.name == balancer);
    if !exists {
        return Ok(());
    }
    let path = format!("{BALANCER_DIR}/{BALANCER_FILE}");
    let config: kindling_lb::Config =
        serde_json::from_str(&read_node_file(provider, &balancer, &path).await?)
            .with_context(|| format!("{balancer}:{path}"))?;
    let host = format!("{node}:{API_PORT}");
    let changed = match present {
        true => config.with_backend_host(API_PORT, &host),
        false => config.without_backend_host(&host),
    };
    if changed == config {
        return Ok(());
    }
    provider
        .copy_files(
            &balancer,
            BALANCER_DIR,
            vec![FileToCopy::new(
                BALANCER_FILE,
                serde_json::to_vec(&changed)?,
                0o644,
            )],
        )
        .await?;
    Ok(())
}

/// Removes `node`'s etcd member through the member on `via` (a running control plane that
/// stays). A node that is no member already (an earlier delete got this far) is not an error.
pub(crate) async fn remove_member(provider: &dyn Provider, via: &str, node: &str) -> Result<()> {
    let argv = ["kindling", "etcd-member", "remove", node];
    let out = provider.exec(via, &argv, Stdin::None).await?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.success() || stderr.contains("has no etcd member") {
        return Ok(());
    }
    anyhow::bail!(
        "removing the etcd member of {node} (through {via}): {}",
        stderr.trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_control_planes_config_joins_the_members_on_its_own_api_server() {
        let first: NodeConfig = serde_json::from_value(serde_json::json!({
            "cluster": "kind", "name": "kind-control-plane", "role": "control-plane",
            "apiServerUrl": "https://kind-control-plane:6443", "podSubnet": "10.244.0.0/16",
            "serviceSubnet": "10.96.0.0/16", "defaultCni": true,
            "labels": {"node-role.kubernetes.io/control-plane": "", "ingress-ready": "true"},
            "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
            "controlPlane": {"certSans": ["kind-external-load-balancer"],
                             "etcdMembers": ["kind-control-plane", "kind-control-plane2"],
                             "ingressLoadBalancer": {"listenAddress": "127.0.0.1", "httpPort": 80,
                                                     "httpsPort": 443, "nodes": ["kind-control-plane"]}},
            "image": "kindling/node:v1", "ingress": true,
        }))
        .unwrap();
        let members: Vec<String> = [
            "kind-control-plane",
            "kind-control-plane2",
            "kind-control-plane3",
        ]
        .map(String::from)
        .to_vec();
        let labels = BTreeMap::from([("tier".to_string(), "a".to_string())]);
        let c = control_plane_config(
            &first,
            "kind-control-plane3",
            "kindling/node:v2",
            labels,
            members.clone(),
        );
        assert_eq!(c.name, "kind-control-plane3");
        assert_eq!(c.role, kindling_node::config::Role::ControlPlane);
        assert_eq!(c.api_server_url, "https://kind-control-plane3:6443");
        assert_eq!(c.image, "kindling/node:v2");
        assert!(!c.ingress);
        assert_eq!(c.taints, first.taints);
        let keys: Vec<&str> = c.labels.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "node-role.kubernetes.io/control-plane",
                "node.kubernetes.io/exclude-from-external-load-balancers",
                "tier"
            ]
        );
        let cp = c.control_plane.unwrap();
        assert_eq!(cp.etcd_members, Some(members));
        assert!(cp.etcd_join);
        assert_eq!(
            cp.ingress_load_balancer,
            first.control_plane.as_ref().unwrap().ingress_load_balancer
        );
        assert_eq!(cp.cert_sans, ["kind-external-load-balancer"]);
        // The first control plane's own config is not a joining one.
        assert!(!first.control_plane.unwrap().etcd_join);
    }
}
