//! The scheduler against an API server: watches Pods, Nodes, Namespaces and the claims,
//! volumes and storage classes VolumeBinding reads (kube-runtime watchers feeding the
//! [`Cache`]), takes pods from the [`Queue`], runs the [`Framework`] and binds through
//! `pods/binding` concurrently, assuming each decision in the cache so the next pod already
//! sees it. Before a pod with WaitForFirstConsumer claims is bound, its volumes are
//! (`volumes.rs`: pre-bound or handed to a provisioner, then awaited). Events and
//! `PodScheduled` conditions go through a separate writer.

use crate::cache::{is_terminal, node_name, pod_key, Cache, NodeChange};
use crate::events::{timestamp_now, PodRef, Recorder};
use crate::framework::{Framework, Rng, ScheduleError};
use crate::metrics::{Metrics, Outcome, Pending};
use crate::plugins::volume_binding::{self, Bindings};
use crate::queue::{ClusterEvent, Queue, QueueConfig};
use crate::types::PodInfo;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, PostParams};
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The name pods ask for in `spec.schedulerName` (empty means this one too).
pub const SCHEDULER_NAME: &str = "default-scheduler";

#[derive(Clone, Debug)]
pub struct Options {
    pub scheduler_name: String,
    /// Bindings in flight at once.
    pub parallel_binds: usize,
    /// Event and condition writes in flight at once.
    pub parallel_writes: usize,
    /// Seed for tie-breaking between equally good nodes (random when `None`).
    pub seed: Option<u64>,
    pub queue: QueueConfig,
    /// Where the loop records what it measures (kube-scheduler's metrics).
    pub metrics: Arc<Metrics>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            scheduler_name: SCHEDULER_NAME.to_string(),
            parallel_binds: 32,
            parallel_writes: 8,
            seed: None,
            queue: QueueConfig::default(),
            metrics: Arc::default(),
        }
    }
}

/// Schedules pods forever with the default options.
pub async fn run(client: kube::Client) {
    run_with(client, Options::default()).await;
}

pub async fn run_with(client: kube::Client, options: Options) {
    let recorder = Recorder::spawn(
        client.clone(),
        options.scheduler_name.clone(),
        options.parallel_writes,
    );
    let (bind_tx, bind_rx) = mpsc::unbounded_channel();
    let mut s = Scheduler {
        fw: Framework::new(options.seed.map_or_else(Rng::from_time, Rng::new)),
        queue: Queue::new(options.queue.clone()),
        options,
        client: client.clone(),
        cache: Cache::new(),
        pending: HashMap::new(),
        gated: HashSet::new(),
        binds_in_flight: 0,
        recorder,
        bind_tx,
        pods_seen: None,
        nodes_seen: None,
        namespaces_seen: None,
        pods_synced: false,
        nodes_synced: false,
        namespaces_synced: false,
    };
    let pods = watch::<Pod>(&client);
    let nodes = watch::<Node>(&client);
    let namespaces = watch::<Namespace>(&client);
    let volumes = futures::stream::select(
        watch::<PersistentVolumeClaim>(&client).map(|e| VolumeEvent::Claim(Box::new(e))),
        futures::stream::select(
            watch::<PersistentVolume>(&client).map(|e| VolumeEvent::Volume(Box::new(e))),
            watch::<StorageClass>(&client).map(|e| VolumeEvent::Class(Box::new(e))),
        ),
    );
    s.run(pods, nodes, namespaces, volumes, bind_rx).await;
}

fn watch<K>(client: &kube::Client) -> impl Stream<Item = Event<K>> + Send + Unpin + 'static
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    let kind = K::kind(&());
    watcher(Api::<K>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .filter_map(move |r| {
            let kind = kind.clone();
            async move {
                match r {
                    Ok(ev) => Some(ev),
                    Err(e) => {
                        tracing::warn!("scheduler: watching {kind}: {e}");
                        None
                    }
                }
            }
        })
        .boxed()
}

struct BindResult {
    key: String,
    node: String,
    pod: Arc<Pod>,
    result: Result<(), BindError>,
    /// When the attempt began, and how many attempts it took.
    started: Instant,
    attempts: u32,
}

enum BindError {
    /// The pod's volumes could not be bound (VolumeBinding's PreBind).
    Volumes(String),
    Api(kube::Error),
}

/// A watch event of one of the kinds VolumeBinding reads.
enum VolumeEvent {
    Claim(Box<Event<PersistentVolumeClaim>>),
    Volume(Box<Event<PersistentVolume>>),
    Class(Box<Event<StorageClass>>),
}

struct Scheduler {
    options: Options,
    client: kube::Client,
    cache: Cache,
    queue: Queue,
    fw: Framework,
    /// Unbound pods this scheduler is responsible for, by `namespace/name`.
    pending: HashMap<String, Arc<Pod>>,
    /// Pods held back by `schedulingGates`.
    gated: HashSet<String>,
    binds_in_flight: usize,
    recorder: Recorder,
    bind_tx: mpsc::UnboundedSender<BindResult>,
    pods_seen: Option<HashSet<String>>,
    nodes_seen: Option<HashSet<String>>,
    namespaces_seen: Option<HashSet<String>>,
    pods_synced: bool,
    nodes_synced: bool,
    namespaces_synced: bool,
}

impl Scheduler {
    async fn run(
        &mut self,
        mut pods: impl Stream<Item = Event<Pod>> + Unpin,
        mut nodes: impl Stream<Item = Event<Node>> + Unpin,
        mut namespaces: impl Stream<Item = Event<Namespace>> + Unpin,
        mut volumes: impl Stream<Item = VolumeEvent> + Unpin,
        mut bind_rx: mpsc::UnboundedReceiver<BindResult>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let ready = self.pods_synced
                && self.nodes_synced
                && self.namespaces_synced
                && self.binds_in_flight < self.options.parallel_binds
                && self.queue.has_active();
            // Cluster changes first, so every decision sees the freshest state; then schedule.
            tokio::select! {
                biased;
                Some(r) = bind_rx.recv() => self.on_bind_result(r),
                Some(ev) = nodes.next() => self.on_node_event(ev),
                Some(ev) = namespaces.next() => self.on_namespace_event(ev),
                Some(ev) = volumes.next() => self.on_volume_event(ev),
                Some(ev) = pods.next() => self.on_pod_event(ev),
                _ = tick.tick() => self.queue.flush(Instant::now()),
                () = std::future::ready(()), if ready => self.schedule_one(),
            }
            self.measure_state();
        }
    }

    /// The queues' and cache's sizes, after every step of the loop.
    fn measure_state(&self) {
        let (active, backoff, unschedulable) = self.queue.counts();
        let metrics = &self.options.metrics;
        metrics.set_pending(Pending {
            active,
            backoff,
            unschedulable,
            gated: self.gated.len(),
        });
        let (pods, assumed) = self.cache.pod_counts();
        metrics.set_cache_size(self.cache.node_count(), pods, assumed);
    }

    fn responsible(&self, pod: &Pod) -> bool {
        let name = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .unwrap_or("");
        name.is_empty() || name == self.options.scheduler_name
    }

    fn on_node_event(&mut self, ev: Event<Node>) {
        match ev {
            Event::Init => self.nodes_seen = Some(HashSet::new()),
            Event::InitApply(n) => {
                if let Some(seen) = &mut self.nodes_seen {
                    seen.insert(n.metadata.name.clone().unwrap_or_default());
                }
                self.apply_node(&n);
            }
            Event::InitDone => {
                if let Some(seen) = self.nodes_seen.take() {
                    for name in self.cache.node_names() {
                        if !seen.contains(&name) {
                            self.cache.remove_node(&name);
                        }
                    }
                }
                self.nodes_synced = true;
            }
            Event::Apply(n) => self.apply_node(&n),
            Event::Delete(n) => self
                .cache
                .remove_node(n.metadata.name.as_deref().unwrap_or_default()),
        }
    }

    fn apply_node(&mut self, node: &Node) {
        let event = match self.cache.set_node(node) {
            NodeChange::Added => ClusterEvent::NodeAdded,
            NodeChange::Updated => ClusterEvent::NodeUpdated,
            NodeChange::Unchanged => return,
        };
        self.queue.on_event(event, Instant::now());
    }

    fn on_namespace_event(&mut self, ev: Event<Namespace>) {
        match ev {
            Event::Init => self.namespaces_seen = Some(HashSet::new()),
            Event::InitApply(ns) | Event::Apply(ns) => {
                let name = ns.metadata.name.clone().unwrap_or_default();
                if let Some(seen) = &mut self.namespaces_seen {
                    seen.insert(name.clone());
                }
                if self
                    .cache
                    .set_namespace(&name, ns.metadata.labels.unwrap_or_default())
                {
                    self.queue
                        .on_event(ClusterEvent::NamespaceChanged, Instant::now());
                }
            }
            Event::InitDone => {
                if let Some(seen) = self.namespaces_seen.take() {
                    for name in self.cache.namespace_names() {
                        if !seen.contains(&name) {
                            self.cache.remove_namespace(&name);
                        }
                    }
                }
                self.namespaces_synced = true;
            }
            Event::Delete(ns) => self
                .cache
                .remove_namespace(ns.metadata.name.as_deref().unwrap_or_default()),
        }
    }

    fn on_volume_event(&mut self, ev: VolumeEvent) {
        let view = &mut self.cache.volumes;
        let changed = match ev {
            VolumeEvent::Claim(ev) => {
                crate::volumes::apply(&mut view.claims, *ev, crate::volumes::claim_key)
            }
            VolumeEvent::Volume(ev) => {
                crate::volumes::apply(&mut view.volumes, *ev, crate::volumes::name_key)
            }
            VolumeEvent::Class(ev) => {
                crate::volumes::apply(&mut view.classes, *ev, crate::volumes::name_key)
            }
        };
        if changed {
            self.queue
                .on_event(ClusterEvent::VolumeChanged, Instant::now());
        }
    }

    fn on_pod_event(&mut self, ev: Event<Pod>) {
        match ev {
            Event::Init => self.pods_seen = Some(HashSet::new()),
            Event::InitApply(p) => {
                if let Some(seen) = &mut self.pods_seen {
                    seen.insert(pod_key(&p));
                }
                self.apply_pod(p);
            }
            Event::InitDone => {
                if let Some(seen) = self.pods_seen.take() {
                    let known: Vec<String> = self
                        .cache
                        .pod_keys()
                        .into_iter()
                        .chain(self.pending.keys().cloned())
                        .collect();
                    for key in known {
                        if !seen.contains(&key) && !self.cache.is_assumed(&key) {
                            self.delete_pod(&key);
                        }
                    }
                }
                self.pods_synced = true;
            }
            Event::Apply(p) => self.apply_pod(p),
            Event::Delete(p) => self.delete_pod(&pod_key(&p)),
        }
    }

    fn delete_pod(&mut self, key: &str) {
        if self.cache.remove_pod(key).is_some() {
            self.queue
                .on_event(ClusterEvent::AssignedPodDeleted, Instant::now());
        }
        self.pending.remove(key);
        self.queue.remove(key);
        self.gated.remove(key);
    }

    fn apply_pod(&mut self, pod: Pod) {
        let key = pod_key(&pod);
        let now = Instant::now();
        if is_terminal(&pod) {
            self.delete_pod(&key);
            return;
        }
        if let Some(node) = node_name(&pod) {
            let before = self.cache.pod_node(&key).map(str::to_string);
            let was_assumed = self.cache.is_assumed(&key);
            let new_labels = pod.metadata.labels.clone().unwrap_or_default();
            let labels_changed = self
                .cache
                .pod_labels(&key)
                .is_some_and(|l| *l != new_labels);
            self.cache.set_bound_pod(&pod);
            self.pending.remove(&key);
            self.queue.remove(&key);
            self.gated.remove(&key);
            if before.as_deref() != Some(node) || was_assumed || labels_changed {
                self.queue.on_event(ClusterEvent::AssignedPodAdded, now);
            }
            return;
        }
        if !self.responsible(&pod) || pod.metadata.deletion_timestamp.is_some() {
            self.pending.remove(&key);
            self.queue.remove(&key);
            self.gated.remove(&key);
            return;
        }
        let pod = Arc::new(pod);
        if self.cache.is_assumed(&key) {
            // Its binding is in flight.
            self.pending.insert(key, pod);
            return;
        }
        let gated = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduling_gates.as_ref())
            .is_some_and(|g| !g.is_empty());
        if gated {
            self.queue.remove(&key);
            if self.gated.insert(key.clone()) {
                self.set_condition(
                    &pod,
                    "SchedulingGated",
                    "Scheduling is blocked due to non-empty scheduling gates",
                );
            }
            self.pending.insert(key, pod);
            return;
        }
        self.gated.remove(&key);
        let changed = self.pending.get(&key).is_none_or(|old| {
            old.spec != pod.spec
                || old.metadata.labels != pod.metadata.labels
                || old.metadata.annotations != pod.metadata.annotations
        });
        let priority = pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
        self.pending.insert(key.clone(), pod);
        self.queue.add_or_update(&key, priority, changed, now);
    }

    fn schedule_one(&mut self) {
        let Some(key) = self.queue.pop() else { return };
        let Some(pod) = self.pending.get(&key).cloned() else {
            self.queue.remove(&key);
            return;
        };
        let info = Arc::new(PodInfo::new(&pod));
        let started = Instant::now();
        let result = self.fw.schedule(&info, &self.cache.snapshot());
        self.options.metrics.algorithm(started.elapsed());
        match result {
            Ok(node) => {
                let attempts = self.queue.attempts(&key);
                self.queue.done(&key);
                let bindings = self.volume_bindings(&info, &node);
                if let Some(b) = &bindings {
                    crate::volumes::assume(&mut self.cache.volumes, b, &node);
                }
                self.cache.assume(&key, info.clone(), &node);
                self.bind(key, node, pod, bindings, (started, attempts));
            }
            Err(err) => {
                self.options.metrics.attempt(
                    &self.options.scheduler_name,
                    Outcome::Unschedulable,
                    started.elapsed(),
                );
                self.unschedulable(&key, &pod, err);
            }
        }
    }

    fn unschedulable(&mut self, key: &str, pod: &Arc<Pod>, err: ScheduleError) {
        let message = err.message();
        tracing::info!(pod = %key, "unable to schedule pod: {message}");
        self.queue.unschedulable(key, err.plugins(), Instant::now());
        self.recorder.warning(
            PodRef::of(pod),
            "FailedScheduling",
            "Scheduling",
            message.clone(),
        );
        self.set_condition(pod, "Unschedulable", &message);
    }

    /// Sets `PodScheduled=False` with this reason and message, unless the pod already says so.
    /// The transition time stays when only the message changes, as upstream.
    fn set_condition(&self, pod: &Pod, reason: &str, message: &str) {
        let current = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
        let same_status = current.is_some_and(|c| c.status == "False");
        if same_status
            && current.is_some_and(|c| {
                c.reason.as_deref() == Some(reason) && c.message.as_deref() == Some(message)
            })
        {
            return;
        }
        let transition = current
            .filter(|_| same_status)
            .and_then(|c| c.last_transition_time.as_ref())
            .map_or_else(
                || Value::String(timestamp_now()),
                |t| Value::String(t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
            );
        self.recorder.condition(
            PodRef::of(pod),
            json!({
                "type": "PodScheduled", "status": "False", "reason": reason, "message": message,
                "lastProbeTime": null, "lastTransitionTime": transition,
            }),
        );
    }

    /// What VolumeBinding must do on `node` before the pod is bound (None: nothing).
    fn volume_bindings(&self, info: &PodInfo, node: &str) -> Option<Bindings> {
        if info.claims.is_empty() {
            return None;
        }
        let labels = self.cache.node(node)?.node.as_ref()?.labels.clone();
        let state = volume_binding::pre_filter(info, &self.cache.volumes).ok()?;
        volume_binding::filter(&state, &self.cache.volumes, node, &labels)
            .ok()
            .filter(|b| !b.wait_for.is_empty())
    }

    fn bind(
        &mut self,
        key: String,
        node: String,
        pod: Arc<Pod>,
        volumes: Option<Bindings>,
        (started, attempts): (Instant, u32),
    ) {
        self.binds_in_flight += 1;
        let tx = self.bind_tx.clone();
        let api: Api<Pod> = Api::namespaced(
            self.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or("default"),
        );
        let client = self.client.clone();
        tokio::spawn(async move {
            if let Some(b) = volumes {
                if let Err(e) = crate::volumes::bind_volumes(&client, &b, &node).await {
                    let _ = tx.send(BindResult {
                        key,
                        node,
                        pod,
                        result: Err(BindError::Volumes(e)),
                        started,
                        attempts,
                    });
                    return;
                }
            }
            let name = pod.metadata.name.clone().unwrap_or_default();
            let binding = json!({
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": name, "namespace": pod.metadata.namespace, "uid": pod.metadata.uid},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            });
            let result = api
                .create_subresource::<_, Value>("binding", &name, &PostParams::default(), &binding)
                .await
                .map(|_| ())
                .map_err(BindError::Api);
            let _ = tx.send(BindResult {
                key,
                node,
                pod,
                result,
                started,
                attempts,
            });
        });
    }

    fn on_bind_result(&mut self, r: BindResult) {
        self.binds_in_flight -= 1;
        let metrics = &self.options.metrics;
        let outcome = if r.result.is_ok() {
            metrics.scheduled_after(r.attempts);
            Outcome::Scheduled
        } else {
            Outcome::Error
        };
        metrics.attempt(&self.options.scheduler_name, outcome, r.started.elapsed());
        let pod_ref = PodRef::of(&r.pod);
        match r.result {
            Ok(()) => {
                tracing::debug!(pod = %r.key, node = %r.node, "bound");
                self.recorder.normal(
                    pod_ref.clone(),
                    "Scheduled",
                    "Binding",
                    format!(
                        "Successfully assigned {}/{} to {}",
                        pod_ref.namespace, pod_ref.name, r.node
                    ),
                );
            }
            Err(err) => {
                self.cache.forget(&r.key);
                self.queue
                    .on_event(ClusterEvent::AssignedPodDeleted, Instant::now());
                match &err {
                    BindError::Api(kube::Error::Api(s)) if s.code == 404 => {
                        self.pending.remove(&r.key);
                        return;
                    }
                    // Bound by someone else or being deleted: the watch will tell.
                    BindError::Api(kube::Error::Api(s)) if s.code == 409 => {
                        tracing::info!(pod = %r.key, "binding refused: {}", s.message);
                    }
                    BindError::Volumes(cause) => {
                        let message = format!(
                            "running PreBind plugin \"VolumeBinding\": binding volumes: {cause}"
                        );
                        tracing::info!(pod = %r.key, node = %r.node, "{message}");
                        self.recorder.warning(
                            pod_ref,
                            "FailedScheduling",
                            "Scheduling",
                            message.clone(),
                        );
                        self.set_condition(&r.pod, "SchedulerError", &message);
                    }
                    BindError::Api(err) => {
                        tracing::warn!(pod = %r.key, node = %r.node, "binding failed: {err}");
                        let cause = match &err {
                            kube::Error::Api(s) => s.message.clone(),
                            other => other.to_string(),
                        };
                        let message = format!(
                            "binding rejected: running Bind plugin \"DefaultBinder\": {cause}"
                        );
                        self.recorder.warning(
                            pod_ref,
                            "FailedScheduling",
                            "Scheduling",
                            message.clone(),
                        );
                        self.set_condition(&r.pod, "SchedulerError", &message);
                    }
                }
                if let Some(pod) = self.pending.get(&r.key) {
                    let priority = pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
                    self.queue.retry(&r.key, priority, Instant::now());
                }
            }
        }
    }
}
