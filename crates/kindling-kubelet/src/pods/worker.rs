//! One pod's worker: the kubelet's SyncPod for that pod, run whenever the pod object changes,
//! the runtime reports a change (relist), a probe result changes, or a back-off runs out.
//!
//! A sync decides, then acts: the pod is first taken *as this node allocated it* (`resize.rs`: a
//! resize the node cannot fit stays pending), then `actions.rs` computes the pod's
//! [`PodActions`] from it, the runtime's state of it and this worker's state (back-offs, probe
//! results); this module carries them out through the [`Runtime`], with what they need besides
//! (volumes before the sandbox, images, environments, hooks, probes, events, in-place resizes),
//! and finally reports the status if it changed.

use super::actions::{
    self, grace_of, Action, ContainerRef, Input, KillPod, PodActions, Start, Step, SyncActions,
};
use super::backoff::{go_duration, Backoff};
use super::env::{self, ApiSources, Downward};
use super::events::Recorder;
use super::probes::{ContainerProbes, Target};
use super::resize::{self, Allocated, Allocations};
use super::spec::{self, Kind, NodeFacts};
use super::status::{self, Observed, ProbeResults, ResizeReport};
use super::{cgroup, lifecycle, volumes};
use crate::runtime::{LinuxResources, PodRuntime, Runtime, SandboxInfo, State};
use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tracing::Instrument;

/// What every worker shares.
pub struct Shared {
    pub runtime: Arc<dyn Runtime>,
    pub client: kube::Client,
    pub facts: NodeFacts,
    pub node_ip: String,
    pub node_cpus: u64,
    pub recorder: Recorder,
    pub pods_dir: PathBuf,
    /// Service account tokens of projected volumes, cached until due for refresh.
    pub tokens: Arc<super::tokens::TokenManager>,
    /// What every pod of the node was allocated (in-place resize's fit check).
    pub allocations: Allocations,
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// When to sync again.
#[derive(Debug, PartialEq)]
pub enum Next {
    After(Duration),
    /// Nothing to do until something changes.
    Idle,
}

/// Periodic resync (configMap/secret volume refresh, missed events).
const RESYNC: Duration = Duration::from_secs(30);
const VOLUME_REFRESH: Duration = Duration::from_secs(30);
const PULL_TIMEOUT: Duration = Duration::from_secs(300);
/// The kubelet waits for a postStart hook without limit; the worker bounds it so that a hook
/// that never returns cannot hold the pod (and its deletion) forever.
const POST_START_TIMEOUT: Duration = Duration::from_secs(120);
/// How soon a resize that waits for room (Deferred) or failed to apply is tried again.
const RESIZE_RETRY: Duration = Duration::from_secs(10);

pub struct Worker {
    shared: Arc<Shared>,
    uid: String,
    wake: Arc<Notify>,
    crash_backoff: Backoff,
    pull_backoff: Backoff,
    /// Why each container waits, from the last attempt to start it.
    waiting: HashMap<String, (String, String)>,
    start_time: Option<Time>,
    volumes: Option<(HashMap<String, volumes::Volume>, Instant)>,
    etc_hosts: Option<PathBuf>,
    probes: HashMap<String, ContainerProbes>,
    /// Container IDs whose exit was announced (BackOff events once per exit).
    announced: HashSet<String>,
    /// The status last reported and the resourceVersion the API gave it.
    reported: Option<(PodStatus, u64)>,
    mount_warned: Option<Instant>,
    /// When an image-pull back-off ends (set during a sync).
    retry_in: Option<Duration>,
    /// No new sandbox before this, after a failed RunPodSandbox.
    sandbox_retry: Option<Instant>,
    /// The dead sandbox a SandboxChanged event was recorded for.
    sandbox_announced: Option<String>,
    /// The resources this node allocated to the pod's containers (set on the first sync).
    allocated: Option<Allocated>,
    /// A resize not allocated, or that failed to apply.
    resize: ResizeReport,
    /// CPU and memory values applied in place, by container ID: what the runtime does not
    /// report itself (containerd before 1.7).
    applied: HashMap<String, LinuxResources>,
    /// When the worker first saw the pod, until it has been reported Running once.
    first_seen: Option<Instant>,
}

fn now_nanos() -> i64 {
    jiff::Timestamp::now().as_nanosecond() as i64
}

fn rv(pod: &Pod) -> u64 {
    pod.metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Worker {
    pub fn new(shared: Arc<Shared>, uid: String, wake: Arc<Notify>) -> Worker {
        Worker {
            shared,
            uid,
            wake,
            crash_backoff: Backoff::default(),
            pull_backoff: Backoff::default(),
            waiting: HashMap::new(),
            start_time: None,
            volumes: None,
            etc_hosts: None,
            probes: HashMap::new(),
            announced: HashSet::new(),
            reported: None,
            mount_warned: None,
            retry_in: None,
            sandbox_retry: None,
            sandbox_announced: None,
            allocated: None,
            resize: ResizeReport::default(),
            applied: HashMap::new(),
            first_seen: Some(Instant::now()),
        }
    }

    /// Syncs the pod until it is gone from the API, then removes what is left of it.
    pub async fn run(mut self, mut pod_rx: watch::Receiver<Option<Arc<Pod>>>) {
        loop {
            let pod = pod_rx.borrow_and_update().clone();
            let Some(pod) = pod else { break };
            let span = tracing::info_span!(
                "sync_pod",
                pod = %format_args!("{}/{}", spec::namespace(&pod), spec::name(&pod)),
                uid = %self.uid,
            );
            let next = match self.sync(&pod).instrument(span).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(
                        "syncing pod {}/{}: {e:#}",
                        spec::namespace(&pod),
                        spec::name(&pod)
                    );
                    Next::After(Duration::from_secs(2))
                }
            };
            let sleep = match next {
                Next::After(d) => d.min(RESYNC),
                Next::Idle => RESYNC,
            };
            tokio::select! {
                changed = pod_rx.changed() => if changed.is_err() { break },
                () = self.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
            }
        }
        self.probes.clear();
        self.shared.allocations.release(&self.uid);
        remove_pod(&self.shared, &self.uid, Duration::from_secs(2)).await;
    }

    /// One SyncPod: the actions decided for the pod (as allocated), carried out.
    pub async fn sync(&mut self, pod: &Pod) -> Result<Next> {
        let shared = self.shared.clone();
        let pod = &self.allocate(pod);
        let mut rt = self.observe().await?;
        let actions = self.decide(pod, &rt, actions::compute_pod_actions);
        tracing::debug!(%actions, "pod actions");
        let sync = match actions {
            PodActions::Terminate(kill) => return self.terminate(pod, &kill).await,
            PodActions::Finished(kill) => {
                self.note_start();
                self.probes.clear();
                if let Some(kill) = kill {
                    stop_everything(&shared, pod, &kill, false).await;
                    rt = self.observe().await?;
                }
                self.report(pod, &rt).await?;
                return Ok(Next::Idle);
            }
            PodActions::Sync(sync) => {
                self.note_start();
                sync
            }
        };

        // Volumes first, as the kubelet mounts them before the sandbox.
        if let Err(message) = self.ensure_volumes(pod, &rt).await {
            let warn_again = self
                .mount_warned
                .is_none_or(|t| t.elapsed() > Duration::from_secs(30));
            if warn_again {
                shared
                    .recorder
                    .emit(pod, None, true, "FailedMount", message.clone());
                self.mount_warned = Some(Instant::now());
            }
            tracing::info!("pod {}: {message}", spec::name(pod));
            self.report(pod, &rt).await?;
            return Ok(Next::After(Duration::from_secs(3)));
        }

        // The sandbox.
        let containers = match sync {
            SyncActions::Containers(containers) => containers,
            SyncActions::StopFinished(kill) => {
                // What the app containers did is reported first (the sidecars still run, the
                // pod too), then what is left stops, app containers first, then the sidecars.
                self.report(pod, &rt).await?;
                self.probes.clear();
                self.waiting.clear();
                announce_kills(&shared, pod, &kill);
                stop_everything(&shared, pod, &kill, true).await;
                let rt = self.observe().await?;
                self.report(pod, &rt).await?;
                return Ok(Next::Idle);
            }
            SyncActions::AwaitSandboxRetry(left) => {
                self.report(pod, &rt).await?;
                return Ok(Next::After(left));
            }
            SyncActions::CreateSandbox {
                attempt,
                kill,
                replaces,
            } => {
                if replaces.is_some() && replaces != self.sandbox_announced {
                    self.sandbox_announced = replaces;
                    shared.recorder.emit(
                        pod,
                        None,
                        false,
                        "SandboxChanged",
                        "Pod sandbox changed, it will be killed and re-created.".into(),
                    );
                }
                if let Some(kill) = kill {
                    self.probes.clear();
                    stop_everything(&shared, pod, &kill, false).await;
                }
                let facts = &shared.facts;
                let dns = super::dns::pod_dns(pod, &facts.resolv_conf, &facts.cluster_dns);
                for (reason, message) in dns.warnings {
                    shared.recorder.emit(pod, None, true, reason, message);
                }
                let config = spec::sandbox_config(pod, attempt, &shared.facts);
                let _ = std::fs::create_dir_all(spec::log_directory(pod));
                let started = Instant::now();
                if let Err(e) = shared.runtime.run_pod_sandbox(config).await {
                    shared.recorder.emit(
                        pod,
                        None,
                        true,
                        "FailedCreatePodSandBox",
                        format!("Failed to create pod sandbox: {}", e.message()),
                    );
                    self.sandbox_retry = Some(Instant::now() + Duration::from_secs(5));
                    self.report(pod, &rt).await?;
                    return Ok(Next::After(Duration::from_secs(5)));
                }
                shared.metrics.sandbox_started();
                tracing::debug!(
                    "pod {}: sandbox ready in {:?}",
                    spec::name(pod),
                    started.elapsed()
                );
                rt = self.observe().await?;
                let Some(sandbox) = rt.ready_sandbox().cloned() else {
                    anyhow::bail!("the new sandbox is not ready");
                };
                let containers = self.decide(pod, &rt, |input| {
                    actions::container_actions(input, &sandbox)
                });
                tracing::debug!(actions = %containers, "in the new sandbox");
                containers
            }
        };
        let sandbox = &containers.sandbox;
        let hostname = spec::hostname(pod, &shared.facts.node_name);
        self.etc_hosts = if spec::host_network(pod) {
            None
        } else {
            Some(
                volumes::write_etc_hosts(&shared.pods_dir, pod, &sandbox.ips, &hostname)
                    .map_err(|e| anyhow::anyhow!("writing the pod's hosts file: {e}"))?,
            )
        };

        // The containers. A resize shows as in progress before it is applied.
        if containers
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::Resize { .. }))
        {
            self.report(pod, &rt).await?;
        }
        let mut next = Next::Idle;
        let mut changed = false;
        for step in &containers.steps {
            let (step_changed, wait) = self.act(pod, step, sandbox, &rt).await;
            changed |= step_changed;
            if let Some(wait) = wait {
                next = earliest(next, Next::After(wait));
            }
        }
        if changed {
            rt = self.observe().await?;
        }
        // Nothing left to run (run-to-completion, or a failed init container with Never):
        // release the sandbox's network as the kubelet does for a terminal pod.
        let reported = self.report(pod, &rt).await?;
        if matches!(reported.phase.as_deref(), Some("Succeeded" | "Failed")) {
            self.probes.clear();
            stop_everything(&shared, pod, &KillPod::of(pod, &rt), false).await;
            let rt = self.observe().await?;
            self.report(pod, &rt).await?;
            return Ok(Next::Idle);
        }
        // A resize waiting for room, or that failed to apply, is tried again.
        let deferred = self
            .resize
            .pending
            .as_ref()
            .is_some_and(|(reason, _)| reason == resize::DEFERRED);
        if deferred || self.resize.error.is_some() {
            next = earliest(next, Next::After(RESIZE_RETRY));
        }
        // Retry what may fix itself: a missing configMap or image (`kindling load docker-image`
        // after the pod was created), a failed create, the end of an image-pull back-off.
        if self.waiting.values().any(|(r, _)| {
            matches!(
                r.as_str(),
                "CreateContainerConfigError"
                    | "CreateContainerError"
                    | "RunContainerError"
                    | "ErrImagePull"
                    | "ErrImageNeverPull"
            )
        }) {
            next = earliest(next, Next::After(Duration::from_secs(2)));
        }
        if let Some(left) = self.retry_in.take() {
            next = earliest(next, Next::After(left + Duration::from_millis(50)));
        }
        Ok(next)
    }

    /// What the runtime holds of the pod, with the CPU and memory values this worker applied in
    /// place (the runtime may not report them).
    async fn observe(&mut self) -> Result<PodRuntime> {
        let mut rt = self.shared.runtime.pod(&self.uid).await?;
        self.applied
            .retain(|id, _| rt.containers.iter().any(|c| c.id == *id));
        for c in &mut rt.containers {
            if let Some(r) = self.applied.get(&c.id) {
                c.resources = Some(*r);
            }
        }
        Ok(rt)
    }

    /// The pod as this node allocated it (upstream's allocation manager): admitted with its
    /// spec's resources; a spec that changed since (a resize) is allocated when the node can fit
    /// it, else it waits as PodResizePending (Infeasible or Deferred).
    fn allocate(&mut self, pod: &Pod) -> Pod {
        let wanted = resize::allocation_of(pod);
        let finishing = pod.metadata.deletion_timestamp.is_some()
            || matches!(
                self.current_status(pod).phase.as_deref(),
                Some("Succeeded" | "Failed")
            );
        match &self.allocated {
            None => self.allocated = Some(wanted),
            Some(current) if *current == wanted => self.resize.pending = None,
            Some(_) if finishing => {}
            Some(_) => {
                let capacity = resize::Requests {
                    milli_cpu: i64::try_from(self.shared.node_cpus.saturating_mul(1000))
                        .unwrap_or(i64::MAX),
                    // The Node's allocatable memory, in whole Ki as the agent reports it.
                    memory: i64::try_from(self.shared.facts.memory_bytes / 1024 * 1024)
                        .unwrap_or(i64::MAX),
                };
                let others = self.shared.allocations.others(&self.uid);
                match resize::decide(resize::pod_requests(pod), others, capacity) {
                    resize::Decision::Allocate => {
                        tracing::info!("pod {}: resize allocated", spec::name(pod));
                        self.allocated = Some(wanted);
                        self.resize.pending = None;
                    }
                    resize::Decision::Pending { reason, message } => {
                        if self.resize.pending.as_ref().map(|(r, _)| r.as_str()) != Some(reason) {
                            tracing::info!("pod {}: resize {reason}: {message}", spec::name(pod));
                        }
                        self.resize.pending = Some((reason.to_string(), message));
                    }
                }
            }
        }
        let allocated = self.allocated.as_ref().map_or_else(
            || pod.clone(),
            |allocated| resize::with_allocation(pod, allocated),
        );
        if finishing {
            self.shared.allocations.release(&self.uid);
        } else {
            self.shared
                .allocations
                .set(&self.uid, resize::pod_requests(&allocated));
        }
        allocated
    }

    /// The pod's status as known best: the API object's, or the one this worker reported last
    /// if the watch has not delivered it yet.
    fn current_status(&self, pod: &Pod) -> PodStatus {
        match &self.reported {
            Some((s, at)) if *at > rv(pod) => s.clone(),
            _ => pod.status.clone().unwrap_or_default(),
        }
    }

    /// Computes the status and patches it when it differs from what the API has.
    async fn report(&mut self, pod: &Pod, rt: &PodRuntime) -> Result<PodStatus> {
        let mut basis = pod.clone();
        basis.status = Some(self.current_status(pod));
        let probes: HashMap<String, ProbeResults> = self
            .probes
            .iter()
            .map(|(id, p)| {
                let s = p.snapshot();
                (
                    id.clone(),
                    ProbeResults {
                        ready: s.ready,
                        started: s.started,
                    },
                )
            })
            .collect();
        let new = status::pod_status(
            &basis,
            &Observed {
                runtime: rt,
                waiting: &self.waiting,
                probes: &probes,
                node_ip: &self.shared.node_ip,
                start_time: self
                    .start_time
                    .clone()
                    .unwrap_or(Time(status::now_seconds())),
                now: status::now_seconds(),
                resize: &self.resize,
            },
        );
        let old = basis.status.clone().unwrap_or_default();
        // Upstream's pod start duration: first seen until first reported Running.
        if new.phase.as_deref() == Some("Running") && old.phase.as_deref() != Some("Running") {
            if let Some(seen) = self.first_seen.take() {
                self.shared.metrics.pod_started(seen.elapsed());
            }
        }
        let new_json = status::owned_json(&new);
        if new_json == status::owned_json(&old) {
            return Ok(new);
        }
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), spec::namespace(pod));
        let patch = serde_json::json!({"status": new_json});
        match api
            .patch_status(
                spec::name(pod),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(updated) if updated.metadata.uid.as_deref() == Some(self.uid.as_str()) => {
                let at = rv(&updated);
                self.reported = Some((updated.status.unwrap_or(new.clone()), at));
            }
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e).context("updating the pod status"),
        }
        Ok(new)
    }

    /// Sets up (or refreshes) the pod's volumes.
    async fn ensure_volumes(&mut self, pod: &Pod, rt: &PodRuntime) -> Result<(), String> {
        if let Some((_, at)) = &self.volumes {
            if at.elapsed() < VOLUME_REFRESH {
                return Ok(());
            }
        }
        let downward = self.downward(rt);
        let sources = ApiSources {
            client: self.shared.client.clone(),
            tokens: self.shared.tokens.clone(),
        };
        let v = volumes::prepare(&sources, pod, &downward, &self.shared.pods_dir).await?;
        self.volumes = Some((v, Instant::now()));
        Ok(())
    }

    fn downward(&self, rt: &PodRuntime) -> Downward {
        Downward {
            host_ip: self.shared.node_ip.clone(),
            pod_ips: rt
                .ready_sandbox()
                .map(|s| s.ips.clone())
                .unwrap_or_default(),
            node_cpus: self.shared.node_cpus,
            node_memory: self.shared.facts.memory_bytes,
        }
    }

    /// The decision `decide` makes from the pod, its runtime state `rt` and this worker's state.
    fn decide<T>(&self, pod: &Pod, rt: &PodRuntime, decide: impl FnOnce(&Input) -> T) -> T {
        let phase = self.current_status(pod).phase.unwrap_or_default();
        let probe_failures: HashMap<String, String> = self
            .probes
            .iter()
            .filter_map(|(id, p)| p.snapshot().failed.map(|m| (id.clone(), m)))
            .collect();
        let started: HashSet<String> = self
            .probes
            .iter()
            .filter(|(_, p)| p.snapshot().started)
            .map(|(id, _)| id.clone())
            .collect();
        decide(&Input {
            pod,
            runtime: rt,
            phase: &phase,
            probe_failures: &probe_failures,
            started: &started,
            crash_backoff: &self.crash_backoff,
            sandbox_retry: self
                .sandbox_retry
                .and_then(|at| at.checked_duration_since(Instant::now())),
            now: now_nanos(),
        })
    }

    /// The pod's start time is when this worker first synced it (unless being deleted).
    fn note_start(&mut self) {
        if self.start_time.is_none() {
            self.start_time = Some(Time(status::now_seconds()));
        }
    }

    /// Carries out one container step: whether the runtime changed, and how long a crash-loop
    /// back-off holds the container.
    async fn act(
        &mut self,
        pod: &Pod,
        step: &Step,
        sandbox: &SandboxInfo,
        rt: &PodRuntime,
    ) -> (bool, Option<Duration>) {
        let pod_spec = spec::spec(pod);
        let spec_container = match step.kind {
            Kind::Init => pod_spec
                .init_containers
                .iter()
                .flatten()
                .find(|c| c.name == step.container)
                .cloned(),
            Kind::App => pod_spec
                .containers
                .iter()
                .find(|c| c.name == step.container)
                .cloned(),
            Kind::Ephemeral => spec::ephemeral_containers(pod)
                .into_iter()
                .map(|(c, _)| c)
                .find(|c| c.name == step.container),
        };
        let Some(c) = &spec_container else {
            return (false, None);
        };
        let name = &step.container;
        match &step.action {
            Action::Keep { id } => {
                self.waiting.remove(name);
                self.ensure_probes(c, id, sandbox, pod);
            }
            Action::Kill { id, reason } => {
                self.probes.remove(id);
                self.shared
                    .recorder
                    .emit(pod, Some(name), false, "Killing", reason.message(name));
                self.kill(pod, name, id, grace_of(pod)).await;
                return (true, None);
            }
            Action::Restart { id, reason, start } => {
                self.probes.remove(id);
                self.shared
                    .recorder
                    .emit(pod, Some(name), false, "Killing", reason.message(name));
                self.kill(pod, name, id, grace_of(pod)).await;
                if let Some(restart) = &start.restart {
                    self.crash_backoff.next(name, restart.finished_at);
                }
                self.start(pod, c, step.kind, sandbox, rt, start).await;
                return (true, None);
            }
            Action::Resize { id, resources } => {
                self.waiting.remove(name);
                self.ensure_probes(c, id, sandbox, pod);
                let applied = self
                    .shared
                    .runtime
                    .update_container_resources(id, resources.to_cri())
                    .await;
                return match applied {
                    Ok(()) => {
                        tracing::info!("pod {}: resized container {name}", spec::name(pod));
                        self.applied.insert(id.clone(), *resources);
                        self.resize.error = None;
                        (true, None)
                    }
                    Err(e) => {
                        tracing::warn!(
                            "pod {}: resizing container {name}: {}",
                            spec::name(pod),
                            e.message()
                        );
                        self.resize.error = Some(e.message().to_string());
                        (false, Some(RESIZE_RETRY))
                    }
                };
            }
            Action::Replace { id, start } => {
                remove_container(self.shared.runtime.as_ref(), id).await;
                return (
                    self.start(pod, c, step.kind, sandbox, rt, start).await,
                    None,
                );
            }
            Action::Start(start) => {
                if let Some(restart) = &start.restart {
                    self.probes.remove(&restart.exited);
                    // Restarting now arms the next back-off.
                    self.crash_backoff.next(name, restart.finished_at);
                }
                return (
                    self.start(pod, c, step.kind, sandbox, rt, start).await,
                    None,
                );
            }
            Action::BackOff {
                exited,
                backoff,
                left,
            } => {
                self.probes.remove(exited);
                let message = format!(
                    "back-off {} restarting failed container={} pod={}_{}({})",
                    go_duration(*backoff),
                    name,
                    spec::name(pod),
                    spec::namespace(pod),
                    self.uid
                );
                self.waiting
                    .insert(name.clone(), ("CrashLoopBackOff".into(), message));
                if self.announced.insert(exited.clone()) {
                    self.shared.recorder.emit(
                        pod,
                        Some(name),
                        true,
                        "BackOff",
                        format!(
                            "Back-off restarting failed container {} in pod {}_{}({})",
                            name,
                            spec::name(pod),
                            spec::namespace(pod),
                            self.uid
                        ),
                    );
                }
                return (false, Some(*left));
            }
            Action::Done { exited } => {
                self.probes.remove(exited);
                self.waiting.remove(name);
            }
            // The status reports the pod Failed; the sync then releases its sandbox.
            Action::InitFailed { .. } => {}
        }
        (false, None)
    }

    /// The image of `c`, present locally or pulled: its ID, or the waiting reason and message.
    async fn ensure_image(&mut self, pod: &Pod, c: &Container) -> Result<String, (String, String)> {
        let image = c.image.clone().unwrap_or_default();
        if image.is_empty() {
            return Err((
                "InvalidImageName".into(),
                "the container has no image".into(),
            ));
        }
        let found = self
            .shared
            .runtime
            .image_status(&image)
            .await
            .map_err(|e| ("ErrImageInspect".to_string(), e.message().to_string()))?;
        if let Some(found) = found {
            // Present: used as is, also with `Always` (no registry is reachable to compare).
            self.pull_backoff.forget(&image);
            self.shared.recorder.emit(
                pod,
                Some(&c.name),
                false,
                "Pulled",
                format!("Container image \"{image}\" already present on machine"),
            );
            return Ok(found.id);
        }
        let policy = c.image_pull_policy.clone().unwrap_or_else(|| {
            let tag = image.rsplit('/').next().unwrap_or_default();
            if image.contains('@') || (tag.contains(':') && !tag.ends_with(":latest")) {
                "IfNotPresent".into()
            } else {
                "Always".into()
            }
        });
        if policy == "Never" {
            let message =
                format!("Container image \"{image}\" is not present with pull policy of Never");
            let already = self
                .waiting
                .get(&c.name)
                .is_some_and(|(r, _)| r == "ErrImageNeverPull");
            if !already {
                self.shared.recorder.emit(
                    pod,
                    Some(&c.name),
                    true,
                    "ErrImageNeverPull",
                    message.clone(),
                );
            }
            return Err(("ErrImageNeverPull".into(), message));
        }
        let now = now_nanos();
        if let Some(left) = self.pull_backoff.waiting(&image, now) {
            self.retry_in = Some(self.retry_in.map_or(left, |r| r.min(left)));
            let message = format!("Back-off pulling image \"{image}\"");
            return Err(("ImagePullBackOff".into(), message));
        }
        self.shared.recorder.emit(
            pod,
            Some(&c.name),
            false,
            "Pulling",
            format!("Pulling image \"{image}\""),
        );
        let started = Instant::now();
        let pulled =
            tokio::time::timeout(PULL_TIMEOUT, self.shared.runtime.pull_image(&image)).await;
        let error = match pulled {
            Ok(Ok(r)) => {
                self.shared.recorder.emit(
                    pod,
                    Some(&c.name),
                    false,
                    "Pulled",
                    format!(
                        "Successfully pulled image \"{image}\" in {:.3}s",
                        started.elapsed().as_secs_f64()
                    ),
                );
                return Ok(r);
            }
            Ok(Err(e)) => e.message().to_string(),
            Err(_) => format!(
                "pulling {image} timed out after {}s",
                PULL_TIMEOUT.as_secs()
            ),
        };
        self.pull_backoff.next(&image, now_nanos());
        self.shared.recorder.emit(
            pod,
            Some(&c.name),
            true,
            "Failed",
            format!("Failed to pull image \"{image}\": {error}"),
        );
        Err(("ErrImagePull".into(), error))
    }

    /// Creates and starts container `c` in `sandbox`; records why it waits when it cannot.
    /// Returns whether the runtime changed.
    async fn start(
        &mut self,
        pod: &Pod,
        c: &Container,
        kind: Kind,
        sandbox: &SandboxInfo,
        rt: &PodRuntime,
        plan: &Start,
    ) -> bool {
        let shared = self.shared.clone();
        let image_id = match self.ensure_image(pod, c).await {
            Ok(id) => id,
            Err((reason, message)) => {
                self.waiting.insert(c.name.clone(), (reason, message));
                return false;
            }
        };
        let downward = self.downward(rt);
        let sources = ApiSources {
            client: shared.client.clone(),
            tokens: shared.tokens.clone(),
        };
        let env = match env::resolve(&sources, pod, c, &downward).await {
            Ok(env) => env,
            Err(env::ConfigError(message)) => {
                self.fail(pod, c, "CreateContainerConfigError", message);
                return false;
            }
        };
        let empty = HashMap::new();
        let vols = self.volumes.as_ref().map_or(&empty, |(v, _)| v);
        let mounts = match volumes::mounts(c, vols, &env, self.etc_hosts.as_deref()) {
            Ok(m) => m,
            Err(message) => {
                self.fail(pod, c, "CreateContainerConfigError", message);
                return false;
            }
        };
        let image_user = if spec::group_without_user(pod, c) {
            Some(self.image_user(&image_id).await)
        } else {
            None
        };
        // An ephemeral container's target: the newest instance of the container it names.
        let target = match kind {
            Kind::Ephemeral => spec::ephemeral_containers(pod)
                .into_iter()
                .find(|(e, _)| e.name == c.name)
                .and_then(|(_, target)| target)
                .and_then(|t| rt.named(&t).next().map(|i| i.id.clone())),
            _ => None,
        };
        let config = spec::container_config(
            pod,
            c,
            spec::ContainerInputs {
                attempt: plan.attempt,
                kind,
                target,
                image_id,
                image_user,
                env,
                mounts,
            },
            &shared.facts,
        );
        let sandbox_config = spec::sandbox_config(pod, sandbox.attempt, &shared.facts);
        let created = shared
            .runtime
            .create_container(&sandbox.id, config, sandbox_config)
            .await;
        let id = match created {
            Ok(id) => id,
            Err(e) => {
                let message = e.message().to_string();
                self.fail(pod, c, "CreateContainerError", message);
                return false;
            }
        };
        shared.recorder.emit(
            pod,
            Some(&c.name),
            false,
            "Created",
            format!("Created container: {}", c.name),
        );
        if let Err(e) = shared.runtime.start_container(&id).await {
            let message = e.message().to_string();
            self.fail(pod, c, "RunContainerError", message);
            return true;
        }
        shared.metrics.container_started(match kind {
            Kind::Init => "init_container",
            Kind::Ephemeral => "ephemeral_container",
            Kind::App => "container",
        });
        shared.recorder.emit(
            pod,
            Some(&c.name),
            false,
            "Started",
            format!("Started container {}", c.name),
        );
        if let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
            if let Err(message) = self.post_start(pod, c, &id, sandbox, hook).await {
                self.waiting
                    .insert(c.name.clone(), ("PostStartHookError".into(), message));
                return true;
            }
        }
        self.waiting.remove(&c.name);
        // Keep the newest exited instance (lastState, `logs --previous`); older ones go.
        for old in &plan.prune {
            remove_container(shared.runtime.as_ref(), old).await;
        }
        true
    }

    /// Runs the postStart hook of the container just started (`id`); the pod's status is not
    /// reported before it ends, so the container shows Running only after it, as upstream. A
    /// failed hook kills the container (FailedPostStartHook), which restarts per the policy.
    async fn post_start(
        &mut self,
        pod: &Pod,
        c: &Container,
        id: &str,
        sandbox: &SandboxInfo,
        hook: &LifecycleHandler,
    ) -> Result<(), String> {
        let pod_ip = match sandbox.ips.first() {
            Some(ip) if !spec::host_network(pod) => ip.clone(),
            _ => self.shared.node_ip.clone(),
        };
        let target = lifecycle::HookTarget {
            runtime: self.shared.runtime.as_ref(),
            pod,
            container: c,
            container_id: id,
            pod_ip: &pod_ip,
        };
        let Err(message) = lifecycle::run(&target, hook, POST_START_TIMEOUT).await else {
            return Ok(());
        };
        let recorder = &self.shared.recorder;
        recorder.emit(
            pod,
            Some(&c.name),
            true,
            "FailedPostStartHook",
            message.clone(),
        );
        recorder.emit(
            pod,
            Some(&c.name),
            false,
            "Killing",
            "FailedPostStartHook".into(),
        );
        if let Err(e) = self.shared.runtime.stop_container(id, grace_of(pod)).await {
            tracing::warn!("stopping container {id}: {}", e.message());
        }
        Err(message)
    }

    /// The user image `image_id` runs as (root when the runtime does not say).
    async fn image_user(&self, image_id: &str) -> spec::ImageUser {
        let found = self
            .shared
            .runtime
            .image_status(image_id)
            .await
            .ok()
            .flatten();
        spec::ImageUser {
            uid: found.as_ref().and_then(|i| i.uid),
            username: found.map(|i| i.username).unwrap_or_default(),
        }
    }

    /// Records why container `c` waits, with a `Failed` event when that is news.
    fn fail(&mut self, pod: &Pod, c: &Container, reason: &str, message: String) {
        let same = self
            .waiting
            .get(&c.name)
            .is_some_and(|(r, m)| r == reason && *m == message);
        if !same {
            self.shared.recorder.emit(
                pod,
                Some(&c.name),
                true,
                "Failed",
                format!("Error: {message}"),
            );
        }
        self.waiting
            .insert(c.name.clone(), (reason.to_string(), message));
    }

    fn ensure_probes(&mut self, c: &Container, running: &str, sandbox: &SandboxInfo, pod: &Pod) {
        let has =
            c.liveness_probe.is_some() || c.readiness_probe.is_some() || c.startup_probe.is_some();
        if !has || self.probes.contains_key(running) {
            return;
        }
        let recorder = self.shared.recorder.clone();
        let pod_for_events = pod.clone();
        let name = c.name.clone();
        let on_failure: super::probes::OnFailure = Arc::new(move |kind: &str, message: String| {
            recorder.emit(
                &pod_for_events,
                Some(&name),
                true,
                "Unhealthy",
                format!("{kind} probe failed: {message}"),
            );
        });
        let target = Target {
            runtime: self.shared.runtime.clone(),
            container_id: running.to_string(),
            pod_ip: sandbox
                .ips
                .first()
                .cloned()
                .unwrap_or_else(|| self.shared.node_ip.clone()),
            container: c.clone(),
        };
        self.probes.insert(
            running.to_string(),
            ContainerProbes::start(target, self.wake.clone(), on_failure),
        );
    }

    async fn kill(&mut self, pod: &Pod, name: &str, id: &str, grace: i64) {
        let timeout = run_pre_stop(&self.shared, pod, name, id, grace).await;
        if let Err(e) = self.shared.runtime.stop_container(id, timeout).await {
            tracing::warn!("stopping container {id}: {}", e.message());
        }
    }

    /// Graceful deletion: preStop hooks and SIGTERM, SIGKILL after the grace period, the
    /// sandbox stopped and removed, then the pod object deleted for good.
    async fn terminate(&mut self, pod: &Pod, kill: &KillPod) -> Result<Next> {
        self.probes.clear();
        announce_kills(&self.shared, pod, kill);
        stop_everything(&self.shared, pod, kill, true).await;
        remove_pod(
            &self.shared,
            &self.uid,
            Duration::from_secs(kill.grace.max(0) as u64),
        )
        .await;
        let api: Api<Pod> = Api::namespaced(self.shared.client.clone(), spec::namespace(pod));
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(spec::name(pod), &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => return Err(e).context("deleting the pod"),
        }
        Ok(Next::Idle)
    }
}

fn earliest(a: Next, b: Next) -> Next {
    match (a, b) {
        (Next::After(x), Next::After(y)) => Next::After(x.min(y)),
        (Next::After(x), Next::Idle) | (Next::Idle, Next::After(x)) => Next::After(x),
        (Next::Idle, Next::Idle) => Next::Idle,
    }
}

/// The grace period left after a preStop hook, never under the kubelet's 2 s minimum.
const MINIMUM_GRACE: i64 = 2;

/// The pod's IP as the API has it (the node's for host-network pods): where httpGet hooks go.
fn pod_ip_of(shared: &Shared, pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .filter(|ip| !ip.is_empty() && !spec::host_network(pod))
        .unwrap_or_else(|| shared.node_ip.clone())
}

/// Runs container `c`'s preStop hook within `grace` seconds, with a FailedPreStopHook event
/// when it fails, and returns the grace period left for the container to stop (upstream
/// subtracts the hook's time).
async fn run_pre_stop(shared: &Shared, pod: &Pod, name: &str, id: &str, grace: i64) -> i64 {
    let Some((spec_c, _)) = spec::container(pod, name) else {
        return grace;
    };
    let Some(handler) = spec_c.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()) else {
        return grace;
    };
    if grace <= 0 {
        return grace;
    }
    let started = Instant::now();
    let pod_ip = pod_ip_of(shared, pod);
    let target = lifecycle::HookTarget {
        runtime: shared.runtime.as_ref(),
        pod,
        container: spec_c,
        container_id: id,
        pod_ip: &pod_ip,
    };
    let timeout = Duration::from_secs(grace as u64);
    if let Err(message) = lifecycle::run(&target, handler, timeout).await {
        shared
            .recorder
            .emit(pod, Some(name), true, "FailedPreStopHook", message);
    }
    (grace - started.elapsed().as_secs() as i64).max(MINIMUM_GRACE)
}

async fn remove_container(runtime: &dyn Runtime, id: &str) {
    if let Err(e) = runtime.remove_container(id).await {
        tracing::debug!("removing container {id}: {}", e.message());
    }
}

/// A Killing event for each running container of `kill`.
fn announce_kills(shared: &Shared, pod: &Pod, kill: &KillPod) {
    for c in kill.all().filter(|c| c.running) {
        shared.recorder.emit(
            pod,
            Some(&c.name),
            false,
            "Killing",
            format!("Stopping container {}", c.name),
        );
    }
}

/// Stops the pod's running containers, then its ready sandboxes (which releases the pod IP), in
/// upstream's termination order: preStop hooks (when `graceful`) all at once, the app containers
/// stopped together, then each sidecar once everything defined after it stopped, the last one
/// first — all within the one grace period (never less than the minimum each).
async fn stop_everything(shared: &Shared, pod: &Pod, kill: &KillPod, graceful: bool) {
    let grace = kill.grace;
    let began = Instant::now();
    let stop = |c: &ContainerRef, timeout: i64| {
        let id = c.id.clone();
        async move {
            if let Err(e) = shared.runtime.stop_container(&id, timeout).await {
                tracing::warn!("stopping container {id}: {}", e.message());
            }
        }
    };
    let pre_stop = |c: &ContainerRef| {
        let (name, id) = (c.name.clone(), c.id.clone());
        async move {
            if graceful {
                run_pre_stop(shared, pod, &name, &id, grace).await
            } else {
                grace
            }
        }
    };
    let app = kill.containers.iter().map(|c| async move {
        let timeout = pre_stop(c).await;
        stop(c, timeout).await;
    });
    let sidecar_hooks = kill.sidecars.iter().map(pre_stop);
    futures::future::join(
        futures::future::join_all(app),
        futures::future::join_all(sidecar_hooks),
    )
    .await;
    for c in &kill.sidecars {
        let spent = i64::try_from(began.elapsed().as_secs()).unwrap_or(i64::MAX);
        let left = if grace > 0 {
            grace.saturating_sub(spent).max(MINIMUM_GRACE)
        } else {
            grace
        };
        stop(c, left).await;
    }
    for id in &kill.sandboxes {
        if let Err(e) = shared.runtime.stop_pod_sandbox(id).await {
            tracing::warn!("stopping sandbox {id}: {}", e.message());
        }
    }
}

/// Removes everything of pod `uid` from the node: containers (stopped within `grace`),
/// sandboxes, volumes, cgroups. Used after deletion and for orphans.
pub async fn remove_pod(shared: &Shared, uid: &str, grace: Duration) {
    let rt = match shared.runtime.pod(uid).await {
        Ok(rt) => rt,
        Err(e) => {
            tracing::warn!("listing pod {uid} for removal: {e:#}");
            return;
        }
    };
    let stops = rt
        .containers
        .iter()
        .filter(|c| matches!(c.state, State::Running | State::Created))
        .map(|c| async move {
            let _ = shared
                .runtime
                .stop_container(&c.id, grace.as_secs() as i64)
                .await;
        });
    futures::future::join_all(stops).await;
    let mut cgroup_parent = None;
    for s in &rt.sandboxes {
        if cgroup_parent.is_none() {
            cgroup_parent = shared.runtime.sandbox_cgroup_parent(&s.id).await;
        }
        let _ = shared.runtime.stop_pod_sandbox(&s.id).await;
        if let Err(e) = shared.runtime.remove_pod_sandbox(&s.id).await {
            tracing::warn!("removing sandbox {}: {}", s.id, e.message());
        }
    }
    volumes::cleanup(&shared.pods_dir, uid);
    shared.tokens.forget_pod(uid);
    if let Some(parent) = cgroup_parent {
        cgroup::remove(&parent);
    }
}
