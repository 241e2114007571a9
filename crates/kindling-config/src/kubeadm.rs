//! kubeadm config patches, interpreted.
//!
//! kind writes a kubeadm config for every node (ClusterConfiguration, InitConfiguration,
//! JoinConfiguration, KubeletConfiguration and, unless `kubeProxyMode: none`,
//! KubeProxyConfiguration), then applies the config's patches to it: for each node, the
//! cluster-level merge patches, the cluster-level JSON 6902 patches, then that node's merge
//! patches and JSON 6902 patches. A patch applies to the documents whose `kind` it names (and
//! whose `apiVersion`, when it names one). `kubeadm init` on the first control-plane node reads
//! ClusterConfiguration, InitConfiguration, KubeletConfiguration and KubeProxyConfiguration;
//! `kubeadm join` on every other node reads only JoinConfiguration.
//!
//! kindling has no kubeadm. It builds the same documents (the shape of kind's template), applies
//! the patches the same way (RFC 7386 merge, with kind's additive merge of `certSANs` and its
//! by-name merge of `extraArgs`; RFC 6902 operations), and then reads back what it can honour:
//!
//! | document | honoured |
//! | --- | --- |
//! | ClusterConfiguration | `networking.podSubnet`, `networking.serviceSubnet`, `networking.dnsDomain`, `apiServer.certSANs`, `apiServer.extraArgs` listed in [`SUPPORTED_APISERVER_ARGS`], `controllerManager.extraArgs.controllers` |
//! | Init/JoinConfiguration | `nodeRegistration.taints`, `nodeRegistration.kubeletExtraArgs` listed in [`SUPPORTED_KUBELET_ARGS`] (`node-labels` → labels, `register-with-taints` → taints) |
//! | KubeletConfiguration | the fields listed in [`SUPPORTED_KUBELET_CONFIG`], kept as JSON |
//! | KubeProxyConfiguration | `mode` |
//!
//! Anything else a patch changes is a [`Warning`] naming the patch and the field, e.g.
//! `kubeadmConfigPatches[0]: ClusterConfiguration.etcd.local.dataDir is not supported by
//! kindling and is ignored`; so is a patch that matches no document, or one that has no effect
//! on the node it is on. A value of a honoured field that cannot work (a bad CIDR, a bad label)
//! is an error.
//!
//! Differences from kind, on purpose:
//! - `extraArgs`/`kubeletExtraArgs` are read in both forms, the v1beta2/v1beta3 map and the
//!   v1beta4 list of `{name, value}`, whatever the patch's `apiVersion`; and a kubeadm patch of
//!   `apiVersion` v1beta2, v1beta3 or v1beta4 applies (kind with a v1.33 node image generates
//!   v1beta3 and silently skips patches naming another version).
//! - `node-labels` from a patch are added to the node's `labels` (in kind the patch's string
//!   replaces the one kind generates from `labels`, dropping them).
//! - KubeletConfiguration patches on a joining node apply to that node (kubeadm reads the
//!   kubelet configuration of the first node only; kind's docs call that a limitation).

use std::collections::{BTreeMap, BTreeSet};

use kindling_api::json_path::get;
use serde_json::{json, Map, Value};

use crate::error::{ConfigError, ConfigErrors, Location, Warning};
use crate::labels::{parse_node_labels, parse_register_with_taints, Taint};
use crate::source::Source;
use crate::types::*;

/// The Kubernetes version kindling serves (what `kubernetesVersion` is in the generated config).
pub const KUBERNETES_VERSION: &str = "v1.35.0";

/// kubeadm API versions whose patches are interpreted.
pub const KUBEADM_API_VERSIONS: &[&str] = &[
    "kubeadm.k8s.io/v1beta2",
    "kubeadm.k8s.io/v1beta3",
    "kubeadm.k8s.io/v1beta4",
];
pub const KUBELET_API_VERSION: &str = "kubelet.config.k8s.io/v1beta1";
pub const KUBE_PROXY_API_VERSION: &str = "kubeproxy.config.k8s.io/v1alpha1";

/// kube-apiserver flags a ClusterConfiguration `apiServer.extraArgs` may set (a trailing `*`
/// is a prefix). `runtime-config` and `feature-gates` are folded into the cluster's
/// `runtime_config` / `feature_gates`; the others land in `api_server.extra_args`.
pub const SUPPORTED_APISERVER_ARGS: &[&str] = &[
    "service-node-port-range",
    "oidc-*",
    "runtime-config",
    "feature-gates",
    "enable-admission-plugins",
    "disable-admission-plugins",
    "token-auth-file",
    "service-account-issuer",
    "service-account-jwks-uri",
    "api-audiences",
];

/// kube-controller-manager flags a ClusterConfiguration `controllerManager.extraArgs` may set:
/// `controllers` (upstream's list: `*` for the on-by-default ones, `name` to enable, `-name` to
/// disable), which is how kindling's off-by-default `kubelet-serving-approver` is switched on.
pub const SUPPORTED_CONTROLLER_MANAGER_ARGS: &[&str] = &["controllers"];

/// kubelet flags `nodeRegistration.kubeletExtraArgs` may set. `node-labels` becomes labels and
/// `register-with-taints` taints; the others land in the node's `kubelet_extra_args`.
pub const SUPPORTED_KUBELET_ARGS: &[&str] = &[
    "node-labels",
    "register-with-taints",
    "max-pods",
    "pod-max-pids",
    "eviction-hard",
    "system-reserved",
    "kube-reserved",
];

/// KubeletConfiguration fields kept in the node's `kubelet_config`.
pub const SUPPORTED_KUBELET_CONFIG: &[&str] = &[
    "maxPods",
    "serverTLSBootstrap",
    "podPidsLimit",
    "evictionHard",
    "evictionSoft",
    "evictionSoftGracePeriod",
    "evictionPressureTransitionPeriod",
    "systemReserved",
    "kubeReserved",
    "featureGates",
    "imageGCHighThresholdPercent",
    "imageGCLowThresholdPercent",
    "serializeImagePulls",
    "maxParallelImagePulls",
    "containerLogMaxSize",
    "containerLogMaxFiles",
];

fn listed(list: &[&str], name: &str) -> bool {
    list.iter().any(|s| match s.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => *s == name,
    })
}

/// Whether kindling's API server honours this flag from `apiServer.extraArgs`.
pub fn is_supported_apiserver_arg(name: &str) -> bool {
    listed(SUPPORTED_APISERVER_ARGS, name)
}

/// The kubeadm config documents kind generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DocKind {
    ClusterConfiguration,
    InitConfiguration,
    JoinConfiguration,
    KubeletConfiguration,
    KubeProxyConfiguration,
}

impl DocKind {
    pub fn from_kind(kind: &str) -> Option<DocKind> {
        Some(match kind {
            "ClusterConfiguration" => DocKind::ClusterConfiguration,
            "InitConfiguration" => DocKind::InitConfiguration,
            "JoinConfiguration" => DocKind::JoinConfiguration,
            "KubeletConfiguration" => DocKind::KubeletConfiguration,
            "KubeProxyConfiguration" => DocKind::KubeProxyConfiguration,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            DocKind::ClusterConfiguration => "ClusterConfiguration",
            DocKind::InitConfiguration => "InitConfiguration",
            DocKind::JoinConfiguration => "JoinConfiguration",
            DocKind::KubeletConfiguration => "KubeletConfiguration",
            DocKind::KubeProxyConfiguration => "KubeProxyConfiguration",
        }
    }

    fn api_versions(self) -> &'static [&'static str] {
        match self {
            DocKind::KubeletConfiguration => &[KUBELET_API_VERSION],
            DocKind::KubeProxyConfiguration => &[KUBE_PROXY_API_VERSION],
            _ => KUBEADM_API_VERSIONS,
        }
    }
}

/// What the patches of one node say about it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeInterpretation {
    /// From `kubeletExtraArgs.node-labels` (on top of the node's `labels`).
    pub labels: BTreeMap<String, String>,
    /// `nodeRegistration.taints` when a patch set it (`Some(vec![])` = no taints at all);
    /// `None` = kubeadm's default (the control-plane taint on control-plane nodes).
    pub taints: Option<Vec<Taint>>,
    /// From `kubeletExtraArgs.register-with-taints` (added to the above).
    pub registered_taints: Vec<Taint>,
    /// Other supported `kubeletExtraArgs`.
    pub kubelet_extra_args: BTreeMap<String, String>,
    /// Supported KubeletConfiguration fields a patch changed, with their resulting values.
    pub kubelet_config: Map<String, Value>,
}

/// A value set by a patch, and which patch set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patched<T> {
    pub value: T,
    /// The patch, as a config path (`kubeadmConfigPatches[0]`).
    pub patch: String,
    /// Where that patch is in the file.
    pub location: Option<Location>,
}

/// What the kubeadm patches of a cluster say, typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interpreted {
    /// ClusterConfiguration `networking.podSubnet`, when a patch changed it.
    pub pod_subnet: Option<Patched<String>>,
    /// ClusterConfiguration `networking.serviceSubnet`, when a patch changed it.
    pub service_subnet: Option<Patched<String>>,
    /// ClusterConfiguration `networking.dnsDomain`, when a patch set it.
    pub dns_domain: Option<Patched<String>>,
    /// Supported `apiServer.extraArgs` (except `runtime-config`/`feature-gates`).
    pub api_server_extra_args: BTreeMap<String, String>,
    /// Supported `controllerManager.extraArgs` a patch set.
    pub controller_manager_extra_args: BTreeMap<String, String>,
    /// `apiServer.certSANs` as patched: kind's `localhost` and API server address first.
    pub cert_sans: Vec<String>,
    /// `apiServer.extraArgs.runtime-config`, when a patch set it: replaces the generated one.
    pub runtime_config: Option<BTreeMap<String, String>>,
    /// `apiServer.extraArgs.feature-gates`, when a patch set it.
    pub feature_gates: BTreeMap<String, bool>,
    /// KubeProxyConfiguration `mode`, when a patch changed it.
    pub kube_proxy_mode: Option<Patched<String>>,
    /// A ClusterConfiguration patch names `etcd.local` (kubeadm's stacked etcd): keep the
    /// objects in etcd even with one control plane (several always use it).
    pub stacked_etcd: bool,
    /// One per config node, in order.
    pub nodes: Vec<NodeInterpretation>,
    pub warnings: Vec<Warning>,
}

/// One parsed patch document.
#[derive(Debug, Clone)]
struct Patch {
    /// `kubeadmConfigPatches[0]`, `nodes[1].kubeadmConfigPatchesJSON6902[0]`.
    label: String,
    location: Option<Location>,
    kind: DocKind,
    op: Op,
}

#[derive(Debug, Clone)]
enum Op {
    Merge(Value),
    /// `list_form`: written against v1beta4 (extraArgs as lists of `{name, value}`).
    Json6902 {
        ops: json_patch::Patch,
        list_form: bool,
    },
}

fn yaml_docs(text: &str, path: &str, source: &Source) -> Result<Vec<Value>, ConfigError> {
    serde_saphyr::from_multiple::<Value>(text)
        .map_err(|e| source.embedded_yaml_error(path, &e, "failed to parse patch"))
}

/// Parses the merge patches at `base` (`kubeadmConfigPatches` or `nodes[i].kubeadmConfigPatches`).
fn parse_merge_patches(
    base: &str,
    patches: &[String],
    source: &Source,
    errs: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
) -> Vec<Patch> {
    let mut out = Vec::new();
    for (i, text) in patches.iter().enumerate() {
        let path = format!("{base}[{i}]");
        let location = source.location(&path);
        let docs = match yaml_docs(text, &path, source) {
            Ok(d) => d,
            Err(e) => {
                errs.push(e);
                continue;
            }
        };
        let many = docs.len() > 1;
        for (d, doc) in docs.into_iter().enumerate() {
            let label = if many {
                format!("{path} (document {})", d + 1)
            } else {
                path.clone()
            };
            let warn = |warnings: &mut Vec<Warning>, message: String| {
                warnings.push(Warning {
                    field: label.clone(),
                    message,
                    location,
                });
            };
            let obj = match doc {
                Value::Null => continue,
                Value::Object(o) => o,
                _ => {
                    warn(warnings, "the patch is not a YAML mapping; it matches no kubeadm config document and is ignored".to_string());
                    continue;
                }
            };
            let kind = obj
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let api_version = obj
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let Some(doc_kind) = check_target(&kind, &api_version, &label, location, warnings)
            else {
                continue;
            };
            out.push(Patch {
                label,
                location,
                kind: doc_kind,
                op: Op::Merge(Value::Object(obj)),
            });
        }
    }
    out
}

/// The document a patch targets, or a warning saying why it targets none.
fn check_target(
    kind: &str,
    api_version: &str,
    label: &str,
    location: Option<Location>,
    warnings: &mut Vec<Warning>,
) -> Option<DocKind> {
    let mut warn = |message: String| {
        warnings.push(Warning {
            field: label.to_string(),
            message,
            location,
        });
    };
    let Some(doc_kind) = DocKind::from_kind(kind) else {
        warn(if kind.is_empty() {
            "the patch has no `kind`, so it matches no kubeadm config document and is ignored (kind: ClusterConfiguration, InitConfiguration, JoinConfiguration, KubeletConfiguration or KubeProxyConfiguration)".to_string()
        } else {
            format!(
                "kind {kind:?} matches no kubeadm config document and is ignored (kind: ClusterConfiguration, InitConfiguration, JoinConfiguration, KubeletConfiguration or KubeProxyConfiguration)"
            )
        });
        return None;
    };
    if !api_version.is_empty() && !doc_kind.api_versions().contains(&api_version) {
        warn(format!(
            "apiVersion {api_version:?} of {kind} matches no generated document ({}), so the patch is ignored, as kind ignores it",
            doc_kind.api_versions().join(", ")
        ));
        return None;
    }
    Some(doc_kind)
}

fn parse_json6902_patches(
    base: &str,
    patches: &[PatchJson6902],
    source: &Source,
    errs: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
) -> Vec<Patch> {
    let mut out = Vec::new();
    for (i, p) in patches.iter().enumerate() {
        let label = format!("{base}[{i}]");
        let location = source.location(&label);
        let Some(doc_kind) = check_target(&p.kind, &p.api_version(), &label, location, warnings)
        else {
            continue;
        };
        let patch_path = format!("{label}.patch");
        let docs = match yaml_docs(&p.patch, &patch_path, source) {
            Ok(d) => d,
            Err(e) => {
                errs.push(e);
                continue;
            }
        };
        let value = match docs.into_iter().next() {
            Some(v) => v,
            None => Value::Array(Vec::new()),
        };
        let ops: json_patch::Patch = match serde_json::from_value(value) {
            Ok(ops) => ops,
            Err(e) => {
                errs.push(
                    source.error_at(&patch_path, format!("failed to parse JSON 6902 patch: {e}")),
                );
                continue;
            }
        };
        out.push(Patch {
            label,
            location,
            kind: doc_kind,
            op: Op::Json6902 {
                ops,
                list_form: p.version == "v1beta4",
            },
        });
    }
    out
}

/// `k=v,k2=v2`, sorted (kind's `RuntimeConfigString`/`FeatureGatesString`).
fn join_pairs<V: ToString>(m: &BTreeMap<String, V>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={}", v.to_string()))
        .collect::<Vec<_>>()
        .join(",")
}

struct NodeFacts<'a> {
    name: &'a str,
    control_plane: bool,
    labels: String,
}

/// kind's generated kubeadm config for one node (its v1beta3 template, map form).
fn baseline(c: &Cluster, node: &NodeFacts, lb: bool) -> BTreeMap<DocKind, Value> {
    let net = &c.networking;
    let ipv6 = net.ip_family == IPV6_FAMILY;
    let endpoint = if lb {
        format!("{}-external-load-balancer:6443", c.name)
    } else {
        format!("{}-control-plane:6443", c.name)
    };
    let gates = join_pairs(&c.feature_gates);
    let mut api_args = Map::new();
    api_args.insert(
        "runtime-config".into(),
        json!(join_pairs(&c.runtime_config)),
    );
    let mut cm_args = Map::new();
    let mut sched_args = Map::new();
    if !c.feature_gates.is_empty() {
        api_args.insert("feature-gates".into(), json!(gates));
        cm_args.insert("feature-gates".into(), json!(gates));
        sched_args.insert("feature-gates".into(), json!(gates));
    }
    cm_args.insert("enable-hostpath-provisioner".into(), json!("true"));
    if ipv6 {
        cm_args.insert("bind-address".into(), json!("::"));
        sched_args.insert("bind-address".into(), json!("::1"));
    }
    let meta = json!({"name": "config"});
    let kubeadm = "kubeadm.k8s.io/v1beta3";
    let registration = json!({
        "criSocket": "unix:///run/containerd/containerd.sock",
        "kubeletExtraArgs": {
            "node-ip": "",
            "provider-id": format!("kind://docker/{}/{}", c.name, node.name),
            "node-labels": node.labels,
        },
    });
    let mut docs = BTreeMap::new();
    docs.insert(
        DocKind::ClusterConfiguration,
        json!({
            "apiVersion": kubeadm,
            "kind": "ClusterConfiguration",
            "metadata": meta,
            "kubernetesVersion": KUBERNETES_VERSION,
            "clusterName": c.name,
            "controlPlaneEndpoint": endpoint,
            "apiServer": {"certSANs": ["localhost", net.api_server_address], "extraArgs": api_args},
            "controllerManager": {"extraArgs": cm_args},
            "scheduler": {"extraArgs": sched_args},
            "networking": {"podSubnet": net.pod_subnet, "serviceSubnet": net.service_subnet},
        }),
    );
    docs.insert(
        DocKind::InitConfiguration,
        json!({
            "apiVersion": kubeadm,
            "kind": "InitConfiguration",
            "metadata": meta,
            "bootstrapTokens": [{"token": "abcdef.0123456789abcdef"}],
            "localAPIEndpoint": {"advertiseAddress": "", "bindPort": 6443},
            "nodeRegistration": registration,
        }),
    );
    let mut join = json!({
        "apiVersion": kubeadm,
        "kind": "JoinConfiguration",
        "metadata": meta,
        "nodeRegistration": registration,
        "discovery": {"bootstrapToken": {
            "apiServerEndpoint": endpoint,
            "token": "abcdef.0123456789abcdef",
            "unsafeSkipCAVerification": true,
        }},
    });
    if node.control_plane {
        join["controlPlane"] =
            json!({"localAPIEndpoint": {"advertiseAddress": "", "bindPort": 6443}});
    }
    docs.insert(DocKind::JoinConfiguration, join);
    let mut kubelet = json!({
        "apiVersion": KUBELET_API_VERSION,
        "kind": "KubeletConfiguration",
        "metadata": meta,
        "cgroupDriver": "systemd",
        "cgroupRoot": "/kubelet",
        "failSwapOn": false,
        "imageGCHighThresholdPercent": 100,
        "evictionHard": {"nodefs.available": "0%", "nodefs.inodesFree": "0%", "imagefs.available": "0%"},
    });
    if ipv6 {
        kubelet["address"] = json!("::");
        kubelet["healthzBindAddress"] = json!("::");
    }
    if !c.feature_gates.is_empty() {
        kubelet["featureGates"] = json!(c.feature_gates);
    }
    docs.insert(DocKind::KubeletConfiguration, kubelet);
    if net.kube_proxy_mode != NONE_PROXY_MODE {
        let mut proxy = json!({
            "apiVersion": KUBE_PROXY_API_VERSION,
            "kind": "KubeProxyConfiguration",
            "metadata": meta,
            "mode": net.kube_proxy_mode,
            "iptables": {"minSyncPeriod": "1s"},
            "conntrack": {"maxPerCore": 0},
        });
        if !c.feature_gates.is_empty() {
            proxy["featureGates"] = json!(c.feature_gates);
        }
        docs.insert(DocKind::KubeProxyConfiguration, proxy);
    }
    docs
}

const ARGS_KEYS: [&str; 2] = ["extraArgs", "kubeletExtraArgs"];

/// v1beta4 `extraArgs: [{name, value}]` → map form (a missing value means "remove").
fn args_to_map(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if ARGS_KEYS.contains(&k.as_str()) {
                    if let Value::Array(items) = child {
                        let mut map = Map::new();
                        for item in items.iter() {
                            if let Some(name) = item.get("name").and_then(Value::as_str) {
                                map.insert(
                                    name.to_string(),
                                    item.get("value").cloned().unwrap_or(Value::Null),
                                );
                            }
                        }
                        *child = Value::Object(map);
                        continue;
                    }
                }
                args_to_map(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(args_to_map),
        _ => {}
    }
}

/// Map form → v1beta4 list form.
fn args_to_list(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if ARGS_KEYS.contains(&k.as_str()) {
                    if let Value::Object(map) = child {
                        let list = map
                            .iter()
                            .map(|(n, v)| json!({"name": n, "value": v}))
                            .collect();
                        *child = Value::Array(list);
                        continue;
                    }
                }
                args_to_list(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(args_to_list),
        _ => {}
    }
}

/// RFC 7386 merge, with kind's additive `certSANs`.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else {
        unreachable!()
    };
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else if k == "certSANs" && v.is_array() {
            let mut list = t
                .get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for item in v.as_array().into_iter().flatten() {
                if !list.contains(item) {
                    list.push(item.clone());
                }
            }
            t.insert(k.clone(), Value::Array(list));
        } else {
            merge(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Changed leaves between two documents: maps recurse, everything else is compared whole;
/// KubeletConfiguration is compared field by field (its maps are values).
fn diff(
    before: Option<&Value>,
    after: Option<&Value>,
    path: &mut Vec<String>,
    depth: Option<usize>,
    out: &mut Vec<Vec<String>>,
) {
    let at_limit = depth.is_some_and(|d| path.len() >= d);
    match (before, after) {
        (Some(Value::Object(a)), Some(Value::Object(b))) if !at_limit => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                path.push(k.clone());
                diff(a.get(k), b.get(k), path, depth, out);
                path.pop();
            }
        }
        (Some(Value::Object(a)), None) if !at_limit && !a.is_empty() => {
            for k in a.keys() {
                path.push(k.clone());
                diff(a.get(k), None, path, depth, out);
                path.pop();
            }
        }
        (None, Some(Value::Object(b))) if !at_limit && !b.is_empty() => {
            for k in b.keys() {
                path.push(k.clone());
                diff(None, b.get(k), path, depth, out);
                path.pop();
            }
        }
        (a, b) => {
            if a != b {
                out.push(path.clone());
            }
        }
    }
}

fn changed(kind: DocKind, before: &Value, after: &Value) -> Vec<Vec<String>> {
    let depth = (kind == DocKind::KubeletConfiguration).then_some(1);
    let mut out = Vec::new();
    diff(Some(before), Some(after), &mut Vec::new(), depth, &mut out);
    out
}

/// Whether kindling honours a changed field (`None`), or why not.
fn unsupported(kind: DocKind, path: &[String]) -> Option<String> {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    if matches!(p.first(), Some(&"metadata" | &"apiVersion" | &"kind")) {
        return None; // kind strips metadata; apiVersion/kind only select the document
    }
    let ok = match kind {
        DocKind::ClusterConfiguration => match p.as_slice() {
            ["networking", "podSubnet" | "serviceSubnet" | "dnsDomain"] => true,
            ["apiServer", "certSANs"] => true,
            // Selects the stacked etcd store (`Interpreted::stacked_etcd`); what is inside
            // (`dataDir`, `extraArgs`, …) is reported on its own paths.
            ["etcd", "local"] => true,
            ["controllerManager", "extraArgs", arg] => {
                if listed(SUPPORTED_CONTROLLER_MANAGER_ARGS, arg) {
                    true
                } else {
                    return Some(format!(
                        "{}.{} is not supported by kindling and is ignored (kindling's controller manager takes {} from extraArgs)",
                        kind.name(),
                        path.join("."),
                        SUPPORTED_CONTROLLER_MANAGER_ARGS.join(", ")
                    ));
                }
            }
            // Read as where the API server's files are on the node (token-auth-file).
            ["apiServer", "extraVolumes", ..] => true,
            ["apiServer", "extraArgs", arg] => {
                if is_supported_apiserver_arg(arg) {
                    true
                } else {
                    return Some(format!(
                        "{}.{} is not supported by kindling and is ignored (kindling's API server takes {} from extraArgs)",
                        kind.name(),
                        path.join("."),
                        SUPPORTED_APISERVER_ARGS.join(", ")
                    ));
                }
            }
            _ => false,
        },
        DocKind::InitConfiguration | DocKind::JoinConfiguration => match p.as_slice() {
            ["nodeRegistration", "taints"] => true,
            ["nodeRegistration", "kubeletExtraArgs", arg] => {
                if listed(SUPPORTED_KUBELET_ARGS, arg) {
                    true
                } else {
                    return Some(format!(
                        "{}.{} is not supported by kindling and is ignored (kindling's node agent takes {} from kubeletExtraArgs)",
                        kind.name(),
                        path.join("."),
                        SUPPORTED_KUBELET_ARGS.join(", ")
                    ));
                }
            }
            _ => false,
        },
        DocKind::KubeletConfiguration => p
            .first()
            .is_some_and(|f| SUPPORTED_KUBELET_CONFIG.contains(f)),
        DocKind::KubeProxyConfiguration => p.as_slice() == ["mode"],
    };
    if ok {
        None
    } else {
        Some(format!(
            "{}.{} is not supported by kindling and is ignored",
            kind.name(),
            path.join(".")
        ))
    }
}

/// The last patch that changed each field of a node's documents.
type Origins = BTreeMap<(DocKind, String), (String, Option<Location>)>;

struct NodeRun {
    docs: BTreeMap<DocKind, Value>,
    base: BTreeMap<DocKind, Value>,
    origins: Origins,
}

fn apply(
    run: &mut NodeRun,
    patch: &Patch,
    source: &Source,
    errs: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
) {
    let Some(doc) = run.docs.get_mut(&patch.kind) else {
        warnings.push(Warning {
            field: patch.label.clone(),
            message: format!(
                "there is no {} to patch (networking.kubeProxyMode is none), so the patch is ignored",
                patch.kind.name()
            ),
            location: patch.location,
        });
        return;
    };
    let before = doc.clone();
    match &patch.op {
        Op::Merge(p) => {
            let mut p = p.clone();
            args_to_map(&mut p);
            merge(doc, &p);
        }
        Op::Json6902 { ops, list_form } => {
            let mut work = doc.clone();
            if *list_form {
                args_to_list(&mut work);
            }
            if let Err(e) = json_patch::patch(&mut work, ops) {
                errs.push(ConfigError::new(
                    &source.name,
                    patch.location,
                    Some(patch.label.clone()),
                    format!(
                        "failed to apply JSON 6902 patch to {}: {e}",
                        patch.kind.name()
                    ),
                ));
                return;
            }
            args_to_map(&mut work);
            *doc = work;
        }
    }
    for path in changed(patch.kind, &before, doc) {
        match unsupported(patch.kind, &path) {
            Some(message) => warnings.push(Warning {
                field: patch.label.clone(),
                message,
                location: patch.location,
            }),
            None => {
                run.origins.insert(
                    (patch.kind, path.join(".")),
                    (patch.label.clone(), patch.location),
                );
            }
        }
    }
}

/// A scalar YAML value as a flag value (`true`, `110`, `"x"` → `x`).
fn flag_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_bool_gates(s: &str) -> Result<BTreeMap<String, bool>, String> {
    let mut out = BTreeMap::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("invalid feature gate {item:?}: expected Name=true|false"))?;
        let v = match v.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(format!(
                    "invalid feature gate {item:?}: expected Name=true|false"
                ))
            }
        };
        out.insert(k.trim().to_string(), v);
    }
    Ok(out)
}

fn is_port_range(v: &str) -> bool {
    let parsed = v
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?)));
    matches!(parsed, Some((a, b)) if a > 0 && a <= b)
}

fn parse_pairs(s: &str) -> BTreeMap<String, String> {
    s.split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (item.to_string(), "true".to_string()),
        })
        .collect()
}

/// Interprets every kubeadm patch of a defaulted cluster (see [`crate::set_defaults`]) whose
/// name is final.
pub fn interpret(c: &Cluster, source: &Source) -> Result<Interpreted, ConfigErrors> {
    let mut errs = Vec::new();
    let mut warnings = Vec::new();
    let cluster_patches: Vec<Patch> = parse_merge_patches(
        "kubeadmConfigPatches",
        &c.kubeadm_config_patches,
        source,
        &mut errs,
        &mut warnings,
    )
    .into_iter()
    .chain(parse_json6902_patches(
        "kubeadmConfigPatchesJSON6902",
        &c.kubeadm_config_patches_json6902,
        source,
        &mut errs,
        &mut warnings,
    ))
    .collect();
    let node_patches: Vec<Vec<Patch>> = c
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            parse_merge_patches(
                &format!("nodes[{i}].kubeadmConfigPatches"),
                &n.kubeadm_config_patches,
                source,
                &mut errs,
                &mut warnings,
            )
            .into_iter()
            .chain(parse_json6902_patches(
                &format!("nodes[{i}].kubeadmConfigPatchesJSON6902"),
                &n.kubeadm_config_patches_json6902,
                source,
                &mut errs,
                &mut warnings,
            ))
            .collect()
        })
        .collect();
    if !errs.is_empty() {
        return Err(ConfigErrors(errs));
    }

    let names = crate::resolve::node_names(c);
    let bootstrap = c.nodes.iter().position(|n| n.role == CONTROL_PLANE_ROLE);
    let lb = c
        .nodes
        .iter()
        .filter(|n| n.role == CONTROL_PLANE_ROLE)
        .count()
        > 1;
    let joiners = c.nodes.len() - usize::from(bootstrap.is_some());
    for p in &cluster_patches {
        if p.kind == DocKind::JoinConfiguration && joiners == 0 {
            warnings.push(Warning {
                field: p.label.clone(),
                message: "JoinConfiguration has no effect: every node but the first control-plane node joins, and this cluster has no other node".to_string(),
                location: p.location,
            });
        }
    }

    let mut out = Interpreted::default();
    for (i, node) in c.nodes.iter().enumerate() {
        let is_bootstrap = Some(i) == bootstrap;
        let facts = NodeFacts {
            name: &names[i],
            control_plane: node.role == CONTROL_PLANE_ROLE,
            labels: join_pairs(&node.labels),
        };
        let base = baseline(c, &facts, lb);
        let mut run = NodeRun {
            docs: base.clone(),
            base,
            origins: Origins::new(),
        };
        for p in &node_patches[i] {
            let reason = match (p.kind, is_bootstrap) {
                (DocKind::ClusterConfiguration | DocKind::KubeProxyConfiguration, false) => Some(format!(
                    "{} is only read on the first control-plane node (kubeadm init), so this patch has no effect on {}",
                    p.kind.name(),
                    names[i]
                )),
                (DocKind::InitConfiguration, false) => Some(format!(
                    "InitConfiguration only applies to the first control-plane node (kubeadm init); {} joins the cluster (use JoinConfiguration), so this patch has no effect",
                    names[i]
                )),
                (DocKind::JoinConfiguration, true) => Some(format!(
                    "JoinConfiguration has no effect on {}: it is the first control-plane node, which runs kubeadm init (use InitConfiguration)",
                    names[i]
                )),
                _ => None,
            };
            if let Some(message) = reason {
                warnings.push(Warning {
                    field: p.label.clone(),
                    message,
                    location: p.location,
                });
            }
        }
        // Warnings about fields are only gathered where the document is used, so that a
        // cluster-level patch is judged once, on the node that reads it.
        for p in cluster_patches.iter().chain(&node_patches[i]) {
            let used = match p.kind {
                DocKind::ClusterConfiguration
                | DocKind::KubeProxyConfiguration
                | DocKind::InitConfiguration => is_bootstrap,
                DocKind::JoinConfiguration => !is_bootstrap,
                DocKind::KubeletConfiguration => true,
            };
            let mut sink = Vec::new();
            apply(
                &mut run,
                p,
                source,
                &mut errs,
                if used { &mut warnings } else { &mut sink },
            );
        }
        let registration = if is_bootstrap {
            DocKind::InitConfiguration
        } else {
            DocKind::JoinConfiguration
        };
        out.nodes
            .push(read_node(&run, registration, source, &mut errs));
        if is_bootstrap {
            read_cluster(&run, &mut out, source, &mut errs);
            check_admission(&run, &out, source, &mut errs, &mut warnings);
            locate_token_file(&run, node, &mut out, &mut warnings);
        }
    }
    // Cluster-level patches are applied once per node: say each thing once.
    if !errs.is_empty() {
        let mut unique: Vec<ConfigError> = Vec::new();
        for e in errs {
            if !unique.contains(&e) {
                unique.push(e);
            }
        }
        return Err(ConfigErrors(unique));
    }
    let mut seen = BTreeSet::new();
    warnings.retain(|w| seen.insert(w.clone()));
    out.warnings = warnings;
    Ok(out)
}

fn origin(run: &NodeRun, kind: DocKind, path: &str) -> (String, Option<Location>) {
    run.origins
        .get(&(kind, path.to_string()))
        .cloned()
        .unwrap_or_else(|| ("kubeadmConfigPatches".to_string(), None))
}

fn patch_error(
    source: &Source,
    origin: (String, Option<Location>),
    message: String,
) -> ConfigError {
    ConfigError::new(&source.name, origin.1, Some(origin.0), message)
}

/// `enable-/disable-admission-plugins` as kube-apiserver checks them (an unknown name stops it:
/// here an error at the patch, in upstream's words); names kindling accepts but does not carry
/// out are warnings.
fn check_admission(
    run: &NodeRun,
    out: &Interpreted,
    source: &Source,
    errs: &mut Vec<ConfigError>,
    warnings: &mut Vec<Warning>,
) {
    use kindling_api::admission::{AdmissionFlags, CARRIED_OUT};
    const ENABLE: &str = "enable-admission-plugins";
    const DISABLE: &str = "disable-admission-plugins";
    let args = &out.api_server_extra_args;
    let flags = AdmissionFlags::parse(
        args.get(ENABLE).map(String::as_str),
        args.get(DISABLE).map(String::as_str),
    );
    let kind = DocKind::ClusterConfiguration;
    let at = |flag: &str| {
        let path = format!("apiServer.extraArgs.{flag}");
        (
            origin(run, kind, &path),
            format!("ClusterConfiguration.{path}"),
        )
    };
    for e in flags.errors() {
        // Each message names its flag; the overlap names both (reported at the first).
        let flag = if e.starts_with(DISABLE) {
            DISABLE
        } else {
            ENABLE
        };
        let (o, path) = at(if args.contains_key(flag) {
            flag
        } else {
            DISABLE
        });
        errs.push(patch_error(source, o, format!("{path}: {e}")));
    }
    let mut warn = |flag: &str, message: String| {
        let ((field, location), path) = at(flag);
        warnings.push(Warning {
            field,
            message: format!("{path}: {message}"),
            location,
        });
    };
    for name in &flags.enable {
        if kindling_api::admission::plugin(name).is_some() && !CARRIED_OUT.contains(&name.as_str())
        {
            warn(
                ENABLE,
                format!("kindling's API server does not carry out the {name} admission plugin; it has no effect"),
            );
        }
    }
    if flags.disable.iter().any(|n| n == "NamespaceLifecycle") {
        warn(
            DISABLE,
            "kindling's API server keeps NamespaceLifecycle on (objects only in existing, active namespaces)".into(),
        );
    }
}

/// `token-auth-file` names a file as the kube-apiserver pod sees it: through
/// `apiServer.extraVolumes` (mountPath → hostPath) it is a path of the node, where kindling's API
/// server reads it. The node has it when an `extraMounts` entry brings it from the host (as
/// kind users do); otherwise a warning says the server will not start unless the image has it.
fn locate_token_file(
    run: &NodeRun,
    node: &Node,
    out: &mut Interpreted,
    warnings: &mut Vec<Warning>,
) {
    const FLAG: &str = "token-auth-file";
    let Some(path) = out.api_server_extra_args.get(FLAG).cloned() else {
        return;
    };
    let under = |path: &str, dir: &str| {
        let dir = dir.trim_end_matches('/');
        path == dir || path.starts_with(&format!("{dir}/"))
    };
    let volumes = run.docs[&DocKind::ClusterConfiguration]
        .pointer("/apiServer/extraVolumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let on_node = volumes
        .iter()
        .filter_map(|v| Some((v["mountPath"].as_str()?, v["hostPath"].as_str()?)))
        .filter(|(mount, _)| under(&path, mount))
        .max_by_key(|(mount, _)| mount.len())
        .map_or(path.clone(), |(mount, host)| {
            format!(
                "{}{}",
                host.trim_end_matches('/'),
                &path[mount.trim_end_matches('/').len()..]
            )
        });
    if !node
        .extra_mounts
        .iter()
        .any(|m| under(&on_node, &m.container_path))
    {
        let (field, location) = origin(
            run,
            DocKind::ClusterConfiguration,
            &format!("apiServer.extraArgs.{FLAG}"),
        );
        warnings.push(Warning {
            field,
            message: format!(
                "ClusterConfiguration.apiServer.extraArgs.{FLAG}: {on_node} is under no extraMounts containerPath of the first control-plane node; its API server reads the file there and will not start without it"
            ),
            location,
        });
    }
    out.api_server_extra_args.insert(FLAG.to_string(), on_node);
}

fn read_cluster(
    run: &NodeRun,
    out: &mut Interpreted,
    source: &Source,
    errs: &mut Vec<ConfigError>,
) {
    let kind = DocKind::ClusterConfiguration;
    let doc = &run.docs[&kind];
    let base = &run.base[&kind];
    let mut string_field = |path: &[&str]| -> Option<Patched<String>> {
        let now = get(doc, path);
        if now == get(base, path) {
            return None;
        }
        let dotted = path.join(".");
        let o = origin(run, kind, &dotted);
        match now {
            Some(Value::String(s)) => Some(Patched {
                value: s.clone(),
                patch: o.0,
                location: o.1,
            }),
            None => None,
            Some(other) => {
                errs.push(patch_error(
                    source,
                    o,
                    format!("ClusterConfiguration.{dotted}: expected a string, got {other}"),
                ));
                None
            }
        }
    };
    out.stacked_etcd |= get(doc, &["etcd", "local"]).is_some();
    out.pod_subnet = string_field(&["networking", "podSubnet"]);
    out.service_subnet = string_field(&["networking", "serviceSubnet"]);
    out.dns_domain = string_field(&["networking", "dnsDomain"]);

    match get(doc, &["apiServer", "certSANs"]) {
        Some(Value::Array(items)) => {
            for item in items {
                match item.as_str() {
                    Some(s) if !out.cert_sans.iter().any(|x| x == s) => out.cert_sans.push(s.to_string()),
                    Some(_) => {}
                    None => errs.push(patch_error(
                        source,
                        origin(run, kind, "apiServer.certSANs"),
                        format!("ClusterConfiguration.apiServer.certSANs: expected a list of strings, got {item}"),
                    )),
                }
            }
        }
        None | Some(Value::Null) => {}
        Some(other) => errs.push(patch_error(
            source,
            origin(run, kind, "apiServer.certSANs"),
            format!(
                "ClusterConfiguration.apiServer.certSANs: expected a list of strings, got {other}"
            ),
        )),
    }

    let empty = Map::new();
    let args = get(doc, &["apiServer", "extraArgs"])
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let base_args = get(base, &["apiServer", "extraArgs"])
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, v) in args {
        if base_args.get(name) == Some(v) || !is_supported_apiserver_arg(name) {
            continue;
        }
        let path = format!("apiServer.extraArgs.{name}");
        let o = origin(run, kind, &path);
        let Some(value) = flag_value(v) else {
            errs.push(patch_error(
                source,
                o,
                format!("ClusterConfiguration.{path}: expected a string, got {v}"),
            ));
            continue;
        };
        match name.as_str() {
            "runtime-config" => out.runtime_config = Some(parse_pairs(&value)),
            "feature-gates" => match parse_bool_gates(&value) {
                Ok(g) => out.feature_gates = g,
                Err(m) => errs.push(patch_error(
                    source,
                    o,
                    format!("ClusterConfiguration.{path}: {m}"),
                )),
            },
            "service-node-port-range" if !is_port_range(&value) => errs.push(patch_error(
                source,
                o,
                format!("ClusterConfiguration.{path}: invalid port range {value:?}: expected FIRST-LAST, e.g. 30000-32767"),
            )),
            _ => {
                out.api_server_extra_args.insert(name.clone(), value);
            }
        }
    }

    let cm_args = get(doc, &["controllerManager", "extraArgs"])
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let cm_base = get(base, &["controllerManager", "extraArgs"])
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, v) in cm_args {
        if cm_base.get(name) == Some(v) || !listed(SUPPORTED_CONTROLLER_MANAGER_ARGS, name) {
            continue;
        }
        let path = format!("controllerManager.extraArgs.{name}");
        match flag_value(v) {
            Some(value) => {
                out.controller_manager_extra_args
                    .insert(name.clone(), value);
            }
            None => errs.push(patch_error(
                source,
                origin(run, kind, &path),
                format!("ClusterConfiguration.{path}: expected a string, got {v}"),
            )),
        }
    }

    if let (Some(doc), Some(base)) = (
        run.docs.get(&DocKind::KubeProxyConfiguration),
        run.base.get(&DocKind::KubeProxyConfiguration),
    ) {
        let now = doc.get("mode");
        if now != base.get("mode") {
            let o = origin(run, DocKind::KubeProxyConfiguration, "mode");
            match now.and_then(Value::as_str) {
                Some(m) if [IPTABLES_PROXY_MODE, IPVS_PROXY_MODE, NFTABLES_PROXY_MODE].contains(&m) => {
                    out.kube_proxy_mode = Some(Patched {
                        value: m.to_string(),
                        patch: o.0,
                        location: o.1,
                    });
                }
                _ => errs.push(patch_error(
                    source,
                    o,
                    format!(
                        "KubeProxyConfiguration.mode: invalid kube-proxy mode {} (expected iptables, ipvs or nftables)",
                        now.map_or_else(|| "(removed)".to_string(), Value::to_string)
                    ),
                )),
            }
        }
    }
}

fn read_node(
    run: &NodeRun,
    kind: DocKind,
    source: &Source,
    errs: &mut Vec<ConfigError>,
) -> NodeInterpretation {
    let mut n = NodeInterpretation::default();
    let doc = &run.docs[&kind];
    let base = &run.base[&kind];
    let empty = Map::new();
    let args = get(doc, &["nodeRegistration", "kubeletExtraArgs"])
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let base_args = get(base, &["nodeRegistration", "kubeletExtraArgs"])
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, v) in args {
        if base_args.get(name) == Some(v) || !listed(SUPPORTED_KUBELET_ARGS, name) {
            continue;
        }
        let path = format!("nodeRegistration.kubeletExtraArgs.{name}");
        let o = origin(run, kind, &path);
        let Some(value) = flag_value(v) else {
            errs.push(patch_error(
                source,
                o,
                format!("{}.{path}: expected a string, got {v}", kind.name()),
            ));
            continue;
        };
        match name.as_str() {
            "node-labels" => match parse_node_labels(&value) {
                Ok(l) => n.labels = l,
                Err(m) => errs.push(patch_error(
                    source,
                    o,
                    format!("{}.{path}: {m}", kind.name()),
                )),
            },
            "register-with-taints" => match parse_register_with_taints(&value) {
                Ok(t) => n.registered_taints = t,
                Err(m) => errs.push(patch_error(
                    source,
                    o,
                    format!("{}.{path}: {m}", kind.name()),
                )),
            },
            _ => {
                n.kubelet_extra_args.insert(name.clone(), value);
            }
        }
    }
    let taints = get(doc, &["nodeRegistration", "taints"]);
    if taints != get(base, &["nodeRegistration", "taints"]) {
        let path = "nodeRegistration.taints";
        let o = origin(run, kind, path);
        match taints {
            None | Some(Value::Null) => {}
            Some(v) => match serde_json::from_value::<Vec<Taint>>(v.clone()) {
                Ok(list) => {
                    for t in &list {
                        if let Err(m) = t.check() {
                            errs.push(patch_error(
                                source,
                                o.clone(),
                                format!("{}.{path}: {m}", kind.name()),
                            ));
                        }
                    }
                    n.taints = Some(list);
                }
                Err(e) => errs.push(patch_error(
                    source,
                    o,
                    format!(
                        "{}.{path}: expected a list of {{key, value, effect}}: {e}",
                        kind.name()
                    ),
                )),
            },
        }
    }
    let kubelet = &run.docs[&DocKind::KubeletConfiguration];
    let kubelet_base = &run.base[&DocKind::KubeletConfiguration];
    if let Some(fields) = kubelet.as_object() {
        for (k, v) in fields {
            if SUPPORTED_KUBELET_CONFIG.contains(&k.as_str()) && kubelet_base.get(k) != Some(v) {
                n.kubelet_config.insert(k.clone(), v.clone());
            }
        }
    }
    n
}
