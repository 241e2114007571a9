//! The service account key pair. The cluster CA and certificates are kindling-pki's; the names
//! below are the ones the server's modules use.

use anyhow::{Context, Result};
pub(crate) use kindling_pki::{write_private, Ca, CertPair};
use rcgen::KeyPair;
use std::path::Path;

/// The key pair that signs and verifies service account tokens (`sa.key`/`sa.pub`, as kubeadm
/// names them). ECDSA P-256: tokens are ES256 JWTs.
#[derive(Clone, Debug)]
pub struct ServiceAccountKey {
    /// PKCS#8 PEM.
    pub private_pem: String,
    /// SubjectPublicKeyInfo PEM.
    pub public_pem: String,
}

impl ServiceAccountKey {
    /// A new key. Clusters with several API servers give them all the same one (as kubeadm
    /// copies `sa.key` to every control plane): a token must verify wherever it is presented.
    pub fn generate() -> Result<ServiceAccountKey> {
        let key = KeyPair::generate()?;
        Ok(ServiceAccountKey {
            private_pem: key.serialize_pem(),
            public_pem: key.public_key_pem(),
        })
    }

    /// Loads `sa.key`/`sa.pub` from `dir`, creating them the first time: every token issued
    /// before a restart must still verify after it.
    pub fn load_or_create(dir: &Path) -> Result<ServiceAccountKey> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let (private, public) = (dir.join("sa.key"), dir.join("sa.pub"));
        if private.exists() {
            let private_pem = read(&private)?;
            let key = KeyPair::from_pem(&private_pem).context("parsing sa.key")?;
            let public_pem = key.public_key_pem();
            if !public.exists() {
                write_private(&public, &public_pem)?;
            }
            return Ok(ServiceAccountKey {
                private_pem,
                public_pem,
            });
        }
        let pair = ServiceAccountKey::generate()?;
        write_private(&private, &pair.private_pem)?;
        write_private(&public, &pair.public_pem)?;
        Ok(pair)
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}
