//! `kindling-bench apiserver`: starts the release `kindling apiserver` as its own process and
//! measures it with kube-rs: creates/s, gets/s, write latency (with the store's commit batch
//! sizes), LIST of 10 000 pods, watch lag with 100 watchers, the server's RSS, and the CPU time
//! of the server and of this client per operation. The floor (fsync latency, an HTTPS round trip
//! to /version) is measured in the same run. `apiserver cluster` measures the watch lag against
//! the API server of a real cluster (Docker), with its own watchers at work.
//! Other benchmarks: `cluster`, `pods`, `dns`, `workloads`, `ingress` (see their modules).
#![allow(clippy::unwrap_used)] // a benchmark: a failed step ends the run with its location

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod authz;
mod cluster;
mod crd;
mod crifloor;
mod dns;
mod ha;
mod ingress;
mod lifecycle;
mod pods;
mod workloads;

const PODS: usize = 10_000;
const CONCURRENCY: usize = 32;
const WATCHERS: usize = 100;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let what = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "apiserver".into());
    match what.as_str() {
        "apiserver" if std::env::args().nth(2).as_deref() == Some("authz") => authz::run().await,
        "apiserver" if std::env::args().nth(2).as_deref() == Some("cluster") => {
            apiserver_on_cluster().await
        }
        "apiserver" => {
            apiserver(std::env::args().nth(2).as_deref() != Some("alone")).await?;
            authz::run().await
        }
        "cluster" => cluster::run(&kindling_binary()?).await,
        "crd" => crd::run().await,
        // Several control planes: creates/s on etcd beside SQLite, HA create, failover.
        "ha" => ha::run().await,
        "pods" => pods::run(&kindling_binary()?).await,
        "dns" => dns::run(std::env::args().nth(2)).await,
        // `workloads controllers`: only the controllers' memory (no Docker).
        "workloads" if std::env::args().nth(2).as_deref() == Some("controllers") => {
            workloads::controllers_memory().await
        }
        "workloads" => workloads::run(&kindling_binary()?).await,
        "ingress" => ingress::run(&kindling_binary()?).await,
        // Not run by hand: the ingress benchmark runs these inside a node.
        "http-load" => {
            let arg = |n| std::env::args().nth(n).unwrap_or_default();
            ingress::http_load(&arg(2), arg(3).parse()?, arg(4).parse()?).await
        }
        "ingress-alone" => {
            let arg = |n| std::env::args().nth(n).unwrap_or_default();
            ingress::alone(arg(2).parse()?, arg(3).parse()?).await
        }
        // Not run by hand: the workloads benchmark runs these in a node and as a child.
        "rule-watch" => workloads::rule_watch(&std::env::args().nth(2).unwrap_or_default()),
        "controllers" => {
            let arg = |n| std::env::args().nth(n).unwrap_or_default();
            workloads::controllers(&arg(2), &arg(3)).await
        }
        // Not run by hand: the pods benchmark runs it inside a node container.
        "cri-floor" => {
            let count = std::env::args()
                .nth(2)
                .and_then(|n| n.parse().ok())
                .unwrap_or(100);
            crifloor::run(count).await
        }
        other => anyhow::bail!(
            "unknown benchmark {other:?}; known: apiserver, crd, cluster, ha, pods, dns, workloads, ingress"
        ),
    }
}

/// A kind config of one control plane and `workers` workers, written to `<dir>/<name>.yaml`.
pub(crate) fn write_cluster_config(dir: &Path, name: &str, workers: usize) -> Result<PathBuf> {
    let mut config = String::from(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n",
    );
    for _ in 0..workers {
        config.push_str("- role: worker\n");
    }
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, config)?;
    Ok(path)
}

pub(crate) fn kindling_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .context("bench binary has a directory")?
        .join("kindling");
    anyhow::ensure!(
        bin.exists(),
        "{} not found: cargo build --release -p kindling first",
        bin.display()
    );
    Ok(bin)
}

pub(crate) struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// CPU time (user + system) a process has used so far, from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces): utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// CPU time of the server and of this client per operation over a phase, in µs: on a busy
/// machine they say what throughput cannot (the work, not the wait).
struct CpuMeter {
    server: u32,
    server_start: Duration,
    client_start: Duration,
}

impl CpuMeter {
    fn start(server: u32) -> CpuMeter {
        CpuMeter {
            server,
            server_start: cpu_time(server),
            client_start: cpu_time(std::process::id()),
        }
    }

    fn per_op(&self, ops: usize) -> String {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / ops.max(1) as f64;
        format!(
            "CPU per op: server {:.0} µs, client {:.0} µs",
            per(cpu_time(self.server).saturating_sub(self.server_start)),
            per(cpu_time(std::process::id()).saturating_sub(self.client_start))
        )
    }
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A client from the kubeconfig at `path` (TLS by rustls' ring provider).
pub(crate) async fn kubeconfig_client(path: &Path) -> Result<kube::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = kube::config::Kubeconfig::read_from(path)?;
    Ok(kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?,
    )?)
}

pub(crate) async fn client(dir: &Path) -> Result<kube::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(kc) = kube::config::Kubeconfig::read_from(dir.join("admin.kubeconfig")) {
            let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
            let c = kube::Client::try_from(config)?;
            if c.apiserver_version().await.is_ok() {
                return Ok(c);
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"app": "bench", "shard": (name.len() % 7).to_string()}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 3600"],
                  "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
    }))
    .expect("pod literal is valid")
}

/// fsync of a 4 KiB append, p50 over 200 tries: the floor of any durable write.
fn fsync_floor(dir: &Path) -> Duration {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("fsync-probe"))
        .unwrap();
    let mut samples: Vec<Duration> = (0..200)
        .map(|_| {
            let t = Instant::now();
            f.write_all(&[0u8; 4096]).unwrap();
            f.sync_data().unwrap();
            t.elapsed()
        })
        .collect();
    samples.sort();
    percentile(&samples, 0.5)
}

/// With `controllers`, the server runs them in process, as `kindling apiserver` does by
/// default; `apiserver alone` measures the API server by itself (the benchmark makes the
/// `default` ServiceAccount its pods need).
async fn apiserver(controllers: bool) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(kindling_binary()?)
        .args(["apiserver", "--data-dir"])
        .arg(dir.path())
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .arg(format!("--controllers={controllers}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let _server = Server(child);
    let c = client(dir.path()).await?;
    println!(
        "kindling API server benchmark ({} cores; {})",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        if controllers {
            "the controllers run in the server's process"
        } else {
            "the API server alone"
        }
    );
    if !controllers {
        let accounts: Api<ServiceAccount> = Api::default_namespaced(c.clone());
        let sa = serde_json::from_value(serde_json::json!({"metadata": {"name": "default"}}))?;
        accounts.create(&PostParams::default(), &sa).await?;
    }
    println!("floor: fsync 4 KiB p50 {}", ms(fsync_floor(dir.path())));
    let mut rtt: Vec<Duration> = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        c.apiserver_version().await?;
        rtt.push(t.elapsed());
    }
    rtt.sort();
    println!(
        "floor: HTTPS GET /version p50 {} p99 {}",
        ms(percentile(&rtt, 0.5)),
        ms(percentile(&rtt, 0.99))
    );
    println!("server RSS idle: {:.1} MiB", rss_mib(pid));

    let pods: Api<Pod> = Api::default_namespaced(c.clone());

    let commits_before = commit_batches(&c).await?;
    let cpu = CpuMeter::start(pid);
    let t0 = Instant::now();
    let latencies = futures::stream::iter(0..PODS)
        .map(|i| {
            let pods = pods.clone();
            async move {
                let name = format!("bench-{i:05}");
                let t = Instant::now();
                pods.create(&PostParams::default(), &pod(&name))
                    .await
                    .map(|_| t.elapsed())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let elapsed = t0.elapsed();
    let mut lat: Vec<Duration> = latencies.into_iter().collect::<Result<_, _>>()?;
    lat.sort();
    println!(
        "creates: {PODS} pods in {:.2} s = {:.0} creates/s (concurrency {CONCURRENCY}); write latency p50 {} p99 {}; {}",
        elapsed.as_secs_f64(),
        PODS as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
        cpu.per_op(PODS)
    );
    let commits = commit_batches(&c).await?.since(&commits_before);
    println!(
        "group commit: {} writes in {} commits ({:.1} per commit); commits by size: {}",
        commits.writes,
        commits.commits,
        commits.writes as f64 / commits.commits.max(1) as f64,
        commits.by_size()
    );

    println!("server RSS after creates: {:.1} MiB", rss_mib(pid));
    let cpu = CpuMeter::start(pid);
    let t0 = Instant::now();
    let gets = 5_000;
    let results = futures::stream::iter(0..gets)
        .map(|i| {
            let pods = pods.clone();
            async move {
                pods.get(&format!("bench-{:05}", i % PODS))
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    results.into_iter().collect::<Result<Vec<_>, _>>()?;
    println!(
        "gets: {:.0} gets/s; {}",
        gets as f64 / t0.elapsed().as_secs_f64(),
        cpu.per_op(gets)
    );

    println!("server RSS after gets: {:.1} MiB", rss_mib(pid));
    let mut list_times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let list = pods.list(&ListParams::default()).await?;
        anyhow::ensure!(list.items.len() == PODS, "listed {} pods", list.items.len());
        list_times.push(t.elapsed());
    }
    list_times.sort();
    println!("LIST of {PODS} pods: {} (best of 3)", ms(list_times[0]));

    println!(
        "server RSS with {PODS} pods stored: {:.1} MiB",
        rss_mib(pid)
    );
    watch_lag(&pods, &Measured::Process(pid), pod).await?;
    Ok(())
}

/// Where the API server under test runs: its process (CPU time and RSS are read there).
enum Measured {
    /// `kindling apiserver`, a child of this process.
    Process(u32),
    /// A control-plane node: its `kindling node` (API server, controllers, scheduler, node
    /// agent) is PID 1 of the container.
    Node(String),
}

impl Measured {
    fn rss_mib(&self) -> f64 {
        match self {
            Measured::Process(pid) => rss_mib(*pid),
            Measured::Node(container) => {
                let out = Command::new("docker")
                    .args(["exec", container, "cat", "/proc/1/status"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                out.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<f64>().ok())
                    .map_or(0.0, |kb| kb / 1024.0)
            }
        }
    }

    fn cpu(&self) -> Option<CpuMeter> {
        match self {
            Measured::Process(pid) => Some(CpuMeter::start(*pid)),
            Measured::Node(_) => None,
        }
    }
}

/// `apiserver cluster`: the same 100 watchers of pods created at 200/s, against the API server
/// of a real cluster (one control plane, two workers) whose controllers, scheduler and three
/// node agents watch it too. The pods select no node: they stay Pending (the scheduler still
/// tries each one), so no container is started.
async fn apiserver_on_cluster() -> Result<()> {
    let kindling = kindling_binary()?;
    println!(
        "kindling API server benchmark on a cluster of 1 control plane + 2 workers ({} cores)",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    let home = tempfile::tempdir()?;
    let cluster = pods::BenchCluster::create(&kindling, home.path(), "apibench", 2)?;
    let client = cluster.client().await?;
    pods::wait_for_schedulable_nodes(&client, 3).await?;
    let node = Measured::Node(format!("{}-control-plane", cluster.name));
    println!("control-plane node RSS idle: {:.1} MiB", node.rss_mib());
    let pods: Api<Pod> = Api::default_namespaced(client);
    let result = watch_lag(&pods, &node, pending_pod).await;
    drop(cluster);
    result
}

/// A pod no node can take.
fn pending_pod(name: &str) -> Pod {
    let mut pod = pod(name);
    if let Some(spec) = pod.spec.as_mut() {
        spec.node_selector = Some([("kindling-bench".to_string(), "none".to_string())].into());
    }
    pod
}

/// The store's commits by batch size, as the server's /metrics has them so far.
#[derive(Debug, Default)]
struct CommitBatches {
    /// (upper bound, cumulative count) per bucket.
    buckets: Vec<(String, u64)>,
    writes: u64,
    commits: u64,
}

impl CommitBatches {
    fn since(&self, before: &CommitBatches) -> CommitBatches {
        let buckets = self
            .buckets
            .iter()
            .map(|(le, n)| {
                let old = before
                    .buckets
                    .iter()
                    .find(|(b, _)| b == le)
                    .map_or(0, |b| b.1);
                (le.clone(), n - old)
            })
            .collect();
        CommitBatches {
            buckets,
            writes: self.writes - before.writes,
            commits: self.commits - before.commits,
        }
    }

    /// `≤1: n, ≤2: n, …` per bucket (not cumulative), empty buckets left out.
    fn by_size(&self) -> String {
        let mut previous = 0;
        let mut parts = Vec::new();
        for (le, cumulative) in &self.buckets {
            if cumulative - previous > 0 && le != "+Inf" {
                parts.push(format!("≤{le}: {}", cumulative - previous));
            }
            previous = *cumulative;
        }
        parts.join(", ")
    }
}

async fn commit_batches(c: &kube::Client) -> Result<CommitBatches> {
    const NAME: &str = "kindling_store_commit_batch_size";
    let request = http::Request::get("/metrics").body(Vec::new())?;
    let text = c.request_text(request).await?;
    let mut out = CommitBatches::default();
    for line in text.lines().filter(|l| l.starts_with(NAME)) {
        let (name, value) = line.rsplit_once(' ').context("a metric line")?;
        let value: u64 = value.parse()?;
        if let Some(le) = name.strip_prefix(&format!("{NAME}_bucket{{le=\"")) {
            out.buckets
                .push((le.trim_end_matches("\"}").to_string(), value));
        } else if name == format!("{NAME}_sum") {
            out.writes = value;
        } else if name == format!("{NAME}_count") {
            out.commits = value;
        }
    }
    Ok(out)
}

/// 100 watchers on pods while 1 000 more pods are created at a steady 200/s: how long each event
/// takes to reach each watcher.
async fn watch_lag(pods: &Api<Pod>, server: &Measured, make: fn(&str) -> Pod) -> Result<()> {
    const EVENTS: usize = 1_000;
    let (lag_tx, mut lag_rx) = tokio::sync::mpsc::unbounded_channel::<Duration>();
    let start_rv = pods
        .list_metadata(&ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let created_at = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
        String,
        Instant,
    >::new()));
    for _ in 0..WATCHERS {
        let (pods, tx, created_at, rv) = (
            pods.clone(),
            lag_tx.clone(),
            created_at.clone(),
            start_rv.clone(),
        );
        tokio::spawn(async move {
            let Ok(stream) = pods.watch(&WatchParams::default().timeout(290), &rv).await else {
                return;
            };
            let mut stream = stream.boxed();
            while let Some(Ok(ev)) = stream.next().await {
                if let WatchEvent::Added(p) = ev {
                    let name = p.metadata.name.unwrap_or_default();
                    if let Some(t) = created_at
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .get(&name)
                    {
                        let _ = tx.send(t.elapsed());
                    }
                }
            }
        });
    }
    drop(lag_tx);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu = server.cpu();
    let t0 = Instant::now();
    // How long each create took to be answered: a lag the creates already carry is not the
    // watch's.
    let mut creates = Vec::with_capacity(EVENTS);
    for i in 0..EVENTS {
        let name = format!("lag-{i:05}");
        created_at
            .lock()
            .unwrap()
            .insert(name.clone(), Instant::now());
        let pods = pods.clone();
        creates.push(tokio::spawn(async move {
            let t = Instant::now();
            pods.create(&PostParams::default(), &make(&name))
                .await
                .map(|_| t.elapsed())
        }));
        tokio::time::sleep_until((t0 + Duration::from_millis(5 * (i as u64 + 1))).into()).await;
    }
    let mut create_latencies = Vec::with_capacity(EVENTS);
    for create in creates {
        create_latencies.push(create.await??);
    }
    create_latencies.sort();
    let mut lags = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while lags.len() < EVENTS * WATCHERS {
        match tokio::time::timeout_at(deadline, lag_rx.recv()).await {
            Ok(Some(l)) => lags.push(l),
            _ => break,
        }
    }
    lags.sort();
    println!(
        "watch: {WATCHERS} watchers received {} of {} events (creates at 200/s, answered in p50 {} p99 {}); lag p50 {} p99 {}; {}",
        lags.len(),
        EVENTS * WATCHERS,
        ms(percentile(&create_latencies, 0.5)),
        ms(percentile(&create_latencies, 0.99)),
        ms(percentile(&lags, 0.5)),
        ms(percentile(&lags, 0.99)),
        cpu.map_or_else(String::new, |c| format!("{} (per event, all watchers)", c.per_op(EVENTS)))
    );
    println!(
        "server RSS with the pods stored and {WATCHERS} watchers open: {:.1} MiB",
        server.rss_mib()
    );
    Ok(())
}
