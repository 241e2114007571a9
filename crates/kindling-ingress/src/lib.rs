//! kindling-ingress: the ingress controller, what ingress-nginx does in a kind cluster, offline.
//!
//! [`routes`] turns Ingresses, IngressClasses, Services and EndpointSlices into a routing table
//! and [`annotations`] reads the ingress-nginx annotations kindling honours (both pure, table
//! tested); [`certs`] picks certificates by SNI from TLS Secrets (pure) with a self-signed
//! default; [`watch`] keeps table and certificates current from the API server and writes
//! status and events; [`proxy`] serves HTTP/1.1, HTTP/2 and WebSocket upgrades from them.
//! `kindling node` runs one ([`run`]) on every node labelled `ingress-ready=true` (else on the
//! control-plane node), on the node's ports 80 and 443. [`gateway`] serves the Gateway API
//! (Gateways of the GatewayClass `kindling`, HTTPRoutes, GRPCRoutes) through the same proxy.

pub mod annotations;
pub mod certs;
pub mod gateway;
pub mod proxy;
pub mod routes;
pub mod watch;

use anyhow::Context;
use arc_swap::ArcSwap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Where the controller's pods are shown (its own namespace, as ingress-nginx has
/// `ingress-nginx`; not that one, which belongs to a real ingress-nginx a user may install).
pub const NAMESPACE: &str = "ingress-kindling";
/// The annotation that makes an IngressClass the default.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// Where and how a node's ingress controller runs.
#[derive(Clone, Debug)]
pub struct Config {
    pub node_name: String,
    pub http: SocketAddr,
    pub https: SocketAddr,
    /// What served Ingresses show in `status.loadBalancer.ingress` (`localhost`, as kind's
    /// ingress-nginx manifest publishes).
    pub status_address: String,
}

/// A running controller's parts: what the proxy reads, and the addresses bound.
pub struct Running {
    pub published: Arc<ArcSwap<routes::Table>>,
    pub http: SocketAddr,
    pub https: SocketAddr,
}

/// Binds the listeners and starts serving from an empty table (every request a 404 until the
/// first sync); the returned parts are what [`watch::run`] keeps current.
pub async fn serve(
    config: &Config,
) -> anyhow::Result<(Running, watch::Published, Arc<rustls::sign::CertifiedKey>)> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let table = Arc::new(ArcSwap::from_pointee(routes::Table::default()));
    let default_cert = Arc::new(certs::default_certificate()?);
    let certs = Arc::new(ArcSwap::from_pointee(certs::Certificates::only_default(
        default_cert.clone(),
    )));
    let http = tokio::net::TcpListener::bind(config.http)
        .await
        .with_context(|| format!("binding {}", config.http))?;
    let https = tokio::net::TcpListener::bind(config.https)
        .await
        .with_context(|| format!("binding {}", config.https))?;
    let (http_addr, https_addr) = (http.local_addr()?, https.local_addr()?);
    let proxy = Arc::new(proxy::Proxy::new(
        table.clone(),
        http_addr.port(),
        https_addr.port(),
    )?);
    tokio::spawn(proxy::serve_http(http, proxy.clone()));
    tokio::spawn(proxy::serve_https(
        https,
        proxy,
        proxy::tls_config(certs.clone())?,
    ));
    Ok((
        Running {
            published: table.clone(),
            http: http_addr,
            https: https_addr,
        },
        watch::Published { table, certs },
        default_cert,
    ))
}

/// Serves Ingresses on a node: binds, then keeps the table current from the API server. (The
/// namespace and the default IngressClass are made by `kindling create cluster`, with the
/// admin's rights: the node's identity may only read them.)
pub async fn run(client: kube::Client, config: Config) -> anyhow::Result<()> {
    let (running, published, default_cert) = serve(&config).await?;
    tracing::info!(
        "ingress: serving on {} and {} (TLS)",
        running.http,
        running.https
    );
    let recorder = kindling_events::Recorder::spawn(
        client.clone(),
        kindling_events::Reporter {
            component: "kindling-ingress-controller".into(),
            host: Some(config.node_name.clone()),
            instance: format!("ingress-controller-{}", config.node_name),
        },
        4,
    );
    watch::run(
        client,
        published,
        default_cert,
        watch::Reporting {
            recorder,
            status_address: config.status_address.clone(),
            http_port: running.http.port(),
            https_port: running.https.port(),
        },
    )
    .await;
    Ok(())
}

/// The IngressClass `kindling`, the default class, as ingress-nginx's manifest installs its
/// class (`kindling create cluster` creates it, and the namespace [`NAMESPACE`]).
pub fn default_class() -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
        "metadata": {
            "name": routes::CLASS,
            "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
            "labels": {"app.kubernetes.io/name": NAMESPACE,
                       "app.kubernetes.io/component": "controller"},
        },
        "spec": {"controller": routes::CONTROLLER},
    })
}
