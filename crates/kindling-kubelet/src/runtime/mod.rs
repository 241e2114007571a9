//! The container runtime as the kubelet sees it: one trait, [`Runtime`], over what the pod
//! runner, the probes and hooks, and the :10250 server ask of it (upstream's `RuntimeService`
//! and `ImageManagerService`), and the runtime's state of a pod as plain data ([`PodRuntime`]).
//!
//! [`CriRuntime`] is the implementation: CRI v1 over the runtime's unix socket. It is the only
//! module that names the gRPC clients; everything else holds an `Arc<dyn Runtime>`. Requests
//! carry the CRI's own config messages (`PodSandboxConfig`, `ContainerConfig`, built by
//! `pods/spec.rs`), as upstream's interface does.

mod cri;

pub use cri::CriRuntime;

use async_trait::async_trait;
use k8s_cri::v1 as api;
use std::collections::HashMap;

/// Labels the kubelet puts on every sandbox and container (the kubelet's names, so tools that
/// know them — crictl, kind's log export — find their way).
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";
/// Which agent made it: sandboxes without it (made by hand with ctr) are left alone.
pub const LABEL_MANAGED: &str = "io.kindling.managed";
/// Annotation: hash of the container's spec, to notice a changed image (the only spec change
/// a pod update may make).
pub const ANNOTATION_HASH: &str = "io.kubernetes.container.hash";
pub const ANNOTATION_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
pub const ANNOTATION_TERMINATION_GRACE: &str = "io.kubernetes.pod.terminationGracePeriod";
/// Annotation: `init` for init containers.
pub const ANNOTATION_KIND: &str = "io.kindling.container.kind";
/// Annotation: the cgroup values the container was created with ([`LinuxResources`]), for
/// runtimes whose ContainerStatus does not report them (containerd before 1.7).
pub const ANNOTATION_RESOURCES: &str = "io.kindling.container.resources";

/// A runtime call that failed, with the runtime's message (what events and container statuses
/// show the user).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeError(pub String);

impl RuntimeError {
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RuntimeError {}

pub type RuntimeResult<T> = Result<T, RuntimeError>;

/// What the kubelet asks of a container runtime.
#[async_trait]
pub trait Runtime: Send + Sync {
    /// Waits until the runtime answers.
    async fn wait_ready(&self);

    /// Every sandbox and container this kubelet made, by pod UID, with their states: what the
    /// relist compares from one second to the next.
    async fn list_managed(&self) -> anyhow::Result<HashMap<String, Vec<Seen>>>;

    /// What the runtime holds of one pod: its sandboxes and containers, newest first, with
    /// statuses.
    async fn pod(&self, uid: &str) -> anyhow::Result<PodRuntime>;

    /// Runs a sandbox; its ID.
    async fn run_pod_sandbox(&self, config: api::PodSandboxConfig) -> RuntimeResult<String>;
    async fn stop_pod_sandbox(&self, id: &str) -> RuntimeResult<()>;
    async fn remove_pod_sandbox(&self, id: &str) -> RuntimeResult<()>;
    /// The cgroup the runtime put the sandbox's pod under, if it says.
    async fn sandbox_cgroup_parent(&self, id: &str) -> Option<String>;

    /// Creates a container in sandbox `sandbox_id`; its ID.
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: api::ContainerConfig,
        sandbox_config: api::PodSandboxConfig,
    ) -> RuntimeResult<String>;
    async fn start_container(&self, id: &str) -> RuntimeResult<()>;
    /// Stops a container: SIGTERM, SIGKILL after `timeout_seconds`.
    async fn stop_container(&self, id: &str, timeout_seconds: i64) -> RuntimeResult<()>;
    async fn remove_container(&self, id: &str) -> RuntimeResult<()>;
    /// Applies new CPU and memory cgroup values to a running container (in-place resize); a
    /// zero field is left as it is.
    async fn update_container_resources(
        &self,
        id: &str,
        resources: api::LinuxContainerResources,
    ) -> RuntimeResult<()>;
    /// Runs `cmd` in a container and waits for it (the runtime gives up after
    /// `timeout_seconds`).
    async fn exec_sync(
        &self,
        id: &str,
        cmd: Vec<String>,
        timeout_seconds: i64,
    ) -> RuntimeResult<ExecResult>;

    /// The newest running container `name` of pod `namespace/pod`.
    async fn running_container(
        &self,
        namespace: &str,
        pod: &str,
        name: &str,
    ) -> RuntimeResult<Option<String>>;
    /// The newest ready sandbox of pod `namespace/pod`.
    async fn ready_sandbox(&self, namespace: &str, pod: &str) -> RuntimeResult<Option<String>>;
    /// A one-time URL on the runtime's streaming server that runs `cmd` in a container.
    async fn exec_url(
        &self,
        container_id: &str,
        cmd: Vec<String>,
        streams: Streams,
    ) -> RuntimeResult<String>;
    /// A one-time URL that attaches to a container's main process.
    async fn attach_url(&self, container_id: &str, streams: Streams) -> RuntimeResult<String>;
    /// A one-time URL that forwards ports of a sandbox.
    async fn port_forward_url(&self, sandbox_id: &str, ports: Vec<i32>) -> RuntimeResult<String>;

    /// The image `image` (a reference or an ID) as the runtime has it, if it has it.
    async fn image_status(&self, image: &str) -> RuntimeResult<Option<Image>>;
    /// Pulls `image`; the image's reference.
    async fn pull_image(&self, image: &str) -> RuntimeResult<String>;
}

/// Which streams an exec or attach carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Streams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

/// What an `exec_sync` gave back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecResult {
    pub exit_code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// An image the runtime has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Image {
    pub id: String,
    /// The user it runs as, when the image says a numeric one.
    pub uid: Option<i64>,
    /// The user it runs as, when the image names one.
    pub username: String,
}

/// A sandbox or container as a relist sees it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    pub id: String,
    pub state: SeenState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SeenState {
    Sandbox { ready: bool },
    Container(State),
}

/// A sandbox of the pod as the runtime reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SandboxInfo {
    pub id: String,
    pub attempt: u32,
    pub ready: bool,
    pub created_at: i64,
    pub ips: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Created,
    Running,
    Exited,
    Unknown,
}

/// A container of the pod with what its status says.
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    pub sandbox_id: String,
    pub name: String,
    pub attempt: u32,
    pub init: bool,
    pub hash: String,
    pub state: State,
    /// Nanoseconds since the epoch (0 when not yet).
    pub created_at: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub exit_code: i32,
    pub reason: String,
    pub message: String,
    pub image: String,
    pub image_ref: String,
    /// The CPU and memory cgroup values it runs with, when known (the runtime's status, else
    /// what it was created with).
    pub resources: Option<LinuxResources>,
}

/// The CPU and memory cgroup values of a container (the part of CRI's
/// `LinuxContainerResources` a resize changes). Zero means unset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinuxResources {
    pub cpu_shares: i64,
    pub cpu_quota: i64,
    pub cpu_period: i64,
    pub memory_limit: i64,
}

impl LinuxResources {
    /// From CRI's message (none when it carries nothing: the runtime does not report them).
    pub fn from_cri(r: &api::LinuxContainerResources) -> Option<LinuxResources> {
        let out = LinuxResources {
            cpu_shares: r.cpu_shares,
            cpu_quota: r.cpu_quota,
            cpu_period: r.cpu_period,
            memory_limit: r.memory_limit_in_bytes,
        };
        (out != LinuxResources::default()).then_some(out)
    }

    /// Into CRI's message, the other fields unset (the runtime keeps them as they are).
    pub fn to_cri(self) -> api::LinuxContainerResources {
        api::LinuxContainerResources {
            cpu_shares: self.cpu_shares,
            cpu_quota: self.cpu_quota,
            cpu_period: self.cpu_period,
            memory_limit_in_bytes: self.memory_limit,
            ..Default::default()
        }
    }

    /// The annotation form: `cpu.shares=204 cpu.quota=20000 cpu.period=100000 memory.limit=0`.
    pub fn annotation(self) -> String {
        format!(
            "cpu.shares={} cpu.quota={} cpu.period={} memory.limit={}",
            self.cpu_shares, self.cpu_quota, self.cpu_period, self.memory_limit
        )
    }

    /// Parses [`LinuxResources::annotation`]'s form; none when anything is off.
    pub fn parse_annotation(text: &str) -> Option<LinuxResources> {
        let mut out = LinuxResources::default();
        let mut seen = 0;
        for pair in text.split_whitespace() {
            let (key, value) = pair.split_once('=')?;
            let value: i64 = value.parse().ok()?;
            match key {
                "cpu.shares" => out.cpu_shares = value,
                "cpu.quota" => out.cpu_quota = value,
                "cpu.period" => out.cpu_period = value,
                "memory.limit" => out.memory_limit = value,
                _ => return None,
            }
            seen += 1;
        }
        (seen == 4).then_some(out)
    }
}

/// Sandboxes and containers of one pod, newest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodRuntime {
    pub sandboxes: Vec<SandboxInfo>,
    pub containers: Vec<ContainerInfo>,
}

impl PodRuntime {
    /// The sandbox the pod runs in now (the newest), if it is ready.
    pub fn ready_sandbox(&self) -> Option<&SandboxInfo> {
        self.sandboxes.first().filter(|s| s.ready)
    }

    /// The containers named `name`, newest first (across every sandbox of the pod).
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a ContainerInfo> + 'a {
        self.containers.iter().filter(move |c| c.name == name)
    }

    /// The newest container named `name` in sandbox `sandbox`.
    pub fn latest_in(&self, name: &str, sandbox: &str) -> Option<&ContainerInfo> {
        self.containers
            .iter()
            .find(|c| c.name == name && c.sandbox_id == sandbox)
    }

    /// The attempt number the next container named `name` gets.
    pub fn next_attempt(&self, name: &str) -> u32 {
        self.named(name).map(|c| c.attempt + 1).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_annotation_round_trips() {
        let r = LinuxResources {
            cpu_shares: 204,
            cpu_quota: 20_000,
            cpu_period: 100_000,
            memory_limit: 64 << 20,
        };
        assert_eq!(
            r.annotation(),
            "cpu.shares=204 cpu.quota=20000 cpu.period=100000 memory.limit=67108864"
        );
        assert_eq!(LinuxResources::parse_annotation(&r.annotation()), Some(r));
        assert_eq!(LinuxResources::parse_annotation("cpu.shares=2"), None);
        assert_eq!(LinuxResources::parse_annotation("cpu.shares=x"), None);
        assert_eq!(LinuxResources::from_cri(&r.to_cri()), Some(r));
        assert_eq!(
            LinuxResources::from_cri(&api::LinuxContainerResources::default()),
            None
        );
    }
}
