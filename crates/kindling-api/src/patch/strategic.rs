//! Strategic merge patch, applied as upstream's server applies it
//! (k8s.io/apimachinery/pkg/util/strategicpatch, `StrategicMergeMapPatch` with parallel lists
//! merged and unmatched nulls ignored).
//!
//! - Objects merge recursively; `null` deletes a key.
//! - A list whose field has patch strategy `merge` merges: lists of objects by the field's merge
//!   key (a patch item merges into the item with the same key, or is appended), lists of
//!   primitives as a union. Other lists, and fields with strategy `replace`, are replaced.
//! - Directives: `$patch: replace|delete` in an object; `$patch: delete|replace` as a list item;
//!   `$retainKeys: [...]` (drop the keys of the object not listed);
//!   `$setElementOrder/<list>: [...]` (the order of a merging list);
//!   `$deleteFromPrimitiveList/<list>: [...]` (remove primitives from a list).
//! - Where the schema does not know a field, objects still merge and lists are replaced, as in a
//!   merge patch.
//!
//! Errors use upstream's messages and codes: malformed directives are 400 BadRequest, lists of
//! lists 422, and what upstream passes on as a plain error (a list item without its merge key, an
//! unknown `$patch` value) 500 with upstream's text.

use super::json::{go_json_kind, unprocessable};
use super::merge::prune_nulls;
use super::meta::{DefSchema, PatchSchema};
use super::strategic_lists::{
    merge_slice_handler, normalize_element_order, partition, slice_element_kind,
    validate_patch_with_set_order_list,
};
use super::{go_fmt, json_error_text};
use crate::status::ApiError;
use serde_json::{Map, Value};

pub(super) const DIRECTIVE: &str = "$patch";
pub(super) const DELETE: &str = "delete";
pub(super) const REPLACE: &str = "replace";
pub(super) const MERGE: &str = "merge";
pub(super) const RETAIN_KEYS: &str = "$retainKeys";
pub(super) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
pub(super) const SET_ELEMENT_ORDER: &str = "$setElementOrder";

pub(super) const ERR_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
pub(super) const ERR_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
pub(super) const ERR_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";

/// Applies a strategic merge patch to `doc`, an object of the definition `type_name`
/// (`io.k8s.api.apps.v1.Deployment`). A type the definitions do not have is patched with
/// merge-patch semantics for lists (directives still apply).
pub fn apply_strategic_merge_patch(
    type_name: &str,
    doc: &Value,
    patch: &[u8],
) -> Result<Value, ApiError> {
    let patch: Value =
        serde_json::from_slice(patch).map_err(|e| ApiError::bad_request(json_error_text(&e)))?;
    let patch = match patch {
        Value::Object(m) => m,
        // Go decodes `null` into the (empty) patch map.
        Value::Null => Map::new(),
        other => {
            return Err(ApiError::bad_request(format!(
                "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                go_json_kind(&other)
            )))
        }
    };
    let original = match doc {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    strategic_merge(original, patch, &DefSchema::root(type_name)).map(Value::Object)
}

/// The strategic merge of `patch` into `original`, with the patch metadata of `schema`.
pub fn strategic_merge<S: PatchSchema>(
    original: Map<String, Value>,
    patch: Map<String, Value>,
    schema: &S,
) -> Result<Map<String, Value>, ApiError> {
    merge_map(original, patch, schema).map_err(SmpError::into_api_error)
}

/// How upstream's apiserver reports each kind of strategic-merge failure.
#[derive(Debug)]
pub(super) enum SmpError {
    /// The mergepatch errors upstream maps to 400.
    BadRequest(&'static str),
    /// The mergepatch errors upstream maps to 422 (with its generic message).
    Unprocessable,
    /// Any other error: upstream returns it as is, which the apiserver answers 500 with the
    /// error's text and no reason.
    Other(String),
}

impl SmpError {
    fn into_api_error(self) -> ApiError {
        match self {
            SmpError::BadRequest(m) => ApiError::bad_request(m),
            SmpError::Unprocessable => unprocessable(),
            SmpError::Other(message) => ApiError {
                code: 500,
                reason: "",
                message,
                name: None,
                group: None,
                kind: None,
                causes: Vec::new(),
                retry_after: None,
            },
        }
    }
}

pub(super) type Result<T, E = SmpError> = std::result::Result<T, E>;

/// The Go type the value decodes to, as upstream's type errors and comparisons see it.
pub(super) fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

pub(super) fn err_bad_arg_type(expected: &str, actual: &Value) -> SmpError {
    SmpError::Other(format!(
        "expected a {expected}, but received a {}",
        go_type(actual)
    ))
}

pub(super) fn err_no_merge_key(m: &Map<String, Value>, key: &str) -> SmpError {
    SmpError::Other(format!(
        "map: {} does not contain declared merge key: {key}",
        go_fmt_map(m)
    ))
}

pub(super) fn err_bad_patch_type(t: &Value, m: &Map<String, Value>) -> SmpError {
    SmpError::Other(format!(
        "unknown patch type: {} in map: {}",
        go_fmt(t),
        go_fmt_map(m)
    ))
}

fn go_fmt_map(m: &Map<String, Value>) -> String {
    go_fmt(&Value::Object(m.clone()))
}

/// Upstream's `removeDirectives`: an object with `$patch` is dropped (`None`), recursively; nulls
/// are dropped from objects too (what upstream's typed decoding of the result does with them).
pub(super) fn remove_directives(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => {
            if m.contains_key(DIRECTIVE) {
                return None;
            }
            let out: Map<String, Value> = m
                .into_iter()
                .filter(|(_, x)| !x.is_null())
                .filter_map(|(k, x)| remove_directives(x).map(|x| (k, x)))
                .collect();
            Some(Value::Object(out))
        }
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

/// A patch value taken whole (a list that is replaced, an object under `$patch: replace`): nulls
/// inside objects are dropped, as upstream's typed decoding of the result drops them.
pub(super) fn taken_whole(mut v: Value) -> Value {
    prune_nulls(&mut v);
    v
}

/// `$setElementOrder/containers` → `containers`; the prefix must be followed by `/`.
fn extract_key(key: &str, prefix: &str) -> Result<String> {
    match key.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest.to_string()),
        _ => Err(SmpError::BadRequest(
            if prefix == DELETE_FROM_PRIMITIVE_LIST {
                ERR_PRIMITIVE_LIST
            } else {
                ERR_SET_ELEMENT_ORDER
            },
        )),
    }
}

pub(super) fn merge_map<S: PatchSchema>(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: &S,
) -> Result<Map<String, Value>> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some(REPLACE) => {
                patch.shift_remove(DIRECTIVE);
                match taken_whole(Value::Object(patch)) {
                    Value::Object(m) => Ok(m),
                    _ => Ok(Map::new()),
                }
            }
            Some(DELETE) => Ok(Map::new()),
            _ => Err(err_bad_patch_type(directive, &patch)),
        };
    }

    apply_retain_keys(&mut original, &mut patch)?;
    merge_set_element_order_lists(&mut original, &mut patch, schema)?;

    for (k, patch_v) in patch {
        let (key, is_delete_list) = if k.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            (extract_key(&k, DELETE_FROM_PRIMITIVE_LIST)?, true)
        } else {
            (k, false)
        };

        if patch_v.is_null() {
            original.shift_remove(&key);
            continue;
        }

        let Some(orig_v) = original.get_mut(&key) else {
            if !is_delete_list {
                if let Some(v) = remove_directives(patch_v) {
                    original.insert(key, v);
                }
            }
            continue;
        };

        if go_type(orig_v) != go_type(&patch_v) {
            if !is_delete_list {
                match remove_directives(patch_v) {
                    Some(v) => *orig_v = v,
                    None => {
                        original.shift_remove(&key);
                    }
                }
            }
            continue;
        }

        match (orig_v, patch_v) {
            (Value::Object(orig_m), Value::Object(patch_m)) => {
                let (sub, meta) = schema.field(&key);
                let taken = std::mem::take(orig_m);
                *orig_m = if meta.list_strategy() == REPLACE {
                    match taken_whole(Value::Object(patch_m)) {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    }
                } else {
                    merge_map(taken, patch_m, &sub)?
                };
            }
            (Value::Array(orig_l), Value::Array(patch_l)) => {
                let (sub, meta) = schema.field(&key);
                let taken = std::mem::take(orig_l);
                *orig_l = merge_slice_handler(
                    taken,
                    patch_l,
                    &sub.items(),
                    meta.list_strategy(),
                    meta.merge_key,
                    is_delete_list,
                    None,
                )?;
            }
            (_, patch_v) => match remove_directives(patch_v) {
                Some(v) => {
                    original.insert(key, v);
                }
                None => {
                    original.shift_remove(&key);
                }
            },
        }
    }
    Ok(original)
}

/// `$retainKeys`: the keys of `original` not listed are cleared; every non-null key of the patch
/// must be listed.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<()> {
    let Some(retain) = patch.shift_remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(list) = retain else {
        return Err(SmpError::BadRequest(ERR_RETAIN_KEYS));
    };
    let listed = |k: &str| list.iter().any(|x| x.as_str() == Some(k));
    for (k, v) in patch.iter() {
        if v.is_null()
            || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || k.starts_with(SET_ELEMENT_ORDER)
        {
            continue;
        }
        if !listed(k) {
            return Err(SmpError::BadRequest(ERR_RETAIN_KEYS));
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// `$setElementOrder/<list>`: merges the list (if the patch has it) and orders the result: the
/// items named in the directive in its order, the server-only items kept where they were
/// relative to them.
fn merge_set_element_order_lists<S: PatchSchema>(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: &S,
) -> Result<()> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let order_v = patch.shift_remove(&key).unwrap_or(Value::Null);
        let Value::Array(order) = order_v else {
            return Err(err_bad_arg_type("[]interface {}", &order_v));
        };
        let field = extract_key(&key, SET_ELEMENT_ORDER)?;
        let original_list = match original.get(&field) {
            None => None,
            Some(Value::Array(l)) => Some(l.clone()),
            Some(other) => return Err(err_bad_arg_type("[]interface {}", other)),
        };
        let patch_list = match patch.get(&field) {
            None => None,
            Some(Value::Array(l)) => Some(l.clone()),
            Some(other) => return Err(err_bad_arg_type("[]interface {}", other)),
        };
        let (sub, meta) = schema.field(&field);
        let merge_key = meta.merge_key;
        validate_patch_with_set_order_list(
            patch_list.as_deref().unwrap_or(&[]),
            &order,
            merge_key,
        )?;

        let original_items = original_list.clone().unwrap_or_default();
        // The order the server-only items keep: the live list as upstream sees it after merging.
        let mut server_order = original_items.clone();
        let merged = match (original_list, patch_list.clone()) {
            (Some(o), None) => o,
            (None, Some(p)) => match remove_directives(Value::Array(p)) {
                Some(Value::Array(l)) => l,
                _ => continue,
            },
            (Some(o), Some(p)) => merge_slice_handler(
                o,
                p,
                &sub.items(),
                meta.list_strategy(),
                merge_key,
                false,
                Some(&mut server_order),
            )?,
            (None, None) => continue,
        };

        let (patch_items, server_only) = partition(merged, &order, merge_key)?;
        let patch_items_list = patch_list.unwrap_or_default();
        let is_map = match slice_element_kind(&[&original_items, &patch_items_list]) {
            Ok(Some(is_map)) => is_map,
            // Both lists empty: nothing to order.
            Ok(None) => !merge_key.is_empty(),
            Err(e) => return Err(e),
        };
        let both = normalize_element_order(
            patch_items,
            server_only,
            &order,
            &server_order,
            merge_key,
            is_map,
        )?;
        original.insert(field.clone(), Value::Array(both));
        patch.shift_remove(&field);
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_schema {
    //! A schema like upstream's test type: `mergingList` (merge by `name`), `mergingIntList`
    //! (merge), `nonMergingList`, `retainKeysMap`, nested the same way.
    use super::super::meta::{PatchMeta, PatchSchema};

    #[derive(Clone)]
    pub struct TestSchema;

    impl PatchSchema for TestSchema {
        fn field(&self, key: &str) -> (TestSchema, PatchMeta) {
            let meta = match key {
                "mergingList" => PatchMeta {
                    strategy: "merge",
                    merge_key: "name",
                },
                "mergingIntList" => PatchMeta {
                    strategy: "merge",
                    merge_key: "",
                },
                "retainKeysMergingList" => PatchMeta {
                    strategy: "merge,retainKeys",
                    merge_key: "name",
                },
                "retainKeysMap" => PatchMeta {
                    strategy: "retainKeys",
                    merge_key: "",
                },
                "replacingMap" => PatchMeta {
                    strategy: "replace",
                    merge_key: "",
                },
                _ => PatchMeta::default(),
            };
            (TestSchema, meta)
        }
        fn items(&self) -> TestSchema {
            TestSchema
        }
    }
}
