use super::*;
use serde_json::json;

fn now() -> Timestamp {
    "2026-01-01T12:00:00Z".parse().unwrap()
}

fn ds(extra: serde_json::Value) -> DaemonSet {
    let mut v = json!({
        "metadata": {"name": "agent", "namespace": "default", "uid": "ds-uid", "generation": 1},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "updateStrategy": {"type": "RollingUpdate",
                               "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            "template": {"metadata": {"labels": {"app": "agent"}},
                         "spec": {"containers": [{"name": "c", "image": "v1"}]}},
        },
    });
    merge(&mut v, extra);
    serde_json::from_value(v).unwrap()
}

fn merge(a: &mut serde_json::Value, b: serde_json::Value) {
    match (a, b) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn node(name: &str, labels: serde_json::Value, taints: serde_json::Value) -> Node {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints}}))
    .unwrap()
}

/// A pod of the set on `node` at `hash`: "ready", "notready", "failed", "terminating".
fn pod(d: &DaemonSet, node: &str, hash: &str, state: &str, created: &str) -> Pod {
    let mut p = new_pod(d, &template(d), hash, node);
    p.metadata.name = Some(format!("agent-{node}-{hash}"));
    p.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        created.parse().unwrap(),
    ));
    let (phase, ready) = match state {
        "notready" => ("Running", false),
        "failed" => ("Failed", false),
        _ => ("Running", true),
    };
    let mut status = json!({"phase": phase});
    if ready {
        status["conditions"] = json!([{"type": "Ready", "status": "True",
            "lastTransitionTime": "2026-01-01T00:00:00Z"}]);
    }
    p.status = Some(serde_json::from_value(status).unwrap());
    if state == "terminating" {
        p.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
    }
    p
}

const T1: &str = "2026-01-01T00:00:00Z";
const T2: &str = "2026-01-01T01:00:00Z";

fn changes(
    d: &DaemonSet,
    nodes: &[Node],
    pods: &[Pod],
    hash: &str,
    rolling: bool,
) -> (Vec<String>, Vec<String>) {
    let input = Input {
        ds: d,
        hash,
        nodes: nodes.iter().collect(),
        pods: pods.iter().collect(),
        now: now(),
    };
    let c = if rolling {
        rolling_update(&input)
    } else {
        manage(&input)
    };
    (
        c.create_on,
        c.delete
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect(),
    )
}

#[test]
fn eligible_nodes_follow_selectors_affinity_and_taints() {
    let plain = node("n1", json!({"disk": "ssd"}), json!([]));
    let cordoned = node(
        "n2",
        json!({}),
        json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]),
    );
    let not_ready = node(
        "n3",
        json!({}),
        json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]),
    );
    let tainted = node(
        "n4",
        json!({}),
        json!([{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]),
    );
    let evicting = node(
        "n5",
        json!({}),
        json!([{"key": "dedicated", "value": "x", "effect": "NoExecute"}]),
    );
    let cp = node(
        "cp",
        json!({}),
        json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
    );
    let d = ds(json!({}));
    assert_eq!(should_run(&d, &plain), (true, true));
    assert_eq!(
        should_run(&d, &cordoned),
        (true, true),
        "default toleration"
    );
    assert_eq!(
        should_run(&d, &not_ready),
        (true, true),
        "default toleration"
    );
    assert_eq!(
        should_run(&d, &tainted),
        (false, true),
        "stays, but no new pod"
    );
    assert_eq!(should_run(&d, &evicting), (false, false));
    assert_eq!(should_run(&d, &cp), (false, true));
    let tolerant =
        ds(json!({"spec": {"template": {"spec": {"tolerations": [{"operator": "Exists"}]}}}}));
    assert_eq!(should_run(&tolerant, &cp), (true, true));
    let selective = ds(json!({"spec": {"template": {"spec": {"nodeSelector": {"disk": "ssd"}}}}}));
    assert_eq!(should_run(&selective, &plain), (true, true));
    assert_eq!(should_run(&selective, &cordoned), (false, false));
    let affine = ds(
        json!({"spec": {"template": {"spec": {"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}]}}}}}}}),
    );
    assert_eq!(should_run(&affine, &plain), (false, false));
    assert_eq!(should_run(&affine, &cordoned), (true, true));
}

#[test]
fn a_daemon_pod_is_pinned_and_tolerant() {
    let d = ds(json!({"spec": {"template": {"spec": {"hostNetwork": true,
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "a", "operator": "Exists"}]}]}}}}}}}));
    let p = new_pod(&d, &template(&d), "h1", "n1");
    assert_eq!(p.metadata.generate_name.as_deref(), Some("agent-"));
    assert_eq!(
        p.metadata.labels.as_ref().unwrap()["controller-revision-hash"],
        "h1"
    );
    let spec = p.spec.as_ref().unwrap();
    let terms = &spec
        .affinity
        .as_ref()
        .unwrap()
        .node_affinity
        .as_ref()
        .unwrap()
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .unwrap()
        .node_selector_terms;
    assert_eq!(
        serde_json::to_value(terms).unwrap(),
        json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}])
    );
    assert_eq!(target_node(&p).as_deref(), Some("n1"));
    let keys: Vec<(String, String)> = spec
        .tolerations
        .as_ref()
        .unwrap()
        .iter()
        .map(|t| (t.key.clone().unwrap(), t.effect.clone().unwrap()))
        .collect();
    assert_eq!(keys.len(), 7, "{keys:?}");
    assert!(keys.contains(&(
        "node.kubernetes.io/network-unavailable".into(),
        "NoSchedule".into()
    )));
    let not_ready = &spec.tolerations.as_ref().unwrap()[0];
    assert_eq!(
        not_ready.toleration_seconds, None,
        "the default replaces the user's"
    );
}

#[test]
fn manage_gives_every_eligible_node_one_pod() {
    let d = ds(json!({}));
    let nodes = [
        node("n1", json!({}), json!([])),
        node("n2", json!({}), json!([])),
        node(
            "n3",
            json!({}),
            json!([{"key": "k", "effect": "NoExecute"}]),
        ),
    ];
    let pods = [
        pod(&d, "n1", "h1", "ready", T1),
        pod(&d, "n1", "h1", "ready", T2),
        pod(&d, "n3", "h1", "ready", T1),
        pod(&d, "gone", "h1", "ready", T1),
    ];
    let (create, delete) = changes(&d, &nodes, &pods, "h1", false);
    assert_eq!(create, ["n2"]);
    // The younger duplicate on n1, the pod on the NoExecute node, the one of a deleted node.
    assert_eq!(delete.len(), 3);
    assert!(delete.contains(&"agent-n1-h1".to_string()));
    let failed = [
        pod(&d, "n1", "h1", "failed", T1),
        pod(&d, "n2", "h1", "terminating", T1),
    ];
    let (create, delete) = changes(&d, &nodes[..2], &failed, "h1", false);
    assert_eq!((create, delete), (vec![], vec!["agent-n1-h1".to_string()]));
}

#[test]
fn rolling_update_within_max_unavailable() {
    let d = ds(json!({}));
    let nodes: Vec<Node> = (1..=3)
        .map(|i| node(&format!("n{i}"), json!({}), json!([])))
        .collect();
    let old: Vec<Pod> = (1..=3)
        .map(|i| pod(&d, &format!("n{i}"), "h1", "ready", T1))
        .collect();
    let (create, delete) = changes(&d, &nodes, &old, "h2", true);
    assert!(create.is_empty());
    assert_eq!(delete, ["agent-n1-h1"]);
    // One node without a pod is the one unavailable allowed: wait.
    let (_, delete) = changes(&d, &nodes, &old[1..], "h2", true);
    assert!(delete.is_empty());
    // An unavailable old pod is replaced at once, beside the budget (as upstream).
    let mut mixed = old.clone();
    mixed[2] = pod(&d, "n3", "h1", "notready", T1);
    let (_, delete) = changes(&d, &nodes, &mixed, "h2", true);
    assert_eq!(delete, ["agent-n3-h1", "agent-n1-h1"]);
    // 100%: all at once.
    let all =
        ds(json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "100%"}}}}));
    let (_, delete) = changes(&all, &nodes, &old, "h2", true);
    assert_eq!(delete.len(), 3);
}

#[test]
fn rolling_update_with_surge() {
    let d = ds(
        json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}}}),
    );
    let nodes: Vec<Node> = (1..=2)
        .map(|i| node(&format!("n{i}"), json!({}), json!([])))
        .collect();
    let old: Vec<Pod> = (1..=2)
        .map(|i| pod(&d, &format!("n{i}"), "h1", "ready", T1))
        .collect();
    assert_eq!(
        changes(&d, &nodes, &old, "h2", true),
        (vec!["n1".to_string()], vec![])
    );
    // The new pod on n1 is available: its old one goes, and n2 may surge.
    let mut surged = old.clone();
    surged.push(pod(&d, "n1", "h2", "ready", T2));
    assert_eq!(
        changes(&d, &nodes, &surged, "h2", true),
        (vec!["n2".to_string()], vec!["agent-n1-h1".to_string()])
    );
    // Not available yet: wait.
    let mut waiting = old;
    waiting.push(pod(&d, "n1", "h2", "notready", T2));
    assert_eq!(changes(&d, &nodes, &waiting, "h2", true), (vec![], vec![]));
    // manage keeps both pods while the new one is not available.
    assert_eq!(changes(&d, &nodes, &waiting, "h2", false), (vec![], vec![]));
}

#[test]
fn status_counts_nodes() {
    let d = ds(json!({}));
    let nodes = [
        node("n1", json!({}), json!([])),
        node("n2", json!({}), json!([])),
        node(
            "n3",
            json!({}),
            json!([{"key": "k", "effect": "NoSchedule"}]),
        ),
    ];
    let pods = [
        pod(&d, "n1", "h2", "ready", T1),
        pod(&d, "n2", "h1", "notready", T1),
        pod(&d, "n3", "h1", "ready", T1),
    ];
    let input = Input {
        ds: &d,
        hash: "h2",
        nodes: nodes.iter().collect(),
        pods: pods.iter().collect(),
        now: now(),
    };
    let s = status(&input);
    assert_eq!(
        (
            s.desired_number_scheduled,
            s.current_number_scheduled,
            s.number_ready,
            s.number_misscheduled
        ),
        (2, 2, 1, 1)
    );
    assert_eq!(
        (
            s.number_available,
            s.updated_number_scheduled,
            s.number_unavailable
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(s.observed_generation, Some(1));
}
