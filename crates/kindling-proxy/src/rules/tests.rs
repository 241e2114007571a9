//! Golden snippets of the rules, checked line by line.

use super::*;
use crate::model::{build, State};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;
use std::sync::Arc;

fn node() -> Node {
    Node {
        name: "kind-worker".into(),
        cluster_cidr: Some("10.244.0.0/16".into()),
    }
}

fn service(name: &str, spec: serde_json::Value) -> Arc<Service> {
    Arc::new(
        serde_json::from_value(
            json!({"metadata": {"name": name, "namespace": "default"}, "spec": spec}),
        )
        .unwrap(),
    )
}

/// A slice of `service` for port `http` → 8080 with `(ip, node, ready, terminating)` endpoints.
fn slice(service: &str, endpoints: &[(&str, &str, bool, bool)]) -> Arc<EndpointSlice> {
    let eps: Vec<serde_json::Value> = endpoints
        .iter()
        .map(|(ip, node, ready, terminating)| {
            json!({"addresses": [ip], "nodeName": node,
                   "conditions": {"ready": ready, "serving": *ready || *terminating, "terminating": terminating}})
        })
        .collect();
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": format!("{service}-abcde"), "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": eps,
        }))
        .unwrap(),
    )
}

fn web(extra: serde_json::Value) -> Arc<Service> {
    let mut spec = json!({"clusterIP": "10.96.0.20", "type": "ClusterIP",
                          "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]});
    if let (Some(a), Some(b)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
    service("web", spec)
}

fn state(services: &[Arc<Service>], slices: &[Arc<EndpointSlice>]) -> State {
    build(services, slices)
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// Asserts that `snippet`'s lines appear in `text`, consecutively and in order.
#[track_caller]
fn assert_contains(text: &str, snippet: &str) {
    let want: Vec<&str> = snippet.trim().lines().map(str::trim).collect();
    let have = lines(text);
    let found = have.windows(want.len()).any(|w| w == want.as_slice());
    assert!(found, "missing:\n{}\n--- in ---\n{text}", want.join("\n"));
}

#[track_caller]
fn assert_lacks(text: &str, needle: &str) {
    assert!(!text.contains(needle), "unexpected {needle:?} in\n{text}");
}

#[test]
fn chain_names_are_upstreams_hashes() {
    let sp = crate::model::ServicePort {
        namespace: "ns1".into(),
        service: "svc1".into(),
        port_name: "p80".into(),
        protocol: crate::model::Protocol::Tcp,
        cluster_ip: "172.30.0.41".parse().unwrap(),
        port: 80,
        node_port: None,
        external_ips: vec![],
        affinity_seconds: None,
        external_local: false,
        internal_local: false,
        endpoints: vec![],
    };
    assert_eq!(svc_chain(&sp), "KUBE-SVC-XPGD46QRK7WJZT7O");
    let ep = crate::model::Endpoint {
        ip: "10.180.0.1".parse().unwrap(),
        port: 80,
        node: None,
        ready: true,
        serving: true,
        terminating: false,
    };
    assert_eq!(sep_chain(&sp, &ep), "KUBE-SEP-SXIVWICOYRO3J4NJ");
}

#[test]
fn a_cluster_ip_service_with_two_endpoints() {
    let s = state(
        &[web(json!({}))],
        &[slice(
            "web",
            &[
                ("10.244.1.2", "kind-worker", true, false),
                ("10.244.2.2", "kind-worker2", true, false),
            ],
        )],
    );
    let text = render(&s, &node(), &Existing::default());
    let sp = &s.ports[0];
    let svc = svc_chain(sp);
    let sep1 = sep_chain(sp, &sp.endpoints[0]);
    let sep2 = sep_chain(sp, &sp.endpoints[1]);
    let golden = format!(
        r#"*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:{sep_a} - [0:0]
:{sep_b} - [0:0]
:{svc} - [0:0]
-I PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-I OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-I POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j {svc}
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A {svc} ! -s 10.244.0.0/16 -d 10.96.0.20/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A {svc} -m comment --comment "default/web:http -> 10.244.1.2:8080" -m statistic --mode random --probability 0.5000000000 -j {sep1}
-A {svc} -m comment --comment "default/web:http -> 10.244.2.2:8080" -j {sep2}
-A {sep1} -s 10.244.1.2/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A {sep1} -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.1.2:8080
-A {sep2} -s 10.244.2.2/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A {sep2} -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.2.2:8080
COMMIT
*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
-I INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-I FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
-I FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-I FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-I OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
"#,
        sep_a = sep1.clone().min(sep2.clone()),
        sep_b = sep1.clone().max(sep2.clone()),
    );
    assert_eq!(text, golden);
    // The same inputs give the same text (a resync rewrites nothing new).
    assert_eq!(render(&s, &node(), &Existing::default()), text);
}

#[test]
fn a_service_without_endpoints_is_rejected_not_routed() {
    let s = state(
        &[web(
            json!({"type": "NodePort", "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}]}),
        )],
        &[slice("web", &[("10.244.1.2", "kind-worker", false, false)])],
    );
    let text = render(&s, &node(), &Existing::default());
    assert_lacks(&text, "KUBE-SVC-");
    assert_lacks(&text, "KUBE-EXT-");
    assert_contains(
        &text,
        r#"-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m comment --comment "default/web:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable
           -A KUBE-EXTERNAL-SERVICES -m addrtype --dst-type LOCAL -p tcp -m comment --comment "default/web:http has no endpoints" -m tcp --dport 30080 -j REJECT --reject-with icmp-port-unreachable"#,
    );
}

#[test]
fn node_ports_go_through_the_external_chain_and_are_masqueraded() {
    let s = state(
        &[web(
            json!({"type": "NodePort", "externalTrafficPolicy": "Cluster",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}]}),
        )],
        &[slice("web", &[("10.244.2.2", "kind-worker2", true, false)])],
    );
    let text = render(&s, &node(), &Existing::default());
    let sp = &s.ports[0];
    let (svc, ext) = (svc_chain(sp), ext_chain(sp));
    assert_contains(
        &text,
        &format!(
            r#"-A KUBE-NODEPORTS -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -j {ext}
           -A {ext} -m comment --comment "masquerade traffic for default/web:http external destinations" -j KUBE-MARK-MASQ
           -A {ext} -j {svc}"#
        ),
    );
    assert_contains(&text, &format!(":{ext} - [0:0]"));
}

#[test]
fn external_ips_and_load_balancers_are_routed_like_node_ports() {
    let s = state(
        &[web(
            json!({"type": "LoadBalancer", "externalIPs": ["192.168.5.5"],
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 31000}]}),
        )],
        &[slice("web", &[("10.244.2.2", "kind-worker2", true, false)])],
    );
    let text = render(&s, &node(), &Existing::default());
    let ext = ext_chain(&s.ports[0]);
    assert_contains(
        &text,
        &format!(
            r#"-A KUBE-SERVICES -d 192.168.5.5/32 -p tcp -m comment --comment "default/web:http external IP" -m tcp --dport 80 -j {ext}"#
        ),
    );
    assert_contains(
        &text,
        &format!(
            r#"-A KUBE-NODEPORTS -p tcp -m comment --comment "default/web:http" -m tcp --dport 31000 -j {ext}"#
        ),
    );
}

#[test]
fn client_ip_affinity_remembers_the_endpoint() {
    let s = state(
        &[web(
            json!({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}}}),
        )],
        &[slice(
            "web",
            &[
                ("10.244.1.2", "kind-worker", true, false),
                ("10.244.2.2", "kind-worker2", true, false),
            ],
        )],
    );
    let text = render(&s, &node(), &Existing::default());
    let sp = &s.ports[0];
    let svc = svc_chain(sp);
    let sep1 = sep_chain(sp, &sp.endpoints[0]);
    let sep2 = sep_chain(sp, &sp.endpoints[1]);
    assert_contains(
        &text,
        &format!(
            r#"-A {svc} -m comment --comment "default/web:http -> 10.244.1.2:8080" -m recent --name {sep1} --mask 255.255.255.255 --rsource --rcheck --seconds 600 --reap -j {sep1}
           -A {svc} -m comment --comment "default/web:http -> 10.244.2.2:8080" -m recent --name {sep2} --mask 255.255.255.255 --rsource --rcheck --seconds 600 --reap -j {sep2}
           -A {svc} -m comment --comment "default/web:http -> 10.244.1.2:8080" -m statistic --mode random --probability 0.5000000000 -j {sep1}"#
        ),
    );
    assert_contains(
        &text,
        &format!(
            r#"-A {sep1} -p tcp -m comment --comment "default/web:http" -m recent --name {sep1} --mask 255.255.255.255 --rsource --set -m tcp -j DNAT --to-destination 10.244.1.2:8080"#
        ),
    );
}

#[test]
fn probabilities_split_evenly() {
    let eps: Vec<(String, &str, bool, bool)> = (1..=4)
        .map(|i| (format!("10.244.1.{i}"), "kind-worker", true, false))
        .collect();
    let refs: Vec<(&str, &str, bool, bool)> = eps
        .iter()
        .map(|(a, b, c, d)| (a.as_str(), *b, *c, *d))
        .collect();
    let s = state(&[web(json!({}))], &[slice("web", &refs)]);
    let text = render(&s, &node(), &Existing::default());
    let probabilities: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split("--probability ").nth(1))
        .map(|rest| rest.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        probabilities,
        ["0.2500000000", "0.3333333333", "0.5000000000"]
    );
}

#[test]
fn external_traffic_policy_local_keeps_outside_traffic_on_this_node() {
    let spec = json!({"type": "NodePort", "externalTrafficPolicy": "Local",
                      "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}]});
    // An endpoint here and one elsewhere.
    let s = state(
        &[web(spec.clone())],
        &[slice(
            "web",
            &[
                ("10.244.1.2", "kind-worker", true, false),
                ("10.244.2.2", "kind-worker2", true, false),
            ],
        )],
    );
    let text = render(&s, &node(), &Existing::default());
    let sp = &s.ports[0];
    let (svc, svl, ext) = (svc_chain(sp), svl_chain(sp), ext_chain(sp));
    let local = sep_chain(sp, &sp.endpoints[0]);
    assert_contains(
        &text,
        &format!(
            r#"-A {ext} -s 10.244.0.0/16 -m comment --comment "pod traffic for default/web:http external destinations" -j {svc}
           -A {ext} -m comment --comment "masquerade LOCAL traffic for default/web:http external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
           -A {ext} -m comment --comment "route LOCAL traffic for default/web:http external destinations" -m addrtype --src-type LOCAL -j {svc}
           -A {ext} -j {svl}"#
        ),
    );
    assert_contains(
        &text,
        &format!(
            r#"-A {svl} -m comment --comment "default/web:http -> 10.244.1.2:8080" -j {local}"#
        ),
    );
    // Cluster IP traffic still goes everywhere.
    assert_contains(
        &text,
        &format!(
            r#"-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j {svc}"#
        ),
    );
    assert_lacks(&text, "has no local endpoints");

    // Only an endpoint elsewhere: outside traffic to this node's port is dropped.
    let s = state(
        &[web(spec)],
        &[slice("web", &[("10.244.2.2", "kind-worker2", true, false)])],
    );
    let text = render(&s, &node(), &Existing::default());
    assert_lacks(&text, "KUBE-SVL-");
    assert_contains(
        &text,
        r#"-A KUBE-EXTERNAL-SERVICES -m addrtype --dst-type LOCAL -p tcp -m comment --comment "default/web:http has no local endpoints" -m tcp --dport 30080 -j DROP"#,
    );
}

#[test]
fn internal_traffic_policy_local_uses_this_nodes_endpoints_only() {
    let s = state(
        &[web(json!({"internalTrafficPolicy": "Local"}))],
        &[slice(
            "web",
            &[
                ("10.244.1.2", "kind-worker", true, false),
                ("10.244.2.2", "kind-worker2", true, false),
            ],
        )],
    );
    let text = render(&s, &node(), &Existing::default());
    let sp = &s.ports[0];
    let svl = svl_chain(sp);
    assert_contains(
        &text,
        &format!(
            r#"-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j {svl}"#
        ),
    );
    assert_lacks(&text, "KUBE-SVC-");
    assert_lacks(&text, "10.244.2.2");

    let elsewhere = Node {
        name: "kind-worker3".into(),
        ..node()
    };
    let text = render(&s, &elsewhere, &Existing::default());
    assert_lacks(&text, "KUBE-SVL-");
    assert_contains(
        &text,
        r#"-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp -m comment --comment "default/web:http has no local endpoints" -m tcp --dport 80 -j DROP"#,
    );
}

#[test]
fn terminating_endpoints_serve_only_when_nothing_is_ready() {
    let s = state(
        &[web(json!({}))],
        &[slice(
            "web",
            &[
                ("10.244.1.2", "kind-worker", false, true),
                ("10.244.2.2", "kind-worker2", true, false),
            ],
        )],
    );
    let text = render(&s, &node(), &Existing::default());
    assert_lacks(&text, "10.244.1.2");
    let s = state(
        &[web(json!({}))],
        &[slice("web", &[("10.244.1.2", "kind-worker", false, true)])],
    );
    let text = render(&s, &node(), &Existing::default());
    assert!(
        text.contains("-m tcp -j DNAT --to-destination 10.244.1.2:8080"),
        "{text}"
    );
    assert_lacks(&text, "has no endpoints");
}

#[test]
fn headless_and_external_name_services_get_no_rules() {
    let s = state(
        &[
            service(
                "headless",
                json!({"clusterIP": "None", "ports": [{"name": "http", "port": 80}]}),
            ),
            service(
                "ext",
                json!({"type": "ExternalName", "externalName": "example.com"}),
            ),
        ],
        &[slice(
            "headless",
            &[("10.244.1.2", "kind-worker", true, false)],
        )],
    );
    let text = render(&s, &node(), &Existing::default());
    assert_lacks(&text, "default/headless");
    assert_lacks(&text, "default/ext");
    assert_lacks(&text, "10.244.1.2");
}

#[test]
fn stale_chains_are_deleted_and_present_jumps_not_repeated() {
    let existing = Existing::parse(
        r#"*nat
:PREROUTING ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-OLDOLDOLDOLDOLDO - [0:0]
:KUBE-SEP-OLDOLDOLDOLDOLDO - [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
COMMIT
"#,
    );
    let s = state(
        &[web(json!({}))],
        &[slice("web", &[("10.244.1.2", "kind-worker", true, false)])],
    );
    let text = render(&s, &node(), &existing);
    assert_lacks(&text, "-I PREROUTING");
    assert_lacks(&text, "-I POSTROUTING");
    assert_contains(&text, "-I INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES");
    assert_contains(&text, ":KUBE-SVC-OLDOLDOLDOLDOLDO - [0:0]");
    assert_contains(
        &text,
        "-X KUBE-SEP-OLDOLDOLDOLDOLDO\n-X KUBE-SVC-OLDOLDOLDOLDOLDO\nCOMMIT",
    );
    // Chains that are not ours are never touched.
    assert_lacks(&text, "CNI-HOSTPORT");
}

#[test]
fn rules_are_in_place_once_applied() {
    let s = state(
        &[web(json!({}))],
        &[slice("web", &[("10.244.1.2", "kind-worker", true, false)])],
    );
    let first = render(&s, &node(), &Existing::default());
    assert!(!in_place(&first, &Existing::default()));
    // What iptables-save shows after the restore: every chain, every jump.
    let mut saved = String::new();
    let mut table = "";
    for line in first.lines() {
        if let Some(t) = line.strip_prefix('*') {
            table = t;
            saved.push_str(line);
            saved.push('\n');
        } else if let Some(rest) = line.strip_prefix("-I ") {
            saved.push_str(&format!("-A {rest}\n"));
        } else {
            saved.push_str(line);
            saved.push('\n');
        }
    }
    let _ = table;
    let existing = Existing::parse(&saved);
    let second = render(&s, &node(), &existing);
    assert_lacks(&second, "-I ");
    assert!(in_place(&second, &existing));
}
