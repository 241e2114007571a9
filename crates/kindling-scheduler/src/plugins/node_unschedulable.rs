//! NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes only pods tolerating the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.

use crate::framework::{Code, Plugin, Status};
use crate::labels::tolerated;
use crate::types::{NodeData, PodInfo, TAINT_UNSCHEDULABLE};
use k8s_openapi::api::core::v1::Taint;

pub const REASON: &str = "node(s) were unschedulable";

pub fn filter(pod: &PodInfo, node: &NodeData) -> Result<(), Status> {
    if !node.unschedulable {
        return Ok(());
    }
    let taint = Taint {
        key: TAINT_UNSCHEDULABLE.into(),
        effect: "NoSchedule".into(),
        value: None,
        time_added: None,
    };
    if tolerated(&pod.tolerations, &taint) {
        return Ok(());
    }
    Err(Status::new(
        Code::UnschedulableAndUnresolvable,
        Plugin::NodeUnschedulable,
        REASON,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node_with, pod};
    use serde_json::json;

    #[test]
    fn cordoned_nodes_reject_unless_tolerated() {
        let cordoned = node_with("n", json!({}), json!({"unschedulable": true}));
        let n = cordoned.node.as_ref().unwrap();
        let plain = pod(json!({"metadata": {"name": "p"}}));
        let err = filter(&plain, n).unwrap_err();
        assert_eq!(err.reasons, vec![REASON]);
        assert_eq!(err.code, Code::UnschedulableAndUnresolvable);
        let tolerant = pod(json!({"metadata": {"name": "p"}, "spec": {"tolerations": [
            {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}}));
        assert!(filter(&tolerant, n).is_ok());
        let open = node_with("n", json!({}), json!({}));
        assert!(filter(&plain, open.node.as_ref().unwrap()).is_ok());
    }
}
