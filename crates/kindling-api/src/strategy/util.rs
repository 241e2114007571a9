//! Small helpers the strategies share: reading and defaulting JSON fields, the text of quantity
//! fields, base64.

use crate::json_path;
use serde_json::{json, Value};

/// The string at `key`, or "" (a one-segment [`json_path::str_at`]).
pub fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    json_path::str_at(v, &[key])
}

/// The array at `key` (empty if absent; a one-segment [`json_path::array_at`]).
pub fn arr_of<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    json_path::array_at(v, &[key])
}

/// An object's `spec` (`{}` when absent), the way the strategies read it.
pub fn spec_of(obj: &Value) -> &Value {
    static EMPTY: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    obj.get("spec")
        .unwrap_or_else(|| EMPTY.get_or_init(|| json!({})))
}

/// Sets `key` to `value` when absent or null.
pub fn set_default(v: &mut Value, key: &str, value: Value) {
    if let Some(map) = v.as_object_mut() {
        let slot = map.entry(key.to_string()).or_insert(Value::Null);
        if slot.is_null() {
            *slot = value;
        }
    }
}

/// Sets a string `key` to `value` when absent, null or "".
pub fn set_default_str(v: &mut Value, key: &str, value: &str) {
    if let Some(map) = v.as_object_mut() {
        let slot = map.entry(key.to_string()).or_insert(Value::Null);
        if slot.is_null() || slot.as_str() == Some("") {
            *slot = json!(value);
        }
    }
}

/// Each element of the array at `key`, mutably.
pub fn each_mut(v: &mut Value, key: &str, mut f: impl FnMut(&mut Value)) {
    if let Some(items) = v.get_mut(key).and_then(Value::as_array_mut) {
        items.iter_mut().for_each(&mut f);
    }
}

/// Whether a JSON value is absent, null, or an empty string, array or object.
pub fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        _ => false,
    }
}

/// Sorts the keys of an object (as Go prints maps), recursively not.
pub fn sort_keys(v: &mut Value) {
    if let Some(map) = v.as_object_mut() {
        let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        map.extend(entries);
    }
}

/// The text of a quantity field (a JSON string, or a number some clients send).
pub fn quantity_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (padding optional), or `None` if malformed.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in ["", "a", "ab", "abc", "hello world"] {
            let e = base64_encode(s.as_bytes());
            assert_eq!(base64_decode(&e).unwrap(), s.as_bytes());
        }
        assert_eq!(base64_encode(b"admin"), "YWRtaW4=");
        assert_eq!(base64_decode("!!"), None);
    }
}
