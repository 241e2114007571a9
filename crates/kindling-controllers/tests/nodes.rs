//! The node controllers against a real API server on 127.0.0.1. Node lifecycle: a node whose
//! lease and status stop changing turns Unknown with the unreachable taints and its pod not
//! Ready; when the agent reports again, the taints go (a short grace period stands in for
//! upstream's 50 s). Taint eviction: pods leave NoExecute-tainted nodes unless they tolerate it.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;

use common::{eventually, now_micro as now, with_server};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kindling_controllers::nodelifecycle::{self, Settings, TAINT_UNREACHABLE};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::time::{Duration, Instant};

/// What the node agent posts: a fresh lease and a Ready status.
async fn heartbeat(client: &kube::Client, node: &str) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": node, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": now()}});
    leases
        .patch(
            node,
            &PatchParams::apply("test-agent").force(),
            &Patch::Apply(&lease),
        )
        .await
        .unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    let status = json!({"status": {"conditions": [
        {"type": "Ready", "status": "True", "reason": "KubeletReady",
         "message": "kubelet is posting ready status", "lastHeartbeatTime": now(),
         "lastTransitionTime": now()}]}});
    nodes
        .patch_status(node, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

fn taint_keys(node: &Node) -> Vec<String> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .map(|t| {
            t.iter()
                .map(|t| format!("{}:{}", t.key, t.effect))
                .collect()
        })
        .unwrap_or_default()
}

fn ready_status(node: &Node) -> String {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.clone())
        .unwrap_or_default()
}

fn pod_on(node: &str, name: &str, tolerations: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"nodeName": node, "automountServiceAccountToken": false,
                 "tolerations": tolerations,
                 "containers": [{"name": "c", "image": "busybox"}]},
    }))
    .unwrap()
}

#[test]
fn silent_nodes_turn_unknown_and_tainted_and_recover() {
    with_server(|client| async move {
        let nodes: Api<Node> = Api::all(client.clone());
        for name in ["alive", "silent"] {
            let node: Node = serde_json::from_value(json!({
                "metadata": {"name": name},
                "spec": {"taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]},
            }))
            .unwrap();
            nodes.create(&PostParams::default(), &node).await.unwrap();
            heartbeat(&client, name).await;
        }
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let pod = pod_on("silent", "p", json!([]));
        pods.create(&PostParams::default(), &pod).await.unwrap();
        let ready = json!({"status": {"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True"}]}});
        pods.patch_status("p", &PatchParams::default(), &Patch::Merge(&ready))
            .await
            .unwrap();

        let settings = Settings {
            period: Duration::from_millis(200),
            grace: Duration::from_secs(2),
        };
        tokio::spawn(nodelifecycle::run_with(client.clone(), settings));
        // "alive" keeps posting; "silent" does not.
        let beating = client.clone();
        let beat = tokio::spawn(async move {
            loop {
                heartbeat(&beating, "alive").await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });

        eventually("silent turns Unknown", || async {
            ready_status(&nodes.get("silent").await.unwrap()) == "Unknown"
        })
        .await;
        let silent = nodes.get("silent").await.unwrap();
        let cond = silent.status.as_ref().unwrap().conditions.as_ref().unwrap();
        assert_eq!(cond[0].reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            cond[0].message.as_deref(),
            Some("Kubelet stopped posting node status.")
        );
        // What `kubectl describe node` looks for.
        let events: Api<k8s_openapi::api::core::v1::Event> = Api::all(client.clone());
        let uid = silent.metadata.uid.clone().unwrap();
        let selector =
            format!("involvedObject.kind=Node,involvedObject.name=silent,involvedObject.uid={uid}");
        eventually("a NodeNotReady event", || async {
            events
                .list(&kube::api::ListParams::default().fields(&selector))
                .await
                .unwrap()
                .items
                .iter()
                .any(|e| e.reason.as_deref() == Some("NodeNotReady"))
        })
        .await;
        eventually("unreachable taints", || async {
            let keys = taint_keys(&nodes.get("silent").await.unwrap());
            keys.contains(&format!("{TAINT_UNREACHABLE}:NoSchedule"))
                && keys.contains(&format!("{TAINT_UNREACHABLE}:NoExecute"))
        })
        .await;
        assert!(taint_keys(&nodes.get("silent").await.unwrap())
            .contains(&"dedicated:NoSchedule".to_string()));
        eventually("pod not ready", || async {
            let p = pods.get("p").await.unwrap();
            p.status
                .and_then(|s| s.conditions)
                .and_then(|c| c.into_iter().find(|c| c.type_ == "Ready"))
                .is_some_and(|c| c.status == "False")
        })
        .await;
        let alive = nodes.get("alive").await.unwrap();
        assert_eq!(ready_status(&alive), "True");
        assert_eq!(taint_keys(&alive), ["dedicated:NoSchedule"]);

        // The agent is back.
        heartbeat(&client, "silent").await;
        eventually("taints removed", || async {
            taint_keys(&nodes.get("silent").await.unwrap()) == ["dedicated:NoSchedule"]
        })
        .await;
        beat.abort();
    });
}

#[test]
fn pods_leave_no_execute_tainted_nodes_unless_tolerated() {
    with_server(|client| async move {
        let nodes: Api<Node> = Api::all(client.clone());
        // The two seconds count from the taint's timeAdded.
        let tainted_at = Instant::now();
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "tainted"},
            "spec": {"taints": [{"key": "maintenance", "effect": "NoExecute",
                                 "timeAdded": jiff::Timestamp::now().to_string()}]},
        }))
        .unwrap();
        nodes.create(&PostParams::default(), &node).await.unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let tolerate = |seconds: Option<i64>| {
            json!([{"key": "maintenance", "operator": "Exists", "effect": "NoExecute",
                    "tolerationSeconds": seconds}])
        };
        for (name, tolerations) in [
            ("untolerated", json!([])),
            ("for-two-seconds", tolerate(Some(2))),
            ("forever", tolerate(None)),
        ] {
            let pod = pod_on("tainted", name, tolerations);
            pods.create(&PostParams::default(), &pod).await.unwrap();
        }
        tokio::spawn(kindling_controllers::tainteviction::run(client.clone()));
        let deleting = |name: &'static str| {
            let pods = pods.clone();
            async move {
                // Bound to a node, the pod is deleted gracefully: it gets a deletionTimestamp
                // (the node's agent would finish it).
                pods.get(name)
                    .await
                    .map_or(true, |p| p.metadata.deletion_timestamp.is_some())
            }
        };
        eventually("untolerated evicted", || deleting("untolerated")).await;
        assert!(!deleting("for-two-seconds").await);
        eventually("for-two-seconds evicted", || deleting("for-two-seconds")).await;
        // timeAdded is kept to the second (metav1.Time), so up to one second of the two may
        // already have passed when the taint was written.
        assert!(tainted_at.elapsed() >= Duration::from_millis(1000));
        let evicted = pods.get("for-two-seconds").await.unwrap();
        let disruption = evicted
            .status
            .and_then(|s| s.conditions)
            .and_then(|c| c.into_iter().find(|c| c.type_ == "DisruptionTarget"));
        assert_eq!(
            disruption.and_then(|c| c.reason).as_deref(),
            Some("DeletionByTaintManager")
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(!deleting("forever").await);
    });
}
