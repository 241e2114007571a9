//! Taint eviction, as upstream's taint-eviction-controller: a pod on a node with a `NoExecute`
//! taint it does not tolerate is deleted; one that tolerates it for `tolerationSeconds` is
//! deleted that long after the taint was added; one that tolerates it without a limit stays.
//! With the default tolerations every pod gets (300 s for not-ready/unreachable), pods of a node
//! that went silent are deleted five minutes later, so their controllers can replace them.

use crate::FIELD_MANAGER;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use kindling_api::taints::tolerates;
use kindling_events::{Recorder, Reporter};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

const PERIOD: Duration = Duration::from_secs(1);

pub async fn run(client: kube::Client) {
    let recorder = Recorder::spawn(
        client.clone(),
        Reporter::control_plane("taint-eviction-controller"),
        4,
    );
    loop {
        if let Err(e) = pass(&client, &recorder, Timestamp::now()).await {
            tracing::debug!("taint eviction: {e}");
        }
        tokio::time::sleep(PERIOD).await;
    }
}

/// Evicts what is due at `now` on every node with NoExecute taints.
async fn pass(
    client: &kube::Client,
    recorder: &Recorder,
    now: Timestamp,
) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    for node in nodes.list(&ListParams::default()).await?.items {
        let taints: Vec<Taint> = node
            .spec
            .and_then(|s| s.taints)
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.effect == "NoExecute")
            .collect();
        if taints.is_empty() {
            continue;
        }
        let name = node.metadata.name.unwrap_or_default();
        let pods: Api<Pod> = Api::all(client.clone());
        let on_node = pods
            .list(&ListParams::default().fields(&format!("spec.nodeName={name}")))
            .await?
            .items;
        for pod in on_node {
            if pod.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let tolerations = pod
                .spec
                .as_ref()
                .and_then(|s| s.tolerations.clone())
                .unwrap_or_default();
            if eviction_time(&taints, &tolerations).is_some_and(|at| at <= now) {
                evict(client, recorder, &pod).await;
            }
        }
    }
    Ok(())
}

/// When a pod with `tolerations` must go from a node with NoExecute `taints`: at once for an
/// untolerated taint, else the earliest taint's time plus the shortest tolerationSeconds among
/// the tolerations used; never when none of them has a limit (upstream's getMinTolerationTime).
pub fn eviction_time(taints: &[Taint], tolerations: &[Toleration]) -> Option<Timestamp> {
    let mut shortest: Option<i64> = None;
    let mut earliest_added: Option<Timestamp> = None;
    for taint in taints {
        let used: Vec<&Toleration> = tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if used.is_empty() {
            return Some(Timestamp::MIN);
        }
        for t in used {
            if let Some(seconds) = t.toleration_seconds {
                shortest = Some(shortest.map_or(seconds, |s| s.min(seconds)));
            }
        }
        let added = taint.time_added.as_ref().map(|t| t.0);
        earliest_added = match (earliest_added, added) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    let seconds = shortest?;
    let from = earliest_added.unwrap_or_else(Timestamp::now);
    from.checked_add(SignedDuration::from_secs(seconds.max(0)))
        .ok()
}

/// Marks the pod as disrupted, deletes it, and says so in an event, as upstream does.
async fn evict(client: &kube::Client, recorder: &Recorder, pod: &Pod) {
    let (Some(ns), Some(name)) = (
        pod.metadata.namespace.as_deref(),
        pod.metadata.name.as_deref(),
    ) else {
        return;
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let now = Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let condition = json!({"status": {"conditions": [{
        "type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
        "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": now}]}});
    let _ = pods
        .patch_status(
            name,
            &PatchParams {
                field_manager: Some(FIELD_MANAGER.into()),
                ..Default::default()
            },
            &Patch::Strategic(&condition),
        )
        .await;
    match pods.delete(name, &DeleteParams::default()).await {
        Ok(_) => tracing::info!("evicted pod {ns}/{name} from a NoExecute-tainted node"),
        Err(e) => {
            tracing::debug!("evicting {ns}/{name}: {e}");
            return;
        }
    }
    let note = format!("Marking for deletion Pod {ns}/{name}");
    recorder.normal(
        kindling_events::reference(pod),
        "TaintManagerEviction",
        "",
        note,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn taint(key: &str, added: Timestamp) -> Taint {
        Taint {
            key: key.into(),
            effect: "NoExecute".into(),
            time_added: Some(Time(added)),
            value: None,
        }
    }

    fn toleration(key: &str, seconds: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: seconds,
            value: None,
        }
    }

    #[test]
    fn untolerated_now_tolerated_later_or_never() {
        let t0: Timestamp = "2026-11-22T00:00:00Z".parse().unwrap();
        let taints = [taint("node.kubernetes.io/unreachable", t0)];
        assert_eq!(eviction_time(&taints, &[]), Some(Timestamp::MIN));
        assert_eq!(
            eviction_time(&taints, &[toleration("other", None)]),
            Some(Timestamp::MIN)
        );
        let in_300 = eviction_time(
            &taints,
            &[toleration("node.kubernetes.io/unreachable", Some(300))],
        );
        assert_eq!(in_300, Some("2026-11-22T00:05:00Z".parse().unwrap()));
        assert_eq!(
            eviction_time(
                &taints,
                &[toleration("node.kubernetes.io/unreachable", None)]
            ),
            None
        );
        // `operator: Exists` without a key tolerates everything.
        let all = Toleration {
            operator: Some("Exists".into()),
            ..Default::default()
        };
        assert_eq!(eviction_time(&taints, &[all]), None);
        // The shortest limit among the tolerations used wins.
        let both = [
            toleration("node.kubernetes.io/unreachable", Some(300)),
            toleration("node.kubernetes.io/unreachable", Some(60)),
        ];
        assert_eq!(
            eviction_time(&taints, &both),
            Some("2026-11-22T00:01:00Z".parse().unwrap())
        );
    }
}
