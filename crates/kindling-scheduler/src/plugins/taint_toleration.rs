//! TaintToleration: `NoSchedule`/`NoExecute` taints must be tolerated (including the not-ready
//! and unreachable taints a NotReady node carries, and the control-plane taint); untolerated
//! `PreferNoSchedule` taints lower the score.

use crate::framework::{Code, Plugin, Status};
use crate::labels::{first_untolerated, is_hard_taint, tolerated};
use crate::plugins::normalize;
use crate::types::{NodeData, NodeInfo, PodInfo};

pub fn filter(pod: &PodInfo, node: &NodeData) -> Result<(), Status> {
    match first_untolerated(&node.taints, &pod.tolerations, is_hard_taint) {
        None => Ok(()),
        Some(t) => Err(Status::new(
            Code::UnschedulableAndUnresolvable,
            Plugin::TaintToleration,
            format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            ),
        )),
    }
}

/// Fewer untolerated `PreferNoSchedule` taints is better. Only tolerations with no effect or
/// `PreferNoSchedule` count, as upstream.
pub fn score(pod: &PodInfo, nodes: &[&NodeInfo]) -> Option<Vec<i64>> {
    let tolerations: Vec<_> = pod
        .tolerations
        .iter()
        .filter(|t| matches!(t.effect.as_deref(), None | Some("" | "PreferNoSchedule")))
        .cloned()
        .collect();
    let mut scores: Vec<i64> = nodes
        .iter()
        .map(|n| {
            n.node.as_ref().map_or(0, |d| {
                d.taints
                    .iter()
                    .filter(|t| t.effect == "PreferNoSchedule" && !tolerated(&tolerations, t))
                    .count() as i64
            })
        })
        .collect();
    normalize(&mut scores, true);
    Some(scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, node_with, pod};
    use serde_json::json;

    #[test]
    fn untolerated_taints_reject_with_key_and_value() {
        let n = node_with(
            "n",
            json!({}),
            json!({"taints": [
                {"key": "soft", "effect": "PreferNoSchedule"},
                {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
            ]}),
        );
        let p = pod(json!({"metadata": {"name": "p"}}));
        let err = filter(&p, n.node.as_ref().unwrap()).unwrap_err();
        assert_eq!(
            err.reasons,
            vec!["node(s) had untolerated taint {dedicated: gpu}"]
        );
        assert_eq!(err.code, Code::UnschedulableAndUnresolvable);
        let ok = pod(json!({"metadata": {"name": "p"}, "spec": {"tolerations": [
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}}));
        assert!(
            filter(&ok, n.node.as_ref().unwrap()).is_ok(),
            "PreferNoSchedule never rejects"
        );
    }

    #[test]
    fn control_plane_and_not_ready() {
        let cp = node_with(
            "cp",
            json!({}),
            json!({"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}),
        );
        let p = pod(json!({"metadata": {"name": "p"}}));
        assert_eq!(
            filter(&p, cp.node.as_ref().unwrap()).unwrap_err().reasons,
            vec!["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]
        );
        let mut not_ready = node("w", json!({}));
        let d = not_ready.node.as_mut().unwrap();
        d.taints.push(k8s_openapi::api::core::v1::Taint {
            key: crate::types::TAINT_NOT_READY.into(),
            effect: "NoSchedule".into(),
            value: None,
            time_added: None,
        });
        assert_eq!(
            filter(&p, not_ready.node.as_ref().unwrap())
                .unwrap_err()
                .reasons,
            vec!["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"]
        );
        // The default NoExecute tolerations every pod gets do not cover NoSchedule.
        let defaulted = pod(json!({"metadata": {"name": "p"}, "spec": {"tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]}}));
        assert!(filter(&defaulted, not_ready.node.as_ref().unwrap()).is_err());
        let daemon = pod(
            json!({"metadata": {"name": "p"}, "spec": {"tolerations": [{"operator": "Exists"}]}}),
        );
        assert!(filter(&daemon, not_ready.node.as_ref().unwrap()).is_ok());
    }

    #[test]
    fn prefer_no_schedule_scores() {
        let soft = |n: usize| {
            let taints: Vec<_> = (0..n)
                .map(|i| json!({"key": format!("k{i}"), "effect": "PreferNoSchedule"}))
                .collect();
            node_with(&format!("n{n}"), json!({}), json!({"taints": taints}))
        };
        let (a, b, c) = (soft(0), soft(1), soft(2));
        let p = pod(json!({"metadata": {"name": "p"}}));
        assert_eq!(score(&p, &[&a, &b, &c]), Some(vec![100, 50, 0]));
        let tolerant = pod(json!({"metadata": {"name": "p"}, "spec": {"tolerations": [
            {"key": "k0", "operator": "Exists", "effect": "PreferNoSchedule"},
            {"key": "k1", "operator": "Exists", "effect": "NoSchedule"}]}}));
        // k0 tolerated; the NoSchedule toleration does not count for scoring.
        assert_eq!(score(&tolerant, &[&a, &b, &c]), Some(vec![100, 100, 0]));
    }
}
