//! In-place pod resize (KEP-1287, GA in 1.35) on the node, without IO:
//!
//! - *Allocation*: the resources this node granted each container. A pod is admitted with its
//!   spec's; a changed spec (a `pods/resize`) is allocated when the node can fit it, else the
//!   resize stays pending: `Infeasible` (more than the node has at all) or `Deferred` (not with
//!   the other pods' allocations), with upstream's messages. The worker runs the pod *as
//!   allocated* ([`with_allocation`]), as the kubelet's SyncPod gets the allocated pod.
//! - *Actuation*: what a running container must change to match its allocation
//!   ([`resize_action`]): its CPU and memory cgroup values in place (CRI
//!   UpdateContainerResources), or a restart when its `resizePolicy` for a changed resource is
//!   `RestartContainer`. `pods/actions.rs` puts it among the pod's actions.
//! - *Status*: whether a resize is in progress (allocated ≠ actuated) and the resources a
//!   container status reports (what runs, in API quantities).
//!
//! [`Allocations`] is the node's record of every pod's allocated requests (what a `Deferred`
//! check adds up); it lives in memory, so after an agent restart pods are admitted again with
//! their spec's resources.

use super::spec;
use crate::runtime::{ContainerInfo, LinuxResources, PodRuntime, State};
use k8s_openapi::api::core::v1::{Container, Pod, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use kindling_api::quantity::Format;
use kindling_api::Quantity;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

pub const PENDING: &str = "PodResizePending";
pub const IN_PROGRESS: &str = "PodResizeInProgress";
pub const INFEASIBLE: &str = "Infeasible";
pub const DEFERRED: &str = "Deferred";

/// CPU (milli-cores) and memory (bytes) requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requests {
    pub milli_cpu: i64,
    pub memory: i64,
}

impl Requests {
    fn add(&mut self, o: Requests) {
        self.milli_cpu = self.milli_cpu.saturating_add(o.milli_cpu);
        self.memory = self.memory.saturating_add(o.memory);
    }

    fn max_with(&mut self, o: Requests) {
        self.milli_cpu = self.milli_cpu.max(o.milli_cpu);
        self.memory = self.memory.max(o.memory);
    }
}

fn container_requests(c: &Container) -> Requests {
    let r = spec::resources(c);
    Requests {
        milli_cpu: r.cpu_request_milli.unwrap_or(0),
        memory: r.memory_request.unwrap_or(0),
    }
}

/// The pod's effective CPU and memory requests, as upstream's `PodRequests` (the scheduler's
/// `types::pod_requests` computes the same for every resource): the app containers and
/// sidecars together, or what an init container needs beside the sidecars started before it,
/// whichever is larger.
pub fn pod_requests(pod: &Pod) -> Requests {
    let s = spec::spec(pod);
    let mut total = Requests::default();
    for c in &s.containers {
        total.add(container_requests(c));
    }
    let mut sidecars = Requests::default();
    let mut init_peak = Requests::default();
    for c in s.init_containers.iter().flatten() {
        let mut r = container_requests(c);
        if spec::is_sidecar(c) {
            total.add(r);
            sidecars.add(r);
            r = sidecars;
        } else {
            r.add(sidecars);
        }
        init_peak.max_with(r);
    }
    total.max_with(init_peak);
    total
}

/// Whether the node can take a pod's new requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allocate,
    /// The resize waits: its reason (`Infeasible` or `Deferred`) and upstream's message.
    Pending {
        reason: &'static str,
        message: String,
    },
}

/// Upstream's `canResizePod`: `wanted` (the pod's requests after the resize) against what the
/// node has (`capacity`, its allocatable) and what the other pods were allocated (`others`).
pub fn decide(wanted: Requests, others: Requests, capacity: Requests) -> Decision {
    if wanted.memory > capacity.memory {
        return Decision::Pending {
            reason: INFEASIBLE,
            message: format!(
                "Node didn't have enough capacity: memory, requested: {}, capacity: {}",
                wanted.memory, capacity.memory
            ),
        };
    }
    if wanted.milli_cpu > capacity.milli_cpu {
        return Decision::Pending {
            reason: INFEASIBLE,
            message: format!(
                "Node didn't have enough capacity: cpu, requested: {}, capacity: {}",
                wanted.milli_cpu, capacity.milli_cpu
            ),
        };
    }
    // The scheduler's fit check, in its order (cpu, then memory).
    let short = [
        (
            "cpu",
            wanted.milli_cpu,
            others.milli_cpu,
            capacity.milli_cpu,
        ),
        ("memory", wanted.memory, others.memory, capacity.memory),
    ]
    .into_iter()
    .find(|(_, wanted, used, capacity)| wanted.saturating_add(*used) > *capacity);
    match short {
        Some((name, wanted, used, capacity)) => Decision::Pending {
            reason: DEFERRED,
            message: format!(
                "Node didn't have enough resource: {name}, requested: {wanted}, used: {used}, capacity: {capacity}"
            ),
        },
        None => Decision::Allocate,
    }
}

/// The containers a resize may change: app containers and sidecars (not run-once init
/// containers).
fn resizable(pod: &Pod) -> impl Iterator<Item = &Container> {
    let s = spec::spec(pod);
    s.init_containers
        .iter()
        .flatten()
        .filter(|c| spec::is_sidecar(c))
        .chain(&s.containers)
}

/// The resources of every resizable container, by name: what the node allocated.
pub type Allocated = BTreeMap<String, ResourceRequirements>;

/// What `pod`'s spec asks for, as an allocation.
pub fn allocation_of(pod: &Pod) -> Allocated {
    resizable(pod)
        .map(|c| (c.name.clone(), c.resources.clone().unwrap_or_default()))
        .collect()
}

/// `pod` with its containers' resources as allocated (a pending resize's new values are not).
pub fn with_allocation(pod: &Pod, allocated: &Allocated) -> Pod {
    let mut out = pod.clone();
    if let Some(s) = out.spec.as_mut() {
        for c in s
            .init_containers
            .iter_mut()
            .flatten()
            .chain(s.containers.iter_mut())
        {
            if let Some(r) = allocated.get(&c.name) {
                c.resources = Some(r.clone());
            }
        }
    }
    out
}

/// Which resources differ between two sets of cgroup values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changed {
    pub cpu: bool,
    pub memory: bool,
}

pub fn changed(wanted: &LinuxResources, current: &LinuxResources) -> Changed {
    Changed {
        cpu: wanted.cpu_shares != current.cpu_shares
            || wanted.cpu_quota != current.cpu_quota
            || wanted.cpu_period != current.cpu_period,
        memory: wanted.memory_limit != current.memory_limit,
    }
}

/// What a running container's resize takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeAction {
    /// These cgroup values, applied in place.
    InPlace(LinuxResources),
    /// A restart: the resize policy of a changed resource is `RestartContainer`.
    Restart,
}

/// The container's resize policy for `resource` (`cpu` or `memory`): `NotRequired` unless set.
fn restarts_for(c: &Container, resource: &str) -> bool {
    c.resize_policy
        .iter()
        .flatten()
        .any(|p| p.resource_name == resource && p.restart_policy == "RestartContainer")
}

/// Whether running container `running` (allocated spec `c`) needs a resize, and how. Nothing
/// when its resources are unknown (a container of an agent that did not record them).
pub fn resize_action(c: &Container, running: &ContainerInfo) -> Option<ResizeAction> {
    let current = running.resources?;
    let wanted = spec::cgroup_values(c);
    let diff = changed(&wanted, &current);
    if !diff.cpu && !diff.memory {
        return None;
    }
    if (diff.cpu && restarts_for(c, "cpu")) || (diff.memory && restarts_for(c, "memory")) {
        return Some(ResizeAction::Restart);
    }
    Some(ResizeAction::InPlace(wanted))
}

/// Whether a running container of the (allocated) pod runs with other resources than
/// allocated: a resize is in progress.
pub fn in_progress(pod: &Pod, rt: &PodRuntime) -> bool {
    resizable(pod).any(|c| {
        rt.named(&c.name)
            .next()
            .filter(|l| l.state == State::Running)
            .is_some_and(|l| resize_action(c, l).is_some())
    })
}

/// Upstream's minimum effective values: a CPU request at or below 2 shares' worth and a limit at
/// or below 10m read back as the allocated value.
const MIN_SHARES_MILLI: i64 = 2;
const MIN_LIMIT_MILLI: i64 = 10;

fn milli_cpu(milli: i64) -> ApiQuantity {
    ApiQuantity(Quantity::new_milli(milli, Format::DecimalSI).to_string())
}

fn bytes(value: i64) -> ApiQuantity {
    ApiQuantity(Quantity::new(value, Format::BinarySI).to_string())
}

fn milli_of(q: Option<&ApiQuantity>) -> i64 {
    q.and_then(|q| Quantity::try_from(q).ok())
        .map_or(0, |q| q.milli_value())
}

/// The resources a container status reports (upstream's `convertContainerStatusResources`):
/// the allocated ones, with the CPU request and limit and the memory limit the container
/// actually runs with when it runs and they are known.
pub fn status_resources(allocated: &Container, latest: &ContainerInfo) -> ResourceRequirements {
    let mut out = allocated.resources.clone().unwrap_or_default();
    let actual = match latest.resources {
        Some(r) if latest.state == State::Running => r,
        _ => return out,
    };
    if let Some(limits) = out.limits.as_mut() {
        if actual.cpu_quota > 0 && actual.cpu_period > 0 {
            let milli = actual.cpu_quota * 1000 / actual.cpu_period;
            if milli > MIN_LIMIT_MILLI || milli_of(limits.get("cpu")) > MIN_LIMIT_MILLI {
                limits.insert("cpu".into(), milli_cpu(milli));
            }
        }
        if actual.memory_limit > 0 {
            limits.insert("memory".into(), bytes(actual.memory_limit));
        }
    }
    if let Some(requests) = out.requests.as_mut() {
        if actual.cpu_shares >= 2 {
            // Shares back to milli-cores, rounded up as upstream's sharesToMilliCPU.
            let milli = (actual.cpu_shares * 1000 + 1023) / 1024;
            if milli > MIN_SHARES_MILLI || milli_of(requests.get("cpu")) > MIN_SHARES_MILLI {
                requests.insert("cpu".into(), milli_cpu(milli));
            }
        }
    }
    out
}

/// The node's record of what every pod was allocated (the requests a `Deferred` check adds up),
/// by pod UID; pods that finished are released.
#[derive(Debug, Default)]
pub struct Allocations(Mutex<HashMap<String, Requests>>);

impl Allocations {
    pub fn set(&self, uid: &str, requests: Requests) {
        self.lock().insert(uid.to_string(), requests);
    }

    pub fn release(&self, uid: &str) {
        self.lock().remove(uid);
    }

    /// What every other pod was allocated, added up.
    pub fn others(&self, uid: &str) -> Requests {
        let mut total = Requests::default();
        for (other, r) in self.lock().iter() {
            if other != uid {
                total.add(*r);
            }
        }
        total
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Requests>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p", "uid": "u"}, "spec": spec}))
            .unwrap()
    }

    fn running(c: &Container, resources: Option<LinuxResources>) -> ContainerInfo {
        ContainerInfo {
            id: format!("{}-0", c.name),
            sandbox_id: "s".into(),
            name: c.name.clone(),
            attempt: 0,
            init: false,
            hash: spec::container_hash(c),
            state: State::Running,
            created_at: 0,
            started_at: 0,
            finished_at: 0,
            exit_code: 0,
            reason: String::new(),
            message: String::new(),
            image: String::new(),
            image_ref: String::new(),
            resources,
        }
    }

    #[test]
    fn requests_count_sidecars_beside_the_app() {
        let p = pod(json!({
            "initContainers": [
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m", "memory": "10Mi"}}},
                {"name": "setup", "resources": {"requests": {"cpu": "2", "memory": "1Mi"}}},
            ],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "200m"}, "limits": {"memory": "64Mi"}}},
                {"name": "b", "resources": {"limits": {"cpu": "300m"}}},
            ],
        }));
        // Init peak: setup (2 cpu) beside side (100m) = 2100m; running: 100m + 200m + 300m.
        // Memory: 10Mi + 64Mi (a's limit is its request) against 1Mi + 10Mi.
        assert_eq!(
            pod_requests(&p),
            Requests {
                milli_cpu: 2100,
                memory: 74 << 20
            }
        );
    }

    #[test]
    fn decisions_carry_upstreams_messages() {
        let capacity = Requests {
            milli_cpu: 4000,
            memory: 4 << 30,
        };
        let want = |milli_cpu, memory| Requests { milli_cpu, memory };
        assert_eq!(
            decide(want(1000, 1 << 30), want(2000, 1 << 30), capacity),
            Decision::Allocate
        );
        assert_eq!(
            decide(want(5000, 1 << 30), Requests::default(), capacity),
            Decision::Pending {
                reason: "Infeasible",
                message: "Node didn't have enough capacity: cpu, requested: 5000, capacity: 4000"
                    .into()
            }
        );
        assert_eq!(
            decide(want(5000, 5 << 30), Requests::default(), capacity),
            Decision::Pending {
                reason: "Infeasible",
                message: "Node didn't have enough capacity: memory, requested: 5368709120, capacity: 4294967296".into()
            }
        );
        assert_eq!(
            decide(want(1500, 1 << 30), want(3000, 1 << 30), capacity),
            Decision::Pending {
                reason: "Deferred",
                message: "Node didn't have enough resource: cpu, requested: 1500, used: 3000, capacity: 4000".into()
            }
        );
        assert_eq!(
            decide(want(1000, 3 << 30), want(1000, 2 << 30), capacity),
            Decision::Pending {
                reason: "Deferred",
                message: "Node didn't have enough resource: memory, requested: 3221225472, used: 2147483648, capacity: 4294967296".into()
            }
        );
    }

    #[test]
    fn allocation_replaces_resizable_containers_resources() {
        let old = pod(json!({
            "initContainers": [{"name": "side", "restartPolicy": "Always",
                "resources": {"limits": {"cpu": "100m"}}}],
            "containers": [{"name": "c", "resources": {"limits": {"cpu": "200m"}}}],
        }));
        let new = pod(json!({
            "initContainers": [{"name": "side", "restartPolicy": "Always",
                "resources": {"limits": {"cpu": "150m"}}}],
            "containers": [{"name": "c", "resources": {"limits": {"cpu": "400m"}}}],
        }));
        let allocated = allocation_of(&old);
        assert_eq!(allocated.len(), 2);
        assert_ne!(allocated, allocation_of(&new));
        let as_allocated = with_allocation(&new, &allocated);
        assert_eq!(allocation_of(&as_allocated), allocated);
    }

    #[test]
    fn resize_in_place_unless_the_policy_restarts() {
        let p = pod(json!({"containers": [{"name": "c",
            "resources": {"limits": {"cpu": "400m", "memory": "64Mi"}},
            "resizePolicy": [{"resourceName": "memory", "restartPolicy": "RestartContainer"}]}]}));
        let c = &p.spec.as_ref().unwrap().containers[0];
        let wanted = spec::cgroup_values(c);
        assert_eq!(resize_action(c, &running(c, Some(wanted))), None);
        assert_eq!(
            resize_action(c, &running(c, None)),
            None,
            "unknown: left alone"
        );
        let cpu_was = LinuxResources {
            cpu_quota: 20_000,
            cpu_shares: 204,
            ..wanted
        };
        assert_eq!(
            resize_action(c, &running(c, Some(cpu_was))),
            Some(ResizeAction::InPlace(wanted))
        );
        let memory_was = LinuxResources {
            memory_limit: 32 << 20,
            ..wanted
        };
        assert_eq!(
            resize_action(c, &running(c, Some(memory_was))),
            Some(ResizeAction::Restart)
        );
        let rt = PodRuntime {
            sandboxes: vec![],
            containers: vec![running(c, Some(cpu_was))],
        };
        assert!(in_progress(&p, &rt));
    }

    #[test]
    fn status_reports_what_runs() {
        let p = pod(json!({"containers": [{"name": "c",
            "resources": {"requests": {"cpu": "400m", "memory": "32Mi"}, "limits": {"cpu": "400m", "memory": "64Mi"}}}]}));
        let c = &p.spec.as_ref().unwrap().containers[0];
        let was = LinuxResources {
            cpu_shares: 204,
            cpu_quota: 20_000,
            cpu_period: 100_000,
            memory_limit: 64 << 20,
        };
        let r = status_resources(c, &running(c, Some(was)));
        let limits = r.limits.unwrap();
        assert_eq!(limits["cpu"].0, "200m");
        assert_eq!(limits["memory"].0, "64Mi");
        let requests = r.requests.unwrap();
        assert_eq!(requests["cpu"].0, "200m");
        assert_eq!(requests["memory"].0, "32Mi");
        let now = status_resources(c, &running(c, Some(spec::cgroup_values(c))));
        assert_eq!(now.limits.unwrap()["cpu"].0, "400m");
        assert_eq!(now.requests.unwrap()["cpu"].0, "400m");
        let mut exited = running(c, Some(was));
        exited.state = State::Exited;
        assert_eq!(status_resources(c, &exited), c.resources.clone().unwrap());
    }

    #[test]
    fn allocations_add_up_the_other_pods() {
        let a = Allocations::default();
        a.set(
            "u1",
            Requests {
                milli_cpu: 100,
                memory: 1,
            },
        );
        a.set(
            "u2",
            Requests {
                milli_cpu: 200,
                memory: 2,
            },
        );
        assert_eq!(
            a.others("u1"),
            Requests {
                milli_cpu: 200,
                memory: 2
            }
        );
        a.release("u2");
        assert_eq!(a.others("u1"), Requests::default());
    }
}
