//! Drain, as `kubectl drain --ignore-daemonsets --delete-emptydir-data` does it: cordon, then
//! evict every pod [`plan::drain_action`] says to evict through the eviction subresource —
//! where PodDisruptionBudgets decide, a 429 meaning "not now" — retrying until each is gone.

use super::plan::{self, DrainAction};
use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams};
use std::time::{Duration, Instant};

/// kubectl drain waits 5 s after a 429 before it asks again; a local cluster can ask sooner.
const RETRY: Duration = Duration::from_secs(1);

/// Marks the node unschedulable (`kubectl cordon`). An absent Node is not an error: there is
/// nothing to drain then.
pub async fn cordon(client: &kube::Client, node: &str) -> Result<bool> {
    let nodes: Api<Node> = Api::all(client.clone());
    if nodes.get_opt(node).await?.is_none() {
        return Ok(false);
    }
    let patch = serde_json::json!({"spec": {"unschedulable": true}});
    nodes
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("cordoning node {node}"))?;
    Ok(true)
}

/// Evicts the node's pods until none that should go is left, or `timeout` passes. Prints
/// kubectl's lines (`evicting pod ns/name`, the budget's refusal once per pod).
pub async fn drain(
    client: &kube::Client,
    node: &str,
    timeout: Duration,
    quiet: bool,
) -> Result<()> {
    let all: Api<Pod> = Api::all(client.clone());
    let on_node = ListParams::default().fields(&format!("spec.nodeName={node}"));
    let deadline = Instant::now() + timeout;
    let mut told: std::collections::BTreeSet<String> = Default::default();
    loop {
        let pods = all
            .list(&on_node)
            .await
            .context("listing the node's pods")?;
        let mut remaining = Vec::new();
        for pod in &pods.items {
            let (Some(ns), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) else {
                continue;
            };
            let key = format!("{ns}/{name}");
            let api: Api<Pod> = Api::namespaced(client.clone(), ns);
            match plan::drain_action(pod) {
                DrainAction::Skip(why) => {
                    if why == "terminating" {
                        remaining.push(key);
                    }
                }
                DrainAction::Delete => {
                    api.delete(name, &DeleteParams::default()).await.ok();
                    remaining.push(key);
                }
                DrainAction::Evict => {
                    if told.insert(format!("evict {key}")) && !quiet {
                        eprintln!("evicting pod {key}");
                    }
                    match api.evict(name, &EvictParams::default()).await {
                        Ok(_) => {}
                        Err(kube::Error::Api(e)) if e.code == 404 => continue,
                        Err(kube::Error::Api(e)) if e.code == 429 => {
                            if told.insert(format!("429 {key}")) && !quiet {
                                eprintln!("error when evicting pods/\"{name}\" -n \"{ns}\" (will retry after 1s): {}", e.message);
                            }
                        }
                        Err(e) => return Err(e).with_context(|| format!("evicting {key}")),
                    }
                    remaining.push(key);
                }
            }
        }
        if remaining.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "drain did not complete within {timeout:?}: {} still on node {node} (the node stays cordoned)",
                remaining.join(", ")
            );
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Deletes what is left on a removed node at once (its mirror and DaemonSet pods), as
/// upstream's pod garbage collector deletes the pods of a node that no longer exists.
pub async fn delete_leftover_pods(client: &kube::Client, node: &str) -> Result<()> {
    let all: Api<Pod> = Api::all(client.clone());
    let on_node = ListParams::default().fields(&format!("spec.nodeName={node}"));
    for pod in all.list(&on_node).await?.items {
        let (Some(ns), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) else {
            continue;
        };
        let api: Api<Pod> = Api::namespaced(client.clone(), ns);
        match api
            .delete(name, &DeleteParams::default().grace_period(0))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e).with_context(|| format!("deleting pod {ns}/{name}")),
        }
    }
    Ok(())
}
