//! LoadBalancer Services (cloud-provider-kind's job, built in): on the first control plane,
//! which has the engine's socket, each Service of `type: LoadBalancer` (no
//! `loadBalancerClass`, or kindling's) gets a balancer container on the cluster's network —
//! the node image running `kindling loadbalancer` (kindling-lb) — forwarding its ports to the
//! nodes' NodePorts (`kindling_lb::service::config` decides which nodes). The container's IP is
//! written to `status.loadBalancer.ingress`. The configuration is copied into the container
//! whenever it changes (the balancer follows the file); the container goes with its Service.
//!
//! Containers carry kind's cluster and role labels (role `external-load-balancer`, like kind's
//! own balancer), so `kindling delete cluster` removes them with the nodes, and
//! [`SERVICE_LABEL`] names their Service. With the config's `ingressLoadBalancer`, one more
//! balancer, `<cluster>-ingress-lb`, publishes the host's ports (80/443 by default) and
//! forwards them to ports 80/443 of the Ready ingress nodes (the chapter's hand-made HAProxy). A Service annotated `kindling.dev/publish-address:
//! 127.0.0.1` also has its balancer's TCP ports published on that host address (same port
//! numbers), and that address is first in its `status.loadBalancer.ingress`.

use crate::config::IngressLoadBalancer;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kindling_lb::service;
use kindling_provider::{FileToCopy, NodeInfo, NodeSpec, PortMapping, Provider, Role};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Where `kindling create cluster` mounts the engine's socket (the first control plane).
pub const SOCKET: &str = "/var/run/docker.sock";
/// The container label that names the Service (`namespace/name`).
pub const SERVICE_LABEL: &str = "io.kindling.service-lb";
/// The container label that records its host port mappings: a balancer whose Service now asks
/// for others is made again (Docker fixes a container's published ports at creation).
pub const PUBLISHED_LABEL: &str = "io.kindling.service-lb.published";
const CONFIG_DIR: &str = "/kindling";
const CONFIG_FILE: &str = "lb.json";
const SETTLE: Duration = Duration::from_millis(20);
const RESYNC: Duration = Duration::from_secs(10);

/// Keeps one balancer per LoadBalancer Service of `cluster`, made from `image`. Never returns
/// while the engine answers.
pub async fn run(
    client: kube::Client,
    cluster: String,
    image: String,
    ingress_lb: Option<IngressLoadBalancer>,
) {
    let provider = match kindling_provider::DockerProvider::connect().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(
                "service-lb: no container engine ({e}); LoadBalancer Services get no address"
            );
            return;
        }
    };
    let changed = Arc::new(Notify::new());
    let services = kindling_reflect::store::<Service>(
        Api::all(client.clone()),
        watcher::Config::default(),
        changed.clone(),
        "service-lb",
    );
    let nodes = kindling_reflect::store::<Node>(
        Api::all(client.clone()),
        watcher::Config::default(),
        changed.clone(),
        "service-lb",
    );
    let slices = kindling_reflect::store::<EndpointSlice>(
        Api::all(client.clone()),
        watcher::Config::default(),
        changed.clone(),
        "service-lb",
    );
    for ready in [
        kindling_reflect::ready(&services).await,
        kindling_reflect::ready(&nodes).await,
        kindling_reflect::ready(&slices).await,
    ] {
        if ready.is_err() {
            return;
        }
    }
    let mut written: HashMap<String, kindling_lb::Config> = HashMap::new();
    loop {
        let all_nodes = nodes.state();
        let all_slices = slices.state();
        let node_refs: Vec<&Node> = all_nodes.iter().map(AsRef::as_ref).collect();
        let slice_refs: Vec<&EndpointSlice> = all_slices.iter().map(AsRef::as_ref).collect();
        let mut wanted: HashMap<String, Balancer> = HashMap::new();
        for svc in services.state().iter().filter(|s| service::is_ours(s)) {
            let (ns, name) = (
                svc.metadata.namespace.clone().unwrap_or_default(),
                svc.metadata.name.clone().unwrap_or_default(),
            );
            wanted.insert(
                service::container_name(&cluster, &ns, &name),
                Balancer {
                    key: format!("{ns}/{name}"),
                    config: service::config(svc, &node_refs, &slice_refs),
                    mappings: host_ports(svc),
                    service: Some(svc.clone()),
                },
            );
        }
        if let Some(lb) = &ingress_lb {
            wanted.insert(
                format!("{cluster}-{INGRESS_LB}"),
                Balancer {
                    key: INGRESS_LB.into(),
                    config: service::ingress_config(&lb.nodes, &node_refs),
                    mappings: vec![
                        PortMapping::tcp(lb.listen_address.clone(), lb.http_port, 80),
                        PortMapping::tcp(lb.listen_address.clone(), lb.https_port, 443),
                    ],
                    service: None,
                },
            );
        }
        if let Err(e) = sync(&provider, &client, &cluster, &image, &wanted, &mut written).await {
            tracing::warn!("service-lb: {e:#}");
        }
        tokio::select! {
            () = changed.notified() => tokio::time::sleep(SETTLE).await,
            () = tokio::time::sleep(RESYNC) => {}
        }
    }
}

/// Makes the containers match `wanted`: creates missing ones, rewrites changed configurations,
/// writes each Service's address, removes balancers whose Service is gone.
async fn sync(
    provider: &kindling_provider::DockerProvider,
    client: &kube::Client,
    cluster: &str,
    image: &str,
    wanted: &HashMap<String, Balancer>,
    written: &mut HashMap<String, kindling_lb::Config>,
) -> anyhow::Result<()> {
    let existing: HashMap<String, NodeInfo> = provider
        .list_nodes(Some(cluster))
        .await?
        .into_iter()
        .filter(|n| n.labels.contains_key(SERVICE_LABEL))
        .map(|n| (n.name.clone(), n))
        .collect();
    for name in existing.keys() {
        if !wanted.contains_key(name) {
            tracing::info!("service-lb: removing {name}");
            provider.delete_nodes(std::slice::from_ref(name)).await?;
            written.remove(name);
        }
    }
    for (name, balancer) in wanted {
        let (config, mappings) = (&balancer.config, &balancer.mappings);
        let published = describe(mappings);
        let stale = existing.get(name).filter(|info| {
            info.labels.get(PUBLISHED_LABEL).map_or("", String::as_str) != published
        });
        if stale.is_some() {
            tracing::info!("service-lb: {name} publishes other ports now; making it again");
            provider.delete_nodes(std::slice::from_ref(name)).await?;
        }
        let info = match existing.get(name).filter(|_| stale.is_none()) {
            Some(info) => info.clone(),
            None => {
                let key = &balancer.key;
                tracing::info!("service-lb: creating {name} for {key}");
                written.remove(name);
                let mut spec = balancer_spec(name, cluster, image, key);
                spec.port_mappings = mappings.clone();
                spec.labels
                    .insert(PUBLISHED_LABEL.into(), published.clone());
                provider.create_node(&spec).await?
            }
        };
        if written.get(name) != Some(config) {
            let body = serde_json::to_vec(config)?;
            provider
                .copy_files(
                    name,
                    CONFIG_DIR,
                    vec![FileToCopy::new(CONFIG_FILE, body, 0o644)],
                )
                .await?;
            written.insert(name.clone(), config.clone());
        }
        if let (Some(ip), Some(svc)) = (&info.ipv4, &balancer.service) {
            let mut addresses: Vec<String> =
                mappings.iter().map(|m| m.listen_address.clone()).collect();
            addresses.dedup();
            addresses.push(ip.clone());
            if let Err(e) = ensure_status(client, svc, &addresses).await {
                tracing::debug!("service-lb: status of {name}: {e}");
            }
        }
    }
    Ok(())
}

/// The [`SERVICE_LABEL`] of the ingress load balancer (named `<cluster>-ingress-lb`).
const INGRESS_LB: &str = "ingress-lb";

/// One balancer container as wanted: what it forwards, what it publishes on the host, and the
/// Service whose status gets its address (none for the ingress load balancer).
struct Balancer {
    key: String,
    config: kindling_lb::Config,
    mappings: Vec<PortMapping>,
    service: Option<Arc<Service>>,
}

/// The host ports a Service's balancer publishes (its `kindling.dev/publish-address`).
fn host_ports(svc: &Service) -> Vec<PortMapping> {
    service::published(svc)
        .into_iter()
        .map(|(address, port, protocol)| PortMapping {
            protocol: match protocol {
                kindling_lb::Protocol::Tcp => kindling_provider::Protocol::Tcp,
                kindling_lb::Protocol::Udp => kindling_provider::Protocol::Udp,
            },
            ..PortMapping::tcp(address.to_string(), port, port)
        })
        .collect()
}

fn describe(mappings: &[PortMapping]) -> String {
    mappings
        .iter()
        .map(PortMapping::describe)
        .collect::<Vec<_>>()
        .join(",")
}

/// The balancer container: the node image running `kindling loadbalancer`, unprivileged.
fn balancer_spec(name: &str, cluster: &str, image: &str, service_key: &str) -> NodeSpec {
    let mut spec = NodeSpec::new(name, cluster, Role::ExternalLoadBalancer, image);
    spec.labels.insert(SERVICE_LABEL.into(), service_key.into());
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
    spec
}

/// Writes `status.loadBalancer.ingress: [{ip}, …]` (a published host address first, then the
/// container's) unless it says so already.
async fn ensure_status(
    client: &kube::Client,
    svc: &Service,
    ips: &[String],
) -> Result<(), kube::Error> {
    let want: serde_json::Value = ips
        .iter()
        .map(|ip| serde_json::json!({"ip": ip, "ipMode": "Proxy"}))
        .collect();
    let have = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|l| l.ingress.as_ref())
        .map(|l| serde_json::to_value(l).unwrap_or_default());
    if have.as_ref() == Some(&want) {
        return Ok(());
    }
    let api: Api<Service> = Api::namespaced(
        client.clone(),
        svc.metadata.namespace.as_deref().unwrap_or("default"),
    );
    api.patch_status(
        svc.metadata.name.as_deref().unwrap_or_default(),
        &PatchParams::default(),
        &Patch::Merge(serde_json::json!({"status": {"loadBalancer": {"ingress": want}}})),
    )
    .await
    .map(|_| ())
}
