//! The Job controller (upstream pkg/controller/job): a Job runs pods from its template until
//! `completions` of them succeeded (or, without completions, one did), at most `parallelism`
//! at a time; Indexed Jobs give each pod a completion index. Failures back pod creation off
//! (10 s doubling, at most 6 min) and fail the Job past backoffLimit (or per index past
//! backoffLimitPerIndex), activeDeadlineSeconds or a podFailurePolicy FailJob rule; a
//! successPolicy can finish it early; suspending deletes its pods.
//!
//! Pods are counted through the `batch.kubernetes.io/job-tracking` finalizer, as upstream:
//! a finished pod is listed in `status.uncountedTerminatedPods` first, then its finalizer is
//! removed, then it moves into the counters — a lost write never loses or doubles a count.
//! The terminal condition (Complete, Failed) follows the interim one (SuccessCriteriaMet,
//! FailureTarget) once no pod is uncounted or terminating.
//!
//! What to do is decided in [`plan`] (with [`policy`] and [`indexes`]); the pods it creates are
//! [`template`]'s. This module claims pods, creates and deletes them, writes the status with
//! the cached Job's resourceVersion (a stale cache costs a conflict and a retry) and removes
//! finalizers, also from pods whose Job is gone or finished.

pub mod indexes;
pub mod plan;
pub mod policy;
pub mod removals;
pub mod template;

use crate::informer::{self, PodChange, PodInformer};
use crate::owners::{self, Claim};
use crate::replicaset::expectations::{self, Expectations};
use crate::replicaset::message;
use crate::{retry_on_error, Error, FIELD_MANAGER};
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use kindling_api::selector::LabelSelector;
use kindling_events::{Recorder, Reporter};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use removals::Removals;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How soon a sync that lost a race with its own status write looks again.
const CONFLICT_RETRY: Duration = Duration::from_millis(200);

struct Context {
    client: kube::Client,
    pods: Store<Pod>,
    expectations: Expectations,
    removals: Removals,
    recorder: Recorder,
}

fn key_of(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// The Job a pod names as its controller: `(namespace/name, uid)`.
fn controlling_job(pod: &Pod) -> Option<(String, String)> {
    let r = owners::controller_of(&pod.metadata)?;
    (r.kind == "Job" && r.api_version == "batch/v1").then(|| {
        (
            key_of(
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                &r.name,
            ),
            r.uid.clone(),
        )
    })
}

/// Counts what the pod watch shows against the expectations, before the store is updated.
fn observe(ctx: &Context, change: &PodChange) {
    let (pod, deleted) = match &change.event {
        watcher::Event::Apply(p) | watcher::Event::InitApply(p) => (p, false),
        watcher::Event::Delete(p) => (p, true),
        _ => return,
    };
    let Some((key, _)) = controlling_job(pod) else {
        return;
    };
    if !deleted && change.previous.is_none() {
        ctx.expectations.creation_observed(&key);
    }
    if deleted || pod.metadata.deletion_timestamp.is_some() {
        let pod_key = key_of(
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            &pod.name_any(),
        );
        ctx.expectations.deletion_observed(&key, &pod_key);
    }
    if deleted || !plan::has_finalizer(pod) {
        ctx.removals.observed(&key, &pod.uid().unwrap_or_default());
    }
}

/// A pod still holding the finalizer that no running Job will release: finished or going,
/// and its Job unknown here or finished.
fn maybe_orphaned(jobs: &Store<Job>, pod: &Pod) -> bool {
    if !plan::has_finalizer(pod) {
        return false;
    }
    let done = pod.metadata.deletion_timestamp.is_some()
        || pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_some_and(|p| p == "Succeeded" || p == "Failed");
    match owners::controller_of(&pod.metadata) {
        None => true,
        Some(_) if !done => false,
        Some(r) => match controlling_job(pod) {
            None => false,
            Some(_) => {
                let ns = pod.metadata.namespace.clone().unwrap_or_default();
                match jobs.get(&ObjectRef::new(&r.name).within(&ns)) {
                    Some(j) => j.uid().as_deref() != Some(r.uid.as_str()) || plan::is_finished(&j),
                    None => true,
                }
            }
        },
    }
}

/// Which Jobs a pod event concerns: its controller, or, for an orphan, those selecting it.
fn jobs_of_pod(jobs: &Store<Job>, pod: &Pod) -> Vec<ObjectRef<Job>> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    if let Some(r) = owners::controller_of(&pod.metadata) {
        return match controlling_job(pod) {
            Some(_) => vec![ObjectRef::new(&r.name).within(&ns)],
            None => Vec::new(),
        };
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return Vec::new();
    }
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    jobs.state()
        .iter()
        .filter(|j| j.namespace().as_deref() == Some(ns.as_str()))
        .filter(|j| selector(j).is_some_and(|s| !s.is_empty() && s.matches(&labels)))
        .map(|j| ObjectRef::from_obj(j.as_ref()))
        .collect()
}

fn selector(job: &Job) -> Option<LabelSelector> {
    LabelSelector::from_typed(job.spec.as_ref()?.selector.as_ref()).ok()
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
    let controller = Controller::new(Api::<Job>::all(client.clone()), watcher::Config::default());
    let jobs = controller.store();
    let ctx = Arc::new(Context {
        recorder: Recorder::spawn(client.clone(), Reporter::control_plane("job-controller"), 8),
        client: client.clone(),
        pods,
        expectations: Expectations::default(),
        removals: Removals::default(),
    });
    let (orphans, orphaned) = mpsc::unbounded_channel::<Pod>();
    let seen = ctx.clone();
    let job_store = jobs.clone();
    let pod_events = informer::triggers(changes, move |change| {
        observe(&seen, change);
        if let watcher::Event::Apply(p) | watcher::Event::InitApply(p) = &change.event {
            if maybe_orphaned(&job_store, p) {
                let _ = orphans.send(p.clone());
            }
        }
    });
    let mapping = jobs.clone();
    let controller = controller
        .watches_shared_stream(pod_events, move |pod: Arc<Pod>| jobs_of_pod(&mapping, &pod))
        .run(
            crate::metrics::measured("job", reconcile),
            retry_on_error,
            ctx,
        )
        .for_each(|_| async {});
    tokio::join!(controller, release_orphans(client, orphaned));
}

/// Removes the tracking finalizer from pods whose Job is gone, replaced or finished (upstream's
/// syncOrphanPod), after reading the Job live.
async fn release_orphans(client: kube::Client, mut pods: mpsc::UnboundedReceiver<Pod>) {
    while let Some(pod) = pods.recv().await {
        let ns = pod.namespace().unwrap_or_default();
        let keep = match owners::controller_of(&pod.metadata) {
            None => false,
            Some(r) => {
                let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
                match jobs.get_opt(&r.name).await {
                    Ok(Some(j)) => {
                        j.uid().as_deref() == Some(r.uid.as_str()) && !plan::is_finished(&j)
                    }
                    Ok(None) => false,
                    Err(e) => {
                        tracing::debug!("job of orphan pod {ns}/{}: {e}", pod.name_any());
                        true
                    }
                }
            }
        };
        if !keep {
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            if let Err(e) = remove_finalizer(&api, &pod.name_any()).await {
                tracing::debug!("releasing orphan pod {ns}/{}: {e}", pod.name_any());
            }
        }
    }
}

/// Removes the tracking finalizer; a pod already gone is done.
async fn remove_finalizer(api: &Api<Pod>, name: &str) -> Result<(), kube::Error> {
    let patch =
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": [plan::TRACKING_FINALIZER]}});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    match api.patch(name, &params, &Patch::Strategic(&patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn reconcile(job: Arc<Job>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = job.namespace().unwrap_or_default();
    let name = job.name_any();
    let key = key_of(&ns, &name);
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    if plan::is_finished(&job) {
        // A finished Job holds no pod (upstream's cleanupPodFinalizers, a backup).
        let uid = job.uid().unwrap_or_default();
        for pod in ctx.pods.state() {
            let ours = controlling_job(&pod).is_some_and(|(k, u)| k == key && u == uid);
            if ours && plan::has_finalizer(&pod) {
                remove_finalizer(&pods_api, &pod.name_any()).await?;
            }
        }
        ctx.expectations.forget(&key);
        ctx.removals.forget(&key);
        return Ok(Action::await_change());
    }
    let mode = job.spec.as_ref().and_then(|s| s.completion_mode.as_deref());
    if mode.is_some_and(|m| m != "NonIndexed" && m != "Indexed") {
        ctx.recorder.warning(
            kindling_events::reference(job.as_ref()),
            "UnknownCompletionMode",
            "",
            "Skipped Job sync because completion mode is unknown",
        );
        return Ok(Action::await_change());
    }
    let Some(selector) = selector(&job) else {
        return Ok(Action::await_change());
    };
    let met = ctx.expectations.satisfied(&key);
    let pods = claim_pods(&job, &selector, &ctx).await?;
    let removing = ctx.removals.pending(&key);
    let refs: Vec<&Pod> = pods.iter().map(std::convert::AsRef::as_ref).collect();
    let now = Timestamp::now();
    let decision = plan::sync(&plan::Input {
        job: &job,
        pods: &refs,
        removing: &removing,
        expectations_met: met,
        now,
    });
    let manage_error = match delete_pods(&job, &decision, &key, &ctx).await {
        Ok(()) => create_pods(&job, &decision, &refs, &key, &ctx).await.err(),
        Err(e) => Some(e),
    };

    // The status with the newly finished pods listed, before any finalizer goes.
    let mut current = (*job).clone();
    if Some(&decision.status) != current.status.as_ref() {
        match write_status(&current, decision.status.clone(), &ctx).await? {
            Some(written) => current = written,
            None => return Ok(Action::requeue(CONFLICT_RETRY)),
        }
    }
    let mut holding = decision.holding.clone();
    ctx.removals.expect(
        &key,
        decision.remove_finalizers.iter().map(|(_, u)| u.clone()),
    );
    let results = crate::in_parallel(
        decision
            .remove_finalizers
            .iter()
            .map(|(pod, _)| remove_finalizer(&pods_api, pod)),
    )
    .await;
    let mut release_error = None;
    for ((_, uid), result) in decision.remove_finalizers.iter().zip(results) {
        if let Err(e) = result {
            ctx.removals.observed(&key, uid);
            holding.insert(uid.clone());
            release_error.get_or_insert(e);
        }
    }
    let (status, finished) = plan::after_finalizers(&decision, &holding, now);
    if Some(&status) != current.status.as_ref() {
        match write_status(&current, status.clone(), &ctx).await? {
            Some(written) => current = written,
            None => return Ok(Action::requeue(CONFLICT_RETRY)),
        }
    }
    let mut events = decision.events.clone();
    if let (true, Some(f)) = (finished, decision.finished.as_ref()) {
        let completions = current.spec.as_ref().and_then(|s| s.completions);
        events.extend(plan::finished_events(&status, completions, f));
    }
    for e in events {
        let reference = kindling_events::reference(&current);
        if e.warning {
            ctx.recorder.warning(reference, e.reason, "", e.message);
        } else {
            ctx.recorder.normal(reference, e.reason, "", e.message);
        }
    }
    if let Some(e) = manage_error.or(release_error) {
        return Err(e.into());
    }
    Ok(match decision.requeue_after {
        Some(after) => Action::requeue(after.max(Duration::from_millis(100))),
        None if !met => Action::requeue(expectations::TTL),
        None => Action::await_change(),
    })
}

/// Writes the status with the Job's resourceVersion; `None` when the Job changed meanwhile.
async fn write_status(job: &Job, status: JobStatus, ctx: &Context) -> Result<Option<Job>, Error> {
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &job.namespace().unwrap_or_default());
    let mut updated = job.clone();
    updated.status = Some(status);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    match api.replace_status(&job.name_any(), &params, &updated).await {
        Ok(written) => Ok(Some(written)),
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Every pod of the namespace the Job owns after adopting matching orphans (with the tracking
/// finalizer) and releasing owned pods it no longer selects; finished pods included.
async fn claim_pods(
    job: &Job,
    selector: &LabelSelector,
    ctx: &Context,
) -> Result<Vec<Arc<Pod>>, Error> {
    let uid = job.uid().unwrap_or_default();
    let ns = job.namespace().unwrap_or_default();
    let deleting = job.metadata.deletion_timestamp.is_some();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let mut owned = Vec::new();
    let mut checked_fresh = false;
    for pod in ctx.pods.state() {
        if pod.namespace().as_deref() != Some(ns.as_str()) {
            continue;
        }
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let selected = !selector.is_empty() && selector.matches(&labels);
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
                    can_adopt(job, ctx).await?;
                    checked_fresh = true;
                }
                let mut patch = owners::adopt_patch(&pod_uid, &owners::controller_ref(job));
                patch["metadata"]["finalizers"] = json!([plan::TRACKING_FINALIZER]);
                if crate::send_claim(&api, &pod.name_any(), &patch).await? {
                    let mut adopted = (*pod).clone();
                    adopted
                        .metadata
                        .finalizers
                        .get_or_insert_with(Vec::new)
                        .push(plan::TRACKING_FINALIZER.into());
                    adopted.metadata.owner_references = Some(vec![owners::controller_ref(job)]);
                    owned.push(Arc::new(adopted));
                }
            }
        }
    }
    Ok(owned)
}

/// Adoption only by the Job as it is now, not a deleted or replaced one.
async fn can_adopt(job: &Job, ctx: &Context) -> Result<(), Error> {
    let ns = job.namespace().unwrap_or_default();
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let want = job.uid().unwrap_or_default();
    match api.get_opt(&job.name_any()).await? {
        Some(f) if f.uid().as_deref() == Some(want.as_str()) => {
            if f.metadata.deletion_timestamp.is_some() {
                return Err(Error::Adoption(format!(
                    "Job {ns}/{} has just been deleted",
                    job.name_any()
                )));
            }
            Ok(())
        }
        other => Err(Error::Adoption(format!(
            "original Job {ns}/{} is gone: got uid {}, wanted {want}",
            job.name_any(),
            other.and_then(|o| o.uid()).unwrap_or_default()
        ))),
    }
}

async fn delete_pods(
    job: &Job,
    decision: &plan::Decision,
    key: &str,
    ctx: &Context,
) -> Result<(), kube::Error> {
    if decision.delete.is_empty() {
        return Ok(());
    }
    let ns = job.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    ctx.expectations
        .expect_deletions(key, decision.delete.iter().map(|v| key_of(&ns, &v.name)));
    let results = crate::in_parallel(decision.delete.iter().map(|v| {
        let api = api.clone();
        async move {
            if v.remove_finalizer {
                remove_finalizer(&api, &v.name).await?;
            }
            let params = DeleteParams {
                preconditions: Some(kube::api::Preconditions {
                    uid: Some(v.uid.clone()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            api.delete(&v.name, &params).await.map(|_| ())
        }
    }))
    .await;
    let mut failure = None;
    for (v, result) in decision.delete.iter().zip(results) {
        match result {
            Ok(()) => ctx.recorder.normal(
                kindling_events::reference(job),
                "SuccessfulDelete",
                "",
                format!("Deleted pod: {}", v.name),
            ),
            Err(e) => {
                ctx.expectations
                    .deletion_observed(key, &key_of(&ns, &v.name));
                if matches!(&e, kube::Error::Api(s) if s.code == 404) {
                    continue;
                }
                ctx.recorder.warning(
                    kindling_events::reference(job),
                    "FailedDelete",
                    "",
                    format!("Error deleting: {}", message(&e)),
                );
                failure.get_or_insert(e);
            }
        }
    }
    failure.map_or(Ok(()), Err)
}

async fn create_pods(
    job: &Job,
    decision: &plan::Decision,
    pods: &[&Pod],
    key: &str,
    ctx: &Context,
) -> Result<(), kube::Error> {
    let n = decision.create.len();
    if n == 0 {
        return Ok(());
    }
    let ns = job.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    let per_index = job
        .spec
        .as_ref()
        .and_then(|s| s.backoff_limit_per_index)
        .is_some();
    let owner = owners::controller_ref(job);
    ctx.expectations.expect_creations(key, n);
    let mut attempted = 0;
    let mut failure = None;
    let mut queue = decision.create.iter();
    for batch in crate::replicaset::plan::slow_start_batches(
        n,
        crate::replicaset::plan::SLOW_START_INITIAL_BATCH,
    ) {
        attempted += batch;
        let batch_pods: Vec<Pod> = queue
            .by_ref()
            .take(batch)
            .map(|ix| {
                let counts = ix
                    .filter(|_| per_index)
                    .map(|i| plan::inherited_failure_counts(job, pods, i));
                template::pod(job, owner.clone(), *ix, counts)
            })
            .collect();
        let results = crate::in_parallel(batch_pods.iter().map(|p| api.create(&params, p))).await;
        for result in results {
            match result {
                Ok(created) => ctx.recorder.normal(
                    kindling_events::reference(job),
                    "SuccessfulCreate",
                    "",
                    format!("Created pod: {}", created.name_any()),
                ),
                Err(e) => {
                    ctx.expectations.creation_observed(key);
                    if namespace_terminating(&e) {
                        continue;
                    }
                    ctx.recorder.warning(
                        kindling_events::reference(job),
                        "FailedCreate",
                        "",
                        format!("Error creating: {}", message(&e)),
                    );
                    failure.get_or_insert(e);
                }
            }
        }
        if failure.is_some() {
            break;
        }
    }
    for _ in attempted..n {
        ctx.expectations.creation_observed(key);
    }
    failure.map_or(Ok(()), Err)
}

fn namespace_terminating(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s
            .details
            .as_ref()
            .is_some_and(|d| d.causes.iter().any(|c| c.reason == "NamespaceTerminating")),
        _ => false,
    }
}
