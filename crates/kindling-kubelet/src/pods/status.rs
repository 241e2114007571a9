//! The pod status the node agent reports, computed as the kubelet's generateAPIPodStatus does:
//! container statuses from the runtime (the newest container gives `state`, the one before it
//! `lastState`; the resources it runs with and those allocated to it), waiting reasons the last
//! sync recorded (CrashLoopBackOff, ImagePullBackOff…), ephemeral containers' statuses beside
//! them (never ready, never part of the phase), the phase from the containers' states
//! and the restart policy (sidecars count only while the pod starts), and the kubelet's
//! conditions (resize ones included), stamped with the generation observed.
//! Pure: the worker gathers the inputs.

use super::resize;
use super::spec::{self, Kind};
use crate::runtime::{ContainerInfo, PodRuntime, State};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::HashMap;

pub const CONTAINER_CREATING: &str = "ContainerCreating";
pub const POD_INITIALIZING: &str = "PodInitializing";

/// Probe results of a running container (by container ID).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProbeResults {
    pub ready: bool,
    pub started: bool,
}

/// What the status is computed from.
pub struct Observed<'a> {
    pub runtime: &'a PodRuntime,
    /// Why a container is waiting, from the last sync: name → (reason, message).
    pub waiting: &'a HashMap<String, (String, String)>,
    /// Probe results by container ID; a running container without an entry is ready and
    /// started unless it has a readiness or startup probe.
    pub probes: &'a HashMap<String, ProbeResults>,
    pub node_ip: &'a str,
    pub start_time: Time,
    pub now: jiff::Timestamp,
    pub resize: &'a ResizeReport,
}

/// What the worker knows of the pod's resize besides the runtime's state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResizeReport {
    /// A resize the node did not allocate: reason (`Infeasible`, `Deferred`) and message.
    pub pending: Option<(String, String)>,
    /// Why applying the allocated resources failed last.
    pub error: Option<String>,
}

/// A timestamp in whole seconds (what the API keeps).
pub fn time_from_nanos(nanos: i64) -> Time {
    let secs = nanos.div_euclid(1_000_000_000);
    Time(jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH))
}

pub fn now_seconds() -> jiff::Timestamp {
    jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap_or_default()
}

/// Whether container `container` (an init container when `init`) restarts when its newest
/// instance is `latest` (none: it never ran, so it starts). Sidecars always do; the others as
/// the pod's policy says.
pub fn should_restart(
    pod: &Pod,
    container: &Container,
    latest: Option<&ContainerInfo>,
    init: bool,
) -> bool {
    let Some(c) = latest else {
        return true;
    };
    if matches!(c.state, State::Running | State::Created) {
        return false;
    }
    if init && spec::is_sidecar(container) {
        return true;
    }
    let policy = spec::spec(pod)
        .restart_policy
        .as_deref()
        .unwrap_or("Always");
    if init {
        // An init container that succeeded is done; one that failed runs again unless Never.
        return c.exit_code != 0 && policy != "Never";
    }
    match policy {
        "Never" => false,
        "OnFailure" => c.exit_code != 0,
        _ => true,
    }
}

fn terminated(c: &ContainerInfo) -> ContainerStateTerminated {
    let reason = if !c.reason.is_empty() {
        c.reason.clone()
    } else if c.exit_code == 0 {
        "Completed".into()
    } else {
        "Error".into()
    };
    ContainerStateTerminated {
        exit_code: c.exit_code,
        reason: Some(reason),
        message: Some(c.message.clone()).filter(|m| !m.is_empty()),
        started_at: (c.started_at > 0).then(|| time_from_nanos(c.started_at)),
        finished_at: (c.finished_at > 0).then(|| time_from_nanos(c.finished_at)),
        container_id: Some(format!("containerd://{}", c.id)),
        signal: None,
    }
}

fn state_of(c: &ContainerInfo) -> ContainerState {
    match c.state {
        State::Running => ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(time_from_nanos(c.started_at)),
            }),
            ..Default::default()
        },
        State::Exited => ContainerState {
            terminated: Some(terminated(c)),
            ..Default::default()
        },
        State::Created | State::Unknown => ContainerState {
            waiting: Some(ContainerStateWaiting::default()),
            ..Default::default()
        },
    }
}

fn waiting(reason: &str, message: Option<&str>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_string()),
            message: message.filter(|m| !m.is_empty()).map(str::to_string),
        }),
        ..Default::default()
    }
}

fn container_statuses(
    pod: &Pod,
    containers: &[Container],
    kind: Kind,
    old: &[ContainerStatus],
    o: &Observed,
) -> Vec<ContainerStatus> {
    let init = kind == Kind::Init;
    let ephemeral = kind == Kind::Ephemeral;
    let has_init = spec::spec(pod)
        .init_containers
        .as_ref()
        .is_some_and(|c| !c.is_empty());
    let default_reason = if has_init {
        POD_INITIALIZING
    } else {
        CONTAINER_CREATING
    };
    let mut out = Vec::new();
    for c in containers {
        let mut status = ContainerStatus {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            state: Some(waiting(default_reason, None)),
            // Nothing probes an ephemeral container: it is never started or ready.
            started: (!ephemeral).then_some(false),
            ..Default::default()
        };
        if let Some(prev) = old.iter().find(|s| s.name == c.name) {
            status.restart_count = prev.restart_count;
            status.last_state = prev.last_state.clone();
        }
        let mut named = o.runtime.named(&c.name);
        let latest = named.next();
        let sidecar = init && spec::is_sidecar(c);
        if let Some(l) = latest {
            status.state = Some(state_of(l));
            // Ephemeral containers have no resources of their own to report.
            if !ephemeral {
                status.resources = Some(resize::status_resources(c, l));
                status.allocated_resources = c.resources.as_ref().and_then(|r| r.requests.clone());
            }
            status.restart_count = l.attempt as i32;
            status.image = if l.image.is_empty() {
                status.image
            } else {
                l.image.clone()
            };
            status.image_id = l.image_ref.clone();
            status.container_id = Some(format!("containerd://{}", l.id));
            status.last_state = named.next().map(state_of);
            if l.state == State::Running && !ephemeral {
                let has_readiness = c.readiness_probe.is_some();
                let has_startup = c.startup_probe.is_some();
                let probe = o.probes.get(&l.id).copied().unwrap_or(ProbeResults {
                    ready: !has_readiness && !has_startup,
                    started: !has_startup,
                });
                status.started = Some(probe.started);
                status.ready = probe.started && probe.ready;
            }
        }
        let done_init = init
            && !sidecar
            && latest.is_some_and(|l| l.state == State::Exited && l.exit_code == 0);
        // A run-once init container that succeeded is ready, as upstream's prober says.
        status.ready |= done_init;
        let deleting = pod.metadata.deletion_timestamp.is_some();
        // An ephemeral container waits only until it first ran.
        let restarts = if ephemeral {
            latest.is_none()
        } else {
            should_restart(pod, c, latest, init)
        };
        if !done_init && !deleting && restarts {
            if let Some((reason, message)) = o.waiting.get(&c.name) {
                if let Some(t) = status.state.as_ref().and_then(|s| s.terminated.clone()) {
                    status.last_state = Some(ContainerState {
                        terminated: Some(t),
                        ..Default::default()
                    });
                }
                status.state = Some(waiting(reason, Some(message)));
            }
        }
        out.push(status);
    }
    if !init {
        out.sort_by(|a, b| a.name.cmp(&b.name));
    }
    out
}

/// The pod phase, as upstream's getPhase: run-once init containers must succeed; sidecars hold
/// the pod Pending until they started (unless the app containers ran already) and count as
/// running while they run, but their exits never decide the phase.
pub fn phase(pod: &Pod, init: &[ContainerStatus], regular: &[ContainerStatus]) -> &'static str {
    let spec = spec::spec(pod);
    let policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let status_of = |list: &'_ [ContainerStatus], name: &str| -> Option<ContainerStatus> {
        list.iter().find(|s| s.name == name).cloned()
    };
    let last_terminated = |s: &ContainerStatus| -> Option<i32> {
        s.last_state
            .as_ref()
            .and_then(|l| l.terminated.as_ref())
            .map(|t| t.exit_code)
    };
    let (mut pending_init, mut pending_sidecars, mut failed_init) = (0, 0, 0);
    let (mut running, mut waiting, mut stopped, mut succeeded, mut unknown) = (0, 0, 0, 0, 0);
    for c in spec.init_containers.iter().flatten() {
        let Some(s) = status_of(init, &c.name) else {
            if spec::is_sidecar(c) {
                unknown += 1;
            } else {
                pending_init += 1;
            }
            continue;
        };
        let st = s.state.clone().unwrap_or_default();
        if spec::is_sidecar(c) {
            if st.running.is_some() {
                if s.started != Some(true) {
                    pending_sidecars += 1;
                }
                running += 1;
            } else if st.terminated.is_some() {
                // An exited sidecar does not count.
            } else if st.waiting.is_some() {
                if last_terminated(&s).is_none() {
                    pending_sidecars += 1;
                    waiting += 1;
                }
            } else {
                pending_sidecars += 1;
                unknown += 1;
            }
        } else if st.running.is_some() {
            pending_init += 1;
        } else if let Some(t) = &st.terminated {
            if t.exit_code != 0 {
                failed_init += 1;
            }
        } else if st.waiting.is_some() {
            match last_terminated(&s) {
                Some(code) if code != 0 => failed_init += 1,
                Some(_) => {}
                None => pending_init += 1,
            }
        } else {
            pending_init += 1;
        }
    }
    for c in &spec.containers {
        let Some(st) = status_of(regular, &c.name).and_then(|s| s.state.clone().map(|st| (s, st)))
        else {
            unknown += 1;
            continue;
        };
        let (s, st) = st;
        if st.running.is_some() {
            running += 1;
        } else if let Some(t) = &st.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if st.waiting.is_some() {
            if last_terminated(&s).is_some() {
                stopped += 1;
            } else {
                waiting += 1;
            }
        } else {
            unknown += 1;
        }
    }
    if failed_init > 0 && policy == "Never" {
        return "Failed";
    }
    if pending_init > 0 || (pending_sidecars > 0 && !app_started(regular)) || waiting > 0 {
        return "Pending";
    }
    if running > 0 && unknown == 0 {
        return "Running";
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if policy == "Always" {
            return "Running";
        }
        if stopped == succeeded {
            return "Succeeded";
        }
        if policy == "Never" {
            return "Failed";
        }
        return "Running";
    }
    "Pending"
}

/// Whether an app container ever started (upstream's HasAnyRegularContainerStarted): the pod
/// was initialized once, whatever its sidecars do now.
fn app_started(regular: &[ContainerStatus]) -> bool {
    regular.iter().any(|s| {
        s.state
            .as_ref()
            .is_some_and(|st| st.running.is_some() || st.terminated.is_some())
    })
}

fn condition(type_: &str, ok: bool, reason: Option<&str>, message: Option<String>) -> PodCondition {
    PodCondition {
        type_: type_.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: reason.map(str::to_string),
        message,
        ..Default::default()
    }
}

/// The status of `pod` from what was observed. `old` is the status the API holds: the phase
/// never leaves Succeeded/Failed, the QoS class and conditions the agent does not own are kept,
/// and transition times stay when a condition did not change.
pub fn pod_status(pod: &Pod, o: &Observed) -> PodStatus {
    let spec = spec::spec(pod);
    let old = pod.status.clone().unwrap_or_default();
    let init_specs = spec.init_containers.clone().unwrap_or_default();
    let init = container_statuses(
        pod,
        &init_specs,
        Kind::Init,
        old.init_container_statuses.as_deref().unwrap_or_default(),
        o,
    );
    let regular = container_statuses(
        pod,
        &spec.containers,
        Kind::App,
        old.container_statuses.as_deref().unwrap_or_default(),
        o,
    );
    let ephemeral_specs: Vec<Container> = spec::ephemeral_containers(pod)
        .into_iter()
        .map(|(c, _)| c)
        .collect();
    let ephemeral = container_statuses(
        pod,
        &ephemeral_specs,
        Kind::Ephemeral,
        old.ephemeral_container_statuses
            .as_deref()
            .unwrap_or_default(),
        o,
    );
    let mut phase = phase(pod, &init, &regular).to_string();
    if matches!(old.phase.as_deref(), Some("Succeeded" | "Failed")) {
        phase = old.phase.clone().unwrap_or_default();
    }

    // Conditions, in the order kubectl shows a real cluster's: resize conditions first (when
    // any), then the kubelet's usual ones, then those the agent does not own.
    let mut conditions = resize_conditions(pod, o, &old, &phase);
    let sandbox_ok = o
        .runtime
        .ready_sandbox()
        .is_some_and(|s| !s.ips.is_empty() || spec::host_network(pod));
    conditions.push(condition(
        "PodReadyToStartContainers",
        sandbox_ok,
        None,
        None,
    ));
    // Run-once init containers must have succeeded, sidecars started.
    let incomplete: Vec<&str> = init_specs
        .iter()
        .zip(&init)
        .filter(|(c, s)| {
            if spec::is_sidecar(c) {
                return s.started != Some(true);
            }
            s.state
                .as_ref()
                .and_then(|st| st.terminated.as_ref())
                .is_none_or(|t| t.exit_code != 0)
        })
        .map(|(c, _)| c.name.as_str())
        .collect();
    conditions.push(if phase == "Succeeded" {
        condition("Initialized", true, Some("PodCompleted"), None)
    } else if incomplete.is_empty() || app_started(&regular) {
        condition("Initialized", true, None, None)
    } else {
        condition(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                incomplete.join(" ")
            )),
        )
    });
    // Sidecars count for readiness, before the app containers (upstream's order).
    let unready: Vec<&str> = init_specs
        .iter()
        .zip(&init)
        .filter(|(c, s)| spec::is_sidecar(c) && !s.ready)
        .map(|(c, _)| c.name.as_str())
        .chain(
            spec.containers
                .iter()
                .filter(|c| regular.iter().any(|s| s.name == c.name && !s.ready))
                .map(|c| c.name.as_str()),
        )
        .collect();
    let (ready_ok, ready_reason, ready_message) = if phase == "Succeeded" {
        (false, Some("PodCompleted"), None)
    } else if phase == "Failed" {
        (false, Some("PodFailed"), None)
    } else if !unready.is_empty() {
        (
            false,
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    } else {
        (true, None, None)
    };
    // Readiness gates: their conditions must be True too.
    let mut gate_problem = None;
    for gate in spec.readiness_gates.iter().flatten() {
        let found = old
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == gate.condition_type);
        match found {
            None => {
                gate_problem = Some(format!(
                    "corresponding condition of pod readiness gate \"{}\" does not exist.",
                    gate.condition_type
                ));
            }
            Some(c) if c.status != "True" => {
                gate_problem = Some(format!(
                    "the status of pod readiness gate \"{}\" is not \"True\", but {}",
                    gate.condition_type, c.status
                ));
            }
            _ => {}
        }
    }
    let ready = match (&gate_problem, ready_ok) {
        (Some(msg), true) => condition(
            "Ready",
            false,
            Some("ReadinessGatesNotReady"),
            Some(msg.clone()),
        ),
        _ => condition("Ready", ready_ok, ready_reason, ready_message.clone()),
    };
    conditions.push(ready);
    conditions.push(condition(
        "ContainersReady",
        ready_ok,
        ready_reason,
        ready_message,
    ));
    let scheduled = old
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled")
        .cloned()
        .unwrap_or_else(|| condition("PodScheduled", true, None, None));
    conditions.push(scheduled);
    // Every condition above is the kubelet's, stamped with the generation it acted on.
    let generation = pod.metadata.generation;
    for c in &mut conditions {
        c.observed_generation = generation;
    }
    const OWNED: &[&str] = &[
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
        resize::PENDING,
        resize::IN_PROGRESS,
    ];
    for c in old.conditions.iter().flatten() {
        if !OWNED.contains(&c.type_.as_str()) {
            conditions.push(c.clone());
        }
    }
    let now = Time(o.now);
    for c in conditions
        .iter_mut()
        .filter(|c| c.last_transition_time.is_none())
    {
        let previous = old.conditions.iter().flatten().find(|p| p.type_ == c.type_);
        c.last_transition_time = match previous {
            Some(p) if p.status == c.status && p.last_transition_time.is_some() => {
                p.last_transition_time.clone()
            }
            _ => c.last_transition_time.clone().or_else(|| Some(now.clone())),
        };
    }

    let mut pod_ips: Vec<String> = if spec::host_network(pod) {
        vec![o.node_ip.to_string()]
    } else {
        o.runtime
            .ready_sandbox()
            .map(|s| s.ips.clone())
            .unwrap_or_default()
    };
    if pod_ips.is_empty() {
        // A finished pod keeps the address it had.
        pod_ips = old.pod_ips.iter().flatten().map(|p| p.ip.clone()).collect();
    }
    PodStatus {
        phase: Some(phase),
        conditions: Some(conditions),
        host_ip: Some(o.node_ip.to_string()),
        host_ips: Some(vec![HostIP {
            ip: o.node_ip.to_string(),
        }]),
        pod_ip: pod_ips.first().cloned(),
        pod_ips: (!pod_ips.is_empty())
            .then(|| pod_ips.iter().map(|ip| PodIP { ip: ip.clone() }).collect()),
        start_time: old.start_time.clone().or(Some(o.start_time.clone())),
        init_container_statuses: (!init.is_empty()).then_some(init),
        container_statuses: Some(regular),
        ephemeral_container_statuses: (!ephemeral.is_empty()).then_some(ephemeral),
        qos_class: old
            .qos_class
            .clone()
            .or_else(|| Some(spec::qos_class(pod).to_string())),
        reason: old.reason.clone(),
        message: old.message.clone(),
        nominated_node_name: old.nominated_node_name.clone(),
        observed_generation: pod.metadata.generation,
        ..Default::default()
    }
}

/// PodResizePending (a resize the node did not allocate) and PodResizeInProgress (allocated,
/// not yet what runs; reason `Error` when applying failed), as upstream's status manager keeps
/// them; none once the pod finished.
fn resize_conditions(pod: &Pod, o: &Observed, old: &PodStatus, phase: &str) -> Vec<PodCondition> {
    if matches!(phase, "Succeeded" | "Failed") {
        return Vec::new();
    }
    let now = Time(o.now);
    // The probe time moves when the condition says something new, the transition time when
    // its reason changes (upstream's updatedPodResizeCondition).
    let stamped = |mut c: PodCondition| {
        let previous = old.conditions.iter().flatten().find(|p| p.type_ == c.type_);
        c.last_probe_time = match previous {
            Some(p) if p.reason == c.reason && p.message == c.message => p.last_probe_time.clone(),
            _ => Some(now.clone()),
        };
        c.last_transition_time = match previous {
            Some(p) if p.reason == c.reason && p.last_transition_time.is_some() => {
                p.last_transition_time.clone()
            }
            _ => Some(now.clone()),
        };
        c
    };
    let mut out = Vec::new();
    if let Some((reason, message)) = &o.resize.pending {
        out.push(stamped(condition(
            resize::PENDING,
            true,
            Some(reason),
            Some(message.clone()),
        )));
    }
    if let Some(error) = &o.resize.error {
        out.push(stamped(condition(
            resize::IN_PROGRESS,
            true,
            Some("Error"),
            Some(error.clone()),
        )));
    } else if resize::in_progress(pod, o.runtime) {
        out.push(stamped(condition(resize::IN_PROGRESS, true, None, None)));
    }
    out
}

/// The JSON of the fields the agent owns, to compare with what the API holds.
pub fn owned_json(status: &PodStatus) -> serde_json::Value {
    let mut v = serde_json::to_value(status).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        for keep_theirs in [
            "reason",
            "message",
            "nominatedNodeName",
            "resize",
            "resourceClaimStatuses",
        ] {
            obj.remove(keep_theirs);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{LinuxResources, SandboxInfo};
    use serde_json::json;

    fn pod(policy: &str, init: bool) -> Pod {
        let mut spec =
            json!({"restartPolicy": policy, "containers": [{"name": "main", "image": "busybox"}]});
        if init {
            spec["initContainers"] = json!([{"name": "setup", "image": "busybox"}]);
        }
        serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"}, "spec": spec,
            "status": {"phase": "Pending", "qosClass": "BestEffort"}}),
        )
        .unwrap()
    }

    fn container(name: &str, attempt: u32, state: State, exit: i32) -> ContainerInfo {
        ContainerInfo {
            id: format!("{name}-{attempt}"),
            sandbox_id: "sb".into(),
            name: name.into(),
            attempt,
            init: false,
            hash: String::new(),
            state,
            created_at: 1_000_000_000 * (i64::from(attempt) + 1),
            started_at: 1_700_000_000_000_000_000,
            finished_at: if state == State::Exited {
                1_700_000_005_000_000_000
            } else {
                0
            },
            exit_code: exit,
            reason: String::new(),
            message: String::new(),
            image: "docker.io/library/busybox:latest".into(),
            image_ref: "sha256:abc".into(),
            resources: None,
        }
    }

    fn runtime(containers: Vec<ContainerInfo>) -> PodRuntime {
        PodRuntime {
            sandboxes: vec![SandboxInfo {
                id: "sb".into(),
                attempt: 0,
                ready: true,
                created_at: 1,
                ips: vec!["10.244.1.7".into()],
            }],
            containers,
        }
    }

    fn status(pod: &Pod, rt: &PodRuntime, waiting: &[(&str, &str, &str)]) -> PodStatus {
        let waiting: HashMap<String, (String, String)> = waiting
            .iter()
            .map(|(c, r, m)| (c.to_string(), (r.to_string(), m.to_string())))
            .collect();
        pod_status(
            pod,
            &Observed {
                runtime: rt,
                waiting: &waiting,
                probes: &HashMap::new(),
                node_ip: "172.18.0.3",
                start_time: time_from_nanos(1_700_000_000_000_000_000),
                now: jiff::Timestamp::from_second(1_700_000_010).unwrap(),
                resize: &ResizeReport::default(),
            },
        )
    }

    fn cond<'a>(s: &'a PodStatus, t: &str) -> &'a PodCondition {
        s.conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == t)
            .unwrap()
    }

    #[test]
    fn ephemeral_containers_are_reported_apart() {
        let mut p = pod("Never", false);
        p.spec.as_mut().unwrap().ephemeral_containers = Some(
            serde_json::from_value(json!([
                {"name": "debug", "image": "busybox", "targetContainerName": "main"},
                {"name": "again", "image": "busybox"}]))
            .unwrap(),
        );
        let rt = runtime(vec![
            container("main", 0, State::Running, 0),
            container("debug", 0, State::Exited, 1),
        ]);
        let s = status(&p, &rt, &[("again", "ErrImagePull", "no such image")]);
        let eph = s.ephemeral_container_statuses.as_ref().unwrap();
        // Sorted by name, as the app containers' statuses.
        assert_eq!(
            serde_json::to_value(eph).unwrap(),
            json!([
                {"name": "again", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "ErrImagePull", "message": "no such image"}}},
                {"name": "debug", "image": "docker.io/library/busybox:latest", "imageID": "sha256:abc",
                    "containerID": "containerd://debug-0", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 1, "reason": "Error",
                        "containerID": "containerd://debug-0",
                        "startedAt": "2023-11-14T22:13:20Z", "finishedAt": "2023-11-14T22:13:25Z"}}},
            ])
        );
        // The pod's phase and readiness are the app container's alone.
        assert_eq!(s.phase.as_deref(), Some("Running"));
        assert_eq!(cond(&s, "Ready").status, "True");
        // An exited one stays terminated: it never waits to restart.
        let s = status(&p, &rt, &[("debug", "CrashLoopBackOff", "x")]);
        assert!(s.ephemeral_container_statuses.unwrap()[1]
            .state
            .as_ref()
            .unwrap()
            .terminated
            .is_some());
        // What the agent reports includes them.
        assert!(owned_json(&status(&p, &rt, &[]))
            .get("ephemeralContainerStatuses")
            .is_some());
    }

    #[test]
    fn nothing_started_is_pending_container_creating() {
        let p = pod("Always", false);
        let rt = PodRuntime::default();
        let s = status(&p, &rt, &[]);
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        let cs = &s.container_statuses.as_ref().unwrap()[0];
        assert_eq!(
            cs.state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("ContainerCreating")
        );
        assert_eq!(cond(&s, "PodReadyToStartContainers").status, "False");
        assert_eq!(cond(&s, "PodScheduled").status, "True");
        assert_eq!(s.pod_ip, None);
        assert_eq!(s.host_ip.as_deref(), Some("172.18.0.3"));
        assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
    }

    #[test]
    fn running_is_ready_with_ip() {
        let p = pod("Always", false);
        let rt = runtime(vec![container("main", 0, State::Running, 0)]);
        let s = status(&p, &rt, &[]);
        assert_eq!(s.phase.as_deref(), Some("Running"));
        assert_eq!(s.pod_ip.as_deref(), Some("10.244.1.7"));
        let cs = &s.container_statuses.as_ref().unwrap()[0];
        assert!(cs.ready);
        assert_eq!(cs.started, Some(true));
        assert_eq!(cs.container_id.as_deref(), Some("containerd://main-0"));
        assert_eq!(cs.image_id, "sha256:abc");
        assert!(cs.state.as_ref().unwrap().running.is_some());
        for t in [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
        ] {
            assert_eq!(cond(&s, t).status, "True", "{t}");
        }
        let types: Vec<&str> = s
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.type_.as_str())
            .collect();
        assert_eq!(
            types,
            [
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled"
            ]
        );
    }

    #[test]
    fn crash_loop_waits_with_last_state() {
        let p = pod("Always", false);
        let rt = runtime(vec![
            container("main", 1, State::Exited, 1),
            container("main", 0, State::Exited, 1),
        ]);
        let s = status(
            &p,
            &rt,
            &[(
                "main",
                "CrashLoopBackOff",
                "back-off 10s restarting failed container=main pod=p_default(u)",
            )],
        );
        assert_eq!(s.phase.as_deref(), Some("Running"));
        let cs = &s.container_statuses.as_ref().unwrap()[0];
        assert_eq!(cs.restart_count, 1);
        assert_eq!(
            cs.state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("CrashLoopBackOff")
        );
        let last = cs.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
        assert!(!cs.ready);
        assert_eq!(
            cond(&s, "Ready").reason.as_deref(),
            Some("ContainersNotReady")
        );
        assert_eq!(
            cond(&s, "Ready").message.as_deref(),
            Some("containers with unready status: [main]")
        );
    }

    #[test]
    fn run_to_completion_succeeds() {
        for policy in ["Never", "OnFailure"] {
            let p = pod(policy, false);
            let rt = runtime(vec![container("main", 0, State::Exited, 0)]);
            let s = status(&p, &rt, &[]);
            assert_eq!(s.phase.as_deref(), Some("Succeeded"), "{policy}");
            let t = s.container_statuses.as_ref().unwrap()[0]
                .state
                .clone()
                .unwrap()
                .terminated
                .unwrap();
            assert_eq!(t.reason.as_deref(), Some("Completed"));
            assert_eq!(cond(&s, "Ready").reason.as_deref(), Some("PodCompleted"));
        }
        let p = pod("Never", false);
        let rt = runtime(vec![container("main", 0, State::Exited, 3)]);
        assert_eq!(status(&p, &rt, &[]).phase.as_deref(), Some("Failed"));
        let p = pod("OnFailure", false);
        assert_eq!(status(&p, &rt, &[]).phase.as_deref(), Some("Running"));
    }

    #[test]
    fn init_containers_gate_the_pod() {
        let p = pod("Always", true);
        let rt = runtime(vec![container("setup", 0, State::Running, 0)]);
        let s = status(&p, &rt, &[]);
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        assert_eq!(cond(&s, "Initialized").status, "False");
        assert_eq!(
            cond(&s, "Initialized").message.as_deref(),
            Some("containers with incomplete status: [setup]")
        );
        let main = &s.container_statuses.as_ref().unwrap()[0];
        assert_eq!(
            main.state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("PodInitializing")
        );
        let rt = runtime(vec![
            container("setup", 0, State::Exited, 0),
            container("main", 0, State::Running, 0),
        ]);
        let s = status(&p, &rt, &[]);
        assert_eq!(s.phase.as_deref(), Some("Running"));
        assert_eq!(cond(&s, "Initialized").status, "True");
        let p = pod("Never", true);
        let rt = runtime(vec![container("setup", 0, State::Exited, 1)]);
        assert_eq!(status(&p, &rt, &[]).phase.as_deref(), Some("Failed"));
    }

    #[test]
    fn image_errors_show_as_waiting() {
        let p = pod("Always", false);
        let s = status(
            &p,
            &PodRuntime::default(),
            &[(
                "main",
                "ErrImageNeverPull",
                "Container image \"x\" is not present with pull policy of Never",
            )],
        );
        let w = s.container_statuses.as_ref().unwrap()[0]
            .state
            .clone()
            .unwrap()
            .waiting
            .unwrap();
        assert_eq!(w.reason.as_deref(), Some("ErrImageNeverPull"));
        assert_eq!(s.phase.as_deref(), Some("Pending"));
    }

    /// A pod with a sidecar (`side`, optional probes) and an app container, policy Never.
    fn sidecar_pod(side: serde_json::Value) -> Pod {
        let mut side_spec = json!({"name": "side", "image": "busybox", "restartPolicy": "Always"});
        if let (Some(target), Some(extra)) = (side_spec.as_object_mut(), side.as_object()) {
            target.extend(extra.clone());
        }
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"restartPolicy": "Never", "initContainers": [side_spec],
                "containers": [{"name": "main", "image": "busybox"}]},
            "status": {"phase": "Pending", "qosClass": "BestEffort"}}))
        .unwrap()
    }

    fn observed(
        pod: &Pod,
        rt: &PodRuntime,
        probes: &HashMap<String, ProbeResults>,
        resize: &ResizeReport,
    ) -> PodStatus {
        pod_status(
            pod,
            &Observed {
                runtime: rt,
                waiting: &HashMap::new(),
                probes,
                node_ip: "172.18.0.3",
                start_time: time_from_nanos(0),
                now: jiff::Timestamp::from_second(1_700_000_010).unwrap(),
                resize,
            },
        )
    }

    fn init_status<'a>(s: &'a PodStatus, name: &str) -> &'a ContainerStatus {
        s.init_container_statuses
            .iter()
            .flatten()
            .find(|c| c.name == name)
            .unwrap()
    }

    #[test]
    fn a_running_sidecar_is_started_ready_and_counts_for_readiness() {
        let p = sidecar_pod(json!({}));
        let rt = runtime(vec![
            container("side", 0, State::Running, 0),
            container("main", 0, State::Running, 0),
        ]);
        let s = status(&p, &rt, &[]);
        assert_eq!(s.phase.as_deref(), Some("Running"));
        let side = init_status(&s, "side");
        assert_eq!((side.started, side.ready), (Some(true), true));
        assert_eq!(cond(&s, "Initialized").status, "True");
        assert_eq!(cond(&s, "ContainersReady").status, "True");

        // A readiness probe that did not pass yet makes the pod unready, sidecar first.
        let p = sidecar_pod(json!({"readinessProbe": {"exec": {"command": ["true"]}}}));
        let mut probes = HashMap::new();
        probes.insert(
            "side-0".to_string(),
            ProbeResults {
                ready: false,
                started: true,
            },
        );
        let rt = runtime(vec![
            container("side", 0, State::Running, 0),
            container("main", 0, State::Exited, 1),
        ]);
        let s = observed(&p, &rt, &probes, &ResizeReport::default());
        assert_eq!(
            cond(&s, "ContainersReady").message.as_deref(),
            Some("containers with unready status: [side main]")
        );
    }

    #[test]
    fn a_sidecar_not_started_holds_the_pod_pending() {
        let p = sidecar_pod(json!({"startupProbe": {"exec": {"command": ["true"]}}}));
        let rt = runtime(vec![container("side", 0, State::Running, 0)]);
        let s = status(&p, &rt, &[]);
        assert_eq!(s.phase.as_deref(), Some("Pending"));
        assert_eq!(init_status(&s, "side").started, Some(false));
        assert_eq!(
            cond(&s, "Initialized").message.as_deref(),
            Some("containers with incomplete status: [side]")
        );
        let main = &s.container_statuses.as_ref().unwrap()[0];
        assert_eq!(
            main.state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("PodInitializing")
        );
    }

    #[test]
    fn sidecars_do_not_decide_a_completed_pods_phase() {
        let p = sidecar_pod(json!({}));
        // The app is done, the sidecar still runs: Running until it is stopped.
        let rt = runtime(vec![
            container("side", 0, State::Running, 0),
            container("main", 0, State::Exited, 0),
        ]);
        assert_eq!(status(&p, &rt, &[]).phase.as_deref(), Some("Running"));
        // Stopped (SIGTERM, 143): the pod succeeded from its app container alone.
        let rt = runtime(vec![
            container("side", 0, State::Exited, 143),
            container("main", 0, State::Exited, 0),
        ]);
        let s = status(&p, &rt, &[]);
        assert_eq!(s.phase.as_deref(), Some("Succeeded"));
        assert_eq!(
            cond(&s, "Initialized").reason.as_deref(),
            Some("PodCompleted")
        );
        assert_eq!(cond(&s, "Ready").reason.as_deref(), Some("PodCompleted"));
        let side = init_status(&s, "side");
        assert!(side.state.as_ref().unwrap().terminated.is_some());
        assert!(!side.ready);
        let rt = runtime(vec![
            container("side", 0, State::Exited, 0),
            container("main", 0, State::Exited, 2),
        ]);
        let s = status(&p, &rt, &[]);
        assert_eq!(s.phase.as_deref(), Some("Failed"));
        assert_eq!(
            cond(&s, "ContainersReady").reason.as_deref(),
            Some("PodFailed")
        );
    }

    #[test]
    fn a_completed_init_container_is_ready() {
        let p = pod("Always", true);
        let rt = runtime(vec![
            container("setup", 0, State::Exited, 0),
            container("main", 0, State::Running, 0),
        ]);
        let s = status(&p, &rt, &[]);
        let setup = init_status(&s, "setup");
        assert!(setup.ready);
        assert_eq!(setup.started, Some(false));
    }

    fn resized_pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u", "generation": 3},
            "spec": {"containers": [{"name": "main", "image": "busybox",
                "resources": {"requests": {"cpu": "400m"}, "limits": {"cpu": "400m"}}}]},
            "status": {"phase": "Running", "qosClass": "Burstable"}}))
        .unwrap()
    }

    #[test]
    fn a_resize_in_progress_shows_what_runs_and_what_is_allocated() {
        let p = resized_pod();
        let mut main = container("main", 0, State::Running, 0);
        main.resources = Some(LinuxResources {
            cpu_shares: 204,
            cpu_quota: 20_000,
            cpu_period: 100_000,
            memory_limit: 0,
        });
        let rt = runtime(vec![main.clone()]);
        let none = HashMap::new();
        let s = observed(&p, &rt, &none, &ResizeReport::default());
        let cs = &s.container_statuses.as_ref().unwrap()[0];
        let r = cs.resources.as_ref().unwrap();
        assert_eq!(r.limits.as_ref().unwrap()["cpu"].0, "200m");
        assert_eq!(r.requests.as_ref().unwrap()["cpu"].0, "200m");
        assert_eq!(cs.allocated_resources.as_ref().unwrap()["cpu"].0, "400m");
        let in_progress = cond(&s, "PodResizeInProgress");
        assert_eq!(
            (in_progress.status.as_str(), in_progress.reason.as_deref()),
            ("True", None)
        );
        assert_eq!(in_progress.observed_generation, Some(3));
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(cond(&s, "Ready").observed_generation, Some(3));
        // Resize conditions come first, the kubelet's usual ones after.
        assert_eq!(
            s.conditions.as_ref().unwrap()[0].type_,
            "PodResizeInProgress"
        );

        // Applied: the condition goes, the status shows the new values.
        main.resources = Some(spec::cgroup_values(&p.spec.as_ref().unwrap().containers[0]));
        let rt = runtime(vec![main]);
        let s = observed(&p, &rt, &none, &ResizeReport::default());
        assert!(s
            .conditions
            .iter()
            .flatten()
            .all(|c| c.type_ != "PodResizeInProgress"));
        let cs = &s.container_statuses.as_ref().unwrap()[0];
        assert_eq!(
            cs.resources.as_ref().unwrap().limits.as_ref().unwrap()["cpu"].0,
            "400m"
        );

        // Applying failed: in progress, with the error.
        let failed = ResizeReport {
            pending: None,
            error: Some("cannot set memory limit".into()),
        };
        let s = observed(&p, &rt, &none, &failed);
        let c = cond(&s, "PodResizeInProgress");
        assert_eq!(
            (c.reason.as_deref(), c.message.as_deref()),
            (Some("Error"), Some("cannot set memory limit"))
        );
    }

    #[test]
    fn a_resize_the_node_cannot_fit_is_pending() {
        let p = resized_pod();
        let rt = runtime(vec![container("main", 0, State::Running, 0)]);
        let pending = ResizeReport {
            pending: Some((
                "Infeasible".into(),
                "Node didn't have enough capacity: cpu, requested: 64000, capacity: 4000".into(),
            )),
            error: None,
        };
        let s = observed(&p, &rt, &HashMap::new(), &pending);
        let c = cond(&s, "PodResizePending");
        assert_eq!(c.status, "True");
        assert_eq!(c.reason.as_deref(), Some("Infeasible"));
        assert_eq!(
            c.message.as_deref(),
            Some("Node didn't have enough capacity: cpu, requested: 64000, capacity: 4000")
        );
        assert!(c.last_probe_time.is_some() && c.last_transition_time.is_some());
        // A finished pod reports no resize.
        let mut done = p.clone();
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        let s = observed(&done, &rt, &HashMap::new(), &pending);
        assert!(s
            .conditions
            .iter()
            .flatten()
            .all(|c| c.type_ != "PodResizePending"));
    }

    #[test]
    fn transition_times_survive_unchanged_conditions() {
        let mut p = pod("Always", false);
        let rt = runtime(vec![container("main", 0, State::Running, 0)]);
        let first = status(&p, &rt, &[]);
        p.status = Some(first.clone());
        let waiting = HashMap::new();
        let probes = HashMap::new();
        let later = pod_status(
            &p,
            &Observed {
                runtime: &rt,
                waiting: &waiting,
                probes: &probes,
                node_ip: "172.18.0.3",
                start_time: time_from_nanos(0),
                now: jiff::Timestamp::from_second(1_800_000_000).unwrap(),
                resize: &ResizeReport::default(),
            },
        );
        assert_eq!(owned_json(&first), owned_json(&later));
    }
}
