use super::*;
use crate::zone::ZoneConfig;
use hickory_proto::op::Query;
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;
use std::sync::atomic::AtomicUsize;

/// A resolver standing in for Docker's: `kind-control-plane.` has an address, everything else
/// is NXDOMAIN with an SOA. Counts the questions it gets.
async fn upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, peer) = socket.recv_from(&mut buf).await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            let q = Message::from_vec(&buf[..n]).unwrap();
            let mut m = Message::response(q.metadata.id, OpCode::Query);
            m.metadata.recursion_desired = q.metadata.recursion_desired;
            m.queries.clone_from(&q.queries);
            let name = q.queries[0].name().clone();
            if name.to_ascii() == "kind-control-plane." {
                if q.queries[0].query_type() == RecordType::A {
                    m.add_answer(Record::from_rdata(
                        name,
                        600,
                        RData::A(A("172.18.0.2".parse().unwrap())),
                    ));
                }
            } else {
                m.metadata.response_code = ResponseCode::NXDomain;
                let soa = SOA::new(Name::root(), Name::root(), 1, 1, 1, 1, 60);
                m.add_authority(Record::from_rdata(Name::root(), 60, RData::SOA(soa)));
            }
            socket.send_to(&m.to_vec().unwrap(), peer).await.unwrap();
        }
    });
    (addr, asked)
}

fn zone() -> Zone {
    let services: Vec<Service> = vec![
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "default"},
            "spec": {"clusterIP": "10.96.12.34", "ports": [{"name": "http", "port": 80}]}}))
        .unwrap(),
        serde_json::from_value(json!({"metadata": {"name": "many", "namespace": "default"},
            "spec": {"clusterIP": "None"}}))
        .unwrap(),
        serde_json::from_value(json!({"metadata": {"name": "ext", "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": "kind-control-plane"}}))
        .unwrap(),
        serde_json::from_value(
            json!({"metadata": {"name": "alias", "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": "web.default.svc.cluster.local"}}),
        )
        .unwrap(),
    ];
    let endpoints: Vec<serde_json::Value> = (1..=100)
        .map(|i| json!({"addresses": [format!("10.244.{}.{}", i / 50, i % 50 + 1)]}))
        .collect();
    let slices: Vec<EndpointSlice> = vec![serde_json::from_value(json!({
        "metadata": {"name": "many-1", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "many"}},
        "addressType": "IPv4", "endpoints": endpoints}))
    .unwrap()];
    Zone::build(
        ZoneConfig::new("cluster.local", "10.96.0.10".parse().ok()),
        1,
        &services.iter().collect::<Vec<_>>(),
        &slices.iter().collect::<Vec<_>>(),
        &[],
    )
}

async fn server(upstreams: Vec<SocketAddr>) -> crate::Running {
    let config = crate::Config {
        domain: "cluster.local".into(),
        dns_ip: None,
        listen: vec!["127.0.0.1".parse().unwrap()],
        port: 0,
        metrics: None,
        upstreams,
    };
    let running = crate::serve(&config).await.unwrap();
    running.zone.send_replace(Arc::new(zone()));
    running
}

fn query(name: &str, qtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

async fn udp(server: SocketAddr, q: &[u8]) -> (usize, Message) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.send_to(q, server).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let n = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
        .await
        .unwrap()
        .unwrap();
    (n, Message::from_vec(&buf[..n]).unwrap())
}

async fn tcp(server: SocketAddr, q: &[u8]) -> Message {
    let mut stream = TcpStream::connect(server).await.unwrap();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(q);
    stream.write_all(&framed).await.unwrap();
    let len = stream.read_u16().await.unwrap();
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

fn addresses(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.data.to_string()).collect()
}

#[tokio::test]
async fn answers_the_zone_over_udp_and_tcp() {
    let s = server(vec![]).await;
    let q = query("web.default.svc.cluster.local.", RecordType::A, None);
    let (_, m) = udp(s.udp[0], &q).await;
    assert_eq!(addresses(&m), ["10.96.12.34"]);
    assert!(m.metadata.authoritative && m.metadata.recursion_available);
    assert_eq!(m.metadata.id, Message::from_vec(&q).unwrap().metadata.id);
    let m = tcp(s.tcp[0], &q).await;
    assert_eq!(addresses(&m), ["10.96.12.34"]);
    let (_, m) = udp(
        s.udp[0],
        &query("nope.default.svc.cluster.local.", RecordType::A, None),
    )
    .await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
}

#[tokio::test]
async fn long_udp_answers_are_truncated_without_edns_and_whole_over_tcp() {
    let s = server(vec![]).await;
    let q = query("many.default.svc.cluster.local.", RecordType::A, None);
    let (n, m) = udp(s.udp[0], &q).await;
    assert!(n <= 512, "{n} bytes");
    assert!(m.metadata.truncation);
    assert!(!m.answers.is_empty() && m.answers.len() < 100);
    let m = tcp(s.tcp[0], &q).await;
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 100);
    // EDNS with room for all of them: whole over UDP, with our OPT.
    let (n, m) = udp(
        s.udp[0],
        &query("many.default.svc.cluster.local.", RecordType::A, Some(4096)),
    )
    .await;
    assert!(n > 512);
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 100);
    assert_eq!(m.edns.map(|e| e.max_payload()), Some(1232));
    assert_eq!(s.handler.stats.truncated.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn other_names_are_forwarded_and_negative_answers_cached() {
    let (up, asked) = upstream().await;
    let s = server(vec![up]).await;
    let (_, m) = udp(s.udp[0], &query("kind-control-plane.", RecordType::A, None)).await;
    assert_eq!(addresses(&m), ["172.18.0.2"]);
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    let (_, m) = udp(s.udp[0], &query("nope.example.", RecordType::A, None)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    // The same question (any case) again: from the cache, with the new ID and question.
    let q = query("NOPE.example.", RecordType::A, None);
    let (_, m) = udp(s.udp[0], &q).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.metadata.id, Message::from_vec(&q).unwrap().metadata.id);
    assert_eq!(m.queries[0].name.to_ascii(), "NOPE.example.");
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    assert_eq!(s.handler.stats.cache_hits.load(Ordering::Relaxed), 1);
    // Reverse lookups of addresses that are not the cluster's go upstream too.
    let (_, m) = udp(
        s.udp[0],
        &query("1.0.0.127.in-addr.arpa.", RecordType::PTR, None),
    )
    .await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(asked.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn external_names_are_cnames_followed_to_addresses() {
    let (up, _) = upstream().await;
    let s = server(vec![up]).await;
    let (_, m) = udp(
        s.udp[0],
        &query("ext.default.svc.cluster.local.", RecordType::A, None),
    )
    .await;
    assert_eq!(addresses(&m), ["kind-control-plane.", "172.18.0.2"]);
    assert_eq!(m.answers[0].record_type(), RecordType::CNAME);
    // A target inside the zone is followed there.
    let (_, m) = udp(
        s.udp[0],
        &query("alias.default.svc.cluster.local.", RecordType::A, None),
    )
    .await;
    assert_eq!(
        addresses(&m),
        ["web.default.svc.cluster.local.", "10.96.12.34"]
    );
}

#[tokio::test]
async fn no_upstream_is_servfail_and_garbage_is_formerr() {
    let s = server(vec!["127.0.0.1:9".parse().unwrap()]).await;
    let (_, m) = udp(s.udp[0], &query("example.com.", RecordType::A, None)).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let mut garbage = query("example.com.", RecordType::A, None);
    garbage.truncate(14);
    let (_, m) = udp(s.udp[0], &garbage).await;
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
}
