//! The StatefulSet controller (upstream pkg/controller/statefulset): pods with stable names
//! `<set>-<ordinal>` (hostname = name, subdomain = `serviceName`, so cluster DNS answers
//! `<set>-N.<service>` through a headless Service), their claims made from
//! `volumeClaimTemplates` before them, created in order and removed in reverse order
//! (OrderedReady) or all at once (Parallel), rolled from the highest ordinal down to the
//! partition within maxUnavailable, or left to the user (OnDelete). Every template the set has
//! had is a ControllerRevision ([`crate::history`]); pods carry theirs in
//! `controller-revision-hash`, and the status names the current and the update revision.
//!
//! Each sync claims pods (by name and selector) and revisions, finds or makes the update
//! revision, lets [`plan`] decide, carries the actions out in order (stopping at the first
//! error, as upstream), writes the status and trims the history.

pub mod plan;

use crate::history::{self, client as revisions};
use crate::informer::{self, PodChange, PodInformer};
use crate::owners::{self, Claim};
use crate::replicaset::message;
use crate::{retry_on_error, Error, FIELD_MANAGER};
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kindling_api::selector::LabelSelector;
use kindling_events::{Recorder, Reporter};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

struct Context {
    client: kube::Client,
    pods: Store<Pod>,
    revisions: Store<ControllerRevision>,
    claims: Store<PersistentVolumeClaim>,
    recorder: Recorder,
}

/// The StatefulSet a dependent names as its controller.
fn controller_set<K: kube::Resource>(object: &K) -> Option<ObjectRef<StatefulSet>> {
    let r = owners::controller_of(object.meta())?;
    (r.kind == "StatefulSet" && r.api_version.starts_with("apps/")).then(|| {
        ObjectRef::new(&r.name).within(object.meta().namespace.as_deref().unwrap_or_default())
    })
}

fn selector(set: &StatefulSet) -> Option<LabelSelector> {
    LabelSelector::from_typed(set.spec.as_ref().map(|s| &s.selector)).ok()
}

/// The sets a pod event concerns: its controller, or, for an orphan, the sets whose name and
/// selector it matches (it may be adopted).
fn sets_of_pod(sets: &Store<StatefulSet>, pod: &Pod) -> Vec<ObjectRef<StatefulSet>> {
    if owners::controller_of(&pod.metadata).is_some() {
        return controller_set(pod).into_iter().collect();
    }
    let labels = pod.labels().clone();
    sets.state()
        .iter()
        .filter(|s| s.namespace() == pod.namespace())
        .filter(|s| plan::is_member(s, pod))
        .filter(|s| selector(s).is_some_and(|sel| !sel.is_empty() && sel.matches(&labels)))
        .map(|s| ObjectRef::from_obj(s.as_ref()))
        .collect()
}

/// Subscribes to the shared pod watch now; the returned future runs the controller.
pub fn run(
    client: kube::Client,
    informer: &mut PodInformer,
) -> impl std::future::Future<Output = ()> + Send {
    run_on(client, informer.store(), informer.subscribe())
}

async fn run_on(
    client: kube::Client,
    pods: Store<Pod>,
    changes: impl futures::Stream<Item = Arc<PodChange>> + Send + 'static,
) {
    if !crate::informer::synced(&pods).await {
        return;
    }
    let pod_events = informer::triggers(changes, |_| {});
    let (revision_store, revision_events) = crate::cached_watch::<ControllerRevision>(&client);
    let (claims, claim_events) = crate::cached_watch::<PersistentVolumeClaim>(&client);
    let controller = Controller::new(
        Api::<StatefulSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let sets = controller.store();
    let ctx = Arc::new(Context {
        recorder: Recorder::spawn(
            client.clone(),
            Reporter::control_plane("statefulset-controller"),
            8,
        ),
        client,
        pods,
        revisions: revision_store,
        claims,
    });
    controller
        .watches_shared_stream(pod_events, move |pod: Arc<Pod>| sets_of_pod(&sets, &pod))
        .watches_stream(revision_events, |r: ControllerRevision| controller_set(&r))
        .watches_stream(claim_events, |c: PersistentVolumeClaim| controller_set(&c))
        .run(
            crate::metrics::measured("statefulset", reconcile),
            retry_on_error,
            ctx,
        )
        .for_each(|_| async {})
        .await;
}

fn params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

fn patch_params() -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

async fn reconcile(set: Arc<StatefulSet>, ctx: Arc<Context>) -> Result<Action, Error> {
    // Upstream waits for its informers' sync: not before the revisions and claims are listed.
    if kindling_reflect::ready(&ctx.revisions).await.is_err()
        || kindling_reflect::ready(&ctx.claims).await.is_err()
    {
        return Ok(Action::await_change());
    }
    let Some(selector) = selector(&set) else {
        return Ok(Action::await_change());
    };
    let ns = set.namespace().unwrap_or_default();
    let pods = claim_pods(&set, &selector, &ctx).await?;
    let revision_api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    let history = revisions::claim(&revision_api, &ctx.revisions, set.as_ref(), &selector).await?;

    // The update revision: the set's template now.
    let template = set
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let data = history::template_patch(&template);
    let template_labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let number = history::next_revision(&history);
    let make = |collisions: i32| {
        let hash = history::hash_data(&data, Some(collisions));
        history::new_revision(
            set.as_ref(),
            template_labels.clone(),
            data.clone(),
            number,
            history::revision_name(&set.name_any(), &hash),
            (history::HASH_LABEL, &hash),
        )
    };
    let mut collision_count = set
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    let candidate = make(collision_count);
    let update = revisions::update_revision(
        &revision_api,
        &history,
        &candidate,
        &mut collision_count,
        make,
    )
    .await?;
    let current_name = set.status.as_ref().and_then(|s| s.current_revision.clone());
    let current = history
        .iter()
        .find(|r| r.metadata.name.is_some() && r.metadata.name == current_name)
        .cloned()
        .unwrap_or_else(|| update.clone());
    let (Some(current_template), Some(update_template)) = (
        history::template_of(&current),
        history::template_of(&update),
    ) else {
        return Err(Error::Retry(format!(
            "StatefulSet {ns}/{}: a revision holds no pod template",
            set.name_any()
        )));
    };

    let claims: BTreeMap<String, PersistentVolumeClaim> = ctx
        .claims
        .state()
        .iter()
        .filter(|c| c.namespace().as_deref() == Some(ns.as_str()))
        .map(|c| (c.name_any(), (**c).clone()))
        .collect();
    let pod_refs: Vec<&Pod> = pods.iter().map(AsRef::as_ref).collect();
    let decided = plan::plan(&plan::Input {
        set: &set,
        current: plan::Revision {
            name: current.metadata.name.as_deref().unwrap_or_default(),
            template: &current_template,
        },
        update: plan::Revision {
            name: update.metadata.name.as_deref().unwrap_or_default(),
            template: &update_template,
        },
        collision_count,
        pods: pod_refs.clone(),
        claims: &claims,
        now: Timestamp::now(),
    });

    let mut failure = None;
    for action in &decided.actions {
        if let Err(e) = act(&set, action, &claims, &ctx).await {
            failure = Some(e);
            break;
        }
    }
    if plan::status_differs(&set, &decided.status) {
        write_status(&set, &decided.status, &ctx).await?;
    }

    // Trim the history: the current and update revisions and those of pods stay.
    let mut live: HashSet<&str> = pod_refs.iter().map(|p| history::pod_revision(p)).collect();
    live.insert(current.metadata.name.as_deref().unwrap_or_default());
    live.insert(update.metadata.name.as_deref().unwrap_or_default());
    let limit = set
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10);
    revisions::delete(&revision_api, &history::to_truncate(&history, &live, limit)).await?;

    if let Some(e) = failure {
        return Err(e);
    }
    let min_ready = set
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let s = &decided.status;
    if min_ready > 0 && s.ready_replicas.unwrap_or(0) != s.available_replicas.unwrap_or(0) {
        // Pods become available minReadySeconds after turning ready: no event says so.
        return Ok(Action::requeue(Duration::from_secs(min_ready as u64)));
    }
    Ok(Action::await_change())
}

/// The pods the set owns, after adopting orphans that match its name and selector and
/// releasing owned ones that no longer do (upstream's getPodsForStatefulSet).
async fn claim_pods(
    set: &StatefulSet,
    selector: &LabelSelector,
    ctx: &Context,
) -> Result<Vec<Arc<Pod>>, Error> {
    let ns = set.namespace().unwrap_or_default();
    let uid = set.uid().unwrap_or_default();
    let deleting = set.metadata.deletion_timestamp.is_some();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let mut owned = Vec::new();
    let mut checked_fresh = false;
    for pod in ctx.pods.state() {
        if pod.namespace().as_deref() != Some(ns.as_str()) {
            continue;
        }
        let selected = plan::is_member(set, &pod) && selector.matches(pod.labels());
        let pod_uid = pod.uid().unwrap_or_default();
        match owners::claim(&uid, deleting, selected, &pod.metadata) {
            Claim::Owned => owned.push(pod),
            Claim::Ignore => {}
            Claim::Release => {
                crate::send_claim(
                    &api,
                    &pod.name_any(),
                    &owners::release_patch(&pod_uid, &uid),
                )
                .await?;
            }
            Claim::Adopt => {
                if !checked_fresh {
                    can_adopt(set, ctx).await?;
                    checked_fresh = true;
                }
                let patch = owners::adopt_patch(&pod_uid, &owners::controller_ref(set));
                if crate::send_claim(&api, &pod.name_any(), &patch).await? {
                    owned.push(pod);
                }
            }
        }
    }
    Ok(owned)
}

/// Adoption only by the set as it is now, not being deleted.
async fn can_adopt(set: &StatefulSet, ctx: &Context) -> Result<(), Error> {
    let ns = set.namespace().unwrap_or_default();
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
    match api.get_opt(&set.name_any()).await? {
        Some(f) if f.uid() == set.uid() && f.metadata.deletion_timestamp.is_none() => Ok(()),
        _ => Err(Error::Adoption(format!(
            "StatefulSet {ns}/{} is gone or being deleted",
            set.name_any()
        ))),
    }
}

/// The status as a merge patch: every field named, zero counts removed (upstream's omitempty).
fn status_patch(status: &StatefulSetStatus) -> Value {
    let count = |v: Option<i32>| match v {
        Some(n) if n != 0 => json!(n),
        _ => Value::Null,
    };
    json!({"status": {
        "observedGeneration": status.observed_generation,
        "replicas": status.replicas,
        "readyReplicas": count(status.ready_replicas),
        "currentReplicas": count(status.current_replicas),
        "updatedReplicas": count(status.updated_replicas),
        "availableReplicas": status.available_replicas.unwrap_or(0),
        "currentRevision": status.current_revision,
        "updateRevision": status.update_revision,
        "collisionCount": status.collision_count,
    }})
}

async fn write_status(
    set: &StatefulSet,
    status: &StatefulSetStatus,
    ctx: &Context,
) -> Result<(), Error> {
    let api: Api<StatefulSet> =
        Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    // An update of the status subresource, as upstream's UpdateStatus (its role may `update`
    // statefulsets/status, not `patch` it); a conflict is retried from the cache.
    let next = crate::merged(set, &status_patch(status))?;
    match api
        .replace_status(&set.name_any(), &crate::update_params(), &next)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

fn not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Upstream's recordPodEvent: `<verb> Pod <pod> in StatefulSet <set> successful`, or
/// `… failed error: <error>` as a warning.
fn pod_event(ctx: &Context, set: &StatefulSet, verb: &str, pod: &str, error: Option<&str>) {
    let title = format!("{}{}", verb[..1].to_uppercase(), &verb[1..]);
    let reference = kindling_events::reference(set);
    let name = set.name_any();
    match error {
        None => ctx.recorder.normal(
            reference,
            format!("Successful{title}"),
            "",
            format!("{verb} Pod {pod} in StatefulSet {name} successful"),
        ),
        Some(e) => ctx.recorder.warning(
            reference,
            format!("Failed{title}"),
            "",
            format!("{verb} Pod {pod} in StatefulSet {name} failed error: {e}"),
        ),
    }
}

/// Creates the claims a pod lacks (upstream's createPersistentVolumeClaims), with
/// upstream's claim events.
async fn create_claims(
    set: &StatefulSet,
    pod: &str,
    missing: &[PersistentVolumeClaim],
    ctx: &Context,
) -> Result<Vec<PersistentVolumeClaim>, Error> {
    let api: Api<PersistentVolumeClaim> =
        Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    let mut created = Vec::new();
    for claim in missing {
        let claim_name = claim.name_any();
        match api.create(&params(), claim).await {
            Ok(c) => {
                ctx.recorder.normal(
                    kindling_events::reference(set),
                    "SuccessfulCreate",
                    "",
                    format!(
                        "create Claim {claim_name} Pod {pod} in StatefulSet {} success",
                        set.name_any()
                    ),
                );
                created.push(c);
            }
            Err(e) if already_exists(&e) => {}
            Err(e) => {
                let msg = message(&e);
                ctx.recorder.warning(
                    kindling_events::reference(set),
                    "FailedCreate",
                    "",
                    format!(
                        "create Claim {claim_name} for Pod {pod} in StatefulSet {} failed error: {msg}",
                        set.name_any()
                    ),
                );
                let wrapped = format!("failed to create PVC {claim_name}: {msg}");
                pod_event(ctx, set, "create", pod, Some(&wrapped));
                return Err(e.into());
            }
        }
    }
    Ok(created)
}

/// Gives the pod's claims the owners the retention policy wants (upstream's
/// UpdatePodClaimForRetentionPolicy), once the pod exists (its uid is needed).
async fn set_claim_owners(
    set: &StatefulSet,
    pod: &Pod,
    known: &BTreeMap<String, PersistentVolumeClaim>,
    ctx: &Context,
) -> Result<(), Error> {
    let Some(ordinal) = plan::ordinal(pod) else {
        return Ok(());
    };
    for wanted in plan::claims_for(set, ordinal) {
        let Some(claim) = known.get(&wanted.name_any()) else {
            continue;
        };
        if !plan::claim_owners_up_to_date(claim, set, pod) {
            patch_claim_owners(set, claim, &plan::claim_owners(claim, set, pod), ctx).await?;
        }
    }
    Ok(())
}

async fn patch_claim_owners(
    set: &StatefulSet,
    claim: &PersistentVolumeClaim,
    owners: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference],
    ctx: &Context,
) -> Result<(), Error> {
    let api: Api<PersistentVolumeClaim> =
        Api::namespaced(ctx.client.clone(), &set.namespace().unwrap_or_default());
    // An update, as upstream's (the role may `update` claims, not `patch` them).
    let patch = json!({"metadata": {"ownerReferences": owners}});
    let next = crate::merged(claim, &patch)?;
    match api
        .replace(&claim.name_any(), &crate::update_params(), &next)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Carries out one action of the plan.
async fn act(
    set: &StatefulSet,
    action: &plan::Action,
    claims: &BTreeMap<String, PersistentVolumeClaim>,
    ctx: &Context,
) -> Result<(), Error> {
    let ns = set.namespace().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    match action {
        plan::Action::CreatePod {
            pod,
            missing_claims,
        } => {
            let name = pod.name_any();
            let created_claims = create_claims(set, &name, missing_claims, ctx).await?;
            let created = match pods.create(&params(), pod).await {
                Ok(p) => p,
                // Made by an earlier sync the cache has not shown yet.
                Err(e) if already_exists(&e) => return Err(e.into()),
                Err(e) => {
                    pod_event(ctx, set, "create", &name, Some(&message(&e)));
                    return Err(e.into());
                }
            };
            let mut known = claims.clone();
            known.extend(created_claims.into_iter().map(|c| (c.name_any(), c)));
            if let Err(e) = set_claim_owners(set, &created, &known, ctx).await {
                pod_event(ctx, set, "update", &name, Some(&e.to_string()));
                return Err(e);
            }
            pod_event(ctx, set, "create", &name, None);
            Ok(())
        }
        plan::Action::CreateClaims {
            pod,
            missing_claims,
        } => {
            let created = create_claims(set, &pod.name_any(), missing_claims, ctx).await?;
            let mut known = claims.clone();
            known.extend(created.into_iter().map(|c| (c.name_any(), c)));
            set_claim_owners(set, pod, &known, ctx).await
        }
        plan::Action::FixIdentity { pod, labels } => {
            let patch = json!({"metadata": {"labels": labels}});
            match pods
                .patch(pod, &patch_params(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    pod_event(ctx, set, "update", pod, None);
                    Ok(())
                }
                Err(e) if not_found(&e) => Ok(()),
                Err(e) => {
                    pod_event(ctx, set, "update", pod, Some(&message(&e)));
                    Err(e.into())
                }
            }
        }
        plan::Action::SetClaimOwners { claim, owners } => {
            patch_claim_owners(set, claim, owners, ctx).await
        }
        plan::Action::DeletePod { pod, why } => {
            let name = pod.name_any();
            tracing::debug!(
                "StatefulSet {ns}/{}: deleting {name} ({why:?})",
                set.name_any()
            );
            let precondition = DeleteParams {
                preconditions: pod.uid().map(|uid| Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match pods.delete(&name, &precondition).await {
                Ok(_) => {
                    pod_event(ctx, set, "delete", &name, None);
                    Ok(())
                }
                // Gone, or replaced by a pod this sync did not see: nothing to do.
                Err(e) if not_found(&e) || already_exists(&e) => Ok(()),
                Err(e) => {
                    pod_event(ctx, set, "delete", &name, Some(&message(&e)));
                    Err(e.into())
                }
            }
        }
    }
}
