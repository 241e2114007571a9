//! Server-side apply, simplified: the applied configuration is merged into the live object with
//! strategic-merge semantics and the manager is recorded in `managedFields`. Field ownership and
//! conflict detection (upstream's structured-merge-diff) are not implemented yet; fields a manager
//! stops applying are therefore kept rather than removed.

use kindling_api::patch;
use kindling_api::ApiError;
use serde_json::{json, Value};

pub fn server_side_apply(
    type_name: &str,
    current: &Value,
    body: &[u8],
    manager: Option<&str>,
) -> Result<Value, ApiError> {
    let manager = manager.ok_or_else(|| {
        ApiError::bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
    })?;
    let applied = patch::yaml_or_json_to_value(body)?;
    if !applied.is_object() {
        return Err(ApiError::bad_request(
            "the applied configuration must be an object",
        ));
    }
    let as_json = serde_json::to_vec(&applied).unwrap_or_default();
    let mut merged = patch::apply_strategic_merge_patch(type_name, current, &as_json)?;
    record_manager(&mut merged, Some(manager), "Apply");
    Ok(merged)
}

/// Adds or refreshes this manager's entry in `metadata.managedFields`.
pub fn record_manager(obj: &mut Value, manager: Option<&str>, operation: &str) {
    let Some(manager) = manager else { return };
    let api_version = obj["apiVersion"].clone();
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let entries = meta.entry("managedFields").or_insert_with(|| json!([]));
    let Some(list) = entries.as_array_mut() else {
        return;
    };
    list.retain(|e| !(e["manager"] == manager && e["operation"] == operation));
    list.push(json!({
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": crate::registry::timestamp(jiff::Timestamp::now()),
        "fieldsType": "FieldsV1",
        "fieldsV1": {},
    }));
}
