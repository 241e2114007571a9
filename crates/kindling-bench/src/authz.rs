//! `kindling-bench apiserver` (its last part) or `kindling-bench apiserver authz`: what RBAC
//! authorization costs a create. Two servers run side by side, one with
//! `--authorization-mode=AlwaysAllow`, one with kubeadm's `Node,RBAC`; the same user (a client
//! certificate of each server's CA, group `bench`, bound to `edit` on the RBAC one: not
//! `system:masters`, whose requests skip RBAC) creates pods in both, in alternating rounds so
//! that both see the same machine.

use crate::{kindling_binary, ms, percentile, pod, Server};
use anyhow::Result;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ROUNDS: usize = 3;
const PER_ROUND: usize = 2_000;
const CONCURRENCY: usize = 32;

/// A server in `mode` in `dir`, and a client of user `bench` (group `bench`).
async fn start(dir: &Path, mode: &str) -> Result<(Server, kube::Client)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(kindling_binary()?)
        .args(["apiserver", "--data-dir"])
        .arg(dir)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--authorization-mode", mode])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let server = Server(child);
    let admin = crate::client(dir).await?;
    let ca = kindling_pki::Ca::load_or_create(&dir.join("pki"))?;
    let cert = ca.client_cert("bench", &["bench"])?;
    let url = format!("https://127.0.0.1:{port}");
    let path = dir.join("bench.kubeconfig");
    std::fs::write(
        &path,
        kindling_apiserver::kubeconfig::render("bench", &url, &ca.pair.cert_pem, &cert),
    )?;
    let user = crate::kubeconfig_client(&path).await?;
    // The user may edit in every namespace (a no-op where everything is allowed).
    let bindings: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> = Api::all(admin);
    let binding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "bench-edit"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "bench"}],
    }))?;
    bindings.create(&PostParams::default(), &binding).await?;
    let pods: Api<Pod> = Api::default_namespaced(user.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    while pods.list(&Default::default()).await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "the binding never took effect");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((server, user))
}

/// Creates `PER_ROUND` pods named `<prefix>-N`; creates/s and the write latencies.
async fn round(c: &kube::Client, prefix: &str) -> Result<(f64, Vec<Duration>)> {
    let pods: Api<Pod> = Api::default_namespaced(c.clone());
    let t0 = Instant::now();
    let latencies = futures::stream::iter(0..PER_ROUND)
        .map(|i| {
            let pods = pods.clone();
            let name = format!("{prefix}-{i:05}");
            async move {
                let t = Instant::now();
                pods.create(&PostParams::default(), &pod(&name))
                    .await
                    .map(|_| t.elapsed())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let rate = PER_ROUND as f64 / t0.elapsed().as_secs_f64();
    let lat = latencies.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok((rate, lat))
}

pub async fn run() -> Result<()> {
    let (open_dir, rbac_dir) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let (_open, open) = start(open_dir.path(), "AlwaysAllow").await?;
    let (_rbac, rbac) = start(rbac_dir.path(), "Node,RBAC").await?;
    println!(
        "authorization: user `bench` (group bench, bound to edit) creates {PER_ROUND} pods per round, concurrency {CONCURRENCY}, {ROUNDS} rounds alternating"
    );
    let mut rates = [Vec::new(), Vec::new()];
    let mut lats = [Vec::new(), Vec::new()];
    for r in 0..ROUNDS {
        for (i, (name, c)) in [("AlwaysAllow", &open), ("Node,RBAC", &rbac)]
            .into_iter()
            .enumerate()
        {
            let (rate, lat) = round(c, &format!("authz-{r}")).await?;
            println!("  round {r} {name:<11} {rate:.0} creates/s");
            rates[i].push(rate);
            lats[i].extend(lat);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for (i, name) in ["AlwaysAllow", "Node,RBAC"].iter().enumerate() {
        lats[i].sort();
        println!(
            "authorization {name:<11}: {:.0} creates/s (mean of {ROUNDS}); latency p50 {} p99 {}",
            mean(&rates[i]),
            ms(percentile(&lats[i], 0.5)),
            ms(percentile(&lats[i], 0.99))
        );
    }
    println!(
        "authorization cost: RBAC creates/s = {:.1}% of AlwaysAllow's (target ≥ 95%)",
        100.0 * mean(&rates[1]) / mean(&rates[0])
    );
    Ok(())
}
