//! The cluster's PKI: a CA, serving certificates (the API server's, the node agents') and client
//! certificates (admin, components, nodes). Files are PEM in one directory, kubeadm-style names.

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use std::path::{Path, PathBuf};

/// A certificate and its key, PEM-encoded.
#[derive(Clone, Debug)]
pub struct CertPair {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The cluster CA, able to sign more certificates.
pub struct Ca {
    pub pair: CertPair,
    key: KeyPair,
}

impl Ca {
    /// A new CA, in memory only.
    pub fn generate() -> Result<Ca> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn("kubernetes", &[]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        let pair = CertPair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        Ok(Ca { pair, key })
    }

    /// Loads `ca.crt`/`ca.key` from `dir`, creating them the first time.
    pub fn load_or_create(dir: &Path) -> Result<Ca> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let (crt, key) = (dir.join("ca.crt"), dir.join("ca.key"));
        if crt.exists() && key.exists() {
            let pair = CertPair {
                cert_pem: read(&crt)?,
                key_pem: read(&key)?,
            };
            let key = KeyPair::from_pem(&pair.key_pem).context("parsing ca.key")?;
            return Ok(Ca { pair, key });
        }
        let ca = Ca::generate()?;
        write_private(&crt, &ca.pair.cert_pem)?;
        write_private(&key_path(dir, "ca"), &ca.pair.key_pem)?;
        Ok(ca)
    }

    /// The CA from its PEM certificate and key (e.g. read from a node's `/kindling/pki`).
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca> {
        let key = KeyPair::from_pem(key_pem).context("parsing the CA key")?;
        let pair = CertPair {
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
        };
        Ok(Ca { pair, key })
    }

    fn issuer(&self) -> Result<Issuer<'static, &KeyPair>> {
        Ok(Issuer::from_ca_cert_pem(&self.pair.cert_pem, &self.key)?)
    }

    /// A serving certificate for the given DNS names and IP addresses.
    pub fn serving_cert(
        &self,
        common_name: &str,
        dns_names: &[String],
        ips: &[std::net::IpAddr],
    ) -> Result<CertPair> {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(common_name, &[]);
        params.subject_alt_names = alt_names(dns_names, ips)?;
        self.issue(params, vec![ExtendedKeyUsagePurpose::ServerAuth])
    }

    /// A certificate for both ends of a mutual-TLS link, as etcd members use theirs (serving
    /// clients and peers, and dialing peers): server and client usages, the given names.
    pub fn peer_cert(
        &self,
        common_name: &str,
        dns_names: &[String],
        ips: &[std::net::IpAddr],
    ) -> Result<CertPair> {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(common_name, &[]);
        params.subject_alt_names = alt_names(dns_names, ips)?;
        self.issue(
            params,
            vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        )
    }

    /// A client certificate: the user is the common name, the groups are the organizations.
    pub fn client_cert(&self, user: &str, groups: &[&str]) -> Result<CertPair> {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(user, groups);
        self.issue(params, vec![ExtendedKeyUsagePurpose::ClientAuth])
    }

    /// `params` with a new key, the key usages every leaf here has and `extended`, signed.
    fn issue(
        &self,
        mut params: CertificateParams,
        extended: Vec<ExtendedKeyUsagePurpose>,
    ) -> Result<CertPair> {
        let key = KeyPair::generate()?;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = extended;
        let cert = params.signed_by(&key, &self.issuer()?)?;
        Ok(CertPair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// Subject alternative names: the DNS names, then the IP addresses.
fn alt_names(dns_names: &[String], ips: &[std::net::IpAddr]) -> Result<Vec<SanType>> {
    let mut names = dns_names
        .iter()
        .map(|d| Ok(SanType::DnsName(d.clone().try_into()?)))
        .collect::<Result<Vec<_>>>()?;
    names.extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
    Ok(names)
}

/// What a signer puts into a certificate it issues for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// `spec.usages` as upstream spells them (`digital signature`, `client auth`, …).
    pub usages: Vec<String>,
    /// Seconds of validity from now (the requested expiration, within the signer's limit).
    pub seconds: i64,
}

/// A new key and a PKCS#10 request (both PEM) for `common_name` in `organizations`, naming
/// `dns_names` and `ips` (a kubelet asking for its serving certificate).
pub fn new_request(
    common_name: &str,
    organizations: &[&str],
    dns_names: &[String],
    ips: &[std::net::IpAddr],
) -> Result<CertPair> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn(common_name, organizations);
    params.subject_alt_names = alt_names(dns_names, ips)?;
    let request = params.serialize_request(&key)?;
    Ok(CertPair {
        cert_pem: request.pem()?,
        key_pem: key.serialize_pem(),
    })
}

/// What a request asks to be named: its subject and subject alternative names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    pub common_name: String,
    pub organizations: Vec<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<std::net::IpAddr>,
    pub emails: Vec<String>,
    pub uris: Vec<String>,
}

/// Reads a PKCS#10 request (PEM), checking its signature.
pub fn inspect_request(request_pem: &str) -> Result<RequestInfo> {
    let csr = rcgen::CertificateSigningRequestParams::from_pem(request_pem)
        .context("parsing the certificate request")?;
    let mut info = RequestInfo::default();
    for (ty, value) in csr.params.distinguished_name.iter() {
        let text = dn_text(value);
        match ty {
            DnType::CommonName => info.common_name = text,
            DnType::OrganizationName => info.organizations.push(text),
            _ => {}
        }
    }
    for san in &csr.params.subject_alt_names {
        match san {
            SanType::DnsName(d) => info.dns_names.push(d.as_str().to_string()),
            SanType::IpAddress(ip) => info.ip_addresses.push(*ip),
            SanType::Rfc822Name(e) => info.emails.push(e.as_str().to_string()),
            SanType::URI(u) => info.uris.push(u.as_str().to_string()),
            _ => {}
        }
    }
    Ok(info)
}

/// A certificate's (PEM) validity window: `notBefore` and `notAfter` as Unix seconds.
pub fn validity(cert_pem: &str) -> Result<(i64, i64)> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("reading the certificate PEM: {e}"))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| anyhow::anyhow!("parsing the certificate: {e}"))?;
    let v = cert.validity();
    Ok((v.not_before.timestamp(), v.not_after.timestamp()))
}

fn dn_text(value: &rcgen::DnValue) -> String {
    match value {
        rcgen::DnValue::Utf8String(s) => s.clone(),
        rcgen::DnValue::PrintableString(s) => s.as_str().to_string(),
        rcgen::DnValue::Ia5String(s) => s.as_str().to_string(),
        rcgen::DnValue::TeletexString(s) => s.as_str().to_string(),
        _ => String::new(),
    }
}

impl Ca {
    /// A certificate for a PKCS#10 request (PEM), with the request's subject, names and key and
    /// the grant's usages and lifetime, valid from five minutes ago as upstream backdates.
    pub fn sign_request(&self, request_pem: &str, grant: &Grant) -> Result<String> {
        let mut csr = rcgen::CertificateSigningRequestParams::from_pem(request_pem)
            .context("parsing the certificate request")?;
        let now = time::OffsetDateTime::now_utc();
        let p = &mut csr.params;
        p.is_ca = IsCa::NoCa;
        p.not_before = now - time::Duration::minutes(5);
        p.not_after = now + time::Duration::seconds(grant.seconds);
        p.key_usages = Vec::new();
        p.extended_key_usages = Vec::new();
        for usage in &grant.usages {
            match usage.as_str() {
                "digital signature" => p.key_usages.push(KeyUsagePurpose::DigitalSignature),
                "key encipherment" => p.key_usages.push(KeyUsagePurpose::KeyEncipherment),
                "client auth" => p
                    .extended_key_usages
                    .push(ExtendedKeyUsagePurpose::ClientAuth),
                "server auth" => p
                    .extended_key_usages
                    .push(ExtendedKeyUsagePurpose::ServerAuth),
                _ => {}
            }
        }
        let cert = csr.signed_by(&self.issuer()?)?;
        Ok(cert.pem())
    }
}

fn dn(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for o in organizations {
        dn.push(DnType::OrganizationName, *o);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

fn key_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.key"))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Writes a file readable only by its owner (keys must not leak to other users of the host).
pub fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

impl CertPair {
    /// Writes `<name>.crt` and `<name>.key` into `dir`.
    pub fn write(&self, dir: &Path, name: &str) -> Result<()> {
        write_private(&dir.join(format!("{name}.crt")), &self.cert_pem)?;
        write_private(&key_path(dir, name), &self.key_pem)
    }
}
