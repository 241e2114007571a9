use super::*;
use serde_json::{json, Value};

fn ingress(v: Value) -> Ingress {
    serde_json::from_value(v).unwrap()
}

fn service(name: &str, ports: Value) -> Service {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"ports": ports},
    }))
    .unwrap()
}

/// A slice of `svc` with one port (`name`, `number`) and ready endpoints `ips`.
fn slice(svc: &str, port_name: &str, number: i32, ips: &[&str]) -> EndpointSlice {
    let endpoints: Vec<Value> = ips
        .iter()
        .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}}))
        .collect();
    serde_json::from_value(json!({
        "metadata": {"name": format!("{svc}-abc"), "namespace": "default",
                     "labels": {"kubernetes.io/service-name": svc}},
        "addressType": "IPv4",
        "ports": [{"name": port_name, "port": number, "protocol": "TCP"}],
        "endpoints": endpoints,
    }))
    .unwrap()
}

fn path(p: &str, path_type: &str, svc: &str, port: i32) -> Value {
    json!({"path": p, "pathType": path_type,
           "backend": {"service": {"name": svc, "port": {"number": port}}}})
}

/// The world of the tests: services foo, bar, baz (port 80 `http`), each with one endpoint.
struct World {
    services: Vec<Service>,
    slices: Vec<EndpointSlice>,
    classes: Vec<IngressClass>,
}

fn world() -> World {
    let mut services = Vec::new();
    let mut slices = Vec::new();
    for (i, name) in ["foo", "bar", "baz"].iter().enumerate() {
        services.push(service(
            name,
            json!([{"name": "http", "port": 80, "targetPort": 5678}]),
        ));
        slices.push(slice(name, "http", 5678, &[&format!("10.244.0.{}", i + 1)]));
    }
    World {
        services,
        slices,
        classes: vec![serde_json::from_value(json!({
            "metadata": {"name": "mine"}, "spec": {"controller": CONTROLLER}}))
        .unwrap()],
    }
}

fn table(w: &World, ings: &[Ingress]) -> Table {
    build(&Inputs {
        ingresses: ings.iter().collect(),
        classes: w.classes.iter().collect(),
        services: w.services.iter().collect(),
        slices: w.slices.iter().collect(),
    })
}

/// Where `host` + `path` goes: the service's endpoint IP, `404`, or `503: <why>`.
fn answer(t: &Table, host: &str, path: &str) -> String {
    let backend = match t.route(host, path) {
        Decision::Route(r) => &r.backend,
        Decision::Fallback(b) => b,
        Decision::NotFound => return "404".into(),
    };
    match &backend.target {
        Target::Endpoints(eps) => eps[0].ip().to_string(),
        Target::Name(h, p) => format!("{h}:{p}"),
        Target::Unavailable(why) => format!("503: {why}"),
    }
}

const FOO: &str = "10.244.0.1";
const BAR: &str = "10.244.0.2";
const BAZ: &str = "10.244.0.3";

#[test]
fn kinds_usage_yaml_routes_foo_and_bar() {
    let w = world();
    let t = table(
        &w,
        &[ingress(json!({
            "metadata": {"name": "example-ingress", "namespace": "default"},
            "spec": {"rules": [{"http": {"paths": [
                path("/foo", "Prefix", "foo", 80), path("/bar", "Prefix", "bar", 80)]}}]},
        }))],
    );
    for (host, p, want) in [
        ("localhost", "/foo", FOO),
        ("localhost", "/foo/", FOO),
        ("localhost", "/foo/x", FOO),
        ("localhost", "/bar", BAR),
        ("127.0.0.1", "/bar/1/2", BAR),
        ("localhost", "/foobar", "404"),
        ("localhost", "/", "404"),
    ] {
        assert_eq!(answer(&t, host, p), want, "{host}{p}");
    }
    assert_eq!(t.served, ["default/example-ingress"]);
}

#[test]
fn path_types_and_longest_match() {
    let w = world();
    let t = table(
        &w,
        &[ingress(json!({
            "metadata": {"name": "i", "namespace": "default"},
            "spec": {"rules": [{"http": {"paths": [
                path("/", "Prefix", "baz", 80),
                path("/a", "Prefix", "foo", 80),
                path("/a/b/", "ImplementationSpecific", "bar", 80),
                path("/a/b", "Exact", "baz", 80),
                path("/x", "Exact", "foo", 80),
            ]}}]},
        }))],
    );
    for (p, want) in [
        ("/", BAZ),
        ("/other", BAZ),
        ("/a", FOO),
        ("/a/c", FOO),
        // Exact beats Prefix at the same length
        ("/a/b", BAZ),
        // ImplementationSpecific is a Prefix; `/a/b/` is the longest match
        ("/a/b/c", BAR),
        ("/a/bc", FOO),
        ("/x", FOO),
        ("/x/", BAZ),
    ] {
        assert_eq!(answer(&t, "any", p), want, "{p}");
    }
}

#[test]
fn hosts_exact_wildcard_and_catch_all() {
    let w = world();
    let rule = |host: &str, svc: &str| json!({"host": host, "http": {"paths": [path("/", "Prefix", svc, 80)]}});
    let t = table(
        &w,
        &[ingress(json!({
            "metadata": {"name": "i", "namespace": "default"},
            "spec": {"rules": [rule("foo.example.com", "foo"), rule("*.example.com", "bar"),
                               rule("", "baz")]},
        }))],
    );
    for (host, want) in [
        ("foo.example.com", FOO),
        ("FOO.Example.com", FOO),
        ("x.example.com", BAR),
        ("X.Example.COM", BAR),
        // a wildcard covers exactly one label
        ("a.b.example.com", BAZ),
        ("example.com", BAZ),
        ("localhost", BAZ),
    ] {
        assert_eq!(answer(&t, host, "/"), want, "{host}");
    }
    // Only the chosen server's routes count: a host server without a match is a 404, even
    // though the catch-all has one.
    let t = table(
        &w,
        &[ingress(json!({
            "metadata": {"name": "i", "namespace": "default"},
            "spec": {"rules": [
                {"host": "h.test", "http": {"paths": [path("/only", "Exact", "foo", 80)]}},
                rule("", "baz")]},
        }))],
    );
    assert_eq!(answer(&t, "h.test", "/only"), FOO);
    assert_eq!(answer(&t, "h.test", "/"), "404");
}

#[test]
fn default_backends_and_missing_things_are_unavailable() {
    let w = world();
    let t = table(
        &w,
        &[
            ingress(json!({
                "metadata": {"name": "d", "namespace": "default",
                             "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"defaultBackend": {"service": {"name": "baz", "port": {"name": "http"}}},
                         "rules": [{"host": "h.test", "http": {"paths": [
                             path("/foo", "Prefix", "foo", 80)]}}]},
            })),
            ingress(json!({
                "metadata": {"name": "e", "namespace": "default",
                             "creationTimestamp": "2026-01-02T00:00:00Z"},
                "spec": {"rules": [{"http": {"paths": [
                    path("/nope", "Prefix", "nope", 80),
                    path("/port", "Prefix", "foo", 81),
                    {"path": "/res", "pathType": "Prefix", "backend": {"resource": {
                        "apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "b"}}},
                ]}}]},
            })),
        ],
    );
    for (host, p, want) in [
        ("h.test", "/foo", FOO.to_string()),
        // the Ingress's defaultBackend, by port name, for its host and the catch-all
        ("h.test", "/", BAZ.into()),
        ("other", "/", BAZ.into()),
        (
            "other",
            "/nope",
            "503: service \"default/nope\" not found".into(),
        ),
        (
            "other",
            "/port",
            "503: service \"default/foo\" has no port 81".into(),
        ),
        (
            "other",
            "/res",
            "503: resource backend StorageBucket \"b\" is not supported by kindling's ingress controller".into(),
        ),
    ] {
        assert_eq!(answer(&t, host, p), want, "{host}{p}");
    }
}

#[test]
fn endpoints_follow_the_service_port_by_name_and_readiness() {
    let mut w = world();
    w.services.push(service(
        "multi",
        json!([{"name": "web", "port": 80}, {"name": "admin", "port": 9000}]),
    ));
    let mut s = slice("multi", "admin", 9090, &["10.244.1.1"]);
    s.ports.as_mut().unwrap().push(
        serde_json::from_value(json!({"name": "web", "port": 8080, "protocol": "TCP"})).unwrap(),
    );
    s.endpoints.push(
        serde_json::from_value(
            json!({"addresses": ["10.244.1.2"], "conditions": {"ready": false}}),
        )
        .unwrap(),
    );
    w.slices.push(s);
    w.services.push(service("empty", json!([{"port": 80}])));
    let t = table(
        &w,
        &[ingress(json!({
            "metadata": {"name": "i", "namespace": "default"},
            "spec": {"rules": [{"http": {"paths": [
                {"path": "/admin", "pathType": "Prefix",
                 "backend": {"service": {"name": "multi", "port": {"name": "admin"}}}},
                path("/web", "Prefix", "multi", 80),
                path("/empty", "Prefix", "empty", 80),
            ]}}]},
        }))],
    );
    let target = |p: &str| match t.route("h", p) {
        Decision::Route(r) => r.backend.target.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        target("/admin"),
        Target::Endpoints(vec!["10.244.1.1:9090".parse().unwrap()])
    );
    assert_eq!(
        target("/web"),
        Target::Endpoints(vec!["10.244.1.1:8080".parse().unwrap()])
    );
    assert_eq!(
        target("/empty"),
        Target::Unavailable("service \"default/empty\" has no ready endpoints".into())
    );
}

#[test]
fn ingress_classes_served() {
    let w = world();
    let ing = |name: &str, class: Option<&str>, annotation: Option<&str>| {
        let mut v = json!({
            "metadata": {"name": name, "namespace": "default", "annotations": {}},
            "spec": {"rules": [{"http": {"paths": [path(&format!("/{name}"), "Prefix", "foo", 80)]}}]},
        });
        if let Some(c) = class {
            v["spec"]["ingressClassName"] = json!(c);
        }
        if let Some(a) = annotation {
            v["metadata"]["annotations"][CLASS_ANNOTATION] = json!(a);
        }
        ingress(v)
    };
    let t = table(
        &w,
        &[
            ing("none", None, None),
            ing("kindling", Some("kindling"), None),
            ing("nginx", Some("nginx"), None),
            ing("annotated", None, Some("nginx")),
            ing("mine", Some("mine"), None),
            ing("traefik", Some("traefik"), None),
            ing("other-annotation", None, Some("haproxy")),
        ],
    );
    let mut served = t.served.clone();
    served.sort();
    assert_eq!(
        served,
        [
            "default/annotated",
            "default/kindling",
            "default/mine",
            "default/nginx",
            "default/none"
        ]
    );
    assert_eq!(answer(&t, "h", "/traefik"), "404");
}

#[test]
fn regex_paths_apply_to_the_whole_host_and_the_older_ingress_wins() {
    let w = world();
    let t = table(
        &w,
        &[
            ingress(json!({
                "metadata": {"name": "plain", "namespace": "default",
                             "creationTimestamp": "2026-01-01T00:00:00Z"},
                "spec": {"rules": [{"host": "r.test", "http": {"paths": [
                    path("/foo", "Exact", "foo", 80),
                    path("/dup", "Prefix", "foo", 80)]}}]},
            })),
            ingress(json!({
                "metadata": {"name": "rewrite", "namespace": "default",
                             "creationTimestamp": "2026-01-02T00:00:00Z",
                             "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/$2"}},
                "spec": {"rules": [{"host": "r.test", "http": {"paths": [
                    path("/something(/|$)(.*)", "ImplementationSpecific", "bar", 80),
                    path("/dup", "Prefix", "baz", 80)]}}]},
            })),
        ],
    );
    for (p, want) in [
        // the plain Ingress's Exact path is now a case-insensitive expression anchored at the start
        ("/FOO", FOO),
        ("/foobar", FOO),
        ("/something/new", BAR),
        ("/dup", FOO),
        ("/nothing", "404"),
    ] {
        assert_eq!(answer(&t, "r.test", p), want, "{p}");
    }
    let Decision::Route(r) = t.route("r.test", "/something/new") else {
        panic!()
    };
    let rewritten = crate::annotations::rewrite(
        r.rewrite.as_ref().unwrap(),
        r.options.rewrite_target.as_deref().unwrap(),
        "/something/new",
        None,
    );
    assert_eq!(rewritten.as_deref(), Some("/new"));
}

#[test]
fn tls_entries_and_which_routes_have_tls() {
    let w = world();
    let t = table(
        &w,
        &[ingress(json!({
            "metadata": {"name": "secure", "namespace": "web"},
            "spec": {"tls": [{"hosts": ["*.example.com"], "secretName": "wild"}, {"secretName": ""}],
                     "rules": [
                         {"host": "a.example.com", "http": {"paths": [path("/", "Prefix", "foo", 80)]}},
                         {"host": "plain.test", "http": {"paths": [path("/", "Prefix", "foo", 80)]}}]},
        }))],
    );
    assert_eq!(
        t.tls,
        [
            TlsEntry {
                ingress: "web/secure".into(),
                hosts: vec!["*.example.com".into()],
                secret: Some("web/wild".into()),
            },
            TlsEntry {
                ingress: "web/secure".into(),
                hosts: vec!["a.example.com".into(), "plain.test".into()],
                secret: None,
            },
        ]
    );
    let tls_of = |host: &str| match t.route(host, "/") {
        Decision::Route(r) => r.tls,
        other => panic!("{other:?}"),
    };
    assert!(tls_of("a.example.com"));
    assert!(tls_of("plain.test"));
    assert!(host_matches("*.example.com", "a.example.com"));
    assert!(!host_matches("*.example.com", "a.b.example.com"));
    assert!(!host_matches("*.example.com", "example.com"));
}

#[test]
fn round_robin_over_endpoints() {
    let b = Backend::new(
        "x",
        Target::Endpoints(vec![
            "10.0.0.1:80".parse().unwrap(),
            "10.0.0.2:80".parse().unwrap(),
        ]),
    );
    let picks: Vec<String> = (0..4).map(|_| b.pick().unwrap().to_string()).collect();
    assert_eq!(
        picks,
        ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.1:80", "10.0.0.2:80"]
    );
    assert!(Backend::new("y", Target::Unavailable("no".into()))
        .pick()
        .is_none());
}

#[test]
fn a_lower_case_host_is_borrowed_not_copied() {
    use std::borrow::Cow;
    assert!(matches!(
        lowercase("foo.example.com"),
        Cow::Borrowed("foo.example.com")
    ));
    assert_eq!(lowercase("Foo.EXAMPLE.com"), "foo.example.com");
}
