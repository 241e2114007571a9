//! The CEL environment of `x-kubernetes-validations`, as upstream's base environment
//! (k8s.io/apiserver/pkg/cel/environment) builds it for CRD rules: cel-rust's standard library
//! and its strings and lists extensions, plus the Kubernetes libraries written here through
//! cel-rust's public overload API (`Env::add_overload`/`add_member_overload`; the crate needs
//! no fork):
//!
//! - `lists.rs`: `isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf`; `sets.*`.
//! - `regex.rs`: `find`, `findAll`.
//! - `urls.rs`: `url`, `isURL` and the URL accessors.
//! - `net.rs`: `ip`, `isIP`, `ip.isCanonical`, `cidr`, `isCIDR` and their methods.
//! - `quantity.rs`: `quantity`, `isQuantity` and Quantity's arithmetic and comparisons.
//! - `format.rs`: `format.<name>()`, `format.named()` and `Format.validate()`.
//! - `cost.rs`: upstream's cost model: the static estimate of a rule (schema sizes) and the
//!   cost of one evaluation (the value's sizes).
//! - `reach.rs`: which fields of `self`/`oldSelf` rules select (only those are converted).
//! - `literals.rs`: cel-go's compile-time checks of timestamp/duration literal arguments.
//! - `temporal.rs`: `date-time`, `date`, `duration` and `byte` strings as the timestamps,
//!   durations and bytes rules see.
//!
//! - `check.rs`: the type checker of rules against their schema node (definition writes).
//! - `conversions.rs`: `string()` of a timestamp in its own offset, as cel-go writes it.
//!
//! `timestamp`/`duration` and their methods are cel-rust's (its chrono feature). Not here: the
//! authz and semver libraries (not offered to CRD rules' authors in practice).

pub mod check;
mod conversions;
pub mod cost;
mod format;
mod lists;
pub mod literals;
mod net;
mod quantity;
pub mod reach;
mod regex;
pub mod temporal;
mod urls;

use ::cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelOptional, CelString,
    CelUInt,
};
use ::cel::common::value::{CowVal, Val};
use ::cel::{Env, ExecutionError, Program, Value};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

pub use conversions::STRING_FN;

/// The one environment every rule is compiled for and run in.
pub fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    // The libraries declare distinct overloads: a clash is a bug the tests catch.
    ENV.get_or_init(|| Arc::new(build_env().unwrap_or_else(|_| Env::stdlib())))
}

/// What declares a library's overloads on an environment.
type Library = fn(&mut Env) -> Result<(), ::cel::DeclarationError>;

/// The standard environment with every library declared on it.
fn build_env() -> Result<Env, ::cel::DeclarationError> {
    let mut env = Env::stdlib();
    let libraries: [Library; 9] = [
        conversions::extension,
        ::cel::extensions::strings,
        ::cel::extensions::lists,
        lists::extension,
        regex::extension,
        urls::extension,
        net::extension,
        quantity::extension,
        format::extension,
    ];
    for library in libraries {
        env.add_extension(library)?;
    }
    Ok(env)
}

/// `source` compiled for the environment (its macros expanded).
pub fn compile(source: &str) -> Result<Program, String> {
    env()
        .compile(source)
        .map_err(|e| e.to_string().replace('\n', " "))
}

/// `compile`, with the literal checks upstream's environment adds (`literals.rs`): how a rule
/// is compiled when a definition is written.
pub fn compile_checked(source: &str) -> Result<Program, String> {
    let program = compile(source)?;
    match literals::literal_error(&program, source) {
        Some(e) => Err(e.replace('\n', " ")),
        None => Ok(program),
    }
}

/// A value as rules see it: cel-rust's runtime representation, built straight from JSON
/// (cel-rust's `Value` would be copied into this form once more when bound to a context).
pub type CelVal = Box<dyn Val>;

/// A context of the environment with `vars` bound.
pub fn context(vars: Vec<(&str, CelVal)>) -> ::cel::Context<'static, 'static> {
    let mut ctx = ::cel::Context::with_env(env().clone());
    for (name, v) in vars {
        ctx.add_variable_as_val(name, v);
    }
    ctx
}

/// `optional.of(v)`, or `optional.none()` without a value.
pub fn optional(v: Option<CelVal>) -> CelVal {
    Box::new(v.map_or_else(CelOptional::none, CelOptional::of))
}

/// A JSON value as CEL sees it: integers as int, other numbers as double, objects as maps.
pub fn to_cel(v: &Json) -> CelVal {
    match v {
        Json::Null => Box::new(CelNull),
        Json::Bool(b) => Box::new(CelBool::from(*b)),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Box::new(CelInt::from(i)),
            (None, Some(u)) => Box::new(CelUInt::from(u)),
            (None, None) => Box::new(CelDouble::from(n.as_f64().unwrap_or_default())),
        },
        Json::String(s) => Box::new(CelString::from(s.clone())),
        Json::Array(a) => list(a.iter().map(to_cel)),
        Json::Object(m) => map(m.iter().map(|(k, v)| (k.clone(), to_cel(v)))),
    }
}

fn list(items: impl Iterator<Item = CelVal>) -> CelVal {
    Box::new(CelList::from(items.collect::<Vec<_>>()))
}

fn map(entries: impl Iterator<Item = (String, CelVal)>) -> CelVal {
    let map: HashMap<CelMapKey<'static>, CelVal> =
        entries.map(|(k, v)| (CelMapKey::from(k), v)).collect();
    Box::new(CelMap::from(map))
}

/// A JSON value of `schema` as a rule sees it: the declared properties of an object under
/// their escaped names (`namespace` → `__namespace__`, `a-b` → `a__dash__b`, as upstream's
/// `cel.Escape`; a name that cannot be escaped is not visible), map keys as they are.
pub fn to_cel_typed(v: &Json, schema: &Json) -> CelVal {
    match v {
        Json::Object(m) => object_to_cel(m.iter(), schema),
        Json::Array(items) => match schema.get("items") {
            Some(item) => list(items.iter().map(|i| to_cel_typed(i, item))),
            None => to_cel(v),
        },
        Json::String(s) => match schema.get("format").and_then(Json::as_str) {
            Some(format) => temporal::typed_string(s, format).unwrap_or_else(|| to_cel(v)),
            None => to_cel(v),
        },
        _ => to_cel(v),
    }
}

/// The object of `schema` with (some of) its `entries`, as `to_cel_typed` makes it.
pub fn object_to_cel<'e>(
    entries: impl Iterator<Item = (&'e String, &'e Json)>,
    schema: &Json,
) -> CelVal {
    let props = schema
        .get("properties")
        .and_then(Json::as_object)
        .filter(|p| !p.is_empty());
    match props {
        Some(props) => map(entries.filter_map(|(k, v)| {
            let child = props.get(k).unwrap_or(&Json::Null);
            Some((escape(k)?, to_cel_typed(v, child)))
        })),
        None => match schema.get("additionalProperties").filter(|a| a.is_object()) {
            Some(values) => map(entries.map(|(k, v)| (k.clone(), to_cel_typed(v, values)))),
            None => map(entries.map(|(k, v)| (k.clone(), to_cel(v)))),
        },
    }
}

/// CEL's reserved words, which a property name is escaped from.
const RESERVED: [&str; 21] = [
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// upstream's `cel.Escape`: a property name as a CEL identifier, if it can be one.
pub fn escape(name: &str) -> Option<String> {
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    // Most names are identifiers already: one scan, one copy.
    let plain = name.bytes().enumerate().all(|(i, b)| {
        b.is_ascii_alphabetic()
            || (b == b'_' && !name[i + 1..].starts_with('_'))
            || (i > 0 && b.is_ascii_digit())
    });
    if plain && !name.is_empty() {
        return Some(name.to_string());
    }
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        match c {
            '_' if chars.peek() == Some(&'_') => {
                chars.next();
                out.push_str("__underscores__");
            }
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c if c.is_ascii_alphabetic() || c == '_' || (!first && c.is_ascii_digit()) => {
                out.push(c);
            }
            _ => return None,
        }
        first = false;
    }
    Some(out)
}

/// The property name an escaped identifier stands for.
pub fn unescape(ident: &str) -> String {
    if let Some(word) = ident.strip_prefix("__").and_then(|r| r.strip_suffix("__")) {
        if RESERVED.contains(&word) {
            return word.to_string();
        }
    }
    ident
        .replace("__underscores__", "\u{0}")
        .replace("__dot__", ".")
        .replace("__dash__", "-")
        .replace("__slash__", "/")
        .replace("\u{0}", "__")
}

// Helpers of the libraries' overloads: arguments in, results out, as cel-rust's owned `Value`s.

/// An overload's arguments as owned values.
fn values(args: &[CowVal<'_, '_>]) -> Result<Vec<Value>, ExecutionError> {
    args.iter().map(|a| Value::try_from(a.as_ref())).collect()
}

/// A result value handed back to the interpreter.
fn ret<'b, 'v>(v: Value) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let boxed: Box<dyn Val> = Box::<dyn Val>::try_from(v)?;
    Ok(CowVal::Owned(boxed))
}

/// The string argument `i`.
fn string_arg(args: &[Value], i: usize, function: &str) -> Result<Arc<String>, ExecutionError> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(no_overload(function, args)),
    }
}

/// cel-go's `no such overload` for these arguments.
fn no_overload(function: &str, args: &[Value]) -> ExecutionError {
    ExecutionError::no_such_overload(
        function,
        args.iter().map(|a| type_name(a).to_string()).collect(),
    )
}

/// An error raised by a library function, shown as cel-go shows `types.NewErr`.
fn error(message: impl Into<String>) -> ExecutionError {
    ExecutionError::InternalError(message.into())
}

/// The CEL name of a value's type.
pub fn type_name(v: &Value) -> &str {
    match v {
        Value::List(_) => "list",
        Value::Map(_) => "map",
        Value::Function(..) => "function",
        Value::Int(_) => "int",
        Value::UInt(_) => "uint",
        Value::Float(_) => "double",
        Value::String(_) => "string",
        Value::Bytes(_) => "bytes",
        Value::Bool(_) => "bool",
        Value::Opaque(o) => o.runtime_type_name(),
        Value::Struct(_) => "struct",
        Value::Duration(_) => "google.protobuf.Duration",
        Value::Timestamp(_) => "google.protobuf.Timestamp",
        Value::Null => "null_type",
    }
}

/// The opaque value of type `T` in argument `i`.
fn opaque_arg<'a, T: 'static>(
    args: &'a [Value],
    i: usize,
    function: &str,
) -> Result<&'a T, ExecutionError> {
    match args.get(i) {
        Some(Value::Opaque(o)) => o
            .downcast_ref::<T>()
            .ok_or_else(|| no_overload(function, args)),
        _ => Err(no_overload(function, args)),
    }
}

/// The message of an evaluation error as cel-go words it.
pub fn error_text(e: &ExecutionError) -> String {
    match e {
        ExecutionError::InternalError(m) => m.clone(),
        ExecutionError::NoSuchOverload(o) => format!("no such overload: {o}"),
        ExecutionError::NoSuchKey(k) => format!("no such key: {k}"),
        // cel-go's conversions of a string that does not parse (its `timestamp`/`duration`
        // give no parser detail).
        // A timestamp before year 1 or after 9999 (cel-rust's words for its range check).
        ExecutionError::FunctionError { function, message }
            if function == "timestamp"
                && (message == "range error parsing timestamp"
                    || message == "timestamp out of range") =>
        {
            "timestamp overflow".to_string()
        }
        ExecutionError::FunctionError { function, .. }
            if function == "timestamp" || function == "duration" =>
        {
            let to = if function == "timestamp" {
                "google.protobuf.Timestamp"
            } else {
                "google.protobuf.Duration"
            };
            format!("type conversion error from 'string' to '{to}'")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
