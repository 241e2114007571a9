//! upstream's regex library (k8s.io/apiserver/pkg/cel/library/regex.go): `find` (the first
//! match, or "") and `findAll` (every match, or at most n) on strings. RE2 syntax; Rust's regex
//! crate accepts the same language.

use super::{error, no_overload, ret, string_arg, values};
use ::cel::common::types::{INT_TYPE, STRING_TYPE};
use ::cel::common::value::CowVal;
use ::cel::{DeclarationError, Env, ExecutionError, Value};
use std::sync::Arc;

type Result<'b, 'v> = std::result::Result<CowVal<'b, 'v>, ExecutionError>;

pub fn extension(env: &mut Env) -> std::result::Result<(), DeclarationError> {
    env.add_member_overload(
        "find",
        "string_find_string",
        STRING_TYPE,
        vec![STRING_TYPE],
        find,
    )?;
    env.add_member_overload(
        "findAll",
        "string_find_all_string",
        STRING_TYPE,
        vec![STRING_TYPE],
        find_all,
    )?;
    env.add_member_overload(
        "findAll",
        "string_find_all_string_int",
        STRING_TYPE,
        vec![STRING_TYPE, INT_TYPE],
        find_all,
    )?;
    Ok(())
}

fn compiled(pattern: &str) -> std::result::Result<::regex::Regex, ExecutionError> {
    ::regex::Regex::new(pattern).map_err(|e| error(format!("Illegal regex: {e}")))
}

fn find<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let s = string_arg(&args, 0, "find")?;
    let re = compiled(&string_arg(&args, 1, "find")?)?;
    let found = re
        .find(&s)
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    ret(Value::String(Arc::new(found)))
}

fn find_all<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let s = string_arg(&args, 0, "findAll")?;
    let re = compiled(&string_arg(&args, 1, "findAll")?)?;
    let limit = match args.get(2) {
        None => None,
        Some(Value::Int(n)) if *n < 0 => None,
        Some(Value::Int(n)) => Some(usize::try_from(*n).unwrap_or(usize::MAX)),
        Some(_) => return Err(no_overload("findAll", &args)),
    };
    let found: Vec<Value> = re
        .find_iter(&s)
        .take(limit.unwrap_or(usize::MAX))
        .map(|m| Value::String(Arc::new(m.as_str().to_string())))
        .collect();
    ret(Value::List(Arc::new(found)))
}
