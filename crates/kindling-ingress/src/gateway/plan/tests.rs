//! Statuses and attachment decided from objects, table-driven.
#![allow(clippy::unwrap_used, clippy::type_complexity)]

use super::*;
use serde_json::json;

fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

struct World {
    classes: Vec<GatewayClass>,
    gateways: Vec<Gateway>,
    routes: Vec<HttpRoute>,
    grants: Vec<ReferenceGrant>,
    namespaces: Vec<Namespace>,
    services: Vec<Service>,
    secrets: HashSet<String>,
}

fn world() -> World {
    World {
        classes: vec![
            from(json!({"metadata": {"name": "kindling", "generation": 1},
                        "spec": {"controllerName": CONTROLLER_NAME}})),
            from(json!({"metadata": {"name": "theirs"},
                        "spec": {"controllerName": "example.com/other"}})),
        ],
        gateways: vec![from(json!({
            "metadata": {"name": "gw", "namespace": "infra", "generation": 2},
            "spec": {"gatewayClassName": "kindling", "listeners": [
                {"name": "http", "port": 80, "protocol": "HTTP",
                 "allowedRoutes": {"namespaces": {"from": "All"}}},
                {"name": "same", "port": 80, "protocol": "HTTP", "hostname": "same.test"},
                {"name": "selected", "port": 80, "protocol": "HTTP", "hostname": "*.sel.test",
                 "allowedRoutes": {"namespaces": {"from": "Selector",
                                   "selector": {"matchLabels": {"gw": "yes"}}}}},
                {"name": "tcp", "port": 80, "protocol": "TCP", "hostname": "tcp.test"},
                {"name": "odd-port", "port": 8080, "protocol": "HTTP"},
                {"name": "https-no-cert", "port": 443, "protocol": "HTTPS", "hostname": "a.test", "tls": {}},
                {"name": "https-foreign", "port": 443, "protocol": "HTTPS", "hostname": "b.test",
                 "tls": {"certificateRefs": [{"name": "cert", "namespace": "certs"}]}},
                {"name": "https-ok", "port": 443, "protocol": "HTTPS", "hostname": "c.test",
                 "tls": {"certificateRefs": [{"name": "cert"}]}},
                {"name": "bad-kinds", "port": 80, "protocol": "HTTP", "hostname": "k.test",
                 "allowedRoutes": {"kinds": [{"kind": "TCPRoute"}]}},
                {"name": "dup1", "port": 80, "protocol": "HTTP", "hostname": "dup.test"},
                {"name": "dup2", "port": 80, "protocol": "HTTP", "hostname": "dup.test"},
            ]},
        }))],
        routes: Vec::new(),
        grants: Vec::new(),
        namespaces: vec![
            from(json!({"metadata": {"name": "apps", "labels": {"gw": "yes"}}})),
            from(json!({"metadata": {"name": "infra"}})),
        ],
        services: vec![
            from(
                json!({"metadata": {"name": "web", "namespace": "apps"}, "spec": {"ports": [{"port": 80}]}}),
            ),
            from(
                json!({"metadata": {"name": "db", "namespace": "infra"}, "spec": {"ports": [{"port": 80}]}}),
            ),
        ],
        secrets: ["infra/cert".to_string()].into_iter().collect(),
    }
}

fn run(w: &World) -> Plan {
    plan(&Inputs {
        classes: w.classes.iter().collect(),
        gateways: w.gateways.iter().collect(),
        http_routes: w.routes.iter().collect(),
        grpc_routes: Vec::new(),
        grants: w.grants.iter().collect(),
        namespaces: w.namespaces.iter().collect(),
        services: w.services.iter().collect(),
        slices: Vec::new(),
        secrets: w.secrets.clone(),
        http_port: 80,
        https_port: 443,
        address: "localhost".into(),
    })
}

fn reason(conds: &[Condition], type_: &str) -> (bool, &'static str) {
    let c = conds.iter().find(|c| c.type_ == type_).unwrap();
    (c.status, c.reason)
}

#[test]
fn only_our_class_is_accepted() {
    let p = run(&world());
    assert_eq!(p.classes.len(), 1);
    assert_eq!(p.classes[0].name, "kindling");
    assert_eq!(
        reason(&p.classes[0].conditions, "Accepted"),
        (true, "Accepted")
    );
}

#[test]
fn listeners_are_judged() {
    let p = run(&world());
    let gw = &p.gateways[0];
    assert_eq!(gw.addresses, vec![("Hostname", "localhost".to_string())]);
    assert_eq!(
        reason(&gw.conditions, "Accepted"),
        (true, "ListenersNotValid")
    );
    assert_eq!(reason(&gw.conditions, "Programmed"), (true, "Programmed"));
    let cases: &[(&str, &str, (bool, &str))] = &[
        ("http", "Programmed", (true, "Programmed")),
        ("tcp", "Accepted", (false, "UnsupportedProtocol")),
        ("odd-port", "Accepted", (false, "PortUnavailable")),
        ("odd-port", "Programmed", (false, "Invalid")),
        (
            "https-no-cert",
            "ResolvedRefs",
            (false, "InvalidCertificateRef"),
        ),
        ("https-foreign", "ResolvedRefs", (false, "RefNotPermitted")),
        ("https-ok", "ResolvedRefs", (true, "ResolvedRefs")),
        ("https-ok", "Programmed", (true, "Programmed")),
        ("bad-kinds", "ResolvedRefs", (false, "InvalidRouteKinds")),
        ("dup1", "Conflicted", (true, "HostnameConflict")),
        ("dup2", "Conflicted", (true, "HostnameConflict")),
        ("http", "Conflicted", (false, "NoConflicts")),
    ];
    for (listener, type_, want) in cases {
        let l = gw.listeners.iter().find(|l| l.name == *listener).unwrap();
        assert_eq!(reason(&l.conditions, type_), *want, "{listener} {type_}");
    }
    let bad_kinds = gw.listeners.iter().find(|l| l.name == "bad-kinds").unwrap();
    assert!(bad_kinds.supported_kinds.is_empty());
    // The valid HTTPS listener's certificate is served for its hostname.
    assert_eq!(p.tls.len(), 1);
    assert_eq!(p.tls[0].hosts, ["c.test"]);
    assert_eq!(p.tls[0].secret.as_deref(), Some("infra/cert"));
}

fn route(
    ns: &str,
    parent: serde_json::Value,
    hostnames: &[&str],
    backend: serde_json::Value,
) -> HttpRoute {
    from(json!({
        "metadata": {"name": "r", "namespace": ns, "generation": 1},
        "spec": {"parentRefs": [parent], "hostnames": hostnames,
                 "rules": [{"backendRefs": [backend]}]},
    }))
}

#[test]
fn attaching_and_references() {
    let web = json!({"name": "web", "namespace": "apps", "port": 80});
    let cases: Vec<(&str, HttpRoute, bool, (bool, &str), (bool, &str))> = vec![
        (
            "all namespaces",
            route(
                "apps",
                json!({"name": "gw", "namespace": "infra", "sectionName": "http"}),
                &[],
                web.clone(),
            ),
            false,
            (true, "Accepted"),
            (true, "ResolvedRefs"),
        ),
        (
            "no such section",
            route(
                "apps",
                json!({"name": "gw", "namespace": "infra", "sectionName": "nope"}),
                &[],
                web.clone(),
            ),
            false,
            (false, "NoMatchingParent"),
            (true, "ResolvedRefs"),
        ),
        (
            "invalid listener",
            route(
                "apps",
                json!({"name": "gw", "namespace": "infra", "sectionName": "odd-port"}),
                &[],
                web.clone(),
            ),
            false,
            (false, "NoMatchingParent"),
            (true, "ResolvedRefs"),
        ),
        (
            "same namespace only",
            route(
                "apps",
                json!({"name": "gw", "namespace": "infra", "sectionName": "same"}),
                &[],
                web.clone(),
            ),
            false,
            (false, "NotAllowedByListeners"),
            (true, "ResolvedRefs"),
        ),
        (
            "selected namespace",
            route(
                "apps",
                json!({"name": "gw", "namespace": "infra", "sectionName": "selected"}),
                &["x.sel.test"],
                web.clone(),
            ),
            false,
            (true, "Accepted"),
            (true, "ResolvedRefs"),
        ),
        (
            "hostnames do not meet",
            route(
                "apps",
                json!({"name": "gw", "namespace": "infra", "sectionName": "selected"}),
                &["other.test"],
                web.clone(),
            ),
            false,
            (false, "NoMatchingListenerHostname"),
            (true, "ResolvedRefs"),
        ),
        (
            "port picks listeners",
            route(
                "apps",
                json!({"name": "gw", "namespace": "infra", "port": 80}),
                &["x.sel.test"],
                web.clone(),
            ),
            false,
            (true, "Accepted"),
            (true, "ResolvedRefs"),
        ),
        (
            "across namespaces, no grant",
            route(
                "apps",
                json!({"name": "gw", "namespace": "infra", "sectionName": "http"}),
                &[],
                json!({"name": "db", "namespace": "infra", "port": 80}),
            ),
            false,
            (true, "Accepted"),
            (false, "RefNotPermitted"),
        ),
        (
            "across namespaces, granted",
            route(
                "apps",
                json!({"name": "gw", "namespace": "infra", "sectionName": "http"}),
                &[],
                json!({"name": "db", "namespace": "infra", "port": 80}),
            ),
            true,
            (true, "Accepted"),
            (true, "ResolvedRefs"),
        ),
        (
            "missing service",
            route(
                "apps",
                json!({"name": "gw", "namespace": "infra", "sectionName": "http"}),
                &[],
                json!({"name": "nope", "port": 80}),
            ),
            false,
            (true, "Accepted"),
            (false, "BackendNotFound"),
        ),
        (
            "not a service",
            route(
                "apps",
                json!({"name": "gw", "namespace": "infra", "sectionName": "http"}),
                &[],
                json!({"group": "example.com", "kind": "Bucket", "name": "b"}),
            ),
            false,
            (true, "Accepted"),
            (false, "InvalidKind"),
        ),
    ];
    for (what, r, grant, accepted, resolved) in cases {
        let mut w = world();
        w.routes = vec![r];
        if grant {
            w.grants = vec![from(json!({
                "metadata": {"name": "g", "namespace": "infra"},
                "spec": {"from": [{"group": GROUP, "kind": "HTTPRoute", "namespace": "apps"}],
                         "to": [{"group": "", "kind": "Service", "name": "db"}]},
            }))];
        }
        let p = run(&w);
        let parent = &p.routes[0].parents[0];
        assert_eq!(reason(&parent.conditions, "Accepted"), accepted, "{what}");
        assert_eq!(
            reason(&parent.conditions, "ResolvedRefs"),
            resolved,
            "{what}"
        );
        let attached: i32 = p.gateways[0]
            .listeners
            .iter()
            .map(|l| l.attached_routes)
            .sum();
        assert_eq!(attached > 0, accepted.0, "{what}: attachedRoutes");
        assert_eq!(!p.table.is_empty(), accepted.0, "{what}: routed");
    }
}

#[test]
fn parents_of_other_controllers_are_not_ours() {
    let mut w = world();
    w.gateways.push(from(json!({
        "metadata": {"name": "theirs", "namespace": "apps"},
        "spec": {"gatewayClassName": "theirs", "listeners": [{"name": "h", "port": 80, "protocol": "HTTP"}]},
    })));
    w.routes = vec![route(
        "apps",
        json!({"name": "theirs"}),
        &[],
        json!({"name": "web", "port": 80}),
    )];
    let p = run(&w);
    assert!(p.routes.is_empty());
    assert_eq!(p.gateways.len(), 1);
}

#[test]
fn unsupported_filters_refuse_the_route() {
    let mut w = world();
    w.routes = vec![from(json!({
        "metadata": {"name": "r", "namespace": "apps"},
        "spec": {"parentRefs": [{"name": "gw", "namespace": "infra", "sectionName": "http"}],
                 "rules": [{"filters": [{"type": "RequestMirror"}],
                            "backendRefs": [{"name": "web", "port": 80}]}]},
    }))];
    let p = run(&w);
    assert_eq!(
        reason(&p.routes[0].parents[0].conditions, "Accepted"),
        (false, "UnsupportedValue")
    );
    assert!(p.table.is_empty());
}

#[test]
fn gateways_asking_for_addresses_are_refused() {
    let mut w = world();
    w.gateways[0].spec.addresses = vec![json!({"type": "IPAddress", "value": "10.0.0.1"})];
    let p = run(&w);
    assert_eq!(
        reason(&p.gateways[0].conditions, "Accepted"),
        (false, "UnsupportedAddress")
    );
    assert!(p.gateways[0].addresses.is_empty());
}

#[test]
fn hostnames_intersect() {
    let s = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    let cases: &[(Option<&str>, &[&str], &[Option<&str>])] = &[
        (None, &[], &[None]),
        (None, &["a.test"], &[Some("a.test")]),
        (Some("a.test"), &[], &[Some("a.test")]),
        (Some("*.test"), &["a.test", "b.other"], &[Some("a.test")]),
        (Some("a.test"), &["*.test"], &[Some("a.test")]),
        (Some("*.test"), &["*.a.test"], &[Some("*.a.test")]),
        (Some("a.test"), &["b.test"], &[]),
    ];
    for (listener, route, want) in cases {
        let got = intersect(*listener, &s(route));
        let want: Vec<Option<String>> = want.iter().map(|h| h.map(str::to_string)).collect();
        assert_eq!(got, want, "{listener:?} {route:?}");
    }
}
