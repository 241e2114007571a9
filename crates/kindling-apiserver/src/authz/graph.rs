//! The Node authorizer's graph (upstream's `plugin/pkg/auth/authorizer/node/graph.go`): which
//! objects each node may read because a pod bound to it uses them.
//!
//! Edges, as upstream's:
//! - pod → node (a pod with `spec.nodeName`);
//! - secret, configmap, PVC, service account, ResourceClaim → pod (what the pod refers to);
//! - PV → PVC (its `claimRef`), secret → PV (the volume's secret refs).
//!
//! Kept as a reverse index (object → nodes that reach it, counted per pod) so a question is a
//! few hash lookups. No IO: `graph_index.rs` feeds it from the watch cache.

use serde_json::Value;
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
}

fn text(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

fn meta<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj["metadata"][field].as_str().unwrap_or_default()
}

/// Every secret a pod names: image pull secrets, volumes (secret, projected, and the secret refs
/// of the in-tree and CSI volume sources), env and envFrom of every container kind.
pub fn pod_secrets(pod: &Value) -> Vec<String> {
    let spec = &pod["spec"];
    let mut out = Vec::new();
    let mut add = |v: &Value| {
        if let Some(s) = text(v) {
            out.push(s.to_string());
        }
    };
    for s in spec["imagePullSecrets"].as_array().into_iter().flatten() {
        add(&s["name"]);
    }
    for v in spec["volumes"].as_array().into_iter().flatten() {
        add(&v["secret"]["secretName"]);
        add(&v["azureFile"]["secretName"]);
        for source in [
            "cephfs",
            "cinder",
            "flexVolume",
            "rbd",
            "iscsi",
            "scaleIO",
            "storageos",
        ] {
            add(&v[source]["secretRef"]["name"]);
        }
        add(&v["csi"]["nodePublishSecretRef"]["name"]);
        for p in v["projected"]["sources"].as_array().into_iter().flatten() {
            add(&p["secret"]["name"]);
        }
    }
    for name in env_sources(spec, "secretRef", "secretKeyRef") {
        add(name);
    }
    out
}

/// Every configmap a pod names: volumes, projected sources, env and envFrom.
pub fn pod_configmaps(pod: &Value) -> Vec<String> {
    let spec = &pod["spec"];
    let mut out = Vec::new();
    let mut add = |v: &Value| {
        if let Some(s) = text(v) {
            out.push(s.to_string());
        }
    };
    for v in spec["volumes"].as_array().into_iter().flatten() {
        add(&v["configMap"]["name"]);
        for p in v["projected"]["sources"].as_array().into_iter().flatten() {
            add(&p["configMap"]["name"]);
        }
    }
    for name in env_sources(spec, "configMapRef", "configMapKeyRef") {
        add(name);
    }
    out
}

/// The claims a pod mounts: named ones and those of its generic ephemeral volumes
/// (`<pod>-<volume>`).
pub fn pod_claims(pod: &Value) -> Vec<String> {
    let pod_name = meta(pod, "name");
    let mut out = Vec::new();
    for v in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        if let Some(c) = text(&v["persistentVolumeClaim"]["claimName"]) {
            out.push(c.to_string());
        } else if v.get("ephemeral").is_some_and(|e| !e.is_null()) {
            if let Some(vol) = text(&v["name"]) {
                out.push(format!("{pod_name}-{vol}"));
            }
        }
    }
    out
}

/// The ResourceClaims a pod uses: named in its spec, or generated for it (its status).
fn pod_resource_claims(pod: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for c in pod["spec"]["resourceClaims"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(n) = text(&c["resourceClaimName"]) {
            out.push(n.to_string());
        }
    }
    for s in pod["status"]["resourceClaimStatuses"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(n) = text(&s["resourceClaimName"]) {
            out.push(n.to_string());
        }
    }
    out
}

fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .into_iter()
        .flat_map(move |k| spec[k].as_array().into_iter().flatten())
}

/// The names every container's `envFrom` (`env_from`) and `env` (`valueFrom.<key_ref>`) take
/// from objects of one kind.
fn env_sources<'a>(
    spec: &'a Value,
    env_from: &'a str,
    key_ref: &'a str,
) -> impl Iterator<Item = &'a Value> + 'a {
    containers(spec).flat_map(move |c| {
        let from = c["envFrom"].as_array().into_iter().flatten();
        let each = c["env"].as_array().into_iter().flatten();
        from.map(move |e| &e[env_from]["name"])
            .chain(each.map(move |e| &e["valueFrom"][key_ref]["name"]))
    })
}

fn pod_edges(pod: &Value) -> Option<PodEdges> {
    let node = text(&pod["spec"]["nodeName"])?.to_string();
    let ns = meta(pod, "namespace").to_string();
    let key = |kind, name: String| (kind, ns.clone(), name);
    let mut uses: Vec<Key> = vec![key(Kind::Pod, meta(pod, "name").to_string())];
    uses.extend(pod_secrets(pod).into_iter().map(|n| key(Kind::Secret, n)));
    uses.extend(
        pod_configmaps(pod)
            .into_iter()
            .map(|n| key(Kind::ConfigMap, n)),
    );
    uses.extend(pod_claims(pod).into_iter().map(|n| key(Kind::Claim, n)));
    uses.extend(
        pod_resource_claims(pod)
            .into_iter()
            .map(|n| key(Kind::ResourceClaim, n)),
    );
    if let Some(sa) = text(&pod["spec"]["serviceAccountName"]) {
        uses.push(key(Kind::ServiceAccount, sa.to_string()));
    }
    uses.sort_by(|a, b| (a.1.as_str(), a.2.as_str()).cmp(&(b.1.as_str(), b.2.as_str())));
    uses.dedup();
    Some(PodEdges { node, uses })
}

fn volume_edges(pv: &Value) -> VolumeEdges {
    let spec = &pv["spec"];
    let claim = match (
        text(&spec["claimRef"]["namespace"]),
        text(&spec["claimRef"]["name"]),
    ) {
        (Some(ns), Some(n)) => Some((ns.to_string(), n.to_string())),
        _ => None,
    };
    let mut secrets = Vec::new();
    // Secret refs of a PV carry their own namespace (the claim's when absent, as upstream).
    let default_ns = claim.as_ref().map(|c| c.0.clone()).unwrap_or_default();
    let mut add = |r: &Value| {
        if let Some(name) = text(&r["name"]) {
            let ns = text(&r["namespace"]).map_or(default_ns.clone(), str::to_string);
            secrets.push((ns, name.to_string()));
        }
    };
    for field in [
        "nodePublishSecretRef",
        "nodeStageSecretRef",
        "nodeExpandSecretRef",
        "controllerPublishSecretRef",
    ] {
        add(&spec["csi"][field]);
    }
    for source in [
        "cephfs",
        "cinder",
        "flexVolume",
        "rbd",
        "iscsi",
        "scaleIO",
        "storageos",
    ] {
        add(&spec[source]["secretRef"]);
    }
    if let Some(name) = text(&spec["azureFile"]["secretName"]) {
        let ns = text(&spec["azureFile"]["secretNamespace"]).map_or(default_ns, str::to_string);
        secrets.push((ns, name.to_string()));
    }
    VolumeEdges { claim, secrets }
}

impl Graph {
    /// Records a pod as it is now (added or changed).
    pub fn set_pod(&mut self, pod: &Value) {
        let id = (
            meta(pod, "namespace").to_string(),
            meta(pod, "name").to_string(),
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
    pub fn set_volume(&mut self, pv: &Value) {
        let name = meta(pv, "name").to_string();
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
    use serde_json::json;

    fn pod(name: &str, node: &str, spec: Value) -> Value {
        let mut spec = spec;
        if !node.is_empty() {
            spec["nodeName"] = json!(node);
        }
        json!({"metadata": {"namespace": "ns", "name": name}, "spec": spec})
    }

    fn web() -> Value {
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
            "rbd": {"secretRef": {"name": "rbd"}}}});
        g.set_volume(&pv);
        g.set_volume(&json!({"metadata": {"name": "pv2"}, "spec": {
            "claimRef": {"namespace": "ns", "name": "not-mounted"}}}));
        assert!(g.related("a", Kind::Volume, "", "pv1"));
        assert!(!g.related("b", Kind::Volume, "", "pv1"));
        assert!(!g.related("a", Kind::Volume, "", "pv2"));
        assert!(!g.related("a", Kind::Volume, "", "unknown"));
        assert!(g.related("a", Kind::Secret, "sys", "stage"));
        assert!(g.related("a", Kind::Secret, "ns", "rbd"));
        assert!(!g.related("b", Kind::Secret, "sys", "stage"));
        g.delete_volume("pv1");
        assert!(!g.related("a", Kind::Secret, "sys", "stage"));
        assert!(!g.related("a", Kind::Volume, "", "pv1"));
    }
}
