//! `kindling-bench dns [ADDR]`: queries/s and answer times of cluster DNS.
//!
//! The server is kindling-dns's own (`kindling_dns::serve`), started in this process on
//! loopback with a zone of 1 000 Services (and a headless one of 100 endpoints); the client is
//! `CLIENTS` tasks, each with its own UDP socket, one query in flight each. Scenarios: an A
//! answer from the zone, an NXDOMAIN from the zone, a name forwarded upstream (to the floor's
//! echo server standing in for Docker's DNS). The floor is the same client against a UDP echo
//! server in the same process: what the loopback, the runtime and the client cost by themselves.
//!
//! With `ADDR` (e.g. a node's `172.18.0.2:53`, reachable from the host on the `kind` network)
//! the A scenario also runs against that server (`kubernetes.default.svc.cluster.local`).

use anyhow::{Context, Result};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kindling_dns::zone::{Zone, ZoneConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

const CLIENTS: usize = 16;
const RUN: Duration = Duration::from_secs(3);
const SERVICES: usize = 1000;

pub async fn run(target: Option<String>) -> Result<()> {
    let echo = echo_server().await?;
    let config = kindling_dns::Config {
        domain: "cluster.local".into(),
        dns_ip: Some("10.96.0.10".parse()?),
        listen: vec!["127.0.0.1".parse()?],
        port: 0,
        metrics: None,
        upstreams: vec![echo],
    };
    let server = kindling_dns::serve(&config).await?;
    server.zone.send_replace(Arc::new(zone()?));
    let dns = server.udp[0];
    println!(
        "cluster DNS (kindling-dns, UDP on loopback, {CLIENTS} clients with one query in flight each, {}s a run; {SERVICES} services in the zone)",
        RUN.as_secs()
    );
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>8}",
        "", "queries/s", "p50 µs", "p99 µs", "lost"
    );
    let floor = measure(echo, "web-0042.default.svc.cluster.local.", RecordType::A).await?;
    report("floor: UDP echo, same client", &floor);
    let a = measure(dns, "web-0042.default.svc.cluster.local.", RecordType::A).await?;
    report("A, ClusterIP service (zone)", &a);
    let nx = measure(dns, "nope.default.svc.cluster.local.", RecordType::A).await?;
    report("NXDOMAIN (zone)", &nx);
    let headless = measure(dns, "many.default.svc.cluster.local.", RecordType::A).await?;
    report("A, headless, 100 endpoints (TC, 512 B)", &headless);
    let fwd = measure(dns, "example.com.", RecordType::A).await?;
    report("forwarded to the echo upstream", &fwd);
    if let Some(target) = target {
        let addr: SocketAddr = target
            .parse()
            .with_context(|| format!("{target}: expected IP:PORT"))?;
        let remote = measure(addr, "kubernetes.default.svc.cluster.local.", RecordType::A).await?;
        report(&format!("A, kubernetes.default at {addr}"), &remote);
    }
    println!(
        "zone answers cost {:.0}% of the floor's rate; forwarding {:.0}%",
        100.0 * a.qps / floor.qps,
        100.0 * fwd.qps / floor.qps
    );
    Ok(())
}

fn zone() -> Result<Zone> {
    let mut services: Vec<Service> = (0..SERVICES)
        .map(|i| {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("web-{i:04}"), "namespace": "default"},
                "spec": {"clusterIP": format!("10.96.{}.{}", 10 + i / 250, i % 250 + 1),
                         "ports": [{"name": "http", "port": 80}]}}))
        })
        .collect::<Result<_, _>>()?;
    services.push(serde_json::from_value(serde_json::json!({
        "metadata": {"name": "many", "namespace": "default"}, "spec": {"clusterIP": "None"}}))?);
    let endpoints: Vec<serde_json::Value> = (0..100)
        .map(|i| serde_json::json!({"addresses": [format!("10.244.1.{}", i + 1)]}))
        .collect();
    let slice: EndpointSlice = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "many-1", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "many"}},
        "addressType": "IPv4", "endpoints": endpoints}))?;
    Ok(Zone::build(
        ZoneConfig::new("cluster.local", "10.96.0.10".parse().ok()),
        1,
        &services.iter().collect::<Vec<_>>(),
        &[&slice],
        &[],
    ))
}

/// A UDP server that sends every datagram back with the QR bit set: the floor.
async fn echo_server() -> Result<SocketAddr> {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let addr = socket.local_addr()?;
    for _ in 0..2 {
        let socket = socket.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    continue;
                };
                if n > 2 {
                    buf[2] |= 0x80;
                }
                let _ = socket.send_to(&buf[..n], peer).await;
            }
        });
    }
    Ok(addr)
}

struct Figures {
    qps: f64,
    p50: Duration,
    p99: Duration,
    lost: usize,
}

fn report(what: &str, f: &Figures) {
    println!(
        "{what:<44} {:>10.0} {:>10} {:>10} {:>8}",
        f.qps,
        f.p50.as_micros(),
        f.p99.as_micros(),
        f.lost
    );
}

async fn measure(server: SocketAddr, name: &str, qtype: RecordType) -> Result<Figures> {
    let mut query = Message::query();
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(Name::from_ascii(name)?, qtype));
    let query = query.to_vec()?;
    let start = Instant::now();
    let deadline = start + RUN;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let mut query = query.clone();
        tasks.push(tokio::spawn(async move {
            let socket = UdpSocket::bind("0.0.0.0:0").await?;
            socket.connect(server).await?;
            let mut buf = vec![0u8; 4096];
            let (mut times, mut lost) = (Vec::new(), 0usize);
            let mut id = u16::try_from(c).unwrap_or(0).wrapping_mul(4096);
            while Instant::now() < deadline {
                id = id.wrapping_add(1);
                query[..2].copy_from_slice(&id.to_be_bytes());
                let sent = Instant::now();
                socket.send(&query).await?;
                loop {
                    match tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await
                    {
                        Ok(Ok(n)) if n >= 2 && buf[..2] == id.to_be_bytes() => {
                            times.push(sent.elapsed());
                            break;
                        }
                        // A late answer to an earlier query: keep waiting for this one.
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return Err(anyhow::Error::from(e)),
                        Err(_) => {
                            lost += 1;
                            break;
                        }
                    }
                }
            }
            Ok::<_, anyhow::Error>((times, lost))
        }));
    }
    let (mut times, mut lost) = (Vec::new(), 0);
    for t in tasks {
        let (t, l) = t.await??;
        times.extend(t);
        lost += l;
    }
    let elapsed = start.elapsed();
    times.sort();
    let at = |q: f64| {
        times
            .get(((times.len() as f64) * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    Ok(Figures {
        qps: times.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        lost,
    })
}
