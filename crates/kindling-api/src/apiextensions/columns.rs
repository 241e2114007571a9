//! A custom resource's Table (upstream's customresource tableconvertor): `Name`, then the
//! version's additionalPrinterColumns (`Age` from creationTimestamp when it declares none),
//! cells read with their JSONPath.

use crate::json_path::str_at;
use crate::table::human_duration;
use jiff::Timestamp;
use serde_json::{json, Value};

/// One additional printer column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i64,
    pub json_path: String,
}

/// The columns of one served version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomColumns {
    pub columns: Vec<CustomColumn>,
}

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

impl CustomColumns {
    /// The columns of a CRD version (`spec.versions[i]`).
    pub fn from_version(version: &Value) -> CustomColumns {
        let declared = version["additionalPrinterColumns"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let columns = if declared.is_empty() {
            vec![CustomColumn {
                name: "Age".into(),
                type_: "date".into(),
                format: String::new(),
                description: AGE_DESCRIPTION.into(),
                priority: 0,
                json_path: ".metadata.creationTimestamp".into(),
            }]
        } else {
            declared
                .iter()
                .map(|c| CustomColumn {
                    name: str_at(c, &["name"]).into(),
                    type_: str_at(c, &["type"]).into(),
                    format: str_at(c, &["format"]).into(),
                    description: str_at(c, &["description"]).into(),
                    priority: c["priority"].as_i64().unwrap_or(0),
                    json_path: str_at(c, &["jsonPath"]).into(),
                })
                .collect()
        };
        CustomColumns { columns }
    }

    /// The Table's columnDefinitions.
    pub fn definitions(&self) -> Vec<Value> {
        let mut out = vec![json!({"name": "Name", "type": "string", "format": "name",
            "description": NAME_DESCRIPTION, "priority": 0})];
        for c in &self.columns {
            out.push(json!({"name": c.name, "type": c.type_, "format": c.format,
                "description": c.description, "priority": c.priority}));
        }
        out
    }

    /// The cells of `obj`'s row.
    pub fn row(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let mut out = vec![json!(str_at(obj, &["metadata", "name"]))];
        for c in &self.columns {
            let found = read_path(obj, &c.json_path);
            out.push(cell(&c.type_, found, now));
        }
        out
    }
}

/// A cell as upstream prints it: dates as ages, missing values as null, lists joined.
fn cell(type_: &str, found: Vec<&Value>, now: Timestamp) -> Value {
    let Some(first) = found.first() else {
        return Value::Null;
    };
    if type_ == "date" {
        return match first.as_str().and_then(|s| s.parse::<Timestamp>().ok()) {
            Some(t) => json!(human_duration(now.duration_since(t))),
            None => Value::Null,
        };
    }
    if found.len() > 1 {
        let parts: Vec<String> = found.iter().map(|v| text(v)).collect();
        return json!(parts.join(","));
    }
    match (type_, first) {
        ("integer" | "number" | "boolean", v) if !v.is_string() => (*first).clone(),
        ("string", Value::String(_)) => (*first).clone(),
        (_, v) => json!(text(v)),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The values a printer column's JSONPath picks: `.a.b`, `.a[0]`, `.a[*].b` and
/// `.a[?(@.k=="v")].b`, the forms CRDs use.
pub fn read_path<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut current: Vec<&Value> = vec![obj];
    for step in steps(path) {
        let mut next = Vec::new();
        for v in current {
            match &step {
                Step::Key(k) => next.extend(v.get(k.as_str())),
                Step::Index(i) => next.extend(v.get(*i)),
                Step::All => next.extend(v.as_array().into_iter().flatten()),
                Step::Filter(k, want) => next.extend(
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .filter(|item| item.get(k.as_str()).map(text).as_deref() == Some(want)),
                ),
            }
        }
        current = next;
    }
    current
}

enum Step {
    Key(String),
    Index(usize),
    All,
    Filter(String, String),
}

fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
            continue;
        }
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            let inner = &r[..end];
            rest = r.get(end + 1..).unwrap_or("");
            if inner == "*" {
                out.push(Step::All);
            } else if let Ok(i) = inner.parse() {
                out.push(Step::Index(i));
            } else if let Some(f) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                if let Some((k, v)) = f.split_once("==") {
                    let v = v.trim().trim_matches('"').trim_matches('\'');
                    out.push(Step::Filter(k.trim().to_string(), v.to_string()));
                }
            } else {
                out.push(Step::Key(
                    inner.trim_matches('\'').trim_matches('"').to_string(),
                ));
            }
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        out.push(Step::Key(rest[..end].to_string()));
        rest = &rest[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_pick_values() {
        let obj = json!({"spec": {"replicas": 3, "ports": [{"port": 80}, {"port": 443}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(read_path(&obj, ".spec.replicas"), vec![&json!(3)]);
        assert_eq!(read_path(&obj, ".spec.ports[1].port"), vec![&json!(443)]);
        assert_eq!(read_path(&obj, ".spec.ports[*].port").len(), 2);
        assert_eq!(
            read_path(&obj, ".status.conditions[?(@.type==\"Ready\")].status"),
            vec![&json!("True")]
        );
        let cols = CustomColumns::from_version(&json!({"additionalPrinterColumns": [
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"}]}));
        assert_eq!(
            cols.row(&obj, Timestamp::now())[1..],
            [json!(3), Value::Null]
        );
    }
}
