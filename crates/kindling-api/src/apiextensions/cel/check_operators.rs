//! The type checker's operators (cel-go's standard overloads of `_+_`, `_<_`, `_==_`, … over
//! the types the checker knows; Kubernetes enables cross-type numeric comparisons). No IO.

use super::{common, Checker, Ty};
use ::cel::common::ast::{operators, IdedExpr};

impl<'s> Checker<'_, 's> {
    /// An operator's result type (None: `name` is not an operator).
    pub(super) fn operator(&mut self, e: &IdedExpr, name: &str, args: &[Ty<'s>]) -> Option<Ty<'s>> {
        let mismatch = |c: &mut Self| {
            let names: Option<Vec<&str>> = args.iter().map(Ty::name).collect();
            match names {
                Some(names) => c.report(
                    e,
                    format!(
                        "found no matching overload for '{name}' applied to '({})'",
                        names.join(", ")
                    ),
                ),
                None => Ty::Dyn,
            }
        };
        let any_unknown = args.iter().any(|a| !is_typed(a));
        Some(match (name, args) {
            (operators::LOGICAL_AND | operators::LOGICAL_OR, [a, b]) => {
                let ok = |t: &Ty| matches!(t, Ty::Bool) || !is_typed(t);
                if ok(a) && ok(b) {
                    Ty::Bool
                } else {
                    mismatch(self)
                }
            }
            (operators::LOGICAL_NOT, [a]) => {
                if matches!(a, Ty::Bool) || !is_typed(a) {
                    Ty::Bool
                } else {
                    mismatch(self)
                }
            }
            (operators::CONDITIONAL, [_, a, b]) => {
                if a == b {
                    a.clone()
                } else {
                    Ty::Dyn
                }
            }
            (operators::EQUALS | operators::NOT_EQUALS, [a, b]) => {
                if any_unknown || a == b || (a.is_number() && b.is_number()) {
                    Ty::Bool
                } else {
                    mismatch(self)
                }
            }
            (
                operators::LESS
                | operators::LESS_EQUALS
                | operators::GREATER
                | operators::GREATER_EQUALS,
                [a, b],
            ) => {
                let orderable = |t: &Ty| {
                    matches!(
                        t,
                        Ty::Bool
                            | Ty::Int
                            | Ty::Uint
                            | Ty::Double
                            | Ty::String
                            | Ty::Bytes
                            | Ty::Timestamp
                            | Ty::Duration
                    )
                };
                let same = a == b && orderable(a);
                if any_unknown || same || (a.is_number() && b.is_number()) {
                    Ty::Bool
                } else {
                    mismatch(self)
                }
            }
            (operators::ADD, [a, b]) if !any_unknown => match (a, b) {
                (Ty::Int, Ty::Int)
                | (Ty::Uint, Ty::Uint)
                | (Ty::Double, Ty::Double)
                | (Ty::String, Ty::String)
                | (Ty::Bytes, Ty::Bytes)
                | (Ty::Duration, Ty::Duration) => a.clone(),
                (Ty::Timestamp, Ty::Duration) | (Ty::Duration, Ty::Timestamp) => Ty::Timestamp,
                (Ty::List(x), Ty::List(y)) => {
                    Ty::List(Box::new(common(&[(**x).clone(), (**y).clone()])))
                }
                _ => mismatch(self),
            },
            (operators::SUBSTRACT, [a, b]) if !any_unknown => match (a, b) {
                (Ty::Int, Ty::Int)
                | (Ty::Uint, Ty::Uint)
                | (Ty::Double, Ty::Double)
                | (Ty::Duration, Ty::Duration) => a.clone(),
                (Ty::Timestamp, Ty::Timestamp) => Ty::Duration,
                (Ty::Timestamp, Ty::Duration) => Ty::Timestamp,
                _ => mismatch(self),
            },
            (operators::MULTIPLY | operators::DIVIDE, [a, b]) if !any_unknown => match (a, b) {
                (Ty::Int, Ty::Int) | (Ty::Uint, Ty::Uint) | (Ty::Double, Ty::Double) => a.clone(),
                _ => mismatch(self),
            },
            (operators::MODULO, [a, b]) if !any_unknown => match (a, b) {
                (Ty::Int, Ty::Int) | (Ty::Uint, Ty::Uint) => a.clone(),
                _ => mismatch(self),
            },
            (operators::NEGATE, [a]) if !any_unknown => match a {
                Ty::Int | Ty::Double => a.clone(),
                _ => mismatch(self),
            },
            (
                operators::ADD
                | operators::SUBSTRACT
                | operators::MULTIPLY
                | operators::DIVIDE
                | operators::MODULO
                | operators::NEGATE,
                _,
            ) => Ty::Dyn,
            (operators::INDEX, [a, _]) => match a {
                Ty::List(item) => (**item).clone(),
                Ty::Map(value) => (**value).clone(),
                _ => Ty::Dyn,
            },
            (operators::IN | "_in_", _) => Ty::Bool,
            (operators::NOT_STRICTLY_FALSE, _) => Ty::Bool,
            _ => return None,
        })
    }
}

/// Whether the checker knows the type well enough to refuse an operation on it: a scalar
/// (with a cel-go name). Lists, maps and objects are accepted by the operators (their type
/// names in cel-go's messages are not ones the checker writes).
fn is_typed(t: &Ty) -> bool {
    t.name().is_some()
}
