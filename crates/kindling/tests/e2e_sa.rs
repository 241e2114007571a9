//! End to end, with Docker: a pod on a real cluster gets its service account credentials. The
//! ServiceAccount admission plugin adds the `kube-api-access-*` projected volume, the worker's
//! node agent fills it (a TokenRequest bound to the pod, the `kube-root-ca.crt` ConfigMap the
//! controllers published, the namespace), and the token read from inside the pod authenticates
//! against the API server from the host with the real kubectl — until the pod is deleted.
//! Without a Docker engine the test fails when `KINDLING_REQUIRE_DOCKER=1` and is skipped with
//! a message otherwise.

mod common;
use base64::Engine;
use common::{docker_available, runtime, text, unique};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The node image of this test file, built from this very binary.
const NODE_IMAGE: &str = "kindling/node:e2e-sa";
/// The busybox test image, built locally (no registry is reachable).
const BUSYBOX: &str = "kindling-e2e/busybox:sa";
const MOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// A cluster (deleted on drop, also when an assertion fails) and its kubeconfig.
struct Cluster {
    home: tempfile::TempDir,
    name: String,
    created: bool,
}

impl Cluster {
    fn kubeconfig(&self) -> PathBuf {
        self.home.path().join(".kube").join("config")
    }

    fn kindling(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run(
            Command::new(env!("CARGO_BIN_EXE_kindling"))
                .args(args)
                .env("HOME", self.home.path())
                .env("KUBECONFIG", self.kubeconfig())
                .env_remove("KIND_CLUSTER_NAME"),
            stdin,
        )
    }

    fn kubectl_with(&self, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        run(
            Command::new("kubectl")
                .args(args)
                .env("HOME", self.home.path())
                .env("KUBECONFIG", kubeconfig),
            stdin,
        )
    }

    fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with(&self.kubeconfig(), args, None)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.created {
            let _ = self.kindling(&["delete", "cluster", "--name", &self.name], None);
        }
    }
}

fn run(cmd: &mut Command, stdin: Option<&str>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
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
    let rt = runtime();
    rt.block_on(kindling_image::ensure_node_image(
        &kindling_image::NodeImageOptions {
            image: NODE_IMAGE.to_string(),
            kindling_binary: PathBuf::from(env!("CARGO_BIN_EXE_kindling")),
            ..Default::default()
        },
    ))
    .expect("building the node image");
    rt.block_on(kindling_image::build_test_image(BUSYBOX))
        .expect("building the busybox image");

    let mut cluster = Cluster {
        home: tempfile::tempdir().unwrap(),
        name: unique("sa"),
        created: false,
    };
    let name = cluster.name.clone();
    cluster.created = true;
    let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: worker\n";
    let out = cluster.kindling(
        &[
            "create", "cluster", "--name", &name, "--image", NODE_IMAGE, "--config", "-",
        ],
        Some(config),
    );
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let load = cluster.kindling(&["load", "docker-image", BUSYBOX, "--name", &name], None);
    assert!(load.status.success(), "{}", text(&load.stderr));
    let worker = format!("{name}-worker");

    // A pod that prints what it was given.
    let script = format!(
        "ls {MOUNT}; echo ns=$(cat {MOUNT}/namespace); echo token=$(cat {MOUNT}/token); head -1 {MOUNT}/ca.crt"
    );
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: reader\nspec:\n  nodeName: {worker}\n  restartPolicy: Never\n  containers:\n  - name: main\n    image: {BUSYBOX}\n    imagePullPolicy: IfNotPresent\n    command: [\"sh\", \"-c\", {script:?}]\n"
    );
    let out = cluster.kubectl_with(&cluster.kubeconfig(), &["apply", "-f", "-"], Some(&pod));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let volume = cluster.ok(&[
        "get",
        "pod",
        "reader",
        "-o",
        "jsonpath={.spec.volumes[0].name}",
    ]);
    assert!(volume.starts_with("kube-api-access-"), "{volume}");

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let phase = cluster.ok(&["get", "pod", "reader", "-o", "jsonpath={.status.phase}"]);
        if phase == "Succeeded" {
            break;
        }
        if Instant::now() > deadline || phase == "Failed" {
            let describe = text(&cluster.kubectl(&["describe", "pod", "reader"]).stdout);
            panic!("pod reader is {phase:?}\n{describe}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let logs = cluster.ok(&["logs", "reader"]);
    eprintln!("{logs}");
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines[..3], ["ca.crt", "namespace", "token"], "{logs}");
    assert_eq!(lines[3], "ns=default");
    assert_eq!(lines[5], "-----BEGIN CERTIFICATE-----");
    let token = lines[4].strip_prefix("token=").unwrap().to_string();

    // The token is bound to the pod on its node, and extended (warnafter) as upstream does.
    let c = claims(&token);
    let pod_uid = cluster.ok(&["get", "pod", "reader", "-o", "jsonpath={.metadata.uid}"]);
    assert_eq!(c["sub"], "system:serviceaccount:default:default");
    assert_eq!(c["kubernetes.io"]["pod"]["uid"], pod_uid.as_str());
    assert_eq!(c["kubernetes.io"]["node"]["name"], worker.as_str());
    let iat = c["iat"].as_i64().unwrap();
    assert_eq!(
        c["kubernetes.io"]["warnafter"].as_i64().unwrap() - iat,
        3607
    );

    // From the host, the token is kubectl's only credential.
    let server = cluster.ok(&[
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);
    let ca = cluster.ok(&[
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
    let whoami = cluster.kubectl_with(&token_config, &["auth", "whoami", "-o", "json"], None);
    assert!(whoami.status.success(), "{}", text(&whoami.stderr));
    let review: serde_json::Value = serde_json::from_slice(&whoami.stdout).unwrap();
    let user = &review["status"]["userInfo"];
    assert_eq!(user["username"], "system:serviceaccount:default:default");
    assert_eq!(
        user["extra"]["authentication.kubernetes.io/pod-name"],
        serde_json::json!(["reader"])
    );
    let pods = cluster.kubectl_with(&token_config, &["get", "pods"], None);
    assert!(pods.status.success(), "{}", text(&pods.stderr));
    assert!(
        text(&pods.stdout).contains("reader"),
        "{}",
        text(&pods.stdout)
    );

    // The pod goes; its token stops working.
    cluster.ok(&["delete", "pod", "reader", "--wait=true"]);
    let denied = cluster.kubectl_with(&token_config, &["get", "pods"], None);
    assert!(!denied.status.success());
    assert!(
        text(&denied.stderr).contains("You must be logged in to the server"),
        "{}",
        text(&denied.stderr)
    );
}
