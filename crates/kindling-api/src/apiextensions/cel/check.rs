//! A type checker for CRD rules, run when a definition is written (as upstream compiles every
//! rule against the declared types of its schema node: apiextensions-apiserver's
//! `schema/cel/compilation.go` with the types of `k8s.io/apiserver/pkg/cel/common` `SchemaDeclType`).
//!
//! What it types, from the structural schema: objects with their declared properties (at a
//! resource root also `apiVersion`, `kind` and `metadata` with only `name` and `generateName`;
//! a property without a type, e.g. only `x-kubernetes-preserve-unknown-fields`, is not a field),
//! maps (`additionalProperties`), lists (`items`), strings (`date`/`date-time` timestamps,
//! `duration` durations, `byte` bytes), integers, numbers (doubles), booleans;
//! `x-kubernetes-int-or-string` is `dyn`. Literals, operators, the conversions and the
//! standard functions whose result type does not depend on their arguments.
//!
//! What it reports, with cel-go's words and locations (the `.` of a selection, the `(` of
//! `has(…)`, the operator of a call): `undefined field 'f'`, `type 'int' does not support
//! field selection`, `found no matching overload for '_>_' applied to '(string, int)'` for
//! operators on known scalar types. Anything it cannot type is `dyn`, which every operation
//! accepts: the checker only refuses what upstream's refuses (it may accept more). No IO.

use ::cel::common::ast::{Expr, IdedExpr, LiteralValue};
use ::cel::Program;
use serde_json::Value as Json;
use std::collections::HashMap;

/// The type of an expression, as far as the checker knows it.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty<'s> {
    /// Not known (or any): every operation accepts it.
    Dyn,
    /// An expression already reported: nothing more is reported about it.
    Error,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Timestamp,
    Duration,
    List(Box<Ty<'s>>),
    /// A map with string keys.
    Map(Box<Ty<'s>>),
    /// An object of this schema (`root`: a resource's root, with `apiVersion`/`kind`/`metadata`).
    Object(&'s Json, bool),
    /// A resource root's `metadata`: `name` and `generateName`.
    Meta,
}

impl Ty<'_> {
    /// cel-go's name of a scalar type (None: a type whose name the checker does not give).
    fn name(&self) -> Option<&'static str> {
        Some(match self {
            Ty::Null => "null",
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Uint => "uint",
            Ty::Double => "double",
            Ty::String => "string",
            Ty::Bytes => "bytes",
            Ty::Timestamp => "google.protobuf.Timestamp",
            Ty::Duration => "google.protobuf.Duration",
            _ => return None,
        })
    }

    fn is_number(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double)
    }
}

/// The type rules see of a value of `schema` (upstream's `SchemaDeclType`); None: the value
/// is not visible to rules (no type).
pub fn schema_type(schema: &Json, resource_root: bool) -> Option<Ty<'_>> {
    if schema["x-kubernetes-int-or-string"] == true {
        return Some(Ty::Dyn);
    }
    let str_of = |k: &str| schema.get(k).and_then(Json::as_str).unwrap_or_default();
    match str_of("type") {
        "array" => {
            let items = schema.get("items").filter(|i| i.is_object())?;
            let item = schema_type(items, embedded(items))?;
            Some(Ty::List(Box::new(item)))
        }
        "object" => match schema.get("additionalProperties").filter(|a| a.is_object()) {
            Some(values) => Some(Ty::Map(Box::new(schema_type(values, embedded(values))?))),
            None => Some(Ty::Object(schema, resource_root)),
        },
        "string" => Some(match str_of("format") {
            "byte" => Ty::Bytes,
            "duration" => Ty::Duration,
            "date" | "date-time" => Ty::Timestamp,
            _ => Ty::String,
        }),
        "boolean" => Some(Ty::Bool),
        "number" => Some(Ty::Double),
        "integer" => Some(Ty::Int),
        // A resource root is an object even where its schema leaves the type out.
        _ if resource_root => Some(Ty::Object(schema, true)),
        _ => None,
    }
}

fn embedded(schema: &Json) -> bool {
    schema["x-kubernetes-embedded-resource"] == true
}

/// The type of field `ident` (a CEL identifier: property names are escaped) of an object.
fn field_type<'s>(schema: &'s Json, root: bool, ident: &str) -> Option<Ty<'s>> {
    if root && !declares_type_and_meta(schema) {
        match ident {
            "apiVersion" | "kind" => return Some(Ty::String),
            "metadata" => return Some(Ty::Meta),
            _ => {}
        }
    }
    let props = schema.get("properties").and_then(Json::as_object)?;
    let (_, prop) = props
        .iter()
        .find(|(name, _)| super::escape(name).as_deref() == Some(ident))?;
    schema_type(prop, embedded(prop))
}

/// Whether a resource root's schema declares `kind`, `apiVersion` and `metadata.name`/
/// `generateName` as strings itself (then rules see its own `metadata`, as upstream's
/// `WithTypeAndObjectMeta` leaves such a schema as it is).
fn declares_type_and_meta(schema: &Json) -> bool {
    let p = &schema["properties"];
    let is = |v: &Json, t: &str| v["type"] == t;
    is(&p["kind"], "string")
        && is(&p["apiVersion"], "string")
        && is(&p["metadata"], "object")
        && is(&p["metadata"]["properties"]["name"], "string")
        && is(&p["metadata"]["properties"]["generateName"], "string")
}

/// The result type of the rule `program` (compiled from `source`) on a node of `schema`, or
/// cel-go's error text (`ERROR: <input>:l:c: …` with its snippet and caret, one per error).
/// `old_self_optional`: `oldSelf` is an optional (`optionalOldSelf`), not the node's type.
pub fn check<'s>(
    program: &Program,
    source: &str,
    schema: &'s Json,
    resource_root: bool,
    old_self_optional: bool,
) -> Result<Ty<'s>, String> {
    let self_ty = schema_type(schema, resource_root).unwrap_or(Ty::Dyn);
    let mut vars = HashMap::from([("self".to_string(), vec![self_ty.clone()])]);
    let old = if old_self_optional { Ty::Dyn } else { self_ty };
    vars.insert("oldSelf".to_string(), vec![old]);
    let mut c = Checker {
        program,
        vars,
        errors: Vec::new(),
    };
    let ty = c.expr(program.expression());
    if c.errors.is_empty() {
        return Ok(ty);
    }
    c.errors.sort_by_key(|(offset, _)| *offset);
    Err(c
        .errors
        .iter()
        .map(|(offset, message)| super::literals::located(source, *offset, message))
        .collect::<Vec<_>>()
        .join("\n"))
}

struct Checker<'p, 's> {
    program: &'p Program,
    /// The variables in scope (innermost last).
    vars: HashMap<String, Vec<Ty<'s>>>,
    errors: Vec<(usize, String)>,
}

impl<'s> Checker<'_, 's> {
    fn report(&mut self, e: &IdedExpr, message: String) -> Ty<'s> {
        let offset = self
            .program
            .source_info()
            .offset_for(e.id)
            .map_or(0, |(start, _)| start as usize);
        self.errors.push((offset, message));
        Ty::Error
    }

    fn expr(&mut self, e: &IdedExpr) -> Ty<'s> {
        match &e.expr {
            Expr::Literal(l) => match l {
                LiteralValue::Boolean(_) => Ty::Bool,
                LiteralValue::Bytes(_) => Ty::Bytes,
                LiteralValue::Double(_) => Ty::Double,
                LiteralValue::Int(_) => Ty::Int,
                LiteralValue::Null => Ty::Null,
                LiteralValue::String(_) => Ty::String,
                LiteralValue::UInt(_) => Ty::Uint,
            },
            Expr::Ident(name) => self
                .vars
                .get(name)
                .and_then(|scopes| scopes.last().cloned())
                .unwrap_or(Ty::Dyn),
            Expr::Select(sel) => {
                let operand = self.expr(&sel.operand);
                let ty = self.select(e, operand, &sel.field);
                match (sel.test, ty) {
                    // `has()` of a reported selection stays an error (nothing more to say).
                    (true, Ty::Error) => Ty::Error,
                    (true, _) => Ty::Bool,
                    (false, ty) => ty,
                }
            }
            Expr::Call(call) => {
                let target = call.target.as_ref().map(|t| self.expr(t));
                let args: Vec<Ty<'s>> = call.args.iter().map(|a| self.expr(a)).collect();
                self.call(e, &call.func_name, target, args)
            }
            Expr::List(list) => {
                let items: Vec<Ty<'s>> = list.elements.iter().map(|i| self.expr(i)).collect();
                Ty::List(Box::new(common(&items)))
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let ::cel::common::ast::EntryExpr::MapEntry(m) = &entry.expr {
                        self.expr(&m.key);
                        self.expr(&m.value);
                    }
                }
                Ty::Dyn
            }
            Expr::Struct(_) | Expr::Unspecified => Ty::Dyn,
            Expr::Comprehension(c) => {
                let range = self.expr(&c.iter_range);
                let (first, second) = match &range {
                    Ty::List(item) => (
                        if c.iter_var2.is_some() {
                            Ty::Int
                        } else {
                            (**item).clone()
                        },
                        (**item).clone(),
                    ),
                    Ty::Map(value) => (Ty::String, (**value).clone()),
                    _ => (Ty::Dyn, Ty::Dyn),
                };
                let accu = self.expr(&c.accu_init);
                self.push(&c.iter_var, first);
                if let Some(v2) = &c.iter_var2 {
                    self.push(v2, second);
                }
                self.push(&c.accu_var, accu);
                self.expr(&c.loop_cond);
                self.expr(&c.loop_step);
                let result = self.expr(&c.result);
                self.pop(&c.accu_var);
                if let Some(v2) = &c.iter_var2 {
                    self.pop(v2);
                }
                self.pop(&c.iter_var);
                result
            }
        }
    }

    fn push(&mut self, name: &str, ty: Ty<'s>) {
        self.vars.entry(name.to_string()).or_default().push(ty);
    }

    fn pop(&mut self, name: &str) {
        if let Some(scopes) = self.vars.get_mut(name) {
            scopes.pop();
        }
    }

    /// `operand.field` (and `has(operand.field)`).
    fn select(&mut self, e: &IdedExpr, operand: Ty<'s>, field: &str) -> Ty<'s> {
        match operand {
            Ty::Object(schema, root) => match field_type(schema, root, field) {
                Some(ty) => ty,
                None => self.report(e, format!("undefined field '{field}'")),
            },
            Ty::Meta => match field {
                "name" | "generateName" => Ty::String,
                _ => self.report(e, format!("undefined field '{field}'")),
            },
            Ty::Map(value) => *value,
            other => match other.name() {
                Some(name) => {
                    self.report(e, format!("type '{name}' does not support field selection"))
                }
                None => Ty::Dyn,
            },
        }
    }

    fn call(
        &mut self,
        e: &IdedExpr,
        name: &str,
        target: Option<Ty<'s>>,
        args: Vec<Ty<'s>>,
    ) -> Ty<'s> {
        if target.is_none() {
            if let Some(ty) = self.operator(e, name, &args) {
                return ty;
            }
        }
        match (name, target.is_some()) {
            ("size", _) => Ty::Int,
            ("int", false) => Ty::Int,
            ("uint", false) => Ty::Uint,
            ("double", false) => Ty::Double,
            ("bytes", false) => Ty::Bytes,
            ("timestamp", false) => Ty::Timestamp,
            ("duration", false) => Ty::Duration,
            ("string" | super::STRING_FN, false) => Ty::String,
            ("bool", false) => Ty::Bool,
            ("dyn", false) => Ty::Dyn,
            ("matches" | "startsWith" | "endsWith" | "contains", _) => Ty::Bool,
            (
                "getFullYear" | "getMonth" | "getDayOfYear" | "getDate" | "getDayOfMonth"
                | "getDayOfWeek" | "getHours" | "getMinutes" | "getSeconds" | "getMilliseconds",
                true,
            ) => Ty::Int,
            _ => Ty::Dyn,
        }
    }
}

/// The type of the elements of a list literal: theirs if they agree, else `dyn`.
fn common<'s>(items: &[Ty<'s>]) -> Ty<'s> {
    match items.split_first() {
        Some((first, rest)) if rest.iter().all(|t| t == first) => first.clone(),
        _ => Ty::Dyn,
    }
}

#[path = "check_operators.rs"]
mod operators_typing;

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
