//! TEMPORARY stand-in until the patch engines land.
use crate::status::ApiError;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    StrategicMerge,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

pub fn yaml_or_json_to_value(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).or_else(|_| {
        serde_norway::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))
    })
}

pub fn apply_json_patch(doc: &Value, patch: &[u8]) -> Result<Value, ApiError> {
    let p: json_patch::Patch =
        serde_json::from_slice(patch).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut d = doc.clone();
    json_patch::patch(&mut d, &p).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(d)
}

pub fn apply_merge_patch(doc: &Value, patch: &[u8]) -> Result<Value, ApiError> {
    let p: Value =
        serde_json::from_slice(patch).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut d = doc.clone();
    json_patch::merge(&mut d, &p);
    Ok(d)
}

pub fn apply_strategic_merge_patch(
    _type_name: &str,
    doc: &Value,
    patch: &[u8],
) -> Result<Value, ApiError> {
    apply_merge_patch(doc, patch)
}

/// (strategy, merge key) of a field with patch metadata (stand-in: none).
pub fn merge_metadata(_definition: &str, _field: &str) -> Option<(&'static str, &'static str)> {
    None
}
