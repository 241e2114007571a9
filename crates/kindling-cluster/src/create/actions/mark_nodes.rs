//! The Node labels a node may not set on itself (NodeRestriction: `node-role.kubernetes.io/…`
//! and other `kubernetes.io` labels outside the kubelet's set), put on with the admin's rights
//! once each Node is registered — as kubeadm's mark-control-plane phase labels control planes.
//! No step line: kind prints none for it.

use crate::create::{Action, ActionContext};
use anyhow::Result;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub struct MarkNodes;

const TIMEOUT: Duration = Duration::from_secs(120);

/// The labels of `labels` that only an administrator may set.
pub fn admin_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| !kindling_api::node_labels::node_may_set(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl Action for MarkNodes {
    fn title(&self, _: &ActionContext) -> Option<String> {
        None
    }

    fn execute<'a>(&'a self, ctx: &'a mut ActionContext) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let nodes: Api<Node> = Api::all(ctx.client()?.clone());
            let deadline = Instant::now() + TIMEOUT;
            for node in &ctx.cluster.nodes {
                let labels = admin_labels(&node.labels);
                if labels.is_empty() {
                    continue;
                }
                while nodes.get_opt(&node.name).await?.is_none() {
                    anyhow::ensure!(
                        Instant::now() < deadline,
                        "node {} did not register within {}s; see `kindling export logs`",
                        node.name,
                        TIMEOUT.as_secs()
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let patch = serde_json::json!({"metadata": {"labels": labels}});
                nodes
                    .patch(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_labels_a_node_may_not_set_are_the_admins() {
        let labels: BTreeMap<String, String> = [
            ("node-role.kubernetes.io/control-plane", ""),
            (
                "node.kubernetes.io/exclude-from-external-load-balancers",
                "",
            ),
            ("ingress-ready", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            admin_labels(&labels).keys().collect::<Vec<_>>(),
            ["node-role.kubernetes.io/control-plane"]
        );
    }
}
