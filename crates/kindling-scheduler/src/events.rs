//! Writes that must not slow scheduling down: core/v1 Events (`Scheduled`,
//! `FailedScheduling`), through the shared recorder of `kindling-events` (repeats become one
//! Event with a growing count), and the pods' `PodScheduled` condition, written by a worker task
//! with bounded concurrency that coalesces writes for one pod to the latest.

use futures::stream::{FuturesUnordered, StreamExt};
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::mpsc;

pub use kindling_events::timestamp_now;

const QUEUE_CAPACITY: usize = 8192;

/// The pod an event or condition is about.
#[derive(Clone, Debug)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: String,
}

impl PodRef {
    pub fn of(pod: &Pod) -> PodRef {
        let m = &pod.metadata;
        PodRef {
            namespace: m.namespace.clone().unwrap_or_default(),
            name: m.name.clone().unwrap_or_default(),
            uid: m.uid.clone().unwrap_or_default(),
            resource_version: m.resource_version.clone().unwrap_or_default(),
        }
    }

    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    fn reference(&self) -> ObjectReference {
        ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: Some(self.namespace.clone()),
            name: Some(self.name.clone()),
            uid: Some(self.uid.clone()),
            resource_version: Some(self.resource_version.clone()),
            field_path: None,
        }
    }
}

/// Events go to the shared recorder; conditions to this crate's writer. Cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    events: kindling_events::Recorder,
    conditions: mpsc::Sender<(PodRef, Value)>,
}

impl Recorder {
    pub fn spawn(client: kube::Client, component: String, parallel: usize) -> Recorder {
        let reporter = kindling_events::Reporter::control_plane(&component);
        let events = kindling_events::Recorder::spawn(client.clone(), reporter, parallel);
        let (conditions, rx) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(
            ConditionWriter {
                client,
                parallel: parallel.max(1),
                conditions: HashMap::new(),
                waiting: VecDeque::new(),
                queued: HashSet::new(),
                running: FuturesUnordered::new(),
            }
            .run(rx),
        );
        Recorder { events, conditions }
    }

    pub fn normal(&self, pod: PodRef, reason: &'static str, action: &'static str, message: String) {
        self.events.normal(pod.reference(), reason, action, message);
    }

    pub fn warning(
        &self,
        pod: PodRef,
        reason: &'static str,
        action: &'static str,
        message: String,
    ) {
        self.events
            .warning(pod.reference(), reason, action, message);
    }

    /// Sets the pod's `PodScheduled` condition (a full condition object).
    pub fn condition(&self, pod: PodRef, condition: Value) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.conditions.try_send((pod, condition))
        {
            tracing::warn!("scheduler condition queue full; dropping a PodScheduled update");
        }
    }
}

struct ConditionState {
    pod: PodRef,
    condition: Value,
    busy: bool,
    dirty: bool,
}

/// The key written and whether the write succeeded.
type Running = Pin<Box<dyn Future<Output = (String, bool)> + Send>>;

/// Writes pods' `PodScheduled` conditions, the latest per pod, at most `parallel` at a time.
struct ConditionWriter {
    client: kube::Client,
    parallel: usize,
    conditions: HashMap<String, ConditionState>,
    waiting: VecDeque<String>,
    queued: HashSet<String>,
    running: FuturesUnordered<Running>,
}

impl ConditionWriter {
    async fn run(mut self, mut rx: mpsc::Receiver<(PodRef, Value)>) {
        loop {
            tokio::select! {
                op = rx.recv() => match op {
                    Some((pod, condition)) => self.accept(pod, condition),
                    None if self.running.is_empty() => return,
                    None => {}
                },
                Some((key, _)) = self.running.next(), if !self.running.is_empty() => {
                    self.finish(key);
                }
            }
            self.dispatch();
        }
    }

    fn accept(&mut self, pod: PodRef, condition: Value) {
        let key = pod.key();
        let entry = self
            .conditions
            .entry(key.clone())
            .or_insert_with(|| ConditionState {
                pod: pod.clone(),
                condition: Value::Null,
                busy: false,
                dirty: false,
            });
        entry.pod = pod;
        entry.condition = condition;
        entry.dirty = true;
        self.schedule(key);
    }

    fn schedule(&mut self, key: String) {
        let busy = self.conditions.get(&key).is_none_or(|c| c.busy);
        if !busy && self.queued.insert(key.clone()) {
            self.waiting.push_back(key);
        }
    }

    fn dispatch(&mut self) {
        while self.running.len() < self.parallel {
            let Some(key) = self.waiting.pop_front() else {
                return;
            };
            self.queued.remove(&key);
            let Some(c) = self.conditions.get_mut(&key) else {
                continue;
            };
            if c.busy || !c.dirty {
                continue;
            }
            c.busy = true;
            c.dirty = false;
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &c.pod.namespace);
            let name = c.pod.name.clone();
            let patch = json!({"status": {"conditions": [c.condition.clone()]}});
            self.running.push(Box::pin(async move {
                let result = api
                    .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                    .await;
                match result {
                    Ok(_) => (key, true),
                    Err(kube::Error::Api(s)) if s.code == 404 => (key, true),
                    Err(err) => {
                        tracing::warn!("updating PodScheduled of {key}: {err}");
                        (key, false)
                    }
                }
            }));
        }
    }

    /// Best effort, like upstream: a failed write is not retried unless a newer condition for
    /// the same pod comes.
    fn finish(&mut self, key: String) {
        let idle = self.conditions.get_mut(&key).is_some_and(|c| {
            c.busy = false;
            !c.dirty
        });
        if idle {
            self.conditions.remove(&key);
        } else {
            self.schedule(key);
        }
    }
}
