//! `pods/<name>/exec`, `attach` and `portforward`: the connection is upgraded and carried to the
//! pod's node agent (`:10250/exec/…`, which hands it on to containerd), as upstream's API server
//! does:
//! - WebSocket `v5.channel.k8s.io` (or `v4`) for exec/attach, what kubectl tries first, is
//!   terminated here and translated into a SPDY session with the agent (containerd has no v5);
//! - WebSocket `SPDY/3.1+portforward.k8s.io` (kubectl port-forward) is unwrapped into the raw
//!   SPDY bytes of a plain SPDY upgrade to the agent;
//! - anything else that upgrades (SPDY/3.1, kubectl's fallback) is proxied byte for byte.
//!
//! Failures before the upgrade are Status responses (kubectl then falls back or prints them);
//! after a WebSocket handshake they arrive on the error channel, worded like upstream's.

use super::decode::{self, Call, Query};
use super::logs::{connect_agent, node_ip_of, Target};
use crate::Server;
use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use hyper_util::rt::TokioIo;
use kindling_api::catalog::Subresource;
use kindling_api::ApiError;
use kindling_stream::tokio_tungstenite::tungstenite::protocol::Role;
use kindling_stream::tokio_tungstenite::WebSocketStream;
use kindling_stream::translate::{self, Streams};
use kindling_stream::upgrade::{self, Outcome, Wanted};
use std::sync::Arc;

pub async fn serve(
    server: &Arc<Server>,
    ns: &str,
    name: &str,
    sub: Subresource,
    mut call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let wanted = upgrade::wanted(&call.headers);
    let on_upgrade = call.upgrade.take();
    let (Some(on_upgrade), false) = (on_upgrade, wanted == Wanted::None) else {
        return Err(ApiError::bad_request("Upgrade request required"));
    };
    let (agent_path, ip) = agent_target(server, ns, name, sub, &call.query).await?;
    let server = server.clone();
    match (sub, wanted) {
        (Subresource::Exec | Subresource::Attach, Wanted::WebSocket(offers)) => {
            let Some(protocol) = [upgrade::V5_CHANNEL, upgrade::V4_CHANNEL]
                .into_iter()
                .find(|p| offers.iter().any(|o| o == p))
            else {
                return proxy(&server, &ip, &agent_path, call, on_upgrade).await;
            };
            let accept = upgrade::websocket_accept::<Body>(&call.headers, protocol)
                .ok_or_else(|| ApiError::bad_request("missing Sec-WebSocket-Key"))?;
            let streams = decode::remote_command_streams(&call.query);
            let v5 = protocol == upgrade::V5_CHANNEL;
            tokio::spawn(async move {
                let Ok(client) = on_upgrade.await else { return };
                let ws = WebSocketStream::from_raw_socket(TokioIo::new(client), Role::Server, None)
                    .await;
                translate_remote_command(&server, &ip, &agent_path, ws, v5, streams).await;
            });
            Ok(accept)
        }
        (Subresource::PortForward, Wanted::WebSocket(offers))
            if offers
                .iter()
                .any(|o| o.starts_with(upgrade::SPDY_TUNNEL_PREFIX)) =>
        {
            let spdy_protocols: Vec<&str> = offers
                .iter()
                .filter_map(|o| o.strip_prefix(upgrade::SPDY_TUNNEL_PREFIX))
                .collect();
            let headers = call.headers.clone();
            let outcome = upgrade_agent(&server, &ip, &agent_path, &spdy_protocols).await?;
            match outcome {
                Outcome::Upgraded(agent_headers, agent_io) => {
                    let chosen = agent_headers
                        .get(upgrade::PROTOCOL_VERSION)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or(upgrade::PORT_FORWARD);
                    let protocol = format!("{}{chosen}", upgrade::SPDY_TUNNEL_PREFIX);
                    let accept = upgrade::websocket_accept::<Body>(&headers, &protocol)
                        .ok_or_else(|| ApiError::bad_request("missing Sec-WebSocket-Key"))?;
                    tokio::spawn(async move {
                        let Ok(client) = on_upgrade.await else { return };
                        let ws = WebSocketStream::from_raw_socket(
                            TokioIo::new(client),
                            Role::Server,
                            None,
                        )
                        .await;
                        if let Err(e) = translate::tunnel(ws, agent_io).await {
                            tracing::debug!("port-forward tunnel ended: {e}");
                        }
                    });
                    Ok(accept)
                }
                Outcome::Refused(status, headers, body) => Ok(refused(status, &headers, body)),
            }
        }
        _ => proxy(&server, &ip, &agent_path, call, on_upgrade).await,
    }
}

/// PodPortForwardOptions' `ports` (and the kubelet's `port`, which kubectl's tunnel may carry)
/// as the kubelet reads them: `port=` once per port.
fn forward_ports(query: &Query) -> String {
    let mut q = form_query();
    for (_, v) in query
        .pairs
        .iter()
        .filter(|(k, _)| k == "ports" || k == "port")
    {
        q.append_pair("port", v);
    }
    q.finish()
}

/// The agent's path for this request and the node's address, after upstream's checks.
async fn agent_target(
    server: &Arc<Server>,
    ns: &str,
    name: &str,
    sub: Subresource,
    query: &Query,
) -> Result<(String, String), ApiError> {
    match sub {
        Subresource::PortForward => {
            let pods = kindling_api::catalog::builtin("", "v1", "pods");
            let pod = server.registry.get(pods, Some(ns), name).await?;
            let ip = node_ip_of(server, &pod, name).await?;
            Ok((
                format!("/portforward/{ns}/{name}?{}", forward_ports(query)),
                ip,
            ))
        }
        _ => {
            let target = Target::resolve(server, ns, name, query.get("container")).await?;
            let verb = sub.path();
            if sub == Subresource::Exec && !query.pairs.iter().any(|(k, _)| k == "command") {
                return Err(ApiError::bad_request("you must specify a command"));
            }
            // The streams as upstream's streamParams sends them to the kubelet (its names,
            // `1` when asked for), then the command's words in order.
            let streams = decode::remote_command_streams(query);
            let mut q = form_query();
            for (key, on) in [
                ("input", streams.stdin),
                ("output", streams.stdout),
                ("error", streams.stderr),
                ("tty", streams.tty),
            ] {
                if on {
                    q.append_pair(key, "1");
                }
            }
            if sub == Subresource::Exec {
                for (k, v) in query.pairs.iter().filter(|(k, _)| k == "command") {
                    q.append_pair(k, v);
                }
            }
            Ok((
                format!("/{verb}/{ns}/{name}/{}?{}", target.container, q.finish()),
                target.node_ip,
            ))
        }
    }
}

fn form_query() -> form_urlencoded::Serializer<'static, String> {
    form_urlencoded::Serializer::new(String::new())
}

/// A SPDY upgrade to the agent offering `protocols`.
async fn upgrade_agent(
    server: &Arc<Server>,
    ip: &str,
    path: &str,
    protocols: &[&str],
) -> Result<Outcome, ApiError> {
    let io = connect_agent(server, ip)
        .await
        .map_err(|e| dial_error(ip, e))?;
    upgrade::request_upgrade(io, upgrade::spdy_request(path, ip, protocols))
        .await
        .map_err(|e| dial_error(ip, e))
}

fn dial_error(ip: &str, e: anyhow::Error) -> ApiError {
    ApiError::internal(format!("error dialing backend: dial tcp {ip}:10250: {e}"))
}

/// exec/attach over v5/v4 WebSocket: a SPDY v4 session with the agent, bridged.
async fn translate_remote_command<C>(
    server: &Arc<Server>,
    ip: &str,
    path: &str,
    ws: WebSocketStream<C>,
    v5: bool,
    streams: Streams,
) where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match upgrade_agent(server, ip, path, &[upgrade::V4_CHANNEL]).await {
        Ok(Outcome::Upgraded(_, agent_io)) => {
            if let Err(e) = translate::remote_command(ws, v5, streams, agent_io).await {
                tracing::debug!("remote command stream ended: {e}");
            }
        }
        Ok(Outcome::Refused(_, _, body)) => {
            // As client-go's SPDY dialer: a Status body is the error itself, anything else
            // becomes "unable to upgrade connection: <body>", an internal error.
            let status = match serde_json::from_slice::<serde_json::Value>(&body) {
                Ok(v) if v["kind"] == "Status" => body.to_vec(),
                _ => translate::failure_status(
                    500,
                    "InternalError",
                    &format!(
                        "Internal error occurred: unable to upgrade connection: {}",
                        String::from_utf8_lossy(&body).trim()
                    ),
                ),
            };
            translate::report(ws, status).await;
        }
        Err(e) => {
            translate::report(
                ws,
                translate::failure_status(500, "InternalError", &e.message),
            )
            .await;
        }
    }
}

/// Byte-for-byte: the client's upgrade request goes to the agent, its answer comes back, and
/// on 101 the two connections are joined.
async fn proxy(
    server: &Arc<Server>,
    ip: &str,
    path: &str,
    call: Call<'_>,
    on_upgrade: hyper::upgrade::OnUpgrade,
) -> Result<Response<Body>, ApiError> {
    let io = connect_agent(server, ip)
        .await
        .map_err(|e| dial_error(ip, e))?;
    let req = upgrade::forwarded_request(
        &call.method,
        path,
        ip,
        upgrade::upgrade_headers(&call.headers),
    );
    match upgrade::request_upgrade(io, req)
        .await
        .map_err(|e| dial_error(ip, e))?
    {
        Outcome::Upgraded(headers, agent_io) => {
            tokio::spawn(async move {
                if let Ok(client) = on_upgrade.await {
                    upgrade::join(TokioIo::new(client), agent_io).await;
                }
            });
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            *resp.headers_mut() = headers;
            Ok(resp)
        }
        Outcome::Refused(status, headers, body) => Ok(refused(status, &headers, body)),
    }
}

/// The agent's refusal, passed on as it came (kubectl's SPDY dialer prints the body).
fn refused(
    status: StatusCode,
    headers: &axum::http::HeaderMap,
    body: bytes::Bytes,
) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or(HeaderValue::from_static("text/plain; charset=utf-8"));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    resp
}
