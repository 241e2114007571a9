//! JSON patch (RFC 6902), with the upstream apiserver's error codes: a patch that cannot be
//! decoded is 400 BadRequest, one with more than 10000 operations is 413, and one that does not
//! apply (a failed `test`, a path that names nothing, an unknown `op`) is 422 Invalid with
//! upstream's generic message (the apiserver does not pass the reason on).

use super::json_error_text;
use crate::status::ApiError;
use serde_json::Value;

/// Upstream's `maxJSONPatchOperations`.
pub const MAX_OPERATIONS: usize = 10000;

/// The Go type the apiserver decodes a JSON patch into, as its decode errors name it.
const GO_PATCH_TYPE: &str = "[]handlers.jsonPatchOp";

/// The message upstream's `NewGenericServerResponse(422, …)` carries.
pub(crate) const UNPROCESSABLE: &str =
    "the server rejected our request due to an error in our request";

/// The 422 a patch that does not apply gets upstream.
pub(crate) fn unprocessable() -> ApiError {
    ApiError {
        code: 422,
        reason: "Invalid",
        message: UNPROCESSABLE.to_string(),
        name: None,
        group: None,
        kind: None,
        causes: Vec::new(),
        retry_after: None,
    }
}

/// Go's name for the JSON kind of a value, as `json: cannot unmarshal <kind> into …` says it.
pub(crate) fn go_json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Applies a JSON patch to `doc`, returning the patched document. The operations apply all or
/// nothing.
pub fn apply_json_patch(doc: &Value, patch: &[u8]) -> Result<Value, ApiError> {
    let parsed: Value = serde_json::from_slice(patch).map_err(|e| {
        ApiError::bad_request(format!("error decoding patch: {}", json_error_text(&e)))
    })?;
    let ops = match &parsed {
        // Go decodes `null` into an empty list of operations.
        Value::Null => return Ok(doc.clone()),
        Value::Array(ops) => ops,
        other => {
            return Err(ApiError::bad_request(format!(
            "error decoding patch: json: cannot unmarshal {} into Go value of type {GO_PATCH_TYPE}",
            go_json_kind(other)
        )))
        }
    };
    for op in ops {
        check_op_shape(op)?;
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ApiError::too_large(format!(
            "The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {}",
            ops.len()
        )));
    }
    // An unknown `op`, a missing `path` or a malformed pointer only fails when upstream applies
    // the operation, so these are 422 as well.
    let operations: json_patch::Patch =
        serde_json::from_value(parsed).map_err(|_| unprocessable())?;
    let mut out = doc.clone();
    json_patch::patch(&mut out, &operations.0).map_err(|_| unprocessable())?;
    Ok(out)
}

/// Each operation must be an object whose `op`, `path` and `from` are strings (or absent), as the
/// Go struct it decodes into requires.
fn check_op_shape(op: &Value) -> Result<(), ApiError> {
    let Some(fields) = op.as_object() else {
        if op.is_null() {
            return Ok(());
        }
        return Err(ApiError::bad_request(format!(
            "error decoding patch: json: cannot unmarshal {} into Go value of type handlers.jsonPatchOp",
            go_json_kind(op)
        )));
    };
    for name in ["op", "path", "from"] {
        match fields.get(name) {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "error decoding patch: json: cannot unmarshal {} into Go struct field jsonPatchOp.{name} of type string",
                    go_json_kind(other)
                )))
            }
        }
    }
    Ok(())
}

/// The strict-decoding problems of a JSON patch body (unknown or duplicate fields of its
/// operations), as upstream reports them with `fieldValidation=Strict`/`Warn`:
/// `json patch unknown field "[0].valu"`, `json patch duplicate field "[1].op"`. Empty when the
/// body is not valid JSON (decoding reports that).
pub fn json_patch_strict_errors(patch: &[u8]) -> Vec<String> {
    let Ok(Value::Array(ops)) = serde_json::from_slice::<Value>(patch) else {
        return Vec::new();
    };
    let duplicates = crate::fields::duplicate_fields(patch);
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        if let Some(fields) = op.as_object() {
            for key in fields.keys() {
                if !matches!(key.as_str(), "op" | "path" | "from" | "value") {
                    out.push(format!("json patch unknown field \"[{i}].{key}\""));
                }
            }
        }
        let prefix = format!("duplicate field \"[{i}]");
        out.extend(
            duplicates
                .iter()
                .filter(|d| d.starts_with(&prefix))
                .map(|d| format!("json patch {d}")),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy() -> Value {
        json!({
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": "nginx", "args": ["a"]}]}}}
        })
    }

    #[test]
    fn applies_operations_in_order() {
        let patch = br#"[
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
            {"op": "add", "path": "/spec/template/spec/containers/0/args/-", "value": "b"},
            {"op": "remove", "path": "/metadata/labels/app"},
            {"op": "copy", "from": "/metadata/name", "path": "/metadata/labels/name"},
            {"op": "move", "from": "/metadata/labels/name", "path": "/metadata/labels/moved"}
        ]"#;
        let out = apply_json_patch(&deploy(), patch).unwrap();
        assert_eq!(out["spec"]["replicas"], 3);
        assert_eq!(
            out["metadata"]["labels"],
            json!({"tier": "front", "moved": "web"})
        );
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][0]["args"],
            json!(["a", "b"])
        );
    }

    #[test]
    fn failed_test_is_422_and_changes_nothing() {
        let patch = br#"[{"op":"replace","path":"/spec/replicas","value":5},{"op":"test","path":"/spec/replicas","value":2}]"#;
        let e = apply_json_patch(&deploy(), patch).unwrap_err();
        assert_eq!((e.code, e.reason), (422, "Invalid"));
        assert_eq!(e.message, UNPROCESSABLE);
    }

    #[test]
    fn paths_that_name_nothing_are_422() {
        for patch in [
            br#"[{"op":"replace","path":"/spec/nothing/here","value":1}]"#.as_slice(),
            br#"[{"op":"remove","path":"/metadata/labels/missing"}]"#,
            br#"[{"op":"add","path":"/spec/template/spec/containers/7","value":{}}]"#,
            br#"[{"op":"add","path":"no-slash","value":1}]"#,
            br#"[{"op":"frobnicate","path":"/spec","value":1}]"#,
            br#"[{"op":"add","value":1}]"#,
        ] {
            let e = apply_json_patch(&deploy(), patch).unwrap_err();
            assert_eq!(e.code, 422, "{}", String::from_utf8_lossy(patch));
        }
    }

    #[test]
    fn undecodable_patches_are_400() {
        let e = apply_json_patch(&deploy(), b"[{\"op\": ").unwrap_err();
        assert_eq!((e.code, e.reason), (400, "BadRequest"));
        assert!(e.message.contains("invalid JSON"), "{}", e.message);
        let e = apply_json_patch(&deploy(), br#"{"op":"add","path":"/a","value":1}"#).unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp"
        );
        let e = apply_json_patch(&deploy(), br#"[{"op":1,"path":"/a"}]"#).unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(apply_json_patch(&deploy(), b"null").unwrap(), deploy());
        assert_eq!(apply_json_patch(&deploy(), b"[]").unwrap(), deploy());
    }

    #[test]
    fn too_many_operations_is_413() {
        let ops: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|_| json!({"op":"test","path":"/spec/replicas","value":1}))
            .collect();
        let e = apply_json_patch(&deploy(), &serde_json::to_vec(&ops).unwrap()).unwrap_err();
        assert_eq!(e.code, 413);
        assert_eq!(
            e.message,
            "The allowed maximum operations in a JSON patch is 10000, got 10001"
        );
    }

    #[test]
    fn strict_errors_of_operations() {
        let errs = json_patch_strict_errors(
            br#"[{"op":"add","path":"/a","valu":1},{"op":"remove","op":"remove","path":"/b"}]"#,
        );
        assert_eq!(
            errs,
            vec![
                "json patch unknown field \"[0].valu\"",
                "json patch duplicate field \"[1].op\""
            ]
        );
    }
}
