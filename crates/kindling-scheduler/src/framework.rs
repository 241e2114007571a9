//! One scheduling cycle, as upstream's framework runs it: pre-filter (cluster-wide state for
//! spreading and inter-pod affinity), filter every node (stopping at the first rejecting plugin),
//! post-filter (preemption's dry run, only to word the message — kindling does not evict),
//! score the feasible nodes, pick the best. No IO: it reads a [`Snapshot`].

use crate::labels::Labels;
use crate::plugins::{
    inter_pod_affinity, node_affinity, node_ports, node_resources, node_unschedulable,
    pod_topology_spread, taint_toleration, volume_binding,
};
use crate::types::{NodeInfo, PodInfo};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

pub const MAX_NODE_SCORE: i64 = 100;
/// Below this many nodes every node is evaluated (upstream's `minFeasibleNodesToFind`).
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;

/// The plugins, for diagnosis (which ones rejected a pod decides which cluster changes may
/// make it schedulable again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Plugin {
    NodeUnschedulable,
    TaintToleration,
    NodeAffinity,
    NodePorts,
    NodeResourcesFit,
    PodTopologySpread,
    InterPodAffinity,
    VolumeBinding,
}

impl Plugin {
    pub fn name(self) -> &'static str {
        match self {
            Plugin::NodeUnschedulable => "NodeUnschedulable",
            Plugin::TaintToleration => "TaintToleration",
            Plugin::NodeAffinity => "NodeAffinity",
            Plugin::NodePorts => "NodePorts",
            Plugin::NodeResourcesFit => "NodeResourcesFit",
            Plugin::PodTopologySpread => "PodTopologySpread",
            Plugin::InterPodAffinity => "InterPodAffinity",
            Plugin::VolumeBinding => "VolumeBinding",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Might pass if pods went away (preemption could help).
    Unschedulable,
    /// Will not pass whatever runs on the node.
    UnschedulableAndUnresolvable,
}

/// A filter's rejection of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub plugin: Plugin,
    pub reasons: Vec<String>,
}

impl Status {
    pub fn new(code: Code, plugin: Plugin, reason: impl Into<String>) -> Status {
        Status {
            code,
            plugin,
            reasons: vec![reason.into()],
        }
    }
}

/// The cluster as one scheduling cycle sees it.
pub struct Snapshot<'a> {
    /// Nodes with a Node object, in a stable order.
    pub nodes: Vec<&'a NodeInfo>,
    /// Namespace labels, for affinity terms' `namespaceSelector`.
    pub namespaces: &'a HashMap<String, Labels>,
    /// Claims, volumes and classes, for VolumeBinding.
    pub volumes: &'a volume_binding::VolumeView,
}

impl Snapshot<'_> {
    pub fn namespace_labels(&self, ns: &str) -> Option<&Labels> {
        self.namespaces.get(ns)
    }
}

/// What the pre-filters computed for one pod in one cycle.
pub struct CycleState {
    pub spread: pod_topology_spread::FilterState,
    pub affinity: inter_pod_affinity::FilterState,
    pub volumes: volume_binding::FilterState,
}

pub fn pre_filter(pod: &PodInfo, snap: &Snapshot) -> CycleState {
    CycleState {
        spread: pod_topology_spread::pre_filter(pod, snap),
        affinity: inter_pod_affinity::pre_filter(pod, snap),
        volumes: volume_binding::FilterState::default(),
    }
}

/// Runs the filters in upstream's order; the first rejection wins.
pub fn filter(
    state: &CycleState,
    snap: &Snapshot,
    pod: &PodInfo,
    info: &NodeInfo,
) -> Result<(), Status> {
    let Some(node) = info.node.as_ref() else {
        return Err(Status::new(
            Code::UnschedulableAndUnresolvable,
            Plugin::NodeUnschedulable,
            "node(s) not found",
        ));
    };
    node_unschedulable::filter(pod, node)?;
    taint_toleration::filter(pod, node)?;
    node_affinity::filter(pod, &info.name, node)?;
    node_ports::filter(pod, info)?;
    node_resources::fit_filter(pod, info, node)?;
    if state.volumes.has_claims() {
        volume_binding::filter(&state.volumes, snap.volumes, &info.name, &node.labels)?;
    }
    pod_topology_spread::filter(&state.spread, pod, node)?;
    inter_pod_affinity::filter(&state.affinity, node)?;
    Ok(())
}

/// Score plugins and their weights, upstream's defaults.
pub fn score(pod: &PodInfo, snap: &Snapshot, feasible: &[&NodeInfo]) -> Vec<i64> {
    let mut total = vec![0i64; feasible.len()];
    let mut add = |weight: i64, scores: Option<Vec<i64>>| {
        for (t, s) in total.iter_mut().zip(scores.into_iter().flatten()) {
            *t += weight * s;
        }
    };
    add(3, taint_toleration::score(pod, feasible));
    add(2, node_affinity::score(pod, feasible));
    add(2, pod_topology_spread::score(pod, snap, feasible));
    add(2, inter_pod_affinity::score(pod, snap, feasible));
    add(
        1,
        Some(node_resources::least_allocated_score(pod, feasible)),
    );
    add(1, node_resources::balanced_allocation_score(pod, feasible));
    total
}

/// A small, fast random source (xorshift64*) for tie-breaking; seedable for tests.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn from_time() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9_7f4a_7c15, |d| d.as_nanos() as u64);
        Rng::new(nanos ^ u64::from(std::process::id()).rotate_left(32))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Why a pod could not be placed: per-node rejections and preemption's verdict, worded as
/// upstream's `FitError`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitError {
    pub num_all_nodes: usize,
    /// A pre-filter's rejection of the pod as a whole (then `statuses` is empty).
    pub pre_filter_msg: Option<String>,
    /// The plugin whose pre-filter rejected the pod.
    pub pre_filter_plugin: Plugin,
    /// One status per rejected node.
    pub statuses: Vec<Status>,
    /// `preemption: …`, or empty when preemption found a candidate (or was not tried).
    pub post_filter_msg: String,
}

/// `0/N nodes are available: <count reason>, … .` with the reasons sorted as strings, the way
/// upstream builds its histogram.
pub fn nodes_available_message<'a>(
    num_all_nodes: usize,
    reasons: impl IntoIterator<Item = &'a str>,
) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in reasons {
        *counts.entry(r).or_insert(0) += 1;
    }
    let mut parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    let mut msg = format!("0/{num_all_nodes} nodes are available:");
    if !parts.is_empty() {
        msg.push_str(&format!(" {}.", parts.join(", ")));
    }
    msg
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pre_filter_msg {
            Some(m) => write!(f, "0/{} nodes are available: {m}.", self.num_all_nodes)?,
            None => {
                let reasons = self
                    .statuses
                    .iter()
                    .flat_map(|s| s.reasons.iter().map(String::as_str));
                write!(
                    f,
                    "{}",
                    nodes_available_message(self.num_all_nodes, reasons)
                )?;
            }
        }
        if !self.post_filter_msg.is_empty() {
            write!(f, " {}", self.post_filter_msg)?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScheduleError {
    /// The cluster has no nodes at all.
    NoNodes,
    Unschedulable(FitError),
}

impl ScheduleError {
    /// The message of the `FailedScheduling` event and of the `PodScheduled` condition.
    pub fn message(&self) -> String {
        match self {
            ScheduleError::NoNodes => "no nodes available to schedule pods".to_string(),
            ScheduleError::Unschedulable(e) => e.to_string(),
        }
    }

    /// The plugins that rejected at least one node.
    pub fn plugins(&self) -> BTreeSet<Plugin> {
        match self {
            ScheduleError::NoNodes => BTreeSet::new(),
            ScheduleError::Unschedulable(e) if e.pre_filter_msg.is_some() => {
                BTreeSet::from([e.pre_filter_plugin])
            }
            ScheduleError::Unschedulable(e) => e.statuses.iter().map(|s| s.plugin).collect(),
        }
    }
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// How many feasible nodes to look for before scoring (upstream's adaptive
/// `percentageOfNodesToScore`): all of them up to 100 nodes.
pub fn num_feasible_nodes_to_find(num_all_nodes: usize) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all_nodes;
    }
    let percentage =
        (50usize.saturating_sub(num_all_nodes / 125)).max(MIN_FEASIBLE_NODES_PERCENTAGE);
    (num_all_nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// The scheduling algorithm with the little state it keeps between cycles.
#[derive(Clone, Debug)]
pub struct Framework {
    next_start_node_index: usize,
    rng: Rng,
}

impl Framework {
    pub fn new(rng: Rng) -> Framework {
        Framework {
            next_start_node_index: 0,
            rng,
        }
    }

    /// Chooses a node for `pod`. Among equally scored best nodes one is picked at random, as
    /// upstream does.
    pub fn schedule(&mut self, pod: &PodInfo, snap: &Snapshot) -> Result<String, ScheduleError> {
        let all = snap.nodes.len();
        if all == 0 {
            return Err(ScheduleError::NoNodes);
        }
        let volumes = match volume_binding::pre_filter(pod, snap.volumes) {
            Ok(v) => v,
            Err(msg) => {
                let unresolvable = |i| {
                    let code = Code::UnschedulableAndUnresolvable;
                    (i, Status::new(code, Plugin::VolumeBinding, msg.clone()))
                };
                let all_rejected: Vec<(usize, Status)> = (0..all).map(unresolvable).collect();
                let state = pre_filter(pod, snap);
                return Err(ScheduleError::Unschedulable(FitError {
                    num_all_nodes: all,
                    pre_filter_msg: Some(msg.clone()),
                    pre_filter_plugin: Plugin::VolumeBinding,
                    statuses: Vec::new(),
                    post_filter_msg: preemption_message(pod, snap, &state, &all_rejected),
                }));
            }
        };
        let mut state = pre_filter(pod, snap);
        state.volumes = volumes;
        // Node affinity's pre-filter may narrow the candidates to named nodes.
        let mut statuses: Vec<(usize, Status)> = Vec::new();
        let candidates: Vec<usize> = match node_affinity::candidate_names(pod) {
            Some(names) if names.is_empty() => {
                let conflict = |i| {
                    let code = Code::UnschedulableAndUnresolvable;
                    let reason = node_affinity::REASON_CONFLICT;
                    (i, Status::new(code, Plugin::NodeAffinity, reason))
                };
                let all_rejected: Vec<(usize, Status)> = (0..all).map(conflict).collect();
                return Err(ScheduleError::Unschedulable(FitError {
                    num_all_nodes: all,
                    pre_filter_msg: Some(node_affinity::REASON_CONFLICT.to_string()),
                    pre_filter_plugin: Plugin::NodeAffinity,
                    statuses: Vec::new(),
                    post_filter_msg: preemption_message(pod, snap, &state, &all_rejected),
                }));
            }
            Some(names) => {
                let mut kept = Vec::new();
                for i in 0..all {
                    if names.contains(&snap.nodes[i].name) {
                        kept.push(i);
                    } else {
                        let code = Code::UnschedulableAndUnresolvable;
                        let reason = node_affinity::REASON_NOT_NAMED;
                        statuses.push((i, Status::new(code, Plugin::NodeAffinity, reason)));
                    }
                }
                kept
            }
            None => (0..all).collect(),
        };
        let want = num_feasible_nodes_to_find(candidates.len());
        let mut feasible: Vec<&NodeInfo> = Vec::new();
        let mut processed = 0;
        for k in 0..candidates.len() {
            let i = candidates[(self.next_start_node_index + k) % candidates.len()];
            processed += 1;
            match filter(&state, snap, pod, snap.nodes[i]) {
                Ok(()) => {
                    feasible.push(snap.nodes[i]);
                    if feasible.len() >= want {
                        break;
                    }
                }
                Err(s) => statuses.push((i, s)),
            }
        }
        if !candidates.is_empty() {
            self.next_start_node_index =
                (self.next_start_node_index + processed) % candidates.len();
        }
        if feasible.is_empty() {
            let post_filter_msg = preemption_message(pod, snap, &state, &statuses);
            return Err(ScheduleError::Unschedulable(FitError {
                num_all_nodes: all,
                pre_filter_msg: None,
                pre_filter_plugin: Plugin::NodeAffinity,
                statuses: statuses.into_iter().map(|(_, s)| s).collect(),
                post_filter_msg,
            }));
        }
        if feasible.len() == 1 {
            return Ok(feasible[0].name.clone());
        }
        let scores = score(pod, snap, &feasible);
        Ok(feasible[self.select(&scores)].name.clone())
    }

    /// Index of the highest score; ties are broken uniformly at random (reservoir sampling).
    fn select(&mut self, scores: &[i64]) -> usize {
        let mut best = 0;
        let mut ties = 0u64;
        for (i, &s) in scores.iter().enumerate() {
            if i == 0 || s > scores[best] {
                best = i;
                ties = 1;
            } else if s == scores[best] {
                ties += 1;
                if self.rng.below(ties) == 0 {
                    best = i;
                }
            }
        }
        best
    }
}

/// What upstream's default preemption would say, as a dry run: nodes rejected for good are
/// "not helpful"; on the others, would removing every lower-priority pod make room? kindling
/// does not evict, so when it would (a candidate exists) the message has no preemption part,
/// as upstream's has none once it nominates a node.
fn preemption_message(
    pod: &PodInfo,
    snap: &Snapshot,
    state: &CycleState,
    statuses: &[(usize, Status)],
) -> String {
    if pod.preemption_never {
        return "preemption: not eligible due to preemptionPolicy=Never.".to_string();
    }
    let by_node: HashMap<usize, &Status> = statuses.iter().map(|(i, s)| (*i, s)).collect();
    let mut reasons: Vec<String> = Vec::new();
    let mut candidates = 0;
    for (i, info) in snap.nodes.iter().enumerate() {
        match by_node.get(&i) {
            Some(s) if s.code == Code::Unschedulable => {
                let has_victims = info.pods.iter().any(|p| p.priority < pod.priority);
                if !has_victims {
                    reasons.push("No preemption victims found for incoming pod".into());
                    continue;
                }
                let trimmed = info.without(|p| p.priority < pod.priority);
                match filter(state, snap, pod, &trimmed) {
                    Ok(()) => candidates += 1,
                    Err(s) => reasons.extend(s.reasons),
                }
            }
            _ => reasons.push("Preemption is not helpful for scheduling".into()),
        }
    }
    if candidates > 0 {
        return String::new();
    }
    format!(
        "preemption: {}",
        nodes_available_message(snap.nodes.len(), reasons.iter().map(String::as_str))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, node_with, pod, simple, with_pods};
    use serde_json::json;

    fn snap<'a>(nodes: &'a [NodeInfo], ns: &'a HashMap<String, Labels>) -> Snapshot<'a> {
        Snapshot {
            nodes: nodes.iter().collect(),
            namespaces: ns,
            volumes: &crate::plugins::volume_binding::NO_VOLUMES,
        }
    }

    #[test]
    fn message_matches_upstream_format() {
        let cp = node_with(
            "kind-control-plane",
            json!({}),
            json!({"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}),
        );
        let nodes = vec![
            cp,
            node("kind-worker", json!({})),
            node("kind-worker2", json!({})),
        ];
        let ns = HashMap::new();
        let big = simple("big", json!({}), "64");
        let err = Framework::new(Rng::new(1))
            .schedule(&big, &snap(&nodes, &ns))
            .unwrap_err();
        assert_eq!(
            err.message(),
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
             2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
             2 No preemption victims found for incoming pod."
        );
        assert_eq!(
            err.plugins(),
            BTreeSet::from([Plugin::TaintToleration, Plugin::NodeResourcesFit])
        );
    }

    #[test]
    fn several_reasons_per_node_and_string_sorting() {
        let nodes: Vec<NodeInfo> = (0..12)
            .map(|i| node(&format!("n{i:02}"), json!({})))
            .collect();
        let ns = HashMap::new();
        let p = pod(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c",
            "resources": {"requests": {"cpu": "5", "memory": "9Gi"}}}]}}),
        );
        let err = Framework::new(Rng::new(1))
            .schedule(&p, &snap(&nodes, &ns))
            .unwrap_err();
        // Each node counts for both reasons; "12 …" sorts before "2 …" as strings.
        assert_eq!(
            err.message(),
            "0/12 nodes are available: 12 Insufficient cpu, 12 Insufficient memory. preemption: \
             0/12 nodes are available: 12 No preemption victims found for incoming pod."
        );
        assert_eq!(
            nodes_available_message(3, ["b", "a", "b"]),
            "0/3 nodes are available: 1 a, 2 b."
        );
    }

    #[test]
    fn no_nodes() {
        let ns = HashMap::new();
        let err = Framework::new(Rng::new(1))
            .schedule(&simple("p", json!({}), "1"), &snap(&[], &ns))
            .unwrap_err();
        assert_eq!(err.message(), "no nodes available to schedule pods");
    }

    #[test]
    fn preemption_dry_run() {
        let ns = HashMap::new();
        let mut low = simple("low", json!({}), "3");
        low.priority = -5;
        let nodes = vec![with_pods(node("n1", json!({})), vec![low])];
        let mut p = simple("p", json!({}), "2");
        // Equal priority: the low pod is not a victim for a priority -5 pod.
        p.priority = -5;
        let err = Framework::new(Rng::new(1))
            .schedule(&p, &snap(&nodes, &ns))
            .unwrap_err();
        assert!(err
            .message()
            .ends_with("1 No preemption victims found for incoming pod."));
        // Higher priority: evicting the low pod would make room, so no preemption text.
        p.priority = 0;
        let err = Framework::new(Rng::new(1))
            .schedule(&p, &snap(&nodes, &ns))
            .unwrap_err();
        assert_eq!(
            err.message(),
            "0/1 nodes are available: 1 Insufficient cpu."
        );
        // Too big even for an empty node: the filter's reason again.
        let mut huge = simple("h", json!({}), "8");
        huge.priority = 10;
        let err = Framework::new(Rng::new(1))
            .schedule(&huge, &snap(&nodes, &ns))
            .unwrap_err();
        assert_eq!(
            err.message(),
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Insufficient cpu."
        );
        let mut never = simple("n", json!({}), "8");
        never.preemption_never = true;
        let err = Framework::new(Rng::new(1))
            .schedule(&never, &snap(&nodes, &ns))
            .unwrap_err();
        assert!(err
            .message()
            .ends_with(" preemption: not eligible due to preemptionPolicy=Never."));
    }

    #[test]
    fn picks_least_loaded_and_breaks_ties_randomly() {
        let ns = HashMap::new();
        let busy = with_pods(node("busy", json!({})), vec![simple("x", json!({}), "3")]);
        let nodes = vec![busy, node("idle", json!({}))];
        let p = simple("p", json!({}), "500m");
        let mut fw = Framework::new(Rng::new(7));
        for _ in 0..10 {
            assert_eq!(fw.schedule(&p, &snap(&nodes, &ns)).unwrap(), "idle");
        }
        let even = vec![
            node("a", json!({})),
            node("b", json!({})),
            node("c", json!({})),
        ];
        let mut seen = BTreeSet::new();
        for _ in 0..60 {
            seen.insert(fw.schedule(&p, &snap(&even, &ns)).unwrap());
        }
        assert_eq!(seen.len(), 3, "ties spread over all best nodes: {seen:?}");
    }

    #[test]
    fn pods_pinned_to_a_node_by_name() {
        let ns = HashMap::new();
        let nodes = vec![
            with_pods(node("a", json!({})), vec![simple("x", json!({}), "4")]),
            node("b", json!({})),
            node("c", json!({})),
        ];
        let pinned = |names: serde_json::Value| {
            pod(
                json!({"metadata": {"name": "ds"}, "spec": {"affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": names}]}]}}},
                "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]}}),
            )
        };
        let mut fw = Framework::new(Rng::new(1));
        assert_eq!(
            fw.schedule(&pinned(json!(["c"])), &snap(&nodes, &ns))
                .unwrap(),
            "c"
        );
        let err = fw
            .schedule(&pinned(json!(["a"])), &snap(&nodes, &ns))
            .unwrap_err();
        assert_eq!(
            err.message(),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. \
             preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
             2 Preemption is not helpful for scheduling."
        );
        let conflict = pod(
            json!({"metadata": {"name": "ds"}, "spec": {"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["a"]},
                {"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}}}),
        );
        assert_eq!(
            fw.schedule(&conflict, &snap(&nodes, &ns))
                .unwrap_err()
                .message(),
            "0/3 nodes are available: pod affinity terms conflict. preemption: 0/3 nodes are \
             available: 3 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn feasible_nodes_to_find() {
        assert_eq!(num_feasible_nodes_to_find(3), 3);
        assert_eq!(num_feasible_nodes_to_find(100), 100);
        assert_eq!(num_feasible_nodes_to_find(1000), 420);
        assert_eq!(num_feasible_nodes_to_find(5000), 500);
        assert_eq!(num_feasible_nodes_to_find(200), 100);
    }

    #[test]
    fn first_rejecting_filter_is_the_reason() {
        let ns = HashMap::new();
        // Cordoned and tainted and too small: only "were unschedulable" is reported.
        let n = node_with(
            "n",
            json!({}),
            json!({"unschedulable": true, "taints": [{"key": "k", "effect": "NoSchedule"}]}),
        );
        let nodes = vec![n];
        let err = Framework::new(Rng::new(1))
            .schedule(&simple("p", json!({}), "64"), &snap(&nodes, &ns))
            .unwrap_err();
        assert_eq!(
            err.message(),
            "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are \
             available: 1 Preemption is not helpful for scheduling."
        );
    }
}
