//! kube-apiserver's admission plugins as data: every plugin name v1.35 registers, in the order
//! upstream runs them (`AllOrderedPlugins`), which are on by default, and what
//! `--enable-admission-plugins` / `--disable-admission-plugins` make of them (upstream's
//! `AdmissionOptions.Validate` messages, its ordering). Which of them kindling carries out is the
//! API server's business (its admission chain); this is the vocabulary, with the decisions of
//! the plugins that need no other objects (DefaultTolerationSeconds, Priority for the built-in
//! classes). No IO.

use serde_json::{json, Value};

/// One registered plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plugin {
    pub name: &'static str,
    /// On unless disabled (upstream's default-on set).
    pub default_on: bool,
}

const fn on(name: &'static str) -> Plugin {
    Plugin {
        name,
        default_on: true,
    }
}

const fn off(name: &'static str) -> Plugin {
    Plugin {
        name,
        default_on: false,
    }
}

/// Upstream's v1.35 plugins in execution order (pkg/kubeapiserver/options/plugins.go):
/// webhooks, policies and ResourceQuota last.
pub const PLUGINS: &[Plugin] = &[
    off("AlwaysAdmit"),
    off("NamespaceAutoProvision"),
    on("NamespaceLifecycle"),
    off("NamespaceExists"),
    off("LimitPodHardAntiAffinityTopology"),
    on("LimitRanger"),
    on("ServiceAccount"),
    off("NodeRestriction"),
    on("TaintNodesByCondition"),
    off("AlwaysPullImages"),
    off("ImagePolicyWebhook"),
    on("PodSecurity"),
    off("PodNodeSelector"),
    on("Priority"),
    on("DefaultTolerationSeconds"),
    off("PodTolerationRestriction"),
    off("EventRateLimit"),
    off("ExtendedResourceToleration"),
    on("DefaultStorageClass"),
    on("StorageObjectInUseProtection"),
    off("OwnerReferencesPermissionEnforcement"),
    on("PersistentVolumeClaimResize"),
    on("RuntimeClass"),
    on("CertificateApproval"),
    on("CertificateSigning"),
    on("ClusterTrustBundleAttest"),
    on("CertificateSubjectRestriction"),
    on("DefaultIngressClass"),
    off("DenyServiceExternalIPs"),
    on("PodTopologyLabels"),
    on("NodeDeclaredFeatureValidator"),
    on("MutatingAdmissionPolicy"),
    on("MutatingAdmissionWebhook"),
    on("ValidatingAdmissionPolicy"),
    on("ValidatingAdmissionWebhook"),
    on("ResourceQuota"),
    off("AlwaysDeny"),
];

/// The plugins kindling's API server carries out (its admission chain; NamespaceLifecycle is
/// always on there). Other names are accepted, as upstream accepts them, and have no effect.
pub const CARRIED_OUT: &[&str] = &[
    "NamespaceLifecycle",
    "LimitRanger",
    "ServiceAccount",
    "NodeRestriction",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "PersistentVolumeClaimResize",
    "DefaultIngressClass",
    "ResourceQuota",
];

/// The plugin of this name.
pub fn plugin(name: &str) -> Option<&'static Plugin> {
    PLUGINS.iter().find(|p| p.name == name)
}

/// The admission flags of a server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdmissionFlags {
    /// `--enable-admission-plugins`: turned on in addition to the default ones.
    pub enable: Vec<String>,
    /// `--disable-admission-plugins`: turned off although on by default.
    pub disable: Vec<String>,
}

impl AdmissionFlags {
    /// From the flags' comma-separated values, read as upstream's string slices: blanks around
    /// names are part of them, an empty value is no name.
    pub fn parse(enable: Option<&str>, disable: Option<&str>) -> AdmissionFlags {
        let list = |v: Option<&str>| match v {
            None | Some("") => Vec::new(),
            Some(s) => s.split(',').map(str::to_string).collect(),
        };
        AdmissionFlags {
            enable: list(enable),
            disable: list(disable),
        }
    }

    /// Upstream's errors for these flags, in its order: each unknown name, then the names given
    /// to both.
    pub fn errors(&self) -> Vec<String> {
        let mut errs = Vec::new();
        for (flag, names) in [
            ("enable-admission-plugins", &self.enable),
            ("disable-admission-plugins", &self.disable),
        ] {
            for name in names {
                if plugin(name).is_none() {
                    errs.push(format!("{flag} plugin {name:?} is unknown"));
                }
            }
        }
        let mut both: Vec<&String> = self
            .enable
            .iter()
            .filter(|n| self.disable.contains(n))
            .collect();
        both.sort();
        both.dedup();
        if !both.is_empty() {
            let names: Vec<&str> = both.iter().map(|s| s.as_str()).collect();
            errs.push(format!(
                "[{}] in enable-admission-plugins and disable-admission-plugins overlapped",
                names.join(" ")
            ));
        }
        errs
    }

    /// The plugins that run, in upstream's order: the default ones and the enabled ones, less
    /// the disabled ones (an explicit enable wins over a default-off).
    pub fn enabled(&self) -> Vec<&'static str> {
        PLUGINS
            .iter()
            .filter(|p| {
                let enabled = self.enable.iter().any(|n| n == p.name);
                let disabled = self.disable.iter().any(|n| n == p.name);
                enabled || (p.default_on && !disabled)
            })
            .map(|p| p.name)
            .collect()
    }
}

/// Upstream's aggregate of several errors: one is itself, more are `[e1, e2]`.
pub fn aggregate(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// The DefaultTolerationSeconds plugin: a pod tolerates `not-ready` and `unreachable` nodes for
/// 300 s unless one of its tolerations already covers the taint (its key or none, NoExecute or
/// any effect).
pub fn default_toleration_seconds(spec: &mut Value) {
    let covers = |t: &Value, key: &str| {
        let k = t["key"].as_str().unwrap_or("");
        let e = t["effect"].as_str().unwrap_or("");
        (k == key || k.is_empty()) && (e == "NoExecute" || e.is_empty())
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let tolerated = spec["tolerations"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| covers(t, key)));
        if tolerated {
            continue;
        }
        let toleration = json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": 300});
        match spec["tolerations"].as_array_mut() {
            Some(ts) => ts.push(toleration),
            None => spec["tolerations"] = json!([toleration]),
        }
    }
}

/// The Priority plugin for the classes every cluster has: no class means priority 0 (no
/// global default class is looked up), the two system classes their values; the preemption
/// policy defaults to `PreemptLowerPriority`. Other class names are left as they are.
pub fn builtin_priority(spec: &mut Value) {
    let priority = match spec["priorityClassName"].as_str().unwrap_or("") {
        "" => 0,
        "system-cluster-critical" => 2_000_000_000,
        "system-node-critical" => 2_000_001_000,
        _ => return,
    };
    if spec["priority"].is_null() {
        spec["priority"] = json!(priority);
    }
    if spec["preemptionPolicy"].is_null() {
        spec["preemptionPolicy"] = json!("PreemptLowerPriority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_upstreams() {
        let on = AdmissionFlags::default().enabled();
        assert_eq!(on.len(), 23);
        assert_eq!(on[0], "NamespaceLifecycle");
        assert_eq!(on[1..3], ["LimitRanger", "ServiceAccount"]);
        assert_eq!(on.last(), Some(&"ResourceQuota"));
        assert!(!on.contains(&"AlwaysPullImages"));
    }

    #[test]
    fn flags_change_the_set_in_upstreams_order() {
        let f = AdmissionFlags::parse(
            Some("AlwaysPullImages,NamespaceLifecycle"),
            Some("ServiceAccount,LimitRanger"),
        );
        assert!(f.errors().is_empty());
        let on = f.enabled();
        assert!(!on.contains(&"ServiceAccount") && !on.contains(&"LimitRanger"));
        let pull = on.iter().position(|n| *n == "AlwaysPullImages").unwrap();
        let priority = on.iter().position(|n| *n == "Priority").unwrap();
        assert!(pull < priority, "{on:?}");
    }

    #[test]
    fn pods_tolerate_not_ready_and_unreachable_for_300s_unless_they_say_otherwise() {
        let mut spec = json!({"containers": [{"name": "a"}]});
        default_toleration_seconds(&mut spec);
        assert_eq!(
            spec["tolerations"],
            json!([
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            ])
        );
        let mut own = json!({"tolerations": [
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]});
        default_toleration_seconds(&mut own);
        assert_eq!(own["tolerations"].as_array().unwrap().len(), 2);
        assert_eq!(own["tolerations"][0]["tolerationSeconds"], 5);
        let mut everything = json!({"tolerations": [{"operator": "Exists"}]});
        default_toleration_seconds(&mut everything);
        assert_eq!(everything["tolerations"], json!([{"operator": "Exists"}]));
    }

    #[test]
    fn builtin_priorities() {
        let mut spec = json!({});
        builtin_priority(&mut spec);
        assert_eq!(
            spec,
            json!({"priority": 0, "preemptionPolicy": "PreemptLowerPriority"})
        );
        let mut spec = json!({"priorityClassName": "system-node-critical"});
        builtin_priority(&mut spec);
        assert_eq!(spec["priority"], 2_000_001_000);
        let mut spec = json!({"priorityClassName": "mine"});
        builtin_priority(&mut spec);
        assert_eq!(spec, json!({"priorityClassName": "mine"}));
    }

    #[test]
    fn errors_are_upstreams() {
        let f = AdmissionFlags::parse(
            Some("Foo,ServiceAccount,LimitRanger"),
            Some("LimitRanger,Bar,ServiceAccount"),
        );
        assert_eq!(
            f.errors(),
            [
                "enable-admission-plugins plugin \"Foo\" is unknown",
                "disable-admission-plugins plugin \"Bar\" is unknown",
                "[LimitRanger ServiceAccount] in enable-admission-plugins and disable-admission-plugins overlapped",
            ]
        );
        assert_eq!(
            aggregate(&f.errors()[..1]),
            "enable-admission-plugins plugin \"Foo\" is unknown"
        );
        // Names are exact: case and blanks count, as upstream's.
        let f = AdmissionFlags::parse(Some("serviceaccount, LimitRanger"), None);
        assert_eq!(
            f.errors(),
            [
                "enable-admission-plugins plugin \"serviceaccount\" is unknown",
                "enable-admission-plugins plugin \" LimitRanger\" is unknown",
            ]
        );
    }
}
