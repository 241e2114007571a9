//! What the bootstrap token controllers decide (upstream's `pkg/controller/bootstrap` with
//! cluster-bootstrap's `util/secrets` and `token/jws`), pure: when a bootstrap-token Secret
//! expires, which Secrets may sign, the detached JWS of the `cluster-info` kubeconfig, and the
//! ConfigMap data a signer writes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;
use std::time::Duration;

/// Where bootstrap tokens live and what they are.
pub const NAMESPACE: &str = "kube-system";
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
const SECRET_PREFIX: &str = "bootstrap-token-";

/// The ConfigMap the signer signs: kube-public/cluster-info, its `kubeconfig` key.
pub const CLUSTER_INFO_NAMESPACE: &str = "kube-public";
pub const CLUSTER_INFO: &str = "cluster-info";
pub const KUBECONFIG_KEY: &str = "kubeconfig";
/// A signature's key: this prefix and the token id.
pub const JWS_PREFIX: &str = "jws-kubeconfig-";

/// When a token's Secret expires (cluster-bootstrap's GetExpiration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// No `expiration`: it never does.
    Never,
    /// Expired, or its `expiration` is not RFC 3339 (which upstream treats as expired).
    Expired,
    /// It expires this long from now.
    In(Duration),
}

/// A key of the Secret's data as text ("" when absent), as cluster-bootstrap's GetData.
fn data(secret: &Secret, key: &str) -> String {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        .unwrap_or_default()
}

/// Go's `time.Parse(time.RFC3339, …)`: `YYYY-MM-DDTHH:MM:SS[.frac]` then `Z` or `±hh:mm`.
/// jiff reads the value; the shape is checked first because jiff takes forms Go refuses
/// (a space or lowercase `t` between date and time, offsets without a colon).
fn parse_rfc3339(text: &str) -> Option<jiff::Timestamp> {
    let b = text.as_bytes();
    let offset_ok = text.ends_with('Z') || {
        let tail = &b[b.len().saturating_sub(6)..];
        tail.len() == 6
            && (tail[0] == b'+' || tail[0] == b'-')
            && tail[3] == b':'
            && [1, 2, 4, 5].iter().all(|&i| tail[i].is_ascii_digit())
    };
    if b.len() < 20 || b[10] != b'T' || !offset_ok {
        return None;
    }
    text.parse().ok()
}

/// When `secret` expires, seen at `now`.
pub fn expiry(secret: &Secret, now: jiff::Timestamp) -> Expiry {
    let expiration = data(secret, "expiration");
    if expiration.is_empty() {
        return Expiry::Never;
    }
    let Some(at) = parse_rfc3339(&expiration) else {
        return Expiry::Expired;
    };
    let left = at.as_nanosecond() - now.as_nanosecond();
    if left <= 0 {
        return Expiry::Expired;
    }
    // More than u64 nanoseconds (≈584 years, e.g. `2999-01-01T00:00:00Z`) is as good as never
    // for a timer, but the token is not expired.
    Expiry::In(Duration::from_nanos(
        u64::try_from(left).unwrap_or(u64::MAX),
    ))
}

/// Whether the token cleaner deletes `secret` now: a bootstrap token that has expired.
pub fn should_delete(secret: &Secret, now: jiff::Timestamp) -> bool {
    secret.type_.as_deref() == Some(SECRET_TYPE) && expiry(secret, now) == Expiry::Expired
}

/// The token (id, secret) `secret` signs with, as upstream's validateSecretForSigning: a
/// bootstrap token named `bootstrap-token-<id>` whose `token-id` is that id, with a
/// `token-secret`, not expired, marked `usage-bootstrap-signing: "true"`.
pub fn signing_token(secret: &Secret, now: jiff::Timestamp) -> Option<(String, String)> {
    if secret.type_.as_deref() != Some(SECRET_TYPE) {
        return None;
    }
    let name = secret.metadata.name.as_deref().unwrap_or_default();
    let name_id = name.strip_prefix(SECRET_PREFIX).filter(|id| {
        id.len() == 6
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    })?;
    let id = data(secret, "token-id");
    let token_secret = data(secret, "token-secret");
    if id != name_id || token_secret.is_empty() {
        return None;
    }
    if expiry(secret, now) == Expiry::Expired || data(secret, "usage-bootstrap-signing") != "true" {
        return None;
    }
    Some((id, token_secret))
}

/// The detached JWS (RFC 7515 appendix F) of `content` with the token, as cluster-bootstrap's
/// ComputeDetachedSignature makes it with go-jose: protected header `{"alg":"HS256","kid":<id>}`
/// (go-jose's bytes: keys sorted, no spaces), HMAC-SHA256 keyed by the token secret zero-padded
/// to 32 bytes, `<header>..<signature>` in unpadded base64url. `kubeadm join
/// --discovery-token` recomputes it and compares the text, so every byte matters.
pub fn detached_signature(content: &str, id: &str, token_secret: &str) -> String {
    let header = serde_json::json!({"alg": "HS256", "kid": id}).to_string();
    let header = URL_SAFE_NO_PAD.encode(header);
    let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(content));
    let mut key = token_secret.as_bytes().to_vec();
    if key.len() < 32 {
        key.resize(32, 0);
    }
    let key = jsonwebtoken::EncodingKey::from_secret(&key);
    // HS256 with a secret key cannot fail (jsonwebtoken errors only for key types it lacks).
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &key,
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap_or_default();
    format!("{header}..{signature}")
}

/// The signer's new `cluster-info` data: every `jws-kubeconfig-*` key replaced by the
/// signatures of `tokens` (id → secret) over its `kubeconfig`; `None` when nothing changes or
/// there is no `kubeconfig` to sign (upstream's signConfigMap).
pub fn signed_data(
    data: &BTreeMap<String, String>,
    tokens: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    let content = data.get(KUBECONFIG_KEY)?;
    let mut next: BTreeMap<String, String> = data
        .iter()
        .filter(|(k, _)| !k.starts_with(JWS_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (id, token_secret) in tokens {
        next.insert(
            format!("{JWS_PREFIX}{id}"),
            detached_signature(content, id, token_secret),
        );
    }
    (next != *data).then_some(next)
}

/// The soonest a signing token among `secrets` expires (its signature must go then).
pub fn next_expiry<'a>(
    secrets: impl IntoIterator<Item = &'a Secret>,
    now: jiff::Timestamp,
) -> Option<Duration> {
    secrets
        .into_iter()
        .filter(|s| signing_token(s, now).is_some())
        .filter_map(|s| match expiry(s, now) {
            Expiry::In(d) => Some(d),
            _ => None,
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use serde_json::json;

    fn secret(name: &str, pairs: &[(&str, &str)]) -> Secret {
        let data: BTreeMap<String, ByteString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "kube-system"},
            "type": SECRET_TYPE,
            "data": data,
        }))
        .unwrap_or_default()
    }

    fn at(s: &str) -> jiff::Timestamp {
        s.parse().unwrap_or_default()
    }

    /// Upstream's own vectors (cluster-bootstrap `jws_test.go`), which go-jose computed; the
    /// first was also checked here with Python's hmac over the same bytes.
    #[test]
    fn detached_signatures_match_go_jose() {
        let content = "Hello from the other side. I must have called a thousand times.";
        let (id, key) = ("joshua", "my voice is my passcode");
        assert_eq!(
            detached_signature(content, id, key),
            "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8"
        );
        assert_eq!(
            detached_signature("", id, key),
            "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..7Ui1ALizW4jXphVUB7xUqC9vLYLL9RZeOFfVLoB7Tgk"
        );
        assert_eq!(
            detached_signature(content, id, ""),
            "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..UfkqvDGiIFxrMnFseDj9LYJOLNrvjW8aHhF71mvvAs8"
        );
    }

    #[test]
    fn expiry_follows_cluster_bootstrap() {
        let now = at("2026-01-01T00:00:00Z");
        let with = |exp: &str| secret("bootstrap-token-abcdef", &[("expiration", exp)]);
        assert_eq!(
            expiry(&secret("bootstrap-token-abcdef", &[]), now),
            Expiry::Never
        );
        assert_eq!(
            expiry(&with("2026-01-01T00:10:00Z"), now),
            Expiry::In(Duration::from_secs(600))
        );
        assert_eq!(
            expiry(&with("2026-01-01T01:00:00+01:00"), now),
            Expiry::Expired,
            "the same instant as now"
        );
        assert_eq!(
            expiry(&with("2026-01-01T00:00:01.5Z"), now),
            Expiry::In(Duration::from_millis(1500))
        );
        assert_eq!(expiry(&with("2025-12-31T23:59:59Z"), now), Expiry::Expired);
        // Further than a u64 of nanoseconds: far off, not expired (kubeadm users write such
        // dates; the cleaner once deleted them).
        assert_eq!(
            expiry(&with("2999-01-01T00:00:00Z"), now),
            Expiry::In(Duration::from_nanos(u64::MAX))
        );
        // Not RFC 3339 as Go reads it: treated as expired.
        for bad in [
            "tomorrow",
            "2026-01-02 00:00:00Z",
            "2026-01-02t00:00:00Z",
            "2026-01-02T00:00:00+0100",
            "2026-01-02",
        ] {
            assert_eq!(expiry(&with(bad), now), Expiry::Expired, "{bad}");
        }
        assert!(should_delete(&with("2025-12-31T23:59:59Z"), now));
        assert!(!should_delete(&with("2026-01-02T00:00:00Z"), now));
        let mut opaque = with("2025-12-31T23:59:59Z");
        opaque.type_ = Some("Opaque".into());
        assert!(!should_delete(&opaque, now), "only bootstrap tokens");
    }

    #[test]
    fn only_valid_unexpired_signing_tokens_sign() {
        let now = at("2026-01-01T00:00:00Z");
        let good = [
            ("token-id", "abcdef"),
            ("token-secret", "0123456789abcdef"),
            ("usage-bootstrap-signing", "true"),
        ];
        let ok = secret("bootstrap-token-abcdef", &good);
        assert_eq!(
            signing_token(&ok, now),
            Some(("abcdef".into(), "0123456789abcdef".into()))
        );
        let mut other_id = good;
        other_id[0].1 = "zzzzzz";
        assert_eq!(
            signing_token(&secret("bootstrap-token-abcdef", &other_id), now),
            None
        );
        assert_eq!(signing_token(&secret("token-abcdef", &good), now), None);
        let mut not_signing = good;
        not_signing[2].1 = "false";
        assert_eq!(
            signing_token(&secret("bootstrap-token-abcdef", &not_signing), now),
            None
        );
        let mut expired = good.to_vec();
        expired.push(("expiration", "2025-01-01T00:00:00Z"));
        assert_eq!(
            signing_token(&secret("bootstrap-token-abcdef", &expired), now),
            None
        );
        let mut later = good.to_vec();
        later.push(("expiration", "2026-01-01T00:01:00Z"));
        let later = secret("bootstrap-token-abcdef", &later);
        assert_eq!(
            next_expiry([&ok, &later], now),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn signing_replaces_every_signature() {
        let kubeconfig = "apiVersion: v1\nkind: Config\n";
        let data = BTreeMap::from([
            (KUBECONFIG_KEY.to_string(), kubeconfig.to_string()),
            ("jws-kubeconfig-gone00".to_string(), "stale".to_string()),
        ]);
        let tokens = BTreeMap::from([("abcdef".to_string(), "0123456789abcdef".to_string())]);
        let next = signed_data(&data, &tokens).unwrap_or_default();
        assert_eq!(
            next.keys().collect::<Vec<_>>(),
            ["jws-kubeconfig-abcdef", "kubeconfig"]
        );
        assert_eq!(
            next["jws-kubeconfig-abcdef"],
            detached_signature(kubeconfig, "abcdef", "0123456789abcdef")
        );
        assert_eq!(signed_data(&next, &tokens), None, "signed already");
        assert_eq!(
            signed_data(&BTreeMap::new(), &tokens),
            None,
            "nothing to sign"
        );
    }
}
