//! The persistent volume controller (upstream pkg/controller/volume/persistentvolume) with the
//! two protection controllers (pvcprotection, pvprotection): [`plan`] decides, this module
//! reads and writes. Claims and volumes are each reconciled by one worker, as upstream's
//! single claim and volume workers, so two claims never race for one volume; a binding also
//! carries the volume's resourceVersion, so a stale decision is a conflict, not a double bind.
//! Pending claims are looked at again every 15 s (upstream's resync).
//!
//! Each part talks as upstream's does: the binder as `persistent-volume-binder`, the
//! protection controllers as `pvc-protection-controller` / `pv-protection-controller`, the
//! expansion as `expand-controller` ([`Clients`]). The binder's and the protection controllers'
//! roles allow `update`, not `patch`: their writes are updates of the cached object (a conflict
//! is retried); the expander patches, as upstream's does.

pub mod plan;

use crate::informer::{self, PodChange, PodInformer};
use crate::{retry_on_error, Error, FIELD_MANAGER};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kindling_api::volumes::{
    self, ANN_BETA_STORAGE_PROVISIONER, ANN_BIND_COMPLETED, ANN_BOUND_BY_CONTROLLER,
    ANN_STORAGE_PROVISIONER, PVC_PROTECTION_FINALIZER, PV_PROTECTION_FINALIZER,
};
use kindling_events::{Recorder, Reporter};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use plan::Action as Step;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The clients of the parts of this module (see the module's comment).
#[derive(Clone)]
pub struct Clients {
    pub binder: kube::Client,
    pub pvc_protection: kube::Client,
    pub pv_protection: kube::Client,
    pub expander: kube::Client,
}

impl Clients {
    /// Every part on one client.
    pub fn single(client: kube::Client) -> Clients {
        Clients {
            binder: client.clone(),
            pvc_protection: client.clone(),
            pv_protection: client.clone(),
            expander: client,
        }
    }
}

struct Context {
    /// The binder's client (it reads what the others read too: claims, volumes, classes).
    client: kube::Client,
    clients: Clients,
    recorder: Recorder,
    claims: Store<PersistentVolumeClaim>,
    volumes: Store<PersistentVolume>,
    classes: Store<StorageClass>,
    pods: Store<Pod>,
}

/// The claim and volume workers, on the shared pod watch: subscribed now, run by the returned
/// future.
pub fn run(
    clients: Clients,
    informer: &mut PodInformer,
) -> impl std::future::Future<Output = ()> + Send {
    run_on(clients, informer.store(), informer.subscribe())
}

async fn run_on(
    clients: Clients,
    pods: Store<Pod>,
    changes: impl futures::Stream<Item = Arc<PodChange>> + Send + 'static,
) {
    if !crate::informer::synced(&pods).await {
        return;
    }
    let client = clients.binder.clone();
    let claim_controller = Controller::new(
        Api::<PersistentVolumeClaim>::all(client.clone()),
        watcher::Config::default(),
    )
    .with_config(controller::Config::default().concurrency(1));
    let claims = claim_controller.store();
    let (volumes, volume_events) = crate::cached_watch::<PersistentVolume>(&client);
    let (classes, class_events) = crate::cached_watch::<StorageClass>(&client);
    let ctx = Arc::new(Context {
        client: client.clone(),
        clients,
        recorder: Recorder::spawn(
            client.clone(),
            Reporter::control_plane("persistentvolume-controller"),
            4,
        ),
        claims: claims.clone(),
        volumes: volumes.clone(),
        classes: classes.clone(),
        pods,
    });
    let pod_events = informer::triggers(changes, |_| {});
    let by_class = claims.clone();
    let waiting = claims.clone();
    let going = claims.clone();
    let claims_run = claim_controller
        .watches_stream(volume_events, move |pv: PersistentVolume| {
            claims_for_volume(&waiting, &pv)
        })
        .watches_stream(class_events, move |sc: StorageClass| {
            let class = sc.name_any();
            by_class
                .state()
                .iter()
                .filter(|c| volumes::claim_class(c) == class && !volumes::is_fully_bound(c))
                .map(|c| ObjectRef::from_obj(c.as_ref()))
                .collect::<Vec<_>>()
        })
        // Pods matter to claims being deleted (protection), as to upstream's pvc-protection
        // controller; the PV controller itself syncs claims on their own changes and resyncs.
        .watches_shared_stream(pod_events, move |pod: Arc<Pod>| {
            let ns = pod.namespace().unwrap_or_default();
            volumes::pod_claims(&pod)
                .into_iter()
                .map(|(c, _)| ObjectRef::new(&c).within(&ns))
                .filter(|r| {
                    going
                        .get(r)
                        .is_some_and(|c| c.metadata.deletion_timestamp.is_some())
                })
                .collect::<Vec<_>>()
        })
        .run(
            crate::metrics::measured("claims", reconcile_claim),
            retry_on_error,
            ctx.clone(),
        )
        .for_each(|_| async {});
    let volumes_run = Controller::new(
        Api::<PersistentVolume>::all(client.clone()),
        watcher::Config::default(),
    )
    .with_config(controller::Config::default().concurrency(1))
    .watches(
        Api::<PersistentVolumeClaim>::all(client),
        watcher::Config::default(),
        |claim: PersistentVolumeClaim| {
            let name = volumes::claim_volume_name(&claim);
            (!name.is_empty()).then(|| ObjectRef::new(name))
        },
    )
    .run(
        crate::metrics::measured("volumes", reconcile_volume),
        retry_on_error,
        ctx,
    )
    .for_each(|_| async {});
    tokio::join!(claims_run, volumes_run);
}

/// The claims a volume change concerns: the one it is bound to, or, for a free volume, the
/// unbound claims of its class (which may now match it).
fn claims_for_volume(
    claims: &Store<PersistentVolumeClaim>,
    pv: &PersistentVolume,
) -> Vec<ObjectRef<PersistentVolumeClaim>> {
    if let Some(r) = claim_of_volume(pv) {
        return vec![r];
    }
    let class = volumes::volume_class(pv);
    claims
        .state()
        .iter()
        .filter(|c| volumes::claim_class(c) == class && volumes::claim_volume_name(c).is_empty())
        .map(|c| ObjectRef::from_obj(c.as_ref()))
        .collect()
}

fn claim_of_volume(pv: &PersistentVolume) -> Option<ObjectRef<PersistentVolumeClaim>> {
    let r = pv.spec.as_ref()?.claim_ref.as_ref()?;
    Some(ObjectRef::new(r.name.as_deref()?).within(r.namespace.as_deref()?))
}

fn params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Removes `finalizer` from `obj` by an update (the protection controllers' roles have no
/// `patch`); a vanished object is done, a conflict is retried.
async fn remove_finalizer<K>(api: &Api<K>, obj: &K, finalizer: &str) -> Result<(), kube::Error>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut next = obj.clone();
    next.meta_mut()
        .finalizers
        .get_or_insert_with(Vec::new)
        .retain(|f| f != finalizer);
    let name = obj.meta().name.clone().unwrap_or_default();
    match api.replace(&name, &crate::update_params(), &next).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

fn has_finalizer(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    f: &str,
) -> bool {
    meta.finalizers.iter().flatten().any(|x| x == f)
}

async fn reconcile_claim(
    claim: Arc<PersistentVolumeClaim>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let ns = claim.namespace().unwrap_or_default();
    if claim.metadata.deletion_timestamp.is_some()
        && has_finalizer(&claim.metadata, PVC_PROTECTION_FINALIZER)
    {
        let pods = ctx.pods.state();
        if !plan::claim_in_use(&claim, pods.iter().map(AsRef::as_ref)) {
            let api = Api::namespaced(ctx.clients.pvc_protection.clone(), &ns);
            remove_finalizer(&api, claim.as_ref(), PVC_PROTECTION_FINALIZER).await?;
            // The update ends the claim (or changes it): its next state comes by the watch.
            return Ok(Action::await_change());
        }
    }
    let volumes: Vec<PersistentVolume> =
        ctx.volumes.state().iter().map(|v| (**v).clone()).collect();
    let classes: Vec<StorageClass> = ctx.classes.state().iter().map(|c| (**c).clone()).collect();
    let name = claim.name_any();
    let unscheduled: Vec<String> = ctx
        .pods
        .state()
        .iter()
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
        .filter(|p| {
            p.spec
                .as_ref()
                .is_none_or(|s| s.node_name.as_deref().unwrap_or("").is_empty())
        })
        .filter(|p| volumes::pod_claims(p).iter().any(|(c, _)| *c == name))
        .map(|p| p.name_any())
        .collect();
    let steps = plan::sync_claim(&claim, &volumes, &classes, &unscheduled);
    carry_out(&ctx, &claim, &volumes, steps).await?;
    if volumes::is_fully_bound(&claim) {
        Ok(Action::await_change())
    } else {
        Ok(Action::requeue(Duration::from_secs(plan::RESYNC_SECONDS)))
    }
}

/// Carries out `steps` for `claim`. Each write is an update of the object as last seen (the
/// cache's, then what the server answered), so later steps build on earlier ones.
async fn carry_out(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
    volumes: &[PersistentVolume],
    steps: Vec<Step>,
) -> Result<(), Error> {
    let ns = claim.namespace().unwrap_or_default();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let reference = kindling_events::reference(claim);
    let mut claim = claim.clone();
    let mut volumes = volumes.to_vec();
    let name = claim.name_any();
    for step in steps {
        match step {
            Step::BindVolume {
                volume,
                by_controller,
            } => {
                // The volume as cached carries its resourceVersion: a stale decision is a
                // conflict, not a double bind.
                let Some(current) = volume_named(&mut volumes, &volume) else {
                    return Err(Error::Retry(format!("volume {volume} is not cached")));
                };
                let mut patch = json!({
                    "spec": {"claimRef": {"kind": "PersistentVolumeClaim", "namespace": ns,
                        "name": name, "uid": claim.uid(), "apiVersion": "v1",
                        "resourceVersion": claim.resource_version()}},
                });
                if by_controller {
                    patch["metadata"] = json!({"annotations": {ANN_BOUND_BY_CONTROLLER: "yes"}});
                }
                let next = crate::merged(&*current, &patch)?;
                *current = pvs.replace(&volume, &crate::update_params(), &next).await?;
            }
            Step::VolumePhase {
                volume,
                phase,
                message,
            } => {
                if let Some(current) = volume_named(&mut volumes, &volume) {
                    if let Some(updated) = set_volume_phase(&pvs, current, phase, message).await? {
                        *current = updated;
                    }
                }
            }
            Step::BindClaim {
                volume,
                by_controller,
            } => {
                let mut annotations = json!({ANN_BIND_COMPLETED: "yes"});
                if by_controller {
                    annotations[ANN_BOUND_BY_CONTROLLER] = json!("yes");
                }
                let patch = json!({"metadata": {"annotations": annotations},
                                   "spec": {"volumeName": volume}});
                let next = crate::merged(&claim, &patch)?;
                claim = claims
                    .replace(&name, &crate::update_params(), &next)
                    .await?;
            }
            Step::ClaimPhase {
                phase,
                capacity,
                access_modes,
            } => {
                let status = plan::claim_status(phase, capacity.as_deref(), &access_modes);
                let next = crate::merged(&claim, &json!({ "status": status }))?;
                claim = claims
                    .replace_status(&name, &crate::update_params(), &next)
                    .await?;
            }
            Step::AnnotateProvisioner { provisioner } => {
                let patch = json!({"metadata": {"annotations": {
                    ANN_STORAGE_PROVISIONER: provisioner, ANN_BETA_STORAGE_PROVISIONER: provisioner}}});
                let next = crate::merged(&claim, &patch)?;
                claim = claims
                    .replace(&name, &crate::update_params(), &next)
                    .await?;
            }
            Step::Expand { volume, size } => {
                // The expander's part: it patches, as upstream's expand controller does.
                let pvs: Api<PersistentVolume> = Api::all(ctx.clients.expander.clone());
                let claims: Api<PersistentVolumeClaim> =
                    Api::namespaced(ctx.clients.expander.clone(), &ns);
                let patch = json!({"spec": {"capacity": {"storage": size}}});
                let updated = pvs.patch(&volume, &params(), &Patch::Merge(&patch)).await?;
                if let Some(current) = volume_named(&mut volumes, &volume) {
                    *current = updated;
                }
                let status = json!({"status": {"capacity": {"storage": size}}});
                claim = claims
                    .patch_status(&name, &params(), &Patch::Merge(&status))
                    .await?;
            }
            Step::Event {
                warning,
                reason,
                message,
            } => {
                if warning {
                    ctx.recorder.warning(reference.clone(), reason, "", message);
                } else {
                    ctx.recorder.normal(reference.clone(), reason, "", message);
                }
            }
        }
    }
    Ok(())
}

fn volume_named<'a>(
    volumes: &'a mut [PersistentVolume],
    name: &str,
) -> Option<&'a mut PersistentVolume> {
    volumes
        .iter_mut()
        .find(|v| v.metadata.name.as_deref() == Some(name))
}

/// Sets `volume`'s phase by an update of its status; the volume as the server answered, or
/// `None` when it is gone.
async fn set_volume_phase(
    pvs: &Api<PersistentVolume>,
    volume: &PersistentVolume,
    phase: &str,
    message: Option<String>,
) -> Result<Option<PersistentVolume>, kube::Error> {
    let status = json!({"status": {"phase": phase, "message": message,
                                   "lastPhaseTransitionTime": now()}});
    let next = crate::merged(volume, &status)?;
    match pvs
        .replace_status(&volume.name_any(), &crate::update_params(), &next)
        .await
    {
        Ok(updated) => Ok(Some(updated)),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(None),
        Err(e) => Err(e),
    }
}

async fn reconcile_volume(
    volume: Arc<PersistentVolume>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
    if volume.metadata.deletion_timestamp.is_some()
        && has_finalizer(&volume.metadata, PV_PROTECTION_FINALIZER)
        && !plan::volume_in_use(&volume)
    {
        let api = Api::all(ctx.clients.pv_protection.clone());
        remove_finalizer(&api, volume.as_ref(), PV_PROTECTION_FINALIZER).await?;
        return Ok(Action::await_change());
    }
    let claim = match claim_of_volume(&volume) {
        None => None,
        Some(r) => match ctx.claims.get(&r) {
            Some(c) if c.metadata.deletion_timestamp.is_none() => Some((*c).clone()),
            // The cache may be behind: whether a claim is gone (or still going) the server
            // says.
            _ => {
                let api: Api<PersistentVolumeClaim> = Api::namespaced(
                    ctx.client.clone(),
                    r.namespace.as_deref().unwrap_or_default(),
                );
                api.get_opt(&r.name).await?
            }
        },
    };
    let steps = plan::sync_volume(&volume, claim.as_ref());
    let reference = kindling_events::reference(volume.as_ref());
    let mut current = (*volume).clone();
    for step in steps {
        match step {
            Step::VolumePhase {
                volume: name,
                phase,
                message,
            } if name == current.name_any() => {
                match set_volume_phase(&pvs, &current, phase, message).await? {
                    Some(updated) => current = updated,
                    None => return Ok(Action::await_change()),
                }
            }
            Step::Event {
                warning,
                reason,
                message,
            } => {
                if warning {
                    ctx.recorder.warning(reference.clone(), reason, "", message);
                } else {
                    ctx.recorder.normal(reference.clone(), reason, "", message);
                }
            }
            _ => {}
        }
    }
    // Upstream resyncs volumes periodically too: a claim deleted while the cache still had it
    // is noticed at the latest then.
    Ok(Action::requeue(Duration::from_secs(plan::RESYNC_SECONDS)))
}
