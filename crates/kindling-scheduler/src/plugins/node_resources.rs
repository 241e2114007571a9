//! NodeResourcesFit (filter and least-allocated score) and NodeResourcesBalancedAllocation.
//!
//! The filter compares the pod's requests with the node's allocatable minus what the pods
//! already there request: pod count, cpu, memory, ephemeral-storage and any extended resource
//! the pod asks for; every shortage is a reason. Least-allocated scores the free share of CPU
//! and memory after placing the pod (counting 100m/200Mi for containers without requests);
//! balanced allocation prefers nodes whose CPU and memory shares stay close (real requests,
//! skipped for best-effort pods).

use crate::framework::{Code, Plugin, Status, MAX_NODE_SCORE};
use crate::types::{NodeData, NodeInfo, PodInfo};

pub fn fit_filter(pod: &PodInfo, info: &NodeInfo, node: &NodeData) -> Result<(), Status> {
    let mut reasons = Vec::new();
    if info.pods.len() as i64 + 1 > node.allowed_pods {
        reasons.push("Too many pods".to_string());
    }
    let req = &pod.requests;
    let alloc = &node.allocatable;
    let used = &info.requested;
    if req.milli_cpu > 0 && req.milli_cpu > alloc.milli_cpu - used.milli_cpu {
        reasons.push("Insufficient cpu".to_string());
    }
    if req.memory > 0 && req.memory > alloc.memory - used.memory {
        reasons.push("Insufficient memory".to_string());
    }
    if req.ephemeral_storage > 0
        && req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage
    {
        reasons.push("Insufficient ephemeral-storage".to_string());
    }
    for (name, &want) in &req.scalar {
        if want == 0 {
            continue;
        }
        let have = alloc.scalar.get(name).copied().unwrap_or(0)
            - used.scalar.get(name).copied().unwrap_or(0);
        if want > have {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Status {
            code: Code::Unschedulable,
            plugin: Plugin::NodeResourcesFit,
            reasons,
        })
    }
}

fn least_requested(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// LeastAllocated with CPU and memory weighted 1 each.
pub fn least_allocated_score(pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
    nodes
        .iter()
        .map(|n| {
            let Some(d) = n.node.as_ref() else { return 0 };
            let mut sum = 0;
            let mut weights = 0;
            for (req, cap) in [
                (n.non_zero_cpu + pod.non_zero_cpu, d.allocatable.milli_cpu),
                (
                    n.non_zero_memory + pod.non_zero_memory,
                    d.allocatable.memory,
                ),
            ] {
                if cap == 0 {
                    continue;
                }
                sum += least_requested(req, cap);
                weights += 1;
            }
            if weights == 0 {
                0
            } else {
                sum / weights
            }
        })
        .collect()
}

/// `(1 - std(fractions)) * 100` over CPU and memory; `None` for a best-effort pod.
pub fn balanced_allocation_score(pod: &PodInfo, nodes: &[&NodeInfo]) -> Option<Vec<i64>> {
    if pod.requests.milli_cpu == 0 && pod.requests.memory == 0 {
        return None;
    }
    Some(
        nodes
            .iter()
            .map(|n| {
                let Some(d) = n.node.as_ref() else { return 0 };
                let mut fractions = Vec::with_capacity(2);
                for (req, cap) in [
                    (
                        n.requested.milli_cpu + pod.requests.milli_cpu,
                        d.allocatable.milli_cpu,
                    ),
                    (
                        n.requested.memory + pod.requests.memory,
                        d.allocatable.memory,
                    ),
                ] {
                    if cap == 0 {
                        continue;
                    }
                    fractions.push((req as f64 / cap as f64).min(1.0));
                }
                let std = match fractions.as_slice() {
                    [a, b] => ((a - b) / 2.0).abs(),
                    _ => 0.0,
                };
                ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{node, pod, simple, with_pods};
    use serde_json::json;

    fn req(name: &str, cpu: &str, mem: &str) -> PodInfo {
        pod(
            json!({"metadata": {"name": name}, "spec": {"containers": [{"name": "c",
            "resources": {"requests": {"cpu": cpu, "memory": mem}}}]}}),
        )
    }

    #[test]
    fn fits_against_allocatable_minus_requested() {
        // 4 CPUs, 8Gi; 3 CPUs and 6Gi already requested.
        let n = with_pods(node("n", json!({})), vec![req("a", "3", "6Gi")]);
        let d = n.node.as_ref().unwrap();
        assert!(
            fit_filter(&req("p", "1", "2Gi"), &n, d).is_ok(),
            "exactly full is fine"
        );
        let err = fit_filter(&req("p", "1500m", "3Gi"), &n, d).unwrap_err();
        assert_eq!(err.reasons, vec!["Insufficient cpu", "Insufficient memory"]);
        assert_eq!(err.code, Code::Unschedulable);
        // No requests at all: only the pod count matters.
        assert!(fit_filter(&pod(json!({"metadata": {"name": "b"}})), &n, d).is_ok());
    }

    #[test]
    fn overcommitted_node_still_takes_pods_not_asking_for_that_resource() {
        let n = with_pods(node("n", json!({})), vec![req("a", "6", "1Gi")]);
        let mem_only = pod(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c",
            "resources": {"requests": {"memory": "1Gi"}}}]}}),
        );
        assert!(fit_filter(&mem_only, &n, n.node.as_ref().unwrap()).is_ok());
    }

    #[test]
    fn pod_count_ephemeral_storage_and_extended_resources() {
        let mut n = node("n", json!({}));
        n.node.as_mut().unwrap().allowed_pods = 1;
        n.node
            .as_mut()
            .unwrap()
            .allocatable
            .scalar
            .insert("example.com/gpu".into(), 1);
        let n = with_pods(n, vec![simple("a", json!({}), "100m")]);
        let p = pod(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c",
            "resources": {"requests": {"ephemeral-storage": "200Gi", "example.com/gpu": "2", "hugepages-2Mi": "0"}}}]}}),
        );
        let err = fit_filter(&p, &n, n.node.as_ref().unwrap()).unwrap_err();
        assert_eq!(
            err.reasons,
            vec![
                "Too many pods",
                "Insufficient ephemeral-storage",
                "Insufficient example.com/gpu"
            ]
        );
    }

    #[test]
    fn least_allocated() {
        // Node 4 CPU / 8Gi. Pod 1 CPU / 2Gi on an empty node: cpu 75, memory 75.
        let empty = node("a", json!({}));
        let loaded = with_pods(node("b", json!({})), vec![req("x", "2", "4Gi")]);
        let p = req("p", "1", "2Gi");
        assert_eq!(least_allocated_score(&p, &[&empty, &loaded]), vec![75, 25]);
        // A pod without requests counts as 100m and 200Mi: cpu (4000-100)*100/4000 = 97,
        // memory (8192-200)*100/8192 = 97.
        let none = pod(json!({"metadata": {"name": "q"}}));
        assert_eq!(least_allocated_score(&none, &[&empty]), vec![97]);
        // Over capacity scores 0 for that resource: (0 + 87) / 2.
        let huge = req("h", "8", "1Gi");
        assert_eq!(least_allocated_score(&huge, &[&empty]), vec![43]);
    }

    #[test]
    fn balanced_allocation() {
        let empty = node("a", json!({}));
        // cpu 1/4 = 0.25, memory 6/8 = 0.75: std 0.25 → 75.
        assert_eq!(
            balanced_allocation_score(&req("p", "1", "6Gi"), &[&empty]),
            Some(vec![75])
        );
        // Perfectly balanced: 100.
        assert_eq!(
            balanced_allocation_score(&req("p", "2", "4Gi"), &[&empty]),
            Some(vec![100])
        );
        let loaded = with_pods(node("b", json!({})), vec![req("x", "2", "0")]);
        // cpu (2+1)/4 = 0.75, memory 2/8 = 0.25 → 75; on the empty node 0.25/0.25 → 100.
        assert_eq!(
            balanced_allocation_score(&req("p", "1", "2Gi"), &[&empty, &loaded]),
            Some(vec![100, 75])
        );
        assert_eq!(
            balanced_allocation_score(&pod(json!({"metadata": {"name": "q"}})), &[&empty]),
            None,
            "best-effort pods are skipped"
        );
    }
}
