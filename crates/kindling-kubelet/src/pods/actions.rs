//! What to do for a pod, as a pure function of what is wanted and what is: upstream's
//! `computePodActions` (pkg/kubelet/kuberuntime/kuberuntime_manager.go). The inputs are the Pod
//! (as this node allocated it: `resize.rs`), the runtime's state of it ([`PodRuntime`]) and what
//! the worker knows besides (its crash-loop back-offs, the probes that gave up or passed, a
//! failed sandbox creation's retry time, the clock); the output is a [`PodActions`] value. The
//! worker (`worker.rs`) carries it out through the `Runtime` trait, records the events and
//! reports the status. No IO and no clock here: the tests below run without containerd.
//!
//! The order of a decision: a pod being deleted is killed within its grace period (app
//! containers first, then sidecars in reverse order); a pod the API has finished only has its
//! sandbox stopped; otherwise the sandbox is (re)created when it is not usable (unless nothing
//! would run in a new one), then the init containers run in order: a run-once init container
//! must succeed before the next starts, a sidecar (`restartPolicy: Always`, KEP-753) must be
//! started (running, and its startup probe passed) and is then kept running beside everything
//! after it, restarted with back-off whatever the pod's restart policy. Then every app
//! container is kept, started, restarted (restart policy, crash-loop back-off), resized in
//! place (KEP-1287) or killed (a changed definition, a failed liveness or startup probe, a
//! resize whose policy restarts it). Once every app container is done for good, what still runs
//! (the sidecars) is stopped: sidecars never keep a pod from completing. Ephemeral containers
//! (`kubectl debug`) start as soon as they appear in the spec — ahead of the init containers,
//! as upstream's SyncPod starts them — and once one ran it is never run again.

use super::backoff::{go_duration, Backoff};
use super::resize::{self, ResizeAction};
use super::spec::{self, Kind};
use super::status;
use crate::runtime::{ContainerInfo, LinuxResources, PodRuntime, SandboxInfo, State};
use k8s_openapi::api::core::v1::{Container, Pod};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

/// What a decision depends on besides the pod.
pub struct Input<'a> {
    /// The pod, with its containers' resources as this node allocated them.
    pub pod: &'a Pod,
    pub runtime: &'a PodRuntime,
    /// The pod's phase as known best (the API's, or the one the worker reported last).
    pub phase: &'a str,
    /// Running containers (by ID) whose liveness or startup probe gave up, with the message.
    pub probe_failures: &'a HashMap<String, String>,
    /// Running containers (by ID) whose startup probe passed.
    pub started: &'a HashSet<String>,
    /// The crash-loop back-off of each container, by container name.
    pub crash_backoff: &'a Backoff,
    /// How long a failed RunPodSandbox still holds off the next one.
    pub sandbox_retry: Option<Duration>,
    /// Now, in nanoseconds since the epoch (the back-off's clock).
    pub now: i64,
}

/// What to do for a pod.
#[derive(Clone, Debug, PartialEq)]
pub enum PodActions {
    /// The pod is being deleted: stop everything (preStop hooks first) within the grace period,
    /// remove it from the node, delete the object for good.
    Terminate(KillPod),
    /// The API has the pod finished: stop what still runs, if its sandbox is still ready.
    Finished(Option<KillPod>),
    /// The pod should run: its volumes are set up, then this.
    Sync(SyncActions),
}

#[derive(Clone, Debug, PartialEq)]
pub enum SyncActions {
    /// Every app container is done for good (or, without a usable sandbox, nothing would run in
    /// a new one): stop what is left — sidecars, the sandbox.
    StopFinished(KillPod),
    /// No usable sandbox, but a RunPodSandbox failed lately: wait this long.
    AwaitSandboxRetry(Duration),
    /// No usable sandbox: kill the pod (when it has sandboxes at all) and run sandbox `attempt`.
    /// The containers are decided again in the new sandbox ([`container_actions`]).
    CreateSandbox {
        attempt: u32,
        kill: Option<KillPod>,
        /// The newest sandbox, which the new one replaces (a SandboxChanged event names it).
        replaces: Option<String>,
    },
    /// The sandbox is usable: act on the containers.
    Containers(ContainerActions),
}

/// Everything of a pod to stop: its running (or created) containers — app and run-once init
/// containers together, then sidecars one after the other in reverse order of definition,
/// within the same grace period (upstream's termination ordering) — then its ready sandboxes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KillPod {
    /// Seconds the containers get to stop (the deletion's grace period, else the pod's).
    pub grace: i64,
    pub containers: Vec<ContainerRef>,
    /// Sidecars, in the order they stop (the last defined first).
    pub sidecars: Vec<ContainerRef>,
    pub sandboxes: Vec<String>,
}

/// A container to stop.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerRef {
    pub id: String,
    pub name: String,
    /// Running (rather than created and never started): a Killing event announces it.
    pub running: bool,
}

/// The container steps in a usable sandbox, in order: the init containers' (the next one to
/// run; sidecars already started are kept), then, once initialized, every app container's in
/// the spec's order.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerActions {
    pub sandbox: SandboxInfo,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The container's name in the spec.
    pub container: String,
    pub kind: Kind,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Running as it should: keep it (its probes run, it waits for nothing).
    Keep { id: String },
    /// Kill it; the restart policy decides on it once it exited.
    Kill { id: String, reason: KillReason },
    /// Kill it and start the next instance at once, whatever the restart policy.
    Restart {
        id: String,
        reason: KillReason,
        start: Start,
    },
    /// Running with other CPU or memory values than allocated: apply these in place.
    Resize {
        id: String,
        resources: LinuxResources,
    },
    /// Created but never started (the agent stopped half-way): remove it, start another.
    Replace { id: String, start: Start },
    /// Start a new instance.
    Start(Start),
    /// Exited; the policy restarts it once its crash-loop back-off ends.
    BackOff {
        exited: String,
        /// The back-off it waits out (shown in the CrashLoopBackOff message).
        backoff: Duration,
        /// How long it still waits (a little more, so the next sync finds it over).
        left: Duration,
    },
    /// Exited, and the policy does not restart it.
    Done { exited: String },
    /// An init container that failed for good: the pod fails.
    InitFailed { exited: String },
}

#[derive(Clone, Debug, PartialEq)]
pub enum KillReason {
    /// The spec's hash differs from the running container's.
    DefinitionChanged,
    /// A liveness or startup probe gave up (its message).
    ProbeFailed(String),
    /// A resize of a resource whose resize policy is RestartContainer.
    ResizeRestart,
}

impl KillReason {
    /// The Killing event's message for container `name`.
    pub fn message(&self, name: &str) -> String {
        match self {
            KillReason::DefinitionChanged => {
                format!("Container {name} definition changed, will be restarted")
            }
            KillReason::ProbeFailed(message) => message.clone(),
            KillReason::ResizeRestart => format!("Container {name} resize requires restart"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Start {
    pub attempt: u32,
    /// The exited instance it restarts, if any.
    pub restart: Option<Restart>,
    /// Older exited instances, removed once the new one runs (the newest exited one stays, for
    /// lastState and `logs --previous`).
    pub prune: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Restart {
    pub exited: String,
    /// When it exited (now when the runtime does not say): the next back-off counts from it.
    pub finished_at: i64,
}

/// The decision for the pod.
pub fn compute_pod_actions(input: &Input) -> PodActions {
    let (pod, rt) = (input.pod, input.runtime);
    if pod.metadata.deletion_timestamp.is_some() {
        return PodActions::Terminate(KillPod::of(pod, rt));
    }
    if matches!(input.phase, "Succeeded" | "Failed") {
        return PodActions::Finished(rt.ready_sandbox().map(|_| KillPod::of(pod, rt)));
    }
    let host_network = spec::host_network(pod);
    let usable = rt
        .ready_sandbox()
        .filter(|s| host_network || !s.ips.is_empty());
    let sync = match usable {
        Some(sandbox) => {
            let actions = container_actions(input, sandbox);
            if actions.app_containers_done(pod) {
                SyncActions::StopFinished(KillPod::of(pod, rt))
            } else {
                SyncActions::Containers(actions)
            }
        }
        None if !rt.sandboxes.is_empty() && pod_finished(pod, rt) => {
            SyncActions::StopFinished(KillPod::of(pod, rt))
        }
        None => match input.sandbox_retry {
            Some(left) => SyncActions::AwaitSandboxRetry(left),
            None => SyncActions::CreateSandbox {
                attempt: rt
                    .sandboxes
                    .iter()
                    .map(|s| s.attempt + 1)
                    .max()
                    .unwrap_or(0),
                kill: (!rt.sandboxes.is_empty()).then(|| KillPod::of(pod, rt)),
                replaces: rt.sandboxes.first().map(|s| s.id.clone()),
            },
        },
    };
    PodActions::Sync(sync)
}

/// The container steps in `sandbox`: init containers in order (a run-once one until it
/// succeeded, a sidecar until it started), then every app container.
pub fn container_actions(input: &Input, sandbox: &SandboxInfo) -> ContainerActions {
    let (pod, rt) = (input.pod, input.runtime);
    let pod_spec = spec::spec(pod);
    let inits: Vec<&Container> = pod_spec.init_containers.iter().flatten().collect();
    let in_sandbox = |name: &str| rt.latest_in(name, &sandbox.id);
    // Whether something defined after init container `i` ran in this sandbox: the pod got past
    // `i` once (upstream's "previously initialized"), so a run-once init container is not run
    // again and a sidecar restarting does not hold the others back.
    let app_ran = pod_spec
        .containers
        .iter()
        .any(|c| in_sandbox(&c.name).is_some());
    let got_past =
        |i: usize| app_ran || inits[i + 1..].iter().any(|c| in_sandbox(&c.name).is_some());
    // Ephemeral containers that never ran start now, whatever the init containers do.
    let mut steps: Vec<Step> = spec::ephemeral_containers(pod)
        .into_iter()
        .filter(|(c, _)| rt.named(&c.name).next().is_none())
        .map(|(c, _)| Step {
            action: Action::Start(start(rt, &c.name, None)),
            container: c.name,
            kind: Kind::Ephemeral,
        })
        .collect();
    let mut initialized = true;
    for (i, c) in inits.iter().enumerate() {
        let step = |action| Step {
            container: c.name.clone(),
            kind: Kind::Init,
            action,
        };
        let latest = in_sandbox(&c.name);
        if spec::is_sidecar(c) {
            // Started in order, then kept running beside everything after it.
            let (action, started) = match latest {
                Some(l) if l.state == State::Running => (
                    running_action(input, c, l),
                    c.startup_probe.is_none() || input.started.contains(&l.id),
                ),
                Some(l) if l.state == State::Created => (
                    Action::Replace {
                        id: l.id.clone(),
                        start: start(rt, &c.name, None),
                    },
                    false,
                ),
                // Exited: a sidecar restarts whatever the pod's restart policy.
                Some(l) => (restart_or_back_off(input, &c.name, l), false),
                None => (Action::Start(start(rt, &c.name, None)), false),
            };
            steps.push(step(action));
            if !started && !got_past(i) {
                initialized = false;
                break;
            }
            continue;
        }
        if got_past(i) {
            continue;
        }
        match latest {
            Some(l) if l.state == State::Exited && l.exit_code == 0 => continue,
            // Running (or about to): wait for it.
            Some(l) if matches!(l.state, State::Running | State::Created) => {}
            Some(l) if status::should_restart(pod, c, Some(l), true) => {
                steps.push(step(restart_or_back_off(input, &c.name, l)));
            }
            Some(l) => steps.push(step(Action::InitFailed {
                exited: l.id.clone(),
            })),
            None => steps.push(step(Action::Start(start(rt, &c.name, None)))),
        }
        initialized = false;
        break;
    }
    if initialized {
        for c in &pod_spec.containers {
            let action = match in_sandbox(&c.name) {
                Some(l) if l.state == State::Running => running_action(input, c, l),
                Some(l) if l.state == State::Created => Action::Replace {
                    id: l.id.clone(),
                    start: start(rt, &c.name, None),
                },
                Some(l) if status::should_restart(pod, c, Some(l), false) => {
                    restart_or_back_off(input, &c.name, l)
                }
                Some(l) => Action::Done {
                    exited: l.id.clone(),
                },
                None => Action::Start(start(rt, &c.name, None)),
            };
            steps.push(Step {
                container: c.name.clone(),
                kind: Kind::App,
                action,
            });
        }
    }
    ContainerActions {
        sandbox: sandbox.clone(),
        steps,
    }
}

/// For a running container (app or sidecar): keep it, kill it (a changed definition, a probe
/// that gave up), or resize it (in place, or by a restart when its resize policy says so).
fn running_action(input: &Input, c: &Container, l: &ContainerInfo) -> Action {
    if l.hash != spec::container_hash(c) {
        return Action::Kill {
            id: l.id.clone(),
            reason: KillReason::DefinitionChanged,
        };
    }
    if let Some(message) = input.probe_failures.get(&l.id) {
        return Action::Kill {
            id: l.id.clone(),
            reason: KillReason::ProbeFailed(message.clone()),
        };
    }
    match resize::resize_action(c, l) {
        None => Action::Keep { id: l.id.clone() },
        Some(ResizeAction::InPlace(resources)) => Action::Resize {
            id: l.id.clone(),
            resources,
        },
        Some(ResizeAction::Restart) => {
            let rt = input.runtime;
            Action::Restart {
                id: l.id.clone(),
                reason: KillReason::ResizeRestart,
                start: Start {
                    attempt: rt.next_attempt(&c.name),
                    restart: Some(Restart {
                        exited: l.id.clone(),
                        finished_at: input.now,
                    }),
                    // The killed instance becomes the newest exited one: the older ones go.
                    prune: rt
                        .named(&c.name)
                        .filter(|c| c.state == State::Exited)
                        .map(|c| c.id.clone())
                        .collect(),
                },
            }
        }
    }
}

/// For an exited container the policy restarts: restart it now, or wait out its back-off.
fn restart_or_back_off(input: &Input, name: &str, last: &ContainerInfo) -> Action {
    let now = input.now;
    let finished_at = if last.finished_at > 0 {
        last.finished_at
    } else {
        now
    };
    let backoff = input.crash_backoff;
    if backoff.in_backoff_since(name, finished_at, now) {
        return Action::BackOff {
            exited: last.id.clone(),
            backoff: backoff.get(name).unwrap_or_default(),
            left: backoff.remaining(name, finished_at, now) + Duration::from_millis(50),
        };
    }
    let restart = Restart {
        exited: last.id.clone(),
        finished_at,
    };
    Action::Start(start(input.runtime, name, Some(restart)))
}

fn start(rt: &PodRuntime, name: &str, restart: Option<Restart>) -> Start {
    Start {
        attempt: rt.next_attempt(name),
        restart,
        prune: rt
            .named(name)
            .filter(|c| c.state == State::Exited)
            .skip(1)
            .map(|c| c.id.clone())
            .collect(),
    }
}

impl ContainerActions {
    /// Whether the pod got past its init containers and every app container is done for good
    /// (exited, and its restart policy does not restart it): the pod completed, whatever its
    /// sidecars do.
    fn app_containers_done(&self, pod: &Pod) -> bool {
        let app: Vec<&Step> = self.steps.iter().filter(|s| s.kind == Kind::App).collect();
        !app.is_empty()
            && app.len() == spec::spec(pod).containers.len()
            && app.iter().all(|s| matches!(s.action, Action::Done { .. }))
    }
}

impl KillPod {
    /// Everything of the pod that runs (or was created), and its ready sandboxes.
    pub fn of(pod: &Pod, rt: &PodRuntime) -> KillPod {
        let order: HashMap<&str, usize> = spec::sidecars(pod)
            .map(|(i, c)| (c.name.as_str(), i))
            .collect();
        let (mut sidecars, containers): (Vec<ContainerRef>, Vec<ContainerRef>) = rt
            .containers
            .iter()
            .filter(|c| matches!(c.state, State::Running | State::Created))
            .map(|c| ContainerRef {
                id: c.id.clone(),
                name: c.name.clone(),
                running: c.state == State::Running,
            })
            .partition(|c| order.contains_key(c.name.as_str()));
        sidecars.sort_by_key(|c| std::cmp::Reverse(order.get(c.name.as_str()).copied()));
        KillPod {
            grace: pod
                .metadata
                .deletion_grace_period_seconds
                .unwrap_or_else(|| grace_of(pod)),
            containers,
            sidecars,
            sandboxes: rt
                .sandboxes
                .iter()
                .filter(|s| s.ready)
                .map(|s| s.id.clone())
                .collect(),
        }
    }

    /// Every container to stop, app containers first.
    pub fn all(&self) -> impl Iterator<Item = &ContainerRef> {
        self.containers.iter().chain(&self.sidecars)
    }
}

/// The pod's termination grace period (30 s unless the spec says).
pub fn grace_of(pod: &Pod) -> i64 {
    spec::spec(pod)
        .termination_grace_period_seconds
        .unwrap_or(30)
        .max(0)
}

/// Whether every container of the pod is done for good (nothing would run in a new sandbox).
fn pod_finished(pod: &Pod, rt: &PodRuntime) -> bool {
    let spec = spec::spec(pod);
    let policy = spec.restart_policy.as_deref().unwrap_or("Always");
    if policy == "Always" {
        return false;
    }
    for c in spec.init_containers.iter().flatten() {
        if spec::is_sidecar(c) {
            continue;
        }
        if let Some(l) = rt.named(&c.name).next() {
            if l.state == State::Exited && l.exit_code != 0 && policy == "Never" {
                return true;
            }
        }
    }
    spec.containers.iter().all(|c| {
        let latest = rt.named(&c.name).next();
        latest.is_some_and(|l| l.state == State::Exited)
            && !status::should_restart(pod, c, latest, false)
    })
}

impl fmt::Display for PodActions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PodActions::Terminate(kill) => write!(f, "terminate: {kill}"),
            PodActions::Finished(None) => write!(f, "finished"),
            PodActions::Finished(Some(kill)) => write!(f, "finished: {kill}"),
            PodActions::Sync(sync) => sync.fmt(f),
        }
    }
}

impl fmt::Display for SyncActions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncActions::StopFinished(kill) => write!(f, "done for good: {kill}"),
            SyncActions::AwaitSandboxRetry(left) => write!(f, "sandbox retry in {left:?}"),
            SyncActions::CreateSandbox {
                attempt,
                kill,
                replaces,
            } => {
                write!(f, "create sandbox attempt {attempt}")?;
                if let Some(old) = replaces {
                    write!(f, " replacing {old}")?;
                }
                if let Some(kill) = kill {
                    write!(f, " after {kill}")?;
                }
                Ok(())
            }
            SyncActions::Containers(c) => c.fmt(f),
        }
    }
}

impl fmt::Display for KillPod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids = |list: &[ContainerRef]| {
            list.iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "stop [{}]", ids(&self.containers))?;
        if !self.sidecars.is_empty() {
            write!(f, " then sidecars [{}]", ids(&self.sidecars))?;
        }
        write!(
            f,
            " and sandboxes [{}] within {}s",
            self.sandboxes.join(", "),
            self.grace
        )
    }
}

impl fmt::Display for ContainerActions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "in {}:", self.sandbox.id)?;
        if self.steps.is_empty() {
            return write!(f, " wait");
        }
        for (i, step) in self.steps.iter().enumerate() {
            write!(f, "{} {step}", if i == 0 { "" } else { ";" })?;
        }
        Ok(())
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.kind {
            Kind::Init => format!("init {}", self.container),
            Kind::Ephemeral => format!("ephemeral {}", self.container),
            Kind::App => self.container.clone(),
        };
        match &self.action {
            Action::Keep { .. } => write!(f, "keep {name}"),
            Action::Kill { id, reason } => match reason {
                KillReason::DefinitionChanged => write!(f, "kill {name} {id} (definition changed)"),
                KillReason::ProbeFailed(m) => write!(f, "kill {name} {id} ({m})"),
                KillReason::ResizeRestart => write!(f, "kill {name} {id} (resize)"),
            },
            Action::Restart { id, reason, start } => {
                let why = match reason {
                    KillReason::DefinitionChanged => "definition changed".to_string(),
                    KillReason::ProbeFailed(m) => m.clone(),
                    KillReason::ResizeRestart => "resize".to_string(),
                };
                write!(f, "kill {name} {id} ({why}), then {start}")
            }
            Action::Resize { id, resources: r } => write!(
                f,
                "resize {name} {id} to cpu shares {} quota {}/{} memory {}",
                r.cpu_shares, r.cpu_quota, r.cpu_period, r.memory_limit
            ),
            Action::Replace { id, start } => write!(f, "replace {name} {id}: {start}"),
            Action::Start(start) => write!(f, "{name} {start}"),
            Action::BackOff { backoff, left, .. } => write!(
                f,
                "back off {name} ({}, {left:?} left)",
                go_duration(*backoff)
            ),
            Action::Done { .. } => write!(f, "{name} done"),
            Action::InitFailed { .. } => write!(f, "{name} failed for good"),
        }
    }
}

impl fmt::Display for Start {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.restart {
            Some(r) => write!(f, "restart {} as attempt {}", r.exited, self.attempt)?,
            None => write!(f, "start attempt {}", self.attempt)?,
        }
        if !self.prune.is_empty() {
            write!(f, ", then remove [{}]", self.prune.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const S: i64 = 1_000_000_000;
    /// The tests' clock: some time after the epoch.
    const NOW: i64 = 1_000_000 * S;

    fn pod(spec: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": spec,
        }))
        .unwrap()
    }

    /// A pod with these init containers and containers (busybox, no command) and this policy.
    fn with(init: &[&str], containers: &[&str], policy: &str) -> Pod {
        let list = |names: &[&str]| {
            names
                .iter()
                .map(|n| json!({"name": n, "image": "busybox"}))
                .collect::<Vec<_>>()
        };
        pod(json!({
            "restartPolicy": policy,
            "initContainers": list(init),
            "containers": list(containers),
        }))
    }

    /// Like [`with`], but init containers named `side…` are sidecars (`restartPolicy: Always`).
    fn with_sidecars(init: &[&str], containers: &[&str], policy: &str) -> Pod {
        let c = |n: &&str| json!({"name": n, "image": "busybox"});
        let init: Vec<Value> = init
            .iter()
            .map(|n| {
                let mut v = c(n);
                if n.starts_with("side") {
                    v["restartPolicy"] = json!("Always");
                }
                v
            })
            .collect();
        pod(json!({
            "restartPolicy": policy,
            "initContainers": init,
            "containers": containers.iter().map(c).collect::<Vec<_>>(),
        }))
    }

    fn sandbox(id: &str, attempt: u32, ready: bool) -> SandboxInfo {
        SandboxInfo {
            id: id.into(),
            attempt,
            ready,
            created_at: i64::from(attempt),
            ips: if ready {
                vec!["10.244.1.5".into()]
            } else {
                vec![]
            },
        }
    }

    /// Container `name` of `pod` (its current hash) in sandbox `sandbox`: `state` is `running`,
    /// `created`, or `exited:<code>` (finished 30 s ago).
    fn container(pod: &Pod, id: &str, sandbox: &str, attempt: u32, state: &str) -> ContainerInfo {
        let name = id.split('-').next().unwrap();
        let s = spec::spec(pod);
        let ephemeral: Vec<Container> = spec::ephemeral_containers(pod)
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        let (c, init) = match s.containers.iter().find(|c| c.name == name) {
            Some(c) => (c.clone(), false),
            None => match s.init_containers.iter().flatten().find(|c| c.name == name) {
                Some(c) => (c.clone(), true),
                None => (
                    ephemeral
                        .into_iter()
                        .find(|c| c.name == name)
                        .expect("a container of the pod"),
                    false,
                ),
            },
        };
        let (state, exit_code, finished_at) = match state.split_once(':') {
            Some(("exited", code)) => (State::Exited, code.parse().unwrap(), NOW - 30 * S),
            _ if state == "running" => (State::Running, 0, 0),
            _ if state == "created" => (State::Created, 0, 0),
            _ => panic!("state {state}"),
        };
        ContainerInfo {
            id: id.into(),
            sandbox_id: sandbox.into(),
            name: name.into(),
            attempt,
            init,
            hash: spec::container_hash(&c),
            state,
            created_at: i64::from(attempt),
            started_at: 0,
            finished_at,
            exit_code,
            reason: String::new(),
            message: String::new(),
            image: "busybox".into(),
            image_ref: String::new(),
            resources: Some(spec::cgroup_values(&c)),
        }
    }

    fn runtime(sandboxes: Vec<SandboxInfo>, mut containers: Vec<ContainerInfo>) -> PodRuntime {
        containers.sort_by_key(|c| std::cmp::Reverse((c.attempt, c.created_at)));
        PodRuntime {
            sandboxes,
            containers,
        }
    }

    /// One case of the table: the pod, what the runtime has, the worker's state, the decision.
    struct Case {
        name: &'static str,
        pod: Pod,
        runtime: PodRuntime,
        phase: &'static str,
        probe_failures: Vec<(&'static str, &'static str)>,
        /// Containers whose startup probe passed.
        started: Vec<&'static str>,
        /// Restarts already made: (container, when), each arming the back-off.
        restarts: Vec<(&'static str, i64)>,
        sandbox_retry: Option<Duration>,
        want: &'static str,
    }

    fn case(name: &'static str, pod: Pod, runtime: PodRuntime, want: &'static str) -> Case {
        Case {
            name,
            pod,
            runtime,
            phase: "Pending",
            probe_failures: vec![],
            started: vec![],
            restarts: vec![],
            sandbox_retry: None,
            want,
        }
    }

    fn decide(c: &Case) -> PodActions {
        let mut backoff = Backoff::default();
        for (key, at) in &c.restarts {
            backoff.next(key, *at);
        }
        let failures: HashMap<String, String> = c
            .probe_failures
            .iter()
            .map(|(id, m)| (id.to_string(), m.to_string()))
            .collect();
        let started: HashSet<String> = c.started.iter().map(ToString::to_string).collect();
        compute_pod_actions(&Input {
            pod: &c.pod,
            runtime: &c.runtime,
            phase: c.phase,
            probe_failures: &failures,
            started: &started,
            crash_backoff: &backoff,
            sandbox_retry: c.sandbox_retry,
            now: NOW,
        })
    }

    fn cases() -> Vec<Case> {
        let one = with(&[], &["c"], "Always");
        let two = with(&[], &["a", "b"], "Always");
        let inits = with(&["i0", "i1"], &["c"], "Always");
        let inits_never = with(&["i0", "i1"], &["c"], "Never");
        let on_failure = with(&[], &["c"], "OnFailure");
        let never = with(&[], &["c"], "Never");
        let s1 = || sandbox("s1", 0, true);
        let mut deleting = one.clone();
        deleting.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
        );
        deleting.metadata.deletion_grace_period_seconds = Some(5);
        let mut deleting_default = deleting.clone();
        deleting_default.metadata.deletion_grace_period_seconds = None;
        deleting_default
            .spec
            .as_mut()
            .unwrap()
            .termination_grace_period_seconds = Some(7);
        let host_network = pod(json!({"hostNetwork": true,
            "containers": [{"name": "c", "image": "busybox"}]}));
        let mut changed = container(&one, "c-0", "s1", 0, "running");
        changed.hash = "stale".into();

        vec![
            case("a new pod gets a sandbox", one.clone(), runtime(vec![], vec![]),
                "create sandbox attempt 0"),
            case("a ready sandbox without containers starts init container 0", inits.clone(),
                runtime(vec![s1()], vec![]),
                "in s1: init i0 start attempt 0"),
            case("without init containers every container starts, in order", two.clone(),
                runtime(vec![s1()], vec![]),
                "in s1: a start attempt 0; b start attempt 0"),
            case("init containers run one at a time", inits.clone(),
                runtime(vec![s1()], vec![container(&inits, "i0-0", "s1", 0, "exited:0")]),
                "in s1: init i1 start attempt 0"),
            case("a running init container is waited for", inits.clone(),
                runtime(vec![s1()], vec![container(&inits, "i0-0", "s1", 0, "running")]),
                "in s1: wait"),
            case("a failed init container with Never fails the pod", inits_never.clone(),
                runtime(vec![s1()], vec![container(&inits_never, "i0-0", "s1", 0, "exited:1")]),
                "in s1: init i0 failed for good"),
            case("a failed init container with Always runs again", inits.clone(),
                runtime(vec![s1()], vec![container(&inits, "i0-0", "s1", 0, "exited:1")]),
                "in s1: init i0 restart i0-0 as attempt 1"),
            case("once init containers are done every container starts", inits.clone(),
                runtime(vec![s1()], vec![
                    container(&inits, "i0-0", "s1", 0, "exited:0"),
                    container(&inits, "i1-0", "s1", 0, "exited:0"),
                ]),
                "in s1: c start attempt 0"),
            case("a running container as specified is kept", one.clone(),
                runtime(vec![s1()], vec![container(&one, "c-0", "s1", 0, "running")]),
                "in s1: keep c"),
            case("an exited container with Always restarts at once the first time", one.clone(),
                runtime(vec![s1()], vec![container(&one, "c-0", "s1", 0, "exited:0")]),
                "in s1: c restart c-0 as attempt 1"),
            Case {
                restarts: vec![("c", NOW - 40 * S)],
                ..case("an exited container waits out its crash-loop back-off", one.clone(),
                    // Restarted 40 s ago (10 s back-off), exited 30 s ago... then again at
                    // NOW - 5 s: 5 s of the 10 s are left.
                    runtime(vec![s1()], vec![
                        ContainerInfo {
                            finished_at: NOW - 5 * S,
                            ..container(&one, "c-1", "s1", 1, "exited:1")
                        },
                        container(&one, "c-0", "s1", 0, "exited:1"),
                    ]),
                    "in s1: back off c (10s, 5.05s left)")
            },
            Case {
                restarts: vec![("c", NOW - 60 * S)],
                ..case("a back-off that ran out restarts the container", one.clone(),
                    runtime(vec![s1()], vec![container(&one, "c-1", "s1", 1, "exited:1")]),
                    "in s1: c restart c-1 as attempt 2")
            },
            case("OnFailure does not restart a container that succeeded: the pod is done",
                on_failure.clone(),
                runtime(vec![s1()], vec![container(&on_failure, "c-0", "s1", 0, "exited:0")]),
                "done for good: stop [] and sandboxes [s1] within 30s"),
            case("OnFailure restarts a container that failed", on_failure.clone(),
                runtime(vec![s1()], vec![container(&on_failure, "c-0", "s1", 0, "exited:2")]),
                "in s1: c restart c-0 as attempt 1"),
            case("Never restarts nothing: the pod is done", never.clone(),
                runtime(vec![s1()], vec![container(&never, "c-0", "s1", 0, "exited:1")]),
                "done for good: stop [] and sandboxes [s1] within 30s"),
            case("a container done for good waits for the others", with(&[], &["a", "b"], "Never"),
                runtime(vec![s1()], vec![
                    container(&with(&[], &["a", "b"], "Never"), "a-0", "s1", 0, "exited:0"),
                    container(&with(&[], &["a", "b"], "Never"), "b-0", "s1", 0, "running"),
                ]),
                "in s1: a done; keep b"),
            case("a changed definition kills the container", one.clone(),
                runtime(vec![s1()], vec![changed]),
                "in s1: kill c c-0 (definition changed)"),
            Case {
                probe_failures: vec![("c-0", "Container c failed liveness probe, will be restarted")],
                ..case("a failed liveness probe kills the container", one.clone(),
                    runtime(vec![s1()], vec![container(&one, "c-0", "s1", 0, "running")]),
                    "in s1: kill c c-0 (Container c failed liveness probe, will be restarted)")
            },
            case("a container created but never started is replaced", one.clone(),
                runtime(vec![s1()], vec![container(&one, "c-0", "s1", 0, "created")]),
                "in s1: replace c c-0: start attempt 1"),
            case("only the newest exited instance is kept", one.clone(),
                runtime(vec![s1()], vec![
                    container(&one, "c-1", "s1", 1, "exited:1"),
                    container(&one, "c-0", "s1", 0, "exited:1"),
                ]),
                "in s1: c restart c-1 as attempt 2, then remove [c-0]"),
            case("a dead sandbox is killed and made again", one.clone(),
                runtime(vec![sandbox("s1", 0, false)], vec![
                    container(&one, "c-0", "s1", 0, "running"),
                ]),
                "create sandbox attempt 1 replacing s1 after stop [c-0] and sandboxes [] within 30s"),
            case("a ready sandbox without an IP is made again", one.clone(),
                runtime(vec![SandboxInfo { ips: vec![], ..s1() }], vec![]),
                "create sandbox attempt 1 replacing s1 after stop [] and sandboxes [s1] within 30s"),
            case("a host-network sandbox needs no IP of its own", host_network.clone(),
                runtime(vec![SandboxInfo { ips: vec![], ..s1() }], vec![]),
                "in s1: c start attempt 0"),
            case("containers of a new sandbox count their attempts on", one.clone(),
                runtime(vec![sandbox("s2", 1, true), sandbox("s1", 0, false)], vec![
                    container(&one, "c-0", "s1", 0, "exited:137"),
                ]),
                "in s2: c start attempt 1"),
            case("a dead sandbox of a pod done for good is not made again", never.clone(),
                runtime(vec![sandbox("s1", 0, false)], vec![
                    container(&never, "c-0", "s1", 0, "exited:0"),
                ]),
                "done for good: stop [] and sandboxes [] within 30s"),
            Case {
                sandbox_retry: Some(Duration::from_secs(3)),
                ..case("a failed sandbox creation is retried later", one.clone(),
                    runtime(vec![], vec![]), "sandbox retry in 3s")
            },
            case("a pod being deleted is killed within its deletion grace period", deleting,
                runtime(vec![s1()], vec![
                    container(&one, "c-1", "s1", 1, "running"),
                    container(&one, "c-0", "s1", 0, "exited:1"),
                ]),
                "terminate: stop [c-1] and sandboxes [s1] within 5s"),
            case("without a deletion grace period the pod's own applies", deleting_default,
                runtime(vec![], vec![]),
                "terminate: stop [] and sandboxes [] within 7s"),
            Case {
                phase: "Succeeded",
                ..case("a pod the API has finished has its sandbox stopped", never.clone(),
                    runtime(vec![s1()], vec![container(&never, "c-0", "s1", 0, "exited:0")]),
                    "finished: stop [] and sandboxes [s1] within 30s")
            },
            Case {
                phase: "Failed",
                ..case("a finished pod whose sandbox is stopped needs nothing", never.clone(),
                    runtime(vec![sandbox("s1", 0, false)], vec![]), "finished")
            },
        ]
    }

    /// Sidecars (KEP-753): started in order before what follows them, kept running, restarted
    /// whatever the pod's policy, stopped once the app containers are done, last defined first.
    fn sidecar_cases() -> Vec<Case> {
        let side = with_sidecars(&["side"], &["c"], "Never");
        let two = with_sidecars(&["side", "side2"], &["c"], "Never");
        let then_setup = with_sidecars(&["side", "setup"], &["c"], "Never");
        let on_failure = with_sidecars(&["side"], &["c"], "OnFailure");
        let probed = pod(json!({"restartPolicy": "Never",
            "initContainers": [{"name": "side", "image": "busybox", "restartPolicy": "Always",
                "startupProbe": {"exec": {"command": ["true"]}}}],
            "containers": [{"name": "c", "image": "busybox"}]}));
        let s1 = || sandbox("s1", 0, true);
        let mut deleting = two.clone();
        deleting.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::UNIX_EPOCH),
        );
        deleting.metadata.deletion_grace_period_seconds = Some(5);
        let mut changed = container(&side, "side-0", "s1", 0, "running");
        changed.hash = "stale".into();

        vec![
            case("a sidecar starts first, alone", side.clone(),
                runtime(vec![s1()], vec![]),
                "in s1: init side start attempt 0"),
            case("a running sidecar without a startup probe lets the app containers start",
                side.clone(),
                runtime(vec![s1()], vec![container(&side, "side-0", "s1", 0, "running")]),
                "in s1: keep init side; c start attempt 0"),
            case("a sidecar with a startup probe holds what follows until the probe passed",
                probed.clone(),
                runtime(vec![s1()], vec![container(&probed, "side-0", "s1", 0, "running")]),
                "in s1: keep init side"),
            Case {
                started: vec!["side-0"],
                ..case("once its startup probe passed, the next container starts", probed.clone(),
                    runtime(vec![s1()], vec![container(&probed, "side-0", "s1", 0, "running")]),
                    "in s1: keep init side; c start attempt 0")
            },
            case("sidecars start in order: the second once the first runs", two.clone(),
                runtime(vec![s1()], vec![container(&two, "side-0", "s1", 0, "running")]),
                "in s1: keep init side; init side2 start attempt 0"),
            case("a run-once init container after a sidecar runs beside it", then_setup.clone(),
                runtime(vec![s1()], vec![container(&then_setup, "side-0", "s1", 0, "running")]),
                "in s1: keep init side; init setup start attempt 0"),
            case("the app waits for a run-once init container, the sidecar keeps running",
                then_setup.clone(),
                runtime(vec![s1()], vec![
                    container(&then_setup, "side-0", "s1", 0, "running"),
                    container(&then_setup, "setup-0", "s1", 0, "running"),
                ]),
                "in s1: keep init side"),
            case("a run-once init container is not run again once the app ran", then_setup.clone(),
                runtime(vec![s1()], vec![
                    container(&then_setup, "side-0", "s1", 0, "running"),
                    container(&then_setup, "c-0", "s1", 0, "running"),
                ]),
                "in s1: keep init side; keep c"),
            case("an exited sidecar restarts although the pod's policy is Never", side.clone(),
                runtime(vec![s1()], vec![
                    container(&side, "side-0", "s1", 0, "exited:0"),
                    container(&side, "c-0", "s1", 0, "running"),
                ]),
                "in s1: init side restart side-0 as attempt 1; keep c"),
            Case {
                restarts: vec![("side", NOW - 40 * S)],
                ..case("a crashing sidecar backs off while the app keeps running", side.clone(),
                    runtime(vec![s1()], vec![
                        ContainerInfo {
                            finished_at: NOW - 5 * S,
                            ..container(&side, "side-1", "s1", 1, "exited:1")
                        },
                        container(&side, "c-0", "s1", 0, "running"),
                    ]),
                    "in s1: back off init side (10s, 5.05s left); keep c")
            },
            case("a sidecar that exited before the app started holds the app back", side.clone(),
                runtime(vec![s1()], vec![container(&side, "side-0", "s1", 0, "exited:1")]),
                "in s1: init side restart side-0 as attempt 1"),
            case("once the app containers are done the sidecars stop, last defined first",
                two.clone(),
                runtime(vec![s1()], vec![
                    container(&two, "side-0", "s1", 0, "running"),
                    container(&two, "side2-0", "s1", 0, "running"),
                    container(&two, "c-0", "s1", 0, "exited:0"),
                ]),
                "done for good: stop [] then sidecars [side2-0, side-0] and sandboxes [s1] within 30s"),
            case("with OnFailure a failed app container restarts beside the sidecar",
                on_failure.clone(),
                runtime(vec![s1()], vec![
                    container(&on_failure, "side-0", "s1", 0, "running"),
                    container(&on_failure, "c-0", "s1", 0, "exited:1"),
                ]),
                "in s1: keep init side; c restart c-0 as attempt 1"),
            case("deletion stops the app containers first, then the sidecars in reverse order",
                deleting,
                runtime(vec![s1()], vec![
                    container(&two, "side-0", "s1", 0, "running"),
                    container(&two, "side2-0", "s1", 0, "running"),
                    container(&two, "c-0", "s1", 0, "running"),
                ]),
                "terminate: stop [c-0] then sidecars [side2-0, side-0] and sandboxes [s1] within 5s"),
            Case {
                probe_failures: vec![("side-0", "Container side failed liveness probe, will be restarted")],
                ..case("a sidecar's failed liveness probe kills it, the app keeps running",
                    side.clone(),
                    runtime(vec![s1()], vec![
                        container(&side, "side-0", "s1", 0, "running"),
                        container(&side, "c-0", "s1", 0, "running"),
                    ]),
                    "in s1: kill init side side-0 (Container side failed liveness probe, will be restarted); keep c")
            },
            case("a sidecar whose definition changed is killed", side.clone(),
                runtime(vec![s1()], vec![changed, container(&side, "c-0", "s1", 0, "running")]),
                "in s1: kill init side side-0 (definition changed); keep c"),
            case("a dead sandbox of a completed pod is not made again for its sidecar",
                side.clone(),
                runtime(vec![sandbox("s1", 0, false)], vec![
                    container(&side, "side-0", "s1", 0, "exited:137"),
                    container(&side, "c-0", "s1", 0, "exited:0"),
                ]),
                "done for good: stop [] and sandboxes [] within 30s"),
        ]
    }

    /// In-place resize (KEP-1287): a running container whose allocated resources differ from
    /// the cgroup values it runs with.
    fn resize_cases() -> Vec<Case> {
        let resized = |policy: Value| {
            pod(
                json!({"initContainers": [{"name": "side", "image": "busybox",
                    "restartPolicy": "Always", "resources": {"limits": {"cpu": "300m"}}}],
                "containers": [{"name": "c", "image": "busybox",
                    "resources": {"limits": {"cpu": "400m", "memory": "64Mi"}},
                    "resizePolicy": policy}]}),
            )
        };
        let p = resized(json!([]));
        let memory_restarts = resized(json!([
            {"resourceName": "memory", "restartPolicy": "RestartContainer"}]));
        let s1 = || sandbox("s1", 0, true);
        // What the containers were created with: 200m CPU, 32Mi (side: 100m).
        let was = |pod: &Pod, id: &str| {
            let mut c = container(pod, id, "s1", 0, "running");
            let r = c.resources.as_mut().unwrap();
            if id.starts_with("side") {
                (r.cpu_shares, r.cpu_quota) = (102, 10_000);
            } else {
                (r.cpu_shares, r.cpu_quota, r.memory_limit) = (204, 20_000, 32 << 20);
            }
            c
        };
        let only_cpu = |pod: &Pod| {
            let mut c = was(pod, "c-0");
            c.resources.as_mut().unwrap().memory_limit = 64 << 20;
            c
        };
        let mut unknown = was(&p, "c-0");
        unknown.resources = None;
        vec![
            case("a running container's new CPU limit is applied in place", p.clone(),
                runtime(vec![s1()], vec![container(&p, "side-0", "s1", 0, "running"), only_cpu(&p)]),
                "in s1: keep init side; resize c c-0 to cpu shares 409 quota 40000/100000 memory 67108864"),
            case("CPU and memory are applied together", p.clone(),
                runtime(vec![s1()], vec![container(&p, "side-0", "s1", 0, "running"), was(&p, "c-0")]),
                "in s1: keep init side; resize c c-0 to cpu shares 409 quota 40000/100000 memory 67108864"),
            case("a resize of a resource whose policy is RestartContainer restarts the container",
                memory_restarts.clone(),
                runtime(vec![s1()], vec![
                    container(&memory_restarts, "side-0", "s1", 0, "running"),
                    was(&memory_restarts, "c-0"),
                ]),
                "in s1: keep init side; kill c c-0 (resize), then restart c-0 as attempt 1"),
            case("a resize of other resources than the restarting ones is applied in place",
                memory_restarts.clone(),
                runtime(vec![s1()], vec![
                    container(&memory_restarts, "side-0", "s1", 0, "running"),
                    only_cpu(&memory_restarts),
                ]),
                "in s1: keep init side; resize c c-0 to cpu shares 409 quota 40000/100000 memory 67108864"),
            case("a sidecar is resized in place too", p.clone(),
                runtime(vec![s1()], vec![was(&p, "side-0"), container(&p, "c-0", "s1", 0, "running")]),
                "in s1: resize init side side-0 to cpu shares 307 quota 30000/100000 memory 0; keep c"),
            case("a container whose resources are unknown is left as it runs", p.clone(),
                runtime(vec![s1()], vec![container(&p, "side-0", "s1", 0, "running"), unknown]),
                "in s1: keep init side; keep c"),
            case("an exited container is not resized: it restarts with its allocation", p.clone(),
                runtime(vec![s1()], vec![
                    container(&p, "side-0", "s1", 0, "running"),
                    ContainerInfo { state: State::Exited, finished_at: NOW - 30 * S, ..was(&p, "c-0") },
                ]),
                "in s1: keep init side; c restart c-0 as attempt 1"),
        ]
    }

    /// Ephemeral containers (`kubectl debug`): started once when they appear, even while the
    /// pod initializes, never restarted, no reason to keep a finished pod.
    fn ephemeral_cases() -> Vec<Case> {
        let debugged = |policy: &str, ephemeral: &[&str]| {
            pod(json!({"restartPolicy": policy,
                "initContainers": [{"name": "i0", "image": "busybox"}],
                "containers": [{"name": "c", "image": "busybox"}],
                "ephemeralContainers": ephemeral.iter()
                    .map(|n| json!({"name": n, "image": "busybox", "targetContainerName": "c"}))
                    .collect::<Vec<_>>()}))
        };
        let p = debugged("Always", &["debug"]);
        let two = debugged("Always", &["debug", "debug2"]);
        let never = debugged("Never", &["debug"]);
        let s1 = || sandbox("s1", 0, true);
        let initialized = |pod: &Pod| container(pod, "i0-0", "s1", 0, "exited:0");
        vec![
            case(
                "an ephemeral container starts while the pod initializes",
                p.clone(),
                runtime(vec![s1()], vec![container(&p, "i0-0", "s1", 0, "running")]),
                "in s1: ephemeral debug start attempt 0",
            ),
            case(
                "an ephemeral container starts beside the running app",
                p.clone(),
                runtime(
                    vec![s1()],
                    vec![initialized(&p), container(&p, "c-0", "s1", 0, "running")],
                ),
                "in s1: ephemeral debug start attempt 0; keep c",
            ),
            case(
                "a running ephemeral container is left alone",
                p.clone(),
                runtime(
                    vec![s1()],
                    vec![
                        initialized(&p),
                        container(&p, "c-0", "s1", 0, "running"),
                        container(&p, "debug-0", "s1", 0, "running"),
                    ],
                ),
                "in s1: keep c",
            ),
            case(
                "an exited ephemeral container is never restarted",
                p.clone(),
                runtime(
                    vec![s1()],
                    vec![
                        initialized(&p),
                        container(&p, "c-0", "s1", 0, "running"),
                        container(&p, "debug-0", "s1", 0, "exited:1"),
                    ],
                ),
                "in s1: keep c",
            ),
            case(
                "a second one starts, the first is left alone",
                two.clone(),
                runtime(
                    vec![s1()],
                    vec![
                        initialized(&two),
                        container(&two, "c-0", "s1", 0, "running"),
                        container(&two, "debug-0", "s1", 0, "running"),
                    ],
                ),
                "in s1: ephemeral debug2 start attempt 0; keep c",
            ),
            case(
                "an ephemeral container does not keep a finished pod",
                never.clone(),
                runtime(
                    vec![s1()],
                    vec![
                        initialized(&never),
                        container(&never, "c-0", "s1", 0, "exited:0"),
                        container(&never, "debug-0", "s1", 0, "running"),
                    ],
                ),
                "done for good: stop [debug-0] and sandboxes [s1] within 30s",
            ),
        ]
    }

    #[test]
    fn ephemeral_actions() {
        let cases = ephemeral_cases();
        assert!(cases.len() >= 5);
        check(&cases);
    }

    fn check(cases: &[Case]) {
        let mut failed = Vec::new();
        for c in cases {
            let got = decide(c).to_string();
            if got != c.want {
                failed.push(format!("{}:\n  want {}\n  got  {got}", c.name, c.want));
            }
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    #[test]
    fn sidecar_actions() {
        let cases = sidecar_cases();
        assert!(cases.len() >= 8);
        check(&cases);
    }

    #[test]
    fn resize_actions() {
        let cases = resize_cases();
        assert!(cases.len() >= 5);
        check(&cases);
    }

    #[test]
    fn pod_actions() {
        let cases = cases();
        assert!(cases.len() >= 15);
        check(&cases);
    }

    #[test]
    fn restarts_carry_what_the_worker_needs() {
        let one = with(&[], &["c"], "Always");
        let c = case(
            "",
            one.clone(),
            runtime(
                vec![sandbox("s1", 0, true)],
                vec![container(&one, "c-0", "s1", 0, "exited:1")],
            ),
            "",
        );
        let PodActions::Sync(SyncActions::Containers(actions)) = decide(&c) else {
            panic!("containers expected");
        };
        // The back-off is armed from when the container exited.
        assert_eq!(
            actions.steps[0].action,
            Action::Start(Start {
                attempt: 1,
                restart: Some(Restart {
                    exited: "c-0".into(),
                    finished_at: NOW - 30 * S,
                }),
                prune: vec![],
            })
        );
    }
}
