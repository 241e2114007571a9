//! The ReplicaSet and ReplicationController controllers (upstream pkg/controller/replicaset,
//! which runs replication controllers through the same code): as many active pods as
//! `spec.replicas`, made from the template, owned by the controller (orphans its selector
//! matches are adopted, owned pods it no longer selects released), and a status that counts
//! them.
//!
//! Each sync claims the namespace's pods, then — unless creations or deletions of an earlier
//! sync have not shown up in the pod watch yet ([`expectations`]) — creates the missing pods in
//! slow-start batches or deletes the surplus in [`plan::pods_to_delete`] order, then writes the
//! status. What to do is decided in [`plan`]; this module only talks to the API server.

pub mod expectations;
pub mod plan;

use crate::informer::{self, PodChange, PodInformer};
use crate::owners::{self, Claim};
use crate::{pods, retry_on_error, Error, FIELD_MANAGER};
use expectations::Expectations;
use futures::{Stream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::NamespaceResourceScope;
use kindling_api::selector::LabelSelector;
use kindling_events::{Recorder, Reporter};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use plan::{Manage, Spec, Status};
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

/// What the controller reads and writes of a ReplicaSet or a ReplicationController.
pub trait Replicated:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + k8s_openapi::Resource
    + Clone
    + DeserializeOwned
    + serde::Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    /// The component its events come from.
    const COMPONENT: &'static str;
    /// Its workqueue's name in kube-controller-manager (the metrics' `name` label).
    const QUEUE: &'static str;
    /// `None` for a selector that cannot be used (nothing is done then, as upstream).
    fn spec(&self) -> Option<Spec>;
    fn status(&self) -> Status;
}

fn conditions<C>(list: Option<&Vec<C>>, f: impl Fn(&C) -> plan::Condition) -> Vec<plan::Condition> {
    list.into_iter().flatten().map(f).collect()
}

impl Replicated for ReplicaSet {
    const COMPONENT: &'static str = "replicaset-controller";
    const QUEUE: &'static str = "replicaset";

    fn spec(&self) -> Option<Spec> {
        let spec = self.spec.as_ref()?;
        Some(Spec {
            replicas: spec.replicas.unwrap_or(1),
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
            selector: LabelSelector::from_typed(Some(&spec.selector)).ok()?,
            template: spec.template.clone(),
        })
    }

    fn status(&self) -> Status {
        let Some(s) = self.status.as_ref() else {
            return Status::default();
        };
        Status {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: s.ready_replicas.unwrap_or(0),
            available_replicas: s.available_replicas.unwrap_or(0),
            observed_generation: s.observed_generation.unwrap_or(0),
            conditions: conditions(s.conditions.as_ref(), |c| plan::Condition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_transition_time: c.last_transition_time.clone(),
            }),
        }
    }
}

impl Replicated for ReplicationController {
    const COMPONENT: &'static str = "replication-controller";
    const QUEUE: &'static str = "replicationmanager";

    fn spec(&self) -> Option<Spec> {
        let spec = self.spec.as_ref()?;
        let selector = spec.selector.as_ref().filter(|s| !s.is_empty())?;
        Some(Spec {
            replicas: spec.replicas.unwrap_or(1),
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
            selector: LabelSelector::from_set(
                selector.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            ),
            template: spec.template.clone(),
        })
    }

    fn status(&self) -> Status {
        let Some(s) = self.status.as_ref() else {
            return Status::default();
        };
        Status {
            replicas: s.replicas,
            fully_labeled_replicas: s.fully_labeled_replicas.unwrap_or(0),
            ready_replicas: s.ready_replicas.unwrap_or(0),
            available_replicas: s.available_replicas.unwrap_or(0),
            observed_generation: s.observed_generation.unwrap_or(0),
            conditions: conditions(s.conditions.as_ref(), |c| plan::Condition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_transition_time: c.last_transition_time.clone(),
            }),
        }
    }
}

struct Context<K: Replicated> {
    client: kube::Client,
    pods: Store<Pod>,
    owners: Store<K>,
    expectations: Arc<Expectations>,
    recorder: Recorder,
}

/// Runs the ReplicaSet and the ReplicationController controllers on the shared pod watch
/// (subscribed now; the returned future runs them).
pub fn run(
    client: kube::Client,
    pods: &mut PodInformer,
) -> impl std::future::Future<Output = ()> + Send {
    run_as(client.clone(), client, pods)
}

/// [`run`] with the replica set and replication controller halves on clients of their own
/// (upstream's `replicaset-controller` and `replication-controller` identities).
pub fn run_as(
    rs_client: kube::Client,
    rc_client: kube::Client,
    pods: &mut PodInformer,
) -> impl std::future::Future<Output = ()> + Send {
    let rs = run_kind::<ReplicaSet>(rs_client, pods.store(), pods.subscribe());
    let rc = run_kind::<ReplicationController>(rc_client, pods.store(), pods.subscribe());
    async move {
        tokio::join!(rs, rc);
    }
}

/// `namespace/name`.
fn key_of(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// Whether `pod` names a `K` as its controller; its key if so.
fn controller_key<K: Replicated>(pod: &Pod) -> Option<String> {
    let r = owners::controller_of(&pod.metadata)?;
    let group = r.api_version.rsplit_once('/').map_or("", |(g, _)| g);
    (r.kind == K::kind(&()) && group == K::group(&())).then(|| {
        key_of(
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            &r.name,
        )
    })
}

/// Counts what the pod watch shows against the expectations: a pod the cache did not hold is a
/// creation, one gone or terminating a deletion.
fn observe<K: Replicated>(exp: &Expectations, change: &PodChange) {
    let (pod, deleted) = match &change.event {
        watcher::Event::Apply(p) | watcher::Event::InitApply(p) => (p, false),
        watcher::Event::Delete(p) => (p, true),
        _ => return,
    };
    let Some(key) = controller_key::<K>(pod) else {
        return;
    };
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

/// Which controllers a pod event concerns: its controller, or, for an orphan, every one whose
/// selector matches it (it may be adopted).
fn controllers_of_pod<K: Replicated>(owners: &Store<K>, pod: &Pod) -> Vec<ObjectRef<K>> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    if let Some(r) = owners::controller_of(&pod.metadata) {
        return match controller_key::<K>(pod) {
            Some(_) => vec![ObjectRef::new(&r.name).within(&ns)],
            None => Vec::new(),
        };
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return Vec::new();
    }
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    owners
        .state()
        .iter()
        .filter(|o| o.namespace().as_deref() == Some(ns.as_str()))
        .filter(|o| o.spec().is_some_and(|s| s.selector.matches(&labels)))
        .map(|o| ObjectRef::from_obj(o.as_ref()))
        .collect()
}

async fn run_kind<K: Replicated>(
    client: kube::Client,
    pods: Store<Pod>,
    changes: impl Stream<Item = Arc<PodChange>> + Send + 'static,
) {
    if !crate::informer::synced(&pods).await {
        return;
    }
    let expectations = Arc::new(Expectations::default());
    let counted = expectations.clone();
    let pod_events = informer::triggers(changes, move |change| observe::<K>(&counted, change));
    let controller = Controller::new(Api::<K>::all(client.clone()), watcher::Config::default());
    let owners = controller.store();
    let ctx = Arc::new(Context {
        recorder: Recorder::spawn(client.clone(), Reporter::control_plane(K::COMPONENT), 8),
        client,
        pods,
        owners: owners.clone(),
        expectations,
    });
    controller
        .watches_shared_stream(pod_events, move |pod: Arc<Pod>| {
            controllers_of_pod::<K>(&owners, &pod)
        })
        .run(
            crate::metrics::measured(K::QUEUE, reconcile::<K>),
            retry_on_error,
            ctx,
        )
        .for_each(|_| async {})
        .await;
}

/// The API server's message of a failed request (what upstream's events and conditions show).
pub(crate) fn message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
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

async fn reconcile<K: Replicated>(rs: Arc<K>, ctx: Arc<Context<K>>) -> Result<Action, Error> {
    let ns = rs.namespace().unwrap_or_default();
    let name = rs.name_any();
    let key = key_of(&ns, &name);
    let Some(spec) = rs.spec() else {
        tracing::debug!("{} {key}: unusable selector", K::KIND);
        return Ok(Action::await_change());
    };
    let needs_sync = ctx.expectations.satisfied(&key);
    let active: Vec<Arc<Pod>> = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()) && pods::is_active(p))
        .collect();
    let owned = claim_pods(rs.as_ref(), &spec, active, &ctx).await?;
    let deleting = rs.meta().deletion_timestamp.is_some();
    let mut manage_error = None;
    if needs_sync && !deleting {
        manage_error = manage(rs.as_ref(), &spec, &owned, &key, &ctx).await.err();
    }
    let owned_refs: Vec<&Pod> = owned.iter().map(std::convert::AsRef::as_ref).collect();
    let current = rs.status();
    let generation = rs.meta().generation.unwrap_or(0);
    let status = plan::calculate_status(
        &spec,
        &current,
        &owned_refs,
        manage_error.as_ref().map(message).as_deref(),
        generation,
        Timestamp::now(),
    );
    if status != current {
        // An update of the status subresource, as upstream's UpdateStatus (its role may
        // `update` replicasets/status, not `patch` it); a conflict is retried from the cache.
        let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
        let mut obj = serde_json::to_value(rs.as_ref()).map_err(kube::Error::SerdeError)?;
        obj["status"] = without_nulls(&status.to_patch()["status"]);
        let updated: K = serde_json::from_value(obj).map_err(kube::Error::SerdeError)?;
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        match api.replace_status(&name, &params, &updated).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Action::await_change()),
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(e) = manage_error {
        return Err(e.into());
    }
    if !needs_sync {
        // The pod watch brings the rest; this is only a guard against a lost event.
        return Ok(Action::requeue(expectations::TTL));
    }
    if spec.min_ready_seconds > 0
        && status.ready_replicas == spec.replicas
        && status.available_replicas != spec.replicas
    {
        // Pods become available minReadySeconds after turning ready: no event says so.
        return Ok(Action::requeue(Duration::from_secs(
            spec.min_ready_seconds as u64,
        )));
    }
    Ok(Action::await_change())
}

/// The active pods the controller owns after adopting matching orphans and releasing owned
/// pods it no longer selects.
async fn claim_pods<K: Replicated>(
    rs: &K,
    spec: &Spec,
    active: Vec<Arc<Pod>>,
    ctx: &Context<K>,
) -> Result<Vec<Arc<Pod>>, Error> {
    let uid = rs.uid().unwrap_or_default();
    let ns = rs.namespace().unwrap_or_default();
    let deleting = rs.meta().deletion_timestamp.is_some();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let mut owned = Vec::new();
    let mut checked_fresh = false;
    for pod in active {
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let selected = spec.selector.matches(&labels);
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
                    can_adopt(rs, ctx).await?;
                    checked_fresh = true;
                }
                let patch = owners::adopt_patch(&pod_uid, &owners::controller_ref(rs));
                if crate::send_claim(&api, &pod.name_any(), &patch).await? {
                    owned.push(pod);
                }
            }
        }
    }
    Ok(owned)
}

/// Adoption only by the controller as it is now (upstream's RecheckDeletionTimestamp): not
/// a deleted one that the cache still holds, nor one being deleted.
async fn can_adopt<K: Replicated>(rs: &K, ctx: &Context<K>) -> Result<(), Error> {
    let ns = rs.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    let fresh = api.get_opt(&rs.name_any()).await?;
    let want = rs.uid().unwrap_or_default();
    match fresh {
        Some(f) if f.uid().as_deref() == Some(want.as_str()) => {
            if f.meta().deletion_timestamp.is_some() {
                return Err(Error::Adoption(format!(
                    "{} {ns}/{} has just been deleted",
                    K::KIND,
                    rs.name_any()
                )));
            }
            Ok(())
        }
        other => Err(Error::Adoption(format!(
            "original {} {ns}/{} is gone: got uid {}, wanted {want}",
            K::KIND,
            rs.name_any(),
            other.and_then(|o| o.uid()).unwrap_or_default()
        ))),
    }
}

/// Creates or deletes pods toward `spec.replicas`.
async fn manage<K: Replicated>(
    rs: &K,
    spec: &Spec,
    owned: &[Arc<Pod>],
    key: &str,
    ctx: &Context<K>,
) -> Result<(), kube::Error> {
    match plan::manage(owned.len(), spec.replicas) {
        Manage::Nothing => Ok(()),
        Manage::Create(n) => create_pods(rs, spec, n, key, ctx).await,
        Manage::Delete(n) => delete_pods(rs, owned, n, key, ctx).await,
    }
}

async fn create_pods<K: Replicated>(
    rs: &K,
    spec: &Spec,
    n: usize,
    key: &str,
    ctx: &Context<K>,
) -> Result<(), kube::Error> {
    let Some(template) = spec.template.as_ref() else {
        return Ok(());
    };
    let ns = rs.namespace().unwrap_or_default();
    let name = rs.name_any();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let pod = plan::pod_from_template(template, &name, owners::controller_ref(rs));
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    ctx.expectations.expect_creations(key, n);
    let mut attempted = 0;
    let mut failure = None;
    for batch in plan::slow_start_batches(n, plan::SLOW_START_INITIAL_BATCH) {
        attempted += batch;
        let results = crate::in_parallel((0..batch).map(|_| api.create(&params, &pod))).await;
        for result in results {
            match result {
                Ok(created) => ctx.recorder.normal(
                    kindling_events::reference(rs),
                    "SuccessfulCreate",
                    "",
                    format!("Created pod: {}", created.name_any()),
                ),
                Err(e) => {
                    // It will never be seen.
                    ctx.expectations.creation_observed(key);
                    if namespace_terminating(&e) {
                        continue;
                    }
                    ctx.recorder.warning(
                        kindling_events::reference(rs),
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
    // Creations never attempted will not be seen either.
    for _ in attempted..n {
        ctx.expectations.creation_observed(key);
    }
    failure.map_or(Ok(()), Err)
}

async fn delete_pods<K: Replicated>(
    rs: &K,
    owned: &[Arc<Pod>],
    n: usize,
    key: &str,
    ctx: &Context<K>,
) -> Result<(), kube::Error> {
    let ns = rs.namespace().unwrap_or_default();
    let colocated = colocated_counts(rs, ctx);
    let owned_refs: Vec<&Pod> = owned.iter().map(std::convert::AsRef::as_ref).collect();
    let victims = plan::pods_to_delete(
        &owned_refs,
        |p| {
            let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
            node.and_then(|n| colocated.get(&n).copied()).unwrap_or(0)
        },
        n,
        Timestamp::now(),
    );
    ctx.expectations
        .expect_deletions(key, victims.iter().map(|p| key_of(&ns, &p.name_any())));
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let results = crate::in_parallel(victims.iter().map(|p| {
        let api = api.clone();
        async move {
            let name = p.name_any();
            let precondition = DeleteParams {
                preconditions: p.uid().map(|uid| kube::api::Preconditions {
                    uid: Some(uid),
                    resource_version: None,
                }),
                ..Default::default()
            };
            (name.clone(), api.delete(&name, &precondition).await)
        }
    }))
    .await;
    let mut failure = None;
    for (pod, result) in results {
        match result {
            Ok(_) => ctx.recorder.normal(
                kindling_events::reference(rs),
                "SuccessfulDelete",
                "",
                format!("Deleted pod: {pod}"),
            ),
            Err(e) => {
                ctx.expectations.deletion_observed(key, &key_of(&ns, &pod));
                if matches!(&e, kube::Error::Api(s) if s.code == 404) {
                    continue;
                }
                ctx.recorder.warning(
                    kindling_events::reference(rs),
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

/// Per node, the active pods of the controller's family: the replica sets that share its
/// controller (a Deployment's old and new ones), each by its selector. A controller with no
/// controller of its own has no family (upstream's getIndirectlyRelatedPods).
fn colocated_counts<K: Replicated>(rs: &K, ctx: &Context<K>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let Some(parent) = owners::controller_of(rs.meta()).map(|r| r.uid.clone()) else {
        return counts;
    };
    let ns = rs.namespace();
    let family: Vec<Spec> = ctx
        .owners
        .state()
        .iter()
        .filter(|o| o.namespace() == ns)
        .filter(|o| owners::controller_of(o.meta()).is_some_and(|r| r.uid == parent))
        .filter_map(|o| o.spec())
        .collect();
    let mut seen = HashSet::new();
    for pod in ctx.pods.state() {
        if pod.namespace() != ns || !pods::is_active(&pod) {
            continue;
        }
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        if !family.iter().any(|s| s.selector.matches(&labels)) || !seen.insert(pod.uid()) {
            continue;
        }
        if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) {
            *counts.entry(node).or_insert(0) += 1;
        }
    }
    counts
}

/// A merge patch's object without its `null`s (the fields it would remove).
fn without_nulls(patch: &serde_json::Value) -> serde_json::Value {
    match patch.as_object() {
        Some(map) => serde_json::Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        None => patch.clone(),
    }
}
