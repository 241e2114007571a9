//! `--wait`: the cluster is usable, not just created — every node of the config is Ready and
//! every pod in kube-system (the node agents' mirror pods: control plane, pod network, service
//! proxy, DNS) is Ready. kind waits for the control plane only; a worker that is still
//! NotReady then refuses the user's first pods.

use crate::create::{Action, ActionContext};
use anyhow::Result;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use std::time::Instant;

pub struct WaitReady;

impl Action for WaitReady {
    fn title(&self, ctx: &ActionContext) -> Option<String> {
        Some(format!(
            "Waiting ≤ {} for nodes and system pods = Ready ⏳",
            crate::human_duration(ctx.opts.wait)
        ))
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let client = ctx.client()?.clone();
            let nodes: Api<Node> = Api::all(client.clone());
            let pods: Api<Pod> = Api::namespaced(client, "kube-system");
            let expected = ctx.cluster.nodes.len();
            let started = Instant::now();
            loop {
                let listed = (
                    nodes.list(&ListParams::default()).await,
                    pods.list(&ListParams::default()).await,
                );
                let waiting_for = match &listed {
                    (Ok(n), Ok(p)) => not_ready_yet(&n.items, &p.items, expected),
                    _ => Some("the API server to answer".to_string()),
                };
                let Some(waiting_for) = waiting_for else {
                    return Ok(());
                };
                if started.elapsed() > ctx.opts.wait {
                    // kind does not fail the create when the wait times out; it says so.
                    eprintln!(" • WARNING: Timed out waiting for Ready ⚠️ ({waiting_for})");
                    return Ok(());
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        })
    }
}

/// What the cluster still lacks to be usable, or `None` when `expected` nodes and every
/// kube-system pod are Ready.
pub fn not_ready_yet(nodes: &[Node], system_pods: &[Pod], expected: usize) -> Option<String> {
    let ready = nodes.iter().filter(|n| is_ready(n)).count();
    if ready < expected {
        return Some(format!("{ready} of {expected} nodes Ready"));
    }
    // A node's agent reports its system pods (mirror pods) a moment after the node turns
    // Ready: none yet means they are still to come, not that there are none.
    let without: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .filter(|name| {
            !system_pods
                .iter()
                .any(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(*name))
        })
        .collect();
    if !without.is_empty() {
        return Some(format!("no system pods yet on {}", without.join(", ")));
    }
    let unready: Vec<&str> = system_pods
        .iter()
        .filter(|p| !pod_is_ready(p))
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();
    if unready.is_empty() {
        None
    } else {
        Some(format!("not Ready: {}", unready.join(", ")))
    }
}

pub fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn pod_is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, ready: bool) -> Node {
        serde_json::from_value(serde_json::json!({"metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}}))
        .unwrap_or_default()
    }

    /// A system pod on the node its name ends with (`kube-proxy-w` runs on `w`).
    fn pod(name: &str, ready: bool) -> Pod {
        let node = name.rsplit('-').next().unwrap_or_default();
        serde_json::from_value(serde_json::json!({"metadata": {"name": name},
            "spec": {"nodeName": node, "containers": []},
            "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}}))
        .unwrap_or_default()
    }

    /// Nodes, kube-system pods, the config's node count → what is still awaited.
    type Case = (Vec<Node>, Vec<Pod>, usize, Option<&'static str>);

    #[test]
    fn usable_only_with_every_node_and_system_pod_ready() {
        let cases: Vec<Case> = vec![
            (vec![], vec![], 2, Some("0 of 2 nodes Ready")),
            (
                vec![node("cp", true), node("w", false)],
                vec![pod("kube-apiserver-cp", true)],
                2,
                Some("1 of 2 nodes Ready"),
            ),
            // A node not registered yet counts as not Ready.
            (
                vec![node("cp", true)],
                vec![],
                2,
                Some("1 of 2 nodes Ready"),
            ),
            (
                vec![node("cp", true), node("w", true)],
                vec![
                    pod("kube-apiserver-cp", true),
                    pod("kube-proxy-w", false),
                    pod("coredns-w", false),
                    pod("kindnet-w", true),
                ],
                2,
                Some("not Ready: kube-proxy-w, coredns-w"),
            ),
            // Node w is Ready but its agent has not reported its pods yet.
            (
                vec![node("cp", true), node("w", true)],
                vec![pod("kube-apiserver-cp", true)],
                2,
                Some("no system pods yet on w"),
            ),
            (
                vec![node("cp", true), node("w", true)],
                vec![pod("kube-apiserver-cp", true), pod("kube-proxy-w", true)],
                2,
                None,
            ),
        ];
        for (nodes, pods, expected, want) in cases {
            assert_eq!(
                not_ready_yet(&nodes, &pods, expected).as_deref(),
                want,
                "{nodes:?}"
            );
        }
    }
}
