//! What the PV controller decides, without IO (upstream's pv_controller.go syncClaim/syncVolume):
//! a claim's binding to the volume that matches it (or the reason it waits: the first consumer,
//! an external provisioner, a missing class), the phases of both, a released volume's reclaim
//! policy, and expansion of bound claims whose class allows it. The result is an ordered list
//! of [`Action`]s the controller carries out.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kindling_api::volumes::{
    self, claim_class, claim_phase, claim_volume_name, has_annotation, is_bound_to, volume_phase,
    ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER, ANN_PROVISIONED_BY, ANN_STORAGE_PROVISIONER,
};
use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Write the volume's `claimRef` to the claim (uid included); `by_controller` also sets
    /// `pv.kubernetes.io/bound-by-controller`.
    BindVolume { volume: String, by_controller: bool },
    /// Set the volume's `status.phase` (and `message`, upstream's reason for Failed).
    VolumePhase {
        volume: String,
        phase: &'static str,
        message: Option<String>,
    },
    /// Set the claim's `spec.volumeName` and the bind-completed (and, when `by_controller`,
    /// bound-by-controller) annotations.
    BindClaim { volume: String, by_controller: bool },
    /// Set the claim's status: the phase, and for Bound the volume's capacity and access modes.
    ClaimPhase {
        phase: &'static str,
        capacity: Option<String>,
        access_modes: Vec<String>,
    },
    /// Ask `provisioner` for a volume (the storage-provisioner annotations).
    AnnotateProvisioner { provisioner: String },
    /// Grow the bound volume and the claim's reported capacity to the request.
    Expand { volume: String, size: String },
    Event {
        warning: bool,
        reason: &'static str,
        message: String,
    },
}

fn event(warning: bool, reason: &'static str, message: impl Into<String>) -> Action {
    Action::Event {
        warning,
        reason,
        message: message.into(),
    }
}

fn name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

fn find_class<'a>(classes: &'a [StorageClass], name: &str) -> Option<&'a StorageClass> {
    classes
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(name))
}

/// One sync of a claim against the volumes and classes the controller knows; `unscheduled`
/// are the pods that use the claim and wait for a node.
pub fn sync_claim(
    claim: &PersistentVolumeClaim,
    volumes: &[PersistentVolume],
    classes: &[StorageClass],
    unscheduled: &[String],
) -> Vec<Action> {
    let volume_name = claim_volume_name(claim);
    let volume = (!volume_name.is_empty())
        .then(|| volumes.iter().find(|v| name(&v.metadata) == volume_name))
        .flatten();
    if has_annotation(&claim.metadata, ANN_BIND_COMPLETED) {
        return sync_bound_claim(claim, volume, classes);
    }
    if !volume_name.is_empty() {
        // The user asked for this volume.
        return match volume {
            None => pending(claim),
            Some(v)
                if v.spec.as_ref().is_none_or(|s| s.claim_ref.is_none())
                    || is_bound_to(v, claim) =>
            {
                match mismatch(claim, v) {
                    Some(why) => {
                        let mut out = vec![event(
                            true,
                            "VolumeMismatch",
                            format!("Cannot bind to requested volume \"{volume_name}\": {why}"),
                        )];
                        out.extend(pending(claim));
                        out
                    }
                    None => bind(claim, v),
                }
            }
            Some(_) => {
                let mut out = vec![event(
                    true,
                    "FailedBinding",
                    format!("volume \"{volume_name}\" already bound to a different claim."),
                )];
                out.extend(pending(claim));
                out
            }
        };
    }
    let class_name = claim_class(claim);
    let class = find_class(classes, class_name);
    let delay = volumes::is_delay_binding(class);
    if let Some(v) = volumes::find_matching_volume(claim, volumes, None, &BTreeSet::new(), delay) {
        return bind(claim, v);
    }
    let mut out = Vec::new();
    if delay && volumes::selected_node(claim).is_none() {
        out.push(match unscheduled {
            [] => event(
                false,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            ),
            [one] => event(
                false,
                "WaitForPodScheduled",
                format!("waiting for pod {one} to be scheduled"),
            ),
            many => event(
                false,
                "WaitForPodScheduled",
                format!("waiting for pods {} to be scheduled", many.join(",")),
            ),
        });
    } else if !class_name.is_empty() {
        match class {
            None => out.push(event(
                true,
                "ProvisioningFailed",
                format!("storageclass.storage.k8s.io \"{class_name}\" not found"),
            )),
            Some(c) if c.provisioner == volumes::NO_PROVISIONER => {}
            Some(c) => {
                let asked = claim
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(ANN_STORAGE_PROVISIONER))
                    == Some(&c.provisioner);
                if !asked {
                    out.push(Action::AnnotateProvisioner {
                        provisioner: c.provisioner.clone(),
                    });
                    out.push(event(
                        false,
                        "ExternalProvisioning",
                        format!(
                            "Waiting for a volume to be created either by the external provisioner '{}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
                            c.provisioner
                        ),
                    ));
                }
            }
        }
    } else {
        out.push(event(
            false,
            "FailedBinding",
            "no persistent volumes available for this claim and no storage class is set",
        ));
    }
    out.extend(pending(claim));
    out
}

fn pending(claim: &PersistentVolumeClaim) -> Vec<Action> {
    if claim.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending") {
        return Vec::new();
    }
    vec![Action::ClaimPhase {
        phase: "Pending",
        capacity: None,
        access_modes: Vec::new(),
    }]
}

/// Why a volume the claim names cannot serve it (upstream's checkVolumeSatisfyClaim).
fn mismatch(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> Option<&'static str> {
    let requested = volumes::claim_request(claim).unwrap_or_default();
    if volumes::volume_capacity(volume).unwrap_or_default() < requested {
        return Some("requested PV is too small");
    }
    if volumes::volume_class(volume) != claim_class(claim) {
        return Some("storageClassName does not match");
    }
    let mode = |m: Option<&String>| m.map_or("Filesystem", String::as_str).to_string();
    let claim_mode = mode(claim.spec.as_ref().and_then(|s| s.volume_mode.as_ref()));
    let volume_mode = mode(volume.spec.as_ref().and_then(|s| s.volume_mode.as_ref()));
    if claim_mode != volume_mode {
        return Some("incompatible volumeMode");
    }
    None
}

/// Binds the claim and the volume, each step only when it is not done yet (upstream's bind:
/// volume first, then its phase, then the claim, then the claim's phase).
fn bind(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> Vec<Action> {
    let vname = name(&volume.metadata).to_string();
    let mut out = Vec::new();
    let claim_ref = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
    let complete_ref = claim_ref.is_some_and(|r| {
        is_bound_to(volume, claim) && r.uid.as_deref().is_some_and(|u| !u.is_empty())
    });
    if !complete_ref {
        out.push(Action::BindVolume {
            volume: vname.clone(),
            by_controller: claim_ref.is_none(),
        });
    }
    if volume_phase(volume) != "Bound" {
        out.push(Action::VolumePhase {
            volume: vname.clone(),
            phase: "Bound",
            message: None,
        });
    }
    if claim_volume_name(claim) != vname || !has_annotation(&claim.metadata, ANN_BIND_COMPLETED) {
        out.push(Action::BindClaim {
            volume: vname.clone(),
            by_controller: claim_volume_name(claim).is_empty()
                || has_annotation(&claim.metadata, ANN_BOUND_BY_CONTROLLER),
        });
    }
    let vspec = volume.spec.clone().unwrap_or_default();
    let capacity = vspec
        .capacity
        .as_ref()
        .and_then(|c| c.get("storage"))
        .map(|q| q.0.clone());
    let modes = vspec.access_modes.clone().unwrap_or_default();
    let status = claim.status.clone().unwrap_or_default();
    let same = claim_phase(claim) == "Bound"
        && status.access_modes.clone().unwrap_or_default() == modes
        && status
            .capacity
            .as_ref()
            .and_then(|c| c.get("storage"))
            .map(|q| q.0.clone())
            == capacity;
    if !same {
        out.push(Action::ClaimPhase {
            phase: "Bound",
            capacity,
            access_modes: modes,
        });
    }
    out
}

fn sync_bound_claim(
    claim: &PersistentVolumeClaim,
    volume: Option<&PersistentVolume>,
    classes: &[StorageClass],
) -> Vec<Action> {
    let lost = |message: &str| {
        let mut out = Vec::new();
        if claim_phase(claim) != "Lost" {
            out.push(Action::ClaimPhase {
                phase: "Lost",
                capacity: None,
                access_modes: Vec::new(),
            });
            out.push(event(true, "ClaimLost", message));
        }
        out
    };
    if claim_volume_name(claim).is_empty() {
        return lost(
            "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
        );
    }
    let Some(volume) = volume else {
        return lost("Bound claim has lost its PersistentVolume. Data on the volume is lost!");
    };
    let unbound = volume.spec.as_ref().is_none_or(|s| s.claim_ref.is_none());
    if !unbound && !is_bound_to(volume, claim) {
        let mut out = Vec::new();
        if claim_phase(claim) != "Lost" {
            out.push(Action::ClaimPhase {
                phase: "Lost",
                capacity: None,
                access_modes: Vec::new(),
            });
            out.push(event(
                true,
                "ClaimMisbound",
                "Two claims are bound to the same volume, this one is bound incorrectly",
            ));
        }
        return out;
    }
    let mut out = bind(claim, volume);
    if out.is_empty() {
        out.extend(expansion(claim, volume, classes));
    }
    out
}

/// A bound claim asking for more than its volume has grows it when its class allows
/// expansion (the volume's capacity, then the claim's).
fn expansion(
    claim: &PersistentVolumeClaim,
    volume: &PersistentVolume,
    classes: &[StorageClass],
) -> Vec<Action> {
    let allowed = find_class(classes, claim_class(claim))
        .and_then(|c| c.allow_volume_expansion)
        .unwrap_or(false);
    let (Some(requested), Some(capacity)) = (
        volumes::claim_request(claim),
        volumes::volume_capacity(volume),
    ) else {
        return Vec::new();
    };
    let reported = volumes::claim_capacity(claim).unwrap_or_default();
    if !allowed || (requested <= capacity && requested <= reported) {
        return Vec::new();
    }
    let size = requested.max(capacity);
    let text = claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .filter(|_| size == requested)
        .map_or_else(|| size.to_string(), |q| q.0.clone());
    vec![
        event(
            false,
            "Resizing",
            format!(
                "External resizer is resizing volume {}",
                name(&volume.metadata)
            ),
        ),
        Action::Expand {
            volume: name(&volume.metadata).to_string(),
            size: text,
        },
        event(false, "VolumeResizeSuccessful", "Resize volume succeeded"),
    ]
}

/// One sync of a volume; `claim` is the claim its `claimRef` names, if it exists.
pub fn sync_volume(
    volume: &PersistentVolume,
    claim: Option<&PersistentVolumeClaim>,
) -> Vec<Action> {
    let vname = name(&volume.metadata).to_string();
    let phase = volume_phase(volume);
    let set_phase = |p: &'static str| -> Vec<Action> {
        if phase == p {
            Vec::new()
        } else {
            vec![Action::VolumePhase {
                volume: vname.clone(),
                phase: p,
                message: None,
            }]
        }
    };
    let Some(claim_ref) = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return set_phase("Available");
    };
    if claim_ref.uid.as_deref().unwrap_or_default().is_empty() {
        // Pre-bound by a user or provisioner: the claim's sync finishes the binding.
        return set_phase("Available");
    }
    let claim = claim.filter(|c| c.metadata.uid == claim_ref.uid);
    match claim {
        None => {
            if phase == "Failed" {
                return Vec::new();
            }
            let mut out = set_phase("Released");
            out.extend(reclaim(volume));
            out
        }
        Some(c) if claim_volume_name(c).is_empty() => Vec::new(),
        Some(c) if claim_volume_name(c) == vname => set_phase("Bound"),
        Some(_) => {
            // The claim went to another volume: a binding the controller made is undone.
            if has_annotation(&volume.metadata, ANN_BOUND_BY_CONTROLLER) {
                set_phase("Available")
            } else {
                set_phase("Released")
            }
        }
    }
}

/// What a released volume's reclaim policy means here: Retain keeps it; Delete is the
/// provisioner's job for provisioned volumes, impossible for hand-made ones (no deleter plugin
/// in kindling); Recycle is not supported.
fn reclaim(volume: &PersistentVolume) -> Vec<Action> {
    let vname = name(&volume.metadata).to_string();
    let policy = volume
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
        .unwrap_or("Retain");
    let failed = |reason: &'static str, message: String| {
        vec![
            Action::VolumePhase {
                volume: vname.clone(),
                phase: "Failed",
                message: Some(message.clone()),
            },
            event(true, reason, message),
        ]
    };
    match policy {
        "Delete" if has_annotation(&volume.metadata, ANN_PROVISIONED_BY) => Vec::new(),
        "Delete" => failed(
            "VolumeFailedDelete",
            format!("error getting deleter volume plugin for volume \"{vname}\": no deletable volume plugin matched"),
        ),
        "Recycle" => failed(
            "VolumeFailedRecycle",
            "No recycler plugin found for the volume!".to_string(),
        ),
        _ => Vec::new(),
    }
}

/// When a claim with a deletion timestamp may lose its protection finalizer: no pod that is
/// scheduled and not finished uses it (upstream's pvc-protection controller).
pub fn claim_in_use<'a>(
    claim: &PersistentVolumeClaim,
    pods: impl IntoIterator<Item = &'a k8s_openapi::api::core::v1::Pod>,
) -> bool {
    let cname = name(&claim.metadata);
    pods.into_iter().any(|pod| {
        let scheduled = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        let finished = matches!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Succeeded" | "Failed")
        );
        scheduled
            && !finished
            && pod.metadata.namespace == claim.metadata.namespace
            && volumes::pod_claims(pod).iter().any(|(c, _)| c == cname)
    })
}

/// A volume is in use while it is Bound (upstream's pv-protection controller).
pub fn volume_in_use(volume: &PersistentVolume) -> bool {
    volume_phase(volume) == "Bound"
}

/// The claim's status as the `ClaimPhase` action writes it (also what the tests compare).
pub fn claim_status(
    phase: &str,
    capacity: Option<&str>,
    access_modes: &[String],
) -> serde_json::Value {
    match phase {
        "Bound" => serde_json::json!({"phase": phase, "accessModes": access_modes,
            "capacity": capacity.map(|c| serde_json::json!({"storage": c}))}),
        _ => serde_json::json!({"phase": phase, "accessModes": null, "capacity": null}),
    }
}

/// When the claim was last synced (for periodic resyncs): upstream syncs every 15 s.
pub const RESYNC_SECONDS: u64 = 15;

#[cfg(test)]
mod tests;
