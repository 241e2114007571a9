//! The node half of the `rancher.io/local-path` provisioner (its control-plane half, which
//! makes the PersistentVolumes, is kindling-controllers' `localpath`). For each volume it
//! provisioned on this node the agent keeps the directory under `/var/local-path-provisioner`
//! (on the node's `/var` volume, so it survives `docker restart` of the node), and once such a
//! volume is Released with the Delete policy it removes the directory, then the
//! PersistentVolume, as upstream's provisioner does with its helper pod. [`decide`] is pure.

use crate::Config;
use futures::StreamExt;
use k8s_openapi::api::core::v1::PersistentVolume;
use kindling_api::volumes::{self, ANN_PROVISIONED_BY};
use kube::api::{Api, DeleteParams, ListParams, Preconditions};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PROVISIONER: &str = "rancher.io/local-path";
pub const BASE_DIR: &str = "/var/local-path-provisioner";
/// Failed steps are tried again on a full pass this often.
const RESYNC: Duration = Duration::from_secs(10);

#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The volume is in use or about to be: its directory must exist.
    Keep(PathBuf),
    /// Released with the Delete policy: remove the directory, then the volume (by uid).
    Remove {
        path: PathBuf,
        uid: String,
    },
    Nothing,
}

/// What this node does for `volume`: only volumes of this provisioner pinned to this node,
/// whose path is a directory right under [`BASE_DIR`].
pub fn decide(volume: &PersistentVolume, node: &str) -> Step {
    let ours = volume
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_PROVISIONED_BY))
        .is_some_and(|p| p == PROVISIONER);
    if !ours || volumes::affinity_hostname(volume) != Some(node) {
        return Step::Nothing;
    }
    let Some(path) = volume.spec.as_ref().and_then(|s| {
        s.host_path
            .as_ref()
            .map(|h| h.path.clone())
            .or_else(|| s.local.as_ref().map(|l| l.path.clone()))
    }) else {
        return Step::Nothing;
    };
    let path = PathBuf::from(path);
    let safe = path.parent() == Some(Path::new(BASE_DIR))
        && path
            .file_name()
            .is_some_and(|n| !n.is_empty() && n != "." && n != "..");
    if !safe {
        return Step::Nothing;
    }
    let policy = volume
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
        .unwrap_or("Delete");
    match volumes::volume_phase(volume) {
        "Released" if policy == "Delete" => Step::Remove {
            path,
            uid: volume.metadata.uid.clone().unwrap_or_default(),
        },
        "Released" | "Failed" => Step::Nothing,
        _ if volume.metadata.deletion_timestamp.is_some() => Step::Nothing,
        _ => Step::Keep(path),
    }
}

/// Keeps this node's local-path volumes until the agent stops.
pub async fn run(client: kube::Client, config: Config) {
    let api: Api<PersistentVolume> = Api::all(client);
    let mut events = watcher::watcher(api.clone(), watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut resync = tokio::time::interval(RESYNC);
    loop {
        tokio::select! {
            Some(event) = events.next() => {
                if let Ok(Event::Apply(pv) | Event::InitApply(pv)) = event {
                    act(&api, &pv, &config.node_name).await;
                }
            }
            _ = resync.tick() => {
                if let Ok(list) = api.list(&ListParams::default()).await {
                    for pv in &list.items {
                        act(&api, pv, &config.node_name).await;
                    }
                }
            }
        }
    }
}

async fn act(api: &Api<PersistentVolume>, pv: &PersistentVolume, node: &str) {
    let name = pv.metadata.name.clone().unwrap_or_default();
    match decide(pv, node) {
        Step::Nothing => {}
        Step::Keep(path) => {
            if !path.exists() {
                // local-path-provisioner makes the directory world-writable: pods of any user
                // write there.
                let made = std::fs::create_dir_all(&path).and_then(|()| {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))
                });
                match made {
                    Ok(()) => tracing::info!("created {} for volume {name}", path.display()),
                    Err(e) => tracing::warn!("creating {} for volume {name}: {e}", path.display()),
                }
            }
        }
        Step::Remove { path, uid } => {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => tracing::info!("removed {} of volume {name}", path.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!("removing {} of volume {name}: {e}", path.display());
                    return;
                }
            }
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match api.delete(&name, &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => tracing::warn!("deleting volume {name}: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn pv(phase: &str, policy: &str, node: &str, path: &str, by: Value) -> PersistentVolume {
        serde_json::from_value(json!({
            "metadata": {"name": "pvc-1", "uid": "u1", "annotations": {"pv.kubernetes.io/provisioned-by": by}},
            "spec": {"hostPath": {"path": path, "type": "DirectoryOrCreate"},
                     "persistentVolumeReclaimPolicy": policy,
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}},
            "status": {"phase": phase}
        }))
        .unwrap()
    }

    #[test]
    fn this_nodes_volumes_are_kept_then_removed() {
        let dir = "/var/local-path-provisioner/pvc-1_default_c";
        let ours = json!("rancher.io/local-path");
        let keep = Step::Keep(PathBuf::from(dir));
        let remove = Step::Remove {
            path: PathBuf::from(dir),
            uid: "u1".into(),
        };
        let cases = [
            (
                "bound here",
                pv("Bound", "Delete", "n1", dir, ours.clone()),
                keep,
            ),
            (
                "just made",
                pv("Pending", "Delete", "n1", dir, ours.clone()),
                Step::Keep(PathBuf::from(dir)),
            ),
            (
                "released, Delete",
                pv("Released", "Delete", "n1", dir, ours.clone()),
                remove,
            ),
            (
                "released, Retain",
                pv("Released", "Retain", "n1", dir, ours.clone()),
                Step::Nothing,
            ),
            (
                "another node's",
                pv("Bound", "Delete", "n2", dir, ours.clone()),
                Step::Nothing,
            ),
            (
                "another provisioner's",
                pv("Bound", "Delete", "n1", dir, json!("x.io/y")),
                Step::Nothing,
            ),
            (
                "outside the base",
                pv("Released", "Delete", "n1", "/etc", ours.clone()),
                Step::Nothing,
            ),
            (
                "the base itself",
                pv(
                    "Released",
                    "Delete",
                    "n1",
                    "/var/local-path-provisioner/..",
                    ours.clone(),
                ),
                Step::Nothing,
            ),
        ];
        for (what, volume, want) in cases {
            assert_eq!(decide(&volume, "n1"), want, "{what}");
        }
    }
}
