//! The agent's streaming endpoints (the kubelet's `/exec/{ns}/{pod}/{container}`,
//! `/attach/…` and `/portforward/{ns}/{pod}`), which the API server calls for `kubectl exec`,
//! `attach`, `cp` and `port-forward`. The agent does no streaming itself: it asks containerd
//! over CRI (`Exec`, `Attach`, `PortForward`) for a one-time URL on containerd's streaming server
//! inside this node and proxies the client's HTTP upgrade to it byte for byte, as the kubelet
//! does. containerd then speaks SPDY (or WebSocket up to v4) with the API server.

use super::reply::text;
use crate::runtime::{self, Runtime, RuntimeError};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use kindling_stream::translate::Streams;
use kindling_stream::upgrade::{self, Outcome};
use std::time::Duration;

pub(super) async fn serve(
    runtime: &dyn Runtime,
    mut req: Request<hyper::body::Incoming>,
) -> Response<Body> {
    match url_for(runtime, &req).await {
        Ok(url) => proxy(&mut req, &url).await,
        Err((status, message)) => text(status, &message),
    }
}

type Refusal = (StatusCode, String);

/// Asks containerd for the streaming URL of this request.
async fn url_for(
    runtime: &dyn Runtime,
    req: &Request<hyper::body::Incoming>,
) -> Result<String, Refusal> {
    let path = req.uri().path().to_string();
    let pairs = upgrade::query_pairs(req.uri().query().unwrap_or(""));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [verb @ ("exec" | "attach"), ns, pod, container] => {
            let streams = Streams::from_query(&pairs);
            if !(streams.stdin || streams.stdout || streams.stderr) {
                return Err((
                    StatusCode::BAD_REQUEST,
                    "you must specify at least 1 of stdin, stdout, stderr".into(),
                ));
            }
            let id = runtime
                .running_container(ns, pod, container)
                .await
                .map_err(internal)?
                // The kubelet's "container not found", which the API server shows the user.
                .ok_or_else(|| {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("container not found (\"{container}\")"),
                    )
                })?;
            let wanted = runtime::Streams {
                stdin: streams.stdin,
                stdout: streams.stdout,
                // As the kubelet: with a TTY, stderr is part of stdout.
                stderr: streams.stderr && !streams.tty,
                tty: streams.tty,
            };
            let url = if *verb == "exec" {
                let cmd: Vec<String> = pairs
                    .iter()
                    .filter(|(k, _)| k == "command")
                    .map(|(_, v)| v.clone())
                    .collect();
                if cmd.is_empty() {
                    return Err((StatusCode::BAD_REQUEST, "no command specified".into()));
                }
                runtime.exec_url(&id, cmd, wanted).await
            } else {
                runtime.attach_url(&id, wanted).await
            };
            url.map_err(internal)
        }
        ["portforward", ns, pod] => {
            let sandbox = runtime
                .ready_sandbox(ns, pod)
                .await
                .map_err(internal)?
                .ok_or_else(|| (StatusCode::NOT_FOUND, "pod does not exist".to_string()))?;
            let port = pairs
                .iter()
                .filter(|(k, _)| k == "port")
                .filter_map(|(_, v)| v.parse().ok())
                .collect();
            runtime
                .port_forward_url(&sandbox, port)
                .await
                .map_err(internal)
        }
        _ => Err((StatusCode::NOT_FOUND, "404 page not found".into())),
    }
}

fn internal(e: RuntimeError) -> Refusal {
    (StatusCode::INTERNAL_SERVER_ERROR, e.message().to_string())
}

/// Forwards the upgrade to containerd's URL; on 101 the two connections are joined.
async fn proxy(req: &mut Request<hyper::body::Incoming>, url: &str) -> Response<Body> {
    let Some((host, path)) = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('/'))
        .map(|(h, p)| (h.to_string(), format!("/{p}")))
    else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("unexpected streaming URL {url:?}"),
        );
    };
    let tcp = match tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(&host),
    )
    .await
    {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return text(StatusCode::BAD_GATEWAY, &format!("dial {host}: {e}")),
        Err(_) => {
            return text(
                StatusCode::GATEWAY_TIMEOUT,
                &format!("dial {host}: timeout"),
            )
        }
    };
    let forwarded = upgrade::forwarded_request(
        req.method(),
        &path,
        &host,
        upgrade::upgrade_headers(req.headers()),
    );
    let on_client_upgrade = hyper::upgrade::on(req);
    match upgrade::request_upgrade(tcp, forwarded).await {
        Ok(Outcome::Upgraded(headers, runtime_io)) => {
            tokio::spawn(async move {
                match on_client_upgrade.await {
                    Ok(client) => {
                        upgrade::join(hyper_util::rt::TokioIo::new(client), runtime_io).await;
                    }
                    Err(e) => tracing::debug!("client upgrade failed: {e}"),
                }
            });
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            *resp.headers_mut() = headers;
            resp
        }
        Ok(Outcome::Refused(status, headers, body)) => {
            let mut resp = Response::new(Body::from(body));
            *resp.status_mut() = status;
            if let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE) {
                resp.headers_mut()
                    .insert(axum::http::header::CONTENT_TYPE, ct.clone());
            }
            resp
        }
        Err(e) => text(
            StatusCode::BAD_GATEWAY,
            &format!("streaming server {host}: {e}"),
        ),
    }
}
