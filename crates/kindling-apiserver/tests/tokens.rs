//! Bearer tokens besides service account tokens (issue 11, item 11), driven by the real kubectl
//! with `--token`: the `--token-auth-file` (CSV `token,user,uid,"group1,group2"`) and bootstrap
//! tokens (`bootstrap-token-<id>` Secrets in kube-system), with upstream's users and groups, and
//! 401 for everything else; a token file that cannot be read stops the server with Go's words.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{text, Kubectl, TestServer};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Output;

const TOKENS: &str = "static-secret-1,alice,1001,\"devs,ops\"\n\nci-token,ci-bot,2002\n";

fn server_with_token_file(kubectl: &Kubectl) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.csv");
    std::fs::write(&file, TOKENS).unwrap();
    let mut config = kindling_apiserver::Config::local(dir.path());
    config.token_auth_file = Some(file);
    let mut s = TestServer::start_with(dir, config);
    s.kubectl = kubectl.clone();
    s
}

/// A kubeconfig with the server and its CA and no credential: `--token` is the only one.
fn anonymous_kubeconfig(s: &TestServer) -> PathBuf {
    let dir = s.dir.path().join("anonymous");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kubeconfig");
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://{}\n    certificate-authority: {}\nusers:\n- name: u\n  user: {{}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u, namespace: default}}\ncurrent-context: x\n",
        s.address,
        s.dir.path().join("pki/ca.crt").display()
    );
    std::fs::write(&path, config).unwrap();
    path
}

fn with_token(s: &TestServer, token: &str, args: &[&str]) -> Output {
    let mut all = vec!["--token", token];
    all.extend_from_slice(args);
    s.kubectl.run(&anonymous_kubeconfig(s), &all, None, &[])
}

fn whoami(s: &TestServer, token: &str) -> Value {
    let out = with_token(s, token, &["auth", "whoami", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["status"]["userInfo"].clone()
}

fn assert_unauthorized(out: &Output) {
    assert!(!out.status.success(), "accepted: {}", text(&out.stdout));
    let err = text(&out.stderr);
    // kubectl words a 401 as "(Unauthorized)", or, when discovery meets it first, "(the
    // server has asked for the client to provide credentials)".
    assert!(err.contains("You must be logged in to the server"), "{err}");
}

fn static_tokens_authenticate_their_users(kubectl: &Kubectl) {
    let s = server_with_token_file(kubectl);
    assert_eq!(
        whoami(&s, "static-secret-1"),
        json!({"username": "alice", "uid": "1001", "groups": ["devs", "ops", "system:authenticated"]})
    );
    assert_eq!(
        whoami(&s, "ci-token"),
        json!({"username": "ci-bot", "uid": "2002", "groups": ["system:authenticated"]})
    );
    s.grant(
        &[
            "clusterrolebinding",
            "devs-view",
            "--clusterrole=view",
            "--group=devs",
        ],
        &["list", "namespaces", "--as=alice", "--as-group=devs"],
    );
    let out = with_token(&s, "static-secret-1", &["get", "ns", "-o", "name"]);
    assert!(
        text(&out.stdout).contains("namespace/default"),
        "{}",
        text(&out.stderr)
    );
    assert_unauthorized(&with_token(&s, "static-secret-2", &["get", "ns"]));
    // A TokenReview says the same, for the API server's audience.
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                        "spec": {"token": "ci-token"}});
    let out = s.kubectl_stdin(
        &["create", "--validate=false", "-o", "json", "-f", "-"],
        &review.to_string(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reviewed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reviewed["status"]["authenticated"], true, "{reviewed}");
    assert_eq!(reviewed["status"]["user"]["username"], "ci-bot");
    assert_eq!(
        reviewed["status"]["audiences"],
        json!(["https://kubernetes.default.svc.cluster.local"])
    );
}

const BOOTSTRAP: &str = "apiVersion: v1
kind: Secret
metadata:
  name: bootstrap-token-abcdef
  namespace: kube-system
type: bootstrap.kubernetes.io/token
stringData:
  token-id: abcdef
  token-secret: 0123456789abcdef
  usage-bootstrap-authentication: \"true\"
  usage-bootstrap-signing: \"true\"
  auth-extra-groups: system:bootstrappers:kubeadm:default-node-token
  EXTRA
";

fn bootstrap_tokens_authenticate_while_their_secret_allows(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    let token = "abcdef.0123456789abcdef";
    assert_unauthorized(&with_token(&s, token, &["get", "ns"]));
    s.apply(&BOOTSTRAP.replace("EXTRA", "expiration: \"2999-01-01T00:00:00Z\""));
    assert_eq!(
        whoami(&s, token),
        json!({"username": "system:bootstrap:abcdef", "groups": [
            "system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token",
            "system:authenticated"]})
    );
    assert_unauthorized(&with_token(&s, "abcdef.0123456789abcdeX", &["get", "ns"]));
    // Expired, or not for authentication: no longer a credential.
    s.apply(&BOOTSTRAP.replace("EXTRA", "expiration: \"2001-01-01T00:00:00Z\""));
    assert_unauthorized(&with_token(&s, token, &["get", "ns"]));
    // The token cleaner may have deleted the expired token already.
    s.ok(&[
        "delete",
        "secret",
        "-n",
        "kube-system",
        "bootstrap-token-abcdef",
        "--ignore-not-found",
    ]);
    s.apply(
        &BOOTSTRAP
            .replace("  usage-bootstrap-authentication: \"true\"\n", "")
            .replace("  EXTRA\n", ""),
    );
    assert_unauthorized(&with_token(&s, token, &["get", "ns"]));
}

/// A token file that cannot be read or parsed: the server does not start (kube-apiserver's
/// messages).
#[test]
fn bad_token_files_stop_the_server() {
    let start = |file: PathBuf| {
        let dir = tempfile::tempdir().unwrap();
        let mut config = kindling_apiserver::Config::local(dir.path());
        config.token_auth_file = Some(file);
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(kindling_apiserver::start(config))
            .err()
            .expect("refused")
            .to_string()
    };
    assert_eq!(
        start("/nonexistent/tokens.csv".into()),
        "open /nonexistent/tokens.csv: no such file or directory"
    );
    let dir = tempfile::tempdir().unwrap();
    let short = dir.path().join("short.csv");
    std::fs::write(&short, "token,user\n").unwrap();
    assert_eq!(
        start(short.clone()),
        format!(
            "token file '{}' must have at least 3 columns (token, user name, user uid), found 2",
            short.display()
        )
    );
    let quoted = dir.path().join("quoted.csv");
    std::fs::write(&quoted, "t,u\"ser,1\n").unwrap();
    assert_eq!(
        start(quoted),
        "parse error on line 1, column 4: bare \" in non-quoted-field"
    );
}

common::kubectl_tests!(
    static_tokens_authenticate_their_users,
    bootstrap_tokens_authenticate_while_their_secret_allows,
);
