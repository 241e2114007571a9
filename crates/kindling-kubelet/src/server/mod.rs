//! The kubelet's :10250 server, which the API server calls: `/containerLogs/…` for `kubectl
//! logs` ([`logs`]) and `/exec/…`, `/attach/…`, `/portforward/…` for exec, attach, cp and
//! port-forward ([`streaming`]), `/metrics` and `/healthz`. Clients must present a certificate
//! from the cluster CA; the serving certificate is the node's own (the API server does not
//! verify it, as upstream's default without `--kubelet-certificate-authority`). Beside it, the
//! kubelet's healthz port: plain HTTP `/healthz` on 127.0.0.1:10248.

mod logs;
mod reply;
mod serving;
mod streaming;

use crate::metrics::Metrics;
use crate::runtime::{CriRuntime, Runtime};
use crate::Config;
use anyhow::{Context, Result};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use reply::text;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub const PORT: u16 = 10250;
/// Upstream's `healthzPort`, on `healthzBindAddress` 127.0.0.1.
pub const HEALTHZ_PORT: u16 = 10248;

/// Serves logs, streams and metrics on 0.0.0.0:10250 (and `/healthz` on 127.0.0.1:10248)
/// until the process ends.
pub async fn serve(config: &Config, client: kube::Client, metrics: Arc<Metrics>) -> Result<()> {
    tokio::spawn(async {
        if let Err(e) = serve_healthz().await {
            tracing::warn!("kubelet healthz port: {e:#}");
        }
    });
    // The acceptor of new connections; a renewed certificate replaces it, open connections
    // keep the session they have. With `serverTLSBootstrap` there is none until the serving
    // certificate is issued: the port listens from the start and every handshake fails, as
    // upstream's kubelet answers ("no serving certificate available for the kubelet").
    let current: Arc<std::sync::RwLock<tokio_rustls::TlsAcceptor>> =
        Arc::new(std::sync::RwLock::new(serving::without_certificate()?));
    if config.server_tls_bootstrap {
        let (current, config, client) = (current.clone(), config.clone(), client.clone());
        tokio::spawn(async move {
            let client_ca = config.client_ca_pem.clone();
            let install = move |pair: &kindling_pki::CertPair| match kindling_pki::server_config(
                &client_ca, pair,
            ) {
                Ok(tls) => {
                    if let Ok(mut acceptor) = current.write() {
                        *acceptor = tokio_rustls::TlsAcceptor::from(tls);
                    }
                }
                Err(e) => tracing::warn!("kubelet serving certificate: {e:#}"),
            };
            let first = serving::requested(&client, &config).await;
            install(&first);
            serving::keep_renewed(client, config, first, install).await;
        });
    } else {
        let dir = tempfile_dir()?;
        let local_ca = kindling_pki::Ca::load_or_create(&dir)?;
        let serving =
            local_ca.serving_cert("kindling-node", &["localhost".into()], &[config.node_ip])?;
        let tls = kindling_pki::server_config(&config.client_ca_pem, &serving)?;
        if let Ok(mut acceptor) = current.write() {
            *acceptor = tokio_rustls::TlsAcceptor::from(tls);
        }
    }
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], PORT)))
        .await
        .context("binding :10250")?;
    let runtime: Arc<dyn Runtime> = Arc::new(CriRuntime::new(&config.runtime_endpoint)?);
    loop {
        let Ok((tcp, peer)) = listener.accept().await else {
            continue;
        };
        let Ok(acceptor) = current.read().map(|a| a.clone()) else {
            continue;
        };
        let runtime = runtime.clone();
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        let why = serving::handshake_error(&e);
                        tracing::info!("http: TLS handshake error from {peer}: {why}");
                        return;
                    }
                    Err(_) => return,
                };
            let authenticated = tls
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|c| !c.is_empty());
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let runtime = runtime.clone();
                let metrics = metrics.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(if !authenticated {
                        text(StatusCode::UNAUTHORIZED, "Unauthorized")
                    } else {
                        route(runtime, &metrics, req).await
                    })
                }
            });
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
        });
    }
}

/// `/metrics`, `/healthz`, the streaming endpoints by their prefix; everything else is the log
/// endpoint's (which answers 404 to what it does not know).
async fn route(
    runtime: Arc<dyn Runtime>,
    metrics: &Metrics,
    req: Request<hyper::body::Incoming>,
) -> Response<Body> {
    let path = req.uri().path();
    match path {
        "/metrics" => return metrics_reply(metrics),
        "/healthz" => return text(StatusCode::OK, "ok"),
        _ => {}
    }
    let streaming = ["/exec/", "/attach/", "/portforward/"]
        .iter()
        .any(|p| path.starts_with(p));
    if streaming {
        streaming::serve(runtime.as_ref(), req).await
    } else {
        logs::serve(runtime, req).await
    }
}

fn metrics_reply(metrics: &Metrics) -> Response<Body> {
    let mut resp = Response::new(Body::from(metrics.render()));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    resp
}

/// Plain HTTP `GET /healthz` → `ok` on 127.0.0.1:10248, for probes inside the node.
async fn serve_healthz() -> Result<()> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], HEALTHZ_PORT)))
        .await
        .context("binding 127.0.0.1:10248")?;
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(|req: Request<hyper::body::Incoming>| async move {
                    Ok::<_, std::convert::Infallible>(match req.uri().path() {
                        "/healthz" => text(StatusCode::OK, "ok"),
                        _ => text(StatusCode::NOT_FOUND, "404 page not found"),
                    })
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                .await;
        });
    }
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = PathBuf::from("/var/lib/kindling/agent-pki");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
