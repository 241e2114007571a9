//! The API server's Prometheus metrics, with kube-apiserver's names, labels, help texts and
//! buckets (k8s.io/apiserver `endpoints/metrics` and `storage/etcd3/metrics`): requests by verb,
//! dry run, group, version, resource, subresource, scope, component and code; their latency;
//! long-running requests (watches, connects); requests in flight by kind; watch events sent;
//! stored objects per resource (counted when scraped). Served at `/metrics` (text format 0.0.4)
//! to authenticated users.
//!
//! The request path only touches atomics and the vectors' read-mostly child maps; stored
//! objects are counted by the scrape itself.

use crate::registry::Registry;
use crate::request::ResourcePath;
use kindling_api::ResourceType;
use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, TextEncoder,
};
use std::time::Duration;

/// The `component` label of requests served by the API server's own handlers.
const COMPONENT: &str = "apiserver";

/// upstream's `apiserver_request_duration_seconds` buckets (tuned for the latency SLOs).
const REQUEST_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

const REQUEST_LABELS: &[&str] = &[
    "verb",
    "dry_run",
    "group",
    "version",
    "resource",
    "subresource",
    "scope",
    "component",
];

pub struct Metrics {
    registry: prometheus::Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    longrunning: IntGaugeVec,
    inflight: IntGaugeVec,
    watch_events: IntCounterVec,
    watch_event_sizes: HistogramVec,
    storage_objects: IntGaugeVec,
    resource_objects: IntGaugeVec,
}

/// What the request metrics say of one resource request (upstream's cleaned verb and scope).
#[derive(Debug, PartialEq, Eq)]
pub struct RequestLabels<'a> {
    pub verb: &'static str,
    pub dry_run: &'static str,
    pub group: &'a str,
    pub version: &'a str,
    pub resource: &'a str,
    pub subresource: &'a str,
    pub scope: &'static str,
}

/// The subresources upstream reports as `CONNECT`.
const CONNECT_SUBRESOURCES: &[&str] = &["log", "exec", "portforward", "attach", "proxy"];

impl<'a> RequestLabels<'a> {
    /// upstream's `CleanScope`, `CanonicalVerb` and `CleanVerb` for a resource request:
    /// `method` is the HTTP method, `watch` whether it asks to watch, `apply` whether its body is
    /// an apply patch, `dry_run` the `dryRun` parameter.
    pub fn of(
        rp: &'a ResourcePath,
        method: &str,
        watch: bool,
        apply: bool,
        dry_run: Option<&str>,
    ) -> RequestLabels<'a> {
        let scope = if rp.name.is_some() || method == "POST" {
            "resource"
        } else if rp.namespace.is_some() {
            "namespace"
        } else {
            "cluster"
        };
        let subresource = rp.subresource.as_deref().unwrap_or("");
        let verb = match method {
            "GET" | "HEAD" if watch => "WATCH",
            "GET" | "HEAD" if scope != "resource" => "LIST",
            _ if CONNECT_SUBRESOURCES.contains(&subresource) => "CONNECT",
            "GET" | "HEAD" => "GET",
            "PATCH" if apply => "APPLY",
            "POST" => "POST",
            "PUT" => "PUT",
            "PATCH" => "PATCH",
            "DELETE" => "DELETE",
            _ => "other",
        };
        let dry_run = match dry_run {
            None => "",
            Some("All") => "All",
            Some(_) => "invalid",
        };
        RequestLabels {
            verb,
            dry_run,
            group: &rp.group,
            version: &rp.version,
            resource: &rp.resource,
            subresource,
            scope,
        }
    }

    /// Watches and connections (logs, exec, attach, port-forward) last as long as the client
    /// wants: upstream tracks them in `apiserver_longrunning_requests`, not in flight.
    pub fn long_running(&self) -> bool {
        matches!(self.verb, "WATCH" | "CONNECT")
    }

    /// `readOnly` or `mutating`, upstream's request kinds of the in-flight limit.
    fn request_kind(&self) -> &'static str {
        if matches!(self.verb, "GET" | "LIST") {
            "readOnly"
        } else {
            "mutating"
        }
    }
}

/// Decrements its gauge when dropped: a request in flight, or a long-running one until its
/// response ends.
pub struct Held(IntGauge);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The counter and histogram of one watch's events, resolved once per watch.
#[derive(Clone)]
pub struct WatchEvents {
    count: IntCounter,
    sizes: prometheus::Histogram,
}

impl WatchEvents {
    pub fn sent(&self, bytes: usize) {
        self.count.inc();
        self.sizes.observe(bytes as f64);
    }
}

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help)
}

impl Metrics {
    /// Every metric, registered, with its help text prefixed by upstream's stability level.
    #[allow(clippy::expect_used)] // the definitions are constant: a bad one fails every test
    pub fn new() -> Metrics {
        let registry = prometheus::Registry::new();
        let requests = IntCounterVec::new(
            opts("apiserver_request_total", "[STABLE] Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code."),
            &[REQUEST_LABELS, &["code"]].concat(),
        )
        .expect("apiserver_request_total");
        let durations = HistogramVec::new(
            HistogramOpts::new("apiserver_request_duration_seconds", "[STABLE] Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.")
                .buckets(REQUEST_DURATION_BUCKETS.to_vec()),
            REQUEST_LABELS,
        )
        .expect("apiserver_request_duration_seconds");
        let longrunning = IntGaugeVec::new(
            opts("apiserver_longrunning_requests", "[STABLE] Gauge of all active long-running apiserver requests broken out by verb, group, version, resource, scope and component. Not all requests are tracked this way."),
            &["verb", "group", "version", "resource", "subresource", "scope", "component"],
        )
        .expect("apiserver_longrunning_requests");
        let inflight = IntGaugeVec::new(
            opts("apiserver_current_inflight_requests", "[STABLE] Maximal number of currently used inflight request limit of this apiserver per request kind in last second."),
            &["request_kind"],
        )
        .expect("apiserver_current_inflight_requests");
        let watch_events = IntCounterVec::new(
            opts(
                "apiserver_watch_events_total",
                "[ALPHA] Number of events sent in watch clients",
            ),
            &["group", "version", "resource"],
        )
        .expect("apiserver_watch_events_total");
        let watch_event_sizes = HistogramVec::new(
            HistogramOpts::new(
                "apiserver_watch_events_sizes",
                "[ALPHA] Watch event size distribution in bytes",
            )
            .buckets(exponential_buckets(1024.0, 2.0, 8).expect("watch event size buckets")),
            &["group", "version", "resource"],
        )
        .expect("apiserver_watch_events_sizes");
        let storage_objects = IntGaugeVec::new(
            opts("apiserver_storage_objects", "[STABLE] (Deprecated since 1.34.0) [DEPRECATED, consider using apiserver_resource_objects instead] Number of stored objects at the time of last check split by kind. In case of a fetching error, the value will be -1."),
            &["resource"],
        )
        .expect("apiserver_storage_objects");
        let resource_objects = IntGaugeVec::new(
            opts("apiserver_resource_objects", "[ALPHA] Number of stored objects at the time of last check split by kind. In case of a fetching error, the value will be -1."),
            &["group", "resource"],
        )
        .expect("apiserver_resource_objects");
        for kind in ["readOnly", "mutating"] {
            inflight.with_label_values(&[kind]).set(0);
        }
        let m = Metrics {
            registry,
            requests,
            durations,
            longrunning,
            inflight,
            watch_events,
            watch_event_sizes,
            storage_objects,
            resource_objects,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 8] = [
            Box::new(m.requests.clone()),
            Box::new(m.durations.clone()),
            Box::new(m.longrunning.clone()),
            Box::new(m.inflight.clone()),
            Box::new(m.watch_events.clone()),
            Box::new(m.watch_event_sizes.clone()),
            Box::new(m.storage_objects.clone()),
            Box::new(m.resource_objects.clone()),
        ];
        for c in collectors {
            m.registry.register(c).expect("metric names are unique");
        }
        m
    }

    /// A request starts: a long-running one is counted as such until the returned guard
    /// drops (with its response), any other as in flight until its response head.
    pub fn start(&self, l: &RequestLabels) -> Held {
        let gauge = if l.long_running() {
            self.longrunning.with_label_values(&[
                l.verb,
                l.group,
                l.version,
                l.resource,
                l.subresource,
                l.scope,
                COMPONENT,
            ])
        } else {
            self.inflight.with_label_values(&[l.request_kind()])
        };
        gauge.inc();
        Held(gauge)
    }

    /// A request was answered with `code` after `elapsed`.
    pub fn observe(&self, l: &RequestLabels, code: u16, elapsed: Duration) {
        let labels = [
            l.verb,
            l.dry_run,
            l.group,
            l.version,
            l.resource,
            l.subresource,
            l.scope,
            COMPONENT,
        ];
        let code = code.to_string();
        let mut with_code = labels.to_vec();
        with_code.push(&code);
        self.requests.with_label_values(&with_code).inc();
        self.durations
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The event counters of a watch of `rt`.
    pub fn watch_events(&self, rt: &ResourceType) -> WatchEvents {
        let labels = [rt.group.as_str(), rt.version.as_str(), rt.plural.as_str()];
        WatchEvents {
            count: self.watch_events.with_label_values(&labels),
            sizes: self.watch_event_sizes.with_label_values(&labels),
        }
    }

    /// The exposition: stored objects counted now, then every metric in text format 0.0.4.
    pub async fn render(&self, registry: &Registry) -> Vec<u8> {
        let catalog = registry.catalog.load();
        for rt in catalog
            .iter()
            .filter(|r| r.is_stored() && r.is_storage_entry())
        {
            let count = registry
                .count(rt)
                .await
                .ok()
                .and_then(|n| i64::try_from(n).ok())
                .unwrap_or(-1);
            let qualified = if rt.group.is_empty() {
                rt.plural.clone()
            } else {
                format!("{}.{}", rt.plural, rt.group)
            };
            self.storage_objects
                .with_label_values(&[qualified.as_str()])
                .set(count);
            self.resource_objects
                .with_label_values(&[rt.group.as_str(), rt.plural.as_str()])
                .set(count);
        }
        let mut out = Vec::new();
        // Writing to a Vec cannot fail; a metric that cannot be encoded is left out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        if let Some(stats) = registry.commit_stats() {
            out.extend_from_slice(commit_batches(&stats).as_bytes());
        }
        out
    }
}

/// The store's group commit as a histogram of batch sizes (kindling's own metric: etcd has no
/// such thing to copy), kept by the store and written out at each scrape.
fn commit_batches(stats: &kindling_store::CommitStats) -> String {
    const NAME: &str = "kindling_store_commit_batch_size";
    let mut out = format!(
        "# HELP {NAME} [ALPHA] Write requests committed together in one store transaction (one fsync).\n\
         # TYPE {NAME} histogram\n"
    );
    let mut cumulative = 0;
    for (i, count) in stats.batches.iter().enumerate() {
        cumulative += count;
        let bound = kindling_store::CommitStats::bucket_bound(i);
        out.push_str(&format!("{NAME}_bucket{{le=\"{bound}\"}} {cumulative}\n"));
    }
    out.push_str(&format!("{NAME}_bucket{{le=\"+Inf\"}} {}\n", stats.commits));
    out.push_str(&format!(
        "{NAME}_sum {}\n{NAME}_count {}\n",
        stats.writes, stats.commits
    ));
    out
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The media type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(ns: Option<&str>, name: Option<&str>, sub: Option<&str>) -> ResourcePath {
        ResourcePath {
            group: String::new(),
            version: "v1".into(),
            namespace: ns.map(Into::into),
            resource: "pods".into(),
            name: name.map(Into::into),
            subresource: sub.map(Into::into),
            watch_prefix: false,
            proxy_path: String::new(),
        }
    }

    #[test]
    fn verbs_and_scopes_as_upstream() {
        let cases = [
            (
                rp(Some("d"), Some("p"), None),
                "GET",
                false,
                false,
                ("GET", "resource"),
            ),
            (
                rp(Some("d"), None, None),
                "GET",
                false,
                false,
                ("LIST", "namespace"),
            ),
            (
                rp(None, None, None),
                "GET",
                false,
                false,
                ("LIST", "cluster"),
            ),
            (
                rp(Some("d"), None, None),
                "GET",
                true,
                false,
                ("WATCH", "namespace"),
            ),
            (
                rp(Some("d"), None, None),
                "POST",
                false,
                false,
                ("POST", "resource"),
            ),
            (
                rp(Some("d"), Some("p"), None),
                "PATCH",
                false,
                true,
                ("APPLY", "resource"),
            ),
            (
                rp(Some("d"), Some("p"), None),
                "PATCH",
                false,
                false,
                ("PATCH", "resource"),
            ),
            (
                rp(Some("d"), None, None),
                "DELETE",
                false,
                false,
                ("DELETE", "namespace"),
            ),
            (
                rp(Some("d"), Some("p"), Some("log")),
                "GET",
                false,
                false,
                ("CONNECT", "resource"),
            ),
            (
                rp(Some("d"), Some("p"), Some("exec")),
                "POST",
                false,
                false,
                ("CONNECT", "resource"),
            ),
            (
                rp(Some("d"), Some("p"), Some("status")),
                "PUT",
                false,
                false,
                ("PUT", "resource"),
            ),
        ];
        for (path, method, watch, apply, (verb, scope)) in &cases {
            let l = RequestLabels::of(path, method, *watch, *apply, None);
            assert_eq!((l.verb, l.scope), (*verb, *scope), "{method} {path:?}");
        }
        let p = rp(None, None, None);
        assert_eq!(
            RequestLabels::of(&p, "POST", false, false, Some("All")).dry_run,
            "All"
        );
        assert_eq!(
            RequestLabels::of(&p, "POST", false, false, Some("x")).dry_run,
            "invalid"
        );
    }

    #[test]
    fn exposition_has_upstreams_names_and_buckets() {
        let m = Metrics::new();
        let p = rp(Some("d"), Some("p"), None);
        let l = RequestLabels::of(&p, "GET", false, false, None);
        drop(m.start(&l));
        m.observe(&l, 200, Duration::from_millis(3));
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&m.registry.gather(), &mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("# TYPE apiserver_request_total counter"),
            "{text}"
        );
        assert!(text.contains(r#"apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1"} 1"#), "{text}");
        assert!(text.contains(r#"apiserver_request_duration_seconds_bucket{component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1",le="0.005"} 1"#), "{text}");
        assert!(
            text.contains(r#"apiserver_current_inflight_requests{request_kind="readOnly"} 0"#),
            "{text}"
        );
    }

    /// The per-request cost of the request metrics (`cargo test --release -p kindling-apiserver
    /// --lib request_metrics_cost -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn request_metrics_cost() {
        let m = Metrics::new();
        let p = rp(Some("default"), Some("p"), None);
        let n = 200_000;
        let started = std::time::Instant::now();
        for _ in 0..n {
            let l = RequestLabels::of(&p, "GET", false, false, None);
            let held = m.start(&l);
            m.observe(&l, 200, Duration::from_micros(50));
            drop(held);
        }
        let per = started.elapsed() / n;
        eprintln!("request metrics: {per:?} per request");
    }
}
