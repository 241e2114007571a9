//! `kindling-bench workloads`: what an application costs on a real cluster, each figure beside
//! its floor from the same run.
//!
//! - A 100-replica Deployment, created → `availableReplicas` 100, on 1 and on 3 workers; the
//!   floor is the runtime's own burst of 100 pods straight through CRI on one worker
//!   (`cri-floor`, as in the pods benchmark).
//! - Service rule sync: a pod of a Service is deleted; the time until its `KUBE-SEP` DNAT rule is
//!   gone from a worker's iptables (`rule-watch`, run in that worker, polls `iptables-save`); the
//!   floor is one `iptables-save` (the watch's resolution).
//! - Cluster DNS from a pod: `dns` run in a pod's network namespace (`nsenter` from its node)
//!   against the kube-dns address; its UDP echo floor is measured there too.
//! - The controllers' memory with 1 000 pods: `kindling_controllers::run` alone in a child
//!   process (`controllers KUBECONFIG`) against an in-process API server, a Deployment of 1 000
//!   replicas (no nodes: the pods stay Pending, which costs the controllers the same).

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const REPLICAS: i32 = 100;
const IMAGE: &str = "busybox:latest";
/// Endpoint changes measured for the rule sync figure.
const CHANGES: usize = 20;
const CONTROLLER_PODS: i32 = 1000;

pub async fn run(kindling: &Path) -> Result<()> {
    println!(
        "kindling workloads benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    kindling_image::build_test_image(IMAGE).await?;
    let home = tempfile::tempdir()?;
    for workers in [1usize, 3] {
        let cluster = crate::pods::BenchCluster::create(kindling, home.path(), "wlbench", workers)?;
        let result = on_cluster(kindling, &cluster, workers).await;
        drop(cluster);
        result?;
    }
    controllers_memory().await
}

async fn on_cluster(
    kindling: &Path,
    cluster: &crate::pods::BenchCluster,
    workers: usize,
) -> Result<()> {
    cluster.load(kindling, IMAGE)?;
    let client = cluster.client().await?;
    crate::pods::wait_for_schedulable_nodes(&client, workers + 1).await?;
    if workers == 1 {
        crate::pods::runtime_floor(&format!("{}-worker", cluster.name), 100)?;
    }
    let took = deployment_available(&client).await?;
    println!(
        "deployment ({workers} worker{}): {REPLICAS} replicas created → {REPLICAS} available in {:.2} s",
        if workers == 1 { "" } else { "s" },
        took.as_secs_f64()
    );
    if workers == 3 {
        rule_sync(&client, &format!("{}-worker", cluster.name)).await?;
        dns_from_a_pod(&client).await?;
    }
    Ok(())
}

/// Creates the Deployment and polls its status every 50 ms until every replica is available.
async fn deployment_available(client: &kube::Client) -> Result<Duration> {
    let deployments: Api<Deployment> = Api::default_namespaced(client.clone());
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "bench"},
        "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": "bench"}},
            "template": {"metadata": {"labels": {"app": "bench"}},
                "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "c",
                    "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                    "command": ["httpd", "-f", "-p", "8080"]}]}}}
    }))?;
    let started = Instant::now();
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;
    loop {
        let d = deployments.get("bench").await?;
        let available = d
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0);
        if available == REPLICAS {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "only {available} of {REPLICAS} replicas available after 300 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Deletes one pod of a Service at a time and times until a worker's rules no longer send
/// traffic to it.
async fn rule_sync(client: &kube::Client, worker: &str) -> Result<()> {
    let services: Api<Service> = Api::default_namespaced(client.clone());
    let service: Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "bench"},
        "spec": {"selector": {"app": "bench"}, "ports": [{"port": 80, "targetPort": 8080}]}
    }))?;
    services.create(&PostParams::default(), &service).await?;
    crate::pods::copy_bench_into(worker)?;
    let mut watch = Command::new("docker")
        .args([
            "exec",
            worker,
            "/usr/local/bin/kindling-bench",
            "rule-watch",
            "default/bench",
        ])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = watch.stdout.take().context("rule-watch's stdout")?;
    let (lines, seen) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let result = measure_rule_sync(client, &seen).await;
    let _ = watch.kill();
    let _ = watch.wait();
    result
}

async fn measure_rule_sync(client: &kube::Client, seen: &mpsc::Receiver<String>) -> Result<()> {
    // The watch first prints the poll's own cost, then one line per change: `<unix ms> -IP`.
    let floor = seen
        .recv_timeout(Duration::from_secs(30))
        .context("rule-watch did not start")?;
    // Until the rules hold all the replicas' endpoints.
    let mut endpoints = 0usize;
    let deadline = Instant::now() + Duration::from_secs(30);
    while endpoints < REPLICAS as usize {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {endpoints} endpoints in the rules"
        );
        if let Ok(line) = seen.recv_timeout(Duration::from_secs(1)) {
            if line.contains(" +") {
                endpoints += 1;
            }
        }
    }
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let mut latencies = Vec::new();
    for _ in 0..CHANGES {
        let list = pods
            .list(&ListParams::default().labels("app=bench"))
            .await?;
        let victim = list
            .items
            .iter()
            .find(|p| {
                p.metadata.deletion_timestamp.is_none()
                    && p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some()
            })
            .context("a running pod")?;
        let ip = victim
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.clone())
            .unwrap_or_default();
        let name = victim.metadata.name.clone().unwrap_or_default();
        let deleted_at = unix_ms();
        pods.delete(&name, &DeleteParams::default()).await?;
        let gone = format!(" -{ip}");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            anyhow::ensure!(
                Instant::now() < deadline,
                "{ip}'s rule still there after 10 s"
            );
            let Ok(line) = seen.recv_timeout(Duration::from_secs(1)) else {
                continue;
            };
            if let Some(at) = line.strip_suffix(gone.as_str()) {
                let at: u128 = at.parse().context("rule-watch's time")?;
                latencies.push(Duration::from_millis(
                    u64::try_from(at.saturating_sub(deleted_at)).unwrap_or(u64::MAX),
                ));
                break;
            }
        }
        // Let the replacement settle so each change is measured alone.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    latencies.sort();
    println!(
        "service rule sync ({CHANGES} pod deletions → the pod's rule gone on a worker): p50 {}, p99 {}  (floor: {floor})",
        crate::ms(crate::percentile(&latencies, 0.5)),
        crate::ms(crate::percentile(&latencies, 0.99)),
    );
    Ok(())
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// `kindling-bench rule-watch NS/SVC`, run in a node: polls `iptables-save -t nat` and prints
/// `<unix ms> +IP` / `<unix ms> -IP` as the Service's DNAT endpoints come and go. The first
/// line is the cost of one poll (the figures' resolution).
pub fn rule_watch(service: &str) -> Result<()> {
    use std::collections::BTreeSet;
    use std::io::Write;
    let comment = format!("--comment \"{service}");
    let endpoints = || -> Result<(BTreeSet<String>, Duration)> {
        let started = Instant::now();
        let out = Command::new("iptables-save").args(["-t", "nat"]).output()?;
        let took = started.elapsed();
        let text = String::from_utf8_lossy(&out.stdout);
        let set = text
            .lines()
            .filter(|l| l.starts_with("-A KUBE-SEP-") && l.contains(&comment))
            .filter_map(|l| l.split("--to-destination ").nth(1))
            .filter_map(|d| d.split(':').next())
            .map(str::to_string)
            .collect();
        Ok((set, took))
    };
    let (_, first) = endpoints()?;
    let (mut known, second) = endpoints()?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "one iptables-save {}", crate::ms(first.min(second)))?;
    for ip in &known {
        writeln!(stdout, "{} +{ip}", unix_ms())?;
    }
    stdout.flush()?;
    loop {
        let (now, _) = endpoints()?;
        let at = unix_ms();
        for ip in now.difference(&known) {
            writeln!(stdout, "{at} +{ip}")?;
        }
        for ip in known.difference(&now) {
            writeln!(stdout, "{at} -{ip}")?;
        }
        stdout.flush()?;
        known = now;
    }
}

/// The DNS benchmark run in the network namespace of one of the Deployment's pods.
async fn dns_from_a_pod(client: &kube::Client) -> Result<()> {
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let list = pods
        .list(&ListParams::default().labels("app=bench"))
        .await?;
    let pod = list
        .items
        .iter()
        .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .context("a running pod")?;
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .context("a bound pod")?;
    let container = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.container_id.clone())
        .context("a container ID")?;
    let id = container.trim_start_matches("containerd://");
    crate::pods::copy_bench_into(&node)?;
    let script = format!(
        "pid=$(ctr -n k8s.io tasks ls | awk '$1==\"{id}\" {{print $2}}'); \
         exec nsenter -t \"$pid\" -n /usr/local/bin/kindling-bench dns 10.96.0.10:53"
    );
    let out = Command::new("docker")
        .args(["exec", &node, "sh", "-c", &script])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "dns in a pod's network namespace: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "cluster DNS from pod {} (its network namespace):",
        pod.metadata.name.as_deref().unwrap_or("")
    );
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        println!("  {line}");
    }
    Ok(())
}

/// RSS of the controllers alone (a child process) once a 1 000-replica Deployment's pods exist.
pub async fn controllers_memory() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server = kindling_apiserver::start(kindling_apiserver::Config::local(dir.path())).await?;
    let client = crate::kubeconfig_client(&server.kubeconfig).await?;
    let mut child = crate::Server(
        Command::new(std::env::current_exe()?)
            // As in production: the `kindling` binary limits glibc to two malloc arenas at start
            // (`limit_malloc_arenas` in its main.rs); this child measures the same allocator.
            .env("MALLOC_ARENA_MAX", "2")
            .arg("controllers")
            .arg(&server.kubeconfig)
            .arg(&server.ca_pem)
            .spawn()?,
    );
    let pid = child.0.id();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = crate::rss_mib(pid);
    let deployments: Api<Deployment> = Api::default_namespaced(client.clone());
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "many"},
        "spec": {"replicas": CONTROLLER_PODS, "selector": {"matchLabels": {"app": "many"}},
            "template": {"metadata": {"labels": {"app": "many"}},
                "spec": {"containers": [{"name": "c", "image": IMAGE}]}}}
    }))?;
    let started = Instant::now();
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;
    let pods: Api<Pod> = Api::default_namespaced(client);
    loop {
        let list = pods
            .list_metadata(&ListParams::default().labels("app=many"))
            .await?;
        if list.items.len() >= CONTROLLER_PODS as usize {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "only {} of {CONTROLLER_PODS} pods after 300 s",
            list.items.len()
        );
        anyhow::ensure!(child.0.try_wait()?.is_none(), "the controllers exited");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let created = started.elapsed();
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!(
        "controllers: {CONTROLLER_PODS} pods of one Deployment created in {:.1} s; RSS {:.1} MiB (idle {:.1} MiB)",
        created.as_secs_f64(),
        crate::rss_mib(pid),
        idle
    );
    let _ = child.0.kill();
    Ok(())
}

/// `kindling-bench controllers KUBECONFIG CA_PEM`: the controllers alone, until killed.
pub async fn controllers(kubeconfig: &str, ca_pem: &str) -> Result<()> {
    let client = crate::kubeconfig_client(std::path::Path::new(kubeconfig)).await?;
    kindling_controllers::run(
        client,
        kindling_controllers::Config {
            root_ca_pem: ca_pem.to_string(),
        },
    )
    .await;
    Ok(())
}
