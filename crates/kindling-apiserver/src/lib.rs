//! kindling-apiserver: the Kubernetes API server of a kindling cluster.
//!
//! [`start`] brings up HTTPS on the configured address with the cluster PKI, opens the store and
//! serves every resource of `kindling_api::catalog` through the generic [`registry`]. Request flow:
//! TLS → identity from the client certificate or a bearer token ([`auth`]) → [`http::handle`] → path parsing
//! ([`request`]) → discovery / OpenAPI / the registry → store.

// ApiError carries a whole Status (message, causes, details); requests fail rarely and do IO, so
// its size on the error path does not matter.
#![allow(clippy::result_large_err)]

pub mod admission;
pub mod apply;
pub mod auth;
pub mod bootstrap;
pub mod discovery;
pub mod http;
pub mod kubeconfig;
pub mod namespaces;
pub mod openapi;
pub mod options;
pub mod pki;
pub mod registry;
pub mod request;
pub mod serve;
pub mod services;
mod tls;
pub mod tokens;

use anyhow::{Context, Result};
use registry::Registry;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;

pub use serve::{start, RunningServer};

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
    /// The address other nodes and the `kubernetes` Service's Endpoints use to reach this server
    /// (defaults to the bound address, or 127.0.0.1 when bound to all interfaces).
    pub advertise_address: Option<std::net::IpAddr>,
    /// Where the cluster CA lives when it is shared with other nodes (default `<data_dir>/pki`).
    pub pki_dir: Option<PathBuf>,
    /// Revisions of history the store keeps for watches and paged lists (older ones get 410).
    pub retain_revisions: i64,
}

impl Config {
    pub fn local(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            extra_sans: Vec::new(),
            service_cidr: "10.96.0.0/12".into(),
            node_port_range: 30000..=32767,
            advertise_address: None,
            pki_dir: None,
            retain_revisions: 10_000,
        }
    }
}

/// Shared state of a running server.
pub struct Server {
    pub registry: Registry,
    /// The certificate the server presents to node agents (`pods/log`).
    pub kubelet_client: pki::CertPair,
    pub config: Config,
    pub address: SocketAddr,
    /// Signs and verifies service account tokens.
    pub tokens: tokens::TokenIssuer,
}

impl Server {
    /// The address clients reach this server at, as discovery reports it.
    pub fn advertise_address(&self) -> String {
        self.address.to_string()
    }
}

/// `/version`.
pub fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "33",
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
