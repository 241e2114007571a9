//! Conversion `Webhook`, the IO half (upstream's webhook converter and its REST client): the
//! ConversionReview POSTed to the definition's `url`, or to its Service (resolved to an
//! endpoint as upstream's endpoint resolver does, served name `<service>.<namespace>.svc`),
//! trusting only the `caBundle`. What is sent and accepted is
//! `kindling_api::apiextensions::conversion`'s.
//!
//! Conversions run where objects are decoded and encoded, which is synchronous code on the
//! request path: the call is made on a runtime of its own (one thread for every webhook) and
//! waited for, off the caller's runtime where it can (`block_in_place`).

use kindling_api::apiextensions::conversion::{
    accept_converted, converted_objects, gvk_text, resolve_endpoint, review, review_version,
    Converter,
};
use kindling_store::SharedStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The largest answer read (upstream's request size limit).
const MAX_ANSWER: usize = 3 * 1024 * 1024 * 4;

/// upstream's webhook client timeout.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Where the webhook is.
#[derive(Clone, Debug)]
enum Target {
    Url(String),
    Service {
        namespace: String,
        name: String,
        path: String,
        port: i64,
    },
}

pub struct WebhookConverter {
    store: SharedStore,
    target: Target,
    ca_pem: Option<Vec<u8>>,
    review_versions: Vec<String>,
}

impl WebhookConverter {
    /// The converter of `crd` when its conversion strategy is `Webhook`.
    pub fn of(store: &SharedStore, crd: &Value) -> Option<Arc<dyn Converter>> {
        let conversion = &crd["spec"]["conversion"];
        if conversion["strategy"] != "Webhook" {
            return None;
        }
        let webhook = &conversion["webhook"];
        let client = &webhook["clientConfig"];
        let target = match client.get("url").and_then(Value::as_str) {
            Some(url) => Target::Url(url.to_string()),
            None => {
                let svc = &client["service"];
                Target::Service {
                    namespace: svc["namespace"].as_str().unwrap_or_default().to_string(),
                    name: svc["name"].as_str().unwrap_or_default().to_string(),
                    path: svc["path"].as_str().unwrap_or_default().to_string(),
                    port: svc["port"].as_i64().unwrap_or(443),
                }
            }
        };
        let ca_pem = client["caBundle"].as_str().and_then(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(b).ok()
        });
        let review_versions = webhook["conversionReviewVersions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        Some(Arc::new(WebhookConverter {
            store: store.clone(),
            target,
            ca_pem,
            review_versions,
        }))
    }

    /// Where to connect, the name the server's certificate must have, and the URL (for
    /// messages): the `url`, or a ready endpoint of the Service.
    fn resolve(&self) -> Result<(String, u16, String, String, String), String> {
        match &self.target {
            Target::Url(url) => {
                let rest = url
                    .strip_prefix("https://")
                    .ok_or_else(|| format!("invalid URL {url:?}: only https is supported"))?;
                let (authority, path) = match rest.find('/') {
                    Some(i) => (&rest[..i], &rest[i..]),
                    None => (rest, "/"),
                };
                let (host, port) = split_host_port(authority);
                let host = host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string();
                Ok((host.clone(), port, host, path.to_string(), url.clone()))
            }
            Target::Service {
                namespace,
                name,
                path,
                port,
            } => {
                let read = |resource: &str| -> Result<Option<Value>, String> {
                    let key = format!("/registry/core/{resource}/{namespace}/{name}");
                    let kv = self.store.get(&key).map_err(|e| e.to_string())?;
                    Ok(kv.and_then(|kv| serde_json::from_slice(&kv.value).ok()))
                };
                let service =
                    read("services")?.ok_or_else(|| format!("service {name:?} not found"))?;
                let endpoints = read("endpoints")?;
                let pick = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos() as usize);
                let (host, target_port) =
                    resolve_endpoint(&service, endpoints.as_ref(), *port, pick)?;
                let server_name = format!("{name}.{namespace}.svc");
                let path = if path.is_empty() {
                    "/".to_string()
                } else {
                    path.clone()
                };
                let url = format!("https://{server_name}:{port}{path}");
                Ok((host, target_port, server_name, path, url))
            }
        }
    }
}

fn split_host_port(authority: &str) -> (&str, u16) {
    let after_bracket = authority.rfind(']').map_or(0, |i| i + 1);
    match authority[after_bracket..].rfind(':') {
        Some(i) => {
            let at = after_bracket + i;
            (&authority[..at], authority[at + 1..].parse().unwrap_or(443))
        }
        None => (authority, 443),
    }
}

impl Converter for WebhookConverter {
    fn convert(&self, objects: Vec<Value>, api_version: &str) -> Result<Vec<Value>, String> {
        let Some(first) = objects.first() else {
            return Ok(objects);
        };
        let gvk = gvk_text(first);
        let failed = |e: String| format!("conversion webhook for {gvk} failed: {e}");
        let version = review_version(&self.review_versions)?;
        let uid = uuid::Uuid::new_v4().to_string();
        let body = review(version, &uid, api_version, &objects);
        let (host, port, server_name, path, url) = self.resolve().map_err(failed)?;
        let ca = self.ca_pem.clone();
        let answer = block_on(post(host, port, server_name, path, ca, body))
            .and_then(|r| r)
            .map_err(|e| failed(format!("Post {url:?}: {e}")))?;
        let converted = converted_objects(version, &uid, &answer).map_err(failed)?;
        if converted.len() != objects.len() {
            return Err(format!(
                "conversion webhook for {gvk} returned {} objects, expected {}",
                converted.len(),
                objects.len()
            ));
        }
        objects
            .iter()
            .zip(converted)
            .map(|(input, out)| accept_converted(input, out, api_version))
            .collect()
    }
}

/// The runtime every webhook call runs on: a thread of its own, so that a caller that is
/// itself a runtime's task can wait for it.
fn runtime() -> &'static tokio::runtime::Handle {
    static RUNTIME: OnceLock<tokio::runtime::Handle> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("conversion-webhooks".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for conversion webhooks");
                let _ = tx.send(rt.handle().clone());
                rt.block_on(std::future::pending::<()>());
            })
            .expect("the conversion webhook thread starts");
        rx.recv().expect("the conversion webhook runtime starts")
    })
}

/// Runs `f` on the webhook runtime and waits (at most upstream's timeout) for its result.
fn block_on<T: Send + 'static>(
    f: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    runtime().spawn(async move {
        let _ = tx.send(f.await);
    });
    let wait = move || {
        rx.recv_timeout(TIMEOUT)
            .map_err(|_| "context deadline exceeded".to_string())
    };
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}

/// The POST of one review over HTTPS, the server verified against `ca_pem`.
async fn post(
    host: String,
    port: u16,
    server_name: String,
    path: String,
    ca_pem: Option<Vec<u8>>,
    body: Value,
) -> Result<Value, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_deref().unwrap_or_default()) {
        let cert = cert.map_err(|e| format!("invalid caBundle: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("invalid caBundle: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| format!("dial tcp {host}:{port}: {e}"))?;
    let name = ServerName::try_from(server_name.clone()).map_err(|e| e.to_string())?;
    let tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("tls: {e}"))?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let bytes = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
    let req = hyper::Request::post(format!("{path}?timeout=30s"))
        .header(hyper::header::HOST, format!("{server_name}:{port}"))
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::ACCEPT, "application/json")
        .body(axum::body::Body::from(bytes))
        .map_err(|e| e.to_string())?;
    let answer = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = answer.status();
    let body = axum::body::to_bytes(axum::body::Body::new(answer.into_body()), MAX_ANSWER)
        .await
        .map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "the server responded with the status code {} but did not return more information",
            status.as_u16()
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("invalid JSON in the answer: {e}"))
}
