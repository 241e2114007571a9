//! The Endpoints controller (upstream pkg/controller/endpoint): every Service with a selector has
//! an Endpoints object of the same name listing its pods — ready ones under `addresses`, the
//! others under `notReadyAddresses` (all under `addresses` with publishNotReadyAddresses),
//! terminating pods left out — grouped into subsets of the ports they serve, with
//! `endpoints.kubernetes.io/last-change-trigger-time`. `kubectl get endpoints` and `kubectl
//! describe service` read it. A Service without a selector keeps whatever Endpoints its user
//! writes (the `kubernetes` Service's are the API server's).
//!
//! The object is decided without IO ([`desired`]); [`reconcile`] reads, compares and writes.
//! A deleted Service's Endpoints are deleted, as upstream's.

use crate::servicepods::{self, ServicePods};
use crate::slices::LABEL_HEADLESS;
use crate::{Error, FIELD_MANAGER};
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
};
use kindling_events::{Recorder, Reporter};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::sync::Arc;

pub const TRIGGER_TIME_ANNOTATION: &str = crate::slices::TRIGGER_TIME_ANNOTATION;
/// Set when more addresses exist than an Endpoints object carries.
pub const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";
/// Upstream's limit of addresses in one Endpoints object.
pub const MAX_ADDRESSES: usize = 1000;

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
    let services = hub.services();
    let context = Arc::new(Context {
        client: client.clone(),
        pods: hub.pods(),
        recorder: Recorder::spawn(
            client.clone(),
            Reporter::control_plane("endpoint-controller"),
            4,
        ),
    });
    // Someone editing or deleting an Endpoints object brings its Service back.
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
    .reconcile_on(pod_changes)
    .run(
        crate::metrics::measured("endpoint", reconcile),
        crate::retry_on_error,
        context,
    );
    async move {
        let cleanup = async move {
            if kindling_reflect::ready(&services).await.is_ok() {
                sweep_orphans(&client, &services).await;
            }
            while let Some(svc) = deleted.recv().await {
                let ns = svc.namespace.as_deref().unwrap_or("default");
                let api: Api<Endpoints> = Api::namespaced(client.clone(), ns);
                if let Err(e) =
                    crate::deleted_or_gone(api.delete(&svc.name, &DeleteParams::default()).await)
                {
                    tracing::debug!("endpoints of deleted {svc}: {e}");
                }
            }
        };
        tokio::join!(controller.for_each(|_| async {}), cleanup);
    }
}

/// Endpoints this controller wrote (they carry the trigger time) whose Service is gone.
async fn sweep_orphans(client: &kube::Client, services: &Store<Service>) {
    let all: Api<Endpoints> = Api::all(client.clone());
    let Ok(list) = all.list(&ListParams::default()).await else {
        return;
    };
    for ep in list.items {
        let ns = ep.namespace().unwrap_or_default();
        let ours = ep.annotations().contains_key(TRIGGER_TIME_ANNOTATION);
        if ours
            && services
                .get(&ObjectRef::new(&ep.name_any()).within(&ns))
                .is_none()
        {
            let api: Api<Endpoints> = Api::namespaced(client.clone(), &ns);
            let _ = api.delete(&ep.name_any(), &DeleteParams::default()).await;
        }
    }
}

async fn reconcile(svc: Arc<Service>, ctx: Arc<Context>) -> Result<Action, Error> {
    if servicepods::selector(&svc).is_none() || svc.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    if kindling_reflect::ready(&ctx.pods).await.is_err() {
        return Ok(Action::await_change());
    }
    let ns = svc.namespace().unwrap_or_default();
    let name = svc.name_any();
    let pods = servicepods::selected(&svc, &ctx.pods.state());
    let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), &ns);
    let current = api.get_opt(&name).await?;
    let Some(mut next) = desired(&svc, &pods, current.as_ref()) else {
        return Ok(Action::await_change());
    };
    // When the change has no date of its own (a pod that vanished), it happened now.
    let previous = current
        .as_ref()
        .and_then(|c| c.annotations().get(TRIGGER_TIME_ANNOTATION))
        .and_then(|t| t.parse::<Timestamp>().ok());
    let trigger = match (trigger_time(&svc, &pods), previous) {
        (Some(t), Some(p)) if t <= p => Timestamp::now(),
        (Some(t), _) => t,
        (None, _) => Timestamp::now(),
    };
    next.annotations_mut()
        .insert(TRIGGER_TIME_ANNOTATION.into(), format_time(trigger));
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    };
    let result = match current {
        Some(_) => api.replace(&name, &params, &next).await.map(|_| ()),
        None => crate::created_or_moot(api.create(&params, &next).await),
    };
    if let Err(e) = result {
        let reason = if next.metadata.resource_version.is_some() {
            "FailedToUpdateEndpoint"
        } else {
            "FailedToCreateEndpoint"
        };
        ctx.recorder.warning(
            kindling_events::reference(&*svc),
            reason,
            "",
            format!("Failed to update endpoint {ns}/{name}: {e}"),
        );
        return Err(e.into());
    }
    Ok(Action::await_change())
}

/// RFC 3339 with nanoseconds, as upstream writes trigger times.
pub(crate) fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
}

/// When the last change the endpoints reflect happened: the newest of the Service's creation
/// and its pods' creation, readiness change and deletion (upstream's trigger time tracker
/// looks at the same times).
pub(crate) fn trigger_time(svc: &Service, pods: &[Arc<Pod>]) -> Option<Timestamp> {
    let mut times: Vec<Timestamp> = Vec::new();
    times.extend(svc.metadata.creation_timestamp.as_ref().map(|t| t.0));
    for pod in pods {
        times.extend(pod.metadata.creation_timestamp.as_ref().map(|t| t.0));
        times.extend(pod.metadata.deletion_timestamp.as_ref().map(|t| t.0));
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| t.0);
        times.extend(ready);
    }
    times.into_iter().max()
}

/// The Endpoints the Service should have, or `None` when `current` already says it (its
/// subsets, labels and capacity annotation; the trigger time is the caller's).
pub fn desired(svc: &Service, pods: &[Arc<Pod>], current: Option<&Endpoints>) -> Option<Endpoints> {
    let (subsets, truncated) = subsets(svc, pods);
    let mut labels: BTreeMap<String, String> = svc.labels().clone();
    labels.remove(LABEL_HEADLESS);
    if servicepods::is_headless(svc) {
        labels.insert(LABEL_HEADLESS.into(), String::new());
    }
    let mut next = current.cloned().unwrap_or_else(|| Endpoints {
        metadata: ObjectMeta {
            name: Some(svc.name_any()),
            namespace: svc.namespace(),
            ..Default::default()
        },
        ..Default::default()
    });
    let had_capacity = next.annotations().get(OVER_CAPACITY_ANNOTATION).cloned();
    if truncated {
        next.annotations_mut()
            .insert(OVER_CAPACITY_ANNOTATION.into(), "truncated".into());
    } else {
        next.annotations_mut().remove(OVER_CAPACITY_ANNOTATION);
    }
    let same = current.is_some_and(|c| {
        c.subsets.clone().unwrap_or_default() == subsets
            && c.metadata.labels.clone().unwrap_or_default() == labels
            && had_capacity.is_some() == truncated
    });
    if same {
        return None;
    }
    next.metadata.labels = (!labels.is_empty()).then_some(labels);
    next.subsets = (!subsets.is_empty()).then_some(subsets);
    Some(next)
}

/// Ready and not-ready addresses of each port.
#[derive(Default)]
struct Addresses {
    ready: BTreeMap<String, EndpointAddress>,
    not_ready: BTreeMap<String, EndpointAddress>,
}

/// The Service's subsets: each port with the addresses serving it, then ports with the same
/// addresses merged into one subset (upstream's RepackSubsets), sorted. Also whether addresses
/// beyond [`MAX_ADDRESSES`] were left out.
fn subsets(svc: &Service, pods: &[Arc<Pod>]) -> (Vec<EndpointSubset>, bool) {
    let spec = svc.spec.as_ref();
    let publish = spec
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let ports = spec.and_then(|s| s.ports.clone()).unwrap_or_default();
    // Port (None: a headless Service without ports) → addresses.
    let mut by_port: BTreeMap<String, (Option<EndpointPort>, Addresses)> = BTreeMap::new();
    for pod in pods {
        if !servicepods::belongs_in_endpoints(pod, publish) {
            continue;
        }
        let ready = publish || crate::pods::is_ready(pod);
        let serving: Vec<Option<EndpointPort>> = if ports.is_empty() {
            if servicepods::is_headless(svc) {
                vec![None]
            } else {
                Vec::new()
            }
        } else {
            ports
                .iter()
                .filter_map(|p| {
                    Some(Some(EndpointPort {
                        name: p.name.clone().filter(|n| !n.is_empty()),
                        port: servicepods::target_port(pod, p)?,
                        protocol: Some(p.protocol.clone().unwrap_or_else(|| "TCP".into())),
                        app_protocol: p.app_protocol.clone(),
                    }))
                })
                .collect()
        };
        for ip in servicepods::pod_ips(pod).into_iter().take(1) {
            let address = EndpointAddress {
                ip: ip.clone(),
                node_name: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
                hostname: servicepods::hostname_for(pod, svc),
                target_ref: Some(ObjectReference {
                    kind: Some("Pod".into()),
                    namespace: pod.namespace(),
                    name: Some(pod.name_any()),
                    uid: pod.uid(),
                    ..Default::default()
                }),
            };
            let key = format!("{ip}/{}", pod.uid().unwrap_or_default());
            for port in &serving {
                let port_key = port
                    .as_ref()
                    .map(|p| {
                        format!(
                            "{}/{}/{}",
                            p.name.as_deref().unwrap_or_default(),
                            p.port,
                            p.protocol.as_deref().unwrap_or_default()
                        )
                    })
                    .unwrap_or_default();
                let entry = by_port
                    .entry(port_key)
                    .or_insert_with(|| (port.clone(), Addresses::default()));
                let set = if ready {
                    &mut entry.1.ready
                } else {
                    &mut entry.1.not_ready
                };
                set.insert(key.clone(), address.clone());
            }
        }
    }
    // Ports with the same addresses share a subset.
    let mut by_addresses: BTreeMap<String, EndpointSubset> = BTreeMap::new();
    for (_, (port, addresses)) in by_port {
        let key = format!(
            "{:?}|{:?}",
            addresses.ready.keys().collect::<Vec<_>>(),
            addresses.not_ready.keys().collect::<Vec<_>>()
        );
        let subset = by_addresses.entry(key).or_insert_with(|| EndpointSubset {
            addresses: sorted(addresses.ready.into_values()),
            not_ready_addresses: sorted(addresses.not_ready.into_values()),
            ports: None,
        });
        if let Some(port) = port {
            subset.ports.get_or_insert_with(Vec::new).push(port);
        }
    }
    let mut subsets: Vec<EndpointSubset> = by_addresses.into_values().collect();
    for s in &mut subsets {
        if let Some(ports) = s.ports.as_mut() {
            ports.sort_by(|a, b| (&a.name, a.port).cmp(&(&b.name, b.port)));
        }
    }
    subsets.sort_by_key(|s| {
        let ips = |a: &Option<Vec<EndpointAddress>>| {
            a.iter().flatten().map(|a| a.ip.clone()).collect::<Vec<_>>()
        };
        let ports: Vec<i32> = s.ports.iter().flatten().map(|p| p.port).collect();
        (ips(&s.addresses), ips(&s.not_ready_addresses), ports)
    });
    let truncated = truncate(&mut subsets, MAX_ADDRESSES);
    (subsets, truncated)
}

fn sorted(addresses: impl Iterator<Item = EndpointAddress>) -> Option<Vec<EndpointAddress>> {
    let mut v: Vec<EndpointAddress> = addresses.collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| {
        let ip = |x: &EndpointAddress| x.ip.parse::<std::net::Ipv4Addr>().ok();
        (ip(a), &a.ip).cmp(&(ip(b), &b.ip))
    });
    Some(v)
}

/// Keeps at most `max` addresses, not-ready ones dropped first; whether any were dropped.
fn truncate(subsets: &mut [EndpointSubset], max: usize) -> bool {
    let count = |s: &EndpointSubset| {
        s.addresses.as_ref().map_or(0, Vec::len)
            + s.not_ready_addresses.as_ref().map_or(0, Vec::len)
    };
    let mut excess = subsets.iter().map(count).sum::<usize>().saturating_sub(max);
    if excess == 0 {
        return false;
    }
    for pick_ready in [false, true] {
        for s in subsets.iter_mut() {
            let list = if pick_ready {
                &mut s.addresses
            } else {
                &mut s.not_ready_addresses
            };
            if let Some(v) = list.as_mut() {
                let cut = excess.min(v.len());
                v.truncate(v.len() - cut);
                excess -= cut;
                if v.is_empty() {
                    *list = None;
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn svc(spec: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid",
                         "labels": {"app": "web"}, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn pod(name: &str, ip: &str, ready: bool, ports: serde_json::Value) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "default", "uid": name,
                             "labels": {"app": "web"}, "creationTimestamp": "2026-01-01T00:01:00Z"},
                "spec": {"nodeName": "kind-worker", "containers": [{"name": "c", "ports": ports}]},
                "status": {"phase": "Running", "podIP": ip,
                           "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"},
                                           "lastTransitionTime": "2026-01-01T00:02:00Z"}]},
            }))
            .unwrap(),
        )
    }

    fn web() -> Service {
        svc(
            json!({"selector": {"app": "web"}, "clusterIP": "10.96.0.20",
                   "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                             {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"}]}),
        )
    }

    fn http(port: i32) -> serde_json::Value {
        json!([{"name": "http", "containerPort": port}])
    }

    #[test]
    fn ready_and_not_ready_pods_with_the_same_ports_share_a_subset() {
        let pods = [
            pod("b", "10.244.2.2", false, http(8080)),
            pod("a", "10.244.1.2", true, http(8080)),
        ];
        let ep = desired(&web(), &pods, None).unwrap();
        assert_eq!(
            serde_json::to_value(&ep.subsets).unwrap(),
            json!([{
                "addresses": [{"ip": "10.244.1.2", "nodeName": "kind-worker",
                               "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "a"}}],
                "notReadyAddresses": [{"ip": "10.244.2.2", "nodeName": "kind-worker",
                               "targetRef": {"kind": "Pod", "namespace": "default", "name": "b", "uid": "b"}}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"},
                          {"name": "metrics", "port": 9090, "protocol": "TCP"}],
            }])
        );
        assert_eq!(ep.metadata.name.as_deref(), Some("web"));
        assert_eq!(ep.labels()["app"], "web");
        // Asked again with what it said: nothing to write.
        assert!(desired(&web(), &pods, Some(&ep)).is_none());
    }

    #[test]
    fn pods_serving_different_ports_are_split_into_subsets() {
        let pods = [
            pod("a", "10.244.1.2", true, http(8080)),
            pod("b", "10.244.2.2", true, http(8081)),
        ];
        let ep = desired(&web(), &pods, None).unwrap();
        let subsets = ep.subsets.unwrap();
        let summary: Vec<(Vec<String>, Vec<i32>)> = subsets
            .iter()
            .map(|s| {
                (
                    s.addresses.iter().flatten().map(|a| a.ip.clone()).collect(),
                    s.ports.iter().flatten().map(|p| p.port).collect(),
                )
            })
            .collect();
        // 9090 is served by both, so it forms a subset of its own.
        assert_eq!(
            summary,
            [
                (vec!["10.244.1.2".to_string()], vec![8080]),
                (
                    vec!["10.244.1.2".to_string(), "10.244.2.2".to_string()],
                    vec![9090]
                ),
                (vec!["10.244.2.2".to_string()], vec![8081]),
            ]
        );
    }

    #[test]
    fn terminating_pods_leave_and_published_not_ready_pods_stay() {
        let mut terminating = (*pod("a", "10.244.1.2", true, http(8080))).clone();
        terminating.metadata.deletion_timestamp = terminating.metadata.creation_timestamp.clone();
        let pods = [
            Arc::new(terminating),
            pod("b", "10.244.2.2", false, http(8080)),
        ];
        let ep = desired(&web(), &pods, None).unwrap();
        let s = &ep.subsets.as_ref().unwrap()[0];
        assert!(s.addresses.is_none());
        assert_eq!(s.not_ready_addresses.as_ref().unwrap()[0].ip, "10.244.2.2");

        let mut published = web();
        published.spec.as_mut().unwrap().publish_not_ready_addresses = Some(true);
        let ep = desired(&published, &pods, None).unwrap();
        let s = &ep.subsets.as_ref().unwrap()[0];
        let ips: Vec<&str> = s
            .addresses
            .iter()
            .flatten()
            .map(|a| a.ip.as_str())
            .collect();
        assert_eq!(ips, ["10.244.1.2", "10.244.2.2"]);
        assert!(s.not_ready_addresses.is_none());
    }

    #[test]
    fn no_pods_is_an_endpoints_without_subsets() {
        let ep = desired(&web(), &[], None).unwrap();
        assert!(ep.subsets.is_none());
        assert!(desired(&web(), &[], Some(&ep)).is_none());
    }

    #[test]
    fn headless_services_without_ports_list_addresses_and_hostnames() {
        let headless = svc(json!({"selector": {"app": "web"}, "clusterIP": "None"}));
        let mut p = (*pod("a", "10.244.1.2", true, json!([]))).clone();
        let spec = p.spec.as_mut().unwrap();
        spec.hostname = Some("a".into());
        spec.subdomain = Some("web".into());
        let ep = desired(&headless, &[Arc::new(p)], None).unwrap();
        assert_eq!(ep.labels()[LABEL_HEADLESS], "");
        let s = &ep.subsets.unwrap()[0];
        assert!(s.ports.is_none());
        assert_eq!(
            s.addresses.as_ref().unwrap()[0].hostname.as_deref(),
            Some("a")
        );
    }

    #[test]
    fn more_than_the_limit_is_truncated_and_annotated() {
        let pods: Vec<Arc<Pod>> = (0..1005)
            .map(|i| {
                pod(
                    &format!("p{i}"),
                    &format!("10.244.{}.{}", i / 250, i % 250 + 1),
                    true,
                    http(8080),
                )
            })
            .collect();
        let ep = desired(&web(), &pods, None).unwrap();
        let n: usize = ep
            .subsets
            .iter()
            .flatten()
            .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
            .sum();
        assert_eq!(n, MAX_ADDRESSES);
        assert_eq!(ep.annotations()[OVER_CAPACITY_ANNOTATION], "truncated");
    }

    #[test]
    fn the_trigger_time_is_the_newest_change_seen() {
        let pods = [pod("a", "10.244.1.2", true, http(8080))];
        assert_eq!(
            trigger_time(&web(), &pods).map(format_time).as_deref(),
            Some("2026-01-01T00:02:00Z")
        );
        assert_eq!(
            trigger_time(&web(), &[]).map(format_time).as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
    }
}
