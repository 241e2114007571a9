//! Authentication (client certificates) and authorization.
//!
//! The TLS layer accepts connections with or without a client certificate; the identity found on
//! the connection is attached to every request. Anonymous requests may only reach the health and
//! version endpoints. Authorization is coarse for now: any authenticated user may do anything
//! (RBAC evaluation comes with the controllers that need it); `system:masters` is the admin group.

use x509_parser::prelude::{FromDer, X509Certificate};

/// Who sent a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    Anonymous,
    User { name: String, groups: Vec<String> },
}

impl Identity {
    /// The identity carried by a verified client certificate: CN is the user, O the groups.
    pub fn from_certificate(der: &[u8]) -> Identity {
        let Ok((_, cert)) = X509Certificate::from_der(der) else {
            return Identity::Anonymous;
        };
        let subject = cert.subject();
        let name = subject
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .unwrap_or_default()
            .to_string();
        let mut groups: Vec<String> = subject
            .iter_organization()
            .filter_map(|o| o.as_str().ok().map(str::to_string))
            .collect();
        groups.push("system:authenticated".to_string());
        if name.is_empty() {
            return Identity::Anonymous;
        }
        Identity::User { name, groups }
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self, Identity::Anonymous)
    }
}

/// Paths anyone may read: probes and the version, as upstream's `system:public-info-viewer`.
pub fn is_public_path(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/livez" | "/readyz" | "/version" | "/version/"
    ) || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}
