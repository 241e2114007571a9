//! The proxy in process: real listeners on loopback, backends that say who they are, tables
//! built by `routes::build` from objects.

use super::*;
use crate::routes::{build, Inputs};
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A backend on loopback answering `<name> <path?query> host=<Host> xff=<X-Forwarded-For>
/// proto=<X-Forwarded-Proto>`; an upgrade is answered 101 and then echoes bytes.
async fn backend(name: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |mut req: Request<Incoming>| async move {
                        let h = |n: &str| {
                            req.headers()
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("-")
                                .to_string()
                        };
                        if req.headers().contains_key(header::UPGRADE) {
                            let upgrade = hyper::upgrade::on(&mut req);
                            tokio::spawn(async move {
                                let mut io = TokioIo::new(upgrade.await.unwrap());
                                let mut buf = [0u8; 64];
                                while let Ok(n) = io.read(&mut buf).await {
                                    if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                                        break;
                                    }
                                }
                            });
                            let resp = Response::builder()
                                .status(101)
                                .header("upgrade", "websocket")
                                .header("connection", "upgrade")
                                .body(Full::new(Bytes::new()))
                                .unwrap();
                            return Ok::<_, Infallible>(resp);
                        }
                        let body = format!(
                            "{name} {} host={} xff={} proto={}",
                            req.uri().path_and_query().unwrap(),
                            h("host"),
                            h("x-forwarded-for"),
                            h("x-forwarded-proto"),
                        );
                        Ok(Response::new(Full::new(Bytes::from(body))))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    port
}

fn service(name: &str) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"ports": [{"port": 80}]},
    }))
    .unwrap()
}

fn slice(svc: &str, port: u16) -> EndpointSlice {
    serde_json::from_value(json!({
        "metadata": {"name": svc, "namespace": "default",
                     "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4",
        "ports": [{"port": port}],
        "endpoints": [{"addresses": ["127.0.0.1"]}],
    }))
    .unwrap()
}

fn path(p: &str, path_type: &str, svc: &str) -> Value {
    json!({"path": p, "pathType": path_type,
           "backend": {"service": {"name": svc, "port": {"number": 80}}}})
}

struct Setup {
    services: Vec<Service>,
    slices: Vec<EndpointSlice>,
    table: Arc<ArcSwap<Table>>,
    certs: Arc<ArcSwap<crate::certs::Certificates>>,
    http: SocketAddr,
    https: SocketAddr,
}

impl Setup {
    async fn new(backends: &[&'static str]) -> Setup {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (mut services, mut slices) = (Vec::new(), Vec::new());
        for name in backends {
            let port = backend(name).await;
            services.push(service(name));
            slices.push(slice(name, port));
        }
        let config = crate::Config {
            node_name: "n".into(),
            http: "127.0.0.1:0".parse().unwrap(),
            https: "127.0.0.1:0".parse().unwrap(),
            status_address: "localhost".into(),
        };
        let (running, published, _) = crate::serve(&config).await.unwrap();
        Setup {
            services,
            slices,
            table: published.table,
            certs: published.certs,
            http: running.http,
            https: running.https,
        }
    }

    fn publish(&self, ingresses: &[Value]) {
        let ings: Vec<Ingress> = ingresses
            .iter()
            .map(|v| serde_json::from_value(v.clone()).unwrap())
            .collect();
        let table = build(&Inputs {
            ingresses: ings.iter().collect(),
            classes: Vec::new(),
            services: self.services.iter().collect(),
            slices: self.slices.iter().collect(),
        });
        self.table.store(Arc::new(table));
    }
}

fn ingress(name: &str, annotations: Value, spec: Value) -> Value {
    json!({"metadata": {"name": name, "namespace": "default", "annotations": annotations},
           "spec": spec})
}

/// One HTTP/1.1 request over a fresh connection: (status, Location, body).
async fn get(addr: SocketAddr, host: &str, target: &str) -> (u16, String, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    request(&mut sender, host, target).await
}

async fn request(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: &str,
    target: &str,
) -> (u16, String, String) {
    let req = Request::get(target)
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        location,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[tokio::test]
async fn routes_rewrites_and_explains_what_it_cannot_serve() {
    let s = Setup::new(&["foo", "bar"]).await;
    s.publish(&[
        ingress(
            "plain",
            json!({}),
            json!({"rules": [{"http": {"paths": [
                path("/foo", "Prefix", "foo"), path("/bar", "Prefix", "bar"),
                path("/gone", "Prefix", "nope")]}}]}),
        ),
        ingress(
            "rewrite",
            json!({"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}),
            json!({"rules": [{"host": "rw.test", "http": {"paths": [
                path("/something(/|$)(.*)", "ImplementationSpecific", "foo")]}}]}),
        ),
    ]);
    let (status, _, body) = get(s.http, "localhost", "/foo/x?q=1").await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with("foo /foo/x?q=1 host=localhost xff=127.0.0.1 proto=http"),
        "{body}"
    );
    assert!(get(s.http, "localhost:8080", "/bar")
        .await
        .2
        .starts_with("bar /bar host=localhost:8080"));
    let (status, _, body) = get(s.http, "rw.test", "/something/new?a=b").await;
    assert_eq!((status, body.split(' ').nth(1)), (200, Some("/new?a=b")));
    let (status, _, body) = get(s.http, "localhost", "/gone").await;
    assert_eq!(status, 503);
    assert!(
        body.contains("service \"default/nope\" not found"),
        "{body}"
    );
    let (status, _, body) = get(s.http, "localhost", "/elsewhere").await;
    assert_eq!(status, 404, "{body}");
    // and the others keep working
    assert_eq!(get(s.http, "localhost", "/foo").await.0, 200);
}

#[tokio::test]
async fn a_new_table_applies_to_the_next_request_on_an_open_connection() {
    let s = Setup::new(&["foo", "bar"]).await;
    let to = |svc: &str| {
        ingress(
            "i",
            json!({}),
            json!({"rules": [{"http": {"paths": [path("/", "Prefix", svc)]}}]}),
        )
    };
    s.publish(&[to("foo")]);
    let stream = TcpStream::connect(s.http).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    assert!(request(&mut sender, "h", "/").await.2.starts_with("foo "));
    s.publish(&[to("bar")]);
    assert!(request(&mut sender, "h", "/").await.2.starts_with("bar "));
}

#[tokio::test]
async fn ssl_redirect_and_body_size() {
    let s = Setup::new(&["foo"]).await;
    s.publish(&[
        ingress(
            "tls",
            json!({}),
            json!({"tls": [{"hosts": ["secure.test"]}],
                   "rules": [{"host": "secure.test", "http": {"paths": [path("/", "Prefix", "foo")]}}]}),
        ),
        ingress(
            "no-redirect",
            json!({"nginx.ingress.kubernetes.io/ssl-redirect": "false",
                   "nginx.ingress.kubernetes.io/proxy-body-size": "1k"}),
            json!({"tls": [{"hosts": ["lax.test"]}],
                   "rules": [{"host": "lax.test", "http": {"paths": [path("/", "Prefix", "foo")]}}]}),
        ),
    ]);
    let (status, location, _) = get(s.http, "secure.test", "/a?b=c").await;
    assert_eq!(status, 308);
    assert_eq!(
        location,
        format!("https://secure.test:{}/a?b=c", s.https.port())
    );
    assert_eq!(get(s.http, "lax.test", "/").await.0, 200);
    // a body over proxy-body-size: 413
    let mut stream = TcpStream::connect(s.http).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: lax.test\r\nContent-Length: 2048\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 413");
}

#[tokio::test]
async fn upgrades_are_passed_through() {
    let s = Setup::new(&["ws"]).await;
    s.publish(&[ingress(
        "ws",
        json!({}),
        json!({"rules": [{"http": {"paths": [path("/", "Prefix", "ws")]}}]}),
    )]);
    let mut stream = TcpStream::connect(s.http).await.unwrap();
    stream
        .write_all(
            b"GET /chat HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        stream.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(b"hello through the proxy").await.unwrap();
    let mut echoed = [0u8; 23];
    stream.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"hello through the proxy");
}

#[tokio::test]
async fn tls_by_sni_with_http2() {
    let s = Setup::new(&["foo"]).await;
    s.publish(&[ingress(
        "i",
        json!({}),
        json!({"tls": [{"hosts": ["a.test"], "secretName": "a"}],
               "rules": [{"host": "a.test", "http": {"paths": [path("/", "Prefix", "foo")]}}]}),
    )]);
    // The Secret's certificate for a.test; the default one for anything else.
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["a.test".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let a =
        crate::certs::certified_key(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
    let table = s.table.load_full();
    let default = s.certs.load().default.clone();
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": base64(cert.pem().as_bytes()), "tls.key": base64(key.serialize_pem().as_bytes())},
    }))
    .unwrap();
    let secrets = [("default/a".to_string(), &secret)].into();
    let (certs, problems) = crate::certs::build(&table.tls, &secrets, default.clone());
    assert!(problems.is_empty(), "{problems:?}");
    s.certs.store(Arc::new(certs));

    let mut client = (*kindling_pki::unverified_client(None).unwrap()).clone();
    client.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    for (sni, want) in [("a.test", &a.cert[0]), ("other.test", &default.cert[0])] {
        let tcp = TcpStream::connect(s.https).await.unwrap();
        let tls = connector
            .connect(
                rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap(),
                tcp,
            )
            .await
            .unwrap();
        let (_, session) = tls.get_ref();
        assert_eq!(&session.peer_certificates().unwrap()[0], want, "{sni}");
        assert_eq!(session.alpn_protocol(), Some(&b"h2"[..]));
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = Request::get(format!("https://{sni}/x"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&body);
        if sni == "a.test" {
            assert_eq!(status, 200, "{body}");
            assert!(body.starts_with("foo /x host=a.test"), "{body}");
            assert!(body.ends_with("proto=https"), "{body}");
        } else {
            assert_eq!(status, 404, "{body}");
        }
    }
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
