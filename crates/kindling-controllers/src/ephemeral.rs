//! The ephemeral volume controller (upstream pkg/controller/volume/ephemeral): every generic
//! ephemeral volume of a pod (`ephemeral.volumeClaimTemplate`) gets its claim
//! `<pod>-<volume>`, owned by the pod (controller, blockOwnerDeletion), so it is made before the
//! pod is scheduled and goes with the pod. [`claims_for`] decides without IO.

use crate::informer::{self, PodInformer};
use crate::{created_or_moot, retry_on_error, Error, FIELD_MANAGER};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::ResourceExt;
use std::sync::Arc;

/// The claims the pod's ephemeral volumes need, named and owned as upstream makes them.
pub fn claims_for(pod: &Pod) -> Vec<PersistentVolumeClaim> {
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let mut out = Vec::new();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let Some(template) = volume
            .ephemeral
            .as_ref()
            .and_then(|e| e.volume_claim_template.as_ref())
        else {
            continue;
        };
        let mut meta = template.metadata.clone().unwrap_or_default();
        meta.name = Some(format!("{pod_name}-{}", volume.name));
        meta.namespace = pod.metadata.namespace.clone();
        meta.owner_references = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                api_version: "v1".into(),
                kind: "Pod".into(),
                name: pod_name.clone(),
                uid: pod.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            },
        ]);
        out.push(PersistentVolumeClaim {
            metadata: meta,
            spec: Some(template.spec.clone()),
            status: None,
        });
    }
    out
}

fn has_ephemeral_volumes(pod: &Pod) -> bool {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .any(|v| v.ephemeral.is_some())
}

/// The controller, on the shared pod watch: subscribed now, run by the returned future.
pub fn run(
    client: kube::Client,
    informer: &mut PodInformer,
) -> impl std::future::Future<Output = ()> + Send {
    // Only pods with generic ephemeral volumes are reconciled (upstream's enqueuePod skips the
    // rest): every other pod change would be a reconcile that finds nothing to do.
    let triggers = informer::triggers(informer.subscribe(), |_| {})
        .filter(|pod| futures::future::ready(has_ephemeral_volumes(pod)));
    let store = informer.store();
    async move {
        Controller::for_shared_stream(triggers, store)
            .run(
                crate::metrics::measured("ephemeral_volume", reconcile),
                retry_on_error,
                Arc::new(client),
            )
            .for_each(|_| async {})
            .await;
    }
}

async fn reconcile(pod: Arc<Pod>, client: Arc<kube::Client>) -> Result<Action, Error> {
    if pod.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let wanted = claims_for(&pod);
    if wanted.is_empty() {
        return Ok(Action::await_change());
    }
    let api: Api<PersistentVolumeClaim> =
        Api::namespaced((*client).clone(), &pod.namespace().unwrap_or_default());
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    for claim in wanted {
        if api.get_opt(&claim.name_any()).await?.is_none() {
            created_or_moot(api.create(&params, &claim).await)?;
        }
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_owned_claim_per_ephemeral_volume() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "p1"},
            "spec": {"containers": [], "volumes": [
                {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {
                    "metadata": {"labels": {"type": "scratch"}},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}}},
                {"name": "cache", "emptyDir": {}}]}
        }))
        .unwrap();
        assert!(has_ephemeral_volumes(&pod));
        let claims = claims_for(&pod);
        assert_eq!(claims.len(), 1);
        let c = serde_json::to_value(&claims[0]).unwrap();
        assert_eq!(c["metadata"]["name"], "web-scratch");
        assert_eq!(c["metadata"]["namespace"], "ns");
        assert_eq!(c["metadata"]["labels"], json!({"type": "scratch"}));
        assert_eq!(
            c["metadata"]["ownerReferences"],
            json!([{"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "p1",
                    "controller": true, "blockOwnerDeletion": true}])
        );
        assert_eq!(c["spec"]["resources"]["requests"]["storage"], "1Mi");
    }

    #[test]
    fn pods_without_ephemeral_volumes_are_not_reconciled() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "web"},
            "spec": {"containers": [], "volumes": [{"name": "cache", "emptyDir": {}}]}
        }))
        .unwrap();
        assert!(!has_ephemeral_volumes(&pod));
        assert!(!has_ephemeral_volumes(&Pod::default()));
    }
}
