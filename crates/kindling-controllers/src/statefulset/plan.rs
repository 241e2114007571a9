//! What the StatefulSet controller decides, without IO (upstream's stateful_set_control.go and
//! stateful_set_utils.go): pod identities (`<set>-<ordinal>`, hostname, subdomain, labels),
//! their claims (`<template>-<set>-<ordinal>`) and the claims' owners under the retention
//! policy, the status, and one sync's actions in order: replicas in ordinal order (create what
//! is missing, replace what failed, fix identities), then the condemned (ordinals beyond
//! `replicas`) in reverse order, then a rolling update from the highest ordinal down to the
//! partition. OrderedReady stops at the first pod that is not Running, Ready and available,
//! and after each create or delete; Parallel does everything at once.

use crate::history;
use crate::owners;
use crate::pods;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::collections::BTreeMap;

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// The parent name and ordinal of a pod named `<parent>-<digits>` (upstream's
/// statefulPodRegex `(.*)-([0-9]+)$`); `None` for other names or an ordinal beyond int32.
pub fn parent_and_ordinal(name: &str) -> Option<(&str, i32)> {
    let (parent, digits) = name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, digits.parse().ok()?))
}

fn name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

/// The pod's ordinal, if its name has one.
pub fn ordinal(pod: &Pod) -> Option<i32> {
    parent_and_ordinal(name(&pod.metadata)).map(|(_, o)| o)
}

/// The pod's name says it belongs to `set`.
pub fn is_member(set: &StatefulSet, pod: &Pod) -> bool {
    parent_and_ordinal(name(&pod.metadata)).is_some_and(|(p, _)| p == name(&set.metadata))
}

pub fn replicas(set: &StatefulSet) -> i32 {
    set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

fn min_ready_seconds(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

/// `spec.ordinals.start`, else 0.
pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.ordinals.as_ref())
        .and_then(|o| o.start)
        .unwrap_or(0)
}

fn in_range(set: &StatefulSet, ordinal: i32) -> bool {
    let start = start_ordinal(set);
    ordinal >= start && ordinal < start + replicas(set)
}

pub fn pod_name(set: &StatefulSet, ordinal: i32) -> String {
    format!("{}-{ordinal}", name(&set.metadata))
}

fn claim_templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_deref())
        .unwrap_or_default()
}

pub fn claim_name(set: &StatefulSet, template: &PersistentVolumeClaim, ordinal: i32) -> String {
    format!(
        "{}-{}-{ordinal}",
        name(&template.metadata),
        name(&set.metadata)
    )
}

/// The claims of the pod with `ordinal`, from the set's templates: the template's labels plus
/// the selector's matchLabels (upstream's getPersistentVolumeClaims).
pub fn claims_for(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let match_labels = set
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    claim_templates(set)
        .iter()
        .map(|t| {
            let mut labels = t.metadata.labels.clone().unwrap_or_default();
            labels.extend(match_labels.clone());
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(set, t, ordinal)),
                    namespace: set.metadata.namespace.clone(),
                    labels: Some(labels),
                    annotations: t.metadata.annotations.clone(),
                    ..Default::default()
                },
                spec: t.spec.clone(),
                status: None,
            }
        })
        .collect()
}

fn labels_mut(meta: &mut ObjectMeta) -> &mut BTreeMap<String, String> {
    meta.labels.get_or_insert_with(BTreeMap::new)
}

fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

/// The pod of `set` with `ordinal` made from `template` at `revision` (upstream's
/// newStatefulSetPod + setPodRevision): hostname and subdomain name it in the set's Service, its
/// claims are mounted under the templates' names.
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, revision: &str, ordinal: i32) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let pod_name = pod_name(set, ordinal);
    let mut pod = Pod {
        metadata: ObjectMeta {
            name: Some(pod_name.clone()),
            generate_name: Some(format!("{}-", name(&set.metadata))),
            namespace: set.metadata.namespace.clone(),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owners::controller_ref(set)]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    };
    set_identity(set, &mut pod, ordinal);
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(pod_name);
    spec.subdomain = set
        .spec
        .as_ref()
        .and_then(|s| s.service_name.clone())
        .filter(|s| !s.is_empty());
    set_storage(set, &mut pod, ordinal);
    labels_mut(&mut pod.metadata).insert(
        history::CONTROLLER_REVISION_HASH.into(),
        revision.to_string(),
    );
    pod
}

/// Upstream's updateIdentity: the pod-name and pod-index labels.
fn set_identity(set: &StatefulSet, pod: &mut Pod, ordinal: i32) {
    let name = pod_name(set, ordinal);
    let labels = labels_mut(&mut pod.metadata);
    labels.insert(POD_NAME_LABEL.into(), name);
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
}

/// Upstream's updateStorage: a volume per claim template, then the template's other volumes.
fn set_storage(set: &StatefulSet, pod: &mut Pod, ordinal: i32) {
    let templates = claim_templates(set);
    if templates.is_empty() {
        return;
    }
    let spec = pod.spec.get_or_insert_with(Default::default);
    let current = spec.volumes.take().unwrap_or_default();
    let mut volumes: Vec<Volume> = templates
        .iter()
        .map(|t| Volume {
            name: name(&t.metadata).to_string(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(set, t, ordinal),
                read_only: None,
            }),
            ..Default::default()
        })
        .collect();
    volumes.extend(
        current
            .into_iter()
            .filter(|v| !templates.iter().any(|t| name(&t.metadata) == v.name)),
    );
    spec.volumes = Some(volumes);
}

/// Upstream's identityMatches.
pub fn identity_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some((parent, ordinal)) = parent_and_ordinal(name(&pod.metadata)) else {
        return false;
    };
    parent == name(&set.metadata)
        && pod.metadata.namespace == set.metadata.namespace
        && label(pod, POD_NAME_LABEL) == Some(name(&pod.metadata))
        && label(pod, POD_INDEX_LABEL) == Some(ordinal.to_string().as_str())
}

/// Upstream's storageMatches: every claim template is mounted from the pod's claim.
pub fn storage_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let Some(ordinal) = ordinal(pod) else {
        return false;
    };
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default();
    claim_templates(set).iter().all(|t| {
        volumes.iter().any(|v| {
            v.name == name(&t.metadata)
                && v.persistent_volume_claim
                    .as_ref()
                    .is_some_and(|c| c.claim_name == claim_name(set, t, ordinal))
        })
    })
}

// --- Claims and the retention policy --------------------------------------------------------

fn policy(set: &StatefulSet) -> (bool, bool) {
    let p = set
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let delete = |v: Option<&String>| v.map(String::as_str) == Some("Delete");
    (
        delete(p.and_then(|p| p.when_deleted.as_ref())),
        delete(p.and_then(|p| p.when_scaled.as_ref())),
    )
}

/// The reference names the object (kind, apiVersion and name; the uid may differ).
fn matches_ref(r: &OwnerReference, api_version: &str, kind: &str, object: &ObjectMeta) -> bool {
    r.api_version == api_version && r.kind == kind && r.name == name(object)
}

fn set_ref(r: &OwnerReference, set: &StatefulSet) -> bool {
    matches_ref(r, "apps/v1", "StatefulSet", &set.metadata)
}

fn pod_ref(r: &OwnerReference, pod: &Pod) -> bool {
    matches_ref(r, "v1", "Pod", &pod.metadata)
}

fn refs(claim: &PersistentVolumeClaim) -> &[OwnerReference] {
    claim
        .metadata
        .owner_references
        .as_deref()
        .unwrap_or_default()
}

fn has_owner(claim: &PersistentVolumeClaim, owner: &ObjectMeta) -> bool {
    owner
        .uid
        .as_ref()
        .is_some_and(|uid| refs(claim).iter().any(|r| &r.uid == uid))
}

fn has_stale_ref(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    let stale = |r: &OwnerReference, meta: &ObjectMeta| Some(&r.uid) != meta.uid.as_ref();
    refs(claim).iter().any(|r| {
        (set_ref(r, set) && stale(r, &set.metadata)) || (pod_ref(r, pod) && stale(r, &pod.metadata))
    })
}

/// Another controller manages the claim while a Delete policy applies (upstream's
/// hasUnexpectedController).
fn has_unexpected_controller(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    if policy(set) == (false, false) {
        return false;
    }
    for r in refs(claim) {
        if set_ref(r, set) {
            if Some(&r.uid) != set.metadata.uid.as_ref() {
                return true;
            }
            continue;
        }
        if pod_ref(r, pod) {
            if Some(&r.uid) != pod.metadata.uid.as_ref() {
                return true;
            }
            continue;
        }
        if r.controller == Some(true) {
            return true;
        }
    }
    false
}

/// Upstream's isClaimOwnerUpToDate: Retain/Retain → no reference to the set or the pod;
/// whenDeleted Delete → the set owns the claim (while the pod is in range); whenScaled Delete
/// → the pod owns it once scaled away.
pub fn claim_owners_up_to_date(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: &Pod,
) -> bool {
    if has_stale_ref(claim, set, pod) {
        return true;
    }
    if has_unexpected_controller(claim, set, pod) {
        return !(has_owner(claim, &set.metadata) || has_owner(claim, &pod.metadata));
    }
    let non_controller = refs(claim).iter().any(|r| {
        (Some(&r.uid) == set.metadata.uid.as_ref() || Some(&r.uid) == pod.metadata.uid.as_ref())
            && r.controller != Some(true)
    });
    if non_controller {
        return false;
    }
    let (set_owns, pod_owns) = (
        has_owner(claim, &set.metadata),
        has_owner(claim, &pod.metadata),
    );
    let scaled_down = ordinal(pod).is_none_or(|o| !in_range(set, o));
    match policy(set) {
        (false, false) => !set_owns && !pod_owns,
        (true, false) => set_owns && !pod_owns,
        (false, true) => !set_owns && scaled_down == pod_owns,
        (true, true) => scaled_down != set_owns && scaled_down == pod_owns,
    }
}

/// The claim's owner references as the retention policy wants them (upstream's
/// updateClaimOwnerRefForSetAndPod): ours removed, then the set's and/or the pod's added as
/// controller.
pub fn claim_owners(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: &Pod,
) -> Vec<OwnerReference> {
    let unexpected = has_unexpected_controller(claim, set, pod);
    let mut out: Vec<OwnerReference> = refs(claim)
        .iter()
        .filter(|r| !set_ref(r, set) && !pod_ref(r, pod))
        .cloned()
        .collect();
    if unexpected {
        return out;
    }
    let scaled_down = ordinal(pod).is_none_or(|o| !in_range(set, o));
    let (when_deleted, when_scaled) = policy(set);
    if when_scaled && scaled_down {
        out.push(owners::controller_ref(pod));
    }
    if when_deleted && !(when_scaled && scaled_down) {
        out.push(owners::controller_ref(set));
    }
    out
}

/// A claim of a pod being (re)created still points at an earlier pod of that name while
/// whenScaled is Delete: it is about to be collected, so the pod must wait (upstream's
/// PodClaimIsStale).
fn claim_is_stale(
    set: &StatefulSet,
    pod: &Pod,
    claims: &BTreeMap<String, PersistentVolumeClaim>,
) -> bool {
    if !policy(set).1 {
        return false;
    }
    let Some(ordinal) = ordinal(pod) else {
        return false;
    };
    claims_for(set, ordinal).iter().any(|c| {
        claims.get(name(&c.metadata)).is_some_and(|existing| {
            refs(existing)
                .iter()
                .any(|r| pod_ref(r, pod) && Some(&r.uid) != pod.metadata.uid.as_ref())
        })
    })
}

// --- Status ---------------------------------------------------------------------------------

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && pods::is_ready(pod)
}

fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn is_available(pod: &Pod, min_ready: i32, now: Timestamp) -> bool {
    pods::is_available(pod, min_ready, now)
}

/// Upstream's isUnavailable: not available, or going.
fn is_unavailable(pod: Option<&Pod>, min_ready: i32, now: Timestamp) -> bool {
    pod.is_none_or(|p| !is_available(p, min_ready, now) || is_terminating(p))
}

/// The counts of a status (upstream's updateStatus over the pods).
fn count(
    status: &mut StatefulSetStatus,
    pods: &[&Pod],
    min_ready: i32,
    current: &str,
    update: &str,
    now: Timestamp,
) {
    let (mut replicas, mut ready, mut available, mut cur, mut upd) = (0, 0, 0, 0, 0);
    for pod in pods {
        let created = !phase(pod).is_empty();
        if created {
            replicas += 1;
        }
        if is_running_and_ready(pod) {
            ready += 1;
            if is_available(pod, min_ready, now) {
                available += 1;
            }
        }
        if created && !is_terminating(pod) {
            let revision = history::pod_revision(pod);
            if revision == current {
                cur += 1;
            }
            if revision == update {
                upd += 1;
            }
        }
    }
    status.replicas = replicas;
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(available);
    status.current_replicas = Some(cur);
    status.updated_replicas = Some(upd);
}

/// The status as the API shows it: zero counts left out, as upstream's omitempty fields.
pub fn normalized(mut status: StatefulSetStatus) -> StatefulSetStatus {
    let zero_none = |v: &mut Option<i32>| {
        if *v == Some(0) {
            *v = None;
        }
    };
    zero_none(&mut status.ready_replicas);
    zero_none(&mut status.current_replicas);
    zero_none(&mut status.updated_replicas);
    if status.available_replicas.is_none() {
        status.available_replicas = Some(0);
    }
    status
}

/// Upstream's inconsistentStatus: whether the status must be written.
pub fn status_differs(set: &StatefulSet, status: &StatefulSetStatus) -> bool {
    let old = set.status.clone().unwrap_or_default();
    let n = |v: Option<i32>| v.unwrap_or(0);
    status.observed_generation > old.observed_generation
        || status.replicas != old.replicas
        || n(status.current_replicas) != n(old.current_replicas)
        || n(status.ready_replicas) != n(old.ready_replicas)
        || n(status.updated_replicas) != n(old.updated_replicas)
        || n(status.available_replicas) != n(old.available_replicas)
        || status.current_revision != old.current_revision
        || status.update_revision != old.update_revision
        || status.collision_count != old.collision_count
}

// --- One sync -------------------------------------------------------------------------------

/// A revision with the template it holds.
#[derive(Clone, Copy, Debug)]
pub struct Revision<'a> {
    pub name: &'a str,
    pub template: &'a PodTemplateSpec,
}

pub struct Input<'a> {
    pub set: &'a StatefulSet,
    pub current: Revision<'a>,
    pub update: Revision<'a>,
    pub collision_count: i32,
    /// The pods the set owns.
    pub pods: Vec<&'a Pod>,
    /// The namespace's claims by name.
    pub claims: &'a BTreeMap<String, PersistentVolumeClaim>,
    pub now: Timestamp,
}

/// Why a pod is deleted (for the log; the event is the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Failed or Succeeded: it is replaced.
    Finished,
    /// Its ordinal is beyond `replicas`.
    ScaleDown,
    /// Not at the update revision.
    Update,
}

#[derive(Clone, Debug)]
pub enum Action {
    /// Create the missing claims, then the pod, then set the claims' owners.
    CreatePod {
        pod: Box<Pod>,
        missing_claims: Vec<PersistentVolumeClaim>,
    },
    /// Create the claims a pending pod lacks.
    CreateClaims {
        pod: Box<Pod>,
        missing_claims: Vec<PersistentVolumeClaim>,
    },
    /// Put the identity labels back (a merge patch of these labels).
    FixIdentity {
        pod: String,
        labels: BTreeMap<String, String>,
    },
    /// Rewrite a claim's owner references for the retention policy.
    SetClaimOwners {
        claim: Box<PersistentVolumeClaim>,
        owners: Vec<OwnerReference>,
    },
    DeletePod {
        pod: Box<Pod>,
        why: Why,
    },
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub status: StatefulSetStatus,
    pub actions: Vec<Action>,
}

fn missing_claims(
    set: &StatefulSet,
    ordinal: i32,
    claims: &BTreeMap<String, PersistentVolumeClaim>,
) -> Vec<PersistentVolumeClaim> {
    claims_for(set, ordinal)
        .into_iter()
        .filter(|c| !claims.contains_key(name(&c.metadata)))
        .collect()
}

/// The retention fixes of a pod's existing claims.
fn claim_fixes(
    set: &StatefulSet,
    pod: &Pod,
    claims: &BTreeMap<String, PersistentVolumeClaim>,
) -> Vec<Action> {
    let Some(ordinal) = ordinal(pod) else {
        return Vec::new();
    };
    claims_for(set, ordinal)
        .iter()
        .filter_map(|c| claims.get(name(&c.metadata)))
        .filter(|c| !claim_owners_up_to_date(c, set, pod))
        .map(|c| Action::SetClaimOwners {
            claim: Box::new(c.clone()),
            owners: claim_owners(c, set, pod),
        })
        .collect()
}

/// The template a missing pod is made from (upstream's newVersionedStatefulSetPod): ordinals
/// below the partition stay at the current revision.
fn versioned_pod(input: &Input, ordinal: i32) -> Pod {
    let set = input.set;
    let strategy = set.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    let rolling = strategy
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
        == "RollingUpdate";
    let start = start_ordinal(set);
    let keep_current = match strategy.and_then(|s| s.rolling_update.as_ref()) {
        None => {
            let current = set
                .status
                .as_ref()
                .and_then(|s| s.current_replicas)
                .unwrap_or(0);
            rolling && ordinal < start + current
        }
        Some(ru) => ordinal < start + ru.partition.unwrap_or(0),
    };
    let revision = if keep_current {
        input.current
    } else {
        input.update
    };
    new_pod(set, revision.template, revision.name, ordinal)
}

fn max_unavailable(set: &StatefulSet) -> i32 {
    let mu = set
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.max_unavailable.clone())
        .unwrap_or(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1));
    crate::deployment::util::scaled_value(Some(&mu), replicas(set), false)
        .unwrap_or(1)
        .max(1)
}

/// Upstream's completeRollingUpdate: every replica updated and ready → the update revision
/// is the current one.
fn complete_rolling_update(set: &StatefulSet, status: &mut StatefulSetStatus) {
    let rolling = set
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        .unwrap_or("RollingUpdate")
        == "RollingUpdate";
    let n = replicas(set);
    if rolling
        && status.updated_replicas.unwrap_or(0) == n
        && status.ready_replicas.unwrap_or(0) == n
        && status.replicas == n
    {
        status.current_replicas = status.updated_replicas;
        status.current_revision = status.update_revision.clone();
    }
}

/// One sync of a StatefulSet (upstream's updateStatefulSet with maxUnavailable).
pub fn plan(input: &Input) -> Plan {
    let set = input.set;
    let now = input.now;
    let min_ready = min_ready_seconds(set);
    let start = start_ordinal(set);
    let n = replicas(set).max(0) as usize;

    let mut slots: Vec<Option<&Pod>> = vec![None; n];
    let mut condemned: Vec<&Pod> = Vec::new();
    for pod in &input.pods {
        match ordinal(pod) {
            Some(o) if in_range(set, o) => slots[(o - start) as usize] = Some(pod),
            Some(_) => condemned.push(pod),
            None => {}
        }
    }
    condemned.sort_by_key(|p| std::cmp::Reverse(ordinal(p)));

    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        current_revision: Some(input.current.name.to_string()),
        update_revision: Some(input.update.name.to_string()),
        collision_count: Some(input.collision_count),
        ..Default::default()
    };
    let existing: Vec<&Pod> = slots
        .iter()
        .flatten()
        .copied()
        .chain(condemned.iter().copied())
        .collect();
    count(
        &mut status,
        &existing,
        min_ready,
        input.current.name,
        input.update.name,
        now,
    );

    // The first unhealthy pod: a replica in ordinal order, else a condemned one, lowest first.
    let first_unavailable: Option<String> = slots
        .iter()
        .enumerate()
        .find(|(_, p)| is_unavailable(**p, min_ready, now))
        .map(|(i, _)| pod_name(set, start + i as i32))
        .or_else(|| {
            condemned
                .iter()
                .rev()
                .find(|p| is_unavailable(Some(p), min_ready, now))
                .map(|p| name(&p.metadata).to_string())
        });

    let finish = |mut status: StatefulSetStatus, actions: Vec<Action>| {
        complete_rolling_update(set, &mut status);
        Plan { status, actions }
    };
    if set.metadata.deletion_timestamp.is_some() {
        return finish(status, Vec::new());
    }
    let monotonic = set
        .spec
        .as_ref()
        .and_then(|s| s.pod_management_policy.as_deref())
        != Some("Parallel");
    let mut actions = Vec::new();

    // Replicas, in ordinal order.
    for (i, slot) in slots.iter().enumerate() {
        let ordinal = start + i as i32;
        let Some(pod) = slot else {
            let pod = versioned_pod(input, ordinal);
            if claim_is_stale(set, &pod, input.claims) {
                if monotonic {
                    return finish(status, actions);
                }
                continue;
            }
            actions.push(Action::CreatePod {
                missing_claims: missing_claims(set, ordinal, input.claims),
                pod: Box::new(pod),
            });
            if monotonic {
                return finish(status, actions);
            }
            continue;
        };
        if matches!(phase(pod), "Failed" | "Succeeded") {
            if !is_terminating(pod) {
                actions.push(Action::DeletePod {
                    pod: Box::new((*pod).clone()),
                    why: Why::Finished,
                });
            }
            if monotonic {
                return finish(status, actions);
            }
            continue;
        }
        if phase(pod) == "Pending" {
            let missing = missing_claims(set, ordinal, input.claims);
            if !missing.is_empty() {
                actions.push(Action::CreateClaims {
                    pod: Box::new((*pod).clone()),
                    missing_claims: missing,
                });
            }
        }
        if monotonic
            && (is_terminating(pod)
                || !is_running_and_ready(pod)
                || !is_available(pod, min_ready, now))
        {
            return finish(status, actions);
        }
        if !identity_matches(set, pod) {
            let mut labels = BTreeMap::new();
            labels.insert(POD_NAME_LABEL.to_string(), pod_name(set, ordinal));
            labels.insert(POD_INDEX_LABEL.to_string(), ordinal.to_string());
            actions.push(Action::FixIdentity {
                pod: name(&pod.metadata).to_string(),
                labels,
            });
        }
        if !storage_matches(set, pod) {
            // Pod volumes cannot change; the claims at least are made.
            let missing = missing_claims(set, ordinal, input.claims);
            if !missing.is_empty() && phase(pod) != "Pending" {
                actions.push(Action::CreateClaims {
                    pod: Box::new((*pod).clone()),
                    missing_claims: missing,
                });
            }
        }
        actions.extend(claim_fixes(set, pod, input.claims));
    }

    // Claims of condemned pods follow the retention policy before the pods go.
    for pod in &condemned {
        actions.extend(claim_fixes(set, pod, input.claims));
    }

    // Condemned pods, highest ordinal first.
    for pod in &condemned {
        if is_terminating(pod) {
            if monotonic {
                return finish(status, actions);
            }
            continue;
        }
        let first = first_unavailable.as_deref() == Some(name(&pod.metadata));
        if monotonic && !first && (!is_running_and_ready(pod) || !is_available(pod, min_ready, now))
        {
            return finish(status, actions);
        }
        actions.push(Action::DeletePod {
            pod: Box::new((*pod).clone()),
            why: Why::ScaleDown,
        });
        if monotonic {
            return finish(status, actions);
        }
    }

    let strategy = set.spec.as_ref().and_then(|s| s.update_strategy.as_ref());
    if strategy.and_then(|s| s.type_.as_deref()) == Some("OnDelete") {
        return finish(status, actions);
    }

    // Rolling update: at most maxUnavailable pods down, highest ordinal first, none below the
    // partition.
    let partition = strategy
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0)
        .max(0) as usize;
    let max_unavailable = max_unavailable(set);
    let unavailable = slots
        .iter()
        .filter(|p| is_unavailable(**p, min_ready, now))
        .count() as i32;
    if unavailable > max_unavailable {
        return finish(status, actions);
    }
    let mut budget = max_unavailable - unavailable;
    for target in (partition..n).rev() {
        if budget <= 0 {
            break;
        }
        let Some(pod) = slots[target] else {
            continue;
        };
        if history::pod_revision(pod) != input.update.name && !is_terminating(pod) {
            actions.push(Action::DeletePod {
                pod: Box::new(pod.clone()),
                why: Why::Update,
            });
            budget -= 1;
            status.current_replicas = Some(status.current_replicas.unwrap_or(0) - 1);
        }
    }
    finish(status, actions)
}

#[cfg(test)]
mod tests;
