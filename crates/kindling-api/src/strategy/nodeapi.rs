//! node.k8s.io/v1 RuntimeClass (pkg/apis/node/validation): the handler is a DNS label that never
//! changes; the scheduling constraints are node labels and tolerations.

use super::util::str_of;
use super::Strategy;
use crate::meta::{dns1123_label_errors, invalid_str, validate_labels, FIELD_IMMUTABLE_ERROR_MSG};
use crate::status::Cause;
use serde_json::Value;

pub struct RuntimeClassStrategy;

impl Strategy for RuntimeClassStrategy {
    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let handler = str_of(obj, "handler");
        let mut errs: Vec<Cause> = dns1123_label_errors(handler)
            .iter()
            .map(|m| invalid_str("handler", handler, m))
            .collect();
        if let Some(pod_fixed) = obj["overhead"]["podFixed"].as_object() {
            for (name, q) in pod_fixed {
                let (qerrs, _) = super::podvalidation::validate_quantity(
                    q,
                    &format!("overhead.podFixed[{name}]"),
                );
                errs.extend(qerrs);
            }
        }
        let scheduling = &obj["scheduling"];
        errs.extend(validate_labels(
            scheduling.get("nodeSelector"),
            "scheduling.nodeSelector",
        ));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let handler = str_of(new, "handler");
        if handler != str_of(old, "handler") {
            return vec![invalid_str("handler", handler, FIELD_IMMUTABLE_ERROR_MSG)];
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn handler_is_a_label_and_immutable() {
        assert!(RuntimeClassStrategy
            .validate(&json!({"handler": "runc"}))
            .is_empty());
        let errs = RuntimeClassStrategy.validate(&json!({"handler": "Run_C"}));
        assert_eq!(errs[0].field, "handler");
        let errs = RuntimeClassStrategy
            .validate_update(&json!({"handler": "b"}), &json!({"handler": "a"}));
        assert_eq!(
            errs[0].summary(),
            "handler: Invalid value: \"b\": field is immutable"
        );
    }
}
