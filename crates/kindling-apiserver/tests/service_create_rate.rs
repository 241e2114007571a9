//! How many Services one server on SQLite creates per second, NodePort (their ports claimed in
//! the shared node port record) beside ClusterIP (no record): the record's cost, printed.
//! Uses only the public API, so it builds against older versions for a before/after.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

use std::time::Instant;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, PostParams};

fn service(name: &str, kind: &str) -> Service {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"type": kind, "selector": {"app": name}, "ports": [{"port": 80}]},
    }))
    .unwrap()
}

/// Creates `n` Services of type `kind` in sequence, then `n` more 8 at a time; creates/s of each.
async fn rate(api: &Api<Service>, kind: &str, round: usize, n: usize) -> (f64, f64) {
    let prefix = format!("{}-{round}", kind.to_lowercase());
    let started = Instant::now();
    for i in 0..n {
        api.create(
            &PostParams::default(),
            &service(&format!("{prefix}-s{i}"), kind),
        )
        .await
        .unwrap();
    }
    let sequential = n as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}-c{i}")).collect();
    for chunk in names.chunks(8) {
        futures::future::join_all(chunk.iter().map(|name| {
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &service(name, kind))
                    .await
                    .unwrap()
            }
        }))
        .await;
    }
    (sequential, n as f64 / started.elapsed().as_secs_f64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_creates_per_second_on_sqlite() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let server = kindling_apiserver::start(kindling_apiserver::Config::local(dir.path()))
        .await
        .unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let api: Api<Service> = Api::namespaced(kube::Client::try_from(config).unwrap(), "default");
    // Warm up (connections, caches).
    rate(&api, "LoadBalancer", 0, 20).await;
    let n = 200;
    for (round, kind) in ["ClusterIP", "NodePort", "ClusterIP", "NodePort"]
        .into_iter()
        .enumerate()
    {
        let (sequential, concurrent) = rate(&api, kind, round + 1, n).await;
        eprintln!("{kind:>9}: {sequential:.0} creates/s one at a time, {concurrent:.0} creates/s 8 at a time");
    }
}
