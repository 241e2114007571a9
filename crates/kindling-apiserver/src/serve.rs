//! Bringing a server up: PKI, store, bootstrap objects, controllers that live in the server, and
//! the TLS accept loop.

use crate::auth::Identity;
use crate::registry::Registry;
use crate::services::{Cidr, ServiceAllocator};
use crate::{
    bootstrap, crds, ensure_dir, flowcontrol, http, kubeconfig, namespaces, pki, tls, tokens,
    Config, Server,
};
use anyhow::{Context, Result};
use axum::body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kindling_store::{EtcdOptions, EtcdStore, EtcdTls, SharedStore, SqliteStore};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A started server.
pub struct RunningServer {
    pub address: SocketAddr,
    /// An admin kubeconfig (`system:masters`) for this server.
    pub kubeconfig: PathBuf,
    /// The cluster CA certificate (PEM), for controllers that hand it to pods.
    pub ca_pem: String,
    /// The server's state (registry, store) lives at least as long as this handle.
    _server: Arc<Server>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting connections (open ones end with the runtime).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a server as configured; returns once it accepts connections.
pub async fn start(config: Config) -> Result<RunningServer> {
    // Flags first, as kube-apiserver validates its options before doing anything.
    let admission = crate::admission::Chain::new(&config.admission).map_err(anyhow::Error::msg)?;
    if !admission.not_carried_out.is_empty() {
        tracing::info!(
            plugins = ?admission.not_carried_out,
            "enabled admission plugins kindling does not carry out"
        );
    }
    let modes =
        crate::authz::Mode::parse(&config.authorization_mode).map_err(anyhow::Error::msg)?;
    let authorizer = Arc::new(crate::authz::Authorizer::new(modes));
    let token_sources = crate::auth::TokenSources {
        static_tokens: match &config.token_auth_file {
            Some(path) => read_token_file(path)?,
            None => Default::default(),
        },
        bootstrap: config.bootstrap_token_auth,
    };
    ensure_dir(&config.data_dir)?;
    let pki_dir = config
        .pki_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("pki"));
    let ca = pki::Ca::load_or_create(&pki_dir)?;
    let sa_key = pki::ServiceAccountKey::load_or_create(&pki_dir)?;
    let issuer = config
        .service_account_issuer
        .as_deref()
        .unwrap_or(tokens::DEFAULT_ISSUER);
    let tokens = tokens::TokenIssuer::new(&sa_key, issuer)?.with_audiences(&config.api_audiences);
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("listening on {}", config.bind))?;
    let address = listener.local_addr()?;

    let (dns, ips) = serving_names(&config, address);
    let serving = ca.serving_cert("kube-apiserver", &dns, &ips)?;
    serving.write(&pki_dir, "apiserver")?;
    let admin = ca.client_cert("kubernetes-admin", &["system:masters"])?;
    admin.write(&pki_dir, "admin")?;
    let tls = tls::server_config(&ca.pair.cert_pem, &serving)?;

    let store = open_store(&config).await.context("opening the store")?;
    let cidr = Cidr::parse(&config.service_cidr).map_err(anyhow::Error::msg)?;
    let registry = Registry::new(
        store,
        ServiceAllocator::new(cidr, config.node_port_range.clone()),
        config.watch_queue,
    )
    .context("starting the watch cache")?
    .with_admission(admission)
    .with_authorizer(authorizer.clone());
    let suspects = rebuild_allocations(&registry).await?;
    tokio::spawn(crate::registry::nodeports::run_repair(
        registry.clone(),
        config.node_port_repair_interval,
        suspects,
    ));
    let advertise = SocketAddr::new(
        config
            .advertise_address
            .unwrap_or(if address.ip().is_unspecified() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                address.ip()
            }),
        address.port(),
    );
    bootstrap_when_store_answers(&registry, advertise, &config.addons).await?;
    // Custom resources of stored definitions are served from the first request on.
    crds::start(&registry).await;
    tokio::spawn(namespaces::run(registry.clone()));
    tokio::spawn(crate::masterleases::run(registry.clone(), advertise));
    tokio::spawn(flowcontrol::run(registry.clone()));
    if authorizer.uses_rbac() {
        crate::authz::aggregation::pass(&registry)
            .await
            .map_err(|e| anyhow::anyhow!("aggregating cluster roles: {e}"))?;
        tokio::spawn(crate::authz::aggregation::run(registry.clone()));
        // No request is decided before the policy is in memory.
        crate::authz::index::start(registry.clone(), authorizer.clone()).await;
    }
    crate::authz::graph_index::start(registry.clone(), authorizer.clone()).await;

    let kubelet_client = ca.client_cert("kube-apiserver-kubelet-client", &["system:masters"])?;
    let server = Arc::new(Server {
        registry,
        kubelet_client,
        address,
        tokens,
        token_sources,
        metrics: crate::metrics::Metrics::new(),
        authorizer,
        jwks_uri: config
            .service_account_jwks_uri
            .clone()
            .unwrap_or_else(|| format!("https://{advertise}/openid/v1/jwks")),
    });
    let url = format!("https://{}", display_host(address));
    let kubeconfig_path = config.data_dir.join("admin.kubeconfig");
    kubeconfig::write(
        &kubeconfig_path,
        &kubeconfig::render("kindling", &url, &ca.pair.cert_pem, &admin),
    )?;

    let task = tokio::spawn(accept_loop(listener, tls, server.clone()));
    Ok(RunningServer {
        address,
        kubeconfig: kubeconfig_path,
        ca_pem: ca.pair.cert_pem.clone(),
        _server: server,
        task,
    })
}

/// Runs the bootstrap and makes the addons, retrying while the store is unavailable (an etcd cluster that is still
/// electing its first leader times out writes for a few seconds) or another API server of the
/// cluster wrote the same object first (409: the bootstrap is idempotent, the next run updates
/// what the other created); other errors end the start.
async fn bootstrap_when_store_answers(
    registry: &Registry,
    advertise: SocketAddr,
    addons: &[serde_json::Value],
) -> Result<()> {
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);
    let started = std::time::Instant::now();
    loop {
        let done = match bootstrap::run(registry, advertise).await {
            Ok(()) => bootstrap::addons(registry, addons).await,
            Err(e) => Err(e),
        };
        match done {
            Ok(()) => return Ok(()),
            Err(e) if (e.code >= 500 || e.code == 409) && started.elapsed() < PATIENCE => {
                tracing::warn!("bootstrap: {e}; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(e) => anyhow::bail!("bootstrap: {e}"),
        }
    }
}

/// The configured store. Connecting to etcd waits for it (a member starting beside this server
/// may wait for its quorum), off the async workers.
async fn open_store(config: &Config) -> Result<SharedStore> {
    match &config.store {
        crate::StoreBackend::Sqlite => {
            let store = SqliteStore::open_with(
                &config.data_dir.join("store.db"),
                kindling_store::StoreOptions {
                    retain_revisions: Some(config.retain_revisions),
                    ..Default::default()
                },
            )?;
            Ok(Arc::new(store))
        }
        crate::StoreBackend::Etcd(etcd) => {
            let mut options = EtcdOptions::new(etcd.servers.clone());
            if let Some(files) = &etcd.tls {
                let read = |path: &PathBuf| {
                    std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))
                };
                options.tls = Some(EtcdTls {
                    ca_pem: read(&files.ca)?,
                    cert_pem: read(&files.cert)?,
                    key_pem: read(&files.key)?,
                });
            }
            let store = tokio::task::spawn_blocking(move || EtcdStore::connect(options))
                .await
                .context("connecting to etcd")??;
            Ok(Arc::new(store))
        }
    }
}

fn display_host(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// Names the serving certificate must carry: the in-cluster ones, localhost, the bound address.
fn serving_names(config: &Config, address: SocketAddr) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns: Vec<String> = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
    ]
    .iter()
    .map(std::string::ToString::to_string)
    .collect();
    let mut ips: Vec<IpAddr> = vec![IpAddr::from([127, 0, 0, 1])];
    if !address.ip().is_unspecified() && !ips.contains(&address.ip()) {
        ips.push(address.ip());
    }
    if let Some(ip) = config.advertise_address {
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    if let Ok(cidr) = Cidr::parse(&config.service_cidr) {
        ips.push(IpAddr::V4(cidr.nth(1)));
    }
    for san in &config.extra_sans {
        match san.parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => dns.push(san.clone()),
        }
    }
    (dns, ips)
}

/// The `--token-auth-file`, or the error that stops the server (Go's wording for a file that
/// cannot be opened).
fn read_token_file(path: &std::path::Path) -> Result<crate::tokenfile::StaticTokens> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        anyhow::anyhow!("open {shown}: {why}")
    })?;
    crate::tokenfile::StaticTokens::parse(&shown, &text).map_err(anyhow::Error::msg)
}

/// Rebuilds the ClusterIP state and records from the stored Services and runs the first node
/// port repair pass; returns the ports that pass found held by nobody (freed by later passes).
async fn rebuild_allocations(registry: &Registry) -> Result<BTreeMap<u16, u32>> {
    let services = kindling_api::catalog::builtin("", "v1", "services");
    let list = registry
        .list(services, None, &Default::default())
        .await
        .map_err(|e| anyhow::anyhow!("listing services: {e}"))?;
    let services = list["items"].as_array().map_or(&[][..], Vec::as_slice);
    registry.services.rebuild(services);
    registry
        .reconcile_addresses(services)
        .await
        .map_err(|e| anyhow::anyhow!("recording service addresses: {e}"))?;
    let mut suspects = BTreeMap::new();
    let findings = registry
        .repair_node_ports(&mut suspects)
        .await
        .map_err(|e| anyhow::anyhow!("repairing node ports: {e}"))?;
    crate::registry::nodeports::report(&findings, &registry.services.node_port_range());
    Ok(suspects)
}

async fn accept_loop(listener: TcpListener, tls: Arc<rustls::ServerConfig>, server: Arc<Server>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, _peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let server = server.clone();
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
            else {
                return;
            };
            let identity = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map_or(Identity::Anonymous, |c| Identity::from_certificate(c));
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(identity.clone());
                    let server = server.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            http::handle(server, req.map(Body::new)).await,
                        )
                    }
                },
            );
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .await;
        });
    }
}
