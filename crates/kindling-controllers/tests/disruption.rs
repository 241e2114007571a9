//! The disruption controller against a real API server on 127.0.0.1, with the workload
//! controllers making the pods: PodDisruptionBudget status from integers, percentages of a
//! Deployment's scale and maxUnavailable, following readiness, scale and spec changes. No node
//! runs the pods: a fake kubelet reports each new pod Running and Ready, as a node agent would.
#![allow(clippy::unwrap_used)] // tests: a panic is a failed test with its location

mod common;

use common::{now, Kubelet, Server};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::ResourceExt;
use serde_json::json;
use std::time::{Duration, Instant};

fn deployment(name: &str, replicas: i32) -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
}

fn budget(name: &str, app: &str, spec: serde_json::Value) -> PodDisruptionBudget {
    let mut spec = spec;
    spec["selector"] = json!({"matchLabels": {"app": app}});
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

/// Waits until the budget's (expected, desired, current, allowed) are `want`.
async fn wait_status(
    pdbs: &Api<PodDisruptionBudget>,
    name: &str,
    want: (i32, i32, i32, i32),
) -> PodDisruptionBudget {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pdb = pdbs.get(name).await.unwrap();
        let got = pdb.status.as_ref().map(|s| {
            (
                s.expected_pods,
                s.desired_healthy,
                s.current_healthy,
                s.disruptions_allowed,
            )
        });
        if got == Some(want)
            && pdb.status.as_ref().and_then(|s| s.observed_generation) == pdb.metadata.generation
        {
            return pdb;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: {got:?}, wanted {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[test]
fn budget_status_follows_pods_and_scale() {
    let server = Server::start();
    server.run_all_controllers();
    // The fake kubelet reports each new pod Running and Ready at once.
    server
        .runtime
        .spawn(Kubelet::default().run(server.client.clone()));
    let client = server.client.clone();
    server.runtime.block_on(async {
        let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
            Api::namespaced(client.clone(), "default");
        let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), "default");
        let post = PostParams::default();
        deployments
            .create(
                &post,
                &serde_json::from_value(deployment("web", 4)).unwrap(),
            )
            .await
            .unwrap();

        // minAvailable as a percentage of the Deployment's scale (rounded up), and as maxUnavailable.
        pdbs.create(
            &post,
            &budget("half", "web", json!({"minAvailable": "50%"})),
        )
        .await
        .unwrap();
        pdbs.create(
            &post,
            &budget("one-down", "web", json!({"maxUnavailable": 1})),
        )
        .await
        .unwrap();
        pdbs.create(&post, &budget("all", "web", json!({"minAvailable": 4})))
            .await
            .unwrap();
        let half = wait_status(&pdbs, "half", (4, 2, 4, 2)).await;
        let cond = &half.status.unwrap().conditions.unwrap()[0];
        assert_eq!(
            (
                cond.type_.as_str(),
                cond.status.as_str(),
                cond.reason.as_str()
            ),
            ("DisruptionAllowed", "True", "SufficientPods")
        );
        wait_status(&pdbs, "one-down", (4, 3, 4, 1)).await;
        let all = wait_status(&pdbs, "all", (4, 4, 4, 0)).await;
        let cond = &all.status.unwrap().conditions.unwrap()[0];
        assert_eq!(
            (cond.status.as_str(), cond.reason.as_str()),
            ("False", "InsufficientPods")
        );

        // Scaling the Deployment changes what the percentages are of.
        let scale = json!({"spec": {"replicas": 6}});
        deployments
            .patch("web", &PatchParams::default(), &Patch::Merge(&scale))
            .await
            .unwrap();
        wait_status(&pdbs, "half", (6, 3, 6, 3)).await;
        wait_status(&pdbs, "one-down", (6, 5, 6, 1)).await;

        // A pod turning unready counts no more.
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let victim = pods.list(&Default::default()).await.unwrap().items[0].name_any();
        let unready = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False", "lastTransitionTime": now()}]}});
        pods.patch_status(&victim, &PatchParams::default(), &Patch::Merge(&unready))
            .await
            .unwrap();
        wait_status(&pdbs, "one-down", (6, 5, 5, 0)).await;

        // A spec change is observed (generation) and recomputed.
        let relaxed = json!({"spec": {"maxUnavailable": "50%"}});
        pdbs.patch("one-down", &PatchParams::default(), &Patch::Merge(&relaxed))
            .await
            .unwrap();
        let pdb = wait_status(&pdbs, "one-down", (6, 3, 5, 2)).await;
        assert_eq!(pdb.status.unwrap().observed_generation, Some(2));
    });
}
