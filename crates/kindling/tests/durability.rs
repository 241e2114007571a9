//! Nothing acknowledged is lost: writers create objects through the real API server process,
//! which is killed with SIGKILL mid-load; a new server on the same data dir has every object whose
//! create was acknowledged.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_server(dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(["apiserver", "--data-dir"])
        .arg(dir)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kindling binary runs")
}

async fn client(dir: &std::path::Path) -> kube::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let path = dir.join("admin.kubeconfig");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(kc) = kube::config::Kubeconfig::read_from(&path) {
            let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .unwrap();
            let client = kube::Client::try_from(config).unwrap();
            if client.apiserver_version().await.is_ok() {
                return client;
            }
        }
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Kills the child even when the test fails.
struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_creates_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Guard(spawn_server(dir.path(), port));
    let api: Api<ConfigMap> = Api::default_namespaced(client(dir.path()).await);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (api, acked) = (api.clone(), acked.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let name = format!("w{w}-{i}");
                    let cm = ConfigMap {
                        metadata: kube::api::ObjectMeta {
                            name: Some(name.clone()),
                            ..Default::default()
                        },
                        ..Default::default()
                    };
                    match api.create(&PostParams::default(), &cm).await {
                        Ok(_) => acked.lock().unwrap().push(name),
                        Err(_) => return, // the server is gone
                    }
                }
            })
        })
        .collect();
    // Let the load run, then kill the server without warning.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 300 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    for w in writers {
        let _ = w.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 300,
        "only {} creates acknowledged",
        acked.len()
    );

    let _server = Guard(spawn_server(dir.path(), port));
    let api: Api<ConfigMap> = Api::default_namespaced(client(dir.path()).await);
    let names: std::collections::HashSet<String> = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    let missing: Vec<&String> = acked.iter().filter(|n| !names.contains(*n)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged objects lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}
