//! `nodes/<name>/proxy[/<path>]`: the request, sent on to the node's agent at
//! `https://<InternalIP>:10250/<path>?<query>` with the kubelet-client certificate, and its
//! answer streamed back as it came (status, content type, body) — upstream's node proxy, which
//! is how `kubectl get --raw /api/v1/nodes/<node>/proxy/metrics` reaches a kubelet.

use super::decode::{self, Call};
use super::logs::{connect_agent, AGENT_PORT};
use crate::Server;
use axum::body::Body;
use axum::http::{header, Response};
use kindling_api::catalog::find;
use kindling_api::ApiError;
use std::sync::Arc;

/// Headers of the answer that are passed back to the client.
const PASSED_BACK: [header::HeaderName; 3] = [
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::CACHE_CONTROL,
];

pub async fn serve(
    server: &Arc<Server>,
    node: &str,
    path: &str,
    call: Call<'_>,
) -> Result<Response<Body>, ApiError> {
    let raw_query = call.raw_query.as_deref();
    let nodes = find("", "v1", "nodes").expect("catalog has nodes");
    let obj = server.registry.get(nodes, None, node).await?;
    let ip = obj["status"]["addresses"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["type"] == "InternalIP"))
        .and_then(|x| x["address"].as_str())
        .ok_or_else(|| ApiError::service_unavailable(format!("node {node} has no InternalIP")))?
        .to_string();
    let target = match raw_query.filter(|q| !q.is_empty()) {
        Some(q) => format!("/{path}?{q}"),
        None => format!("/{path}"),
    };
    let body = decode::read_body(call.body).await?;
    let failed = |e: anyhow::Error| {
        ApiError::service_unavailable(format!("error trying to reach service: {e}"))
    };
    let tls = connect_agent(server, &ip).await.map_err(failed)?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| failed(e.into()))?;
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(call.method.clone())
        .uri(&target)
        .header(header::HOST, format!("{ip}:{AGENT_PORT}"));
    for name in [header::ACCEPT, header::CONTENT_TYPE] {
        if let Some(v) = call.headers.get(&name) {
            req = req.header(name, v);
        }
    }
    let req = req.body(Body::from(body)).map_err(|e| failed(e.into()))?;
    let answer = sender
        .send_request(req)
        .await
        .map_err(|e| failed(e.into()))?;
    let (parts, body) = answer.into_parts();
    let mut resp = Response::new(Body::new(body));
    *resp.status_mut() = parts.status;
    for name in PASSED_BACK {
        if let Some(v) = parts.headers.get(&name) {
            resp.headers_mut().insert(name, v.clone());
        }
    }
    Ok(resp)
}
