//! The agent's streaming endpoints (the kubelet's `/exec/{ns}/{pod}/{container}`,
//! `/attach/…` and `/portforward/{ns}/{pod}`), which the API server calls for `kubectl exec`,
//! `attach`, `cp` and `port-forward`. The agent does no streaming itself: it asks containerd
//! over CRI (`Exec`, `Attach`, `PortForward`) for a one-time URL on containerd's streaming server
//! inside this node and proxies the client's HTTP upgrade to it byte for byte, as the kubelet
//! does. containerd then speaks SPDY (or WebSocket up to v4) with the API server.

use super::reply::text;
use crate::pods::cri::{Cri, LABEL_CONTAINER_NAME, LABEL_POD_NAME, LABEL_POD_NAMESPACE};
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use k8s_cri::v1 as cri;
use kindling_stream::translate::Streams;
use kindling_stream::upgrade::{self, Outcome};
use std::collections::HashMap;
use std::time::Duration;

pub(super) async fn serve(cri: &Cri, mut req: Request<hyper::body::Incoming>) -> Response<Body> {
    match url_for(cri, &req).await {
        Ok(url) => proxy(&mut req, &url).await,
        Err((status, message)) => text(status, &message),
    }
}

type Refusal = (StatusCode, String);

/// Asks containerd for the streaming URL of this request.
async fn url_for(cri: &Cri, req: &Request<hyper::body::Incoming>) -> Result<String, Refusal> {
    let path = req.uri().path().to_string();
    let pairs = upgrade::query_pairs(req.uri().query().unwrap_or(""));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut rt = cri.runtime.clone();
    let internal = |e: tonic::Status| (StatusCode::INTERNAL_SERVER_ERROR, e.message().to_string());
    match parts.as_slice() {
        [verb @ ("exec" | "attach"), ns, pod, container] => {
            let streams = Streams::from_query(&pairs);
            if !(streams.stdin || streams.stdout || streams.stderr) {
                return Err((
                    StatusCode::BAD_REQUEST,
                    "you must specify at least 1 of stdin, stdout, stderr".into(),
                ));
            }
            let id = running_container(cri, ns, pod, container).await?;
            // As the kubelet: with a TTY, stderr is part of stdout.
            let stderr = streams.stderr && !streams.tty;
            let url = if *verb == "exec" {
                let cmd: Vec<String> = pairs
                    .iter()
                    .filter(|(k, _)| k == "command")
                    .map(|(_, v)| v.clone())
                    .collect();
                if cmd.is_empty() {
                    return Err((StatusCode::BAD_REQUEST, "no command specified".into()));
                }
                rt.exec(cri::ExecRequest {
                    container_id: id,
                    cmd,
                    tty: streams.tty,
                    stdin: streams.stdin,
                    stdout: streams.stdout,
                    stderr,
                })
                .await
                .map_err(internal)?
                .into_inner()
                .url
            } else {
                rt.attach(cri::AttachRequest {
                    container_id: id,
                    stdin: streams.stdin,
                    tty: streams.tty,
                    stdout: streams.stdout,
                    stderr,
                })
                .await
                .map_err(internal)?
                .into_inner()
                .url
            };
            Ok(url)
        }
        ["portforward", ns, pod] => {
            let sandbox = ready_sandbox(cri, ns, pod).await?;
            let port = pairs
                .iter()
                .filter(|(k, _)| k == "port")
                .filter_map(|(_, v)| v.parse().ok())
                .collect();
            let url = rt
                .port_forward(cri::PortForwardRequest {
                    pod_sandbox_id: sandbox,
                    port,
                })
                .await
                .map_err(internal)?
                .into_inner()
                .url;
            Ok(url)
        }
        _ => Err((StatusCode::NOT_FOUND, "404 page not found".into())),
    }
}

fn pod_labels(ns: &str, pod: &str) -> HashMap<String, String> {
    [
        (LABEL_POD_NAMESPACE.to_string(), ns.to_string()),
        (LABEL_POD_NAME.to_string(), pod.to_string()),
    ]
    .into()
}

/// The newest running container `name` of the pod (the kubelet's "container not found" when
/// there is none, which the API server shows the user).
async fn running_container(cri: &Cri, ns: &str, pod: &str, name: &str) -> Result<String, Refusal> {
    let mut labels = pod_labels(ns, pod);
    labels.insert(LABEL_CONTAINER_NAME.to_string(), name.to_string());
    let mut rt = cri.runtime.clone();
    let list = rt
        .list_containers(cri::ListContainersRequest {
            filter: Some(cri::ContainerFilter {
                state: Some(cri::ContainerStateValue {
                    state: cri::ContainerState::ContainerRunning as i32,
                }),
                label_selector: labels,
                ..Default::default()
            }),
        })
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.message().to_string()))?
        .into_inner();
    list.containers
        .into_iter()
        .max_by_key(|c| c.created_at)
        .map(|c| c.id)
        .ok_or_else(|| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("container not found (\"{name}\")"),
            )
        })
}

async fn ready_sandbox(cri: &Cri, ns: &str, pod: &str) -> Result<String, Refusal> {
    let mut rt = cri.runtime.clone();
    let list = rt
        .list_pod_sandbox(cri::ListPodSandboxRequest {
            filter: Some(cri::PodSandboxFilter {
                state: Some(cri::PodSandboxStateValue {
                    state: cri::PodSandboxState::SandboxReady as i32,
                }),
                label_selector: pod_labels(ns, pod),
                ..Default::default()
            }),
        })
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.message().to_string()))?
        .into_inner();
    list.items
        .into_iter()
        .max_by_key(|s| s.created_at)
        .map(|s| s.id)
        .ok_or_else(|| (StatusCode::NOT_FOUND, "pod does not exist".to_string()))
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
                        upgrade::join(hyper_util::rt::TokioIo::new(client), runtime_io).await
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
