//! Kubeconfig files for clients of this server.

use crate::pki::{write_private, CertPair};
use anyhow::Result;
use base64::Engine;
use std::path::Path;

/// A kubeconfig with one cluster, user and context, all named `name`, current.
pub fn render(name: &str, server_url: &str, ca_pem: &str, client: &CertPair) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server_url}\n  name: {name}\ncontexts:\n- context:\n    cluster: {name}\n    user: {name}\n  name: {name}\ncurrent-context: {name}\npreferences: {{}}\nusers:\n- name: {name}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
        ca = b64(ca_pem),
        cert = b64(&client.cert_pem),
        key = b64(&client.key_pem),
    )
}

pub(crate) fn write(path: &Path, contents: &str) -> Result<()> {
    write_private(path, contents)
}
