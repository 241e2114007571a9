//! policy/v1 PodDisruptionBudgets (upstream pkg/registry/policy/poddisruptionbudget and
//! pkg/apis/policy/validation): the spec is the user's, the status the disruption controller's
//! and the eviction subresource's; a spec change bumps `metadata.generation`, which the
//! controller acknowledges in `status.observedGeneration` (evictions wait until it has).

use super::workloads::{validate_not_more_than_100_percent, validate_positive_int_or_percent};
use super::Strategy;
use crate::meta::{invalid_raw, validate_label_selector};
use crate::status::Cause;
use serde_json::Value;

/// Upstream's supported `spec.unhealthyPodEvictionPolicy` values, sorted as its message lists them.
const UNHEALTHY_POD_EVICTION_POLICIES: &[&str] = &["AlwaysAllow", "IfHealthyBudget"];

pub struct PodDisruptionBudgetStrategy;

impl Strategy for PodDisruptionBudgetStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        validate_spec(&obj["spec"])
    }
}

fn validate_spec(spec: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    let min = spec.get("minAvailable").filter(|v| !v.is_null());
    let max = spec.get("maxUnavailable").filter(|v| !v.is_null());
    if min.is_some() && max.is_some() {
        errs.push(invalid_raw(
            "spec",
            &spec.to_string(),
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (value, field) in [(min, "spec.minAvailable"), (max, "spec.maxUnavailable")] {
        if value.is_some() {
            errs.extend(validate_positive_int_or_percent(value, field));
            errs.extend(validate_not_more_than_100_percent(value, field));
        }
    }
    errs.extend(validate_label_selector(
        spec.get("selector").filter(|v| !v.is_null()),
        "spec.selector",
    ));
    if let Some(policy) = spec["unhealthyPodEvictionPolicy"].as_str() {
        if !UNHEALTHY_POD_EVICTION_POLICIES.contains(&policy) {
            errs.push(Cause::not_supported(
                "spec.unhealthyPodEvictionPolicy",
                crate::meta::go_quote(policy),
                UNHEALTHY_POD_EVICTION_POLICIES,
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn causes(spec: Value) -> Vec<String> {
        validate_spec(&spec)
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    #[test]
    fn budgets_are_validated_like_upstream() {
        let sel = json!({"matchLabels": {"app": "web"}});
        assert!(causes(json!({"minAvailable": 2, "selector": sel})).is_empty());
        assert!(causes(json!({"maxUnavailable": "25%", "selector": sel})).is_empty());
        let both = causes(json!({"minAvailable": 1, "maxUnavailable": 1, "selector": sel}));
        assert!(
            both[0].starts_with("spec: Invalid value:")
                && both[0].ends_with("minAvailable and maxUnavailable cannot be both set"),
            "{both:?}"
        );
        assert_eq!(
            causes(json!({"minAvailable": -1, "selector": sel})),
            ["spec.minAvailable: Invalid value: -1: must be greater than or equal to 0"]
        );
        let over = causes(json!({"maxUnavailable": "150%", "selector": sel}));
        assert!(
            over[0].ends_with("must not be greater than 100%"),
            "{over:?}"
        );
        let policy = causes(json!({"selector": sel, "unhealthyPodEvictionPolicy": "Never"}));
        assert_eq!(
            policy,
            ["spec.unhealthyPodEvictionPolicy: Unsupported value: \"Never\": supported values: \"AlwaysAllow\", \"IfHealthyBudget\""]
        );
    }
}
