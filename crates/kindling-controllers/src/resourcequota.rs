//! The resource quota controller (upstream pkg/controller/resourcequota): every ResourceQuota's
//! `status.hard` (its spec) and `status.used` (what the namespace's objects use of each tracked
//! resource, `kindling_api::quota::used`).
//!
//! A quota is recomputed when it changes, when a pod, Service, claim, ConfigMap or Secret of
//! its namespace changes (upstream's replenishment), and every 30 s (the object counts of other
//! resources). The status is replaced with the quota's resourceVersion: a charge the admission
//! made meanwhile makes the write fail and the quota is recomputed on the newer version.

use crate::informer::{PodChange, PodInformer};
use crate::{retry_on_error, Error, FIELD_MANAGER};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, ResourceQuota, Secret, Service,
};
use kindling_api::quota;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// How often every quota is recomputed regardless of events.
const RESYNC: Duration = Duration::from_secs(30);

struct Context {
    client: kube::Client,
}

/// Subscribes to the shared pod watch now; the returned future runs the quota controller.
pub fn run(
    client: kube::Client,
    informer: &mut PodInformer,
) -> impl std::future::Future<Output = ()> + Send {
    run_on(client, informer.subscribe())
}

async fn run_on(
    client: kube::Client,
    pod_changes: impl Stream<Item = Arc<PodChange>> + Send + 'static,
) {
    let controller = Controller::new(
        Api::<ResourceQuota>::all(client.clone()),
        watcher::Config::default(),
    );
    let quotas = controller.store();
    let in_ns = move |ns: Option<String>| quotas_in(&quotas, ns);
    let (a, b, c, d) = (in_ns.clone(), in_ns.clone(), in_ns.clone(), in_ns.clone());
    // Pods come from the shared informer (upstream's quota controller uses the shared
    // informers too): a pod's change names its namespace's quotas, without copying the pod.
    let pod_triggers = pod_changes.flat_map(move |change| {
        let quotas = change
            .pod()
            .map(|pod| a(pod.namespace()))
            .unwrap_or_default();
        futures::stream::iter(quotas)
    });
    let config = watcher::Config::default;
    controller
        .reconcile_on(pod_triggers)
        .watches(Api::<Service>::all(client.clone()), config(), move |o| {
            b(o.namespace())
        })
        .watches(
            Api::<PersistentVolumeClaim>::all(client.clone()),
            config(),
            move |o| c(o.namespace()),
        )
        .watches(Api::<ConfigMap>::all(client.clone()), config(), move |o| {
            d(o.namespace())
        })
        .watches(Api::<Secret>::all(client.clone()), config(), move |o| {
            in_ns(o.namespace())
        })
        .run(
            crate::metrics::measured("resourcequota_primary", reconcile),
            retry_on_error,
            Arc::new(Context { client }),
        )
        .for_each(|_| async {})
        .await;
}

fn quotas_in(quotas: &Store<ResourceQuota>, ns: Option<String>) -> Vec<ObjectRef<ResourceQuota>> {
    quotas
        .state()
        .iter()
        .filter(|q| q.namespace() == ns)
        .map(|q| ObjectRef::from_obj(q.as_ref()))
        .collect()
}

async fn reconcile(rq: Arc<ResourceQuota>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = rq.namespace().unwrap_or_default();
    let wire = serde_json::to_value(rq.as_ref()).map_err(|e| Error::Retry(e.to_string()))?;
    let resources: BTreeSet<(String, String)> = wire["spec"]["hard"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| quota::resource_of(k))
        .collect();
    let mut listed: Vec<(&str, &str, Vec<Value>)> = Vec::new();
    for (group, plural) in &resources {
        let Some(rt) = kindling_api::catalog::builtin_catalog().iter().find(|rt| {
            &rt.group == group && &rt.plural == plural && rt.is_stored() && rt.is_storage_entry()
        }) else {
            continue;
        };
        listed.push((&rt.group, &rt.plural, list(&ctx.client, rt, &ns).await?));
    }
    let objects: Vec<(&str, &str, &Value)> = listed
        .iter()
        .flat_map(|(g, p, items)| items.iter().map(move |o| (*g, *p, o)))
        .collect();
    let used = quota::used(&wire, &objects, jiff::Timestamp::now());
    let status = json!({"hard": wire["spec"]["hard"], "used": quota::to_json(&used)});
    if !same_status(&wire["status"], &status) {
        let mut next = wire.clone();
        next["status"] = status;
        let body: ResourceQuota =
            serde_json::from_value(next).map_err(|e| Error::Retry(e.to_string()))?;
        let api: Api<ResourceQuota> = Api::namespaced(ctx.client.clone(), &ns);
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        match api.replace_status(&rq.name_any(), &params, &body).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(Action::await_change()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Action::requeue(RESYNC))
}

/// Equal quantities, whatever their spelling.
fn same_status(current: &Value, desired: &Value) -> bool {
    let parse = |v: &Value| -> Option<Vec<(String, kindling_api::Quantity)>> {
        v.as_object()?
            .iter()
            .map(|(k, q)| Some((k.clone(), kindling_api::Quantity::from_json(q).ok()?)))
            .collect()
    };
    ["hard", "used"]
        .iter()
        .all(|k| parse(&current[*k]).is_some() && parse(&current[*k]) == parse(&desired[*k]))
}

/// Every object of a resource in the namespace, in wire form.
async fn list(
    client: &kube::Client,
    rt: &kindling_api::ResourceType,
    ns: &str,
) -> Result<Vec<Value>, Error> {
    let prefix = if rt.group.is_empty() {
        format!("/api/{}", rt.version)
    } else {
        format!("/apis/{}/{}", rt.group, rt.version)
    };
    let path = if rt.namespaced {
        format!("{prefix}/namespaces/{ns}/{}", rt.plural)
    } else {
        format!("{prefix}/{}", rt.plural)
    };
    let request = kube::core::Request::new(path)
        .list(&Default::default())
        .map_err(kube::Error::BuildRequest)?;
    let list: Value = client.request(request).await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}
