//! Service account tokens for projected volumes, as the kubelet's token manager: each
//! `serviceAccountToken` source is a TokenRequest for the pod's service account, bound to the
//! pod, with the source's audience and lifetime. Tokens are cached and requested again once 80%
//! of their lifetime has passed (or a day, whichever is first), so that the file a pod reads is
//! always fresh; when the API server cannot be reached the cached token is kept until it expires.

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// A token is refreshed when it is older than this, whatever its lifetime.
const MAX_AGE_SECONDS: i64 = 24 * 60 * 60;

/// What a projected source asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TokenSource {
    pub namespace: String,
    pub service_account: String,
    pub pod_name: String,
    pub pod_uid: String,
    /// `None`: the API server's own audience.
    pub audience: Option<String>,
    pub expiration_seconds: i64,
}

#[derive(Clone, Debug)]
struct Issued {
    token: String,
    issued_at: i64,
    expires_at: i64,
}

/// Whether a token issued at `issued_at` and expiring at `expires_at` should be replaced at
/// `now`: after 80% of its lifetime, or once a day.
pub fn needs_refresh(issued_at: i64, expires_at: i64, now: i64) -> bool {
    let lifetime = expires_at - issued_at;
    now >= issued_at + lifetime * 8 / 10 || now - issued_at > MAX_AGE_SECONDS
}

#[derive(Default)]
pub struct TokenManager {
    cache: Mutex<HashMap<TokenSource, Issued>>,
}

impl TokenManager {
    /// A valid token for `source`, from the cache or a new TokenRequest.
    pub async fn token(
        &self,
        client: &kube::Client,
        source: &TokenSource,
    ) -> Result<String, String> {
        let now = jiff::Timestamp::now().as_second();
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(source)
            .cloned();
        if let Some(t) = &cached {
            if !needs_refresh(t.issued_at, t.expires_at, now) {
                return Ok(t.token.clone());
            }
        }
        match request(client, source, now).await {
            Ok(issued) => {
                let token = issued.token.clone();
                self.cache
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(source.clone(), issued);
                Ok(token)
            }
            // Better the old token while it lasts than no file at all.
            Err(e) => match cached.filter(|t| now < t.expires_at) {
                Some(t) => {
                    tracing::warn!(
                        "refreshing the token of pod {}/{}: {e}",
                        source.namespace,
                        source.pod_name
                    );
                    Ok(t.token)
                }
                None => Err(e),
            },
        }
    }

    /// Drops the tokens of a pod that is gone.
    pub fn forget_pod(&self, pod_uid: &str) {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|k, _| k.pod_uid != pod_uid);
    }
}

async fn request(client: &kube::Client, source: &TokenSource, now: i64) -> Result<Issued, String> {
    let api: Api<ServiceAccount> = Api::namespaced(client.clone(), &source.namespace);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: source.audience.iter().cloned().collect(),
            expiration_seconds: Some(source.expiration_seconds),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(source.pod_name.clone()),
                uid: Some(source.pod_uid.clone()),
            }),
        },
        ..Default::default()
    };
    let answer = api
        .create_token_request(&source.service_account, &PostParams::default(), &request)
        .await
        .map_err(|e| {
            format!(
                "failed to fetch token for service account {}/{}: {e}",
                source.namespace, source.service_account
            )
        })?;
    let status = answer
        .status
        .ok_or("the TokenRequest came back without a status")?;
    Ok(Issued {
        token: status.token,
        issued_at: now,
        expires_at: status.expiration_timestamp.0.as_second(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_after_eighty_percent_or_a_day() {
        // The admission default: 3607 s → refreshed after 2885 s.
        assert!(!needs_refresh(0, 3607, 2884));
        assert!(needs_refresh(0, 3607, 2885));
        let year = 365 * 24 * 3600;
        assert!(!needs_refresh(0, year, MAX_AGE_SECONDS));
        assert!(needs_refresh(0, year, MAX_AGE_SECONDS + 1));
    }
}
