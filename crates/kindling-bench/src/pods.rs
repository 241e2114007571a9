//! `kindling-bench pods`: pod create → Running latency for 100 pods on one worker and across three,
//! scheduler binds/s with 100 Node objects (in-process API server, fake nodes), and the node
//! agent's memory with 100 pods. The busybox test image is loaded first, so nothing is pulled.

use anyhow::{Context, Result};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, PostParams};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PODS: usize = 100;
const IMAGE: &str = "busybox:latest";

pub async fn run(kindling: &Path) -> Result<()> {
    println!(
        "kindling pods benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    kindling_image::build_test_image(IMAGE).await?;
    let home = tempfile::tempdir()?;
    // One worker takes all 100 pods (the control plane is tainted once there are workers), so
    // its `kindling node` is the agent alone, without the API server.
    for (label, workers) in [("1 worker", 1usize), ("3 workers", 3)] {
        cluster_run(kindling, home.path(), label, workers).await?;
    }
    binds_per_second().await
}

async fn cluster_run(kindling: &Path, home: &Path, label: &str, workers: usize) -> Result<()> {
    let cluster = BenchCluster::create(kindling, home, "podbench", workers)?;
    measure(kindling, &cluster, label, workers).await
}

/// A cluster of one control plane and `workers` workers made by the kindling under test,
/// deleted when dropped.
pub(crate) struct BenchCluster {
    pub name: String,
    kindling: PathBuf,
    kubeconfig: PathBuf,
}

impl BenchCluster {
    pub fn create(kindling: &Path, home: &Path, prefix: &str, workers: usize) -> Result<Self> {
        let name = format!("{prefix}{workers}");
        let config_path = crate::write_cluster_config(home, &name, workers)?;
        BenchCluster::create_from(kindling, home, name, &config_path)
    }

    /// The cluster `config_path` describes, named `name`.
    pub fn create_from(
        kindling: &Path,
        home: &Path,
        name: String,
        config_path: &Path,
    ) -> Result<Self> {
        let kubeconfig = home.join(format!("{name}.kubeconfig"));
        let out = Command::new(kindling)
            .args([
                "create", "cluster", "-q", "--wait", "60s", "--name", &name, "--config",
            ])
            .arg(config_path)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .output()?;
        let cluster = BenchCluster {
            name,
            kindling: kindling.to_path_buf(),
            kubeconfig,
        };
        anyhow::ensure!(
            out.status.success(),
            "create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(cluster)
    }

    /// `kindling load docker-image` into every node.
    pub fn load(&self, kindling: &Path, image: &str) -> Result<()> {
        let out = Command::new(kindling)
            .args(["load", "docker-image", image, "--name", &self.name])
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "load: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    pub async fn client(&self) -> Result<kube::Client> {
        crate::kubeconfig_client(&self.kubeconfig).await
    }
}

impl Drop for BenchCluster {
    fn drop(&mut self) {
        let _ = Command::new(&self.kindling)
            .args(["delete", "cluster", "-q", "--name", &self.name])
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .output();
    }
}

async fn measure(
    kindling: &Path,
    cluster: &BenchCluster,
    label: &str,
    workers: usize,
) -> Result<()> {
    cluster.load(kindling, IMAGE)?;
    let client = cluster.client().await?;
    wait_for_schedulable_nodes(&client, workers + 1).await?;
    if workers == 1 {
        runtime_floor(&format!("{}-worker", cluster.name), PODS)?;
    }
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let mut created: HashMap<String, Instant> = HashMap::new();
    for i in 0..PODS {
        let name = format!("p{i:03}");
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c", "image": IMAGE,
                     "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}]},
        }))?;
        created.insert(name, Instant::now());
        pods.create(&PostParams::default(), &pod).await?;
    }
    // Polled every 50 ms (a LIST of 100 pods takes a few ms), so figures are within ~50 ms.
    let mut latencies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    while latencies.len() < PODS && Instant::now() < deadline {
        let items = pods.list(&Default::default()).await?.items;
        for p in items {
            let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
            if !running {
                continue;
            }
            if let Some(t) = p.metadata.name.as_ref().and_then(|n| created.remove(n)) {
                latencies.push(t.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::ensure!(
        latencies.len() == PODS,
        "only {} of {PODS} pods reached Running",
        latencies.len()
    );
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!(
        "pods ({label}): {PODS} created back to back → Running: p50 {:.0} ms, p99 {:.0} ms",
        pct(0.5).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
    // The agent is `kindling node` (PID 1 of each node container): its own RSS, not the pods'.
    let nodes: Api<Node> = Api::all(client);
    for node in nodes.list(&Default::default()).await?.items {
        let node_name = node.metadata.name.unwrap_or_default();
        let out = Command::new("docker")
            .args(["exec", &node_name, "cat", "/proc/1/status"])
            .output()?;
        let status = String::from_utf8_lossy(&out.stdout);
        // VmRSS counts the binary's text pages, which every node shares (one file in the node
        // image's lower layer); RssAnon is what this node's agent costs on its own.
        let field = |name: &str| {
            status.lines().find(|l| l.starts_with(name)).map_or_else(
                || "?".into(),
                |l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "),
            )
        };
        let rss = format!("RSS {} (anonymous {})", field("VmRSS:"), field("RssAnon:"));
        let count = Command::new("docker")
            .args([
                "exec",
                &node_name,
                "sh",
                "-c",
                "ctr -n k8s.io containers ls -q | wc -l",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        println!("  {node_name}: kindling node {rss}, {count} containers (pods + sandboxes)");
    }
    Ok(())
}

/// Binds/s of the scheduler with 100 Node objects and 2 000 pending pods, against an in-process
/// API server (the nodes are API objects only).
async fn binds_per_second() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = kindling_apiserver::start(kindling_apiserver::Config::local(dir.path())).await?;
    let client = crate::kubeconfig_client(&server.kubeconfig).await?;
    tokio::spawn(kindling_controllers::run(
        client.clone(),
        kindling_controllers::Config {
            root_ca_pem: server.ca_pem.clone(),
        },
    ));
    let nodes: Api<Node> = Api::all(client.clone());
    for i in 0..100 {
        let node: Node =
            serde_json::from_value(serde_json::json!({"metadata": {"name": format!("n{i:03}")}}))?;
        nodes.create(&PostParams::default(), &node).await?;
        let status = serde_json::json!({"status": {
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}]}});
        nodes
            .patch_status(
                &format!("n{i:03}"),
                &Default::default(),
                &kube::api::Patch::Merge(&status),
            )
            .await?;
    }
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    const PENDING: usize = 2000;
    let creates = futures::stream::iter(0..PENDING)
        .map(|i| {
            let pods = pods.clone();
            async move {
                let pod: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": format!("b{i:04}")},
                    "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "10m"}}}]}}))
                    .expect("literal");
                pods.create(&PostParams::default(), &pod).await.map(|_| ())
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    creates
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .context("creating pending pods")?;
    let t = Instant::now();
    tokio::spawn(kindling_scheduler::run(client));
    loop {
        let list = pods.list(&Default::default()).await?;
        let bound = list
            .items
            .iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some())
            .count();
        if bound == PENDING {
            break;
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(120),
            "only {bound} bound after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "scheduler: {PENDING} pods bound on 100 nodes in {:.2} s = {:.0} binds/s",
        t.elapsed().as_secs_f64(),
        PENDING as f64 / t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The runtime's floor for a burst of `count` pods, measured on `node` by this binary's
/// `cri-floor` (copied into the node container): CRI calls only, with the agent's configs.
pub(crate) fn runtime_floor(node: &str, count: usize) -> Result<()> {
    copy_bench_into(node)?;
    let out = Command::new("docker")
        .args(["exec", node, "/usr/local/bin/kindling-bench", "cri-floor"])
        .arg(count.to_string())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "cri-floor: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
    Ok(())
}

/// This binary, copied into a node container as `/usr/local/bin/kindling-bench` (the node
/// image is Debian like the host, so it runs there).
pub(crate) fn copy_bench_into(node: &str) -> Result<()> {
    let exe = std::env::current_exe()?;
    let copied = Command::new("docker")
        .arg("cp")
        .arg(&exe)
        .arg(format!("{node}:/usr/local/bin/kindling-bench"))
        .status()?;
    anyhow::ensure!(
        copied.success(),
        "docker cp of the bench binary into {node}"
    );
    Ok(())
}

/// Until every node is Ready and free of the not-ready taint: the figure is about pods, not
/// about nodes still starting (`--wait` waits for the control plane only, as kind's).
pub(crate) async fn wait_for_schedulable_nodes(client: &kube::Client, count: usize) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = nodes.list(&Default::default()).await?.items;
        let ready = list
            .iter()
            .filter(|n| {
                let conditions = n.status.as_ref().and_then(|s| s.conditions.as_ref());
                let is_ready = conditions
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                let tainted = n
                    .spec
                    .as_ref()
                    .and_then(|s| s.taints.as_ref())
                    .is_some_and(|t| t.iter().any(|t| t.key.starts_with("node.kubernetes.io/")));
                is_ready && !tainted
            })
            .count();
        if ready == count {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {ready} of {count} nodes became schedulable"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
