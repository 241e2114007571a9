//! NodeAffinity: `nodeSelector` and required node affinity filter; preferred terms score by the
//! sum of the weights they match.

use crate::framework::{Code, Plugin, Status};
use crate::labels::Operator;
use crate::plugins::normalize;
use crate::types::{NodeData, NodeInfo, PodInfo};
use std::collections::BTreeSet;

pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";
/// The pre-filter's verdict when the terms name nodes that cannot all hold at once.
pub const REASON_CONFLICT: &str = "pod affinity terms conflict";
/// What nodes left out by the pre-filter (not named by the terms) report.
pub const REASON_NOT_NAMED: &str = "node(s) didn't satisfy plugin(s) [NodeAffinity]";

/// Upstream's pre-filter: when every required term pins `metadata.name In (…)` (as DaemonSet
/// pods do), only those nodes are candidates. `Some(empty)` means the terms conflict; `None`
/// means every node is a candidate.
pub fn candidate_names(pod: &PodInfo) -> Option<BTreeSet<String>> {
    let required = pod.node_affinity.required.as_ref()?;
    let mut names: Option<BTreeSet<String>> = None;
    for term in &required.terms {
        let term = term.as_ref()?;
        let mut term_names: Option<BTreeSet<String>> = None;
        for r in term.fields.iter().filter(|r| r.operator == Operator::In) {
            let these: BTreeSet<String> = r.values.iter().cloned().collect();
            term_names = Some(match term_names {
                None => these,
                Some(prev) => prev.intersection(&these).cloned().collect(),
            });
        }
        // A term without a name requirement admits every node (terms are ORed).
        let term_names = term_names?;
        names.get_or_insert_with(BTreeSet::new).extend(term_names);
    }
    names
}

pub fn filter(pod: &PodInfo, node_name: &str, node: &NodeData) -> Result<(), Status> {
    if pod.node_affinity.matches(node_name, &node.labels) {
        Ok(())
    } else {
        Err(Status::new(
            Code::UnschedulableAndUnresolvable,
            Plugin::NodeAffinity,
            REASON,
        ))
    }
}

pub fn score(pod: &PodInfo, nodes: &[&NodeInfo]) -> Option<Vec<i64>> {
    if pod.preferred_node_terms.is_empty() {
        return None;
    }
    let mut scores: Vec<i64> = nodes
        .iter()
        .map(|n| {
            pod.preferred_node_terms
                .iter()
                .filter(|(_, t)| t.matches(&n.name, n.labels()))
                .map(|(w, _)| *w)
                .sum()
        })
        .collect();
    normalize(&mut scores, false);
    Some(scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, pod};
    use serde_json::json;

    #[test]
    fn node_selector_and_required_affinity() {
        let ssd = node("a", json!({"disk": "ssd", "zone": "z1"}));
        let hdd = node("b", json!({"disk": "hdd", "zone": "z2"}));
        let p = pod(json!({"metadata": {"name": "p"}, "spec": {"nodeSelector": {"disk": "ssd"}}}));
        assert!(filter(&p, "a", ssd.node.as_ref().unwrap()).is_ok());
        let err = filter(&p, "b", hdd.node.as_ref().unwrap()).unwrap_err();
        assert_eq!(err.reasons, vec![REASON]);
        let aff = pod(
            json!({"metadata": {"name": "p"}, "spec": {"nodeSelector": {"disk": "hdd"},
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["z2"]}]}]}}}}}),
        );
        assert!(
            filter(&aff, "b", hdd.node.as_ref().unwrap()).is_err(),
            "both must hold"
        );
        let by_name = pod(
            json!({"metadata": {"name": "p"}, "spec": {"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["b"]}]}]}}}}}),
        );
        assert!(filter(&by_name, "b", hdd.node.as_ref().unwrap()).is_ok());
        assert!(filter(&by_name, "a", ssd.node.as_ref().unwrap()).is_err());
    }

    #[test]
    fn pre_filter_by_node_name() {
        let pinned = |terms: serde_json::Value| {
            pod(
                json!({"metadata": {"name": "p"}, "spec": {"affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}}),
            )
        };
        let ds = pinned(json!([{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["a"]}]}]));
        assert_eq!(
            candidate_names(&ds),
            Some(BTreeSet::from(["a".to_string()]))
        );
        let conflict = pinned(json!([{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["a"]},
            {"key": "metadata.name", "operator": "In", "values": ["b"]}]}]));
        assert_eq!(candidate_names(&conflict), Some(BTreeSet::new()));
        let open = pinned(json!([
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]},
            {"matchExpressions": [{"key": "zone", "operator": "Exists"}]}]));
        assert_eq!(
            candidate_names(&open),
            None,
            "the second term admits any node"
        );
        assert_eq!(
            candidate_names(&pod(json!({"metadata": {"name": "q"}}))),
            None
        );
    }

    #[test]
    fn preferred_terms_score() {
        let a = node("a", json!({"disk": "ssd", "zone": "z1"}));
        let b = node("b", json!({"disk": "hdd", "zone": "z1"}));
        let c = node("c", json!({"disk": "hdd", "zone": "z2"}));
        let p = pod(
            json!({"metadata": {"name": "p"}, "spec": {"affinity": {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 80, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
                {"weight": 20, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}},
                {"weight": 50, "preference": {}}
            ]}}}}),
        );
        assert_eq!(score(&p, &[&a, &b, &c]), Some(vec![100, 20, 0]));
        assert_eq!(score(&pod(json!({"metadata": {"name": "q"}})), &[&a]), None);
    }
}
