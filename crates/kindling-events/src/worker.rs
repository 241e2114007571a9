//! The IO half of the recorder: takes records from the queue, asks the [`Correlator`] what to
//! write and writes it, at most `parallel` at a time, one write per Event at a time.

use crate::correlate::{Correlator, Tracked, Write};
use crate::{timestamp_now, Record, Reporter};
use futures::stream::{FuturesUnordered, StreamExt};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;
use tokio::sync::mpsc;

/// What a write found: the key and whether the Event now exists (`None`: the write failed).
type Done = (String, Option<bool>);
type Running = Pin<Box<dyn Future<Output = Done> + Send>>;

pub struct Worker {
    client: kube::Client,
    reporter: Reporter,
    parallel: usize,
    correlator: Correlator,
    waiting: VecDeque<String>,
    queued: HashSet<String>,
    running: FuturesUnordered<Running>,
}

impl Worker {
    pub fn new(client: kube::Client, reporter: Reporter, parallel: usize) -> Worker {
        Worker {
            client,
            reporter,
            parallel: parallel.max(1),
            correlator: Correlator::default(),
            waiting: VecDeque::new(),
            queued: HashSet::new(),
            running: FuturesUnordered::new(),
        }
    }

    pub async fn run(mut self, mut rx: mpsc::Receiver<Record>) {
        loop {
            tokio::select! {
                record = rx.recv() => match record {
                    Some(record) => {
                        let key = self.correlator.observe(record, timestamp_now(), Instant::now());
                        self.schedule(key);
                    }
                    None if self.running.is_empty() => return,
                    None => {}
                },
                Some((key, exists)) = self.running.next(), if !self.running.is_empty() => {
                    if self.correlator.finish(&key, exists) {
                        self.schedule(key);
                    }
                }
            }
            self.dispatch();
        }
    }

    fn schedule(&mut self, key: String) {
        if !self.correlator.is_busy(&key) && self.queued.insert(key.clone()) {
            self.waiting.push_back(key);
        }
    }

    fn dispatch(&mut self) {
        while self.running.len() < self.parallel {
            let Some(key) = self.waiting.pop_front() else {
                return;
            };
            self.queued.remove(&key);
            let Some((write, tracked)) = self.correlator.begin(&key) else {
                continue;
            };
            let api: Api<Event> = Api::namespaced(self.client.clone(), tracked.record.namespace());
            let write = match write {
                Write::Create => create(api, event(tracked, &self.reporter), key),
                Write::Patch { count, last } => patch(api, tracked.name.clone(), count, last, key),
            };
            self.running.push(write);
        }
    }
}

fn event(e: &Tracked, reporter: &Reporter) -> serde_json::Value {
    let r = &e.record;
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": e.name, "namespace": r.namespace()},
        "involvedObject": r.object,
        "reason": r.reason,
        "message": r.note,
        "type": r.type_.as_str(),
        "source": {"component": reporter.component, "host": reporter.host},
        "firstTimestamp": e.first,
        "lastTimestamp": e.last,
        "count": e.count,
        "action": r.action,
        "reportingComponent": reporter.component,
        "reportingInstance": reporter.instance,
    })
}

fn create(api: Api<Event>, body: serde_json::Value, key: String) -> Running {
    Box::pin(async move {
        let event: Event = match serde_json::from_value(body) {
            Ok(event) => event,
            Err(err) => {
                tracing::warn!("building event: {err}");
                return (key, Some(true));
            }
        };
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => (key, Some(true)),
            // The namespace is going away, or the same name exists: nothing to add.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => (key, Some(true)),
            Err(err) => {
                tracing::warn!("creating event: {err}");
                (key, None)
            }
        }
    })
}

fn patch(api: Api<Event>, name: String, count: u32, last: String, key: String) -> Running {
    Box::pin(async move {
        let patch = json!({"count": count, "lastTimestamp": last});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => (key, Some(true)),
            Err(kube::Error::Api(s)) if s.code == 404 => (key, Some(false)),
            Err(err) => {
                tracing::warn!("updating event {name}: {err}");
                (key, None)
            }
        }
    })
}
