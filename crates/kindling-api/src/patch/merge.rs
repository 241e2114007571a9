//! JSON merge patch (RFC 7386): objects merge recursively, `null` deletes a key, anything else
//! (lists included) replaces. Key order is kept: existing keys stay where they are, new keys come
//! last.

use super::json::go_json_kind;
use super::json_error_text;
use crate::status::ApiError;
use serde_json::{Map, Value};

/// Applies a JSON merge patch to `doc`. The patch must be a JSON object (400 BadRequest
/// otherwise, as upstream's strict decoding of the patch says).
pub fn apply_merge_patch(doc: &Value, patch: &[u8]) -> Result<Value, ApiError> {
    let patch: Value = serde_json::from_slice(patch).map_err(|e| {
        ApiError::bad_request(format!("error decoding patch: {}", json_error_text(&e)))
    })?;
    match patch {
        Value::Object(p) => {
            let mut out = doc.clone();
            merge_object(&mut out, p);
            Ok(out)
        }
        // evanphx/json-patch's ErrBadJSONPatch, which the apiserver returns as 400.
        Value::Null => Err(ApiError::bad_request("Invalid JSON Patch")),
        other => Err(ApiError::bad_request(format!(
            "error decoding patch: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            go_json_kind(&other)
        ))),
    }
}

/// Merges the patch object `patch` into `target` (RFC 7386 MergePatch).
pub fn merge_object(target: &mut Value, patch: Map<String, Value>) {
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else { return };
    for (key, value) in patch {
        match value {
            Value::Null => {
                map.shift_remove(&key);
            }
            Value::Object(p) => match map.get_mut(&key) {
                Some(existing @ Value::Object(_)) => merge_object(existing, p),
                _ => {
                    let mut fresh = Value::Object(Map::new());
                    merge_object(&mut fresh, p);
                    map.insert(key, fresh);
                }
            },
            mut other => {
                prune_nulls(&mut other);
                map.insert(key, other);
            }
        }
    }
}

/// Drops `null` members of the objects inside `v` (a value taken from a patch whole, such as a
/// list, ends up with the same content as the typed decoding upstream gives it).
pub(crate) fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(prune_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7386_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (doc, patch, want) in cases {
            let got = apply_merge_patch(&doc, &serde_json::to_vec(&patch).unwrap()).unwrap();
            assert_eq!(got, want, "{doc} + {patch}");
        }
    }

    #[test]
    fn keeps_key_order_and_replaces_lists() {
        let doc = json!({"metadata":{"labels":{"a":"1","b":"2","c":"3"}},"spec":{"containers":[{"name":"x"},{"name":"y"}]}});
        let got = apply_merge_patch(
            &doc,
            br#"{"metadata":{"labels":{"a":null,"d":"4"}},"spec":{"containers":[{"name":"z"}]}}"#,
        )
        .unwrap();
        let keys: Vec<&String> = got["metadata"]["labels"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys, ["b", "c", "d"]);
        assert_eq!(got["spec"]["containers"], json!([{"name":"z"}]));
    }

    #[test]
    fn bad_patches_are_400() {
        let doc = json!({"a": 1});
        let e = apply_merge_patch(&doc, b"{\"a\":").unwrap_err();
        assert_eq!((e.code, e.reason), (400, "BadRequest"));
        assert!(e.message.contains("invalid JSON"), "{}", e.message);
        let e = apply_merge_patch(&doc, b"[1]").unwrap_err();
        assert_eq!(
            e.message,
            "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        assert_eq!(
            apply_merge_patch(&doc, b"null").unwrap_err().message,
            "Invalid JSON Patch"
        );
    }
}
