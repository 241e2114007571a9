//! The kubelet's Prometheus metrics, with upstream's names, help texts and buckets
//! (pkg/kubelet/metrics), each a measurement of this node agent: pods with a ready sandbox and
//! containers by state (from every relist of the runtime), how long pods took from the agent
//! first seeing them to running, pod sandboxes and containers started. Served at :10250
//! `/metrics` (and through the API server's `nodes/<node>/proxy/metrics`).

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    TextEncoder,
};
use std::time::Duration;

/// Upstream's pod startup buckets.
const POD_START_BUCKETS: &[f64] = &[
    0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 180.0, 240.0,
    300.0, 360.0, 480.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0,
];

/// The container states upstream labels `kubelet_running_containers` with.
pub const CONTAINER_STATES: [&str; 4] = ["created", "running", "exited", "unknown"];

pub struct Metrics {
    registry: prometheus::Registry,
    running_pods: IntGauge,
    running_containers: IntGaugeVec,
    pod_start: Histogram,
    started_pods: IntCounter,
    started_containers: IntCounterVec,
}

impl Metrics {
    /// Every metric, registered, help texts prefixed with upstream's stability level.
    #[allow(clippy::expect_used)] // the definitions are constant: a bad one fails every test
    pub fn new(node: &str) -> Metrics {
        let registry = prometheus::Registry::new();
        let running_pods = IntGauge::with_opts(Opts::new(
            "kubelet_running_pods",
            "[ALPHA] Number of pods that have a running pod sandbox",
        ))
        .expect("kubelet_running_pods");
        let running_containers = IntGaugeVec::new(
            Opts::new(
                "kubelet_running_containers",
                "[ALPHA] Number of containers currently running",
            ),
            &["container_state"],
        )
        .expect("kubelet_running_containers");
        let pod_start = Histogram::with_opts(
            HistogramOpts::new(
                "kubelet_pod_start_duration_seconds",
                "[ALPHA] Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run",
            )
            .buckets(POD_START_BUCKETS.to_vec()),
        )
        .expect("kubelet_pod_start_duration_seconds");
        let started_pods = IntCounter::with_opts(Opts::new(
            "kubelet_started_pods_total",
            "[ALPHA] Cumulative number of pods started",
        ))
        .expect("kubelet_started_pods_total");
        let started_containers = IntCounterVec::new(
            Opts::new(
                "kubelet_started_containers_total",
                "[ALPHA] Cumulative number of containers started",
            ),
            &["container_type"],
        )
        .expect("kubelet_started_containers_total");
        let node_name = IntGaugeVec::new(
            Opts::new(
                "kubelet_node_name",
                "[ALPHA] The node's name. The count is always 1.",
            ),
            &["node"],
        )
        .expect("kubelet_node_name");
        node_name.with_label_values(&[node]).set(1);
        let collectors: [Box<dyn prometheus::core::Collector>; 6] = [
            Box::new(running_pods.clone()),
            Box::new(running_containers.clone()),
            Box::new(pod_start.clone()),
            Box::new(started_pods.clone()),
            Box::new(started_containers.clone()),
            Box::new(node_name.clone()),
        ];
        for c in collectors {
            registry.register(c).expect("metric names are unique");
        }
        Metrics {
            registry,
            running_pods,
            running_containers,
            pod_start,
            started_pods,
            started_containers,
        }
    }

    /// A relist's counts: pods with a ready sandbox, containers in each state.
    pub fn relisted(&self, running_pods: usize, containers: [usize; 4]) {
        self.running_pods.set(running_pods as i64);
        for (state, n) in CONTAINER_STATES.iter().zip(containers) {
            self.running_containers
                .with_label_values(&[state])
                .set(n as i64);
        }
    }

    /// A pod first reported Running, `elapsed` after its worker first saw it.
    pub fn pod_started(&self, elapsed: Duration) {
        self.pod_start.observe(elapsed.as_secs_f64());
    }

    /// A pod sandbox was created.
    pub fn sandbox_started(&self) {
        self.started_pods.inc();
    }

    /// A container was started: `container`, `init_container` or `ephemeral_container`.
    pub fn container_started(&self, container_type: &str) {
        self.started_containers
            .with_label_values(&[container_type])
            .inc();
    }

    /// The exposition, text format 0.0.4.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail; a metric that cannot be encoded is left out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// The media type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_upstreams_names_and_help() {
        let m = Metrics::new("kind-worker");
        m.relisted(2, [0, 3, 1, 0]);
        m.pod_started(Duration::from_millis(700));
        m.container_started("container");
        let text = String::from_utf8(m.render()).unwrap();
        for line in [
            "# HELP kubelet_running_pods [ALPHA] Number of pods that have a running pod sandbox",
            "kubelet_running_pods 2",
            "kubelet_running_containers{container_state=\"running\"} 3",
            "kubelet_running_containers{container_state=\"exited\"} 1",
            "kubelet_running_containers{container_state=\"created\"} 0",
            "kubelet_pod_start_duration_seconds_bucket{le=\"0.5\"} 0",
            "kubelet_pod_start_duration_seconds_bucket{le=\"1\"} 1",
            "kubelet_pod_start_duration_seconds_count 1",
            "kubelet_started_containers_total{container_type=\"container\"} 1",
            "kubelet_node_name{node=\"kind-worker\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
    }
}
