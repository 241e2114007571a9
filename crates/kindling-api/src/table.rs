//! TEMPORARY stand-in (NAME and AGE only) until the full printers land.
use crate::catalog::ResourceType;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

pub fn table(
    _rt: &ResourceType,
    objects: &[Value],
    _now: jiff::Timestamp,
    include: IncludeObject,
    list_meta: Value,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let object = match include {
                IncludeObject::None => Value::Null,
                IncludeObject::Metadata => json!({"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":o["metadata"]}),
                IncludeObject::Object => o.clone(),
            };
            json!({"cells":[o["metadata"]["name"], "?"], "object": object})
        })
        .collect();
    json!({"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":list_meta,
        "columnDefinitions":[{"name":"Name","type":"string","format":"name","description":"","priority":0},{"name":"Age","type":"string","format":"","description":"","priority":0}],
        "rows":rows})
}
