//! A real API server on 127.0.0.1 in a temp dir, and the real kubectls pointed at it.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A kubectl the tests drive. Every kubectl-driven test runs once with each (see
/// [`kubectl_tests!`]): the machine's own and the newest release, from `tools/bin`.
#[derive(Clone, Debug)]
pub struct Kubectl {
    pub program: PathBuf,
}

impl Kubectl {
    /// The machine's kubectl: `$KINDLING_KUBECTL`, else `kubectl` on the PATH. (On the project's
    /// machines that is the cloud SDK's dispatcher: it runs the `kubectl.1.NN` matching the
    /// server's minor version when it has one, else its own 1.32.)
    pub fn machine() -> Kubectl {
        let program = std::env::var_os("KINDLING_KUBECTL").unwrap_or_else(|| "kubectl".into());
        Kubectl {
            program: program.into(),
        }
    }

    /// kubectl 1.35 (`scripts/tools.sh` installs it); `None` if it is not installed (see
    /// [`tool`]).
    pub fn v1_35() -> Option<Kubectl> {
        tool("bin/kubectl-1.35").map(|program| Kubectl { program })
    }

    /// kubectl with `kubeconfig` as its only configuration (HOME too, so that its discovery
    /// cache belongs to the test).
    pub fn command(&self, kubeconfig: &Path) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.env("KUBECONFIG", kubeconfig)
            .env("HOME", kubeconfig.parent().unwrap())
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .env_remove("KUBERC");
        cmd
    }

    pub fn run(
        &self,
        kubeconfig: &Path,
        args: &[&str],
        stdin: Option<&str>,
        env: &[(&str, &str)],
    ) -> Output {
        let mut cmd = self.command(kubeconfig);
        cmd.args(args)
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
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "{} does not run ({e}); see scripts/setup.sh",
                self.program.display()
            )
        });
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
}

/// Generates, for each named `fn test(kubectl: &Kubectl)`, one `#[test]` per kubectl:
/// `machine_kubectl::test` and `kubectl_1_35::test` (skipped with a note when kubectl 1.35 is
/// not installed, a failure then under `KINDLING_REQUIRE_TOOLS=1`). Invoke it once per file,
/// naming every such test: one left out is dead code, which the lints refuse.
#[allow(unused_macros)]
macro_rules! kubectl_tests {
    ($($test:ident),+ $(,)?) => {
        mod machine_kubectl {
            $(#[test]
            fn $test() {
                super::$test(&crate::common::Kubectl::machine())
            })+
        }
        mod kubectl_1_35 {
            $(#[test]
            fn $test() {
                if let Some(kubectl) = crate::common::Kubectl::v1_35() {
                    super::$test(&kubectl)
                }
            })+
        }
    };
}
#[allow(unused_imports)]
pub(crate) use kubectl_tests;

/// The repository's root.
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// A file `scripts/tools.sh` installs under `tools/`, if it is there. A missing one fails the test
/// when `KINDLING_REQUIRE_TOOLS=1` (CI) and is otherwise skipped, with a note printed once per
/// test program past the test harness's capture.
pub fn tool(relative: &str) -> Option<PathBuf> {
    let path = repo_root().join("tools").join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("KINDLING_REQUIRE_TOOLS").map_or(true, |v| v != "1"),
        "KINDLING_REQUIRE_TOOLS=1 but {} is missing: run scripts/tools.sh",
        path.display()
    );
    static NOTED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut noted = NOTED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if !noted.iter().any(|n| n == relative) {
        noted.push(relative.to_string());
        let _ = writeln!(
            std::io::stderr(),
            "note: tools/{relative} is not installed (scripts/tools.sh): its tests are skipped"
        );
    }
    None
}

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub address: std::net::SocketAddr,
    /// The kubectl that [`TestServer::kubectl`] and its kin run.
    pub kubectl: Kubectl,
    runtime: Option<tokio::runtime::Runtime>,
    server: Option<kindling_apiserver::RunningServer>,
}

impl TestServer {
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir)
    }

    /// Starts a server that `kubectl` drives.
    pub fn start_using(kubectl: &Kubectl) -> TestServer {
        let mut s = Self::start();
        s.kubectl = kubectl.clone();
        s
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
            kubectl: Kubectl::machine(),
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
        self.kubectl.run(&self.kubeconfig, args, stdin, env)
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

    /// Waits (≤ 5 s) until `kubectl auth can-i <can_i>` says yes: the server's RBAC policy is
    /// kept from a watch, so a binding just created takes effect a few milliseconds later.
    pub fn await_can_i(&self, can_i: &[&str]) {
        let mut args = vec!["auth", "can-i"];
        args.extend_from_slice(can_i);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let out = self.kubectl(&args);
            if text(&out.stdout).trim() == "yes" {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "kubectl {args:?}: {}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// `kubectl create <binding…>`, then waits until it is in force for `can_i`.
    pub fn grant(&self, binding: &[&str], can_i: &[&str]) {
        let mut args = vec!["create"];
        args.extend_from_slice(binding);
        self.ok(&args);
        self.await_can_i(can_i);
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

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What `kubectl delete` prints for a namespaced object: `<kind> "<name>" deleted` up to 1.33,
/// `… deleted from <namespace> namespace` in 1.35 (kubectl's own wording; the server's response
/// is the same).
pub fn assert_deleted(out: &str, object: &str, namespace: &str) {
    let out = out.trim();
    let before = format!("{object} deleted");
    let newer = format!("{object} deleted from {namespace} namespace");
    assert!(
        out == before || out == newer,
        "{out:?} is neither {before:?} nor {newer:?}"
    );
}

/// The lines of a `kubectl get` table, whitespace-normalised, header first.
pub fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}
