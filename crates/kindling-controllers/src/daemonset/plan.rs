//! What the DaemonSet controller decides, without IO (upstream's daemon_controller.go,
//! update.go and util): which nodes should run the set's pod (nodeSelector, required node
//! affinity, taints against the pod's tolerations plus the DaemonSet defaults), the pod for a
//! node (pinned by node affinity `metadata.name In [node]`, left to the scheduler to bind), the
//! pods to create and delete so each eligible node runs exactly one, a rolling update step
//! within maxUnavailable or maxSurge, and the status.

use crate::history;
use crate::owners;
use crate::pods;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector as CoreNodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, Pod, PodSpec, PodTemplateSpec, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kindling_api::nodeselector::NodeSelector;
use kindling_api::selector::LabelSelector;
use std::collections::{BTreeMap, HashSet};

fn toleration(key: &str, effect: &str) -> Toleration {
    Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    }
}

/// Upstream's AddOrUpdateDaemonPodTolerations: daemon pods stay on not-ready and unreachable
/// nodes and go onto nodes under pressure or cordoned (and, with host networking, without a
/// network).
pub fn add_default_tolerations(spec: &mut PodSpec) {
    let mut defaults = vec![
        toleration("node.kubernetes.io/not-ready", "NoExecute"),
        toleration("node.kubernetes.io/unreachable", "NoExecute"),
        toleration("node.kubernetes.io/disk-pressure", "NoSchedule"),
        toleration("node.kubernetes.io/memory-pressure", "NoSchedule"),
        toleration("node.kubernetes.io/pid-pressure", "NoSchedule"),
        toleration("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        defaults.push(toleration(
            "node.kubernetes.io/network-unavailable",
            "NoSchedule",
        ));
    }
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for t in defaults {
        // Replace one with the same key and effect (upstream's AddOrUpdateTolerationInPod).
        match tolerations
            .iter_mut()
            .find(|e| e.key == t.key && e.effect == t.effect)
        {
            Some(existing) => *existing = t,
            None => tolerations.push(t),
        }
    }
}

fn name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

fn template(ds: &DaemonSet) -> PodTemplateSpec {
    ds.spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default()
}

fn node_labels(node: &Node) -> BTreeMap<String, String> {
    node.metadata.labels.clone().unwrap_or_default()
}

fn taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
}

/// The pod's nodeSelector and required node affinity admit the node (upstream's
/// GetRequiredNodeAffinity(pod).Match).
fn fits_affinity(spec: &PodSpec, node: &Node) -> bool {
    let labels = node_labels(node);
    if let Some(selector) = spec.node_selector.as_ref() {
        if selector.iter().any(|(k, v)| labels.get(k) != Some(v)) {
            return false;
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    required.is_none_or(|r| {
        NodeSelector::parse(&r.node_selector_terms).matches(name(&node.metadata), &labels)
    })
}

fn untolerated(tolerations: &[Toleration], node: &Node, effects: &[&str]) -> bool {
    taints(node).iter().any(|t| {
        effects.contains(&t.effect.as_str()) && !kindling_api::taints::tolerated(tolerations, t)
    })
}

/// Upstream's NodeShouldRunDaemonPod: (should run, should keep running). A node whose taints
/// the pod does not tolerate gets no new pod; one already there stays unless a NoExecute taint
/// is not tolerated.
pub fn should_run(ds: &DaemonSet, node: &Node) -> (bool, bool) {
    let mut spec = template(ds).spec.unwrap_or_default();
    if spec
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != name(&node.metadata))
    {
        return (false, false);
    }
    add_default_tolerations(&mut spec);
    if !fits_affinity(&spec, node) {
        return (false, false);
    }
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    if untolerated(tolerations, node, &["NoSchedule", "NoExecute"]) {
        return (false, !untolerated(tolerations, node, &["NoExecute"]));
    }
    (true, true)
}

/// The node a daemon pod is for: its nodeName, else the one its node affinity pins
/// (upstream's GetTargetNodeName).
pub fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(n.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name" && r.operator == "In")
        .and_then(|r| r.values.as_ref()?.first().cloned())
}

/// Upstream's ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes
/// `metadata.name In [node]` alone (preferences stay).
fn pin_to_node(spec: &mut PodSpec, node: &str) {
    let term = NodeSelectorTerm {
        match_fields: Some(vec![NodeSelectorRequirement {
            key: "metadata.name".into(),
            operator: "In".into(),
            values: Some(vec![node.to_string()]),
        }]),
        match_expressions: None,
    };
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(CoreNodeSelector {
        node_selector_terms: vec![term],
    });
}

/// The pod of `ds` for `node` at revision `hash` (upstream's CreatePodsOnNode template).
pub fn new_pod(ds: &DaemonSet, template: &PodTemplateSpec, hash: &str, node: &str) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(history::CONTROLLER_REVISION_HASH.into(), hash.into());
    let mut spec = template.spec.clone().unwrap_or_default();
    add_default_tolerations(&mut spec);
    pin_to_node(&mut spec, node);
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", name(&ds.metadata))),
            namespace: ds.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owners::controller_ref(ds)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn min_ready(ds: &DaemonSet) -> i32 {
    ds.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

fn is_updated(pod: &Pod, hash: &str) -> bool {
    !hash.is_empty() && history::pod_revision(pod) == hash
}

/// Oldest first, then by phase and name (upstream's podByCreationTimestampAndPhase).
#[allow(clippy::trivially_copy_pass_by_ref)] // sort_by's signature
fn oldest_first(a: &&Pod, b: &&Pod) -> std::cmp::Ordering {
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    created(a)
        .cmp(&created(b))
        .then_with(|| name(&a.metadata).cmp(name(&b.metadata)))
}

pub struct Input<'a> {
    pub ds: &'a DaemonSet,
    /// The hash of the current revision (pods made from it carry it).
    pub hash: &'a str,
    pub nodes: Vec<&'a Node>,
    /// The pods the set owns.
    pub pods: Vec<&'a Pod>,
    pub now: Timestamp,
}

impl Input<'_> {
    /// The pods per target node, oldest first; finished pods being deleted left out.
    fn by_node(&self) -> BTreeMap<String, Vec<&Pod>> {
        let mut map: BTreeMap<String, Vec<&Pod>> = BTreeMap::new();
        for pod in &self.pods {
            let finished = matches!(phase(pod), "Succeeded" | "Failed");
            if finished && pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            if let Some(node) = target_node(pod) {
                map.entry(node).or_default().push(pod);
            }
        }
        for pods in map.values_mut() {
            pods.sort_by(oldest_first);
        }
        map
    }
}

/// Pods to create (on these nodes) and to delete (these pods).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    pub create_on: Vec<String>,
    pub delete: Vec<Pod>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.create_on.is_empty() && self.delete.is_empty()
    }
}

fn surge(ds: &DaemonSet) -> Option<&IntOrString> {
    ds.spec
        .as_ref()?
        .update_strategy
        .as_ref()?
        .rolling_update
        .as_ref()?
        .max_surge
        .as_ref()
}

fn allows_surge(ds: &DaemonSet) -> bool {
    let rolling = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
        == "RollingUpdate";
    rolling && crate::deployment::util::scaled_value(surge(ds), 1, true).is_ok_and(|n| n > 0)
}

/// Upstream's manage (podsShouldBeOnNode for every node, plus pods for nodes that are gone):
/// one pod on every node that should run one, none where none may keep running, finished pods
/// replaced, extra pods removed (with surge, an old pod once a new one is available).
pub fn manage(input: &Input) -> Changes {
    let ds = input.ds;
    let by_node = input.by_node();
    let mut changes = Changes::default();
    let node_names: HashSet<&str> = input.nodes.iter().map(|n| name(&n.metadata)).collect();
    for node in &input.nodes {
        let node_name = name(&node.metadata);
        let (run, keep) = should_run(ds, node);
        let pods = by_node.get(node_name);
        match pods {
            None if run => changes.create_on.push(node_name.to_string()),
            Some(pods) if keep => {
                let mut running = Vec::new();
                for pod in pods {
                    if pod.metadata.deletion_timestamp.is_some() {
                        continue;
                    }
                    if matches!(phase(pod), "Failed" | "Succeeded") {
                        changes.delete.push((*pod).clone());
                    } else {
                        running.push(*pod);
                    }
                }
                if running.len() <= 1 {
                    continue;
                }
                if !allows_surge(ds) {
                    changes
                        .delete
                        .extend(running[1..].iter().map(|p| (*p).clone()));
                    continue;
                }
                let (mut oldest_new, mut oldest_old) = (None, None);
                for pod in running {
                    let slot = if is_updated(pod, input.hash) {
                        &mut oldest_new
                    } else {
                        &mut oldest_old
                    };
                    if slot.is_none() {
                        *slot = Some(pod);
                    } else {
                        changes.delete.push(pod.clone());
                    }
                }
                if let (Some(new), Some(old)) = (oldest_new, oldest_old) {
                    if !pods::is_ready(old) || pods::is_available(new, min_ready(ds), input.now) {
                        changes.delete.push(old.clone());
                    }
                }
            }
            Some(pods) if !keep => changes.delete.extend(
                pods.iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_none())
                    .map(|p| (*p).clone()),
            ),
            _ => {}
        }
    }
    // Pods for nodes that no longer exist.
    for (node, pods) in &by_node {
        if !node_names.contains(node.as_str()) {
            changes.delete.extend(
                pods.iter()
                    .filter(|p| p.metadata.deletion_timestamp.is_none())
                    .map(|p| (*p).clone()),
            );
        }
    }
    changes
}

/// The new and the old pod on a node; `None` when there is more than one of either.
fn updated_and_old<'a>(pods: &[&'a Pod], hash: &str) -> Option<(Option<&'a Pod>, Option<&'a Pod>)> {
    let (mut new, mut old) = (None, None);
    for pod in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let slot = if is_updated(pod, hash) {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(*pod);
    }
    Some((new, old))
}

/// Upstream's rollingUpdate: without surge, old pods are deleted while at most maxUnavailable
/// nodes lack an available pod (unavailable old pods first); with surge, new pods are added
/// beside old ones on at most maxSurge nodes and the old pod goes once the new one is
/// available.
pub fn rolling_update(input: &Input) -> Changes {
    let ds = input.ds;
    let now = input.now;
    let min_ready = min_ready(ds);
    let mut by_node = input.by_node();
    let mut desired = 0;
    for node in &input.nodes {
        if should_run(ds, node).0 {
            desired += 1;
            by_node.entry(name(&node.metadata).to_string()).or_default();
        }
    }
    let ru = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let scaled = |v: Option<&IntOrString>| {
        crate::deployment::util::scaled_value(v, desired, true).unwrap_or(0)
    };
    let max_surge = scaled(ru.and_then(|r| r.max_surge.as_ref()));
    let mut max_unavailable = scaled(ru.and_then(|r| r.max_unavailable.as_ref()));
    if max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }
    let available = |p: &Pod| pods::is_available(p, min_ready, now);
    let mut changes = Changes::default();
    if max_surge == 0 {
        let mut unavailable = 0;
        let (mut replace, mut candidates) = (Vec::new(), Vec::new());
        for pods in by_node.values() {
            match updated_and_old(pods, input.hash) {
                None | Some((None, None) | (Some(_), Some(_))) => unavailable += 1,
                Some((Some(new), None)) => {
                    if !available(new) {
                        unavailable += 1;
                    }
                }
                Some((None, Some(old))) => {
                    if !available(old) {
                        replace.push(old.clone());
                    } else if unavailable < max_unavailable {
                        candidates.push(old.clone());
                    }
                }
            }
        }
        let room = (max_unavailable - unavailable).clamp(0, candidates.len() as i32) as usize;
        changes.delete = replace;
        changes.delete.extend(candidates.into_iter().take(room));
        return changes;
    }
    let mut surged = 0;
    let (mut allowed, mut candidates) = (Vec::new(), Vec::new());
    for (node, pods) in &by_node {
        match updated_and_old(pods, input.hash) {
            None => surged += 1,
            Some((_, None)) => {}
            Some((None, Some(old))) => {
                if !available(old) {
                    allowed.push(node.clone());
                } else if surged < max_surge {
                    candidates.push(node.clone());
                }
            }
            Some((Some(new), Some(old))) => {
                if available(new) {
                    changes.delete.push(old.clone());
                } else {
                    surged += 1;
                }
            }
        }
    }
    let room = (max_surge - surged).clamp(0, candidates.len() as i32) as usize;
    changes.create_on = allowed;
    changes.create_on.extend(candidates.into_iter().take(room));
    changes
}

/// Upstream's updateDaemonSetStatus: per node that should run the pod, whether it has one, and
/// whether its oldest is ready, available, updated; pods where none should run are
/// misscheduled.
pub fn status(input: &Input) -> DaemonSetStatus {
    let ds = input.ds;
    let by_node = input.by_node();
    let mut s = DaemonSetStatus {
        observed_generation: ds.metadata.generation,
        collision_count: ds.status.as_ref().and_then(|s| s.collision_count),
        ..Default::default()
    };
    let (mut available, mut updated) = (0, 0);
    for node in &input.nodes {
        let pods = by_node.get(name(&node.metadata)).filter(|p| !p.is_empty());
        if !should_run(ds, node).0 {
            if pods.is_some() {
                s.number_misscheduled += 1;
            }
            continue;
        }
        s.desired_number_scheduled += 1;
        let Some(pods) = pods else {
            continue;
        };
        s.current_number_scheduled += 1;
        let pod = pods[0];
        if pods::is_ready(pod) {
            s.number_ready += 1;
            if pods::is_available(pod, min_ready(ds), input.now) {
                available += 1;
            }
        }
        if is_updated(pod, input.hash) {
            updated += 1;
        }
    }
    s.number_available = Some(available);
    s.updated_number_scheduled = Some(updated);
    s.number_unavailable = Some(s.desired_number_scheduled - available);
    s
}

/// Whether the status must be written (zero and absent counts are the same: the API leaves
/// zeros out).
pub fn status_differs(ds: &DaemonSet, new: &DaemonSetStatus) -> bool {
    let old = ds.status.clone().unwrap_or_default();
    let n = |v: Option<i32>| v.unwrap_or(0);
    old.observed_generation != new.observed_generation
        || old.desired_number_scheduled != new.desired_number_scheduled
        || old.current_number_scheduled != new.current_number_scheduled
        || old.number_misscheduled != new.number_misscheduled
        || old.number_ready != new.number_ready
        || n(old.number_available) != n(new.number_available)
        || n(old.number_unavailable) != n(new.number_unavailable)
        || n(old.updated_number_scheduled) != n(new.updated_number_scheduled)
        || n(old.collision_count) != n(new.collision_count)
}

/// The selector of the set (`None` if unusable).
pub fn selector(ds: &DaemonSet) -> Option<LabelSelector> {
    LabelSelector::from_typed(ds.spec.as_ref().map(|s| &s.selector)).ok()
}

#[cfg(test)]
mod tests;
