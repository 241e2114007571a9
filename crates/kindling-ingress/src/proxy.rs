//! The reverse proxy: HTTP/1.1 and HTTP/2 (ALPN on TLS, prior knowledge on cleartext) from
//! clients, each request routed by the current table (an `ArcSwap` load: a new table applies
//! to the next request, open connections are never dropped), then sent on to an endpoint:
//! HTTP/1.1 over a pooled connection (HTTP and the default), HTTP/2 cleartext for GRPC, TLS
//! (certificate not verified, as nginx's proxy_ssl_verify off) for HTTPS/GRPCS. Upgrades
//! (WebSocket) are passed through: the backend's 101 is returned and both connections are
//! joined byte for byte.
//!
//! Gateway API routes are tried first (their filters applied around the same forwarding),
//! then the Ingresses.
//!
//! Headers as ingress-nginx sets them: Host kept, X-Real-IP, X-Forwarded-For (appended),
//! X-Forwarded-Host/-Port/-Proto/-Scheme, X-Scheme; hop-by-hop headers dropped.

use crate::annotations::{self, BackendProtocol};
use crate::gateway;
use crate::routes::{Backend, Decision, Route, Table, Target};
use arc_swap::ArcSwap;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = BoxBody<Bytes, BoxError>;

/// ingress-nginx's proxy-connect-timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Proxy {
    table: Arc<ArcSwap<Table>>,
    http: Client<HttpConnector, Body>,
    h2c: Client<HttpConnector, Body>,
    tls: Arc<rustls::ClientConfig>,
    /// The ports clients use (X-Forwarded-Port, the ssl-redirect target).
    pub http_port: u16,
    pub https_port: u16,
}

impl Proxy {
    pub fn new(
        table: Arc<ArcSwap<Table>>,
        http_port: u16,
        https_port: u16,
    ) -> anyhow::Result<Proxy> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector.clone());
        let h2c = Client::builder(TokioExecutor::new())
            .http2_only(true)
            .build(connector);
        Ok(Proxy {
            table,
            http,
            h2c,
            tls: kindling_pki::unverified_client(None)?,
            http_port,
            https_port,
        })
    }

    /// Answers one request from `peer` (over TLS when `https`).
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
        https: bool,
    ) -> Result<Response<Body>, Infallible> {
        let table = self.table.load_full();
        let host_header = request_host(&req);
        let host = strip_port(&host_header);
        let path = req.uri().path();
        if !table.gateway.is_empty() {
            let wanted = gateway::table::Request {
                https,
                host,
                method: req.method().as_str(),
                path,
                query: req.uri().query(),
                headers: req.headers(),
            };
            if let Some(entry) = table.gateway.route(&wanted) {
                return Ok(self
                    .via_gateway(req, entry, &host_header, host, peer, https)
                    .await);
            }
        }
        let (route, backend) = match table.route(host, path) {
            Decision::Route(r) => (Some(r), &r.backend),
            Decision::Fallback(b) => (None, b),
            Decision::NotFound => {
                return Ok(text(
                    StatusCode::NOT_FOUND,
                    format!("404 Not Found\nkindling ingress: no rule for host {host:?} and path {path:?}\n"),
                ))
            }
        };
        let default_options = annotations::Options::default();
        let options = route.map_or(&default_options, |r| &r.options);
        if !https
            && (options.force_ssl_redirect
                || (options.ssl_redirect && route.is_some_and(|r| r.tls)))
        {
            return Ok(self.redirect_to_https(host, req.uri()));
        }
        if let Some(max) = options.max_body_size {
            let declared = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|n| n > max) {
                return Ok(text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "413 Request Entity Too Large\n".into(),
                ));
            }
        }
        let how = Forwarding {
            protocol: route.map_or(BackendProtocol::Http, |r| r.options.backend_protocol),
            path_and_query: target_path(route, req.uri()),
            max_body: route
                .map_or(Some(annotations::DEFAULT_BODY_SIZE), |r| {
                    r.options.max_body_size
                })
                .and_then(|m| usize::try_from(m).ok()),
        };
        match self
            .forward(req, how, backend, &host_header, peer, https)
            .await
        {
            Ok(resp) => Ok(resp),
            Err(resp) => Ok(resp),
        }
    }

    /// Answers a request an HTTPRoute or GRPCRoute took: the rule's filters in order (a
    /// redirect answers at once), then a backend by weight, then the response's headers.
    async fn via_gateway(
        &self,
        mut req: Request<Incoming>,
        entry: &gateway::table::Entry,
        host_header: &str,
        host: &str,
        peer: SocketAddr,
        https: bool,
    ) -> Response<Body> {
        use gateway::table::{self as gt, Filter};
        let rule = &entry.rule;
        let path = req.uri().path().to_string();
        let query = req.uri().query().map(str::to_string);
        let mut response_headers = Vec::new();
        let (mut new_path, mut new_host) = (None, None);
        for filter in &rule.filters {
            match filter {
                Filter::Redirect(r) => {
                    let (scheme, port) = if https {
                        ("https", self.https_port)
                    } else {
                        ("http", self.http_port)
                    };
                    let (status, location) = gt::redirect(
                        r,
                        scheme,
                        host,
                        port,
                        &path,
                        query.as_deref(),
                        entry.matched_prefix(),
                    );
                    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
                    let mut resp = text(status, format!("{status}\n"));
                    if let Ok(v) = HeaderValue::from_str(&location) {
                        resp.headers_mut().insert(header::LOCATION, v);
                    }
                    return resp;
                }
                Filter::RequestHeaders(m) => gt::modify_headers(m, req.headers_mut()),
                Filter::ResponseHeaders(m) => response_headers.push(m),
                Filter::Rewrite(u) => {
                    if let Some(p) = &u.path {
                        new_path = gt::modified_path(p, &path, entry.matched_prefix());
                    }
                    new_host.clone_from(&u.hostname);
                }
            }
        }
        let Some(backend) = rule.pick() else {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "500 Internal Server Error\nkindling gateway: route {} has no usable backend for this request\n",
                    rule.route
                ),
            );
        };
        let path_and_query = match new_path {
            Some(p) => match &query {
                Some(q) => format!("{p}?{q}"),
                None => p,
            },
            None => req
                .uri()
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_string(),
        };
        let host_header = match &new_host {
            Some(h) => {
                if let Ok(v) = HeaderValue::from_str(h) {
                    req.headers_mut().insert(header::HOST, v);
                }
                h.as_str()
            }
            None => host_header,
        };
        let how = Forwarding {
            protocol: if rule.grpc {
                BackendProtocol::Grpc
            } else {
                BackendProtocol::Http
            },
            path_and_query,
            max_body: usize::try_from(annotations::DEFAULT_BODY_SIZE).ok(),
        };
        let mut resp = match self
            .forward(req, how, backend, host_header, peer, https)
            .await
        {
            Ok(r) | Err(r) => r,
        };
        for m in response_headers {
            gt::modify_headers(m, resp.headers_mut());
        }
        resp
    }

    fn redirect_to_https(&self, host: &str, uri: &Uri) -> Response<Body> {
        let port = if self.https_port == 443 {
            String::new()
        } else {
            format!(":{}", self.https_port)
        };
        let target = format!(
            "https://{host}{port}{}",
            uri.path_and_query().map_or("/", |p| p.as_str())
        );
        let mut resp = text(
            StatusCode::PERMANENT_REDIRECT,
            "308 Permanent Redirect\n".into(),
        );
        if let Ok(v) = HeaderValue::from_str(&target) {
            resp.headers_mut().insert(header::LOCATION, v);
        }
        resp
    }

    async fn forward(
        &self,
        mut req: Request<Incoming>,
        how: Forwarding,
        backend: &Backend,
        host_header: &str,
        peer: SocketAddr,
        https: bool,
    ) -> Result<Response<Body>, Response<Body>> {
        let Forwarding {
            protocol,
            path_and_query,
            max_body: max,
        } = how;
        let authority = match (&backend.target, backend.pick()) {
            (_, Some(addr)) => addr.to_string(),
            (Target::Name(host, port), None) => format!("{host}:{port}"),
            (Target::Unavailable(why), None) => {
                return Err(text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("503 Service Temporarily Unavailable\nkindling ingress: {why}\n"),
                ))
            }
            (Target::Endpoints(_), None) => {
                return Err(text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                    "503 Service Temporarily Unavailable\nkindling ingress: {} has no endpoints\n",
                    backend.name
                ),
                ))
            }
        };
        let upgrade = is_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
        // The request's parts are ours: its headers are edited in place and go on as they are.
        let (parts, body) = req.into_parts();
        let hyper::http::request::Parts {
            method,
            mut headers,
            ..
        } = parts;
        strip_hop_by_hop(&mut headers, upgrade.is_some());
        set_forwarded(
            &mut headers,
            host_header,
            peer,
            https,
            if https {
                self.https_port
            } else {
                self.http_port
            },
        );
        let body: Body = match max {
            Some(max) => Limited::new(body, max).boxed(),
            None => body.map_err(Into::into).boxed(),
        };
        let tls = matches!(protocol, BackendProtocol::Https | BackendProtocol::Grpcs);
        let h2 = matches!(protocol, BackendProtocol::Grpc | BackendProtocol::Grpcs);
        let scheme = if tls { "https" } else { "http" };
        let uri = Uri::builder()
            .scheme(scheme)
            .authority(authority.as_str())
            .path_and_query(path_and_query)
            .build()
            .map_err(|e| bad_gateway(&backend.name, &format!("{e}")))?;
        let mut out = Request::builder()
            .method(method)
            .uri(uri)
            .version(if h2 {
                Version::HTTP_2
            } else {
                Version::HTTP_11
            })
            .body(body)
            .map_err(|e| bad_gateway(&backend.name, &e.to_string()))?;
        *out.headers_mut() = headers;
        if h2 {
            out.headers_mut().remove(header::HOST);
        }
        let sent = if tls {
            self.send_tls(out, &authority, h2).await
        } else if h2 {
            self.h2c.request(out).await.map_err(|e| error_chain(&e))
        } else {
            self.http.request(out).await.map_err(|e| error_chain(&e))
        };
        let mut resp = sent.map_err(|e| {
            tracing::debug!("ingress: {} at {authority}: {e}", backend.name);
            bad_gateway(&backend.name, &e)
        })?;
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            if let Some(client_side) = upgrade {
                let backend_side = hyper::upgrade::on(&mut resp);
                tokio::spawn(async move {
                    if let (Ok(client), Ok(server)) = (client_side.await, backend_side.await) {
                        let (mut c, mut s) = (TokioIo::new(client), TokioIo::new(server));
                        let _ = tokio::io::copy_bidirectional(&mut c, &mut s).await;
                    }
                });
            }
            let (parts, _) = resp.into_parts();
            return Ok(Response::from_parts(
                parts,
                Full::new(Bytes::new()).map_err(|e| match e {}).boxed(),
            ));
        }
        let (mut parts, body) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers, false);
        Ok(Response::from_parts(
            parts,
            body.map_err(Into::into).boxed(),
        ))
    }

    /// One request over a new TLS connection to `authority` (HTTPS and GRPCS backends).
    async fn send_tls(
        &self,
        mut req: Request<Body>,
        authority: &str,
        h2: bool,
    ) -> Result<Response<Incoming>, String> {
        let mut config = (*self.tls).clone();
        config.alpn_protocols = vec![if h2 {
            b"h2".to_vec()
        } else {
            b"http/1.1".to_vec()
        }];
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(authority))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
        let host = strip_port(authority).trim_matches(['[', ']']).to_string();
        let name = rustls::pki_types::ServerName::try_from(host).map_err(|e| e.to_string())?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let io = TokioIo::new(stream);
        if h2 {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            sender.send_request(req).await.map_err(|e| e.to_string())
        } else {
            // A connection of its own takes the request in origin form.
            if let Some(pq) = req.uri().path_and_query().cloned() {
                *req.uri_mut() = Uri::from(pq);
            }
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(conn.with_upgrades());
            sender.send_request(req).await.map_err(|e| e.to_string())
        }
    }
}

/// How a request goes on to its backend.
struct Forwarding {
    protocol: BackendProtocol,
    /// The path and query sent.
    path_and_query: String,
    /// The most body bytes sent (`None`: no limit).
    max_body: Option<usize>,
}

/// The path and query sent to the backend: rewritten by `rewrite-target` when it matches.
fn target_path(route: Option<&Route>, uri: &Uri) -> String {
    let original = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let Some(route) = route else {
        return original;
    };
    match (&route.rewrite, &route.options.rewrite_target) {
        (Some(re), Some(target)) => {
            annotations::rewrite(re, target, uri.path(), uri.query()).unwrap_or(original)
        }
        _ => original,
    }
}

/// The host a request is for: HTTP/2's authority, else the Host header.
fn request_host(req: &Request<Incoming>) -> String {
    req.uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// `host:port` → `host` (IPv6 literals keep their brackets).
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(i)
            if !host[i..].contains(']') && host[i + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &host[..i]
        }
        _ => host,
    }
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// Removes the headers that belong to one connection (and those `Connection` names); an
/// upgrade keeps `Connection: upgrade` and `Upgrade`.
fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named {
        if !(keep_upgrade && name == header::UPGRADE) {
            headers.remove(name);
        }
    }
    for name in [
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
    headers.remove(header::CONNECTION);
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::UPGRADE);
    }
}

fn set_forwarded(headers: &mut HeaderMap, host: &str, peer: SocketAddr, https: bool, port: u16) {
    // Per request: one rendering of the peer's address, the scheme's values static.
    let ip = peer.ip().to_string();
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prior) => HeaderValue::from_str(&format!("{prior}, {ip}")),
        None => HeaderValue::from_str(&ip),
    };
    let scheme = HeaderValue::from_static(if https { "https" } else { "http" });
    let computed = [
        ("x-real-ip", HeaderValue::from_str(&ip)),
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-host", HeaderValue::from_str(host)),
        ("x-forwarded-port", Ok(HeaderValue::from(port))),
    ];
    for (name, value) in computed {
        if let Ok(v) = value {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    for name in ["x-forwarded-proto", "x-forwarded-scheme", "x-scheme"] {
        headers.insert(HeaderName::from_static(name), scheme.clone());
    }
    if !headers.contains_key(header::HOST) {
        if let Ok(v) = HeaderValue::from_str(host) {
            headers.insert(header::HOST, v);
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn bad_gateway(backend: &str, why: &str) -> Response<Body> {
    text(
        StatusCode::BAD_GATEWAY,
        format!("502 Bad Gateway\nkindling ingress: {backend}: {why}\n"),
    )
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut resp = Response::new(Full::new(Bytes::from(body)).map_err(|e| match e {}).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Accepts plain HTTP (HTTP/1.1, or HTTP/2 with prior knowledge) on `listener`, forever.
pub async fn serve_http(listener: TcpListener, proxy: Arc<Proxy>) {
    serve(listener, proxy, None).await;
}

/// Accepts TLS (ALPN h2 or http/1.1) on `listener`, forever.
pub async fn serve_https(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    config: Arc<rustls::ServerConfig>,
) {
    serve(
        listener,
        proxy,
        Some(tokio_rustls::TlsAcceptor::from(config)),
    )
    .await;
}

async fn serve(listener: TcpListener, proxy: Arc<Proxy>, tls: Option<tokio_rustls::TlsAcceptor>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("ingress: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (proxy, tls) = (proxy.clone(), tls.clone());
        tokio::spawn(async move {
            let https = tls.is_some();
            let service =
                hyper::service::service_fn(move |req| proxy.clone().handle(req, peer, https));
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let result = match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(s), service)
                            .await
                    }
                    Err(e) => {
                        tracing::debug!("ingress: TLS handshake with {peer}: {e}");
                        return;
                    }
                },
                None => {
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await
                }
            };
            if let Err(e) = result {
                tracing::debug!("ingress: connection from {peer}: {e}");
            }
        });
    }
}

/// The TLS listener's configuration: certificates by SNI from `certs`, ALPN h2 and http/1.1.
pub fn tls_config(
    certs: Arc<ArcSwap<crate::certs::Certificates>>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(crate::certs::SniResolver(certs)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests;
