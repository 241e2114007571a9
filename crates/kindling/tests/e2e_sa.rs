//! End to end, with Docker: a pod on a real cluster gets its service account credentials. The
//! ServiceAccount admission plugin adds the `kube-api-access-*` projected volume, the worker's
//! node agent fills it (a TokenRequest bound to the pod, the `kube-root-ca.crt` ConfigMap the
//! controllers published, the namespace), and the token read from inside the pod authenticates
//! against the API server from the host with the real kubectl — until the pod is deleted.
//! Without a Docker engine the test fails when `KINDLING_REQUIRE_DOCKER=1` and is skipped with
//! a message otherwise.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use base64::Engine;
use common::{docker_available, runtime, text, unique, Env};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The node image of this test file, built from this very binary.
const NODE_IMAGE: &str = "kindling/node:e2e-sa";
/// The busybox test image, built locally (no registry is reachable).
const BUSYBOX: &str = "busybox:latest";
const MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// kubectl with another kubeconfig than the environment's (a token as the only credential).
fn kubectl_as(env: &Env, kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new("kubectl")
        .args(args)
        .env("HOME", env.home.path())
        .env("KUBECONFIG", kubeconfig)
        .output()
        .unwrap()
}

fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn a_pods_mounted_token_authenticates_until_the_pod_is_gone() {
    if !docker_available() {
        return;
    }
    common::ensure_node_image(NODE_IMAGE);
    runtime()
        .block_on(kindling_image::build_test_image(BUSYBOX))
        .expect("building the busybox image");
    let mut cluster = Env::new();
    let name = unique("sa");
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n";
    cluster.create_with(&name, Some(NODE_IMAGE), Some(config));
    let load = cluster.kindling(&["load", "docker-image", BUSYBOX, "--name", &name]);
    assert!(load.status.success(), "{}", text(&load.stderr));
    let worker = format!("{name}-worker");

    // A pod that prints what it was given.
    let script = format!(
        "ls {MOUNT}; echo ns=$(cat {MOUNT}/namespace); echo token=$(cat {MOUNT}/token); head -1 {MOUNT}/ca.crt"
    );
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: reader\nspec:\n  nodeName: {worker}\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: {BUSYBOX}\n    imagePullPolicy: IfNotPresent\n    command: [\"sh\", \"-c\", {script:?}]\n"
    );
    cluster.apply(&pod);
    let volume = cluster.ok_kubectl(&[
        "get",
        "pod",
        "reader",
        "-o",
        "jsonpath={.spec.volumes[0].name}",
    ]);
    assert!(volume.starts_with("kube-api-access-"), "{volume}");

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let phase = cluster.ok_kubectl(&["get", "pod", "reader", "-o", "jsonpath={.status.phase}"]);
        if phase == "Succeeded" {
            break;
        }
        if Instant::now() > deadline || phase == "Failed" {
            let describe = text(&cluster.kubectl(&["describe", "pod", "reader"]).stdout);
            panic!("pod reader is {phase:?}\n{describe}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let logs = cluster.ok_kubectl(&["logs", "reader"]);
    eprintln!("{logs}");
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines[..3], ["ca.crt", "namespace", "token"], "{logs}");
    assert_eq!(lines[3], "ns=default");
    assert_eq!(lines[5], "-----BEGIN CERTIFICATE-----");
    let token = lines[4].strip_prefix("token=").unwrap().to_string();

    // The token is bound to the pod on its node, and extended (warnafter) as upstream does.
    let c = claims(&token);
    let pod_uid = cluster.ok_kubectl(&["get", "pod", "reader", "-o", "jsonpath={.metadata.uid}"]);
    assert_eq!(c["sub"], "system:serviceaccount:default:default");
    assert_eq!(c["kubernetes.io"]["pod"]["uid"], pod_uid.as_str());
    assert_eq!(c["kubernetes.io"]["node"]["name"], worker.as_str());
    let iat = c["iat"].as_i64().unwrap();
    assert_eq!(
        c["kubernetes.io"]["warnafter"].as_i64().unwrap() - iat,
        3607
    );

    // From the host, the token is kubectl's only credential.
    let server = cluster.ok_kubectl(&[
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);
    let ca = cluster.ok_kubectl(&[
        "config",
        "view",
        "--minify",
        "--raw",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data}",
    ]);
    let token_config = cluster.home.path().join("token.kubeconfig");
    std::fs::write(
        &token_config,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: pod\n  user:\n    token: {token}\ncontexts:\n- name: pod\n  context: {{cluster: c, user: pod, namespace: default}}\ncurrent-context: pod\n"),
    )
    .unwrap();
    let whoami = kubectl_as(&cluster, &token_config, &["auth", "whoami", "-o", "json"]);
    assert!(whoami.status.success(), "{}", text(&whoami.stderr));
    let review: serde_json::Value = serde_json::from_slice(&whoami.stdout).unwrap();
    let user = &review["status"]["userInfo"];
    assert_eq!(user["username"], "system:serviceaccount:default:default");
    assert_eq!(
        user["extra"]["authentication.kubernetes.io/pod-name"],
        serde_json::json!(["reader"])
    );
    // RBAC: the service account may list pods only once a binding lets it.
    let pods = kubectl_as(&cluster, &token_config, &["get", "pods"]);
    assert_eq!(
        text(&pods.stderr).trim(),
        "Error from server (Forbidden): pods is forbidden: User \"system:serviceaccount:default:default\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    cluster.ok_kubectl(&[
        "create",
        "rolebinding",
        "default-view",
        "--clusterrole=view",
        "--serviceaccount=default:default",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let pods = loop {
        let pods = kubectl_as(&cluster, &token_config, &["get", "pods"]);
        if pods.status.success() || std::time::Instant::now() > deadline {
            break pods;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(pods.status.success(), "{}", text(&pods.stderr));
    assert!(
        text(&pods.stdout).contains("reader"),
        "{}",
        text(&pods.stdout)
    );

    // The pod goes; its token stops working.
    cluster.ok_kubectl(&["delete", "pod", "reader", "--wait=true"]);
    let denied = kubectl_as(&cluster, &token_config, &["get", "pods"]);
    assert!(!denied.status.success());
    assert!(
        text(&denied.stderr).contains("You must be logged in to the server"),
        "{}",
        text(&denied.stderr)
    );
}
