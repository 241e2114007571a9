//! Certificates by server name (SNI): the `spec.tls` entries of the served Ingresses with their
//! `kubernetes.io/tls` Secrets become a map from host pattern to certificate; a name nothing
//! covers, or whose Secret is missing or bad, gets the default certificate (self-signed, with
//! ingress-nginx's subject "Kubernetes Ingress Controller Fake Certificate"). What is wrong
//! with a Secret is returned, for an Event on the Ingress. No IO: Secrets come in as objects.

use crate::routes::{host_matches, TlsEntry};
use arc_swap::ArcSwap;
use k8s_openapi::api::core::v1::Secret;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::sync::Arc;

/// The subject ingress-nginx gives its default certificate.
pub const DEFAULT_CERT_CN: &str = "Kubernetes Ingress Controller Fake Certificate";

#[derive(Debug)]
pub struct Certificates {
    /// (host pattern, certificate) in the Ingresses' order; exact names are looked up first.
    by_host: Vec<(String, Arc<CertifiedKey>)>,
    pub default: Arc<CertifiedKey>,
}

/// A Secret that could not be used, and which Ingress named it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub ingress: String,
    pub secret: String,
    pub message: String,
}

impl Certificates {
    pub fn only_default(default: Arc<CertifiedKey>) -> Certificates {
        Certificates {
            by_host: Vec::new(),
            default,
        }
    }

    /// The certificate for `server_name`: an exact pattern, else a wildcard, else the default.
    pub fn for_name(&self, server_name: Option<&str>) -> Arc<CertifiedKey> {
        let Some(name) = server_name else {
            return self.default.clone();
        };
        self.by_host
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(name))
            .or_else(|| self.by_host.iter().find(|(p, _)| host_matches(p, name)))
            .map_or_else(|| self.default.clone(), |(_, c)| c.clone())
    }
}

/// The certificates of `entries`; `secrets` by `namespace/name`.
pub fn build(
    entries: &[TlsEntry],
    secrets: &HashMap<String, &Secret>,
    default: Arc<CertifiedKey>,
) -> (Certificates, Vec<Problem>) {
    let mut by_host = Vec::new();
    let mut problems = Vec::new();
    let mut parsed: HashMap<&str, Option<Arc<CertifiedKey>>> = HashMap::new();
    for entry in entries {
        let Some(secret) = &entry.secret else {
            continue;
        };
        let cert = parsed.entry(secret.as_str()).or_insert_with(|| {
            match secrets.get(secret.as_str()).map(|s| from_secret(s)) {
                Some(Ok(c)) => Some(Arc::new(c)),
                found => {
                    let message = match found {
                        Some(Err(e)) => e,
                        _ => "secret not found".to_string(),
                    };
                    problems.push(Problem {
                        ingress: entry.ingress.clone(),
                        secret: secret.clone(),
                        message,
                    });
                    None
                }
            }
        });
        if let Some(cert) = cert {
            for host in &entry.hosts {
                by_host.push((host.to_ascii_lowercase(), cert.clone()));
            }
        }
    }
    (Certificates { by_host, default }, problems)
}

/// The certificate and key of a TLS Secret (`tls.crt`, `tls.key`, PEM), checked to belong
/// together.
pub fn from_secret(secret: &Secret) -> Result<CertifiedKey, String> {
    let data = secret.data.clone().unwrap_or_default();
    let field = |name: &str| {
        data.get(name)
            .map(|b| b.0.clone())
            .filter(|b| !b.is_empty())
            .ok_or_else(|| format!("the secret has no {name}"))
    };
    certified_key(&field("tls.crt")?, &field("tls.key")?)
}

/// A certificate chain and its key from PEM.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, String> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut &cert_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls.crt: {e}"))?;
    if certs.is_empty() {
        return Err("tls.crt holds no PEM certificate".into());
    }
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| format!("tls.key: {e}"))?
        .ok_or("tls.key holds no PEM private key")?;
    let key = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("tls.key: {e}"))?;
    let certified = CertifiedKey::new(certs, key);
    certified
        .keys_match()
        .map_err(|e| format!("the certificate does not match the key: {e}"))?;
    Ok(certified)
}

/// A self-signed certificate like ingress-nginx's default one.
pub fn default_certificate() -> anyhow::Result<CertifiedKey> {
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec!["ingress.local".to_string()])?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Acme Co");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, DEFAULT_CERT_CN);
    let cert = params.self_signed(&key)?;
    certified_key(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
        .map_err(|e| anyhow::anyhow!(e))
}

/// What the TLS listener asks: the current certificates, swapped whole when they change.
#[derive(Debug)]
pub struct SniResolver(pub Arc<ArcSwap<Certificates>>);

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load().for_name(hello.server_name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn pair(host: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![host.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn secret(crt: &str, key: &str) -> Secret {
        Secret {
            type_: Some("kubernetes.io/tls".into()),
            data: Some(
                [
                    ("tls.crt".to_string(), ByteString(crt.as_bytes().to_vec())),
                    ("tls.key".to_string(), ByteString(key.as_bytes().to_vec())),
                ]
                .into(),
            ),
            ..Default::default()
        }
    }

    fn entry(ingress: &str, hosts: &[&str], secret: Option<&str>) -> TlsEntry {
        TlsEntry {
            ingress: ingress.into(),
            hosts: hosts.iter().map(|h| (*h).to_string()).collect(),
            secret: secret.map(str::to_string),
        }
    }

    #[test]
    fn names_get_their_secret_or_the_default_and_bad_secrets_are_reported() {
        let default = Arc::new(default_certificate().unwrap());
        let (a_crt, a_key) = pair("a.test");
        let (w_crt, w_key) = pair("*.wild.test");
        let (_, other_key) = pair("x");
        let good_a = secret(&a_crt, &a_key);
        let good_w = secret(&w_crt, &w_key);
        let mismatched = secret(&a_crt, &other_key);
        let garbage = secret("not a certificate", &a_key);
        let secrets: HashMap<String, &Secret> = [
            ("ns/a".to_string(), &good_a),
            ("ns/w".to_string(), &good_w),
            ("ns/mismatched".to_string(), &mismatched),
            ("ns/garbage".to_string(), &garbage),
        ]
        .into();
        let (certs, problems) = build(
            &[
                entry("ns/i", &["a.test"], Some("ns/a")),
                entry("ns/i", &["*.wild.test"], Some("ns/w")),
                entry("ns/j", &["m.test"], Some("ns/mismatched")),
                entry("ns/j", &["g.test"], Some("ns/garbage")),
                entry("ns/k", &["gone.test"], Some("ns/gone")),
                entry("ns/k", &["d.test"], None),
            ],
            &secrets,
            default.clone(),
        );
        let same = |a: &Arc<CertifiedKey>, b: &Arc<CertifiedKey>| a.cert == b.cert;
        let a = Arc::new(certified_key(a_crt.as_bytes(), a_key.as_bytes()).unwrap());
        let w = Arc::new(certified_key(w_crt.as_bytes(), w_key.as_bytes()).unwrap());
        assert!(same(&certs.for_name(Some("a.test")), &a));
        assert!(same(&certs.for_name(Some("A.TEST")), &a));
        assert!(same(&certs.for_name(Some("x.wild.test")), &w));
        for name in [
            Some("m.test"),
            Some("g.test"),
            Some("gone.test"),
            Some("d.test"),
            Some("unknown"),
            None,
        ] {
            assert!(same(&certs.for_name(name), &default), "{name:?}");
        }
        let summary: Vec<(String, String)> = problems
            .iter()
            .map(|p| (p.secret.clone(), p.message.clone()))
            .collect();
        assert_eq!(summary.len(), 3, "{summary:?}");
        assert!(summary[0]
            .1
            .starts_with("the certificate does not match the key"));
        assert_eq!(summary[1].1, "tls.crt holds no PEM certificate");
        assert_eq!(
            summary[2],
            ("ns/gone".to_string(), "secret not found".to_string())
        );
    }
}
