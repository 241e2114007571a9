//! core/v1 LimitRanges (upstream's ValidateLimitRange): one item per type, quantities well
//! formed and not negative, `Pod` items without defaults, and min ≤ defaultRequest ≤ default ≤
//! max with a maxLimitRequestRatio of at least 1 that max/min can meet.

use super::containers::validate_quantity;
use super::Strategy;
use crate::meta::{invalid_str, not_supported_str};
use crate::quantity::Quantity;
use crate::status::Cause;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const TYPES: &[&str] = &["Container", "PersistentVolumeClaim", "Pod"];

pub struct LimitRangeStrategy;

impl Strategy for LimitRangeStrategy {
    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let mut errs = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, item) in obj["spec"]["limits"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let path = format!("spec.limits[{i}]");
            let kind = item["type"].as_str().unwrap_or_default();
            if !TYPES.contains(&kind) {
                errs.push(not_supported_str(format!("{path}.type"), kind, TYPES));
            } else if !seen.insert(kind) {
                errs.push(Cause::duplicate(
                    format!("{path}.type"),
                    crate::meta::go_quote(kind),
                ));
            }
            errs.extend(validate_item(item, kind, &path));
        }
        errs
    }
}

/// The quantities of one list of an item, each checked.
fn list(item: &Value, key: &str, path: &str, errs: &mut Vec<Cause>) -> BTreeMap<String, Quantity> {
    let mut out = BTreeMap::new();
    for (k, v) in item[key].as_object().into_iter().flatten() {
        let (e, q) = validate_quantity(v, &format!("{path}.{key}[{k}]"));
        errs.extend(e);
        if let Some(q) = q {
            out.insert(k.clone(), q);
        }
    }
    out
}

fn validate_item(item: &Value, kind: &str, path: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let max = list(item, "max", path, &mut errs);
    let min = list(item, "min", path, &mut errs);
    let default = list(item, "default", path, &mut errs);
    let default_request = list(item, "defaultRequest", path, &mut errs);
    let ratio = list(item, "maxLimitRequestRatio", path, &mut errs);
    if kind == "Pod" {
        if !default.is_empty() {
            errs.push(Cause::forbidden(
                format!("{path}.default"),
                "may not be specified when `type` is 'Pod'",
            ));
        }
        if !default_request.is_empty() {
            errs.push(Cause::forbidden(
                format!("{path}.defaultRequest"),
                "may not be specified when `type` is 'Pod'",
            ));
        }
    }
    let keys: BTreeSet<&String> = max
        .keys()
        .chain(min.keys())
        .chain(default.keys())
        .chain(default_request.keys())
        .chain(ratio.keys())
        .collect();
    for k in keys {
        let at = |list: &str| format!("{path}.{list}[{k}]");
        let (mn, mx, d, dr, r) = (
            min.get(k),
            max.get(k),
            default.get(k),
            default_request.get(k),
            ratio.get(k),
        );
        let mut check = |bad: bool, field: String, value: &Quantity, msg: String| {
            if bad {
                errs.push(invalid_str(&field, &value.to_string(), &msg));
            }
        };
        if let (Some(mn), Some(mx)) = (mn, mx) {
            check(
                mn > mx,
                at("min"),
                mn,
                format!("min value {mn} is greater than max value {mx}"),
            );
        }
        if let Some(dr) = dr {
            if let Some(mn) = mn {
                check(
                    mn > dr,
                    at("defaultRequest"),
                    dr,
                    format!("min value {mn} is greater than default request value {dr}"),
                );
            }
            if let Some(mx) = mx {
                check(
                    dr > mx,
                    at("defaultRequest"),
                    dr,
                    format!("default request value {dr} is greater than max value {mx}"),
                );
            }
            if let Some(d) = d {
                check(
                    dr > d,
                    at("defaultRequest"),
                    dr,
                    format!("default request value {dr} is greater than default limit value {d}"),
                );
            }
        }
        if let Some(d) = d {
            if let Some(mn) = mn {
                check(
                    mn > d,
                    at("default"),
                    mn,
                    format!("min value {mn} is greater than default value {d}"),
                );
            }
            if let Some(mx) = mx {
                check(
                    d > mx,
                    at("default"),
                    mx,
                    format!("default value {d} is greater than max value {mx}"),
                );
            }
        }
        if let Some(r) = r {
            let one = Quantity::new(1, crate::quantity::Format::DecimalSI);
            check(
                *r < one,
                at("maxLimitRequestRatio"),
                r,
                format!("ratio {r} is less than 1"),
            );
            if let (Some(mn), Some(mx)) = (mn, mx) {
                let (ratio, low, high) = if r.value() < i64::MAX / 1000
                    && mn.value() < i64::MAX / 1000
                    && mx.value() < i64::MAX / 1000
                {
                    (
                        r.milli_value() as f64 / 1000.0,
                        mn.milli_value(),
                        mx.milli_value(),
                    )
                } else {
                    (r.value() as f64, mn.value(), mx.value())
                };
                let limit = high as f64 / low as f64;
                check(
                    ratio > limit,
                    at("maxLimitRequestRatio"),
                    r,
                    format!("ratio {r} is greater than max/min = {limit:.6}"),
                );
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn causes(limits: Value) -> Vec<String> {
        LimitRangeStrategy
            .validate(&json!({"spec": {"limits": limits}}))
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect()
    }

    #[test]
    fn limit_ranges_are_validated_like_upstream() {
        assert!(causes(
            json!([{"type": "Container", "max": {"cpu": "1"}, "min": {"cpu": "100m"},
            "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "200m"}}])
        )
        .is_empty());
        assert_eq!(
            causes(json!([{"type": "Container", "max": {"cpu": "500m"}, "min": {"cpu": "1"}}])),
            ["spec.limits[0].min[cpu]: Invalid value: \"1\": min value 1 is greater than max value 500m"]
        );
        assert_eq!(
            causes(json!([{"type": "Container", "max": {"cpu": "500m"}, "default": {"cpu": "1"}}])),
            ["spec.limits[0].default[cpu]: Invalid value: \"500m\": default value 1 is greater than max value 500m"]
        );
        assert_eq!(
            causes(json!([{"type": "Pod", "default": {"cpu": "1"}}])),
            ["spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"]
        );
        assert_eq!(
            causes(json!([{"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}}])),
            ["spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: \"500m\": ratio 500m is less than 1"]
        );
        assert_eq!(
            causes(json!([{"type": "Container", "max": {"cpu": "-1"}}])),
            ["spec.limits[0].max[cpu]: Invalid value: \"-1\": must be greater than or equal to 0"]
        );
        assert_eq!(
            causes(json!([{"type": "Pod"}, {"type": "Pod"}])),
            ["spec.limits[1].type: Duplicate value: \"Pod\""]
        );
    }
}
