//! CertificateSigningRequests (upstream's csrStrategy and csrApprovalStrategy): a create records
//! the user who sent it (`spec.username`, `uid`, `groups`, `extra`) and starts with an empty
//! status; the spec never changes afterwards; the `approval` subresource writes only the
//! status's conditions. Conditions follow upstream's rules: Approved, Denied and Failed are
//! `True` only, Approved and Denied exclude each other, a type appears once, and once there
//! Approved/Denied/Failed may be neither removed nor changed.

use super::util::{arr_of, str_of};
use super::Strategy;
use crate::catalog::Subresource;
use crate::meta::{duplicate_str, go_quote, invalid_str, not_supported_str, required};
use crate::status::Cause;
use crate::user::UserInfo;
use serde_json::{json, Value};

pub struct CertificateSigningRequestStrategy;

/// The condition types only an approver (Approved, Denied) or signer (Failed) sets, each only
/// `True`.
const FINAL_TYPES: [&str; 3] = ["Approved", "Denied", "Failed"];

impl Strategy for CertificateSigningRequestStrategy {
    /// What the client says of the requester is dropped; the request starts unapproved.
    fn prepare_for_create(&self, obj: &mut Value) {
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) {
            for key in ["username", "uid", "groups", "extra"] {
                spec.remove(key);
            }
        }
        obj["status"] = json!({});
    }

    fn prepare_for_create_by(&self, obj: &mut Value, user: &UserInfo) {
        let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
            return;
        };
        spec.insert("username".into(), json!(user.name));
        if !user.uid.is_empty() {
            spec.insert("uid".into(), json!(user.uid));
        }
        if !user.groups.is_empty() {
            spec.insert("groups".into(), json!(user.groups));
        }
        if !user.extra.is_empty() {
            spec.insert("extra".into(), json!(user.extra));
        }
    }

    /// The spec is immutable (the status is the generic path's: kept on a main update).
    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        copy_field(new, old, "spec");
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        validate_conditions(obj)
    }

    /// The spec's rules (`csrspec`): checked once, as the spec never changes afterwards.
    fn validate_create(&self, obj: &Value) -> Vec<Cause> {
        super::csrspec::validate(obj)
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        validate_final_conditions_kept(new, old)
    }

    /// `approval`: the stored request with the write's conditions (its certificate and spec
    /// stay), condition timestamps filled in.
    fn prepare_for_subresource_update(&self, sub: Subresource, new: &mut Value, old: &Value) {
        if sub != Subresource::Approval {
            return;
        }
        let mut conditions = arr_of(&new["status"], "conditions").to_vec();
        stamp_conditions(&mut conditions, arr_of(&old["status"], "conditions"));
        copy_field(new, old, "spec");
        copy_field(new, old, "status");
        if !new["status"].is_object() {
            new["status"] = json!({});
        }
        if conditions.is_empty() {
            if let Some(s) = new["status"].as_object_mut() {
                s.remove("conditions");
            }
        } else {
            new["status"]["conditions"] = Value::Array(conditions);
        }
    }

    fn validate_subresource_update(
        &self,
        sub: Subresource,
        new: &Value,
        old: &Value,
    ) -> Vec<Cause> {
        if sub != Subresource::Approval {
            return Vec::new();
        }
        let mut errs = validate_conditions(new);
        errs.extend(validate_final_conditions_kept(new, old));
        errs
    }
}

/// `new[key]` becomes `old[key]` (removed when `old` has none).
fn copy_field(new: &mut Value, old: &Value, key: &str) {
    match old.get(key) {
        Some(v) => new[key] = v.clone(),
        None => {
            if let Some(m) = new.as_object_mut() {
                m.remove(key);
            }
        }
    }
}

/// Upstream's populateConditionTimestamps: a condition without `lastUpdateTime` was updated
/// now; without `lastTransitionTime`, it keeps the time of the same type and status before, or
/// transitioned now.
fn stamp_conditions(conditions: &mut [Value], old: &[Value]) {
    let now = crate::managed::now();
    for c in conditions.iter_mut().filter(|c| c.is_object()) {
        if str_of(c, "lastUpdateTime").is_empty() {
            c["lastUpdateTime"] = json!(now);
        }
        if str_of(c, "lastTransitionTime").is_empty() {
            let earlier = old
                .iter()
                .find(|o| {
                    o["type"] == c["type"]
                        && o["status"] == c["status"]
                        && !str_of(o, "lastTransitionTime").is_empty()
                })
                .map(|o| o["lastTransitionTime"].clone());
            c["lastTransitionTime"] = earlier.unwrap_or_else(|| json!(now));
        }
    }
}

/// `validateConditions`: each condition has a type and a supported status; Approved and
/// Denied exclude each other; no type twice.
fn validate_conditions(obj: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let (mut approved, mut denied) = (false, false);
    for (i, c) in arr_of(&obj["status"], "conditions").iter().enumerate() {
        let path = format!("status.conditions[{i}]");
        let kind = str_of(c, "type");
        if kind.is_empty() {
            errs.push(required(format!("{path}.type"), ""));
        }
        let allowed: &[&str] = if FINAL_TYPES.contains(&kind) {
            &["True"]
        } else {
            &["True", "False", "Unknown"]
        };
        match str_of(c, "status") {
            "" => errs.push(required(format!("{path}.status"), "")),
            s if !allowed.contains(&s) => {
                errs.push(not_supported_str(format!("{path}.status"), s, allowed));
            }
            _ => {}
        }
        let exclusive = match kind {
            "Approved" => {
                approved = true;
                denied
            }
            "Denied" => {
                denied = true;
                approved
            }
            _ => false,
        };
        if exclusive {
            errs.push(invalid_str(
                format!("{path}.type"),
                kind,
                "Approved and Denied conditions are mutually exclusive",
            ));
        }
        if seen.contains(&kind) {
            errs.push(duplicate_str(format!("{path}.type"), kind));
        } else {
            seen.push(kind);
        }
    }
    errs
}

/// Approved, Denied and Failed conditions, once set, stay as they are.
fn validate_final_conditions_kept(new: &Value, old: &Value) -> Vec<Cause> {
    let of = |obj: &Value, kind: &str| -> Vec<Value> {
        arr_of(&obj["status"], "conditions")
            .iter()
            .filter(|c| str_of(c, "type") == kind)
            .cloned()
            .collect()
    };
    let mut errs = Vec::new();
    for kind in FINAL_TYPES {
        let (before, after) = (of(old, kind), of(new, kind));
        if after.len() < before.len() {
            errs.push(Cause::forbidden(
                "status.conditions",
                format!(
                    "updates may not remove a condition of type {}",
                    go_quote(kind)
                ),
            ));
        }
        if before.iter().zip(&after).any(|(b, a)| b != a) {
            errs.push(Cause::forbidden(
                "status.conditions",
                format!(
                    "updates may not modify a condition of type {}",
                    go_quote(kind)
                ),
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const S: CertificateSigningRequestStrategy = CertificateSigningRequestStrategy;

    fn csr() -> Value {
        json!({"metadata": {"name": "c"}, "spec": {"request": "LS0t", "signerName": "example.com/s",
            "usages": ["client auth"], "username": "mallory", "groups": ["system:masters"]},
            "status": {"conditions": [{"type": "Approved", "status": "True"}]}})
    }

    #[test]
    fn a_create_records_its_requester_and_starts_unapproved() {
        let mut obj = csr();
        S.prepare_for_create(&mut obj);
        let user = UserInfo {
            name: "alice".into(),
            uid: String::new(),
            groups: vec!["devs".into(), "system:authenticated".into()],
            extra: BTreeMap::from([("scopes".to_string(), vec!["a".to_string()])]),
        };
        S.prepare_for_create_by(&mut obj, &user);
        assert_eq!(
            obj["spec"],
            json!({"request": "LS0t", "signerName": "example.com/s", "usages": ["client auth"],
                "username": "alice", "groups": ["devs", "system:authenticated"],
                "extra": {"scopes": ["a"]}})
        );
        assert_eq!(obj["status"], json!({}));
    }

    #[test]
    fn approval_takes_only_conditions() {
        let mut old = csr();
        old["status"] = json!({"certificate": "Y2VydA=="});
        let mut new = old.clone();
        new["spec"]["username"] = json!("changed");
        new["status"] = json!({"certificate": "other", "conditions": [
            {"type": "Approved", "status": "True", "reason": "KubectlApprove"}]});
        S.prepare_for_subresource_update(Subresource::Approval, &mut new, &old);
        assert_eq!(new["spec"], old["spec"]);
        assert_eq!(new["status"]["certificate"], "Y2VydA==");
        let c = &new["status"]["conditions"][0];
        assert_eq!(c["reason"], "KubectlApprove");
        assert!(!str_of(c, "lastUpdateTime").is_empty());
        assert_eq!(c["lastTransitionTime"], c["lastUpdateTime"]);
        assert!(S
            .validate_subresource_update(Subresource::Approval, &new, &old)
            .is_empty());
    }

    #[test]
    fn condition_rules_are_upstreams() {
        let with = |conditions: Value| {
            let obj = json!({"status": {"conditions": conditions}});
            validate_conditions(&obj)
                .iter()
                .map(Cause::summary)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            with(json!([{"type": "Approved", "status": "True"}, {"type": "Denied", "status": "True"}])),
            vec!["status.conditions[1].type: Invalid value: \"Denied\": Approved and Denied conditions are mutually exclusive"]
        );
        assert_eq!(
            with(
                json!([{"type": "Approved", "status": "True"}, {"type": "Approved", "status": "True"}])
            ),
            vec!["status.conditions[1].type: Duplicate value: \"Approved\""]
        );
        assert_eq!(
            with(json!([{"status": "True"}, {"type": "Denied", "status": "False"}])),
            vec![
                "status.conditions[0].type: Required value",
                "status.conditions[1].status: Unsupported value: \"False\": supported values: \"True\"",
            ]
        );
        let old = json!({"status": {"conditions": [{"type": "Denied", "status": "True"}]}});
        let new = json!({"status": {"conditions": []}});
        assert_eq!(
            validate_final_conditions_kept(&new, &old)[0].summary(),
            "status.conditions: Forbidden: updates may not remove a condition of type \"Denied\""
        );
    }
}
