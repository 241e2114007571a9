//! Which Services select which pods, for the Endpoints and EndpointSlice controllers (upstream's
//! pod event handlers of both): the shared pod watch ([`crate::informer`]) feeds the store that
//! reconciles read, and each pod change is turned into the Services whose selector matched the
//! pod before *or* after it, so a pod whose labels stop matching leaves its old Service's
//! endpoints too.
//!
//! The informer writes its store before it hands a change out, so a reconcile always sees the
//! pod at least as new as the change that asked for it. Service deletions are passed on as well: a deleted
//! Service is never reconciled by a kube-runtime controller (its object is gone from the
//! store), so the controllers clean up after it on this signal.
//!
//! Also here, without IO: the pod rules both controllers share (whether a pod belongs
//! in endpoints, named target ports).

use crate::informer::{PodChange, PodInformer};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kindling_api::selector::LabelSelector;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::ResourceExt;
use std::collections::{BTreeMap, HashSet};
use tokio::sync::mpsc;

/// A change the controllers act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// The Service's pods (may) have changed: reconcile it.
    Pods(ObjectRef<Service>),
    /// The Service is gone: remove what was made for it.
    Deleted(ObjectRef<Service>),
}

/// The pod changes and the service watch, their stores, and who listens.
pub(crate) struct ServicePods {
    pods: Store<Pod>,
    pod_changes: futures::stream::BoxStream<'static, std::sync::Arc<PodChange>>,
    services: Store<Service>,
    services_writer: reflector::store::Writer<Service>,
    listeners: Vec<Listener>,
}

/// Where changes go: every change, or only deletions.
struct Listener {
    tx: mpsc::UnboundedSender<Change>,
    deletions_only: bool,
}

impl ServicePods {
    pub(crate) fn new(informer: &mut PodInformer) -> ServicePods {
        let (services, services_writer) = reflector::store();
        ServicePods {
            pods: informer.store(),
            pod_changes: informer.subscribe().boxed(),
            services,
            services_writer,
            listeners: Vec::new(),
        }
    }

    /// Every pod of the cluster, as recent as the last change sent.
    pub(crate) fn pods(&self) -> Store<Pod> {
        self.pods.clone()
    }

    /// Every Service of the cluster.
    pub(crate) fn services(&self) -> Store<Service> {
        self.services.clone()
    }

    /// A new listener's stream of changes.
    pub(crate) fn subscribe(&mut self) -> mpsc::UnboundedReceiver<Change> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.listeners.push(Listener {
            tx,
            deletions_only: false,
        });
        rx
    }

    /// A new listener's stream of deleted Services.
    pub(crate) fn subscribe_deletions(&mut self) -> mpsc::UnboundedReceiver<ObjectRef<Service>> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (deleted_tx, deleted_rx) = mpsc::unbounded_channel();
        self.listeners.push(Listener {
            tx,
            deletions_only: true,
        });
        tokio::spawn(async move {
            let mut rx = rx;
            while let Some(change) = rx.recv().await {
                if let Change::Deleted(r) = change {
                    let _ = deleted_tx.send(r);
                }
            }
        });
        deleted_rx
    }

    /// Follows pods and services until the process ends.
    pub(crate) async fn run(self, client: kube::Client) {
        let ServicePods {
            pods: _,
            pod_changes,
            services,
            mut services_writer,
            listeners,
        } = self;
        let send = |changes: Vec<Change>| {
            for change in changes {
                for l in &listeners {
                    if l.deletions_only && matches!(change, Change::Pods(_)) {
                        continue;
                    }
                    let _ = l.tx.send(change.clone());
                }
            }
        };
        let pod_events = pod_changes.map(Either::Pod).boxed();
        let service_events = watcher(Api::<Service>::all(client), watcher::Config::default())
            .default_backoff()
            .map(Either::Service)
            .boxed();
        let mut events = futures::stream::select(pod_events, service_events);
        while let Some(event) = events.next().await {
            match event {
                Either::Pod(change) => {
                    let changed = match &change.event {
                        watcher::Event::Apply(pod) | watcher::Event::Delete(pod) => {
                            services_of(&services.state(), change.previous.as_deref(), Some(pod))
                        }
                        // A relist may have dropped pods without a Delete: look at everything.
                        watcher::Event::InitDone => all_selecting(&services.state()),
                        watcher::Event::Init | watcher::Event::InitApply(_) => Vec::new(),
                    };
                    send(changed.into_iter().map(Change::Pods).collect());
                }
                Either::Service(Ok(event)) => {
                    let gone: Vec<Change> = match &event {
                        watcher::Event::Delete(svc) => {
                            vec![Change::Deleted(ObjectRef::from_obj(svc))]
                        }
                        // Services deleted while the watch was down.
                        watcher::Event::InitDone => {
                            let before: HashSet<ObjectRef<Service>> = services
                                .state()
                                .iter()
                                .map(|s| ObjectRef::from_obj(&**s))
                                .collect();
                            services_writer.apply_watcher_event(&event);
                            let after: HashSet<ObjectRef<Service>> = services
                                .state()
                                .iter()
                                .map(|s| ObjectRef::from_obj(&**s))
                                .collect();
                            send(
                                before
                                    .difference(&after)
                                    .cloned()
                                    .map(Change::Deleted)
                                    .collect(),
                            );
                            continue;
                        }
                        _ => Vec::new(),
                    };
                    services_writer.apply_watcher_event(&event);
                    send(gone);
                }
                Either::Service(Err(e)) => {
                    tracing::debug!("endpoints: watch failed, retrying: {e}");
                }
            }
        }
    }
}

enum Either<P, S> {
    Pod(P),
    Service(S),
}

/// Services of the pod's namespace whose selector matches `before` or `after`.
fn services_of(
    services: &[std::sync::Arc<Service>],
    before: Option<&Pod>,
    after: Option<&Pod>,
) -> Vec<ObjectRef<Service>> {
    let Some(ns) = after.or(before).and_then(|p| p.metadata.namespace.clone()) else {
        return Vec::new();
    };
    services
        .iter()
        .filter(|s| s.metadata.namespace.as_deref() == Some(ns.as_str()))
        .filter(|s| [before, after].into_iter().flatten().any(|p| selects(s, p)))
        .map(|s| ObjectRef::from_obj(&**s))
        .collect()
}

fn all_selecting(services: &[std::sync::Arc<Service>]) -> Vec<ObjectRef<Service>> {
    services
        .iter()
        .filter(|s| selector(s).is_some())
        .map(|s| ObjectRef::from_obj(&**s))
        .collect()
}

/// The Service's selector; `None` for a Service without one (its endpoints are someone
/// else's).
pub(crate) fn selector(svc: &Service) -> Option<&BTreeMap<String, String>> {
    svc.spec.as_ref()?.selector.as_ref()
}

/// Whether the Service selects the pod (same namespace, selector matches its labels).
pub(crate) fn selects(svc: &Service, pod: &Pod) -> bool {
    let Some(selector) = selector(svc) else {
        return false;
    };
    svc.metadata.namespace == pod.metadata.namespace
        && LabelSelector::from_set(selector.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .matches(pod.labels())
}

/// The pods of `pods` the Service selects.
pub(crate) fn selected(svc: &Service, pods: &[std::sync::Arc<Pod>]) -> Vec<std::sync::Arc<Pod>> {
    pods.iter().filter(|p| selects(svc, p)).cloned().collect()
}

/// Whether a pod belongs in a Service's endpoints at all (upstream's ShouldPodBeInEndpoints):
/// it has an IP and has not finished; a terminating pod only when `include_terminating`.
pub(crate) fn belongs_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return false;
    }
    if pod_ips(pod).is_empty() {
        return false;
    }
    include_terminating || pod.metadata.deletion_timestamp.is_none()
}

/// The pod's IPv4 addresses (`status.podIPs`, else `status.podIP`).
pub(crate) fn pod_ips(pod: &Pod) -> Vec<String> {
    let Some(status) = pod.status.as_ref() else {
        return Vec::new();
    };
    let mut ips: Vec<String> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|ip| ip.ip.clone())
        .collect();
    if ips.is_empty() {
        ips.extend(status.pod_ip.clone());
    }
    ips.retain(|ip| ip.parse::<std::net::Ipv4Addr>().is_ok());
    ips
}

/// The pod's port a Service port sends to (upstream's FindPort): a number as it is, a name
/// looked up among the containers' (and restartable init containers') ports of the same
/// protocol. `None` when the name is not found.
pub(crate) fn target_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let spec = pod.spec.as_ref()?;
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

/// Whether an address of the pod carries its hostname for this Service (upstream's
/// ShouldSetHostname): the pod names a hostname and this Service as its subdomain.
pub(crate) fn hostname_for(pod: &Pod, svc: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_ref().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == svc.metadata.name.as_deref()
        && pod.metadata.namespace == svc.metadata.namespace)
        .then(|| hostname.clone())
}

/// Whether the Service has no cluster IP (headless).
pub(crate) fn is_headless(svc: &Service) -> bool {
    let ip = svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref());
    matches!(ip, None | Some("" | "None"))
}

/// A stream of the [`Change::Pods`] of a listener, with its deletions handed to `deleted`.
pub(crate) fn split(
    mut changes: mpsc::UnboundedReceiver<Change>,
) -> (
    impl Stream<Item = ObjectRef<Service>> + Send + 'static,
    mpsc::UnboundedReceiver<ObjectRef<Service>>,
) {
    let (pods_tx, pods_rx) = mpsc::unbounded_channel();
    let (deleted_tx, deleted_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(change) = changes.recv().await {
            let _ = match change {
                Change::Pods(r) => pods_tx.send(r),
                Change::Deleted(r) => deleted_tx.send(r),
            };
        }
    });
    let stream =
        futures::stream::unfold(
            pods_rx,
            |mut rx| async move { rx.recv().await.map(|r| (r, rx)) },
        );
    (stream, deleted_rx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn svc(name: &str, selector: serde_json::Value) -> Arc<Service> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"selector": selector, "clusterIP": "10.96.0.10",
                         "ports": [{"port": 80}]},
            }))
            .unwrap(),
        )
    }

    fn pod(labels: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "labels": labels},
            "spec": {"containers": [{"name": "c", "ports": [
                {"name": "http", "containerPort": 8080},
                {"name": "dns", "containerPort": 53, "protocol": "UDP"}]}],
                "initContainers": [{"name": "side", "restartPolicy": "Always",
                                    "ports": [{"name": "metrics", "containerPort": 9090}]}]},
            "status": {"phase": "Running", "podIP": "10.244.1.5",
                       "conditions": [{"type": "Ready", "status": "True"}]},
        }))
        .unwrap()
    }

    #[test]
    fn a_pod_that_stops_matching_still_reaches_its_old_service() {
        let services = [
            svc("web", json!({"app": "web"})),
            svc("api", json!({"app": "api"})),
            svc("manual", json!(null)),
        ];
        let before = pod(json!({"app": "web"}));
        let after = pod(json!({"app": "api"}));
        let names =
            |refs: Vec<ObjectRef<Service>>| refs.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(
            names(services_of(&services, Some(&before), Some(&after))),
            ["web", "api"]
        );
        assert_eq!(names(services_of(&services, None, Some(&after))), ["api"]);
        assert_eq!(names(all_selecting(&services)), ["web", "api"]);
    }

    #[test]
    fn named_target_ports_are_found_by_name_and_protocol() {
        let p = pod(json!({}));
        let port = |target: serde_json::Value, protocol: &str| -> ServicePort {
            serde_json::from_value(json!({"port": 80, "targetPort": target, "protocol": protocol}))
                .unwrap()
        };
        assert_eq!(target_port(&p, &port(json!("http"), "TCP")), Some(8080));
        assert_eq!(target_port(&p, &port(json!("dns"), "UDP")), Some(53));
        assert_eq!(target_port(&p, &port(json!("dns"), "TCP")), None);
        assert_eq!(target_port(&p, &port(json!("metrics"), "TCP")), Some(9090));
        assert_eq!(target_port(&p, &port(json!(9376), "TCP")), Some(9376));
        assert_eq!(target_port(&p, &port(json!("nope"), "TCP")), None);
    }

    #[test]
    fn finished_or_addressless_pods_are_not_endpoints() {
        let mut p = pod(json!({}));
        assert!(belongs_in_endpoints(&p, false));
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::UNIX_EPOCH,
        ));
        assert!(!belongs_in_endpoints(&p, false));
        assert!(belongs_in_endpoints(&p, true));
        p.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert!(!belongs_in_endpoints(&p, true));
        let mut q = pod(json!({}));
        q.status.as_mut().unwrap().pod_ip = None;
        assert!(!belongs_in_endpoints(&q, true));
    }
}
