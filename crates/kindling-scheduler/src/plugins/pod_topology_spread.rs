//! PodTopologySpread: `topologySpreadConstraints`.
//!
//! `DoNotSchedule` constraints filter: placing the pod in a domain must keep
//! `matching pods there + (1 if the pod matches itself) - global minimum <= maxSkew`, where
//! the counts cover the nodes the constraint's inclusion policies admit (node affinity honoured
//! by default, taints ignored) and that carry every constraint's topology key; with fewer
//! domains than `minDomains` the global minimum is 0. A node lacking a key is rejected for good.
//!
//! `ScheduleAnyway` constraints score: fewer matching pods in the node's domain is better,
//! weighted by log(number of domains + 2). A pod without constraints gets upstream's system
//! defaults (hostname maxSkew 3, zone maxSkew 5) over the pods of its controller.

use crate::framework::{Code, Plugin, Snapshot, Status, MAX_NODE_SCORE};
use crate::labels::Labels;
use crate::types::{
    tolerates_node, NodeData, NodeInfo, PodInfo, PodSelector, SpreadConstraint, LABEL_HOSTNAME,
    LABEL_ZONE,
};
use std::collections::HashMap;
use std::sync::Arc;

pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
pub const REASON_MISSING_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// The `DoNotSchedule` constraints and, per constraint, matching pods per topology value.
#[derive(Clone, Debug, Default)]
pub struct FilterState {
    constraints: Vec<SpreadConstraint>,
    counts: Vec<HashMap<String, i64>>,
}

fn has_all_keys(labels: &Labels, constraints: &[SpreadConstraint]) -> bool {
    constraints
        .iter()
        .all(|c| labels.contains_key(&c.topology_key))
}

fn admits(c: &SpreadConstraint, pod: &PodInfo, name: &str, node: &NodeData) -> bool {
    (!c.honor_node_affinity || pod.node_affinity.matches(name, &node.labels))
        && (!c.honor_taints || tolerates_node(pod, node))
}

/// Pods on a node in `ns` that the selector picks, terminating ones excepted; an empty selector
/// counts nothing (as upstream).
fn count_matching(pods: &[Arc<PodInfo>], selector: &PodSelector, ns: &str) -> i64 {
    if selector.is_empty() {
        return 0;
    }
    pods.iter()
        .filter(|p| !p.terminating && p.namespace == ns && selector.matches(p))
        .count() as i64
}

pub fn pre_filter(pod: &PodInfo, snap: &Snapshot) -> FilterState {
    let constraints: Vec<SpreadConstraint> = pod
        .spread_constraints
        .iter()
        .filter(|c| c.hard)
        .cloned()
        .collect();
    if constraints.is_empty() {
        return FilterState::default();
    }
    let mut counts = vec![HashMap::new(); constraints.len()];
    for info in &snap.nodes {
        let Some(node) = info.node.as_ref() else {
            continue;
        };
        if !has_all_keys(&node.labels, &constraints) {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if !admits(c, pod, &info.name, node) {
                continue;
            }
            let value = node.labels[&c.topology_key].clone();
            *counts[i].entry(value).or_insert(0) +=
                count_matching(&info.pods, &c.selector, &pod.namespace);
        }
    }
    FilterState {
        constraints,
        counts,
    }
}

pub fn filter(state: &FilterState, pod: &PodInfo, node: &NodeData) -> Result<(), Status> {
    for (i, c) in state.constraints.iter().enumerate() {
        let Some(value) = node.labels.get(&c.topology_key) else {
            return Err(Status::new(
                Code::UnschedulableAndUnresolvable,
                Plugin::PodTopologySpread,
                REASON_MISSING_LABEL,
            ));
        };
        let counts = &state.counts[i];
        let mut min = counts
            .values()
            .copied()
            .min()
            .unwrap_or(i64::from(i32::MAX));
        if (counts.len() as i64) < c.min_domains {
            min = 0;
        }
        let self_match = i64::from(c.selector.matches(pod));
        let here = counts.get(value).copied().unwrap_or(0);
        if here + self_match - min > c.max_skew {
            return Err(Status::new(
                Code::Unschedulable,
                Plugin::PodTopologySpread,
                REASON,
            ));
        }
    }
    Ok(())
}

/// The soft constraints that score this pod, and whether nodes must carry all their keys
/// (not for the system defaults).
fn soft_constraints(pod: &PodInfo) -> (Vec<SpreadConstraint>, bool) {
    if !pod.spread_constraints.is_empty() {
        let soft = pod
            .spread_constraints
            .iter()
            .filter(|c| !c.hard)
            .cloned()
            .collect();
        return (soft, true);
    }
    let Some(uid) = &pod.controller_uid else {
        return (Vec::new(), false);
    };
    let default = |key: &str, max_skew| SpreadConstraint {
        max_skew,
        topology_key: key.to_string(),
        hard: false,
        selector: PodSelector::SameController(uid.clone()),
        min_domains: 1,
        honor_node_affinity: true,
        honor_taints: false,
    };
    (
        vec![default(LABEL_HOSTNAME, 3), default(LABEL_ZONE, 5)],
        false,
    )
}

pub fn score(pod: &PodInfo, snap: &Snapshot, feasible: &[&NodeInfo]) -> Option<Vec<i64>> {
    let (constraints, require_all) = soft_constraints(pod);
    if constraints.is_empty() {
        return None;
    }
    // Domains among the candidates; nodes lacking a key are ignored when keys are required.
    let mut ignored = vec![false; feasible.len()];
    let mut pair_counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
    for (j, info) in feasible.iter().enumerate() {
        let labels = info.labels();
        if require_all && !has_all_keys(labels, &constraints) {
            ignored[j] = true;
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if c.topology_key == LABEL_HOSTNAME {
                continue;
            }
            let value = labels.get(&c.topology_key).cloned().unwrap_or_default();
            pair_counts[i].entry(value).or_insert(0);
        }
    }
    // Matching pods per domain, over every node the constraint admits.
    for info in &snap.nodes {
        let Some(node) = info.node.as_ref() else {
            continue;
        };
        if require_all && !has_all_keys(&node.labels, &constraints) {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if c.topology_key == LABEL_HOSTNAME || !admits(c, pod, &info.name, node) {
                continue;
            }
            let value = node.labels.get(&c.topology_key).map_or("", String::as_str);
            if let Some(n) = pair_counts[i].get_mut(value) {
                *n += count_matching(&info.pods, &c.selector, &pod.namespace);
            }
        }
    }
    let candidates = ignored.iter().filter(|i| !**i).count();
    let weights: Vec<f64> = constraints
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let size = if c.topology_key == LABEL_HOSTNAME {
                candidates
            } else {
                pair_counts[i].len()
            };
            ((size + 2) as f64).ln()
        })
        .collect();
    let raw: Vec<i64> = feasible
        .iter()
        .enumerate()
        .map(|(j, info)| {
            if ignored[j] {
                return 0;
            }
            let labels = info.labels();
            let mut score = 0.0;
            for (i, c) in constraints.iter().enumerate() {
                let Some(value) = labels.get(&c.topology_key) else {
                    continue;
                };
                let count = if c.topology_key == LABEL_HOSTNAME {
                    count_matching(&info.pods, &c.selector, &pod.namespace)
                } else {
                    pair_counts[i].get(value).copied().unwrap_or(0)
                };
                score += count as f64 * weights[i] + (c.max_skew - 1) as f64;
            }
            score.round() as i64
        })
        .collect();
    // Fewer is better: scale so the least crowded candidate gets 100.
    let (mut min, mut max) = (i64::MAX, 0i64);
    for (j, s) in raw.iter().enumerate() {
        if !ignored[j] {
            min = min.min(*s);
            max = max.max(*s);
        }
    }
    Some(
        raw.iter()
            .enumerate()
            .map(|(j, &s)| {
                if ignored[j] {
                    0
                } else if max == 0 {
                    MAX_NODE_SCORE
                } else {
                    MAX_NODE_SCORE * (max + min - s) / max
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

    fn spread_pod(constraints: Value, labels: Value) -> PodInfo {
        pod(json!({"metadata": {"name": "new", "labels": labels},
            "spec": {"topologySpreadConstraints": constraints}}))
    }

    fn zone_node(name: &str, zone: &str, app_pods: usize) -> NodeInfo {
        let pods = (0..app_pods)
            .map(|i| simple(&format!("{name}-{i}"), json!({"app": "web"}), "10m"))
            .collect();
        with_pods(node(name, json!({"zone": zone})), pods)
    }

    fn run_filter(p: &PodInfo, nodes: &[NodeInfo]) -> Vec<Result<(), Status>> {
        let ns = HashMap::new();
        let snap = Snapshot {
            nodes: nodes.iter().collect(),
            namespaces: &ns,
            volumes: &crate::plugins::volume_binding::NO_VOLUMES,
        };
        let state = pre_filter(p, &snap);
        nodes
            .iter()
            .map(|n| filter(&state, p, n.node.as_ref().unwrap()))
            .collect()
    }

    #[test]
    fn max_skew_filter() {
        let nodes = vec![
            zone_node("a", "z1", 2),
            zone_node("b", "z2", 1),
            zone_node("c", "z3", 0),
        ];
        let p = spread_pod(
            json!([{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "web"}}}]),
            json!({"app": "web"}),
        );
        let r = run_filter(&p, &nodes);
        assert_eq!(r[0].as_ref().unwrap_err().reasons, vec![REASON]);
        assert!(r[1].is_err(), "1 + 1 - 0 > 1");
        assert!(r[2].is_ok());
        // A pod not matching its own selector does not add itself.
        let other = spread_pod(
            json!([{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "web"}}}]),
            json!({"app": "db"}),
        );
        let r = run_filter(&other, &nodes);
        assert!(r[0].is_err() && r[1].is_ok() && r[2].is_ok());
    }

    #[test]
    fn missing_key_and_min_domains() {
        let nodes = vec![
            zone_node("a", "z1", 1),
            with_pods(node("b", json!({})), vec![]),
        ];
        let p = spread_pod(
            json!([{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "web"}}, "minDomains": 2}]),
            json!({"app": "web"}),
        );
        let r = run_filter(&p, &nodes);
        // One domain < minDomains: the global minimum is 0, so 1 + 1 - 0 > 1.
        assert_eq!(r[0].as_ref().unwrap_err().reasons, vec![REASON]);
        let err = r[1].as_ref().unwrap_err();
        assert_eq!(err.reasons, vec![REASON_MISSING_LABEL]);
        assert_eq!(err.code, Code::UnschedulableAndUnresolvable);
    }

    #[test]
    fn node_affinity_policy_limits_the_domains() {
        let nodes = vec![
            zone_node("a", "z1", 1),
            with_pods(node("b", json!({"zone": "z2", "pool": "other"})), vec![]),
        ];
        let constraint = |policy: &str| {
            pod(
                json!({"metadata": {"name": "new", "labels": {"app": "web"}}, "spec": {
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "DoesNotExist"}]}]}}},
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                "whenUnsatisfiable": "DoNotSchedule", "nodeAffinityPolicy": policy,
                "labelSelector": {"matchLabels": {"app": "web"}}}]}}),
            )
        };
        // Honor: z2 is not a domain for this pod, z1 alone has min 1: 1 + 1 - 1 <= 1.
        assert!(run_filter(&constraint("Honor"), &nodes)[0].is_ok());
        // Ignore: z2 (0 pods) counts, so z1 would be 1 + 1 - 0 > 1.
        assert!(run_filter(&constraint("Ignore"), &nodes)[0].is_err());
    }

    #[test]
    fn soft_constraints_prefer_emptier_domains() {
        let nodes = [
            zone_node("a", "z1", 3),
            zone_node("b", "z2", 1),
            zone_node("c", "z3", 0),
        ];
        let p = spread_pod(
            json!([{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app": "web"}}}]),
            json!({"app": "web"}),
        );
        let ns = HashMap::new();
        let snap = Snapshot {
            nodes: nodes.iter().collect(),
            namespaces: &ns,
            volumes: &crate::plugins::volume_binding::NO_VOLUMES,
        };
        let feasible: Vec<&NodeInfo> = nodes.iter().collect();
        let s = score(&p, &snap, &feasible).unwrap();
        // weight ln(5) ≈ 1.609: raw 3·1.609 = 5, 1.609 = 2, 0 → 100·(5+0-s)/5.
        assert_eq!(s, vec![0, 60, 100]);
        assert!(
            run_filter(&p, &nodes)
                .iter()
                .all(std::result::Result::is_ok),
            "soft never filters"
        );
    }

    #[test]
    fn system_default_spreads_a_controllers_pods_by_hostname() {
        let owned = |name: &str| {
            pod(
                json!({"metadata": {"name": name, "ownerReferences": [{"apiVersion": "apps/v1",
                "kind": "ReplicaSet", "name": "rs", "uid": "rs-1", "controller": true}]}}),
            )
        };
        let nodes = [
            with_pods(node("a", json!({})), vec![owned("r1"), owned("r2")]),
            with_pods(node("b", json!({})), vec![owned("r3")]),
            with_pods(node("c", json!({})), vec![simple("other", json!({}), "1")]),
        ];
        let ns = HashMap::new();
        let snap = Snapshot {
            nodes: nodes.iter().collect(),
            namespaces: &ns,
            volumes: &crate::plugins::volume_binding::NO_VOLUMES,
        };
        let feasible: Vec<&NodeInfo> = nodes.iter().collect();
        let s = score(&owned("r4"), &snap, &feasible).unwrap();
        assert!(s[2] > s[1] && s[1] > s[0], "{s:?}");
        assert_eq!(score(&simple("x", json!({}), "1"), &snap, &feasible), None);
    }
}
