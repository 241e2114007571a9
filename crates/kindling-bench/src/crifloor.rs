//! `kindling-bench cri-floor N` — run *inside* a node container (the pods benchmark copies this
//! binary there): the runtime's own floor for a burst of N pods. It starts N sandboxes with one
//! busybox container each, all at once, straight through CRI with the node agent's own sandbox
//! and container configs, and prints start → container running p50/p99. No API server, scheduler
//! or agent bookkeeping is involved, so the gap between this and the pods benchmark is kindling's.

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Pod;
use kindling_kubelet::{self as spec, CriRuntime, Runtime, LABEL_MANAGED};
use std::time::{Duration, Instant};

const IMAGE: &str = "busybox:latest";

pub async fn run(count: usize) -> Result<()> {
    let cri = CriRuntime::new(kindling_node::containerd::SOCKET)?;
    cri.wait_ready().await;
    let image_id = cri
        .image_status(IMAGE)
        .await?
        .map(|i| i.id)
        .with_context(|| format!("{IMAGE} is not loaded on this node"))?;
    let resolv_conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let facts = spec::NodeFacts::detect("floor", &resolv_conf);
    let started = Instant::now();
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let (cri, facts, image_id) = (cri.clone(), facts.clone(), image_id.clone());
            tokio::spawn(async move { start_one(&cri, &facts, &image_id, i).await })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut sandboxes = Vec::new();
    for t in tasks {
        let (sandbox, took) = t.await??;
        sandboxes.push(sandbox);
        latencies.push(took);
    }
    let all = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!(
        "floor (CRI only, {count} pods at once): running p50 {:.0} ms, p99 {:.0} ms, all in {:.2} s",
        ms(pct(0.5)),
        ms(pct(0.99)),
        all.as_secs_f64()
    );
    for id in sandboxes {
        let _ = cri.stop_pod_sandbox(&id).await;
        let _ = cri.remove_pod_sandbox(&id).await;
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One pod: sandbox, then its container created and started. Returns the sandbox and the time.
async fn start_one(
    cri: &CriRuntime,
    facts: &spec::NodeFacts,
    image_id: &str,
    i: usize,
) -> Result<(String, Duration)> {
    let started = Instant::now();
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("floor-{i:03}"), "namespace": "floor",
                     "uid": uuid::Uuid::new_v4().to_string()},
        "spec": {"containers": [{"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}]},
    }))?;
    let mut sandbox_config = spec::sandbox_config(&pod, 0, facts);
    // The agent removes sandboxes of pods it does not know, but only those with its `managed`
    // label: without it the agent leaves the floor's alone.
    sandbox_config.labels.remove(LABEL_MANAGED);
    let _ = std::fs::create_dir_all(spec::log_directory(&pod));
    let sandbox = cri.run_pod_sandbox(sandbox_config.clone()).await?;
    let container = &pod.spec.as_ref().context("spec")?.containers[0];
    let mut config = spec::container_config(
        &pod,
        container,
        spec::ContainerInputs {
            attempt: 0,
            kind: spec::ContainerKind::App,
            target: None,
            image_id: image_id.into(),
            image_user: None,
            env: Vec::new(),
            mounts: Vec::new(),
        },
        facts,
    );
    config.labels.remove(LABEL_MANAGED);
    let id = cri
        .create_container(&sandbox, config, sandbox_config)
        .await?;
    cri.start_container(&id).await?;
    Ok((sandbox, started.elapsed()))
}
