//! Scheduler throughput: an in-process API server with 100 Ready Nodes and a backlog of pending
//! pods; the scheduler starts and binds them all. Prints binds/s (from start, and from the first
//! to the last bind), how evenly the pods spread, and when the `Scheduled` events caught up.
//!
//! `cargo run -p kindling-scheduler --example bind_bench [--release] -- [PODS] [NODES] [PARALLEL_BINDS]`
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ApiResource, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, watcher};
use kube::Client;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 32;

#[derive(Clone, Debug, serde::Deserialize)]
struct NodeNameOnly {
    #[serde(rename = "nodeName")]
    node_name: Option<String>,
}

type MiniPod = kube::core::Object<NodeNameOnly, kube::core::NotUsed>;

async fn client_from(kubeconfig: &std::path::Path) -> anyhow::Result<Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    Ok(Client::try_from(config)?)
}

async fn create_node(client: Client, i: usize) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client);
    let name = format!("node-{i:03}");
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
            "topology.kubernetes.io/zone": format!("zone-{}", i % 3)}},
    }))?;
    nodes.create(&PostParams::default(), &node).await?;
    let res = json!({"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "500Gi"});
    let status = json!({"status": {"capacity": res, "allocatable": res,
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
            "lastHeartbeatTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"}]}});
    nodes
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

fn pod(i: usize) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": format!("bench-{i:05}"), "namespace": "default",
            "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "c", "image": "busybox",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
    }))?)
}

/// The scheduling algorithm alone (no API server): decisions per second for the same shape of
/// cluster, each decision assumed into the cache as the scheduler does.
fn framework_only(pods_n: usize, nodes_n: usize) -> anyhow::Result<f64> {
    use kindling_scheduler::cache::Cache;
    use kindling_scheduler::framework::{Framework, Rng};
    use kindling_scheduler::types::PodInfo;
    use std::sync::Arc;
    let mut cache = Cache::new();
    for i in 0..nodes_n {
        let name = format!("node-{i:03}");
        let res = json!({"cpu": "32", "memory": "128Gi", "pods": "110"});
        cache.set_node(&serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"allocatable": res, "conditions": [{"type": "Ready", "status": "True"}]},
        }))?);
    }
    let mut fw = Framework::new(Rng::new(1));
    let t = Instant::now();
    for i in 0..pods_n {
        let p = pod(i)?;
        let info = Arc::new(PodInfo::new(&p));
        let node = fw
            .schedule(&info, &cache.snapshot())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        cache.assume(&format!("default/bench-{i:05}"), info, &node);
    }
    Ok(pods_n as f64 / t.elapsed().as_secs_f64())
}

/// User + system CPU time in a `/proc/.../stat` file.
fn stat_cpu(path: &std::path::Path) -> Option<Duration> {
    let ticks_per_s = 100.0; // USER_HZ
    let stat = std::fs::read_to_string(path).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) / ticks_per_s))
}

/// CPU time used so far by the thread named `scheduler` (Linux `/proc`).
fn scheduler_cpu() -> Option<Duration> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        if std::fs::read_to_string(dir.join("comm")).ok()?.trim() == "scheduler" {
            return stat_cpu(&dir.join("stat"));
        }
    }
    None
}

/// CPU time used so far by this whole process (API server, scheduler, watcher).
fn process_cpu() -> Option<Duration> {
    stat_cpu(std::path::Path::new("/proc/self/stat"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let pods_n: usize = args.get(1).map_or(Ok(2000), |a| a.parse())?;
    let nodes_n: usize = args.get(2).map_or(Ok(100), |a| a.parse())?;
    let options = kindling_scheduler::Options {
        parallel_binds: args.get(3).map_or(
            Ok(kindling_scheduler::Options::default().parallel_binds),
            |a| a.parse(),
        )?,
        ..Default::default()
    };
    println!(
        "framework alone: {:.0} decisions/s ({pods_n} pods, {nodes_n} nodes, no IO)",
        framework_only(pods_n, nodes_n)?
    );
    let dir = tempfile::tempdir()?;
    let server = kindling_apiserver::start(kindling_apiserver::Config::local(dir.path())).await?;
    let client = client_from(&server.kubeconfig).await?;
    println!(
        "scheduler bind benchmark ({} cores, {} build): {pods_n} pending pods, {nodes_n} nodes, \
         {} binds in flight",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        options.parallel_binds
    );

    futures::stream::iter(0..nodes_n)
        .map(|i| create_node(client.clone(), i))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let t = Instant::now();
    futures::stream::iter(0..pods_n)
        .map(|i| {
            let pods = pods.clone();
            async move {
                pods.create(&PostParams::default(), &pod(i)?)
                    .await
                    .map_err(anyhow::Error::from)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    println!(
        "created {pods_n} pods in {:.2} s ({:.0}/s, concurrency {CONCURRENCY})",
        t.elapsed().as_secs_f64(),
        pods_n as f64 / t.elapsed().as_secs_f64()
    );

    // Count bindings as a watcher sees them (decoding only `spec.nodeName`, so that the
    // measurement itself costs little CPU).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let watch_pods: Api<MiniPod> =
        Api::namespaced_with(client.clone(), "default", &ApiResource::erase::<Pod>(&()));
    tokio::spawn(async move {
        let mut stream = watcher(watch_pods, watcher::Config::default()).boxed();
        while let Some(Ok(ev)) = stream.next().await {
            if let watcher::Event::Apply(p) | watcher::Event::InitApply(p) = ev {
                if p.spec.node_name.is_some() {
                    let _ = tx.send((p.metadata.name.unwrap_or_default(), Instant::now()));
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The scheduler gets its own thread and runtime (and client), so its CPU time can be told
    // apart from the API server's.
    let start = Instant::now();
    let cpu_at_start = process_cpu();
    let kubeconfig = server.kubeconfig.clone();
    std::thread::Builder::new()
        .name("scheduler".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let client = client_from(&kubeconfig).await.expect("client");
                kindling_scheduler::run_with(client, options).await;
            });
        })?;
    let mut bound = HashSet::new();
    let mut first = None;
    let mut last = start;
    let deadline = start + Duration::from_secs(600);
    while bound.len() < pods_n {
        let Ok(Some((name, at))) = tokio::time::timeout_at(deadline.into(), rx.recv()).await else {
            anyhow::bail!("only {} of {pods_n} pods bound", bound.len());
        };
        if bound.insert(name) {
            first.get_or_insert(at);
            last = at;
        }
    }
    let cpu = scheduler_cpu();
    let process = process_cpu()
        .zip(cpu_at_start)
        .map(|(end, start)| end.checked_sub(start).unwrap());
    let total = last - start;
    let first = first.unwrap_or(start);
    let steady = last - first;
    println!(
        "bound {pods_n} pods in {:.2} s from scheduler start = {:.0} binds/s \
         (first bind after {} ms; first to last bind {:.0} binds/s)",
        total.as_secs_f64(),
        pods_n as f64 / total.as_secs_f64(),
        (first - start).as_millis(),
        (pods_n - 1) as f64 / steady.as_secs_f64().max(1e-9)
    );

    if let Some(cpu) = cpu {
        println!(
            "scheduler thread CPU: {:.2} s for {pods_n} binds = {:.0} µs per pod \
             (decide, bind request, watch updates, events)",
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / pods_n as f64
        );
    }
    if let Some(process) = process {
        let per_bind = process.as_secs_f64() / pods_n as f64;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        println!(
            "whole process CPU while binding: {:.2} s = {:.0} µs per bind (API server + scheduler); \
             {cores} idle cores would sustain ≈ {:.0} binds/s",
            process.as_secs_f64(),
            per_bind * 1e6,
            cores as f64 / per_bind
        );
    }
    let list = pods.list(&ListParams::default()).await?;
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for p in &list.items {
        if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
            *per_node.entry(n).or_default() += 1;
        }
    }
    let min = per_node.values().min().copied().unwrap_or(0);
    let max = per_node.values().max().copied().unwrap_or(0);
    println!(
        "spread: {} nodes used, {min}..{max} pods per node",
        per_node.len()
    );

    let events: Api<Event> = Api::default_namespaced(client.clone());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = events
            .list_metadata(&ListParams::default().fields("reason=Scheduled"))
            .await
            .map_or(0, |l| l.items.len());
        if n >= pods_n || Instant::now() > deadline {
            println!(
                "Scheduled events: {n} of {pods_n}, all written {:.2} s after the scheduler started",
                start.elapsed().as_secs_f64()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);
    Ok(())
}
