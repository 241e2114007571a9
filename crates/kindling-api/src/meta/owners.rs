//! `metadata.ownerReferences`: every reference complete, no Event owner, at most one
//! controller.

use super::{invalid_raw, invalid_str};
use crate::status::Cause;
use serde_json::Value;

pub(super) fn validate_owner_references(refs: Option<&Value>, field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let Some(list) = refs.and_then(Value::as_array) else {
        return errs;
    };
    let mut first_controller: Option<String> = None;
    for r in list {
        let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (api_version, kind, name, uid) = (s("apiVersion"), s("kind"), s("name"), s("uid"));
        let version = api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            errs.push(invalid_str(
                format!("{field}.apiVersion"),
                &api_version,
                "version must not be empty",
            ));
        }
        if kind.is_empty() {
            errs.push(invalid_str(
                format!("{field}.kind"),
                &kind,
                "kind must not be empty",
            ));
        }
        if name.is_empty() {
            errs.push(invalid_str(
                format!("{field}.name"),
                &name,
                "name must not be empty",
            ));
        }
        if uid.is_empty() {
            errs.push(invalid_str(
                format!("{field}.uid"),
                &uid,
                "uid must not be empty",
            ));
        }
        if api_version == "v1" && kind == "Event" {
            errs.push(invalid_raw(
                field,
                &r.to_string(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            let current = format!("{kind}/{name}");
            match &first_controller {
                Some(first) => errs.push(invalid_raw(
                    field,
                    &Value::Array(list.clone()).to_string(),
                    &format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::meta::*;
    use crate::strategy::NameRule;
    use serde_json::json;

    #[test]
    fn owner_references() {
        let meta = json!({"name": "x", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": true},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "", "controller": true}]});
        let errs = validate_object_meta(&meta, false, NameRule::Subdomain);
        assert_eq!(
            errs[0].summary(),
            "metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty"
        );
        assert!(errs[1]
            .message
            .contains("Found \"true\" in references for ReplicaSet/a and ReplicaSet/b"));
    }
}
