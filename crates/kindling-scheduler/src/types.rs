//! What the scheduler knows about pods and nodes, precomputed once from the API objects so that
//! filters and scores are cheap: requests, host ports, affinity terms, spread constraints,
//! allocatable, taints.

use crate::labels::{self, LabelSelector, Labels, NodeSelector, NodeTerm, Operator, Requirement};
use k8s_openapi::api::core::v1::{
    Container, Node, Pod, PodAffinityTerm, PodSpec, Taint, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// CPU the scoring plugins assume for a container without a CPU request (upstream's
/// `DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory assumed for a container without a memory request (`DefaultMemoryRequest`, 200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each resource: CPU in millicores, the rest in whole units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Extended resources and hugepages, by name.
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// From a `ResourceList` (requests, overhead, allocatable); `pods` is not a resource here.
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list.into_iter().flatten() {
            r.set(
                name,
                kindling_api::Quantity::try_from(q).unwrap_or_default(),
            );
        }
        r
    }

    /// CPU in millicores, everything else in whole units, both rounded up (as upstream reads
    /// them); a malformed quantity counts as zero.
    fn set(&mut self, name: &str, q: kindling_api::Quantity) {
        match name {
            "cpu" => self.milli_cpu = q.milli_value(),
            "memory" => self.memory = q.value(),
            "ephemeral-storage" => self.ephemeral_storage = q.value(),
            "pods" => {}
            other => {
                self.scalar.insert(other.to_string(), q.value());
            }
        }
    }

    pub fn add(&mut self, o: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(o.milli_cpu);
        self.memory = self.memory.saturating_add(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_add(o.ephemeral_storage);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = e.saturating_add(*v);
        }
    }

    pub fn sub(&mut self, o: &Resources) {
        self.milli_cpu -= o.milli_cpu;
        self.memory -= o.memory;
        self.ephemeral_storage -= o.ephemeral_storage;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_insert(0) -= v;
        }
    }

    /// Each resource the larger of the two.
    pub fn max_with(&mut self, o: &Resources) {
        self.milli_cpu = self.milli_cpu.max(o.milli_cpu);
        self.memory = self.memory.max(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(o.ephemeral_storage);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

/// A pod's effective requests: the larger of the running containers' sum (with sidecars) and
/// what any init container needs while it runs, plus the pod overhead — upstream's
/// `PodRequests`. With `non_zero`, a container missing a CPU or memory request counts the
/// scoring defaults (100m, 200Mi), as upstream's scores do.
pub fn pod_requests(spec: &PodSpec, non_zero: bool) -> Resources {
    let container_requests = |c: &Container| {
        let list = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        let mut r = Resources::from_list(list);
        if non_zero {
            if !list.is_some_and(|l| l.contains_key("cpu")) {
                r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
            }
            if !list.is_some_and(|l| l.contains_key("memory")) {
                r.memory = DEFAULT_MEMORY_REQUEST;
            }
        }
        r
    };
    let mut total = Resources::default();
    for c in &spec.containers {
        total.add(&container_requests(c));
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let mut r = container_requests(c);
        if c.restart_policy.as_deref() == Some("Always") {
            // A sidecar keeps running beside everything started after it.
            total.add(&r);
            sidecars.add(&r);
            r = sidecars.clone();
        } else {
            r.add(&sidecars);
        }
        init_peak.max_with(&r);
    }
    total.max_with(&init_peak);
    total.add(&Resources::from_list(spec.overhead.as_ref()));
    total
}

/// A host port a pod binds: `0.0.0.0` stands for every address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

fn host_ports(spec: &PodSpec) -> Vec<HostPort> {
    let host_network = spec.host_network.unwrap_or(false);
    let mut out = Vec::new();
    for c in &spec.containers {
        for p in c.ports.iter().flatten() {
            // With hostNetwork every container port is a host port (the API defaults
            // hostPort to containerPort then).
            let port = match p.host_port {
                Some(hp) if hp > 0 => hp,
                _ if host_network => p.container_port,
                _ => continue,
            };
            out.push(HostPort {
                ip: p
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                port,
            });
        }
    }
    out
}

/// A pod (anti-)affinity term, resolved against the pod that carries it: which namespaces
/// (the pod's own when neither `namespaces` nor `namespaceSelector` is given), which labels
/// (with `matchLabelKeys`/`mismatchLabelKeys` merged from the pod's labels) and the topology key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffinityTerm {
    pub namespaces: BTreeSet<String>,
    pub namespace_selector: LabelSelector,
    pub selector: LabelSelector,
    pub topology_key: String,
}

static NO_LABELS: Labels = Labels::new();

impl AffinityTerm {
    pub fn new(owner_ns: &str, owner_labels: &Labels, term: &PodAffinityTerm) -> AffinityTerm {
        let mut selector = labels::selector(term.label_selector.as_ref());
        if term.label_selector.is_some() {
            for (keys, operator) in [
                (&term.match_label_keys, Operator::In),
                (&term.mismatch_label_keys, Operator::NotIn),
            ] {
                for key in keys.iter().flatten() {
                    if let Some(v) = owner_labels.get(key) {
                        if let Ok(r) = Requirement::new(key, operator, vec![v.clone()]) {
                            selector = selector.and(r);
                        }
                    }
                }
            }
        }
        let mut namespaces: BTreeSet<String> = term.namespaces.iter().flatten().cloned().collect();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.insert(owner_ns.to_string());
        }
        AffinityTerm {
            namespaces,
            namespace_selector: labels::selector(term.namespace_selector.as_ref()),
            selector,
            topology_key: term.topology_key.clone(),
        }
    }

    /// Whether `pod` (whose namespace has labels `ns_labels`) is selected by this term.
    pub fn matches(&self, pod: &PodInfo, ns_labels: Option<&Labels>) -> bool {
        (self.namespaces.contains(&pod.namespace)
            || self
                .namespace_selector
                .matches(ns_labels.unwrap_or(&NO_LABELS)))
            && self.selector.matches(&pod.labels)
    }
}

/// Which pods a spread constraint counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PodSelector {
    Labels(LabelSelector),
    /// The system default constraints' selector, approximated by "pods of the same controller"
    /// (upstream derives it from the Services, ReplicaSets, StatefulSets selecting the pod).
    SameController(String),
}

impl PodSelector {
    pub fn matches(&self, pod: &PodInfo) -> bool {
        match self {
            PodSelector::Labels(s) => s.matches(&pod.labels),
            PodSelector::SameController(uid) => pod.controller_uid.as_deref() == Some(uid),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, PodSelector::Labels(s) if s.is_empty())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpreadConstraint {
    pub max_skew: i64,
    pub topology_key: String,
    /// `DoNotSchedule` (a filter) rather than `ScheduleAnyway` (a score).
    pub hard: bool,
    pub selector: PodSelector,
    pub min_domains: i64,
    /// `nodeAffinityPolicy: Honor` (the default).
    pub honor_node_affinity: bool,
    /// `nodeTaintsPolicy: Honor` (default `Ignore`).
    pub honor_taints: bool,
}

impl SpreadConstraint {
    fn new(c: &TopologySpreadConstraint, labels: &Labels) -> SpreadConstraint {
        let mut selector = labels::selector(c.label_selector.as_ref());
        for key in c.match_label_keys.iter().flatten() {
            if let Some(v) = labels.get(key) {
                if let Ok(r) = Requirement::new(key, Operator::In, vec![v.clone()]) {
                    selector = selector.and(r);
                }
            }
        }
        SpreadConstraint {
            max_skew: c.max_skew.into(),
            topology_key: c.topology_key.clone(),
            hard: c.when_unsatisfiable == "DoNotSchedule",
            selector: PodSelector::Labels(selector),
            min_domains: c.min_domains.unwrap_or(1).into(),
            honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        }
    }
}

/// The pod's `nodeSelector` and required node affinity together (upstream's
/// `RequiredNodeAffinity`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequiredNodeAffinity {
    pub node_selector: LabelSelector,
    pub required: Option<NodeSelector>,
}

impl RequiredNodeAffinity {
    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        self.node_selector.matches(labels)
            && self
                .required
                .as_ref()
                .is_none_or(|r| r.matches(node_name, labels))
    }
}

/// Everything the scheduler needs about one pod.
#[derive(Clone, Debug, Default)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub labels: Labels,
    pub priority: i32,
    pub preemption_never: bool,
    /// `deletionTimestamp` is set.
    pub terminating: bool,
    pub requests: Resources,
    /// CPU and memory requests with the scoring defaults for containers that have none.
    pub non_zero_cpu: i64,
    pub non_zero_memory: i64,
    pub host_ports: Vec<HostPort>,
    pub node_affinity: RequiredNodeAffinity,
    pub preferred_node_terms: Vec<(i64, NodeTerm)>,
    pub tolerations: Vec<Toleration>,
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<(i64, AffinityTerm)>,
    pub preferred_anti_affinity: Vec<(i64, AffinityTerm)>,
    pub spread_constraints: Vec<SpreadConstraint>,
    /// The uid of the owner reference with `controller: true`.
    pub controller_uid: Option<String>,
    /// The claims the pod's volumes use, and whether each is a generic ephemeral volume's.
    pub claims: Vec<(String, bool)>,
}

impl PodInfo {
    pub fn new(pod: &Pod) -> PodInfo {
        let meta = &pod.metadata;
        let namespace = meta.namespace.clone().unwrap_or_default();
        let labels: Labels = meta.labels.clone().unwrap_or_default();
        let default_spec = PodSpec::default();
        let spec = pod.spec.as_ref().unwrap_or(&default_spec);
        let requests = pod_requests(spec, false);
        let non_zero = pod_requests(spec, true);
        let affinity = spec.affinity.as_ref();
        let node_aff = affinity.and_then(|a| a.node_affinity.as_ref());
        let pod_aff = affinity.and_then(|a| a.pod_affinity.as_ref());
        let anti = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let term = |t: &PodAffinityTerm| AffinityTerm::new(&namespace, &labels, t);
        PodInfo {
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
            priority: spec.priority.unwrap_or(0),
            preemption_never: spec.preemption_policy.as_deref() == Some("Never"),
            terminating: meta.deletion_timestamp.is_some(),
            non_zero_cpu: non_zero.milli_cpu,
            non_zero_memory: non_zero.memory,
            requests,
            host_ports: host_ports(spec),
            node_affinity: RequiredNodeAffinity {
                node_selector: LabelSelector::from_set(
                    spec.node_selector
                        .iter()
                        .flatten()
                        .map(|(k, v)| (k.as_str(), v.as_str())),
                ),
                required: node_aff
                    .and_then(|a| {
                        a.required_during_scheduling_ignored_during_execution
                            .as_ref()
                    })
                    .map(|r| NodeSelector::parse(&r.node_selector_terms)),
            },
            preferred_node_terms: node_aff
                .and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .into_iter()
                .flatten()
                .filter(|p| p.weight != 0)
                .filter_map(|p| Some((p.weight.into(), NodeTerm::parse(&p.preference)?)))
                .filter(|(_, t)| !t.is_empty())
                .collect(),
            tolerations: spec.tolerations.clone().unwrap_or_default(),
            required_affinity: pod_aff
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .into_iter()
                .flatten()
                .map(term)
                .collect(),
            required_anti_affinity: anti
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .into_iter()
                .flatten()
                .map(term)
                .collect(),
            preferred_affinity: pod_aff
                .and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .into_iter()
                .flatten()
                .map(|w| (w.weight.into(), term(&w.pod_affinity_term)))
                .collect(),
            preferred_anti_affinity: anti
                .and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .into_iter()
                .flatten()
                .map(|w| (w.weight.into(), term(&w.pod_affinity_term)))
                .collect(),
            spread_constraints: spec
                .topology_spread_constraints
                .iter()
                .flatten()
                .map(|c| SpreadConstraint::new(c, &labels))
                .collect(),
            controller_uid: meta
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.controller == Some(true))
                .map(|o| o.uid.clone()),
            labels,
            namespace,
            claims: kindling_api::volumes::pod_claims(pod),
        }
    }

    pub fn has_affinity(&self) -> bool {
        !(self.required_affinity.is_empty()
            && self.required_anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty())
    }
}

/// What a Node object says that scheduling cares about.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeData {
    pub labels: Labels,
    /// The node's taints, plus `node.kubernetes.io/not-ready` (or `unreachable`) `NoSchedule`
    /// when it is not Ready — what upstream's node lifecycle controller would have added.
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub ready: bool,
    pub allocatable: Resources,
    pub allowed_pods: i64,
}

impl NodeData {
    pub fn new(node: &Node) -> NodeData {
        let spec = node.spec.as_ref();
        let status = node.status.as_ref();
        let mut taints: Vec<Taint> = spec.and_then(|s| s.taints.clone()).unwrap_or_default();
        let ready_status = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.as_str());
        let ready = ready_status == Some("True");
        if !ready {
            let key = if ready_status == Some("Unknown") {
                TAINT_UNREACHABLE
            } else {
                TAINT_NOT_READY
            };
            if !taints
                .iter()
                .any(|t| t.key == key && t.effect == "NoSchedule")
            {
                taints.push(Taint {
                    key: key.to_string(),
                    effect: "NoSchedule".into(),
                    value: None,
                    time_added: None,
                });
            }
        }
        let list = status
            .and_then(|s| s.allocatable.as_ref())
            .or_else(|| status.and_then(|s| s.capacity.as_ref()));
        NodeData {
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints,
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            ready,
            allocatable: Resources::from_list(list),
            allowed_pods: list
                .and_then(|l| l.get("pods"))
                .and_then(|q| kindling_api::Quantity::try_from(q).ok())
                .map_or(0, |q| q.value()),
        }
    }
}

/// A node with the pods bound (or assumed) to it and their sums. A node whose Node object is
/// gone or not yet seen has `node: None` and is not a candidate.
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    pub name: String,
    pub node: Option<NodeData>,
    pub pods: Vec<Arc<PodInfo>>,
    pub requested: Resources,
    pub non_zero_cpu: i64,
    pub non_zero_memory: i64,
    pub ports: Vec<HostPort>,
    pub pods_with_affinity: usize,
    pub pods_with_required_anti_affinity: usize,
}

impl NodeInfo {
    pub fn new(name: &str) -> NodeInfo {
        NodeInfo {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// Labels of the node (empty when the Node object is unknown).
    pub fn labels(&self) -> &Labels {
        self.node.as_ref().map_or(&NO_LABELS, |n| &n.labels)
    }

    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_cpu += pod.non_zero_cpu;
        self.non_zero_memory += pod.non_zero_memory;
        self.ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.pods_with_affinity += 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity += 1;
        }
        self.pods.push(pod);
    }

    /// Removes the pod with this namespace/name; false when it was not here.
    pub fn remove_pod(&mut self, namespace: &str, name: &str) -> bool {
        let Some(i) = self
            .pods
            .iter()
            .position(|p| p.name == name && p.namespace == namespace)
        else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests);
        self.non_zero_cpu -= pod.non_zero_cpu;
        self.non_zero_memory -= pod.non_zero_memory;
        for hp in &pod.host_ports {
            if let Some(j) = self.ports.iter().position(|p| p == hp) {
                self.ports.swap_remove(j);
            }
        }
        if pod.has_affinity() {
            self.pods_with_affinity -= 1;
        }
        if !pod.required_anti_affinity.is_empty() {
            self.pods_with_required_anti_affinity -= 1;
        }
        true
    }

    /// This node as it would be without the pods `drop` selects (preemption's dry run).
    pub fn without(&self, drop: impl Fn(&PodInfo) -> bool) -> NodeInfo {
        let mut n = NodeInfo {
            name: self.name.clone(),
            node: self.node.clone(),
            ..Default::default()
        };
        for p in &self.pods {
            if !drop(p) {
                n.add_pod(p.clone());
            }
        }
        n
    }
}

/// Whether the pod's hard taints (NoSchedule/NoExecute) are all tolerated on this node.
pub fn tolerates_node(pod: &PodInfo, node: &NodeData) -> bool {
    labels::first_untolerated(&node.taints, &pod.tolerations, labels::is_hard_taint).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn requests_sum_containers_max_init_plus_overhead() {
        let p = pod(json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {
                "initContainers": [
                    {"name": "i1", "resources": {"requests": {"cpu": "2", "memory": "1G"}}},
                    {"name": "i2", "resources": {"requests": {"cpu": "2", "memory": "3G"}}}
                ],
                "containers": [
                    {"name": "c1", "resources": {"requests": {"cpu": "2", "memory": "1G"}}},
                    {"name": "c2", "resources": {"requests": {"cpu": "1", "memory": "1G", "ephemeral-storage": "1Gi", "example.com/gpu": "1"}}}
                ],
                "overhead": {"cpu": "250m", "memory": "120Mi"}
            }
        }));
        let r = pod_requests(p.spec.as_ref().unwrap(), false);
        assert_eq!(r.milli_cpu, 3250);
        assert_eq!(r.memory, 3_000_000_000 + 120 * 1024 * 1024);
        assert_eq!(r.ephemeral_storage, 1 << 30);
        assert_eq!(r.scalar["example.com/gpu"], 1);
    }

    #[test]
    fn requests_count_sidecars() {
        let p = pod(json!({
            "metadata": {"name": "p"},
            "spec": {
                "initContainers": [
                    {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}},
                    {"name": "init", "resources": {"requests": {"cpu": "3"}}}
                ],
                "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]
            }
        }));
        // Containers + sidecar = 2; the init container runs beside the sidecar: 3 + 1 = 4.
        assert_eq!(
            pod_requests(p.spec.as_ref().unwrap(), false).milli_cpu,
            4000
        );
    }

    #[test]
    fn non_zero_requests_default_missing_ones() {
        let p = pod(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [
                {"name": "a"},
                {"name": "b", "resources": {"requests": {"cpu": "0", "memory": "1Gi"}}}
            ]}
        }));
        let info = PodInfo::new(&p);
        assert_eq!(
            (info.requests.milli_cpu, info.requests.memory),
            (0, 1 << 30)
        );
        assert_eq!(
            info.non_zero_cpu, 100,
            "explicit 0 stays 0, missing is 100m"
        );
        assert_eq!(info.non_zero_memory, DEFAULT_MEMORY_REQUEST + (1 << 30));
    }

    #[test]
    fn host_ports_and_conflicts() {
        let p = pod(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "ports": [
                {"containerPort": 80, "hostPort": 8080},
                {"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "10.0.0.1"},
                {"containerPort": 9090}
            ]}]}
        }));
        let ports = PodInfo::new(&p).host_ports;
        assert_eq!(ports.len(), 2);
        assert_eq!(ports[0].ip, "0.0.0.0");
        let hp = |ip: &str, proto: &str, port| HostPort {
            ip: ip.into(),
            protocol: proto.into(),
            port,
        };
        assert!(hp("0.0.0.0", "TCP", 8080).conflicts(&hp("10.0.0.2", "TCP", 8080)));
        assert!(!hp("10.0.0.1", "TCP", 8080).conflicts(&hp("10.0.0.2", "TCP", 8080)));
        assert!(!hp("0.0.0.0", "TCP", 53).conflicts(&hp("0.0.0.0", "UDP", 53)));
        let hn = pod(
            json!({"metadata": {"name": "p"}, "spec": {"hostNetwork": true,
            "containers": [{"name": "c", "ports": [{"containerPort": 10250}]}]}}),
        );
        assert_eq!(PodInfo::new(&hn).host_ports[0].port, 10250);
    }

    #[test]
    fn affinity_term_namespaces_and_label_keys() {
        let p = pod(json!({
            "metadata": {"name": "p", "namespace": "team", "labels": {"app": "web", "rev": "2"}},
            "spec": {"containers": [], "affinity": {"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname",
                     "matchLabelKeys": ["rev"]},
                    {"labelSelector": {}, "topologyKey": "zone", "namespaceSelector": {}}
                ]}}}
        }));
        let info = PodInfo::new(&p);
        let t = &info.required_anti_affinity[0];
        assert_eq!(t.namespaces, BTreeSet::from(["team".to_string()]));
        let other = |ns: &str, rev: &str| PodInfo {
            namespace: ns.into(),
            labels: [("app", "web"), ("rev", rev)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        assert!(t.matches(&other("team", "2"), None));
        assert!(
            !t.matches(&other("team", "1"), None),
            "matchLabelKeys merged"
        );
        assert!(!t.matches(&other("prod", "2"), None), "own namespace only");
        let all = &info.required_anti_affinity[1];
        assert!(all.namespaces.is_empty());
        assert!(
            all.matches(&other("prod", "1"), Some(&Labels::new())),
            "{{}} selects all"
        );
    }

    #[test]
    fn node_data_not_ready_taint_and_allocatable() {
        let n: Node = serde_json::from_value(json!({
            "metadata": {"name": "n", "labels": {"a": "b"}},
            "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]},
            "status": {
                "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                "conditions": [{"type": "Ready", "status": "False"}]
            }
        }))
        .unwrap();
        let d = NodeData::new(&n);
        assert!(!d.ready);
        assert_eq!(d.allocatable.milli_cpu, 4000);
        assert_eq!(d.allowed_pods, 110);
        assert_eq!(d.taints.len(), 2);
        assert_eq!(d.taints[1].key, TAINT_NOT_READY);
        let mut n2 = n.clone();
        n2.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status = "Unknown".into();
        assert_eq!(NodeData::new(&n2).taints[1].key, TAINT_UNREACHABLE);
        n2.status.as_mut().unwrap().conditions.as_mut().unwrap()[0].status = "True".into();
        assert_eq!(NodeData::new(&n2).taints.len(), 1);
    }

    #[test]
    fn node_info_accounting() {
        let mk = |name: &str, cpu: &str| {
            Arc::new(PodInfo::new(&pod(json!({
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}},
                    "ports": [{"containerPort": 80, "hostPort": 80}]}]}
            }))))
        };
        let mut n = NodeInfo::new("n");
        n.add_pod(mk("a", "1"));
        n.add_pod(mk("b", "500m"));
        assert_eq!(n.requested.milli_cpu, 1500);
        assert_eq!(n.ports.len(), 2);
        assert!(n.remove_pod("default", "a"));
        assert!(!n.remove_pod("default", "a"));
        assert_eq!(n.requested.milli_cpu, 500);
        assert_eq!(n.non_zero_memory, DEFAULT_MEMORY_REQUEST);
        assert_eq!(n.ports.len(), 1);
        assert_eq!(n.without(|p| p.name == "b").pods.len(), 0);
    }
}
