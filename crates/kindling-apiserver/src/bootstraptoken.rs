//! Bootstrap tokens (`kubeadm token create`): a bearer token `<id>.<secret>` (6 and 16 of
//! `[a-z0-9]`) is the user `system:bootstrap:<id>` in `system:bootstrappers` and the secret's
//! `auth-extra-groups` when kube-system holds a Secret `bootstrap-token-<id>` of type
//! `bootstrap.kubernetes.io/token` with that `token-id` and `token-secret`, not being deleted, not
//! expired (`expiration`, RFC 3339; unreadable counts as expired) and marked
//! `usage-bootstrap-authentication: "true"`, whose extra groups all match
//! `system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]` — upstream's bootstrap token authenticator
//! and cluster-bootstrap's rules. Pure: the caller fetches the secret.

use base64::Engine;
use serde_json::Value;
use std::collections::BTreeSet;

pub const NAMESPACE: &str = "kube-system";
const SECRET_PREFIX: &str = "bootstrap-token-";
const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
const DEFAULT_GROUP: &str = "system:bootstrappers";
const USER_PREFIX: &str = "system:bootstrap:";

/// A token of the bootstrap form: its id and secret.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    let ok = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    };
    (ok(id, 6) && ok(secret, 16)).then_some((id, secret))
}

/// The Secret a token id is kept in.
pub fn secret_name(id: &str) -> String {
    format!("{SECRET_PREFIX}{id}")
}

/// The user (name, groups) `secret` makes of the token (`id`, `token_secret`) at `now`, or why
/// not (upstream logs the reason; the request is then 401).
pub fn authenticate(
    secret: &Value,
    id: &str,
    token_secret: &str,
    now: jiff::Timestamp,
) -> Result<(String, Vec<String>), String> {
    if !secret["metadata"]["deletionTimestamp"].is_null() {
        return Err("is deleted and awaiting removal".into());
    }
    let data = secret["data"].as_object();
    if secret["type"].as_str() != Some(SECRET_TYPE) || data.is_none() {
        return Err(format!("has invalid type, expected {SECRET_TYPE}."));
    }
    let get = |key: &str| -> String {
        secret["data"][key]
            .as_str()
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    };
    if !constant_time_eq(get("token-secret").as_bytes(), token_secret.as_bytes()) {
        return Err("has invalid value for key token-secret.".into());
    }
    if get("token-id") != id {
        return Err("has invalid value for key token-id.".into());
    }
    let expiration = get("expiration");
    if !expiration.is_empty() {
        match expiration.parse::<jiff::Timestamp>() {
            Ok(at) if at > now => {}
            _ => return Err(format!("has expired ({expiration}).")),
        }
    }
    if get("usage-bootstrap-authentication") != "true" {
        return Err("not marked usage-bootstrap-authentication=true.".into());
    }
    let mut groups = BTreeSet::from([DEFAULT_GROUP.to_string()]);
    let extra = get("auth-extra-groups");
    if !extra.is_empty() {
        for group in extra.split(',') {
            if !valid_group(group) {
                return Err(format!(
                    "has invalid value for key auth-extra-groups: bootstrap group {group:?} is invalid (must match \\Asystem:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9]\\z)."
                ));
            }
            groups.insert(group.to_string());
        }
    }
    Ok((format!("{USER_PREFIX}{id}"), groups.into_iter().collect()))
}

/// cluster-bootstrap's group pattern: `system:bootstrappers:` then up to 255 of `[a-z0-9:-]`
/// and a last `[a-z0-9]`.
fn valid_group(group: &str) -> bool {
    let Some(rest) = group.strip_prefix("system:bootstrappers:") else {
        return false;
    };
    let b = rest.as_bytes();
    let Some((last, body)) = b.split_last() else {
        return false;
    };
    body.len() <= 255
        && (last.is_ascii_digit() || last.is_ascii_lowercase())
        && body
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase() || *c == b':' || *c == b'-')
}

/// Compares secrets without leaking where they differ through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn secret(extra: &[(&str, &str)]) -> Value {
        let mut data = serde_json::Map::new();
        for (k, v) in [
            ("token-id", "abcdef"),
            ("token-secret", "0123456789abcdef"),
            ("usage-bootstrap-authentication", "true"),
        ]
        .iter()
        .chain(extra)
        {
            data.insert(k.to_string(), json!(b64(v)));
        }
        json!({"metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"},
               "type": "bootstrap.kubernetes.io/token", "data": data})
    }

    #[test]
    fn tokens_of_the_bootstrap_form() {
        assert_eq!(
            parse("abcdef.0123456789abcdef"),
            Some(("abcdef", "0123456789abcdef"))
        );
        for bad in [
            "abcdef.0123456789abcde",
            "ABCDEF.0123456789abcdef",
            "abcdef0123456789abcdef",
            "abc.def.0123456789abcdef",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_secret_decides() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let ok = |s: &Value| authenticate(s, "abcdef", "0123456789abcdef", now);
        assert_eq!(
            ok(&secret(&[])),
            Ok((
                "system:bootstrap:abcdef".into(),
                vec!["system:bootstrappers".into()]
            ))
        );
        assert_eq!(
            ok(&secret(&[(
                "auth-extra-groups",
                "system:bootstrappers:kubeadm:default-node-token"
            )]))
            .unwrap()
            .1,
            vec![
                "system:bootstrappers",
                "system:bootstrappers:kubeadm:default-node-token"
            ]
        );
        assert!(ok(&secret(&[("expiration", "2027-01-01T00:00:00Z")])).is_ok());
        assert!(ok(&secret(&[("expiration", "2025-01-01T00:00:00Z")])).is_err());
        assert!(ok(&secret(&[("expiration", "soon")])).is_err());
        assert!(ok(&secret(&[("auth-extra-groups", "system:masters")]))
            .unwrap_err()
            .contains("bootstrap group \"system:masters\" is invalid"));
        assert!(
            authenticate(&secret(&[]), "abcdef", "0123456789abcdeX", now).is_err(),
            "wrong secret"
        );
        let mut unmarked = secret(&[]);
        unmarked["data"]
            .as_object_mut()
            .unwrap()
            .remove("usage-bootstrap-authentication");
        assert_eq!(
            ok(&unmarked).unwrap_err(),
            "not marked usage-bootstrap-authentication=true."
        );
        let mut opaque = secret(&[]);
        opaque["type"] = json!("Opaque");
        assert!(ok(&opaque).is_err());
        let mut deleting = secret(&[]);
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert!(ok(&deleting).is_err());
    }
}
