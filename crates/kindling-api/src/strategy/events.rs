//! Events, core/v1 and events.k8s.io/v1 (one storage: see `convert::events`). Upstream validates
//! both on the core form (pkg/apis/core/validation `ValidateEventCreate`): every event gets the
//! legacy rules; events created through events.k8s.io/v1 also the strict ones (an `eventTime`,
//! a known `type`, none of the deprecated fields). Field names in the errors are core's, as
//! upstream's, except `reportingController`/`reportingComponent`, named after the request's API.

use super::util::str_of;
use super::Strategy;
use crate::convert::events::v1_to_core;
use crate::meta::{dns1123_subdomain_errors, invalid_str, qualified_name_errors, required};
use crate::status::Cause;
use serde_json::Value;

pub struct EventStrategy;

impl Strategy for EventStrategy {
    fn validate(&self, obj: &Value) -> Vec<Cause> {
        legacy_validate(obj, "reportingComponent")
    }
}

/// events.k8s.io/v1 Events, validated on their core form.
pub struct EventsV1Strategy;

impl Strategy for EventsV1Strategy {
    fn validate(&self, obj: &Value) -> Vec<Cause> {
        let core = v1_to_core(obj.clone()).unwrap_or_default();
        let mut errs = legacy_validate(&core, "reportingController");
        errs.extend(strict_validate(&core));
        errs
    }
}

const LENGTH_LIMIT: usize = 128;
const NOTE_LENGTH_LIMIT: usize = 1024;

fn set(v: &Value, key: &str) -> bool {
    !v.get(key).is_none_or(Value::is_null)
}

/// `legacyValidateEvent`.
fn legacy_validate(event: &Value, reporting_field: &str) -> Vec<Cause> {
    let mut errs = Vec::new();
    let ns = str_of(&event["metadata"], "namespace");
    let involved_ns = str_of(&event["involvedObject"], "namespace");
    let mismatch = |errs: &mut Vec<Cause>| {
        errs.push(invalid_str(
            "involvedObject.namespace",
            involved_ns,
            "does not match event.namespace",
        ));
    };
    if !set(event, "eventTime") {
        if involved_ns.is_empty() {
            if !ns.is_empty() && ns != "default" {
                mismatch(&mut errs);
            }
        } else if ns != involved_ns {
            mismatch(&mut errs);
        }
    } else {
        if involved_ns.is_empty() && ns != "default" && ns != "kube-system" {
            mismatch(&mut errs);
        }
        let controller = str_of(event, "reportingComponent");
        if controller.is_empty() {
            errs.push(required(reporting_field, ""));
        }
        for msg in qualified_name_errors(controller) {
            errs.push(invalid_str(reporting_field, controller, &msg));
        }
        for (field, limit) in [
            ("reportingInstance", LENGTH_LIMIT),
            ("action", LENGTH_LIMIT),
            ("reason", LENGTH_LIMIT),
        ] {
            let v = str_of(event, field);
            if v.is_empty() {
                errs.push(required(field, ""));
            }
            if v.len() > limit {
                errs.push(invalid_str(
                    field,
                    "",
                    &format!("can have at most {limit} characters"),
                ));
            }
        }
        if str_of(event, "message").len() > NOTE_LENGTH_LIMIT {
            errs.push(invalid_str(
                "message",
                "",
                &format!("can have at most {NOTE_LENGTH_LIMIT} characters"),
            ));
        }
    }
    for msg in dns1123_subdomain_errors(ns) {
        errs.push(invalid_str("namespace", ns, &msg));
    }
    errs
}

/// The rules only events.k8s.io/v1 creates follow.
fn strict_validate(event: &Value) -> Vec<Cause> {
    let mut errs = Vec::new();
    if let Some(series) = event.get("series").filter(|s| s.is_object()) {
        if series["count"].as_i64().unwrap_or(0) < 2 {
            errs.push(invalid_str("series.count", "", "should be at least 2"));
        }
        if !set(series, "lastObservedTime") {
            errs.push(required("series.lastObservedTime", ""));
        }
    }
    if !set(event, "eventTime") {
        errs.push(required("eventTime", ""));
    }
    let t = str_of(event, "type");
    if t != "Normal" && t != "Warning" {
        errs.push(invalid_str("type", "", &format!("has invalid value: {t}")));
    }
    for field in ["firstTimestamp", "lastTimestamp"] {
        if set(event, field) {
            errs.push(invalid_str(field, "", "needs to be unset"));
        }
    }
    if event["count"].as_i64().unwrap_or(0) != 0 {
        errs.push(invalid_str("count", "", "needs to be unset"));
    }
    if !str_of(&event["source"], "component").is_empty()
        || !str_of(&event["source"], "host").is_empty()
    {
        errs.push(invalid_str("source", "", "needs to be unset"));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(errs: Vec<Cause>) -> Vec<String> {
        errs.iter().map(Cause::summary).collect()
    }

    #[test]
    fn a_v1_event_needs_its_reporting_fields_and_time() {
        let ev = json!({"metadata": {"name": "e", "namespace": "default"},
            "regarding": {"kind": "Pod", "name": "web", "namespace": "default"}, "type": "Normal"});
        let errs = messages(EventsV1Strategy.validate(&ev));
        assert!(
            errs.contains(&"eventTime: Required value".to_string()),
            "{errs:?}"
        );
        let ev = json!({"metadata": {"name": "e", "namespace": "default"},
            "eventTime": "2026-01-01T00:00:00.000000Z", "type": "Sometimes",
            "regarding": {"kind": "Pod", "name": "web", "namespace": "other"}});
        let errs = messages(EventsV1Strategy.validate(&ev));
        assert_eq!(errs[0], "reportingController: Required value");
        assert!(errs[1]
            .starts_with("reportingController: Invalid value: \"\": name part must be non-empty"));
        assert_eq!(
            errs[3..],
            [
                "reportingInstance: Required value",
                "action: Required value",
                "reason: Required value",
                "type: Invalid value: \"\": has invalid value: Sometimes",
            ]
        );
        // A new-style event about an object in no namespace must be in default or kube-system.
        let ev = json!({"metadata": {"name": "e", "namespace": "apps"},
            "eventTime": "2026-01-01T00:00:00.000000Z", "type": "Normal", "action": "A",
            "reason": "R", "reportingController": "x.io/c", "reportingInstance": "i",
            "regarding": {"kind": "Node", "name": "n"}});
        assert_eq!(
            messages(EventsV1Strategy.validate(&ev)),
            ["involvedObject.namespace: Invalid value: \"\": does not match event.namespace"]
        );
    }

    #[test]
    fn core_events_keep_the_legacy_rules() {
        let ev = json!({"metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
            "reason": "Started", "message": "ok", "type": "Normal"});
        assert!(EventStrategy.validate(&ev).is_empty());
    }
}
