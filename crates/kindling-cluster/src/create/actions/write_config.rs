//! `Writing configuration`: each node's `/kindling` — what it is (`node.json`), the CA (and its
//! key on control planes), its agent's identity as a kubeconfig and one kubeconfig per
//! node-side part with an identity of its own (`kindling_node::identities`). The node's PID 1 waits for
//! `node.json` before it starts anything.

use crate::create::{Action, ActionContext};
use anyhow::{Context, Result};
use bytes::Bytes;
use futures::future::BoxFuture;
use kindling_config::{ProxyMode, ResolvedNode, Role};
use kindling_node::config::{ControlPlaneConfig, IngressLoadBalancer, NodeConfig};
use kindling_provider::FileToCopy;

pub struct WriteConfig;

impl Action for WriteConfig {
    fn title(&self, _: &ActionContext) -> Option<String> {
        Some("Writing configuration 📜".into())
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let ca = ctx.ca.as_ref().context("PKI not made")?;
            let internal_url = super::cluster_api_url(&ctx.cluster);
            // Several API servers must verify each other's ServiceAccount tokens: one key.
            let sa_key = match ctx.cluster.external_load_balancer {
                true => Some(kindling_apiserver::pki::ServiceAccountKey::generate()?),
                false => None,
            };
            let mut uploads = Vec::new();
            let ingress_nodes = ingress_nodes(&ctx.cluster.nodes);
            for node in &ctx.cluster.nodes {
                let agent_url = super::agent_api_url(&ctx.cluster, node);
                let mut config = node_config(ctx, node, &agent_url);
                config.ingress = ingress_nodes.contains(&node.name.as_str());
                // Every control plane carries the ingress balancer's settings: the LoadBalancer
                // Service controller that keeps it runs wherever its Lease is held.
                if let (Some(cp), Some((listen, http, https))) = (
                    config.control_plane.as_mut(),
                    &ctx.cluster.ingress_load_balancer,
                ) {
                    cp.ingress_load_balancer = Some(IngressLoadBalancer {
                        listen_address: listen.clone(),
                        http_port: *http,
                        https_port: *https,
                        nodes: ingress_nodes.iter().map(ToString::to_string).collect(),
                    });
                }
                let mut files = vec![FileToCopy::new(
                    "node.json",
                    Bytes::from(serde_json::to_vec_pretty(&config)?),
                    0o644,
                )];
                files.extend(node_credentials(
                    ca,
                    &ctx.cluster.context_name(),
                    &agent_url,
                    &node.name,
                )?);
                if node.role == Role::ControlPlane {
                    files.push(FileToCopy::new(
                        "pki/ca.key",
                        Bytes::from(ca.pair.key_pem.clone()),
                        0o600,
                    ));
                    if let Some(sa) = &sa_key {
                        files.push(FileToCopy::new(
                            "pki/sa.key",
                            Bytes::from(sa.private_pem.clone()),
                            0o600,
                        ));
                    }
                }
                // Every control plane keeps the admin kubeconfig, so any of them can be the
                // one `kindling get kubeconfig` reads (the first may be deleted).
                if node.role == Role::ControlPlane {
                    let admin = ctx.admin.as_ref().context("admin certificate not made")?;
                    let admin_kubeconfig = kindling_apiserver::kubeconfig::render(
                        &ctx.cluster.context_name(),
                        &internal_url,
                        &ca.pair.cert_pem,
                        admin,
                    );
                    files.push(FileToCopy::new(
                        "admin.kubeconfig",
                        Bytes::from(admin_kubeconfig),
                        0o600,
                    ));
                }
                uploads.push((node.name.clone(), files));
            }
            let provider = ctx.provider.clone();
            let results = futures::future::join_all(uploads.into_iter().map(|(name, files)| {
                let provider = provider.clone();
                async move {
                    provider
                        .copy_files(&name, kindling_node::config::KINDLING_DIR, files)
                        .await
                }
            }))
            .await;
            for r in results {
                r?;
            }
            Ok(())
        })
    }
}

/// The label kind's ingress guide puts on the nodes that take the host's ports 80/443.
pub const INGRESS_READY_LABEL: &str = "ingress-ready";

/// The nodes that run the ingress controller: those labelled `ingress-ready=true`, else the
/// first control plane (where a kind cluster without that label would run ingress-nginx).
fn ingress_nodes(nodes: &[ResolvedNode]) -> Vec<&str> {
    let labelled: Vec<&str> = nodes
        .iter()
        .filter(|n| n.labels.get(INGRESS_READY_LABEL).map(String::as_str) == Some("true"))
        .map(|n| n.name.as_str())
        .collect();
    if !labelled.is_empty() {
        return labelled;
    }
    nodes
        .iter()
        .find(|n| n.bootstrap)
        .or_else(|| nodes.iter().find(|n| n.role == Role::ControlPlane))
        .map(|n| vec![n.name.as_str()])
        .unwrap_or_default()
}

fn node_config(ctx: &ActionContext, node: &ResolvedNode, api_url: &str) -> NodeConfig {
    let net = &ctx.cluster.networking;
    let taints = node
        .taints
        .iter()
        .map(|t| serde_json::json!({"key": t.key, "value": t.value, "effect": t.effect}))
        .collect();
    NodeConfig {
        cluster: ctx.cluster.name.clone(),
        name: node.name.clone(),
        role: match node.role {
            Role::ControlPlane => kindling_node::config::Role::ControlPlane,
            Role::Worker => kindling_node::config::Role::Worker,
        },
        api_server_url: api_url.to_string(),
        pod_subnet: net
            .pod_subnets
            .first()
            .map_or_else(|| "10.244.0.0/16".into(), std::string::ToString::to_string),
        service_subnet: net
            .service_subnets
            .first()
            .map_or_else(|| "10.96.0.0/16".into(), std::string::ToString::to_string),
        default_cni: !net.disable_default_cni,
        kube_proxy_mode: match net.kube_proxy_mode {
            ProxyMode::Iptables => "iptables",
            ProxyMode::Ipvs => "ipvs",
            ProxyMode::Nftables => "nftables",
            ProxyMode::None => "none",
        }
        .into(),
        image: node.image.clone(),
        labels: node.labels.clone(),
        taints,
        dns_domain: net.dns_domain.clone(),
        dns_service_ip: net.dns_service_ip().map(|ip| ip.to_string()),
        dns_search: net.dns_search.clone(),
        ingress: false,
        server_tls_bootstrap: node.kubelet_config.get("serverTLSBootstrap")
            == Some(&serde_json::Value::Bool(true)),
        control_plane: (node.role == Role::ControlPlane).then(|| {
            let arg = |name: &str| ctx.cluster.api_server.extra_args.get(name).cloned();
            ControlPlaneConfig {
                cert_sans: [
                    ctx.cluster.api_server.cert_sans.clone(),
                    super::extra_sans(&ctx.cluster),
                ]
                .concat(),
                node_port_range: arg("service-node-port-range"),
                enable_admission_plugins: arg("enable-admission-plugins"),
                disable_admission_plugins: arg("disable-admission-plugins"),
                token_auth_file: arg("token-auth-file"),
                etcd_members: super::etcd_members(&ctx.cluster),
                etcd_join: false,
                ingress_load_balancer: None,
                service_account_issuer: arg("service-account-issuer"),
                service_account_jwks_uri: arg("service-account-jwks-uri"),
                api_audiences: arg("api-audiences"),
                controllers: ctx
                    .cluster
                    .controller_manager_args
                    .get("controllers")
                    .cloned(),
            }
        }),
    }
}

/// What a node needs to reach the API server: its CA, its kubelet's kubeconfig
/// (`system:node:<name>`) and one kubeconfig per node-side part with an identity of its own.
pub(crate) fn node_credentials(
    ca: &kindling_pki::Ca,
    context: &str,
    server: &str,
    node: &str,
) -> anyhow::Result<Vec<FileToCopy>> {
    let render = |cert: &kindling_pki::CertPair| {
        kindling_apiserver::kubeconfig::render(context, server, &ca.pair.cert_pem, cert)
    };
    let kubelet = ca.client_cert(&format!("system:node:{node}"), &["system:nodes"])?;
    let mut files = vec![
        FileToCopy::new("kubeconfig", Bytes::from(render(&kubelet)), 0o600),
        FileToCopy::new("pki/ca.crt", Bytes::from(ca.pair.cert_pem.clone()), 0o644),
    ];
    for part in kindling_node::identities::Part::ALL {
        let (user, groups) = part.user();
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        let cert = ca.client_cert(&user, &groups)?;
        files.push(FileToCopy::new(
            part.file(),
            Bytes::from(render(&cert)),
            0o600,
        ));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, role: Role, bootstrap: bool, ingress_ready: bool) -> ResolvedNode {
        let mut n: ResolvedNode = serde_json::from_value(serde_json::json!({
            "name": name, "role": if role == Role::ControlPlane { "control-plane" } else { "worker" },
            "bootstrap": bootstrap, "image": "", "labels": {}, "taints": [], "mounts": [],
            "portMappings": [], "kubeletExtraArgs": {}, "kubeletConfig": {},
        }))
        .unwrap();
        if ingress_ready {
            n.labels.insert(INGRESS_READY_LABEL.into(), "true".into());
        }
        n
    }

    #[test]
    fn the_ingress_runs_on_ingress_ready_nodes_else_on_the_first_control_plane() {
        let cp = node("kind-control-plane", Role::ControlPlane, true, false);
        let w1 = node("kind-worker", Role::Worker, false, false);
        assert_eq!(
            ingress_nodes(&[cp.clone(), w1.clone()]),
            ["kind-control-plane"]
        );
        let w2 = node("kind-worker2", Role::Worker, false, true);
        let w3 = node("kind-worker3", Role::Worker, false, true);
        assert_eq!(
            ingress_nodes(&[cp, w1, w2, w3]),
            ["kind-worker2", "kind-worker3"]
        );
    }
}
