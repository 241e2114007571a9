//! Mirror pods: what kindling runs in a node, shown in `kube-system` (the local-path
//! provisioner in `local-path-storage`, where kind runs it, the ingress controller in
//! `ingress-kindling`) so that `kubectl get pods -A` tells
//! what runs, as the kubelet mirrors kubeadm's static pods. The parts are tasks of
//! `kindling node`, not containers, so a mirror pod's container is the node's own process:
//! Running since the agent started, on the node's IP, owned by the Node.
//!
//! The agent keeps them: it creates a missing one (deleted by a user, as the kubelet would) and
//! reports its status again when someone else changed it (the node lifecycle controller marks
//! pods not Ready while the agent is stopped). The pod runner leaves them alone.

use crate::Config;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::net::IpAddr;
use std::time::Duration;

/// The annotation that marks a mirror pod (upstream's `kubernetes.io/config.mirror`).
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
const NAMESPACE: &str = "kube-system";
/// Where kind's default StorageClass provisioner runs.
const STORAGE_NAMESPACE: &str = "local-path-storage";
/// Where the ingress controller is shown (kindling-ingress makes the namespace).
const INGRESS_NAMESPACE: &str = "ingress-kindling";
const RESYNC: Duration = Duration::from_secs(10);
/// How long a deleted mirror pod stays away before it is made again. The kubelet recreates
/// mirror pods at a later sync, not at once; `kubectl delete` waits for the name to go by
/// looking twice (a GET, then a LIST and watch), and a pod back under the same name between the
/// two makes it wait forever.
const RECREATE_AFTER: Duration = Duration::from_secs(1);

/// Whether `pod` is a mirror pod (the pod runner must not run it).
pub fn is_mirror(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION))
}

/// One part of kindling shown as a pod.
struct Component {
    /// The pod name's prefix and container name, as kind's clusters name them.
    name: &'static str,
    namespace: &'static str,
    labels: Value,
    /// The container's ports (`[]` for most).
    ports: Value,
}

/// The parts a node runs: the control plane's on control-plane nodes, the pod network's on
/// every node that has the default CNI, the service proxy's unless `kubeProxyMode: none`.
fn components(config: &Config) -> Vec<Component> {
    let mut parts = Vec::new();
    if config.control_plane {
        for name in [
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ] {
            parts.push(Component {
                name,
                namespace: NAMESPACE,
                labels: json!({"component": name, "tier": "control-plane"}),
                ports: json!([]),
            });
        }
        // The `rancher.io/local-path` provisioner is a controller of the control plane (its
        // node half is in every node agent).
        parts.push(Component {
            name: "local-path-provisioner",
            namespace: STORAGE_NAMESPACE,
            labels: json!({"app": "local-path-provisioner"}),
            ports: json!([]),
        });
    }
    if config.default_cni {
        parts.push(Component {
            name: "kindnet",
            namespace: NAMESPACE,
            labels: json!({"app": "kindnet", "k8s-app": "kindnet", "tier": "node"}),
            ports: json!([]),
        });
    }
    // Cluster DNS (kindling-dns in `kindling node`) answers on every node; its pods carry
    // CoreDNS's label, which the kube-dns Service selects, and its ports.
    if !config.cluster_dns.is_empty() {
        parts.push(Component {
            name: "coredns",
            namespace: NAMESPACE,
            labels: json!({"k8s-app": "kube-dns"}),
            ports: json!([
                {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                {"name": "metrics", "containerPort": 9153, "protocol": "TCP"},
            ]),
        });
    }
    if config.service_proxy {
        parts.push(Component {
            name: "kube-proxy",
            namespace: NAMESPACE,
            labels: json!({"k8s-app": "kube-proxy"}),
            ports: json!([]),
        });
    }
    // The ingress controller (kindling-ingress) in a namespace of its own, as ingress-nginx's
    // pods are in `ingress-nginx`, with the labels kind's guide waits on
    // (`app.kubernetes.io/component=controller`) and its node ports 80/443.
    if config.ingress_controller {
        parts.push(Component {
            name: "ingress-controller",
            namespace: INGRESS_NAMESPACE,
            labels: json!({"app.kubernetes.io/name": INGRESS_NAMESPACE,
                           "app.kubernetes.io/component": "controller"}),
            ports: json!([
                {"name": "http", "containerPort": 80, "hostPort": 80, "protocol": "TCP"},
                {"name": "https", "containerPort": 443, "hostPort": 443, "protocol": "TCP"},
            ]),
        });
    }
    parts
}

/// Keeps this node's mirror pods, until the agent stops.
pub async fn run(client: kube::Client, config: Config) {
    let started = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let parts = components(&config);
    if parts.is_empty() {
        return;
    }
    let nodes: Api<Node> = Api::all(client.clone());
    // Changes to this node's pods (a user deleting a mirror pod) are answered at once;
    // everything else at the next resync.
    let mut changes = kube::runtime::watcher(
        Api::<Pod>::all(client.clone()),
        kube::runtime::watcher::Config::default()
            .fields(&format!("spec.nodeName={}", config.node_name)),
    )
    .boxed();
    loop {
        // The Node owns its mirror pods, so the agent waits for its registration.
        let mut finished_deletion = false;
        if let Ok(Some(node)) = nodes.get_opt(&config.node_name).await {
            let uid = node.metadata.uid.unwrap_or_default();
            for part in &parts {
                let want = Mirror {
                    part,
                    node: &config.node_name,
                    node_uid: &uid,
                    ip: config.node_ip,
                    image: &config.image,
                    started: &started,
                };
                let pods: Api<Pod> = Api::namespaced(client.clone(), part.namespace);
                match want.ensure(&pods).await {
                    Ok(Ensured::Deleted) => finished_deletion = true,
                    Ok(Ensured::Present) => {}
                    Err(e) => tracing::debug!("mirror pod {}: {e}", want.name()),
                }
            }
        }
        if finished_deletion {
            tokio::time::sleep(RECREATE_AFTER).await;
            continue;
        }
        tokio::select! {
            _ = changes.next() => {}
            () = tokio::time::sleep(RESYNC) => {}
        }
    }
}

/// What [`Mirror::ensure`] left.
enum Ensured {
    /// The mirror pod exists with the agent's status.
    Present,
    /// Someone deleted it: the deletion was finished; it is made again on a later pass.
    Deleted,
}

struct Mirror<'a> {
    part: &'a Component,
    node: &'a str,
    node_uid: &'a str,
    ip: IpAddr,
    image: &'a str,
    started: &'a str,
}

impl Mirror<'_> {
    fn name(&self) -> String {
        format!("{}-{}", self.part.name, self.node)
    }

    /// The pod as the kubelet would mirror a static pod of this part.
    fn pod(&self) -> Value {
        let hash = format!("{:x}", fnv1a(&format!("{}{}", self.name(), self.image)));
        // Upstream admits system-node-critical only in kube-system.
        let priority = (self.part.namespace == NAMESPACE).then_some("system-node-critical");
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": self.name(), "namespace": self.part.namespace, "labels": self.part.labels,
                "annotations": {MIRROR_ANNOTATION: hash, "kubernetes.io/config.hash": hash,
                                "kubernetes.io/config.source": "file",
                                "kubernetes.io/config.seen": self.started},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": self.node,
                                     "uid": self.node_uid, "controller": true}],
            },
            "spec": {
                "nodeName": self.node, "hostNetwork": true,
                "priorityClassName": priority,
                "tolerations": [{"operator": "Exists", "effect": "NoExecute"}],
                "containers": [{"name": self.part.name, "image": self.image,
                                "command": ["kindling", "node"], "ports": self.part.ports,
                                "imagePullPolicy": "IfNotPresent"}],
            },
        })
    }

    /// Running and Ready since the agent started, on the node's IP.
    fn status(&self) -> Value {
        let ip = self.ip.to_string();
        let condition = |t: &str| {
            json!({"type": t, "status": "True", "lastProbeTime": null,
                   "lastTransitionTime": self.started})
        };
        let conditions: Vec<Value> = [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ]
        .map(condition)
        .into();
        json!({
            "phase": "Running",
            "conditions": conditions,
            "hostIP": ip, "hostIPs": [{"ip": ip}], "podIP": ip, "podIPs": [{"ip": ip}],
            "startTime": self.started, "qosClass": "BestEffort",
            "containerStatuses": [{
                "name": self.part.name, "ready": true, "started": true, "restartCount": 0,
                "image": self.image, "imageID": "",
                "containerID": format!("kindling://{}", self.part.name),
                "state": {"running": {"startedAt": self.started}},
            }],
        })
    }

    async fn ensure(&self, pods: &Api<Pod>) -> Result<Ensured, kube::Error> {
        let name = self.name();
        // Read through this node's own pods: the Node authorizer refuses a node a GET of a pod
        // not (yet) bound to it, so a missing mirror pod would read as 403, not 404.
        let mine = kube::api::ListParams::default()
            .fields(&format!("spec.nodeName={},metadata.name={name}", self.node));
        let found = pods.list(&mine).await?.items.into_iter().next();
        let current = match found {
            // Deleted by someone: finished at once (nothing runs in it) and made again later
            // ([`RECREATE_AFTER`]), as the kubelet does with the mirror of a static pod that
            // still exists.
            Some(pod) if pod.metadata.deletion_timestamp.is_some() => {
                let params = kube::api::DeleteParams {
                    grace_period_seconds: Some(0),
                    preconditions: Some(kube::api::Preconditions {
                        uid: pod.metadata.uid.clone(),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                pods.delete(&name, &params).await?;
                return Ok(Ensured::Deleted);
            }
            Some(pod) => pod,
            None => {
                let pod: Pod =
                    serde_json::from_value(self.pod()).map_err(kube::Error::SerdeError)?;
                pods.create(&PostParams::default(), &pod).await?
            }
        };
        let want = self.status();
        let have = serde_json::to_value(&current.status).unwrap_or_default();
        if !status_matches(&have, &want) {
            pods.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": want})),
            )
            .await?;
        }
        Ok(Ensured::Present)
    }
}

/// Whether the reported status still says what the agent would write (phase, readiness, IP).
fn status_matches(have: &Value, want: &Value) -> bool {
    let ready = |s: &Value| {
        s["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
            .map(|c| c["status"].clone())
    };
    have["phase"] == want["phase"] && have["podIP"] == want["podIP"] && ready(have) == ready(want)
}

fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(PartialEq)]
    enum Role {
        ControlPlane,
        Worker,
    }

    fn config(role: Role, default_cni: bool) -> Config {
        Config {
            control_plane: role == Role::ControlPlane,
            default_cni,
            service_proxy: default_cni,
            ..Config::for_tests("kind-control-plane")
        }
    }

    #[test]
    fn every_node_with_cluster_dns_shows_coredns_with_its_ports() {
        let c = Config {
            cluster_dns: vec!["10.96.0.10".parse().unwrap()],
            ..config(Role::Worker, true)
        };
        let parts = components(&c);
        assert_eq!(
            parts.iter().map(|p| p.name).collect::<Vec<_>>(),
            ["kindnet", "coredns", "kube-proxy"]
        );
        let m = Mirror {
            part: &parts[1],
            node: "kind-worker",
            node_uid: "u1",
            ip: "172.18.0.3".parse().unwrap(),
            image: "kindling/node:v0.1.0",
            started: "2026-11-22T00:00:00Z",
        };
        let pod: Pod = serde_json::from_value(m.pod()).unwrap();
        assert_eq!(pod.metadata.name.as_deref(), Some("coredns-kind-worker"));
        assert_eq!(pod.metadata.labels.unwrap()["k8s-app"], "kube-dns");
        let ports = pod.spec.unwrap().containers[0].ports.clone().unwrap();
        assert_eq!(ports.len(), 3);
        assert_eq!(ports[0].container_port, 53);
    }

    #[test]
    fn control_planes_show_the_control_plane_and_every_node_its_network() {
        let names = |c: &Config| components(c).iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(
            names(&config(Role::ControlPlane, true)),
            [
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
                "local-path-provisioner",
                "kindnet",
                "kube-proxy"
            ]
        );
        assert_eq!(
            names(&config(Role::Worker, true)),
            ["kindnet", "kube-proxy"]
        );
        assert!(names(&config(Role::Worker, false)).is_empty());
    }

    #[test]
    fn an_ingress_node_shows_its_controller_in_its_namespace() {
        let c = Config {
            ingress_controller: true,
            ..config(Role::Worker, false)
        };
        let parts = components(&c);
        assert_eq!(
            parts
                .iter()
                .map(|p| (p.namespace, p.name))
                .collect::<Vec<_>>(),
            [("ingress-kindling", "ingress-controller")]
        );
        let m = Mirror {
            part: &parts[0],
            node: "kind-worker",
            node_uid: "u1",
            ip: "172.18.0.3".parse().unwrap(),
            image: "kindling/node:v0.1.0",
            started: "2026-11-22T00:00:00Z",
        };
        let pod: Pod = serde_json::from_value(m.pod()).unwrap();
        assert_eq!(
            pod.metadata.name.as_deref(),
            Some("ingress-controller-kind-worker")
        );
        assert_eq!(
            pod.metadata.labels.unwrap()["app.kubernetes.io/component"],
            "controller"
        );
        let spec = pod.spec.unwrap();
        assert_eq!(spec.priority_class_name, None);
        let ports = spec.containers[0].ports.clone().unwrap();
        assert_eq!(ports[1].host_port, Some(443));
    }

    #[test]
    fn a_mirror_pod_is_owned_by_its_node_and_runs_on_its_ip() {
        let parts = components(&config(Role::ControlPlane, true));
        let m = Mirror {
            part: &parts[0],
            node: "kind-control-plane",
            node_uid: "u1",
            ip: "172.18.0.2".parse().unwrap(),
            image: "kindling/node:v0.1.0",
            started: "2026-11-22T00:00:00Z",
        };
        let pod: Pod = serde_json::from_value(m.pod()).unwrap();
        assert_eq!(
            pod.metadata.name.as_deref(),
            Some("kube-apiserver-kind-control-plane")
        );
        assert!(is_mirror(&pod));
        assert_eq!(pod.metadata.owner_references.unwrap()[0].kind, "Node");
        let status = m.status();
        assert_eq!(status["podIP"], "172.18.0.2");
        assert!(status_matches(&status, &m.status()));
        let mut not_ready = status.clone();
        not_ready["conditions"][2]["status"] = json!("False");
        assert!(!status_matches(&not_ready, &status));
    }
}
