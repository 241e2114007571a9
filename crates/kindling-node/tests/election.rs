//! Leader election between two candidates against a real API server that keeps its objects in
//! a real etcd (Debian's etcd-server, scripts/setup.sh installs it): one holds the Lease and runs
//! the component, the other waits; when the leader's candidate stops, the other takes the Lease
//! within upstream's bound (lease duration plus two retry periods) and starts the component.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kindling_store::testing::EtcdServer;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};

/// A real etcd (kindling-store's test server) and its client URL.
fn start_etcd() -> (EtcdServer, String) {
    let etcd = EtcdServer::start();
    let url = etcd.client_url.clone();
    (etcd, url)
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    let lease = leases.get_opt("kube-scheduler").await.ok()??;
    lease.spec?.holder_identity
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_moves_to_the_other_candidate_when_the_leader_stops() {
    let dir = tempfile::tempdir().unwrap();
    let (_etcd, url) = start_etcd();
    let mut config = kindling_apiserver::Config::local(dir.path());
    config.store = kindling_apiserver::StoreBackend::Etcd(kindling_apiserver::EtcdBackend {
        servers: vec![url],
        tls: None,
    });
    let server = kindling_apiserver::start(config).await.unwrap();
    let client = kindling_node::client_from_kubeconfig(&server.kubeconfig)
        .await
        .unwrap();

    // The API server on etcd: list, then watch from the list's revision.
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let map = |name: &str| -> ConfigMap {
        serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap()
    };
    for name in ["a", "b"] {
        maps.create(&PostParams::default(), &map(name))
            .await
            .unwrap();
    }
    let list = maps.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 2);
    let version = list.metadata.resource_version.unwrap();
    let mut watch = Box::pin(maps.watch(&WatchParams::default(), &version).await.unwrap());
    maps.create(&PostParams::default(), &map("c"))
        .await
        .unwrap();
    let event = tokio::time::timeout(
        Duration::from_secs(10),
        futures::StreamExt::next(&mut watch),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert!(matches!(event, WatchEvent::Added(m) if m.metadata.name.as_deref() == Some("c")));

    // Two candidates; each marks whether its component runs.
    let running = [
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    ];
    let candidates: Vec<_> = ["node-a_1", "node-b_2"]
        .into_iter()
        .zip(running.iter().cloned())
        .map(|(identity, flag)| {
            tokio::spawn(kindling_node::leader::lead(
                "kube-scheduler",
                client.clone(),
                identity.to_string(),
                move || {
                    let flag = flag.clone();
                    async move {
                        flag.store(true, Ordering::SeqCst);
                        // Marks the component stopped when the task is aborted.
                        struct Stopped(Arc<AtomicBool>);
                        impl Drop for Stopped {
                            fn drop(&mut self) {
                                self.0.store(false, Ordering::SeqCst);
                            }
                        }
                        let _stopped = Stopped(flag);
                        std::future::pending::<()>().await;
                    }
                },
            ))
        })
        .collect();

    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-system");
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        if let Some(holder) = holder(&leases).await {
            break holder;
        }
        assert!(Instant::now() < deadline, "nobody took the lease");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let leader = usize::from(first == "node-b_2");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(running[leader].load(Ordering::SeqCst), "the leader runs it");
    assert!(
        !running[1 - leader].load(Ordering::SeqCst),
        "only the leader"
    );

    // The leader's node stops: its candidate and component end with it.
    candidates[leader].abort();
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!running[leader].load(Ordering::SeqCst));
    let deadline = stopped + Duration::from_secs(25);
    loop {
        if holder(&leases).await.is_some_and(|holder| holder != first) {
            break;
        }
        assert!(Instant::now() < deadline, "the lease did not move");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let failover = stopped.elapsed();
    eprintln!("lease moved {failover:?} after the leader stopped");
    // Upstream's bound: the waiting candidate sees the leader's last renewal up to one retry
    // period late, counts the lease duration from then, and takes the lease at its first try
    // after that (one more retry period); plus a second for the requests.
    assert!(
        failover <= Duration::from_secs(2 + 15 + 2 + 1),
        "{failover:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(running[1 - leader].load(Ordering::SeqCst));
    let lease = leases.get("kube-scheduler").await.unwrap();
    assert_eq!(lease.spec.unwrap().lease_transitions, Some(1));
}
