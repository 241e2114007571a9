//! `pods/<name>/log`: the API server asks the pod's node agent (`:10250/containerLogs/…`) with
//! its kubelet-client certificate and streams the answer back, as upstream's apiserver does.
//! The agent's serving certificate is not verified, as upstream's default without
//! `--kubelet-certificate-authority`.

use super::decode::{self, Call};
use crate::Server;
use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use kindling_api::ApiError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::sync::Arc;

pub const AGENT_PORT: u16 = 10250;

/// Where a pod's container lives: what logs, exec and attach address on the node's agent.
pub struct Target {
    pub container: String,
    pub node_ip: String,
}

impl Target {
    /// The pod's container (`requested`, or the only one) and its node's InternalIP, with
    /// upstream's errors: unknown container, several to choose from, no node assigned yet.
    pub async fn resolve(
        server: &Arc<Server>,
        ns: &str,
        name: &str,
        requested: Option<&str>,
    ) -> Result<Target, ApiError> {
        let pods = kindling_api::catalog::builtin("", "v1", "pods");
        let pod = server.registry.get(pods, Some(ns), name).await?;
        let names = |field: &str| -> Vec<String> {
            pod["spec"][field]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let containers = names("containers");
        let container = match requested {
            Some(c) => {
                let known = containers.iter().any(|n| n == c)
                    || names("initContainers").iter().any(|n| n == c)
                    || names("ephemeralContainers").iter().any(|n| n == c);
                if !known {
                    return Err(ApiError::bad_request(format!(
                        "container {c} is not valid for pod {name}"
                    )));
                }
                c.to_string()
            }
            None if containers.len() == 1 => containers[0].clone(),
            None => {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    containers.join(" ")
                )))
            }
        };
        let node_ip = node_ip_of(server, &pod, name).await?;
        Ok(Target { container, node_ip })
    }
}

/// The InternalIP of the node the pod is bound to.
pub async fn node_ip_of(
    server: &Arc<Server>,
    pod: &serde_json::Value,
    name: &str,
) -> Result<String, ApiError> {
    let node_name = pod["spec"]["nodeName"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!("pod {name} does not have a host assigned"))
        })?;
    let nodes = kindling_api::catalog::builtin("", "v1", "nodes");
    let node = server.registry.get(nodes, None, node_name).await?;
    node["status"]["addresses"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["type"] == "InternalIP"))
        .and_then(|x| x["address"].as_str())
        .map(str::to_string)
        .ok_or_else(|| ApiError::service_unavailable(format!("node {node_name} has no InternalIP")))
}

pub async fn serve(
    server: &Arc<Server>,
    ns: &str,
    name: &str,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    decode::log_options(&call.query, name)?;
    let target = Target::resolve(server, ns, name, call.query.get("container")).await?;
    let (container, ip) = (target.container, target.node_ip);
    let query: Vec<String> = decode::log_query(&call.query)
        .into_iter()
        .map(|(key, v)| format!("{key}={}", query_escape(&v)))
        .collect();
    let path = format!("/containerLogs/{ns}/{name}/{container}?{}", query.join("&"));
    let upstream = fetch(server, &ip, &path)
        .await
        .map_err(|e| ApiError::internal(format!("Get \"https://{ip}:{AGENT_PORT}{path}\": {e}")))?;
    let status = upstream.status();
    let body = Body::new(upstream.into_body());
    let mut resp = Response::new(body);
    *resp.status_mut() = if status.is_success() {
        StatusCode::OK
    } else {
        status
    };
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    if !status.is_success() {
        // The agent's message (e.g. no logs yet) as a Status, so kubectl prints it.
        let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        return Err(ApiError::bad_request(
            String::from_utf8_lossy(&bytes).trim().to_string(),
        ));
    }
    Ok(resp)
}

async fn fetch(
    server: &Arc<Server>,
    ip: &str,
    path: &str,
) -> anyhow::Result<hyper::Response<hyper::body::Incoming>> {
    let tls = connect_agent(server, ip).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header("Host", ip)
        .body(axum::body::Body::empty())?;
    Ok(sender.send_request(req).await?)
}

/// A TLS connection to the agent at `ip`, authenticated with the kubelet-client certificate.
pub async fn connect_agent(
    server: &Arc<Server>,
    ip: &str,
) -> anyhow::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let client_cert = &server.kubelet_client;
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(client_cert.cert_pem.as_bytes())
            .collect::<Result<_, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(client_cert.key_pem.as_bytes())?;
    let config = crate::tls::unverified_client(Some((certs, key)))?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tcp = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::net::TcpStream::connect((ip, AGENT_PORT)),
    )
    .await??;
    Ok(connector
        .connect(ServerName::try_from(ip.to_string())?, tcp)
        .await?)
}

/// A decoded query value escaped again for the agent's URL (sinceTime's `:` and `+`).
fn query_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
