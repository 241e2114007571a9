//! kindling-apiserver: the Kubernetes API server of a kindling cluster.
//!
//! [`start`] brings up HTTPS on the configured address with the cluster PKI, opens the store and
//! serves every resource of `kindling_api::catalog` through the generic registry. Request flow:
//! TLS → identity from the client certificate or a bearer token (`auth`) → `http::handle`
//! (filters, path parsing by `request`, routing) → discovery / OpenAPI / the registry → store.
//!
//! The public surface is what other crates use: [`start`], [`Config`], [`RunningServer`],
//! [`KUBERNETES_VERSION`], the [`pki`], [`tls`] and [`kubeconfig`] helpers, and the service
//! account token types. Everything else is private to the crate.

// ApiError carries a whole Status (message, causes, details); requests fail rarely and do IO, so
// its size on the error path does not matter.
#![allow(clippy::result_large_err)]

mod admission;
mod admission_ingress;
mod admission_limits;
mod admission_noderestriction;
mod admission_quota;
mod admission_serviceaccount;
mod admission_storage;
mod apply;
mod auth;
mod authz;
mod bootstrap;
mod bootstraptoken;
mod cacher;
mod conversion;
mod crds;
mod discovery;
mod flowcontrol;
mod http;
/// Used by kindling-cluster (`kubeconfig::render`) for the kubeconfigs it writes.
pub mod kubeconfig;
mod masterleases;
mod metrics;
mod namespaces;
mod nodeports;
mod openapi;
pub mod pki;
mod registry;
mod request;
mod serve;
mod services;
mod tls;
mod tokenfile;
mod tokens;

use anyhow::{Context, Result};
use registry::Registry;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;

pub use serve::{start, RunningServer};
/// Service account tokens as this server signs them (tests forge expired ones).
pub use tokens::{ObjectRef, TokenGrant, TokenIssuer, DEFAULT_ISSUER};

/// The Kubernetes version this server speaks.
pub use kindling_api::KUBERNETES_VERSION;

/// How to run a server.
#[derive(Clone, Debug)]
pub struct Config {
    /// Holds `pki/`, the store and `admin.kubeconfig`.
    pub data_dir: PathBuf,
    /// Where to listen; port 0 picks a free one.
    pub bind: SocketAddr,
    /// Extra names and addresses for the serving certificate.
    pub extra_sans: Vec<String>,
    /// The Service IP range (first address is the `kubernetes` Service).
    pub service_cidr: String,
    pub node_port_range: std::ops::RangeInclusive<u16>,
    /// How often the node port record is repaired against the stored Services (upstream's
    /// 3 minutes; a leaked port is freed on the third pass that finds nobody holds it).
    pub node_port_repair_interval: std::time::Duration,
    /// The address other nodes and the `kubernetes` Service's Endpoints use to reach this server
    /// (defaults to the bound address, or 127.0.0.1 when bound to all interfaces).
    pub advertise_address: Option<std::net::IpAddr>,
    /// Where the cluster CA lives when it is shared with other nodes (default `<data_dir>/pki`).
    pub pki_dir: Option<PathBuf>,
    /// Revisions of history the store keeps for watches and paged lists (older ones get 410).
    pub retain_revisions: i64,
    /// Events queued per watch for a client that does not keep up; once the queue is full the
    /// server waits for it within upstream's time budget, then ends the watch.
    pub watch_queue: usize,
    /// `--enable-admission-plugins` / `--disable-admission-plugins`.
    pub admission: kindling_api::admission::AdmissionFlags,
    /// `--token-auth-file`: static bearer tokens (CSV `token,user,uid,"group1,group2"`).
    pub token_auth_file: Option<PathBuf>,
    /// `--enable-bootstrap-token-auth` (kubeadm turns it on, so kind's clusters have it).
    pub bootstrap_token_auth: bool,
    /// `--authorization-mode` (kubeadm's `Node,RBAC`; `AlwaysAllow` lets everyone do
    /// everything, as the benchmark's comparison run does).
    pub authorization_mode: String,
    /// Objects the cluster has from its first second, made (when missing) before the server
    /// serves: what kubeadm's and kind's installers apply for the components (their service
    /// accounts, ClusterRoles and bindings), so none of them ever meets a 403 at start.
    pub addons: Vec<serde_json::Value>,
    /// `--service-account-issuer` (kubeadm's default when `None`).
    pub service_account_issuer: Option<String>,
    /// `--api-audiences` (default: the issuer).
    pub api_audiences: Vec<String>,
    /// `--service-account-jwks-uri` (default `https://<advertised address>/openid/v1/jwks`).
    pub service_account_jwks_uri: Option<String>,
    /// Where objects are kept: the embedded SQLite file (`<data_dir>/store.db`) or etcd.
    pub store: StoreBackend,
}

/// The store behind the server (kube-apiserver's `--etcd-servers` and friends choose etcd).
#[derive(Clone, Debug, Default)]
pub enum StoreBackend {
    #[default]
    Sqlite,
    Etcd(EtcdBackend),
}

#[derive(Clone, Debug)]
pub struct EtcdBackend {
    /// `--etcd-servers`: client URLs; a stacked control plane names only its own member.
    pub servers: Vec<String>,
    /// `--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`.
    pub tls: Option<EtcdTlsFiles>,
}

#[derive(Clone, Debug)]
pub struct EtcdTlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Config {
    pub fn local(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            extra_sans: Vec::new(),
            service_cidr: "10.96.0.0/12".into(),
            node_port_range: 30000..=32767,
            node_port_repair_interval: std::time::Duration::from_secs(180),
            advertise_address: None,
            pki_dir: None,
            retain_revisions: 10_000,
            watch_queue: 1_000,
            admission: Default::default(),
            token_auth_file: None,
            bootstrap_token_auth: true,
            authorization_mode: "Node,RBAC".into(),
            store: StoreBackend::Sqlite,
            addons: Vec::new(),
            service_account_issuer: None,
            api_audiences: Vec::new(),
            service_account_jwks_uri: None,
        }
    }
}

/// Shared state of a running server.
pub(crate) struct Server {
    pub registry: Registry,
    /// The certificate the server presents to node agents (`pods/log`).
    pub kubelet_client: pki::CertPair,
    pub address: SocketAddr,
    /// Signs and verifies service account tokens.
    pub tokens: tokens::TokenIssuer,
    /// The token file's and bootstrap tokens.
    pub token_sources: auth::TokenSources,
    /// What `/metrics` reports.
    pub metrics: metrics::Metrics,
    /// Who may do what (`--authorization-mode`).
    pub authorizer: std::sync::Arc<authz::Authorizer>,
    /// Where issuer discovery says the keys are (`--service-account-jwks-uri`).
    pub jwks_uri: String,
}

impl Server {
    /// The address clients reach this server at, as discovery reports it.
    pub fn advertise_address(&self) -> String {
        self.address.to_string()
    }
}

/// `/version`.
pub(crate) fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "35",
        "gitVersion": KUBERNETES_VERSION,
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

pub(crate) fn ensure_dir(p: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))
}
