//! TEMPORARY stand-in (equality selectors only) until the full selectors land.
use crate::catalog::ResourceType;
use crate::status::ApiError;
use serde_json::Value;

#[derive(Clone, Debug, Default)]
pub struct LabelSelector(Vec<(String, String)>);

pub fn parse_label_selector(s: &str) -> Result<LabelSelector, ApiError> {
    let mut v = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (k, val) = part
            .split_once('=')
            .ok_or_else(|| ApiError::bad_request(format!("unable to parse requirement: {part}")))?;
        v.push((k.to_string(), val.trim_start_matches('=').to_string()));
    }
    Ok(LabelSelector(v))
}

impl LabelSelector {
    pub fn matches(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        self.0
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)).and_then(Value::as_str) == Some(v.as_str()))
    }
}

#[derive(Clone, Debug, Default)]
pub struct FieldSelector(Vec<(String, String)>);

pub fn parse_field_selector(_rt: &ResourceType, s: &str) -> Result<FieldSelector, ApiError> {
    let mut v = Vec::new();
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (k, val) = part
            .split_once('=')
            .ok_or_else(|| ApiError::bad_request(format!("invalid selector: {part}")))?;
        v.push((k.to_string(), val.trim_start_matches('=').to_string()));
    }
    Ok(FieldSelector(v))
}

impl FieldSelector {
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(k, v)| {
            let mut cur = obj;
            for p in k.split('.') {
                cur = &cur[p];
            }
            cur.as_str().unwrap_or("") == v
        })
    }
}
