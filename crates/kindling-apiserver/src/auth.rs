//! Authentication (client certificates, bearer tokens) and authorization.
//!
//! The TLS layer accepts connections with or without a client certificate; the identity found on
//! the connection is attached to every request. A request without one may carry
//! `Authorization: Bearer <token>` ([`bearer`]): a token of the `--token-auth-file`
//! (`tokenfile.rs`), a service account token this server signed, or a bootstrap token
//! (`bootstraptoken.rs`), tried in upstream's order.
//! As upstream's authenticator union, a verified certificate wins over a token. Anonymous
//! requests may only reach the health and version endpoints. `Impersonate-*` headers then make
//! the request another user's ([`impersonate`]), each impersonated identity authorized by the
//! `impersonate` verb (`authz`).

use crate::authz::rules::Request;
use crate::authz::Authorizer;
use crate::registry::{meta_str, Registry};
use crate::tokens::{Claims, ObjectRef, TokenError, TokenIssuer};
use axum::http::HeaderMap;
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

/// One identity an `Impersonate-*` header asks for (upstream's ObjectReference of it).
struct Impersonation {
    kind: &'static str,
    namespace: String,
    name: String,
    api_version: &'static str,
    field_path: String,
}

impl Impersonation {
    /// Go's `%v` of the ObjectReference, as upstream's 400 prints the list.
    fn go_value(&self) -> String {
        format!(
            "{{{} {} {}  {}  {}}}",
            self.kind, self.namespace, self.name, self.api_version, self.field_path
        )
    }

    /// What must be authorized: `impersonate` on users, groups, serviceaccounts, uids or
    /// userextras/<key>.
    fn attributes(&self) -> Request {
        let (group, resource, subresource) = match self.kind {
            "ServiceAccount" => ("", "serviceaccounts", ""),
            "User" => ("", "users", ""),
            "Group" => ("", "groups", ""),
            "UserExtra" => (
                "authentication.k8s.io",
                "userextras",
                self.field_path.as_str(),
            ),
            _ => ("authentication.k8s.io", "uids", ""),
        };
        Request {
            verb: "impersonate".into(),
            resource_request: true,
            api_group: group.into(),
            api_version: self
                .api_version
                .trim_start_matches("authentication.k8s.io/")
                .into(),
            namespace: self.namespace.clone(),
            resource: resource.into(),
            subresource: subresource.into(),
            name: self.name.clone(),
            path: String::new(),
            field_selector: String::new(),
        }
    }
}

/// Upstream's buildImpersonationRequests: user (or service account), groups, extras, uid.
fn impersonation_requests(headers: &HeaderMap) -> Result<Vec<Impersonation>, ApiError> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    let one = |kind, namespace: &str, name: &str| Impersonation {
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
        api_version: "",
        field_path: String::new(),
    };
    let mut out = Vec::new();
    let user = values("impersonate-user")
        .into_iter()
        .find(|u| !u.is_empty());
    if let Some(user) = &user {
        match split_service_account(user) {
            Some((ns, name)) => out.push(one("ServiceAccount", ns, name)),
            None => out.push(one("User", "", user)),
        }
    }
    let mut others = false;
    for g in values("impersonate-group") {
        others = true;
        out.push(one("Group", "", &g));
    }
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix("impersonate-extra-") {
            others = true;
            let key = percent_encoding::percent_decode_str(key)
                .decode_utf8()
                .map_or_else(|_| key.to_string(), std::borrow::Cow::into_owned);
            out.push(Impersonation {
                kind: "UserExtra",
                namespace: String::new(),
                name: value.to_str().unwrap_or_default().to_string(),
                api_version: "authentication.k8s.io/v1",
                field_path: key,
            });
        }
    }
    if let Some(uid) = values("impersonate-uid")
        .into_iter()
        .find(|u| !u.is_empty())
    {
        others = true;
        out.push(Impersonation {
            kind: "UID",
            namespace: String::new(),
            name: uid,
            api_version: "authentication.k8s.io/v1",
            field_path: String::new(),
        });
    }
    if others && user.is_none() {
        let listed: Vec<String> = out.iter().map(Impersonation::go_value).collect();
        return Err(ApiError::bad_request(format!(
            "requested [{}] without impersonating a user",
            listed.join(" ")
        )));
    }
    Ok(out)
}

/// `system:serviceaccount:<ns>:<name>` → (ns, name).
fn split_service_account(user: &str) -> Option<(&str, &str)> {
    let (ns, name) = user
        .strip_prefix("system:serviceaccount:")?
        .split_once(':')?;
    (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
}

/// Upstream's impersonation filter: `Impersonate-User` (with `Impersonate-Group`s,
/// `Impersonate-Uid` and `Impersonate-Extra-<key>`s) makes the request the named user's, as
/// `kubectl --as`/`--as-group` ask — each one allowed only by the `impersonate` verb on it
/// (users, groups, serviceaccounts, uids, userextras/<key>), else upstream's 403.
pub fn impersonate(
    identity: Identity,
    headers: &HeaderMap,
    authorizer: &Authorizer,
) -> Result<Identity, ApiError> {
    let requests = impersonation_requests(headers)?;
    if requests.is_empty() {
        return Ok(identity);
    }
    let requestor = identity.user_info();
    let groups_given = headers.contains_key("impersonate-group");
    let mut name = String::new();
    let mut groups: Vec<String> = Vec::new();
    let mut uid = String::new();
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &requests {
        let attrs = r.attributes();
        let decision = authorizer.authorize(&requestor, &attrs);
        if !decision.allowed {
            return Err(crate::authz::forbidden(
                &requestor,
                &attrs,
                &decision.reason,
            ));
        }
        match r.kind {
            "ServiceAccount" => {
                name = format!("system:serviceaccount:{}:{}", r.namespace, r.name);
                if !groups_given {
                    groups = vec![
                        "system:serviceaccounts".to_string(),
                        format!("system:serviceaccounts:{}", r.namespace),
                    ];
                }
            }
            "User" => name = r.name.clone(),
            "Group" => groups.push(r.name.clone()),
            "UserExtra" => extra
                .entry(r.field_path.clone())
                .or_default()
                .push(r.name.clone()),
            _ => uid = r.name.clone(),
        }
    }
    if name == "system:anonymous" {
        if !groups.iter().any(|g| g == "system:unauthenticated") {
            groups.push("system:unauthenticated".to_string());
        }
    } else if !groups
        .iter()
        .any(|g| g == "system:authenticated" || g == "system:unauthenticated")
    {
        groups.push("system:authenticated".to_string());
    }
    Ok(Identity::User {
        name,
        groups,
        uid,
        extra,
    })
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

/// The bearer token authenticators besides service account tokens, as configured.
#[derive(Clone, Debug, Default)]
pub struct TokenSources {
    /// `--token-auth-file`.
    pub static_tokens: crate::tokenfile::StaticTokens,
    /// `--enable-bootstrap-token-auth` (on in kind's clusters: kubeadm sets it).
    pub bootstrap: bool,
}

/// The identity a bearer token proves, tried as upstream's authenticator union tries them:
/// the token file, then service account tokens (our signature, not expired, for one of our
/// audiences, everything they name still there with the same uids), then bootstrap tokens.
/// None proves it: 401.
pub async fn bearer(
    issuer: &TokenIssuer,
    sources: &TokenSources,
    registry: &Registry,
    token: &str,
) -> Result<Identity, ApiError> {
    bearer_for(issuer, sources, registry, token, issuer.api_audiences())
        .await
        .map(|(identity, _)| identity)
}

/// [`bearer`] for a token meant for one of `audiences`; also returns the audiences the token
/// and `audiences` share (what a TokenReview reports). Static and bootstrap tokens know no
/// audience: they prove the API server's own audiences, when asked for one of those.
pub async fn bearer_for(
    issuer: &TokenIssuer,
    sources: &TokenSources,
    registry: &Registry,
    token: &str,
    audiences: &[String],
) -> Result<(Identity, Vec<String>), ApiError> {
    let api_audiences: Vec<String> = issuer
        .api_audiences()
        .iter()
        .filter(|a| audiences.contains(a))
        .cloned()
        .collect();
    if !api_audiences.is_empty() {
        if let Some(user) = sources.static_tokens.get(token) {
            return Ok((
                authenticated(user.name.clone(), user.groups.clone(), user.uid.clone()),
                api_audiences,
            ));
        }
    }
    match issuer.verify_for(token, audiences) {
        Ok(claims) => match check_still_valid(registry, &claims).await {
            Ok(()) => {
                let shared = audiences
                    .iter()
                    .filter(|a| claims.aud.contains(a))
                    .cloned()
                    .collect();
                return Ok((service_account_identity(&claims), shared));
            }
            Err(why) => tracing::debug!("bearer token of {}: {why}", claims.sub),
        },
        Err(TokenError::NotOurs) => tracing::debug!("bearer token: not a service account token"),
        Err(TokenError::Invalid(why)) => tracing::debug!("bearer token: {why}"),
    }
    if sources.bootstrap && !api_audiences.is_empty() {
        if let Some(identity) = bootstrap_token(registry, token).await {
            return Ok((identity, api_audiences));
        }
    }
    Err(ApiError::unauthorized())
}

/// A user of the token file or a bootstrap token, in `system:authenticated` as every
/// authenticated user (upstream's group adder).
fn authenticated(name: String, mut groups: Vec<String>, uid: String) -> Identity {
    if !groups.iter().any(|g| g == "system:authenticated") {
        groups.push("system:authenticated".into());
    }
    Identity::User {
        name,
        groups,
        uid,
        extra: BTreeMap::new(),
    }
}

/// The user of a bootstrap token whose Secret in kube-system vouches for it.
async fn bootstrap_token(registry: &Registry, token: &str) -> Option<Identity> {
    use crate::bootstraptoken;
    let (id, secret) = bootstraptoken::parse(token)?;
    let secrets = find("", "v1", "secrets").expect("core resources are in the catalog");
    let name = bootstraptoken::secret_name(id);
    let obj = match registry
        .get(secrets, Some(bootstraptoken::NAMESPACE), &name)
        .await
    {
        Ok(obj) => obj,
        Err(e) => {
            tracing::debug!(
                "no secret {name} to match the bootstrap bearer token: {}",
                e.message
            );
            return None;
        }
    };
    match bootstraptoken::authenticate(&obj, id, secret, jiff::Timestamp::now()) {
        Ok((user, groups)) => Some(authenticated(user, groups, String::new())),
        Err(why) => {
            tracing::debug!("bootstrap secret kube-system/{name} matching bearer token {why}");
            None
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> Identity {
        Identity::User {
            name: "kubernetes-admin".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
            uid: String::new(),
            extra: BTreeMap::new(),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn impersonation_is_upstreams() {
        let az = Authorizer::new(vec![crate::authz::Mode::Rbac]);
        let impersonate = |id: Identity, h: &HeaderMap| super::impersonate(id, h, &az);
        assert_eq!(impersonate(admin(), &headers(&[])).unwrap(), admin());
        let alice = impersonate(
            admin(),
            &headers(&[
                ("Impersonate-User", "alice"),
                ("Impersonate-Group", "devs"),
                ("Impersonate-Group", "ops"),
                ("Impersonate-Uid", "u-1"),
                ("Impersonate-Extra-Scopes%2Fx", "a"),
            ]),
        )
        .unwrap();
        assert_eq!(
            alice,
            Identity::User {
                name: "alice".into(),
                groups: vec!["devs".into(), "ops".into(), "system:authenticated".into()],
                uid: "u-1".into(),
                extra: BTreeMap::from([("scopes/x".to_string(), vec!["a".to_string()])]),
            }
        );
        let sa = impersonate(
            admin(),
            &headers(&[("Impersonate-User", "system:serviceaccount:ns1:builder")]),
        )
        .unwrap()
        .user_info();
        assert_eq!(
            sa.groups,
            vec![
                "system:serviceaccounts",
                "system:serviceaccounts:ns1",
                "system:authenticated"
            ]
        );
        let err = impersonate(
            admin(),
            &headers(&[("Impersonate-Group", "x"), ("Impersonate-Uid", "u")]),
        )
        .unwrap_err();
        assert_eq!(err.code, 400);
        assert_eq!(
            err.message,
            "requested [{Group  x    } {UID  u  authentication.k8s.io/v1  }] without impersonating a user"
        );
        let err =
            impersonate(Identity::Anonymous, &headers(&[("Impersonate-User", "a")])).unwrap_err();
        assert_eq!(err.code, 403);
        assert_eq!(
            err.message,
            r#"users "a" is forbidden: User "system:anonymous" cannot impersonate resource "users" in API group "" at the cluster scope"#
        );
        let bob = Identity::User {
            name: "bob".into(),
            groups: vec!["system:authenticated".into()],
            uid: String::new(),
            extra: BTreeMap::new(),
        };
        let err = impersonate(
            bob,
            &headers(&[("Impersonate-User", "system:serviceaccount:ns1:builder")]),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            r#"serviceaccounts "builder" is forbidden: User "bob" cannot impersonate resource "serviceaccounts" in API group "" in the namespace "ns1""#
        );
    }
}
