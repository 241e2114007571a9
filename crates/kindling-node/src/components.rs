//! The secure ports of the control plane's components, as kube-scheduler (:10259) and
//! kube-controller-manager (:10257) serve them: HTTPS with a serving certificate of the cluster
//! CA (names `localhost`, 127.0.0.1 and the node's IP); `/healthz`, `/livez` and `/readyz` for
//! anyone (upstream's always-allowed paths) answer `ok`; `/metrics` needs a client certificate
//! of the cluster CA (kindling's authorization lets every authenticated user read it) and is
//! upstream's 403 for anonymous callers; anything else is Go's 404.

use anyhow::{Context, Result};
use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// kube-scheduler's secure port.
pub const SCHEDULER_PORT: u16 = 10259;
/// kube-controller-manager's secure port.
pub const CONTROLLER_MANAGER_PORT: u16 = 10257;

/// What `/metrics` renders (the exposition, text format 0.0.4).
pub type Render = Arc<dyn Fn() -> Vec<u8> + Send + Sync>;

const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `component`'s port until the process ends.
pub async fn serve(
    component: &'static str,
    port: u16,
    pki_dir: &Path,
    node_ip: IpAddr,
    render: Render,
) -> Result<()> {
    let ca = kindling_pki::Ca::load_or_create(pki_dir)?;
    let serving = ca.serving_cert(
        component,
        &["localhost".into(), component.into()],
        &[IpAddr::from([127, 0, 0, 1]), node_ip],
    )?;
    let tls = kindling_pki::server_config(&ca.pair.cert_pem, &serving)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))
        .await
        .with_context(|| format!("binding :{port} for {component}"))?;
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let render = render.clone();
        tokio::spawn(async move {
            let Ok(Ok(tls)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
            else {
                return;
            };
            let authenticated = tls
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|c| !c.is_empty());
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let answer = answer(req.uri().path(), authenticated, &render);
                async move { Ok::<_, std::convert::Infallible>(answer) }
            });
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
        });
    }
}

fn answer(path: &str, authenticated: bool, render: &Render) -> Response<Body> {
    let always_allowed = matches!(path, "/healthz" | "/livez" | "/readyz")
        || ["/healthz/", "/livez/", "/readyz/"]
            .iter()
            .any(|p| path.starts_with(p));
    if always_allowed {
        return reply(StatusCode::OK, "text/plain; charset=utf-8", b"ok".to_vec());
    }
    if !authenticated {
        return forbidden(path);
    }
    match path {
        "/metrics" => reply(StatusCode::OK, METRICS_CONTENT_TYPE, render()),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            b"404 page not found\n".to_vec(),
        ),
    }
}

/// Upstream's answer when authorization refuses a non-resource path to an anonymous caller.
fn forbidden(path: &str) -> Response<Body> {
    let status = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("forbidden: User \"system:anonymous\" cannot get path \"{path}\""),
        "reason": "Forbidden", "details": {}, "code": 403,
    });
    let mut body = status.to_string().into_bytes();
    body.push(b'\n');
    let mut resp = reply(StatusCode::FORBIDDEN, "application/json", body);
    resp.headers_mut().insert(
        "X-Content-Type-Options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

fn reply(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render() -> Render {
        Arc::new(|| b"up 1\n".to_vec())
    }

    async fn text(resp: Response<Body>) -> String {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn health_for_anyone_metrics_for_the_authenticated() {
        let r = render();
        let ok = answer("/healthz", false, &r);
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(text(ok).await, "ok");
        let denied = answer("/metrics", false, &r);
        assert_eq!(denied.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            text(denied).await,
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"forbidden: User \\\"system:anonymous\\\" cannot get path \\\"/metrics\\\"\",\"reason\":\"Forbidden\",\"details\":{},\"code\":403}\n"
        );
        let metrics = answer("/metrics", true, &r);
        assert_eq!(
            metrics.headers()[header::CONTENT_TYPE],
            METRICS_CONTENT_TYPE
        );
        assert_eq!(text(metrics).await, "up 1\n");
        assert_eq!(answer("/nope", true, &r).status(), StatusCode::NOT_FOUND);
    }
}
