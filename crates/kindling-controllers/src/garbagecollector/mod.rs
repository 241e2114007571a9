//! The garbage collector (upstream pkg/controller/garbagecollector): deletes objects whose
//! owners are gone, and finishes the deletions the API server leaves to it.
//!
//! - A metadata-only watch of every resource discovery lists (list, watch and delete verbs;
//!   Events excepted, as upstream) feeds the ownerReferences [`graph`]; discovery is repeated
//!   so new resources join.
//! - Background: an owner deleted outright leaves dependents whose owners are all gone; each
//!   is deleted (Background, or as its own finalizers say).
//! - Foreground (`foregroundDeletion` finalizer, set by the API server for
//!   `propagationPolicy=Foreground`): the owner's dependents are deleted — in the foreground
//!   themselves when they have dependents — and the finalizer is removed once no dependent
//!   with `blockOwnerDeletion` is left.
//! - Orphan (`orphan` finalizer): the owner's references are removed from its dependents, then
//!   the finalizer.
//!
//! The graph only says what to look at: before anything is deleted or changed, the object and
//! its owners are read live, and writes carry the uid (and resourceVersion) they were decided
//! on, so a lagging watch never deletes the wrong thing.

pub mod graph;

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use graph::{Decision, Graph, Node, Owner, OwnerState, Task, Work};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions,
    PropagationPolicy,
};
use kube::core::PartialObjectMeta;
use kube::discovery::{verbs, Discovery, Scope};
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often discovery is repeated to find new resources.
const REDISCOVER: Duration = Duration::from_secs(30);
/// How many objects are worked on at once.
const WORKERS: usize = 8;
/// Resources not collected (upstream's DefaultIgnoredResources).
const IGNORED: &[(&str, &str)] = &[("", "events"), ("events.k8s.io", "events")];
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A served resource: how to reach it.
#[derive(Clone, Debug)]
struct Served {
    api: ApiResource,
    namespaced: bool,
}

/// What discovery found.
#[derive(Default)]
struct Resources {
    /// By `group/version/plural` (the graph's resource key).
    by_key: HashMap<String, Served>,
    /// By (group, kind), for owner references of any version.
    by_kind: HashMap<(String, String), Served>,
}

fn key(api: &ApiResource) -> String {
    format!("{}/{}/{}", api.group, api.version, api.plural)
}

impl Resources {
    /// The resource an ownerReference names: its exact version, else another version of its
    /// group and kind.
    fn resolve(&self, api_version: &str, kind: &str) -> Option<&Served> {
        let (group, _) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.by_kind.get(&(group.to_string(), kind.to_string()))
    }
}

enum Input {
    Discovered(Vec<Served>),
    Watch(
        String,
        Box<watcher::Event<PartialObjectMeta<DynamicObject>>>,
    ),
}

type Running = Pin<Box<dyn Future<Output = (Work, Result<Vec<Work>, kube::Error>)> + Send>>;

struct Collector {
    client: kube::Client,
    graph: Graph,
    resources: Arc<Resources>,
    watched: HashSet<String>,
    inputs: mpsc::Sender<Input>,
    queue: VecDeque<Work>,
    queued: HashSet<Work>,
    /// Uids being worked on, and work that arrived for them meanwhile.
    busy: HashSet<String>,
    deferred: HashSet<Work>,
    attempts: HashMap<Work, u32>,
    retries: mpsc::Sender<Work>,
    running: FuturesUnordered<Running>,
}

pub async fn run(client: kube::Client) {
    let (inputs, mut input_rx) = mpsc::channel(4096);
    let (retries, mut retry_rx) = mpsc::channel(4096);
    tokio::spawn(discover_forever(client.clone(), inputs.clone()));
    let mut gc = Collector {
        client,
        graph: Graph::default(),
        resources: Arc::default(),
        watched: HashSet::new(),
        inputs,
        queue: VecDeque::new(),
        queued: HashSet::new(),
        busy: HashSet::new(),
        deferred: HashSet::new(),
        attempts: HashMap::new(),
        retries,
        running: FuturesUnordered::new(),
    };
    loop {
        tokio::select! {
            Some(input) = input_rx.recv() => gc.input(input),
            Some(work) = retry_rx.recv() => gc.enqueue(work),
            Some((work, result)) = gc.running.next(), if !gc.running.is_empty() => gc.finish(work, result),
        }
        gc.dispatch();
    }
}

async fn discover_forever(client: kube::Client, inputs: mpsc::Sender<Input>) {
    loop {
        match Discovery::new(client.clone()).run().await {
            Ok(discovery) => {
                let mut served = Vec::new();
                for group in discovery.groups() {
                    for (api, caps) in group.recommended_resources() {
                        let usable = [verbs::LIST, verbs::WATCH, verbs::DELETE]
                            .iter()
                            .all(|v| caps.supports_operation(v));
                        if usable {
                            served.push(Served {
                                namespaced: caps.scope == Scope::Namespaced,
                                api,
                            });
                        }
                    }
                }
                if inputs.send(Input::Discovered(served)).await.is_err() {
                    return;
                }
            }
            Err(e) => tracing::debug!("garbage collector: discovery failed: {e}"),
        }
        tokio::time::sleep(REDISCOVER).await;
    }
}

/// Feeds the metadata of every object of a resource to the collector.
async fn watch(client: kube::Client, served: Served, inputs: mpsc::Sender<Input>) {
    let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client, &served.api);
    let resource = key(&served.api);
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(e) => {
                if inputs
                    .send(Input::Watch(resource.clone(), Box::new(e)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => tracing::debug!("garbage collector: watching {resource}: {e}"),
        }
    }
}

fn node_of(
    resource: &str,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<Node> {
    Some(Node {
        uid: meta.uid.clone()?,
        resource: resource.to_string(),
        namespace: meta.namespace.clone(),
        name: meta.name.clone().unwrap_or_default(),
        owners: owners_of(meta),
        deleting: meta.deletion_timestamp.is_some(),
        finalizers: meta.finalizers.clone().unwrap_or_default(),
    })
}

fn owners_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Vec<Owner> {
    meta.owner_references
        .iter()
        .flatten()
        .map(|r| Owner {
            uid: r.uid.clone(),
            api_version: r.api_version.clone(),
            kind: r.kind.clone(),
            name: r.name.clone(),
            block: r.block_owner_deletion == Some(true),
        })
        .collect()
}

impl Collector {
    fn input(&mut self, input: Input) {
        match input {
            Input::Discovered(served) => self.discovered(served),
            Input::Watch(resource, event) => {
                let work = match *event {
                    watcher::Event::Init => {
                        self.graph.relist_start(&resource);
                        Vec::new()
                    }
                    watcher::Event::InitApply(o) | watcher::Event::Apply(o) => {
                        node_of(&resource, &o.metadata)
                            .map_or_else(Vec::new, |n| self.graph.observe(n))
                    }
                    watcher::Event::InitDone => self.graph.relist_done(&resource),
                    watcher::Event::Delete(o) => o
                        .metadata
                        .uid
                        .as_deref()
                        .map_or_else(Vec::new, |uid| self.graph.forget(uid)),
                };
                for w in work {
                    self.enqueue(w);
                }
            }
        }
    }

    fn discovered(&mut self, served: Vec<Served>) {
        let mut resources = Resources::default();
        for s in served {
            let ignored = IGNORED
                .iter()
                .any(|(g, p)| *g == s.api.group && *p == s.api.plural);
            resources
                .by_kind
                .insert((s.api.group.clone(), s.api.kind.clone()), s.clone());
            let k = key(&s.api);
            if !ignored && self.watched.insert(k.clone()) {
                tokio::spawn(watch(self.client.clone(), s.clone(), self.inputs.clone()));
            }
            resources.by_key.insert(k, s);
        }
        self.resources = Arc::new(resources);
    }

    fn enqueue(&mut self, work: Work) {
        if self.queued.insert(work.clone()) {
            self.queue.push_back(work);
        }
    }

    fn dispatch(&mut self) {
        while self.running.len() < WORKERS {
            let Some(work) = self.queue.pop_front() else {
                return;
            };
            self.queued.remove(&work);
            if self.busy.contains(work.uid()) {
                self.deferred.insert(work);
                continue;
            }
            match self.graph.plan(&work) {
                Task::Nothing => {
                    self.attempts.remove(&work);
                }
                Task::Enqueue(more) => more.into_iter().for_each(|w| self.enqueue(w)),
                task => {
                    self.busy.insert(work.uid().to_string());
                    let client = self.client.clone();
                    let resources = self.resources.clone();
                    self.running.push(Box::pin(async move {
                        let result = execute(&client, &resources, task).await;
                        (work, result)
                    }));
                }
            }
        }
    }

    fn finish(&mut self, work: Work, result: Result<Vec<Work>, kube::Error>) {
        self.busy.remove(work.uid());
        let again: Vec<Work> = self
            .deferred
            .iter()
            .filter(|w| w.uid() == work.uid())
            .cloned()
            .collect();
        for w in again {
            self.deferred.remove(&w);
            self.enqueue(w);
        }
        match result {
            Ok(more) => {
                self.attempts.remove(&work);
                more.into_iter().for_each(|w| self.enqueue(w));
            }
            Err(e) => {
                let n = self.attempts.entry(work.clone()).or_insert(0);
                *n += 1;
                let delay =
                    (Duration::from_millis(100) * 2u32.saturating_pow(*n - 1)).min(MAX_BACKOFF);
                tracing::debug!("garbage collector: {work:?} failed ({e}); again in {delay:?}");
                let retries = self.retries.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = retries.send(work).await;
                });
            }
        }
    }
}

fn dynamic(client: &kube::Client, served: &Served, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace.filter(|_| served.namespaced) {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &served.api),
        None => Api::all_with(client.clone(), &served.api),
    }
}

fn metadata(
    client: &kube::Client,
    served: &Served,
    namespace: Option<&str>,
) -> Api<PartialObjectMeta<DynamicObject>> {
    match namespace.filter(|_| served.namespaced) {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &served.api),
        None => Api::all_with(client.clone(), &served.api),
    }
}

/// The object as it is now, if it is still the one `node` describes.
async fn latest(
    client: &kube::Client,
    served: &Served,
    node: &Node,
) -> Result<Option<PartialObjectMeta<DynamicObject>>, kube::Error> {
    let found = metadata(client, served, node.namespace.as_deref())
        .get_opt(&node.name)
        .await?;
    Ok(found.filter(|o| o.metadata.uid.as_deref() == Some(node.uid.as_str())))
}

fn patch_params() -> PatchParams {
    PatchParams {
        field_manager: Some(crate::FIELD_MANAGER.into()),
        ..Default::default()
    }
}

/// A patch that was decided on a stale copy is a conflict: the work is retried on a fresh one.
fn gone_is_fine<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

async fn execute(
    client: &kube::Client,
    resources: &Resources,
    task: Task,
) -> Result<Vec<Work>, kube::Error> {
    match task {
        Task::Nothing => Ok(Vec::new()),
        Task::Enqueue(more) => Ok(more),
        Task::RemoveFinalizer(node, finalizer) => {
            let Some(served) = resources.by_key.get(&node.resource) else {
                return Ok(Vec::new());
            };
            remove_finalizer(client, served, &node, finalizer).await?;
            Ok(Vec::new())
        }
        Task::CheckOwners {
            node,
            has_dependents,
            dependent_deleting_dependents,
        } => {
            check_owners(
                client,
                resources,
                node,
                has_dependents,
                dependent_deleting_dependents,
            )
            .await?;
            Ok(Vec::new())
        }
        Task::Orphan { owner, dependents } => {
            for dependent in &dependents {
                let Some(served) = resources.by_key.get(&dependent.resource) else {
                    continue;
                };
                remove_owner_references(
                    client,
                    served,
                    dependent,
                    std::slice::from_ref(&owner.uid),
                )
                .await?;
            }
            if let Some(served) = resources.by_key.get(&owner.resource) {
                remove_finalizer(client, served, &owner, graph::ORPHAN).await?;
            }
            Ok(Vec::new())
        }
    }
}

async fn remove_finalizer(
    client: &kube::Client,
    served: &Served,
    node: &Node,
    finalizer: &str,
) -> Result<(), kube::Error> {
    let Some(current) = latest(client, served, node).await? else {
        return Ok(());
    };
    let finalizers = current.metadata.finalizers.clone().unwrap_or_default();
    if !finalizers.iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let kept: Vec<&String> = finalizers.iter().filter(|f| *f != finalizer).collect();
    let patch = json!({"metadata": {
        "finalizers": kept,
        "resourceVersion": current.metadata.resource_version,
        "uid": node.uid,
    }});
    let api = dynamic(client, served, node.namespace.as_deref());
    gone_is_fine(
        api.patch(&node.name, &patch_params(), &Patch::Merge(&patch))
            .await,
    )
}

/// Removes the references to `owners` (uids) from the object, or makes every reference
/// non-blocking when `owners` is empty.
async fn rewrite_owner_references(
    client: &kube::Client,
    served: &Served,
    node: &Node,
    rewrite: impl Fn(
        Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
    ) -> Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
) -> Result<(), kube::Error> {
    let Some(current) = latest(client, served, node).await? else {
        return Ok(());
    };
    let refs = current
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default();
    let next = rewrite(refs.clone());
    if next == refs {
        return Ok(());
    }
    let patch = json!({"metadata": {
        "ownerReferences": if next.is_empty() { serde_json::Value::Null } else { json!(next) },
        "resourceVersion": current.metadata.resource_version,
        "uid": node.uid,
    }});
    let api = dynamic(client, served, node.namespace.as_deref());
    gone_is_fine(
        api.patch(&node.name, &patch_params(), &Patch::Merge(&patch))
            .await,
    )
}

async fn remove_owner_references(
    client: &kube::Client,
    served: &Served,
    node: &Node,
    owners: &[String],
) -> Result<(), kube::Error> {
    rewrite_owner_references(client, served, node, |refs| {
        refs.into_iter()
            .filter(|r| !owners.contains(&r.uid))
            .collect()
    })
    .await
}

/// Upstream's classifyReferences for one owner, read live.
async fn owner_state(
    client: &kube::Client,
    resources: &Resources,
    owner: &Owner,
    namespace: Option<&str>,
) -> Result<OwnerState, kube::Error> {
    let Some(served) = resources.resolve(&owner.api_version, &owner.kind) else {
        // A kind the server does not serve: nothing can be said, so nothing is deleted.
        return Ok(OwnerState::Solid);
    };
    if served.namespaced && namespace.is_none() {
        // A cluster-scoped object cannot be owned by a namespaced one.
        return Ok(OwnerState::Dangling);
    }
    let found = metadata(client, served, namespace)
        .get_opt(&owner.name)
        .await?;
    Ok(match found {
        None => OwnerState::Dangling,
        Some(o) if o.metadata.uid.as_deref() != Some(owner.uid.as_str()) => OwnerState::Dangling,
        Some(o) => {
            let waiting = o.metadata.deletion_timestamp.is_some()
                && o.metadata
                    .finalizers
                    .iter()
                    .flatten()
                    .any(|f| f == graph::FOREGROUND);
            if waiting {
                OwnerState::Waiting
            } else {
                OwnerState::Solid
            }
        }
    })
}

async fn check_owners(
    client: &kube::Client,
    resources: &Resources,
    node: Node,
    has_dependents: bool,
    dependent_deleting_dependents: bool,
) -> Result<(), kube::Error> {
    let Some(served) = resources.by_key.get(&node.resource) else {
        return Ok(());
    };
    let Some(current) = latest(client, served, &node).await? else {
        return Ok(());
    };
    let Some(current_node) = node_of(&node.resource, &current.metadata) else {
        return Ok(());
    };
    let mut owners = Vec::new();
    for o in &current_node.owners {
        let state = owner_state(client, resources, o, node.namespace.as_deref()).await?;
        owners.push((o.clone(), state));
    }
    match graph::decide(
        &current_node,
        &owners,
        has_dependents,
        dependent_deleting_dependents,
    ) {
        Decision::Nothing => Ok(()),
        Decision::RemoveOwners(uids) => {
            tracing::debug!(
                "garbage collector: removing owners {uids:?} of {}",
                node.name
            );
            remove_owner_references(client, served, &current_node, &uids).await
        }
        Decision::Delete {
            propagation,
            unblock,
        } => {
            if unblock {
                rewrite_owner_references(client, served, &current_node, |refs| {
                    refs.into_iter()
                        .map(|mut r| {
                            if r.block_owner_deletion == Some(true) {
                                r.block_owner_deletion = Some(false);
                            }
                            r
                        })
                        .collect()
                })
                .await?;
            }
            tracing::debug!(
                "garbage collector: deleting {} {:?}/{} ({})",
                served.api.kind,
                node.namespace,
                node.name,
                propagation.as_str()
            );
            let params = DeleteParams {
                propagation_policy: Some(match propagation {
                    graph::Propagation::Background => PropagationPolicy::Background,
                    graph::Propagation::Foreground => PropagationPolicy::Foreground,
                    graph::Propagation::Orphan => PropagationPolicy::Orphan,
                }),
                preconditions: Some(Preconditions {
                    uid: Some(node.uid.clone()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match dynamic(client, served, node.namespace.as_deref())
                .delete(&node.name, &params)
                .await
            {
                Ok(_) => Ok(()),
                // Gone already, or another object by that name now.
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}
