//! The Deployment controller (upstream pkg/controller/deployment): a Deployment owns replica
//! sets, one per pod template it has had (named `<deployment>-<pod-template-hash>`, the hash
//! label added to their selector and template); the one matching the current template is the
//! new one, the others old. A rolling update grows the new replica set and shrinks the old ones
//! within maxSurge and maxUnavailable; Recreate empties the old ones first. A resize scales them
//! all in proportion. Revisions, rollbacks (`kubectl rollout undo` puts an old template back:
//! its replica set becomes the new one again with the next revision), pausing, history cleanup
//! and progress conditions are upstream's.
//!
//! Each sync reads the replica sets from this controller's own watch cache and decides with
//! [`util`]'s pure functions; it writes with the cached objects' resourceVersions, so a stale
//! cache costs a conflict and a retry, never a wrong write.

pub mod util;

use crate::owners::{self, Claim};
use crate::replicaset::message;
use crate::{retry_on_error, Error, FIELD_MANAGER};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kindling_api::selector::LabelSelector;
use kindling_events::{Recorder, Reporter};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use util::{replicas, rs_replicas};

/// How soon a Recreate rollout looks again while old pods are still terminating.
const RECREATE_WAIT: Duration = Duration::from_secs(1);

struct Context {
    client: kube::Client,
    replica_sets: Store<ReplicaSet>,
    recorder: Recorder,
}

pub async fn run(client: kube::Client) {
    let (replica_sets, rs_events) = crate::cached_watch::<ReplicaSet>(&client);
    let controller = Controller::new(
        Api::<Deployment>::all(client.clone()),
        watcher::Config::default(),
    );
    let deployments = controller.store();
    let ctx = Arc::new(Context {
        recorder: Recorder::spawn(
            client.clone(),
            Reporter::control_plane("deployment-controller"),
            8,
        ),
        client,
        replica_sets,
    });
    controller
        .watches_stream(rs_events, move |rs: ReplicaSet| {
            deployments_of(&deployments, &rs)
        })
        .run(
            crate::metrics::measured("deployment", reconcile),
            retry_on_error,
            ctx,
        )
        .for_each(|_| async {})
        .await;
}

fn selector(d: &Deployment) -> Option<LabelSelector> {
    LabelSelector::from_typed(d.spec.as_ref().map(|s| &s.selector)).ok()
}

/// The Deployment a replica set event concerns: its controller, or, for an orphan, those whose
/// selector matches it.
fn deployments_of(deployments: &Store<Deployment>, rs: &ReplicaSet) -> Vec<ObjectRef<Deployment>> {
    let ns = rs.namespace().unwrap_or_default();
    if let Some(r) = owners::controller_of(&rs.metadata) {
        let ours = r.kind == "Deployment" && r.api_version.starts_with("apps/");
        return if ours {
            vec![ObjectRef::new(&r.name).within(&ns)]
        } else {
            Vec::new()
        };
    }
    let labels = rs.metadata.labels.clone().unwrap_or_default();
    deployments
        .state()
        .iter()
        .filter(|d| d.namespace().as_deref() == Some(ns.as_str()))
        .filter(|d| selector(d).is_some_and(|s| !s.is_empty() && s.matches(&labels)))
        .map(|d| ObjectRef::from_obj(d.as_ref()))
        .collect()
}

async fn reconcile(d: Arc<Deployment>, ctx: Arc<Context>) -> Result<Action, Error> {
    // Upstream waits for its informers' sync: against a replica set cache not listed yet it
    // would make the newest one again.
    if kindling_reflect::ready(&ctx.replica_sets).await.is_err() {
        return Ok(Action::await_change());
    }
    let mut d = (*d).clone();
    let Some(selector) = selector(&d) else {
        return Ok(Action::await_change());
    };
    if selector.is_empty() {
        ctx.recorder.warning(
            kindling_events::reference(&d),
            "SelectingAll",
            "",
            "This deployment is selecting all pods. A non-empty selector is required.",
        );
        let mut status = d.status.clone().unwrap_or_default();
        if status.observed_generation < d.metadata.generation {
            status.observed_generation = d.metadata.generation;
            write_status(&mut d, status, &ctx).await?;
        }
        return Ok(Action::await_change());
    }
    let rss = claim_replica_sets(&d, &selector, &ctx).await?;
    if d.metadata.deletion_timestamp.is_some() {
        return sync_status_only(&mut d, &rss, &ctx).await;
    }
    check_paused_conditions(&mut d, &ctx).await?;
    if util::is_paused(&d) {
        return sync(&mut d, &rss, &ctx).await;
    }
    let scaling = {
        let refs: Vec<&ReplicaSet> = rss.iter().collect();
        let new = util::find_new(&d, &refs);
        let (_, old) = util::find_old(&d, &refs);
        util::is_scaling_event(&d, new, &old)
    };
    if scaling {
        return sync(&mut d, &rss, &ctx).await;
    }
    if util::is_rolling(&d) {
        rollout_rolling(&mut d, &rss, &ctx).await
    } else {
        rollout_recreate(&mut d, &rss, &ctx).await
    }
}

/// The replica sets the Deployment owns, after adopting matching orphans and releasing owned
/// ones it no longer selects.
async fn claim_replica_sets(
    d: &Deployment,
    selector: &LabelSelector,
    ctx: &Context,
) -> Result<Vec<ReplicaSet>, Error> {
    let ns = d.namespace().unwrap_or_default();
    let uid = d.uid().unwrap_or_default();
    let deleting = d.metadata.deletion_timestamp.is_some();
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
    let mut owned = Vec::new();
    let mut checked_fresh = false;
    for rs in ctx.replica_sets.state() {
        if rs.namespace().as_deref() != Some(ns.as_str()) {
            continue;
        }
        let labels = rs.metadata.labels.clone().unwrap_or_default();
        let rs_uid = rs.uid().unwrap_or_default();
        match owners::claim(&uid, deleting, selector.matches(&labels), &rs.metadata) {
            Claim::Owned => owned.push((*rs).clone()),
            Claim::Ignore => {}
            Claim::Release => {
                crate::send_claim(&api, &rs.name_any(), &owners::release_patch(&rs_uid, &uid))
                    .await?;
            }
            Claim::Adopt => {
                if !checked_fresh {
                    can_adopt(d, ctx).await?;
                    checked_fresh = true;
                }
                let patch = owners::adopt_patch(&rs_uid, &owners::controller_ref(d));
                if crate::send_claim(&api, &rs.name_any(), &patch).await? {
                    owned.push((*rs).clone());
                }
            }
        }
    }
    Ok(owned)
}

async fn can_adopt(d: &Deployment, ctx: &Context) -> Result<(), Error> {
    let ns = d.namespace().unwrap_or_default();
    let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
    let fresh = api.get_opt(&d.name_any()).await?;
    match fresh {
        Some(f) if f.uid() == d.uid() && f.metadata.deletion_timestamp.is_none() => Ok(()),
        _ => Err(Error::Adoption(format!(
            "Deployment {ns}/{} is gone or being deleted",
            d.name_any()
        ))),
    }
}

fn params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

/// Writes the Deployment's status (with its resourceVersion: a stale copy is a conflict).
async fn write_status(
    d: &mut Deployment,
    status: DeploymentStatus,
    ctx: &Context,
) -> Result<(), Error> {
    let api: Api<Deployment> =
        Api::namespaced(ctx.client.clone(), &d.namespace().unwrap_or_default());
    let mut next = d.clone();
    next.status = Some(status);
    *d = api.replace_status(&d.name_any(), &params(), &next).await?;
    Ok(())
}

/// Records the revision of the new replica set on the Deployment.
async fn set_revision(d: &mut Deployment, revision: &str, ctx: &Context) -> Result<(), Error> {
    let current = d
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(util::REVISION))
        .map(String::as_str);
    if current == Some(revision) {
        return Ok(());
    }
    let api: Api<Deployment> =
        Api::namespaced(ctx.client.clone(), &d.namespace().unwrap_or_default());
    // An update with the copy's resourceVersion, as upstream's (its role may `update`
    // deployments, not `patch` them); a stale copy is a conflict, retried.
    let mut next = d.clone();
    next.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(util::REVISION.to_string(), revision.to_string());
    *d = api.replace(&d.name_any(), &params(), &next).await?;
    Ok(())
}

/// Resizes a replica set (and brings its replicas annotations up to date), saying so in a
/// ScalingReplicaSet event when the size changes.
async fn scale_replica_set(
    d: &Deployment,
    rs: &ReplicaSet,
    to: i32,
    ctx: &Context,
) -> Result<ReplicaSet, Error> {
    let from = rs_replicas(rs);
    let desired = replicas(d);
    let max = desired + util::max_surge(d);
    if from == to && !util::replicas_annotations_need_update(rs, desired, max) {
        return Ok(rs.clone());
    }
    let mut next = rs.clone();
    next.spec
        .get_or_insert_with(ReplicaSetSpec::default)
        .replicas = Some(to);
    util::set_replicas_annotations(&mut next, desired, max);
    let api: Api<ReplicaSet> =
        Api::namespaced(ctx.client.clone(), &rs.namespace().unwrap_or_default());
    let updated = api.replace(&rs.name_any(), &params(), &next).await?;
    if from != to {
        let direction = if to > from { "up" } else { "down" };
        ctx.recorder.normal(
            kindling_events::reference(d),
            "ScalingReplicaSet",
            "",
            format!(
                "Scaled {direction} replica set {} from {from} to {to}",
                rs.name_any()
            ),
        );
    }
    Ok(updated)
}

/// Applies resizes to the replica sets they name, in place.
async fn apply_scales(
    d: &Deployment,
    scales: &[util::Scale],
    sets: &mut [&mut ReplicaSet],
    ctx: &Context,
) -> Result<(), Error> {
    for s in scales {
        if let Some(rs) = sets.iter_mut().find(|rs| rs.name_any() == s.name) {
            **rs = scale_replica_set(d, rs, s.to, ctx).await?;
        }
    }
    Ok(())
}

/// The new replica set (created when asked and missing) and the old ones, with the revisions
/// brought up to date (upstream's getAllReplicaSetsAndSyncRevision).
async fn new_and_old(
    d: &mut Deployment,
    rss: &[ReplicaSet],
    create: bool,
    ctx: &Context,
) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), Error> {
    let refs: Vec<&ReplicaSet> = rss.iter().collect();
    let (_, old) = util::find_old(d, &refs);
    let old: Vec<ReplicaSet> = old.into_iter().cloned().collect();
    let existing = util::find_new(d, &refs).cloned();
    let new = new_replica_set(d, existing, &old, create, ctx).await?;
    Ok((new, old))
}

async fn new_replica_set(
    d: &mut Deployment,
    existing: Option<ReplicaSet>,
    old: &[ReplicaSet],
    create: bool,
    ctx: &Context,
) -> Result<Option<ReplicaSet>, Error> {
    let old_refs: Vec<&ReplicaSet> = old.iter().collect();
    let new_revision = (util::max_revision(&old_refs) + 1).to_string();
    let ns = d.namespace().unwrap_or_default();
    let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
    if let Some(rs) = existing {
        let mut next = rs.clone();
        let annotated = util::set_new_rs_annotations(
            d,
            &mut next,
            &new_revision,
            true,
            util::MAX_REVISION_HISTORY_CHARS,
        );
        let min_ready = d.spec.as_ref().and_then(|s| s.min_ready_seconds);
        let spec = next.spec.get_or_insert_with(ReplicaSetSpec::default);
        if annotated || spec.min_ready_seconds != min_ready {
            spec.min_ready_seconds = min_ready;
            return Ok(Some(api.replace(&rs.name_any(), &params(), &next).await?));
        }
        let revision = util::revision(&next.metadata).to_string();
        set_revision(d, &revision, ctx).await?;
        let mut status = d.status.clone().unwrap_or_default();
        if util::has_progress_deadline(d) && util::condition(&status, util::PROGRESSING).is_none() {
            util::set_condition(
                &mut status,
                util::new_condition(
                    util::PROGRESSING,
                    "True",
                    util::FOUND_NEW_RS,
                    format!("Found new replica set {:?}", next.name_any()),
                    util::now_seconds(),
                ),
            );
            write_status(d, status, ctx).await?;
        }
        return Ok(Some(next));
    }
    if !create {
        return Ok(None);
    }

    let collision_count = d.status.as_ref().and_then(|s| s.collision_count);
    let template = util::template(d);
    let hash = util::compute_hash(&template, collision_count);
    let mut rs_template = template.clone();
    rs_template
        .metadata
        .get_or_insert_with(ObjectMeta::default)
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(util::POD_TEMPLATE_HASH.into(), hash.clone());
    let mut rs_selector = d
        .spec
        .as_ref()
        .map(|s| s.selector.clone())
        .unwrap_or_default();
    rs_selector
        .match_labels
        .get_or_insert_with(BTreeMap::new)
        .insert(util::POD_TEMPLATE_HASH.into(), hash.clone());
    let name = format!("{}-{hash}", d.name_any());
    let mut rs = ReplicaSet {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            owner_references: Some(vec![owners::controller_ref(d)]),
            labels: rs_template.metadata.as_ref().and_then(|m| m.labels.clone()),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(0),
            min_ready_seconds: d.spec.as_ref().and_then(|s| s.min_ready_seconds),
            selector: rs_selector,
            template: Some(rs_template),
        }),
        status: None,
    };
    let mut all = old_refs.clone();
    all.push(&rs);
    let new_replicas = util::new_rs_new_replicas(d, &all, &rs);
    rs.spec.as_mut().expect("just set").replicas = Some(new_replicas);
    util::set_new_rs_annotations(
        d,
        &mut rs,
        &new_revision,
        false,
        util::MAX_REVISION_HISTORY_CHARS,
    );

    let (created, already_existed) = match api.create(&params(), &rs).await {
        Ok(created) => (created, false),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            // Ours from an earlier sync the cache has not shown yet, or a hash collision.
            let found = api.get(&name).await?;
            let ours = owners::controller_of(&found.metadata)
                .is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref());
            let same = found
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| util::equal_ignore_hash(t, &template));
            if !(ours && same) {
                let mut status = d.status.clone().unwrap_or_default();
                status.collision_count = Some(collision_count.unwrap_or(0) + 1);
                write_status(d, status, ctx).await?;
                return Err(Error::Retry(format!(
                    "hash collision for replica set {name}: collisionCount raised"
                )));
            }
            (found, true)
        }
        Err(e) => {
            let terminating = matches!(&e, kube::Error::Api(s) if s.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating")));
            if !terminating {
                let msg = format!("Failed to create new replica set {name:?}: {}", message(&e));
                if util::has_progress_deadline(d) {
                    let mut status = d.status.clone().unwrap_or_default();
                    util::set_condition(
                        &mut status,
                        util::new_condition(
                            util::PROGRESSING,
                            "False",
                            util::FAILED_RS_CREATE,
                            msg.clone(),
                            util::now_seconds(),
                        ),
                    );
                    let _ = write_status(d, status, ctx).await;
                }
                ctx.recorder.warning(
                    kindling_events::reference(d),
                    util::FAILED_RS_CREATE,
                    "",
                    msg,
                );
            }
            return Err(e.into());
        }
    };
    if !already_existed && new_replicas > 0 {
        ctx.recorder.normal(
            kindling_events::reference(d),
            "ScalingReplicaSet",
            "",
            format!("Scaled up replica set {name} from 0 to {new_replicas}"),
        );
    }
    set_revision(d, &new_revision, ctx).await?;
    if !already_existed && util::has_progress_deadline(d) {
        let mut status = d.status.clone().unwrap_or_default();
        util::set_condition(
            &mut status,
            util::new_condition(
                util::PROGRESSING,
                "True",
                util::NEW_RS_CREATED,
                format!("Created new replica set {name:?}"),
                util::now_seconds(),
            ),
        );
        write_status(d, status, ctx).await?;
    }
    Ok(Some(created))
}

fn refs<'a>(new: Option<&'a ReplicaSet>, old: &'a [ReplicaSet]) -> Vec<&'a ReplicaSet> {
    old.iter().chain(new).collect()
}

/// Writes the status if it changed (upstream's syncDeploymentStatus).
async fn sync_deployment_status(
    d: &mut Deployment,
    new: Option<&ReplicaSet>,
    old: &[ReplicaSet],
    ctx: &Context,
) -> Result<(), Error> {
    let status = util::calculate_status(&refs(new, old), new, d, util::now_seconds());
    if Some(&status) != d.status.as_ref() {
        write_status(d, status, ctx).await?;
    }
    Ok(())
}

/// Writes the rollout status if it changed; otherwise says when to look again for a missed
/// progress deadline.
async fn sync_rollout_status(
    d: &mut Deployment,
    new: Option<&ReplicaSet>,
    old: &[ReplicaSet],
    ctx: &Context,
) -> Result<Action, Error> {
    let now = util::now_seconds();
    let status = util::rollout_status(&refs(new, old), new, d, now);
    if Some(&status) != d.status.as_ref() {
        write_status(d, status, ctx).await?;
        // The write comes back through the watch, and with it the next step.
        return Ok(Action::await_change());
    }
    Ok(util::recheck_progress_after(d, &status, now)
        .map_or_else(Action::await_change, Action::requeue))
}

async fn sync_status_only(
    d: &mut Deployment,
    rss: &[ReplicaSet],
    ctx: &Context,
) -> Result<Action, Error> {
    let (new, old) = new_and_old(d, rss, false, ctx).await?;
    sync_deployment_status(d, new.as_ref(), &old, ctx).await?;
    Ok(Action::await_change())
}

/// A resize, or a paused Deployment: scale, clean up history when paused, report.
async fn sync(d: &mut Deployment, rss: &[ReplicaSet], ctx: &Context) -> Result<Action, Error> {
    let (mut new, mut old) = new_and_old(d, rss, false, ctx).await?;
    let scales = {
        let old_refs: Vec<&ReplicaSet> = old.iter().collect();
        util::proportional_scale(d, new.as_ref(), &old_refs)
    };
    {
        let mut sets: Vec<&mut ReplicaSet> = old.iter_mut().chain(new.as_mut()).collect();
        apply_scales(d, &scales, &mut sets, ctx).await?;
    }
    if util::is_paused(d) {
        cleanup(d, &old, ctx).await?;
    }
    sync_deployment_status(d, new.as_ref(), &old, ctx).await?;
    Ok(Action::await_change())
}

/// Deletes old replica sets beyond revisionHistoryLimit.
async fn cleanup(d: &Deployment, old: &[ReplicaSet], ctx: &Context) -> Result<(), Error> {
    let refs: Vec<&ReplicaSet> = old.iter().collect();
    let api: Api<ReplicaSet> =
        Api::namespaced(ctx.client.clone(), &d.namespace().unwrap_or_default());
    for rs in util::history_to_clean(d, &refs) {
        match api.delete(&rs.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Upstream's checkPausedConditions: Progressing Unknown DeploymentPaused while paused,
/// DeploymentResumed after, so that a pause does not count against the progress deadline.
async fn check_paused_conditions(d: &mut Deployment, ctx: &Context) -> Result<(), Error> {
    if !util::has_progress_deadline(d) {
        return Ok(());
    }
    let mut status = d.status.clone().unwrap_or_default();
    let reason = util::condition(&status, util::PROGRESSING).and_then(|c| c.reason.clone());
    if reason.as_deref() == Some(util::TIMED_OUT) {
        return Ok(());
    }
    let paused_condition = reason.as_deref() == Some(util::PAUSED);
    let (reason, message) = match (util::is_paused(d), paused_condition) {
        (true, false) => (util::PAUSED, "Deployment is paused"),
        (false, true) => (util::RESUMED, "Deployment is resumed"),
        _ => return Ok(()),
    };
    util::set_condition(
        &mut status,
        util::new_condition(
            util::PROGRESSING,
            "Unknown",
            reason,
            message.into(),
            util::now_seconds(),
        ),
    );
    write_status(d, status, ctx).await
}

async fn rollout_rolling(
    d: &mut Deployment,
    rss: &[ReplicaSet],
    ctx: &Context,
) -> Result<Action, Error> {
    let (new, mut old) = new_and_old(d, rss, true, ctx).await?;
    let Some(mut new) = new else {
        return Ok(Action::await_change());
    };
    // Grow the new replica set first…
    let grow = {
        let all = refs(Some(&new), &old);
        util::reconcile_new_rs(d, &all, &new)
    };
    if let Some(to) = grow {
        new = scale_replica_set(d, &new, to, ctx).await?;
        return sync_rollout_status(d, Some(&new), &old, ctx).await;
    }
    // …then shrink the old ones.
    let shrink = {
        let active_old = util::active(&old.iter().collect::<Vec<_>>());
        util::reconcile_old_rss(d, &active_old, &new)
    };
    if !shrink.is_empty() {
        let mut sets: Vec<&mut ReplicaSet> = old.iter_mut().collect();
        apply_scales(d, &shrink, &mut sets, ctx).await?;
        return sync_rollout_status(d, Some(&new), &old, ctx).await;
    }
    let current = d.status.clone().unwrap_or_default();
    if util::deployment_complete(d, &current) {
        cleanup(d, &old, ctx).await?;
    }
    sync_rollout_status(d, Some(&new), &old, ctx).await
}

async fn rollout_recreate(
    d: &mut Deployment,
    rss: &[ReplicaSet],
    ctx: &Context,
) -> Result<Action, Error> {
    let (mut new, mut old) = new_and_old(d, rss, false, ctx).await?;
    // Old replica sets down to 0 first…
    let down: Vec<util::Scale> = util::active(&old.iter().collect::<Vec<_>>())
        .into_iter()
        .map(|rs| util::Scale {
            name: rs.name_any(),
            to: 0,
        })
        .collect();
    if !down.is_empty() {
        let mut sets: Vec<&mut ReplicaSet> = old.iter_mut().collect();
        apply_scales(d, &down, &mut sets, ctx).await?;
        return sync_rollout_status(d, new.as_ref(), &old, ctx).await;
    }
    // …and gone…
    if old_pods_running(d, new.as_ref(), &old, ctx).await? {
        sync_rollout_status(d, new.as_ref(), &old, ctx).await?;
        return Ok(Action::requeue(RECREATE_WAIT));
    }
    // …before the new one comes up.
    if new.is_none() {
        (new, old) = new_and_old(d, rss, true, ctx).await?;
    }
    if let Some(rs) = new.as_ref() {
        if rs_replicas(rs) != replicas(d) {
            new = Some(scale_replica_set(d, rs, replicas(d), ctx).await?);
        }
    }
    let current = d.status.clone().unwrap_or_default();
    if util::deployment_complete(d, &current) {
        cleanup(d, &old, ctx).await?;
    }
    sync_rollout_status(d, new.as_ref(), &old, ctx).await
}

/// Whether pods of old replica sets still exist and have not finished (upstream's
/// oldPodsRunning; terminating pods count, as they may still run).
async fn old_pods_running(
    d: &Deployment,
    new: Option<&ReplicaSet>,
    old: &[ReplicaSet],
    ctx: &Context,
) -> Result<bool, Error> {
    if util::actual_count(&old.iter().collect::<Vec<_>>()) > 0 {
        return Ok(true);
    }
    let old_uids: HashSet<String> = old.iter().filter_map(kube::ResourceExt::uid).collect();
    let new_uid = new.and_then(kube::ResourceExt::uid);
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &d.namespace().unwrap_or_default());
    let pods = api.list(&ListParams::default()).await?;
    Ok(pods.items.iter().any(|p| {
        let Some(owner) = owners::controller_of(&p.metadata) else {
            return false;
        };
        let phase = p
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("");
        old_uids.contains(&owner.uid)
            && Some(&owner.uid) != new_uid.as_ref()
            && !matches!(phase, "Succeeded" | "Failed")
    }))
}
