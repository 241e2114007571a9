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
const RETRY: Duration = Duration::from_secs(1);

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
        // Until the Node is registered and its CSINode exists, look again soon.
        let present = ensure(&nodes, &csinodes, &config.node_name).await;
        tokio::time::sleep(if present { RESYNC } else { RETRY }).await;
    }
}

/// Makes the CSINode if it is missing; whether it exists now.
async fn ensure(nodes: &Api<Node>, csinodes: &Api<CSINode>, name: &str) -> bool {
    let Ok(Some(node)) = nodes.get_opt(name).await else {
        return false;
    };
    match csinodes.get_opt(name).await {
        Ok(Some(_)) => true,
        Ok(None) => {
            let uid = node.metadata.uid.unwrap_or_default();
            let Ok(obj) = serde_json::from_value::<CSINode>(csinode(name, &uid)) else {
                return false;
            };
            match csinodes.create(&PostParams::default(), &obj).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::debug!("creating CSINode: {e}");
                    false
                }
            }
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csinode_without_drivers_owned_by_its_node() {
        let obj: CSINode = serde_json::from_value(csinode("kind-worker", "u1")).unwrap();
        assert_eq!(obj.metadata.name.as_deref(), Some("kind-worker"));
        assert!(obj.spec.drivers.is_empty());
        let owner = &obj.metadata.owner_references.unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.uid.as_str()), ("Node", "u1"));
    }
}
