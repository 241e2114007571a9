//! The DaemonSet controller (upstream pkg/controller/daemon): one pod of the set on every node
//! that should run it ([`plan::should_run`]), each pinned to its node by node affinity and
//! bound by the scheduler; pods follow nodes as they come, go, and are tainted or untainted.
//! Templates are kept as ControllerRevisions ([`crate::history`], named
//! `<set>-<pod-template-hash>`); pods carry the hash in `controller-revision-hash`. A
//! RollingUpdate replaces old pods within maxUnavailable (or adds new ones within maxSurge);
//! OnDelete waits for the user.
//!
//! Each sync claims pods and revisions, finds or makes the current revision, and — once the pod
//! watch has shown the creations and deletions of the last sync (the replica set controller's
//! [`Expectations`]) — applies [`plan::manage`], or when that has nothing to do, one
//! [`plan::rolling_update`] step; then it trims the history and writes the status.

pub mod plan;

use crate::history::{self, client as revisions};
use crate::informer::{self, PodChange, PodInformer};
use crate::owners::{self, Claim};
use crate::replicaset::expectations::{self, Expectations};
use crate::replicaset::message;
use crate::{retry_on_error, Error, FIELD_MANAGER};
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use kindling_api::selector::LabelSelector;
use kindling_events::{Recorder, Reporter};
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

struct Context {
    client: kube::Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    revisions: Store<ControllerRevision>,
    expectations: Arc<Expectations>,
    recorder: Recorder,
}

fn key_of(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// The DaemonSet a dependent names as its controller.
fn controller_set<K: kube::Resource>(object: &K) -> Option<ObjectRef<DaemonSet>> {
    let r = owners::controller_of(object.meta())?;
    (r.kind == "DaemonSet" && r.api_version.starts_with("apps/")).then(|| {
        ObjectRef::new(&r.name).within(object.meta().namespace.as_deref().unwrap_or_default())
    })
}

/// The sets a pod event concerns: its controller, or for an orphan those whose selector
/// matches it.
fn sets_of_pod(sets: &Store<DaemonSet>, pod: &Pod) -> Vec<ObjectRef<DaemonSet>> {
    if owners::controller_of(&pod.metadata).is_some() {
        return controller_set(pod).into_iter().collect();
    }
    let labels = pod.labels().clone();
    sets.state()
        .iter()
        .filter(|s| s.namespace() == pod.namespace())
        .filter(|s| plan::selector(s).is_some_and(|sel| !sel.is_empty() && sel.matches(&labels)))
        .map(|s| ObjectRef::from_obj(s.as_ref()))
        .collect()
}

/// Counts what the pod watch shows against the expectations, before the store is updated.
fn observe(exp: &Expectations, change: &PodChange) {
    let (pod, deleted) = match &change.event {
        watcher::Event::Apply(p) | watcher::Event::InitApply(p) => (p, false),
        watcher::Event::Delete(p) => (p, true),
        _ => return,
    };
    let Some(set) = controller_set(pod) else {
        return;
    };
    let key = key_of(set.namespace.as_deref().unwrap_or_default(), &set.name);
    if !deleted && change.previous.is_none() {
        exp.creation_observed(&key);
    }
    if deleted || pod.metadata.deletion_timestamp.is_some() {
        let pod_key = key_of(
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            &pod.name_any(),
        );
        exp.deletion_observed(&key, &pod_key);
    }
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
    let expectations = Arc::new(Expectations::default());
    let counted = expectations.clone();
    let pod_events = informer::triggers(changes, move |change| {
        observe(&counted, change);
    });
    let (nodes, node_events) = crate::cached_watch::<Node>(&client);
    let (revision_store, revision_events) = crate::cached_watch::<ControllerRevision>(&client);
    let controller = Controller::new(
        Api::<DaemonSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let sets = controller.store();
    let all_sets = sets.clone();
    let ctx = Arc::new(Context {
        recorder: Recorder::spawn(
            client.clone(),
            Reporter::control_plane("daemonset-controller"),
            8,
        ),
        client,
        pods,
        nodes,
        revisions: revision_store,
        expectations,
    });
    controller
        .watches_shared_stream(pod_events, move |pod: Arc<Pod>| sets_of_pod(&sets, &pod))
        .watches_stream(revision_events, |r: ControllerRevision| controller_set(&r))
        // Any node change may change where every set runs.
        .watches_stream(node_events, move |_: Node| {
            all_sets
                .state()
                .iter()
                .map(|s| ObjectRef::from_obj(s.as_ref()))
                .collect::<Vec<_>>()
        })
        .run(
            crate::metrics::measured("daemonset", reconcile),
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

async fn reconcile(ds: Arc<DaemonSet>, ctx: Arc<Context>) -> Result<Action, Error> {
    // Upstream waits for its informers' sync: an unlisted node cache would look like no nodes
    // (daemon pods to delete), an unlisted revision cache like no history.
    if kindling_reflect::ready(&ctx.nodes).await.is_err()
        || kindling_reflect::ready(&ctx.revisions).await.is_err()
    {
        return Ok(Action::await_change());
    }
    let Some(selector) = plan::selector(&ds) else {
        return Ok(Action::await_change());
    };
    let ns = ds.namespace().unwrap_or_default();
    let key = key_of(&ns, &ds.name_any());
    let needs_sync = ctx.expectations.satisfied(&key);
    let pods = claim_pods(&ds, &selector, &ctx).await?;
    let revision_api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    let history = revisions::claim(&revision_api, &ctx.revisions, ds.as_ref(), &selector).await?;

    // The current revision: the template as it is now.
    let template = ds
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
    let old_collisions = ds.status.as_ref().and_then(|s| s.collision_count);
    let make = |collisions: i32| {
        // Upstream hashes the collision count only once the status has one.
        let count = (old_collisions.is_some() || collisions > 0).then_some(collisions);
        let hash = crate::deployment::util::compute_hash(&template, count);
        history::new_revision(
            ds.as_ref(),
            template_labels.clone(),
            data.clone(),
            number,
            format!("{}-{hash}", ds.name_any()),
            (history::CONTROLLER_REVISION_HASH, &hash),
        )
    };
    let mut collision_count = old_collisions.unwrap_or(0);
    let candidate = make(collision_count);
    let current = revisions::update_revision(
        &revision_api,
        &history,
        &candidate,
        &mut collision_count,
        make,
    )
    .await?;
    let hash = current
        .labels()
        .get(history::CONTROLLER_REVISION_HASH)
        .cloned()
        .unwrap_or_default();

    let nodes: Vec<Arc<Node>> = ctx.nodes.state();
    let now = Timestamp::now();
    let pod_refs: Vec<&Pod> = pods.iter().map(AsRef::as_ref).collect();
    let input = plan::Input {
        ds: &ds,
        hash: &hash,
        nodes: nodes.iter().map(AsRef::as_ref).collect(),
        pods: pod_refs.clone(),
        now,
    };
    let mut failure = None;
    if needs_sync && ds.metadata.deletion_timestamp.is_none() {
        let mut changes = plan::manage(&input);
        let rolling = ds
            .spec
            .as_ref()
            .and_then(|s| s.update_strategy.as_ref())
            .and_then(|s| s.type_.as_deref())
            .unwrap_or("RollingUpdate")
            == "RollingUpdate";
        if changes.is_empty() && rolling {
            changes = plan::rolling_update(&input);
        }
        if let Err(e) = apply(&ds, &template, &hash, &changes, &key, &ctx).await {
            failure = Some(e);
        }
    }

    // Trim the history: the current revision and those of pods stay.
    let pod_hashes: HashSet<&str> = pod_refs.iter().map(|p| history::pod_revision(p)).collect();
    let mut live: HashSet<&str> = history
        .iter()
        .filter(|r| {
            r.labels()
                .get(history::CONTROLLER_REVISION_HASH)
                .is_some_and(|h| pod_hashes.contains(h.as_str()))
        })
        .filter_map(|r| r.metadata.name.as_deref())
        .collect();
    live.insert(current.metadata.name.as_deref().unwrap_or_default());
    let limit = ds
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10);
    revisions::delete(&revision_api, &history::to_truncate(&history, &live, limit)).await?;

    let mut status = plan::status(&input);
    if collision_count != old_collisions.unwrap_or(0) {
        status.collision_count = Some(collision_count);
    }
    if plan::status_differs(&ds, &status) {
        write_status(&ds, &status, &ctx).await?;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if !needs_sync {
        return Ok(Action::requeue(expectations::TTL));
    }
    let min_ready = ds
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    if min_ready > 0 && status.number_ready != status.number_available.unwrap_or(0) {
        return Ok(Action::requeue(Duration::from_secs(min_ready as u64)));
    }
    Ok(Action::await_change())
}

/// The pods the set owns, after adopting orphans its selector matches and releasing owned
/// ones it no longer matches.
async fn claim_pods(
    ds: &DaemonSet,
    selector: &LabelSelector,
    ctx: &Context,
) -> Result<Vec<Arc<Pod>>, Error> {
    let ns = ds.namespace().unwrap_or_default();
    let uid = ds.uid().unwrap_or_default();
    let deleting = ds.metadata.deletion_timestamp.is_some();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let mut owned = Vec::new();
    for pod in ctx.pods.state() {
        if pod.namespace().as_deref() != Some(ns.as_str()) {
            continue;
        }
        let selected = selector.matches(pod.labels());
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
                let patch = owners::adopt_patch(&pod_uid, &owners::controller_ref(ds));
                if crate::send_claim(&api, &pod.name_any(), &patch).await? {
                    owned.push(pod);
                }
            }
        }
    }
    Ok(owned)
}

/// Creates and deletes pods as decided, counting them in the expectations first (upstream's
/// syncNodes), with the replica set controller's events.
async fn apply(
    ds: &DaemonSet,
    template: &k8s_openapi::api::core::v1::PodTemplateSpec,
    hash: &str,
    changes: &plan::Changes,
    key: &str,
    ctx: &Context,
) -> Result<(), Error> {
    if changes.is_empty() {
        return Ok(());
    }
    let ns = ds.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let mut failure: Option<kube::Error> = None;
    ctx.expectations
        .expect_creations(key, changes.create_on.len());
    for node in &changes.create_on {
        let pod = plan::new_pod(ds, template, hash, node);
        match api.create(&params(), &pod).await {
            Ok(created) => ctx.recorder.normal(
                kindling_events::reference(ds),
                "SuccessfulCreate",
                "",
                format!("Created pod: {}", created.name_any()),
            ),
            Err(e) => {
                ctx.expectations.creation_observed(key);
                ctx.recorder.warning(
                    kindling_events::reference(ds),
                    "FailedCreate",
                    "",
                    format!("Error creating: {}", message(&e)),
                );
                failure.get_or_insert(e);
            }
        }
    }
    let pod_keys: Vec<String> = changes
        .delete
        .iter()
        .map(|p| key_of(&ns, &p.name_any()))
        .collect();
    if !pod_keys.is_empty() {
        ctx.expectations.expect_deletions(key, pod_keys);
    }
    for pod in &changes.delete {
        let name = pod.name_any();
        let precondition = DeleteParams {
            preconditions: pod.uid().map(|uid| Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&name, &precondition).await {
            Ok(_) => ctx.recorder.normal(
                kindling_events::reference(ds),
                "SuccessfulDelete",
                "",
                format!("Deleted pod: {name}"),
            ),
            Err(e) => {
                ctx.expectations.deletion_observed(key, &key_of(&ns, &name));
                if matches!(&e, kube::Error::Api(s) if s.code == 404 || s.code == 409) {
                    continue;
                }
                ctx.recorder.warning(
                    kindling_events::reference(ds),
                    "FailedDelete",
                    "",
                    format!("Error deleting: {}", message(&e)),
                );
                failure.get_or_insert(e);
            }
        }
    }
    failure.map_or(Ok(()), |e| Err(e.into()))
}

async fn write_status(
    ds: &DaemonSet,
    status: &DaemonSetStatus,
    ctx: &Context,
) -> Result<(), Error> {
    let api: Api<DaemonSet> =
        Api::namespaced(ctx.client.clone(), &ds.namespace().unwrap_or_default());
    let count = |v: Option<i32>| match v {
        Some(n) if n != 0 => json!(n),
        _ => serde_json::Value::Null,
    };
    let patch = json!({"status": {
        "observedGeneration": status.observed_generation,
        "desiredNumberScheduled": status.desired_number_scheduled,
        "currentNumberScheduled": status.current_number_scheduled,
        "numberMisscheduled": status.number_misscheduled,
        "numberReady": status.number_ready,
        "numberAvailable": count(status.number_available),
        "numberUnavailable": count(status.number_unavailable),
        "updatedNumberScheduled": count(status.updated_number_scheduled),
        "collisionCount": status.collision_count,
    }});
    // An update of the status subresource, as upstream's UpdateStatus (its role may `update`
    // daemonsets/status, not `patch` it); a conflict is retried from the cache.
    let next = crate::merged(ds, &patch)?;
    match api
        .replace_status(&ds.name_any(), &crate::update_params(), &next)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
