//! Storage strategies: persistent volumes, claims, storage classes.

use super::pod::spec_diff;
use super::podvalidation::validate_quantity;
use super::util::{arr_of, quantity_text, set_default, set_default_str, spec_of, str_of};
use super::Strategy;
use crate::json_path::{copy_key, object_mut};
use crate::meta::{
    go_quote, invalid_str, not_supported_str, qualified_name_errors, required, too_long,
    validate_dns1123_subdomain, validate_immutable, validate_label_selector,
};
use crate::quantity::Quantity;
use crate::status::Cause;
use serde_json::{json, Value};

const ACCESS_MODES: &[&str] = &[
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];

/// The volume sources of a persistent volume, in upstream's order.
const PV_SOURCES: &[&str] = &[
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "glusterfs",
    "flocker",
    "nfs",
    "rbd",
    "quobyte",
    "cephfs",
    "iscsi",
    "cinder",
    "fc",
    "azureFile",
    "flexVolume",
    "vsphereVolume",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "local",
    "storageos",
    "csi",
];

fn validate_access_modes(spec: &Value, required_detail: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let modes = arr_of(spec, "accessModes");
    if modes.is_empty() {
        errs.push(required("spec.accessModes", required_detail));
    }
    let (mut rwop, mut other) = (false, false);
    for m in modes {
        let m = m.as_str().unwrap_or("");
        if !ACCESS_MODES.contains(&m) {
            errs.push(not_supported_str("spec.accessModes", m, ACCESS_MODES));
        } else if m == "ReadWriteOncePod" {
            rwop = true;
        } else {
            other = true;
        }
    }
    if rwop && other {
        errs.push(Cause::forbidden(
            "spec.accessModes",
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    errs
}

fn validate_volume_mode(spec: &Value) -> Vec<Cause> {
    match spec.get("volumeMode").and_then(Value::as_str) {
        Some(m) if !VOLUME_MODES.contains(&m) => {
            vec![not_supported_str("spec.volumeMode", m, VOLUME_MODES)]
        }
        _ => Vec::new(),
    }
}

fn validate_positive_quantity(v: &Value, field: &str) -> Vec<Cause> {
    let (errs, q) = validate_quantity(v, field);
    if !errs.is_empty() {
        return errs;
    }
    if q.is_some_and(|q| q.sign() <= 0) {
        return vec![invalid_str(
            field,
            &quantity_text(v),
            "must be greater than zero",
        )];
    }
    Vec::new()
}

fn go_resource_list(v: Option<&Value>) -> String {
    match v.and_then(Value::as_object) {
        None => "core.ResourceList(nil)".to_string(),
        Some(m) => format!(
            "core.ResourceList{{{}}}",
            m.iter()
                .map(|(k, q)| format!("{}:{}", go_quote(k), go_quote(&quantity_text(q))))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub struct PersistentVolumeStrategy;
impl Strategy for PersistentVolumeStrategy {
    fn default(&self, obj: &mut Value) {
        let spec = object_mut(obj, &["spec"]);
        set_default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
        set_default(spec, "volumeMode", json!("Filesystem"));
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"phase": "Pending"});
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let spec = spec_of(obj);
        let mut errs = validate_access_modes(spec, "");
        let cap = spec.get("capacity").and_then(Value::as_object);
        if cap.is_none_or(serde_json::Map::is_empty) {
            errs.push(required("spec.capacity", ""));
        }
        if cap.is_none_or(|c| !c.contains_key("storage") || c.len() > 1) {
            errs.push(Cause::not_supported(
                "spec.capacity",
                go_resource_list(spec.get("capacity")),
                &["storage"],
            ));
        }
        for (k, q) in cap.into_iter().flatten() {
            errs.extend(validate_positive_quantity(
                q,
                &format!("spec.capacity[{k}]"),
            ));
        }
        if let Some(p) = spec
            .get("persistentVolumeReclaimPolicy")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
        {
            let ok = ["Delete", "Recycle", "Retain"];
            if !ok.contains(&p) {
                errs.push(not_supported_str(
                    "spec.persistentVolumeReclaimPolicy",
                    p,
                    &ok,
                ));
            }
        }
        let mut count = 0;
        for key in PV_SOURCES {
            let Some(src) = spec.get(*key).filter(|v| !v.is_null()) else {
                continue;
            };
            if count > 0 {
                errs.push(Cause::forbidden(
                    format!("spec.{key}"),
                    "may not specify more than 1 volume type",
                ));
                continue;
            }
            count += 1;
            let need = |k: &str, errs: &mut Vec<Cause>| {
                if str_of(src, k).is_empty() {
                    errs.push(required(format!("spec.{key}.{k}"), ""));
                }
            };
            match *key {
                "hostPath" | "local" => need("path", &mut errs),
                "nfs" => {
                    need("server", &mut errs);
                    need("path", &mut errs);
                }
                "csi" => {
                    need("driver", &mut errs);
                    need("volumeHandle", &mut errs);
                }
                _ => {}
            }
            if *key == "local" && spec.get("nodeAffinity").is_none_or(Value::is_null) {
                errs.push(required(
                    "spec.nodeAffinity",
                    "Local volume requires node affinity",
                ));
            }
        }
        if count == 0 {
            errs.push(required("spec", "must specify a volume type"));
        }
        let class = str_of(spec, "storageClassName");
        if !class.is_empty() {
            errs.extend(validate_dns1123_subdomain(class, "spec.storageClassName"));
        }
        errs.extend(validate_volume_mode(spec));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let (n, o) = (spec_of(new), spec_of(old));
        let source = |s: &Value| {
            let mut m = serde_json::Map::new();
            for key in PV_SOURCES {
                if let Some(v) = s.get(*key).filter(|v| !v.is_null()) {
                    m.insert(key.to_string(), v.clone());
                }
            }
            Value::Object(m)
        };
        let mut errs = Vec::new();
        let (ns, os) = (source(n), source(o));
        if ns != os {
            errs.push(Cause::forbidden(
                "spec.persistentvolumesource",
                format!(
                    "spec.persistentvolumesource is immutable after creation\n{}",
                    spec_diff(&os, &ns, "core.PersistentVolumeSource")
                ),
            ));
        }
        errs.extend(validate_immutable(
            n.get("volumeMode"),
            o.get("volumeMode"),
            "volumeMode",
            || go_quote(str_of(n, "volumeMode")),
        ));
        errs
    }
}

pub struct PersistentVolumeClaimStrategy;
impl Strategy for PersistentVolumeClaimStrategy {
    fn default(&self, obj: &mut Value) {
        set_default(
            object_mut(obj, &["spec"]),
            "volumeMode",
            json!("Filesystem"),
        );
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"phase": "Pending"});
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let spec = spec_of(obj);
        let mut errs = validate_access_modes(spec, "at least 1 access mode is required");
        errs.extend(validate_label_selector(
            spec.get("selector"),
            "spec.selector",
        ));
        match spec.pointer("/resources/requests/storage") {
            None => errs.push(required("spec.resources[storage]", "")),
            Some(q) => errs.extend(validate_positive_quantity(q, "spec.resources[storage]")),
        }
        let class = str_of(spec, "storageClassName");
        if !class.is_empty() {
            errs.extend(validate_dns1123_subdomain(class, "spec.storageClassName"));
        }
        errs.extend(validate_volume_mode(spec));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let (n, o) = (spec_of(new), spec_of(old));
        let mut errs = Vec::new();
        let (mut new_c, mut old_c) = (n.clone(), o.clone());
        if str_of(o, "volumeName").is_empty() {
            // The volume name may be set once.
            copy_key(n, &mut old_c, "volumeName");
        }
        if o.get("storageClassName").is_none_or(Value::is_null) {
            if let Some(v) = n.get("storageClassName").filter(|v| !v.is_null()) {
                old_c["storageClassName"] = v.clone();
            }
        }
        let phase = new
            .pointer("/status/phase")
            .or_else(|| old.pointer("/status/phase"))
            .and_then(Value::as_str);
        if phase == Some("Bound") {
            if let Some(s) = o.pointer("/resources/requests/storage") {
                object_mut(&mut new_c, &["resources", "requests"])["storage"] = s.clone();
            }
            copy_key(o, &mut new_c, "volumeAttributesClassName");
        }
        if new_c != old_c {
            errs.push(Cause::forbidden(
                "spec",
                format!(
                    "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n{}",
                    spec_diff(&old_c, &new_c, "core.PersistentVolumeClaimSpec")
                ),
            ));
        }
        let size = |s: &Value| {
            s.pointer("/resources/requests/storage")
                .and_then(|q| Quantity::from_json(q).ok())
        };
        let status_size = old
            .pointer("/status/capacity/storage")
            .and_then(|q| Quantity::from_json(q).ok());
        if let (Some(ns), Some(os)) = (size(n), size(o)) {
            if ns < os && status_size.is_some_and(|s| ns <= s) {
                errs.push(Cause::forbidden(
                    "spec.resources.requests.storage",
                    "field can not be less than status.capacity",
                ));
            }
        }
        errs.extend(validate_immutable(
            n.get("volumeMode"),
            o.get("volumeMode"),
            "volumeMode",
            || go_quote(str_of(n, "volumeMode")),
        ));
        errs
    }
}

pub struct StorageClassStrategy;
impl Strategy for StorageClassStrategy {
    fn default(&self, obj: &mut Value) {
        set_default_str(obj, "reclaimPolicy", "Delete");
        set_default_str(obj, "volumeBindingMode", "Immediate");
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut errs = Vec::new();
        let prov = str_of(obj, "provisioner");
        if prov.is_empty() {
            errs.push(required("provisioner", ""));
        } else {
            for msg in qualified_name_errors(&prov.to_lowercase()) {
                errs.push(invalid_str("provisioner", prov, &msg));
            }
        }
        let params = obj.get("parameters").and_then(Value::as_object);
        if params.is_some_and(|p| p.len() > 512) {
            errs.push(too_long("parameters", 512));
        } else {
            let total: usize = params
                .into_iter()
                .flatten()
                .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
                .sum();
            if total > 256 * 1024 {
                errs.push(too_long("parameters", 256 * 1024));
            }
        }
        if let Some(p) = obj
            .get("reclaimPolicy")
            .and_then(Value::as_str)
            .filter(|p| !p.is_empty())
        {
            if !["Delete", "Retain"].contains(&p) {
                errs.push(not_supported_str("reclaimPolicy", p, &["Delete", "Retain"]));
            }
        }
        match obj.get("volumeBindingMode").and_then(Value::as_str) {
            None => errs.push(required("volumeBindingMode", "")),
            Some(m) if !["Immediate", "WaitForFirstConsumer"].contains(&m) => {
                errs.push(not_supported_str(
                    "volumeBindingMode",
                    m,
                    &["Immediate", "WaitForFirstConsumer"],
                ));
            }
            _ => {}
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let mut errs = Vec::new();
        let params = |v: &Value| {
            v.get("parameters")
                .filter(|p| p.as_object().is_some_and(|m| !m.is_empty()))
                .cloned()
        };
        if params(new) != params(old) {
            errs.push(Cause::forbidden(
                "parameters",
                "updates to parameters are forbidden.",
            ));
        }
        if str_of(new, "provisioner") != str_of(old, "provisioner") {
            errs.push(Cause::forbidden(
                "provisioner",
                "updates to provisioner are forbidden.",
            ));
        }
        if str_of(new, "reclaimPolicy") != str_of(old, "reclaimPolicy") {
            errs.push(Cause::forbidden(
                "reclaimPolicy",
                "updates to reclaimPolicy are forbidden.",
            ));
        }
        errs.extend(validate_immutable(
            new.get("volumeBindingMode"),
            old.get("volumeBindingMode"),
            "volumeBindingMode",
            || go_quote(str_of(new, "volumeBindingMode")),
        ));
        errs
    }
}

/// storage.k8s.io/v1 VolumeAttributesClass: a driver and its (immutable, non-empty) parameters.
pub struct VolumeAttributesClassStrategy;

impl Strategy for VolumeAttributesClassStrategy {
    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut errs = Vec::new();
        let driver = str_of(obj, "driverName");
        if driver.is_empty() {
            errs.push(required("driverName", ""));
        } else {
            let lower = driver.to_lowercase();
            for msg in qualified_name_errors(&lower) {
                errs.push(invalid_str("driverName", &lower, &msg));
            }
        }
        let params = obj.get("parameters").and_then(Value::as_object);
        if params.is_none_or(serde_json::Map::is_empty) {
            errs.push(required(
                "parameters",
                "must contain at least one key/value pair",
            ));
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let mut errs = validate_immutable(
            new.get("driverName"),
            old.get("driverName"),
            "driverName",
            || go_quote(str_of(new, "driverName")),
        );
        if new.get("parameters") != old.get("parameters") {
            errs.push(Cause::forbidden(
                "parameters",
                "updates to parameters are forbidden.",
            ));
        }
        errs
    }
}

/// storage.k8s.io/v1 CSIStorageCapacity: a storage class, the nodes it is reachable from and
/// non-negative capacities.
pub struct CsiStorageCapacityStrategy;

impl Strategy for CsiStorageCapacityStrategy {
    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut errs = validate_label_selector(obj.get("nodeTopology"), "nodeTopology");
        let class = str_of(obj, "storageClassName");
        errs.extend(validate_dns1123_subdomain(class, "storageClassName"));
        for field in ["capacity", "maximumVolumeSize"] {
            if let Some(q) = obj.get(field).filter(|q| !q.is_null()) {
                errs.extend(validate_quantity(q, field).0);
            }
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let mut errs = validate_immutable(
            new.get("nodeTopology"),
            old.get("nodeTopology"),
            "nodeTopology",
            || new["nodeTopology"].to_string(),
        );
        errs.extend(validate_immutable(
            new.get("storageClassName"),
            old.get("storageClassName"),
            "storageClassName",
            || go_quote(str_of(new, "storageClassName")),
        ));
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pv_defaults_and_rules() {
        let mut pv = json!({"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}}});
        PersistentVolumeStrategy.default(&mut pv);
        PersistentVolumeStrategy.prepare_for_create(&mut pv);
        assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(pv["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pv["status"], json!({"phase": "Pending"}));
        assert!(PersistentVolumeStrategy.validate(&pv).is_empty());
        let bad =
            json!({"spec": {"nfs": {"server": "s", "path": "/x"}, "hostPath": {"path": "/y"}}});
        let errs: Vec<String> = PersistentVolumeStrategy
            .validate(&bad)
            .iter()
            .map(Cause::summary)
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.accessModes: Required value",
                "spec.capacity: Required value",
                "spec.capacity: Unsupported value: core.ResourceList(nil): supported values: \"storage\"",
                "spec.nfs: Forbidden: may not specify more than 1 volume type",
            ]
        );
        let mut changed = pv.clone();
        changed["spec"]["hostPath"]["path"] = json!("/other");
        assert_eq!(
            PersistentVolumeStrategy.validate_update(&changed, &pv)[0].field,
            "spec.persistentvolumesource"
        );
    }

    #[test]
    fn pvc_rules() {
        let mut pvc = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
        PersistentVolumeClaimStrategy.default(&mut pvc);
        assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
        assert!(PersistentVolumeClaimStrategy.validate(&pvc).is_empty());
        let bad = json!({"spec": {}});
        let errs: Vec<String> = PersistentVolumeClaimStrategy
            .validate(&bad)
            .iter()
            .map(Cause::summary)
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.accessModes: Required value: at least 1 access mode is required",
                "spec.resources[storage]: Required value"
            ]
        );
        // Unbound: the size may not change; bound: it may grow.
        let mut bigger = pvc.clone();
        bigger["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
        assert!(PersistentVolumeClaimStrategy.validate_update(&bigger, &pvc)[0]
            .message
            .starts_with("Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"));
        let mut bound = pvc.clone();
        bound["status"] = json!({"phase": "Bound", "capacity": {"storage": "1Gi"}});
        bigger["status"] = bound["status"].clone();
        assert!(PersistentVolumeClaimStrategy
            .validate_update(&bigger, &bound)
            .is_empty());
        let mut named = pvc.clone();
        named["spec"]["volumeName"] = json!("pv-1");
        assert!(PersistentVolumeClaimStrategy
            .validate_update(&named, &pvc)
            .is_empty());
    }

    #[test]
    fn storage_class_rules() {
        let mut sc = json!({"provisioner": "rancher.io/local-path"});
        StorageClassStrategy.default(&mut sc);
        assert_eq!(sc["reclaimPolicy"], "Delete");
        assert_eq!(sc["volumeBindingMode"], "Immediate");
        assert!(StorageClassStrategy.validate(&sc).is_empty());
        assert_eq!(
            StorageClassStrategy.validate(&json!({"volumeBindingMode": "Immediate"}))[0].summary(),
            "provisioner: Required value"
        );
        let mut changed = sc.clone();
        changed["parameters"] = json!({"a": "b"});
        changed["provisioner"] = json!("other");
        let errs: Vec<String> = StorageClassStrategy
            .validate_update(&changed, &sc)
            .iter()
            .map(Cause::summary)
            .collect();
        assert_eq!(
            errs,
            vec![
                "parameters: Forbidden: updates to parameters are forbidden.",
                "provisioner: Forbidden: updates to provisioner are forbidden."
            ]
        );
    }
}
