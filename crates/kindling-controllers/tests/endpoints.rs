//! The Endpoints, EndpointSlice and mirroring controllers against a real API server on
//! 127.0.0.1: pods (their status written as a kubelet would) selected by a Service show up in
//! its Endpoints and EndpointSlices, follow readiness, label changes and deletion, the objects
//! settle (no write loop), go with the Service, and hand-written Endpoints of a selector-less
//! Service are mirrored into slices.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;

use common::eventually;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use std::time::Duration;

/// Runs `body` against a fresh API server with the service endpoints controllers.
fn with_server<F, Fut>(body: F)
where
    F: FnOnce(kube::Client) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    common::with_server(|client| async move {
        let mut pods = kindling_controllers::informer::PodInformer::new();
        let endpoints = kindling_controllers::run_service_endpoints(client.clone(), &mut pods);
        let informer = pods.run(client.clone());
        let controllers = tokio::spawn(async move {
            tokio::join!(informer, endpoints);
        });
        body(client).await;
        controllers.abort();
    });
}

/// A pod as the kubelet reports it: Running with an IP, Ready or not.
async fn running_pod(pods: &Api<Pod>, name: &str, ip: &str, ready: bool) {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"automountServiceAccountToken": false, "containers": [{"name": "c", "image": "busybox",
                 "ports": [{"name": "http", "containerPort": 8080}]}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    set_ready(pods, name, ip, ready).await;
}

async fn set_ready(pods: &Api<Pod>, name: &str, ip: &str, ready: bool) {
    let status = json!({"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"},
                        "lastTransitionTime": common::now()}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// (ready IPs, not-ready IPs) of the Endpoints.
async fn endpoint_ips(api: &Api<Endpoints>, name: &str) -> Option<(Vec<String>, Vec<String>)> {
    let ep = api.get_opt(name).await.unwrap()?;
    let mut ready = Vec::new();
    let mut not_ready = Vec::new();
    for s in ep.subsets.iter().flatten() {
        ready.extend(s.addresses.iter().flatten().map(|a| a.ip.clone()));
        not_ready.extend(s.not_ready_addresses.iter().flatten().map(|a| a.ip.clone()));
    }
    ready.sort();
    not_ready.sort();
    Some((ready, not_ready))
}

/// `ip=ready` of every endpoint in the Service's controller-made slices.
async fn slice_endpoints(api: &Api<EndpointSlice>, service: &str) -> Vec<String> {
    let params = ListParams::default().labels(&format!(
        "kubernetes.io/service-name={service},endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io"
    ));
    let mut v: Vec<String> = api
        .list(&params)
        .await
        .unwrap()
        .items
        .iter()
        .flat_map(|s| s.endpoints.clone())
        .map(|e| {
            format!(
                "{}={}",
                e.addresses[0],
                e.conditions.and_then(|c| c.ready).unwrap_or(false)
            )
        })
        .collect();
    v.sort();
    v
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

#[test]
fn services_with_selectors_get_endpoints_and_slices_that_follow_their_pods() {
    with_server(|client| async move {
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let services: Api<Service> = Api::namespaced(client.clone(), "default");
        let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
        let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
        running_pod(&pods, "a", "10.244.1.2", true).await;
        running_pod(&pods, "b", "10.244.2.2", false).await;
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "web", "labels": {"tier": "front"}},
            "spec": {"selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        }))
        .unwrap();
        services.create(&PostParams::default(), &svc).await.unwrap();

        eventually("endpoints of web", || async {
            endpoint_ips(&endpoints, "web").await
                == Some((strings(&["10.244.1.2"]), strings(&["10.244.2.2"])))
        })
        .await;
        eventually("slices of web", || async {
            slice_endpoints(&slices, "web").await
                == strings(&["10.244.1.2=true", "10.244.2.2=false"])
        })
        .await;
        let ep = endpoints.get("web").await.unwrap();
        assert!(ep
            .annotations()
            .contains_key("endpoints.kubernetes.io/last-change-trigger-time"));
        assert_eq!(
            ep.subsets.as_ref().unwrap()[0].ports.as_ref().unwrap()[0].port,
            8080
        );
        let all = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
            .await
            .unwrap()
            .items;
        assert_eq!(all.len(), 1);
        let slice = &all[0];
        assert!(slice.name_any().starts_with("web-"), "{}", slice.name_any());
        assert_eq!(slice.labels()["tier"], "front");
        assert_eq!(
            slice.metadata.owner_references.as_ref().unwrap()[0].kind,
            "Service"
        );
        let port = &slice.ports.as_ref().unwrap()[0];
        assert_eq!(
            (port.name.as_deref(), port.port),
            (Some("http"), Some(8080))
        );

        // Settled: nothing is rewritten while nothing changes.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let versions = |ep: &Endpoints, s: &[EndpointSlice]| {
            (
                ep.resource_version(),
                s.iter()
                    .map(ResourceExt::resource_version)
                    .collect::<Vec<_>>(),
            )
        };
        let list = || async {
            slices
                .list(&ListParams::default().labels("kubernetes.io/service-name=web"))
                .await
                .unwrap()
                .items
        };
        let before = versions(&endpoints.get("web").await.unwrap(), &list().await);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let after = versions(&endpoints.get("web").await.unwrap(), &list().await);
        assert_eq!(before, after, "the controllers keep rewriting");

        // b turns Ready.
        set_ready(&pods, "b", "10.244.2.2", true).await;
        let took = eventually("b ready in endpoints", || async {
            endpoint_ips(&endpoints, "web").await
                == Some((strings(&["10.244.1.2", "10.244.2.2"]), vec![]))
                && slice_endpoints(&slices, "web").await
                    == strings(&["10.244.1.2=true", "10.244.2.2=true"])
        })
        .await;
        eprintln!("readiness change reflected in {took:?}");

        // a's labels stop matching: it leaves.
        pods.patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"app": "other"}}})),
        )
        .await
        .unwrap();
        eventually("a gone after relabel", || async {
            endpoint_ips(&endpoints, "web").await == Some((strings(&["10.244.2.2"]), vec![]))
                && slice_endpoints(&slices, "web").await == strings(&["10.244.2.2=true"])
        })
        .await;

        // b is deleted (graceful): it is terminating at once, then gone.
        pods.delete("b", &DeleteParams::default()).await.unwrap();
        let took = eventually("b gone after delete", || async {
            endpoint_ips(&endpoints, "web").await == Some((vec![], vec![]))
                && !slice_endpoints(&slices, "web")
                    .await
                    .contains(&"10.244.2.2=true".to_string())
        })
        .await;
        eprintln!("pod deletion reflected in {took:?}");
        pods.delete("b", &DeleteParams::default().grace_period(0))
            .await
            .ok();
        eventually("placeholder slice", || async {
            let s = list().await;
            s.len() == 1 && s[0].endpoints.is_empty()
        })
        .await;

        // The Service goes: so do its Endpoints and slices.
        services
            .delete("web", &DeleteParams::default())
            .await
            .unwrap();
        eventually("cleanup after service delete", || async {
            endpoints.get_opt("web").await.unwrap().is_none() && list().await.is_empty()
        })
        .await;

        // The API server's own `kubernetes` Service is left alone: its slice is the server's.
        let k = slices
            .list(&ListParams::default().labels("kubernetes.io/service-name=kubernetes"))
            .await
            .unwrap()
            .items;
        assert_eq!(k.len(), 1, "{k:?}");
        assert_eq!(k[0].name_any(), "kubernetes");
        assert!(!k[0]
            .labels()
            .contains_key("endpointslice.kubernetes.io/managed-by"));
    });
}

#[test]
fn hand_written_endpoints_are_mirrored() {
    with_server(|client| async move {
        let services: Api<Service> = Api::namespaced(client.clone(), "default");
        let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
        let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");
        let svc: Service = serde_json::from_value(json!({
            "metadata": {"name": "db"},
            "spec": {"ports": [{"name": "pg", "port": 5432}]},
        }))
        .unwrap();
        services.create(&PostParams::default(), &svc).await.unwrap();
        let ep: Endpoints = serde_json::from_value(json!({
            "metadata": {"name": "db"},
            "subsets": [{"addresses": [{"ip": "192.168.10.5"}], "ports": [{"name": "pg", "port": 5432}]}],
        }))
        .unwrap();
        endpoints.create(&PostParams::default(), &ep).await.unwrap();
        let mirrored = ListParams::default().labels(
            "kubernetes.io/service-name=db,endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io",
        );
        eventually("mirrored slice", || async {
            let s = slices.list(&mirrored).await.unwrap().items;
            s.len() == 1
                && s[0].endpoints.len() == 1
                && s[0].endpoints[0].addresses == ["192.168.10.5"]
        })
        .await;
        // The Endpoints controller does not touch a selector-less Service's Endpoints.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ep = endpoints.get("db").await.unwrap();
        assert_eq!(
            ep.subsets.unwrap()[0].addresses.as_ref().unwrap()[0].ip,
            "192.168.10.5"
        );
        // An edit is mirrored, the Endpoints' removal removes the slice.
        endpoints
            .patch(
                "db",
                &PatchParams::default(),
                &Patch::Merge(&json!({"subsets": [{"addresses": [{"ip": "192.168.10.6"}],
                                                    "ports": [{"name": "pg", "port": 5432}]}]})),
            )
            .await
            .unwrap();
        eventually("mirrored edit", || async {
            let s = slices.list(&mirrored).await.unwrap().items;
            s.len() == 1
                && s[0].endpoints.len() == 1
                && s[0].endpoints[0].addresses == ["192.168.10.6"]
        })
        .await;
        endpoints
            .delete("db", &DeleteParams::default())
            .await
            .unwrap();
        eventually("mirror removed", || async {
            slices.list(&mirrored).await.unwrap().items.is_empty()
        })
        .await;
    });
}
