//! `kindling node`: the program every node container runs as PID 1.
//!
//! Order of a start: reap orphans (we are init), start containerd and import the images the node
//! image ships, on control-plane nodes start the API server and controllers, then the pod
//! network, the service proxy (kindling-proxy), the ingress controller (kindling-ingress, on
//! ingress nodes) and the kubelet (kindling-kubelet, the `kubelet`
//! unit), which registers the Node and runs its pods. SIGTERM ends it all.

pub mod clusterinfo;
pub mod components;
pub mod config;
pub mod containerd;
pub mod control;
pub mod controlplane;
pub mod dns;
pub mod etcd;
pub mod etcd_membership;
pub mod identities;
pub mod init;
pub mod ipam;
pub mod leader;
pub mod network;
pub mod restart;
pub mod servicelb;
pub mod sysinfo;
pub mod unit;

use anyhow::{Context, Result};
use config::{kindling_path, NodeConfig, Role};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Runs the node until SIGTERM.
pub async fn run() -> Result<()> {
    init::spawn_reaper_if_init();
    let config = wait_for_config().await?;
    let ip = sysinfo::node_ip(&config.name).context("finding this node's IP in /etc/hosts")?;
    prepare_kernel();
    let node_resolv_conf = node_resolv_conf(&config);
    // Pods reach cluster DNS at the kube-dns ClusterIP when it could be put on the node,
    // else at the node's IP.
    let service_ip = dns::service_ip(&config).filter(|ip| match dns::bind_service_ip(*ip) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("dns: the kube-dns address {ip} is not served on this node: {e}");
            false
        }
    });
    containerd::start().await?;
    containerd::import_images(&kindling_path("images"))
        .context("importing the node image's images")?;
    tokio::spawn(containerd::supervise());
    let _control_plane = match config.role {
        Role::ControlPlane => Some(controlplane::start(&config, ip).await.inspect_err(|e| {
            eprintln!("{}{e:#}", controlplane::START_FAILED);
        })?),
        Role::Worker => None,
    };
    let client_of =
        |part: identities::Part| client_from_kubeconfig_path(kindling_path(part.file()));
    let ca_pem =
        std::fs::read_to_string(kindling_path("pki/ca.crt")).context("reading the cluster CA")?;
    if config.default_cni {
        tokio::spawn(network::run(
            client_of(identities::Part::PodNetwork).await?,
            config.name.clone(),
            config.pod_subnet.clone(),
        ));
    }
    let dns_config = dns::server_config(&config, ip, service_ip, &node_resolv_conf);
    let dns_client = client_of(identities::Part::Dns).await?;
    tokio::spawn(async move {
        if let Err(e) = kindling_dns::run(dns_client, dns_config).await {
            tracing::error!("dns: {e:#}");
        }
    });
    let kubelet = kindling_kubelet::Config {
        cluster_dns: vec![service_ip.unwrap_or(ip)],
        pod_resolv_conf: dns::pod_resolv_conf(&node_resolv_conf, ip),
        ..kubelet_config(&config, ip, ca_pem)
    };
    if runs_service_proxy(&config) {
        let (client, proxy) = (
            client_of(identities::Part::ServiceProxy).await?,
            proxy_config(&config),
        );
        tokio::spawn(restart::keep_running("kube-proxy", move || {
            kindling_proxy::run(client.clone(), proxy.clone(), Arc::new(init::run_owned))
        }));
    }
    if config.ingress {
        let (client, ingress) = (
            client_of(identities::Part::Ingress).await?,
            ingress_config(&config),
        );
        tokio::spawn(restart::keep_running("ingress-controller", move || {
            let (client, ingress) = (client.clone(), ingress.clone());
            async move {
                if let Err(e) = kindling_ingress::run(client, ingress).await {
                    tracing::error!("ingress: {e:#}");
                }
            }
        }));
    }
    tokio::spawn(kindling_kubelet::localpath::run(
        client_of(identities::Part::LocalPath).await?,
        kubelet.clone(),
    ));
    let kubelet = Arc::new(kubelet_unit(kubelet));
    kubelet.start()?;
    tokio::spawn(async move {
        if let Err(e) = control::serve(vec![kubelet]).await {
            tracing::error!("control socket: {e:#}");
        }
    });
    init::shutdown_signal().await;
    // Hand the control plane's singletons over before this API server goes away.
    leader::release_all().await;
    Ok(())
}

/// The kubelet as a unit (`systemctl stop kubelet` stops it): Node registration and heartbeat,
/// the pod runner and the :10250 endpoint (kindling-kubelet), with a client of its own.
fn kubelet_unit(kubelet: kindling_kubelet::Config) -> unit::Unit {
    unit::Unit::new(
        "kubelet",
        "kindling node agent (the kubelet's part)",
        move || {
            let kubelet = kubelet.clone();
            Box::pin(async move {
                let client = loop {
                    match client_from_kubeconfig(&kindling_path("kubeconfig")).await {
                        Ok(c) => break c,
                        Err(e) => {
                            tracing::error!("node agent: {e:#}");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        }
                    }
                };
                kindling_kubelet::run(client, kubelet).await;
            })
        },
    )
}

/// Whether this node runs the service proxy (kind's `kubeProxyMode: none` turns it off; any
/// other mode gets kindling's, which programs iptables).
fn runs_service_proxy(config: &NodeConfig) -> bool {
    if config.kube_proxy_mode == "none" {
        return false;
    }
    if config.kube_proxy_mode != "iptables" {
        tracing::warn!(
            "kubeProxyMode {} is served by kindling's iptables service proxy",
            config.kube_proxy_mode
        );
    }
    true
}

/// The ingress controller of this node: the node's ports 80 and 443 on every address (kind's
/// `extraPortMappings` 80/443 land there), `localhost` in the Ingresses' status as kind's
/// ingress-nginx manifest publishes it.
fn ingress_config(config: &NodeConfig) -> kindling_ingress::Config {
    kindling_ingress::Config {
        node_name: config.name.clone(),
        http: std::net::SocketAddr::from(([0, 0, 0, 0], 80)),
        https: std::net::SocketAddr::from(([0, 0, 0, 0], 443)),
        status_address: "localhost".into(),
    }
}

/// The service proxy's view of this node.
fn proxy_config(config: &NodeConfig) -> kindling_proxy::Config {
    kindling_proxy::Config {
        node: kindling_proxy::Node {
            name: config.name.clone(),
            cluster_cidr: Some(config.pod_subnet.clone()),
        },
        work_dir: "/var/lib/kindling/proxy".into(),
    }
}

/// What the kubelet is told: the node's identity from `node.json`, the CRI socket, the runtime
/// version, the cluster domain; [`run`] adds the cluster DNS address and the resolv.conf pods
/// get (Docker's resolver replaced by the node, see [`dns`]).
fn kubelet_config(
    config: &NodeConfig,
    ip: std::net::IpAddr,
    ca_pem: String,
) -> kindling_kubelet::Config {
    kindling_kubelet::Config {
        node_name: config.name.clone(),
        node_ip: ip,
        control_plane: config.role == Role::ControlPlane,
        labels: config.labels.clone(),
        taints: config.taints.clone(),
        default_cni: config.default_cni,
        service_proxy: config.kube_proxy_mode != "none",
        ingress_controller: config.ingress,
        image: config.image.clone(),
        client_ca_pem: ca_pem,
        runtime_endpoint: containerd::SOCKET.to_string(),
        runtime_version: sysinfo::container_runtime_version(),
        pod_resolv_conf: String::new(),
        cluster_dns: Vec::new(),
        cluster_domain: config.dns_domain.clone(),
        server_tls_bootstrap: config.server_tls_bootstrap,
    }
}

/// The node's /etc/resolv.conf (as Docker wrote it), with `networking.dnsSearch` applied to the
/// file itself, as kind's entrypoint does, so the node and its pods search the same domains.
fn node_resolv_conf(config: &NodeConfig) -> String {
    const PATH: &str = "/etc/resolv.conf";
    let current = std::fs::read_to_string(PATH).unwrap_or_default();
    let wanted = dns::with_search(&current, config.dns_search.as_deref());
    if wanted != current {
        if let Err(e) = std::fs::write(PATH, &wanted) {
            tracing::warn!("dns: applying dnsSearch to {PATH}: {e}");
        }
    }
    wanted
}

/// The host writes `node.json` right after starting the container; wait for it (a restarted node
/// has it already).
async fn wait_for_config() -> Result<NodeConfig> {
    let path = kindling_path("node.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    while !path.exists() {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // The upload is one tar; give it a moment to land whole, then parse (retrying a partial read).
    for _ in 0..50 {
        if let Ok(config) = NodeConfig::load(&path) {
            return Ok(config);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    NodeConfig::load(&path)
}

/// Forwarding and bridged traffic through iptables, as pods and services need.
fn prepare_kernel() {
    for (path, value) in [
        ("/proc/sys/net/ipv4/ip_forward", "1"),
        ("/proc/sys/net/ipv4/conf/all/route_localnet", "1"),
    ] {
        if let Err(e) = std::fs::write(path, value) {
            tracing::warn!("setting {path}: {e}");
        }
    }
}

pub(crate) async fn client_from_kubeconfig_path(path: PathBuf) -> Result<kube::Client> {
    client_from_kubeconfig(&path).await
}

/// A kube client from a kubeconfig file (the node's identity, or the admin's).
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client> {
    Ok(kube::Client::try_from(config_from_kubeconfig(path).await?)?)
}

/// The client configuration a kubeconfig file describes.
pub async fn config_from_kubeconfig(path: &Path) -> Result<kube::Config> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?)
}
