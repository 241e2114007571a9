//! autoscaling/v1 HorizontalPodAutoscaler ⇄ autoscaling/v2, as upstream's conversion
//! (pkg/apis/autoscaling/v1/conversion.go).
//!
//! v1 knows one metric, `targetCPUUtilizationPercentage`: a v2 `Resource` metric on `cpu` with an
//! `averageUtilization` target. Everything else v2 can say travels through v1 in annotations, so
//! that an object read as v1 and written back loses nothing:
//! `autoscaling.alpha.kubernetes.io/metrics` (the other metrics, as v1's MetricSpec — the
//! v2beta1 shape), `…/current-metrics` (the status metrics), `…/conditions` (the status
//! conditions) and `…/behavior` (the scaling behavior, encoded as upstream encodes its internal
//! type: Go field names). A v1 object without any metric gets upstream's implicit default, 80% CPU.

use crate::json_path::{at, object_mut};
use serde_json::{json, Map, Value};

pub const METRIC_SPECS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
pub const METRIC_STATUSES_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
pub const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
pub const BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";
/// The CPU target of an autoscaler that names none (`autoscaling.DefaultCPUUtilization`).
pub const DEFAULT_CPU_UTILIZATION: i64 = 80;

const ROUND_TRIP: [&str; 4] = [
    METRIC_SPECS_ANNOTATION,
    METRIC_STATUSES_ANNOTATION,
    CONDITIONS_ANNOTATION,
    BEHAVIOR_ANNOTATION,
];

fn copy(from: &Value, to: &mut Map<String, Value>, fields: &[&str]) {
    for f in fields {
        if let Some(v) = from.get(*f).filter(|v| !v.is_null()) {
            to.insert((*f).into(), v.clone());
        }
    }
}

fn cpu_utilization_metric(percent: Value) -> Value {
    json!({"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": percent}}})
}

fn is_cpu_resource(m: &Value) -> bool {
    m["type"] == "Resource" && m["resource"]["name"] == "cpu"
}

/// The annotation's JSON list, or the error upstream's decoding gives.
fn annotation_list(annotations: &Map<String, Value>, key: &str) -> Result<Vec<Value>, String> {
    match annotations.get(key).and_then(Value::as_str) {
        None => Ok(Vec::new()),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(Value::Null) => Ok(Vec::new()),
            Ok(_) | Err(_) => Err(format!(
                "the annotation {key} is not a JSON list: {}",
                crate::meta::go_quote(text)
            )),
        },
    }
}

/// An autoscaling/v1 object as autoscaling/v2 stores it.
pub fn v1_to_v2(obj: Value) -> Result<Value, String> {
    let mut meta = obj["metadata"].clone();
    let mut annotations = meta
        .get("annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let other_metrics = annotation_list(&annotations, METRIC_SPECS_ANNOTATION)?;
    let current_metrics = annotation_list(&annotations, METRIC_STATUSES_ANNOTATION)?;
    let conditions = annotation_list(&annotations, CONDITIONS_ANNOTATION)?;
    let behavior = match annotations.get(BEHAVIOR_ANNOTATION).and_then(Value::as_str) {
        Some(text) => Some(
            serde_json::from_str::<Value>(text)
                .map_err(|e| format!("the annotation {BEHAVIOR_ANNOTATION} is not JSON: {e}"))?,
        ),
        None => None,
    };
    for key in ROUND_TRIP {
        annotations.remove(key);
    }
    if let Some(m) = meta.as_object_mut() {
        if annotations.is_empty() {
            m.remove("annotations");
        } else {
            m.insert("annotations".into(), Value::Object(annotations.clone()));
        }
    }

    let spec = &obj["spec"];
    let mut out_spec = Map::new();
    copy(
        spec,
        &mut out_spec,
        &["scaleTargetRef", "minReplicas", "maxReplicas"],
    );
    let mut metrics: Vec<Value> = other_metrics.iter().map(metric_spec_v1_to_v2).collect();
    if let Some(p) = spec
        .get("targetCPUUtilizationPercentage")
        .filter(|v| !v.is_null())
    {
        metrics.push(cpu_utilization_metric(p.clone()));
    }
    if metrics.is_empty() {
        metrics.push(cpu_utilization_metric(json!(DEFAULT_CPU_UTILIZATION)));
    }
    out_spec.insert("metrics".into(), Value::Array(metrics));
    if let Some(b) = behavior.filter(|b| !b.is_null()) {
        out_spec.insert("behavior".into(), behavior_from_go(&b));
    }

    let mut out = Map::new();
    out.insert("apiVersion".into(), json!("autoscaling/v2"));
    out.insert("kind".into(), json!("HorizontalPodAutoscaler"));
    out.insert("metadata".into(), meta);
    out.insert("spec".into(), Value::Object(out_spec));
    if let Some(status) = obj.get("status").filter(|s| s.is_object()) {
        let mut out_status = Map::new();
        copy(
            status,
            &mut out_status,
            &[
                "observedGeneration",
                "lastScaleTime",
                "currentReplicas",
                "desiredReplicas",
            ],
        );
        let current: Vec<Value> = if !current_metrics.is_empty() {
            current_metrics.iter().map(metric_status_v1_to_v2).collect()
        } else {
            match status
                .get("currentCPUUtilizationPercentage")
                .filter(|v| !v.is_null())
            {
                Some(p) => vec![json!({"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": p}}})],
                None => Vec::new(),
            }
        };
        if !current.is_empty() {
            out_status.insert("currentMetrics".into(), Value::Array(current));
        }
        if !conditions.is_empty() {
            out_status.insert("conditions".into(), Value::Array(conditions));
        }
        out.insert("status".into(), Value::Object(out_status));
    }
    Ok(Value::Object(out))
}

/// A stored autoscaling/v2 object as autoscaling/v1 shows it.
pub fn v2_to_v1(obj: Value) -> Value {
    let mut meta = obj["metadata"].clone();
    let spec = &obj["spec"];
    let status = &obj["status"];
    let metrics = spec["metrics"].as_array().cloned().unwrap_or_default();
    let current = status["currentMetrics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();

    let mut annotations = meta
        .get("annotations")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for key in ROUND_TRIP {
        annotations.remove(key);
    }
    let other: Vec<Value> = metrics
        .iter()
        .filter(|m| {
            !(is_cpu_resource(m)
                && at(m, &["resource", "target", "averageUtilization"])
                    .is_some_and(|v| !v.is_null()))
        })
        .map(metric_spec_v2_to_v1)
        .collect();
    if !other.is_empty() {
        annotations.insert(
            METRIC_SPECS_ANNOTATION.into(),
            json!(Value::Array(other).to_string()),
        );
    }
    if !current.is_empty() {
        let list: Vec<Value> = current.iter().map(metric_status_v2_to_v1).collect();
        annotations.insert(
            METRIC_STATUSES_ANNOTATION.into(),
            json!(Value::Array(list).to_string()),
        );
    }
    if !conditions.is_empty() {
        let list: Vec<Value> = conditions
            .iter()
            .map(|c| {
                let mut out = Map::new();
                copy(
                    c,
                    &mut out,
                    &["type", "status", "lastTransitionTime", "reason", "message"],
                );
                out.entry("lastTransitionTime").or_insert(Value::Null);
                Value::Object(out)
            })
            .collect();
        annotations.insert(
            CONDITIONS_ANNOTATION.into(),
            json!(Value::Array(list).to_string()),
        );
    }
    if let Some(b) = spec.get("behavior").filter(|b| b.is_object()) {
        annotations.insert(
            BEHAVIOR_ANNOTATION.into(),
            json!(behavior_to_go(b).to_string()),
        );
    }
    if let Some(m) = meta.as_object_mut() {
        if annotations.is_empty() {
            m.remove("annotations");
        } else {
            m.insert("annotations".into(), Value::Object(annotations));
        }
    }

    let mut out_spec = Map::new();
    copy(
        spec,
        &mut out_spec,
        &["scaleTargetRef", "minReplicas", "maxReplicas"],
    );
    // The first cpu Resource metric decides, as upstream's loop with its `break`.
    if let Some(m) = metrics.iter().find(|m| is_cpu_resource(m)) {
        if let Some(p) =
            at(m, &["resource", "target", "averageUtilization"]).filter(|v| !v.is_null())
        {
            out_spec.insert("targetCPUUtilizationPercentage".into(), p.clone());
        }
    }
    let mut out_status = Map::new();
    copy(
        status,
        &mut out_status,
        &["observedGeneration", "lastScaleTime"],
    );
    out_status.insert(
        "currentReplicas".into(),
        json!(status["currentReplicas"].as_i64().unwrap_or(0)),
    );
    out_status.insert(
        "desiredReplicas".into(),
        json!(status["desiredReplicas"].as_i64().unwrap_or(0)),
    );
    for m in &current {
        if is_cpu_resource(m) {
            if let Some(p) =
                at(m, &["resource", "current", "averageUtilization"]).filter(|v| !v.is_null())
            {
                out_status.insert("currentCPUUtilizationPercentage".into(), p.clone());
            }
        }
    }
    json!({
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta,
        "spec": out_spec,
        "status": out_status,
    })
}

/// A v2 MetricTarget or MetricValueStatus field, `"0"` when absent (v1's non-pointer
/// quantities).
fn quantity_or_zero(v: &Value, path: &[&str]) -> Value {
    at(v, path)
        .filter(|q| !q.is_null())
        .cloned()
        .unwrap_or_else(|| json!("0"))
}

fn insert_some(out: &mut Map<String, Value>, key: &str, v: Option<&Value>) {
    if let Some(v) = v.filter(|v| !v.is_null()) {
        out.insert(key.into(), v.clone());
    }
}

/// v2 MetricSpec → v1 MetricSpec (the v2beta1 shape upstream keeps in the annotation).
fn metric_spec_v2_to_v1(m: &Value) -> Value {
    let t = m["type"].as_str().unwrap_or_default();
    let mut out = Map::new();
    out.insert("type".into(), json!(t));
    match t {
        "Resource" | "ContainerResource" => {
            let key = if t == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let src = &m[key];
            let mut r = Map::new();
            insert_some(&mut r, "name", src.get("name"));
            insert_some(&mut r, "container", src.get("container"));
            insert_some(
                &mut r,
                "targetAverageUtilization",
                at(src, &["target", "averageUtilization"]),
            );
            insert_some(
                &mut r,
                "targetAverageValue",
                at(src, &["target", "averageValue"]),
            );
            out.insert(key.into(), Value::Object(r));
        }
        "Pods" => {
            let src = &m["pods"];
            let mut r = Map::new();
            insert_some(&mut r, "metricName", at(src, &["metric", "name"]));
            r.insert(
                "targetAverageValue".into(),
                quantity_or_zero(src, &["target", "averageValue"]),
            );
            insert_some(&mut r, "selector", at(src, &["metric", "selector"]));
            out.insert("pods".into(), Value::Object(r));
        }
        "Object" => {
            let src = &m["object"];
            let mut r = Map::new();
            r.insert(
                "target".into(),
                src.get("describedObject").cloned().unwrap_or(json!({})),
            );
            insert_some(&mut r, "metricName", at(src, &["metric", "name"]));
            r.insert(
                "targetValue".into(),
                quantity_or_zero(src, &["target", "value"]),
            );
            insert_some(&mut r, "selector", at(src, &["metric", "selector"]));
            insert_some(&mut r, "averageValue", at(src, &["target", "averageValue"]));
            out.insert("object".into(), Value::Object(r));
        }
        "External" => {
            let src = &m["external"];
            let mut r = Map::new();
            insert_some(&mut r, "metricName", at(src, &["metric", "name"]));
            insert_some(&mut r, "metricSelector", at(src, &["metric", "selector"]));
            insert_some(&mut r, "targetValue", at(src, &["target", "value"]));
            insert_some(
                &mut r,
                "targetAverageValue",
                at(src, &["target", "averageValue"]),
            );
            out.insert("external".into(), Value::Object(r));
        }
        _ => {}
    }
    Value::Object(out)
}

/// v1 MetricSpec → v2 MetricSpec.
fn metric_spec_v1_to_v2(m: &Value) -> Value {
    let t = m["type"].as_str().unwrap_or_default();
    let mut out = Map::new();
    out.insert("type".into(), json!(t));
    let has = |v: Option<&Value>| v.is_some_and(|v| !v.is_null());
    match t {
        "Resource" | "ContainerResource" => {
            let key = if t == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let src = &m[key];
            let util = src.get("targetAverageUtilization");
            let mut target = Map::new();
            target.insert(
                "type".into(),
                json!(if has(util) {
                    "Utilization"
                } else {
                    "AverageValue"
                }),
            );
            insert_some(&mut target, "averageUtilization", util);
            insert_some(&mut target, "averageValue", src.get("targetAverageValue"));
            let mut r = Map::new();
            insert_some(&mut r, "name", src.get("name"));
            insert_some(&mut r, "container", src.get("container"));
            r.insert("target".into(), Value::Object(target));
            out.insert(key.into(), Value::Object(r));
        }
        "Pods" => {
            let src = &m["pods"];
            let mut metric = Map::new();
            insert_some(&mut metric, "name", src.get("metricName"));
            insert_some(&mut metric, "selector", src.get("selector"));
            out.insert(
                "pods".into(),
                json!({"metric": metric, "target": {"type": "AverageValue",
                    "averageValue": quantity_or_zero(src, &["targetAverageValue"])}}),
            );
        }
        "Object" => {
            let src = &m["object"];
            let mut metric = Map::new();
            insert_some(&mut metric, "name", src.get("metricName"));
            insert_some(&mut metric, "selector", src.get("selector"));
            let avg = src.get("averageValue");
            let mut target = Map::new();
            target.insert(
                "type".into(),
                json!(if has(avg) { "AverageValue" } else { "Value" }),
            );
            target.insert("value".into(), quantity_or_zero(src, &["targetValue"]));
            insert_some(&mut target, "averageValue", avg);
            out.insert(
                "object".into(),
                json!({"describedObject": src.get("target").cloned().unwrap_or(json!({})),
                    "metric": metric, "target": target}),
            );
        }
        "External" => {
            let src = &m["external"];
            let mut metric = Map::new();
            insert_some(&mut metric, "name", src.get("metricName"));
            insert_some(&mut metric, "selector", src.get("metricSelector"));
            let value = src.get("targetValue");
            let mut target = Map::new();
            target.insert(
                "type".into(),
                json!(if has(value) { "Value" } else { "AverageValue" }),
            );
            insert_some(&mut target, "value", value);
            insert_some(&mut target, "averageValue", src.get("targetAverageValue"));
            out.insert(
                "external".into(),
                json!({"metric": metric, "target": target}),
            );
        }
        _ => {}
    }
    Value::Object(out)
}

/// v2 MetricStatus → v1 MetricStatus.
fn metric_status_v2_to_v1(m: &Value) -> Value {
    let t = m["type"].as_str().unwrap_or_default();
    let mut out = Map::new();
    out.insert("type".into(), json!(t));
    match t {
        "Resource" | "ContainerResource" => {
            let key = if t == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let src = &m[key];
            let mut r = Map::new();
            insert_some(&mut r, "name", src.get("name"));
            insert_some(&mut r, "container", src.get("container"));
            insert_some(
                &mut r,
                "currentAverageUtilization",
                at(src, &["current", "averageUtilization"]),
            );
            r.insert(
                "currentAverageValue".into(),
                quantity_or_zero(src, &["current", "averageValue"]),
            );
            out.insert(key.into(), Value::Object(r));
        }
        "Pods" => {
            let src = &m["pods"];
            let mut r = Map::new();
            insert_some(&mut r, "metricName", at(src, &["metric", "name"]));
            r.insert(
                "currentAverageValue".into(),
                quantity_or_zero(src, &["current", "averageValue"]),
            );
            insert_some(&mut r, "selector", at(src, &["metric", "selector"]));
            out.insert("pods".into(), Value::Object(r));
        }
        "Object" => {
            let src = &m["object"];
            let mut r = Map::new();
            r.insert(
                "target".into(),
                src.get("describedObject").cloned().unwrap_or(json!({})),
            );
            insert_some(&mut r, "metricName", at(src, &["metric", "name"]));
            r.insert(
                "currentValue".into(),
                quantity_or_zero(src, &["current", "value"]),
            );
            insert_some(&mut r, "selector", at(src, &["metric", "selector"]));
            insert_some(
                &mut r,
                "averageValue",
                at(src, &["current", "averageValue"]),
            );
            out.insert("object".into(), Value::Object(r));
        }
        "External" => {
            let src = &m["external"];
            let mut r = Map::new();
            insert_some(&mut r, "metricName", at(src, &["metric", "name"]));
            insert_some(&mut r, "metricSelector", at(src, &["metric", "selector"]));
            r.insert(
                "currentValue".into(),
                quantity_or_zero(src, &["current", "value"]),
            );
            insert_some(
                &mut r,
                "currentAverageValue",
                at(src, &["current", "averageValue"]),
            );
            out.insert("external".into(), Value::Object(r));
        }
        _ => {}
    }
    Value::Object(out)
}

/// v1 MetricStatus → v2 MetricStatus.
fn metric_status_v1_to_v2(m: &Value) -> Value {
    let t = m["type"].as_str().unwrap_or_default();
    let mut out = Map::new();
    out.insert("type".into(), json!(t));
    match t {
        "Resource" | "ContainerResource" => {
            let key = if t == "Resource" {
                "resource"
            } else {
                "containerResource"
            };
            let src = &m[key];
            let mut current = Map::new();
            insert_some(&mut current, "averageValue", src.get("currentAverageValue"));
            insert_some(
                &mut current,
                "averageUtilization",
                src.get("currentAverageUtilization"),
            );
            let mut r = Map::new();
            insert_some(&mut r, "name", src.get("name"));
            insert_some(&mut r, "container", src.get("container"));
            r.insert("current".into(), Value::Object(current));
            out.insert(key.into(), Value::Object(r));
        }
        "Pods" => {
            let src = &m["pods"];
            let mut metric = Map::new();
            insert_some(&mut metric, "name", src.get("metricName"));
            insert_some(&mut metric, "selector", src.get("selector"));
            out.insert(
                "pods".into(),
                json!({"metric": metric,
                    "current": {"averageValue": quantity_or_zero(src, &["currentAverageValue"])}}),
            );
        }
        "Object" => {
            let src = &m["object"];
            let mut metric = Map::new();
            insert_some(&mut metric, "name", src.get("metricName"));
            insert_some(&mut metric, "selector", src.get("selector"));
            let mut current = Map::new();
            current.insert("value".into(), quantity_or_zero(src, &["currentValue"]));
            insert_some(&mut current, "averageValue", src.get("averageValue"));
            out.insert(
                "object".into(),
                json!({"describedObject": src.get("target").cloned().unwrap_or(json!({})),
                    "metric": metric, "current": current}),
            );
        }
        "External" => {
            let src = &m["external"];
            let mut metric = Map::new();
            insert_some(&mut metric, "name", src.get("metricName"));
            insert_some(&mut metric, "selector", src.get("metricSelector"));
            let mut current = Map::new();
            current.insert("value".into(), quantity_or_zero(src, &["currentValue"]));
            insert_some(&mut current, "averageValue", src.get("currentAverageValue"));
            out.insert(
                "external".into(),
                json!({"metric": metric, "current": current}),
            );
        }
        _ => {}
    }
    Value::Object(out)
}

/// (v2 JSON name, Go field name) of the behavior types' fields.
const BEHAVIOR_FIELDS: &[(&str, &str)] = &[
    ("scaleUp", "ScaleUp"),
    ("scaleDown", "ScaleDown"),
    ("stabilizationWindowSeconds", "StabilizationWindowSeconds"),
    ("selectPolicy", "SelectPolicy"),
    ("policies", "Policies"),
    ("tolerance", "Tolerance"),
    ("type", "Type"),
    ("value", "Value"),
    ("periodSeconds", "PeriodSeconds"),
];

/// The v2 behavior as upstream writes its internal type into the annotation: Go field names,
/// every field present (`null` for nil pointers).
fn behavior_to_go(b: &Value) -> Value {
    fn rules(r: Option<&Value>) -> Value {
        let Some(r) = r.filter(|r| r.is_object()) else {
            return Value::Null;
        };
        let policies: Vec<Value> = r["policies"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        json!({"Type": p["type"].as_str().unwrap_or_default(),
                            "Value": p["value"].as_i64().unwrap_or(0),
                            "PeriodSeconds": p["periodSeconds"].as_i64().unwrap_or(0)})
                    })
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "StabilizationWindowSeconds": r.get("stabilizationWindowSeconds").cloned().unwrap_or(Value::Null),
            "SelectPolicy": r.get("selectPolicy").cloned().unwrap_or(Value::Null),
            "Policies": if policies.is_empty() { Value::Null } else { Value::Array(policies) },
            "Tolerance": r.get("tolerance").cloned().unwrap_or(Value::Null),
        })
    }
    json!({"ScaleUp": rules(b.get("scaleUp")), "ScaleDown": rules(b.get("scaleDown"))})
}

/// The annotation's behavior back in v2 form. Keys match case-insensitively, as Go's
/// `encoding/json` reads them; `null`s are dropped.
fn behavior_from_go(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, val) in m {
                if val.is_null() {
                    continue;
                }
                let lower = k.to_ascii_lowercase();
                let Some((json_name, _)) = BEHAVIOR_FIELDS.iter().find(|(j, go)| {
                    j.to_ascii_lowercase() == lower || go.to_ascii_lowercase() == lower
                }) else {
                    continue;
                };
                out.insert((*json_name).into(), behavior_from_go(val));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(behavior_from_go).collect()),
        other => other.clone(),
    }
}

/// Sets upstream's autoscaling/v2 defaults (`SetDefaults_HorizontalPodAutoscaler`): one minimum
/// replica, 80% CPU when no metric is given, and the default scaling rules for a behavior that
/// leaves them out.
pub fn default_v2(obj: &mut Value) {
    let spec = object_mut(obj, &["spec"]);
    if spec.get("minReplicas").is_none_or(Value::is_null) {
        spec["minReplicas"] = json!(1);
    }
    if spec["metrics"]
        .as_array()
        .is_none_or(std::vec::Vec::is_empty)
    {
        spec["metrics"] = json!([cpu_utilization_metric(json!(DEFAULT_CPU_UTILIZATION))]);
    }
    if let Some(behavior) = spec.get_mut("behavior").filter(|b| b.is_object()) {
        default_rules(
            behavior,
            "scaleUp",
            0,
            json!([{"type": "Pods", "value": 4, "periodSeconds": 15},
                   {"type": "Percent", "value": 100, "periodSeconds": 15}]),
        );
        default_rules(
            behavior,
            "scaleDown",
            300,
            json!([{"type": "Percent", "value": 100, "periodSeconds": 15}]),
        );
    }
}

/// `GenerateHPAScaleUpRules`/`GenerateHPAScaleDownRules`: the missing parts of one direction's
/// rules from the defaults.
fn default_rules(behavior: &mut Value, key: &str, window: i64, policies: Value) {
    let rules = &mut behavior[key];
    if !rules.is_object() {
        *rules = json!({});
    }
    if rules
        .get("stabilizationWindowSeconds")
        .is_none_or(Value::is_null)
    {
        rules["stabilizationWindowSeconds"] = json!(window);
    }
    if rules.get("selectPolicy").is_none_or(Value::is_null) {
        rules["selectPolicy"] = json!("Max");
    }
    if rules["policies"]
        .as_array()
        .is_none_or(std::vec::Vec::is_empty)
    {
        rules["policies"] = policies;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(spec: Value) -> Value {
        json!({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    #[test]
    fn target_cpu_is_a_v2_utilization_metric_and_back() {
        let v2 = v1_to_v2(v1(json!({
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": 5, "targetCPUUtilizationPercentage": 50,
        })))
        .unwrap();
        assert_eq!(v2["apiVersion"], "autoscaling/v2");
        assert_eq!(
            v2["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 50}}}])
        );
        let back = v2_to_v1(v2);
        assert_eq!(back["spec"]["targetCPUUtilizationPercentage"], 50);
        assert!(back["metadata"].get("annotations").is_none(), "{back}");
        assert_eq!(
            back["status"],
            json!({"currentReplicas": 0, "desiredReplicas": 0})
        );
    }

    #[test]
    fn no_target_means_80_percent() {
        let v2 = v1_to_v2(v1(
            json!({"scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "maxReplicas": 3}),
        ))
        .unwrap();
        assert_eq!(
            v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            80
        );
    }

    #[test]
    fn other_metrics_and_behavior_travel_in_annotations() {
        let mut stored = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web", "annotations": {"team": "a"}},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 4,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "memory",
                        "target": {"type": "AverageValue", "averageValue": "100Mi"}}},
                    {"type": "Resource", "resource": {"name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 60}}},
                ],
                "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
            "status": {"currentReplicas": 2, "desiredReplicas": 2,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                    "current": {"averageUtilization": 30, "averageValue": "10m"}}}],
                "conditions": [{"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
                    "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
        default_v2(&mut stored);
        let v1 = v2_to_v1(stored.clone());
        let ann = &v1["metadata"]["annotations"];
        assert_eq!(ann["team"], "a");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 60);
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 30);
        let other: Value =
            serde_json::from_str(ann[METRIC_SPECS_ANNOTATION].as_str().unwrap()).unwrap();
        assert_eq!(
            other,
            json!([{"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "100Mi"}}])
        );
        let behavior: Value =
            serde_json::from_str(ann[BEHAVIOR_ANNOTATION].as_str().unwrap()).unwrap();
        assert_eq!(behavior["ScaleDown"]["StabilizationWindowSeconds"], 60);
        assert_eq!(behavior["ScaleUp"]["SelectPolicy"], "Max");
        // Written back as v1, nothing is lost (the cpu metric moves to the end, as upstream).
        let round = v1_to_v2(v1).unwrap();
        assert_eq!(round["metadata"]["annotations"], json!({"team": "a"}));
        assert_eq!(round["spec"]["metrics"][0], stored["spec"]["metrics"][0]);
        assert_eq!(round["spec"]["metrics"][1], stored["spec"]["metrics"][1]);
        assert_eq!(round["spec"]["behavior"], stored["spec"]["behavior"]);
        assert_eq!(
            round["status"]["conditions"],
            stored["status"]["conditions"]
        );
        assert_eq!(
            round["status"]["currentMetrics"][0]["resource"]["current"],
            json!({"averageUtilization": 30, "averageValue": "10m"})
        );
    }

    #[test]
    fn a_bad_annotation_is_an_error() {
        let mut obj = v1(json!({"maxReplicas": 1}));
        obj["metadata"]["annotations"] = json!({METRIC_SPECS_ANNOTATION: "{"});
        assert!(v1_to_v2(obj).is_err());
    }
}
