//! core/v1 strategies other than pods and services: namespaces, config maps, secrets, nodes.

use super::podvalidation::validate_taint_effect;
use super::util::{base64_decode, base64_encode, set_default, set_default_str, str_of};
use super::{NameRule, Strategy};
use crate::json_path::object_mut;
use crate::meta::{
    config_map_key_errors, duplicate_str, go_quote, invalid_str, label_value_errors, required,
    too_long, validate_finalizer_name, validate_immutable, validate_qualified_name,
};
use crate::status::Cause;
use serde_json::{json, Value};

/// The most a config map or secret may hold, 1 MiB.
pub const MAX_DATA_SIZE: usize = 1024 * 1024;

const IMMUTABLE_WHEN_SET: &str = "field is immutable when `immutable` is set";

pub struct NamespaceStrategy;
/// The namespaces upstream's NamespaceLifecycle admission keeps forever.
const IMMORTAL_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

impl Strategy for NamespaceStrategy {
    /// A deleted namespace turns Terminating and stays until the namespace controller has
    /// emptied it and removed its `spec.finalizers`.
    fn prepare_for_delete(&self, obj: &mut Value) -> bool {
        obj["status"]["phase"] = Value::from("Terminating");
        self.deletion_pending(obj)
    }

    fn deletion_pending(&self, obj: &Value) -> bool {
        obj["spec"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
    }

    fn name_rule(&self) -> NameRule {
        NameRule::Label
    }

    fn refuse_delete(&self, name: &str) -> Option<&'static str> {
        IMMORTAL_NAMESPACES
            .contains(&name)
            .then_some("this namespace may not be deleted")
    }

    /// The `kubernetes.io/metadata.name` label always names the namespace.
    fn default(&self, obj: &mut Value) {
        let name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !name.is_empty() {
            object_mut(obj, &["metadata", "labels"])["kubernetes.io/metadata.name"] = json!(name);
        }
    }

    /// Status `Active`, and the `kubernetes` finalizer in `spec.finalizers`.
    fn prepare_for_create(&self, obj: &mut Value) {
        obj["status"] = json!({"phase": "Active"});
        let spec = object_mut(obj, &["spec"]);
        let fins = spec
            .as_object_mut()
            .expect("object")
            .entry("finalizers")
            .or_insert_with(|| json!([]));
        if !fins.is_array() {
            *fins = json!([]);
        }
        let list = fins.as_array_mut().expect("array");
        if !list.iter().any(|f| f.as_str() == Some("kubernetes")) {
            list.push(json!("kubernetes"));
        }
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut errs = Vec::new();
        let fins = obj.pointer("/spec/finalizers").and_then(Value::as_array);
        for f in fins.into_iter().flatten() {
            let f = f.as_str().unwrap_or("");
            errs.extend(validate_finalizer_name(
                f,
                "spec.finalizers",
                "spec.finalizers",
            ));
        }
        errs
    }
}

fn validate_data_keys(obj: &Value, key: &str, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    for k in obj
        .get(key)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        for msg in config_map_key_errors(k) {
            errs.push(invalid_str(format!("{field}[{k}]"), k, &msg));
        }
    }
    errs
}

/// Bytes a base64 value decodes to.
fn decoded_len(b64: &str) -> usize {
    let trimmed = b64.trim_end_matches('=');
    trimmed.len() * 3 / 4
}

fn validate_immutable_flag(new: &Value, old: &Value, keys: &[&str]) -> Vec<Cause> {
    let mut errs = Vec::new();
    if old.get("immutable").and_then(Value::as_bool) == Some(true) {
        if new.get("immutable").and_then(Value::as_bool) != Some(true) {
            errs.push(Cause::forbidden("immutable", IMMUTABLE_WHEN_SET));
        }
        for key in keys {
            let norm = |v: Option<&Value>| {
                v.filter(|v| !v.is_null() && v.as_object().is_none_or(|m| !m.is_empty()))
                    .cloned()
            };
            if norm(new.get(*key)) != norm(old.get(*key)) {
                errs.push(Cause::forbidden(*key, IMMUTABLE_WHEN_SET));
            }
        }
    }
    errs
}

/// ConfigMaps.
pub struct ConfigData;
impl Strategy for ConfigData {
    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut errs = validate_data_keys(obj, "data", "data");
        let binary = obj.get("binaryData").and_then(Value::as_object);
        let mut total = 0;
        for (k, v) in obj
            .get("data")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if binary.is_some_and(|b| b.contains_key(k)) {
                errs.push(invalid_str(
                    format!("data[{k}]"),
                    k,
                    "duplicate of key present in binaryData",
                ));
            }
            total += v.as_str().map_or(0, str::len);
        }
        errs.extend(validate_data_keys(obj, "binaryData", "binaryData"));
        total += binary
            .into_iter()
            .flatten()
            .map(|(_, v)| decoded_len(v.as_str().unwrap_or("")))
            .sum::<usize>();
        if total > MAX_DATA_SIZE {
            errs.push(too_long("", MAX_DATA_SIZE));
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        validate_immutable_flag(new, old, &["data", "binaryData"])
    }
}

pub struct SecretStrategy;
impl Strategy for SecretStrategy {
    /// Type `Opaque`, and `stringData` folded into `data` (as v1 conversion does).
    fn default(&self, obj: &mut Value) {
        set_default_str(obj, "type", "Opaque");
        if let Some(string_data) = obj.as_object_mut().and_then(|m| m.remove("stringData")) {
            if let Some(sd) = string_data.as_object() {
                let data = object_mut(obj, &["data"]);
                for (k, v) in sd {
                    data[k.as_str()] = json!(base64_encode(v.as_str().unwrap_or("").as_bytes()));
                }
            }
        }
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut errs = validate_data_keys(obj, "data", "data");
        let data = obj.get("data").and_then(Value::as_object);
        let total: usize = data
            .into_iter()
            .flatten()
            .map(|(_, v)| decoded_len(v.as_str().unwrap_or("")))
            .sum();
        if total > MAX_DATA_SIZE {
            errs.push(too_long("data", MAX_DATA_SIZE));
        }
        let has = |k: &str| data.is_some_and(|d| d.contains_key(k));
        let decoded = |k: &str| {
            data.and_then(|d| d.get(k))
                .and_then(Value::as_str)
                .and_then(base64_decode)
        };
        match str_of(obj, "type") {
            "kubernetes.io/service-account-token" => {
                let sa = obj
                    .pointer("/metadata/annotations/kubernetes.io~1service-account.name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if sa.is_empty() {
                    errs.push(required(
                        "metadata.annotations[kubernetes.io/service-account.name]",
                        "",
                    ));
                }
            }
            "kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson" => {
                let key = if str_of(obj, "type") == "kubernetes.io/dockercfg" {
                    ".dockercfg"
                } else {
                    ".dockerconfigjson"
                };
                if !has(key) {
                    errs.push(required(format!("data[{key}]"), ""));
                } else if let Err(e) = serde_json::from_slice::<serde_json::Map<String, Value>>(
                    &decoded(key).unwrap_or_default(),
                ) {
                    errs.push(invalid_str(
                        format!("data[{key}]"),
                        "<secret contents redacted>",
                        &e.to_string(),
                    ));
                }
            }
            "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
                errs.push(required("data[username]", ""));
                errs.push(required("data[password]", ""));
            }
            "kubernetes.io/ssh-auth" if decoded("ssh-privatekey").is_none_or(|d| d.is_empty()) => {
                errs.push(required("data[ssh-privatekey]", ""));
            }
            "kubernetes.io/tls" => {
                for key in ["tls.crt", "tls.key"] {
                    if !has(key) {
                        errs.push(required(format!("data[{key}]"), ""));
                    }
                }
            }
            _ => {}
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let mut errs = validate_immutable(new.get("type"), old.get("type"), "type", || {
            go_quote(str_of(new, "type"))
        });
        errs.extend(validate_immutable_flag(new, old, &["data"]));
        errs
    }
}

pub struct NodeStrategy;
impl Strategy for NodeStrategy {
    fn keeps_status_on_create(&self) -> bool {
        true
    }

    /// `status.allocatable` defaults to `status.capacity`.
    fn default(&self, obj: &mut Value) {
        if let Some(cap) = obj
            .pointer("/status/capacity")
            .filter(|c| c.is_object())
            .cloned()
        {
            set_default(object_mut(obj, &["status"]), "allocatable", cap);
        }
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        validate_node_taints(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let mut errs = Vec::new();
        let cidrs = |v: &Value| {
            v.pointer("/spec/podCIDRs")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let old_cidrs = cidrs(old);
        if !old_cidrs.is_empty() && old_cidrs != cidrs(new) {
            errs.push(Cause::forbidden(
                "spec.podCIDRs",
                "node updates may not change podCIDR except from \"\" to valid",
            ));
        }
        let pid = |v: &Value| {
            v.pointer("/spec/providerID")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        if !pid(old).is_empty() && pid(old) != pid(new) {
            errs.push(Cause::forbidden(
                "spec.providerID",
                "node updates may not change providerID except from \"\" to valid",
            ));
        }
        errs
    }
}

/// Taints: key, value, effect, unique by key and effect. Upstream reports them under
/// `metadata.taints`, and so does this.
fn validate_node_taints(obj: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    let mut seen: Vec<(String, String)> = Vec::new();
    for (i, t) in obj
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let idx = format!("metadata.taints[{i}]");
        let (key, value, effect) = (str_of(t, "key"), str_of(t, "value"), str_of(t, "effect"));
        errs.extend(validate_qualified_name(key, &format!("{idx}.key")));
        let msgs = label_value_errors(value);
        if !msgs.is_empty() {
            errs.push(invalid_str(format!("{idx}.value"), value, &msgs.join(";")));
        }
        errs.extend(validate_taint_effect(
            effect,
            false,
            &format!("{idx}.effect"),
        ));
        let pair = (key.to_string(), effect.to_string());
        if seen.contains(&pair) {
            let mut c = duplicate_str(idx, key);
            c.message = format!(
                "Duplicate value: core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:<nil>}}: taints must be unique by key and effect pair",
                go_quote(key),
                go_quote(value),
                go_quote(effect)
            );
            errs.push(c);
            continue;
        }
        seen.push(pair);
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_defaults() {
        let mut ns = json!({"metadata": {"name": "dev"}});
        NamespaceStrategy.default(&mut ns);
        NamespaceStrategy.prepare_for_create(&mut ns);
        assert_eq!(
            ns["metadata"]["labels"],
            json!({"kubernetes.io/metadata.name": "dev"})
        );
        assert_eq!(ns["spec"], json!({"finalizers": ["kubernetes"]}));
        assert_eq!(ns["status"], json!({"phase": "Active"}));
        assert!(NamespaceStrategy.validate(&ns).is_empty());
        let bad = json!({"spec": {"finalizers": ["bogus"]}});
        assert_eq!(
            NamespaceStrategy.validate(&bad)[0].summary(),
            "spec.finalizers: Invalid value: \"bogus\": name is neither a standard finalizer name nor is it fully qualified"
        );
    }

    #[test]
    fn config_map_keys_and_immutability() {
        let cm = json!({"data": {"good": "1", "bad key": "2"}});
        let errs = ConfigData.validate(&cm);
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].summary(),
            "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
        );
        let old = json!({"immutable": true, "data": {"a": "1"}});
        let new = json!({"immutable": true, "data": {"a": "2"}});
        assert_eq!(
            ConfigData.validate_update(&new, &old)[0].summary(),
            "data: Forbidden: field is immutable when `immutable` is set"
        );
        assert!(ConfigData.validate_update(&old, &old).is_empty());
    }

    #[test]
    fn secret_defaults_and_rules() {
        let mut s = json!({"stringData": {"password": "admin"}});
        SecretStrategy.default(&mut s);
        assert_eq!(
            s,
            json!({"type": "Opaque", "data": {"password": "YWRtaW4="}})
        );
        let tls = json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}});
        assert_eq!(
            SecretStrategy.validate(&tls)[0].summary(),
            "data[tls.key]: Required value"
        );
        let old = json!({"type": "Opaque"});
        assert_eq!(
            SecretStrategy.validate_update(&tls, &old)[0].summary(),
            "type: Invalid value: \"kubernetes.io/tls\": field is immutable"
        );
        let cfg = json!({"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": base64_encode(b"{not json")}});
        assert!(SecretStrategy.validate(&cfg)[0]
            .message
            .starts_with("Invalid value: \"<secret contents redacted>\": "));
    }

    #[test]
    fn node_taints() {
        let node = json!({"spec": {"taints": [{"key": "k", "effect": "NoRun"}, {"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule"}]}});
        let errs: Vec<String> = NodeStrategy
            .validate(&node)
            .iter()
            .map(Cause::summary)
            .collect();
        assert_eq!(errs[0], "metadata.taints[0].effect: Unsupported value: \"NoRun\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"");
        assert!(errs[1].starts_with("metadata.taints[2]: Duplicate value: core.Taint{Key:\"k\""));
        let mut n = json!({"status": {"capacity": {"cpu": "2"}}});
        NodeStrategy.default(&mut n);
        assert_eq!(n["status"]["allocatable"], json!({"cpu": "2"}));
    }
}
