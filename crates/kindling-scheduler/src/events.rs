//! Writes that must not slow scheduling down: core/v1 Events (`Scheduled`,
//! `FailedScheduling`) and the pods' `PodScheduled` condition. A worker task does them with
//! bounded concurrency; repeats of the same event for the same pod become one Event whose
//! `count` and `lastTimestamp` grow (as client-go's correlator does, so `kubectl describe` shows
//! `(x3 over 2m)`), and condition writes for one pod coalesce to the latest. When the worker
//! falls far behind, new records are dropped, as upstream's event broadcaster does.

use futures::stream::{FuturesUnordered, StreamExt};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Upstream truncates event notes to this many bytes.
const NOTE_LENGTH_LIMIT: usize = 1024;
const QUEUE_CAPACITY: usize = 8192;
const MAX_TRACKED_EVENTS: usize = 4096;
const EVENT_CORRELATION_WINDOW: Duration = Duration::from_secs(600);

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
}

enum Op {
    Event {
        pod: PodRef,
        warning: bool,
        reason: &'static str,
        action: &'static str,
        message: String,
    },
    Condition {
        pod: PodRef,
        condition: Value,
    },
}

/// Hands writes to the worker; cheap to clone.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Op>,
}

/// Cuts a message to the event note limit the way upstream does (`…` replaced by ` ...`).
pub fn truncate_note(message: &str) -> String {
    if message.len() <= NOTE_LENGTH_LIMIT {
        return message.to_string();
    }
    let mut end = NOTE_LENGTH_LIMIT - 4;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} ...", &message[..end])
}

pub fn timestamp_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

impl Recorder {
    pub fn spawn(client: kube::Client, component: String, parallel: usize) -> Recorder {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let instance = format!(
            "{component}-{}",
            std::env::var("HOSTNAME")
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "kindling".into())
        );
        tokio::spawn(
            Worker {
                client,
                component,
                instance,
                parallel: parallel.max(1),
                events: HashMap::new(),
                conditions: HashMap::new(),
                waiting: VecDeque::new(),
                queued: HashSet::new(),
                running: FuturesUnordered::new(),
            }
            .run(rx),
        );
        Recorder { tx }
    }

    fn send(&self, op: Op) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(op) {
            tracing::warn!("scheduler event queue full; dropping an event");
        }
    }

    pub fn normal(&self, pod: PodRef, reason: &'static str, action: &'static str, message: String) {
        self.send(Op::Event {
            pod,
            warning: false,
            reason,
            action,
            message,
        });
    }

    pub fn warning(
        &self,
        pod: PodRef,
        reason: &'static str,
        action: &'static str,
        message: String,
    ) {
        self.send(Op::Event {
            pod,
            warning: true,
            reason,
            action,
            message: truncate_note(&message),
        });
    }

    /// Sets the pod's `PodScheduled` condition (a full condition object).
    pub fn condition(&self, pod: PodRef, condition: Value) {
        self.send(Op::Condition { pod, condition });
    }
}

struct EventState {
    pod: PodRef,
    warning: bool,
    reason: &'static str,
    action: &'static str,
    message: String,
    name: String,
    count: u32,
    first: String,
    last: String,
    created: bool,
    busy: bool,
    dirty: bool,
    touched: Instant,
}

struct ConditionState {
    pod: PodRef,
    condition: Value,
    busy: bool,
    dirty: bool,
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Job {
    Event(String),
    Condition(String),
}

enum Outcome {
    EventCreated(String),
    EventPatched(String),
    /// The Event is gone (expired): create it again.
    EventMissing(String),
    Failed(Job),
    ConditionDone(String),
}

type Running = Pin<Box<dyn Future<Output = Outcome> + Send>>;

struct Worker {
    client: kube::Client,
    component: String,
    instance: String,
    parallel: usize,
    events: HashMap<String, EventState>,
    conditions: HashMap<String, ConditionState>,
    waiting: VecDeque<Job>,
    queued: HashSet<Job>,
    running: FuturesUnordered<Running>,
}

fn event_key(pod: &PodRef, warning: bool, reason: &str, message: &str) -> String {
    format!(
        "{}\u{0}{}\u{0}{warning}\u{0}{reason}\u{0}{message}",
        pod.uid,
        pod.key()
    )
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Op>) {
        loop {
            tokio::select! {
                op = rx.recv() => match op {
                    Some(op) => self.accept(op),
                    None if self.running.is_empty() => return,
                    None => {}
                },
                Some(out) = self.running.next(), if !self.running.is_empty() => self.finish(out),
            }
            self.dispatch();
        }
    }

    fn accept(&mut self, op: Op) {
        match op {
            Op::Event {
                pod,
                warning,
                reason,
                action,
                message,
            } => {
                let key = event_key(&pod, warning, reason, &message);
                let now = timestamp_now();
                let fresh = self
                    .events
                    .get(&key)
                    .is_none_or(|e| e.touched.elapsed() > EVENT_CORRELATION_WINDOW);
                if fresh {
                    self.evict();
                    let nanos = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos())
                        .unwrap_or(0);
                    self.events.insert(
                        key.clone(),
                        EventState {
                            name: format!("{}.{:x}", pod.name, nanos),
                            pod,
                            warning,
                            reason,
                            action,
                            message,
                            count: 1,
                            first: now.clone(),
                            last: now,
                            created: false,
                            busy: false,
                            dirty: true,
                            touched: Instant::now(),
                        },
                    );
                } else if let Some(e) = self.events.get_mut(&key) {
                    e.count += 1;
                    e.last = now;
                    e.pod.resource_version = pod.resource_version;
                    e.dirty = true;
                    e.touched = Instant::now();
                }
                self.schedule(Job::Event(key));
            }
            Op::Condition { pod, condition } => {
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
                self.schedule(Job::Condition(key));
            }
        }
    }

    /// Keeps the correlation table bounded: forgets idle, old entries.
    fn evict(&mut self) {
        if self.events.len() < MAX_TRACKED_EVENTS {
            return;
        }
        self.events
            .retain(|_, e| e.busy || e.touched.elapsed() < EVENT_CORRELATION_WINDOW / 10);
        if self.events.len() >= MAX_TRACKED_EVENTS {
            self.events.retain(|_, e| e.busy);
        }
    }

    fn schedule(&mut self, job: Job) {
        let busy = match &job {
            Job::Event(k) => self.events.get(k).is_none_or(|e| e.busy),
            Job::Condition(k) => self.conditions.get(k).is_none_or(|c| c.busy),
        };
        if !busy && self.queued.insert(job.clone()) {
            self.waiting.push_back(job);
        }
    }

    fn dispatch(&mut self) {
        while self.running.len() < self.parallel {
            let Some(job) = self.waiting.pop_front() else {
                return;
            };
            self.queued.remove(&job);
            match &job {
                Job::Event(key) => {
                    let Some(e) = self.events.get_mut(key) else {
                        continue;
                    };
                    if e.busy || !e.dirty {
                        continue;
                    }
                    e.busy = true;
                    e.dirty = false;
                    let fut = self.event_write(key.clone());
                    self.running.push(fut);
                }
                Job::Condition(key) => {
                    let Some(c) = self.conditions.get_mut(key) else {
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
                    let key = key.clone();
                    self.running.push(Box::pin(async move {
                        match api
                            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                            .await
                        {
                            Ok(_) => Outcome::ConditionDone(key),
                            Err(kube::Error::Api(s)) if s.code == 404 => {
                                Outcome::ConditionDone(key)
                            }
                            Err(err) => {
                                tracing::warn!("updating PodScheduled of {key}: {err}");
                                Outcome::Failed(Job::Condition(key))
                            }
                        }
                    }));
                }
            }
        }
    }

    fn event_write(&self, key: String) -> Running {
        let e = &self.events[&key];
        let api: Api<Event> = Api::namespaced(self.client.clone(), &e.pod.namespace);
        if e.created {
            let name = e.name.clone();
            let patch = json!({"count": e.count, "lastTimestamp": e.last});
            return Box::pin(async move {
                match api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => Outcome::EventPatched(key),
                    Err(kube::Error::Api(s)) if s.code == 404 => Outcome::EventMissing(key),
                    Err(err) => {
                        tracing::warn!("updating event {name}: {err}");
                        Outcome::Failed(Job::Event(key))
                    }
                }
            });
        }
        let body = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": e.name, "namespace": e.pod.namespace},
            "involvedObject": {
                "apiVersion": "v1", "kind": "Pod", "namespace": e.pod.namespace,
                "name": e.pod.name, "uid": e.pod.uid, "resourceVersion": e.pod.resource_version,
            },
            "reason": e.reason,
            "message": e.message,
            "type": if e.warning { "Warning" } else { "Normal" },
            "source": {"component": self.component},
            "firstTimestamp": e.first,
            "lastTimestamp": e.last,
            "count": e.count,
            "action": e.action,
            "reportingComponent": self.component,
            "reportingInstance": self.instance,
        });
        Box::pin(async move {
            let event: Event = match serde_json::from_value(body) {
                Ok(ev) => ev,
                Err(err) => {
                    tracing::warn!("building event: {err}");
                    return Outcome::EventCreated(key);
                }
            };
            match api.create(&PostParams::default(), &event).await {
                Ok(_) => Outcome::EventCreated(key),
                // The namespace is going away, or the same name exists: nothing to add.
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {
                    Outcome::EventCreated(key)
                }
                Err(err) => {
                    tracing::warn!("creating event: {err}");
                    Outcome::Failed(Job::Event(key))
                }
            }
        })
    }

    fn finish(&mut self, out: Outcome) {
        let job = match out {
            Outcome::EventCreated(k) | Outcome::EventPatched(k) => {
                if let Some(e) = self.events.get_mut(&k) {
                    e.busy = false;
                    e.created = true;
                }
                Job::Event(k)
            }
            Outcome::EventMissing(k) => {
                if let Some(e) = self.events.get_mut(&k) {
                    e.busy = false;
                    e.created = false;
                    e.dirty = true;
                }
                Job::Event(k)
            }
            Outcome::ConditionDone(k) => {
                let idle = self.conditions.get_mut(&k).is_some_and(|c| {
                    c.busy = false;
                    !c.dirty
                });
                if idle {
                    self.conditions.remove(&k);
                }
                Job::Condition(k)
            }
            // Best effort, like upstream's recorder: a failed write is not retried unless a
            // newer record for the same key comes.
            Outcome::Failed(job) => {
                match &job {
                    Job::Event(k) => {
                        if let Some(e) = self.events.get_mut(k) {
                            e.busy = false;
                        }
                    }
                    Job::Condition(k) => {
                        if let Some(c) = self.conditions.get_mut(k) {
                            c.busy = false;
                        }
                    }
                }
                job
            }
        };
        self.schedule(job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_truncated_like_upstream() {
        let short = "0/3 nodes are available.";
        assert_eq!(truncate_note(short), short);
        let long = "x".repeat(2000);
        let t = truncate_note(&long);
        assert_eq!(t.len(), NOTE_LENGTH_LIMIT);
        assert!(t.ends_with("x ..."));
        let multibyte = "é".repeat(1000);
        assert!(truncate_note(&multibyte).len() <= NOTE_LENGTH_LIMIT);
    }

    #[test]
    fn timestamps_are_rfc3339_seconds() {
        let t = timestamp_now();
        assert_eq!(t.len(), 20);
        assert!(t.ends_with('Z'));
    }
}
