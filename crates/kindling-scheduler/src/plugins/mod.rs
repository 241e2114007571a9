//! The default plugins of upstream's kube-scheduler profile that kindling needs, each a pure
//! function over [`PodInfo`](crate::types::PodInfo) and [`NodeInfo`](crate::types::NodeInfo):
//! filters return the upstream reason on rejection, scores return normalized 0–100 values per
//! candidate node (or `None` when the plugin has nothing to say, upstream's `Skip`).
//!
//! Filter order (the first rejection is the node's reason, as upstream): NodeUnschedulable,
//! TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, VolumeBinding,
//! PodTopologySpread, InterPodAffinity. Score weights: TaintToleration 3, NodeAffinity 2, PodTopologySpread 2,
//! InterPodAffinity 2, NodeResourcesFit (least allocated) 1, BalancedAllocation 1.

pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_ports;
pub mod node_resources;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod taint_toleration;
pub mod volume_binding;

use crate::framework::MAX_NODE_SCORE;

/// Upstream's `DefaultNormalizeScore`: scales to 0–100 by the maximum; `reverse` flips it
/// (fewer is better).
pub fn normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        let v = MAX_NODE_SCORE * *s / max;
        *s = if reverse { MAX_NODE_SCORE - v } else { v };
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Builders for pods and nodes in plugin tests.
    use crate::types::{NodeData, NodeInfo, PodInfo};
    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::{json, Value};
    use std::sync::Arc;

    pub fn pod(v: Value) -> PodInfo {
        let mut v = v;
        if v["metadata"]["namespace"].is_null() {
            v["metadata"]["namespace"] = json!("default");
        }
        if v["spec"]["containers"].is_null() {
            v["spec"]["containers"] = json!([{"name": "c"}]);
        }
        PodInfo::new(&serde_json::from_value::<Pod>(v).unwrap())
    }

    /// A plain pod with labels and a CPU request.
    pub fn simple(name: &str, labels: Value, cpu: &str) -> PodInfo {
        pod(json!({"metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}}))
    }

    /// A Ready node with 4 CPUs, 8 GiB, 110 pods and the given labels (plus hostname).
    pub fn node(name: &str, labels: Value) -> NodeInfo {
        node_with(name, labels, json!({}))
    }

    pub fn node_with(name: &str, labels: Value, spec: Value) -> NodeInfo {
        let mut l = labels;
        l["kubernetes.io/hostname"] = json!(name);
        let n: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": l},
            "spec": spec,
            "status": {
                "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                "conditions": [{"type": "Ready", "status": "True"}]
            }
        }))
        .unwrap();
        let mut info = NodeInfo::new(name);
        info.node = Some(NodeData::new(&n));
        info
    }

    pub fn with_pods(mut n: NodeInfo, pods: Vec<PodInfo>) -> NodeInfo {
        for p in pods {
            n.add_pod(Arc::new(p));
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_normalize() {
        let mut s = vec![0, 5, 10];
        normalize(&mut s, false);
        assert_eq!(s, vec![0, 50, 100]);
        let mut s = vec![0, 5, 10];
        normalize(&mut s, true);
        assert_eq!(s, vec![100, 50, 0]);
        let mut s = vec![0, 0];
        normalize(&mut s, true);
        assert_eq!(s, vec![100, 100]);
        let mut s = vec![0, 0];
        normalize(&mut s, false);
        assert_eq!(s, vec![0, 0]);
    }
}
