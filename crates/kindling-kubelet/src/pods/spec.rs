//! Pod and container specs → CRI configs, as the kubelet's kuberuntime builds them: sandbox
//! metadata, hostname, DNS, port mappings, namespaces and cgroup parent; container command/args
//! with `$(VAR)` references expanded, env, mounts, resources → Linux cgroup values, security
//! context. Pure: the caller resolves env values and volume paths first.

use crate::runtime::{
    LinuxResources, ANNOTATION_HASH, ANNOTATION_KIND, ANNOTATION_RESOURCES,
    ANNOTATION_RESTART_COUNT, ANNOTATION_TERMINATION_GRACE, LABEL_CONTAINER_NAME, LABEL_MANAGED,
    LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID,
};
use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use std::collections::{BTreeMap, HashMap};

/// What the node contributes to every sandbox.
#[derive(Clone, Debug, Default)]
pub struct NodeFacts {
    pub node_name: String,
    /// The node's `/etc/resolv.conf`, for pods with `dnsPolicy: Default` (its search domains
    /// follow the cluster's for `ClusterFirst`).
    pub resolv_conf: String,
    /// The cluster DNS servers and domain, for `ClusterFirst`.
    pub cluster_dns: super::dns::ClusterDns,
    /// Cgroup the pods of this node nest under (e.g. `/docker/<id>/kubepods`).
    pub cgroup_root: String,
    /// Memory of the node in bytes (for Burstable pods' OOM score).
    pub memory_bytes: u64,
}

pub fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or_default()
}
pub fn name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or_default()
}
pub fn namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}
pub fn spec(pod: &Pod) -> &PodSpec {
    static EMPTY: std::sync::OnceLock<PodSpec> = std::sync::OnceLock::new();
    pod.spec
        .as_ref()
        .unwrap_or_else(|| EMPTY.get_or_init(PodSpec::default))
}
pub fn host_network(pod: &Pod) -> bool {
    spec(pod).host_network.unwrap_or(false)
}

/// Whether an init container is a sidecar (`restartPolicy: Always`, KEP-753): started in order
/// with the init containers, then kept running beside the app containers.
pub fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// The pod's sidecars in definition order, with their index among the init containers.
pub fn sidecars(pod: &Pod) -> impl Iterator<Item = (usize, &Container)> {
    spec(pod)
        .init_containers
        .iter()
        .flatten()
        .enumerate()
        .filter(|(_, c)| is_sidecar(c))
}

/// Which list of the pod's spec a container comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Init,
    App,
    /// Added through `pods/<name>/ephemeralcontainers` (`kubectl debug`): started once, never
    /// restarted, no part of the pod's phase or readiness.
    Ephemeral,
}

/// The pod's ephemeral containers as containers (what they share with one), each with its
/// `targetContainerName`.
pub fn ephemeral_containers(pod: &Pod) -> Vec<(Container, Option<String>)> {
    spec(pod)
        .ephemeral_containers
        .iter()
        .flatten()
        .map(|ec| {
            let mut value = serde_json::to_value(ec).unwrap_or_default();
            if let Some(m) = value.as_object_mut() {
                m.remove("targetContainerName");
            }
            let container = serde_json::from_value(value).unwrap_or_else(|_| Container {
                name: ec.name.clone(),
                image: ec.image.clone(),
                ..Container::default()
            });
            let target = ec.target_container_name.clone().filter(|t| !t.is_empty());
            (container, target)
        })
        .collect()
}

/// Container `name` of the pod (app, init or sidecar) and whether it is an init container.
pub fn container<'a>(pod: &'a Pod, name: &str) -> Option<(&'a Container, bool)> {
    let s = spec(pod);
    s.containers
        .iter()
        .find(|c| c.name == name)
        .map(|c| (c, false))
        .or_else(|| {
            s.init_containers
                .iter()
                .flatten()
                .find(|c| c.name == name)
                .map(|c| (c, true))
        })
}

/// `/var/log/pods/<ns>_<name>_<uid>`, where the runtime writes container logs.
pub fn log_directory(pod: &Pod) -> String {
    format!(
        "/var/log/pods/{}_{}_{}",
        namespace(pod),
        name(pod),
        uid(pod)
    )
}

/// The pod's QoS class as upstream computes it.
pub fn qos_class(pod: &Pod) -> &'static str {
    let spec = serde_json::to_value(spec(pod)).unwrap_or_default();
    kindling_api::strategy::qos_class(&spec)
}

/// The pod's cgroup: `<root>/pod<uid>` for Guaranteed pods, `<root>/burstable/pod<uid>` and
/// `<root>/besteffort/pod<uid>` for the others, as the kubelet's cgroupfs layout.
pub fn cgroup_parent(pod: &Pod, root: &str) -> String {
    let root = root.trim_end_matches('/');
    let uid = uid(pod).replace('-', "_");
    match qos_class(pod) {
        "Guaranteed" => format!("{root}/pod{uid}"),
        "Burstable" => format!("{root}/burstable/pod{uid}"),
        _ => format!("{root}/besteffort/pod{uid}"),
    }
}

fn pod_labels(pod: &Pod) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = pod
        .metadata
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.insert(LABEL_POD_NAME.into(), name(pod).into());
    labels.insert(LABEL_POD_NAMESPACE.into(), namespace(pod).into());
    labels.insert(LABEL_POD_UID.into(), uid(pod).into());
    labels.insert(LABEL_MANAGED.into(), "true".into());
    labels
}

/// The pod's DNS configuration (resolv.conf servers, searches, options) from its dnsPolicy and
/// dnsConfig: [`super::dns::pod_dns`].
pub fn dns_config(pod: &Pod, node: &NodeFacts) -> cri::DnsConfig {
    super::dns::pod_dns(pod, &node.resolv_conf, &node.cluster_dns).config
}

/// Host ports of every container, as the sandbox's port mappings (the CNI portmap plugin
/// applies them).
pub fn port_mappings(pod: &Pod) -> Vec<cri::PortMapping> {
    let spec = spec(pod);
    let mut out = Vec::new();
    for c in spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
    {
        for p in c.ports.iter().flatten() {
            let host_port = p.host_port.unwrap_or(0);
            if host_port <= 0 {
                continue;
            }
            let protocol = match p.protocol.as_deref() {
                Some("UDP") => cri::Protocol::Udp,
                Some("SCTP") => cri::Protocol::Sctp,
                _ => cri::Protocol::Tcp,
            };
            out.push(cri::PortMapping {
                protocol: protocol as i32,
                container_port: p.container_port,
                host_port,
                host_ip: p.host_ip.clone().unwrap_or_default(),
            });
        }
    }
    out
}

fn namespace_options(spec: &PodSpec) -> cri::NamespaceOption {
    let mode = |host: Option<bool>, otherwise: cri::NamespaceMode| {
        if host.unwrap_or(false) {
            cri::NamespaceMode::Node as i32
        } else {
            otherwise as i32
        }
    };
    cri::NamespaceOption {
        network: mode(spec.host_network, cri::NamespaceMode::Pod),
        pid: mode(
            spec.host_pid,
            if spec.share_process_namespace.unwrap_or(false) {
                cri::NamespaceMode::Pod
            } else {
                cri::NamespaceMode::Container
            },
        ),
        ipc: mode(spec.host_ipc, cri::NamespaceMode::Pod),
        ..Default::default()
    }
}

/// The hostname a pod's containers see: `spec.hostname`, else the pod name (at most 63
/// characters, no trailing dot or dash).
pub fn hostname(pod: &Pod, node: &str) -> String {
    if host_network(pod) {
        return node.to_string();
    }
    pod_hostname(pod)
}

fn pod_hostname(pod: &Pod) -> String {
    let h = spec(pod)
        .hostname
        .clone()
        .unwrap_or_else(|| name(pod).to_string());
    let mut h: String = h.chars().take(63).collect();
    while h.ends_with(['-', '.']) {
        h.pop();
    }
    h
}

/// The RunPodSandbox config of `pod` (sandbox attempt `attempt`).
pub fn sandbox_config(pod: &Pod, attempt: u32, node: &NodeFacts) -> cri::PodSandboxConfig {
    let spec = spec(pod);
    let privileged = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .any(|c| {
            c.security_context
                .as_ref()
                .and_then(|s| s.privileged)
                .unwrap_or(false)
        });
    let psc = spec.security_context.clone().unwrap_or_default();
    let mut annotations: HashMap<String, String> = pod
        .metadata
        .annotations
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    annotations.insert(
        ANNOTATION_TERMINATION_GRACE.into(),
        spec.termination_grace_period_seconds
            .unwrap_or(30)
            .to_string(),
    );
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: name(pod).into(),
            uid: uid(pod).into(),
            namespace: namespace(pod).into(),
            attempt,
        }),
        // A host-network pod shares the node's UTS namespace: it has the node's name already
        // and the runtime refuses to set one.
        hostname: if host_network(pod) {
            String::new()
        } else {
            hostname(pod, &node.node_name)
        },
        log_directory: log_directory(pod),
        dns_config: Some(dns_config(pod, node)),
        port_mappings: port_mappings(pod),
        labels: pod_labels(pod),
        annotations,
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent(pod, &node.cgroup_root),
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(namespace_options(spec)),
                run_as_user: psc.run_as_user.map(|value| cri::Int64Value { value }),
                // containerd refuses a group without a user; the pause process needs neither.
                run_as_group: psc
                    .run_as_group
                    .filter(|_| psc.run_as_user.is_some())
                    .map(|value| cri::Int64Value { value }),
                supplemental_groups: supplemental_groups(&psc),
                privileged,
                seccomp: Some(cri::SecurityProfile {
                    profile_type: cri::security_profile::ProfileType::Unconfined as i32,
                    localhost_ref: String::new(),
                }),
                ..Default::default()
            }),
            sysctls: psc
                .sysctls
                .iter()
                .flatten()
                .map(|s| (s.name.clone(), s.value.clone()))
                .collect(),
            ..Default::default()
        }),
        windows: None,
    }
}

/// Expands `$(VAR)` references from `vars` as upstream does: `$$` is a literal `$`, an unknown
/// or unterminated reference stays as written.
pub fn expand(input: &str, vars: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'$' => {
                    out.push('$');
                    i += 2;
                    continue;
                }
                b'(' => {
                    if let Some(end) = input[i + 2..].find(')') {
                        let name = &input[i + 2..i + 2 + end];
                        match vars(name) {
                            Some(v) => out.push_str(&v),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        i += 2 + end + 1;
                        continue;
                    }
                }
                _ => {}
            }
        }
        let ch = input[i..].chars().next().expect("in bounds");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Milli-cores and bytes of a container's requests and limits.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Resources {
    pub cpu_request_milli: Option<i64>,
    pub cpu_limit_milli: Option<i64>,
    pub memory_request: Option<i64>,
    pub memory_limit: Option<i64>,
}

pub fn resources(c: &Container) -> Resources {
    let get = |map: Option<
        &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >,
               key: &str,
               scale: f64| {
        map.and_then(|m| m.get(key))
            .and_then(|q| kindling_api::Quantity::try_from(q).ok())
            .map(|q| q.scaled_value(if scale == 1.0 { 0 } else { -3 }))
    };
    let r = c.resources.as_ref();
    let requests = r.and_then(|r| r.requests.as_ref());
    let limits = r.and_then(|r| r.limits.as_ref());
    let mut out = Resources {
        cpu_request_milli: get(requests, "cpu", 1000.0),
        cpu_limit_milli: get(limits, "cpu", 1000.0),
        memory_request: get(requests, "memory", 1.0),
        memory_limit: get(limits, "memory", 1.0),
    };
    // A limit without a request requests the limit (the API defaults it the same way).
    if out.cpu_request_milli.is_none() {
        out.cpu_request_milli = out.cpu_limit_milli;
    }
    if out.memory_request.is_none() {
        out.memory_request = out.memory_limit;
    }
    out
}

/// The CFS period every CPU limit uses (100 ms).
pub const CPU_PERIOD: i64 = 100_000;

/// The CPU and memory cgroup values of a container's resources: CPU shares from the request (at
/// least 2), CFS quota from the limit (period 100 ms, at least 1 ms), the memory limit. The one
/// place they are computed: container creation and in-place resize both use it.
pub fn cgroup_values(c: &Container) -> LinuxResources {
    let r = resources(c);
    let quota = r.cpu_limit_milli.map(|m| (m * CPU_PERIOD / 1000).max(1000));
    LinuxResources {
        cpu_shares: r.cpu_request_milli.map_or(2, |m| (m * 1024 / 1000).max(2)),
        cpu_quota: quota.unwrap_or(0),
        cpu_period: if quota.is_some() { CPU_PERIOD } else { 0 },
        memory_limit: r.memory_limit.unwrap_or(0),
    }
}

/// Linux cgroup values for a container: [`cgroup_values`], and the OOM score the QoS class
/// gives.
pub fn linux_resources(pod: &Pod, c: &Container, node_memory: u64) -> cri::LinuxContainerResources {
    let r = resources(c);
    let oom = match qos_class(pod) {
        "Guaranteed" => -997,
        "BestEffort" => 1000,
        _ => {
            let request = r.memory_request.unwrap_or(0).max(0) as f64;
            let capacity = node_memory.max(1) as f64;
            let score = 1000 - (1000.0 * request / capacity) as i64;
            score.clamp(2, 999)
        }
    };
    cri::LinuxContainerResources {
        oom_score_adj: oom,
        ..cgroup_values(c).to_cri()
    }
}

const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The pod's supplemental groups, with its fsGroup among them (sandbox and containers alike).
fn supplemental_groups(psc: &k8s_openapi::api::core::v1::PodSecurityContext) -> Vec<i64> {
    psc.supplemental_groups
        .clone()
        .unwrap_or_default()
        .into_iter()
        .chain(psc.fs_group)
        .collect()
}

/// The container's security context merged with the pod's (container fields win).
pub fn security_context(pod: &Pod, c: &Container) -> cri::LinuxContainerSecurityContext {
    let spec = spec(pod);
    let psc = spec.security_context.clone().unwrap_or_default();
    let csc = c.security_context.clone().unwrap_or_default();
    let privileged = csc.privileged.unwrap_or(false);
    let caps = csc.capabilities.clone().unwrap_or_default();
    let seccomp_type = csc
        .seccomp_profile
        .as_ref()
        .or(psc.seccomp_profile.as_ref())
        .map(|p| p.type_.as_str());
    let seccomp = match seccomp_type {
        Some("RuntimeDefault") if !privileged => cri::SecurityProfile {
            profile_type: cri::security_profile::ProfileType::RuntimeDefault as i32,
            localhost_ref: String::new(),
        },
        _ => cri::SecurityProfile {
            profile_type: cri::security_profile::ProfileType::Unconfined as i32,
            localhost_ref: String::new(),
        },
    };
    cri::LinuxContainerSecurityContext {
        capabilities: Some(cri::Capability {
            add_capabilities: caps.add.unwrap_or_default(),
            drop_capabilities: caps.drop.unwrap_or_default(),
            add_ambient_capabilities: Vec::new(),
        }),
        privileged,
        namespace_options: Some(namespace_options(spec)),
        run_as_user: csc
            .run_as_user
            .or(psc.run_as_user)
            .map(|value| cri::Int64Value { value }),
        run_as_group: csc
            .run_as_group
            .or(psc.run_as_group)
            .map(|value| cri::Int64Value { value }),
        readonly_rootfs: csc.read_only_root_filesystem.unwrap_or(false),
        supplemental_groups: supplemental_groups(&psc),
        no_new_privs: csc.allow_privilege_escalation == Some(false),
        masked_paths: if privileged {
            Vec::new()
        } else {
            MASKED_PATHS
                .iter()
                .map(std::string::ToString::to_string)
                .collect()
        },
        readonly_paths: if privileged {
            Vec::new()
        } else {
            READONLY_PATHS
                .iter()
                .map(std::string::ToString::to_string)
                .collect()
        },
        seccomp: Some(seccomp),
        ..Default::default()
    }
}

/// A stable hash of the fields of a container whose change means the container must be
/// replaced: its name and image, the only ones a pod update may change besides resources (which
/// a resize applies in place), as upstream's `HashContainer`.
pub fn container_hash(c: &Container) -> String {
    let text = serde_json::json!({"name": c.name, "image": c.image}).to_string();
    // FNV-1a: stable across builds and processes.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:x}")
}

/// The user an image runs as (ImageStatus's `uid`, or `username` when it is a name). A
/// container with `runAsGroup` but no `runAsUser` runs as this user, as the kubelet fills it in:
/// the runtime refuses a group without a user.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageUser {
    pub uid: Option<i64>,
    pub username: String,
}

/// Whether the container sets a group but no user (its own or the pod's).
pub fn group_without_user(pod: &Pod, c: &Container) -> bool {
    let psc = spec(pod).security_context.as_ref();
    let csc = c.security_context.as_ref();
    let user = csc
        .and_then(|s| s.run_as_user)
        .or(psc.and_then(|s| s.run_as_user));
    let group = csc
        .and_then(|s| s.run_as_group)
        .or(psc.and_then(|s| s.run_as_group));
    group.is_some() && user.is_none()
}

/// Everything CreateContainer needs that the caller had to look up.
pub struct ContainerInputs {
    pub attempt: u32,
    pub kind: Kind,
    /// An ephemeral container's target (`targetContainerName`): the runtime ID of the
    /// container whose process namespace it joins.
    pub target: Option<String>,
    /// The image as ImageStatus resolved it (its ID).
    pub image_id: String,
    /// The image's user, when the container sets a group but no user (see `ImageUser`).
    pub image_user: Option<ImageUser>,
    /// Resolved environment, in order.
    pub env: Vec<(String, String)>,
    pub mounts: Vec<cri::Mount>,
}

/// The CreateContainer config of container `c` of `pod`. Command and args go to the runtime
/// as upstream passes them: empty command means the image's entrypoint, empty command and args
/// the image's entrypoint and cmd; `$(VAR)` references are expanded with the container's env.
pub fn container_config(
    pod: &Pod,
    c: &Container,
    inputs: ContainerInputs,
    node: &NodeFacts,
) -> cri::ContainerConfig {
    let env_map: HashMap<&str, &str> = inputs
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let lookup = |name: &str| env_map.get(name).map(std::string::ToString::to_string);
    let command: Vec<String> = c
        .command
        .iter()
        .flatten()
        .map(|s| expand(s, &lookup))
        .collect();
    let args: Vec<String> = c
        .args
        .iter()
        .flatten()
        .map(|s| expand(s, &lookup))
        .collect();
    let mut labels: HashMap<String, String> = HashMap::new();
    labels.insert(LABEL_POD_NAME.into(), name(pod).into());
    labels.insert(LABEL_POD_NAMESPACE.into(), namespace(pod).into());
    labels.insert(LABEL_POD_UID.into(), uid(pod).into());
    labels.insert(LABEL_CONTAINER_NAME.into(), c.name.clone());
    labels.insert(LABEL_MANAGED.into(), "true".into());
    let mut annotations: HashMap<String, String> = HashMap::new();
    annotations.insert(ANNOTATION_HASH.into(), container_hash(c));
    annotations.insert(ANNOTATION_RESTART_COUNT.into(), inputs.attempt.to_string());
    annotations.insert(ANNOTATION_RESOURCES.into(), cgroup_values(c).annotation());
    match inputs.kind {
        Kind::Init => {
            annotations.insert(ANNOTATION_KIND.into(), "init".into());
        }
        Kind::Ephemeral => {
            annotations.insert(ANNOTATION_KIND.into(), "ephemeral".into());
        }
        Kind::App => {}
    }
    cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: c.name.clone(),
            attempt: inputs.attempt,
        }),
        image: Some(cri::ImageSpec {
            image: inputs.image_id,
            user_specified_image: c.image.clone().unwrap_or_default(),
            ..Default::default()
        }),
        command,
        args,
        working_dir: c.working_dir.clone().unwrap_or_default(),
        envs: inputs
            .env
            .into_iter()
            .map(|(key, value)| cri::KeyValue { key, value })
            .collect(),
        mounts: inputs.mounts,
        labels,
        annotations,
        log_path: format!("{}/{}.log", c.name, inputs.attempt),
        stdin: c.stdin.unwrap_or(false),
        stdin_once: c.stdin_once.unwrap_or(false),
        tty: c.tty.unwrap_or(false),
        linux: Some(cri::LinuxContainerConfig {
            resources: Some(linux_resources(pod, c, node.memory_bytes)),
            security_context: Some({
                let mut sc = security_context(pod, c);
                // An ephemeral container with a target sees the target's processes (CRI's
                // TARGET mode), unless the whole pod shares one process namespace already.
                if let (Some(target), Some(ns)) = (&inputs.target, sc.namespace_options.as_mut()) {
                    if ns.pid == cri::NamespaceMode::Container as i32 {
                        ns.pid = cri::NamespaceMode::Target as i32;
                        ns.target_id = target.clone();
                    }
                }
                if sc.run_as_user.is_none() {
                    if let Some(user) = &inputs.image_user {
                        match user.uid {
                            Some(value) => sc.run_as_user = Some(cri::Int64Value { value }),
                            None if !user.username.is_empty() => {
                                sc.run_as_username = user.username.clone();
                            }
                            // No user in the image: root, as the runtime would pick.
                            None => sc.run_as_user = Some(cri::Int64Value { value: 0 }),
                        }
                    }
                }
                sc
            }),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn basic() -> Pod {
        pod(json!({
            "metadata": {"name": "web", "namespace": "ns1", "uid": "1234-5678", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 53, "protocol": "UDP"}]}]}
        }))
    }

    #[test]
    fn expansion_follows_upstream_rules() {
        let vars = |n: &str| match n {
            "A" => Some("1".to_string()),
            "B" => Some("two".to_string()),
            _ => None,
        };
        assert_eq!(expand("$(A)-$(B)", &vars), "1-two");
        assert_eq!(expand("$$(A)", &vars), "$(A)");
        assert_eq!(expand("$(C)", &vars), "$(C)");
        assert_eq!(expand("$(A", &vars), "$(A");
        assert_eq!(expand("cost $5 é $(A)", &vars), "cost $5 é 1");
        assert_eq!(expand("$", &vars), "$");
    }

    #[test]
    fn sandbox_has_metadata_ports_dns_and_cgroup() {
        let facts = NodeFacts {
            node_name: "kind-worker".into(),
            resolv_conf: "nameserver 10.0.0.2\nsearch example.com\noptions ndots:0\n".into(),
            cgroup_root: "/docker/abc/kubepods".into(),
            memory_bytes: 1 << 30,
            ..NodeFacts::default()
        };
        let p = basic();
        let cfg = sandbox_config(&p, 1, &facts);
        let meta = cfg.metadata.unwrap();
        assert_eq!(
            (
                meta.name.as_str(),
                meta.namespace.as_str(),
                meta.uid.as_str(),
                meta.attempt
            ),
            ("web", "ns1", "1234-5678", 1)
        );
        assert_eq!(cfg.hostname, "web");
        assert_eq!(cfg.log_directory, "/var/log/pods/ns1_web_1234-5678");
        assert_eq!(cfg.port_mappings.len(), 1);
        assert_eq!(cfg.port_mappings[0].host_port, 8080);
        let dns = cfg.dns_config.unwrap();
        assert_eq!(dns.servers, vec!["10.0.0.2"]);
        assert_eq!(dns.searches, vec!["example.com"]);
        assert_eq!(dns.options, vec!["ndots:0"]);
        assert_eq!(
            cfg.linux.unwrap().cgroup_parent,
            "/docker/abc/kubepods/besteffort/pod1234_5678"
        );
        assert_eq!(cfg.labels["app"], "web");
        assert_eq!(cfg.labels[LABEL_POD_UID], "1234-5678");
    }

    #[test]
    fn host_network_sandbox_shares_the_node() {
        let p = pod(
            json!({"metadata": {"name": "h", "uid": "u"}, "spec": {"hostNetwork": true, "containers": []}}),
        );
        let cfg = sandbox_config(&p, 0, &NodeFacts::default());
        assert_eq!(cfg.hostname, "");
        let ns = cfg
            .linux
            .unwrap()
            .security_context
            .unwrap()
            .namespace_options
            .unwrap();
        assert_eq!(ns.network, cri::NamespaceMode::Node as i32);
        assert_eq!(hostname(&p, "kind-worker"), "kind-worker");
    }

    #[test]
    fn dns_policy_none_uses_only_dns_config() {
        let p = pod(
            json!({"metadata": {"name": "d"}, "spec": {"dnsPolicy": "None",
            "dnsConfig": {"nameservers": ["1.1.1.1"], "options": [{"name": "ndots", "value": "2"}]},
            "containers": []}}),
        );
        let facts = NodeFacts {
            resolv_conf: "nameserver 9.9.9.9\n".into(),
            ..NodeFacts::default()
        };
        let dns = dns_config(&p, &facts);
        assert_eq!(dns.servers, vec!["1.1.1.1"]);
        assert_eq!(dns.options, vec!["ndots:2"]);
    }

    #[test]
    fn resources_become_cgroup_values() {
        let p = pod(
            json!({"metadata": {"name": "r", "uid": "u"}, "spec": {"containers": [{"name": "c",
            "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}]}}),
        );
        let c = &p.spec.as_ref().unwrap().containers[0];
        let r = linux_resources(&p, c, 1 << 30);
        assert_eq!(r.cpu_shares, 512);
        assert_eq!((r.cpu_quota, r.cpu_period), (50_000, 100_000));
        assert_eq!(r.memory_limit_in_bytes, 64 << 20);
        assert_eq!(r.oom_score_adj, -997);
        assert_eq!(cgroup_parent(&p, "/kubepods"), "/kubepods/podu");

        let p = pod(
            json!({"metadata": {"name": "r"}, "spec": {"containers": [{"name": "c",
            "resources": {"requests": {"cpu": "1", "memory": "256Mi"}}}]}}),
        );
        let c = &p.spec.as_ref().unwrap().containers[0];
        let r = linux_resources(&p, c, 1 << 30);
        assert_eq!((r.cpu_shares, r.cpu_quota), (1024, 0));
        assert_eq!(r.oom_score_adj, 750);

        let p = basic();
        let c = &p.spec.as_ref().unwrap().containers[0];
        let r = linux_resources(&p, c, 1 << 30);
        assert_eq!((r.cpu_shares, r.oom_score_adj), (2, 1000));
    }

    #[test]
    fn container_config_expands_args_and_labels() {
        let p = pod(
            json!({"metadata": {"name": "web", "namespace": "ns1", "uid": "u1"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c"],
                "args": ["echo $(GREETING) $$(HOME)"], "workingDir": "/tmp",
                "securityContext": {"runAsUser": 1000, "capabilities": {"add": ["NET_ADMIN"]}}}],
                "securityContext": {"runAsGroup": 3000}}}),
        );
        let c = &p.spec.as_ref().unwrap().containers[0];
        let cfg = container_config(
            &p,
            c,
            ContainerInputs {
                attempt: 2,
                kind: Kind::App,
                target: None,
                image_id: "sha256:abc".into(),
                image_user: None,
                env: vec![("GREETING".into(), "hi".into())],
                mounts: vec![],
            },
            &NodeFacts::default(),
        );
        assert_eq!(cfg.command, vec!["sh", "-c"]);
        assert_eq!(cfg.args, vec!["echo hi $(HOME)"]);
        assert_eq!(cfg.working_dir, "/tmp");
        assert_eq!(cfg.log_path, "c/2.log");
        assert_eq!(cfg.metadata.as_ref().unwrap().attempt, 2);
        assert_eq!(cfg.labels[LABEL_CONTAINER_NAME], "c");
        assert_eq!(
            LinuxResources::parse_annotation(&cfg.annotations[ANNOTATION_RESOURCES]),
            Some(cgroup_values(c))
        );
        assert_eq!(cfg.image.as_ref().unwrap().image, "sha256:abc");
        let sc = cfg.linux.unwrap().security_context.unwrap();
        assert_eq!(sc.run_as_user.unwrap().value, 1000);
        assert_eq!(sc.run_as_group.unwrap().value, 3000);
        assert_eq!(sc.capabilities.unwrap().add_capabilities, vec!["NET_ADMIN"]);
        assert!(!sc.masked_paths.is_empty());
        assert_eq!(
            sc.namespace_options.unwrap().pid,
            cri::NamespaceMode::Container as i32
        );
    }

    #[test]
    fn an_ephemeral_container_joins_its_targets_processes() {
        let spec = |share: bool| {
            pod(
                json!({"metadata": {"name": "web", "namespace": "ns1", "uid": "u1"},
                "spec": {"shareProcessNamespace": share,
                    "containers": [{"name": "app", "image": "busybox"}],
                    "ephemeralContainers": [{"name": "debugger", "image": "busybox",
                        "targetContainerName": "app", "stdin": true, "tty": true}]}}),
            )
        };
        let config = |p: &Pod| {
            let (c, target) = ephemeral_containers(p).remove(0);
            assert_eq!(target.as_deref(), Some("app"));
            container_config(
                p,
                &c,
                ContainerInputs {
                    attempt: 0,
                    kind: Kind::Ephemeral,
                    target: Some("app-id".into()),
                    image_id: "sha256:abc".into(),
                    image_user: None,
                    env: vec![],
                    mounts: vec![],
                },
                &NodeFacts::default(),
            )
        };
        let cfg = config(&spec(false));
        assert_eq!(cfg.annotations[ANNOTATION_KIND], "ephemeral");
        assert!(cfg.stdin && cfg.tty && !cfg.stdin_once);
        let ns = cfg
            .linux
            .unwrap()
            .security_context
            .unwrap()
            .namespace_options
            .unwrap();
        assert_eq!(
            (ns.pid, ns.target_id.as_str()),
            (cri::NamespaceMode::Target as i32, "app-id")
        );
        // A pod that shares one process namespace keeps it.
        let cfg = config(&spec(true));
        let ns = cfg
            .linux
            .unwrap()
            .security_context
            .unwrap()
            .namespace_options
            .unwrap();
        assert_eq!(
            (ns.pid, ns.target_id.as_str()),
            (cri::NamespaceMode::Pod as i32, "")
        );
    }

    #[test]
    fn a_group_without_a_user_takes_the_image_user() {
        let p = pod(json!({"metadata": {"name": "g", "uid": "u"},
            "spec": {"securityContext": {"runAsGroup": 3000},
                "containers": [{"name": "c", "image": "busybox"}]}}));
        let c = &p.spec.as_ref().unwrap().containers[0];
        assert!(group_without_user(&p, c));
        let sandbox = sandbox_config(&p, 0, &NodeFacts::default());
        let sandbox_sc = sandbox.linux.unwrap().security_context.unwrap();
        assert_eq!(sandbox_sc.run_as_group, None, "containerd refuses it alone");
        let config = |image_user| {
            let inputs = ContainerInputs {
                attempt: 0,
                kind: Kind::App,
                target: None,
                image_id: "i".into(),
                image_user,
                env: vec![],
                mounts: vec![],
            };
            container_config(&p, c, inputs, &NodeFacts::default())
                .linux
                .unwrap()
                .security_context
                .unwrap()
        };
        let sc = config(Some(ImageUser::default()));
        assert_eq!(sc.run_as_user.map(|u| u.value), Some(0));
        assert_eq!(sc.run_as_group.map(|g| g.value), Some(3000));
        let named = ImageUser {
            uid: None,
            username: "nobody".into(),
        };
        assert_eq!(config(Some(named)).run_as_username, "nobody");
    }

    #[test]
    fn no_command_leaves_the_image_entrypoint() {
        let p = pod(
            json!({"metadata": {"name": "x"}, "spec": {"containers": [{"name": "c", "args": ["-text=hi"]}]}}),
        );
        let c = &p.spec.as_ref().unwrap().containers[0];
        let cfg = container_config(
            &p,
            c,
            ContainerInputs {
                attempt: 0,
                kind: Kind::App,
                target: None,
                image_id: "i".into(),
                image_user: None,
                env: vec![],
                mounts: vec![],
            },
            &NodeFacts::default(),
        );
        assert!(cfg.command.is_empty());
        assert_eq!(cfg.args, vec!["-text=hi"]);
    }

    #[test]
    fn hash_is_stable_and_sensitive() {
        let p = basic();
        let c = &p.spec.as_ref().unwrap().containers[0];
        let mut d = c.clone();
        assert_eq!(container_hash(c), container_hash(&d));
        // Resources change in place (a resize), not by a new container.
        d.resources = Some(Default::default());
        d.args = Some(vec!["x".into()]);
        assert_eq!(container_hash(c), container_hash(&d));
        d.image = Some("busybox:1.36".into());
        assert_ne!(container_hash(c), container_hash(&d));
    }
}
