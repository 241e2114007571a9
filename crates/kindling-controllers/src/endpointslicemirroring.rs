//! The EndpointSlice mirroring controller (upstream pkg/controller/endpointslicemirroring): a
//! Service without a selector whose user wrote its Endpoints by hand gets EndpointSlices that
//! say the same, so that consumers of slices (the service proxy, DNS) see them. Slices are
//! labelled `endpointslice.kubernetes.io/managed-by: endpointslicemirroring-controller.k8s.io`
//! and owned by the Endpoints; Endpoints labelled `endpointslice.kubernetes.io/skip-mirror:
//! true` (the API server's own, for `kubernetes`) are left alone.
//!
//! What the slices should be is decided without IO ([`desired`], then
//! [`crate::slices::plan`]).

use crate::servicepods::{self, ServicePods};
use crate::slices::{self, Desired, Group, LABEL_MANAGED_BY, LABEL_SERVICE_NAME};
use crate::{Error, FIELD_MANAGER};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints, Service};
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

/// The managed-by value of mirrored slices.
pub const CONTROLLER_NAME: &str = "endpointslicemirroring-controller.k8s.io";
pub const LABEL_SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";
/// Upstream's `--mirroring-max-endpoints-per-subset`: addresses of a subset beyond it are not
/// mirrored.
pub const MAX_ENDPOINTS_PER_SUBSET: usize = 1000;
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

struct Context {
    client: kube::Client,
    recorder: Recorder,
}

/// Runs the controller; `hub` tells of deleted Services.
pub(crate) fn run(
    client: kube::Client,
    hub: &mut ServicePods,
) -> impl std::future::Future<Output = ()> {
    let mut deleted = hub.subscribe_deletions();
    let services = hub.services();
    let context = Arc::new(Context {
        client: client.clone(),
        recorder: Recorder::spawn(
            client.clone(),
            Reporter::control_plane("endpointslicemirroring-controller"),
            4,
        ),
    });
    let mirrored =
        watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={CONTROLLER_NAME}"));
    let controller = Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches(
        Api::<Endpoints>::all(client.clone()),
        watcher::Config::default(),
        |ep| {
            let ns = ep.namespace()?;
            Some(ObjectRef::<Service>::new(&ep.name_any()).within(&ns))
        },
    )
    .watches(
        Api::<EndpointSlice>::all(client.clone()),
        mirrored,
        |slice| {
            let ns = slice.namespace()?;
            let service = slice.labels().get(LABEL_SERVICE_NAME)?.clone();
            Some(ObjectRef::<Service>::new(&service).within(&ns))
        },
    )
    .run(
        crate::metrics::measured("endpoint_slice_mirroring", reconcile),
        crate::retry_on_error,
        context,
    );
    async move {
        let cleanup = async move {
            if kindling_reflect::ready(&services).await.is_ok() {
                sweep_orphans(&client, &services).await;
            }
            while let Some(svc) = deleted.recv().await {
                if let Err(e) = delete_all(&client, &svc).await {
                    tracing::debug!("mirrored endpointslices of deleted {svc}: {e}");
                }
            }
        };
        tokio::join!(controller.for_each(|_| async {}), cleanup);
    }
}

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
    let endpoints = if servicepods::selector(&svc).is_some() {
        None
    } else {
        Api::<Endpoints>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&name)
            .await?
            .filter(|ep| ep.labels().get(LABEL_SKIP_MIRROR).map(String::as_str) != Some("true"))
    };
    let plan = match &endpoints {
        Some(ep) => slices::plan(&desired(ep), &existing, None),
        // Nothing (more) to mirror: a selector came, or the Endpoints went.
        None => slices::Plan {
            delete: existing,
            ..Default::default()
        },
    };
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    let result: Result<(), kube::Error> = async {
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
    .await;
    if let Err(e) = result {
        if let Some(ep) = &endpoints {
            ctx.recorder.warning(
                kindling_events::reference(ep),
                "FailedToUpdateEndpointSlices",
                "",
                format!("Error updating EndpointSlices for Endpoints {ns}/{name}: {e}"),
            );
        }
        return Err(e.into());
    }
    Ok(Action::await_change())
}

/// The slices that mirror `ep`.
pub fn desired(ep: &Endpoints) -> Desired {
    let name = ep.name_any();
    let mut labels: BTreeMap<String, String> = ep.labels().clone();
    labels.insert(LABEL_SERVICE_NAME.into(), name.clone());
    labels.insert(LABEL_MANAGED_BY.into(), CONTROLLER_NAME.into());
    let mut annotations: BTreeMap<String, String> = ep.annotations().clone();
    annotations.remove(slices::TRIGGER_TIME_ANNOTATION);
    annotations.remove(LAST_APPLIED);
    let template = EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(crate::endpointslice::slice_prefix(&name)),
            namespace: ep.namespace(),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Endpoints".into(),
                name,
                uid: ep.uid().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        address_type: "IPv4".into(),
        endpoints: Vec::new(),
        ports: None,
    };
    let groups = ep
        .subsets
        .iter()
        .flatten()
        .map(|subset| {
            let ports: Vec<EndpointPort> = subset
                .ports
                .iter()
                .flatten()
                .map(|p| EndpointPort {
                    name: Some(p.name.clone().unwrap_or_default()),
                    port: Some(p.port),
                    protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    app_protocol: p.app_protocol.clone(),
                })
                .collect();
            let ready = subset.addresses.iter().flatten().map(|a| (a, true));
            let not_ready = subset
                .not_ready_addresses
                .iter()
                .flatten()
                .map(|a| (a, false));
            let endpoints = ready
                .chain(not_ready)
                .filter_map(|(a, ready)| endpoint(a, ready))
                .take(MAX_ENDPOINTS_PER_SUBSET)
                .collect();
            Group { ports, endpoints }
        })
        .collect();
    Desired {
        template,
        groups,
        max_endpoints: crate::endpointslice::MAX_ENDPOINTS_PER_SLICE,
    }
}

/// An address as a slice endpoint; `None` for what is not an IPv4 address (slices of other
/// address types are not made).
fn endpoint(address: &EndpointAddress, ready: bool) -> Option<Endpoint> {
    let ip: std::net::Ipv4Addr = address.ip.parse().ok()?;
    Some(Endpoint {
        addresses: vec![ip.to_string()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            ..Default::default()
        }),
        target_ref: address.target_ref.clone(),
        node_name: address.node_name.clone(),
        hostname: address.hostname.clone().filter(|h| !h.is_empty()),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn manual_endpoints_are_mirrored_per_subset() {
        let ep: Endpoints = serde_json::from_value(json!({
            "metadata": {"name": "db", "namespace": "default", "uid": "ep-uid",
                         "labels": {"team": "data"},
                         "annotations": {LAST_APPLIED: "{}", "note": "by hand"}},
            "subsets": [{
                "addresses": [{"ip": "192.168.1.10"}, {"ip": "fe80::1"}],
                "notReadyAddresses": [{"ip": "192.168.1.11"}],
                "ports": [{"name": "pg", "port": 5432}],
            }],
        }))
        .unwrap();
        let d = desired(&ep);
        let t = &d.template;
        assert_eq!(t.metadata.generate_name.as_deref(), Some("db-"));
        let labels = t.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[LABEL_MANAGED_BY], CONTROLLER_NAME);
        assert_eq!(labels[LABEL_SERVICE_NAME], "db");
        assert_eq!(labels["team"], "data");
        let annotations = t.metadata.annotations.as_ref().unwrap();
        assert_eq!(annotations.len(), 1);
        assert_eq!(annotations["note"], "by hand");
        assert_eq!(
            t.metadata.owner_references.as_ref().unwrap()[0].kind,
            "Endpoints"
        );
        assert_eq!(d.groups.len(), 1);
        assert_eq!(
            serde_json::to_value(&d.groups[0].endpoints).unwrap(),
            json!([{"addresses": ["192.168.1.10"], "conditions": {"ready": true}},
                   {"addresses": ["192.168.1.11"], "conditions": {"ready": false}}])
        );
        assert_eq!(
            serde_json::to_value(&d.groups[0].ports).unwrap(),
            json!([{"name": "pg", "port": 5432, "protocol": "TCP"}])
        );
        let plan = slices::plan(&d, &[], None);
        assert_eq!(plan.create.len(), 1);
    }
}
