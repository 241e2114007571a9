//! The control plane of a control-plane node: the API server (with its store) and the
//! controllers that live beside it, all in this process.

use crate::components;
use crate::config::{kindling_path, NodeConfig};
use crate::{etcd, ipam, leader};
use anyhow::{Context, Result};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

const DATA_DIR: &str = "/var/lib/kindling/apiserver";
pub const API_PORT: u16 = 6443;
/// What the node prints (to its container's log) when the API server does not start, before
/// the reason: `kindling create cluster` looks for it.
pub const START_FAILED: &str = "kindling node: the API server did not start: ";

/// Starts the API server on 0.0.0.0:6443, node IPAM, the controllers and the scheduler.
pub async fn start(config: &NodeConfig, ip: IpAddr) -> Result<kindling_apiserver::RunningServer> {
    let cp = config
        .control_plane
        .clone()
        .context("control-plane config missing in node.json")?;
    let mut server = kindling_apiserver::Config::local(DATA_DIR);
    server.bind = SocketAddr::from(([0, 0, 0, 0], API_PORT));
    server.advertise_address = Some(ip);
    server.pki_dir = Some(kindling_path("pki"));
    server.service_cidr = config.service_subnet.clone();
    if let Some(range) = &cp.node_port_range {
        let (lo, hi) = range
            .split_once('-')
            .context("service-node-port-range must be LOW-HIGH")?;
        server.node_port_range = lo.trim().parse()?..=hi.trim().parse()?;
    }
    // kubeadm's `--enable-admission-plugins=NodeRestriction`, unless the config sets the flag.
    server.admission = kindling_api::admission::AdmissionFlags::parse(
        Some(
            cp.enable_admission_plugins
                .as_deref()
                .unwrap_or("NodeRestriction"),
        ),
        cp.disable_admission_plugins.as_deref(),
    );
    server.token_auth_file = cp.token_auth_file.as_ref().map(Into::into);
    server.extra_sans = cp.cert_sans.clone();
    server
        .extra_sans
        .extend([config.name.clone(), ip.to_string(), "localhost".into()]);
    if let Some(members) = &cp.etcd_members {
        server.store = start_etcd(config, members, cp.etcd_join, ip).await?;
    }
    server.addons = crate::identities::addons();
    // kubeadm's cluster-info (what `kubeadm join --discovery-token` trusts once signed).
    let ca_pem = kindling_pki::Ca::load_or_create(&kindling_path("pki"))?
        .pair
        .cert_pem;
    let endpoint = crate::clusterinfo::server(config);
    server
        .addons
        .extend(crate::clusterinfo::addons(&ca_pem, &endpoint));
    server.service_account_issuer = cp.service_account_issuer.clone();
    server.service_account_jwks_uri = cp.service_account_jwks_uri.clone();
    server.api_audiences = cp
        .api_audiences
        .iter()
        .flat_map(|a| a.split(','))
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect();
    let running = kindling_apiserver::start(server).await?;
    let client =
        crate::client_from_kubeconfig(Path::new(DATA_DIR).join("admin.kubeconfig").as_path())
            .await?;
    if let Some(dns_ip) = crate::dns::service_ip(config) {
        tokio::spawn(ensure_kube_dns(client.clone(), dns_ip));
    }
    // LoadBalancer Services, where the engine's socket is mounted (every control plane; the
    // first only in clusters made before): one controller at a time, on the holder of its
    // Lease (as upstream's cloud-controller-manager leads), so any control plane can go. It
    // acts as upstream's service controller's account (see `identities::own_controller_roles`);
    // the Lease, which no upstream role names, is held with the admin credential.
    if Path::new(crate::servicelb::SOCKET).exists() {
        let (cluster, image) = (config.cluster.clone(), config.image.clone());
        let ingress_lb = cp.ingress_load_balancer.clone();
        let manager = component_client("system:kube-controller-manager").await?;
        let base =
            crate::config_from_kubeconfig(&Path::new(DATA_DIR).join("admin.kubeconfig")).await?;
        let (lease_client, identity) = (client.clone(), leader::identity(&config.name));
        tokio::spawn(async move {
            let clients = controller_clients(manager, base, &[crate::identities::SERVICE_LB]).await;
            let lb_client = clients.of(crate::identities::SERVICE_LB);
            leader::lead(crate::servicelb::LEASE, lease_client, identity, move || {
                crate::servicelb::run(
                    lb_client.clone(),
                    cluster.clone(),
                    image.clone(),
                    ingress_lb.clone(),
                )
            })
            .await;
        });
    }
    let controllers = kindling_controllers::Config {
        root_ca_pem: running.ca_pem.clone(),
    };
    // The CSR approver and signer hold the cluster CA (kube-controller-manager's
    // `--cluster-signing-cert-file`/`--cluster-signing-key-file`).
    let signing_ca = Arc::new(kindling_pki::Ca::load_or_create(&kindling_path("pki"))?);
    // One leader per component across the control planes (Leases in kube-system). Node IPAM and
    // the CSR controllers are kube-controller-manager's (two allocators would hand out one range
    // twice; two approvers would race on every request).
    let csr_options =
        kindling_controllers::certificates::Options::from_controllers(cp.controllers.as_deref());
    let pod_subnet = config.pod_subnet.clone();
    // kube-controller-manager's own identity (kubeadm's controller-manager.conf) for its Lease
    // and shared informer; its controllers as their service accounts
    // (`--use-service-account-credentials`), made once, when it first leads.
    let manager_client = component_client("system:kube-controller-manager").await?;
    // How to reach and trust the API server (the credentials are replaced by each account's).
    let admin_config =
        crate::config_from_kubeconfig(&Path::new(DATA_DIR).join("admin.kubeconfig")).await?;
    let clients = Arc::new(tokio::sync::OnceCell::new());
    let lease_client = manager_client.clone();
    tokio::spawn(leader::lead(
        "kube-controller-manager",
        lease_client,
        leader::identity(&config.name),
        move || {
            let (clients, manager, base) = (
                clients.clone(),
                manager_client.clone(),
                admin_config.clone(),
            );
            let (config, pod_subnet) = (controllers.clone(), pod_subnet.clone());
            let (signing_ca, csr_options) = (signing_ca.clone(), csr_options);
            async move {
                let clients = clients
                    .get_or_init(|| async {
                        let clients =
                            controller_clients(manager, base, &controller_identities()).await;
                        // kind's local-path provisioner runs as its own account.
                        let part = crate::identities::Part::LocalPath;
                        match crate::client_from_kubeconfig_path(kindling_path(part.file())).await {
                            Ok(c) => clients.with(kindling_controllers::localpath::IDENTITY, c),
                            Err(e) => {
                                tracing::error!("local-path provisioner's client: {e:#}");
                                clients
                            }
                        }
                    })
                    .await;
                // Node IPAM as upstream's nodeipam controller is: `node-controller`.
                let ipam = ipam::run(clients.of(IPAM_IDENTITY), pod_subnet);
                let csr = kindling_controllers::certificates::run_as(
                    clients.of(CSR_IDENTITY),
                    clients.of(crate::identities::SERVING_APPROVER),
                    signing_ca,
                    csr_options,
                );
                futures::join!(
                    ipam,
                    kindling_controllers::run_as(clients.clone(), config),
                    csr
                );
            }
        },
    ));
    let scheduler = kindling_scheduler::Options::default();
    let scheduler_metrics = scheduler.metrics.clone();
    let scheduler_client = component_client(crate::identities::SCHEDULER_USER).await?;
    // Its Lease as itself, as kube-scheduler's (its role may create Leases and update
    // `kube-scheduler`'s).
    tokio::spawn(leader::lead(
        "kube-scheduler",
        scheduler_client.clone(),
        leader::identity(&config.name),
        move || kindling_scheduler::run_with(scheduler_client.clone(), scheduler.clone()),
    ));
    // Their secure ports, as kube-scheduler's and kube-controller-manager's.
    let ports: [(&'static str, u16, components::Render); 2] = [
        (
            "kube-scheduler",
            components::SCHEDULER_PORT,
            Arc::new(move || scheduler_metrics.render()),
        ),
        (
            "kube-controller-manager",
            components::CONTROLLER_MANAGER_PORT,
            Arc::new(kindling_controllers::metrics::render),
        ),
    ];
    for (component, port, render) in ports {
        let pki = kindling_path("pki");
        tokio::spawn(async move {
            if let Err(e) = components::serve(component, port, &pki, ip, render).await {
                tracing::error!("{component} port {port}: {e:#}");
            }
        });
    }
    Ok(running)
}

/// Starts this node's etcd member (see `etcd.rs`); returns the API server's store on it. A
/// member joining a running cluster is added to it first, unless it has data (it was a member
/// before this start).
async fn start_etcd(
    config: &NodeConfig,
    members: &[String],
    join: bool,
    ip: IpAddr,
) -> Result<kindling_apiserver::StoreBackend> {
    let pki = etcd::write_certs(&kindling_path("pki"), &config.name, ip)
        .context("making the etcd certificates")?;
    let join = join && !etcd::has_data();
    let members = match join {
        true => crate::etcd_membership::join(&config.name, members, &pki).await?,
        false => members.to_vec(),
    };
    let member = etcd::Member {
        name: &config.name,
        members: &members,
        cluster: &config.cluster,
        join,
    };
    etcd::start(&member, &pki)?;
    Ok(etcd::store_backend(&pki))
}

/// Node IPAM's service account (upstream's nodeipam controller asks for `node-controller`'s
/// client): it reads, watches and patches Nodes, all in `system:controller:node-controller`.
const IPAM_IDENTITY: &str = "node-controller";
/// The CSR approver's and signer's (upstream's csrapproving and csrsigning controllers').
const CSR_IDENTITY: &str = "certificate-controller";

/// Every account the controller manager's controllers talk as, each once.
fn controller_identities() -> Vec<&'static str> {
    let mut all = kindling_controllers::OWN_IDENTITIES.to_vec();
    all.extend([
        IPAM_IDENTITY,
        CSR_IDENTITY,
        crate::identities::SERVING_APPROVER,
    ]);
    all.sort_unstable();
    all.dedup();
    all
}

/// Clients of `accounts` (service accounts in kube-system, made if missing; tokens kept fresh
/// under the API server's data directory), the shared parts as the controller manager
/// (`manager`). Tries until the API server answers. No controller is left on the admin
/// certificate: an account outside `accounts` gets the controller manager's client.
async fn controller_clients(
    manager: kube::Client,
    base: kube::Config,
    accounts: &[&str],
) -> kindling_controllers::credentials::Clients {
    let dir = Path::new(DATA_DIR).join("controller-tokens");
    loop {
        match kindling_controllers::credentials::Clients::service_accounts(
            manager.clone(),
            &base,
            &dir,
            accounts,
        )
        .await
        {
            Ok(clients) => return clients,
            Err(e) => {
                tracing::warn!("controller service accounts: {e:#}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

/// A client of a control-plane component's own user, with a certificate of the cluster CA (as
/// kubeadm writes `scheduler.conf`), in a kubeconfig beside the admin's.
async fn component_client(user: &str) -> Result<kube::Client> {
    let ca = kindling_pki::Ca::load_or_create(&kindling_path("pki"))?;
    let cert = ca.client_cert(user, &[])?;
    let file = user.trim_start_matches("system:");
    let path = Path::new(DATA_DIR).join(format!("{file}.kubeconfig"));
    let url = format!("https://127.0.0.1:{API_PORT}");
    std::fs::write(
        &path,
        kindling_apiserver::kubeconfig::render("kindling", &url, &ca.pair.cert_pem, &cert),
    )
    .with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    crate::client_from_kubeconfig(&path).await
}

/// The kube-dns Service as kubeadm's CoreDNS addon makes it: the 10th address of the service
/// subnet, `dns` 53/UDP, `dns-tcp` 53/TCP, `metrics` 9153/TCP, selecting `k8s-app: kube-dns`
/// (the nodes' `coredns-<node>` mirror pods). Pods reach each node's own server at that address
/// without a proxy (see `dns.rs`).
pub fn kube_dns_service(dns_ip: IpAddr) -> serde_json::Value {
    let ip = dns_ip.to_string();
    serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {
            "name": "kube-dns", "namespace": "kube-system",
            "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                       "kubernetes.io/name": "CoreDNS"},
            "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
        },
        "spec": {
            "type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip],
            "selector": {"k8s-app": "kube-dns"},
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
            ],
        },
    })
}

/// Creates the kube-dns Service unless it exists, retrying until the API server takes it. A
/// restarted control plane finds it there: it is looked up first, because a create would be
/// refused for its address (422 "provided IP is already allocated", as upstream's allocator
/// answers before the name is checked), not with the 409 that says it exists.
async fn ensure_kube_dns(client: kube::Client, dns_ip: IpAddr) {
    use k8s_openapi::api::core::v1::Service;
    let services: kube::Api<Service> = kube::Api::namespaced(client, "kube-system");
    let service: Service = match serde_json::from_value(kube_dns_service(dns_ip)) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("kube-dns service: {e}");
            return;
        }
    };
    loop {
        if let Ok(Some(_)) = services.get_opt("kube-dns").await {
            return;
        }
        match services
            .create(&kube::api::PostParams::default(), &service)
            .await
        {
            Ok(_) => return,
            Err(kube::Error::Api(e)) if e.code == 409 => return,
            Err(e) => {
                tracing::warn!("creating the kube-dns service: {e}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_dns_is_kubeadms() {
        let svc: k8s_openapi::api::core::v1::Service =
            serde_json::from_value(kube_dns_service("10.96.0.10".parse().unwrap())).unwrap();
        let spec = svc.spec.unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.10"));
        let ports: Vec<String> = spec
            .ports
            .unwrap()
            .iter()
            .map(|p| format!("{}/{}", p.port, p.protocol.as_deref().unwrap_or_default()))
            .collect();
        assert_eq!(ports, ["53/UDP", "53/TCP", "9153/TCP"]);
        assert_eq!(spec.selector.unwrap()["k8s-app"], "kube-dns");
    }
}
