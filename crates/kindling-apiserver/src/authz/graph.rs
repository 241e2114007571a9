//! The Node authorizer's graph (upstream's `plugin/pkg/auth/authorizer/node/graph.go`): which
//! objects each node may read because a pod bound to it uses them.
//!
//! Edges, as upstream's:
//! - pod → node (a pod with `spec.nodeName`);
//! - secret, configmap, PVC, service account, ResourceClaim → pod (what the pod refers to);
//! - PV → PVC (its `claimRef`), secret → PV (the volume's secret refs);
//! - VolumeAttachment → node and ResourceSlice → node (their `spec.nodeName`).
//!
//! Kept as a reverse index (object → nodes that reach it, counted per pod) so a question is a
//! few hash lookups. No IO: `graph_index.rs` feeds it from the watch cache, with what
//! `graph_refs.rs` reads of each pod and PV.

use super::graph_refs::{PodRefs, VolumeRefs};
use std::collections::{HashMap, HashSet};

/// The object kinds a node may be related to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Pod,
    Secret,
    ConfigMap,
    Claim,
    Volume,
    ServiceAccount,
    ResourceClaim,
    VolumeAttachment,
    ResourceSlice,
}

/// An object by kind, namespace (empty for PVs) and name.
type Key = (Kind, String, String);

/// What one pod contributes: its node and the objects it uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PodEdges {
    node: String,
    uses: Vec<Key>,
}

/// What one PV contributes: its claim and the secrets it names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct VolumeEdges {
    claim: Option<(String, String)>,
    secrets: Vec<(String, String)>,
}

#[derive(Debug, Default)]
pub struct Graph {
    pods: HashMap<(String, String), PodEdges>,
    volumes: HashMap<String, VolumeEdges>,
    /// object → node → how many of that node's pods use it.
    reached: HashMap<Key, HashMap<String, usize>>,
    /// secret (ns, name) → the PVs that name it.
    volume_secrets: HashMap<(String, String), HashSet<String>>,
    /// A cluster-scoped object that names its node (VolumeAttachment, ResourceSlice) → that node.
    on_node: HashMap<Key, String>,
}

fn text(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// What a pod uses, by kind and name (its namespace's), as upstream's graph records it: image
/// pull secrets; volumes (secret, configmap, projected sources, the secret refs of the in-tree
/// and CSI sources, claims named or generated for generic ephemeral volumes as
/// `<pod>-<volume>`); env and envFrom of every container kind; ResourceClaims named in the spec
/// or generated for it (its status); the service account.
pub fn pod_uses(pod: &PodRefs) -> Vec<(Kind, String)> {
    let mut uses = Vec::new();
    let Some(spec) = pod.spec.as_ref() else {
        return uses;
    };
    let pod_name = pod
        .metadata
        .as_ref()
        .and_then(|m| text(&m.name))
        .unwrap_or_default();
    let mut add = |kind: Kind, name: &Option<String>| {
        if let Some(n) = text(name) {
            uses.push((kind, n.to_string()));
        }
    };
    for s in spec.image_pull_secrets.iter().flatten() {
        add(Kind::Secret, &s.name);
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(s) = &v.secret {
            add(Kind::Secret, &s.secret_name);
        }
        if let Some(a) = &v.azure_file {
            add(Kind::Secret, &a.secret_name);
        }
        for r in v.secret_refs() {
            add(Kind::Secret, &r.name);
        }
        if let Some(r) = v
            .csi
            .as_ref()
            .and_then(|c| c.node_publish_secret_ref.as_ref())
        {
            add(Kind::Secret, &r.name);
        }
        if let Some(c) = &v.config_map {
            add(Kind::ConfigMap, &c.name);
        }
        for p in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(s) = &p.secret {
                add(Kind::Secret, &s.name);
            }
            if let Some(c) = &p.config_map {
                add(Kind::ConfigMap, &c.name);
            }
        }
        let claim = v
            .persistent_volume_claim
            .as_ref()
            .and_then(|c| text(&c.claim_name));
        if let Some(c) = claim {
            add(Kind::Claim, &Some(c.to_string()));
        } else if v.ephemeral.is_some() {
            if let Some(vol) = text(&v.name) {
                add(Kind::Claim, &Some(format!("{pod_name}-{vol}")));
            }
        }
    }
    let containers = [
        &spec.init_containers,
        &spec.containers,
        &spec.ephemeral_containers,
    ];
    for c in containers.into_iter().flatten().flatten() {
        for e in c.env_from.iter().flatten() {
            if let Some(r) = &e.secret_ref {
                add(Kind::Secret, &r.name);
            }
            if let Some(r) = &e.config_map_ref {
                add(Kind::ConfigMap, &r.name);
            }
        }
        for source in c.env.iter().flatten().filter_map(|e| e.value_from.as_ref()) {
            if let Some(r) = &source.secret_key_ref {
                add(Kind::Secret, &r.name);
            }
            if let Some(r) = &source.config_map_key_ref {
                add(Kind::ConfigMap, &r.name);
            }
        }
    }
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.resource_claim_statuses.as_ref());
    for c in spec.resource_claims.iter().chain(statuses).flatten() {
        add(Kind::ResourceClaim, &c.resource_claim_name);
    }
    add(Kind::ServiceAccount, &spec.service_account_name);
    uses
}

/// A pod's node and what it uses there; None for a pod no node runs (upstream's graph leaves
/// those out).
fn pod_edges(pod: &PodRefs) -> Option<PodEdges> {
    let node = text(&pod.spec.as_ref()?.node_name)?.to_string();
    let meta = pod.metadata.as_ref();
    let ns = meta.and_then(|m| text(&m.namespace)).unwrap_or_default();
    let name = meta.and_then(|m| text(&m.name)).unwrap_or_default();
    let mut uses: Vec<Key> = vec![(Kind::Pod, ns.to_string(), name.to_string())];
    uses.extend(
        pod_uses(pod)
            .into_iter()
            .map(|(kind, name)| (kind, ns.to_string(), name)),
    );
    uses.sort_by(|a, b| (a.0 as u8, &a.1, &a.2).cmp(&(b.0 as u8, &b.1, &b.2)));
    uses.dedup();
    Some(PodEdges { node, uses })
}

/// A PV's claim (`claimRef`) and the secrets its source names. A secret ref without a namespace
/// means the claim's, as upstream reads them.
fn volume_edges(pv: &VolumeRefs) -> VolumeEdges {
    let Some(spec) = pv.spec.as_ref() else {
        return VolumeEdges::default();
    };
    let claim = spec
        .claim_ref
        .as_ref()
        .and_then(|c| Some((text(&c.namespace)?.to_string(), text(&c.name)?.to_string())));
    let default_ns = claim.as_ref().map(|c| c.0.as_str()).unwrap_or_default();
    let mut secrets = Vec::new();
    let mut add = |name: &Option<String>, namespace: &Option<String>| {
        if let Some(name) = text(name) {
            let ns = text(namespace).unwrap_or(default_ns);
            secrets.push((ns.to_string(), name.to_string()));
        }
    };
    if let Some(csi) = &spec.csi {
        let refs = [
            &csi.node_publish_secret_ref,
            &csi.node_stage_secret_ref,
            &csi.node_expand_secret_ref,
            &csi.controller_publish_secret_ref,
        ];
        for r in refs.into_iter().flatten() {
            add(&r.name, &r.namespace);
        }
    }
    for r in spec.secret_refs() {
        add(&r.name, &r.namespace);
    }
    if let Some(a) = &spec.azure_file {
        add(&a.secret_name, &a.secret_namespace);
    }
    VolumeEdges { claim, secrets }
}

impl Graph {
    /// Records a pod as it is now (added or changed).
    pub fn set_pod(&mut self, pod: &PodRefs) {
        let meta = pod.metadata.as_ref();
        let id = (
            meta.and_then(|m| m.namespace.clone()).unwrap_or_default(),
            meta.and_then(|m| m.name.clone()).unwrap_or_default(),
        );
        self.delete_pod(&id.0, &id.1);
        let Some(edges) = pod_edges(pod) else {
            return;
        };
        for key in &edges.uses {
            *self
                .reached
                .entry(key.clone())
                .or_default()
                .entry(edges.node.clone())
                .or_default() += 1;
        }
        self.pods.insert(id, edges);
    }

    pub fn delete_pod(&mut self, namespace: &str, name: &str) {
        let Some(old) = self.pods.remove(&(namespace.to_string(), name.to_string())) else {
            return;
        };
        for key in old.uses {
            if let Some(nodes) = self.reached.get_mut(&key) {
                if let Some(n) = nodes.get_mut(&old.node) {
                    *n -= 1;
                    if *n == 0 {
                        nodes.remove(&old.node);
                    }
                }
                if nodes.is_empty() {
                    self.reached.remove(&key);
                }
            }
        }
    }

    /// Records a PV as it is now.
    pub fn set_volume(&mut self, pv: &VolumeRefs) {
        let name = pv
            .metadata
            .as_ref()
            .and_then(|m| m.name.clone())
            .unwrap_or_default();
        self.delete_volume(&name);
        let edges = volume_edges(pv);
        for s in &edges.secrets {
            self.volume_secrets
                .entry(s.clone())
                .or_default()
                .insert(name.clone());
        }
        self.volumes.insert(name, edges);
    }

    pub fn delete_volume(&mut self, name: &str) {
        let Some(old) = self.volumes.remove(name) else {
            return;
        };
        for s in old.secrets {
            if let Some(pvs) = self.volume_secrets.get_mut(&s) {
                pvs.remove(name);
                if pvs.is_empty() {
                    self.volume_secrets.remove(&s);
                }
            }
        }
    }

    /// Records a VolumeAttachment or ResourceSlice as it is now: `node` is its `spec.nodeName`
    /// (none: no node reaches it).
    pub fn set_on_node(&mut self, kind: Kind, name: &str, node: Option<&str>) {
        let key = (kind, String::new(), name.to_string());
        match node.filter(|n| !n.is_empty()) {
            Some(node) => {
                self.on_node.insert(key, node.to_string());
            }
            None => {
                self.on_node.remove(&key);
            }
        }
    }

    pub fn delete_on_node(&mut self, kind: Kind, name: &str) {
        self.set_on_node(kind, name, None);
    }

    fn used_by(&self, kind: Kind, namespace: &str, name: &str, node: &str) -> bool {
        self.reached
            .get(&(kind, namespace.to_string(), name.to_string()))
            .is_some_and(|nodes| nodes.contains_key(node))
    }

    fn volume_related(&self, name: &str, node: &str) -> bool {
        self.volumes
            .get(name)
            .and_then(|v| v.claim.as_ref())
            .is_some_and(|(ns, claim)| self.used_by(Kind::Claim, ns, claim, node))
    }

    /// Whether a path leads from the object to `node`.
    pub fn related(&self, node: &str, kind: Kind, namespace: &str, name: &str) -> bool {
        match kind {
            Kind::Volume => self.volume_related(name, node),
            Kind::VolumeAttachment | Kind::ResourceSlice => self
                .on_node
                .get(&(kind, String::new(), name.to_string()))
                .is_some_and(|n| n == node),
            Kind::Secret => {
                self.used_by(kind, namespace, name, node)
                    || self
                        .volume_secrets
                        .get(&(namespace.to_string(), name.to_string()))
                        .is_some_and(|pvs| pvs.iter().any(|pv| self.volume_related(pv, node)))
            }
            _ => self.used_by(kind, namespace, name, node),
        }
    }

    /// How many pods and PVs the graph holds (for tests and logs).
    pub fn size(&self) -> (usize, usize) {
        (self.pods.len(), self.volumes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// What the graph reads of a pod or PV written as JSON.
    fn refs<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    fn pod(name: &str, node: &str, spec: Value) -> PodRefs {
        let mut spec = spec;
        if !node.is_empty() {
            spec["nodeName"] = json!(node);
        }
        refs(json!({"metadata": {"namespace": "ns", "name": name}, "spec": spec}))
    }

    fn web() -> PodRefs {
        pod(
            "web",
            "a",
            json!({
                "serviceAccountName": "sa",
                "imagePullSecrets": [{"name": "pull"}],
                "volumes": [
                    {"name": "s", "secret": {"secretName": "vol-secret"}},
                    {"name": "c", "configMap": {"name": "vol-cm"}},
                    {"name": "p", "projected": {"sources": [
                        {"secret": {"name": "proj-secret"}}, {"configMap": {"name": "proj-cm"}}]}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "scratch", "ephemeral": {"volumeClaimTemplate": {}}},
                    {"name": "csi", "csi": {"driver": "d", "nodePublishSecretRef": {"name": "csi-secret"}}},
                ],
                "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "init-env"}}]}],
                "containers": [{"name": "c", "env": [
                    {"name": "A", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "k"}}},
                    {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "k"}}}],
                    "envFrom": [{"configMapRef": {"name": "envfrom-cm"}}]}],
                "resourceClaims": [{"name": "gpu", "resourceClaimName": "gpu-claim"}],
            }),
        )
    }

    #[test]
    fn a_pod_relates_what_it_uses_to_its_node_only() {
        let mut g = Graph::default();
        g.set_pod(&web());
        let cases: &[(Kind, &str, bool)] = &[
            (Kind::Pod, "web", true),
            (Kind::Secret, "pull", true),
            (Kind::Secret, "vol-secret", true),
            (Kind::Secret, "proj-secret", true),
            (Kind::Secret, "csi-secret", true),
            (Kind::Secret, "init-env", true),
            (Kind::Secret, "env-secret", true),
            (Kind::Secret, "other", false),
            (Kind::ConfigMap, "vol-cm", true),
            (Kind::ConfigMap, "proj-cm", true),
            (Kind::ConfigMap, "env-cm", true),
            (Kind::ConfigMap, "envfrom-cm", true),
            (Kind::ConfigMap, "pull", false),
            (Kind::Claim, "data", true),
            (Kind::Claim, "web-scratch", true),
            (Kind::ServiceAccount, "sa", true),
            (Kind::ServiceAccount, "default", false),
            (Kind::ResourceClaim, "gpu-claim", true),
        ];
        for (kind, name, want) in cases {
            assert_eq!(g.related("a", *kind, "ns", name), *want, "{kind:?} {name}");
            assert!(!g.related("b", *kind, "ns", name), "b: {kind:?} {name}");
            assert!(
                !g.related("a", *kind, "other-ns", name),
                "ns: {kind:?} {name}"
            );
        }
    }

    /// The fields `web` leaves out, nulls, and fields the graph does not read.
    #[test]
    fn every_reference_is_read_and_nothing_else() {
        let mut g = Graph::default();
        g.set_pod(&refs(json!({
            "metadata": {"namespace": "ns", "name": "p", "labels": {"nodeName": "b"}},
            "spec": {
                "nodeName": "a", "priority": 5, "serviceAccountName": null,
                "imagePullSecrets": null,
                "volumes": [
                    {"name": "af", "azureFile": {"secretName": "azure", "shareName": "s"}},
                    {"name": "ceph", "cephfs": {"monitors": ["m"], "secretRef": {"name": "ceph"}}},
                    {"name": "sio", "scaleIO": {"gateway": "g", "secretRef": {"name": "scaleio"}}},
                    {"name": "fv", "flexVolume": {"driver": "d", "secretRef": {"name": "flex"}}},
                    {"name": "none", "ephemeral": null},
                    {"name": "empty", "persistentVolumeClaim": {"claimName": ""}},
                    {"name": "e", "emptyDir": {}},
                ],
                "ephemeralContainers": [{"name": "dbg", "envFrom": [{"secretRef": {"name": "debug"}}]}],
                "containers": [{"name": "c", "image": "i", "env": [
                    {"name": "X", "value": "1"},
                    {"name": "Y", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}],
            },
            "status": {"phase": "Running",
                       "resourceClaimStatuses": [{"name": "gpu", "resourceClaimName": "p-gpu-x"}]},
        })));
        let cases: &[(Kind, &str, bool)] = &[
            (Kind::Pod, "p", true),
            (Kind::Secret, "azure", true),
            (Kind::Secret, "ceph", true),
            (Kind::Secret, "scaleio", true),
            (Kind::Secret, "flex", true),
            (Kind::Secret, "debug", true),
            (Kind::ResourceClaim, "p-gpu-x", true),
            (Kind::Claim, "p-none", false),
            (Kind::Claim, "p-empty", false),
            (Kind::Claim, "", false),
            (Kind::ServiceAccount, "", false),
        ];
        for (kind, name, want) in cases {
            assert_eq!(g.related("a", *kind, "ns", name), *want, "{kind:?} {name}");
            assert!(!g.related("b", *kind, "ns", name), "b: {kind:?} {name}");
        }
        // The pod, one edge per object it uses, nothing for what it leaves empty.
        assert_eq!(g.reached.len(), 7);
    }

    #[test]
    fn edges_follow_changes_and_deletes() {
        let mut g = Graph::default();
        // Unscheduled pods relate nothing.
        g.set_pod(&pod("p", "", json!({"imagePullSecrets": [{"name": "s"}]})));
        assert!(!g.related("a", Kind::Secret, "ns", "s"));
        g.set_pod(&pod("p", "a", json!({"imagePullSecrets": [{"name": "s"}]})));
        g.set_pod(&pod("q", "a", json!({"imagePullSecrets": [{"name": "s"}]})));
        assert!(g.related("a", Kind::Secret, "ns", "s"));
        g.delete_pod("ns", "p");
        assert!(g.related("a", Kind::Secret, "ns", "s"), "q still uses it");
        // Moving the pod's use elsewhere drops the old edge.
        g.set_pod(&pod("q", "a", json!({"imagePullSecrets": [{"name": "t"}]})));
        assert!(!g.related("a", Kind::Secret, "ns", "s"));
        assert!(g.related("a", Kind::Secret, "ns", "t"));
        g.delete_pod("ns", "q");
        assert_eq!(g.size(), (0, 0));
        assert!(g.reached.is_empty());
    }

    #[test]
    fn volumes_and_their_secrets_follow_the_claim() {
        let mut g = Graph::default();
        g.set_pod(&web());
        let pv = json!({"metadata": {"name": "pv1"}, "spec": {
            "claimRef": {"namespace": "ns", "name": "data"},
            "csi": {"driver": "d", "nodeStageSecretRef": {"name": "stage", "namespace": "sys"}},
            "rbd": {"secretRef": {"name": "rbd"}},
            "azureFile": {"secretName": "azure", "secretNamespace": "files"}}});
        g.set_volume(&refs(pv));
        g.set_volume(&refs(json!({"metadata": {"name": "pv2"}, "spec": {
            "claimRef": {"namespace": "ns", "name": "not-mounted"}}})));
        assert!(g.related("a", Kind::Volume, "", "pv1"));
        assert!(!g.related("b", Kind::Volume, "", "pv1"));
        assert!(!g.related("a", Kind::Volume, "", "pv2"));
        assert!(!g.related("a", Kind::Volume, "", "unknown"));
        assert!(g.related("a", Kind::Secret, "sys", "stage"));
        assert!(g.related("a", Kind::Secret, "ns", "rbd"));
        assert!(g.related("a", Kind::Secret, "files", "azure"));
        assert!(!g.related("b", Kind::Secret, "sys", "stage"));
        g.delete_volume("pv1");
        assert!(!g.related("a", Kind::Secret, "sys", "stage"));
        assert!(!g.related("a", Kind::Volume, "", "pv1"));
    }
}
