//! What the local-path provisioner decides, without IO (kind's `rancher.io/local-path`
//! provisioner, with the external provisioner library's rules): which claims it provisions
//! (asked through the storage-provisioner annotation, of a class it serves, on the node the
//! scheduler selected, not yet bound) and the volume it makes for one: `pvc-<claim uid>`, a
//! `DirectoryOrCreate` hostPath `/var/local-path-provisioner/pvc-<uid>_<ns>_<name>` pinned to
//! the node, the claim's size, access and volume modes, the class's reclaim policy, pre-bound
//! to the claim.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kindling_api::volumes::{self, ANN_PROVISIONED_BY, ANN_STORAGE_PROVISIONER};
use serde_json::json;

/// The provisioner's name, as kind's clusters show it.
pub const PROVISIONER: &str = "rancher.io/local-path";
/// Where volumes live on their node (kind's local-path-provisioner default).
pub const BASE_DIR: &str = "/var/local-path-provisioner";
/// The node the provisioner made the volume for (local-path-provisioner's annotation).
pub const ANN_NODE: &str = "local.path.provisioner/selected-node";

/// The volume's name: `pvc-<claim uid>`, as every external provisioner names them.
pub fn volume_name(claim: &PersistentVolumeClaim) -> String {
    format!("pvc-{}", claim.metadata.uid.as_deref().unwrap_or_default())
}

/// The volume's directory on its node.
pub fn directory(claim: &PersistentVolumeClaim) -> String {
    format!(
        "{BASE_DIR}/{}_{}_{}",
        volume_name(claim),
        claim.metadata.namespace.as_deref().unwrap_or_default(),
        claim.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The node to provision the claim on, when this provisioner should provision it now.
pub fn node_to_provision<'a>(
    claim: &'a PersistentVolumeClaim,
    class: Option<&StorageClass>,
) -> Option<&'a str> {
    let asked = claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_STORAGE_PROVISIONER))
        .is_some_and(|p| p == PROVISIONER);
    let ours = class.is_some_and(|c| c.provisioner == PROVISIONER);
    let unbound = volumes::claim_volume_name(claim).is_empty();
    if !asked || !ours || !unbound || claim.metadata.deletion_timestamp.is_some() {
        return None;
    }
    volumes::selected_node(claim)
}

/// The volume for `claim` on `node`.
pub fn volume(
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    node: &str,
) -> Result<PersistentVolume, serde_json::Error> {
    let spec = claim.spec.clone().unwrap_or_default();
    let size = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| q.0.clone());
    serde_json::from_value(json!({
        "metadata": {
            "name": volume_name(claim),
            "annotations": {ANN_NODE: node, ANN_PROVISIONED_BY: PROVISIONER},
        },
        "spec": {
            "capacity": {"storage": size},
            "accessModes": spec.access_modes,
            "persistentVolumeReclaimPolicy": class.reclaim_policy.as_deref().unwrap_or("Delete"),
            "storageClassName": class.metadata.name,
            "volumeMode": spec.volume_mode.as_deref().unwrap_or("Filesystem"),
            "mountOptions": class.mount_options,
            "hostPath": {"path": directory(claim), "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}},
            "claimRef": {
                "kind": "PersistentVolumeClaim", "namespace": claim.metadata.namespace,
                "name": claim.metadata.name, "uid": claim.metadata.uid, "apiVersion": "v1",
                "resourceVersion": claim.metadata.resource_version,
            },
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn claim(annotations: Value, volume_name: Option<&str>) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": "test-claim", "namespace": "default", "uid": "1234", "annotations": annotations},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}},
                     "storageClassName": "standard", "volumeName": volume_name},
        }))
        .unwrap()
    }

    fn class(provisioner: &str) -> StorageClass {
        serde_json::from_value(
            json!({"metadata": {"name": "standard"}, "provisioner": provisioner,
            "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"}),
        )
        .unwrap()
    }

    #[test]
    fn provisions_asked_claims_on_the_selected_node() {
        let asked = json!({"volume.kubernetes.io/storage-provisioner": PROVISIONER,
                           "volume.kubernetes.io/selected-node": "kind-worker"});
        let ours = class(PROVISIONER);
        let cases = [
            (
                "asked, selected",
                claim(asked.clone(), None),
                Some(&ours),
                Some("kind-worker"),
            ),
            (
                "no node yet",
                claim(
                    json!({"volume.kubernetes.io/storage-provisioner": PROVISIONER}),
                    None,
                ),
                Some(&ours),
                None,
            ),
            (
                "not asked",
                claim(
                    json!({"volume.kubernetes.io/selected-node": "kind-worker"}),
                    None,
                ),
                Some(&ours),
                None,
            ),
            (
                "bound already",
                claim(asked.clone(), Some("pv")),
                Some(&ours),
                None,
            ),
            ("no class", claim(asked.clone(), None), None, None),
        ];
        for (what, c, sc, want) in cases {
            assert_eq!(node_to_provision(&c, sc), want, "{what}");
        }
        let other = class("example.com/nfs");
        assert_eq!(node_to_provision(&claim(asked, None), Some(&other)), None);
    }

    #[test]
    fn the_volume_is_pinned_pre_bound_and_sized_like_the_claim() {
        let c = claim(json!({}), None);
        let pv = volume(&c, &class(PROVISIONER), "kind-worker").unwrap();
        let v = serde_json::to_value(&pv).unwrap();
        assert_eq!(v["metadata"]["name"], "pvc-1234");
        assert_eq!(
            v["spec"]["hostPath"],
            json!({"path": "/var/local-path-provisioner/pvc-1234_default_test-claim", "type": "DirectoryOrCreate"})
        );
        assert_eq!(v["spec"]["capacity"]["storage"], "1Mi");
        assert_eq!(v["spec"]["persistentVolumeReclaimPolicy"], "Delete");
        assert_eq!(v["spec"]["claimRef"]["uid"], "1234");
        assert_eq!(
            kindling_api::volumes::affinity_hostname(&pv),
            Some("kind-worker")
        );
    }
}
