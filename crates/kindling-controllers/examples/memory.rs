//! `cargo run -p kindling-controllers --example memory -- N [controllers|alone]`: the API
//! server in this process (as `kindling apiserver` runs it), with or without the controllers,
//! N pods created through the real HTTPS path (the pod of `kindling-bench apiserver`), then a
//! pause for the controllers to catch up, then an exit with everything still allocated.
//!
//! Made to find where memory goes: run it under `heaptrack` (this program uses the system
//! allocator, which heaptrack sees) and read what is still allocated at the exit by call
//! stack (`heaptrack_print --print-leaks`); the difference between `controllers` and `alone`
//! is what the controllers cost. It also prints the process's RSS at each step.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measuring program: a failed step ends it

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, PostParams};
use std::time::Duration;

const CONCURRENCY: usize = 32;

fn pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"app": "bench", "shard": (name.len() % 7).to_string()}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 3600"],
                  "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
    }))
    .expect("pod literal is valid")
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let controllers = std::env::args().nth(2).as_deref() != Some("alone");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let server = kindling_apiserver::start(kindling_apiserver::Config::local(dir.path()))
        .await
        .unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    if controllers {
        tokio::spawn(kindling_controllers::run(
            client.clone(),
            kindling_controllers::Config {
                root_ca_pem: server.ca_pem.clone(),
            },
        ));
    }
    let accounts: Api<ServiceAccount> = Api::default_namespaced(client.clone());
    let sa = serde_json::from_value(serde_json::json!({"metadata": {"name": "default"}})).unwrap();
    // Made by the service account controller when it runs; a pod needs it either way.
    for _ in 0..100 {
        if accounts.get_opt("default").await.unwrap().is_some() {
            break;
        }
        if !controllers {
            accounts.create(&PostParams::default(), &sa).await.unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("RSS started: {:.1} MiB", rss_mib());
    let pods: Api<Pod> = Api::default_namespaced(client);
    let t = std::time::Instant::now();
    let results = futures::stream::iter(0..count)
        .map(|i| {
            let pods = pods.clone();
            async move {
                pods.create(&PostParams::default(), &pod(&format!("bench-{i:05}")))
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(failed, 0, "{failed} creates failed");
    println!(
        "{count} pods created in {:.2} s; RSS {:.1} MiB",
        t.elapsed().as_secs_f64(),
        rss_mib()
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    println!("RSS after 10 s: {:.1} MiB", rss_mib());
    // Everything still allocated is what heaptrack reports as leaked.
    std::process::exit(0);
}
