//! What of a variable a compiled rule can observe. A rule that only selects fields of `self`
//! (`self.replicas`, `has(self.paused)`) sees nothing else of it, so only those fields need
//! to be made into CEL values: on an object of 30 properties checked by two rules that read one
//! field each, that is the difference between converting 30 fields and 2. No IO.

use ::cel::common::ast::{EntryExpr, Expr, IdedExpr};
use std::collections::BTreeSet;

/// The part of a variable that rules read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Only these fields (as the rules spell them: CEL-escaped property names or map keys).
    Fields(BTreeSet<String>),
    /// The variable is used as a whole (passed to a function, compared, iterated …).
    Whole,
}

impl Default for Reach {
    fn default() -> Reach {
        Reach::none()
    }
}

impl Reach {
    /// Nothing read yet.
    pub fn none() -> Reach {
        Reach::Fields(BTreeSet::new())
    }

    /// What `expr` adds to the reach of `var`.
    pub fn add(&mut self, expr: &IdedExpr, var: &str) {
        if let Reach::Fields(fields) = self {
            if !collect(expr, var, fields) {
                *self = Reach::Whole;
            }
        }
    }
}

/// Adds the fields of `var` that `e` selects; false when `e` uses `var` otherwise.
fn collect(e: &IdedExpr, var: &str, fields: &mut BTreeSet<String>) -> bool {
    let all = |es: &mut dyn Iterator<Item = &IdedExpr>, fields: &mut BTreeSet<String>| {
        for e in es {
            if !collect(e, var, fields) {
                return false;
            }
        }
        true
    };
    match &e.expr {
        Expr::Ident(name) => name != var,
        Expr::Select(sel) => match &sel.operand.expr {
            Expr::Ident(name) if name == var => {
                fields.insert(sel.field.clone());
                true
            }
            _ => collect(&sel.operand, var, fields),
        },
        Expr::Call(call) => all(
            &mut call.target.iter().map(|t| &**t).chain(&call.args),
            fields,
        ),
        Expr::List(list) => all(&mut list.elements.iter(), fields),
        Expr::Map(map) => all(&mut map.entries.iter().flat_map(entry_exprs), fields),
        Expr::Struct(st) => all(&mut st.entries.iter().flat_map(entry_exprs), fields),
        Expr::Comprehension(c) => {
            // A loop variable named like `var` hides it: too rare to be worth scoping.
            let shadows =
                c.iter_var == var || c.accu_var == var || c.iter_var2.as_deref() == Some(var);
            !shadows
                && all(
                    &mut [
                        &c.iter_range,
                        &c.accu_init,
                        &c.loop_cond,
                        &c.loop_step,
                        &c.result,
                    ]
                    .into_iter(),
                    fields,
                )
        }
        Expr::Literal(_) | Expr::Unspecified => true,
    }
}

fn entry_exprs(entry: &::cel::common::ast::IdedEntryExpr) -> Vec<&IdedExpr> {
    match &entry.expr {
        EntryExpr::MapEntry(m) => vec![&m.key, &m.value],
        EntryExpr::StructField(f) => vec![&f.value],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reach(rules: &[&str]) -> Reach {
        let mut r = Reach::none();
        for rule in rules {
            let p = super::super::compile(rule).unwrap();
            r.add(p.expression(), "self");
        }
        r
    }

    fn fields(names: &[&str]) -> Reach {
        Reach::Fields(names.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn selections_of_self_are_its_reach() {
        let cases: &[(&[&str], Reach)] = &[
            (&["self.a <= 10"], fields(&["a"])),
            (
                &["self.a.startsWith('x')", "'a is ' + self.a"],
                fields(&["a"]),
            ),
            (&["has(self.b) && self.c.size() > 0"], fields(&["b", "c"])),
            (&["self.items.all(i, i.x > 0)"], fields(&["items"])),
            (&["self.a.b == 1"], fields(&["a"])),
            (&["self.__namespace__ == 'x'"], fields(&["__namespace__"])),
            (&["1 == 1"], fields(&[])),
            (&["size(self) > 1"], Reach::Whole),
            (&["self == oldSelf"], Reach::Whole),
            (&["self.a == 1", "self.exists(k, k == 'x')"], Reach::Whole),
            (&["[self].size() == 1"], Reach::Whole),
            (&["self.?a.orValue(1) == 1"], Reach::Whole),
        ];
        for (rules, want) in cases {
            assert_eq!(&reach(rules), want, "{rules:?}");
        }
    }

    #[test]
    fn other_variables_do_not_count() {
        let p = super::super::compile("oldSelf.a == self.b").unwrap();
        let mut r = Reach::none();
        r.add(p.expression(), "oldSelf");
        assert_eq!(r, fields(&["a"]));
    }
}
