//! InterPodAffinity: required pod affinity and anti-affinity by topology key, both the incoming
//! pod's and the existing pods' anti-affinity; preferred terms (and existing pods' terms
//! matching the incoming pod) score.
//!
//! Affinity: in every term's domain there must be a pod matching all the terms — unless no pod
//! anywhere matches and the pod matches its own terms (the first of a group). Anti-affinity: no
//! matching pod in the term's domain. Existing pods' required anti-affinity: the incoming pod
//! may not land in the domain of a pod whose term selects it.

use crate::framework::{Code, Plugin, Snapshot, Status, MAX_NODE_SCORE};
use crate::labels::Labels;
use crate::types::{AffinityTerm, NodeData, NodeInfo, PodInfo};
use std::collections::HashMap;

pub const REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// Counts of matching pods per topology key and value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct TopologyCounts(HashMap<String, HashMap<String, i64>>);

impl TopologyCounts {
    fn add(&mut self, labels: &Labels, key: &str, n: i64) {
        if let Some(v) = labels.get(key) {
            *self
                .0
                .entry(key.to_string())
                .or_default()
                .entry(v.clone())
                .or_insert(0) += n;
        }
    }

    fn get(&self, key: &str, value: &str) -> i64 {
        self.0
            .get(key)
            .and_then(|m| m.get(value))
            .copied()
            .unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.0.values().all(|m| m.values().all(|n| *n == 0))
    }

    /// Whether any (key, value) of the node's labels has a positive count.
    fn hits(&self, labels: &Labels) -> bool {
        self.0.iter().any(|(k, vals)| {
            labels
                .get(k)
                .is_some_and(|v| vals.get(v).is_some_and(|n| *n > 0))
        })
    }
}

#[derive(Clone, Debug, Default)]
pub struct FilterState {
    required_affinity: Vec<AffinityTerm>,
    required_anti_affinity: Vec<AffinityTerm>,
    affinity: TopologyCounts,
    anti_affinity: TopologyCounts,
    existing_anti_affinity: TopologyCounts,
    matches_own_affinity: bool,
}

fn matches_all(terms: &[AffinityTerm], pod: &PodInfo, ns_labels: Option<&Labels>) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, ns_labels))
}

pub fn pre_filter(pod: &PodInfo, snap: &Snapshot) -> FilterState {
    let mut state = FilterState {
        required_affinity: pod.required_affinity.clone(),
        required_anti_affinity: pod.required_anti_affinity.clone(),
        ..Default::default()
    };
    let own_ns = snap.namespace_labels(&pod.namespace);
    for info in &snap.nodes {
        if info.pods_with_required_anti_affinity == 0 {
            continue;
        }
        let labels = info.labels();
        for existing in &info.pods {
            for t in &existing.required_anti_affinity {
                if t.matches(pod, own_ns) {
                    state.existing_anti_affinity.add(labels, &t.topology_key, 1);
                }
            }
        }
    }
    if state.required_affinity.is_empty() && state.required_anti_affinity.is_empty() {
        return state;
    }
    state.matches_own_affinity = matches_all(&state.required_affinity, pod, own_ns);
    for info in &snap.nodes {
        let labels = info.labels();
        for existing in &info.pods {
            let ns = snap.namespace_labels(&existing.namespace);
            if matches_all(&state.required_affinity, existing, ns) {
                for t in &state.required_affinity {
                    state.affinity.add(labels, &t.topology_key, 1);
                }
            }
            for t in &state.required_anti_affinity {
                if t.matches(existing, ns) {
                    state.anti_affinity.add(labels, &t.topology_key, 1);
                }
            }
        }
    }
    state
}

pub fn filter(state: &FilterState, node: &NodeData) -> Result<(), Status> {
    let labels = &node.labels;
    if !state.required_affinity.is_empty() {
        let mut pods_exist = true;
        for t in &state.required_affinity {
            let Some(v) = labels.get(&t.topology_key) else {
                return Err(affinity_rejection());
            };
            if state.affinity.get(&t.topology_key, v) <= 0 {
                pods_exist = false;
            }
        }
        // The first pod of a group with affinity to itself may start it anywhere.
        let first_of_group = state.affinity.is_empty() && state.matches_own_affinity;
        if !pods_exist && !first_of_group {
            return Err(affinity_rejection());
        }
    }
    for t in &state.required_anti_affinity {
        if let Some(v) = labels.get(&t.topology_key) {
            if state.anti_affinity.get(&t.topology_key, v) > 0 {
                return Err(Status::new(
                    Code::Unschedulable,
                    Plugin::InterPodAffinity,
                    REASON_ANTI_AFFINITY,
                ));
            }
        }
    }
    if state.existing_anti_affinity.hits(labels) {
        return Err(Status::new(
            Code::Unschedulable,
            Plugin::InterPodAffinity,
            REASON_EXISTING_ANTI_AFFINITY,
        ));
    }
    Ok(())
}

fn affinity_rejection() -> Status {
    Status::new(
        Code::UnschedulableAndUnresolvable,
        Plugin::InterPodAffinity,
        REASON_AFFINITY,
    )
}

/// Weight upstream gives an existing pod's *required* affinity term that the incoming pod
/// matches (`hardPodAffinityWeight`).
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

pub fn score(pod: &PodInfo, snap: &Snapshot, feasible: &[&NodeInfo]) -> Option<Vec<i64>> {
    let preferred = !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
    let own_ns = snap.namespace_labels(&pod.namespace);
    let mut topo = TopologyCounts::default();
    for info in &snap.nodes {
        if !preferred && info.pods_with_affinity == 0 {
            continue;
        }
        let labels = info.labels();
        if labels.is_empty() {
            continue;
        }
        for existing in &info.pods {
            if preferred {
                let ns = snap.namespace_labels(&existing.namespace);
                for (w, t) in &pod.preferred_affinity {
                    if t.matches(existing, ns) {
                        topo.add(labels, &t.topology_key, *w);
                    }
                }
                for (w, t) in &pod.preferred_anti_affinity {
                    if t.matches(existing, ns) {
                        topo.add(labels, &t.topology_key, -*w);
                    }
                }
            }
            if !existing.has_affinity() {
                continue;
            }
            for t in &existing.required_affinity {
                if t.matches(pod, own_ns) {
                    topo.add(labels, &t.topology_key, HARD_POD_AFFINITY_WEIGHT);
                }
            }
            for (w, t) in &existing.preferred_affinity {
                if t.matches(pod, own_ns) {
                    topo.add(labels, &t.topology_key, *w);
                }
            }
            for (w, t) in &existing.preferred_anti_affinity {
                if t.matches(pod, own_ns) {
                    topo.add(labels, &t.topology_key, -*w);
                }
            }
        }
    }
    if topo.0.is_empty() {
        return None;
    }
    let raw: Vec<i64> = feasible
        .iter()
        .map(|n| {
            let labels = n.labels();
            topo.0
                .iter()
                .filter_map(|(k, vals)| vals.get(labels.get(k)?))
                .sum()
        })
        .collect();
    let min = raw.iter().copied().min().unwrap_or(0);
    let max = raw.iter().copied().max().unwrap_or(0);
    let diff = max - min;
    Some(
        raw.iter()
            .map(|&s| {
                if diff > 0 {
                    (MAX_NODE_SCORE as f64 * ((s - min) as f64 / diff as f64)) as i64
                } else {
                    0
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, pod, simple, with_pods};
    use serde_json::{json, Value};

    fn with_affinity(name: &str, labels: Value, affinity: Value) -> PodInfo {
        pod(json!({"metadata": {"name": name, "labels": labels}, "spec": {"affinity": affinity}}))
    }

    fn run(p: &PodInfo, nodes: &[NodeInfo]) -> Vec<Result<(), Status>> {
        let ns = HashMap::new();
        let snap = Snapshot {
            nodes: nodes.iter().collect(),
            namespaces: &ns,
            volumes: &crate::plugins::volume_binding::NO_VOLUMES,
        };
        let state = pre_filter(p, &snap);
        nodes
            .iter()
            .map(|n| filter(&state, n.node.as_ref().unwrap()))
            .collect()
    }

    fn anti_web() -> Value {
        json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}})
    }

    #[test]
    fn anti_affinity_spreads_replicas() {
        let nodes = vec![
            with_pods(
                node("a", json!({})),
                vec![with_affinity("w1", json!({"app": "web"}), anti_web())],
            ),
            node("b", json!({})),
        ];
        let r = run(
            &with_affinity("w2", json!({"app": "web"}), anti_web()),
            &nodes,
        );
        assert_eq!(
            r[0].as_ref().unwrap_err().reasons,
            vec![REASON_ANTI_AFFINITY]
        );
        assert_eq!(r[0].as_ref().unwrap_err().code, Code::Unschedulable);
        assert!(r[1].is_ok());
    }

    #[test]
    fn existing_pods_anti_affinity() {
        let nodes = vec![
            with_pods(
                node("a", json!({})),
                vec![with_affinity("w1", json!({"app": "web"}), anti_web())],
            ),
            node("b", json!({})),
        ];
        // A plain pod labelled app=web is repelled by w1's term.
        let r = run(&simple("x", json!({"app": "web"}), "1"), &nodes);
        assert_eq!(
            r[0].as_ref().unwrap_err().reasons,
            vec![REASON_EXISTING_ANTI_AFFINITY]
        );
        assert!(r[1].is_ok());
        assert!(run(&simple("y", json!({"app": "db"}), "1"), &nodes)[0].is_ok());
    }

    #[test]
    fn affinity_needs_a_matching_pod_in_the_domain() {
        let aff = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "zone"}]}});
        let nodes = vec![
            with_pods(
                node("a", json!({"zone": "z1"})),
                vec![simple("c", json!({"app": "cache"}), "1")],
            ),
            node("b", json!({"zone": "z1"})),
            node("c", json!({"zone": "z2"})),
            node("d", json!({})),
        ];
        let r = run(
            &with_affinity("web", json!({"app": "web"}), aff.clone()),
            &nodes,
        );
        assert!(r[0].is_ok() && r[1].is_ok(), "same zone as the cache pod");
        let err = r[2].as_ref().unwrap_err();
        assert_eq!(err.reasons, vec![REASON_AFFINITY]);
        assert_eq!(err.code, Code::UnschedulableAndUnresolvable);
        assert!(r[3].is_err(), "no zone label");
        // No cache pod anywhere: a pod matching its own terms may start the group.
        let empty = vec![node("b", json!({"zone": "z1"})), node("d", json!({}))];
        let r = run(
            &with_affinity("c1", json!({"app": "cache"}), aff.clone()),
            &empty,
        );
        assert!(r[0].is_ok());
        assert!(r[1].is_err(), "still needs the topology key");
        assert!(run(&with_affinity("web", json!({"app": "web"}), aff), &empty)[0].is_err());
    }

    #[test]
    fn namespaces_of_terms() {
        let other_ns =
            pod(json!({"metadata": {"name": "c", "namespace": "prod", "labels": {"app": "web"}}}));
        let nodes = vec![with_pods(node("a", json!({})), vec![other_ns])];
        // Default: only the pod's own namespace.
        assert!(run(
            &with_affinity("w", json!({"app": "web"}), anti_web()),
            &nodes
        )[0]
        .is_ok());
        let all_ns = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname",
             "namespaceSelector": {}}]}});
        assert!(run(&with_affinity("w", json!({"app": "web"}), all_ns), &nodes)[0].is_err());
        let listed = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname",
             "namespaces": ["prod"]}]}});
        assert!(run(&with_affinity("w", json!({"app": "web"}), listed), &nodes)[0].is_err());
    }

    #[test]
    fn preferred_terms_score() {
        let pref = json!({
            "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "zone"}}]},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 5, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}}]}
        });
        let nodes = [
            with_pods(
                node("a", json!({"zone": "z1"})),
                vec![
                    simple("c", json!({"app": "cache"}), "1"),
                    simple("w", json!({"app": "web"}), "1"),
                ],
            ),
            node("b", json!({"zone": "z1"})),
            node("c", json!({"zone": "z2"})),
        ];
        let ns = HashMap::new();
        let snap = Snapshot {
            nodes: nodes.iter().collect(),
            namespaces: &ns,
            volumes: &crate::plugins::volume_binding::NO_VOLUMES,
        };
        let feasible: Vec<&NodeInfo> = nodes.iter().collect();
        // a: +10 (zone) -5 (host) = 5; b: +10; c: 0 → (5, 10, 0) scaled by max-min.
        let s = score(
            &with_affinity("new", json!({"app": "web"}), pref),
            &snap,
            &feasible,
        )
        .unwrap();
        assert_eq!(s, vec![50, 100, 0]);
        assert_eq!(score(&simple("x", json!({}), "1"), &snap, &feasible), None);
    }

    #[test]
    fn existing_pods_terms_score_the_incoming_pod() {
        let likes_web = json!({"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 30, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}}]}});
        let nodes = [
            with_pods(
                node("a", json!({})),
                vec![with_affinity("m", json!({}), likes_web)],
            ),
            node("b", json!({})),
        ];
        let ns = HashMap::new();
        let snap = Snapshot {
            nodes: nodes.iter().collect(),
            namespaces: &ns,
            volumes: &crate::plugins::volume_binding::NO_VOLUMES,
        };
        let feasible: Vec<&NodeInfo> = nodes.iter().collect();
        assert_eq!(
            score(&simple("w", json!({"app": "web"}), "1"), &snap, &feasible),
            Some(vec![100, 0])
        );
    }
}
