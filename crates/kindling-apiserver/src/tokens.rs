//! Service account tokens: ES256 JWTs signed with the cluster's `sa.key`, with upstream's claims
//! (pkg/serviceaccount/claims.go): `iss`, `sub` = `system:serviceaccount:<ns>:<name>`, `aud`,
//! `exp`/`iat`/`nbf`, `jti`, and the private `kubernetes.io` claim naming the namespace, the
//! service account and the object the token is bound to.
//!
//! Pure signing and checking; whether the service account and bound pod still exist is the
//! authenticator's job (`auth`), which has the registry.

use crate::pki::ServiceAccountKey;
use anyhow::{Context, Result};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rustls::pki_types::pem::PemObject;
use serde::{Deserialize, Serialize};
use sha2::Digest;

/// kubeadm's `--service-account-issuer`; also the default API audience.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// What the ServiceAccount admission plugin asks for (one hour and seven seconds: the odd value
/// marks tokens whose lifetime the server extends, see [`EXTENDED_EXPIRATION_SECONDS`]).
pub const WARN_ONLY_EXPIRATION_SECONDS: i64 = 3607;
/// Pod-bound tokens requested for [`WARN_ONLY_EXPIRATION_SECONDS`] stay valid for a year
/// (`--service-account-extend-token-expiration`, on by default), so that clients which do not
/// reread the file are warned about, not cut off.
pub const EXTENDED_EXPIRATION_SECONDS: i64 = 365 * 24 * 60 * 60;
/// Clock skew tolerated on `exp` and `nbf`, as upstream's `jwt.DefaultLeeway`.
const LEEWAY_SECONDS: u64 = 60;

/// A name and uid, as every object reference in the claims.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
}

/// The private `kubernetes.io` claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubernetesClaims {
    pub namespace: String,
    pub serviceaccount: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<ObjectRef>,
    /// Set on extended tokens: when clients should have switched to a fresh one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

/// Every claim of a service account token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: KubernetesClaims,
}

impl Claims {
    /// The user name the token authenticates as.
    pub fn username(&self) -> String {
        service_account_username(
            &self.kubernetes.namespace,
            &self.kubernetes.serviceaccount.name,
        )
    }
}

/// `system:serviceaccount:<ns>:<name>`.
pub fn service_account_username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// What a token is being issued for.
pub struct TokenGrant<'a> {
    pub namespace: &'a str,
    pub service_account: ObjectRef,
    pub pod: Option<ObjectRef>,
    pub secret: Option<ObjectRef>,
    pub node: Option<ObjectRef>,
    pub audiences: Vec<String>,
    pub expiration_seconds: i64,
    pub now: i64,
}

/// Why a token does not authenticate.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    /// Not one of ours: another issuer, or not a JWT at all. The next authenticator may try it.
    NotOurs,
    Invalid(String),
}

/// Signs and checks service account tokens.
pub struct TokenIssuer {
    issuer: String,
    /// The audiences this API server accepts (`--api-audiences`, default the issuer).
    api_audiences: Vec<String>,
    key_id: String,
    /// The public key's SubjectPublicKeyInfo (DER), for the JWKS document.
    public_der: Vec<u8>,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenIssuer {
    pub fn new(key: &ServiceAccountKey, issuer: &str) -> Result<TokenIssuer> {
        let encoding =
            EncodingKey::from_ec_pem(key.private_pem.as_bytes()).context("loading sa.key")?;
        let decoding =
            DecodingKey::from_ec_pem(key.public_pem.as_bytes()).context("loading sa.pub")?;
        Ok(TokenIssuer {
            issuer: issuer.to_string(),
            api_audiences: vec![issuer.to_string()],
            key_id: key_id(&key.public_pem)?,
            public_der: rustls::pki_types::SubjectPublicKeyInfoDer::from_pem_slice(
                key.public_pem.as_bytes(),
            )
            .context("parsing sa.pub")?
            .as_ref()
            .to_vec(),
            encoding,
            decoding,
        })
    }

    /// `--api-audiences` (empty: the issuer, as upstream defaults it).
    pub fn with_audiences(mut self, audiences: &[String]) -> TokenIssuer {
        if !audiences.is_empty() {
            self.api_audiences = audiences.to_vec();
        }
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Whether issuer discovery is served: upstream serves it only for an `https` issuer URL.
    pub fn discoverable(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// `/.well-known/openid-configuration` (upstream's OpenID provider metadata), keys at
    /// `jwks_uri`.
    pub fn openid_configuration(&self, jwks_uri: &str) -> serde_json::Value {
        serde_json::json!({
            "issuer": self.issuer,
            "jwks_uri": jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    }

    /// `/openid/v1/jwks`: the public key as a JWK (P-256: the SPKI ends in the uncompressed
    /// point 0x04 ‖ x ‖ y).
    pub fn jwks(&self) -> serde_json::Value {
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let point = &self.public_der[self.public_der.len().saturating_sub(65)..];
        let (x, y) = if point.len() == 65 && point[0] == 4 {
            (b64(&point[1..33]), b64(&point[33..]))
        } else {
            (String::new(), String::new())
        };
        serde_json::json!({"keys": [{
            "use": "sig", "kty": "EC", "kid": self.key_id, "crv": "P-256", "alg": "ES256",
            "x": x, "y": y,
        }]})
    }

    pub fn api_audiences(&self) -> &[String] {
        &self.api_audiences
    }

    /// The claims of a new token; returns them with the expiry the TokenRequest reports (the
    /// requested one, even when the token itself is extended).
    pub fn claims(&self, grant: TokenGrant<'_>) -> (Claims, i64) {
        let requested_expiry = grant.now + grant.expiration_seconds;
        let extend =
            grant.pod.is_some() && grant.expiration_seconds == WARN_ONLY_EXPIRATION_SECONDS;
        let (exp, warnafter) = if extend {
            (
                grant.now + EXTENDED_EXPIRATION_SECONDS,
                Some(requested_expiry),
            )
        } else {
            (requested_expiry, None)
        };
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: service_account_username(grant.namespace, &grant.service_account.name),
            aud: grant.audiences,
            exp,
            iat: grant.now,
            nbf: grant.now,
            jti: uuid::Uuid::new_v4().to_string(),
            kubernetes: KubernetesClaims {
                namespace: grant.namespace.to_string(),
                serviceaccount: grant.service_account,
                pod: grant.pod,
                secret: grant.secret,
                node: grant.node,
                warnafter,
            },
        };
        (claims, requested_expiry)
    }

    pub fn sign(&self, claims: &Claims) -> Result<String> {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).context("signing the token")
    }

    /// Checks signature, issuer, validity window and audience (one of the API audiences).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_for(token, &self.api_audiences)
    }

    /// [`TokenIssuer::verify`] for a token meant for one of `audiences` (a TokenReview's).
    pub fn verify_for(&self, token: &str, audiences: &[String]) -> Result<Claims, TokenError> {
        // Only tokens that claim our issuer are ours to judge.
        let unverified = unverified_issuer(token).ok_or(TokenError::NotOurs)?;
        if unverified != self.issuer {
            return Err(TokenError::NotOurs);
        }
        let mut validation = Validation::new(Algorithm::ES256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let claims = data.claims;
        let k = &claims.kubernetes;
        if claims.sub != service_account_username(&k.namespace, &k.serviceaccount.name) {
            return Err(TokenError::Invalid(
                "sub does not match the kubernetes.io claims".into(),
            ));
        }
        Ok(claims)
    }
}

/// The `iss` of a JWT, read without checking anything.
fn unverified_issuer(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value["iss"].as_str().map(str::to_string)
}

/// Upstream's key id: base64url(sha256(DER of the public key)), so verifiers can pick the key.
fn key_id(public_pem: &str) -> Result<String> {
    let der = rustls::pki_types::SubjectPublicKeyInfoDer::from_pem_slice(public_pem.as_bytes())
        .context("parsing sa.pub")?;
    let digest = sha2::Sha256::digest(der.as_ref());
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> TokenIssuer {
        let dir = tempfile::tempdir().unwrap();
        let key = ServiceAccountKey::load_or_create(dir.path()).unwrap();
        TokenIssuer::new(&key, DEFAULT_ISSUER).unwrap()
    }

    fn grant(now: i64, seconds: i64, aud: &str) -> TokenGrant<'static> {
        TokenGrant {
            namespace: "ns",
            service_account: ObjectRef {
                name: "robot".into(),
                uid: "u1".into(),
            },
            pod: None,
            secret: None,
            node: None,
            audiences: vec![aud.to_string()],
            expiration_seconds: seconds,
            now,
        }
    }

    fn now() -> i64 {
        jiff::Timestamp::now().as_second()
    }

    #[test]
    fn a_signed_token_verifies_with_its_claims() {
        let issuer = issuer();
        let (claims, expiry) = issuer.claims(grant(now(), 600, DEFAULT_ISSUER));
        assert_eq!(expiry, claims.exp);
        let token = issuer.sign(&claims).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert!(header.kid.is_some_and(|k| k.len() == 43));
        let got = issuer.verify(&token).unwrap();
        assert_eq!(got, claims);
        assert_eq!(got.username(), "system:serviceaccount:ns:robot");
    }

    #[test]
    fn the_jwks_key_verifies_the_issuers_tokens() {
        let issuer = issuer();
        let jwks = issuer.jwks();
        let key: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
        let decoding = DecodingKey::from_jwk(&key).unwrap();
        let (claims, _) = issuer.claims(grant(now(), 600, DEFAULT_ISSUER));
        let token = issuer.sign(&claims).unwrap();
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&[DEFAULT_ISSUER]);
        assert!(jsonwebtoken::decode::<Claims>(&token, &decoding, &v).is_ok());
        assert_eq!(key.common.key_id.as_deref(), Some(issuer.key_id.as_str()));
        let conf = issuer.openid_configuration("https://h/openid/v1/jwks");
        assert_eq!(conf["issuer"], DEFAULT_ISSUER);
        assert!(issuer.discoverable());
    }

    #[test]
    fn expired_foreign_audience_and_tampered_tokens_are_refused() {
        let issuer = issuer();
        let (old, _) = issuer.claims(grant(now() - 4000, 600, DEFAULT_ISSUER));
        let expired = issuer.sign(&old).unwrap();
        assert!(
            matches!(issuer.verify(&expired), Err(TokenError::Invalid(e)) if e.contains("Expired"))
        );

        let (claims, _) = issuer.claims(grant(now(), 600, "vault"));
        let other = issuer.sign(&claims).unwrap();
        assert!(matches!(issuer.verify(&other), Err(TokenError::Invalid(_))));

        let (claims, _) = issuer.claims(grant(now(), 600, DEFAULT_ISSUER));
        let token = issuer.sign(&claims).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claims {
                sub: "system:serviceaccount:kube-system:admin".into(),
                ..claims
            })
            .unwrap(),
        );
        parts[1] = &forged;
        assert!(matches!(
            issuer.verify(&parts.join(".")),
            Err(TokenError::Invalid(_))
        ));
        assert_eq!(issuer.verify("not-a-jwt"), Err(TokenError::NotOurs));
    }

    #[test]
    fn another_key_signature_is_refused_and_keys_survive_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let first = ServiceAccountKey::load_or_create(dir.path()).unwrap();
        let again = ServiceAccountKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.private_pem, again.private_pem);
        assert_eq!(first.public_pem, again.public_pem);
        let ours = TokenIssuer::new(&first, DEFAULT_ISSUER).unwrap();
        let theirs = issuer();
        let (claims, _) = theirs.claims(grant(now(), 600, DEFAULT_ISSUER));
        let token = theirs.sign(&claims).unwrap();
        assert!(matches!(ours.verify(&token), Err(TokenError::Invalid(_))));
    }

    #[test]
    fn pod_tokens_of_the_admission_lifetime_are_extended_with_warnafter() {
        let issuer = issuer();
        let now = now();
        let mut g = grant(now, WARN_ONLY_EXPIRATION_SECONDS, DEFAULT_ISSUER);
        g.pod = Some(ObjectRef {
            name: "p".into(),
            uid: "pu".into(),
        });
        let (claims, expiry) = issuer.claims(g);
        assert_eq!(expiry, now + 3607);
        assert_eq!(claims.exp, now + EXTENDED_EXPIRATION_SECONDS);
        assert_eq!(claims.kubernetes.warnafter, Some(now + 3607));
    }
}
