//! upstream's Quantity library (k8s.io/apiserver/pkg/cel/library/quantity.go) over the crate's
//! one quantity type: `quantity`, `isQuantity`, and `sign`, `isInteger`, `asInteger`,
//! `asApproximateFloat`, `add`, `sub`, `isLessThan`, `isGreaterThan`, `compareTo`.

use super::{error, no_overload, opaque_arg, ret, string_arg, values};
use crate::quantity::Quantity;
use ::cel::common::types::{Type, INT_TYPE, STRING_TYPE};
use ::cel::common::value::CowVal;
use ::cel::objects::Opaque;
use ::cel::{DeclarationError, Env, ExecutionError, Value};
use std::cmp::Ordering;
use std::sync::Arc;

type Result<'b, 'v> = std::result::Result<CowVal<'b, 'v>, ExecutionError>;

const QUANTITY_TYPE: &str = "kubernetes.Quantity";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CelQuantity(pub Quantity);

impl Opaque for CelQuantity {
    fn runtime_type_name(&self) -> &str {
        QUANTITY_TYPE
    }
}

pub fn extension(env: &mut Env) -> std::result::Result<(), DeclarationError> {
    let q = || Type::new_opaque_type(QUANTITY_TYPE);
    env.add_overload(
        "quantity",
        "string_to_quantity",
        vec![STRING_TYPE],
        to_quantity,
    )?;
    env.add_overload(
        "isQuantity",
        "is_quantity_string",
        vec![STRING_TYPE],
        is_quantity,
    )?;
    env.add_member_overload("sign", "quantity_sign", q(), vec![], |a| {
        unary(a, "sign", |q| Ok(Value::Int(i64::from(q.sign()))))
    })?;
    env.add_member_overload("isInteger", "quantity_is_integer", q(), vec![], |a| {
        unary(a, "isInteger", |q| Ok(Value::Bool(as_integer(q).is_some())))
    })?;
    env.add_member_overload("asInteger", "quantity_get_int", q(), vec![], |a| {
        unary(a, "asInteger", |q| {
            as_integer(q)
                .map(Value::Int)
                .ok_or_else(|| error("cannot convert value to integer"))
        })
    })?;
    env.add_member_overload(
        "asApproximateFloat",
        "quantity_get_float",
        q(),
        vec![],
        |a| {
            unary(a, "asApproximateFloat", |q| {
                Ok(Value::Float(q.as_approximate_f64()))
            })
        },
    )?;
    for (name, id) in [("add", "quantity_add"), ("sub", "quantity_sub")] {
        let f: ::cel::common::functions::Function = if name == "add" { add } else { sub };
        env.add_member_overload(name, id, q(), vec![q()], f)?;
        env.add_member_overload(name, &format!("{id}_int"), q(), vec![INT_TYPE], f)?;
    }
    env.add_member_overload("isLessThan", "quantity_less", q(), vec![q()], |a| {
        binary(a, "isLessThan", |o| Value::Bool(o == Ordering::Less))
    })?;
    env.add_member_overload("isGreaterThan", "quantity_greater", q(), vec![q()], |a| {
        binary(a, "isGreaterThan", |o| Value::Bool(o == Ordering::Greater))
    })?;
    env.add_member_overload("compareTo", "quantity_compare_to", q(), vec![q()], |a| {
        binary(a, "compareTo", |o| Value::Int(o as i64))
    })?;
    Ok(())
}

/// The ordering of two quantities (for `isSorted`, `min`, `max` on lists of them).
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Opaque(x), Value::Opaque(y)) => Some(
            x.downcast_ref::<CelQuantity>()?
                .0
                .cmp(&y.downcast_ref::<CelQuantity>()?.0),
        ),
        _ => None,
    }
}

/// upstream's `AsInt64`: the value when it is a whole number within int64.
fn as_integer(q: &Quantity) -> Option<i64> {
    let v = q.value();
    (Quantity::new(v, q.format()) == *q && v != i64::MAX && v != i64::MIN).then_some(v)
}

fn to_quantity<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let s = string_arg(&args, 0, "quantity")?;
    let q = Quantity::parse(&s).map_err(|e| error(e.to_string()))?;
    ret(Value::Opaque(Arc::new(CelQuantity(q))))
}

fn is_quantity<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    ret(Value::Bool(
        Quantity::parse(&string_arg(&args, 0, "isQuantity")?).is_ok(),
    ))
}

fn unary<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
    name: &str,
    f: fn(&Quantity) -> std::result::Result<Value, ExecutionError>,
) -> Result<'b, 'v> {
    let args = values(&args)?;
    ret(f(&opaque_arg::<CelQuantity>(&args, 0, name)?.0)?)
}

fn binary<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
    name: &str,
    f: fn(Ordering) -> Value,
) -> Result<'b, 'v> {
    let args = values(&args)?;
    let a = opaque_arg::<CelQuantity>(&args, 0, name)?.0;
    let b = opaque_arg::<CelQuantity>(&args, 1, name)?.0;
    ret(f(a.cmp(&b)))
}

/// The other operand of `add`/`sub`: a quantity or an integer.
fn operand(args: &[Value], name: &str) -> std::result::Result<Quantity, ExecutionError> {
    match args.get(1) {
        Some(Value::Int(i)) => Ok(Quantity::new(*i, crate::quantity::Format::DecimalSI)),
        Some(Value::Opaque(_)) => Ok(opaque_arg::<CelQuantity>(args, 1, name)?.0),
        _ => Err(no_overload(name, args)),
    }
}

fn add<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let a = opaque_arg::<CelQuantity>(&args, 0, "add")?.0;
    ret(Value::Opaque(Arc::new(CelQuantity(
        a + operand(&args, "add")?,
    ))))
}

fn sub<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<'b, 'v> {
    let args = values(&args)?;
    let a = opaque_arg::<CelQuantity>(&args, 0, "sub")?.0;
    ret(Value::Opaque(Arc::new(CelQuantity(
        a - operand(&args, "sub")?,
    ))))
}
