//! The walks structured-merge-diff's `typed` package makes over a value and its schema: the set of
//! fields a value sets, the comparison of two values, the merge of an applied configuration into
//! a live object, and the removal of a set of fields.

use super::fieldpath::{values_equal, PathElement, Set};
use super::types::{Atom, ListKind, Ty};
use serde_json::{Map, Value};

/// Problems found on the way (list items without their key fields, duplicates where none are
/// allowed), each prefixed with its path.
pub type Errors = Vec<String>;

fn path_string(path: &[PathElement]) -> String {
    path.iter().map(std::string::ToString::to_string).collect()
}

/// The path element of an item of an associative list.
pub fn item_element(items: &Ty, kind: ListKind, item: &Value) -> Result<PathElement, String> {
    match kind {
        ListKind::Map(keys) => {
            let keys = keys.names();
            let Value::Object(m) = item else {
                return Err(if item.is_null() {
                    "associative list with keys may not have a null element".into()
                } else {
                    "associative list with keys may not have non-map elements".into()
                });
            };
            let mut fields = Vec::new();
            for k in &keys {
                match m.get(*k) {
                    Some(v) => fields.push((k.to_string(), v.clone())),
                    None => {
                        if let Some(d) = items.key_default(k) {
                            fields.push((k.to_string(), d));
                        }
                    }
                }
            }
            if !keys.is_empty() && fields.is_empty() {
                return Err(format!(
                    "associative list with keys has an element that omits all key fields {keys:?} (and doesn't have default values for any key fields)"
                ));
            }
            fields.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(PathElement::Key(fields))
        }
        ListKind::Set => match item {
            Value::Object(_) => {
                Err("associative list without keys has an element that's a map type".into())
            }
            Value::Array(_) => Err("not supported: associative list with lists as elements".into()),
            Value::Null => {
                Err("associative list without keys has an element that's an explicit null".into())
            }
            v => Ok(PathElement::Value(v.clone())),
        },
        ListKind::Atomic => Err("invalid indexing of non-associative list".into()),
    }
}

/// The atom both sides agree on; when they disagree (a map against a scalar), a leaf.
fn common_atom(ty: &Ty, lhs: Option<&Value>, rhs: Option<&Value>) -> Atom {
    let (a, b) = (ty.atom(lhs), ty.atom(rhs));
    match (a, b) {
        (Atom::Map(_), Atom::Map(_)) | (Atom::Leaf, Atom::Leaf) => b,
        (Atom::List { .. }, Atom::List { .. }) => b,
        _ if lhs.is_none() => b,
        _ if rhs.is_none() => a,
        _ => Atom::Leaf,
    }
}

// ---------------------------------------------------------------------------------------------
// ToFieldSet

/// Every field `value` sets: scalars, atomic lists and maps, map keys, list items, and struct
/// fields that are null or empty objects.
pub fn to_field_set(value: &Value, ty: &Ty) -> Result<Set, Errors> {
    let mut set = Set::new();
    let mut errs = Vec::new();
    field_set_walk(value, ty, &mut Vec::new(), &mut set, &mut errs, false);
    if errs.is_empty() {
        Ok(set)
    } else {
        Err(errs)
    }
}

/// Like [`to_field_set`], tolerating problems (the live object may hold anything).
pub fn to_field_set_lenient(value: &Value, ty: &Ty) -> Set {
    let mut set = Set::new();
    field_set_walk(value, ty, &mut Vec::new(), &mut set, &mut Vec::new(), true);
    set
}

fn field_set_walk(
    value: &Value,
    ty: &Ty,
    path: &mut Vec<PathElement>,
    set: &mut Set,
    errs: &mut Errors,
    allow_duplicates: bool,
) {
    match ty.atom(Some(value)) {
        Atom::Leaf => set.insert_elements(path),
        Atom::List { items, kind } => {
            let Value::Array(list) = value else { return };
            let mut elements = Vec::with_capacity(list.len());
            for (i, item) in list.iter().enumerate() {
                match item_element(&items, kind, item) {
                    Ok(pe) => elements.push(Some(pe)),
                    Err(e) => {
                        errs.push(format!("{}: element {i}: {e}", path_string(path)));
                        elements.push(None);
                    }
                }
            }
            let mut seen = std::collections::BTreeSet::new();
            let mut duplicates = std::collections::BTreeSet::new();
            for pe in elements.iter().flatten() {
                if !seen.insert(pe.clone()) && duplicates.insert(pe.clone()) {
                    if !allow_duplicates {
                        errs.push(format!(
                            "{}: duplicate entries for key {pe}",
                            path_string(path)
                        ));
                    }
                    path.push(pe.clone());
                    set.insert_elements(path);
                    path.pop();
                }
            }
            for (item, pe) in list.iter().zip(elements) {
                let Some(pe) = pe else { continue };
                if duplicates.contains(&pe) {
                    continue;
                }
                path.push(pe);
                field_set_walk(item, &items, path, set, errs, allow_duplicates);
                set.insert_elements(path);
                path.pop();
            }
        }
        Atom::Map(mty) => {
            let Value::Object(m) = value else { return };
            for (k, child) in m {
                let (cty, declared) = mty.field(k);
                path.push(PathElement::Field(k.clone()));
                field_set_walk(child, &cty, path, set, errs, allow_duplicates);
                let empty = child.is_null() || child.as_object().is_some_and(Map::is_empty);
                if empty || !declared {
                    set.insert_elements(path);
                }
                path.pop();
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Compare

/// The differences between two values: fields the right side added, changed or removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    pub added: Set,
    pub modified: Set,
    pub removed: Set,
}

impl Comparison {
    pub fn is_same(&self) -> bool {
        self.added.is_empty() && self.modified.is_empty() && self.removed.is_empty()
    }
}

pub fn compare(lhs: &Value, rhs: &Value, ty: &Ty) -> Result<Comparison, Errors> {
    let mut c = Comparison::default();
    let mut errs = Vec::new();
    compare_walk(Some(lhs), Some(rhs), ty, &mut Vec::new(), &mut c, &mut errs);
    if errs.is_empty() {
        Ok(c)
    } else {
        Err(errs)
    }
}

fn compare_leaf(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    path: &[PathElement],
    c: &mut Comparison,
) {
    match (lhs, rhs) {
        (None, Some(_)) => c.added.insert_elements(path),
        (Some(_), None) => c.removed.insert_elements(path),
        (Some(l), Some(r)) if !values_equal(l, r) => c.modified.insert_elements(path),
        _ => {}
    }
}

pub(super) fn compare_walk(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    ty: &Ty,
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
    errs: &mut Errors,
) {
    match common_atom(ty, lhs, rhs) {
        Atom::Leaf => {
            compare_leaf(lhs, rhs, path, c);
            return;
        }
        Atom::List { items, kind } => {
            let l = lhs.and_then(Value::as_array);
            let r = rhs.and_then(Value::as_array);
            if l.is_none_or(Vec::is_empty) && r.is_none_or(Vec::is_empty) {
                compare_leaf(lhs, rhs, path, c);
                return;
            }
            compare_list_items(
                l.map(Vec::as_slice).unwrap_or_default(),
                r.map(Vec::as_slice).unwrap_or_default(),
                &items,
                kind,
                path,
                c,
                errs,
            );
        }
        Atom::Map(mty) => {
            let l = lhs.and_then(Value::as_object);
            let r = rhs.and_then(Value::as_object);
            if l.is_none_or(Map::is_empty) && r.is_none_or(Map::is_empty) {
                compare_leaf(lhs, rhs, path, c);
                return;
            }
            let empty = Map::new();
            let (l, r) = (l.unwrap_or(&empty), r.unwrap_or(&empty));
            let keys = l.keys().chain(r.keys().filter(|k| !l.contains_key(*k)));
            for k in keys {
                let (cty, _) = mty.field(k);
                path.push(PathElement::Field(k.clone()));
                compare_walk(l.get(k), r.get(k), &cty, path, c, errs);
                path.pop();
            }
        }
    }
    if lhs.is_none() {
        c.added.insert_elements(path);
    } else if rhs.is_none() {
        c.removed.insert_elements(path);
    }
}

/// Items grouped by path element, in order of first appearance.
fn index_items<'a>(
    list: &'a [Value],
    items: &Ty,
    kind: ListKind,
    path: &[PathElement],
    errs: &mut Errors,
) -> Vec<(PathElement, Vec<&'a Value>)> {
    let mut out: Vec<(PathElement, Vec<&Value>)> = Vec::new();
    let mut index = std::collections::BTreeMap::new();
    for (i, item) in list.iter().enumerate() {
        match item_element(items, kind, item) {
            Ok(pe) => match index.get(&pe) {
                Some(&at) => {
                    let entry: &mut (PathElement, Vec<&Value>) = &mut out[at];
                    entry.1.push(item);
                }
                None => {
                    index.insert(pe.clone(), out.len());
                    out.push((pe, vec![item]));
                }
            },
            Err(e) => errs.push(format!("{}: element {i}: {e}", path_string(path))),
        }
    }
    out
}

fn compare_list_items(
    lhs: &[Value],
    rhs: &[Value],
    items: &Ty,
    kind: ListKind,
    path: &mut Vec<PathElement>,
    c: &mut Comparison,
    errs: &mut Errors,
) {
    let l = index_items(lhs, items, kind, path, errs);
    let r = index_items(rhs, items, kind, path, errs);
    let find =
        |v: &[(PathElement, Vec<&'_ Value>)], pe: &PathElement| v.iter().position(|(p, _)| p == pe);
    let mut all: Vec<&PathElement> = l.iter().map(|(p, _)| p).collect();
    all.extend(r.iter().map(|(p, _)| p).filter(|p| find(&l, p).is_none()));
    for pe in all {
        let lv: &[&Value] = find(&l, pe).map(|i| l[i].1.as_slice()).unwrap_or_default();
        let rv: &[&Value] = find(&r, pe).map(|i| r[i].1.as_slice()).unwrap_or_default();
        path.push(pe.clone());
        match (lv.len(), rv.len()) {
            (0..=1, 0..=1) => compare_walk(
                lv.first().copied(),
                rv.first().copied(),
                items,
                path,
                c,
                errs,
            ),
            (2.., 2..) => {
                let same =
                    lv.len() == rv.len() && lv.iter().zip(rv).all(|(a, b)| values_equal(a, b));
                if !same {
                    c.modified.insert_elements(path);
                }
            }
            (2.., n) => {
                if n != 0 {
                    compare_walk(None, rv.first().copied(), items, path, c, errs);
                }
                c.removed.insert_elements(path);
            }
            (n, _) => {
                if n != 0 {
                    compare_walk(lv.first().copied(), None, items, path, c, errs);
                }
                c.added.insert_elements(path);
            }
        }
        path.pop();
    }
}

// ---------------------------------------------------------------------------------------------
// Merge

/// The applied configuration `rhs` merged into `lhs`: maps key by key, associative lists item by
/// item (in upstream's order), everything else replaced by the right side. Duplicate keys in
/// `rhs` are errors.
pub fn merge(lhs: &Value, rhs: &Value, ty: &Ty) -> Result<Value, Errors> {
    let mut errs = Vec::new();
    let out = merge_walk(Some(lhs), Some(rhs), ty, &mut Vec::new(), &mut errs);
    if errs.is_empty() {
        Ok(out.unwrap_or_else(|| Value::Object(Map::new())))
    } else {
        Err(errs)
    }
}

fn merge_walk(
    lhs: Option<&Value>,
    rhs: Option<&Value>,
    ty: &Ty,
    path: &mut Vec<PathElement>,
    errs: &mut Errors,
) -> Option<Value> {
    let keep_rhs = || rhs.or(lhs).cloned();
    match common_atom(ty, lhs, rhs) {
        Atom::Leaf => keep_rhs(),
        Atom::List { items, kind } => {
            let l = lhs.and_then(Value::as_array);
            let r = rhs.and_then(Value::as_array);
            if l.is_none_or(Vec::is_empty) && r.is_none_or(Vec::is_empty) {
                return keep_rhs();
            }
            let out = merge_list_items(
                l.map(Vec::as_slice).unwrap_or_default(),
                r.map(Vec::as_slice).unwrap_or_default(),
                &items,
                kind,
                path,
                errs,
            );
            (!out.is_empty()).then_some(Value::Array(out))
        }
        Atom::Map(mty) => {
            let l = lhs.and_then(Value::as_object);
            let r = rhs.and_then(Value::as_object);
            if l.is_none_or(Map::is_empty) && r.is_none_or(Map::is_empty) {
                return keep_rhs();
            }
            let empty = Map::new();
            let (l, r) = (l.unwrap_or(&empty), r.unwrap_or(&empty));
            let mut out = Map::new();
            let keys = l.keys().chain(r.keys().filter(|k| !l.contains_key(*k)));
            for k in keys {
                let (cty, _) = mty.field(k);
                path.push(PathElement::Field(k.clone()));
                if let Some(v) = merge_walk(l.get(k), r.get(k), &cty, path, errs) {
                    out.insert(k.clone(), v);
                }
                path.pop();
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
    }
}

fn merge_list_items(
    lhs: &[Value],
    rhs: &[Value],
    items: &Ty,
    kind: ListKind,
    path: &mut Vec<PathElement>,
    errs: &mut Errors,
) -> Vec<Value> {
    use std::collections::{BTreeMap, BTreeSet};
    let null = Value::Null;
    // Right side: no duplicates allowed.
    let mut rhs_pes = Vec::new();
    let mut observed_rhs: BTreeMap<PathElement, &Value> = BTreeMap::new();
    for (i, item) in rhs.iter().enumerate() {
        match item_element(items, kind, item) {
            Ok(pe) => {
                if observed_rhs.contains_key(&pe) {
                    errs.push(format!(
                        "{}: duplicate entries for key {pe}",
                        path_string(path)
                    ));
                    continue;
                }
                observed_rhs.insert(pe.clone(), item);
                rhs_pes.push(pe);
            }
            Err(e) => errs.push(format!("{}: element {i}: {e}", path_string(path))),
        }
    }
    // Left side: duplicates allowed; a duplicated element is observed as null.
    let mut lhs_pes = Vec::new();
    let mut lhs_index = Vec::new();
    let mut observed_lhs: BTreeMap<PathElement, &Value> = BTreeMap::new();
    for (i, item) in lhs.iter().enumerate() {
        match item_element(items, kind, item) {
            Ok(pe) => {
                if observed_lhs.contains_key(&pe) {
                    observed_lhs.insert(pe.clone(), &null);
                } else {
                    observed_lhs.insert(pe.clone(), item);
                }
                lhs_pes.push(pe);
                lhs_index.push(i);
            }
            Err(e) => errs.push(format!("{}: element {i}: {e}", path_string(path))),
        }
    }
    if !errs.is_empty() {
        return Vec::new();
    }
    // Items on both sides keep the right side's relative order.
    let mut shared: std::collections::VecDeque<&PathElement> = rhs_pes
        .iter()
        .filter(|pe| observed_lhs.contains_key(*pe))
        .collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: BTreeSet<PathElement> = BTreeSet::new();
    let mut out = Vec::new();
    let merge_item = |pe: &PathElement,
                      l: Option<&Value>,
                      r: Option<&Value>,
                      path: &mut Vec<PathElement>,
                      errs: &mut Errors,
                      out: &mut Vec<Value>| {
        path.push(pe.clone());
        if let Some(v) = merge_walk(l, r, items, path, errs) {
            out.push(v);
        }
        path.pop();
    };
    let (l_len, r_len) = (lhs_pes.len(), rhs_pes.len());
    let (mut li, mut ri) = (0, 0);
    while li < l_len || ri < r_len {
        if li < l_len && ri < r_len {
            let pe = &lhs_pes[li];
            if *pe == rhs_pes[ri] {
                merged_rhs.insert(pe.clone());
                merge_item(
                    pe,
                    observed_lhs.get(pe).copied(),
                    observed_rhs.get(pe).copied(),
                    path,
                    errs,
                    &mut out,
                );
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if observed_rhs.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < l_len {
            let pe = &lhs_pes[li];
            if !observed_rhs.contains_key(pe) {
                merge_item(pe, Some(&lhs[lhs_index[li]]), None, path, errs, &mut out);
                li += 1;
                continue;
            } else if merged_rhs.contains(pe) {
                li += 1;
            }
        }
        if ri < r_len {
            let pe = &rhs_pes[ri];
            merged_rhs.insert(pe.clone());
            merge_item(
                pe,
                observed_lhs.get(pe).copied(),
                observed_rhs.get(pe).copied(),
                path,
                errs,
                &mut out,
            );
            ri += 1;
            if next_shared.is_some_and(|n| n == pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// RemoveItems

/// `value` without the fields, list items and map keys of `set`. What the removal empties becomes
/// null, as upstream leaves it (the field sets of intermediate results depend on it), or is
/// dropped with `drop_emptied` (the final object, where upstream's typed decoding drops it).
pub fn remove_items(value: &Value, set: &Set, ty: &Ty, drop_emptied: bool) -> Value {
    remove_walk(value, set, ty, drop_emptied).unwrap_or(Value::Null)
}

fn remove_walk(value: &Value, set: &Set, ty: &Ty, drop_emptied: bool) -> Option<Value> {
    match ty.atom(Some(value)) {
        Atom::Leaf => match value {
            // An atomic list or map with paths under it: upstream keeps nothing of it.
            Value::Array(_) | Value::Object(_) => None,
            scalar => Some(scalar.clone()),
        },
        Atom::List { items, kind } => {
            let list = value.as_array()?;
            if list.is_empty() {
                return None;
            }
            let mut out = Vec::new();
            for item in list {
                let Ok(pe) = item_element(&items, kind, item) else {
                    out.push(item.clone());
                    continue;
                };
                if set.members.contains(&pe) {
                    continue;
                }
                match set.children.get(&pe) {
                    Some(sub) => {
                        if let Some(v) = remove_walk(item, sub, &items, drop_emptied) {
                            out.push(v);
                        }
                    }
                    None => out.push(item.clone()),
                }
            }
            (!out.is_empty()).then_some(Value::Array(out))
        }
        Atom::Map(mty) => {
            let m = value.as_object()?;
            if m.is_empty() {
                return None;
            }
            let mut out = Map::new();
            for (k, v) in m {
                let pe = PathElement::Field(k.clone());
                if set.members.contains(&pe) {
                    continue;
                }
                match set.children.get(&pe) {
                    Some(sub) => {
                        let (cty, _) = mty.field(k);
                        match remove_walk(v, sub, &cty, drop_emptied) {
                            Some(v) => {
                                out.insert(k.clone(), v);
                            }
                            None if !drop_emptied => {
                                out.insert(k.clone(), Value::Null);
                            }
                            None => {}
                        }
                    }
                    None => {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// EnsureNamedFieldsAreMembers

/// `set` plus, as members, every struct field that only has children in it (so that removing the
/// set removes such a field when nothing else keeps it).
pub fn ensure_named_fields_are_members(set: &Set, ty: &Ty) -> Set {
    let mut out = Set::new();
    out.members = set.members.clone();
    let atom = ty.atom(None);
    for (pe, child) in &set.children {
        let cty = match (pe, atom) {
            (PathElement::Field(name), Atom::Map(mty)) => {
                if mty.has_field(name) {
                    out.members.insert(pe.clone());
                }
                mty.field(name).0
            }
            (PathElement::Key(_), Atom::List { items, .. }) => items,
            _ => Ty::default(),
        };
        out.children
            .insert(pe.clone(), ensure_named_fields_are_members(child, &cty));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Go zero values

/// `value` as upstream's typed objects see it: struct fields that Go always serializes (structs
/// that are not pointers, fields without `omitempty`) are added with their zero values where
/// absent. Comparisons are made on normalized objects, so that, as upstream, a create is
/// compared against the zero value of the type (which already has `spec: {}`), and `resources`
/// of a container is present whether or not the client sent it.
pub fn normalize(value: &Value, ty: &Ty) -> Value {
    match ty.atom(Some(value)) {
        Atom::Leaf => value.clone(),
        Atom::List { items, .. } => match value {
            Value::Array(list) => Value::Array(list.iter().map(|i| normalize(i, &items)).collect()),
            other => other.clone(),
        },
        Atom::Map(mty) => {
            let Value::Object(m) = value else {
                return value.clone();
            };
            let mut out = Map::new();
            for (k, v) in m {
                out.insert(k.clone(), normalize(v, &mty.field(k).0));
            }
            for (field, zero) in mty.zero_fields() {
                if out.contains_key(*field) {
                    continue;
                }
                let z = normalize(&zero_literal(zero), &mty.field(field).0);
                out.insert(field.to_string(), z);
            }
            Value::Object(out)
        }
    }
}

/// A zero value as the generated tables write it (`{}` for a struct: its own zero fields are
/// added by [`normalize`]).
pub(super) fn zero_literal(zero: &str) -> Value {
    match zero {
        "{}" => Value::Object(Map::new()),
        "null" => Value::Null,
        "false" => Value::Bool(false),
        "0" => Value::from(0),
        "\"\"" => Value::String(String::new()),
        other => serde_json::from_str(other).unwrap_or(Value::Null),
    }
}
