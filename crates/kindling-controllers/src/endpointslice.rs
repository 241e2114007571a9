//! The EndpointSlice controller (upstream pkg/controller/endpointslice): every Service with a
//! selector has EndpointSlices listing the pods it selects — address, ports (named target ports
//! resolved per pod), ready/serving/terminating, node, the pod as targetRef, the hostname of a
//! pod whose subdomain is the Service. Slices are labelled `kubernetes.io/service-name` and
//! `endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`, owned by the
//! Service, named `<service>-<random>`, hold at most 100 endpoints, and carry the Service's
//! labels (plus `service.kubernetes.io/headless` for a headless one).
//!
//! What the slices should be is decided without IO ([`desired`], then [`crate::slices::plan`]);
//! [`reconcile`] reads, calls them and writes. Service deletions are cleaned up here (no
//! garbage collector runs yet); slices whose Service vanished while the controller was down
//! go at start.

use crate::servicepods::{self, ServicePods};
use crate::slices::{
    self, Desired, Group, Plan, LABEL_HEADLESS, LABEL_MANAGED_BY, LABEL_SERVICE_NAME,
};
use crate::{Error, FIELD_MANAGER};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ObjectReference, Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kindling_events::{Recorder, Reporter};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The managed-by value of this controller's slices.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// Upstream's `--max-endpoints-per-slice` default.
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

struct Context {
    client: kube::Client,
    pods: Store<Pod>,
    recorder: Recorder,
}

/// Runs the controller; `hub` brings the pod changes.
pub(crate) fn run(
    client: kube::Client,
    hub: &mut ServicePods,
) -> impl std::future::Future<Output = ()> {
    let (pod_changes, mut deleted) = servicepods::split(hub.subscribe());
    let pods = hub.pods();
    let services = hub.services();
    let recorder = Recorder::spawn(
        client.clone(),
        Reporter::control_plane("endpoint-slice-controller"),
        4,
    );
    let context = Arc::new(Context {
        client: client.clone(),
        pods,
        recorder,
    });
    let ours = watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={CONTROLLER_NAME}"));
    let controller = Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<EndpointSlice>::all(client.clone()), ours)
    .reconcile_on(pod_changes)
    .run(
        crate::metrics::measured("endpoint_slice", reconcile),
        crate::retry_on_error,
        context,
    );
    let cleanup_client = client.clone();
    async move {
        let cleanup = async move {
            if kindling_reflect::ready(&services).await.is_ok() {
                sweep_orphans(&cleanup_client, &services).await;
            }
            while let Some(svc) = deleted.recv().await {
                if let Err(e) = delete_all(&cleanup_client, &svc).await {
                    tracing::debug!("endpointslices of deleted {svc}: {e}");
                }
            }
        };
        tokio::join!(controller.for_each(|_| async {}), cleanup);
    }
}

/// The label selector of this controller's slices of one Service.
fn slices_of(service: &str) -> ListParams {
    ListParams::default().labels(&format!(
        "{LABEL_SERVICE_NAME}={service},{LABEL_MANAGED_BY}={CONTROLLER_NAME}"
    ))
}

async fn delete_all(client: &kube::Client, svc: &ObjectRef<Service>) -> Result<(), kube::Error> {
    let ns = svc.namespace.as_deref().unwrap_or("default");
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
    for slice in api.list(&slices_of(&svc.name)).await?.items {
        crate::deleted_or_gone(
            api.delete(&slice.name_any(), &DeleteParams::default())
                .await,
        )?;
    }
    Ok(())
}

/// Slices of ours whose Service no longer exists.
async fn sweep_orphans(client: &kube::Client, services: &Store<Service>) {
    let all: Api<EndpointSlice> = Api::all(client.clone());
    let params = ListParams::default().labels(&format!("{LABEL_MANAGED_BY}={CONTROLLER_NAME}"));
    let Ok(list) = all.list(&params).await else {
        return;
    };
    for slice in list.items {
        let ns = slice.namespace().unwrap_or_default();
        let service = slice
            .labels()
            .get(LABEL_SERVICE_NAME)
            .cloned()
            .unwrap_or_default();
        if services
            .get(&ObjectRef::new(&service).within(&ns))
            .is_none()
        {
            let api: Api<EndpointSlice> = Api::namespaced(client.clone(), &ns);
            let _ = api
                .delete(&slice.name_any(), &DeleteParams::default())
                .await;
        }
    }
}

async fn reconcile(svc: Arc<Service>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = svc.namespace().unwrap_or_default();
    let name = svc.name_any();
    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &ns);
    let existing = api.list(&slices_of(&name)).await?.items;
    if servicepods::selector(&svc).is_none() {
        // Not ours to fill (manual Endpoints are mirrored); a selector that went leaves slices.
        for slice in existing {
            crate::deleted_or_gone(
                api.delete(&slice.name_any(), &DeleteParams::default())
                    .await,
            )?;
        }
        return Ok(Action::await_change());
    }
    if svc.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    if kindling_reflect::ready(&ctx.pods).await.is_err() {
        return Ok(Action::await_change());
    }
    let pods = servicepods::selected(&svc, &ctx.pods.state());
    let trigger = crate::endpoints::trigger_time(&svc, &pods).map(crate::endpoints::format_time);
    let plan = slices::plan(&desired(&svc, &pods), &existing, trigger.as_deref());
    if let Err(e) = write(&api, plan).await {
        ctx.recorder.warning(
            kindling_events::reference(&*svc),
            "FailedToUpdateEndpointSlices",
            "",
            format!("Error updating Endpoint Slices for Service {ns}/{name}: {e}"),
        );
        return Err(e.into());
    }
    Ok(Action::await_change())
}

async fn write(api: &Api<EndpointSlice>, plan: Plan) -> Result<(), kube::Error> {
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    for slice in plan.update {
        api.replace(&slice.name_any(), &params, &slice).await?;
    }
    for slice in plan.create {
        crate::created_or_moot(api.create(&params, &slice).await)?;
    }
    for slice in plan.delete {
        crate::deleted_or_gone(
            api.delete(&slice.name_any(), &DeleteParams::default())
                .await,
        )?;
    }
    Ok(())
}

/// The slices a Service should have, given the pods it selects.
pub fn desired(svc: &Service, pods: &[Arc<Pod>]) -> Desired {
    let mut groups: Vec<Group> = Vec::new();
    for pod in pods {
        if !servicepods::belongs_in_endpoints(pod, true) {
            continue;
        }
        let ports = endpoint_ports(svc, pod);
        let endpoint = pod_endpoint(svc, pod);
        match groups.iter_mut().find(|g| g.ports == ports) {
            Some(g) => g.endpoints.push(endpoint),
            None => groups.push(Group {
                ports,
                endpoints: vec![endpoint],
            }),
        }
    }
    Desired {
        template: template(svc),
        groups,
        max_endpoints: MAX_ENDPOINTS_PER_SLICE,
    }
}

/// What every slice of the Service carries.
fn template(svc: &Service) -> EndpointSlice {
    let name = svc.name_any();
    let mut labels: BTreeMap<String, String> = svc
        .labels()
        .iter()
        .filter(|(k, _)| {
            ![LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS].contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if servicepods::is_headless(svc) {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    labels.insert(LABEL_SERVICE_NAME.into(), name.clone());
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(slice_prefix(&name)),
            namespace: svc.namespace(),
            labels: Some(labels),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name,
                uid: svc.uid().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints: Vec::new(),
        ports: None,
    }
}

/// `<service>-`, unless that is too long a name prefix (upstream's getEndpointSlicePrefix).
pub(crate) fn slice_prefix(service: &str) -> String {
    // generateName appends 5 characters; names are at most 253.
    if service.len() + 1 + 5 <= 253 {
        format!("{service}-")
    } else {
        service.to_string()
    }
}

/// The ports the pod serves for the Service: one per Service port whose target the pod has.
fn endpoint_ports(svc: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let spec = svc.spec.as_ref();
    let ports = spec.and_then(|s| s.ports.as_deref()).unwrap_or_default();
    ports
        .iter()
        .filter_map(|p| {
            let port = servicepods::target_port(pod, p)?;
            Some(EndpointPort {
                name: Some(p.name.clone().unwrap_or_default()),
                port: Some(port),
                protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                app_protocol: p.app_protocol.clone(),
            })
        })
        .collect()
}

/// The pod as an endpoint of the Service (upstream's podToEndpoint).
fn pod_endpoint(svc: &Service, pod: &Pod) -> Endpoint {
    let publish = svc
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let serving = crate::pods::is_ready(pod);
    let terminating = pod.metadata.deletion_timestamp.is_some();
    Endpoint {
        addresses: servicepods::pod_ips(pod),
        conditions: Some(EndpointConditions {
            ready: Some(publish || (serving && !terminating)),
            serving: Some(serving),
            terminating: Some(terminating),
        }),
        node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        hostname: servicepods::hostname_for(pod, svc),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: pod.namespace(),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(spec: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid",
                         "labels": {"app": "web", LABEL_MANAGED_BY: "someone"}},
            "spec": spec,
        }))
        .unwrap()
    }

    fn pod(name: &str, ip: &str, ready: bool, extra: serde_json::Value) -> Arc<Pod> {
        let mut p = json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("{name}-uid"),
                         "labels": {"app": "web"}},
            "spec": {"nodeName": "kind-worker", "containers": [{"name": "c", "ports": [
                {"name": "http", "containerPort": 8080}]}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                       "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]},
        });
        merge(&mut p, extra);
        Arc::new(serde_json::from_value(p).unwrap())
    }

    fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
        match (a, b) {
            (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn web() -> Service {
        svc(
            json!({"selector": {"app": "web"}, "clusterIP": "10.96.0.20",
                   "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}),
        )
    }

    #[test]
    fn selected_pods_become_endpoints_with_their_ports_and_conditions() {
        let pods = [
            pod("a", "10.244.1.2", true, json!({})),
            pod("b", "10.244.2.2", false, json!({})),
            pod(
                "gone",
                "10.244.2.3",
                true,
                json!({"status": {"phase": "Succeeded"}}),
            ),
            pod(
                "pending",
                "",
                true,
                json!({"status": {"podIPs": [], "podIP": null}}),
            ),
        ];
        let d = desired(&web(), &pods);
        assert_eq!(d.groups.len(), 1);
        let g = &d.groups[0];
        assert_eq!(
            serde_json::to_value(&g.ports).unwrap(),
            json!([{"name": "http", "port": 8080, "protocol": "TCP"}])
        );
        let eps = serde_json::to_value(&g.endpoints).unwrap();
        assert_eq!(
            eps,
            json!([
                {"addresses": ["10.244.1.2"], "conditions": {"ready": true, "serving": true, "terminating": false},
                 "nodeName": "kind-worker",
                 "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "a-uid"}},
                {"addresses": ["10.244.2.2"], "conditions": {"ready": false, "serving": false, "terminating": false},
                 "nodeName": "kind-worker",
                 "targetRef": {"kind": "Pod", "namespace": "default", "name": "b", "uid": "b-uid"}},
            ])
        );
        let t = &d.template;
        assert_eq!(t.metadata.generate_name.as_deref(), Some("web-"));
        assert_eq!(t.address_type, "IPv4");
        let labels = t.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[LABEL_MANAGED_BY], CONTROLLER_NAME);
        assert_eq!(labels[LABEL_SERVICE_NAME], "web");
        assert_eq!(labels["app"], "web");
        assert!(!labels.contains_key(LABEL_HEADLESS));
        let owner = &t.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("Service", "svc-uid")
        );
    }

    #[test]
    fn terminating_pods_are_serving_but_not_ready_unless_published() {
        let terminating = pod(
            "a",
            "10.244.1.2",
            true,
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
        );
        let d = desired(&web(), std::slice::from_ref(&terminating));
        let c = d.groups[0].endpoints[0].conditions.clone().unwrap();
        assert_eq!(
            (c.ready, c.serving, c.terminating),
            (Some(false), Some(true), Some(true))
        );
        let mut published = web();
        published.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let not_ready = pod("b", "10.244.2.2", false, json!({}));
        let d = desired(&published, &[terminating, not_ready]);
        let ready: Vec<Option<bool>> = d.groups[0]
            .endpoints
            .iter()
            .map(|e| e.conditions.as_ref().unwrap().ready)
            .collect();
        assert_eq!(ready, [Some(true), Some(true)]);
    }

    #[test]
    fn pods_whose_named_port_differs_get_their_own_group() {
        let other = pod(
            "b",
            "10.244.2.2",
            true,
            json!({"spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 9090}]}]}}),
        );
        let none = pod(
            "c",
            "10.244.2.3",
            true,
            json!({"spec": {"containers": [{"name": "c"}]}}),
        );
        let d = desired(
            &web(),
            &[pod("a", "10.244.1.2", true, json!({})), other, none],
        );
        let ports: Vec<Vec<i32>> = d
            .groups
            .iter()
            .map(|g| g.ports.iter().map(|p| p.port.unwrap()).collect())
            .collect();
        // The pod without the named port is still an endpoint, with no ports (as upstream).
        assert_eq!(ports, [vec![8080], vec![9090], vec![]]);
    }

    #[test]
    fn headless_services_are_labelled_and_subdomain_pods_named() {
        let headless = svc(json!({"selector": {"app": "web"}, "clusterIP": "None"}));
        let p = pod(
            "a",
            "10.244.1.2",
            true,
            json!({"spec": {"hostname": "a", "subdomain": "web"}}),
        );
        let d = desired(&headless, &[p]);
        assert!(d
            .template
            .metadata
            .labels
            .as_ref()
            .unwrap()
            .contains_key(LABEL_HEADLESS));
        assert!(d.groups[0].ports.is_empty());
        assert_eq!(d.groups[0].endpoints[0].hostname.as_deref(), Some("a"));
    }
}
