//! HTTP upgrades: recognising what a client asks for (WebSocket with which subprotocols, or
//! SPDY/3.1), answering a WebSocket handshake, and making an upgrade request to the next hop
//! (node agent, containerd) whose upgraded connection is then joined byte for byte, as the
//! kubelet's and API server's UpgradeAwareHandler do.

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

const SPDY_31: &str = "SPDY/3.1";
/// The header SPDY clients and servers negotiate the stream protocol with.
pub const PROTOCOL_VERSION: &str = "X-Stream-Protocol-Version";
/// Remote command protocols (exec, attach).
pub const V4_CHANNEL: &str = "v4.channel.k8s.io";
pub const V5_CHANNEL: &str = "v5.channel.k8s.io";
/// Port forwarding over SPDY, and the same SPDY tunnelled in WebSocket binary messages.
pub const PORT_FORWARD: &str = "portforward.k8s.io";
pub const SPDY_TUNNEL_PREFIX: &str = "SPDY/3.1+";

/// A query string's pairs, decoded (`+` is a space), repeated keys kept in order.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The headers of an upgrade request that the next hop needs (everything else, e.g. the
/// client's Authorization, stays behind).
pub fn upgrade_headers(from: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in from {
        let n = name.as_str();
        if n == "connection"
            || n == "upgrade"
            || n.starts_with("sec-websocket-")
            || n.eq_ignore_ascii_case(PROTOCOL_VERSION)
        {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// What an upgrade request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// `Upgrade: websocket` with these `Sec-WebSocket-Protocol` offers, in order.
    WebSocket(Vec<String>),
    /// `Upgrade: SPDY/3.1`.
    Spdy,
    None,
}

pub fn wanted(headers: &HeaderMap) -> Wanted {
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        });
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !connection_upgrade {
        return Wanted::None;
    }
    if upgrade.eq_ignore_ascii_case("websocket") {
        let offers = headers
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        Wanted::WebSocket(offers)
    } else if upgrade
        .to_ascii_lowercase()
        .contains(&SPDY_31.to_ascii_lowercase())
    {
        Wanted::Spdy
    } else {
        Wanted::None
    }
}

/// The 101 answer to a WebSocket handshake, choosing `protocol`; `None` if the request has no
/// valid `Sec-WebSocket-Key`.
pub fn websocket_accept<B: Default>(headers: &HeaderMap, protocol: &str) -> Option<Response<B>> {
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut resp = Response::new(B::default());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).ok()?,
    );
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_str(protocol).ok()?,
    );
    Some(resp)
}

/// An upgrade request for `path` on `host` carrying `headers` (see [`upgrade_headers`]).
pub fn forwarded_request(
    method: &Method,
    path: &str,
    host: &str,
    headers: HeaderMap,
) -> Request<Empty<Bytes>> {
    let mut req = Request::new(Empty::new());
    *req.method_mut() = method.clone();
    *req.uri_mut() = path.parse().unwrap_or_default();
    *req.headers_mut() = headers;
    if let Ok(v) = HeaderValue::from_str(host) {
        req.headers_mut().insert(header::HOST, v);
    }
    req
}

/// The headers of a SPDY upgrade request offering `protocols`.
pub fn spdy_request(path: &str, host: &str, protocols: &[&str]) -> Request<Empty<Bytes>> {
    let mut req = Request::new(Empty::new());
    *req.method_mut() = Method::POST;
    *req.uri_mut() = path.parse().unwrap_or_default();
    let h = req.headers_mut();
    if let Ok(v) = HeaderValue::from_str(host) {
        h.insert(header::HOST, v);
    }
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static(SPDY_31));
    for p in protocols {
        if let Ok(v) = HeaderValue::from_str(p) {
            h.append(PROTOCOL_VERSION, v);
        }
    }
    req
}

/// How an upgrade request to the next hop ended.
pub enum Outcome {
    /// 101: the response's headers and the raw connection.
    Upgraded(HeaderMap, TokioIo<Upgraded>),
    /// Anything else: the status and (at most 64 KiB of) the body, to pass back.
    Refused(StatusCode, HeaderMap, Bytes),
}

/// Sends `req` over `io` (an HTTP/1.1 connection) and follows the upgrade if it is accepted.
pub async fn request_upgrade<IO>(io: IO, req: Request<Empty<Bytes>>) -> anyhow::Result<Outcome>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(conn.with_upgrades());
    let resp = sender.send_request(req).await?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        let (parts, body) = resp.into_parts();
        let limited = http_body_util::Limited::new(body, 64 * 1024);
        let bytes = limited
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        return Ok(Outcome::Refused(parts.status, parts.headers, bytes));
    }
    let headers = resp.headers().clone();
    let upgraded = hyper::upgrade::on(resp).await?;
    Ok(Outcome::Upgraded(headers, TokioIo::new(upgraded)))
}

/// Copies both ways until either side ends; a half-close is passed on.
pub async fn join<A, B>(mut a: A, mut b: B)
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    if let Err(e) = tokio::io::copy_bidirectional(&mut a, &mut b).await {
        tracing::debug!("upgraded connection ended: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(list: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in list {
            h.append(*n, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn recognises_what_kubectl_sends() {
        let ws = headers(&[
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-protocol", "v5.channel.k8s.io"),
        ]);
        assert_eq!(wanted(&ws), Wanted::WebSocket(vec![V5_CHANNEL.into()]));
        let spdy = headers(&[
            ("connection", "Upgrade"),
            ("upgrade", "SPDY/3.1"),
            ("x-stream-protocol-version", "v4.channel.k8s.io"),
        ]);
        assert_eq!(wanted(&spdy), Wanted::Spdy);
        assert_eq!(wanted(&headers(&[("upgrade", "websocket")])), Wanted::None);
    }

    #[test]
    fn answers_the_rfc_6455_example_key() {
        let h = headers(&[("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")]);
        let resp: Response<()> = websocket_accept(&h, V5_CHANNEL).unwrap();
        assert_eq!(resp.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(
            resp.headers()[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(resp.headers()[header::SEC_WEBSOCKET_PROTOCOL], V5_CHANNEL);
        assert!(websocket_accept::<()>(&HeaderMap::new(), V5_CHANNEL).is_none());
    }
}
