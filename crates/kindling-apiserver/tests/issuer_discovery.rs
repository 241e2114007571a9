//! Service account issuer discovery with the real kubectl: `/.well-known/openid-configuration`
//! and `/openid/v1/jwks` name the configured issuer and the key that verifies its tokens,
//! readable by service accounts (`system:service-account-issuer-discovery`) and not by
//! anonymous users; `--service-account-issuer` / `--api-audiences` decide what tokens say and
//! which audiences the server accepts.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{text, Kubectl, TestServer};
use serde_json::Value;
use std::path::PathBuf;

const ISSUER: &str = "https://issuer.example.com";

fn server(kubectl: &Kubectl) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = kindling_apiserver::Config::local(dir.path());
    config.service_account_issuer = Some(ISSUER.into());
    config.api_audiences = vec!["api".into(), ISSUER.into()];
    let mut s = TestServer::start_with(dir, config);
    s.kubectl = kubectl.clone();
    s
}

/// A kubeconfig with the server's CA and no credential.
fn bare_kubeconfig(s: &TestServer) -> PathBuf {
    let path = s.dir.path().join("bare.kubeconfig");
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://{}\n    certificate-authority: {}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u, namespace: default}}\ncurrent-context: x\n",
        s.address,
        s.dir.path().join("pki/ca.crt").display()
    );
    std::fs::write(&path, config).unwrap();
    path
}

fn with_token(s: &TestServer, token: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--token", token];
    all.extend_from_slice(args);
    s.kubectl.run(&bare_kubeconfig(s), &all, None, &[])
}

fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn discovery_documents_name_the_issuer_and_its_key(kubectl: &Kubectl) {
    let s = server(kubectl);
    let token = s.ok(&["create", "token", "default"]).trim().to_string();
    let c = claims(&token);
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], serde_json::json!(["api", ISSUER]));

    // A service account may read both documents (the bootstrap binding to its group).
    let out = with_token(
        &s,
        &token,
        &["get", "--raw", "/.well-known/openid-configuration"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conf: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(conf["issuer"], ISSUER);
    assert_eq!(
        conf["jwks_uri"],
        format!("https://{}/openid/v1/jwks", s.address)
    );
    assert_eq!(
        conf["response_types_supported"],
        serde_json::json!(["id_token"])
    );
    let out = with_token(&s, &token, &["get", "--raw", "/openid/v1/jwks"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let jwks: Value = serde_json::from_slice(&out.stdout).unwrap();

    // The published key verifies the token, as an external verifier would.
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&["api"]);
    v.set_issuer(&[ISSUER]);
    jsonwebtoken::decode::<Value>(&token, &key, &v).unwrap();

    // Anonymous requests are refused, as upstream's default policy does.
    let out = s.kubectl.run(
        &bare_kubeconfig(&s),
        &["get", "--raw", "/openid/v1/jwks"],
        None,
        &[],
    );
    assert!(!out.status.success());
    // (kubectl 1.35 shows the 403; older ones only "error: EOF".)
    let err = text(&out.stderr);
    if err.contains("Forbidden") {
        assert_eq!(
            err.trim(),
            r#"Error from server (Forbidden): forbidden: User "system:anonymous" cannot get path "/openid/v1/jwks""#
        );
    }

    // Tokens for an audience the server does not accept authenticate nothing (401).
    let foreign = s
        .ok(&["create", "token", "default", "--audience=vault"])
        .trim()
        .to_string();
    let out = with_token(&s, &foreign, &["get", "pods"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("You must be logged in to the server") || err.contains("Unauthorized"),
        "{err}"
    );
}

common::kubectl_tests!(discovery_documents_name_the_issuer_and_its_key);
