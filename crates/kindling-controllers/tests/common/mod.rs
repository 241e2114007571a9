//! What the in-process controller test files share: an API server on 127.0.0.1 with an admin
//! client and kubectl pointed at it, polling helpers, and a fake kubelet that reports pods as
//! a node agent would (no node runs them; nothing in the controllers knows it is fake).
#![allow(dead_code)] // each test file uses part of it

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Now as an API `Time` (whole seconds).
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Now as an API `MicroTime` (a Lease's renewTime).
pub fn now_micro() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// An API server on 127.0.0.1 keeping its data in `dir`, its admin kubeconfig's client
/// settings and an admin client (made on the calling runtime).
pub async fn start_local(
    dir: &std::path::Path,
) -> (
    kindling_apiserver::RunningServer,
    kube::Config,
    kube::Client,
) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = kindling_apiserver::start(kindling_apiserver::Config::local(dir))
        .await
        .unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config.clone()).unwrap();
    (server, config, client)
}

/// A fresh API server (its own data dir and runtime) and an admin client of it. Dropping it
/// stops the server.
pub struct Server {
    _dir: tempfile::TempDir,
    pub runtime: tokio::runtime::Runtime,
    server: Option<kindling_apiserver::RunningServer>,
    pub kubeconfig: PathBuf,
    pub client: kube::Client,
    config: kube::Config,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.server.take());
    }
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        // The client's buffer task needs the runtime.
        let (server, config, client) = runtime.block_on(start_local(dir.path()));
        Server {
            kubeconfig: server.kubeconfig.clone(),
            _dir: dir,
            runtime,
            server: Some(server),
            client,
            config,
        }
    }

    /// Every controller, each with its own service account's client, as on a cluster
    /// (`--use-service-account-credentials`): a request outside its role fails the test.
    /// Returns once the serviceaccounts controller has made `default/default`.
    pub fn run_all_controllers(&self) {
        let tokens = self._dir.path().join("controller-tokens");
        let root_ca_pem = self.server.as_ref().unwrap().ca_pem.clone();
        self.runtime.block_on(async {
            let clients = kindling_controllers::credentials::Clients::service_accounts(
                self.client.clone(),
                &self.config,
                &tokens,
                kindling_controllers::OWN_IDENTITIES,
            )
            .await
            .unwrap();
            tokio::spawn(kindling_controllers::run_as(
                clients,
                kindling_controllers::Config { root_ca_pem },
            ));
            let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), "default");
            let deadline = Instant::now() + Duration::from_secs(20);
            while accounts.get_opt("default").await.ok().flatten().is_none() {
                assert!(Instant::now() < deadline, "no default ServiceAccount");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }

    /// The `default` ServiceAccount pods need, where the serviceaccounts controller is not run.
    pub fn add_default_account(&self) {
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client.clone(), "default");
        let account = serde_json::from_value(json!({"metadata": {"name": "default"}})).unwrap();
        self.runtime
            .block_on(accounts.create(&PostParams::default(), &account))
            .unwrap();
    }

    /// Runs `program` (kubectl, or another kubectl build) against this server.
    pub fn kubectl_with(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = Command::new(program)
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.kubeconfig.parent().unwrap())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl is installed");
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

    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.kubectl_with("kubectl", args, stdin)
    }

    /// kubectl that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with("kubectl", args)
    }

    pub fn ok_with(&self, program: &str, args: &[&str]) -> String {
        let out = self.kubectl_with(program, args, None);
        assert!(
            out.status.success(),
            "{program} {args:?} failed:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `kubectl apply` of `yaml` that must succeed; its stdout.
    pub fn apply(&self, yaml: &str) -> String {
        let out = self.kubectl(&["apply", "-f", "-"], Some(yaml));
        assert!(out.status.success(), "apply: {}", text(&out.stderr));
        text(&out.stdout)
    }
}

/// A server and the fake kubelet that reports its pods (where the test file runs one). Each
/// file adds its own `start` (which controllers) and helpers in an `impl Cluster` of its own.
pub struct Cluster {
    pub server: Server,
    pub kubelet: Kubelet,
}

impl std::ops::Deref for Cluster {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

/// Runs `body` with the admin client of a fresh API server that has the `default`
/// ServiceAccount and no controllers (the body starts those it tests).
pub fn with_server<F, Fut>(body: F)
where
    F: FnOnce(kube::Client) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let server = Server::start();
    server.add_default_account();
    server.runtime.block_on(body(server.client.clone()));
}

/// Polls `check` until it holds (20 s, else the test fails); how long that took.
pub async fn eventually<F, Fut>(what: &str, check: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    let deadline = started + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not happen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// Blocking [`eventually`] for tests that drive the server from the test thread: on timeout
/// the test fails with `what` and the state `dump` describes.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> bool,
    dump: impl FnOnce() -> String,
) {
    let deadline = Instant::now() + timeout;
    while !check() {
        if Instant::now() > deadline {
            panic!("{what} did not happen within {timeout:?}\n{}", dump());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the fake kubelet does with the pods it sees. Each pod (by uid) is started once:
/// reported Running and Ready after `ready_delay` ms.
#[derive(Clone, Default)]
pub struct Kubelet {
    /// Milliseconds between seeing a new pod and reporting it Ready; tests may change it.
    pub ready_delay: Arc<AtomicU64>,
    /// While true, new pods are left as they are (and started when next seen after it clears).
    pub paused: Arc<AtomicBool>,
    /// `ADDED <pod>` when a pod is started, `DELETED <pod>` when the watch sees it go, in order.
    pub log: Arc<Mutex<Vec<String>>>,
    /// Finish each pod this long after it is Ready: Failed when it carries the label
    /// `fail: "yes"`, else Succeeded (a Job's pods); `None` runs pods for ever.
    pub finish_after: Option<Duration>,
    /// The most pods of one Job running at once (with `finish_after`).
    pub max_running: Arc<AtomicUsize>,
    /// Remove pods being deleted at once (grace period 0), as a kubelet does once their
    /// containers stopped; otherwise they are left alone.
    pub remove_terminating: bool,
}

impl Kubelet {
    /// Watches every pod for ever, reporting them as configured.
    pub async fn run(self, client: kube::Client) {
        let mut events = watcher(Api::<Pod>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut started = HashSet::new();
        let running = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
        while let Some(Ok(event)) = events.next().await {
            let pod = match event {
                watcher::Event::Apply(p) | watcher::Event::InitApply(p) => p,
                watcher::Event::Delete(p) => {
                    self.log_event("DELETED", &p);
                    continue;
                }
                _ => continue,
            };
            let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap());
            if pod.metadata.deletion_timestamp.is_some() {
                if self.remove_terminating {
                    tokio::spawn(remove(api, pod.name_any()));
                }
                continue;
            }
            if self.paused.load(Ordering::SeqCst) || !started.insert(pod.uid().unwrap()) {
                continue;
            }
            self.log_event("ADDED", &pod);
            tokio::spawn(self.clone().start(api, pod, running.clone()));
        }
    }

    fn log_event(&self, what: &str, pod: &Pod) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{what} {}", pod.name_any()));
    }

    async fn start(self, api: Api<Pod>, pod: Pod, running: Arc<Mutex<HashMap<String, usize>>>) {
        let name = pod.name_any();
        let delay = Duration::from_millis(self.ready_delay.load(Ordering::SeqCst));
        tokio::time::sleep(delay).await;
        let job = pod
            .labels()
            .get("batch.kubernetes.io/job-name")
            .cloned()
            .unwrap_or_default();
        if self.finish_after.is_some() {
            let mut r = running.lock().unwrap();
            let n = r.entry(job.clone()).or_insert(0);
            *n += 1;
            self.max_running.fetch_max(*n, Ordering::SeqCst);
        }
        let status = json!({"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": now()}]}});
        let _ = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await;
        let Some(after) = self.finish_after else {
            return;
        };
        tokio::time::sleep(after).await;
        *running.lock().unwrap().get_mut(&job).unwrap() -= 1;
        let (phase, code) = if pod.labels().get("fail").is_some_and(|v| v == "yes") {
            ("Failed", 1)
        } else {
            ("Succeeded", 0)
        };
        let status = json!({"status": {"phase": phase, "conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": now()}],
            "containerStatuses": [{"name": "main", "image": "busybox", "imageID": "", "ready": false,
                "restartCount": 0, "state": {"terminated": {"exitCode": code, "finishedAt": now()}}}]}});
        let _ = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await;
    }
}

async fn remove(api: Api<Pod>, name: String) {
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    let _ = api.delete(&name, &now).await;
}
