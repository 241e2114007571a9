//! Node lifecycle, as upstream's node-lifecycle-controller: a node whose agent has renewed
//! neither its Lease nor its status for the grace period gets every condition set to `Unknown`
//! ("Kubelet stopped posting node status."), its pods marked not Ready and the `unreachable`
//! taints; a node that reports `Ready=False` gets the `not-ready` taints. The taints go again when
//! the node is Ready. Staleness is judged by when *this controller* saw the lease or heartbeat
//! change, not by the timestamps in them, so clocks of nodes and control plane need not agree.
//!
//! Not done: eviction of pods that do not tolerate the NoExecute taints (upstream's taint
//! eviction controller, after `tolerationSeconds`).

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use kindling_events::{Recorder, Reporter};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";

/// How often nodes are looked at and how long a silent node stays trusted (upstream's
/// `--node-monitor-period` 5 s and `--node-monitor-grace-period` 50 s since 1.32).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub period: Duration,
    pub grace: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            period: Duration::from_secs(5),
            grace: Duration::from_secs(50),
        }
    }
}

/// What was last seen of a node's liveness signals, and when.
struct Observed {
    signals: (Option<Timestamp>, Option<Timestamp>),
    at: Instant,
}

pub async fn run(client: kube::Client) {
    run_with(client, Settings::default()).await;
}

pub async fn run_with(client: kube::Client, settings: Settings) {
    run_as(client.clone(), client, settings).await;
}

/// Reads the nodes' Leases as `shared` (the controller manager's lease informer: upstream's
/// `system:controller:node-controller` may not read leases), everything else as `client`.
pub async fn run_as(shared: kube::Client, client: kube::Client, settings: Settings) {
    tokio::spawn(follow_readiness(client.clone()));
    let recorder = Recorder::spawn(
        client.clone(),
        Reporter::control_plane("node-controller"),
        4,
    );
    let mut seen: HashMap<String, Observed> = HashMap::new();
    loop {
        if let Err(e) = monitor(&client, &shared, &recorder, settings, &mut seen).await {
            tracing::debug!("node lifecycle: {e}");
        }
        tokio::time::sleep(settings.period).await;
    }
}

/// Taints follow a node's reported readiness as soon as it changes, not at the next pass: a
/// node that registers NotReady and turns Ready a moment later takes pods at once.
async fn follow_readiness(client: kube::Client) {
    use futures::StreamExt;
    use kube::runtime::{watcher, WatchStreamExt};
    let nodes: Api<Node> = Api::all(client);
    let mut changes = watcher(nodes.clone(), watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    while let Some(change) = changes.next().await {
        let Ok(node) = change else {
            continue;
        };
        let ready = condition(&conditions_of(&node), "Ready")
            .map(|c| c.status.clone())
            .unwrap_or_default();
        if let Err(e) = sync_taints(&nodes, &node, &ready).await {
            tracing::debug!("node lifecycle: {e}");
        }
    }
}

/// One pass over every node.
async fn monitor(
    client: &kube::Client,
    shared: &kube::Client,
    recorder: &Recorder,
    settings: Settings,
    seen: &mut HashMap<String, Observed>,
) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(shared.clone(), "kube-node-lease");
    let node_list = nodes.list(&ListParams::default()).await?.items;
    let renewals: HashMap<String, Timestamp> = leases
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|l| {
            let renew = l.spec?.renew_time?.0;
            Some((l.metadata.name?, renew))
        })
        .collect();
    seen.retain(|name, _| {
        node_list
            .iter()
            .any(|n| n.metadata.name.as_ref() == Some(name))
    });
    for node in node_list {
        let Some(name) = node.metadata.name.clone() else {
            continue;
        };
        let conditions = conditions_of(&node);
        let heartbeat = condition(&conditions, "Ready")
            .and_then(|c| c.last_heartbeat_time.as_ref())
            .map(|t| t.0);
        let signals = (renewals.get(&name).copied(), heartbeat);
        let now = Instant::now();
        let observed = seen
            .entry(name.clone())
            .or_insert(Observed { signals, at: now });
        if observed.signals != signals {
            observed.signals = signals;
            observed.at = now;
        }
        let silent = now.duration_since(observed.at) > settings.grace;
        let mut ready = condition(&conditions, "Ready")
            .map(|c| c.status.clone())
            .unwrap_or_default();
        if silent && (conditions.is_empty() || conditions.iter().any(|c| c.status != "Unknown")) {
            mark_unknown(client, &name, &conditions).await?;
            record_not_ready(recorder, &node);
            mark_pods_not_ready(client, &name).await?;
            ready = "Unknown".into();
        }
        sync_taints(&nodes, &node, &ready).await?;
    }
    Ok(())
}

fn conditions_of(node: &Node) -> Vec<NodeCondition> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
}

fn condition<'a>(conditions: &'a [NodeCondition], type_: &str) -> Option<&'a NodeCondition> {
    conditions.iter().find(|c| c.type_ == type_)
}

fn now_rfc3339() -> String {
    Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Every condition → Unknown, as upstream words it; heartbeats are kept.
async fn mark_unknown(
    client: &kube::Client,
    node: &str,
    conditions: &[NodeCondition],
) -> Result<(), kube::Error> {
    let now = now_rfc3339();
    let mut updated: Vec<serde_json::Value> = conditions
        .iter()
        .map(|c| {
            let mut v = serde_json::to_value(c).unwrap_or_default();
            if c.status != "Unknown" {
                v["status"] = json!("Unknown");
                v["reason"] = json!("NodeStatusUnknown");
                v["message"] = json!("Kubelet stopped posting node status.");
                v["lastTransitionTime"] = json!(now);
            }
            v
        })
        .collect();
    if updated.is_empty() {
        updated.push(
            json!({"type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
            "message": "Kubelet never posted node status.", "lastHeartbeatTime": null,
            "lastTransitionTime": now}),
        );
    }
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .patch_status(
            node,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"conditions": updated}})),
        )
        .await?;
    tracing::info!("node {node}: no status for the grace period, now NotReady (Unknown)");
    Ok(())
}

/// Pods on a node that stopped reporting are not Ready any more (their endpoints go away).
async fn mark_pods_not_ready(client: &kube::Client, node: &str) -> Result<(), kube::Error> {
    let pods: Api<Pod> = Api::all(client.clone());
    let on_node = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await?
        .items;
    let now = now_rfc3339();
    for pod in on_node {
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "True");
        let (Some(ns), Some(name)) = (
            pod.metadata.namespace.as_deref(),
            pod.metadata.name.as_deref(),
        ) else {
            continue;
        };
        if !ready {
            continue;
        }
        let api: Api<Pod> = Api::namespaced(client.clone(), ns);
        let patch = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": now}]}});
        if let Err(e) = api
            .patch_status(name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
        {
            tracing::debug!("marking pod {ns}/{name} not ready: {e}");
        }
    }
    Ok(())
}

/// `Node <name> status is now: NodeNotReady`, as `kubectl describe node` shows it (it finds
/// events of a node by its uid).
fn record_not_ready(recorder: &Recorder, node: &Node) {
    let note = format!("Node {} status is now: NodeNotReady", node.name_any());
    recorder.normal(kindling_events::reference(node), "NodeNotReady", "", note);
}

/// The taints the node's Ready status calls for, with the node's other taints kept as they are.
/// A node that has not reported any (`ready` empty) gets none until the grace period marks it
/// Unknown, as upstream.
fn desired_taints(current: &[Taint], ready: &str) -> Vec<Taint> {
    let wanted_key = match ready {
        "True" | "" => None,
        "False" => Some(TAINT_NOT_READY),
        _ => Some(TAINT_UNREACHABLE),
    };
    let ours = |t: &Taint| t.key == TAINT_NOT_READY || t.key == TAINT_UNREACHABLE;
    let mut taints: Vec<Taint> = current
        .iter()
        .filter(|t| !ours(t) || Some(t.key.as_str()) == wanted_key)
        .cloned()
        .collect();
    if let Some(key) = wanted_key {
        for effect in ["NoSchedule", "NoExecute"] {
            if !taints.iter().any(|t| t.key == key && t.effect == effect) {
                taints.push(Taint {
                    key: key.into(),
                    effect: effect.into(),
                    time_added: (effect == "NoExecute").then(|| {
                        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now())
                    }),
                    value: None,
                });
            }
        }
    }
    taints
}

async fn sync_taints(nodes: &Api<Node>, node: &Node, ready: &str) -> Result<(), kube::Error> {
    let current = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let desired = desired_taints(&current, ready);
    if desired == current {
        return Ok(());
    }
    let name = node.metadata.name.as_deref().unwrap_or_default();
    // The resourceVersion makes this a compare-and-swap: a concurrent change of the taints
    // (kubectl taint) is not overwritten; the next pass tries again.
    let patch = json!({
        "metadata": {"resourceVersion": node.metadata.resource_version},
        "spec": {"taints": desired},
    });
    match nodes
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            effect: effect.into(),
            ..Default::default()
        }
    }

    #[test]
    fn taints_follow_readiness_and_keep_the_others() {
        let user = taint("dedicated", "NoSchedule");
        let unknown = desired_taints(std::slice::from_ref(&user), "Unknown");
        let keys: Vec<(&str, &str)> = unknown
            .iter()
            .map(|t| (t.key.as_str(), t.effect.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("dedicated", "NoSchedule"),
                (TAINT_UNREACHABLE, "NoSchedule"),
                (TAINT_UNREACHABLE, "NoExecute")
            ]
        );
        assert!(unknown[2].time_added.is_some() && unknown[1].time_added.is_none());
        let not_ready = desired_taints(&unknown, "False");
        assert!(not_ready.iter().all(|t| t.key != TAINT_UNREACHABLE));
        assert_eq!(
            not_ready
                .iter()
                .filter(|t| t.key == TAINT_NOT_READY)
                .count(),
            2
        );
        assert_eq!(desired_taints(&not_ready, "True"), vec![user.clone()]);
        assert_eq!(desired_taints(&not_ready, ""), vec![user]);
        // Already right: unchanged, timeAdded kept.
        assert_eq!(desired_taints(&unknown, "Unknown"), unknown);
    }
}
