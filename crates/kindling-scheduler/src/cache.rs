//! The scheduler's view of the cluster, fed by watch events: nodes, the pods bound to each
//! (non-terminal ones), the pods this scheduler has *assumed* onto a node while their binding is
//! in flight, namespace labels, and the claims, volumes and classes VolumeBinding reads. No IO.

use crate::framework::Snapshot;
use crate::labels::Labels;
use crate::plugins::volume_binding::VolumeView;
use crate::types::{NodeData, NodeInfo, PodInfo};
use k8s_openapi::api::core::v1::{Node, Pod};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What a Node update changed, for requeueing decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeChange {
    Added,
    /// Something scheduling looks at changed (labels, taints, readiness, allocatable, cordon).
    Updated,
    /// Only fields scheduling ignores (heartbeats, images, …).
    Unchanged,
}

#[derive(Clone, Debug)]
struct CachedPod {
    node: String,
    assumed: bool,
    info: Arc<PodInfo>,
}

#[derive(Debug, Default)]
pub struct Cache {
    nodes: BTreeMap<String, NodeInfo>,
    pods: HashMap<String, CachedPod>,
    namespaces: HashMap<String, Labels>,
    /// Claims, volumes and storage classes (VolumeBinding reads them).
    pub volumes: VolumeView,
}

/// `namespace/name` of a pod object.
pub fn pod_key(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

/// Succeeded or Failed: the pod holds no resources any more.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// The node a pod is bound to, if any.
pub fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

impl Cache {
    pub fn new() -> Cache {
        Cache::default()
    }

    /// The nodes with a Node object, by name, and the namespaces.
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            nodes: self.nodes.values().filter(|n| n.node.is_some()).collect(),
            namespaces: &self.namespaces,
            volumes: &self.volumes,
        }
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.get(name)
    }

    /// Number of nodes with a Node object.
    pub fn node_count(&self) -> usize {
        self.nodes.values().filter(|n| n.node.is_some()).count()
    }

    pub fn node_names(&self) -> Vec<String> {
        self.nodes
            .values()
            .filter(|n| n.node.is_some())
            .map(|n| n.name.clone())
            .collect()
    }

    pub fn set_node(&mut self, node: &Node) -> NodeChange {
        let name = node.metadata.name.clone().unwrap_or_default();
        let data = NodeData::new(node);
        let info = self
            .nodes
            .entry(name.clone())
            .or_insert_with(|| NodeInfo::new(&name));
        let change = match &info.node {
            None => NodeChange::Added,
            Some(old) if *old != data => NodeChange::Updated,
            Some(_) => NodeChange::Unchanged,
        };
        info.node = Some(data);
        change
    }

    /// Forgets the Node object; its pods stay accounted until they go.
    pub fn remove_node(&mut self, name: &str) {
        if let Some(info) = self.nodes.get_mut(name) {
            info.node = None;
            if info.pods.is_empty() {
                self.nodes.remove(name);
            }
        }
    }

    /// Returns whether the labels changed.
    pub fn set_namespace(&mut self, name: &str, labels: Labels) -> bool {
        self.namespaces.insert(name.to_string(), labels.clone()) != Some(labels)
    }

    pub fn remove_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
    }

    pub fn namespace_names(&self) -> Vec<String> {
        self.namespaces.keys().cloned().collect()
    }

    /// A pod bound to a node (seen with `spec.nodeName`), not terminal. Confirms an assumed pod.
    pub fn set_bound_pod(&mut self, pod: &Pod) {
        let Some(node) = node_name(pod) else { return };
        let info = Arc::new(PodInfo::new(pod));
        self.place(pod_key(pod), node, false, info);
    }

    /// Records the scheduler's decision before the binding is confirmed, so that the next pods
    /// see the node's resources as taken.
    pub fn assume(&mut self, key: &str, info: Arc<PodInfo>, node: &str) {
        self.place(key.to_string(), node, true, info);
    }

    fn place(&mut self, key: String, node: &str, assumed: bool, info: Arc<PodInfo>) {
        self.remove_pod(&key);
        self.nodes
            .entry(node.to_string())
            .or_insert_with(|| NodeInfo::new(node))
            .add_pod(info.clone());
        self.pods.insert(
            key,
            CachedPod {
                node: node.to_string(),
                assumed,
                info,
            },
        );
    }

    /// Drops an assumed pod whose binding failed (a confirmed pod stays).
    pub fn forget(&mut self, key: &str) {
        if self.pods.get(key).is_some_and(|p| p.assumed) {
            self.remove_pod(key);
        }
    }

    /// Removes a pod wherever it is; returns the node it was on.
    pub fn remove_pod(&mut self, key: &str) -> Option<String> {
        let old = self.pods.remove(key)?;
        if let Some(n) = self.nodes.get_mut(&old.node) {
            n.remove_pod(&old.info.namespace, &old.info.name);
            if n.node.is_none() && n.pods.is_empty() {
                self.nodes.remove(&old.node);
            }
        }
        Some(old.node)
    }

    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|p| p.assumed)
    }

    /// The node a pod is bound or assumed to.
    pub fn pod_node(&self, key: &str) -> Option<&str> {
        self.pods.get(key).map(|p| p.node.as_str())
    }

    /// Labels of a cached pod, for noticing label changes.
    pub fn pod_labels(&self, key: &str) -> Option<&Labels> {
        self.pods.get(key).map(|p| &p.info.labels)
    }

    pub fn pod_keys(&self) -> Vec<String> {
        self.pods.keys().cloned().collect()
    }

    /// Pods in the cache (bound or assumed), and of those the assumed ones.
    pub fn pod_counts(&self) -> (usize, usize) {
        let assumed = self.pods.values().filter(|p| p.assumed).count();
        (self.pods.len(), assumed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, cpu: &str, hb: &str) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "status": {"allocatable": {"cpu": cpu, "memory": "1Gi", "pods": "10"},
                "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": hb}]}
        }))
        .unwrap()
    }

    fn pod(name: &str, node: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": "c",
                "resources": {"requests": {"cpu": "1"}}}]}
        }))
        .unwrap()
    }

    #[test]
    fn node_changes_ignore_heartbeats() {
        let mut c = Cache::new();
        assert_eq!(
            c.set_node(&node("a", "2", "2025-01-01T00:00:00Z")),
            NodeChange::Added
        );
        assert_eq!(
            c.set_node(&node("a", "2", "2025-01-01T00:00:10Z")),
            NodeChange::Unchanged
        );
        assert_eq!(
            c.set_node(&node("a", "4", "2025-01-01T00:00:20Z")),
            NodeChange::Updated
        );
        assert_eq!(c.node_count(), 1);
        c.remove_node("a");
        assert_eq!(c.node_count(), 0);
    }

    #[test]
    fn assume_confirm_forget() {
        let mut c = Cache::new();
        c.set_node(&node("a", "2", "2025-01-01T00:00:00Z"));
        let p = pod("p", None);
        c.assume("default/p", Arc::new(PodInfo::new(&p)), "a");
        assert!(c.is_assumed("default/p"));
        assert_eq!(c.node("a").unwrap().requested.milli_cpu, 1000);
        // The watch shows it bound: confirmed, counted once.
        c.set_bound_pod(&pod("p", Some("a")));
        assert!(!c.is_assumed("default/p"));
        assert_eq!(c.node("a").unwrap().requested.milli_cpu, 1000);
        c.forget("default/p");
        assert_eq!(
            c.pod_node("default/p"),
            Some("a"),
            "confirmed pods are not forgotten"
        );
        c.assume("default/q", Arc::new(PodInfo::new(&pod("q", None))), "a");
        c.forget("default/q");
        assert_eq!(c.node("a").unwrap().requested.milli_cpu, 1000);
        assert_eq!(c.remove_pod("default/p").as_deref(), Some("a"));
        assert_eq!(c.node("a").unwrap().requested.milli_cpu, 0);
    }

    #[test]
    fn pods_on_unknown_nodes_are_kept_but_not_candidates() {
        let mut c = Cache::new();
        c.set_bound_pod(&pod("p", Some("ghost")));
        assert_eq!(c.snapshot().nodes.len(), 0);
        c.set_node(&node("ghost", "2", "2025-01-01T00:00:00Z"));
        assert_eq!(c.snapshot().nodes[0].pods.len(), 1);
        c.remove_node("ghost");
        c.remove_pod("default/p");
        assert!(c.node("ghost").is_none());
    }

    #[test]
    fn namespace_labels() {
        let mut c = Cache::new();
        assert!(c.set_namespace("a", Labels::new()));
        assert!(!c.set_namespace("a", Labels::new()));
        assert!(c.set_namespace("a", [("x".to_string(), "y".to_string())].into()));
        assert_eq!(c.snapshot().namespace_labels("a").unwrap()["x"], "y");
    }
}
