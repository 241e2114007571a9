//! events.k8s.io/v1 Event ⇄ core/v1 Event, field for field as upstream's conversion
//! (pkg/apis/events/v1/conversion.go): `regarding` ⇄ `involvedObject`, `note` ⇄ `message`,
//! `reportingController` ⇄ `reportingComponent`, `deprecatedSource` ⇄ `source`,
//! `deprecatedFirstTimestamp`/`deprecatedLastTimestamp`/`deprecatedCount` ⇄
//! `firstTimestamp`/`lastTimestamp`/`count`; the rest (`eventTime`, `series`, `related`,
//! `reportingInstance`, `action`, `reason`, `type`, metadata) is shared.
//!
//! The output carries the fields Go's encoding of the target type always writes: struct fields
//! without `omitempty` effect (`involvedObject`/`regarding`, `source`/`deprecatedSource` as `{}`,
//! the timestamps as `null`) and core's `reportingComponent`/`reportingInstance`, which have no
//! `omitempty`.

use serde_json::{Map, Value};

/// (events.k8s.io/v1 field, core/v1 field) pairs that only change name.
const RENAMED: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// Fields both versions share.
const SHARED: &[&str] = &[
    "metadata",
    "eventTime",
    "series",
    "related",
    "reportingInstance",
    "action",
    "reason",
    "type",
];

fn convert(obj: Value, api_version: &str, to_core: bool) -> Map<String, Value> {
    let mut from = match obj {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut out = Map::new();
    out.insert("kind".into(), Value::String("Event".into()));
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    for field in SHARED {
        if let Some(v) = from.remove(*field) {
            out.insert((*field).into(), v);
        }
    }
    for (v1, core) in RENAMED {
        let (src, dst) = if to_core { (v1, core) } else { (core, v1) };
        if let Some(v) = from.remove(*src) {
            out.insert((*dst).into(), v);
        }
    }
    out
}

fn always(out: &mut Map<String, Value>, field: &str, zero: Value) {
    if out.get(field).is_none_or(serde_json::Value::is_null) {
        out.insert(field.into(), zero);
    }
}

/// Drops what Go's `omitempty` leaves out: empty strings and zero counts.
fn omit_empty(out: &mut Map<String, Value>, fields: &[&str]) {
    for f in fields {
        let empty = match out.get(*f) {
            Some(Value::String(s)) => s.is_empty(),
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::Null) => true,
            _ => false,
        };
        if empty {
            out.remove(*f);
        }
    }
}

/// An events.k8s.io/v1 Event as core/v1 stores it.
pub fn v1_to_core(obj: Value) -> Result<Value, String> {
    let mut out = convert(obj, "v1", true);
    always(&mut out, "involvedObject", Value::Object(Map::new()));
    always(&mut out, "source", Value::Object(Map::new()));
    for t in ["firstTimestamp", "lastTimestamp", "eventTime"] {
        always(&mut out, t, Value::Null);
    }
    for f in ["reportingComponent", "reportingInstance"] {
        always(&mut out, f, Value::String(String::new()));
    }
    omit_empty(&mut out, &["reason", "message", "count", "type", "action"]);
    Ok(Value::Object(out))
}

/// A stored core/v1 Event as events.k8s.io/v1 shows it.
pub fn core_to_v1(obj: Value) -> Value {
    let mut out = convert(obj, "events.k8s.io/v1", false);
    always(&mut out, "eventTime", Value::Null);
    always(&mut out, "regarding", Value::Object(Map::new()));
    always(&mut out, "deprecatedSource", Value::Object(Map::new()));
    for t in ["deprecatedFirstTimestamp", "deprecatedLastTimestamp"] {
        always(&mut out, t, Value::Null);
    }
    omit_empty(
        &mut out,
        &[
            "reportingController",
            "reportingInstance",
            "action",
            "reason",
            "note",
            "type",
            "deprecatedCount",
        ],
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn v1_event_maps_onto_core_fields() {
        let v1 = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e1", "namespace": "default"},
            "eventTime": "2026-01-01T00:00:00.000000Z",
            "reportingController": "kindling.io/test", "reportingInstance": "test-1",
            "action": "Testing", "reason": "Tested", "type": "Normal",
            "regarding": {"kind": "Pod", "name": "web", "namespace": "default"},
            "note": "it works",
        });
        let core = v1_to_core(v1.clone()).unwrap();
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "web");
        assert_eq!(core["message"], "it works");
        assert_eq!(core["reportingComponent"], "kindling.io/test");
        assert_eq!(core["source"], json!({}));
        assert_eq!(core["firstTimestamp"], Value::Null);
        assert!(core.get("count").is_none());
        // And back: the same object.
        let back = core_to_v1(core);
        for field in [
            "eventTime",
            "reportingController",
            "reportingInstance",
            "action",
            "reason",
            "type",
            "regarding",
            "note",
        ] {
            assert_eq!(back[field], v1[field], "{field}");
        }
        assert_eq!(back["deprecatedSource"], json!({}));
        assert_eq!(back["deprecatedFirstTimestamp"], Value::Null);
    }

    #[test]
    fn core_event_shows_its_deprecated_fields_in_v1() {
        let core = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web"},
            "reason": "Pulled", "message": "pulled", "type": "Normal",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:01:00Z",
            "count": 3,
        });
        let v1 = core_to_v1(core);
        assert_eq!(v1["regarding"]["name"], "web");
        assert_eq!(v1["note"], "pulled");
        assert_eq!(v1["deprecatedSource"]["component"], "kubelet");
        assert_eq!(v1["deprecatedCount"], 3);
        assert_eq!(v1["deprecatedLastTimestamp"], "2026-01-01T00:01:00Z");
        assert_eq!(v1["eventTime"], Value::Null);
        assert!(v1.get("reportingController").is_none());
    }
}
