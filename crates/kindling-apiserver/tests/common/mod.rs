//! A real API server on 127.0.0.1 in a temp dir, and the real kubectl pointed at it.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub address: std::net::SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
    server: Option<kindling_apiserver::RunningServer>,
}

impl TestServer {
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir)
    }

    /// Starts a server on an existing data dir (to test restarts).
    pub fn start_in(dir: tempfile::TempDir) -> TestServer {
        let config = kindling_apiserver::Config::local(dir.path());
        Self::start_with(dir, config)
    }

    /// Starts a server with a config of the test's choosing.
    pub fn start_with(dir: tempfile::TempDir, config: kindling_apiserver::Config) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = runtime
            .block_on(kindling_apiserver::start(config))
            .expect("server starts");
        runtime.block_on(start_controllers(&server));
        TestServer {
            kubeconfig: server.kubeconfig.clone(),
            address: server.address,
            dir,
            runtime: Some(runtime),
            server: Some(server),
        }
    }

    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().unwrap()
    }

    /// Stops the server and hands back its data dir.
    pub fn stop(mut self) -> tempfile::TempDir {
        drop(self.server.take());
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
        }
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with(args, None, &[])
    }

    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        self.kubectl_with(args, Some(stdin), &[])
    }

    pub fn kubectl_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        kubectl_at(&self.kubeconfig, args, stdin, env)
    }

    /// kubectl that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// kubectl that must fail; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded:\n{}",
            text(&out.stdout)
        );
        text(&out.stderr)
    }

    pub fn apply(&self, yaml: &str) -> String {
        let out = self.kubectl_stdin(&["apply", "-f", "-"], yaml);
        assert!(out.status.success(), "apply failed: {}", text(&out.stderr));
        text(&out.stdout)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        drop(self.server.take());
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The controllers a cluster runs beside its API server (default ServiceAccounts, the root CA
/// ConfigMap), as on a control-plane node; returns once `default` has its ServiceAccount, so
/// that tests may create pods at once.
async fn start_controllers(server: &kindling_apiserver::RunningServer) {
    let client = kube_client(&server.kubeconfig).await;
    tokio::spawn(kindling_controllers::run(
        client.clone(),
        kindling_controllers::Config {
            root_ca_pem: server.ca_pem.clone(),
        },
    ));
    let accounts: kube::Api<k8s_openapi::api::core::v1::ServiceAccount> =
        kube::Api::namespaced(client, "default");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while accounts.get_opt("default").await.ok().flatten().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the default ServiceAccount never appeared"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A kube client with the admin credentials of a kubeconfig.
pub async fn kube_client(kubeconfig: &Path) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("client config");
    kube::Client::try_from(config).expect("client")
}

/// The kubectl the tests run: kubectl 1.35 (the minor kindling serves) from `<repo>/tools/bin`
/// when it is there (scripts/tools.sh puts it there), else `kubectl` from the PATH.
pub fn kubectl_program() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let pinned = repo.join("tools/bin/kubectl-1.35");
    if pinned.is_file() {
        pinned
    } else {
        PathBuf::from("kubectl")
    }
}

pub fn kubectl_at(
    kubeconfig: &Path,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = Command::new(kubectl_program());
    cmd.args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", kubeconfig.parent().unwrap())
        .env_remove("KUBECTL_EXTERNAL_DIFF")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .expect("kubectl is installed (see scripts/setup.sh)");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The lines of a `kubectl get` table, whitespace-normalised, header first.
pub fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}
