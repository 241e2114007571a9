//! kube-controller-manager's workqueue metrics, labelled by upstream's queue name
//! (`replicaset`, `deployment`, `job`, …), for what each controller's reconcile measures:
//! `workqueue_work_duration_seconds` (one observation per reconcile), `workqueue_retries_total`
//! (reconciles that failed and were requeued by the error policy, client-go's
//! AddRateLimited), `workqueue_unfinished_work_seconds` and
//! `workqueue_longest_running_processor_seconds` (reconciles in progress, computed when
//! scraped). Help texts and buckets are component-base's.
//!
//! Not reported: `workqueue_adds_total`, `workqueue_depth` and
//! `workqueue_queue_duration_seconds`. The controllers are kube-runtime `Controller`s, whose
//! queue (its triggers, deduplication and delays) is private to kube-runtime, so nothing here
//! can see an item enter it; a figure that is not a measurement is left out.
//!
//! One set per process (the controllers run once per control-plane node); `kindling node`
//! serves it on :10257 `/metrics`.

use futures::future::BoxFuture;
use kube::runtime::controller::Action;
use prometheus::{
    exponential_buckets, Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, TextEncoder,
};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

struct Set {
    registry: prometheus::Registry,
    work_duration: HistogramVec,
    retries: IntCounterVec,
    unfinished: prometheus::GaugeVec,
    longest: prometheus::GaugeVec,
    /// Reconciles in progress: queue name → (id → start).
    running: Mutex<HashMap<&'static str, HashMap<u64, Instant>>>,
    next: AtomicU64,
}

#[allow(clippy::expect_used)] // the definitions are constant: a bad one fails every test
fn set() -> &'static Set {
    static SET: OnceLock<Set> = OnceLock::new();
    SET.get_or_init(|| {
        let buckets = || exponential_buckets(10e-9, 10.0, 10).expect("buckets");
        let work_duration = HistogramVec::new(
            HistogramOpts::new(
                "workqueue_work_duration_seconds",
                "[ALPHA] How long in seconds processing an item from workqueue takes.",
            )
            .buckets(buckets()),
            &["name"],
        )
        .expect("workqueue_work_duration_seconds");
        let retries = IntCounterVec::new(
            Opts::new(
                "workqueue_retries_total",
                "[ALPHA] Total number of retries handled by workqueue",
            ),
            &["name"],
        )
        .expect("workqueue_retries_total");
        let unfinished = prometheus::GaugeVec::new(
            Opts::new("workqueue_unfinished_work_seconds", "[ALPHA] How many seconds of work has done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases."),
            &["name"],
        )
        .expect("workqueue_unfinished_work_seconds");
        let longest = prometheus::GaugeVec::new(
            Opts::new(
                "workqueue_longest_running_processor_seconds",
                "[ALPHA] How many seconds has the longest running processor for workqueue been running.",
            ),
            &["name"],
        )
        .expect("workqueue_longest_running_processor_seconds");
        let registry = prometheus::Registry::new();
        let collectors: [Box<dyn prometheus::core::Collector>; 4] = [
            Box::new(work_duration.clone()),
            Box::new(retries.clone()),
            Box::new(unfinished.clone()),
            Box::new(longest.clone()),
        ];
        for c in collectors {
            registry.register(c).expect("metric names are unique");
        }
        Set {
            registry,
            work_duration,
            retries,
            unfinished,
            longest,
            running: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
        }
    })
}

/// Declares a queue, so that its series exist (at zero) before its first reconcile.
fn declare(name: &'static str) {
    let s = set();
    s.retries.with_label_values(&[name]);
    s.work_duration.with_label_values(&[name]);
    s.running
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(name)
        .or_default();
}

/// `reconcile`, measured as the work of queue `name`.
pub fn measured<K, Ctx, E, Fut>(
    name: &'static str,
    mut reconcile: impl FnMut(Arc<K>, Arc<Ctx>) -> Fut,
) -> impl FnMut(Arc<K>, Arc<Ctx>) -> BoxFuture<'static, Result<Action, E>>
where
    Fut: Future<Output = Result<Action, E>> + Send + 'static,
{
    declare(name);
    move |obj, ctx| {
        let work = reconcile(obj, ctx);
        Box::pin(async move {
            let s = set();
            let id = s.next.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            s.running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(name)
                .or_default()
                .insert(id, started);
            let result = work.await;
            if let Some(running) = s
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_mut(name)
            {
                running.remove(&id);
            }
            s.work_duration
                .with_label_values(&[name])
                .observe(started.elapsed().as_secs_f64());
            if result.is_err() {
                s.retries.with_label_values(&[name]).inc();
            }
            result
        })
    }
}

/// The exposition (text format 0.0.4), the in-progress figures computed now.
pub fn render() -> Vec<u8> {
    let s = set();
    let now = Instant::now();
    for (name, running) in s
        .running
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        let ages = running
            .values()
            .map(|t| now.duration_since(*t).as_secs_f64());
        s.unfinished
            .with_label_values(&[name])
            .set(ages.clone().sum());
        s.longest
            .with_label_values(&[name])
            .set(ages.fold(0.0, f64::max));
    }
    let mut out = Vec::new();
    // Writing to a Vec cannot fail; a metric that cannot be encoded is left out.
    let _ = TextEncoder::new().encode(&s.registry.gather(), &mut out);
    out
}

/// The media type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("no")]
    struct No;

    #[tokio::test]
    async fn reconciles_are_measured() {
        let mut ok = measured("test_ok", |_: Arc<()>, _: Arc<()>| async {
            Ok::<_, No>(Action::await_change())
        });
        let mut failing = measured("test_failing", |_: Arc<()>, _: Arc<()>| async {
            Err::<Action, _>(No)
        });
        ok(Arc::new(()), Arc::new(())).await.unwrap();
        ok(Arc::new(()), Arc::new(())).await.unwrap();
        assert!(failing(Arc::new(()), Arc::new(())).await.is_err());
        let text = String::from_utf8(render()).unwrap();
        for line in [
            "workqueue_work_duration_seconds_count{name=\"test_ok\"} 2",
            "workqueue_retries_total{name=\"test_ok\"} 0",
            "workqueue_retries_total{name=\"test_failing\"} 1",
            "workqueue_longest_running_processor_seconds{name=\"test_ok\"} 0",
            "# HELP workqueue_retries_total [ALPHA] Total number of retries handled by workqueue",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
    }
}
