//! The bootstrap token controllers and the CSR cleaner against a real API server, each with
//! its own service account's client (a request outside its role would fail the test), driven
//! and checked with the real kubectl: expired bootstrap tokens are deleted, kube-public/
//! cluster-info carries a signature per signing token and loses it with the token, finished
//! CertificateSigningRequests are deleted after upstream's deadlines.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;

use base64::Engine;
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use kindling_controllers::bootstrap::{self, token};
use kube::api::{Api, PostParams};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", kubeconfig.parent().unwrap())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl is installed");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn ok(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> String {
    let out = kubectl(kubeconfig, args, stdin);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        common::text(&out.stderr)
    );
    common::text(&out.stdout)
}

fn rfc3339(from_now: i64) -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(from_now);
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A bootstrap-token Secret as `kubeadm token create` writes it.
fn token_secret(id: &str, secret: &str, expiration: Option<String>) -> String {
    let expiration = expiration
        .map(|e| format!("  expiration: \"{e}\"\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: bootstrap-token-{id}\n  namespace: kube-system\n\
         type: bootstrap.kubernetes.io/token\nstringData:\n  token-id: {id}\n  token-secret: {secret}\n\
         {expiration}  usage-bootstrap-authentication: \"true\"\n  usage-bootstrap-signing: \"true\"\n---\n"
    )
}

const KUBECONFIG: &str = "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: UEVN\n    server: https://kind-control-plane:6443\n  name: \"\"\ncontexts: null\ncurrent-context: \"\"\nkind: Config\npreferences: {}\nusers: null\n";

/// The `jws-kubeconfig-*` keys of cluster-info, as kubectl shows them.
fn signatures(kubeconfig: &Path) -> serde_json::Map<String, serde_json::Value> {
    let cm = ok(
        kubeconfig,
        &[
            "get",
            "configmap",
            "cluster-info",
            "-n",
            "kube-public",
            "-o",
            "json",
        ],
        None,
    );
    let cm: serde_json::Value = serde_json::from_str(&cm).unwrap();
    cm["data"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with(token::JWS_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn secret_exists(kubeconfig: &Path, name: &str) -> bool {
    kubectl(
        kubeconfig,
        &["get", "secret", name, "-n", "kube-system"],
        None,
    )
    .status
    .success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_go_and_cluster_info_is_signed() {
    let dir = tempfile::tempdir().unwrap();
    let (server, config, admin) = common::start_local(dir.path()).await;
    let kc = server.kubeconfig.clone();
    let cluster_info = serde_json::to_string(&json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "cluster-info", "namespace": "kube-public"},
        "data": {"kubeconfig": KUBECONFIG},
    }))
    .unwrap();
    // YAML first: older kubectl reads a stream that starts with `{` as one JSON document.
    let mut objects = token_secret("abcdef", "0123456789abcdef", Some(rfc3339(3600)));
    objects += &token_secret("old000", "0123456789abcdef", Some(rfc3339(-60)));
    objects += &token_secret("soon00", "fedcba9876543210", Some(rfc3339(4)));
    objects +=
        "apiVersion: v1\nkind: Secret\nmetadata: {name: not-a-token, namespace: kube-system}\n\
                stringData: {expiration: \"2000-01-01T00:00:00Z\"}\n---\n";
    objects += &cluster_info;
    let kc2 = kc.clone();
    tokio::task::spawn_blocking(move || ok(&kc2, &["apply", "-f", "-"], Some(&objects)))
        .await
        .unwrap();

    let clients = kindling_controllers::credentials::Clients::service_accounts(
        admin,
        &config,
        &dir.path().join("tokens"),
        &[bootstrap::TOKEN_CLEANER, bootstrap::BOOTSTRAP_SIGNER],
    )
    .await
    .unwrap();
    tokio::spawn(bootstrap::run_token_cleaner(
        clients.of(bootstrap::TOKEN_CLEANER),
    ));
    tokio::spawn(bootstrap::run_bootstrap_signer(
        clients.of(bootstrap::BOOTSTRAP_SIGNER),
    ));

    let check = |f: fn(&Path) -> bool| {
        let kc = kc.clone();
        move || {
            let kc = kc.clone();
            async move { tokio::task::spawn_blocking(move || f(&kc)).await.unwrap() }
        }
    };
    common::eventually(
        "the expired token deleted",
        check(|kc| !secret_exists(kc, "bootstrap-token-old000")),
    )
    .await;
    common::eventually(
        "cluster-info signed by abcdef and soon00",
        check(|kc| {
            let sigs = signatures(kc);
            sigs.len() == 2
                && sigs.get("jws-kubeconfig-abcdef")
                    == Some(&json!(token::detached_signature(
                        KUBECONFIG,
                        "abcdef",
                        "0123456789abcdef"
                    )))
                && sigs.contains_key("jws-kubeconfig-soon00")
        }),
    )
    .await;
    // soon00 expires: its Secret and its signature go, without anything else changing.
    common::eventually(
        "the token that expired meanwhile deleted, its signature gone",
        check(|kc| {
            !secret_exists(kc, "bootstrap-token-soon00")
                && signatures(kc).keys().collect::<Vec<_>>() == ["jws-kubeconfig-abcdef"]
        }),
    )
    .await;
    assert!(
        tokio::task::spawn_blocking({
            let kc = kc.clone();
            move || secret_exists(&kc, "not-a-token")
        })
        .await
        .unwrap(),
        "only bootstrap tokens are cleaned"
    );
    // A token deleted by hand takes its signature with it.
    let kc2 = kc.clone();
    tokio::task::spawn_blocking(move || {
        ok(
            &kc2,
            &[
                "delete",
                "secret",
                "bootstrap-token-abcdef",
                "-n",
                "kube-system",
            ],
            None,
        )
    })
    .await
    .unwrap();
    common::eventually("no signatures left", check(|kc| signatures(kc).is_empty())).await;
    drop(server);
}

/// A CSR `name` from a fresh key, for the kube-apiserver client signer.
fn csr(name: &str) -> CertificateSigningRequest {
    let request = kindling_pki::new_request(name, &[], &[], &[])
        .unwrap()
        .cert_pem;
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "request": base64::engine::general_purpose::STANDARD.encode(request),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"],
        },
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csr_cleaner_deletes_requests_done_with() {
    use kindling_controllers::certificates::cleaner;
    let dir = tempfile::tempdir().unwrap();
    let (server, config, admin) = common::start_local(dir.path()).await;
    let kc = server.kubeconfig.clone();
    let api = Api::<CertificateSigningRequest>::all(admin.clone());
    for name in ["pending", "denied-now", "denied-long-ago"] {
        api.create(&PostParams::default(), &csr(name))
            .await
            .unwrap();
    }
    let kc2 = kc.clone();
    tokio::task::spawn_blocking(move || ok(&kc2, &["certificate", "deny", "denied-now"], None))
        .await
        .unwrap();
    // Denied two hours ago, as the condition's lastUpdateTime says.
    let mut old = api.get("denied-long-ago").await.unwrap();
    let two_hours_ago = rfc3339(-7200);
    old.status = Some(
        serde_json::from_value(json!({"conditions": [{
            "type": "Denied", "status": "True", "reason": "Test", "message": "no",
            "lastUpdateTime": two_hours_ago, "lastTransitionTime": two_hours_ago,
        }]}))
        .unwrap(),
    );
    api.replace_subresource("approval", "denied-long-ago", &PostParams::default(), &old)
        .await
        .unwrap();

    // As upstream's cleaner: `certificate-controller`'s account.
    let clients = kindling_controllers::credentials::Clients::service_accounts(
        admin,
        &config,
        &dir.path().join("tokens"),
        &["certificate-controller"],
    )
    .await
    .unwrap();
    let own = Api::<CertificateSigningRequest>::all(clients.of("certificate-controller"));
    let names = || {
        let kc = kc.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                ok(&kc, &["get", "csr", "-o", "name"], None)
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap()
        }
    };
    let now = jiff::Timestamp::now();
    assert_eq!(cleaner::sweep(&own, now).await.unwrap(), 1);
    assert_eq!(
        names().await,
        [
            "certificatesigningrequest.certificates.k8s.io/denied-now",
            "certificatesigningrequest.certificates.k8s.io/pending"
        ]
    );
    // A day and an hour later the pending one and the other denied one are old enough too.
    let later = now + jiff::SignedDuration::from_secs(25 * 3600);
    assert_eq!(cleaner::sweep(&own, later).await.unwrap(), 2);
    assert!(names().await.is_empty());
    drop(server);
}
