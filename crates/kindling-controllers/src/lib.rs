//! The controllers of a control-plane node (upstream's kube-controller-manager), each a
//! kube-runtime `Controller` against the API server, through the same client every operator
//! uses: nothing here reaches into the server's store.
//!
//! One module per controller, each with a `run` that reconciles until the process ends; [`run`]
//! starts them all.
//! - [`serviceaccounts`]: a `default` ServiceAccount in every active namespace.
//! - [`bootstrap`]: expired bootstrap-token Secrets deleted (token cleaner); the
//!   `cluster-info` ConfigMap signed with every signing token (bootstrap signer).
//! - [`certificates`]: CSR approval (kubelet client requests) and signing by the cluster CA —
//!   started on its own where the CA key is (`certificates::run`), not by [`run`];
//! - [`rootca`]: the `kube-root-ca.crt` ConfigMap (the cluster CA) in every active namespace.
//! - [`nodelifecycle`]: nodes whose agent went silent turn NotReady (Unknown) and get the
//!   unreachable/not-ready taints; their pods are marked not Ready.
//! - [`tainteviction`]: pods on nodes with NoExecute taints they do not tolerate (or tolerate
//!   for a while) are deleted.
//! - [`replicaset`]: ReplicaSets and ReplicationControllers keep `replicas` pods.
//! - [`deployment`]: Deployments roll their pod template out through replica sets.
//! - [`statefulset`]: StatefulSets keep pods with stable names and claims, in order.
//! - [`daemonset`]: DaemonSets run one pod on every node that should run it.
//! - [`job`]: Jobs run pods to completion (counted through the tracking finalizer).
//! - [`cronjob`]: CronJobs create Jobs on their schedule.
//! - [`ttlafterfinished`]: finished Jobs with ttlSecondsAfterFinished are deleted that long
//!   after finishing.
//! - [`disruption`]: PodDisruptionBudgets' status (what evictions may take).
//! - [`resourcequota`]: ResourceQuotas' status (hard and used).
//! - [`persistentvolume`]: claims bind to volumes (or wait for the first consumer, or ask a
//!   provisioner), volumes follow their claims and reclaim policy, expansion; the pvc- and
//!   pv-protection finalizers are released once nothing uses the object.
//! - [`localpath`]: the `rancher.io/local-path` provisioner's volumes for claims of the
//!   default class, on the node the scheduler selected.
//! - [`ephemeral`]: the claims of pods' generic ephemeral volumes.
//! - [`garbagecollector`]: dependents of deleted owners go; foreground and orphan deletions
//!   are finished.
//! - [`endpointslice`]: EndpointSlices of every Service with a selector (its pods).
//! - [`endpoints`]: the Endpoints object of every Service with a selector.
//! - [`endpointslicemirroring`]: EndpointSlices mirroring hand-written Endpoints of Services
//!   without a selector.
//!
//! There is no leader election yet: every control-plane node runs all of them, which is right
//! for one control plane; with several, the workload controllers would act twice (upstream
//! elects one kube-controller-manager through a Lease).
//!
//! [`credentials`]: who each controller is to the API server ([`run_as`] with
//! [`credentials::Clients`]; those in [`OWN_IDENTITIES`] as their service accounts).
//!
//! [`metrics`]: kube-controller-manager's workqueue metrics of the reconciles (served on
//! :10257 by `kindling node`).
//!
//! Shared: [`informer`] (one pod watch and cache for every controller that follows pods, as
//! upstream's shared informer). Shared, without IO: [`pods`] (active, ready, available, scale-down order), [`owners`]
//! (controller references, adoption and release), [`history`] (ControllerRevisions of
//! StatefulSets and DaemonSets) and [`slices`] (desired vs existing
//! EndpointSlices → creates, updates, deletes); `servicepods` feeds the two pod-driven
//! controllers from one pod watch.

pub mod bootstrap;
pub mod certificates;
pub mod credentials;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod endpointslice;
pub mod endpointslicemirroring;
pub mod ephemeral;
pub mod garbagecollector;
pub mod history;
pub mod informer;
pub mod job;
pub mod localpath;
pub mod metrics;
pub mod nodelifecycle;
pub mod owners;
pub mod persistentvolume;
pub mod pods;
pub mod replicaset;
pub mod resourcequota;
pub mod rootca;
pub mod serviceaccounts;
mod servicepods;
pub mod slices;
pub mod statefulset;
pub mod tainteviction;
pub mod ttlafterfinished;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::Resource;
use serde_json::Value;
use std::time::Duration;

/// What the controllers need besides a client.
#[derive(Clone, Debug)]
pub struct Config {
    /// The cluster CA certificate (PEM) that pods are given to verify the API server.
    pub root_ca_pem: String,
}

/// The name controllers write with (managedFields), as upstream's.
pub const FIELD_MANAGER: &str = "kube-controller-manager";

/// The controllers that talk as their own service account (`kube-system/<name>`, see
/// [`credentials`]) where the controller manager uses service-account credentials, with the
/// names upstream's kube-controller-manager asks its client builder for (the taint eviction
/// controller uses `node-controller`'s, as upstream's; the CSR approver, signer and cleaner
/// share `certificate-controller`). Each one's every request is within upstream's
/// `system:controller:<name>` role; what it reads through the controller manager's shared
/// informers (pods, namespaces, leases …) it reads as `system:kube-controller-manager`
/// ([`credentials::Clients::shared`]). The local-path provisioner, a separate deployment with
/// its own account in kind, is given its client under [`localpath::IDENTITY`].
pub const OWN_IDENTITIES: &[&str] = &[
    "replicaset-controller",
    "replication-controller",
    "deployment-controller",
    "job-controller",
    "cronjob-controller",
    "ttl-after-finished-controller",
    "disruption-controller",
    "statefulset-controller",
    "daemon-set-controller",
    "generic-garbage-collector",
    "service-account-controller",
    "root-ca-cert-publisher",
    "node-controller",
    "endpoint-controller",
    "endpointslice-controller",
    "endpointslicemirroring-controller",
    "persistent-volume-binder",
    "pvc-protection-controller",
    "pv-protection-controller",
    "expand-controller",
    "ephemeral-volume-controller",
    "resourcequota-controller",
    bootstrap::TOKEN_CLEANER,
    bootstrap::BOOTSTRAP_SIGNER,
];

/// Runs every controller until the process ends, all with one client.
pub async fn run(client: kube::Client, config: Config) {
    run_as(credentials::Clients::single(client), config).await;
}

/// Runs every controller until the process ends, each with its client from `clients`.
pub async fn run_as(clients: credentials::Clients, config: Config) {
    let shared = clients.shared();
    // One pod watch and cache for every controller that follows pods (upstream's shared
    // informer): subscribed before it starts, so none misses a change.
    let mut pods = informer::PodInformer::new();
    let replica_sets = replicaset::run_as(
        clients.of("replicaset-controller"),
        clients.of("replication-controller"),
        &mut pods,
    );
    let stateful_sets = statefulset::run(clients.of("statefulset-controller"), &mut pods);
    let daemon_sets = daemonset::run(clients.of("daemon-set-controller"), &mut pods);
    let jobs = job::run(clients.of("job-controller"), &mut pods);
    let budgets = disruption::run(clients.of("disruption-controller"), &mut pods);
    let service_endpoints = run_service_endpoints_as(&clients, &mut pods);
    let storage = run_storage_as(&clients, &mut pods);
    let quotas = resourcequota::run(clients.of("resourcequota-controller"), &mut pods);
    tokio::join!(
        pods.run(shared.clone()),
        service_endpoints,
        serviceaccounts::run_as(shared.clone(), clients.of("service-account-controller")),
        nodelifecycle::run_as(
            shared.clone(),
            clients.of("node-controller"),
            nodelifecycle::Settings::default()
        ),
        tainteviction::run(clients.of("node-controller")),
        replica_sets,
        deployment::run(clients.of("deployment-controller")),
        stateful_sets,
        daemon_sets,
        jobs,
        cronjob::run(clients.of("cronjob-controller")),
        ttlafterfinished::run(clients.of("ttl-after-finished-controller")),
        budgets,
        quotas,
        garbagecollector::run(clients.of("generic-garbage-collector")),
        storage,
        rootca::run_as(
            shared,
            clients.of("root-ca-cert-publisher"),
            config.root_ca_pem
        ),
        bootstrap::run_token_cleaner(clients.of(bootstrap::TOKEN_CLEANER)),
        bootstrap::run_bootstrap_signer(clients.of(bootstrap::BOOTSTRAP_SIGNER)),
    );
}

/// The Endpoints, EndpointSlice and mirroring controllers (and the Service watch the first two
/// share), on the shared pod watch: subscribed now, run by the returned future.
pub fn run_service_endpoints(
    client: kube::Client,
    pods: &mut informer::PodInformer,
) -> impl std::future::Future<Output = ()> + Send {
    run_service_endpoints_as(&credentials::Clients::single(client), pods)
}

/// [`run_service_endpoints`] with each controller's own client; the Service watch they share
/// is the controller manager's.
pub fn run_service_endpoints_as(
    clients: &credentials::Clients,
    pods: &mut informer::PodInformer,
) -> impl std::future::Future<Output = ()> + Send {
    let mut service_pods = servicepods::ServicePods::new(pods);
    let endpoint_slices =
        endpointslice::run(clients.of("endpointslice-controller"), &mut service_pods);
    let endpoints = endpoints::run(clients.of("endpoint-controller"), &mut service_pods);
    let mirroring = endpointslicemirroring::run(
        clients.of("endpointslicemirroring-controller"),
        &mut service_pods,
    );
    let shared = clients.shared();
    async move {
        tokio::join!(
            service_pods.run(shared),
            endpoint_slices,
            endpoints,
            mirroring
        );
    }
}

/// Every `K` of the cluster, cached: the cache, and the objects as they change (a trigger for
/// `Controller::watches_stream`), written to the cache before they are handed on.
pub(crate) fn cached_watch<K>(
    client: &kube::Client,
) -> (
    kube::runtime::reflector::Store<K>,
    impl futures::Stream<Item = Result<K, kube::runtime::watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    cached_watch_with(client, Default::default())
}

/// [`cached_watch`] of the `K`s `config` selects.
pub(crate) fn cached_watch_with<K>(
    client: &kube::Client,
    config: kube::runtime::watcher::Config,
) -> (
    kube::runtime::reflector::Store<K>,
    impl futures::Stream<Item = Result<K, kube::runtime::watcher::Error>> + Send + 'static,
)
where
    K: Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    use kube::runtime::WatchStreamExt;
    let (store, writer) = kube::runtime::reflector::store();
    let changes = kube::runtime::watcher(Api::<K>::all(client.clone()), config)
        .default_backoff()
        .reflect(writer)
        .touched_objects();
    (store, changes)
}

/// At most this many requests of one burst (a batch of pod creations, a scale-down) are in
/// flight at once. kube's client speaks HTTP/1.1, so each concurrent request takes a connection
/// of its own, which the pool then keeps: a 500-pod batch would open and hold 500 TLS
/// connections (upstream's client multiplexes the burst over one HTTP/2 connection).
const BURST_CONNECTIONS: usize = 16;

/// Runs `requests` with at most [`BURST_CONNECTIONS`] in flight; the results in their order.
/// (The requests are collected first: a future that held the caller's mapping closure would
/// not be `Send` for every lifetime its argument could have.)
pub(crate) fn in_parallel<F: std::future::Future>(
    requests: impl IntoIterator<Item = F>,
) -> impl std::future::Future<Output = Vec<F::Output>> {
    use futures::StreamExt;
    let requests: Vec<F> = requests.into_iter().collect();
    futures::stream::iter(requests)
        .buffered(BURST_CONNECTIONS)
        .collect()
}

/// The storage controllers — the PV controller (with claim and volume protection), the
/// local-path provisioner's control-plane half and the ephemeral volume controller — on the
/// shared pod watch: subscribed now, run by the returned future.
pub fn run_storage(
    client: kube::Client,
    pods: &mut informer::PodInformer,
) -> impl std::future::Future<Output = ()> + Send {
    run_storage_as(&credentials::Clients::single(client), pods)
}

/// [`run_storage`] with each controller's own client (the local-path provisioner's under
/// [`localpath::IDENTITY`]).
pub fn run_storage_as(
    clients: &credentials::Clients,
    pods: &mut informer::PodInformer,
) -> impl std::future::Future<Output = ()> + Send {
    let volume_clients = persistentvolume::Clients {
        binder: clients.of("persistent-volume-binder"),
        pvc_protection: clients.of("pvc-protection-controller"),
        pv_protection: clients.of("pv-protection-controller"),
        expander: clients.of("expand-controller"),
    };
    let volumes = persistentvolume::run(volume_clients, pods);
    let ephemeral = ephemeral::run(clients.of("ephemeral-volume-controller"), pods);
    let provisioner = clients.of(localpath::IDENTITY);
    async move {
        tokio::join!(volumes, localpath::run(provisioner), ephemeral);
    }
}

/// A reconcile failure; the object is looked at again shortly.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// An orphan could not be adopted: the owner is gone or going.
    #[error("cannot adopt: {0}")]
    Adoption(String),
    /// Anything else that makes a reconcile try again.
    #[error("{0}")]
    Retry(String),
}

/// How soon a failed reconcile is retried.
const RETRY: Duration = Duration::from_secs(1);

fn retry_on_error<K>(_: std::sync::Arc<K>, error: &Error, _: std::sync::Arc<impl Sized>) -> Action {
    tracing::debug!("reconcile failed, retrying: {error}");
    Action::requeue(RETRY)
}

/// Sends an adoption or release patch. A vanished object is not an error (nothing to claim).
pub(crate) async fn send_claim<K>(
    api: &Api<K>,
    name: &str,
    patch: &Value,
) -> Result<bool, kube::Error>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    match api.patch(name, &params, &Patch::Strategic(patch)).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Namespaces that take new objects: not being deleted.
fn is_active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
}

/// A create that lost a race (someone else made it, or the namespace is going away) is done.
fn created_or_moot<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if matches!(e.code, 403 | 404 | 409) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A delete of something already gone is done.
fn deleted_or_gone<T>(result: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// `obj` with the JSON merge patch `patch` applied: what a controller sends as an update where
/// upstream's reads, changes and updates (its role has `update`, not `patch`). The object's
/// resourceVersion goes with it, so a change made meanwhile is a conflict, tried again from the
/// cache.
pub(crate) fn merged<K>(obj: &K, patch: &Value) -> Result<K, kube::Error>
where
    K: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut value = serde_json::to_value(obj).map_err(kube::Error::SerdeError)?;
    if let Value::Object(p) = patch {
        kindling_api::patch::merge::merge_object(&mut value, p.clone());
    }
    serde_json::from_value(value).map_err(kube::Error::SerdeError)
}

/// The parameters of a controller's update.
pub(crate) fn update_params() -> kube::api::PostParams {
    kube::api::PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}
