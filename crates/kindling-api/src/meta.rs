//! Object metadata rules (in progress).
use crate::status::Cause;
use crate::strategy::NameRule;
use serde_json::Value;
pub fn validate_object_meta(meta: &Value, _namespaced: bool, _rule: NameRule) -> Vec<Cause> {
    if meta["name"].as_str().unwrap_or("").is_empty() {
        vec![Cause::required("metadata.name")]
    } else {
        vec![]
    }
}
