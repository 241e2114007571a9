//! The fields a create sets, for its manager's entry: what [`typed::compare`] finds added or
//! modified from the zero value of the type to the new object, both normalized — computed in one
//! walk of the new object, building the set level by level. Neither the zero object nor the
//! normalized copy of the new one is made: where a struct lacks a field its Go zero value has,
//! the zero value is looked up in the tables instead. Positions of unusual shape (a scalar where
//! the zero value has another) go through [`typed::compare_walk`] on their normalized values.
//! `create_path_tests` compares the result with the general path over varied objects.

use super::fieldpath::{PathElement, Set};
use super::typed::{self, normalize, zero_literal, Comparison, Errors};
use super::types::{Atom, ListKind, Ty};
use serde_json::{Map, Value};

/// The fields the create of `new` sets (its added or modified fields against the zero value).
pub fn created_fields(new: &Value, ty: &Ty) -> Result<Set, Errors> {
    let mut set = Set::new();
    let mut errs = Vec::new();
    let zero = Value::Object(Map::new());
    match struct_fields(&zero, new, ty) {
        Some((mty, fields)) => walk_fields(fields, &mty, &mut set, &mut errs),
        None => {
            let mut c = Comparison::default();
            let (z, n) = (normalize(&zero, ty), normalize(new, ty));
            typed::compare_walk(Some(&z), Some(&n), ty, &mut Vec::new(), &mut c, &mut errs);
            set = c.added.union(&c.modified);
        }
    }
    if errs.is_empty() {
        Ok(set)
    } else {
        Err(errs)
    }
}

/// When the zero value is a struct's (`{}`) and the value an object walked key by key: the
/// struct's type and the value's fields.
fn struct_fields<'v>(
    zero: &Value,
    value: &'v Value,
    ty: &Ty,
) -> Option<(Ty, &'v Map<String, Value>)> {
    match (zero, value, ty.atom(Some(value))) {
        (Value::Object(z), Value::Object(fields), Atom::Map(mty)) if z.is_empty() => {
            Some((mty, fields))
        }
        _ => None,
    }
}

/// The fields of a struct whose zero value is compared with them: one the value lacks is the
/// same on both sides (nothing to record); one it has is compared with its zero value, or, when
/// the zero value has no such field, recorded whole.
fn walk_fields(fields: &Map<String, Value>, mty: &Ty, out: &mut Set, errs: &mut Errors) {
    let zeros = mty.zero_fields();
    for (k, child) in fields {
        let (cty, _) = mty.field(k);
        let pe = PathElement::Field(k.clone());
        match zeros.iter().find(|(f, _)| *f == k.as_str()) {
            Some((_, z)) => against_zero(&zero_literal(z), child, &cty, pe, out, errs),
            None => added(child, &cty, pe, out, errs),
        }
    }
}

/// `value` at `pe` compared with `zero` (as the tables write it); what differs goes into `out`,
/// the set of the enclosing level.
fn against_zero(
    zero: &Value,
    value: &Value,
    ty: &Ty,
    pe: PathElement,
    out: &mut Set,
    errs: &mut Errors,
) {
    if let Some((mty, fields)) = struct_fields(zero, value, ty) {
        let mut below = Set::new();
        walk_fields(fields, &mty, &mut below, errs);
        attach(out, pe, below);
        return;
    }
    // A list where the zero value has none (`null`): its items are new, the list itself is
    // not (both sides have the field).
    if zero.is_null() {
        if let (Atom::List { items, kind }, Value::Array(list)) = (ty.atom(Some(value)), value) {
            if !list.is_empty() {
                let mut below = Set::new();
                added_items(list, &items, kind, &mut below, errs);
                attach(out, pe, below);
                return;
            }
        }
    }
    let mut c = Comparison::default();
    let (z, n) = (normalize(zero, ty), normalize(value, ty));
    typed::compare_walk(Some(&z), Some(&n), ty, &mut vec![pe], &mut c, errs);
    merge(out, c.added);
    merge(out, c.modified);
}

/// `value` at `pe` where the other side has nothing: it and everything in it (as normalized:
/// with the zero fields its structs lack) are added.
fn added(value: &Value, ty: &Ty, pe: PathElement, out: &mut Set, errs: &mut Errors) {
    let mut below = Set::new();
    match ty.atom(Some(value)) {
        Atom::Leaf => {}
        Atom::List { items, kind } => {
            if let Some(list) = value.as_array().filter(|l| !l.is_empty()) {
                added_items(list, &items, kind, &mut below, errs);
            }
        }
        Atom::Map(mty) => {
            if let Value::Object(fields) = value {
                for (k, child) in fields {
                    added(
                        child,
                        &mty.field(k).0,
                        PathElement::Field(k.clone()),
                        &mut below,
                        errs,
                    );
                }
                for (field, zero) in mty.zero_fields() {
                    if !fields.contains_key(*field) {
                        let (cty, _) = mty.field(field);
                        let pe = PathElement::Field((*field).to_string());
                        added(&zero_literal(zero), &cty, pe, &mut below, errs);
                    }
                }
            }
        }
    }
    out.members.insert(pe.clone());
    attach(out, pe, below);
}

/// The items of a non-empty list the other side does not have, grouped by their element: an
/// element given once is added with its content; one given several times only as an element.
fn added_items(list: &[Value], items: &Ty, kind: ListKind, out: &mut Set, errs: &mut Errors) {
    let mut groups: Vec<(PathElement, Vec<&Value>)> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        match element(items, kind, item) {
            Ok(pe) => match groups.iter_mut().find(|(p, _)| *p == pe) {
                Some((_, group)) => group.push(item),
                None => groups.push((pe, vec![item])),
            },
            Err(e) => errs.push(format!("element {i}: {e}")),
        }
    }
    for (pe, group) in groups {
        match group.as_slice() {
            [one] => added(one, items, pe, out, errs),
            _ => {
                out.members.insert(pe);
            }
        }
    }
}

/// [`typed::item_element`] of the normalized item, without normalizing it: a key field the
/// item lacks has its zero value when its struct's zero value has the field.
fn element(items: &Ty, kind: ListKind, item: &Value) -> Result<PathElement, String> {
    let (ListKind::Map(_), Value::Object(fields), Atom::Map(ity)) =
        (kind, item, items.atom(Some(item)))
    else {
        return typed::item_element(items, kind, item);
    };
    let zeros = ity.zero_fields();
    let missing = |k: &str| !fields.contains_key(k) && zeros.iter().any(|(f, _)| *f == k);
    let keys = match kind {
        ListKind::Map(keys) => keys.names(),
        _ => Vec::new(),
    };
    if !keys.iter().any(|k| missing(k)) && keys.iter().all(|k| fields.get(*k).is_none_or(is_scalar))
    {
        // The key fields read the same before and after normalizing.
        return typed::item_element(items, kind, item);
    }
    typed::item_element(items, kind, &normalize(item, items))
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Object(_) | Value::Array(_))
}

/// `below` as the subtree of `pe` in `out` (nothing when empty).
fn attach(out: &mut Set, pe: PathElement, below: Set) {
    if below.is_empty() {
        return;
    }
    match out.children.get_mut(&pe) {
        Some(existing) => merge(existing, below),
        None => {
            out.children.insert(pe, below);
        }
    }
}

/// Moves `from` into `into`.
fn merge(into: &mut Set, from: Set) {
    into.members.extend(from.members);
    for (pe, c) in from.children {
        attach(into, pe, c);
    }
}
