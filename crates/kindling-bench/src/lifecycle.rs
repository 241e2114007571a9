//! `kindling-bench cluster`'s lifecycle lines: `kindling stop cluster` → `kindling start
//! cluster` until every node is Ready again (the command waits for a heartbeat posted after
//! the start), and a reboot's recovery as far as the engine is not involved: every node
//! container stopped, then started in reverse name order (so Docker hands out other IPs), until
//! every node is Ready by a fresh heartbeat at its new address. (Restarting the daemon itself is
//! left to e2e_lifecycle: on a shared machine it would stop everyone's containers.)

use anyhow::Result;
use k8s_openapi::api::core::v1::Node;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub async fn measure(kindling: &Path, kubeconfig: &Path, name: &str, label: &str) -> Result<()> {
    let kindling_cmd = |args: &[&str]| -> Result<()> {
        let out = Command::new(kindling).args(args).output()?;
        anyhow::ensure!(
            out.status.success(),
            "kindling {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    let t = Instant::now();
    kindling_cmd(&["stop", "cluster", "-q", "--name", name])?;
    let stop = t.elapsed();
    let t = Instant::now();
    kindling_cmd(&["start", "cluster", "-q", "--name", name])?;
    let start = t.elapsed();
    println!(
        "stop → start ({label}): stop {:.2} s, start to every node Ready {:.2} s",
        stop.as_secs_f64(),
        start.as_secs_f64()
    );

    let (containers, nodes) = docker_names(name)?;
    let out = Command::new("docker")
        .arg("stop")
        .args(&containers)
        .output()?;
    anyhow::ensure!(out.status.success(), "docker stop failed");
    let since = unix_now();
    let t = Instant::now();
    for c in containers.iter().rev() {
        let out = Command::new("docker").args(["start", c]).output()?;
        anyhow::ensure!(out.status.success(), "docker start {c} failed");
    }
    let client = crate::kubeconfig_client(kubeconfig).await?;
    let api: kube::Api<Node> = kube::Api::all(client);
    loop {
        if let Ok(list) = api.list(&Default::default()).await {
            let fresh = list.items.iter().filter(|n| fresh_ready(n, since)).count();
            if fresh == nodes {
                break;
            }
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(120),
            "nodes not back after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "reboot recovery ({label}, containers stopped and started in reverse order): every node Ready {:.2} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn fresh_ready(node: &Node, since: i64) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| {
            c.status == "True"
                && c.last_heartbeat_time
                    .as_ref()
                    .is_some_and(|t| t.0.as_second() >= since)
        })
}

/// The cluster's containers by name, and how many of them are nodes (not its external load
/// balancer).
fn docker_names(cluster: &str) -> Result<(Vec<String>, usize)> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=io.x-k8s.kind.cluster={cluster}"),
            "--format",
            "{{.Names}} {{.Label \"io.x-k8s.kind.role\"}}",
        ])
        .output()?;
    let listed = String::from_utf8_lossy(&out.stdout);
    let mut names = Vec::new();
    let mut nodes = 0;
    for line in listed.lines() {
        let (name, role) = line.split_once(' ').unwrap_or((line, ""));
        names.push(name.to_string());
        if role != "external-load-balancer" {
            nodes += 1;
        }
    }
    names.sort();
    Ok((names, nodes))
}
