//! `serverTLSBootstrap`: the kubelet's :10250 serving certificate asked for with a
//! `kubernetes.io/kubelet-serving` CertificateSigningRequest (`O=system:nodes`,
//! `CN=system:node:<name>`, the node's hostname and IP), as upstream's kubelet does; it stays
//! Pending in `kubectl get csr` until someone approves it (`kubectl certificate approve`), then
//! the controller manager's signer issues it. Until then :10250 is not served.

use crate::Config;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kube::api::{Api, PostParams};
use std::time::Duration;

const POLL: Duration = Duration::from_secs(1);

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
