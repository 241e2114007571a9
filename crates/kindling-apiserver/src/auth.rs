//! Authentication (client certificates, service account bearer tokens) and authorization.
//!
//! The TLS layer accepts connections with or without a client certificate; the identity found on
//! the connection is attached to every request. A request without one may carry
//! `Authorization: Bearer <token>`: a service account token this server signed ([`bearer`]).
//! As upstream's authenticator union, a verified certificate wins over a token. Anonymous
//! requests may only reach the health and version endpoints. Authorization is coarse for now: any authenticated user may do anything
//! (RBAC evaluation comes with the controllers that need it); `system:masters` is the admin group.

use crate::registry::{meta_str, Registry};
use crate::tokens::{Claims, ObjectRef, TokenError, TokenIssuer};
use kindling_api::catalog::find;
use kindling_api::user::UserInfo;
use kindling_api::ApiError;
use std::collections::BTreeMap;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Who sent a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    Anonymous,
    User {
        name: String,
        groups: Vec<String>,
        /// The service account's uid for token users; empty for certificates.
        uid: String,
        /// Upstream's `user.Info.Extra` (which pod and node a token was bound to, its id).
        extra: BTreeMap<String, Vec<String>>,
    },
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
        Identity::User {
            name,
            groups,
            uid: String::new(),
            extra: BTreeMap::new(),
        }
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self, Identity::Anonymous)
    }

    /// The user as the API's rules see it (anonymous is `system:anonymous` in
    /// `system:unauthenticated`, as upstream's).
    pub fn user_info(&self) -> UserInfo {
        match self {
            Identity::Anonymous => UserInfo {
                name: "system:anonymous".into(),
                groups: vec!["system:unauthenticated".into()],
                ..UserInfo::default()
            },
            Identity::User {
                name,
                groups,
                uid,
                extra,
            } => UserInfo {
                name: name.clone(),
                uid: uid.clone(),
                groups: groups.clone(),
                extra: extra.clone(),
            },
        }
    }

    /// The user's name; `system:anonymous` without one.
    pub fn username(&self) -> &str {
        match self {
            Identity::Anonymous => "system:anonymous",
            Identity::User { name, .. } => name,
        }
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

/// How long a bound pod may have been deleting and its tokens still work, as upstream.
const DELETED_POD_GRACE_SECONDS: i64 = 60;

/// The identity a bearer token proves: our signature, not expired, for one of our audiences,
/// and everything it names still there — the service account, and the pod or secret it is bound
/// to, with the same uids (a token bound to a deleted pod stops working). Any failure is 401.
pub async fn bearer(
    issuer: &TokenIssuer,
    registry: &Registry,
    token: &str,
) -> Result<Identity, ApiError> {
    bearer_for(issuer, registry, token, issuer.api_audiences())
        .await
        .map(|(identity, _)| identity)
}

/// [`bearer`] for a token meant for one of `audiences`; also returns the audiences the token
/// and `audiences` share (what a TokenReview reports).
pub async fn bearer_for(
    issuer: &TokenIssuer,
    registry: &Registry,
    token: &str,
    audiences: &[String],
) -> Result<(Identity, Vec<String>), ApiError> {
    let claims = issuer.verify_for(token, audiences).map_err(|e| {
        match e {
            TokenError::NotOurs => tracing::debug!("bearer token: not a service account token"),
            TokenError::Invalid(why) => tracing::debug!("bearer token: {why}"),
        }
        ApiError::unauthorized()
    })?;
    check_still_valid(registry, &claims).await.map_err(|why| {
        tracing::debug!("bearer token of {}: {why}", claims.sub);
        ApiError::unauthorized()
    })?;
    let shared = audiences
        .iter()
        .filter(|a| claims.aud.contains(a))
        .cloned()
        .collect();
    Ok((service_account_identity(&claims), shared))
}

async fn check_still_valid(registry: &Registry, claims: &Claims) -> Result<(), String> {
    let k = &claims.kubernetes;
    let ns = k.namespace.as_str();
    let exists = |resource: &'static str, r: &ObjectRef| {
        let rt = find("", "v1", resource).expect("core resources are in the catalog");
        let name = r.name.clone();
        let uid = r.uid.clone();
        async move {
            let obj = match registry.get(rt, Some(ns), &name).await {
                Ok(obj) => obj,
                Err(e) if e.code == 404 => {
                    return Err(format!("{resource} {ns}/{name} has been deleted"))
                }
                Err(e) => return Err(e.message),
            };
            let actual = meta_str(&obj, "uid").unwrap_or_default();
            if actual != uid {
                return Err(format!(
                    "{resource} {ns}/{name} uid ({actual}) does not match the claim ({uid})"
                ));
            }
            Ok(obj)
        }
    };
    exists("serviceaccounts", &k.serviceaccount).await?;
    if let Some(pod) = &k.pod {
        let obj = exists("pods", pod).await?;
        let deleting_since = obj["metadata"]["deletionTimestamp"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok());
        if let Some(since) = deleting_since {
            if jiff::Timestamp::now().as_second() - since.as_second() > DELETED_POD_GRACE_SECONDS {
                return Err(format!("pod {ns}/{} has been deleted", pod.name));
            }
        }
    }
    if let Some(secret) = &k.secret {
        exists("secrets", secret).await?;
    }
    Ok(())
}

/// A service account's user: its name, its groups, and upstream's extra keys.
fn service_account_identity(claims: &Claims) -> Identity {
    let k = &claims.kubernetes;
    let mut extra = BTreeMap::new();
    extra.insert(
        "authentication.kubernetes.io/credential-id".to_string(),
        vec![format!("JTI={}", claims.jti)],
    );
    let mut add = |key: &str, value: &str| {
        if !value.is_empty() {
            extra.insert(
                format!("authentication.kubernetes.io/{key}"),
                vec![value.to_string()],
            );
        }
    };
    if let Some(pod) = &k.pod {
        add("pod-name", &pod.name);
        add("pod-uid", &pod.uid);
    }
    if let Some(node) = &k.node {
        add("node-name", &node.name);
        add("node-uid", &node.uid);
    }
    Identity::User {
        name: claims.username(),
        groups: vec![
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{}", k.namespace),
            "system:authenticated".to_string(),
        ],
        uid: k.serviceaccount.uid.clone(),
        extra,
    }
}
