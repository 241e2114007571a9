//! `cargo run --release -p kindling-apiserver --example creates -- N`: starts the API server in
//! this process and creates N pods through the real HTTPS path (kube-rs client, concurrency 32,
//! the pod of `kindling-bench apiserver`). Made to count instructions per create on a shared
//! machine, where timings are noise: run it under `valgrind --tool=callgrind` with two values
//! of N and divide the difference by the difference of N (start-up cancels out).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measuring program: a failed step ends it

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, PostParams};

const CONCURRENCY: usize = 32;

fn pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"app": "bench", "shard": (name.len() % 7).to_string()}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 3600"],
                  "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
    }))
    .expect("pod literal is valid")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
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
    let accounts: Api<ServiceAccount> = Api::default_namespaced(client.clone());
    let sa = serde_json::from_value(serde_json::json!({"metadata": {"name": "default"}})).unwrap();
    // Already there when the server runs its own service-account controller.
    let _ = accounts.create(&PostParams::default(), &sa).await;
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
    assert_eq!(
        failed,
        0,
        "{failed} creates failed: {:?}",
        results.iter().find(|r| r.is_err())
    );
    println!("{count} pods created in {:.2} s", t.elapsed().as_secs_f64());
}
