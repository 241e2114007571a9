//! LimitRange admission (upstream plugin/pkg/admission/limitranger), without IO: a new pod's
//! containers get the namespace's default limits and requests (and the
//! `kubernetes.io/limit-ranger` annotation saying so); pods and PersistentVolumeClaims are then
//! checked against every LimitRange's min, max and maxLimitRequestRatio. The caller lists the
//! namespace's LimitRanges (in name order) and turns the errors into upstream's 403.
//!
//! Objects are wire-form JSON values.

use crate::quantity::Quantity;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The annotation that records what defaults were applied.
pub const ANNOTATION: &str = "kubernetes.io/limit-ranger";

/// Upstream's MaxMilliValue: above it, values are compared in whole units.
const MAX_MILLI_VALUE: i64 = i64::MAX / 1000;

fn quantities(list: &Value) -> BTreeMap<String, Quantity> {
    list.as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), Quantity::from_json(v).ok()?)))
        .collect()
}

fn limits_of(range: &Value) -> impl Iterator<Item = &Value> {
    range["spec"]["limits"].as_array().into_iter().flatten()
}

/// The defaults of the ranges' `Container` items (upstream's
/// defaultContainerResourceRequirements, one range after the other: later ranges win).
fn container_defaults(range: &Value) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let (mut requests, mut limits) = (BTreeMap::new(), BTreeMap::new());
    for item in limits_of(range).filter(|l| l["type"] == "Container") {
        for (k, v) in item["defaultRequest"].as_object().into_iter().flatten() {
            requests.insert(k.clone(), v.clone());
        }
        for (k, v) in item["default"].as_object().into_iter().flatten() {
            limits.insert(k.clone(), v.clone());
        }
    }
    (requests, limits)
}

/// Fills the missing limits and requests of one container; returns what it said it set.
fn merge_container(
    container: &mut Value,
    requests: &BTreeMap<String, Value>,
    limits: &BTreeMap<String, Value>,
    what: &str,
    notes: &mut Vec<String>,
) {
    let name = container["name"].as_str().unwrap_or_default().to_string();
    let resources = &mut container["resources"];
    if !resources.is_object() {
        *resources = json!({});
    }
    let mut fill = |key: &str, defaults: &BTreeMap<String, Value>| -> Vec<String> {
        if !resources[key].is_object() {
            resources[key] = Value::Object(Map::new());
        }
        let mut set = Vec::new();
        for (k, v) in defaults {
            if resources[key].get(k).is_none() {
                resources[key][k] = v.clone();
                set.push(k.clone());
            }
        }
        set
    };
    let set_limits = fill("limits", limits);
    let set_requests = fill("requests", requests);
    if !set_requests.is_empty() {
        notes.push(format!(
            "{} request for {what} {name}",
            set_requests.join(", ")
        ));
    }
    if !set_limits.is_empty() {
        notes.push(format!("{} limit for {what} {name}", set_limits.join(", ")));
    }
}

/// Upstream's PodMutateLimitFunc for one range: defaults into every container and init
/// container, noted in the annotation.
pub fn apply_defaults(pod: &mut Value, range: &Value) {
    let (requests, limits) = container_defaults(range);
    let mut notes = Vec::new();
    for (list, what) in [
        ("containers", "container"),
        ("initContainers", "init container"),
    ] {
        if let Some(containers) = pod["spec"][list].as_array_mut() {
            for c in containers {
                merge_container(c, &requests, &limits, what, &mut notes);
            }
        }
    }
    if !notes.is_empty() {
        if !pod["metadata"]["annotations"].is_object() {
            pod["metadata"]["annotations"] = json!({});
        }
        pod["metadata"]["annotations"][ANNOTATION] =
            json!(format!("LimitRanger plugin set: {}", notes.join("; ")));
    }
}

/// Request, limit and enforced value at a common precision (milli-units unless that would
/// overflow), as upstream's requestLimitEnforcedValues.
fn common_precision(
    req: Option<&Quantity>,
    lim: Option<&Quantity>,
    enforced: &Quantity,
) -> (i64, i64, i64) {
    let zero = Quantity::default();
    let (req, lim) = (req.unwrap_or(&zero), lim.unwrap_or(&zero));
    let units = (req.value(), lim.value(), enforced.value());
    if units.0 <= MAX_MILLI_VALUE && units.1 <= MAX_MILLI_VALUE && units.2 <= MAX_MILLI_VALUE {
        (req.milli_value(), lim.milli_value(), enforced.milli_value())
    } else {
        units
    }
}

type List = BTreeMap<String, Quantity>;

fn min_constraint(
    kind: &str,
    name: &str,
    enforced: &Quantity,
    request: &List,
    limit: &List,
) -> Option<String> {
    let (req, lim) = (request.get(name), limit.get(name));
    let (r, l, e) = common_precision(req, lim, enforced);
    match (req, lim) {
        (None, _) => Some(format!(
            "minimum {name} usage per {kind} is {enforced}.  No request is specified"
        )),
        (Some(req), _) if r < e => Some(format!(
            "minimum {name} usage per {kind} is {enforced}, but request is {req}"
        )),
        (_, Some(lim)) if l < e => Some(format!(
            "minimum {name} usage per {kind} is {enforced}, but limit is {lim}"
        )),
        _ => None,
    }
}

fn max_constraint(
    kind: &str,
    name: &str,
    enforced: &Quantity,
    request: &List,
    limit: &List,
) -> Option<String> {
    let (req, lim) = (request.get(name), limit.get(name));
    let (r, l, e) = common_precision(req, lim, enforced);
    match (req, lim) {
        (_, None) => Some(format!(
            "maximum {name} usage per {kind} is {enforced}.  No limit is specified"
        )),
        (_, Some(lim)) if l > e => Some(format!(
            "maximum {name} usage per {kind} is {enforced}, but limit is {lim}"
        )),
        (Some(req), _) if r > e => Some(format!(
            "maximum {name} usage per {kind} is {enforced}, but request is {req}"
        )),
        _ => None,
    }
}

/// A claim has only requests: the max applies to them (upstream's maxRequestConstraint).
fn max_request_constraint(
    kind: &str,
    name: &str,
    enforced: &Quantity,
    request: &List,
) -> Option<String> {
    let req = request.get(name);
    let (r, _, e) = common_precision(req, None, enforced);
    match req {
        None => Some(format!(
            "maximum {name} usage per {kind} is {enforced}.  No request is specified"
        )),
        Some(req) if r > e => Some(format!(
            "maximum {name} usage per {kind} is {enforced}, but request is {req}"
        )),
        _ => None,
    }
}

fn ratio_constraint(
    kind: &str,
    name: &str,
    enforced: &Quantity,
    request: &List,
    limit: &List,
) -> Option<String> {
    let (req, lim) = (request.get(name), limit.get(name));
    let (r, l, _) = common_precision(req, lim, enforced);
    if req.is_none() || r == 0 {
        return Some(format!("{name} max limit to request ratio per {kind} is {enforced}, but no request is specified or request is 0"));
    }
    if lim.is_none() || l == 0 {
        return Some(format!("{name} max limit to request ratio per {kind} is {enforced}, but no limit is specified or limit is 0"));
    }
    let shown = l as f64 / r as f64;
    let (observed, max) = if enforced.value() <= MAX_MILLI_VALUE {
        (shown * 1000.0, enforced.milli_value() as f64)
    } else {
        (shown, enforced.value() as f64)
    };
    (observed > max).then(|| {
        format!("{name} max limit to request ratio per {kind} is {enforced}, but provided ratio is {shown:.6}")
    })
}

/// min, max and maxLimitRequestRatio of one item against requests and limits.
fn check_item(item: &Value, kind: &str, request: &List, limit: &List, errs: &mut Vec<String>) {
    for (k, v) in quantities(&item["min"]) {
        errs.extend(min_constraint(kind, &k, &v, request, limit));
    }
    for (k, v) in quantities(&item["max"]) {
        errs.extend(max_constraint(kind, &k, &v, request, limit));
    }
    for (k, v) in quantities(&item["maxLimitRequestRatio"]) {
        errs.extend(ratio_constraint(kind, &k, &v, request, limit));
    }
}

fn resources_of(container: &Value) -> (List, List) {
    (
        quantities(&container["resources"]["requests"]),
        quantities(&container["resources"]["limits"]),
    )
}

/// The pod's effective requests or limits (`key`: `requests` or `limits`): its containers and sidecars summed, at least
/// what any init container needs beside the sidecars started before it (upstream's
/// PodRequests/PodLimits without overhead).
pub fn pod_total(pod: &Value, key: &str) -> BTreeMap<String, Quantity> {
    let of = |c: &Value| quantities(&c["resources"][key]);
    let add = |into: &mut List, from: &List| {
        for (k, v) in from {
            let sum = into.get(k).copied().unwrap_or_default() + *v;
            into.insert(k.clone(), sum);
        }
    };
    let mut total = List::new();
    for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
        add(&mut total, &of(c));
    }
    let mut sidecars = List::new();
    let mut init_max = List::new();
    for c in pod["spec"]["initContainers"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if c["restartPolicy"] == "Always" {
            add(&mut sidecars, &of(c));
            add(&mut total, &of(c));
            continue;
        }
        let mut needs = of(c);
        add(&mut needs, &sidecars);
        for (k, v) in needs {
            if init_max.get(&k).is_none_or(|m| v > *m) {
                init_max.insert(k, v);
            }
        }
    }
    for (k, v) in init_max {
        if total.get(&k).is_none_or(|t| v > *t) {
            total.insert(k, v);
        }
    }
    total
}

/// Upstream's PodValidateLimitFunc for one range: every (init) container against `Container`
/// items, the whole pod against `Pod` items.
pub fn validate_pod(pod: &Value, range: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    for item in limits_of(range) {
        match item["type"].as_str() {
            Some("Container") => {
                for list in ["containers", "initContainers"] {
                    for c in pod["spec"][list].as_array().into_iter().flatten() {
                        let (req, lim) = resources_of(c);
                        check_item(item, "Container", &req, &lim, &mut errs);
                    }
                }
            }
            Some("Pod") => {
                let (req, lim) = (pod_total(pod, "requests"), pod_total(pod, "limits"));
                check_item(item, "Pod", &req, &lim, &mut errs);
            }
            _ => {}
        }
    }
    errs
}

/// Upstream's PersistentVolumeClaimValidateLimitFunc: the claim's requests against
/// `PersistentVolumeClaim` items' min and max.
pub fn validate_claim(pvc: &Value, range: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let requests = quantities(&pvc["spec"]["resources"]["requests"]);
    for item in limits_of(range).filter(|l| l["type"] == "PersistentVolumeClaim") {
        for (k, v) in quantities(&item["min"]) {
            errs.extend(min_constraint(
                "PersistentVolumeClaim",
                &k,
                &v,
                &requests,
                &List::new(),
            ));
        }
        for (k, v) in quantities(&item["max"]) {
            errs.extend(max_request_constraint(
                "PersistentVolumeClaim",
                &k,
                &v,
                &requests,
            ));
        }
    }
    errs
}

/// Several errors read as upstream's aggregate: one as is, more in brackets.
pub fn aggregate(errs: &[String]) -> String {
    match errs {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(items: Value) -> Value {
        json!({"metadata": {"name": "limits"}, "spec": {"limits": items}})
    }

    fn pod(containers: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": {"containers": containers}})
    }

    #[test]
    fn defaults_fill_what_is_missing_and_say_so() {
        let r = range(
            json!([{"type": "Container", "default": {"cpu": "500m", "memory": "128Mi"},
                              "defaultRequest": {"cpu": "100m"}}]),
        );
        let mut p =
            pod(json!([{"name": "a"}, {"name": "b", "resources": {"limits": {"cpu": "1"}}}]));
        apply_defaults(&mut p, &r);
        let a = &p["spec"]["containers"][0]["resources"];
        assert_eq!(a["limits"], json!({"cpu": "500m", "memory": "128Mi"}));
        assert_eq!(a["requests"], json!({"cpu": "100m"}));
        let b = &p["spec"]["containers"][1]["resources"];
        assert_eq!(b["limits"], json!({"cpu": "1", "memory": "128Mi"}));
        assert_eq!(
            p["metadata"]["annotations"][ANNOTATION],
            "LimitRanger plugin set: cpu request for container a; cpu, memory limit for container a; cpu request for container b; memory limit for container b"
        );
        // Nothing to default: no annotation.
        let mut done = pod(
            json!([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"},
                                                          "requests": {"cpu": "1"}}}]),
        );
        apply_defaults(&mut done, &r);
        assert!(done["metadata"].get("annotations").is_none());
    }

    #[test]
    fn container_min_max_and_ratio_messages() {
        let r = range(
            json!([{"type": "Container", "max": {"cpu": "500m"}, "min": {"memory": "64Mi"},
                              "maxLimitRequestRatio": {"cpu": "2"}}]),
        );
        let p = pod(
            json!([{"name": "a", "resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "250m", "memory": "32Mi"}}}]),
        );
        assert_eq!(
            validate_pod(&p, &r),
            [
                "minimum memory usage per Container is 64Mi, but request is 32Mi",
                "maximum cpu usage per Container is 500m, but limit is 1",
                "cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000",
            ]
        );
        let bare = pod(json!([{"name": "a"}]));
        assert_eq!(
            validate_pod(&bare, &r),
            [
                "minimum memory usage per Container is 64Mi.  No request is specified",
                "maximum cpu usage per Container is 500m.  No limit is specified",
                "cpu max limit to request ratio per Container is 2, but no request is specified or request is 0",
            ]
        );
        let fine = pod(
            json!([{"name": "a", "resources": {"limits": {"cpu": "500m"}, "requests": {"cpu": "250m", "memory": "64Mi"}}}]),
        );
        assert!(validate_pod(&fine, &r).is_empty());
    }

    #[test]
    fn pod_items_sum_containers_and_take_the_largest_init_container() {
        let r = range(json!([{"type": "Pod", "max": {"cpu": "1"}}]));
        let mut p = pod(json!([
            {"name": "a", "resources": {"limits": {"cpu": "400m"}}},
            {"name": "b", "resources": {"limits": {"cpu": "400m"}}}]));
        assert!(validate_pod(&p, &r).is_empty());
        p["spec"]["initContainers"] =
            json!([{"name": "i", "resources": {"limits": {"cpu": "1500m"}}}]);
        assert_eq!(
            validate_pod(&p, &r),
            ["maximum cpu usage per Pod is 1, but limit is 1500m"]
        );
        p["spec"]["initContainers"] = json!([{"name": "s", "restartPolicy": "Always", "resources": {"limits": {"cpu": "300m"}}}]);
        assert_eq!(
            validate_pod(&p, &r),
            ["maximum cpu usage per Pod is 1, but limit is 1100m"]
        );
    }

    #[test]
    fn claims_are_held_to_storage_bounds() {
        let r = range(
            json!([{"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}]),
        );
        let claim = |size: &str| json!({"spec": {"resources": {"requests": {"storage": size}}}});
        assert!(validate_claim(&claim("5Gi"), &r).is_empty());
        assert_eq!(
            validate_claim(&claim("20Gi"), &r),
            ["maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"]
        );
        assert_eq!(
            validate_claim(&claim("500Mi"), &r),
            ["minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"]
        );
        assert_eq!(aggregate(&["a".into(), "b".into()]), "[a, b]");
    }
}
