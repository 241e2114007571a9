//! HorizontalPodAutoscalers: autoscaling/v2 (stored) with upstream's v2 defaults, and
//! autoscaling/v1, validated on its v2 form as upstream validates the internal form
//! (pkg/apis/autoscaling/validation `ValidateHorizontalPodAutoscaler`).

use super::util::{arr_of, spec_of, str_of};
use super::Strategy;
use crate::convert::autoscaling::{default_v2, v1_to_v2};
use crate::meta::{invalid_str, not_supported_str, path_segment_errors, required};
use crate::status::Cause;
use serde_json::{json, Value};

pub struct HpaStrategy;

impl Strategy for HpaStrategy {
    fn default(&self, obj: &mut Value) {
        default_v2(obj);
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        validate_spec(spec_of(obj))
    }
}

/// autoscaling/v1: `minReplicas` defaults to 1; the rest is checked on the v2 form.
pub struct HpaV1Strategy;

impl Strategy for HpaV1Strategy {
    fn default(&self, obj: &mut Value) {
        let spec = crate::json_path::object_mut(obj, &["spec"]);
        if spec.get("minReplicas").is_none_or(Value::is_null) {
            spec["minReplicas"] = json!(1);
        }
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        match v1_to_v2(obj.clone()) {
            Ok(mut v2) => {
                default_v2(&mut v2);
                validate_spec(spec_of(&v2))
            }
            Err(e) => vec![invalid_str("metadata.annotations", "", &e)],
        }
    }
}

/// `validateHorizontalPodAutoscalerSpec` (scale to zero off, as upstream's default).
fn validate_spec(spec: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    let min = spec["minReplicas"].as_i64();
    let max = spec["maxReplicas"].as_i64().unwrap_or(0);
    if let Some(m) = min.filter(|m| *m < 1) {
        errs.push(Cause::invalid(
            "spec.minReplicas",
            m,
            "must be greater than or equal to 1",
        ));
    }
    if max < 1 {
        errs.push(Cause::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than 0",
        ));
    }
    if min.is_some_and(|m| max < m) {
        errs.push(Cause::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    let reference = validate_reference(&spec["scaleTargetRef"], "spec.scaleTargetRef");
    if !reference.is_empty() {
        errs.extend(reference);
        return errs;
    }
    for (i, m) in arr_of(spec, "metrics").iter().enumerate() {
        errs.extend(validate_metric(m, &format!("spec.metrics[{i}]")));
    }
    errs
}

/// `ValidateCrossVersionObjectReference`.
fn validate_reference(r: &Value, path: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    for field in ["kind", "name"] {
        let v = str_of(r, field);
        if v.is_empty() {
            errs.push(required(format!("{path}.{field}"), ""));
        } else {
            for msg in path_segment_errors(v, false) {
                errs.push(invalid_str(format!("{path}.{field}"), v, &msg));
            }
        }
    }
    errs
}

const METRIC_TYPES: &[&str] = &[
    "ContainerResource",
    "External",
    "Object",
    "Pods",
    "Resource",
];

/// The parts of `validateMetricSpec` a typo trips: the type and its source, and a resource
/// metric's target.
fn validate_metric(m: &Value, path: &str) -> Vec<Cause> {
    let t = str_of(m, "type");
    if t.is_empty() {
        return vec![required(
            format!("{path}.type"),
            "must specify a metric source type",
        )];
    }
    if !METRIC_TYPES.contains(&t) {
        return vec![not_supported_str(format!("{path}.type"), t, METRIC_TYPES)];
    }
    let key = match t {
        "ContainerResource" => "containerResource".to_string(),
        other => other.to_ascii_lowercase(),
    };
    let source = &m[key.as_str()];
    if !source.is_object() {
        return vec![required(
            format!("{path}.{key}"),
            &format!("must populate information for the given metric source (only allowed when type is {t})"),
        )];
    }
    let mut errs = Vec::new();
    if t == "Resource" || t == "ContainerResource" {
        if str_of(source, "name").is_empty() {
            errs.push(required(
                format!("{path}.{key}.name"),
                "must specify a resource name",
            ));
        }
        let target = &source["target"];
        let target_path = format!("{path}.{key}.target");
        match str_of(target, "type") {
            "Utilization" => match target["averageUtilization"].as_i64() {
                Some(u) if u <= 0 => errs.push(Cause::invalid(
                    format!("{target_path}.averageUtilization"),
                    u,
                    "must be greater than 0",
                )),
                None => errs.push(required(
                    format!("{target_path}.averageUtilization"),
                    "must set either a target raw value or a target utilization",
                )),
                _ => {}
            },
            "AverageValue" | "Value" => {}
            "" => errs.push(required(
                format!("{target_path}.type"),
                "must specify a metric target type",
            )),
            other => errs.push(not_supported_str(
                format!("{target_path}.type"),
                other,
                &["AverageValue", "Utilization", "Value"],
            )),
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_defaults_and_checks() {
        let mut hpa = json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 3}});
        HpaStrategy.default(&mut hpa);
        assert_eq!(hpa["spec"]["minReplicas"], 1);
        assert_eq!(
            hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
        assert!(HpaStrategy.validate(&hpa).is_empty());
        let bad = json!({"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 5, "maxReplicas": 2, "metrics": []}});
        let errs: Vec<String> = HpaStrategy
            .validate(&bad)
            .iter()
            .map(Cause::summary)
            .collect();
        assert_eq!(
            errs,
            ["spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"]
        );
    }

    #[test]
    fn v1_is_checked_on_its_v2_form() {
        let hpa = json!({"metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 3, "targetCPUUtilizationPercentage": 0}});
        let errs: Vec<String> = HpaV1Strategy
            .validate(&hpa)
            .iter()
            .map(Cause::summary)
            .collect();
        assert_eq!(
            errs,
            ["spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0"]
        );
    }
}
