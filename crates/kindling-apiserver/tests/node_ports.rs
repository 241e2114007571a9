//! Node ports: one server on SQLite answers as upstream and leaks nothing; two API servers that
//! share one real etcd (Debian's etcd-server, scripts/setup.sh installs it) keep every port
//! with one Service through the shared record under compare-and-swap, whichever server the
//! writes go through, across restarts; the repair marks what Services hold and frees what
//! nobody holds.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use kindling_store::testing::EtcdServer;
use kindling_store::{EtcdOptions, EtcdStore, Store};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};

/// A real etcd (kindling-store's test server) and its client URL.
fn start_etcd() -> (EtcdServer, String) {
    let etcd = EtcdServer::start();
    let url = etcd.client_url.clone();
    (etcd, url)
}

/// An API server on the etcd at `url` (SQLite without one), with its own data directory, and a
/// client of it.
async fn server_on(
    dir: &std::path::Path,
    url: Option<&str>,
    repair_every: Duration,
) -> (kindling_apiserver::RunningServer, Api<Service>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = kindling_apiserver::Config::local(dir);
    if let Some(url) = url {
        config.store = kindling_apiserver::StoreBackend::Etcd(kindling_apiserver::EtcdBackend {
            servers: vec![url.to_string()],
            tls: None,
        });
    }
    config.node_port_repair_interval = repair_every;
    let server = kindling_apiserver::start(config).await.unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    (server, Api::namespaced(client, "default"))
}

fn service(name: &str, node_port: Option<u16>) -> Service {
    let mut port = serde_json::json!({"port": 80});
    if let Some(p) = node_port {
        port["nodePort"] = p.into();
    }
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"type": "NodePort", "selector": {"app": name}, "ports": [port]},
    }))
    .unwrap()
}

fn node_port(svc: &Service) -> u16 {
    let port = svc.spec.as_ref().unwrap().ports.as_ref().unwrap()[0].node_port;
    u16::try_from(port.unwrap()).unwrap()
}

fn status(result: Result<Service, kube::Error>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(e)) => (e.code, e.message),
        Ok(svc) => (201, format!("nodePort {}", node_port(&svc))),
        Err(e) => panic!("{e:?}"),
    }
}

/// The 422 a taken port gets, with upstream's message; panics on anything else.
fn assert_taken(result: Result<Service, kube::Error>, name: &str, port: u16) {
    match result {
        Err(kube::Error::Api(e)) => {
            assert_eq!(e.code, 422, "{e:?}");
            assert_eq!(
                e.message,
                format!("Service \"{name}\" is invalid: spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated")
            );
        }
        other => panic!("{name} with taken port {port}: {other:?}"),
    }
}

/// One server on SQLite (the single control plane's store): upstream's answers, and nothing
/// leaked by writes that fail, dry runs, updates, type changes or deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_on_sqlite_keeps_upstreams_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    let (server, api) = server_on(dir.path(), None, Duration::from_secs(180)).await;
    let pp = PostParams::default();
    let create = |name: &'static str, port: u16| {
        let api = api.clone();
        async move {
            api.create(&PostParams::default(), &service(name, Some(port)))
                .await
        }
    };
    assert_eq!(node_port(&create("a", 30080).await.unwrap()), 30080);
    assert_taken(create("b", 30080).await, "b", 30080);
    // What kubectl users see.
    let kubectl = std::process::Command::new("kubectl")
        .args([
            "create",
            "service",
            "nodeport",
            "b",
            "--tcp=80",
            "--node-port=30080",
        ])
        .env("KUBECONFIG", &server.kubeconfig)
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(!kubectl.status.success());
    assert_eq!(
        String::from_utf8_lossy(&kubectl.stderr).trim(),
        "error: failed to create NodePort service: Service \"b\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"
    );
    assert_eq!(
        status(create("c", 8080).await),
        (422, "Service \"c\" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767".to_string())
    );
    // A create that fails after its port was claimed gives the port back.
    assert_eq!(status(create("a", 30081).await).0, 409);
    assert_eq!(node_port(&create("d", 30081).await.unwrap()), 30081);
    // A dry run decides but claims nothing.
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let planned = api.create(&dry, &service("e", Some(30082))).await.unwrap();
    assert_eq!(node_port(&planned), 30082);
    let free = api.create(&dry, &service("e2", None)).await.unwrap();
    assert!(
        node_port(&free) >= 30086,
        "a free pick is from the dynamic band"
    );
    assert_eq!(node_port(&create("f", 30082).await.unwrap()), 30082);
    // An update moving to another port frees the old one and holds the new one.
    let mut a = api.get("a").await.unwrap();
    a.spec.as_mut().unwrap().ports.as_mut().unwrap()[0].node_port = Some(30090);
    api.replace("a", &pp, &a).await.unwrap();
    assert_eq!(node_port(&create("g", 30080).await.unwrap()), 30080);
    assert_taken(create("h", 30090).await, "h", 30090);
    // A Service that becomes ClusterIP gives its port back.
    let patch = serde_json::json!({"spec": {"type": "ClusterIP"}});
    let d = api
        .patch("d", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(d.spec.unwrap().ports.unwrap()[0].node_port, None);
    assert_eq!(node_port(&create("i", 30081).await.unwrap()), 30081);
    // A deleted Service's port is free again.
    api.delete("g", &DeleteParams::default()).await.unwrap();
    assert_eq!(node_port(&create("j", 30080).await.unwrap()), 30080);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_etcd_never_hand_out_a_port_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (_etcd, url) = start_etcd();
    let slow = Duration::from_secs(180);
    let (server_a, a) = server_on(&dir.path().join("a"), Some(&url), slow).await;
    let (_server_b, b) = server_on(&dir.path().join("b"), Some(&url), slow).await;

    // 2 × 50 creates at once, half through each server: 100 distinct ports.
    let started = Instant::now();
    let creates = (0..100).map(|i| {
        let api = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move {
            api.create(&PostParams::default(), &service(&format!("s{i}"), None))
                .await
                .unwrap()
        }
    });
    let created = futures::future::join_all(creates).await;
    eprintln!(
        "100 concurrent NodePort creates over 2 servers: {:?}",
        started.elapsed()
    );
    let ports: BTreeSet<u16> = created.iter().map(node_port).collect();
    assert_eq!(ports.len(), 100, "every Service its own port");
    // Dynamic picks come from the upper band (KEP-3668): the lower 86 ports stay for users.
    assert!(ports.iter().all(|p| *p >= 30086), "{ports:?}");

    // The same port asked of both servers at once: exactly one gets it. (A port of the static
    // band, which no free pick above took.)
    let pp = PostParams::default();
    let (xa, xb) = (service("x-a", Some(30050)), service("x-b", Some(30050)));
    let (ra, rb) = tokio::join!(a.create(&pp, &xa), b.create(&pp, &xb));
    let (winner, loser, loser_name) = match (&ra, &rb) {
        (Ok(_), Err(_)) => (a.clone(), rb, "x-b"),
        (Err(_), Ok(_)) => (b.clone(), ra, "x-a"),
        _ => panic!("exactly one create must win: {ra:?} / {rb:?}"),
    };
    assert_taken(loser, loser_name, 30050);
    // A port one server's Service holds is taken for the other server too.
    let taken = *ports.iter().next().unwrap();
    assert_taken(
        b.create(&PostParams::default(), &service("y", Some(taken)))
            .await,
        "y",
        taken,
    );

    // Deleted through one server, the port is free for the other.
    let winner_name = if loser_name == "x-b" { "x-a" } else { "x-b" };
    winner
        .delete(winner_name, &DeleteParams::default())
        .await
        .unwrap();
    let other = if loser_name == "x-b" {
        b.clone()
    } else {
        a.clone()
    };
    let again = other
        .create(&PostParams::default(), &service("x-again", Some(30050)))
        .await
        .unwrap();
    assert_eq!(node_port(&again), 30050);

    // Server A stops; started again, it finds every port taken where it was.
    server_a.stop();
    drop(server_a);
    let (_server_a, a) = server_on(&dir.path().join("a"), Some(&url), slow).await;
    assert_taken(
        a.create(&PostParams::default(), &service("z", Some(30050)))
            .await,
        "z",
        30050,
    );
    let more = futures::future::join_all((0..20).map(|i| {
        let api = a.clone();
        async move {
            api.create(&PostParams::default(), &service(&format!("t{i}"), None))
                .await
                .unwrap()
        }
    }))
    .await;
    let more: BTreeSet<u16> = more.iter().map(node_port).collect();
    assert_eq!(more.len(), 20);
    assert!(more.is_disjoint(&ports) && !more.contains(&30050));
}

/// The record is damaged behind the servers' backs (a port a Service holds unmarked, a port
/// nobody holds marked): a server starting marks the first at once and keeps the second (it may
/// be a write in flight on another server); a server repairing every 300 ms frees it on its
/// third pass (upstream's grace).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_repair_marks_held_ports_and_frees_leaked_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (_etcd, url) = start_etcd();
    let (first, a) = server_on(&dir.path().join("a"), Some(&url), Duration::from_secs(180)).await;
    let held = node_port(
        &a.create(&PostParams::default(), &service("held", None))
            .await
            .unwrap(),
    );
    first.stop();
    drop(first);

    // The record now marks only 30070.
    let url2 = url.clone();
    tokio::task::spawn_blocking(move || {
        let store = EtcdStore::connect(EtcdOptions::new(vec![url2])).unwrap();
        let key = "/registry/ranges/servicenodeports";
        let kv = store.get(key).unwrap().unwrap();
        let mut record: serde_json::Value = serde_json::from_slice(&kv.value).unwrap();
        // Bit 70 of a big-endian integer: 9 bytes, the first holding bit 6.
        let mut data = vec![0u8; 9];
        data[0] = 1 << 6;
        record["data"] = base64_encode(&data).into();
        store
            .update(key, record.to_string().into_bytes(), kv.mod_revision)
            .unwrap();
    })
    .await
    .unwrap();

    let (_server, a) = server_on(&dir.path().join("b"), Some(&url), Duration::from_secs(180)).await;
    assert_taken(
        a.create(&PostParams::default(), &service("dup", Some(held)))
            .await,
        "dup",
        held,
    );
    assert_taken(
        a.create(&PostParams::default(), &service("leak", Some(30070)))
            .await,
        "leak",
        30070,
    );
    let _fast = server_on(
        &dir.path().join("c"),
        Some(&url),
        Duration::from_millis(300),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match a
            .create(&PostParams::default(), &service("leak", Some(30070)))
            .await
        {
            Ok(svc) => {
                assert_eq!(node_port(&svc), 30070);
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "30070 never freed: {e:?}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}
