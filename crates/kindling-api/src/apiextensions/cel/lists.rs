//! upstream's Kubernetes list library (k8s.io/apiserver/pkg/cel/library/lists.go) and cel-go's
//! sets extension: `isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf` on lists;
//! `sets.contains`, `sets.equivalent`, `sets.intersects`.

use super::{error, no_overload, ret, values};
use ::cel::common::types::{DYN_TYPE, LIST_TYPE};
use ::cel::common::value::CowVal;
use ::cel::{DeclarationError, Env, ExecutionError, Value};
use std::cmp::Ordering;
use std::sync::Arc;

type Result<'b, 'v> = std::result::Result<CowVal<'b, 'v>, ExecutionError>;

pub fn extension(env: &mut Env) -> std::result::Result<(), DeclarationError> {
    env.add_member_overload("isSorted", "list_is_sorted", LIST_TYPE, vec![], is_sorted)?;
    env.add_member_overload("sum", "list_sum", LIST_TYPE, vec![], sum)?;
    env.add_member_overload("min", "list_min", LIST_TYPE, vec![], min)?;
    env.add_member_overload("max", "list_max", LIST_TYPE, vec![], max)?;
    env.add_member_overload(
        "indexOf",
        "list_index_of",
        LIST_TYPE,
        vec![DYN_TYPE],
        index_of,
    )?;
    env.add_member_overload(
        "lastIndexOf",
        "list_last_index_of",
        LIST_TYPE,
        vec![DYN_TYPE],
        last_index_of,
    )?;
    let two_lists = || vec![LIST_TYPE, LIST_TYPE];
    env.add_overload(
        "sets.contains",
        "list_sets_contains_list",
        two_lists(),
        contains,
    )?;
    env.add_overload(
        "sets.equivalent",
        "list_sets_equivalent_list",
        two_lists(),
        equivalent,
    )?;
    env.add_overload(
        "sets.intersects",
        "list_sets_intersects_list",
        two_lists(),
        intersects,
    )?;
    Ok(())
}

/// CEL's ordering of two values of one comparable type (numbers compare across types).
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::UInt(x), Value::UInt(y)) => Some(x.cmp(y)),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Opaque(_), Value::Opaque(_)) => super::quantity::compare(a, b),
        _ => number(a)?.partial_cmp(&number(b)?),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// The list argument `i`.
fn list(
    args: &[Value],
    i: usize,
    function: &str,
) -> std::result::Result<Arc<Vec<Value>>, ExecutionError> {
    match args.get(i) {
        Some(Value::List(l)) => Ok(l.clone()),
        _ => Err(no_overload(function, args)),
    }
}

fn is_sorted<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let items = list(&args, 0, "isSorted")?;
    for pair in items.windows(2) {
        match compare(&pair[0], &pair[1]) {
            Some(Ordering::Greater) => return ret(Value::Bool(false)),
            Some(_) => {}
            None => return Err(no_overload("isSorted", &pair[1..])),
        }
    }
    ret(Value::Bool(true))
}

fn sum<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let items = list(&args, 0, "sum")?;
    let mut total = match items.first() {
        Some(Value::UInt(_)) => Value::UInt(0),
        Some(Value::Float(_)) => Value::Float(0.0),
        _ => Value::Int(0),
    };
    for item in items.iter() {
        total = match (&total, item) {
            (Value::Int(a), Value::Int(b)) => {
                Value::Int(a.checked_add(*b).ok_or_else(|| error("integer overflow"))?)
            }
            (Value::UInt(a), Value::UInt(b)) => Value::UInt(
                a.checked_add(*b)
                    .ok_or_else(|| error("unsigned integer overflow"))?,
            ),
            (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
            _ => return Err(no_overload("sum", std::slice::from_ref(item))),
        };
    }
    ret(total)
}

fn extreme<'b, 'v>(args: Vec<CowVal<'b, 'v>>, name: &str, keep: Ordering) -> Result<'b, 'v> {
    let args = values(&args)?;
    let items = list(&args, 0, name)?;
    let Some(mut best) = items.first().cloned() else {
        return Err(error(format!("{name} called on empty list")));
    };
    for item in items.iter().skip(1) {
        match compare(item, &best) {
            Some(o) if o == keep => best = item.clone(),
            Some(_) => {}
            None => return Err(no_overload(name, std::slice::from_ref(item))),
        }
    }
    ret(best)
}

fn min<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    extreme(args, "min", Ordering::Less)
}

fn max<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    extreme(args, "max", Ordering::Greater)
}

fn index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let items = list(&args, 0, "indexOf")?;
    let at = items.iter().position(|i| i == &args[1]);
    ret(Value::Int(at.map_or(-1, |i| i as i64)))
}

fn last_index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let items = list(&args, 0, "lastIndexOf")?;
    let at = items.iter().rposition(|i| i == &args[1]);
    ret(Value::Int(at.map_or(-1, |i| i as i64)))
}

/// Two lists.
type Pair = (Arc<Vec<Value>>, Arc<Vec<Value>>);

fn pair(args: &[CowVal<'_, '_>], name: &str) -> std::result::Result<Pair, ExecutionError> {
    let args = values(args)?;
    Ok((list(&args, 0, name)?, list(&args, 1, name)?))
}

/// Whether the first list holds every element of the second.
fn contains<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let (a, b) = pair(&args, "sets.contains")?;
    ret(Value::Bool(b.iter().all(|x| a.contains(x))))
}

fn equivalent<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let (a, b) = pair(&args, "sets.equivalent")?;
    ret(Value::Bool(
        b.iter().all(|x| a.contains(x)) && a.iter().all(|x| b.contains(x)),
    ))
}

fn intersects<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let (a, b) = pair(&args, "sets.intersects")?;
    ret(Value::Bool(a.iter().any(|x| b.contains(x))))
}
