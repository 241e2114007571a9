//! The disruption controller (upstream pkg/controller/disruption): every PodDisruptionBudget's
//! status — how many pods it expects, how many are healthy, how many it needs healthy, how many
//! may be disrupted now — which the eviction subresource reads and charges.
//!
//! A budget is synced when it changes and when a pod it selects does; it is looked at again
//! when an approved eviction's pod should have been deleted by then (`disruptedPods`). The
//! status is written with its resourceVersion (a compare-and-swap): an eviction that charged
//! the budget meanwhile makes the write fail and the sync run again on the newer budget.
//! [`plan`] decides; this module looks up the pods' controllers and writes.

pub mod plan;

use crate::informer::{self, PodChange, PodInformer};
use crate::{owners, retry_on_error, Error, FIELD_MANAGER};
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kindling_api::disruption;
use kindling_events::{Recorder, Reporter};
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use plan::Scale;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

struct Context {
    client: kube::Client,
    pods: Store<Pod>,
    recorder: Recorder,
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
    let controller = Controller::new(
        Api::<PodDisruptionBudget>::all(client.clone()),
        watcher::Config::default(),
    );
    let budgets = controller.store();
    let ctx = Arc::new(Context {
        recorder: Recorder::spawn(
            client.clone(),
            Reporter::control_plane("controllermanager"),
            4,
        ),
        client,
        pods,
    });
    controller
        .watches_shared_stream(pod_events, move |pod: Arc<Pod>| budgets_of(&budgets, &pod))
        .run(
            crate::metrics::measured("disruption", reconcile),
            retry_on_error,
            ctx,
        )
        .for_each(|_| async {})
        .await;
}

/// The budgets that select `pod`.
fn budgets_of(
    budgets: &Store<PodDisruptionBudget>,
    pod: &Pod,
) -> Vec<ObjectRef<PodDisruptionBudget>> {
    let budgets = budgets.state();
    // Most pods are in namespaces without budgets: no need to turn them into JSON.
    if budgets.is_empty() {
        return Vec::new();
    }
    let Ok(pod) = serde_json::to_value(pod) else {
        return Vec::new();
    };
    budgets
        .iter()
        .filter(|b| serde_json::to_value(b.as_ref()).is_ok_and(|b| disruption::covers(&b, &pod)))
        .map(|b| ObjectRef::from_obj(b.as_ref()))
        .collect()
}

async fn reconcile(pdb: Arc<PodDisruptionBudget>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = pdb.namespace().unwrap_or_default();
    let wire = serde_json::to_value(pdb.as_ref()).map_err(|e| Error::Retry(e.to_string()))?;
    let selector = disruption::budget_selector(&wire);
    let selected: Vec<Arc<Pod>> = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| p.namespace().as_deref() == Some(ns.as_str()))
        .filter(|p| selector.matches(&p.metadata.labels.clone().unwrap_or_default()))
        .collect();
    let pods: Vec<&Pod> = selected.iter().map(AsRef::as_ref).collect();
    let reference = kindling_events::reference(pdb.as_ref());
    if pods.is_empty() {
        ctx.recorder
            .normal(reference.clone(), "NoPods", "", "No matching pods found");
    }
    let spec = pdb.spec.clone().unwrap_or_default();
    let counts = match scales(&ctx.client, &ns, &pods).await {
        Ok(scales) => plan::counts(&spec, &pods, &scales),
        Err(e) => Err(crate::replicaset::message(&e)),
    };
    let counts = match counts {
        Ok(c) => c,
        Err(e) => {
            ctx.recorder.warning(
                reference,
                "CalculateExpectedPodCountFailed",
                "",
                format!("Failed to calculate the number of expected pods: {e}"),
            );
            let status = plan::fail_safe(&wire, &e, &now());
            write_status(&ctx.client, &wire, status).await?;
            return Err(Error::Retry(e));
        }
    };
    if !counts.unmanaged.is_empty() {
        ctx.recorder.warning(
            reference,
            "UnmanagedPods",
            "",
            format!(
                "Pods selected by this PodDisruptionBudget (selector: {}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.",
                kindling_api::selector::format_label_selector(wire["spec"].get("selector"))
            ),
        );
    }
    let now_ts = Timestamp::now();
    let recorded: BTreeMap<String, String> = pdb
        .status
        .as_ref()
        .and_then(|s| s.disrupted_pods.as_ref())
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), kindling_api_time(&v.0)))
                .collect()
        })
        .unwrap_or_default();
    let disrupted = plan::disrupted_pods(&pods, &recorded, now_ts);
    for name in &disrupted.not_deleted {
        if let Some(pod) = pods.iter().find(|p| p.name_any() == *name) {
            ctx.recorder.warning(
                kindling_events::reference(*pod),
                "NotDeleted",
                "",
                format!(
                    "Pod was expected by PDB {ns}/{} to be deleted but it wasn't",
                    pdb.name_any()
                ),
            );
        }
    }
    let healthy = plan::current_healthy(&pods, &disrupted.pods, now_ts);
    if let Some(status) = plan::status(&wire, healthy, &counts, &disrupted.pods, &now()) {
        write_status(&ctx.client, &wire, status).await?;
    }
    Ok(match disrupted.recheck {
        Some(at) => Action::requeue(
            Duration::try_from(at.duration_since(now_ts)).unwrap_or(Duration::from_secs(1)),
        ),
        None => Action::await_change(),
    })
}

fn now() -> String {
    kindling_events::timestamp_now()
}

fn kindling_api_time(t: &Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Replaces the status, the budget's resourceVersion as precondition (a 409 means an eviction
/// or a spec change got there first: the sync runs again).
async fn write_status(client: &kube::Client, pdb: &Value, status: Value) -> Result<(), Error> {
    let ns = pdb["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = pdb["metadata"]["name"].as_str().unwrap_or_default();
    let mut next = pdb.clone();
    next["status"] = status;
    let body: PodDisruptionBudget =
        serde_json::from_value(next).map_err(|e| Error::Retry(e.to_string()))?;
    let api: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), ns);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    match api.replace_status(name, &params, &body).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The scale of each distinct controller of the pods (upstream's finders, in their order:
/// ReplicationController, a ReplicaSet's Deployment, a ReplicaSet, a StatefulSet, then any
/// other controller's `scale` subresource), keyed by the pod's controller reference uid.
async fn scales(
    client: &kube::Client,
    ns: &str,
    pods: &[&Pod],
) -> Result<BTreeMap<String, Option<Scale>>, kube::Error> {
    let mut found = BTreeMap::new();
    for pod in pods {
        let Some(r) = owners::controller_of(&pod.metadata) else {
            continue;
        };
        if found.contains_key(&r.uid) {
            continue;
        }
        let scale = scale_of(client, ns, r).await?;
        found.insert(r.uid.clone(), scale);
    }
    Ok(found)
}

fn group_of(r: &OwnerReference) -> &str {
    r.api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// The object `r` names if it is still the one referred to (same uid).
async fn get_same<K>(
    client: &kube::Client,
    ns: &str,
    r: &OwnerReference,
) -> Result<Option<K>, kube::Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    Ok(api
        .get_opt(&r.name)
        .await?
        .filter(|o| o.meta().uid.as_deref() == Some(r.uid.as_str())))
}

async fn scale_of(
    client: &kube::Client,
    ns: &str,
    r: &OwnerReference,
) -> Result<Option<Scale>, kube::Error> {
    let scale = |uid: Option<String>, replicas: Option<i32>| Scale {
        uid: uid.unwrap_or_default(),
        replicas: replicas.unwrap_or(1),
    };
    match (group_of(r), r.kind.as_str()) {
        ("", "ReplicationController") => Ok(get_same::<ReplicationController>(client, ns, r)
            .await?
            .map(|rc| scale(rc.metadata.uid, rc.spec.and_then(|s| s.replicas)))),
        ("apps" | "extensions", "ReplicaSet") => {
            let Some(rs) = get_same::<ReplicaSet>(client, ns, r).await? else {
                return Ok(None);
            };
            match owners::controller_of(&rs.metadata) {
                Some(d) if d.kind == "Deployment" => Ok(get_same::<Deployment>(client, ns, d)
                    .await?
                    .map(|d| scale(d.metadata.uid, d.spec.and_then(|s| s.replicas)))),
                _ => Ok(Some(scale(
                    rs.metadata.uid,
                    rs.spec.and_then(|s| s.replicas),
                ))),
            }
        }
        ("apps", "StatefulSet") => Ok(get_same::<StatefulSet>(client, ns, r)
            .await?
            .map(|s| scale(s.metadata.uid, s.spec.and_then(|s| s.replicas)))),
        _ => scale_subresource(client, ns, r).await,
    }
}

/// Any other controller with a `scale` subresource the server serves.
async fn scale_subresource(
    client: &kube::Client,
    ns: &str,
    r: &OwnerReference,
) -> Result<Option<Scale>, kube::Error> {
    let group = group_of(r);
    let Some(rt) = kindling_api::catalog::builtin_catalog().iter().find(|rt| {
        rt.group == group && rt.kind == r.kind && rt.has(kindling_api::Subresource::Scale)
    }) else {
        return Ok(None);
    };
    let prefix = if group.is_empty() {
        format!("/api/{}", rt.version)
    } else {
        format!("/apis/{group}/{}", rt.version)
    };
    let request = kube::core::Request::new(format!("{prefix}/namespaces/{ns}/{}", rt.plural))
        .get_subresource("scale", &r.name)
        .map_err(kube::Error::BuildRequest)?;
    match client
        .request::<k8s_openapi::api::autoscaling::v1::Scale>(request)
        .await
    {
        Ok(s) if s.metadata.uid.as_deref() == Some(r.uid.as_str()) => Ok(Some(Scale {
            uid: r.uid.clone(),
            replicas: s.spec.and_then(|s| s.replicas).unwrap_or(0),
        })),
        Ok(_) => Ok(None),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(None),
        Err(e) => Err(e),
    }
}
