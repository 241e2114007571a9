//! `kindling-bench ha`: what several control planes cost and buy.
//! - `apiserver` creates/s on the SQLite store and on etcd (a local `etcd`, one member, as each
//!   stacked member is), one after the other in the same run, same client, same load;
//! - `kindling create cluster` of 3 control planes + 3 workers (REQUIREMENTS S3) until every
//!   node is Ready (the node image built before, untimed);
//! - failover: `docker stop` of the controller manager's leader until another control plane
//!   holds both leases;
//! - stop → start and reboot recovery of the same cluster (`lifecycle.rs`, as `cluster` has).

use crate::{kindling_binary, kubeconfig_client, ms, percentile, pod, Server};
use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod, ServiceAccount};
use kube::api::{Api, ListParams, PostParams};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CREATES: usize = 2_000;
const CONCURRENCY: usize = 32;

pub async fn run() -> Result<()> {
    let kindling = kindling_binary()?;
    println!(
        "kindling HA benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    creates(&kindling, None).await?;
    // A one-member etcd on free local ports (kindling-store's test server, as the store tests use).
    let etcd = kindling_store::testing::EtcdServer::try_start()
        .context("starting etcd (Debian's etcd-server; scripts/setup.sh installs it)")?;
    creates(&kindling, Some(&etcd.client_url)).await?;
    cluster(&kindling).await
}

/// `CREATES` pods, `CONCURRENCY` at a time, against a fresh API server on `etcd` (or SQLite).
async fn creates(kindling: &Path, etcd: Option<&str>) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut cmd = Command::new(kindling);
    cmd.args(["apiserver", "--controllers=false", "--data-dir"])
        .arg(dir.path())
        .args(["--bind", &format!("127.0.0.1:{port}")]);
    if let Some(url) = etcd {
        cmd.args(["--etcd-servers", url]);
    }
    let _server = Server(cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn()?);
    let c = crate::client(dir.path()).await?;
    let accounts: Api<ServiceAccount> = Api::default_namespaced(c.clone());
    let sa = serde_json::from_value(serde_json::json!({"metadata": {"name": "default"}}))?;
    accounts.create(&PostParams::default(), &sa).await?;
    let pods: Api<Pod> = Api::default_namespaced(c);
    let t0 = Instant::now();
    let latencies = futures::stream::iter(0..CREATES)
        .map(|i| {
            let pods = pods.clone();
            async move {
                let t = Instant::now();
                pods.create(&PostParams::default(), &pod(&format!("bench-{i:05}")))
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
        "apiserver creates on {}: {CREATES} pods in {:.2} s = {:.0} creates/s (concurrency {CONCURRENCY}); p50 {} p99 {}",
        if etcd.is_some() { "etcd (1 local member)" } else { "SQLite" },
        elapsed.as_secs_f64(),
        CREATES as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
    );
    Ok(())
}

const HA_CONFIG: &str = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n- role: control-plane\n- role: control-plane\n- role: worker\n- role: worker\n- role: worker\n";
const NODES: usize = 6;

/// Create 3+3 to all Ready, then the failover time, then delete.
async fn cluster(kindling: &Path) -> Result<()> {
    let home = tempfile::tempdir()?;
    let kubeconfig = home.path().join("kubeconfig");
    let name = "bench-ha";
    let kindling_cmd = |args: &[&str]| {
        let mut cmd = Command::new(kindling);
        cmd.args(args)
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("KIND_CLUSTER_NAME")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    let _ = kindling_cmd(&["delete", "cluster", "--name", name]).status();
    // The image first (built from this kindling binary if missing or stale), so it is not timed.
    let built = kindling_cmd(&["build", "node-image", "-q"]).status()?;
    anyhow::ensure!(built.success(), "building the node image failed");
    let t0 = Instant::now();
    let mut create = kindling_cmd(&["create", "cluster", "--name", name, "--config", "-"]);
    let mut child = create.stdin(Stdio::piped()).spawn()?;
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(HA_CONFIG.as_bytes())?;
    }
    let created = child.wait()?.success();
    let result = async {
        anyhow::ensure!(created, "creating the HA cluster failed");
        let api_usable = t0.elapsed();
        let c = kubeconfig_client(&kubeconfig).await?;
        let nodes: Api<Node> = Api::all(c.clone());
        while ready_count(&nodes.list(&ListParams::default()).await?.items) < NODES {
            anyhow::ensure!(t0.elapsed() < Duration::from_secs(120), "nodes not Ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!(
            "create 3 control planes + 3 workers: API usable {:.1} s, all {NODES} nodes Ready {:.1} s",
            api_usable.as_secs_f64(),
            t0.elapsed().as_secs_f64()
        );
        let stopped = failover(&c).await?;
        // The stopped control plane back, then the lifecycle lines on the HA shape.
        let out = Command::new("docker").args(["start", &stopped]).output()?;
        anyhow::ensure!(out.status.success(), "docker start {stopped}");
        let back = Instant::now();
        while ready_count(&nodes.list(&ListParams::default()).await?.items) < NODES {
            anyhow::ensure!(back.elapsed() < Duration::from_secs(120), "{stopped} not back");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        crate::lifecycle::measure(kindling, &kubeconfig, name, "3 control planes + 3 workers")
            .await
    }
    .await;
    let _ = kindling_cmd(&["delete", "cluster", "--name", name]).status();
    result
}

fn ready_count(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .count()
}

async fn holder(leases: &Api<Lease>, name: &str) -> Option<String> {
    leases
        .get(name)
        .await
        .ok()?
        .spec?
        .holder_identity
        .filter(|h| !h.is_empty())
}

/// `docker stop` of the leader's node until both leases are held elsewhere; returns that node.
async fn failover(c: &kube::Client) -> Result<String> {
    let leases: Api<Lease> = Api::namespaced(c.clone(), "kube-system");
    let leader = holder(&leases, "kube-controller-manager")
        .await
        .context("no controller manager leader")?;
    let node = leader
        .rsplit_once('_')
        .map_or(leader.as_str(), |(n, _)| n)
        .to_string();
    let t0 = Instant::now();
    let stopped = Command::new("docker").args(["stop", &node]).status()?;
    anyhow::ensure!(stopped.success(), "docker stop {node}");
    loop {
        let mut moved = true;
        for lease in ["kube-controller-manager", "kube-scheduler"] {
            let h = holder(&leases, lease).await.unwrap_or_default();
            moved &= !h.is_empty() && !h.starts_with(&format!("{node}_"));
        }
        if moved {
            break;
        }
        anyhow::ensure!(
            t0.elapsed() < Duration::from_secs(60),
            "leases did not move"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "failover: `docker stop {node}` to both leases held by another control plane: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(node)
}
