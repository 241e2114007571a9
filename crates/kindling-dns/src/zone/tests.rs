use super::*;
use serde_json::json;

fn svc(v: serde_json::Value) -> Service {
    serde_json::from_value(v).unwrap()
}
fn slice(v: serde_json::Value) -> EndpointSlice {
    serde_json::from_value(v).unwrap()
}
fn pod(v: serde_json::Value) -> Pod {
    serde_json::from_value(v).unwrap()
}

/// A cluster with a ClusterIP service, a headless one with three endpoints (one not ready,
/// one with a hostname), an ExternalName and two pods.
fn zone() -> Zone {
    let services = [
        svc(json!({"metadata": {"name": "web", "namespace": "default"},
            "spec": {"clusterIP": "10.96.12.34", "clusterIPs": ["10.96.12.34"],
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"},
                               {"port": 8443, "protocol": "TCP"}]}})),
        svc(json!({"metadata": {"name": "db", "namespace": "data"},
            "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}})),
        svc(json!({"metadata": {"name": "ext", "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": "kind-control-plane"}})),
        svc(
            json!({"metadata": {"name": "empty", "namespace": "default"},
            "spec": {"clusterIP": "None"}}),
        ),
    ];
    let slices = [slice(json!({
        "metadata": {"name": "db-abc", "namespace": "data",
                     "labels": {"kubernetes.io/service-name": "db"}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.244.1.5"], "conditions": {"ready": true}, "hostname": "db-0"},
            {"addresses": ["10.244.2.7"]},
            {"addresses": ["10.244.2.9"], "conditions": {"ready": false}},
        ],
        "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
    }))];
    let pods = [
        pod(json!({"metadata": {"name": "p1", "namespace": "default"},
                   "status": {"podIP": "10.244.1.10", "podIPs": [{"ip": "10.244.1.10"}]}})),
        pod(json!({"metadata": {"name": "p2", "namespace": "data"},
                   "status": {"podIP": "10.244.1.5"}})),
    ];
    Zone::build(
        ZoneConfig::new("cluster.local", Some("10.96.0.10".parse().unwrap())),
        42,
        &services.iter().collect::<Vec<_>>(),
        &slices.iter().collect::<Vec<_>>(),
        &pods.iter().collect::<Vec<_>>(),
    )
}

fn ask(z: &Zone, name: &str, qtype: RecordType) -> Outcome {
    z.answer(&Name::from_ascii(name).unwrap(), qtype)
}

fn reply(z: &Zone, name: &str, qtype: RecordType) -> Reply {
    match ask(z, name, qtype) {
        Outcome::Answer(r) => r,
        Outcome::Forward => panic!("{name} forwarded"),
    }
}

/// The answer section as presentation-format data (`10.96.12.34`, `0 50 80 web.…`).
fn data(r: &Reply) -> Vec<String> {
    r.answers.iter().map(|r| r.data.to_string()).collect()
}

fn is_negative(r: &Reply, rcode: ResponseCode) -> bool {
    r.rcode == rcode
        && r.answers.is_empty()
        && r.authorities.len() == 1
        && r.authorities[0].record_type() == RecordType::SOA
}

#[test]
fn cluster_ip_service_has_its_address_by_full_name_any_case() {
    let z = zone();
    let r = reply(&z, "web.default.svc.cluster.local.", RecordType::A);
    assert_eq!(r.rcode, ResponseCode::NoError);
    assert_eq!(data(&r), ["10.96.12.34"]);
    assert_eq!(r.answers[0].ttl, 30);
    assert_eq!(
        r.answers[0].name.to_ascii(),
        "web.default.svc.cluster.local."
    );
    let r = reply(&z, "WEB.Default.SVC.cluster.LOCAL.", RecordType::A);
    assert_eq!(data(&r), ["10.96.12.34"]);
    // The owner is the name as asked (clients compare it).
    assert_eq!(
        r.answers[0].name.to_ascii(),
        "WEB.Default.SVC.cluster.LOCAL."
    );
}

#[test]
fn aaaa_of_an_ipv4_service_is_nodata_with_soa() {
    let z = zone();
    let r = reply(&z, "web.default.svc.cluster.local.", RecordType::AAAA);
    assert!(is_negative(&r, ResponseCode::NoError), "{r:?}");
    let soa = r.authorities[0].data.to_string();
    assert!(
        soa.starts_with("ns.dns.cluster.local. hostmaster.cluster.local. 42 7200 1800 86400 30"),
        "{soa}"
    );
}

#[test]
fn unknown_names_in_the_zone_are_nxdomain_with_soa() {
    let z = zone();
    for name in [
        "nope.default.svc.cluster.local.",
        "web.nope.svc.cluster.local.",
        "nope.svc.cluster.local.",
        "a.b.web.default.svc.cluster.local.",
        "x.y.cluster.local.",
        "web.cluster.local.",
        "web.default.cluster.local.",
        "10-244-9-9.default.pod.cluster.local.",
        "10-244-1-10.data.pod.cluster.local.",
        "not-an-ip.default.pod.cluster.local.",
    ] {
        let r = reply(&z, name, RecordType::A);
        assert!(is_negative(&r, ResponseCode::NXDomain), "{name}: {r:?}");
    }
}

#[test]
fn empty_non_terminals_are_nodata() {
    let z = zone();
    for name in [
        "cluster.local.",
        "svc.cluster.local.",
        "default.svc.cluster.local.",
        "pod.cluster.local.",
        "data.pod.cluster.local.",
        "_tcp.web.default.svc.cluster.local.",
    ] {
        let r = reply(&z, name, RecordType::A);
        assert!(is_negative(&r, ResponseCode::NoError), "{name}: {r:?}");
    }
}

#[test]
fn names_outside_the_zone_are_forwarded() {
    let z = zone();
    for name in [
        "kind-control-plane.",
        "example.com.",
        "local.",
        "cluster.local.example.com.",
        "1.2.3.4.in-addr.arpa.",
    ] {
        assert_eq!(ask(&z, name, RecordType::A), Outcome::Forward, "{name}");
    }
    assert_eq!(
        ask(&z, "4.3.2.1.in-addr.arpa.", RecordType::PTR),
        Outcome::Forward
    );
}

#[test]
fn headless_service_answers_every_ready_endpoint() {
    let z = zone();
    let r = reply(&z, "db.data.svc.cluster.local.", RecordType::A);
    assert_eq!(data(&r), ["10.244.1.5", "10.244.2.7"]);
    // By hostname, and by dashed IP when the endpoint has none.
    let r = reply(&z, "db-0.db.data.svc.cluster.local.", RecordType::A);
    assert_eq!(data(&r), ["10.244.1.5"]);
    let r = reply(&z, "10-244-2-7.db.data.svc.cluster.local.", RecordType::A);
    assert_eq!(data(&r), ["10.244.2.7"]);
    // Not ready: not published.
    let r = reply(&z, "10-244-2-9.db.data.svc.cluster.local.", RecordType::A);
    assert!(is_negative(&r, ResponseCode::NXDomain));
    // A headless service without ready endpoints has no records (CoreDNS: NXDOMAIN).
    let r = reply(&z, "empty.default.svc.cluster.local.", RecordType::A);
    assert!(is_negative(&r, ResponseCode::NXDomain));
}

#[test]
fn srv_for_named_ports() {
    let z = zone();
    let r = reply(
        &z,
        "_http._tcp.web.default.svc.cluster.local.",
        RecordType::SRV,
    );
    assert_eq!(data(&r), ["0 100 80 web.default.svc.cluster.local."]);
    assert_eq!(r.additionals.len(), 1);
    assert_eq!(
        r.additionals[0].name.to_ascii(),
        "web.default.svc.cluster.local."
    );
    assert_eq!(r.additionals[0].data.to_string(), "10.96.12.34");
    // The protocol must match; an unknown port name is NXDOMAIN.
    let r = reply(
        &z,
        "_http._udp.web.default.svc.cluster.local.",
        RecordType::SRV,
    );
    assert!(is_negative(&r, ResponseCode::NXDomain));
    let r = reply(
        &z,
        "_nope._tcp.web.default.svc.cluster.local.",
        RecordType::SRV,
    );
    assert!(is_negative(&r, ResponseCode::NXDomain));
    // The SRV name exists, so A on it is NODATA.
    let r = reply(
        &z,
        "_http._tcp.web.default.svc.cluster.local.",
        RecordType::A,
    );
    assert!(is_negative(&r, ResponseCode::NoError));
    // SRV on the service's own name: every port.
    let r = reply(&z, "web.default.svc.cluster.local.", RecordType::SRV);
    assert_eq!(
        data(&r),
        [
            "0 50 80 web.default.svc.cluster.local.",
            "0 50 8443 web.default.svc.cluster.local."
        ]
    );
    // Headless: one per endpoint, targets named by endpoint.
    let r = reply(&z, "_pg._tcp.db.data.svc.cluster.local.", RecordType::SRV);
    assert_eq!(
        data(&r),
        [
            "0 50 5432 10-244-2-7.db.data.svc.cluster.local.",
            "0 50 5432 db-0.db.data.svc.cluster.local."
        ]
    );
    let extra: Vec<String> = r
        .additionals
        .iter()
        .map(|a| format!("{} {}", a.name, a.data))
        .collect();
    assert_eq!(
        extra,
        [
            "10-244-2-7.db.data.svc.cluster.local. 10.244.2.7",
            "db-0.db.data.svc.cluster.local. 10.244.1.5"
        ]
    );
}

#[test]
fn external_name_is_a_cname_chased_for_addresses() {
    let z = zone();
    let r = reply(&z, "ext.default.svc.cluster.local.", RecordType::A);
    assert_eq!(data(&r), ["kind-control-plane."]);
    assert_eq!(r.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(
        r.chase.as_ref().map(Name::to_ascii).as_deref(),
        Some("kind-control-plane.")
    );
    let r = reply(&z, "ext.default.svc.cluster.local.", RecordType::CNAME);
    assert_eq!(data(&r), ["kind-control-plane."]);
    assert!(r.chase.is_none());
}

#[test]
fn pods_by_dashed_ip_in_their_namespace() {
    let z = zone();
    let r = reply(&z, "10-244-1-10.default.pod.cluster.local.", RecordType::A);
    assert_eq!(data(&r), ["10.244.1.10"]);
}

#[test]
fn ptr_for_services_endpoints_and_pods() {
    let z = zone();
    let r = reply(&z, "34.12.96.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(data(&r), ["web.default.svc.cluster.local."]);
    // A pod that is also an endpoint has both names.
    let r = reply(&z, "5.1.244.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(
        data(&r),
        [
            "10-244-1-5.data.pod.cluster.local.",
            "db-0.db.data.svc.cluster.local."
        ]
    );
    let r = reply(&z, "10.1.244.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(data(&r), ["10-244-1-10.default.pod.cluster.local."]);
}

#[test]
fn apex_soa_ns_version_and_the_servers_own_name() {
    let z = zone();
    let r = reply(&z, "cluster.local.", RecordType::SOA);
    assert_eq!(r.answers[0].record_type(), RecordType::SOA);
    let r = reply(&z, "cluster.local.", RecordType::NS);
    assert_eq!(data(&r), ["ns.dns.cluster.local."]);
    assert_eq!(r.additionals[0].data.to_string(), "10.96.0.10");
    let r = reply(&z, "ns.dns.cluster.local.", RecordType::A);
    assert_eq!(data(&r), ["10.96.0.10"]);
    let r = reply(&z, "dns-version.cluster.local.", RecordType::TXT);
    assert_eq!(data(&r), ["1.1.0"]);
}

#[test]
fn another_domain_and_an_unsynced_zone() {
    let services = [svc(
        json!({"metadata": {"name": "web", "namespace": "default"},
        "spec": {"clusterIP": "10.96.0.20"}}),
    )];
    let z = Zone::build(
        ZoneConfig::new("example.internal.", None),
        1,
        &services.iter().collect::<Vec<_>>(),
        &[],
        &[],
    );
    let r = reply(&z, "web.default.svc.example.internal.", RecordType::A);
    assert_eq!(data(&r), ["10.96.0.20"]);
    assert_eq!(
        ask(&z, "web.default.svc.cluster.local.", RecordType::A),
        Outcome::Forward
    );
    let z = Zone::unsynced(ZoneConfig::new("cluster.local", None));
    let r = reply(&z, "web.default.svc.cluster.local.", RecordType::A);
    assert_eq!(r.rcode, ResponseCode::ServFail);
}
