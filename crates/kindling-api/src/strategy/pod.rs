//! Pods: defaults, the initial status with its QoS class, spec validation, and upstream's rule
//! of which fields a pod update may change. (What admission plugins add — tolerations,
//! priority — is the API server's admission chain's, with `crate::admission`'s rules.)

use super::podspec::{default_pod_only, default_pod_spec};
use super::podvalidation::validate_pod_spec;
use super::util::{arr_of, spec_of, str_of};
use super::Strategy;
use crate::catalog::Subresource;
use crate::json_path::{copy_key, object_mut};
use crate::meta::{go_quote, inclusive_range_error, invalid_raw, required};
use crate::quantity::Quantity;
use crate::status::Cause;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub struct PodStrategy;

impl Strategy for PodStrategy {
    /// Only pods bound to a node and not yet finished wait: their node agent stops the
    /// containers and then deletes them for good.
    fn grace_period(&self, obj: &Value, requested: Option<i64>) -> i64 {
        let on_node = obj["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        let finished = matches!(
            obj["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        );
        if !on_node || finished {
            return 0;
        }
        let default = obj["spec"]["terminationGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(30);
        requested.unwrap_or(default).max(0)
    }

    fn default(&self, obj: &mut Value) {
        let spec = object_mut(obj, &["spec"]);
        default_pod_spec(spec);
        default_pod_only(spec);
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let spec = object_mut(obj, &["spec"]);
        mirror_service_account_alias(spec);
        let qos = qos_class(spec);
        obj["status"] = json!({"phase": "Pending", "qosClass": qos});
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let spec = spec_of(obj);
        let mut errs = validate_pod_spec(spec, "spec", true);
        if !str_of(spec, "nodeName").is_empty() && !arr_of(spec, "schedulingGates").is_empty() {
            errs.push(Cause::forbidden(
                "spec.nodeName",
                "cannot be set until all schedulingGates have been cleared",
            ));
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        validate_pod_spec_update(spec_of(new), spec_of(old))
    }

    /// `pods/resize` (upstream's podResizeStrategy): the stored pod with only its containers'
    /// (and sidecars') `resources` and `resizePolicy` taken from the request.
    /// `pods/ephemeralcontainers` (upstream's ephemeralContainersStrategy): the stored pod with
    /// only `spec.ephemeralContainers` taken from the request.
    fn prepare_for_subresource_update(&self, sub: Subresource, new: &mut Value, old: &Value) {
        let mut pod = old.clone();
        for field in ["resourceVersion", "managedFields"] {
            match new["metadata"].get(field) {
                Some(v) => pod["metadata"][field] = v.clone(),
                None => {
                    if let Some(m) = pod["metadata"].as_object_mut() {
                        m.remove(field);
                    }
                }
            }
        }
        match sub {
            Subresource::Resize => take_resources(&mut pod, new),
            Subresource::EphemeralContainers => {
                let spec = object_mut(&mut pod, &["spec"]);
                match spec_of(new).get("ephemeralContainers") {
                    Some(list) if !list.is_null() => spec["ephemeralContainers"] = list.clone(),
                    _ => {
                        if let Some(m) = spec.as_object_mut() {
                            m.remove("ephemeralContainers");
                        }
                    }
                }
            }
            _ => return,
        }
        *new = pod;
    }

    fn validate_subresource_update(
        &self,
        sub: Subresource,
        new: &Value,
        old: &Value,
    ) -> Vec<Cause> {
        match sub {
            Subresource::Resize => {
                let mut errs = self.validate(new);
                errs.extend(validate_pod_resize(new, old));
                errs
            }
            Subresource::EphemeralContainers => {
                // A static pod's answer is that alone, as upstream's.
                if is_mirror(old) {
                    return vec![Cause::forbidden(
                        "",
                        "static pods do not support ephemeral containers",
                    )];
                }
                let mut errs = self.validate(new);
                errs.extend(validate_ephemeral_containers_update(new, old));
                errs
            }
            _ => Vec::new(),
        }
    }
}

/// The request's containers' (and sidecars') `resources` and `resizePolicy` into `pod`.
fn take_resources(pod: &mut Value, new: &Value) {
    for key in ["containers", "initContainers"] {
        let wanted = arr_of(spec_of(new), key).to_vec();
        let Some(list) = pod["spec"].get_mut(key).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in list.iter_mut() {
            if key == "initContainers" && str_of(c, "restartPolicy") != "Always" {
                continue;
            }
            let Some(w) = wanted.iter().find(|w| w["name"] == c["name"]) else {
                continue;
            };
            for field in ["resources", "resizePolicy"] {
                match w.get(field) {
                    Some(v) => c[field] = v.clone(),
                    None => {
                        if let Some(m) = c.as_object_mut() {
                            m.remove(field);
                        }
                    }
                }
            }
        }
    }
}

fn is_mirror(pod: &Value) -> bool {
    pod["metadata"]["annotations"]
        .get(MIRROR_POD_ANNOTATION)
        .is_some()
}

/// `ValidatePodEphemeralContainersUpdate`'s own part: an ephemeral container, once added, may
/// be neither removed nor changed (matched by name: a patch need not keep the order).
pub fn validate_ephemeral_containers_update(new: &Value, old: &Value) -> Vec<Cause> {
    let path = "spec.ephemeralContainers";
    let new_list = arr_of(spec_of(new), "ephemeralContainers");
    let mut errs = Vec::new();
    for o in arr_of(spec_of(old), "ephemeralContainers") {
        let name = str_of(o, "name");
        match new_list.iter().find(|n| str_of(n, "name") == name) {
            None => errs.push(Cause::forbidden(
                path,
                format!(
                    "existing ephemeral containers {} may not be removed\n",
                    go_quote(name)
                ),
            )),
            Some(n) if normalize(n) != normalize(o) => errs.push(Cause::forbidden(
                path,
                format!(
                    "existing ephemeral containers {} may not be changed\n{}",
                    go_quote(name),
                    spec_diff(&normalize(o), &normalize(n), "core.EphemeralContainer")
                ),
            )),
            Some(_) => {}
        }
    }
    errs
}

const MIRROR_POD_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// `ValidatePodResize`: which resource changes a resize may make.
pub fn validate_pod_resize(new: &Value, old: &Value) -> Vec<Cause> {
    if old["metadata"]["annotations"]
        .get(MIRROR_POD_ANNOTATION)
        .is_some()
    {
        return vec![Cause::forbidden("", "static pods cannot be resized")];
    }
    if str_of(&spec_of(old)["os"], "name") == "windows" {
        return vec![Cause::forbidden("", "windows pods cannot be resized")];
    }
    let mut errs = Vec::new();
    let (new_spec, old_spec) = (spec_of(new), spec_of(old));
    let old_qos = match str_of(&old["status"], "qosClass") {
        "" => qos_class(old_spec),
        q => match q {
            "Guaranteed" => "Guaranteed",
            "Burstable" => "Burstable",
            _ => "BestEffort",
        },
    };
    if qos_class(new_spec) != old_qos {
        errs.push(crate::meta::invalid_str(
            "spec",
            old_qos,
            "Pod QOS Class may not change as a result of resizing",
        ));
    }
    for key in ["initContainers", "containers"] {
        for (i, c) in arr_of(old_spec, key).iter().enumerate() {
            if key == "initContainers" && str_of(c, "restartPolicy") != "Always" {
                continue;
            }
            let n = arr_of(new_spec, key).get(i).unwrap_or(&Value::Null);
            for (field, what) in [
                ("requests", "resource requests"),
                ("limits", "resource limits"),
            ] {
                let len = |v: &Value| {
                    v["resources"][field]
                        .as_object()
                        .map_or(0, serde_json::Map::len)
                };
                if len(c) > len(n) {
                    errs.push(Cause::forbidden(
                        format!("spec.{key}[{i}].resources.{field}"),
                        format!("{what} cannot be removed"),
                    ));
                }
            }
        }
    }
    // Everything but cpu and memory must be as it was.
    let mut munged = new_spec.clone();
    for key in ["containers", "initContainers"] {
        let old_list = arr_of(old_spec, key);
        let Some(list) = munged.get_mut(key).and_then(Value::as_array_mut) else {
            continue;
        };
        for (i, c) in list.iter_mut().enumerate() {
            let Some(o) = old_list.get(i) else { continue };
            // The request's resources with cpu and memory as they were (`dropCPUMemoryUpdates`).
            let mut resources = c.get("resources").cloned().unwrap_or_else(|| json!({}));
            for field in ["requests", "limits"] {
                for res in ["cpu", "memory"] {
                    match o["resources"][field].get(res) {
                        Some(v) => resources[field][res] = v.clone(),
                        None => {
                            if let Some(m) = resources.get_mut(field).and_then(Value::as_object_mut)
                            {
                                m.remove(res);
                            }
                        }
                    }
                }
            }
            c["resources"] = resources;
            match o.get("resizePolicy") {
                Some(p) => c["resizePolicy"] = p.clone(),
                None => {
                    if let Some(m) = c.as_object_mut() {
                        m.remove("resizePolicy");
                    }
                }
            }
        }
    }
    if normalize(&munged) != normalize(old_spec) {
        errs.push(Cause::forbidden(
            "spec",
            "only cpu and memory resources are mutable",
        ));
    }
    errs
}

/// The deprecated `serviceAccount` field repeats `serviceAccountName`, as upstream's v1
/// conversion writes it. (Defaulting the name to `default` is the ServiceAccount admission
/// plugin's job, in the API server: it needs to look the account up.)
fn mirror_service_account_alias(spec: &mut Value) {
    let name = str_of(spec, "serviceAccountName").to_string();
    if !name.is_empty() {
        spec["serviceAccount"] = json!(name);
    }
}

/// The QoS class of a pod spec (`Guaranteed`, `Burstable` or `BestEffort`), from the cpu and
/// memory requests and limits of all its containers, requests defaulting to limits.
pub fn qos_class(spec: &Value) -> &'static str {
    let mut requests: BTreeMap<String, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<String, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let positive = |v: &Value| Quantity::from_json(v).ok().filter(|q| q.sign() > 0);
    for c in arr_of(spec, "containers")
        .iter()
        .chain(arr_of(spec, "initContainers"))
    {
        let res = c.get("resources");
        let lim = res.and_then(|r| r.get("limits")).and_then(Value::as_object);
        let mut req = res
            .and_then(|r| r.get("requests"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (k, v) in lim.into_iter().flatten() {
            req.entry(k.clone()).or_insert_with(|| v.clone());
        }
        for (k, v) in &req {
            if let Some(q) = positive(v).filter(|_| k == "cpu" || k == "memory") {
                *requests.entry(k.clone()).or_default() += q;
            }
        }
        let mut found = Vec::new();
        for (k, v) in lim.into_iter().flatten() {
            if let Some(q) = positive(v).filter(|_| k == "cpu" || k == "memory") {
                found.push(k.as_str());
                *limits.entry(k.clone()).or_default() += q;
            }
        }
        if !(found.contains(&"cpu") && found.contains(&"memory")) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.iter().all(|(k, r)| limits.get(k) == Some(r))
        && requests.len() == limits.len()
    {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

const UPDATABLE_POD_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Removes what Go's semantic equality does not see: nulls, empty strings, lists and maps.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !crate::strategy::util::is_empty(Some(v)))
                .map(|(k, v)| (k.clone(), normalize(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        other => other.clone(),
    }
}

/// A short account of how two values differ, one `-`/`+` pair per changed leaf, in the spirit
/// of the go-cmp diff upstream appends.
pub fn spec_diff(old: &Value, new: &Value, type_name: &str) -> String {
    fn walk(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<String>) {
        match (old, new) {
            (Some(Value::Object(a)), Some(Value::Object(b))) => {
                let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(&p, a.get(k), b.get(k), out);
                }
            }
            (Some(Value::Array(a)), Some(Value::Array(b))) if a.len() == b.len() => {
                for (i, (x, y)) in a.iter().zip(b).enumerate() {
                    walk(&format!("{path}[{i}]"), Some(x), Some(y), out);
                }
            }
            (a, b) if a != b => {
                if let Some(a) = a {
                    out.push(format!("- \t{path}: {a},"));
                }
                if let Some(b) = b {
                    out.push(format!("+ \t{path}: {b},"));
                }
            }
            _ => {}
        }
    }
    let mut lines = Vec::new();
    walk("", Some(old), Some(new), &mut lines);
    format!("  {type_name}{{\n{}\n  }}\n", lines.join("\n"))
}

/// `ValidatePodUpdate`'s spec rules.
pub fn validate_pod_spec_update(new: &Value, old: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    for key in ["containers", "initContainers"] {
        let (n, o) = (arr_of(new, key), arr_of(old, key));
        if n.len() != o.len() {
            errs.push(Cause::forbidden(
                format!("spec.{key}"),
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in n.iter().enumerate() {
            let image = str_of(c, "image");
            if image.is_empty() {
                errs.push(required(format!("spec.{key}[{i}].image"), ""));
            }
        }
    }
    let new_ads = new.get("activeDeadlineSeconds").and_then(Value::as_i64);
    let old_ads = old.get("activeDeadlineSeconds").and_then(Value::as_i64);
    match (new_ads, old_ads) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            errs.push(Cause::invalid(
                "spec.activeDeadlineSeconds",
                n,
                &inclusive_range_error(0, i64::from(i32::MAX)),
            ));
            return errs;
        }
        (Some(n), Some(o)) if o < n => {
            errs.push(Cause::invalid(
                "spec.activeDeadlineSeconds",
                n,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
        (None, Some(_)) => errs.push(invalid_raw(
            "spec.activeDeadlineSeconds",
            "null",
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    // Tolerations: existing ones stay (their tolerationSeconds may change), new ones may be added.
    let new_tols = arr_of(new, "tolerations");
    for old_tol in arr_of(old, "tolerations") {
        let strip = |t: &Value| {
            let mut t = normalize(t);
            if let Some(m) = t.as_object_mut() {
                m.remove("tolerationSeconds");
            }
            t
        };
        if !new_tols.iter().any(|n| strip(n) == strip(old_tol)) {
            errs.push(Cause::forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }
    // Everything else must be as it was.
    let mut munged = new.clone();
    for key in ["containers", "initContainers"] {
        if let Some(list) = munged.get_mut(key).and_then(Value::as_array_mut) {
            for (i, c) in list.iter_mut().enumerate() {
                if let Some(img) = arr_of(old, key).get(i).and_then(|o| o.get("image")) {
                    c["image"] = img.clone();
                }
            }
        }
    }
    for key in ["activeDeadlineSeconds", "tolerations", "schedulingGates"] {
        copy_key(old, &mut munged, key);
    }
    // The binding subresource reaches this check too (it writes the whole pod): a first
    // `nodeName` is its. Ephemeral containers change only through their subresource.
    if str_of(old, "nodeName").is_empty() {
        copy_key(old, &mut munged, "nodeName");
    }
    let old_grace = old
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64);
    let new_grace = munged
        .get("terminationGracePeriodSeconds")
        .and_then(Value::as_i64);
    if old_grace.is_some_and(|g| g < 0) && new_grace == Some(1) {
        munged["terminationGracePeriodSeconds"] = json!(old_grace);
    }
    let (a, b) = (normalize(old), normalize(&munged));
    if a != b {
        errs.push(Cause::forbidden(
            "spec",
            format!(
                "pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n{}",
                spec_diff(&a, &b, "core.PodSpec")
            ),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(pod: Value) -> Value {
        let mut pod = pod;
        PodStrategy.default(&mut pod);
        PodStrategy.prepare_for_create(&mut pod);
        pod
    }

    #[test]
    fn minimal_pod_looks_like_a_real_cluster() {
        let pod = created(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nginx", "namespace": "default"},
            "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}),
        );
        assert_eq!(
            pod["spec"],
            json!({
                "containers": [{"name": "nginx", "image": "nginx", "imagePullPolicy": "Always", "resources": {},
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                "dnsPolicy": "ClusterFirst",
                "enableServiceLinks": true,
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "terminationGracePeriodSeconds": 30
            })
        );
        assert_eq!(
            pod["status"],
            json!({"phase": "Pending", "qosClass": "BestEffort"})
        );
        assert!(PodStrategy.validate(&pod).is_empty());
    }

    #[test]
    fn qos_classes() {
        let spec =
            |res: Value| json!({"containers": [{"name": "a", "image": "x", "resources": res}]});
        assert_eq!(qos_class(&spec(json!({}))), "BestEffort");
        assert_eq!(
            qos_class(&spec(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&spec(json!({"requests": {"cpu": "100m"}}))),
            "Burstable"
        );
        assert_eq!(
            qos_class(&spec(
                json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
            )),
            "Burstable"
        );
    }

    #[test]
    fn existing_tolerations_are_kept() {
        let pod = created(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x"}],
            "tolerations": [{"operator": "Exists"}]}}),
        );
        assert_eq!(pod["spec"]["tolerations"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn update_may_change_only_images() {
        let old = created(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "nginx:1", "ports": [{"containerPort": 80}]}]}}),
        );
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("nginx:2");
        assert!(PodStrategy.validate_update(&new, &old).is_empty());
        new["spec"]["containers"][0]["ports"][0]["containerPort"] = json!(8080);
        let errs = PodStrategy.validate_update(&new, &old);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec");
        assert!(errs[0].message.starts_with("Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"));
        assert!(errs[0]
            .message
            .contains("- \tcontainers[0].ports[0].containerPort: 80,"));
        let mut fewer = old.clone();
        fewer["spec"]["containers"] = json!([]);
        assert_eq!(
            PodStrategy.validate_update(&fewer, &old)[0].summary(),
            "spec.containers: Forbidden: pod updates may not add or remove containers"
        );
    }

    #[test]
    fn binding_passes_ephemeral_containers_do_not() {
        let old = created(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x"}]}}),
        );
        let mut new = old.clone();
        new["spec"]["nodeName"] = json!("node-1");
        assert!(PodStrategy.validate_update(&new, &old).is_empty());
        let mut moved = new.clone();
        moved["spec"]["nodeName"] = json!("node-2");
        assert_eq!(PodStrategy.validate_update(&moved, &new)[0].field, "spec");
        // Through the pod itself, not its ephemeralcontainers subresource: forbidden.
        let mut debugged = new.clone();
        debugged["spec"]["ephemeralContainers"] = json!([{"name": "debug", "image": "busybox"}]);
        assert_eq!(
            PodStrategy.validate_update(&debugged, &new)[0].field,
            "spec"
        );
    }

    /// What `pods/<name>/ephemeralcontainers` makes of a write: the stored pod with the
    /// request's ephemeral containers, defaulted as the registry does, then validated.
    fn ephemeral_write(old: &Value, mut new: Value) -> (Value, Vec<String>) {
        PodStrategy.default(&mut new);
        PodStrategy.prepare_for_subresource_update(Subresource::EphemeralContainers, &mut new, old);
        let errs = PodStrategy
            .validate_subresource_update(Subresource::EphemeralContainers, &new, old)
            .iter()
            .map(Cause::summary)
            .collect();
        (new, errs)
    }

    #[test]
    fn ephemeral_containers_are_added_and_nothing_else() {
        let old = created(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "x"}]}}),
        );
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("changed");
        new["metadata"]["labels"] = json!({"sneaky": "yes"});
        new["spec"]["ephemeralContainers"] = json!([{"name": "debugger-abcde", "image": "busybox",
            "targetContainerName": "app", "stdin": true, "tty": true}]);
        let (written, errs) = ephemeral_write(&old, new);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(written["spec"]["containers"], old["spec"]["containers"]);
        assert!(written["metadata"].get("labels").is_none());
        assert_eq!(
            written["spec"]["ephemeralContainers"][0],
            json!({"name": "debugger-abcde", "image": "busybox", "targetContainerName": "app",
                "stdin": true, "tty": true, "imagePullPolicy": "Always", "resources": {},
                "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"})
        );
    }

    #[test]
    fn ephemeral_container_rules_are_upstreams() {
        let old = created(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app", "image": "x"}],
                "ephemeralContainers": [{"name": "one", "image": "busybox"}]}}),
        );
        let with = |list: Value| {
            let mut new = old.clone();
            new["spec"]["ephemeralContainers"] = list;
            ephemeral_write(&old, new).1
        };
        let kept = json!({"name": "one", "image": "busybox"});
        assert!(with(json!([kept.clone(), {"name": "two", "image": "busybox"}])).is_empty());
        assert_eq!(
            with(json!([{"name": "two", "image": "busybox"}])),
            vec!["spec.ephemeralContainers: Forbidden: existing ephemeral containers \"one\" may not be removed\n"]
        );
        let changed = with(json!([{"name": "one", "image": "other"}]));
        assert_eq!(changed.len(), 1);
        assert!(changed[0].starts_with(
            "spec.ephemeralContainers: Forbidden: existing ephemeral containers \"one\" may not be changed\n  core.EphemeralContainer{\n"
        ), "{changed:?}");
        assert!(
            changed[0].contains("- \timage: \"busybox\","),
            "{changed:?}"
        );
        assert_eq!(
            with(json!([kept.clone(), {"name": "app", "image": "busybox"}])),
            vec!["spec.ephemeralContainers[1].name: Duplicate value: \"app\""]
        );
        assert_eq!(
            with(
                json!([kept.clone(), {"name": "two", "image": "busybox", "targetContainerName": "nope"}])
            ),
            vec!["spec.ephemeralContainers[1].targetContainerName: Not found: \"nope\""]
        );
        assert_eq!(
            with(json!([kept, {"name": "two", "image": "busybox",
                "ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": "1"}},
                "restartPolicy": "Always", "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
                "readinessProbe": {"exec": {"command": ["true"]}}, "lifecycle": {"preStop": {"exec": {"command": ["true"]}}},
                "volumeMounts": [{"name": "v", "mountPath": "/v", "subPath": "x"}]}])),
            vec![
                "spec.ephemeralContainers[1].volumeMounts[0].name: Not found: \"v\"",
                "spec.ephemeralContainers[1].ports: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[1].resources: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[1].resizePolicy: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[1].restartPolicy: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[1].readinessProbe: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[1].lifecycle: Forbidden: cannot be set for an Ephemeral Container",
                "spec.ephemeralContainers[1].volumeMounts[0].subPath: Forbidden: cannot be set for an Ephemeral Container",
            ]
        );
        let mut mirror = old.clone();
        mirror["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "x"});
        let mut new = mirror.clone();
        new["spec"]["ephemeralContainers"] =
            json!([{"name": "one", "image": "busybox"}, {"name": "two", "image": "busybox"}]);
        assert_eq!(
            ephemeral_write(&mirror, new).1,
            vec!["Forbidden: static pods do not support ephemeral containers"]
        );
    }

    #[test]
    fn tolerations_may_only_be_added() {
        let old = created(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x"}],
                "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]}}),
        );
        let mut new = old.clone();
        new["spec"]["tolerations"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "k", "operator": "Exists"}));
        assert!(PodStrategy.validate_update(&new, &old).is_empty());
        new["spec"]["tolerations"].as_array_mut().unwrap().remove(0);
        assert_eq!(
            PodStrategy.validate_update(&new, &old)[0].summary(),
            "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
        );
    }
}
