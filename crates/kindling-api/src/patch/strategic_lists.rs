//! The list half of the strategic merge ([`super::strategic`]): merging lists by merge key or as
//! sets of primitives, list-item directives, and the ordering rules upstream applies to the
//! merged list (patch items in patch order, server-only items kept where they were relative to
//! them).

use super::go_fmt;
use super::meta::PatchSchema;
use super::strategic::{
    err_bad_arg_type, err_bad_patch_type, err_no_merge_key, go_type, merge_map, taken_whole,
    Result, SmpError, DELETE, DIRECTIVE, MERGE, REPLACE, SET_ELEMENT_ORDER,
};
use serde_json::Value;

/// Items of `merged` named in `by` (by merge key, or by value for primitives), and the others.
pub(super) fn partition(
    merged: Vec<Value>,
    by: &[Value],
    merge_key: &str,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut in_patch = Vec::new();
    let mut server_only = Vec::new();
    for v in merged {
        let found = if merge_key.is_empty() {
            by.contains(&v)
        } else {
            let Value::Object(m) = &v else {
                return Err(err_bad_arg_type("map[string]interface {}", &v));
            };
            let Some(key_value) = m.get(merge_key) else {
                return Err(err_no_merge_key(m, merge_key));
            };
            find_by_key(by, merge_key, key_value)?.is_some()
        };
        if found {
            in_patch.push(v);
        } else {
            server_only.push(v);
        }
    }
    Ok((in_patch, server_only))
}

/// The index of the first object of `list` whose `key` is `value`. Every item must be an object.
fn find_by_key(list: &[Value], key: &str, value: &Value) -> Result<Option<usize>> {
    for (i, v) in list.iter().enumerate() {
        let Value::Object(m) = v else {
            return Err(SmpError::Other(format!("value for key {i} is not a map")));
        };
        if m.get(key) == Some(value) {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// Checks that the patch list's items (deletions and directives aside) appear in the
/// `$setElementOrder` list, in the same relative order.
pub(super) fn validate_patch_with_set_order_list(
    patch_list: &[Value],
    order: &[Value],
    merge_key: &str,
) -> Result<()> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let non_delete: Vec<Value> = if merge_key.is_empty() {
        patch_list.to_vec()
    } else {
        extract_to_delete_items(patch_list.to_vec())?.0
    };
    let (mut pi, mut si) = (0, 0);
    while pi < non_delete.len() && si < order.len() {
        if non_delete[pi].get(DIRECTIVE).is_some() {
            pi += 1;
            continue;
        }
        if merge_key_value_equal(&non_delete[pi], &order[si], merge_key)? {
            pi += 1;
        }
        si += 1;
    }
    if pi < non_delete.len() && si >= order.len() {
        return Err(SmpError::Other(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            go_fmt(&Value::Array(patch_list.to_vec())),
            go_fmt(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

fn merge_key_value_equal(left: &Value, right: &Value, merge_key: &str) -> Result<bool> {
    if merge_key.is_empty() {
        return Ok(left == right);
    }
    let Value::Object(l) = left else {
        return Err(err_bad_arg_type("map[string]interface {}", left));
    };
    let Value::Object(r) = right else {
        return Err(err_bad_arg_type("map[string]interface {}", right));
    };
    let Some(lv) = l.get(merge_key) else {
        return Err(err_no_merge_key(l, merge_key));
    };
    let Some(rv) = r.get(merge_key) else {
        return Err(err_no_merge_key(r, merge_key));
    };
    Ok(lv == rv)
}

/// Splits a list of objects into the items kept and those marked `$patch: delete`.
fn extract_to_delete_items(list: Vec<Value>) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut keep = Vec::new();
    let mut delete = Vec::new();
    for v in list {
        let Value::Object(m) = &v else {
            return Err(err_bad_arg_type("map[string]interface {}", &v));
        };
        if m.get(DIRECTIVE).and_then(Value::as_str) == Some(DELETE) {
            delete.push(v);
        } else {
            keep.push(v);
        }
    }
    Ok((keep, delete))
}

/// `alias`, when given, receives the original list as upstream's caller sees it afterwards (see
/// [`AliasedOriginal`]).
pub(super) fn merge_slice_handler<S: PatchSchema>(
    original: Vec<Value>,
    patch: Vec<Value>,
    items: &S,
    strategy: &str,
    merge_key: &str,
    is_delete_list: bool,
    alias: Option<&mut Vec<Value>>,
) -> Result<Vec<Value>> {
    if strategy == MERGE || is_delete_list {
        merge_slice(original, patch, items, merge_key, is_delete_list, alias)
    } else {
        match taken_whole(Value::Array(patch)) {
            Value::Array(l) => Ok(l),
            _ => Ok(Vec::new()),
        }
    }
}

/// Whether the items of the lists are objects (`Some(true)`), all of one other type
/// (`Some(false)`), or there are none (`None`). Lists of lists and mixed lists are errors.
pub(super) fn slice_element_kind(lists: &[&[Value]]) -> Result<Option<bool>> {
    let mut first: Option<&'static str> = None;
    for v in lists.iter().flat_map(|l| l.iter()) {
        let t = go_type(v);
        match first {
            None => {
                if v.is_array() {
                    return Err(SmpError::Unprocessable);
                }
                first = Some(t);
            }
            Some(f) if f != t => {
                let all = Value::Array(lists.iter().map(|l| Value::Array(l.to_vec())).collect());
                return Err(SmpError::Other(format!(
                    "list element types are not identical: {}",
                    go_fmt(&all)
                )));
            }
            Some(_) => {}
        }
    }
    Ok(first.map(|t| t == "map[string]interface {}"))
}

fn merge_slice<S: PatchSchema>(
    original: Vec<Value>,
    patch: Vec<Value>,
    items: &S,
    merge_key: &str,
    is_delete_list: bool,
    alias: Option<&mut Vec<Value>>,
) -> Result<Vec<Value>> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let is_map = slice_element_kind(&[&original, &patch])?.unwrap_or(false);

    let (merged, original, patch) = if !is_map {
        if is_delete_list {
            return Ok(original
                .into_iter()
                .filter(|v| !patch.contains(v))
                .collect());
        }
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(patch.iter()) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        (merged, original, patch)
    } else {
        if merge_key.is_empty() {
            return Err(SmpError::Other(
                "cannot merge lists without merge key for struct".into(),
            ));
        }
        let mut aliased = alias.as_ref().map(|_| AliasedOriginal::new(&original));
        let (original, patch) =
            merge_slice_with_special_elements(original, patch, merge_key, aliased.as_mut())?;
        let merged = merge_slice_without_special_elements(
            original.clone(),
            patch.clone(),
            merge_key,
            items,
        )?;
        if let (Some(a), Some(out)) = (aliased, alias) {
            *out = a.seen_after(&merged);
        }
        (merged, original, patch)
    };

    let (patch_items, server_only) = if merge_key.is_empty() {
        let (mut p, mut s) = (Vec::new(), Vec::new());
        for v in merged {
            if patch.contains(&v) {
                p.push(v);
            } else {
                s.push(v);
            }
        }
        (p, s)
    } else {
        partition(merged, &patch, merge_key)?
    };
    normalize_element_order(
        patch_items,
        server_only,
        &patch,
        &original,
        merge_key,
        is_map,
    )
}

/// Handles the `$patch` items of a merging list of objects: `delete` removes the items with that
/// merge key, `replace` makes the list the patch's other items. Returns the new original and the
/// patch without those items.
fn merge_slice_with_special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    mut aliased: Option<&mut AliasedOriginal>,
) -> Result<(Vec<Value>, Vec<Value>)> {
    let mut plain = Vec::new();
    let mut replace = false;
    for v in patch {
        let Value::Object(m) = &v else {
            return Err(err_bad_arg_type("map[string]interface {}", &v));
        };
        let Some(directive) = m.get(DIRECTIVE) else {
            plain.push(v);
            continue;
        };
        match directive.as_str() {
            Some(DELETE) => {
                let Some(key_value) = m.get(merge_key) else {
                    return Err(err_no_merge_key(m, merge_key));
                };
                while let Some(i) = find_by_key(&original, merge_key, key_value)? {
                    original.remove(i);
                    if let Some(a) = aliased.as_deref_mut() {
                        a.removed(i);
                    }
                }
            }
            Some(REPLACE) => replace = true,
            Some(MERGE) => {
                return Err(SmpError::Other(
                    "merging lists cannot yet be specified in the patch".into(),
                ))
            }
            _ => return Err(err_bad_patch_type(directive, m)),
        }
    }
    if replace {
        if let Some(a) = aliased {
            a.replaced = true;
        }
        let replaced = plain.into_iter().map(taken_whole).collect();
        return Ok((replaced, Vec::new()));
    }
    Ok((original, plain))
}

/// The live list as upstream's `$setElementOrder` handling sees it after merging the patch list
/// into it, which decides where server-only items go.
///
/// Upstream deletes (`$patch: delete` items) by shifting the slice left in place and appends new
/// items in place while the backing array has room, and the caller then orders the server-only
/// items by its own view of that array: the first items are the merged list, the rest what the
/// shifts left behind. The live object's lists have no spare capacity (they come from
/// `ToUnstructured`), so an append past the original length starts a new array.
struct AliasedOriginal {
    backing: Vec<Value>,
    len: usize,
    replaced: bool,
}

impl AliasedOriginal {
    fn new(original: &[Value]) -> AliasedOriginal {
        AliasedOriginal {
            backing: original.to_vec(),
            len: original.len(),
            replaced: false,
        }
    }

    /// `append(s[:i], s[i+1:]...)`: the tail shifts left, the last slot keeps its old value.
    fn removed(&mut self, i: usize) {
        for j in i..self.len.saturating_sub(1) {
            self.backing[j] = self.backing[j + 1].clone();
        }
        self.len = self.len.saturating_sub(1);
    }

    /// The caller's view once the merge produced `merged` (deleted items gone, patch items merged
    /// in place or appended).
    fn seen_after(self, merged: &[Value]) -> Vec<Value> {
        let n = self.backing.len();
        if self.replaced {
            return self.backing;
        }
        let mut view: Vec<Value> = merged.iter().take(n).cloned().collect();
        view.extend(self.backing.into_iter().skip(view.len()));
        view
    }
}

/// Merges each patch item into the original item with the same merge key, or appends it.
fn merge_slice_without_special_elements<S: PatchSchema>(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    merge_key: &str,
    items: &S,
) -> Result<Vec<Value>> {
    for v in patch {
        let Value::Object(m) = v else {
            return Err(err_bad_arg_type("map[string]interface {}", &v));
        };
        let Some(key_value) = m.get(merge_key).cloned() else {
            return Err(err_no_merge_key(&m, merge_key));
        };
        match find_by_key(&original, merge_key, &key_value)? {
            Some(i) => {
                let Value::Object(orig_m) = std::mem::take(&mut original[i]) else {
                    unreachable!()
                };
                original[i] = Value::Object(merge_map(orig_m, m, items)?);
            }
            None => original.push(taken_whole(Value::Object(m))),
        }
    }
    Ok(original)
}

/// Orders a merged list: `patch` items in `patch_order`, `server_only` items in `server_order`,
/// then the two interleaved keeping the live object's relative order where both are known.
pub(super) fn normalize_element_order(
    patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Result<Vec<Value>> {
    let patch = normalize_slice_order(patch, patch_order, merge_key, is_map)?;
    let server_only = normalize_slice_order(server_only, server_order, merge_key, is_map)?;
    Ok(merge_sorted_slice(
        server_only,
        patch,
        server_order,
        merge_key,
        is_map,
    ))
}

fn normalize_slice_order(
    to_sort: Vec<Value>,
    order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Result<Vec<Value>> {
    let (mut to_sort, to_delete) = if is_map {
        for v in to_sort.iter().chain(order.iter()) {
            let Value::Object(m) = v else {
                return Err(err_bad_arg_type("map[string]interface {}", v));
            };
            if !m.contains_key(merge_key) {
                return Err(err_no_merge_key(m, merge_key));
            }
        }
        extract_to_delete_items(to_sort)?
    } else {
        (to_sort, Vec::new())
    };
    // Items the order does not name (upstream leaves their place unspecified) go last.
    to_sort.sort_by_key(|v| index(order, v, merge_key, is_map).unwrap_or(usize::MAX));
    to_sort.extend(to_delete);
    Ok(to_sort)
}

/// The position of `v` in `list`: by merge key for objects, by value otherwise.
fn index(list: &[Value], v: &Value, merge_key: &str, is_map: bool) -> Option<usize> {
    if is_map {
        let key = v.get(merge_key);
        list.iter().position(|x| x.get(merge_key) == key)
    } else {
        list.iter().position(|x| x == v)
    }
}

/// Inserts each `left` (server-only) item into `right` (patch items) before the first item it
/// precedes in `server_order`, keeping both lists' own order.
fn merge_sorted_slice(
    left: Vec<Value>,
    right: Vec<Value>,
    server_order: &[Value],
    merge_key: &str,
    is_map: bool,
) -> Vec<Value> {
    let less = |l: &Value, r: &Value| -> bool {
        match (
            index(server_order, l, merge_key, is_map),
            index(server_order, r, merge_key, is_map),
        ) {
            (Some(li), Some(ri)) => li < ri,
            _ => false,
        }
    };
    let mut out = Vec::with_capacity(left.len() + right.len());
    let mut left = left.into_iter().peekable();
    let mut right = right.into_iter().peekable();
    loop {
        match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => {
                if less(l, r) {
                    out.extend(left.next());
                } else {
                    out.extend(right.next());
                }
            }
            (Some(_), None) => out.extend(left.next()),
            (None, Some(_)) => out.extend(right.next()),
            (None, None) => break,
        }
    }
    out
}
