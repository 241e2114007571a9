//! JSON objects in upstream's field order. kube-apiserver re-encodes every object through its Go
//! struct, so what it serves always reads `kind, apiVersion, metadata, spec, status`, each level
//! in struct order, whatever order the client wrote; clients and tests that compare bytes notice
//! the difference. The message table knows the struct order of every built-in type, so one walk
//! puts an object in that order; fields the table does not know keep their order, last.

use super::schema::{message, message_for_kind, Card, Field, Message, Special, Ty, INLINE};
use serde_json::{Map, Value};

/// Puts `obj` (a built-in kind naming its `apiVersion` and `kind`) in upstream's field order.
/// Objects of kinds the table does not know (custom resources) are left as they are.
pub fn order_like_upstream(obj: &mut Value) {
    let (Some(api_version), Some(kind)) = (
        obj.get("apiVersion").and_then(Value::as_str),
        obj.get("kind").and_then(Value::as_str),
    ) else {
        return;
    };
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let Some(msg) = message_for_kind(group, version, kind) else {
        return;
    };
    let Value::Object(map) = obj else { return };
    let mut old = std::mem::take(map);
    for key in ["kind", "apiVersion"] {
        if let Some(v) = old.shift_remove(key) {
            map.insert(key.into(), v);
        }
    }
    place(msg, &mut old, map);
    map.append(&mut old);
}

/// Moves `msg`'s fields from `old` into `new` in struct order (inline members in place).
fn place(msg: &'static Message, old: &mut Map<String, Value>, new: &mut Map<String, Value>) {
    // Each present field is looked up in the struct by name (a few dozen short names at most),
    // rather than each of the struct's fields hashed to be looked up in the object.
    let mut known: Vec<(usize, &'static Field, String, Value)> = Vec::with_capacity(old.len());
    let mut unknown = Map::new();
    for (k, v) in std::mem::take(old) {
        match position(msg, &k, &mut 0) {
            Some((at, field)) => known.push((at, field, k, v)),
            None => {
                unknown.insert(k, v);
            }
        }
    }
    known.sort_by_key(|(at, ..)| *at);
    for (_, field, k, mut v) in known {
        order_field(field, &mut v);
        new.insert(k, v);
    }
    *old = unknown;
}

/// Where the field named `name` comes in `msg`'s struct order (inline members counted in place)
/// and what it is; `at` counts the fields passed.
fn position(msg: &'static Message, name: &str, at: &mut usize) -> Option<(usize, &'static Field)> {
    for field in msg.fields {
        if field.has(INLINE) {
            if let Ty::Msg(package, inner) = field.ty {
                if let Some(found) = message(package, inner).and_then(|m| position(m, name, at)) {
                    return Some(found);
                }
            }
            continue;
        }
        if field.json == name {
            return Some((*at, field));
        }
        *at += 1;
    }
    None
}

fn order_field(field: &Field, v: &mut Value) {
    let Ty::Msg(package, name) = field.ty else {
        return;
    };
    let Some(msg) = message(package, name).filter(|m| m.special == Special::None) else {
        return;
    };
    match field.card {
        Card::One => order_object(msg, v),
        Card::Many => {
            for item in v.as_array_mut().into_iter().flatten() {
                order_object(msg, item);
            }
        }
        Card::Map(_) => {
            for item in v.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                order_object(msg, item);
            }
        }
    }
}

fn order_object(msg: &'static Message, v: &mut Value) {
    let Value::Object(map) = v else { return };
    // Already in order (as objects read back from the store are): only the values are walked,
    // the map is not rebuilt.
    let mut fields = Vec::with_capacity(map.len());
    let mut last = None;
    for k in map.keys() {
        match position(msg, k, &mut 0) {
            Some((at, field)) if last.is_none_or(|l| l < at) => {
                last = Some(at);
                fields.push(field);
            }
            _ => break,
        }
    }
    if fields.len() == map.len() {
        for (field, v) in fields.into_iter().zip(map.values_mut()) {
            order_field(field, v);
        }
        return;
    }
    let mut old = std::mem::take(map);
    place(msg, &mut old, map);
    map.append(&mut old);
}

#[cfg(test)]
mod tests {
    use super::order_like_upstream;

    fn keys(v: &serde_json::Value) -> Vec<&str> {
        v.as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    #[test]
    fn objects_read_in_go_struct_order_at_every_level() {
        let mut pod = serde_json::json!({
            "status": {"phase": "Pending"},
            "spec": {"restartPolicy": "Always", "containers": [
                {"image": "busybox", "name": "c", "ports": [{"protocol": "TCP", "containerPort": 80}]}]},
            "metadata": {"labels": {"b": "1", "a": "2"}, "namespace": "default", "name": "p",
                         "x-unknown": true},
            "apiVersion": "v1",
            "kind": "Pod",
        });
        order_like_upstream(&mut pod);
        assert_eq!(
            keys(&pod),
            ["kind", "apiVersion", "metadata", "spec", "status"]
        );
        // Unknown fields keep their place after the known ones; map keys keep theirs.
        assert_eq!(
            keys(&pod["metadata"]),
            ["name", "namespace", "labels", "x-unknown"]
        );
        assert_eq!(keys(&pod["metadata"]["labels"]), ["b", "a"]);
        assert_eq!(keys(&pod["spec"]), ["containers", "restartPolicy"]);
        assert_eq!(
            keys(&pod["spec"]["containers"][0]),
            ["name", "image", "ports"]
        );
        assert_eq!(
            keys(&pod["spec"]["containers"][0]["ports"][0]),
            ["containerPort", "protocol"]
        );
    }

    #[test]
    fn unknown_kinds_are_left_alone() {
        let mut cr =
            serde_json::json!({"spec": {}, "kind": "Widget", "apiVersion": "example.com/v1"});
        let before = cr.clone();
        order_like_upstream(&mut cr);
        assert_eq!(keys(&cr), keys(&before));
    }
}
