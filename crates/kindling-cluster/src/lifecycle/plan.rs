//! What the lifecycle commands decide, without IO: the order nodes stop and start in, a
//! cluster's state from its containers, the name and checks of a node to add or delete, and
//! which pods a drain evicts. The commands (`stop.rs`, `start.rs`, `nodes.rs`) only carry these
//! decisions out.

use k8s_openapi::api::core::v1::{Node, Pod};
use kindling_provider::{NodeInfo, Role};
use std::collections::BTreeMap;

/// The annotation a kubelet puts on the mirror pod of a static pod (upstream's
/// `kubernetes.io/config.mirror`): not evictable, it goes with its node.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Groups of nodes to start one after the other (each group in parallel): the API server's
/// load balancer, then control planes (the API server they all talk to), then workers.
pub fn start_order(nodes: &[NodeInfo]) -> Vec<Vec<String>> {
    let group = |role: Option<Role>| -> Vec<String> {
        nodes
            .iter()
            .filter(|n| n.role == role)
            .map(|n| n.name.clone())
            .collect()
    };
    let mut groups = vec![
        group(Some(Role::ExternalLoadBalancer)),
        group(Some(Role::ControlPlane)),
        group(Some(Role::Worker)),
        group(None),
    ];
    groups.retain(|g| !g.is_empty());
    groups
}

/// The reverse: workers first (their pods end while the API server still hears about it),
/// control planes last.
pub fn stop_order(nodes: &[NodeInfo]) -> Vec<Vec<String>> {
    let mut groups = start_order(nodes);
    groups.reverse();
    groups
}

/// A cluster's state as `kindling get clusters -o wide` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterState {
    /// Every node container runs.
    Running,
    /// None runs (`kindling stop cluster`, or the engine stopped them).
    Stopped,
    /// Some run, some do not (a node stopped by hand, or a start under way).
    Degraded,
}

impl ClusterState {
    pub fn as_str(&self) -> &'static str {
        match self {
            ClusterState::Running => "Running",
            ClusterState::Stopped => "Stopped",
            ClusterState::Degraded => "Degraded",
        }
    }
}

/// The state of one cluster from its node containers (`running` as the engine says).
pub fn cluster_state(nodes: &[NodeInfo]) -> ClusterState {
    let running = nodes.iter().filter(|n| n.is_running()).count();
    match running {
        0 => ClusterState::Stopped,
        r if r == nodes.len() => ClusterState::Running,
        _ => ClusterState::Degraded,
    }
}

/// `NAME STATUS NODES` rows of `get clusters -o wide`, one per cluster, by name.
pub fn wide_rows(nodes: &[NodeInfo]) -> Vec<[String; 3]> {
    let mut by_cluster: BTreeMap<&str, Vec<NodeInfo>> = BTreeMap::new();
    for n in nodes {
        by_cluster
            .entry(n.cluster.as_str())
            .or_default()
            .push(n.clone());
    }
    by_cluster
        .into_iter()
        .map(|(name, nodes)| {
            let running = nodes.iter().filter(|n| n.is_running()).count();
            [
                name.to_string(),
                cluster_state(&nodes).as_str().to_string(),
                format!("{running}/{}", nodes.len()),
            ]
        })
        .collect()
}

/// kind's name for the next node of `role`: `<cluster>-<role>` for the first, then the number
/// after the highest one in use (`kind-worker4` after `kind-worker3`), so a name is never
/// given to a second node while the first may still be remembered somewhere.
pub fn next_node_name(cluster: &str, role: Role, existing: &[String]) -> String {
    let base = format!("{cluster}-{}", role.as_str());
    let highest = existing
        .iter()
        .filter_map(|n| {
            let rest = n.strip_prefix(&base)?;
            if rest.is_empty() {
                Some(1)
            } else {
                rest.parse::<u32>().ok().filter(|i| *i >= 2)
            }
        })
        .max();
    match highest {
        None => base,
        Some(i) => format!("{base}{}", i + 1),
    }
}

/// Why `create node` refuses, checked before anything is made.
pub fn check_create_node(
    cluster: &str,
    name: &str,
    role: Role,
    nodes: &[NodeInfo],
    taken_by_engine: bool,
) -> Result<(), String> {
    if nodes.is_empty() {
        return Err(format!("unknown cluster \"{cluster}\""));
    }
    if role == Role::ExternalLoadBalancer {
        return Err(format!(
            "invalid role \"{role}\": expected worker or control-plane"
        ));
    }
    if !is_dns_label(name) {
        return Err(format!("invalid node name \"{name}\": a node name (its container's hostname) must be a DNS label: lower case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"));
    }
    if nodes.iter().any(|n| n.name == name) || taken_by_engine {
        return Err(format!(
            "node \"{name}\" already exists (a container of that name is present)"
        ));
    }
    Ok(())
}

/// A DNS-1123 label: a node's name is its container's hostname.
fn is_dns_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !s.is_empty()
        && s.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Why `delete node` refuses, checked before anything is changed.
pub fn check_delete_node(cluster: &str, name: &str, nodes: &[NodeInfo]) -> Result<(), String> {
    let Some(node) = nodes.iter().find(|n| n.name == name) else {
        return Err(format!("unknown node \"{name}\" for cluster \"{cluster}\""));
    };
    match node.role {
        Some(Role::Worker) => Ok(()),
        Some(Role::ControlPlane) => check_delete_control_plane(cluster, name, nodes),
        Some(Role::ExternalLoadBalancer) | None => Err(format!(
            "\"{name}\" is not a node of cluster \"{cluster}\" that can be deleted (it is its load balancer)"
        )),
    }
}

fn control_planes(nodes: &[NodeInfo]) -> Vec<&NodeInfo> {
    let mut cps: Vec<&NodeInfo> = nodes
        .iter()
        .filter(|n| n.role == Some(Role::ControlPlane))
        .collect();
    cps.sort_by(|a, b| a.name.cmp(&b.name));
    cps
}

/// Why a control plane cannot be added, checked before anything is made. `etcd_members` is
/// the first control plane's stacked etcd membership (None: its objects are in SQLite, which
/// only its own API server can use). etcd takes a new member only while every member is
/// connected (its strict reconfiguration check): every control plane must be running.
pub fn check_join_control_plane(
    cluster: &str,
    etcd_members: Option<&[String]>,
    nodes: &[NodeInfo],
) -> Result<(), String> {
    let cps = control_planes(nodes);
    let first = cps.first().map_or("", |n| n.name.as_str());
    if etcd_members.is_none() {
        return Err(format!("cluster \"{cluster}\" keeps its objects in SQLite on its only control plane ({first}), which no second API server can share: a control plane can be added only to a cluster whose store is stacked etcd (one created with several control-plane nodes); nothing was changed"));
    }
    if let Some(stopped) = cps.iter().find(|n| !n.is_running()) {
        return Err(format!("control-plane node {} is {}: etcd adds a member only while every member is up; `kindling start cluster --name {cluster}` first; nothing was changed", stopped.name, stopped.status));
    }
    Ok(())
}

/// Why a control plane cannot be deleted: it is the last one; or removing its etcd member
/// would leave fewer members running than a quorum of those that remain. Any other one may go,
/// the first included: every control plane keeps the admin kubeconfig, and the LoadBalancer
/// Service controller runs on whichever one holds its Lease.
fn check_delete_control_plane(cluster: &str, name: &str, nodes: &[NodeInfo]) -> Result<(), String> {
    let cps = control_planes(nodes);
    if cps.len() <= 1 {
        return Err(format!("node \"{name}\" is the last control-plane node of cluster \"{cluster}\"; delete the cluster instead"));
    }
    let remaining = cps.len() - 1;
    let running = cps
        .iter()
        .filter(|n| n.name != name && n.is_running())
        .count();
    let quorum = remaining / 2 + 1;
    if running < quorum {
        return Err(format!("deleting control-plane node \"{name}\" would leave {running} of {remaining} etcd members running, fewer than a quorum ({quorum}); start the stopped control planes first; nothing was changed"));
    }
    Ok(())
}

/// The control plane whose etcd member carries out the removal of `leaving`'s member: the
/// first running one that stays.
pub fn removal_via(nodes: &[NodeInfo], leaving: &str) -> Option<String> {
    control_planes(nodes)
        .into_iter()
        .find(|n| n.name != leaving && n.is_running())
        .map(|n| n.name.clone())
}

/// Whether `node` is Ready by a heartbeat posted at or after `since` (Unix seconds): a node
/// that was stopped still shows the Ready condition of its last heartbeat, so only a fresh one
/// says its agent is back. Heartbeat times have whole seconds.
pub fn ready_since(node: &Node, since: i64) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| {
            c.status == "True"
                && c.last_heartbeat_time
                    .as_ref()
                    .is_some_and(|t| t.0.as_second() >= since)
        })
}

/// What a drain does with one pod of the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DrainAction {
    /// Through the eviction subresource (PodDisruptionBudgets decide; 429 → try again).
    Evict,
    /// Left to go with the node: mirror pods, DaemonSet pods (as `kubectl drain
    /// --ignore-daemonsets`), pods already terminating.
    Skip(&'static str),
    /// Finished pods are deleted outright (nothing to disrupt; `kubectl drain` does the same).
    Delete,
}

/// What a drain does with `pod` (upstream's kubectl drain filters, in their order).
pub fn drain_action(pod: &Pod) -> DrainAction {
    let meta = &pod.metadata;
    if meta.deletion_timestamp.is_some() {
        return DrainAction::Skip("terminating");
    }
    if meta
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION))
    {
        return DrainAction::Skip("mirror pod");
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return DrainAction::Delete;
    }
    let daemonset = meta.owner_references.as_ref().is_some_and(|owners| {
        owners
            .iter()
            .any(|o| o.controller == Some(true) && o.kind == "DaemonSet")
    });
    if daemonset {
        return DrainAction::Skip("DaemonSet-managed");
    }
    DrainAction::Evict
}

/// The nodes `kindling upgrade cluster` replaces, one at a time in this order. With one
/// control plane: workers (by name), then the control plane, so the API server stays up while
/// workers change and the workloads have somewhere to go while it restarts. With several:
/// control planes first (by name; each is out of etcd's quorum only while it is replaced, so
/// the others keep the API up), then workers — upstream's order (kubeadm upgrades control
/// planes before kubelets: a kubelet may not be newer than the API server). Nodes already on
/// the target image (`current` maps node name → image ID) are left alone. Refused, with
/// nothing changed, when a node is not running (a stopped node cannot be drained, and a
/// stopped etcd member would leave the quorum one short while another is replaced).
pub fn upgrade_order(
    cluster: &str,
    nodes: &[NodeInfo],
    current: &BTreeMap<String, String>,
    target: &str,
) -> Result<Vec<String>, String> {
    let members: Vec<&NodeInfo> = nodes
        .iter()
        .filter(|n| matches!(n.role, Some(Role::ControlPlane | Role::Worker)))
        .collect();
    let control_planes = members
        .iter()
        .filter(|n| n.role == Some(Role::ControlPlane))
        .count();
    if control_planes == 0 {
        return Err(format!("unknown cluster \"{cluster}\""));
    }
    if let Some(n) = members.iter().find(|n| !n.is_running()) {
        return Err(format!(
            "node {} is {}: `kindling start cluster --name {cluster}` first; nothing was changed",
            n.name, n.status
        ));
    }
    let mut order: Vec<&NodeInfo> = members
        .into_iter()
        .filter(|n| current.get(&n.name).map(String::as_str) != Some(target))
        .collect();
    let control_planes_first = control_planes > 1;
    order.sort_by_key(|n| {
        (
            (n.role == Some(Role::ControlPlane)) != control_planes_first,
            n.name.clone(),
        )
    });
    Ok(order.into_iter().map(|n| n.name.clone()).collect())
}

/// One etcd member's health, as `kindling etcd-member health` reports it (one line per
/// member: `NAME healthy` or `NAME unhealthy: REASON`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberHealth {
    pub name: String,
    /// `None`: healthy; else why not.
    pub problem: Option<String>,
}

/// Reads the report of `kindling etcd-member health`.
pub fn parse_member_health(report: &str) -> Vec<MemberHealth> {
    report
        .lines()
        .filter_map(|line| {
            let (name, verdict) = line.trim().split_once(' ')?;
            let problem = match verdict.trim() {
                "healthy" => None,
                other => Some(
                    other
                        .strip_prefix("unhealthy:")
                        .unwrap_or(other)
                        .trim()
                        .to_string(),
                ),
            };
            Some(MemberHealth {
                name: name.to_string(),
                problem,
            })
        })
        .collect()
}

/// Whether an HA upgrade may replace the next control plane: every control plane (`expected`)
/// has a member and every member is healthy, so taking one out keeps a quorum. The error names
/// what is wrong.
pub fn check_members_healthy(
    cluster: &str,
    expected: &[String],
    health: &[MemberHealth],
) -> Result<(), String> {
    let mut problems: Vec<String> = health
        .iter()
        .filter_map(|m| m.problem.as_ref().map(|p| format!("{} ({p})", m.name)))
        .collect();
    problems.extend(
        expected
            .iter()
            .filter(|n| !health.iter().any(|m| &m.name == *n))
            .map(|n| format!("{n} (no etcd member)")),
    );
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "etcd of cluster \"{cluster}\" is not healthy: {}; replacing a control plane now could lose the quorum",
        problems.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, role: Option<Role>, status: &str) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            id: String::new(),
            role,
            cluster: name.split('-').next().unwrap_or_default().into(),
            ipv4: None,
            ipv6: None,
            api_server_host_port: None,
            ports: Vec::new(),
            status: status.into(),
            image: String::new(),
            labels: BTreeMap::new(),
        }
    }

    fn names(s: &[&str]) -> Vec<String> {
        s.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn upgrades_go_worker_by_worker_then_the_control_plane() {
        let cp = node("kind-control-plane", Some(Role::ControlPlane), "running");
        let w1 = node("kind-worker", Some(Role::Worker), "running");
        let w2 = node("kind-worker2", Some(Role::Worker), "running");
        let proxy = node(
            "kind-port-proxy",
            Some(Role::ExternalLoadBalancer),
            "running",
        );
        let ids = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let old = ids(&[
            ("kind-control-plane", "old"),
            ("kind-worker", "old"),
            ("kind-worker2", "old"),
        ]);
        type Case = (
            &'static str,
            Vec<NodeInfo>,
            BTreeMap<String, String>,
            Result<Vec<String>, &'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "workers first, by name",
                vec![w2.clone(), cp.clone(), proxy.clone(), w1.clone()],
                old.clone(),
                Ok(names(&[
                    "kind-worker",
                    "kind-worker2",
                    "kind-control-plane",
                ])),
            ),
            (
                "single node",
                vec![cp.clone()],
                old.clone(),
                Ok(names(&["kind-control-plane"])),
            ),
            (
                "already done are skipped",
                vec![cp.clone(), w1.clone(), w2.clone()],
                ids(&[
                    ("kind-control-plane", "old"),
                    ("kind-worker", "new"),
                    ("kind-worker2", "old"),
                ]),
                Ok(names(&["kind-worker2", "kind-control-plane"])),
            ),
            (
                "all done",
                vec![cp.clone()],
                ids(&[("kind-control-plane", "new")]),
                Ok(vec![]),
            ),
            (
                "several control planes: they go first, by name, then workers",
                vec![
                    w2.clone(),
                    node("kind-control-plane2", Some(Role::ControlPlane), "running"),
                    cp.clone(),
                    proxy.clone(),
                    w1.clone(),
                ],
                old.clone(),
                Ok(names(&[
                    "kind-control-plane",
                    "kind-control-plane2",
                    "kind-worker",
                    "kind-worker2",
                ])),
            ),
            (
                "a stopped node",
                vec![
                    cp.clone(),
                    node("kind-worker", Some(Role::Worker), "exited"),
                ],
                old.clone(),
                Err("node kind-worker is exited"),
            ),
            (
                "no cluster",
                vec![],
                old.clone(),
                Err("unknown cluster \"kind\""),
            ),
        ];
        for (what, nodes, current, want) in cases {
            match (upgrade_order("kind", &nodes, &current, "new"), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{what}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{what}: {got}"),
                (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn control_planes_start_first_and_stop_last() {
        let nodes = [
            node("kind-worker", Some(Role::Worker), "running"),
            node("kind-control-plane", Some(Role::ControlPlane), "running"),
            node("kind-worker2", Some(Role::Worker), "running"),
            node(
                "kind-external-load-balancer",
                Some(Role::ExternalLoadBalancer),
                "running",
            ),
        ];
        assert_eq!(
            start_order(&nodes),
            vec![
                names(&["kind-external-load-balancer"]),
                names(&["kind-control-plane"]),
                names(&["kind-worker", "kind-worker2"]),
            ]
        );
        assert_eq!(
            stop_order(&nodes),
            vec![
                names(&["kind-worker", "kind-worker2"]),
                names(&["kind-control-plane"]),
                names(&["kind-external-load-balancer"]),
            ]
        );
        assert!(start_order(&[]).is_empty());
    }

    #[test]
    fn cluster_state_from_its_containers() {
        let cp = |s| node("kind-control-plane", Some(Role::ControlPlane), s);
        let w = |s| node("kind-worker", Some(Role::Worker), s);
        let cases = [
            (vec![cp("running"), w("running")], ClusterState::Running),
            (vec![cp("exited"), w("exited")], ClusterState::Stopped),
            (vec![cp("created")], ClusterState::Stopped),
            (vec![cp("running"), w("exited")], ClusterState::Degraded),
            (vec![cp("restarting"), w("running")], ClusterState::Degraded),
        ];
        for (nodes, want) in cases {
            assert_eq!(cluster_state(&nodes), want, "{nodes:?}");
        }
        let rows = wide_rows(&[
            node("b-control-plane", Some(Role::ControlPlane), "exited"),
            node("a-control-plane", Some(Role::ControlPlane), "running"),
            node("a-worker", Some(Role::Worker), "exited"),
        ]);
        assert_eq!(
            rows,
            vec![
                ["a".to_string(), "Degraded".into(), "1/2".into()],
                ["b".to_string(), "Stopped".into(), "0/1".into()],
            ]
        );
    }

    #[test]
    fn node_names_follow_kinds_namer() {
        let cases: [(&[&str], &str); 5] = [
            (&["kind-control-plane"], "kind-worker"),
            (&["kind-control-plane", "kind-worker"], "kind-worker2"),
            (
                &[
                    "kind-control-plane",
                    "kind-worker",
                    "kind-worker2",
                    "kind-worker3",
                ],
                "kind-worker4",
            ),
            // After the highest, not into a gap: the deleted name may linger in the API.
            (&["kind-worker", "kind-worker3"], "kind-worker4"),
            // Other clusters' and other roles' names do not count.
            (
                &["kind-workers", "kind-worker0", "kind-control-plane2"],
                "kind-worker",
            ),
        ];
        for (existing, want) in cases {
            assert_eq!(
                next_node_name("kind", Role::Worker, &names(existing)),
                want,
                "{existing:?}"
            );
        }
    }

    #[test]
    fn create_node_refusals() {
        let nodes = [
            node("kind-control-plane", Some(Role::ControlPlane), "running"),
            node("kind-worker", Some(Role::Worker), "running"),
        ];
        assert_eq!(
            check_create_node("kind", "kind-worker2", Role::Worker, &nodes, false),
            Ok(())
        );
        let err = |name, role, nodes: &[NodeInfo], taken| {
            check_create_node("kind", name, role, nodes, taken).unwrap_err()
        };
        assert!(err("kind-worker", Role::Worker, &nodes, false).contains("already exists"));
        assert!(err("other", Role::Worker, &nodes, true).contains("already exists"));
        assert!(err("kind-worker2", Role::Worker, &[], false).contains("unknown cluster"));
        assert_eq!(
            check_create_node(
                "kind",
                "kind-control-plane2",
                Role::ControlPlane,
                &nodes,
                false
            ),
            Ok(())
        );
        assert!(err("kind-lb", Role::ExternalLoadBalancer, &nodes, false).contains("invalid role"));
        assert!(err("Bad_Name", Role::Worker, &nodes, false).contains("invalid node name"));
    }

    #[test]
    fn delete_node_refusals() {
        let cp = node("kind-control-plane", Some(Role::ControlPlane), "running");
        let cp2 = node("kind-control-plane2", Some(Role::ControlPlane), "running");
        let w = node("kind-worker", Some(Role::Worker), "running");
        let lb = node(
            "kind-external-load-balancer",
            Some(Role::ExternalLoadBalancer),
            "running",
        );
        let nodes = [cp.clone(), w.clone()];
        assert_eq!(check_delete_node("kind", "kind-worker", &nodes), Ok(()));
        let err = |name, nodes: &[NodeInfo]| check_delete_node("kind", name, nodes).unwrap_err();
        assert!(err("kind-control-plane", &nodes).contains("last control-plane node"));
        assert!(err("kind-worker9", &nodes).contains("unknown node"));
        assert_eq!(
            check_delete_node("kind", "kind-control-plane2", &[cp.clone(), cp2.clone(), w]),
            Ok(())
        );
        assert!(err("kind-external-load-balancer", &[lb]).contains("load balancer"));
    }

    #[test]
    fn ready_only_by_a_heartbeat_after_the_start() {
        let node = |status: &str, beat: &str| -> Node {
            serde_json::from_value(json!({"metadata": {"name": "n"}, "status": {"conditions": [
                {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": "2026-12-07T10:00:09Z"},
                {"type": "Ready", "status": status, "lastHeartbeatTime": beat},
            ]}}))
            .unwrap()
        };
        let start = 1_796_637_605; // 2026-12-07T10:00:05Z
        assert!(ready_since(&node("True", "2026-12-07T10:00:05Z"), start));
        assert!(ready_since(&node("True", "2026-12-07T10:00:06Z"), start));
        assert!(!ready_since(&node("True", "2026-12-07T10:00:04Z"), start));
        assert!(!ready_since(&node("False", "2026-12-07T10:00:06Z"), start));
        assert!(!ready_since(&Node::default(), start));
    }

    fn pod(extra: serde_json::Value) -> Pod {
        let mut base = json!({"metadata": {"name": "p", "namespace": "default"},
                              "status": {"phase": "Running"}});
        for part in ["metadata", "status"] {
            if let Some(fields) = extra[part].as_object() {
                for (k, v) in fields {
                    base[part][k] = v.clone();
                }
            }
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn which_pods_a_drain_evicts() {
        let ds = json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "d", "uid": "u", "controller": true}]}});
        let rs = json!({"metadata": {"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "u", "controller": true}]}});
        let cases = [
            (json!({}), DrainAction::Evict),
            (rs, DrainAction::Evict),
            (ds, DrainAction::Skip("DaemonSet-managed")),
            (
                json!({"metadata": {"annotations": {MIRROR_ANNOTATION: "x"}}}),
                DrainAction::Skip("mirror pod"),
            ),
            (
                json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
                DrainAction::Skip("terminating"),
            ),
            (
                json!({"status": {"phase": "Succeeded"}}),
                DrainAction::Delete,
            ),
            (json!({"status": {"phase": "Failed"}}), DrainAction::Delete),
        ];
        for (extra, want) in cases {
            assert_eq!(drain_action(&pod(extra.clone())), want, "{extra}");
        }
    }

    #[test]
    fn control_planes_join_only_a_stacked_etcd_whose_members_all_run() {
        let cp = |n: &str, s: &str| {
            node(
                &format!("kind-control-plane{n}"),
                Some(Role::ControlPlane),
                s,
            )
        };
        let members = names(&[
            "kind-control-plane",
            "kind-control-plane2",
            "kind-control-plane3",
        ]);
        let three = [cp("", "running"), cp("2", "running"), cp("3", "running")];
        type Case<'a> = (
            &'a str,
            Option<&'a [String]>,
            Vec<NodeInfo>,
            Result<(), &'a str>,
        );
        let cases: [Case; 4] = [
            ("three running", Some(&members), three.to_vec(), Ok(())),
            (
                "one etcd control plane",
                Some(&members[..1]),
                vec![cp("", "running")],
                Ok(()),
            ),
            (
                "SQLite",
                None,
                vec![cp("", "running")],
                Err("keeps its objects in SQLite on its only control plane (kind-control-plane)"),
            ),
            (
                "a member down",
                Some(&members),
                vec![cp("", "running"), cp("2", "exited"), cp("3", "running")],
                Err("control-plane node kind-control-plane2 is exited"),
            ),
        ];
        for (what, members, nodes, want) in cases {
            match (check_join_control_plane("kind", members, &nodes), want) {
                (Ok(()), Ok(())) => {}
                (Err(got), Err(want)) => assert!(got.contains(want), "{what}: {got}"),
                (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn control_planes_leave_while_a_quorum_stays() {
        let cp = |n: &str, s: &str| {
            node(
                &format!("kind-control-plane{n}"),
                Some(Role::ControlPlane),
                s,
            )
        };
        let w = node("kind-worker", Some(Role::Worker), "running");
        type Case<'a> = (&'a str, Vec<NodeInfo>, &'a str, Result<(), &'a str>);
        let cases: [Case; 6] = [
            (
                "four running",
                vec![
                    cp("", "running"),
                    cp("2", "running"),
                    cp("3", "running"),
                    cp("4", "running"),
                ],
                "kind-control-plane4",
                Ok(()),
            ),
            (
                "one of four stopped: 2 of 3 remain",
                vec![
                    cp("", "running"),
                    cp("2", "exited"),
                    cp("3", "running"),
                    cp("4", "running"),
                ],
                "kind-control-plane4",
                Ok(()),
            ),
            (
                "the stopped one itself",
                vec![cp("", "running"), cp("2", "exited"), cp("3", "running")],
                "kind-control-plane2",
                Ok(()),
            ),
            (
                "one of three stopped: 1 of 2 remain",
                vec![cp("", "running"), cp("2", "exited"), cp("3", "running")],
                "kind-control-plane3",
                Err("would leave 1 of 2 etcd members running, fewer than a quorum (2)"),
            ),
            (
                "the first, while another stays",
                vec![cp("", "running"), cp("2", "running"), w.clone()],
                "kind-control-plane",
                Ok(()),
            ),
            (
                "the last",
                vec![cp("", "running"), w.clone()],
                "kind-control-plane",
                Err("last control-plane node"),
            ),
        ];
        for (what, nodes, name, want) in cases {
            match (check_delete_node("kind", name, &nodes), want) {
                (Ok(()), Ok(())) => {}
                (Err(got), Err(want)) => assert!(got.contains(want), "{what}: {got}"),
                (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
            }
        }
        let nodes = [cp("", "exited"), cp("2", "running"), cp("3", "running")];
        assert_eq!(
            removal_via(&nodes, "kind-control-plane2").as_deref(),
            Some("kind-control-plane3")
        );
        assert_eq!(
            removal_via(&nodes, "kind-control-plane3").as_deref(),
            Some("kind-control-plane2")
        );
        assert_eq!(
            removal_via(&[cp("2", "running")], "kind-control-plane2"),
            None
        );
    }

    #[test]
    fn an_ha_upgrade_goes_on_only_while_every_member_is_healthy() {
        let report = "kind-control-plane healthy\nkind-control-plane2 unhealthy: no leader\nkind-control-plane3 healthy\n";
        let health = parse_member_health(report);
        assert_eq!(health.len(), 3);
        assert_eq!(health[1].problem.as_deref(), Some("no leader"));
        let cps = names(&[
            "kind-control-plane",
            "kind-control-plane2",
            "kind-control-plane3",
        ]);
        type Case<'a> = (&'a str, Vec<MemberHealth>, Result<(), &'a str>);
        let healthy = |n: &str| MemberHealth {
            name: n.into(),
            problem: None,
        };
        let cases: Vec<Case> = vec![
            (
                "all healthy",
                cps.iter().map(|n| healthy(n)).collect(),
                Ok(()),
            ),
            (
                "one unhealthy",
                health.clone(),
                Err("etcd of cluster \"kind\" is not healthy: kind-control-plane2 (no leader); replacing a control plane now could lose the quorum"),
            ),
            (
                "a control plane without a member",
                vec![healthy("kind-control-plane"), healthy("kind-control-plane3")],
                Err("kind-control-plane2 (no etcd member)"),
            ),
        ];
        for (what, health, want) in cases {
            match (check_members_healthy("kind", &cps, &health), want) {
                (Ok(()), Ok(())) => {}
                (Err(got), Err(want)) => assert!(got.contains(want), "{what}: {got}"),
                (got, want) => panic!("{what}: got {got:?}, want {want:?}"),
            }
        }
    }
}
