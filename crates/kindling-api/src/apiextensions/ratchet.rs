//! Validation ratcheting (upstream's CRDValidationRatcheting, on by default since 1.30): on an
//! update, an error of the schema or of a CEL rule that does not look at `oldSelf` is dropped
//! when the value it is about is unchanged from the stored object, so a definition can be
//! tightened without making its old objects impossible to update.
//!
//! As upstream's ratcheting validator: a node's errors (its own and those below it) are
//! dropped when the node's value is deep-equal to its correlated old value. Values correlate
//! from the root down: object fields and map entries by name, items of
//! `x-kubernetes-list-type: map` lists by their keys, of `set` lists by value; items of atomic
//! lists do not correlate (only the whole list does). Here for the schema's errors, placed by
//! their field paths; CEL rules are ratcheted by their node as the rules walk the object
//! (`Rules::validate_ratcheting`), and transition rules never. No IO.

use crate::status::Cause;
use serde_json::Value;

/// `errors` of the update of `old` to `new` (objects of `schema`), less those ratcheted.
pub fn ratchet(errors: Vec<Cause>, schema: &Value, new: &Value, old: &Value) -> Vec<Cause> {
    errors
        .into_iter()
        .filter(|e| !unchanged_along(&e.field, schema, new, old))
        .collect()
}

/// Whether a node on the way to `path` (the root included) is unchanged from its correlated
/// old value.
fn unchanged_along(path: &str, schema: &Value, new: &Value, old: &Value) -> bool {
    let (mut schema, mut new, mut old) = (schema, new, old);
    let mut rest = path;
    loop {
        if new == old {
            return true;
        }
        let Some((step, after)) = next_step(rest) else {
            return false;
        };
        let next = match (new, step) {
            (Value::Object(_), name) => {
                let child_schema = match schema.get("properties").and_then(|p| p.get(name)) {
                    Some(s) => s,
                    None => schema.get("additionalProperties").unwrap_or(&Value::Null),
                };
                new.get(name)
                    .zip(old.get(name))
                    .map(|(n, o)| (child_schema, n, o))
            }
            (Value::Array(items), index) => {
                let item_schema = schema.get("items").unwrap_or(&Value::Null);
                let item = index.parse::<usize>().ok().and_then(|i| items.get(i));
                let old_items = old.as_array().map(Vec::as_slice).unwrap_or_default();
                item.and_then(|item| {
                    super::rules::correlated(schema, item, old_items)
                        .map(|o| (item_schema, item, o))
                })
            }
            _ => None,
        };
        let Some((s, n, o)) = next else {
            return false;
        };
        (schema, new, old) = (s, n, o);
        rest = after;
    }
}

/// The first step of `path` and what follows it: a field name, a map key or a list index
/// (`a`, `[k]`, `[0]`: which of the last two it is depends on the value).
fn next_step(path: &str) -> Option<(&str, &str)> {
    let path = path.strip_prefix('.').unwrap_or(path);
    if path.is_empty() {
        return None;
    }
    if let Some(inner) = path.strip_prefix('[') {
        let end = inner.find(']')?;
        return Some((&inner[..end], &inner[end + 1..]));
    }
    let end = path.find(['.', '[']).unwrap_or(path.len());
    Some((&path[..end], &path[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "name": {"type": "string", "maxLength": 3},
            "other": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}},
            "ports": {"type": "array", "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "port": {"type": "integer", "maximum": 100}}}},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}},
            "set": {"type": "array", "x-kubernetes-list-type": "set",
                "items": {"type": "string", "maxLength": 3}}
        }}}})
    }

    fn kept(field: &str, new: Value, old: Value) -> bool {
        let e = Cause {
            reason: "FieldValueInvalid",
            message: "Invalid value".into(),
            field: field.into(),
        };
        !ratchet(vec![e], &schema(), &new, &old).is_empty()
    }

    #[test]
    fn unchanged_values_are_ratcheted() {
        let old = json!({"spec": {"name": "toolong", "other": "a",
            "labels": {"k": "long", "j": "ok"},
            "ports": [{"name": "a", "port": 200}, {"name": "b", "port": 1}],
            "tags": ["long", "x"], "set": ["long", "x"]}});
        // Something else changed: each violating value is still the old one.
        let mut new = old.clone();
        new["spec"]["other"] = json!("b");
        new["spec"]["labels"]["j"] = json!("no");
        new["spec"]["ports"] = json!([{"name": "b", "port": 2}, {"name": "a", "port": 200}]);
        new["spec"]["set"] = json!(["y", "long"]);
        assert!(!kept("spec.name", new.clone(), old.clone()));
        assert!(!kept("spec.labels[k]", new.clone(), old.clone()));
        // Map-list items correlate by key, not position.
        assert!(!kept("spec.ports[1].port", new.clone(), old.clone()));
        // Set items correlate by value.
        assert!(!kept("spec.set[1]", new.clone(), old.clone()));
        // An unchanged atomic list ratchets as a whole.
        assert!(!kept("spec.tags[0]", new.clone(), old.clone()));
        // A no-op update ratchets everything.
        assert!(!kept("spec.name", old.clone(), old.clone()));
    }

    #[test]
    fn changed_or_new_values_are_not_ratcheted() {
        let old = json!({"spec": {"name": "toolong", "labels": {"k": "long"},
            "ports": [{"name": "a", "port": 200}], "tags": ["long", "x"]}});
        let mut new = old.clone();
        new["spec"]["name"] = json!("stilltoolong");
        assert!(kept("spec.name", new.clone(), old.clone()));
        let mut new = old.clone();
        new["spec"]["labels"]["n"] = json!("long");
        assert!(kept("spec.labels[n]", new.clone(), old.clone()));
        let mut new = old.clone();
        new["spec"]["ports"][0]["port"] = json!(300);
        assert!(kept("spec.ports[0].port", new.clone(), old.clone()));
        // An item of a changed atomic list does not correlate, even if it is the same.
        let mut new = old.clone();
        new["spec"]["tags"] = json!(["long", "y"]);
        assert!(kept("spec.tags[0]", new, old.clone()));
        // A field the old object did not have.
        let mut new = old.clone();
        new["spec"]["other"] = json!("x");
        new["spec"]["extra"] = json!({"a": 1});
        assert!(kept("spec.extra.a", new, old));
    }
}
