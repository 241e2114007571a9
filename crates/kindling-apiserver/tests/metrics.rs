//! `/metrics` as kube-apiserver serves it: Prometheus text with upstream's names and labels,
//! counters that move with the requests made, for authenticated users only.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;
use common::{Kubectl, TestServer};
use std::collections::BTreeMap;

common::kubectl_tests!(kubectl_get_raw_metrics);

/// One sample of the exposition: name, labels, value.
type Samples = Vec<(String, BTreeMap<String, String>, f64)>;

/// Parses the text exposition format (0.0.4): `name{k="v",…} value` lines; `#` lines skipped.
fn parse(text: &str) -> Samples {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let mut map = BTreeMap::new();
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once("=\"").unwrap();
            map.insert(k.to_string(), v.trim_end_matches('"').to_string());
        }
        out.push((name.to_string(), map, value.parse().unwrap()));
    }
    out
}

/// The value of the sample `name` whose labels include `want` (0 when there is none).
fn value(samples: &Samples, name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, labels, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
        .sum()
}

fn kubectl_get_raw_metrics(kubectl: &Kubectl) {
    let s = TestServer::start_using(kubectl);
    s.ok(&["run", "p1", "--image=busybox"]);
    let scrape = || parse(&s.ok(&["get", "--raw", "/metrics"]));
    let get_pod = [
        ("verb", "GET"),
        ("group", ""),
        ("version", "v1"),
        ("resource", "pods"),
        ("subresource", ""),
        ("scope", "resource"),
        ("component", "apiserver"),
        ("code", "200"),
        ("dry_run", ""),
    ];
    let before = scrape();
    for _ in 0..3 {
        s.ok(&["get", "pod", "p1"]);
    }
    s.fails(&["get", "pod", "nosuch"]);
    s.ok(&["create", "configmap", "c1", "--dry-run=server"]);
    let after = scrape();
    let rose = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let dump: Vec<_> = after
        .iter()
        .filter(|(n, l, _)| n == "apiserver_request_total" && l["resource"] == "pods")
        .collect();
    assert_eq!(rose("apiserver_request_total", &get_pod), 3.0, "{dump:?}");
    let not_found = [("verb", "GET"), ("resource", "pods"), ("code", "404")];
    assert_eq!(rose("apiserver_request_total", &not_found), 1.0);
    let dry_create = [
        ("verb", "POST"),
        ("resource", "configmaps"),
        ("scope", "resource"),
        ("dry_run", "All"),
        ("code", "201"),
    ];
    assert_eq!(rose("apiserver_request_total", &dry_create), 1.0);
    // the histogram (no code label) counts the same GETs and the 404, in upstream's buckets
    let get_pod_no_code: Vec<(&str, &str)> = get_pod
        .iter()
        .copied()
        .filter(|(k, _)| *k != "code")
        .collect();
    assert_eq!(
        rose("apiserver_request_duration_seconds_count", &get_pod_no_code),
        4.0
    );
    let mut inf = get_pod_no_code.clone();
    inf.push(("le", "60"));
    assert_eq!(rose("apiserver_request_duration_seconds_bucket", &inf), 4.0);
    // stored objects, counted when scraped
    assert!(value(&after, "apiserver_storage_objects", &[("resource", "pods")]) >= 1.0);
    assert!(
        value(
            &after,
            "apiserver_storage_objects",
            &[("resource", "deployments.apps")]
        ) == 0.0
    );
    assert!(
        value(
            &after,
            "apiserver_resource_objects",
            &[("group", ""), ("resource", "namespaces")]
        ) >= 4.0
    );
    let text = s.ok(&["get", "--raw", "/metrics"]);
    assert!(text.contains("# TYPE apiserver_request_duration_seconds histogram"));
    assert!(text.contains("# HELP apiserver_request_total [STABLE] Counter of apiserver requests"));
    assert!(text.contains("apiserver_current_inflight_requests{request_kind=\"mutating\"}"));
}

/// A watch is a long-running request while it lasts, and its events are counted. Roles: no
/// controller of the test server watches them in a namespace (the bootstrap signer watches
/// ConfigMaps in kube-public, the token cleaner Secrets in kube-system).
#[test]
fn watches_are_long_running_and_their_events_counted() {
    let s = TestServer::start();
    let mut watch = s
        .kubectl
        .command(&s.kubeconfig)
        .args(["get", "roles", "-w", "--request-timeout=30s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let watching = [
        ("verb", "WATCH"),
        ("resource", "roles"),
        ("scope", "namespace"),
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let m = parse(&s.ok(&["get", "--raw", "/metrics"]));
        if value(&m, "apiserver_longrunning_requests", &watching) == 1.0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no watch seen");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    s.ok(&["create", "role", "w1", "--verb=get", "--resource=pods"]);
    s.ok(&["create", "role", "w2", "--verb=get", "--resource=pods"]);
    let events = [
        ("group", "rbac.authorization.k8s.io"),
        ("version", "v1"),
        ("resource", "roles"),
    ];
    loop {
        let m = parse(&s.ok(&["get", "--raw", "/metrics"]));
        if value(&m, "apiserver_watch_events_total", &events) >= 2.0 {
            assert!(value(&m, "apiserver_watch_events_sizes_count", &events) >= 2.0);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "events not counted");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    watch.kill().unwrap();
    watch.wait().unwrap();
    loop {
        let m = parse(&s.ok(&["get", "--raw", "/metrics"]));
        if value(&m, "apiserver_longrunning_requests", &watching) == 0.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the watch stays counted"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Anonymous requests do not see the metrics (upstream: /metrics needs an authorized user).
#[test]
fn anonymous_requests_get_403() {
    let s = TestServer::start();
    s.runtime().block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut config = kube::Config::new(format!("https://{}", s.address).parse().unwrap());
        config.accept_invalid_certs = true;
        let anon = kube::Client::try_from(config).unwrap();
        let req = http::Request::builder()
            .uri("/metrics")
            .body(kube::client::Body::empty())
            .unwrap();
        let resp = anon.send(req).await.unwrap();
        assert_eq!(resp.status(), 403);
    });
}
