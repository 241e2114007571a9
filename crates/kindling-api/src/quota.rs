//! ResourceQuota rules shared by the quota admission (API server) and the quota controller,
//! without IO (upstream's pkg/quota/v1/evaluator/core and plugin/pkg/admission/resourcequota):
//! what an object uses, which quotas cover it (scopes), the container constraints, and whether
//! a quota can take an object's usage — with upstream's messages.
//!
//! Objects are wire-form JSON values; resource lists are name → [`Quantity`].

use crate::limitrange::pod_total;
use crate::quantity::{Format, Quantity};
use crate::strategy::qos_class;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

pub type ResourceList = BTreeMap<String, Quantity>;

/// Resources a pod's usage is counted in (besides `count/pods` and extended
/// `requests.<name>`), upstream's pod evaluator's matching resources.
const POD_RESOURCES: &[&str] = &[
    "pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
];

/// Resources every container must state when a quota tracks them (upstream's validationSet).
const MUST_SPECIFY: &[&str] = &[
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";

/// `count/pods`, `count/deployments.apps`: the object count resource of a resource.
pub fn object_count_name(group: &str, plural: &str) -> String {
    if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    }
}

/// The (group, plural) whose objects a quota resource counts: `count/<plural>[.<group>]`, or
/// the legacy names of the core evaluators.
pub fn resource_of(name: &str) -> Option<(String, String)> {
    if let Some(rest) = name.strip_prefix("count/") {
        return Some(match rest.split_once('.') {
            Some((plural, group)) => (group.to_string(), plural.to_string()),
            None => (String::new(), rest.to_string()),
        });
    }
    let core = |p: &str| Some((String::new(), p.to_string()));
    match name {
        "services" | "services.nodeports" | "services.loadbalancers" => core("services"),
        "configmaps" => core("configmaps"),
        "secrets" => core("secrets"),
        "replicationcontrollers" => core("replicationcontrollers"),
        "resourcequotas" => core("resourcequotas"),
        "persistentvolumeclaims" | "requests.storage" => core("persistentvolumeclaims"),
        n if n.contains(STORAGE_CLASS_SUFFIX) => core("persistentvolumeclaims"),
        n if POD_RESOURCES.contains(&n) || is_pod_prefixed(n) => core("pods"),
        _ => None,
    }
}

/// hugepages and extended resources (`requests.example.com/gpu`).
fn is_pod_prefixed(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
        || (name.starts_with("requests.") && name.contains('/'))
}

/// Whether a quota resource is one the evaluator of `(group, plural)` counts (upstream's
/// MatchingResources).
pub fn covers(group: &str, plural: &str, name: &str) -> bool {
    resource_of(name).is_some_and(|(g, p)| g == group && p == plural)
}

fn one() -> Quantity {
    Quantity::new(1, Format::DecimalSI)
}

fn count(n: i64) -> Quantity {
    Quantity::new(n, Format::DecimalSI)
}

/// A pod still uses its resources: not terminal, not deleted past its grace period
/// (upstream's QuotaV1Pod).
fn pod_counts(pod: &Value, now: jiff::Timestamp) -> bool {
    if matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    ) {
        return false;
    }
    let deleted = pod["metadata"]["deletionTimestamp"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    match (
        deleted,
        pod["metadata"]["deletionGracePeriodSeconds"].as_i64(),
    ) {
        (Some(at), Some(grace)) => now <= at + jiff::SignedDuration::from_secs(grace),
        _ => true,
    }
}

/// Upstream's podComputeUsageHelper: pods, cpu/memory/ephemeral-storage requests (also under
/// their bare names) and limits, hugepages and extended resources.
fn compute_usage(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut out = ResourceList::new();
    out.insert("pods".into(), one());
    for r in ["cpu", "memory", "ephemeral-storage"] {
        if let Some(q) = requests.get(r) {
            out.insert(r.into(), *q);
            out.insert(format!("requests.{r}"), *q);
        }
        if let Some(q) = limits.get(r) {
            out.insert(format!("limits.{r}"), *q);
        }
    }
    for (r, q) in requests {
        if r.starts_with("hugepages-") {
            out.insert(r.clone(), *q);
            out.insert(format!("requests.{r}"), *q);
        } else if r.contains('/') && !r.starts_with("kubernetes.io/") {
            out.insert(format!("requests.{r}"), *q);
        }
    }
    out
}

fn quantities(v: &Value) -> ResourceList {
    v.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), Quantity::from_json(v).ok()?)))
        .collect()
}

/// What `obj` (of resource `group`/`plural`) uses, as upstream's evaluators count it: always
/// its object count, and for pods, services and claims what they hold.
pub fn usage(group: &str, plural: &str, obj: &Value, now: jiff::Timestamp) -> ResourceList {
    let mut out = ResourceList::new();
    out.insert(object_count_name(group, plural), one());
    if !group.is_empty() {
        return out;
    }
    match plural {
        "pods" if pod_counts(obj, now) => {
            let computed = compute_usage(&pod_total(obj, "requests"), &pod_total(obj, "limits"));
            out.extend(computed);
        }
        "services" => {
            out.insert("services".into(), one());
            let ty = obj["spec"]["type"].as_str().unwrap_or("ClusterIP");
            if matches!(ty, "NodePort" | "LoadBalancer") {
                let ports = obj["spec"]["ports"].as_array().map_or(0, Vec::len);
                out.insert("services.nodeports".into(), count(ports as i64));
            }
            if ty == "LoadBalancer" {
                out.insert("services.loadbalancers".into(), one());
            }
        }
        "persistentvolumeclaims" => {
            out.insert("persistentvolumeclaims".into(), one());
            let storage =
                Quantity::from_json(&obj["spec"]["resources"]["requests"]["storage"]).ok();
            if let Some(q) = storage {
                out.insert("requests.storage".into(), q);
            }
            if let Some(class) = obj["spec"]["storageClassName"]
                .as_str()
                .filter(|c| !c.is_empty())
            {
                out.insert(
                    format!("{class}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"),
                    one(),
                );
                if let Some(q) = storage {
                    out.insert(format!("{class}{STORAGE_CLASS_SUFFIX}requests.storage"), q);
                }
            }
        }
        "configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas" => {
            out.insert(plural.to_string(), one());
        }
        _ => {}
    }
    out
}

/// The scope requirements of a quota: `spec.scopes` (each as Exists) and
/// `spec.scopeSelector.matchExpressions`.
fn scope_requirements(quota: &Value) -> Vec<(String, String, Vec<String>)> {
    let mut out: Vec<(String, String, Vec<String>)> = quota["spec"]["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| (s.to_string(), "Exists".to_string(), Vec::new()))
        .collect();
    for e in quota["spec"]["scopeSelector"]["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let values = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        out.push((
            e["scopeName"].as_str().unwrap_or_default().to_string(),
            e["operator"].as_str().unwrap_or_default().to_string(),
            values,
        ));
    }
    out
}

/// Whether the quota applies to the object: an unscoped quota to every object, a scoped one
/// only to pods its scopes all select (upstream's pod evaluator's MatchingScopes).
pub fn matches(quota: &Value, group: &str, plural: &str, obj: &Value) -> bool {
    let scopes = scope_requirements(quota);
    if scopes.is_empty() {
        return true;
    }
    if !(group.is_empty() && plural == "pods") {
        return false;
    }
    let spec = &obj["spec"];
    let terminating = spec["activeDeadlineSeconds"]
        .as_i64()
        .is_some_and(|s| s >= 0);
    let best_effort = qos_class(spec) == "BestEffort";
    let class = spec["priorityClassName"].as_str().unwrap_or_default();
    scopes
        .iter()
        .all(|(scope, op, values)| match scope.as_str() {
            "Terminating" => terminating,
            "NotTerminating" => !terminating,
            "BestEffort" => best_effort,
            "NotBestEffort" => !best_effort,
            "PriorityClass" => match op.as_str() {
                "In" => values.iter().any(|v| v == class),
                "NotIn" => !values.iter().any(|v| v == class),
                "Exists" => !class.is_empty(),
                "DoesNotExist" => class.is_empty(),
                _ => false,
            },
            _ => false,
        })
}

/// Upstream's pod Constraints: when a quota tracks cpu or memory, every (init) container must
/// state it: `must specify limits.cpu for: a,b` (one error per resource, aggregated).
fn pod_constraints(tracked: &BTreeSet<String>, pod: &Value) -> Result<(), String> {
    let required: BTreeSet<&str> = MUST_SPECIFY
        .iter()
        .copied()
        .filter(|r| tracked.contains(*r))
        .collect();
    let mut missing: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for list in ["containers", "initContainers"] {
        for c in pod["spec"][list].as_array().into_iter().flatten() {
            let has = compute_usage(
                &quantities(&c["resources"]["requests"]),
                &quantities(&c["resources"]["limits"]),
            );
            for r in &required {
                if !has.contains_key(*r) {
                    let name = c["name"].as_str().unwrap_or_default().to_string();
                    missing.entry(r).or_default().insert(name);
                }
            }
        }
    }
    let errs: Vec<String> = missing
        .iter()
        .map(|(r, cs)| {
            format!(
                "must specify {r} for: {}",
                cs.iter().cloned().collect::<Vec<_>>().join(",")
            )
        })
        .collect();
    match errs.as_slice() {
        [] => Ok(()),
        [one] => Err(one.clone()),
        many => Err(format!("[{}]", many.join(", "))),
    }
}

/// `cpu=1,pods=2`: sorted `name=value` pairs, as upstream prints resource lists.
pub fn pretty(list: &ResourceList) -> String {
    list.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub fn to_json(list: &ResourceList) -> Value {
    Value::Object(
        list.iter()
            .map(|(k, v)| (k.clone(), json!(v.to_string())))
            .collect(),
    )
}

/// What the quota charges for `requested` (an object's usage, or an update's growth): `Ok(None)`
/// when it tracks none of it; the quota's new `status.used` when it fits; upstream's message
/// (without the `<resource> "<name>" is forbidden: ` prefix) when it does not.
pub fn charge(
    quota: &Value,
    group: &str,
    plural: &str,
    obj: &Value,
    requested: &ResourceList,
) -> Result<Option<ResourceList>, String> {
    if !matches(quota, group, plural, obj) {
        return Ok(None);
    }
    let name = quota["metadata"]["name"].as_str().unwrap_or_default();
    let spec_hard = quantities(&quota["spec"]["hard"]);
    let tracked: BTreeSet<String> = spec_hard
        .keys()
        .filter(|k| covers(group, plural, k))
        .cloned()
        .collect();
    if tracked.is_empty() {
        return Ok(None);
    }
    if group.is_empty() && plural == "pods" {
        pod_constraints(&tracked, obj).map_err(|e| format!("failed quota: {name}: {e}"))?;
    }
    let wanted: ResourceList = requested
        .iter()
        .filter(|(k, _)| tracked.contains(*k))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let hard = quantities(&quota["status"]["hard"]);
    let unknown: Vec<&String> = tracked.iter().filter(|k| !hard.contains_key(*k)).collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = unknown.iter().map(|s| s.as_str()).collect();
        return Err(format!(
            "status unknown for quota: {name}, resources: {}",
            names.join(",")
        ));
    }
    let mut used = quantities(&quota["status"]["used"]);
    let mut exceeded = BTreeSet::new();
    for (k, v) in &wanted {
        let next = used.get(k).copied().unwrap_or_default() + *v;
        if hard.get(k).is_some_and(|h| next > *h) {
            exceeded.insert(k.clone());
        }
        used.insert(k.clone(), next);
    }
    if !exceeded.is_empty() {
        let mask = |list: &ResourceList| -> ResourceList {
            exceeded
                .iter()
                .map(|k| (k.clone(), list.get(k).copied().unwrap_or_default()))
                .collect()
        };
        let old_used = quantities(&quota["status"]["used"]);
        return Err(format!(
            "exceeded quota: {name}, requested: {}, used: {}, limited: {}",
            pretty(&mask(&wanted)),
            pretty(&mask(&old_used)),
            pretty(&mask(&hard))
        ));
    }
    Ok(Some(used))
}

/// The growth of an update (`new` − `old`, positive parts only): what it must be charged.
pub fn growth(new: &ResourceList, old: &ResourceList) -> ResourceList {
    new.iter()
        .filter_map(|(k, v)| {
            let delta = *v - old.get(k).copied().unwrap_or_default();
            (delta.sign() > 0).then(|| (k.clone(), delta))
        })
        .collect()
}

/// `status.used` of a quota from the objects of its namespace (each with its group and
/// plural): the usage of those it matches, for the resources it tracks (zero for the ones
/// nothing uses).
pub fn used(quota: &Value, objects: &[(&str, &str, &Value)], now: jiff::Timestamp) -> ResourceList {
    let hard = quantities(&quota["spec"]["hard"]);
    let mut out: ResourceList = hard
        .keys()
        .map(|k| (k.clone(), Quantity::default()))
        .collect();
    for (group, plural, obj) in objects {
        if !matches(quota, group, plural, obj) {
            continue;
        }
        for (k, v) in usage(group, plural, obj, now) {
            if let Some(total) = out.get_mut(&k) {
                *total += v;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2024-01-01T00:00:00Z".parse().unwrap()
    }

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap()
    }

    fn pod(resources: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "resources": resources}]},
               "status": {"phase": "Pending"}})
    }

    fn quota(hard: Value, used: Value) -> Value {
        json!({"metadata": {"name": "q"}, "spec": {"hard": hard}, "status": {"hard": hard, "used": used}})
    }

    #[test]
    fn usage_of_pods_services_and_claims() {
        let p =
            pod(json!({"requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "1Gi"}}));
        let u = usage("", "pods", &p, now());
        assert_eq!(u["pods"], q("1"));
        assert_eq!(u["count/pods"], q("1"));
        assert_eq!(u["requests.cpu"], q("250m"));
        assert_eq!(u["cpu"], q("250m"));
        assert_eq!(u["limits.memory"], q("1Gi"));
        assert!(!u.contains_key("requests.memory"));
        // A finished pod is only an object.
        let mut done = p.clone();
        done["status"]["phase"] = json!("Succeeded");
        assert_eq!(
            usage("", "pods", &done, now()).keys().collect::<Vec<_>>(),
            ["count/pods"]
        );
        let svc = json!({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}, {"port": 443}]}});
        let u = usage("", "services", &svc, now());
        assert_eq!(
            (
                u["services"],
                u["services.nodeports"],
                u["services.loadbalancers"]
            ),
            (q("1"), q("2"), q("1"))
        );
        let pvc = json!({"spec": {"storageClassName": "standard", "resources": {"requests": {"storage": "1Gi"}}}});
        let u = usage("", "persistentvolumeclaims", &pvc, now());
        assert_eq!(u["requests.storage"], q("1Gi"));
        assert_eq!(
            u["standard.storageclass.storage.k8s.io/requests.storage"],
            q("1Gi")
        );
        let d = usage("apps", "deployments", &json!({}), now());
        assert_eq!(d.keys().collect::<Vec<_>>(), ["count/deployments.apps"]);
    }

    #[test]
    fn charges_and_refusals_read_like_upstream() {
        let full = quota(json!({"pods": "2"}), json!({"pods": "2"}));
        let p = pod(json!({}));
        let u = usage("", "pods", &p, now());
        assert_eq!(
            charge(&full, "", "pods", &p, &u).unwrap_err(),
            "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"
        );
        let room = quota(
            json!({"pods": "2", "services": "1"}),
            json!({"pods": "1", "services": "0"}),
        );
        assert_eq!(
            charge(&room, "", "pods", &p, &u).unwrap().unwrap()["pods"],
            q("2")
        );
        // Not tracked: nothing to charge.
        let cm = usage("", "configmaps", &json!({}), now());
        assert_eq!(
            charge(&room, "", "configmaps", &json!({}), &cm).unwrap(),
            None
        );
        // Tracking limits.cpu requires every container to state it.
        let cpu = quota(json!({"limits.cpu": "2"}), json!({"limits.cpu": "0"}));
        assert_eq!(
            charge(&cpu, "", "pods", &p, &u).unwrap_err(),
            "failed quota: q: must specify limits.cpu for: c"
        );
        // The controller has not filled status.hard yet.
        let fresh = json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "1"}}});
        assert_eq!(
            charge(&fresh, "", "pods", &p, &u).unwrap_err(),
            "status unknown for quota: q, resources: pods"
        );
    }

    #[test]
    fn scopes_select_pods() {
        let scoped = |scopes: Value| json!({"spec": {"hard": {"pods": "1"}, "scopes": scopes}});
        let best_effort = pod(json!({}));
        let burstable = pod(json!({"requests": {"cpu": "1"}}));
        assert!(matches(
            &scoped(json!(["BestEffort"])),
            "",
            "pods",
            &best_effort
        ));
        assert!(!matches(
            &scoped(json!(["BestEffort"])),
            "",
            "pods",
            &burstable
        ));
        assert!(matches(
            &scoped(json!(["NotBestEffort", "NotTerminating"])),
            "",
            "pods",
            &burstable
        ));
        let mut deadline = burstable.clone();
        deadline["spec"]["activeDeadlineSeconds"] = json!(30);
        assert!(matches(
            &scoped(json!(["Terminating"])),
            "",
            "pods",
            &deadline
        ));
        assert!(!matches(
            &scoped(json!(["BestEffort"])),
            "",
            "services",
            &json!({})
        ));
        let by_class = json!({"spec": {"scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}});
        let mut high = burstable.clone();
        high["spec"]["priorityClassName"] = json!("high");
        assert!(matches(&by_class, "", "pods", &high));
        assert!(!matches(&by_class, "", "pods", &burstable));
    }

    #[test]
    fn used_sums_what_matches() {
        let qt =
            json!({"spec": {"hard": {"pods": "5", "requests.cpu": "2", "count/configmaps": "3"}}});
        let (a, b) = (
            pod(json!({"requests": {"cpu": "500m"}})),
            pod(json!({"requests": {"cpu": "250m"}})),
        );
        let cm = json!({});
        let objects = [("", "pods", &a), ("", "pods", &b), ("", "configmaps", &cm)];
        let u = used(&qt, &objects, now());
        assert_eq!(pretty(&u), "count/configmaps=1,pods=2,requests.cpu=750m");
        assert_eq!(
            resource_of("count/deployments.apps"),
            Some(("apps".into(), "deployments".into()))
        );
        assert_eq!(
            resource_of("requests.cpu"),
            Some(("".into(), "pods".into()))
        );
        assert_eq!(
            pretty(&growth(
                &BTreeMap::from([("requests.storage".into(), q("2Gi"))]),
                &BTreeMap::from([("requests.storage".into(), q("1Gi"))])
            )),
            "requests.storage=1Gi"
        );
    }
}
