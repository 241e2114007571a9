//! The scheduler's Prometheus metrics, with kube-scheduler's names, labels, help texts and
//! buckets (pkg/scheduler/metrics), each measured by the scheduling loop: attempts by result and
//! their latency (algorithm + binding), the algorithm's latency alone, pods pending in each
//! queue, attempts it took to schedule a pod, and the cache's size. `kindling node` serves them
//! on :10259 `/metrics`, as kube-scheduler does.

use prometheus::{
    exponential_buckets, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec,
    IntGaugeVec, Opts, TextEncoder,
};
use std::time::Duration;

/// How an attempt ended, upstream's `result` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Scheduled,
    Unschedulable,
    Error,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Outcome::Scheduled => "scheduled",
            Outcome::Unschedulable => "unschedulable",
            Outcome::Error => "error",
        }
    }
}

/// What is waiting, by upstream's queue names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    pub active: usize,
    pub backoff: usize,
    pub unschedulable: usize,
    pub gated: usize,
}

pub struct Metrics {
    registry: prometheus::Registry,
    attempts: IntCounterVec,
    attempt_duration: HistogramVec,
    algorithm_duration: Histogram,
    pending: IntGaugeVec,
    pod_attempts: Histogram,
    cache_size: IntGaugeVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scheduler metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric, registered, help texts prefixed with upstream's stability level.
    #[allow(clippy::expect_used)] // the definitions are constant: a bad one fails every test
    pub fn new() -> Metrics {
        let registry = prometheus::Registry::new();
        let ms_buckets = || exponential_buckets(0.001, 2.0, 15).expect("buckets");
        let attempts = IntCounterVec::new(
            Opts::new("scheduler_schedule_attempts_total", "[STABLE] Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem."),
            &["result", "profile"],
        )
        .expect("scheduler_schedule_attempts_total");
        let attempt_duration = HistogramVec::new(
            HistogramOpts::new(
                "scheduler_scheduling_attempt_duration_seconds",
                "[STABLE] Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            )
            .buckets(ms_buckets()),
            &["result", "profile"],
        )
        .expect("scheduler_scheduling_attempt_duration_seconds");
        let algorithm_duration = Histogram::with_opts(
            HistogramOpts::new(
                "scheduler_scheduling_algorithm_duration_seconds",
                "[ALPHA] Scheduling algorithm latency in seconds",
            )
            .buckets(ms_buckets()),
        )
        .expect("scheduler_scheduling_algorithm_duration_seconds");
        let pending = IntGaugeVec::new(
            Opts::new("scheduler_pending_pods", "[STABLE] Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated."),
            &["queue"],
        )
        .expect("scheduler_pending_pods");
        let pod_attempts = Histogram::with_opts(
            HistogramOpts::new(
                "scheduler_pod_scheduling_attempts",
                "[STABLE] Number of attempts to successfully schedule a pod.",
            )
            .buckets(exponential_buckets(1.0, 2.0, 5).expect("buckets")),
        )
        .expect("scheduler_pod_scheduling_attempts");
        let cache_size = IntGaugeVec::new(
            Opts::new(
                "scheduler_scheduler_cache_size",
                "[ALPHA] Number of nodes, pods, and assumed (bound) pods in the scheduler cache.",
            ),
            &["type"],
        )
        .expect("scheduler_scheduler_cache_size");
        let m = Metrics {
            registry,
            attempts,
            attempt_duration,
            algorithm_duration,
            pending,
            pod_attempts,
            cache_size,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 6] = [
            Box::new(m.attempts.clone()),
            Box::new(m.attempt_duration.clone()),
            Box::new(m.algorithm_duration.clone()),
            Box::new(m.pending.clone()),
            Box::new(m.pod_attempts.clone()),
            Box::new(m.cache_size.clone()),
        ];
        for c in collectors {
            m.registry.register(c).expect("metric names are unique");
        }
        m.set_pending(Pending::default());
        m
    }

    /// An attempt ended after `elapsed` (the algorithm, and for a scheduled pod its binding).
    pub fn attempt(&self, profile: &str, outcome: Outcome, elapsed: Duration) {
        let labels = [outcome.label(), profile];
        self.attempts.with_label_values(&labels).inc();
        self.attempt_duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The scheduling algorithm (filters and scores over a snapshot) took `elapsed`.
    pub fn algorithm(&self, elapsed: Duration) {
        self.algorithm_duration.observe(elapsed.as_secs_f64());
    }

    /// A pod was scheduled at its `attempts`-th attempt.
    pub fn scheduled_after(&self, attempts: u32) {
        self.pod_attempts.observe(f64::from(attempts));
    }

    pub fn set_pending(&self, p: Pending) {
        for (queue, n) in [
            ("active", p.active),
            ("backoff", p.backoff),
            ("unschedulable", p.unschedulable),
            ("gated", p.gated),
        ] {
            self.pending.with_label_values(&[queue]).set(n as i64);
        }
    }

    pub fn set_cache_size(&self, nodes: usize, pods: usize, assumed: usize) {
        for (kind, n) in [("nodes", nodes), ("pods", pods), ("assumed_pods", assumed)] {
            self.cache_size.with_label_values(&[kind]).set(n as i64);
        }
    }

    /// The exposition, text format 0.0.4.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail; a metric that cannot be encoded is left out.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_upstreams_names_labels_and_buckets() {
        let m = Metrics::new();
        m.attempt(
            "default-scheduler",
            Outcome::Scheduled,
            Duration::from_millis(3),
        );
        m.attempt(
            "default-scheduler",
            Outcome::Unschedulable,
            Duration::from_millis(1),
        );
        m.scheduled_after(2);
        m.set_pending(Pending {
            active: 1,
            backoff: 2,
            unschedulable: 3,
            gated: 4,
        });
        let text = String::from_utf8(m.render()).unwrap();
        for line in [
            "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"scheduled\"} 1",
            "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"unschedulable\"} 1",
            "scheduler_scheduling_attempt_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"0.004\"} 1",
            "scheduler_scheduling_attempt_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"16.384\"} 1",
            "scheduler_pending_pods{queue=\"backoff\"} 2",
            "scheduler_pending_pods{queue=\"gated\"} 4",
            "scheduler_pod_scheduling_attempts_bucket{le=\"2\"} 1",
            "# HELP scheduler_pending_pods [STABLE] Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated.",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
        }
    }
}
