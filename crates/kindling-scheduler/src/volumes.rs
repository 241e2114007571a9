//! The scheduler's side of volume binding that talks to the API server: watch events into the
//! [`VolumeView`], the decision assumed in it (so the next pod sees the volume taken and the
//! node selected), and VolumeBinding's PreBind — pre-bind static volumes to their claims,
//! annotate claims to provision with the node, then wait until the PV controller has bound
//! every claim (upstream's BindPodVolumes, its 600 s bindTimeoutSeconds).

use crate::plugins::volume_binding::{Bindings, VolumeView};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kindling_api::volumes::{self, ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher::Event;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

const BIND_TIMEOUT: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(100);

pub fn claim_key(c: &PersistentVolumeClaim) -> String {
    format!(
        "{}/{}",
        c.metadata.namespace.as_deref().unwrap_or_default(),
        c.metadata.name.as_deref().unwrap_or_default()
    )
}

pub fn name_key<K: kube::Resource>(o: &K) -> String {
    o.meta().name.clone().unwrap_or_default()
}

/// Applies a watch event to `map`; whether something a pending pod could care about changed
/// (an add or update; a relist's end).
pub fn apply<K>(map: &mut BTreeMap<String, Arc<K>>, ev: Event<K>, key: fn(&K) -> String) -> bool {
    match ev {
        Event::Init => false,
        Event::InitApply(o) | Event::Apply(o) => {
            map.insert(key(&o), Arc::new(o));
            true
        }
        Event::InitDone => true,
        Event::Delete(o) => {
            map.remove(&key(&o));
            false
        }
    }
}

/// Records the decision before the API has it (upstream's AssumePodVolumes).
pub fn assume(view: &mut VolumeView, b: &Bindings, node: &str) {
    for (claim, volume) in &b.volumes {
        let (ns, name) = claim.split_once('/').unwrap_or_default();
        let uid = view.claims.get(claim).and_then(|c| c.metadata.uid.clone());
        if let Some(pv) = view.volumes.get(volume) {
            let mut pv = (**pv).clone();
            if let Some(spec) = pv.spec.as_mut() {
                spec.claim_ref = Some(k8s_openapi::api::core::v1::ObjectReference {
                    namespace: Some(ns.to_string()),
                    name: Some(name.to_string()),
                    uid,
                    ..Default::default()
                });
            }
            view.volumes.insert(volume.clone(), Arc::new(pv));
        }
    }
    for claim in &b.provisions {
        if let Some(c) = view.claims.get(claim) {
            let mut c = (**c).clone();
            c.metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(ANN_SELECTED_NODE.into(), node.into());
            view.claims.insert(claim.clone(), Arc::new(c));
        }
    }
}

fn split(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

/// Makes the API updates of `b` and waits for the claims to be bound.
pub async fn bind_volumes(client: &kube::Client, b: &Bindings, node: &str) -> Result<(), String> {
    let params = PatchParams::default();
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    for (claim, volume) in &b.volumes {
        let (ns, name) = split(claim);
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
        let c = claims.get(name).await.map_err(|e| e.to_string())?;
        let patch = json!({
            "metadata": {"annotations": {ANN_BOUND_BY_CONTROLLER: "yes"}},
            "spec": {"claimRef": {"kind": "PersistentVolumeClaim", "namespace": ns, "name": name,
                "uid": c.metadata.uid, "apiVersion": "v1", "resourceVersion": c.metadata.resource_version}},
        });
        pvs.patch(volume, &params, &Patch::Merge(&patch))
            .await
            .map_err(|e| e.to_string())?;
    }
    for claim in &b.provisions {
        let (ns, name) = split(claim);
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
        let patch = json!({"metadata": {"annotations": {ANN_SELECTED_NODE: node}}});
        claims
            .patch(name, &params, &Patch::Merge(&patch))
            .await
            .map_err(|e| e.to_string())?;
    }
    let deadline = tokio::time::Instant::now() + BIND_TIMEOUT;
    loop {
        let mut waiting = false;
        for claim in &b.wait_for {
            let (ns, name) = split(claim);
            let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
            let Some(c) = claims.get_opt(name).await.map_err(|e| e.to_string())? else {
                return Err(format!("persistentvolumeclaim \"{name}\" not found"));
            };
            if volumes::is_fully_bound(&c) {
                continue;
            }
            if b.provisions.contains(claim) && volumes::selected_node(&c) != Some(node) {
                return Err(format!("selectedNode annotation reset for PVC \"{name}\""));
            }
            waiting = true;
            break;
        }
        if !waiting {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err("context deadline exceeded".into());
        }
        tokio::time::sleep(POLL).await;
    }
}
