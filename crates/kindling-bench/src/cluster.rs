//! `kindling-bench cluster`: the floor (a node container starting, containerd answering in it),
//! then `kindling create cluster` to API-usable and to every node Ready, for 1 node and for 1+3
//! nodes, each node container's memory, and the node image size; then for each cluster stop →
//! start and a reboot's recovery (lifecycle.rs).

use anyhow::{Context, Result};
use kindling_provider::{DockerProvider, NodeSpec, Provider, Role, Stdin};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub async fn run(kindling: &Path) -> Result<()> {
    let provider = DockerProvider::connect().await?;
    provider.ping().await?;
    let home = tempfile::tempdir()?;
    println!(
        "kindling cluster benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    // The image first (built from this kindling binary if missing or stale), so it is not timed.
    let status = Command::new(kindling)
        .args(["build", "node-image", "-q"])
        .status()?;
    anyhow::ensure!(status.success(), "building the node image failed");
    floor(&provider).await?;
    let size = kindling_image::image_size(kindling_image::DEFAULT_NODE_IMAGE)
        .await?
        .unwrap_or(0);
    println!(
        "node image {}: {:.0} MB",
        kindling_image::DEFAULT_NODE_IMAGE,
        size as f64 / 1e6
    );
    for (label, workers) in [("1 node", 0), ("1+3 nodes", 3)] {
        create_and_measure(kindling, &provider, home.path(), label, workers).await?;
    }
    Ok(())
}

/// A bare node container started, and containerd answering in it, on this machine now.
async fn floor(provider: &DockerProvider) -> Result<()> {
    let mut spec = NodeSpec::new(
        "kindling-bench-floor",
        "kindling-bench-floor",
        Role::Worker,
        kindling_image::DEFAULT_NODE_IMAGE,
    );
    spec.entrypoint = Some(vec!["sleep".into(), "infinity".into()]);
    // A first start pays the privilege probe; the measured one doesn't.
    provider.create_node(&spec).await?;
    provider.delete_nodes(&[spec.name.clone()]).await?;
    let t = Instant::now();
    provider.create_node(&spec).await?;
    let start = t.elapsed();
    let t = Instant::now();
    let script = "containerd >/dev/null 2>&1 & for i in $(seq 1000); do ctr version >/dev/null 2>&1 && exit 0; sleep 0.005; done; exit 1";
    let out = provider
        .exec(&spec.name, &["sh", "-c", script], Stdin::None)
        .await?;
    let containerd = t.elapsed();
    provider.delete_nodes(&[spec.name.clone()]).await?;
    anyhow::ensure!(
        out.success(),
        "containerd did not start in the floor container"
    );
    println!(
        "floor: node container start {:.2} s, containerd ready {:.2} s",
        start.as_secs_f64(),
        containerd.as_secs_f64()
    );
    Ok(())
}

async fn create_and_measure(
    kindling: &Path,
    provider: &DockerProvider,
    home: &Path,
    label: &str,
    workers: usize,
) -> Result<()> {
    let name = format!("bench{workers}");
    let config_path = crate::write_cluster_config(home, &name, workers)?;
    let kubeconfig = home.join("kubeconfig");
    let t = Instant::now();
    let out = Command::new(kindling)
        .args(["create", "cluster", "-q", "--name", &name, "--config"])
        .arg(&config_path)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .output()?;
    let usable = t.elapsed();
    let result = measure(
        provider,
        &kubeconfig,
        &name,
        workers + 1,
        t,
        usable,
        label,
        out.status.success(),
        &out.stderr,
    )
    .await;
    let result = match result {
        Ok(()) => crate::lifecycle::measure(kindling, &kubeconfig, &name, label).await,
        Err(e) => Err(e),
    };
    let _ = Command::new(kindling)
        .args(["delete", "cluster", "-q", "--name", &name, "--kubeconfig"])
        .arg(&kubeconfig)
        .output();
    result
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    provider: &DockerProvider,
    kubeconfig: &Path,
    name: &str,
    nodes: usize,
    started: Instant,
    usable: Duration,
    label: &str,
    ok: bool,
    stderr: &[u8],
) -> Result<()> {
    anyhow::ensure!(ok, "create failed: {}", String::from_utf8_lossy(stderr));
    let client = crate::kubeconfig_client(kubeconfig).await?;
    let api: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client);
    let ready_at = loop {
        let list = api.list(&Default::default()).await?;
        let ready = list.items.iter().filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        });
        if ready.count() == nodes {
            break started.elapsed();
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(120),
            "nodes not Ready after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "create cluster ({label}): API usable {:.2} s, all nodes Ready {:.2} s",
        usable.as_secs_f64(),
        ready_at.as_secs_f64()
    );
    // Let the nodes settle before reading their memory.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for node in provider.list_nodes(Some(name)).await? {
        let mib = container_memory(&node.id).map_or("?".to_string(), |b| {
            format!("{:.1} MiB", b as f64 / 1048576.0)
        });
        println!("  {}: memory {mib}", node.name);
    }
    Ok(())
}

/// Anonymous (RSS-like) memory of a container's cgroup: what the node's processes use, without
/// the page cache (cgroup v1 `total_rss`, v2 `anon`).
fn container_memory(id: &str) -> Result<u64> {
    let candidates = [
        (
            format!("/sys/fs/cgroup/memory/docker/{id}/memory.stat"),
            "total_rss",
        ),
        (
            format!("/sys/fs/cgroup/system.slice/docker-{id}.scope/memory.stat"),
            "anon",
        ),
        (format!("/sys/fs/cgroup/docker/{id}/memory.stat"), "anon"),
    ];
    for (path, key) in candidates {
        if let Ok(stat) = std::fs::read_to_string(&path) {
            // v1 counts nested cgroups (the pods under the node) in total_rss too.
            let value = stat
                .lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse().ok());
            return value.with_context(|| format!("{key} missing in {path}"));
        }
    }
    anyhow::bail!("no cgroup memory stats found for container {id}")
}
