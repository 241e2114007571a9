//! The node's CSINode (storage.k8s.io/v1), which the kubelet keeps for every node, owned by its
//! Node: kindling has no CSI drivers, so its `spec.drivers` is empty (`kubectl get csinodes`
//! shows `DRIVERS 0`). Made again if deleted.

use crate::Config;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::storage::v1::CSINode;
use kube::api::{Api, PostParams};
use serde_json::json;
use std::time::Duration;

const RESYNC: Duration = Duration::from_secs(10);

/// The CSINode of `node` (uid: the Node's, for the owner reference).
pub fn csinode(node: &str, node_uid: &str) -> serde_json::Value {
    json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "CSINode",
        "metadata": {"name": node, "ownerReferences": [
            {"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}]},
        "spec": {"drivers": []},
    })
}

pub async fn run(client: kube::Client, config: Config) {
    let nodes: Api<Node> = Api::all(client.clone());
    let csinodes: Api<CSINode> = Api::all(client);
    loop {
        if let Ok(Some(node)) = nodes.get_opt(&config.node_name).await {
            let uid = node.metadata.uid.unwrap_or_default();
            if let Ok(None) = csinodes.get_opt(&config.node_name).await {
                if let Ok(obj) = serde_json::from_value::<CSINode>(csinode(&config.node_name, &uid))
                {
                    if let Err(e) = csinodes.create(&PostParams::default(), &obj).await {
                        tracing::debug!("creating CSINode: {e}");
                    }
                }
            }
        }
        tokio::time::sleep(RESYNC).await;
    }
}
