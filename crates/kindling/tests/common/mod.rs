//! What the Docker end-to-end test files share.
#![allow(dead_code)]

pub mod survival;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// kubectl, shown in the test output with what it printed and how long it took.
pub fn run(env: &Env, args: &[&str]) -> Output {
    let started = Instant::now();
    let out = env.kubectl(args);
    eprintln!(
        "$ kubectl {} ({:.1?})\n{}{}",
        args.join(" "),
        started.elapsed(),
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// [`run`]'s stdout; a failure fails the test (what kubectl said is in the output above).
pub fn ok(env: &Env, args: &[&str]) -> String {
    let out = run(env, args);
    assert!(out.status.success(), "kubectl {args:?} failed");
    text(&out.stdout)
}

/// Whether a Docker engine answers. Without one the test is skipped with a message, unless
/// `KINDLING_REQUIRE_DOCKER` is set (CI), where that is a failure.
pub fn docker_available() -> bool {
    let ok = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("KINDLING_REQUIRE_DOCKER").is_err(),
            "KINDLING_REQUIRE_DOCKER is set but no Docker engine answers"
        );
        eprintln!("SKIPPED: no Docker engine answers (run scripts/docker.sh)");
    }
    ok
}

/// Polls `check` every 250 ms until it holds; after `timeout` the test fails naming `what`,
/// with what `kubectl SHOW` prints at that moment (the state worth seeing in that test file).
pub fn eventually(
    env: &Env,
    what: &str,
    timeout: Duration,
    show: &[&str],
    check: impl Fn(&Env) -> bool,
) {
    eventually_showing(env, what, timeout, |e| text(&e.kubectl(show).stdout), check);
}

/// [`eventually`], the failure showing what `state` reads (for more than one kubectl).
pub fn eventually_showing(
    env: &Env,
    what: &str,
    timeout: Duration,
    state: impl FnOnce(&Env) -> String,
    check: impl Fn(&Env) -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !check(env) {
        if Instant::now() > deadline {
            panic!("{what} did not happen within {timeout:?}\n{}", state(env));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A cluster name of this test process, so parallel checkouts do not collide.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id() % 100_000)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A user's environment for one test: its own HOME and kubeconfig, the kindling under test and
/// the real kubectl; every cluster it creates is deleted when it is dropped, also on failure.
pub struct Env {
    pub home: tempfile::TempDir,
    pub clusters: Vec<String>,
}

impl Default for Env {
    fn default() -> Self {
        Env::new()
    }
}

impl Env {
    pub fn new() -> Env {
        Env {
            home: tempfile::tempdir().unwrap(),
            clusters: Vec::new(),
        }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.home.path().join(".kube").join("config")
    }

    pub fn kindling(&self, args: &[&str]) -> Output {
        self.kindling_stdin(args, None)
    }

    pub fn kindling_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kindling"));
        cmd.env_remove("KIND_CLUSTER_NAME");
        self.run(cmd, args, stdin)
    }

    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, None)
    }

    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run(Command::new("kubectl"), args, stdin)
    }

    fn run(&self, mut cmd: Command, args: &[&str], stdin: Option<&str>) -> Output {
        cmd.args(args)
            .env("HOME", self.home.path())
            .env("KUBECONFIG", self.kubeconfig())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(t) = stdin {
            child.stdin.take().unwrap().write_all(t.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// kubectl's stdout; a failure fails the test with kubectl's stderr.
    pub fn ok_kubectl(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    pub fn apply(&self, yaml: &str) {
        let out = self.kubectl_stdin(&["apply", "-f", "-"], Some(yaml));
        assert!(
            out.status.success(),
            "apply failed: {}\n{yaml}",
            text(&out.stderr)
        );
    }

    /// Creates a cluster with the default node image (remembered for cleanup); returns stderr.
    pub fn create(&mut self, name: &str, config: Option<&str>) -> String {
        self.create_with(name, None, config)
    }

    /// Creates a cluster from `image` and `config` (remembered for cleanup); returns stderr.
    pub fn create_with(&mut self, name: &str, image: Option<&str>, config: Option<&str>) -> String {
        self.clusters.push(name.to_string());
        let mut args = vec!["create", "cluster", "--name", name];
        if let Some(image) = image {
            args.extend(["--image", image]);
        }
        if config.is_some() {
            args.extend(["--config", "-"]);
        }
        let out = self.kindling_stdin(&args, config);
        assert!(
            out.status.success(),
            "create {name} failed:\n{}",
            text(&out.stderr)
        );
        text(&out.stderr)
    }

    /// `kubectl get pod <pod> -o jsonpath=<path>`.
    pub fn jsonpath(&self, pod: &str, path: &str) -> String {
        let out = self.kubectl(&["get", "pod", pod, "-o", &format!("jsonpath={path}")]);
        text(&out.stdout)
    }

    /// Waits until `check` holds, failing with `what` and the pod's description.
    pub fn wait_for(&self, pod: &str, what: &str, timeout: Duration, check: impl Fn(&Env) -> bool) {
        let show_pod = |e: &Env| {
            let describe = text(&e.kubectl(&["describe", "pod", pod]).stdout);
            let yaml = text(&e.kubectl(&["get", "pod", pod, "-o", "yaml"]).stdout);
            format!("{describe}\n{yaml}")
        };
        eventually_showing(
            self,
            &format!("pod {pod}: {what}"),
            timeout,
            show_pod,
            check,
        );
    }

    /// The STATUS and RESTARTS columns of `kubectl get pod` (what the user reads).
    pub fn status_column(&self, pod: &str) -> (String, String) {
        let out = text(&self.kubectl(&["get", "pod", pod, "--no-headers"]).stdout);
        let cols: Vec<&str> = out.split_whitespace().collect();
        if cols.len() < 4 {
            return (String::new(), String::new());
        }
        (cols[2].to_string(), cols[3].to_string())
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for c in &self.clusters {
            if let Ok(dir) = std::env::var("KINDLING_E2E_AUDIT") {
                audit_denials(c, Path::new(&dir));
            }
            let _ = self.kindling(&["delete", "cluster", "--name", c]);
        }
    }
}

/// With `KINDLING_E2E_AUDIT=<dir>`: the requests of control-plane components the API server
/// refused (its `control-plane request forbidden` warnings) in the logs of `cluster`'s node
/// containers, written to `<dir>/<cluster>.log` before the cluster goes — each is a rule a
/// component's role lacks or a request its upstream counterpart does not make.
fn audit_denials(cluster: &str, dir: &Path) {
    let Ok(names) = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .output()
    else {
        return;
    };
    let mut found = String::new();
    for node in text(&names.stdout)
        .lines()
        .filter(|n| n.starts_with(&format!("{cluster}-")))
    {
        let Ok(logs) = Command::new("docker").args(["logs", node]).output() else {
            continue;
        };
        let all = format!("{}{}", text(&logs.stdout), text(&logs.stderr));
        for line in all
            .lines()
            .filter(|l| l.contains("control-plane request forbidden"))
        {
            found.push_str(&format!("{node}: {line}\n"));
        }
    }
    let _ = std::fs::create_dir_all(dir);
    let _ = std::fs::write(dir.join(format!("{cluster}.log")), found);
}

/// stdout of a command run in a node container.
pub fn node_exec(node: &str, cmd: &[&str]) -> String {
    let out = Command::new("docker")
        .arg("exec")
        .arg(node)
        .args(cmd)
        .output()
        .unwrap();
    text(&out.stdout)
}

/// Builds node image `tag` from the kindling under test unless it already holds this binary.
/// Each test file uses a tag of its own, so builds of other binaries (other checkouts on the
/// same engine) cannot swap it underneath.
pub fn ensure_node_image(tag: &str) {
    let opts = kindling_image::NodeImageOptions {
        image: tag.to_string(),
        kindling_binary: PathBuf::from(env!("CARGO_BIN_EXE_kindling")),
        ..Default::default()
    };
    runtime()
        .block_on(kindling_image::ensure_node_image(&opts))
        .expect("building the node image");
}

/// A busybox test image built for this test process (`<repo>:<tag>-<pid>`, so parallel test
/// files never share one) and removed from the host's engine when dropped — on failure too.
pub struct TestImage(String);

impl TestImage {
    pub fn build(rt: &tokio::runtime::Runtime, repo_and_tag: &str) -> TestImage {
        let image = TestImage(format!("{repo_and_tag}-{}", std::process::id()));
        rt.block_on(kindling_image::build_test_image(&image.0))
            .expect("building the test image");
        image
    }
}

impl std::ops::Deref for TestImage {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TestImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", "-f", &self.0]).output();
    }
}
