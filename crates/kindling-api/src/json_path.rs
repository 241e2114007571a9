//! Reading and writing a `serde_json::Value` by path: the one helper every crate walks JSON
//! documents with (wire-form objects in the strategies, tables and field selectors; kubeadm
//! documents in the config). A path is a list of segments: object keys, or array indexes
//! written in decimal (`["status", "podIPs", "0", "ip"]`). For a JSON pointer string use
//! `Value::pointer`.

use serde_json::{Map, Value};

/// The value at `path`, `null` included (`None` when a segment names nothing).
pub fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, p| match cur {
        Value::Object(m) => m.get(*p),
        Value::Array(a) => a.get(p.parse::<usize>().ok()?),
        _ => None,
    })
}

/// The value at `path`, with `null` counting as absent (as Go's zero values and nil pointers
/// read).
pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    get(v, path).filter(|v| !v.is_null())
}

/// The string at `path`, or `""`.
pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    get(v, path).and_then(Value::as_str).unwrap_or_default()
}

/// The integer at `path`, or 0.
pub fn i64_at(v: &Value, path: &[&str]) -> i64 {
    get(v, path).and_then(Value::as_i64).unwrap_or(0)
}

/// The boolean at `path`, if there is one.
pub fn bool_at(v: &Value, path: &[&str]) -> Option<bool> {
    get(v, path).and_then(Value::as_bool)
}

/// The array at `path` (empty when absent or not an array).
pub fn array_at<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    get(v, path)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The object at `path`, if there is one.
pub fn object_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Map<String, Value>> {
    get(v, path).and_then(Value::as_object)
}

/// The object at `path`, created on the way where absent, and made an object (an empty one)
/// wherever something else stands, `v` itself included.
pub fn object_mut<'a>(v: &'a mut Value, path: &[&str]) -> &'a mut Value {
    let mut cur = v;
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    for key in path {
        cur = cur
            .as_object_mut()
            .expect("an object")
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
    }
    cur
}

/// Makes `to`'s `key` what `from`'s is: a copy of it, or absent when `from` has none (what an
/// update rule does with the fields it lets through or keeps).
pub fn copy_key(from: &Value, to: &mut Value, key: &str) {
    match from.get(key) {
        Some(v) => to[key] = v.clone(),
        None => {
            if let Some(m) = to.as_object_mut() {
                m.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads() {
        let pod = json!({
            "metadata": {"name": "web", "labels": {"app": "web"}, "deletionTimestamp": null},
            "spec": {"hostNetwork": true, "containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"podIPs": [{"ip": "10.0.0.5"}], "restarts": 3}
        });
        assert_eq!(str_at(&pod, &["metadata", "name"]), "web");
        assert_eq!(str_at(&pod, &["spec", "containers", "1", "name"]), "b");
        assert_eq!(str_at(&pod, &["status", "podIPs", "0", "ip"]), "10.0.0.5");
        assert_eq!(str_at(&pod, &["status", "podIPs", "x", "ip"]), "");
        assert_eq!(str_at(&pod, &["metadata", "name", "deeper"]), "");
        assert_eq!(i64_at(&pod, &["status", "restarts"]), 3);
        assert_eq!(i64_at(&pod, &["status", "missing"]), 0);
        assert_eq!(bool_at(&pod, &["spec", "hostNetwork"]), Some(true));
        assert_eq!(array_at(&pod, &["spec", "containers"]).len(), 2);
        assert!(array_at(&pod, &["spec", "volumes"]).is_empty());
        assert_eq!(
            object_at(&pod, &["metadata", "labels"]).map(Map::len),
            Some(1)
        );
        assert_eq!(get(&pod, &[]), Some(&pod));
        // null is a value to `get`, absent to `at`
        assert_eq!(
            get(&pod, &["metadata", "deletionTimestamp"]),
            Some(&Value::Null)
        );
        assert_eq!(at(&pod, &["metadata", "deletionTimestamp"]), None);
        assert_eq!(at(&pod, &["metadata", "name"]), Some(&json!("web")));
    }

    #[test]
    fn writes() {
        let mut job = json!({"spec": {"template": "not an object"}});
        object_mut(&mut job, &["spec", "template", "metadata", "labels"])["a"] = json!("b");
        assert_eq!(
            job,
            json!({"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}})
        );
        let mut scalar = json!(3);
        object_mut(&mut scalar, &[])["x"] = json!(1);
        assert_eq!(scalar, json!({"x": 1}));
        // existing objects are kept
        let mut v = json!({"a": {"b": 1}});
        object_mut(&mut v, &["a"])["c"] = json!(2);
        assert_eq!(v, json!({"a": {"b": 1, "c": 2}}));
        // copy_key copies a field, or removes it when the source has none
        let from = json!({"a": [1], "n": null});
        let mut to = json!({"a": 0, "b": 2, "n": 3});
        for key in ["a", "b", "n"] {
            copy_key(&from, &mut to, key);
        }
        assert_eq!(to, json!({"a": [1], "n": null}));
    }
}
