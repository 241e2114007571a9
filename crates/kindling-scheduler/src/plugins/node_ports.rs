//! NodePorts: a pod's host ports must be free on the node (same protocol and port conflict
//! when either address is 0.0.0.0 or both are equal).

use crate::framework::{Code, Plugin, Status};
use crate::types::{NodeInfo, PodInfo};

pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let conflict = pod
        .host_ports
        .iter()
        .any(|want| node.ports.iter().any(|used| want.conflicts(used)));
    if conflict {
        Err(Status::new(Code::Unschedulable, Plugin::NodePorts, REASON))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, pod, with_pods};
    use serde_json::json;

    fn with_port(name: &str, port: i64, ip: &str, proto: &str) -> PodInfo {
        pod(
            json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c",
            "ports": [{"containerPort": 80, "hostPort": port, "hostIP": ip, "protocol": proto}]}]}}),
        )
    }

    #[test]
    fn host_port_conflicts() {
        let n = with_pods(node("n", json!({})), vec![with_port("a", 8080, "", "TCP")]);
        let err = filter(&with_port("b", 8080, "", "TCP"), &n).unwrap_err();
        assert_eq!(err.reasons, vec![REASON]);
        assert_eq!(err.code, Code::Unschedulable);
        assert!(
            filter(&with_port("b", 8080, "127.0.0.1", "TCP"), &n).is_err(),
            "0.0.0.0 covers all"
        );
        assert!(filter(&with_port("b", 8080, "", "UDP"), &n).is_ok());
        assert!(filter(&with_port("b", 8081, "", "TCP"), &n).is_ok());
        let specific = with_pods(
            node("m", json!({})),
            vec![with_port("a", 53, "10.0.0.1", "UDP")],
        );
        assert!(filter(&with_port("b", 53, "10.0.0.2", "UDP"), &specific).is_ok());
        assert!(filter(&with_port("b", 53, "10.0.0.1", "UDP"), &specific).is_err());
        assert!(filter(&pod(json!({"metadata": {"name": "x"}})), &n).is_ok());
    }
}
