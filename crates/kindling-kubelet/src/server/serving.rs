//! `serverTLSBootstrap`: the kubelet's :10250 serving certificate asked for with a
//! `kubernetes.io/kubelet-serving` CertificateSigningRequest (`O=system:nodes`,
//! `CN=system:node:<name>`, the node's hostname and IP), as upstream's kubelet does; it stays
//! Pending in `kubectl get csr` until someone approves it (`kubectl certificate approve`), then
//! the controller manager's signer issues it. Until then :10250 listens and refuses every
//! handshake ([`without_certificate`]), as upstream's kubelet does.
//!
//! [`keep_renewed`] asks again before it expires, as client-go's certificate manager does: at a
//! jittered 70–90 % of its lifetime ([`rotation_deadline`], pure), and hands the new pair on;
//! the server swaps it in for new handshakes, connections already open keep theirs.

use crate::Config;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::api::{Api, PostParams};
use std::time::Duration;

const POLL: Duration = Duration::from_secs(1);

/// Upstream's answer to a handshake before the serving certificate is issued.
pub const NO_CERTIFICATE: &str = "no serving certificate available for the kubelet";

/// Resolves no certificate: every handshake fails with a fatal alert.
#[derive(Debug)]
struct NoCertificate;

impl rustls::server::ResolvesServerCert for NoCertificate {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<std::sync::Arc<rustls::sign::CertifiedKey>> {
        None
    }
}

/// The acceptor of :10250 while there is no serving certificate.
pub fn without_certificate() -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(std::sync::Arc::new(NoCertificate));
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}

/// What a failed handshake is logged as: upstream's words when it failed for want of a
/// certificate.
pub fn handshake_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    if text.contains("no server certificate chain resolved") {
        NO_CERTIFICATE.to_string()
    } else {
        text
    }
}

/// The certificate and key to serve with, once issued (tries until it is).
pub async fn requested(client: &kube::Client, config: &Config) -> kindling_pki::CertPair {
    let api: Api<CertificateSigningRequest> = Api::all(client.clone());
    loop {
        match ask(&api, config).await {
            Ok(pair) => return pair,
            Err(e) => {
                tracing::warn!("kubelet serving certificate: {e:#}");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

async fn ask(
    api: &Api<CertificateSigningRequest>,
    config: &Config,
) -> anyhow::Result<kindling_pki::CertPair> {
    let user = format!("system:node:{}", config.node_name);
    let request = kindling_pki::new_request(
        &user,
        &["system:nodes"],
        std::slice::from_ref(&config.node_name),
        &[config.node_ip],
    )?;
    let mut csr: CertificateSigningRequest = serde_json::from_value(serde_json::json!({
        "metadata": {"generateName": "csr-"},
        "spec": {
            "signerName": "kubernetes.io/kubelet-serving",
            "usages": ["digital signature", "server auth"],
            "request": "",
        }
    }))?;
    csr.spec.request = k8s_openapi::ByteString(request.cert_pem.clone().into_bytes());
    let created = api.create(&PostParams::default(), &csr).await?;
    let name = created.metadata.name.unwrap_or_default();
    tracing::info!("kubelet serving certificate: waiting for {name} to be approved and issued");
    loop {
        let csr = api.get(&name).await?;
        if let Some(cert) = csr.status.as_ref().and_then(|s| s.certificate.as_ref()) {
            if !cert.0.is_empty() {
                return Ok(kindling_pki::CertPair {
                    cert_pem: String::from_utf8_lossy(&cert.0).to_string(),
                    key_pem: request.key_pem,
                });
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// When to ask for the next certificate, as client-go's `nextRotationDeadline`: `notBefore`
/// plus 70–90 % of the lifetime, `jitter` in [0, 1) picking where in that window.
pub fn rotation_deadline(not_before: i64, not_after: i64, jitter: f64) -> i64 {
    let lifetime = (not_after - not_before).max(0) as f64;
    not_before + (lifetime * (0.7 + 0.2 * jitter.clamp(0.0, 1.0))).round() as i64
}

/// A number in [0, 1), different every call (std's per-map random hash keys: no RNG crate for
/// one jitter).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Asks for a new serving certificate before `current` expires, for ever; each one issued goes
/// to `renewed`.
pub async fn keep_renewed(
    client: kube::Client,
    config: Config,
    mut current: kindling_pki::CertPair,
    renewed: impl Fn(&kindling_pki::CertPair),
) {
    loop {
        let deadline = match kindling_pki::validity(&current.cert_pem) {
            Ok((not_before, not_after)) => rotation_deadline(not_before, not_after, jitter()),
            Err(e) => {
                tracing::warn!("kubelet serving certificate: {e:#}; not renewed");
                return;
            }
        };
        let now = jiff::Timestamp::now().as_second();
        let wait = u64::try_from(deadline - now).unwrap_or(0);
        tracing::info!("kubelet serving certificate: renewing in {wait} s");
        tokio::time::sleep(Duration::from_secs(wait)).await;
        current = requested(&client, &config).await;
        renewed(&current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Before the certificate is issued the port answers, and the handshake fails.
    #[tokio::test]
    async fn handshakes_fail_until_a_certificate_is_issued() {
        let acceptor = without_certificate().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            acceptor.accept(tcp).await.map(|_| ())
        });
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore::empty();
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client));
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        assert!(connector.connect(name, tcp).await.is_err());
        let refused = server.await.unwrap().unwrap_err();
        assert_eq!(handshake_error(&refused), NO_CERTIFICATE);
    }

    #[test]
    fn renewal_is_at_seventy_to_ninety_percent_of_the_lifetime() {
        let cases = [
            (1000, 2000, 0.0, 1700),
            (1000, 2000, 0.5, 1800),
            (1000, 2000, 0.9, 1880),
            (0, 3600, 0.25, 2700),
            (500, 400, 0.5, 500),
        ];
        for (not_before, not_after, jitter, want) in cases {
            assert_eq!(
                rotation_deadline(not_before, not_after, jitter),
                want,
                "{not_before}..{not_after} at {jitter}"
            );
        }
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }
}
