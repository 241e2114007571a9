//! apps/v1 workloads and replication controllers: Deployments, ReplicaSets and
//! ReplicationControllers (one strategy, by `kind`), StatefulSets, DaemonSets.

use super::podspec::default_pod_template;
use super::podvalidation::validate_pod_template;
use super::util::{set_default, set_default_str, spec_of, str_of};
use super::{NameRule, Strategy};
use crate::json_path::{copy_key, object_mut};
use crate::meta::{
    go_label_selector, go_string_map, invalid_raw, not_supported_str, required, selector_is_empty,
    validate_immutable, validate_label_selector, validate_nonnegative, validate_template_meta,
    IS_NEGATIVE_ERROR_MSG,
};
use crate::selector::{selector_matches, LabelSelector};
use crate::status::Cause;
use serde_json::{json, Value};

const SELECTOR_MISMATCH: &str = "`selector` does not match template `labels`";

fn template_labels(spec: &Value) -> Option<&Value> {
    spec.pointer("/template/metadata/labels")
}

/// `Invalid value: map[string]string{…}: `selector` does not match template `labels``.
fn mismatch(spec: &Value, field: &str) -> Cause {
    invalid_raw(
        field,
        &go_string_map(template_labels(spec)),
        SELECTOR_MISMATCH,
    )
}

/// The template's pod spec defaults, when the object has a template.
fn default_template(spec: &mut Value) {
    if spec.get("template").is_some_and(|t| !t.is_null()) {
        default_pod_template(object_mut(spec, &["template"]));
    }
}

/// `ValidatePodTemplateSpecForReplicaSet` (deployments and replica sets): the selector matches
/// the template, the template is a valid pod template, pods restart `Always` and have no
/// deadline.
fn validate_template_for_replica_set(spec: &Value, kind: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let Some(template) = spec.get("template").filter(|t| t.is_object()) else {
        return vec![required("spec.template", "")];
    };
    let selector = spec.get("selector").filter(|s| !s.is_null());
    let selects_something = selector.is_none_or(|s| !selector_is_empty(s));
    if selects_something && selector_matches(selector, template_labels(spec)) == Some(false) {
        errs.push(mismatch(spec, "spec.template.metadata.labels"));
    }
    errs.extend(validate_pod_template(Some(template), "spec.template"));
    errs.extend(validate_always_restart(template, kind));
    errs
}

fn validate_always_restart(template: &Value, kind: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let rp = template
        .pointer("/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("");
    if rp != "Always" {
        errs.push(not_supported_str(
            "spec.template.spec.restartPolicy",
            rp,
            &["Always"],
        ));
    }
    if template
        .pointer("/spec/activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
    {
        errs.push(Cause::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
    errs
}

/// A required label selector: present, valid, and not empty.
fn validate_required_selector(spec: &Value, what: &str) -> Vec<Cause> {
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => vec![required("spec.selector", "")],
        Some(sel) => {
            let mut errs = validate_label_selector(Some(sel), "spec.selector");
            if selector_is_empty(sel) {
                errs.push(invalid_raw(
                    "spec.selector",
                    &go_label_selector(sel),
                    &format!("empty selector is invalid for {what}"),
                ));
            }
            errs
        }
    }
}

/// apps/v1: `spec.selector` may not change.
fn validate_selector_immutable(new: &Value, old: &Value) -> Vec<Cause> {
    let (n, o) = (spec_of(new), spec_of(old));
    validate_immutable(
        n.get("selector"),
        o.get("selector"),
        "spec.selector",
        || {
            n.get("selector")
                .filter(|s| s.is_object())
                .map_or("null".to_string(), go_label_selector)
        },
    )
}

fn intstr_go(v: &Value) -> String {
    match v {
        Value::String(s) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            crate::meta::go_quote(s)
        ),
        other => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            other.as_i64().unwrap_or(0)
        ),
    }
}

/// The percentage of a `"N%"` value.
fn percent_value(v: &Value) -> Option<i64> {
    let s = v.as_str()?;
    let digits = s.strip_suffix('%')?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn int_or_percent_value(v: Option<&Value>) -> i64 {
    match v {
        None => 0,
        Some(v) => percent_value(v).unwrap_or_else(|| match v {
            Value::String(s) => s.parse().unwrap_or(0),
            other => other.as_i64().unwrap_or(0),
        }),
    }
}

pub(super) fn validate_positive_int_or_percent(v: Option<&Value>, field: &str) -> Vec<Cause> {
    match v {
        Some(Value::String(s)) if percent_value(&json!(s)).is_none() => vec![invalid_raw(
            field,
            &intstr_go(&json!(s)),
            &crate::meta::regex_error(
                "a valid percent string must be a numeric string followed by an ending '%'",
                "[0-9]+%",
                &["1%", "93%"],
            ),
        )],
        Some(n @ Value::Number(_)) if n.as_i64().unwrap_or(0) < 0 => {
            vec![Cause::invalid(
                field,
                n.as_i64().unwrap_or(0),
                IS_NEGATIVE_ERROR_MSG,
            )]
        }
        _ => Vec::new(),
    }
}

pub(super) fn validate_not_more_than_100_percent(v: Option<&Value>, field: &str) -> Vec<Cause> {
    match v.and_then(percent_value) {
        Some(p) if p > 100 => vec![invalid_raw(
            field,
            &intstr_go(v.unwrap_or(&Value::Null)),
            "must not be greater than 100%",
        )],
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------

pub struct DeploymentStrategy;
impl Strategy for DeploymentStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn default(&self, obj: &mut Value) {
        let spec = object_mut(obj, &["spec"]);
        set_default(spec, "replicas", json!(1));
        let strategy = object_mut(spec, &["strategy"]);
        set_default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate" {
            let ru = object_mut(strategy, &["rollingUpdate"]);
            set_default(ru, "maxUnavailable", json!("25%"));
            set_default(ru, "maxSurge", json!("25%"));
        }
        set_default(spec, "revisionHistoryLimit", json!(10));
        set_default(spec, "progressDeadlineSeconds", json!(600));
        default_template(spec);
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let spec = spec_of(obj);
        let mut errs = validate_nonnegative(spec.get("replicas"), "spec.replicas");
        errs.extend(validate_required_selector(spec, "deployment"));
        errs.extend(validate_template_for_replica_set(spec, "Deployment"));
        // Strategy.
        let strategy = spec.get("strategy").cloned().unwrap_or(json!({}));
        match str_of(&strategy, "type") {
            "Recreate" => {
                if strategy.get("rollingUpdate").is_some_and(|v| !v.is_null()) {
                    errs.push(Cause::forbidden(
                        "spec.strategy.rollingUpdate",
                        "may not be specified when strategy `type` is 'Recreate'",
                    ));
                }
            }
            "RollingUpdate" => match strategy.get("rollingUpdate").filter(|v| v.is_object()) {
                None => errs.push(required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")),
                Some(ru) => {
                    let (mu, ms) = (ru.get("maxUnavailable"), ru.get("maxSurge"));
                    errs.extend(validate_positive_int_or_percent(mu, "spec.strategy.rollingUpdate.maxUnavailable"));
                    errs.extend(validate_positive_int_or_percent(ms, "spec.strategy.rollingUpdate.maxSurge"));
                    if int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0 {
                        errs.push(invalid_raw(
                            "spec.strategy.rollingUpdate.maxUnavailable",
                            &intstr_go(mu.unwrap_or(&json!(0))),
                            "may not be 0 when `maxSurge` is 0",
                        ));
                    }
                    errs.extend(validate_not_more_than_100_percent(mu, "spec.strategy.rollingUpdate.maxUnavailable"));
                }
            },
            other => errs.push(Cause::not_supported(
                "spec.strategy",
                format!(
                    "apps.DeploymentStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}",
                    crate::meta::go_quote(other)
                ),
                &["Recreate", "RollingUpdate"],
            )),
        }
        errs.extend(validate_nonnegative(
            spec.get("minReadySeconds"),
            "spec.minReadySeconds",
        ));
        errs.extend(validate_nonnegative(
            spec.get("revisionHistoryLimit"),
            "spec.revisionHistoryLimit",
        ));
        if let Some(pds) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64) {
            errs.extend(validate_nonnegative(
                spec.get("progressDeadlineSeconds"),
                "spec.progressDeadlineSeconds",
            ));
            if pds
                <= spec
                    .get("minReadySeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
            {
                errs.push(Cause::invalid(
                    "spec.progressDeadlineSeconds",
                    pds,
                    "must be greater than minReadySeconds",
                ));
            }
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        validate_selector_immutable(new, old)
    }
}

/// ReplicaSets (apps/v1) and ReplicationControllers (v1), told apart by `kind`.
pub struct ReplicatedStrategy;

fn is_rc(obj: &Value) -> bool {
    str_of(obj, "kind") == "ReplicationController"
}

impl Strategy for ReplicatedStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn default(&self, obj: &mut Value) {
        if is_rc(obj) {
            // SetDefaults_ReplicationController: selector and labels from the template's labels.
            let labels = obj
                .pointer("/spec/template/metadata/labels")
                .filter(|l| l.is_object())
                .cloned();
            if let Some(labels) = labels {
                let spec = object_mut(obj, &["spec"]);
                if spec
                    .get("selector")
                    .and_then(Value::as_object)
                    .is_none_or(serde_json::Map::is_empty)
                {
                    spec["selector"] = labels.clone();
                }
                let meta = object_mut(obj, &["metadata"]);
                if meta
                    .get("labels")
                    .and_then(Value::as_object)
                    .is_none_or(serde_json::Map::is_empty)
                {
                    meta["labels"] = labels;
                }
            }
        }
        let spec = object_mut(obj, &["spec"]);
        set_default(spec, "replicas", json!(1));
        default_template(spec);
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let spec = spec_of(obj);
        if is_rc(obj) {
            return validate_rc_spec(spec);
        }
        let mut errs = validate_nonnegative(spec.get("replicas"), "spec.replicas");
        errs.extend(validate_nonnegative(
            spec.get("minReadySeconds"),
            "spec.minReadySeconds",
        ));
        // (Upstream says "deployment" here too.)
        errs.extend(validate_required_selector(spec, "deployment"));
        errs.extend(validate_template_for_replica_set(spec, "ReplicaSet"));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        if is_rc(new) {
            Vec::new()
        } else {
            validate_selector_immutable(new, old)
        }
    }
}

fn validate_rc_spec(spec: &Value) -> Vec<Cause> {
    let mut errs = validate_nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds");
    let selector = spec
        .get("selector")
        .and_then(Value::as_object)
        .filter(|s| !s.is_empty());
    if selector.is_none() {
        errs.push(required("spec.selector", ""));
    }
    errs.extend(validate_nonnegative(spec.get("replicas"), "spec.replicas"));
    match spec.get("template").filter(|t| t.is_object()) {
        None => errs.push(required("spec.template", "")),
        Some(template) => {
            if let Some(sel) = selector {
                let labels = template_labels(spec).and_then(Value::as_object);
                if !labels.is_some_and(|l| LabelSelector::from_map(sel).matches(l)) {
                    errs.push(mismatch(spec, "spec.template.metadata.labels"));
                }
            }
            errs.extend(validate_pod_template(Some(template), "spec.template"));
            errs.extend(validate_always_restart(template, "ReplicationController"));
        }
    }
    errs
}

// ---------------------------------------------------------------------------------------------

pub struct StatefulSetStrategy;
impl Strategy for StatefulSetStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::Label
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn default(&self, obj: &mut Value) {
        let spec = object_mut(obj, &["spec"]);
        set_default_str(spec, "podManagementPolicy", "OrderedReady");
        let us = object_mut(spec, &["updateStrategy"]);
        if str_of(us, "type").is_empty() {
            us["type"] = json!("RollingUpdate");
            set_default(us, "rollingUpdate", json!({}));
        }
        if str_of(us, "type") == "RollingUpdate" {
            if let Some(ru) = us.get_mut("rollingUpdate").filter(|r| r.is_object()) {
                set_default(ru, "partition", json!(0));
            }
        }
        let retention = object_mut(spec, &["persistentVolumeClaimRetentionPolicy"]);
        set_default_str(retention, "whenDeleted", "Retain");
        set_default_str(retention, "whenScaled", "Retain");
        set_default(spec, "replicas", json!(1));
        set_default(spec, "revisionHistoryLimit", json!(10));
        default_template(spec);
        if let Some(vcts) = spec
            .get_mut("volumeClaimTemplates")
            .and_then(Value::as_array_mut)
        {
            for pvc in vcts.iter_mut().filter(|p| p.is_object()) {
                set_default(
                    object_mut(pvc, &["spec"]),
                    "volumeMode",
                    json!("Filesystem"),
                );
                set_default_str(object_mut(pvc, &["status"]), "phase", "Pending");
            }
        }
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let spec = spec_of(obj);
        let mut errs = Vec::new();
        match str_of(spec, "podManagementPolicy") {
            "" => errs.push(required("spec.podManagementPolicy", "")),
            "OrderedReady" | "Parallel" => {}
            other => errs.push(crate::meta::invalid_str(
                "spec.podManagementPolicy",
                other,
                "must be 'OrderedReady' or 'Parallel'",
            )),
        }
        let us = spec.get("updateStrategy").cloned().unwrap_or(json!({}));
        match str_of(&us, "type") {
            "" => errs.push(required("spec.updateStrategy", "")),
            "OnDelete" => {
                if us.get("rollingUpdate").is_some_and(|v| !v.is_null()) {
                    errs.push(invalid_raw(
                        "spec.updateStrategy.rollingUpdate",
                        &us["rollingUpdate"].to_string(),
                        "only allowed for updateStrategy 'RollingUpdate'",
                    ));
                }
            }
            "RollingUpdate" => {
                if let Some(ru) = us.get("rollingUpdate").filter(|v| v.is_object()) {
                    errs.extend(validate_nonnegative(ru.get("partition"), "spec.updateStrategy.rollingUpdate.partition"));
                    if let Some(mu) = ru.get("maxUnavailable").filter(|v| !v.is_null()) {
                        let p = "spec.updateStrategy.rollingUpdate.maxUnavailable";
                        errs.extend(validate_positive_int_or_percent(Some(mu), p));
                        if int_or_percent_value(Some(mu)) == 0 {
                            errs.push(invalid_raw(p, &intstr_go(mu), "cannot be 0"));
                        }
                        errs.extend(validate_not_more_than_100_percent(Some(mu), p));
                    }
                }
            }
            other => errs.push(invalid_raw(
                "spec.updateStrategy",
                &format!("apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}}", crate::meta::go_quote(other)),
                "must be 'RollingUpdate' or 'OnDelete'",
            )),
        }
        if let Some(policy) = spec
            .get("persistentVolumeClaimRetentionPolicy")
            .filter(|p| p.is_object())
        {
            for key in ["whenDeleted", "whenScaled"] {
                let v = str_of(policy, key);
                if !["Retain", "Delete"].contains(&v) {
                    errs.push(not_supported_str(
                        format!("spec.persistentVolumeClaimRetentionPolicy.{key}"),
                        v,
                        &["Retain", "Delete"],
                    ));
                }
            }
        }
        errs.extend(validate_nonnegative(spec.get("replicas"), "spec.replicas"));
        errs.extend(validate_nonnegative(
            spec.get("minReadySeconds"),
            "spec.minReadySeconds",
        ));
        errs.extend(validate_nonnegative(
            spec.pointer("/ordinals/start"),
            "spec.ordinals.start",
        ));
        errs.extend(validate_required_selector(spec, "statefulset"));
        // Upstream checks only the template's metadata for StatefulSets, not its pod spec.
        let selector = spec.get("selector").filter(|s| !s.is_null());
        if selector.is_none_or(|s| !selector_is_empty(s))
            && selector_matches(selector, template_labels(spec)) == Some(false)
        {
            errs.push(mismatch(spec, "spec.template.metadata.labels"));
        }
        errs.extend(validate_template_meta(
            spec.pointer("/template/metadata"),
            "spec.template",
        ));
        let template = spec.get("template").cloned().unwrap_or(json!({}));
        errs.extend(validate_always_restart(&template, "StatefulSet"));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        let mut n = spec_of(new).clone();
        let o = spec_of(old);
        for key in [
            "replicas",
            "template",
            "updateStrategy",
            "minReadySeconds",
            "ordinals",
            "persistentVolumeClaimRetentionPolicy",
        ] {
            copy_key(o, &mut n, key);
        }
        if n != *o {
            vec![Cause::forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            )]
        } else {
            Vec::new()
        }
    }
}

// ---------------------------------------------------------------------------------------------

pub struct DaemonSetStrategy;
impl Strategy for DaemonSetStrategy {
    fn tracks_generation(&self) -> bool {
        true
    }

    fn default(&self, obj: &mut Value) {
        let spec = object_mut(obj, &["spec"]);
        let us = object_mut(spec, &["updateStrategy"]);
        set_default_str(us, "type", "RollingUpdate");
        if str_of(us, "type") == "RollingUpdate" {
            let ru = object_mut(us, &["rollingUpdate"]);
            set_default(ru, "maxUnavailable", json!(1));
            set_default(ru, "maxSurge", json!(0));
        }
        set_default(spec, "revisionHistoryLimit", json!(10));
        default_template(spec);
    }

    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let spec = spec_of(obj);
        let selector = spec.get("selector").filter(|s| !s.is_null());
        let mut errs = validate_label_selector(selector, "spec.selector");
        if selector_matches(selector, template_labels(spec)) == Some(false) {
            errs.push(mismatch(spec, "spec.template.metadata.labels"));
        }
        if let Some(sel) = selector.filter(|s| selector_is_empty(s)) {
            errs.push(invalid_raw(
                "spec.selector",
                &go_label_selector(sel),
                "empty selector is invalid for daemonset",
            ));
        }
        errs.extend(validate_pod_template(spec.get("template"), "spec.template"));
        let template = spec.get("template").cloned().unwrap_or(json!({}));
        errs.extend(validate_always_restart(&template, "DaemonSet"));
        errs.extend(validate_nonnegative(
            spec.get("minReadySeconds"),
            "spec.minReadySeconds",
        ));
        errs.extend(validate_nonnegative(
            spec.get("templateGeneration"),
            "spec.templateGeneration",
        ));
        let us = spec.get("updateStrategy").cloned().unwrap_or(json!({}));
        match str_of(&us, "type") {
            "OnDelete" => {}
            "RollingUpdate" => match us.get("rollingUpdate").filter(|v| v.is_object()) {
                None => errs.push(required("spec.updateStrategy.rollingUpdate", "")),
                Some(ru) => {
                    let p = "spec.updateStrategy.rollingUpdate";
                    let (mu, ms) = (ru.get("maxUnavailable"), ru.get("maxSurge"));
                    errs.extend(validate_positive_int_or_percent(mu, &format!("{p}.maxUnavailable")));
                    errs.extend(validate_positive_int_or_percent(ms, &format!("{p}.maxSurge")));
                    errs.extend(validate_not_more_than_100_percent(mu, &format!("{p}.maxUnavailable")));
                    errs.extend(validate_not_more_than_100_percent(ms, &format!("{p}.maxSurge")));
                    let (hu, hs) = (int_or_percent_value(mu) != 0, int_or_percent_value(ms) != 0);
                    if hu && hs {
                        errs.push(invalid_raw(
                            format!("{p}.maxSurge"),
                            &intstr_go(ms.unwrap_or(&json!(0))),
                            "may not be set when maxUnavailable is non-zero",
                        ));
                    } else if !hu && !hs {
                        errs.push(required(format!("{p}.maxUnavailable"), "cannot be 0 when maxSurge is 0"));
                    }
                }
            },
            other => errs.push(Cause::not_supported(
                "spec.updateStrategy",
                format!(
                    "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}}",
                    crate::meta::go_quote(other)
                ),
                &["RollingUpdate", "OnDelete"],
            )),
        }
        errs.extend(validate_nonnegative(
            spec.get("revisionHistoryLimit"),
            "spec.revisionHistoryLimit",
        ));
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<Cause> {
        validate_selector_immutable(new, old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(spec: Value) -> Value {
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"}, "spec": spec});
        DeploymentStrategy.default(&mut d);
        d
    }

    #[test]
    fn minimal_deployment_looks_like_a_real_cluster() {
        let d = deployment(json!({"selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}));
        assert_eq!(
            d["spec"],
            json!({
                "progressDeadlineSeconds": 600,
                "replicas": 1,
                "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [{"image": "nginx", "imagePullPolicy": "Always", "name": "nginx", "resources": {},
                            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
                        "dnsPolicy": "ClusterFirst",
                        "restartPolicy": "Always",
                        "schedulerName": "default-scheduler",
                        "securityContext": {},
                        "terminationGracePeriodSeconds": 30
                    }
                }
            })
        );
        assert!(DeploymentStrategy.validate(&d).is_empty());
    }

    #[test]
    fn selector_mistakes() {
        let d = deployment(
            json!({"template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}}),
        );
        let errs: Vec<String> = DeploymentStrategy
            .validate(&d)
            .iter()
            .map(Cause::summary)
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
            ]
        );
        let d = deployment(
            json!({"selector": {"matchLabels": {"app": "api"}}, "replicas": -1,
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a"}]}}}),
        );
        let errs: Vec<String> = DeploymentStrategy
            .validate(&d)
            .iter()
            .map(Cause::summary)
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
                "spec.template.spec.containers[0].image: Required value",
            ]
        );
        let d = deployment(
            json!({"selector": {}, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}),
        );
        assert_eq!(
            DeploymentStrategy.validate(&d)[0].summary(),
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
        );
    }

    #[test]
    fn selector_is_immutable() {
        let old = deployment(json!({"selector": {"matchLabels": {"app": "web"}}}));
        let new = deployment(json!({"selector": {"matchLabels": {"app": "web2"}}}));
        assert_eq!(
            DeploymentStrategy.validate_update(&new, &old)[0].summary(),
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
        );
        assert!(DeploymentStrategy.validate_update(&old, &old).is_empty());
    }

    #[test]
    fn rolling_update_rules() {
        let d = deployment(
            json!({"selector": {"matchLabels": {"a": "b"}}, "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}}),
        );
        assert_eq!(
            DeploymentStrategy.validate(&d)[0].summary(),
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"0%\"}: may not be 0 when `maxSurge` is 0"
        );
    }

    #[test]
    fn replica_set_and_rc() {
        let mut rs = json!({"kind": "ReplicaSet", "spec": {"selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "x"}]}}}});
        ReplicatedStrategy.default(&mut rs);
        assert_eq!(rs["spec"]["replicas"], 1);
        assert_eq!(
            ReplicatedStrategy.validate(&rs)[0].summary(),
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""
        );
        let mut rc = json!({"kind": "ReplicationController", "metadata": {"name": "rc"}, "spec": {
            "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}}});
        ReplicatedStrategy.default(&mut rc);
        assert_eq!(rc["spec"]["selector"], json!({"app": "x"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "x"}));
        assert!(ReplicatedStrategy.validate(&rc).is_empty());
        rc["spec"]["selector"] = json!({"app": "y"});
        assert_eq!(
            ReplicatedStrategy.validate(&rc)[0].field,
            "spec.template.metadata.labels"
        );
    }

    #[test]
    fn stateful_set_defaults_and_rules() {
        let mut s = json!({"metadata": {"name": "db"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "serviceName": "db",
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}});
        StatefulSetStrategy.default(&mut s);
        let spec = &s["spec"];
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(
            spec["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        assert_eq!(
            spec["volumeClaimTemplates"][0]["status"],
            json!({"phase": "Pending"})
        );
        assert!(StatefulSetStrategy.validate(&s).is_empty());
        assert_eq!(StatefulSetStrategy.name_rule(), NameRule::Label);
        let mut changed = s.clone();
        changed["spec"]["serviceName"] = json!("other");
        assert_eq!(
            StatefulSetStrategy.validate_update(&changed, &s)[0].field,
            "spec"
        );
        changed = s.clone();
        changed["spec"]["replicas"] = json!(3);
        assert!(StatefulSetStrategy.validate_update(&changed, &s).is_empty());
    }

    #[test]
    fn daemon_set_defaults_and_rules() {
        let mut ds = json!({"spec": {"selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "a", "image": "x"}]}}}});
        DaemonSetStrategy.default(&mut ds);
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
        assert!(DaemonSetStrategy.validate(&ds).is_empty());
        ds["spec"]["updateStrategy"]["rollingUpdate"]["maxSurge"] = json!(1);
        assert_eq!(
            DaemonSetStrategy.validate(&ds)[0].summary(),
            "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:0, IntVal:1, StrVal:\"\"}: may not be set when maxUnavailable is non-zero"
        );
    }
}
