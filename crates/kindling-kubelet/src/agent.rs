//! The node agent's registration and heartbeat: the Node object with its labels, taints,
//! addresses, capacity and conditions; a Lease in kube-node-lease renewed every 10 s; the pod
//! network's CNI config once the node has a podCIDR.

use crate::{cni, sysinfo, Config};
use anyhow::Result;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{json, Value};
use std::time::Duration;

const HEARTBEAT: Duration = Duration::from_secs(10);
const LEASE_SECONDS: i32 = 40;
pub const KUBELET_VERSION: &str = kindling_api::KUBERNETES_VERSION;

/// What a heartbeat found.
enum Beat {
    Posted,
    /// The default pod network waits for the node's podCIDR (and so does Ready).
    AwaitingPodCidr,
}

/// How soon to look again while the podCIDR is not assigned yet.
const AWAITING_POD_CIDR: Duration = Duration::from_millis(200);

pub struct Agent {
    nodes: Api<Node>,
    leases: Api<Lease>,
    config: Config,
    /// Facts that do not change while the node runs, read once (`containerd --version` is a
    /// process start; the heartbeat would otherwise run it every 10 s).
    node_info: Value,
}

impl Agent {
    pub fn new(client: kube::Client, config: Config) -> Agent {
        Agent {
            nodes: Api::all(client.clone()),
            leases: Api::namespaced(client, "kube-node-lease"),
            node_info: node_info(&config.runtime_version),
            config,
        }
    }

    /// Registers the node, then keeps its lease and status fresh, forever.
    pub async fn run(self) {
        while let Err(e) = self.register().await {
            tracing::warn!("registering node {}: {e:#}", self.config.node_name);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        loop {
            let next = match self.heartbeat().await {
                // Ready as soon as node IPAM hands out the podCIDR, not a heartbeat later.
                Ok(Beat::AwaitingPodCidr) => AWAITING_POD_CIDR,
                Ok(Beat::Posted) => HEARTBEAT,
                Err(e) => {
                    tracing::warn!("node heartbeat: {e:#}");
                    HEARTBEAT
                }
            };
            tokio::time::sleep(next).await;
        }
    }

    fn labels(&self) -> Value {
        let mut labels = json!({
            "kubernetes.io/hostname": self.config.node_name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": sysinfo::go_arch(),
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": sysinfo::go_arch(),
        });
        if self.config.control_plane {
            labels["node-role.kubernetes.io/control-plane"] = json!("");
            labels["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("");
        }
        for (k, v) in &self.config.labels {
            labels[k] = json!(v);
        }
        // NodeRestriction refuses the rest (node-role.kubernetes.io/…): the cluster's creator
        // sets them with the admin's rights, as kubeadm marks its control planes.
        if let Some(map) = labels.as_object_mut() {
            map.retain(|k, _| kindling_api::node_labels::node_may_set(k));
        }
        labels
    }

    async fn register(&self) -> Result<()> {
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.config.node_name, "labels": self.labels(),
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {"taints": self.config.taints},
        }))?;
        match self.nodes.create(&PostParams::default(), &node).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {
                // Back after a restart: labels may have changed; taints others added stay.
                let patch = json!({"metadata": {"labels": self.labels()}});
                self.nodes
                    .patch(
                        &self.config.node_name,
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await?;
            }
            Err(e) => return Err(e.into()),
        }
        self.heartbeat().await.map(|_| ())
    }

    async fn heartbeat(&self) -> Result<Beat> {
        self.renew_lease().await?;
        let node = self.nodes.get(&self.config.node_name).await?;
        let mut beat = Beat::Posted;
        if self.config.default_cni {
            match node.spec.as_ref().and_then(|s| s.pod_cidr.as_deref()) {
                Some(cidr) => cni::ensure_config(cidr)?,
                None => beat = Beat::AwaitingPodCidr,
            }
        }
        let previous = node.status.and_then(|s| s.conditions).unwrap_or_default();
        let status = self.status(&previous).await;
        self.nodes
            .patch_status(
                &self.config.node_name,
                &PatchParams::default(),
                &Patch::Merge(&json!({"status": status})),
            )
            .await?;
        Ok(beat)
    }

    async fn renew_lease(&self) -> Result<()> {
        let now = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string();
        let lease = json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.config.node_name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": self.config.node_name, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": now},
        });
        let params = PatchParams::apply("kindling-node").force();
        self.leases
            .patch(&self.config.node_name, &params, &Patch::Apply(&lease))
            .await?;
        Ok(())
    }

    /// Ready only when containerd answers and a CNI config exists, as the kubelet reports it.
    /// A condition's lastTransitionTime moves only when its status changes (`previous` are the
    /// node's current conditions).
    async fn status(&self, previous: &[NodeCondition]) -> Value {
        let now = jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let runtime_ok = tokio::net::UnixStream::connect(&self.config.runtime_endpoint)
            .await
            .is_ok();
        let network_ok = cni::config_present();
        let (ready, reason, message) = match (runtime_ok, network_ok) {
            (true, true) => ("True", "KubeletReady", "kubelet is posting ready status".to_string()),
            (false, _) => ("False", "KubeletNotReady", "container runtime is down".to_string()),
            (true, false) => (
                "False",
                "KubeletNotReady",
                "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized".to_string(),
            ),
        };
        let condition = |type_: &str, status: &str, reason: &str, message: &str| {
            let transition = previous
                .iter()
                .find(|c| c.type_ == type_ && c.status == status)
                .and_then(|c| c.last_transition_time.as_ref())
                .map_or(now.clone(), |t| {
                    t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
                });
            json!({"type": type_, "status": status, "reason": reason, "message": message,
                   "lastHeartbeatTime": now, "lastTransitionTime": transition})
        };
        let cpus = sysinfo::cpus();
        let memory_ki = sysinfo::memory_bytes() / 1024;
        let storage_ki = sysinfo::ephemeral_storage_bytes() / 1024;
        let capacity = json!({
            "cpu": cpus.to_string(), "memory": format!("{memory_ki}Ki"),
            "ephemeral-storage": format!("{storage_ki}Ki"), "pods": "110", "hugepages-2Mi": "0",
        });
        json!({
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", ready, reason, &message),
            ],
            "addresses": [
                {"type": "InternalIP", "address": self.config.node_ip.to_string()},
                {"type": "Hostname", "address": self.config.node_name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": self.node_info,
        })
    }
}

fn node_info(runtime_version: &str) -> Value {
    json!({
        "machineID": sysinfo::machine_id(),
        "systemUUID": sysinfo::machine_id(),
        "bootID": sysinfo::boot_id(),
        "kernelVersion": sysinfo::kernel_version(),
        "osImage": sysinfo::os_image(),
        "containerRuntimeVersion": runtime_version,
        "kubeletVersion": KUBELET_VERSION,
        "kubeProxyVersion": KUBELET_VERSION,
        "operatingSystem": "linux",
        "architecture": sysinfo::go_arch(),
    })
}
